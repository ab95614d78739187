// The access concentrator between end users' lines (PPP over an asynchronous HDLC-like line, RFC 1662) and
// one PPPoE server on Ethernet (RFC 2516). Two modes:
// - "session-per-line": a line's first frame starts PPPoE Discovery as a Host; the line ↔ SESSION_ID table
//   then relays every PPP frame both ways (encapsulated toward the server, decapsulated toward the line).
// - "shared-session": one PPPoE session is brought up as a PPP client (LCP, PAP or CHAP, IPCP); each line's
//   PPP ends here (authenticated, given an address from a pool) and its IPv4 datagrams share that session;
//   datagrams from the server go to the line whose address is their destination.
// Sans-I/O: line and Ethernet events in, frames, timers and events out; the driver does the sockets.
import { PppLink, PppoeDiscoveryClient, decodePppoeFrame, encodePppoeFrame, PppoeDecodeError, PppProtocol, decodePapPacket, decodeChapPacket } from "../../protocols/pppoe/index.js";
import type { AuthMethod, MacAddress, PppLinkAction, PppLinkEvent, PppoeAction, PppoeClientEvent, PppoeFrame } from "../../protocols/pppoe/index.js";
import type { AddressPool } from "./address-pool.js";
import { ipv4Destination, ipv4Source } from "./ipv4-header.js";

/** How lines map onto PPPoE: a session per line, or one shared session. */
export type ConcentratorMode = "session-per-line" | "shared-session";

/** What the shared-session mode needs: the one session's credentials and the lines' addresses. */
export interface SharedSessionOptions {
  /** User name of the shared session toward the server. */
  username: string;
  /** Its password (PAP) or secret (CHAP). */
  password: string;
  /** Our address toward the lines (IPCP). */
  localAddress: string;
  /** Addresses the lines get. */
  pool: AddressPool;
  /** How lines authenticate here: each "authenticate" event is answered with an "auth-result" input. */
  lineAuth: AuthMethod;
  /** Wait before a lost shared session is brought up again (default 1 s). */
  retryMs?: number;
}

/** Mode, MAC, service and AC names, limits, Discovery and shared-session settings, timers of an AccessConcentrator. */
export interface ConcentratorOptions {
  mode: ConcentratorMode;
  /** Our Ethernet address on the server side. */
  mac: MacAddress;
  serviceName?: string;
  /** Only this AC-Name is accepted in PADOs. */
  acName?: string;
  /** Lines held at once (more are closed at once). */
  maxLines: number;
  /** PPPoE sessions held at once (session-per-line); a line beyond is closed. */
  maxSessions: number;
  /** Frames kept per line while its session is being set up (default 8); more are dropped. */
  maxPendingFrames?: number;
  discovery?: { initialTimeoutMs?: number; maxTimeoutMs?: number; padiAttempts?: number; padrAttempts?: number };
  shared?: SharedSessionOptions;
  restartMs?: number;
  /** Randomness: the instance tag in Host-Uniq, Magic-Numbers, CHAP challenges. */
  randomBytes: (n: number) => Buffer;
}

/** What the concentrator takes: a line's bytes or state, an Ethernet frame, a timer. */
export type ConcentratorInput =
  | { type: "start" }
  | { type: "line-open"; line: number }
  | { type: "line-frame"; line: number; frame: Buffer }
  | { type: "line-closed"; line: number }
  | { type: "frame"; bytes: Buffer }
  | { type: "timer"; name: string }
  | { type: "auth-result"; line: number; ok: boolean; message?: string }
  /** A session a previous run left open (from its journal): end it at the server with a PADT. */
  | { type: "stale-session"; sessionId: number; serverMac: MacAddress }
  | { type: "stop" };

/** Counts of a line's end-user session (in: from the line, out: to the line). */
export interface LineCounters {
  /** Octets from the line (PPP frames relayed, or IPv4 datagrams in the shared session). */
  octetsIn: number;
  /** Octets to the line. */
  octetsOut: number;
  /** Frames or datagrams from the line. */
  packetsIn: number;
  /** Frames or datagrams to the line. */
  packetsOut: number;
}

/** What the concentrator reports: sessions up and down, lines refused, counts. */
export type ConcentratorEvent =
  | { type: "session-up"; line: number; sessionId: number; serverMac: MacAddress }
  | ({ type: "session-down"; line: number; sessionId: number; serverMac: MacAddress; by: "line" | "server" | "concentrator"; user: string } & LineCounters)
  /** Session per line: the user the relayed PAP/CHAP named, once the server accepted it ("" without authentication). */
  | { type: "session-user"; line: number; user: string }
  | { type: "authenticate"; line: number; method: "pap"; peerId: string; password: Buffer }
  | { type: "authenticate"; line: number; method: "chap"; peerId: string; identifier: number; challenge: Buffer; response: Buffer }
  | { type: "line-up"; line: number; address: string; user: string }
  | ({ type: "line-down"; line: number; address: string; user: string; reason: string } & LineCounters)
  | { type: "shared-up"; sessionId: number; serverMac: MacAddress; address: string }
  | { type: "shared-down"; reason: string }
  | { type: "refused"; line: number; reason: "max-lines" | "max-sessions" | "no-session" | "no-address" }
  | { type: "dropped"; cause: string; detail: string };

/** What the concentrator asks of its driver: write to a line, send a frame, set or cancel a timer, emit. */
export type ConcentratorAction =
  | { type: "send"; bytes: Buffer }
  /** One PPP frame (Protocol first) for the line; the driver adds Address/Control and HDLC framing. */
  | { type: "line-send"; line: number; frame: Buffer }
  | { type: "line-close"; line: number }
  | { type: "set-timer"; name: string; delayMs: number }
  | { type: "cancel-timer"; name: string }
  | { type: "emit"; event: ConcentratorEvent };

interface RelayLine extends LineCounters {
  id: number;
  state: "idle" | "discovering" | "session";
  client?: PppoeDiscoveryClient;
  hostUniq: string;
  sessionId: number;
  serverMac: MacAddress;
  pending: Buffer[];
  user: string;
  /** Whether "session-user" was emitted: the user is known (or the session needs none). */
  userReported: boolean;
}

interface TerminatedLine extends LineCounters {
  id: number;
  link: PppLink;
  timers: Set<string>;
  address: string;
  /** The pool had no address for it: its IPCP was refused and its link is being closed. */
  noAddress: "" | "asked" | "closing";
}

interface SharedSession {
  client: PppoeDiscoveryClient;
  link: PppLink | undefined;
  sessionId: number;
  serverMac: MacAddress;
  timers: Set<string>;
}

const ADDRESS_CONTROL = 0xff03;

/** The PPP frame without Address/Control, as a PPPoE payload carries it (RFC 2516 §7). */
function withoutAddressControl(frame: Buffer): Buffer {
  return frame.length >= 2 && frame.readUInt16BE(0) === ADDRESS_CONTROL ? frame.subarray(2) : frame;
}

/** The access concentrator between end users' PPP lines (RFC 1662 framing) and one PPPoE server (RFC 2516); sans-I/O. */
export class AccessConcentrator {
  private readonly relay = new Map<number, RelayLine>();
  private readonly byHostUniq = new Map<string, RelayLine>();
  private readonly bySession = new Map<number, RelayLine>();
  private readonly terminated = new Map<number, TerminatedLine>();
  private readonly byAddress = new Map<string, TerminatedLine>();
  private shared: SharedSession | undefined;
  private sessionsHeld = 0;
  /** Distinguishes this run's Discovery from an earlier run's (Host-Uniq = instance ‖ line). */
  private readonly instance: Buffer;

  constructor(private readonly options: ConcentratorOptions) {
    if (options.mode === "shared-session" && !options.shared) throw new RangeError("shared-session mode needs its shared options");
    this.instance = options.randomBytes(4);
  }

  get lineCount(): number {
    return this.options.mode === "session-per-line" ? this.relay.size : this.terminated.size;
  }
  /** PPPoE sessions held (session-per-line: one per line with a session; shared-session: 0 or 1). */
  get sessionCount(): number {
    if (this.options.mode === "shared-session") return this.shared?.client.sessionId !== undefined ? 1 : 0;
    return this.bySession.size;
  }
  /** The line ↔ session table (session-per-line). */
  sessionTable(): { line: number; sessionId: number; serverMac: MacAddress }[] {
    return [...this.bySession.values()].map((l) => ({ line: l.id, sessionId: l.sessionId, serverMac: l.serverMac }));
  }
  /** The line ↔ address table (shared-session). */
  addressTable(): { line: number; address: string }[] {
    return [...this.byAddress.values()].map((l) => ({ line: l.id, address: l.address }));
  }
  /** Octets and packets of a line's end-user session so far (undefined for no such line). */
  usage(line: number): LineCounters | undefined {
    const l = this.relay.get(line) ?? this.terminated.get(line);
    return l ? { octetsIn: l.octetsIn, octetsOut: l.octetsOut, packetsIn: l.packetsIn, packetsOut: l.packetsOut } : undefined;
  }
  get sharedSession(): { sessionId: number; serverMac: MacAddress; address: string | undefined } | undefined {
    const s = this.shared;
    if (!s || s.client.sessionId === undefined) return undefined;
    return { sessionId: s.sessionId, serverMac: s.serverMac, address: s.link?.localAddress };
  }

  /** Takes one input, returns the actions it causes. */
  handle(input: ConcentratorInput, nowMs: number): ConcentratorAction[] {
    switch (input.type) {
      case "start":
        return this.options.mode === "shared-session" ? this.startShared(nowMs) : [];
      case "line-open":
        return this.lineOpen(input.line);
      case "line-frame":
        return this.options.mode === "session-per-line" ? this.relayFromLine(input.line, input.frame, nowMs) : this.terminatedFromLine(input.line, input.frame);
      case "line-closed":
        return this.lineClosed(input.line, "line", nowMs);
      case "frame":
        return this.fromEthernet(input.bytes, nowMs);
      case "timer":
        return this.onTimer(input.name, nowMs);
      case "auth-result": {
        const line = this.terminated.get(input.line);
        if (!line) return [];
        return this.fromLineLink(line, line.link.handle({ type: "auth-result", ok: input.ok, ...(input.message !== undefined ? { message: input.message } : {}) }));
      }
      case "stale-session":
        return [{ type: "send", bytes: encodePppoeFrame({ destination: input.serverMac, source: this.options.mac, packet: { kind: "discovery", code: "PADT", sessionId: input.sessionId, tags: [{ type: "generic-error", message: "concentrator restarted" }] } }) }];
      case "stop":
        return this.stop(nowMs);
    }
  }

  private emit(event: ConcentratorEvent): ConcentratorAction {
    return { type: "emit", event };
  }
  private drop(cause: string, detail: string): ConcentratorAction {
    return { type: "emit", event: { type: "dropped", cause, detail } };
  }

  private lineOpen(id: number): ConcentratorAction[] {
    if (this.lineCount >= this.options.maxLines) return [this.emit({ type: "refused", line: id, reason: "max-lines" }), { type: "line-close", line: id }];
    const counters = { octetsIn: 0, octetsOut: 0, packetsIn: 0, packetsOut: 0 };
    if (this.options.mode === "session-per-line") {
      const hostUniq = Buffer.alloc(8);
      this.instance.copy(hostUniq, 0);
      hostUniq.writeUInt32BE(id >>> 0, 4);
      const line: RelayLine = { id, state: "idle", hostUniq: hostUniq.toString("hex"), sessionId: 0, serverMac: "", pending: [], user: "", userReported: false, ...counters };
      this.relay.set(id, line);
      return [];
    }
    const shared = this.options.shared!;
    const line: TerminatedLine = { id, timers: new Set(), address: "", noAddress: "", ...counters, link: undefined as unknown as PppLink };
    line.link = new PppLink({
      role: "server",
      auth: shared.lineAuth,
      name: this.options.acName ?? "callgate",
      magic: this.options.randomBytes(4).readUInt32BE(0) || 1,
      localAddress: shared.localAddress,
      assignAddress: () => {
        const address = shared.pool.allocate();
        if (address === undefined && line.noAddress === "") line.noAddress = "asked";
        return address;
      },
      challenge: () => this.options.randomBytes(16),
      ...(this.options.restartMs !== undefined ? { restartMs: this.options.restartMs } : {}),
    });
    this.terminated.set(id, line);
    // Our end of the line opens LCP at once, as a dial-in server answers the call.
    return this.fromLineLink(line, line.link.handle({ type: "open" }));
  }

  // ------------------------------------------------------------------------------ session per line

  private relayFromLine(id: number, frame: Buffer, nowMs: number): ConcentratorAction[] {
    const line = this.relay.get(id);
    if (!line) return [this.drop("unknown-line", `frame from line ${id}`)];
    const payload = withoutAddressControl(frame);
    if (line.state === "session") return this.sessionFrame(line, payload);
    if (line.pending.length >= (this.options.maxPendingFrames ?? 8)) return [this.drop("line-pending-full", `line ${id} sends before its session is up`)];
    line.pending.push(Buffer.from(payload));
    if (line.state === "discovering") return [];
    // The line's first frame starts its PPPoE session (RFC 2516 §5: Discovery as a Host).
    if (this.sessionsHeld >= this.options.maxSessions) {
      this.forgetRelay(line);
      return [this.emit({ type: "refused", line: id, reason: "max-sessions" }), { type: "line-close", line: id }];
    }
    this.sessionsHeld++;
    line.state = "discovering";
    line.client = new PppoeDiscoveryClient({
      mac: this.options.mac,
      hostUniq: Buffer.from(line.hostUniq, "hex"),
      ...(this.options.serviceName !== undefined ? { serviceName: this.options.serviceName } : {}),
      ...(this.options.acName !== undefined ? { acName: this.options.acName } : {}),
      ...this.options.discovery,
    });
    this.byHostUniq.set(line.hostUniq, line);
    return this.fromRelayClient(line, line.client.handle({ type: "start" }, nowMs));
  }

  private sessionFrame(line: RelayLine, payload: Buffer): ConcentratorAction[] {
    line.octetsIn += payload.length;
    line.packetsIn++;
    this.snoopUser(line, payload);
    const send: ConcentratorAction = { type: "send", bytes: encodePppoeFrame({ destination: line.serverMac, source: this.options.mac, packet: { kind: "session", sessionId: line.sessionId, payload } }) };
    return [send, ...this.reportUser(line, payload, "line")];
  }

  /**
   * "session-user" once per relayed session: when the server accepts the relayed PAP or CHAP (RFC 1334 §2.2.2,
   * RFC 1994 §4.2), or at the first IPCP or IPv4 frame of a session without authentication (RFC 1661 §3.5).
   */
  private reportUser(line: RelayLine, payload: Buffer, from: "line" | "server"): ConcentratorAction[] {
    if (line.userReported || payload.length < 2) return [];
    const protocol = payload.readUInt16BE(0);
    let ready = protocol === PppProtocol.ipcp || protocol === PppProtocol.ipv4;
    if (from === "server" && (protocol === PppProtocol.pap || protocol === PppProtocol.chap)) {
      try {
        const code = protocol === PppProtocol.pap ? decodePapPacket(payload.subarray(2)).code : decodeChapPacket(payload.subarray(2)).code;
        ready = code === "authenticate-ack" || code === "success";
      } catch (err) {
        if (!(err instanceof PppoeDecodeError)) throw err;
      }
    }
    if (!ready) return [];
    line.userReported = true;
    return [this.emit({ type: "session-user", line: line.id, user: line.user })];
  }

  /** The user name of a relayed PAP Authenticate-Request or CHAP Response, for accounting. */
  private snoopUser(line: RelayLine, payload: Buffer): void {
    if (payload.length < 6) return;
    const protocol = payload.readUInt16BE(0);
    if (protocol !== PppProtocol.pap && protocol !== PppProtocol.chap) return;
    try {
      if (protocol === PppProtocol.pap) {
        const p = decodePapPacket(payload.subarray(2));
        if (p.code === "authenticate-request") line.user = p.peerId.toString("utf8");
      } else {
        const p = decodeChapPacket(payload.subarray(2));
        if (p.code === "response") line.user = p.name.toString("utf8");
      }
    } catch (err) {
      if (!(err instanceof PppoeDecodeError)) throw err;
    }
  }

  private fromRelayClient(line: RelayLine, actions: PppoeAction<PppoeClientEvent>[]): ConcentratorAction[] {
    const out: ConcentratorAction[] = [];
    for (const a of actions) {
      switch (a.type) {
        case "send":
          out.push({ type: "send", bytes: a.bytes });
          break;
        case "set-timer":
          out.push({ type: "set-timer", name: `d/${line.id}`, delayMs: a.delayMs });
          break;
        case "cancel-timer":
          out.push({ type: "cancel-timer", name: `d/${line.id}` });
          break;
        case "emit":
          out.push(...this.onRelayClientEvent(line, a.event));
          break;
      }
    }
    return out;
  }

  private onRelayClientEvent(line: RelayLine, event: PppoeClientEvent): ConcentratorAction[] {
    switch (event.type) {
      case "session": {
        line.state = "session";
        line.sessionId = event.sessionId;
        line.serverMac = event.acMac;
        this.byHostUniq.delete(line.hostUniq);
        this.bySession.set(event.sessionId, line);
        const out: ConcentratorAction[] = [this.emit({ type: "session-up", line: line.id, sessionId: event.sessionId, serverMac: event.acMac })];
        for (const payload of line.pending) out.push(...this.sessionFrame(line, payload));
        line.pending = [];
        return out;
      }
      case "failed":
        this.forgetRelay(line);
        return [this.emit({ type: "refused", line: line.id, reason: "no-session" }), this.drop(`discovery-${event.reason}`, event.message), { type: "line-close", line: line.id }];
      case "terminated":
        if (event.by === "access-concentrator") {
          // PADT from the server: the line is hung up (RFC 2516 §5.5).
          const down = this.sessionDown(line, "server");
          this.forgetRelay(line);
          return [down, { type: "line-close", line: line.id }];
        }
        return [];
      case "offer":
        return [];
      case "dropped":
        return [this.drop(event.cause, event.detail)];
    }
  }

  private sessionDown(line: RelayLine, by: "line" | "server" | "concentrator"): ConcentratorAction {
    const { octetsIn, octetsOut, packetsIn, packetsOut } = line;
    return this.emit({ type: "session-down", line: line.id, sessionId: line.sessionId, serverMac: line.serverMac, by, user: line.user, octetsIn, octetsOut, packetsIn, packetsOut });
  }

  private forgetRelay(line: RelayLine): void {
    if (line.state !== "idle") this.sessionsHeld--;
    line.state = "idle";
    this.relay.delete(line.id);
    this.byHostUniq.delete(line.hostUniq);
    if (this.bySession.get(line.sessionId) === line) this.bySession.delete(line.sessionId);
  }

  private relayFromServer(frame: PppoeFrame): ConcentratorAction[] {
    const packet = frame.packet;
    if (packet.kind !== "session") return [];
    const line = this.bySession.get(packet.sessionId);
    if (!line || line.serverMac !== frame.source) return [this.drop("unknown-session", `session 0x${packet.sessionId.toString(16)} from ${frame.source}`)];
    line.octetsOut += packet.payload.length;
    line.packetsOut++;
    return [{ type: "line-send", line: line.id, frame: packet.payload }, ...this.reportUser(line, packet.payload, "server")];
  }

  // -------------------------------------------------------------------------------- shared session

  private startShared(nowMs: number): ConcentratorAction[] {
    if (this.shared && this.shared.client.state !== "closed") return [];
    const client = new PppoeDiscoveryClient({
      mac: this.options.mac,
      hostUniq: Buffer.concat([this.instance, Buffer.from([0xff, 0xff, 0xff, 0xff])]),
      ...(this.options.serviceName !== undefined ? { serviceName: this.options.serviceName } : {}),
      ...(this.options.acName !== undefined ? { acName: this.options.acName } : {}),
      ...this.options.discovery,
    });
    this.shared = { client, link: undefined, sessionId: 0, serverMac: "", timers: new Set() };
    return this.fromSharedClient(client.handle({ type: "start" }, nowMs));
  }

  private fromSharedClient(actions: PppoeAction<PppoeClientEvent>[]): ConcentratorAction[] {
    const shared = this.shared;
    if (!shared) return [];
    const out: ConcentratorAction[] = [];
    for (const a of actions) {
      if (a.type === "send") out.push({ type: "send", bytes: a.bytes });
      else if (a.type === "set-timer") out.push({ type: "set-timer", name: "sd", delayMs: a.delayMs });
      else if (a.type === "cancel-timer") out.push({ type: "cancel-timer", name: "sd" });
      else {
        const e = a.event;
        if (e.type === "session") {
          shared.sessionId = e.sessionId;
          shared.serverMac = e.acMac;
          const o = this.options.shared!;
          shared.link = new PppLink({ role: "client", username: o.username, password: o.password, magic: this.options.randomBytes(4).readUInt32BE(0) || 1, ...(this.options.restartMs !== undefined ? { restartMs: this.options.restartMs } : {}) });
          out.push(...this.fromSharedLink(shared.link.handle({ type: "open" })));
        } else if (e.type === "failed") {
          out.push(this.emit({ type: "shared-down", reason: `discovery ${e.reason}` }), { type: "set-timer", name: "sr", delayMs: this.options.shared?.retryMs ?? 1000 });
        } else if (e.type === "terminated") {
          out.push(...this.sharedLost(`PADT from the ${e.by === "host" ? "concentrator" : "server"}`));
        } else if (e.type === "dropped") out.push(this.drop(e.cause, e.detail));
      }
    }
    return out;
  }

  private sharedLost(reason: string): ConcentratorAction[] {
    const shared = this.shared;
    if (!shared) return [];
    const out: ConcentratorAction[] = [...[...shared.timers].map((t): ConcentratorAction => ({ type: "cancel-timer", name: `s/${t}` }))];
    shared.timers.clear();
    shared.link = undefined;
    out.push(this.emit({ type: "shared-down", reason }), { type: "set-timer", name: "sr", delayMs: this.options.shared?.retryMs ?? 1000 });
    return out;
  }

  private fromSharedLink(actions: PppLinkAction[]): ConcentratorAction[] {
    const shared = this.shared;
    if (!shared) return [];
    const out: ConcentratorAction[] = [];
    for (const a of actions) {
      switch (a.type) {
        case "send":
          out.push({ type: "send", bytes: encodePppoeFrame({ destination: shared.serverMac, source: this.options.mac, packet: { kind: "session", sessionId: shared.sessionId, payload: a.frame } }) });
          break;
        case "set-timer":
          shared.timers.add(a.name);
          out.push({ type: "set-timer", name: `s/${a.name}`, delayMs: a.delayMs });
          break;
        case "cancel-timer":
          if (shared.timers.delete(a.name)) out.push({ type: "cancel-timer", name: `s/${a.name}` });
          break;
        case "emit":
          out.push(...this.onSharedLinkEvent(a.event));
          break;
      }
    }
    return out;
  }

  private onSharedLinkEvent(event: PppLinkEvent): ConcentratorAction[] {
    const shared = this.shared!;
    switch (event.type) {
      case "ipcp-up":
        return [this.emit({ type: "shared-up", sessionId: shared.sessionId, serverMac: shared.serverMac, address: event.localAddress })];
      case "ip": {
        // The line whose address is the datagram's destination (RFC 791 §3.1) gets it.
        const destination = ipv4Destination(event.packet);
        const line = destination ? this.byAddress.get(destination) : undefined;
        if (!line) return [this.drop("no-line-for-address", `datagram to ${destination ?? "non-IPv4"}`)];
        const frame = line.link.ipFrame(event.packet);
        if (!frame) return [this.drop("line-not-open", `line ${line.id}`)];
        line.octetsOut += event.packet.length;
        line.packetsOut++;
        return [{ type: "line-send", line: line.id, frame }];
      }
      case "down": {
        // The shared link ended: end its PPPoE session too, then bring a new one up.
        const padt = shared.client.handle({ type: "terminate", message: event.reason }, 0);
        return [...this.fromSharedClient(padt.filter((a) => a.type === "send")), ...this.sharedLost(`link down: ${event.reason}`)];
      }
      case "dropped":
        return [this.drop(event.cause, `shared session: ${event.detail}`)];
      default:
        return [];
    }
  }

  private terminatedFromLine(id: number, frame: Buffer): ConcentratorAction[] {
    const line = this.terminated.get(id);
    if (!line) return [this.drop("unknown-line", `frame from line ${id}`)];
    return this.fromLineLink(line, line.link.handle({ type: "frame", bytes: frame }));
  }

  private fromLineLink(line: TerminatedLine, actions: PppLinkAction[]): ConcentratorAction[] {
    const out: ConcentratorAction[] = [];
    for (const a of actions) {
      switch (a.type) {
        case "send":
          out.push({ type: "line-send", line: line.id, frame: a.frame });
          break;
        case "set-timer":
          line.timers.add(a.name);
          out.push({ type: "set-timer", name: `l/${line.id}/${a.name}`, delayMs: a.delayMs });
          break;
        case "cancel-timer":
          if (line.timers.delete(a.name)) out.push({ type: "cancel-timer", name: `l/${line.id}/${a.name}` });
          break;
        case "emit":
          out.push(...this.onLineLinkEvent(line, a.event));
          break;
      }
    }
    if (line.noAddress === "asked") {
      // The pool is empty: the link's Configure-Reject of IP-Address (RFC 1332 §3.3) leaves the line without an
      // address, so the link is closed with an LCP Terminate-Request (RFC 1661 §3.7), the line when it ends.
      line.noAddress = "closing";
      out.push(this.emit({ type: "refused", line: line.id, reason: "no-address" }));
      out.push(...this.fromLineLink(line, line.link.handle({ type: "close", reason: "address pool empty" })));
    }
    return out;
  }

  private onLineLinkEvent(line: TerminatedLine, event: PppLinkEvent): ConcentratorAction[] {
    switch (event.type) {
      case "authenticate":
        return [this.emit({ ...event, line: line.id })];
      case "ipcp-up":
        line.address = event.peerAddress;
        this.byAddress.set(line.address, line);
        return [this.emit({ type: "line-up", line: line.id, address: line.address, user: line.link.authenticatedPeer ?? "" })];
      case "ip": {
        const shared = this.shared;
        // A line sends from its own address only (no spoofing of another line's datagrams).
        if (ipv4Source(event.packet) !== line.address) return [this.drop("line-spoofed-source", `line ${line.id} sent from ${ipv4Source(event.packet) ?? "non-IPv4"}`)];
        const frame = shared?.link?.ipFrame(event.packet);
        if (!shared || !frame) return [this.drop("shared-session-down", `datagram from line ${line.id}`)];
        line.octetsIn += event.packet.length;
        line.packetsIn++;
        return [{ type: "send", bytes: encodePppoeFrame({ destination: shared.serverMac, source: this.options.mac, packet: { kind: "session", sessionId: shared.sessionId, payload: frame } }) }];
      }
      case "down":
        return [...this.forgetTerminated(line, event.reason), { type: "line-close", line: line.id }];
      case "dropped":
        return [this.drop(event.cause, `line ${line.id}: ${event.detail}`)];
      default:
        return [];
    }
  }

  private forgetTerminated(line: TerminatedLine, reason: string): ConcentratorAction[] {
    if (!this.terminated.delete(line.id)) return [];
    const out: ConcentratorAction[] = [...line.timers].map((t) => ({ type: "cancel-timer", name: `l/${line.id}/${t}` }));
    const assigned = line.link.assignedAddress;
    if (assigned) this.options.shared?.pool.release(assigned);
    if (line.address) {
      this.byAddress.delete(line.address);
      const { octetsIn, octetsOut, packetsIn, packetsOut } = line;
      out.push(this.emit({ type: "line-down", line: line.id, address: line.address, user: line.link.authenticatedPeer ?? "", reason, octetsIn, octetsOut, packetsIn, packetsOut }));
    }
    return out;
  }

  // ------------------------------------------------------------------------------------- common

  private lineClosed(id: number, by: "line" | "concentrator", nowMs: number): ConcentratorAction[] {
    const relay = this.relay.get(id);
    if (relay) {
      const out: ConcentratorAction[] = [];
      // The line hung up: PADT for its session (RFC 2516 §5.5), or the Discovery abandoned.
      if (relay.client) out.push(...this.fromRelayClient(relay, relay.client.handle({ type: "terminate", message: by === "line" ? "line hung up" : "concentrator stopping" }, nowMs)));
      if (relay.state === "session") out.push(this.sessionDown(relay, by));
      out.push({ type: "cancel-timer", name: `d/${id}` });
      this.forgetRelay(relay);
      return out;
    }
    const line = this.terminated.get(id);
    if (line) {
      line.link.handle({ type: "close", reason: "line hung up" });
      return this.forgetTerminated(line, by === "line" ? "line hung up" : "concentrator stopping");
    }
    return [];
  }

  private fromEthernet(bytes: Buffer, nowMs: number): ConcentratorAction[] {
    let frame: PppoeFrame;
    try {
      frame = decodePppoeFrame(bytes);
    } catch (err) {
      if (err instanceof PppoeDecodeError) return [this.drop(err.code, err.message)];
      throw err;
    }
    // Our own frames echoed by the port, and frames for other stations, are not ours to handle.
    if (frame.source === this.options.mac) return [];
    if (frame.destination !== this.options.mac) return frame.packet.kind === "discovery" && frame.packet.code === "PADI" ? [] : [this.drop("not-for-us", `frame to ${frame.destination}`)];
    const packet = frame.packet;
    if (this.options.mode === "shared-session") {
      const shared = this.shared;
      if (!shared) return [this.drop("no-shared-session", `${packet.kind} before start`)];
      if (packet.kind === "session") {
        if (!shared.link || packet.sessionId !== shared.sessionId || frame.source !== shared.serverMac) return [this.drop("unknown-session", `session 0x${packet.sessionId.toString(16)}`)];
        return this.fromSharedLink(shared.link.handle({ type: "frame", bytes: packet.payload }));
      }
      return this.fromSharedClient(shared.client.handle({ type: "frame", bytes }, nowMs));
    }
    if (packet.kind === "session") return this.relayFromServer(frame);
    let line: RelayLine | undefined;
    if (packet.code === "PADT") line = this.bySession.get(packet.sessionId);
    else {
      const uniq = packet.tags.find((t) => t.type === "host-uniq");
      line = uniq?.type === "host-uniq" ? this.byHostUniq.get(uniq.value.toString("hex")) : undefined;
    }
    if (!line?.client) return [this.drop("no-line-for-discovery", `${packet.code} 0x${packet.sessionId.toString(16)} from ${frame.source}`)];
    return this.fromRelayClient(line, line.client.handle({ type: "frame", bytes }, nowMs));
  }

  private onTimer(name: string, nowMs: number): ConcentratorAction[] {
    const [kind, a, b] = name.split("/");
    if (kind === "d") {
      const line = this.relay.get(Number(a));
      return line?.client ? this.fromRelayClient(line, line.client.handle({ type: "timer", name: "pppoe-discovery" }, nowMs)) : [];
    }
    if (kind === "l") {
      const line = this.terminated.get(Number(a));
      if (!line || b === undefined) return [];
      line.timers.delete(b);
      return this.fromLineLink(line, line.link.handle({ type: "timer", name: b }));
    }
    if (kind === "s") {
      const shared = this.shared;
      if (!shared?.link || a === undefined) return [];
      shared.timers.delete(a);
      return this.fromSharedLink(shared.link.handle({ type: "timer", name: a }));
    }
    if (kind === "sd") return this.shared ? this.fromSharedClient(this.shared.client.handle({ type: "timer", name: "pppoe-discovery" }, nowMs)) : [];
    if (kind === "sr") return this.startShared(nowMs);
    return [];
  }

  /** PADT for every session, every line closed. */
  private stop(nowMs: number): ConcentratorAction[] {
    const out: ConcentratorAction[] = [];
    for (const id of [...this.relay.keys(), ...this.terminated.keys()]) out.push(...this.lineClosed(id, "concentrator", nowMs), { type: "line-close", line: id });
    const shared = this.shared;
    if (shared) {
      const link = shared.link;
      if (link) out.push(...this.fromSharedLink(link.handle({ type: "close", reason: "concentrator stopping" })).filter((a) => a.type === "send"));
      out.push(...this.fromSharedClient(shared.client.handle({ type: "terminate", message: "concentrator stopping" }, nowMs)).filter((a) => a.type === "send"));
      out.push({ type: "cancel-timer", name: "sr" });
      this.shared = undefined;
    }
    return out;
  }
}
