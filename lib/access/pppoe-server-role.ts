// The ISP side of PPPoE (RFC 2516): Discovery through the protocol layer's Access Concentrator machine, then
// per session a PPP link in the server role (LCP, PAP or CHAP against a user table, IPCP with an address from
// the pool). IPv4 datagrams from a peer are sent back to it with source and destination swapped, so a lab has
// traffic to check end to end. Sans-I/O: Ethernet frames and timers in, frames, timers and events out.
import { PppLink, PppoeDiscoveryServer, chapMd5Response, encodePppoeFrame } from "../../protocols/pppoe/index.js";
import type { AuthMethod, MacAddress, PppLinkAction, PppLinkEvent, PppoeServerEvent } from "../../protocols/pppoe/index.js";
import type { AddressPool } from "./address-pool.js";
import { ipv4Reflect } from "./ipv4-header.js";

/** MAC, AC and service names, session limit, authentication and users, addresses, echo and restart timers of a PppoeServerRole. */
export interface PppoeServerRoleOptions {
  mac: MacAddress;
  acName: string;
  serviceNames?: string[];
  cookieSecret: Buffer;
  maxSessions?: number;
  auth: AuthMethod;
  /** User name → password (PAP compares, CHAP hashes). */
  users: Readonly<Record<string, string>>;
  /** The server's own address in IPCP. */
  localAddress: string;
  pool: AddressPool;
  /** LCP Echo-Request interval once a link is up (0: none) and misses before the session ends. */
  echoIntervalMs?: number;
  echoFailures?: number;
  restartMs?: number;
  /** Send IPv4 datagrams back to their sender (default true). */
  reflectIp?: boolean;
  /** Randomness for Magic-Numbers and CHAP challenges. */
  randomBytes: (n: number) => Buffer;
}

/** What the PPPoE server role takes: an Ethernet frame or a timer. */
export type PppoeServerRoleInput =
  | { type: "frame"; bytes: Buffer }
  | { type: "timer"; name: string }
  | { type: "terminate"; sessionId: number; reason: string };

/** What the role reports: sessions up, authenticated, addressed, ended. */
export type PppoeServerRoleEvent =
  | { type: "session-started"; sessionId: number; hostMac: MacAddress }
  | { type: "authenticated"; sessionId: number; user: string }
  | { type: "auth-refused"; sessionId: number; user: string }
  | { type: "link-up"; sessionId: number; address: string; user: string }
  | { type: "ip"; sessionId: number; packet: Buffer }
  | { type: "session-ended"; sessionId: number; hostMac: MacAddress; by: "host" | "server"; reason: string }
  | { type: "dropped"; cause: string; detail: string };

/** What the role asks of its driver: send a frame, set or cancel a timer, emit. */
export type PppoeServerRoleAction =
  | { type: "send"; bytes: Buffer }
  | { type: "set-timer"; name: string; delayMs: number }
  | { type: "cancel-timer"; name: string }
  | { type: "emit"; event: PppoeServerRoleEvent };

interface ServedSession {
  sessionId: number;
  hostMac: MacAddress;
  link: PppLink;
  timers: Set<string>;
  user: string;
}

const LINK_TIMERS = ["lcp", "ipcp", "auth", "echo"];

/** The ISP side of PPPoE: Discovery, then per session a PPP server link (LCP, PAP or CHAP, IPCP); sans-I/O. */
export class PppoeServerRole {
  private readonly discovery: PppoeDiscoveryServer;
  private readonly sessions = new Map<number, ServedSession>();

  constructor(private readonly options: PppoeServerRoleOptions) {
    this.discovery = new PppoeDiscoveryServer({
      mac: options.mac,
      acName: options.acName,
      cookieSecret: options.cookieSecret,
      ...(options.serviceNames ? { serviceNames: options.serviceNames } : {}),
      ...(options.maxSessions !== undefined ? { maxSessions: options.maxSessions } : {}),
    });
  }

  get sessionCount(): number {
    return this.sessions.size;
  }
  /** Every session held, whatever its phase. */
  sessionIds(): number[] {
    return [...this.sessions.keys()];
  }
  /** Sessions whose IPCP is up, with their peer's address. */
  links(): { sessionId: number; address: string; user: string }[] {
    const out: { sessionId: number; address: string; user: string }[] = [];
    for (const s of this.sessions.values()) {
      const address = s.link.remoteAddress;
      if (address) out.push({ sessionId: s.sessionId, address, user: s.user });
    }
    return out;
  }

  /** Takes one input, returns the actions it causes. */
  handle(input: PppoeServerRoleInput, nowMs: number): PppoeServerRoleAction[] {
    switch (input.type) {
      case "frame":
        return this.fromDiscovery(this.discovery.handle({ type: "frame", bytes: input.bytes }, nowMs));
      case "terminate": {
        // LCP Terminate-Request as a courtesy, then the PADT that ends the session at once (RFC 2516 §5.5).
        const session = this.sessions.get(input.sessionId);
        if (!session) return [];
        const courtesy = this.fromLink(session, session.link.handle({ type: "close", reason: input.reason }), nowMs).filter((a) => a.type === "send");
        if (!this.sessions.has(input.sessionId)) return courtesy;
        const padt = this.fromDiscovery(this.discovery.handle({ type: "terminate", sessionId: input.sessionId, message: input.reason }, nowMs));
        return [
          ...courtesy,
          ...padt.filter((a) => a.type === "send"),
          ...this.forget(session),
          { type: "emit", event: { type: "session-ended", sessionId: input.sessionId, hostMac: session.hostMac, by: "server", reason: input.reason } },
        ];
      }
      case "timer": {
        const slash = input.name.indexOf("/");
        const session = this.sessions.get(Number(input.name.slice(0, slash)));
        if (!session) return [];
        const name = input.name.slice(slash + 1);
        session.timers.delete(name);
        return this.fromLink(session, session.link.handle({ type: "timer", name }), nowMs);
      }
    }
  }

  private fromDiscovery(actions: ReturnType<PppoeDiscoveryServer["handle"]>): PppoeServerRoleAction[] {
    const out: PppoeServerRoleAction[] = [];
    for (const a of actions) {
      if (a.type === "send") out.push({ type: "send", bytes: a.bytes });
      else if (a.type === "emit") out.push(...this.onDiscoveryEvent(a.event));
    }
    return out;
  }

  private onDiscoveryEvent(event: PppoeServerEvent): PppoeServerRoleAction[] {
    switch (event.type) {
      case "session-started":
        return this.startLink(event.sessionId, event.hostMac);
      case "session-data": {
        const session = this.sessions.get(event.sessionId);
        if (!session) return [{ type: "emit", event: { type: "dropped", cause: "unknown-session", detail: `data for 0x${event.sessionId.toString(16)}` } }];
        return this.fromLink(session, session.link.handle({ type: "frame", bytes: event.payload }), 0);
      }
      case "session-ended": {
        // PADT from the host: the link has no lower layer any more (RFC 2516 §5.5).
        const session = this.sessions.get(event.sessionId);
        if (!session) return [];
        session.link.handle({ type: "close", reason: "padt" });
        return [...this.forget(session), { type: "emit", event: { type: "session-ended", sessionId: event.sessionId, hostMac: event.hostMac, by: "host", reason: "padt" } }];
      }
      case "refused":
        return [{ type: "emit", event: { type: "dropped", cause: `refused-${event.reason}`, detail: `${event.hostMac} asked for ${JSON.stringify(event.serviceName)}` } }];
      case "dropped":
        return [{ type: "emit", event: { type: "dropped", cause: event.cause, detail: event.detail } }];
    }
  }

  private startLink(sessionId: number, hostMac: MacAddress): PppoeServerRoleAction[] {
    const o = this.options;
    const link = new PppLink({
      role: "server",
      auth: o.auth,
      name: o.acName,
      magic: o.randomBytes(4).readUInt32BE(0) || 1,
      localAddress: o.localAddress,
      assignAddress: () => o.pool.allocate(),
      challenge: () => o.randomBytes(16),
      ...(o.echoIntervalMs ? { echoIntervalMs: o.echoIntervalMs } : {}),
      ...(o.echoFailures !== undefined ? { echoFailures: o.echoFailures } : {}),
      ...(o.restartMs !== undefined ? { restartMs: o.restartMs } : {}),
    });
    const session: ServedSession = { sessionId, hostMac, link, timers: new Set(), user: "" };
    this.sessions.set(sessionId, session);
    // The AC opens LCP as soon as the session exists (RFC 2516 §6: PPP starts in the Session stage).
    return [{ type: "emit", event: { type: "session-started", sessionId, hostMac } }, ...this.fromLink(session, link.handle({ type: "open" }), 0)];
  }

  private sessionFrame(session: ServedSession, payload: Buffer): Buffer {
    return encodePppoeFrame({ destination: session.hostMac, source: this.options.mac, packet: { kind: "session", sessionId: session.sessionId, payload } });
  }

  private fromLink(session: ServedSession, actions: PppLinkAction[], nowMs: number): PppoeServerRoleAction[] {
    const out: PppoeServerRoleAction[] = [];
    for (const a of actions) {
      switch (a.type) {
        case "send":
          out.push({ type: "send", bytes: this.sessionFrame(session, a.frame) });
          break;
        case "set-timer":
          session.timers.add(a.name);
          out.push({ type: "set-timer", name: `${session.sessionId}/${a.name}`, delayMs: a.delayMs });
          break;
        case "cancel-timer":
          if (session.timers.delete(a.name)) out.push({ type: "cancel-timer", name: `${session.sessionId}/${a.name}` });
          break;
        case "emit":
          out.push(...this.onLinkEvent(session, a.event, nowMs));
          break;
      }
    }
    return out;
  }

  private onLinkEvent(session: ServedSession, event: PppLinkEvent, nowMs: number): PppoeServerRoleAction[] {
    const sessionId = session.sessionId;
    switch (event.type) {
      case "authenticate": {
        const secret = this.options.users[event.peerId];
        const ok =
          secret !== undefined &&
          (event.method === "pap" ? event.password.toString("utf8") === secret : event.response.equals(chapMd5Response(event.identifier, secret, event.challenge)));
        session.user = event.peerId;
        const verdict: PppoeServerRoleEvent = ok ? { type: "authenticated", sessionId, user: event.peerId } : { type: "auth-refused", sessionId, user: event.peerId };
        return [{ type: "emit", event: verdict }, ...this.fromLink(session, session.link.handle({ type: "auth-result", ok, message: ok ? "welcome" : "refused" }), nowMs)];
      }
      case "ipcp-up":
        return [{ type: "emit", event: { type: "link-up", sessionId, address: event.peerAddress, user: session.user } }];
      case "ip": {
        const out: PppoeServerRoleAction[] = [{ type: "emit", event: { type: "ip", sessionId, packet: event.packet } }];
        const back = this.options.reflectIp === false ? undefined : ipv4Reflect(event.packet);
        const frame = back ? session.link.ipFrame(back) : undefined;
        if (frame) out.push({ type: "send", bytes: this.sessionFrame(session, frame) });
        return out;
      }
      case "down": {
        // The link is over: end the PPPoE session with a PADT (RFC 2516 §5.5).
        const padt = this.fromDiscovery(this.discovery.handle({ type: "terminate", sessionId, message: event.reason }, nowMs));
        return [...padt.filter((a) => a.type === "send"), ...this.forget(session), { type: "emit", event: { type: "session-ended", sessionId, hostMac: session.hostMac, by: "server", reason: event.reason } }];
      }
      case "dropped":
        return [{ type: "emit", event: { type: "dropped", cause: event.cause, detail: `session 0x${sessionId.toString(16)}: ${event.detail}` } }];
      default:
        return [];
    }
  }

  private forget(session: ServedSession): PppoeServerRoleAction[] {
    this.sessions.delete(session.sessionId);
    const address = session.link.assignedAddress;
    if (address) this.options.pool.release(address);
    return LINK_TIMERS.filter((t) => session.timers.has(t)).map((t) => ({ type: "cancel-timer", name: `${session.sessionId}/${t}` }));
  }
}
