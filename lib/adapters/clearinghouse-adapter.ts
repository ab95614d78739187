// How a policy server reaches a clearinghouse (FIG. 5 steps 3-4 / 8-9, FIG. 6 steps 8-9). An exchange either
// completes at once (in-process clearinghouse, or none) or puts one message on the wire and completes when the
// answer comes back, which keeps the PolicyServer sans-I/O.
import type { CallSide } from "./policy-adapter.js";

/** What a policy server asks its clearinghouse before a call goes on (FIG. 5 steps 3 and 8). */
export interface AuthoriseRequest {
  callId: string;
  side: CallSide;
  source: string;
  destination: string;
  /** The token the originating side obtained, presented by the terminating side. */
  token?: Buffer;
  now: number;
}

/** The clearinghouse's answer: allowed or not, with the token, transaction id and time limit. */
export interface AuthoriseResult {
  allowed: boolean;
  /** OSP status code (200 = success). */
  status: number;
  reason?: string;
  token?: Buffer;
  transactionId?: string;
  timeLimitS?: number;
}

/** A call's usage as a policy server reports it when the call has ended (FIG. 6 steps 8 and 17). */
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

/** Whether the clearinghouse confirmed a usage report. */
export interface UsageResult {
  confirmed: boolean;
  status: number;
}

/** An answer that is ready (`done`), or one message to put on the wire and the correlation of its answer (`wire`): sans-I/O, the driver sends. */
export type Exchange<R> =
  | { kind: "done"; result: R }
  /** Send `bytes` (labelled for the ladder) and wait for a response whose correlation equals `correlation`. */
  | { kind: "wire"; bytes: Buffer; label: string; correlation: string };

/** A decoded answer off the wire, matched to its request by correlation. */
export type ClearinghouseAnswer =
  | { kind: "authorise"; correlation: string; result: AuthoriseResult }
  | { kind: "usage"; correlation: string; result: UsageResult };

/** How a policy server talks to its clearinghouse: OSP over HTTP, or none. */
export interface ClearinghouseAdapter {
  /** Whether exchanges go on the wire (then the PolicyServer sends to `peer`). */
  readonly onWire: boolean;
  readonly peer?: string;
  /** Asks whether the call may go on: an answer at once, or one message for the wire. */
  authorise(req: AuthoriseRequest): Exchange<AuthoriseResult>;
  /** Reports the call's usage: an answer at once, or one message for the wire. */
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
