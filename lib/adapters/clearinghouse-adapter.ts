// How a policy server reaches a clearinghouse (FIG. 5 steps 3-4 / 8-9, FIG. 6 steps 8-9). An exchange either
// completes at once (in-process clearinghouse, or none) or puts one message on the wire and completes when the
// answer comes back, which keeps the PolicyServer sans-I/O.
import type { CallSide } from "./policy-adapter.js";

export interface AuthoriseRequest {
  callId: string;
  side: CallSide;
  source: string;
  destination: string;
  /** The token the originating side obtained, presented by the terminating side. */
  token?: Buffer;
  now: number;
}

export interface AuthoriseResult {
  allowed: boolean;
  /** OSP status code (200 = success). */
  status: number;
  reason?: string;
  token?: Buffer;
  transactionId?: string;
  timeLimitS?: number;
}

export interface UsageReport {
  callId: string;
  side: CallSide;
  source: string;
  destination: string;
  transactionId?: string;
  startMs: number;
  endMs: number;
  durationS: number;
  packets?: number;
  octets?: number;
  now: number;
}

export interface UsageResult {
  confirmed: boolean;
  status: number;
}

export type Exchange<R> =
  | { kind: "done"; result: R }
  /** Send `bytes` (labelled for the ladder) and wait for a response whose correlation equals `correlation`. */
  | { kind: "wire"; bytes: Buffer; label: string; correlation: string };

export type ClearinghouseAnswer =
  | { kind: "authorise"; correlation: string; result: AuthoriseResult }
  | { kind: "usage"; correlation: string; result: UsageResult };

export interface ClearinghouseAdapter {
  /** Whether exchanges go on the wire (then the PolicyServer sends to `peer`). */
  readonly onWire: boolean;
  readonly peer?: string;
  authorise(req: AuthoriseRequest): Exchange<AuthoriseResult>;
  reportUsage(rep: UsageReport): Exchange<UsageResult>;
  /** Decode an answer that came back on the wire; throws the protocol's decode error on garbage. */
  decodeAnswer(bytes: Buffer): ClearinghouseAnswer;
}

/** No clearinghouse: the policy server "handles most of the clearinghouse tasks" itself (no OSP on the wire). */
export class NoClearinghouse implements ClearinghouseAdapter {
  readonly onWire = false;
  private nextTransaction = 1;

  authorise(): Exchange<AuthoriseResult> {
    return { kind: "done", result: { allowed: true, status: 200, transactionId: `local-${this.nextTransaction++}` } };
  }

  reportUsage(): Exchange<UsageResult> {
    return { kind: "done", result: { confirmed: true, status: 200 } };
  }

  decodeAnswer(): ClearinghouseAnswer {
    throw new Error("no clearinghouse: nothing comes back on the wire");
  }
}
