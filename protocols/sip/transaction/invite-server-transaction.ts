// RFC 3261 §17.2.1: INVITE server transaction (Figure 7), sans-I/O.
import { buildResponse } from "../codec/message-builders.js";
import type { SipRequest, SipResponse } from "../codec/sip-message.js";
import { TransactionBase } from "./transaction-base.js";
import { timerIorK, transactionTimeout, type TransactionTimerName } from "./transaction-timers.js";
import type { InviteServerState, TerminationReason, TransactionAction, TransactionMachine, TransactionOptions } from "./transaction-types.js";

/** Timers, reliability, 100 Trying and the RFC 6026 Accepted state of an INVITE server transaction. */
export interface InviteServerTransactionOptions extends TransactionOptions {
  /** §17.2.1: send 100 Trying at once (default) rather than leave it to the TU. */
  sendTrying?: boolean;
  /**
   * RFC 6026 §7.1: after a 2xx stay in Accepted for Timer L (64*T1), absorbing INVITE retransmissions and
   * sending further 2xx from the TU, instead of terminating at once as RFC 3261 Figure 7 does. Default false.
   */
  acceptedState?: boolean;
}

export class InviteServerTransaction extends TransactionBase<InviteServerState> implements TransactionMachine {
  readonly kind = "invite-server" as const;
  private lastResponse: SipResponse | undefined;
  private readonly sendTrying: boolean;
  private readonly acceptedState: boolean;

  constructor(request: SipRequest, options: InviteServerTransactionOptions) {
    if (request.method !== "INVITE") throw new TypeError(`INVITE server transaction needs an INVITE, got ${request.method}`);
    super(request, options, "proceeding");
    this.sendTrying = options.sendTrying ?? true;
    this.acceptedState = options.acceptedState ?? false;
  }

  /** The most recent response sent (what a retransmitted INVITE is answered with). */
  get response(): SipResponse | undefined {
    return this.lastResponse;
  }

  // Figure 7: failure to send a response is reported to the TU (Proceeding and Completed);
  // RFC 6026 §7.1: in Accepted it is not (the TU owns 2xx delivery).
  protected reportsTransportError(): boolean {
    return this.current !== "confirmed" && this.current !== "accepted";
  }

  protected onStart(): TransactionAction[] {
    const actions: TransactionAction[] = [];
    if (this.sendTrying) {
      this.lastResponse = buildResponse(this.request, 100, "Trying");
      actions.push({ type: "send", message: this.lastResponse });
    }
    actions.push({ type: "pass-to-tu", message: this.request });
    return actions;
  }

  protected override onRequest(request: SipRequest): TransactionAction[] {
    if (request.method === "INVITE") {
      // §17.2.1: retransmitted INVITE → resend the most recent provisional (Proceeding) or final (Completed).
      if ((this.current === "proceeding" || this.current === "completed") && this.lastResponse) {
        return [{ type: "send", message: this.lastResponse }];
      }
      return [];
    }
    if (request.method === "ACK" && this.current === "completed") {
      const actions = this.cancelTimers("G", "H");
      this.current = "confirmed";
      actions.push(...this.linger("I", timerIorK(this.cfg, this.reliable)));
      return actions;
    }
    // RFC 6026 §7.1: an ACK matching an Accepted transaction goes to the TU; in Confirmed it is absorbed.
    if (request.method === "ACK" && this.current === "accepted") return [{ type: "pass-to-tu", message: request }];
    return [];
  }

  protected override onTuResponse(response: SipResponse): TransactionAction[] {
    const s = response.status;
    // RFC 6026 §7.1: in Accepted, further 2xx (retransmissions, other forks) go out; nothing else does.
    if (this.current === "accepted") return s >= 200 && s < 300 ? [{ type: "send", message: response }] : [];
    if (this.current !== "proceeding") return [];
    this.lastResponse = response;
    if (s < 200) return [{ type: "send", message: response }];
    if (s < 300) {
      if (this.acceptedState) {
        this.current = "accepted";
        return [
          { type: "send", message: response },
          { type: "set-timer", timer: "L", delay: transactionTimeout(this.cfg) },
        ];
      }
      // §17.2.1: 2xx retransmission belongs to the TU; the transaction ends.
      return [{ type: "send", message: response }, ...this.terminate("normal")];
    }
    this.current = "completed";
    return this.sendWithTimers(response, "G", "H");
  }

  protected onTimer(timer: TransactionTimerName): TransactionAction[] {
    if (this.current === "completed" && timer === "G" && !this.reliable && this.lastResponse) {
      return this.retransmit(this.lastResponse, "G", Math.min(2 * this.retransmitInterval, this.cfg.t2));
    }
    if (this.current === "completed" && timer === "H") return this.terminate("timeout");
    if (this.current === "confirmed" && timer === "I") return this.terminate("normal");
    if (this.current === "accepted" && timer === "L") return this.terminate("normal");
    return [];
  }

  protected cancelOnTerminate(reason: TerminationReason): TransactionAction[] {
    const actions = this.current === "completed" ? this.cancelTimers("G", "H") : [];
    if (this.current === "accepted" && reason !== "normal") actions.push({ type: "cancel-timer", timer: "L" });
    return actions;
  }
}
