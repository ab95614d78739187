// Glue between a role and protocols/cops's sans-I/O connection machines: one PEP link per PDP (a SIP proxy or a
// router), one PDP link per connected PEP (a policy server). Machine actions become node actions addressed to
// role names and labelled as the reference ladders spell COPS messages.
import {
  CopsPdpConnection,
  CopsPepConnection,
  labelCopsMessage,
  type CopsAction,
  type CopsMessage,
  type CopsPdpCommand,
  type CopsPdpEvent,
  type CopsPdpOptions,
  type CopsPepCommand,
  type CopsPepEvent,
  type CopsPepOptions,
} from "../../protocols/cops/index.js";
import type { NodeAction as GenericNodeAction } from "../drivers/node.js";
import type { CallEvent } from "../flow/call-events.js";

type NodeAction = GenericNodeAction<CallEvent>;

const PREFIX = "cops:";

export function isCopsTimer(key: string): boolean {
  return key.startsWith(PREFIX);
}

/** `cops:<peer>:<timer>` keys, made once per peer and timer name (a KA or loss timer is set again and again). */
class TimerKeys {
  private readonly keys = new Map<string, string>();
  constructor(private readonly peer: string) {}
  of(name: string): string {
    let key = this.keys.get(name);
    if (key === undefined) {
      key = `${PREFIX}${this.peer}:${name}`;
      this.keys.set(name, key);
    }
    return key;
  }
}

/** `cops:<peer>:<timer>` → [peer, timer]. */
export function splitCopsTimer(key: string): [string, string] {
  const rest = key.slice(PREFIX.length);
  const i = rest.lastIndexOf(":");
  return [rest.slice(0, i), rest.slice(i + 1)];
}

export class CopsPepLink {
  readonly machine: CopsPepConnection;
  private readonly timerKeys: TimerKeys;
  private accepted = false;
  private readonly waiting: CopsPepCommand[] = [];

  constructor(
    readonly pdp: string,
    options: CopsPepOptions,
    private readonly callIdOf: (m: CopsMessage) => string,
    private readonly onEvent: (e: CopsPepEvent, now: number) => NodeAction[],
  ) {
    this.machine = new CopsPepConnection(options);
    this.timerKeys = new TimerKeys(pdp);
  }

  get isOpen(): boolean {
    return this.machine.connectionState === "open";
  }

  start(now: number): NodeAction[] {
    return this.run(this.machine.start(), now);
  }

  /** Commands wait for the first CAT; afterwards the machine's own local decision point covers outages. */
  command(cmd: CopsPepCommand, now: number): NodeAction[] {
    if (!this.accepted) {
      this.waiting.push(cmd);
      return [];
    }
    return this.run(this.machine.handle(cmd, now), now);
  }

  deliver(bytes: Buffer, now: number): NodeAction[] {
    return this.run(this.machine.handle({ type: "message", bytes }, now), now);
  }

  timer(name: string, now: number): NodeAction[] {
    return this.run(this.machine.handle({ type: "timer", name }, now), now);
  }

  peerDown(now: number): NodeAction[] {
    return this.run(this.machine.handle({ type: "disconnected", reason: "PDP went away" }, now), now);
  }

  private run(actions: CopsAction<CopsPepEvent>[], now: number): NodeAction[] {
    const out: NodeAction[] = [];
    for (const a of actions) {
      switch (a.type) {
        case "send":
          out.push({ type: "send", proto: "COPS", to: this.pdp, bytes: a.bytes, label: labelCopsMessage(a.message), callId: this.callIdOf(a.message) });
          break;
        case "set-timer":
          out.push({ type: "set-timer", key: this.timerKeys.of(a.name), delayMs: a.delayMs });
          break;
        case "cancel-timer":
          out.push({ type: "cancel-timer", key: this.timerKeys.of(a.name) });
          break;
        case "close":
          break; // the driver owns connections; the next send reopens one
        case "emit":
          if (a.event.type === "connect") {
            // Transport connections are the driver's: treat the connection as made and open COPS on it.
            out.push(...this.run(this.machine.handle({ type: "connected" }, now), now));
            break;
          }
          if (a.event.type === "accepted" && !this.accepted) {
            this.accepted = true;
            out.push(...this.onEvent(a.event, now));
            for (const cmd of this.waiting.splice(0)) out.push(...this.run(this.machine.handle(cmd, now), now));
            break;
          }
          out.push(...this.onEvent(a.event, now));
          break;
      }
    }
    return out;
  }
}

export class CopsPdpLinks {
  private readonly links = new Map<string, CopsPdpConnection>();
  private readonly timerKeys = new Map<string, TimerKeys>();

  constructor(
    private options: CopsPdpOptions,
    private readonly callIdOf: (peer: string, m: CopsMessage) => string,
    private readonly onEvent: (peer: string, e: CopsPdpEvent, now: number) => NodeAction[],
  ) {}

  get openHandles(): number {
    let n = 0;
    for (const l of this.links.values()) n += l.openHandles;
    return n;
  }

  /** Options for the connections opened from now on (Integrity per PEPID, request-state bounds). */
  configure(options: Partial<CopsPdpOptions>): void {
    this.options = { ...this.options, ...options };
  }

  deliver(peer: string, bytes: Buffer, now: number): NodeAction[] {
    let link = this.links.get(peer);
    const out: NodeAction[] = [];
    if (!link || link.connectionState === "closed") {
      link = new CopsPdpConnection(this.options);
      this.links.set(peer, link);
      out.push(...this.run(peer, link.handle({ type: "connected" }, now), now));
    }
    out.push(...this.run(peer, link.handle({ type: "message", bytes }, now), now));
    return out;
  }

  command(peer: string, cmd: CopsPdpCommand, now: number): NodeAction[] {
    const link = this.links.get(peer);
    if (!link) return [];
    return this.run(peer, link.handle(cmd, now), now);
  }

  timer(peer: string, name: string, now: number): NodeAction[] {
    const link = this.links.get(peer);
    if (!link) return [];
    return this.run(peer, link.handle({ type: "timer", name }, now), now);
  }

  peerDown(peer: string, now: number): NodeAction[] {
    const link = this.links.get(peer);
    if (!link) return [];
    const out = this.run(peer, link.handle({ type: "disconnected", reason: "PEP went away" }, now), now);
    this.links.delete(peer);
    return out;
  }

  reset(): void {
    this.links.clear();
  }

  private keysOf(peer: string): TimerKeys {
    let keys = this.timerKeys.get(peer);
    if (keys === undefined) {
      keys = new TimerKeys(peer);
      this.timerKeys.set(peer, keys);
    }
    return keys;
  }

  private run(peer: string, actions: CopsAction<CopsPdpEvent>[], now: number): NodeAction[] {
    const out: NodeAction[] = [];
    let lost = false;
    for (const a of actions) {
      switch (a.type) {
        case "send":
          out.push({ type: "send", proto: "COPS", to: peer, bytes: a.bytes, label: labelCopsMessage(a.message), callId: this.callIdOf(peer, a.message) });
          break;
        case "set-timer":
          out.push({ type: "set-timer", key: this.keysOf(peer).of(a.name), delayMs: a.delayMs });
          break;
        case "cancel-timer":
          out.push({ type: "cancel-timer", key: this.keysOf(peer).of(a.name) });
          break;
        case "close":
          // After a CC the connection itself is closed (RFC 2748 §3.7), and the role learns the PEP is gone.
          this.links.delete(peer);
          out.push({ type: "close", proto: "COPS", peer, reason: a.reason });
          if (!lost) for (const x of this.onEvent(peer, { type: "pep-lost", reason: a.reason }, now)) out.push(x);
          break;
        case "emit":
          if (a.event.type === "pep-lost") lost = true;
          for (const x of this.onEvent(peer, a.event, now)) out.push(x);
          break;
      }
    }
    return out;
  }
}
