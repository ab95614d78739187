// Sans-I/O PPPoE Discovery, Host side (RFC 2516 §5): PADI broadcast with retries doubling the wait, PADO
// choice, PADR with retries, PADS → SESSION_ID, PADT from either side.
import { BROADCAST_MAC } from "./constants.js";
import { encodePppoeFrame } from "./pppoe-codec.js";
import { findErrorTag, findTag } from "./pppoe-frame.js";
import type { MacAddress, PppoeDiscoveryPacket, PppoeFrame, PppoeTag } from "./pppoe-frame.js";
import { decodeOrDrop, type PppoeAction, type PppoeDrop, type PppoePortEvent } from "./discovery-actions.js";

/** MAC, service, Host-Uniq and timers of the Host. */
export interface PppoeClientOptions {
  /** This Host's MAC address. */
  mac: MacAddress;
  /** Service-Name to ask for; "" accepts any service (RFC 2516 Appendix A). */
  serviceName?: string;
  /** Only accept a PADO carrying this AC-Name. */
  acName?: string;
  /** Host-Uniq tag value: PADO and PADS must echo it (RFC 2516 Appendix A). */
  hostUniq?: Buffer;
  /** First PADI/PADR wait; doubled on each retry (RFC 2516 §5: "doubling the waiting period"). Default 1 s. */
  initialTimeoutMs?: number;
  /** Upper bound of the doubled wait. Default 8 s. */
  maxTimeoutMs?: number;
  /** PADIs sent before giving up. Default 4. */
  padiAttempts?: number;
  /** PADRs sent before giving up. Default 4. */
  padrAttempts?: number;
}

/** Start Discovery, or end the session with PADT. */
export type PppoeClientCommand = { type: "start" } | { type: "terminate"; message?: string };

/** What the Host reports: session up, session ended, gave up. */
export type PppoeClientEvent =
  | { type: "offer"; acMac: MacAddress; acName: string; serviceNames: string[] }
  | { type: "session"; sessionId: number; acMac: MacAddress; acName: string; serviceName: string }
  | { type: "failed"; reason: "no-offer" | "no-confirmation" | "service-name-error" | "ac-system-error" | "generic-error"; message: string }
  | { type: "terminated"; by: "host" | "access-concentrator"; sessionId: number; message?: string }
  | PppoeDrop;

/** Where the Host is in Discovery. */
export type PppoeClientState = "idle" | "discovering" | "requesting" | "session" | "closed";

const TIMER = "pppoe-discovery";

/** The Host's Discovery machine (RFC 2516 §5): PADI, PADR, then a session, with retries. */
export class PppoeDiscoveryClient {
  private current: PppoeClientState = "idle";
  private attempts = 0;
  private waitMs: number;
  private chosen: { mac: MacAddress; acName: string; echo: PppoeTag[] } | undefined;
  private session = 0;
  private readonly serviceName: string;

  constructor(private readonly options: PppoeClientOptions) {
    this.serviceName = options.serviceName ?? "";
    this.waitMs = options.initialTimeoutMs ?? 1000;
  }

  get state(): PppoeClientState {
    return this.current;
  }
  get sessionId(): number | undefined {
    return this.current === "session" ? this.session : undefined;
  }
  get accessConcentrator(): MacAddress | undefined {
    return this.chosen?.mac;
  }

  /** Takes a command or a frame event, returns the actions it causes. */
  handle(event: PppoeClientCommand | PppoePortEvent, _nowMs: number): PppoeAction<PppoeClientEvent>[] {
    switch (event.type) {
      case "start":
        if (this.current !== "idle") return [];
        this.current = "discovering";
        this.attempts = 0;
        return this.sendPadi();
      case "terminate":
        return this.terminate(event.message);
      case "timer":
        return event.name === TIMER ? this.onTimeout() : [];
      case "frame":
        return this.onFrame(event.bytes);
    }
  }

  private hostTags(): PppoeTag[] {
    const tags: PppoeTag[] = [{ type: "service-name", name: this.serviceName }];
    if (this.options.hostUniq) tags.push({ type: "host-uniq", value: this.options.hostUniq });
    return tags;
  }

  private send(destination: MacAddress, packet: PppoeDiscoveryPacket): PppoeAction<PppoeClientEvent> {
    const frame: PppoeFrame = { destination, source: this.options.mac, packet };
    return { type: "send", bytes: encodePppoeFrame(frame), frame };
  }

  private arm(): PppoeAction<PppoeClientEvent> {
    const delayMs = this.waitMs;
    this.waitMs = Math.min(this.waitMs * 2, this.options.maxTimeoutMs ?? 8000);
    return { type: "set-timer", name: TIMER, delayMs };
  }

  private sendPadi(): PppoeAction<PppoeClientEvent>[] {
    this.attempts++;
    return [this.send(BROADCAST_MAC, { kind: "discovery", code: "PADI", sessionId: 0, tags: this.hostTags() }), this.arm()];
  }

  private sendPadr(): PppoeAction<PppoeClientEvent>[] {
    const chosen = this.chosen;
    if (!chosen) return [];
    this.attempts++;
    const packet: PppoeDiscoveryPacket = { kind: "discovery", code: "PADR", sessionId: 0, tags: [...this.hostTags(), ...chosen.echo] };
    return [this.send(chosen.mac, packet), this.arm()];
  }

  private onTimeout(): PppoeAction<PppoeClientEvent>[] {
    if (this.current === "discovering") {
      if (this.attempts < (this.options.padiAttempts ?? 4)) return this.sendPadi();
      return this.fail("no-offer", `no PADO after ${this.attempts} PADI`);
    }
    if (this.current === "requesting") {
      if (this.attempts < (this.options.padrAttempts ?? 4)) return this.sendPadr();
      return this.fail("no-confirmation", `no PADS after ${this.attempts} PADR`);
    }
    return [];
  }

  private fail(reason: Extract<PppoeClientEvent, { type: "failed" }>["reason"], message: string): PppoeAction<PppoeClientEvent>[] {
    this.current = "closed";
    return [{ type: "cancel-timer", name: TIMER }, { type: "emit", event: { type: "failed", reason, message } }];
  }

  private terminate(message: string | undefined): PppoeAction<PppoeClientEvent>[] {
    if (this.current === "session" && this.chosen) {
      const sessionId = this.session;
      const tags: PppoeTag[] = message ? [{ type: "generic-error", message }] : [];
      this.current = "closed";
      return [
        this.send(this.chosen.mac, { kind: "discovery", code: "PADT", sessionId, tags }),
        { type: "emit", event: { type: "terminated", by: "host", sessionId, ...(message ? { message } : {}) } },
      ];
    }
    if (this.current === "discovering" || this.current === "requesting") {
      this.current = "closed";
      return [{ type: "cancel-timer", name: TIMER }];
    }
    return [];
  }

  private drop(cause: string, detail: string): PppoeAction<PppoeClientEvent>[] {
    return [{ type: "emit", event: { type: "dropped", cause, detail } }];
  }

  private onFrame(bytes: Buffer): PppoeAction<PppoeClientEvent>[] {
    const decoded = decodeOrDrop(bytes);
    if (!("frame" in decoded)) return this.drop(decoded.cause, decoded.detail);
    const { frame } = decoded;
    const { packet } = frame;
    if (packet.kind !== "discovery") return this.drop("session-frame", `session frame for 0x${packet.sessionId.toString(16)}`);
    if (frame.destination !== this.options.mac) return this.drop("not-for-us", `${packet.code} to ${frame.destination}`);
    const hostUniq = findTag(packet.tags, "host-uniq")?.value;
    const wanted = this.options.hostUniq;
    if (packet.code !== "PADT" && (wanted ? !hostUniq || !hostUniq.equals(wanted) : hostUniq !== undefined)) {
      return this.drop("host-uniq-mismatch", `${packet.code} from ${frame.source} is for another discovery`);
    }
    switch (packet.code) {
      case "PADO":
        return this.onPado(frame, packet);
      case "PADS":
        return this.onPads(frame, packet);
      case "PADT":
        return this.onPadt(frame, packet);
      default:
        return this.drop("unexpected-code", `${packet.code} from ${frame.source} at a Host`);
    }
  }

  private onPado(frame: PppoeFrame, packet: PppoeDiscoveryPacket): PppoeAction<PppoeClientEvent>[] {
    if (this.current !== "discovering") return this.drop("unexpected-pado", `PADO from ${frame.source} in state ${this.current}`);
    const acName = findTag(packet.tags, "ac-name")?.name ?? "";
    const serviceNames = packet.tags.flatMap((t) => (t.type === "service-name" ? [t.name] : []));
    const error = findErrorTag(packet.tags);
    if (error) return this.drop("pado-error", `PADO from ${frame.source} carries ${error.type}: ${error.message}`);
    if (this.options.acName !== undefined && acName !== this.options.acName) {
      return this.drop("other-ac", `PADO from AC ${JSON.stringify(acName)}`);
    }
    if (this.serviceName !== "" && !serviceNames.includes(this.serviceName)) {
      return this.drop("service-not-offered", `PADO from ${frame.source} lacks Service-Name ${JSON.stringify(this.serviceName)}`);
    }
    // The AC-Cookie and Relay-Session-Id go back unchanged in the PADR (RFC 2516 §5.3, Appendix A).
    const echo = packet.tags.filter((t) => t.type === "ac-cookie" || t.type === "relay-session-id");
    this.chosen = { mac: frame.source, acName, echo };
    this.current = "requesting";
    this.attempts = 0;
    this.waitMs = this.options.initialTimeoutMs ?? 1000;
    return [
      { type: "cancel-timer", name: TIMER },
      { type: "emit", event: { type: "offer", acMac: frame.source, acName, serviceNames } },
      ...this.sendPadr(),
    ];
  }

  private onPads(frame: PppoeFrame, packet: PppoeDiscoveryPacket): PppoeAction<PppoeClientEvent>[] {
    if (this.current !== "requesting" || frame.source !== this.chosen?.mac) {
      return this.drop("unexpected-pads", `PADS from ${frame.source} in state ${this.current}`);
    }
    const error = findErrorTag(packet.tags);
    if (error) return this.fail(error.type, error.message);
    this.session = packet.sessionId;
    this.current = "session";
    const serviceName = findTag(packet.tags, "service-name")?.name ?? this.serviceName;
    return [
      { type: "cancel-timer", name: TIMER },
      { type: "emit", event: { type: "session", sessionId: packet.sessionId, acMac: frame.source, acName: this.chosen.acName, serviceName } },
    ];
  }

  private onPadt(frame: PppoeFrame, packet: PppoeDiscoveryPacket): PppoeAction<PppoeClientEvent>[] {
    if (this.current !== "session" || packet.sessionId !== this.session || frame.source !== this.chosen?.mac) {
      return this.drop("unknown-session", `PADT for 0x${packet.sessionId.toString(16)} from ${frame.source}`);
    }
    this.current = "closed";
    const message = findErrorTag(packet.tags)?.message;
    return [{ type: "emit", event: { type: "terminated", by: "access-concentrator", sessionId: packet.sessionId, ...(message ? { message } : {}) } }];
  }
}
