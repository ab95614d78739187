// RFC 3261 §17.1.1: INVITE client transaction (Figure 5), sans-I/O.
import type { SipRequest, SipResponse } from "../codec/sip-message.js";
import { buildAckForNonSuccess } from "./transaction-ack.js";
import { TransactionBase } from "./transaction-base.js";
import { timerD, type TransactionTimerName } from "./transaction-timers.js";
import type { InviteClientState, TerminationReason, TransactionAction, TransactionMachine, TransactionOptions } from "./transaction-types.js";

export class InviteClientTransaction extends TransactionBase<InviteClientState> implements TransactionMachine {
  readonly kind = "invite-client" as const;
  private ack: SipRequest | undefined;

  constructor(request: SipRequest, options: TransactionOptions) {
    if (request.method !== "INVITE") throw new TypeError(`INVITE client transaction needs an INVITE, got ${request.method}`);
    super(request, options, "calling");
  }

  /** The ACK this transaction generated for a non-2xx final response, if any (§17.1.1.3). */
  get generatedAck(): SipRequest | undefined {
    return this.ack;
  }

  protected onStart(): TransactionAction[] {
    return this.sendWithTimers(this.request, "A", "B");
  }

  // Figure 5: a transport failure in Calling (INVITE) or Completed (ACK) is reported to the TU.
  protected reportsTransportError(): boolean {
    return this.current !== "proceeding";
  }

  protected onTimer(timer: TransactionTimerName): TransactionAction[] {
    if (this.current === "calling" && timer === "A" && !this.reliable) {
      // §17.1.1.2: retransmit, double the interval.
      return this.retransmit(this.request, "A", 2 * this.retransmitInterval);
    }
    if (this.current === "calling" && timer === "B") return this.terminate("timeout");
    if (this.current === "completed" && timer === "D") return this.terminate("normal");
    return [];
  }

  protected override onResponse(response: SipResponse): TransactionAction[] {
    const s = response.status;
    if (this.current === "completed") {
      // §17.1.1.2: retransmitted final responses get the ACK again, not passed up.
      return s >= 300 && this.ack ? [{ type: "send", message: this.ack }] : [];
    }
    if (s < 200) {
      const actions = this.leaveCalling();
      this.current = "proceeding";
      actions.push({ type: "pass-to-tu", message: response });
      return actions;
    }
    if (s < 300) {
      // §17.1.1.2: 2xx goes to the TU, which ACKs it; the transaction is done.
      const actions = this.leaveCalling();
      actions.push({ type: "pass-to-tu", message: response });
      actions.push(...this.terminate("normal"));
      return actions;
    }
    const actions = this.leaveCalling();
    this.ack = buildAckForNonSuccess(this.request, response);
    actions.push({ type: "send", message: this.ack }, { type: "pass-to-tu", message: response });
    this.current = "completed";
    actions.push(...this.linger("D", timerD(this.cfg, this.reliable)));
    return actions;
  }

  private leaveCalling(): TransactionAction[] {
    return this.current === "calling" ? this.cancelTimers("A", "B") : [];
  }

  protected cancelOnTerminate(reason: TerminationReason): TransactionAction[] {
    const actions = this.leaveCalling();
    if (this.current === "completed" && reason !== "normal") actions.push({ type: "cancel-timer", timer: "D" });
    return actions;
  }
}
