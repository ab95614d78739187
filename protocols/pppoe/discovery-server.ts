// Sans-I/O PPPoE Discovery, Access Concentrator side (RFC 2516 §5): PADO with an AC-Cookie, PADS allocating
// a unique SESSION_ID, PADT from either side, and the session table those build.
import { createHmac, timingSafeEqual } from "node:crypto";
import { MAX_SESSION_ID } from "./constants.js";
import { encodePppoeFrame } from "./pppoe-codec.js";
import { findTag } from "./pppoe-frame.js";
import type { MacAddress, PppoeDiscoveryPacket, PppoeFrame, PppoeTag } from "./pppoe-frame.js";
import { decodeOrDrop, type PppoeAction, type PppoeDrop, type PppoePortEvent } from "./discovery-actions.js";

/** MAC, AC name, services, cookie secret and session limit of the AC. */
export interface PppoeServerOptions {
  /** The Access Concentrator's MAC address. */
  mac: MacAddress;
  acName: string;
  /** Services offered; empty offers any Service-Name asked for. */
  serviceNames?: string[];
  /** Key of the AC-Cookie (HMAC-SHA-256 of the Host's MAC and a time slot). */
  cookieSecret: Buffer;
  /** An AC-Cookie is accepted during one to two of these periods after its PADO. Default 60 s. */
  cookieLifetimeMs?: number;
  /** Sessions held at once; beyond, PADS carries AC-System-Error. Default and maximum 65534. */
  maxSessions?: number;
  /** First SESSION_ID tried (1..65534); later ones follow it. Default 1. */
  firstSessionId?: number;
}

/** End a session with PADT. */
export type PppoeServerCommand = { type: "terminate"; sessionId: number; message?: string };

/** What the AC reports: session up, session ended. */
export type PppoeServerEvent =
  | { type: "session-started"; sessionId: number; hostMac: MacAddress; serviceName: string }
  | { type: "session-ended"; sessionId: number; hostMac: MacAddress; by: "host" | "access-concentrator" }
  | { type: "session-data"; sessionId: number; hostMac: MacAddress; payload: Buffer }
  | { type: "refused"; hostMac: MacAddress; reason: "service-name" | "no-session-id"; serviceName: string }
  | PppoeDrop;

/** One session the AC holds: id and the Host's MAC. */
export interface PppoeServerSession {
  sessionId: number;
  hostMac: MacAddress;
  serviceName: string;
  /** Host-Uniq of the PADR, hex; "" when none. */
  hostUniq: string;
}

const COOKIE_BYTES = 16;

/** The Access Concentrator's Discovery machine (RFC 2516 §5): PADO with a cookie, PADS with a session id. */
export class PppoeDiscoveryServer {
  private readonly sessions = new Map<number, PppoeServerSession>();
  /** host MAC + Host-Uniq → SESSION_ID, so a repeated PADR gets the same PADS. */
  private readonly byHost = new Map<string, number>();
  private cursor: number;
  private readonly maxSessions: number;
  private readonly lifetimeMs: number;

  constructor(private readonly options: PppoeServerOptions) {
    this.cursor = options.firstSessionId ?? 1;
    if (!Number.isInteger(this.cursor) || this.cursor < 1 || this.cursor > MAX_SESSION_ID) throw new RangeError(`firstSessionId ${this.cursor} outside 1..${MAX_SESSION_ID}`);
    this.maxSessions = Math.min(options.maxSessions ?? MAX_SESSION_ID, MAX_SESSION_ID);
    this.lifetimeMs = options.cookieLifetimeMs ?? 60_000;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }
  /** The session with this id, if the AC holds it. */
  session(sessionId: number): PppoeServerSession | undefined {
    return this.sessions.get(sessionId);
  }

  /** Takes a command or a frame event, returns the actions it causes. */
  handle(event: PppoeServerCommand | PppoePortEvent, nowMs: number): PppoeAction<PppoeServerEvent>[] {
    switch (event.type) {
      case "terminate":
        return this.terminate(event.sessionId, event.message);
      case "timer":
        return [];
      case "frame":
        return this.onFrame(event.bytes, nowMs);
    }
  }

  private send(destination: MacAddress, packet: PppoeDiscoveryPacket): PppoeAction<PppoeServerEvent> {
    const frame: PppoeFrame = { destination, source: this.options.mac, packet };
    return { type: "send", bytes: encodePppoeFrame(frame), frame };
  }

  private drop(cause: string, detail: string): PppoeAction<PppoeServerEvent>[] {
    return [{ type: "emit", event: { type: "dropped", cause, detail } }];
  }

  private cookie(hostMac: MacAddress, slot: number): Buffer {
    return createHmac("sha256", this.options.cookieSecret).update(`${hostMac}/${slot}`).digest().subarray(0, COOKIE_BYTES);
  }

  private cookieValid(hostMac: MacAddress, cookie: Buffer | undefined, nowMs: number): boolean {
    if (!cookie || cookie.length !== COOKIE_BYTES) return false;
    const slot = Math.floor(nowMs / this.lifetimeMs);
    return timingSafeEqual(cookie, this.cookie(hostMac, slot)) || timingSafeEqual(cookie, this.cookie(hostMac, slot - 1));
  }

  private serves(serviceName: string): boolean {
    const offered = this.options.serviceNames ?? [];
    return offered.length === 0 || serviceName === "" || offered.includes(serviceName);
  }

  /** Host-Uniq and Relay-Session-Id go back unchanged (RFC 2516 Appendix A). */
  private echoed(tags: readonly PppoeTag[]): PppoeTag[] {
    return tags.filter((t) => t.type === "host-uniq" || t.type === "relay-session-id");
  }

  private onFrame(bytes: Buffer, nowMs: number): PppoeAction<PppoeServerEvent>[] {
    const decoded = decodeOrDrop(bytes);
    if (!("frame" in decoded)) return this.drop(decoded.cause, decoded.detail);
    const { frame } = decoded;
    const { packet } = frame;
    if (frame.destination !== this.options.mac && !(packet.kind === "discovery" && packet.code === "PADI")) {
      return this.drop("not-for-us", `frame to ${frame.destination}`);
    }
    if (packet.kind === "session") {
      const session = this.sessions.get(packet.sessionId);
      if (!session || session.hostMac !== frame.source) return this.drop("unknown-session", `session frame for 0x${packet.sessionId.toString(16)} from ${frame.source}`);
      return [{ type: "emit", event: { type: "session-data", sessionId: packet.sessionId, hostMac: frame.source, payload: packet.payload } }];
    }
    switch (packet.code) {
      case "PADI":
        return this.onPadi(frame.source, packet, nowMs);
      case "PADR":
        return this.onPadr(frame.source, packet, nowMs);
      case "PADT":
        return this.onPadt(frame.source, packet);
      default:
        return this.drop("unexpected-code", `${packet.code} from ${frame.source} at an Access Concentrator`);
    }
  }

  private onPadi(hostMac: MacAddress, packet: PppoeDiscoveryPacket, nowMs: number): PppoeAction<PppoeServerEvent>[] {
    const asked = findTag(packet.tags, "service-name")?.name ?? "";
    // An AC that cannot serve the PADI does not answer it (RFC 2516 §5.2).
    if (!this.serves(asked)) {
      return [{ type: "emit", event: { type: "refused", hostMac, reason: "service-name", serviceName: asked } }];
    }
    const others = (this.options.serviceNames ?? []).filter((name) => name !== asked);
    const tags: PppoeTag[] = [
      { type: "ac-name", name: this.options.acName },
      { type: "service-name", name: asked },
      ...others.map((name): PppoeTag => ({ type: "service-name", name })),
      { type: "ac-cookie", value: this.cookie(hostMac, Math.floor(nowMs / this.lifetimeMs)) },
      ...this.echoed(packet.tags),
    ];
    return [this.send(hostMac, { kind: "discovery", code: "PADO", sessionId: 0, tags })];
  }

  private onPadr(hostMac: MacAddress, packet: PppoeDiscoveryPacket, nowMs: number): PppoeAction<PppoeServerEvent>[] {
    if (!this.cookieValid(hostMac, findTag(packet.tags, "ac-cookie")?.value, nowMs)) {
      return this.drop("bad-cookie", `PADR from ${hostMac} without a valid AC-Cookie`);
    }
    const serviceName = findTag(packet.tags, "service-name")?.name ?? "";
    const echo = this.echoed(packet.tags);
    if (!this.serves(serviceName)) {
      const tags: PppoeTag[] = [{ type: "service-name-error", message: `service ${serviceName} is not offered` }, ...echo];
      return [
        this.send(hostMac, { kind: "discovery", code: "PADS", sessionId: 0, tags }),
        { type: "emit", event: { type: "refused", hostMac, reason: "service-name", serviceName } },
      ];
    }
    const hostUniq = findTag(packet.tags, "host-uniq")?.value.toString("hex") ?? "";
    const hostKey = `${hostMac}/${hostUniq}`;
    const tags: PppoeTag[] = [{ type: "service-name", name: serviceName }, ...echo];
    const existing = this.byHost.get(hostKey);
    // A repeated PADR (its PADS was lost) gets the same SESSION_ID again.
    if (existing !== undefined) return [this.send(hostMac, { kind: "discovery", code: "PADS", sessionId: existing, tags })];
    const sessionId = this.allocate();
    if (sessionId === undefined) {
      const refusal: PppoeTag[] = [{ type: "ac-system-error", message: "no session available" }, ...echo];
      return [
        this.send(hostMac, { kind: "discovery", code: "PADS", sessionId: 0, tags: refusal }),
        { type: "emit", event: { type: "refused", hostMac, reason: "no-session-id", serviceName } },
      ];
    }
    this.sessions.set(sessionId, { sessionId, hostMac, serviceName, hostUniq });
    this.byHost.set(hostKey, sessionId);
    return [
      this.send(hostMac, { kind: "discovery", code: "PADS", sessionId, tags }),
      { type: "emit", event: { type: "session-started", sessionId, hostMac, serviceName } },
    ];
  }

  /** A SESSION_ID unique among held sessions, never 0 or 0xFFFF (RFC 2516 §4). */
  private allocate(): number | undefined {
    if (this.sessions.size >= this.maxSessions) return undefined;
    for (let tries = 0; tries < MAX_SESSION_ID; tries++) {
      const id = this.cursor;
      this.cursor = id === MAX_SESSION_ID ? 1 : id + 1;
      if (!this.sessions.has(id)) return id;
    }
    return undefined;
  }

  private remove(session: PppoeServerSession): void {
    this.sessions.delete(session.sessionId);
    this.byHost.delete(`${session.hostMac}/${session.hostUniq}`);
  }

  private onPadt(hostMac: MacAddress, packet: PppoeDiscoveryPacket): PppoeAction<PppoeServerEvent>[] {
    const session = this.sessions.get(packet.sessionId);
    if (!session || session.hostMac !== hostMac) return this.drop("unknown-session", `PADT for 0x${packet.sessionId.toString(16)} from ${hostMac}`);
    this.remove(session);
    return [{ type: "emit", event: { type: "session-ended", sessionId: session.sessionId, hostMac, by: "host" } }];
  }

  private terminate(sessionId: number, message: string | undefined): PppoeAction<PppoeServerEvent>[] {
    const session = this.sessions.get(sessionId);
    if (!session) return [];
    this.remove(session);
    const tags: PppoeTag[] = message ? [{ type: "generic-error", message }] : [];
    return [
      this.send(session.hostMac, { kind: "discovery", code: "PADT", sessionId, tags }),
      { type: "emit", event: { type: "session-ended", sessionId, hostMac: session.hostMac, by: "access-concentrator" } },
    ];
  }
}
