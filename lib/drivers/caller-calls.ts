// The lab's outside callers share one peer name (`as`) over every transport: which of them a message to `as` is for.
// A response goes back where its transaction's request came from (top Via branch and sent-by, RFC 3261 §17.2.3,
// §18.2.2); a request goes where its call's requests come from (the remote target, §12.2, for a caller without a
// listener of its own its connection or source address), never to another caller; none when that is gone
// (RFC 5626 §5.3). One instance per transport; a route is a WebSocket connection, a TCP connection or a UDP source.
import { ownString, parseSipMessage, parseViaValue, type SipMessage, type SipRequest, type SipResponse, type ViaHeader } from "../../protocols/sip/index.js";

/** What the caller's calls keep on a route (a connection or a source address). */
export interface CallerRoute {
  /**
   * Keys of the transactions whose requests came on it (see transactionKey), oldest first, each with the Call-ID of
   * the call its final response may end (its initial INVITE's or a BYE's, see CallerCalls.settle).
   */
  transactions: Map<string, string | undefined>;
  /** Call-IDs of the calls it carries, least recently used first. */
  calls: Set<string>;
}

/** How much one route keeps: the defaults fit a phone or a browser; a load generator on one port carries more. */
export interface CallerCallsLimits {
  /** Transactions remembered per route: a peer with more under way has its oldest answered by received/rport only. */
  transactionsPerRoute: number;
  /** Calls remembered per route: a peer with more has its least recently used forgotten (its requests dropped). */
  callsPerRoute: number;
}

const DEFAULT_LIMITS: CallerCallsLimits = { transactionsPerRoute: 64, callsPerRoute: 64 };
/** For UDP sources and TCP connections, where one SIPp or one trunk carries many calls at once. */
export const MANY_CALLS_LIMITS: CallerCallsLimits = { transactionsPerRoute: 256, callsPerRoute: 4096 };

/**
 * How many of the oldest entries go at once when a bound of `limit` is reached: one for a small bound, a 64th of a
 * large one (finding the oldest entry walks past the slots earlier deletions left, so one at a time costs per entry
 * what the table holds).
 */
function batchOf(limit: number): number {
  return Math.max(1, limit >> 6);
}
/** Calls whose route is gone remembered in all, oldest first: their requests are dropped, not sent elsewhere. */
const GONE_CALLS = 1024;

/** Whether a SIP message (its start line checked) is a response: its Status-Line starts "SIP/2.0 " (RFC 3261 §7.2). */
export function isResponse(b: Buffer): boolean {
  return b[0] === 83 && b[1] === 73 && b[2] === 80 && b[3] === 47 && b[4] === 50 && b[5] === 46 && b[6] === 48 && b[7] === 32;
}

/** The status code of a response (its Status-Line checked by isResponse and written by the codec). */
function statusOf(b: Buffer): number {
  return (b[8]! - 48) * 100 + (b[9]! - 48) * 10 + (b[10]! - 48);
}

/** Whether a request's final response can end its call: a BYE's, or the initial INVITE's (no To tag, RFC 3261 §12.1). */
function mayEndCall(req: SipRequest): boolean {
  if (req.method === "BYE") return true;
  if (req.method !== "INVITE") return false;
  try {
    return req.to.tag === undefined;
  } catch {
    return false; // a To that does not parse: the transaction layer answers it 400
  }
}

/**
 * Whether a final response to a BYE ends its call for routing: any but a challenge (401, 407), which asks for the
 * BYE again with credentials (RFC 3261 §22.2; §15.1.1 ends the dialog on 481, 408 and the rest).
 */
function byeEnds(status: number): boolean {
  return status >= 200 && status !== 401 && status !== 407;
}

/**
 * The first Via of a message (RFC 3261 §20.42): its header line found in the head (name "Via" or "v" in any case,
 * §7.3.1 folding undone) and its value read by the codec's Via parser; undefined when there is none or it does not
 * parse. Reads nothing past the head's empty line.
 */
export function topViaOf(bytes: Buffer): ViaHeader | undefined {
  const n = bytes.length;
  let lf = bytes.indexOf(10); // the start line's end
  while (lf >= 0 && lf + 1 < n) {
    const line = lf + 1;
    lf = bytes.indexOf(10, line);
    const end = lf < 0 ? n : lf;
    const stop = end > line && bytes[end - 1] === 13 ? end - 1 : end;
    if (stop === line) return undefined; // the empty line: no Via in the head
    const at = viaValueStart(bytes, line, stop);
    if (at < 0) continue;
    let value = bytes.toString("latin1", at, stop);
    // §7.3.1: a line starting with whitespace continues the header
    while (lf >= 0 && (bytes[lf + 1] === 32 || bytes[lf + 1] === 9)) {
      const next = lf + 1;
      lf = bytes.indexOf(10, next);
      const e = lf < 0 ? n : lf;
      value += " " + bytes.toString("latin1", next, e > next && bytes[e - 1] === 13 ? e - 1 : e);
    }
    try {
      return parseViaValue(value.trim())[0];
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** Where the value of a Via header line bytes[line, stop) starts (after "Via" or "v", WSP and the colon), else -1. */
function viaValueStart(bytes: Buffer, line: number, stop: number): number {
  if ((bytes[line]! | 0x20) !== 118) return -1; // v
  let k = line + 1;
  if (k + 1 < stop && (bytes[k]! | 0x20) === 105 && (bytes[k + 1]! | 0x20) === 97) k += 2; // ia
  while (k < stop && (bytes[k] === 32 || bytes[k] === 9)) k++;
  return k < stop && bytes[k] === 58 ? k + 1 : -1;
}

/** A server transaction as RFC 3261 §17.2.3 matches it: the top Via's branch and sent-by (host in lower case, port). */
function transactionKey(via: ViaHeader): string {
  return `${via.branch ?? ""} ${via.host.toLowerCase()}:${via.port ?? ""}`;
}

/** A response's way back: the route of its transaction, else none, with its top Via for received/rport. */
export interface ResponseRoute<R> {
  route?: R;
  via?: ViaHeader;
}

/** The calls and transactions of the lab's outside callers on one transport, by the route each came on. */
export class CallerCalls<R extends CallerRoute> {
  /**
   * The route each call (by Call-ID) is carried on: the first that sent a request in it, so another route naming its
   * Call-ID gets none of its requests; a caller that comes back after its route closed takes the call over with its
   * next request.
   */
  private readonly byCall = new Map<string, R>();
  /** Calls whose route closed or forgot them, oldest first: a request in one is dropped (RFC 5626 §5.3). */
  private readonly goneCalls = new Set<string>();
  /** The route each transaction's request came on: its first, so another naming the same branch and sent-by gets none of its responses. */
  private readonly byTransaction = new Map<string, R>();

  constructor(private readonly limits: CallerCallsLimits = DEFAULT_LIMITS) {}

  /** Whether nothing is held (no message to `as` can be this transport's). */
  get empty(): boolean {
    return this.byCall.size === 0 && this.goneCalls.size === 0 && this.byTransaction.size === 0;
  }

  /** A message from the caller on `route` (`message` its parse, when it parsed): its call and transaction are noted. */
  fromCaller(route: R, bytes: Buffer, message: SipMessage | undefined): void {
    if (!isResponse(bytes)) {
      const req = message !== undefined && !("status" in message) ? message : undefined;
      const callId = req !== undefined ? this.carry(route, req) : undefined;
      this.remember(route, bytes, message, callId !== undefined && mayEndCall(req!) ? callId : undefined);
    } else if (message !== undefined && "status" in message) this.answeredBy(route, message);
  }

  /** The route of a request to the caller in `callId`: null when its route is gone, undefined when none carried it here. */
  requestRoute(callId: string): R | null | undefined {
    const carrier = this.byCall.get(callId);
    if (carrier !== undefined) return carrier;
    return this.goneCalls.has(callId) ? null : undefined;
  }

  /** Where a response to the caller goes: its transaction's route (a final one may end its call there), and its top Via. */
  responseRoute(bytes: Buffer): ResponseRoute<R> {
    const via = topViaOf(bytes);
    if (via === undefined) return {};
    const key = transactionKey(via);
    const held = this.byTransaction.get(key);
    if (held === undefined) return { via };
    const callId = held.transactions.get(key);
    if (callId !== undefined) {
      const status = statusOf(bytes);
      if (status >= 200) this.settle(held, key, callId, bytes, status);
    }
    return { route: held, via };
  }

  /** `route` is gone (its connection closed, its source forgotten): its transactions and calls with it. */
  closed(route: R): void {
    for (const key of route.transactions.keys()) if (this.byTransaction.get(key) === route) this.byTransaction.delete(key);
    route.transactions.clear();
    for (const callId of route.calls) this.forgetCall(route, callId);
  }

  clear(): void {
    this.byCall.clear();
    this.goneCalls.clear();
    this.byTransaction.clear();
  }

  /**
   * The call of a request from `route` (RFC 3261 §12.2): `route` carries it when it is the first to send a request in
   * it, or the call's route is gone; another route's call stays with it. An ACK or a CANCEL belongs to a transaction
   * under way (§17.1.1.3, §9.1) and takes no call. Returns the Call-ID when `route` carries the call.
   */
  private carry(route: R, req: SipRequest): string | undefined {
    const callId = req.callId;
    const holder = this.byCall.get(callId);
    if (holder === route) {
      const own = ownString(callId);
      route.calls.delete(own);
      route.calls.add(own);
      return own;
    }
    if (holder !== undefined || req.method === "ACK" || req.method === "CANCEL") return undefined;
    const own = ownString(callId); // not the message text it was cut from
    this.goneCalls.delete(own);
    if (route.calls.size >= this.limits.callsPerRoute) {
      let n = batchOf(this.limits.callsPerRoute);
      for (const oldest of route.calls) {
        this.forgetCall(route, oldest);
        if (--n === 0) break;
      }
    }
    this.byCall.set(own, route);
    route.calls.add(own);
    return own;
  }

  /** `route` no longer carries `callId`: it closed, the call ended, or it has too many. */
  private forgetCall(route: R, callId: string): void {
    route.calls.delete(callId);
    if (this.byCall.get(callId) !== route) return;
    this.byCall.delete(callId);
    this.goneCalls.add(ownString(callId));
    if (this.goneCalls.size > GONE_CALLS) {
      let n = batchOf(GONE_CALLS);
      for (const oldest of this.goneCalls) {
        this.goneCalls.delete(oldest);
        if (--n === 0) break;
      }
    }
  }

  /** A response from the caller on `route`: a final answer to a BYE in a call it carries ends the call. */
  private answeredBy(route: R, res: SipResponse): void {
    if (!byeEnds(res.status)) return;
    try {
      if (res.cseq.method === "BYE" && this.byCall.get(res.callId) === route) this.forgetCall(route, res.callId);
    } catch {
      // a CSeq or Call-ID that does not parse answers nothing
    }
  }

  /**
   * A final response to the caller on `route` in the transaction `key` whose request may end call `callId`: a BYE's
   * (but a challenge) ends it, as does a failure of its initial INVITE (§13.2.2.3); a 2xx confirms the call. A
   * CANCEL's response (same branch, §9.1) leaves it.
   */
  private settle(route: R, key: string, callId: string, bytes: Buffer, status: number): void {
    let method: string;
    try {
      method = parseSipMessage(bytes).cseq.method;
    } catch {
      return;
    }
    if (method !== "INVITE" && method !== "BYE") return;
    route.transactions.set(key, undefined);
    if (method === "INVITE" ? status >= 300 : byeEnds(status)) this.forgetCall(route, callId);
  }

  /**
   * Remembers the transaction of a request from `route`, its top Via read from `message` when it parsed (else from
   * its head), with the call its final response may end; none for an ACK: no response follows (RFC 3261 §17.1.1.3).
   */
  private remember(route: R, bytes: Buffer, message: SipMessage | undefined, endsCall: string | undefined): void {
    if (bytes[0] === 65 && bytes[1] === 67 && bytes[2] === 75 && bytes[3] === 32) return; // "ACK "
    let via: ViaHeader | undefined;
    try {
      via = message !== undefined ? message.topVia : topViaOf(bytes);
    } catch {
      return; // no Via that parses: nothing to answer it by
    }
    if (via === undefined) return;
    const key = transactionKey(via);
    const holder = this.byTransaction.get(key);
    if (holder !== undefined) {
      // §18.2.2: the transaction stays on the route its request first came on (a CANCEL's refreshes it there)
      if (holder === route) {
        const ends = route.transactions.get(key);
        route.transactions.delete(key);
        route.transactions.set(key, ends);
      }
      return;
    }
    if (route.transactions.size >= this.limits.transactionsPerRoute) {
      let n = batchOf(this.limits.transactionsPerRoute);
      for (const oldest of route.transactions.keys()) {
        route.transactions.delete(oldest);
        if (this.byTransaction.get(oldest) === route) this.byTransaction.delete(oldest);
        if (--n === 0) break;
      }
    }
    this.byTransaction.set(key, route);
    route.transactions.set(key, endsCall);
  }
}
