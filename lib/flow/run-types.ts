// The types of a run: topology options, call specs, faults, adapters in, outcomes out. Shared by runCalls and
// the drivers' runners, which import them from here (not from run-calls.ts, which imports the runners).
import type { CdrStore } from "../adapters/cdr-store.js";
import type { ClearinghouseAdapter } from "../adapters/clearinghouse-adapter.js";
import type { PolicyAdapter } from "../adapters/policy-adapter.js";
import type { MessageRecord } from "../drivers/message-record.js";
import type { FlowNode } from "../drivers/node.js";
import type { CallerChallenge } from "../roles/sip-proxy.js";
import type { CallEvent } from "./call-events.js";
import type { CallEventBus } from "./call-events.js";
import type { RunClock } from "./run-clock.js";
import type { DeniableRole, Role } from "./role-table.js";

/** The nine roles of FIG. 5 / FIG. 6 (lib/flow/role-table.ts). */
export type { Role };

/** How the roles are connected and configured: clearinghouse and its failure mode, signed tokens, SIP transport, timeouts, next hops. */
export interface TopologyOptions {
  clearinghouse: "osp-http" | "in-process" | "none";
  clearinghouseUnreachable?: "fail-closed" | "fail-open";
  signedTokens?: boolean;
  /** SIP between the roles: UDP, TCP, or TLS streams (RFC 3261 §26.3.1; the socket driver needs its `tls` settings). */
  sipTransport?: "udp" | "tcp" | "tls";
  /** How long a policy server waits for the clearinghouse before treating it as unreachable (default 3000 ms). */
  clearinghouseTimeoutMs?: number;
  /** Interval between retries of an unconfirmed UsageIndication (default 5000 ms). */
  usageRetryMs?: number;
  /** How long a policy server waits for its policy adapter's decision before refusing the call with 503 (default 3000 ms). */
  policyTimeoutMs?: number;
  /** A proxy's next hop outside the roles (a SIP URI: a foreign proxy, a softswitch); new INVITEs go there first. */
  nextHops?: Partial<Record<"SIP1" | "SIP2", string>>;
  /**
   * A user agent's hop to its proxy over another transport than `sipTransport` ("tcp" is TLS when SIP runs over TLS);
   * the proxy then record-routes twice, once per side (RFC 5658).
   */
  userAgentTransports?: Partial<Record<"UAC" | "UAS", "udp" | "tcp">>;
}

/** An adapter for each policy server: POL1 (originating side) and POL2 (terminating side). */
export interface PerSide<A> {
  originating?: A;
  terminating?: A;
}

/** One call to place: parties, when, how the callee answers, how long it lasts, who hangs up. */
export interface CallSpec {
  id?: string;
  caller: string;
  callee: string;
  startMs: number;
  answerDelayMs: number;
  durationMs: number;
  hangUp: "caller" | "callee";
  outcome?: "answer" | "busy" | "decline" | "no-answer" | "cancel";
  cancelAfterMs?: number;
  noAnswerTimeoutMs?: number;
  /** New offers during the call (hold, resume, an encoding or address change; by re-INVITE or UPDATE), each by the caller or the callee; `afterMs` counts from the ACK or the side's previous one's answer. */
  reinvites?: PlannedMediaChange[];
  /** The caller's INVITE carries no offer: the callee offers in its 2xx, the ACK answers (RFC 3261 §13.2.1). */
  lateOffer?: boolean;
  /** The caller's INVITE requires 100rel (RFC 3262): a reliable 18x, PRACKed; with lateOffer the 18x offers and the PRACK answers. */
  require100rel?: boolean;
  /** The caller's Digest account, answering SIP1's 407 (RFC 3261 §22.3); algorithms it accepts (default SHA-256, MD5). */
  credentials?: { username: string; password: string; algorithms?: Array<"MD5" | "SHA-256"> };
}

/** One new offer of a call (RFC 3264 §8): a side's PlannedReinvite with the side that makes it. */
export interface PlannedMediaChange {
  by: "caller" | "callee";
  afterMs: number;
  hold: boolean;
  method?: "INVITE" | "UPDATE";
  codec?: "PCMU" | "PCMA" | "G729";
  mediaAddress?: string;
}

/** A fault of the run: a message dropped, delayed or duplicated, a role down for a while. */
export type FaultSpec =
  | { kind: "drop" | "delay" | "duplicate"; proto: "SIP" | "COPS" | "OSP"; msg: string; from?: string; to?: string; nth: number; delayMs?: number }
  | { kind: "down"; role: Role; fromMs: number; toMs: number }
  /** `nth`, for a router only: it refuses its nth installation (counted over the run) instead of every one. */
  | { kind: "deny"; role: DeniableRole; nth?: number };

/** What runCalls runs: driver, topology, calls, faults, seed, and the adapters and event bus to use. */
export interface RunOptions {
  driver: "memory" | "net";
  topology?: Partial<TopologyOptions>;
  calls: CallSpec[];
  faults?: FaultSpec[];
  /** Called with every message as it is recorded (progress, live ladders). */
  onRecord?: (r: MessageRecord) => void;
  seed?: number;
  /** The policy of both policy servers, or one per side (the others keep DefaultPolicyAdapter). */
  policy?: PolicyAdapter | PerSide<PolicyAdapter>;
  /** How each policy server reaches the clearinghouse (default: OSP to CH, or none with topology.clearinghouse "none"). */
  clearinghouse?: PerSide<ClearinghouseAdapter>;
  /** Where the clearinghouse CH stores its CDRs (default: a MemoryCdrStore). */
  cdrStore?: CdrStore;
  /** The bus every role's events go to (default: a new one); listen before the run starts. */
  events?: CallEventBus;
  /** The clock adapters wait on: bound to the virtual clock on the memory driver for the run. */
  clock?: RunClock;
  /**
   * Nodes beside the nine roles, on the memory driver only: the remote deciders a policy adapter's wire
   * exchanges go to (a simulated RADIUS server, an authoriser), by node name.
   */
  services?: FlowNode<CallEvent>[];
  /** SIP1 challenges callers with it (RFC 3261 §22.3; lib/auth's SipChallenger); POL1's policy checks the credentials. */
  callerChallenge?: CallerChallenge;
}

/** How one call went: final status at the caller, established, set-up latency, who ended it. */
export interface CallOutcome {
  callId: string;
  spec: CallSpec;
  finalStatusAtCaller: number | undefined;
  established: boolean;
  setupLatencyMs?: number;
  endedBy?: string;
}

/** The run's outcome: each call's, every record, the CDRs, what state was left behind, and (on sockets) the roles' addresses. */
export interface RunResult {
  records: MessageRecord[];
  calls: CallOutcome[];
  cdrs: Array<{ callId: string; role: string; durationS: number; source?: string; destination?: string }>;
  leftovers: { classifiers: number; copsRequestStates: number; pendingTransactions: number };
  endpoints?: Record<string, { sip?: string; cops?: string; osp?: string }>;
}
