// RFC 3261 §17: events fed to and actions returned by the sans-I/O transaction state machines.
import type { SipRequest, SipResponse } from "../codec/sip-message.js";
import type { TransactionTimerConfig, TransactionTimerName } from "./transaction-timers.js";

/** The four transaction machines of RFC 3261 §17. */
export type TransactionKind = "invite-client" | "non-invite-client" | "invite-server" | "non-invite-server";

/** States of the INVITE client transaction (Figure 5). */
export type InviteClientState = "calling" | "proceeding" | "completed" | "terminated";
/** States of the non-INVITE client transaction (Figure 6). */
export type NonInviteClientState = "trying" | "proceeding" | "completed" | "terminated";
/** "accepted" only with the RFC 6026 option. */
export type InviteServerState = "proceeding" | "completed" | "confirmed" | "accepted" | "terminated";
/** States of the non-INVITE server transaction (Figure 8). */
export type NonInviteServerState = "trying" | "proceeding" | "completed" | "terminated";
/** A state of any transaction machine. */
export type TransactionState = InviteClientState | NonInviteClientState | InviteServerState | NonInviteServerState;

/** Why a transaction reached Terminated; "timeout" and "transport-error" are reported to the TU (§17.1.1.2, §17.1.4, §17.2.4). */
export type TerminationReason = "normal" | "timeout" | "transport-error";

/** Events; `now` (ms, from the caller's clock) is the only source of time a machine sees. */
export type TransactionEvent =
  /** Client transactions only: the TU hands over the request to send (§17.1.1.2 / §17.1.2.2). */
  | { type: "start"; now: number }
  /** A message from the transport layer matched to this transaction. */
  | { type: "message"; message: SipRequest | SipResponse; now: number }
  | { type: "timer"; timer: TransactionTimerName; now: number }
  /** The transport could not deliver something this transaction sent (§17.1.4 / §17.2.4). */
  | { type: "transport-error"; error: Error; now: number }
  /** Server transactions only: the TU sends a response (§17.2.1 / §17.2.2). */
  | { type: "tu-response"; response: SipResponse; now: number };

/** What a transaction machine asks: send, set or cancel a timer, pass to the TU, terminated. */
export type TransactionAction =
  | { type: "send"; message: SipRequest | SipResponse }
  | { type: "set-timer"; timer: TransactionTimerName; delay: number }
  | { type: "cancel-timer"; timer: TransactionTimerName }
  | { type: "pass-to-tu"; message: SipRequest | SipResponse }
  | { type: "terminated"; reason: TerminationReason };

/** Reliability of the transport and the timer values of a transaction. */
export interface TransactionOptions {
  /** Reliable transport (TCP, TLS, SCTP, WS): no retransmissions, zero wait timers (§17.1.1.2, §17.2.1). */
  reliable: boolean;
  t1?: number;
  t2?: number;
  t4?: number;
  /** T1/T2/T4 already resolved (resolveTimerConfig) and shared by a layer's transactions; t1/t2/t4 are then ignored. */
  config?: Readonly<TransactionTimerConfig>;
}

/** A sans-I/O transaction: feed events, carry out the returned actions in order. */
export interface TransactionMachine {
  readonly kind: TransactionKind;
  readonly state: TransactionState;
  readonly request: SipRequest;
  /** Takes one event, returns the actions it causes. */
  handle(event: TransactionEvent): TransactionAction[];
}
