// In-memory, virtual-time harness wiring one PEP machine to PDP machines (no sockets, no wall clock).
import {
  CopsPdpConnection,
  CopsPepConnection,
  decodeCopsMessage,
  labelCopsMessage,
  type CopsAction,
  type CopsMessage,
  type CopsPdpCommand,
  type CopsPdpEvent,
  type CopsPdpOptions,
  type CopsPepCommand,
  type CopsPepEvent,
  type CopsTransportEvent,
} from "../../../protocols/cops/index.js";

export interface WireRecord {
  t: number;
  from: "pep" | "pdp";
  server: string;
  bytes: Buffer;
  message: CopsMessage;
  label: string;
}

interface PdpSlot {
  options: CopsPdpOptions;
  up: boolean;
  machine?: CopsPdpConnection;
  events: CopsPdpEvent[];
}

export class CopsHarness {
  now = 0;
  readonly pepEvents: CopsPepEvent[] = [];
  readonly wire: WireRecord[] = [];
  readonly pdps = new Map<string, PdpSlot>();
  /** Which PDP the PEP is connected to, if any. */
  current: string | undefined;
  private readonly timers = new Map<string, number>();
  /** In-flight bytes, and closes that take effect after the bytes sent before them (TCP FIN ordering). */
  private readonly queue: { to: "pep" | "pdp"; server: string; bytes: Buffer; closeBy?: "pep" | "pdp" }[] = [];
  /** When true, bytes on the wire are held instead of delivered (to drop or tamper with them). */
  hold = false;
  readonly held: { to: "pep" | "pdp"; server: string; bytes: Buffer }[] = [];

  constructor(readonly pep: CopsPepConnection) {}

  addPdp(address: string, options: CopsPdpOptions): PdpSlot {
    const slot: PdpSlot = { options, up: true, events: [] };
    this.pdps.set(address, slot);
    return slot;
  }

  pdp(address: string): CopsPdpConnection {
    const m = this.pdps.get(address)?.machine;
    if (!m) throw new Error(`no PDP machine at ${address}`);
    return m;
  }
  pdpEvents(address: string): CopsPdpEvent[] {
    return this.pdps.get(address)?.events ?? [];
  }

  start(): void {
    this.runPep(this.pep.start());
    this.pump();
  }

  toPep(event: CopsPepCommand | CopsTransportEvent): void {
    this.runPep(this.pep.handle(event, this.now));
    this.pump();
  }

  toPdp(event: CopsPdpCommand | CopsTransportEvent, server = this.current): void {
    if (!server) throw new Error("not connected");
    this.runPdp(server, this.pdp(server).handle(event, this.now));
    this.pump();
  }

  /** Injects raw bytes as if the PDP had sent them to the PEP (or the reverse). */
  inject(to: "pep" | "pdp", bytes: Buffer): void {
    if (!this.current) throw new Error("not connected");
    this.queue.push({ to, server: this.current, bytes });
    this.pump();
  }

  release(transform: (bytes: Buffer) => Buffer | undefined = (b) => b): void {
    const items = this.held.splice(0);
    for (const item of items) {
      const bytes = transform(item.bytes);
      if (bytes) this.queue.push({ ...item, bytes });
    }
    this.pump();
  }

  /** Advances virtual time, firing due timers in order. */
  advance(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      let next: [string, number] | undefined;
      for (const entry of this.timers) if (entry[1] <= end && (!next || entry[1] < next[1])) next = entry;
      if (!next) break;
      this.timers.delete(next[0]);
      this.now = next[1];
      const [side, ...rest] = next[0].split(":");
      const name = rest.join(":");
      if (side === "pep") this.toPep({ type: "timer", name });
      else if (this.pdps.get(side ?? "")?.machine) this.toPdp({ type: "timer", name }, side);
    }
    this.now = end;
  }

  timerDue(side: string, name: string): number | undefined {
    return this.timers.get(`${side}:${name}`);
  }

  sent(from: "pep" | "pdp"): WireRecord[] {
    return this.wire.filter((w) => w.from === from);
  }

  private pump(): void {
    while (this.queue.length > 0) {
      const item = this.queue.shift();
      if (!item || item.server !== this.current) continue;
      if (item.closeBy) {
        this.disconnect(item.closeBy);
        continue;
      }
      if (item.to === "pep") this.runPep(this.pep.handle({ type: "message", bytes: item.bytes }, this.now));
      else {
        const m = this.pdps.get(item.server)?.machine;
        if (m) this.runPdp(item.server, m.handle({ type: "message", bytes: item.bytes }, this.now));
      }
    }
  }

  private record(from: "pep" | "pdp", server: string, bytes: Buffer): void {
    const message = decodeCopsMessage(bytes);
    this.wire.push({ t: this.now, from, server, bytes, message, label: labelCopsMessage(message) });
  }

  private runPep(actions: CopsAction<CopsPepEvent>[]): void {
    for (const a of actions) {
      switch (a.type) {
        case "send":
          if (!this.current) break;
          this.record("pep", this.current, a.bytes);
          (this.hold ? this.held : this.queue).push({ to: "pdp", server: this.current, bytes: a.bytes });
          break;
        case "set-timer":
          this.timers.set(`pep:${a.name}`, this.now + a.delayMs);
          break;
        case "cancel-timer":
          this.timers.delete(`pep:${a.name}`);
          break;
        case "emit":
          this.pepEvents.push(a.event);
          if (a.event.type === "connect") this.connect(a.event.server?.address);
          break;
        case "close":
          if (this.current) this.queue.push({ to: "pdp", server: this.current, bytes: Buffer.alloc(0), closeBy: "pep" });
          break;
      }
    }
  }

  private runPdp(server: string, actions: CopsAction<CopsPdpEvent>[]): void {
    const slot = this.pdps.get(server);
    for (const a of actions) {
      switch (a.type) {
        case "send":
          this.record("pdp", server, a.bytes);
          (this.hold ? this.held : this.queue).push({ to: "pep", server, bytes: a.bytes });
          break;
        case "set-timer":
          this.timers.set(`${server}:${a.name}`, this.now + a.delayMs);
          break;
        case "cancel-timer":
          this.timers.delete(`${server}:${a.name}`);
          break;
        case "emit":
          slot?.events.push(a.event);
          break;
        case "close":
          if (this.current === server) this.queue.push({ to: "pep", server, bytes: Buffer.alloc(0), closeBy: "pdp" });
          break;
      }
    }
  }

  private connect(address: string | undefined): void {
    const slot = address ? this.pdps.get(address) : undefined;
    if (!address || !slot || !slot.up) {
      // connection refused: the PEP hears about it
      this.runPep(this.pep.handle({ type: "disconnected", reason: "refused" }, this.now));
      return;
    }
    this.current = address;
    slot.machine = new CopsPdpConnection(slot.options);
    this.runPdp(address, slot.machine.handle({ type: "connected" }, this.now));
    this.runPep(this.pep.handle({ type: "connected" }, this.now));
  }

  /** Tears the connection down; the side that did not close is told. */
  disconnect(closer: "pep" | "pdp" | "network"): void {
    const server = this.current;
    if (!server) return;
    this.current = undefined;
    for (const key of [...this.timers.keys()]) if (key.startsWith(`${server}:`)) this.timers.delete(key);
    const m = this.pdps.get(server)?.machine;
    if (closer !== "pdp" && m) this.runPdp(server, m.handle({ type: "disconnected", reason: "peer closed" }, this.now));
    if (closer !== "pep") this.runPep(this.pep.handle({ type: "disconnected", reason: "peer closed" }, this.now));
  }

  /** Makes a PDP unreachable: its connection drops silently (no FIN reaches the PEP). */
  crash(address: string): void {
    const slot = this.pdps.get(address);
    if (slot) slot.up = false;
    if (this.current === address) {
      for (const key of [...this.timers.keys()]) if (key.startsWith(`${address}:`)) this.timers.delete(key);
      this.current = undefined;
      this.silentlyGone = true;
    }
  }
  silentlyGone = false;
}
