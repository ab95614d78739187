// RFC 3261 §17.2.2: non-INVITE server transaction (Figure 8), sans-I/O.
import type { SipRequest, SipResponse } from "../codec/sip-message.js";
import { TransactionBase } from "./transaction-base.js";
import { timerJ, type TransactionTimerName } from "./transaction-timers.js";
import type { NonInviteServerState, TerminationReason, TransactionAction, TransactionMachine, TransactionOptions } from "./transaction-types.js";

export class NonInviteServerTransaction extends TransactionBase<NonInviteServerState> implements TransactionMachine {
  readonly kind = "non-invite-server" as const;
  private lastResponse: SipResponse | undefined;

  constructor(request: SipRequest, options: TransactionOptions) {
    if (request.method === "INVITE" || request.method === "ACK") {
      throw new TypeError(`non-INVITE server transaction cannot carry ${request.method}`);
    }
    super(request, options, "trying");
  }

  get response(): SipResponse | undefined {
    return this.lastResponse;
  }

  // Figure 8: failure to send a response in Proceeding or Completed is reported to the TU.
  protected reportsTransportError(): boolean {
    return this.current !== "trying";
  }

  protected onStart(): TransactionAction[] {
    return [{ type: "pass-to-tu", message: this.request }];
  }

  // §17.2.2: retransmissions are discarded in Trying, answered with the last response afterwards.
  protected override onRequest(): TransactionAction[] {
    if (this.current === "trying" || !this.lastResponse) return [];
    return [{ type: "send", message: this.lastResponse }];
  }

  protected onTimer(timer: TransactionTimerName): TransactionAction[] {
    return this.current === "completed" && timer === "J" ? this.terminate("normal") : [];
  }

  protected override onTuResponse(response: SipResponse): TransactionAction[] {
    if (this.current === "completed") return []; // further TU responses are discarded
    this.lastResponse = response;
    if (response.status < 200) {
      this.current = "proceeding";
      return [{ type: "send", message: response }];
    }
    this.current = "completed";
    const actions: TransactionAction[] = [{ type: "send", message: response }];
    actions.push(...this.linger("J", timerJ(this.cfg, this.reliable)));
    return actions;
  }

  protected cancelOnTerminate(reason: TerminationReason): TransactionAction[] {
    return this.current === "completed" && reason !== "normal" && !this.reliable ? [{ type: "cancel-timer", timer: "J" }] : [];
  }
}
