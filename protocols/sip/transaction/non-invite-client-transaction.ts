// RFC 3261 §17.1.2: non-INVITE client transaction (Figure 6), sans-I/O.
import type { SipRequest, SipResponse } from "../codec/sip-message.js";
import { TransactionBase } from "./transaction-base.js";
import { timerIorK, type TransactionTimerName } from "./transaction-timers.js";
import type { NonInviteClientState, TransactionAction, TransactionMachine, TransactionOptions } from "./transaction-types.js";

export class NonInviteClientTransaction extends TransactionBase<NonInviteClientState> implements TransactionMachine {
  readonly kind = "non-invite-client" as const;

  constructor(request: SipRequest, options: TransactionOptions) {
    if (request.method === "INVITE" || request.method === "ACK") {
      throw new TypeError(`non-INVITE client transaction cannot carry ${request.method}`);
    }
    super(request, options, "trying");
  }

  protected onStart(): TransactionAction[] {
    return this.sendWithTimers(this.request, "E", "F");
  }

  // Figure 6: transport errors in Trying or Proceeding are reported to the TU.
  protected reportsTransportError(): boolean {
    return this.current !== "completed";
  }

  protected onTimer(timer: TransactionTimerName): TransactionAction[] {
    if ((this.current === "trying" || this.current === "proceeding") && timer === "E" && !this.reliable) {
      // §17.1.2.2: Trying doubles up to T2; Proceeding retransmits every T2.
      const next = this.current === "trying" ? Math.min(2 * this.retransmitInterval, this.cfg.t2) : this.cfg.t2;
      return this.retransmit(this.request, "E", next);
    }
    if ((this.current === "trying" || this.current === "proceeding") && timer === "F") return this.terminate("timeout");
    if (this.current === "completed" && timer === "K") return this.terminate("normal");
    return [];
  }

  protected override onResponse(response: SipResponse): TransactionAction[] {
    if (this.current === "completed") return []; // §17.1.2.2: absorbs retransmissions
    if (response.status < 200) {
      this.current = "proceeding";
      return [{ type: "pass-to-tu", message: response }];
    }
    const actions = this.cancelTimers("E", "F");
    actions.push({ type: "pass-to-tu", message: response });
    this.current = "completed";
    actions.push(...this.linger("K", timerIorK(this.cfg, this.reliable)));
    return actions;
  }

  protected cancelOnTerminate(): TransactionAction[] {
    return this.current === "trying" || this.current === "proceeding" ? this.cancelTimers("E", "F") : [];
  }
}
