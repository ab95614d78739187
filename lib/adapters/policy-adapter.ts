// What a policy server decides locally: whether a call may proceed (AAA), which DiffServ class its media gets
// (LDP), and what it learns from usage. A decision is given at once or later (a promise): the PolicyServer stays
// a sans-I/O machine that parks the call and takes the answer as an event its driver delivers.
import type { Protocol } from "../drivers/message-record.js";
import type { MediaFlow } from "../flow/media-flows.js";

/** Which side of the call a policy server serves: the caller's (POL1) or the callee's (POL2). */
export type CallSide = "originating" | "terminating";

/** What a policy server is asked at REQ AAA: the call, its side, parties, media flows, the caller's credentials. */
export interface AaaQuery {
  callId: string;
  side: CallSide;
  caller: string;
  callee: string;
  flows: MediaFlow[];
  now: number;
  /** The INVITE's Proxy-Authorization for the proxy's realm (REQ AAA TLV 8), when the proxy challenges callers. */
  proxyAuthorization?: string;
}

/** Allow or refuse the call; a refusal carries the SIP status and reason, an allowance an optional time limit. */
export interface AaaVerdict {
  allow: boolean;
  /** SIP status the proxy answers with when `allow` is false (403 by default). */
  sipStatus?: number;
  reason?: string;
  /** When allowed: the longest the call may last, in seconds (DEC AAA TimeLimit; the clearinghouse's, if shorter, wins). */
  timeLimitS?: number;
}

/** What a policy server is asked at REQ LDP: the call's media flows at one router. */
export interface ClassQuery {
  callId: string;
  side: CallSide;
  router: string;
  flows: MediaFlow[];
}

/** The DiffServ class to mark the media with: DSCP and its name. */
export interface ClassChoice {
  /** DiffServ codepoint (RFC 2474): 46 = EF (RFC 3246) for voice. */
  dscp: number;
  className: string;
}

/** A call's usage as the policy server saw it when the policy was removed: times, duration, counts. */
export interface UsageObservation {
  callId: string;
  side: CallSide;
  /** The conversation as the side's proxy saw it (2xx relayed to BYE, REQ noLDP TLV 7); without TLV 7, the installed policy. */
  startMs: number;
  endMs: number;
  durationS: number;
  /** The router's counts for the installed policy (180 to removal). */
  packets: number;
  octets: number;
  /**
   * The octets of flows the caller sent and of flows the callee sent, placed by the media ends the SDP offer and
   * answer named; `octets` less their sum is of flows neither end of which was known (a policy server restarted
   * mid-call).
   */
  octetsFromCaller?: number;
  octetsFromCallee?: number;
}

/**
 * A call in progress as the router counts it (RFC 3084 §4.5 accounting report, every `progressIntervalS`): its
 * counts since the policy was installed, media changes included.
 */
export interface ProgressObservation {
  callId: string;
  side: CallSide;
  now: number;
  /** When the call's policy was installed (its conversation began). */
  startMs: number;
  packets: number;
  octets: number;
  octetsFromCaller: number;
  octetsFromCallee: number;
}

/** Whether a call in progress must end now, and why (its usage has reached a limit). */
export interface ProgressVerdict {
  end: boolean;
  reason?: string;
}

/**
 * A decision asked of a remote decider in one message on the wire, like ClearinghouseAdapter's Exchange: the
 * policy server sends `bytes` to `to` and the answer that comes back from `to` is read by the adapter's
 * `decodeAnswer`.
 */
export interface PolicyWireExchange {
  kind: "wire";
  proto: Protocol;
  to: string;
  bytes: Buffer;
  /** The message's label in the record stream. */
  label: string;
  /** What `decodeAnswer` returns for its answer. */
  correlation: string;
}

/** A decision that came back on the wire: a verdict for `decideAaa`, a class for `chooseClass`. */
export interface PolicyWireAnswer {
  correlation: string;
  result: AaaVerdict | ClassChoice;
}

/** A decision given at once (no allocation on the policy server's side), later (a promise), or on the wire. */
export type Decision<R> = R | PromiseLike<R> | PolicyWireExchange;

/** True for a decision still to come (a promise or any thenable). */
export function isPendingDecision<R>(d: Decision<R> | void): d is PromiseLike<R> {
  return typeof d === "object" && d !== null && typeof (d as PromiseLike<R>).then === "function";
}

/** True for a decision asked on the wire. */
export function isWireDecision<R>(d: Decision<R>): d is PolicyWireExchange {
  return (d as Partial<PolicyWireExchange>).kind === "wire";
}

/**
 * The policy of one policy server. A decision that does not come within the server's `policyTimeoutMs` refuses
 * the call (503, fail-closed), and a rejected one too.
 */
export interface PolicyAdapter {
  /** FIG. 5 steps 2-5 / 7-10: may the call proceed? */
  decideAaa(q: AaaQuery): Decision<AaaVerdict>;
  /** FIG. 5 steps 13-16 / 18-21: the DiffServ class the router marks the call's media with. */
  chooseClass(q: ClassQuery): Decision<ClassChoice>;
  /** FIG. 6: the usage of an ended call; the report to the clearinghouse does not wait for it. */
  observeUsage(u: UsageObservation): void | PromiseLike<void>;
  /**
   * The call's request state ended (the PEP's DRQ), whatever became of it: refused, failed, timed out or hung up.
   * Called once per call the adapter was asked about, possibly before a pending decision of its own settles.
   */
  callEnded?(c: { callId: string; side: CallSide; now: number }): void;
  /**
   * Seconds between the router's accounting reports of the calls in progress (the Accounting Timer of the policy
   * server's CAT, RFC 2748 §2.2.15); without it the router reports counts only when a call's policy is removed.
   */
  readonly progressIntervalS?: number;
  /**
   * A call in progress as the router counts it; a verdict `end` makes the policy server end the call: the proxy
   * is given the time already spoken as the call's time limit (DEC AAA), so it sends BYE both ways.
   */
  observeProgress?(p: ProgressObservation): ProgressVerdict | PromiseLike<ProgressVerdict> | void;
  /** Reads an answer to a wire exchange (needed only by adapters that return one); throws on garbage. */
  decodeAnswer?(bytes: Buffer, from: string): PolicyWireAnswer;
}

/**
 * Allows every call, marks voice EF (46) and anything else AF41 (34); keeps the latest usage it observes. A
 * subclass may override `decideAaa` or `chooseClass` with a decision of any kind: a value, a promise (an `async`
 * method) or a wire exchange; `defaultVerdict` and `defaultClass` are the defaults as plain values.
 */
export class DefaultPolicyAdapter implements PolicyAdapter {
  /** Every observation so far, kept or not. */
  usageObserved = 0;
  /** The kept observations: a ring of at most `keepUsage`, the oldest at `ringStart` once full. */
  private readonly ring: UsageObservation[] = [];
  private ringStart = 0;

  constructor(private readonly opts: { denyAll?: boolean; denyStatus?: number; keepUsage?: number } = {}) {}

  /** FIG. 5 steps 2-5 / 7-10: the default verdict (`defaultVerdict`). */
  decideAaa(q: AaaQuery): Decision<AaaVerdict> {
    return this.defaultVerdict(q);
  }

  /** FIG. 5 steps 13-16 / 18-21: the default class (`defaultClass`). */
  chooseClass(q: ClassQuery): Decision<ClassChoice> {
    return this.defaultClass(q);
  }

  /** The default verdict: every call allowed, or every call refused (`denyAll`, with `denyStatus`, 403 by default). */
  defaultVerdict(_q: AaaQuery): AaaVerdict {
    if (this.opts.denyAll) return { allow: false, sipStatus: this.opts.denyStatus ?? 403, reason: "denied by local policy" };
    return { allow: true };
  }

  /** The default class: EF (46) for calls of audio only, AF41 (34) for any other media. */
  defaultClass(q: ClassQuery): ClassChoice {
    const voice = q.flows.every((f) => f.media === "audio");
    return voice ? { dscp: 46, className: "EF" } : { dscp: 34, className: "AF41" };
  }

  /** The most recent observations, at most `keepUsage` of them (default 1,000), oldest first. */
  get usage(): UsageObservation[] {
    return [...this.ring.slice(this.ringStart), ...this.ring.slice(0, this.ringStart)];
  }

  observeUsage(u: UsageObservation): void {
    this.usageObserved++;
    // Bounded: a long-running policy server observes usage forever; the oldest kept one is overwritten.
    const keep = this.opts.keepUsage ?? 1000;
    if (keep <= 0) return;
    if (this.ring.length < keep) {
      this.ring.push(u);
      return;
    }
    this.ring[this.ringStart] = u;
    this.ringStart = (this.ringStart + 1) % keep;
  }
}
