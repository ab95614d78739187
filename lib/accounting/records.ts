// Accounting records of calls (RFC 2866 §5.1, RFC 2869 §5.13): a sans-I/O recorder turns the roles' call
// events into Start when a side's call is established, Interim-Update every interval while it lasts, and Stop
// with the usage its policy server measured (conversation seconds, the router's octets and packets).
import {
  attributeDefinition,
  radiusAttribute,
  radiusAttributeFromOctets,
  radiusAttributeOctets,
  type RadiusAttribute,
} from "../../protocols/radius/index.js";
import type { CallEvent } from "../flow/call-events.js";

/** The side of the call an accounting record is about. */
export type AccountingSide = "originating" | "terminating";
/** Acct-Status-Type of a record (RFC 2866 §5.1). */
export type AccountingStatus = "Start" | "Interim-Update" | "Stop" | "Accounting-On" | "Accounting-Off";

/**
 * One attribute of a record: a dictionary name and its value, or a type number and its value octets as on
 * the wire (a Vendor-Specific, RFC 2865 §5.26, or a type the dictionary does not know), kept byte for byte.
 */
export type AccountingAttribute = [name: string, value: string | number | Buffer] | [type: number, octets: Buffer];

/** One record as spooled: its attributes, Acct-Delay-Time added when it is sent. */
export interface AccountingRecord {
  /** Acct-Session-Id + status type (+ interim number): one record, however often it is submitted. */
  key: string;
  sessionId: string;
  status: AccountingStatus;
  /** Epoch ms the event happened (Event-Timestamp, and the base of Acct-Delay-Time). */
  eventMs: number;
  /** Binary values (Buffer) are passed on byte for byte, e.g. a NAS's Class (RFC 2865 §5.25). */
  attributes: AccountingAttribute[];
}

/** The RADIUS attribute a record's attribute stands for; throws when the dictionary cannot encode it. */
export function toRadiusAttribute(a: AccountingAttribute): RadiusAttribute {
  return typeof a[0] === "number" ? radiusAttributeFromOctets(a[0], a[1] as Buffer) : radiusAttribute(a[0], a[1]);
}

/** A received attribute as a record keeps it: by dictionary name, or a Vendor-Specific or unknown type as its octets. */
export function fromRadiusAttribute(a: RadiusAttribute): AccountingAttribute {
  const d = attributeDefinition(a.type);
  // Named only when the name gives back the same attribute (User-Password is octets outside Access-Request).
  if (!d || a.kind === "vsa" || d.type !== a.kind) return [a.type, radiusAttributeOctets(a)];
  return [d.name, a.value];
}

/** The parties of a call (SIP URIs): Calling-Station-Id and Called-Station-Id of its records (RFC 2866 §5). */
export interface AccountingCallInfo {
  caller: string;
  callee: string;
}

/** NAS identity, interim interval and how records describe a call, of an AccountingRecorder. */
export interface AccountingRecorderOptions {
  /** NAS-Identifier (RFC 2865 §5.32) of the records. */
  nasIdentifier: string;
  /** NAS-IP-Address (RFC 2865 §5.4), when the exporter has one. */
  nasIpAddress?: string;
  /** Seconds between Interim-Updates (RFC 2869 §2.1); none when 0 or absent. */
  interimIntervalS?: number;
  /** The parties of a call, by call id (undefined: the record goes without User-Name and station ids). */
  describe: (callId: string) => AccountingCallInfo | undefined;
  /**
   * A policy server alone (`callgate serve POL1`) sees no establishment, only the usage at the end: the Start
   * is made then, dated back to the conversation's start (its Acct-Delay-Time says how late it is).
   */
  startFromUsage?: boolean;
  /**
   * A policy server's Start comes when the router installed the call's policy (its DEC Install answered, the
   * 2xx then relayed to the caller): the conversation begins.
   */
  startOnInstall?: boolean;
}

/** Acct-Session-Id (RFC 2866 §5.5): unique per call and side. */
export const accountingSessionId = (callId: string, side: AccountingSide): string => `${callId};${side}`;

interface SideState {
  startMs: number | undefined;
  interims: number;
  nextInterimMs: number;
  stopped: boolean;
}

interface CallState {
  sides: Record<AccountingSide, SideState>;
  /** The caller's end of the call, when it came before the usage. */
  callerEnd: { status?: number; endedBy?: string } | undefined;
  timeLimit: boolean;
}

const SIDE_OF_UA: Record<string, AccountingSide> = { UAC: "originating", UAS: "terminating" };
const SIDE_OF_POLICY: Record<string, AccountingSide> = { POL1: "originating", POL2: "terminating" };

/**
 * RFC 2866 §5.10 cause from how the call ended, seen from `side`: its own user hung up (User-Request), the
 * other end did (Host-Request), the time limit cut it (Session-Timeout), or it never connected.
 */
export function terminateCause(side: AccountingSide, established: boolean, end: CallState["callerEnd"], timeLimit: boolean): string {
  if (timeLimit) return "Session-Timeout";
  if (established) {
    const hungUp = end?.endedBy;
    if (hungUp === undefined) return "User-Request";
    const own = side === "originating" ? "caller" : "callee";
    return hungUp === own ? "User-Request" : "Host-Request";
  }
  const status = end?.status;
  if (status === 487) return side === "originating" ? "User-Request" : "Host-Request"; // CANCEL: the caller gave up
  if (status === 486 || status === 600 || status === 603) return side === "originating" ? "Host-Request" : "User-Request";
  if (status === 408 || status === 480) return "Idle-Timeout";
  if (status !== undefined && status >= 500) return "Service-Unavailable";
  return "User-Error";
}

/**
 * RFC 2866 §5.3, §5.4: Acct-Input-Octets are those received from the user, Acct-Output-Octets those sent to it.
 * The user of the originating side is the caller, of the terminating side the callee; octets of flows whose
 * sender is unknown count as input.
 */
export function octetsOfUser(side: AccountingSide, u: { octets: number; octetsFromCaller?: number; octetsFromCallee?: number }): { input: number; output: number } {
  const total = Math.max(0, Math.floor(u.octets));
  const toUser = Math.min(total, Math.max(0, Math.floor((side === "originating" ? u.octetsFromCallee : u.octetsFromCaller) ?? 0)));
  return { input: total - toUser, output: toUser };
}

const uriUser = (uri: string): string => uri.replace(/^<|>$/g, "").replace(/^(sips?|tel):/i, "").replace(/[;?].*$/, "");

/** Turns the roles' call events into accounting records: Start, Interim-Update, Stop (RFC 2866); sans-I/O. */
export class AccountingRecorder {
  private readonly calls = new Map<string, CallState>();

  constructor(private readonly opts: AccountingRecorderOptions) {}

  /** Calls with a side started or ended but not both stopped. */
  get open(): number {
    return this.calls.size;
  }

  private call(callId: string): CallState {
    let c = this.calls.get(callId);
    if (!c) {
      const side = (): SideState => ({ startMs: undefined, interims: 0, nextInterimMs: Infinity, stopped: false });
      c = { sides: { originating: side(), terminating: side() }, callerEnd: undefined, timeLimit: false };
      this.calls.set(callId, c);
    }
    return c;
  }

  private base(callId: string, side: AccountingSide, status: AccountingStatus, eventMs: number): AccountingRecord["attributes"] {
    const info = this.opts.describe(callId);
    const attrs: AccountingRecord["attributes"] = [
      ["Acct-Status-Type", status],
      ["Acct-Session-Id", accountingSessionId(callId, side)],
      ["Acct-Multi-Session-Id", callId],
    ];
    if (info) {
      attrs.push(["User-Name", uriUser(side === "originating" ? info.caller : info.callee)]);
      attrs.push(["Calling-Station-Id", info.caller], ["Called-Station-Id", info.callee]);
    }
    attrs.push(["NAS-Identifier", this.opts.nasIdentifier]);
    if (this.opts.nasIpAddress) attrs.push(["NAS-IP-Address", this.opts.nasIpAddress]);
    attrs.push(["Event-Timestamp", Math.floor(eventMs / 1000)]);
    return attrs;
  }

  private start(callId: string, side: AccountingSide, nowMs: number): AccountingRecord[] {
    const s = this.call(callId).sides[side];
    if (s.startMs !== undefined || s.stopped) return [];
    s.startMs = nowMs;
    const every = this.opts.interimIntervalS ?? 0;
    s.nextInterimMs = every > 0 ? nowMs + every * 1000 : Infinity;
    return [this.startRecord(callId, side, nowMs)];
  }

  private startRecord(callId: string, side: AccountingSide, startMs: number): AccountingRecord {
    const sessionId = accountingSessionId(callId, side);
    return { key: `${sessionId}|Start`, sessionId, status: "Start", eventMs: startMs, attributes: this.base(callId, side, "Start", startMs) };
  }

  /**
   * Goes on with a side's session started at `startMs` by an earlier process (restarted mid-call): its
   * Interim-Updates resume at the next multiple of the interval after `nowMs` (those due while no process ran
   * are not made up), numbered and timed as the first process would have, and its Stop comes with the usage.
   * Returns the session's Start record as that process made it (same key, same Event-Timestamp), for a spool
   * that may never have taken it; none when the recorder already knows the session.
   */
  resume(callId: string, side: AccountingSide, startMs: number, nowMs: number): AccountingRecord[] {
    const s = this.call(callId).sides[side];
    if (s.startMs !== undefined || s.stopped) return [];
    s.startMs = startMs;
    const every = (this.opts.interimIntervalS ?? 0) * 1000;
    s.interims = every > 0 ? Math.max(0, Math.floor((nowMs - startMs) / every)) : 0;
    s.nextInterimMs = every > 0 ? startMs + (s.interims + 1) * every : Infinity;
    return [this.startRecord(callId, side, startMs)];
  }

  /** A call event at epoch ms `nowMs`: the records it completes. */
  onEvent(e: CallEvent, nowMs: number): AccountingRecord[] {
    if (e.callId === undefined) return [];
    switch (e.type) {
      case "established": {
        const side = SIDE_OF_UA[e.role];
        return side ? this.start(e.callId, side, nowMs) : [];
      }
      case "decision": {
        const side = SIDE_OF_POLICY[e.role];
        // A media change installs again: the call keeps its one Start.
        return side && this.opts.startOnInstall && e.purpose === "Install" && e.allow ? this.start(e.callId, side, nowMs) : [];
      }
      case "terminated":
        if (e.role === "UAC") {
          const end: { status?: number; endedBy?: string } = {};
          if (e.status !== undefined) end.status = e.status;
          if (e.endedBy !== undefined) end.endedBy = e.endedBy;
          this.call(e.callId).callerEnd = end;
        }
        return [];
      case "step":
        if (e.what.startsWith("time limit reached")) this.call(e.callId).timeLimit = true;
        return [];
      case "usage": {
        const side = SIDE_OF_POLICY[e.role];
        if (!side) return [];
        const c = this.call(e.callId);
        const s = c.sides[side];
        if (s.stopped) return [];
        s.stopped = true;
        s.nextInterimMs = Infinity;
        const sessionId = accountingSessionId(e.callId, side);
        const out: AccountingRecord[] = [];
        if (this.opts.startFromUsage && s.startMs === undefined && e.durationS > 0) {
          s.startMs = nowMs - Math.round(e.durationS) * 1000;
          out.push(this.startRecord(e.callId, side, s.startMs));
        }
        const attrs = this.base(e.callId, side, "Stop", nowMs);
        const { input, output } = octetsOfUser(side, e);
        attrs.push(
          ["Acct-Session-Time", Math.round(e.durationS)],
          // RFC 2869 §5.1, §5.2: the octets above 2^32 in Gigawords; the router counts the call's classifiers.
          ["Acct-Input-Octets", input % 2 ** 32],
          ["Acct-Input-Gigawords", Math.floor(input / 2 ** 32)],
          ["Acct-Output-Octets", output % 2 ** 32],
          ["Acct-Output-Gigawords", Math.floor(output / 2 ** 32)],
          ["Acct-Input-Packets", Math.max(0, Math.floor(e.packets)) % 2 ** 32],
          ["Acct-Terminate-Cause", terminateCause(side, s.startMs !== undefined, c.callerEnd, c.timeLimit)],
        );
        // A policy server sees one side only: its call is done when no side it started is still open.
        const open = (x: SideState): boolean => x.startMs !== undefined && !x.stopped;
        if ((c.sides.originating.stopped && c.sides.terminating.stopped) || (this.opts.startOnInstall && !open(c.sides.originating) && !open(c.sides.terminating))) this.calls.delete(e.callId);
        out.push({ key: `${sessionId}|Stop`, sessionId, status: "Stop", eventMs: nowMs, attributes: attrs });
        return out;
      }
      default:
        return [];
    }
  }

  /** Time has reached epoch ms `nowMs`: the Interim-Updates due. */
  tick(nowMs: number): AccountingRecord[] {
    const out: AccountingRecord[] = [];
    const every = (this.opts.interimIntervalS ?? 0) * 1000;
    if (every <= 0) return out;
    for (const [callId, c] of this.calls) {
      for (const side of ["originating", "terminating"] as const) {
        const s = c.sides[side];
        while (s.startMs !== undefined && !s.stopped && s.nextInterimMs <= nowMs) {
          const at = s.nextInterimMs;
          s.interims++;
          s.nextInterimMs += every;
          const sessionId = accountingSessionId(callId, side);
          const attrs = this.base(callId, side, "Interim-Update", at);
          attrs.push(["Acct-Session-Time", Math.round((at - s.startMs) / 1000)]);
          out.push({ key: `${sessionId}|Interim-Update|${s.interims}`, sessionId, status: "Interim-Update", eventMs: at, attributes: attrs });
        }
      }
    }
    return out;
  }

  /** Epoch ms of the next Interim-Update due, or undefined. */
  nextDeadline(): number | undefined {
    let next: number | undefined;
    for (const c of this.calls.values())
      for (const s of [c.sides.originating, c.sides.terminating]) if (Number.isFinite(s.nextInterimMs) && (next === undefined || s.nextInterimMs < next)) next = s.nextInterimMs;
    return next;
  }
}
