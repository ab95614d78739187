// What a policy server decides locally: whether a call may proceed (AAA), which DiffServ class its media gets
// (LDP), and what it learns from usage. Synchronous, so the PolicyServer stays a sans-I/O machine.
import type { MediaFlow } from "../flow/media-flows.js";

export type CallSide = "originating" | "terminating";

export interface AaaQuery {
  callId: string;
  side: CallSide;
  caller: string;
  callee: string;
  flows: MediaFlow[];
  now: number;
}

export interface AaaVerdict {
  allow: boolean;
  /** SIP status the proxy answers with when `allow` is false (403 by default). */
  sipStatus?: number;
  reason?: string;
}

export interface ClassQuery {
  callId: string;
  side: CallSide;
  router: string;
  flows: MediaFlow[];
}

export interface ClassChoice {
  /** DiffServ codepoint (RFC 2474): 46 = EF (RFC 3246) for voice. */
  dscp: number;
  className: string;
}

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
}

export interface PolicyAdapter {
  decideAaa(q: AaaQuery): AaaVerdict;
  chooseClass(q: ClassQuery): ClassChoice;
  observeUsage(u: UsageObservation): void;
}

/** Allows every call, marks voice EF (46) and anything else AF41 (34); keeps the latest usage it observes. */
export class DefaultPolicyAdapter implements PolicyAdapter {
  /** The most recent observations, at most `keepUsage` of them (oldest first). */
  readonly usage: UsageObservation[] = [];
  /** Every observation so far, kept or not. */
  usageObserved = 0;

  constructor(private readonly opts: { denyAll?: boolean; denyStatus?: number; keepUsage?: number } = {}) {}

  decideAaa(): AaaVerdict {
    if (this.opts.denyAll) return { allow: false, sipStatus: this.opts.denyStatus ?? 403, reason: "denied by local policy" };
    return { allow: true };
  }

  chooseClass(q: ClassQuery): ClassChoice {
    const voice = q.flows.every((f) => f.media === "audio");
    return voice ? { dscp: 46, className: "EF" } : { dscp: 34, className: "AF41" };
  }

  observeUsage(u: UsageObservation): void {
    this.usageObserved++;
    // Bounded: a long-running policy server observes usage forever (default: the last 1,000).
    const keep = this.opts.keepUsage ?? 1000;
    if (keep <= 0) return;
    if (this.usage.length >= keep) this.usage.splice(0, this.usage.length - keep + 1);
    this.usage.push(u);
  }
}
