// RFC 3261 §17.1.1: INVITE client transaction (Figure 5), sans-I/O.
import type { SipRequest, SipResponse } from "./sip-message.js";
import { buildAckForNonSuccess } from "./transaction-ack.js";
import { resolveTimerConfig, timerD, transactionTimeout, type TransactionTimerConfig } from "./transaction-timers.js";
import type { InviteClientState, TransactionAction, TransactionEvent, TransactionMachine, TransactionOptions } from "./transaction-types.js";

export class InviteClientTransaction implements TransactionMachine {
  readonly kind = "invite-client" as const;
  private current: InviteClientState = "calling";
  private started = false;
  private timerAInterval = 0;
  private ack: SipRequest | undefined;
  private readonly cfg: TransactionTimerConfig;
  private readonly reliable: boolean;

  constructor(
    readonly request: SipRequest,
    options: TransactionOptions,
  ) {
    if (request.method !== "INVITE") throw new TypeError(`INVITE client transaction needs an INVITE, got ${request.method}`);
    this.cfg = resolveTimerConfig(options);
    this.reliable = options.reliable;
  }

  get state(): InviteClientState {
    return this.current;
  }

  /** The ACK this transaction generated for a non-2xx final response, if any (§17.1.1.3). */
  get generatedAck(): SipRequest | undefined {
    return this.ack;
  }

  handle(event: TransactionEvent): TransactionAction[] {
    if (this.current === "terminated") return [];
    switch (event.type) {
      case "start":
        return this.start();
      case "message":
        return "status" in event.message ? this.onResponse(event.message) : [];
      case "timer":
        return this.onTimer(event.timer);
      case "transport-error":
        // Figure 5: a transport failure in Calling (INVITE) or Completed (ACK) is reported to the TU.
        return this.current === "proceeding" ? [] : this.terminate("transport-error");
      case "tu-response":
        return [];
    }
  }

  private start(): TransactionAction[] {
    if (this.started) return [];
    this.started = true;
    const actions: TransactionAction[] = [{ type: "send", message: this.request }];
    if (!this.reliable) {
      this.timerAInterval = this.cfg.t1;
      actions.push({ type: "set-timer", timer: "A", delay: this.timerAInterval });
    }
    actions.push({ type: "set-timer", timer: "B", delay: transactionTimeout(this.cfg) });
    return actions;
  }

  private onTimer(timer: string): TransactionAction[] {
    if (this.current === "calling" && timer === "A" && !this.reliable) {
      // §17.1.1.2: retransmit, double the interval.
      this.timerAInterval *= 2;
      return [
        { type: "send", message: this.request },
        { type: "set-timer", timer: "A", delay: this.timerAInterval },
      ];
    }
    if (this.current === "calling" && timer === "B") return this.terminate("timeout");
    if (this.current === "completed" && timer === "D") return this.terminate("normal");
    return [];
  }

  private onResponse(response: SipResponse): TransactionAction[] {
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
    const d = timerD(this.cfg, this.reliable);
    if (d === 0) actions.push(...this.terminate("normal"));
    else actions.push({ type: "set-timer", timer: "D", delay: d });
    return actions;
  }

  private leaveCalling(): TransactionAction[] {
    if (this.current !== "calling") return [];
    const actions: TransactionAction[] = [];
    if (!this.reliable) actions.push({ type: "cancel-timer", timer: "A" });
    actions.push({ type: "cancel-timer", timer: "B" });
    return actions;
  }

  private terminate(reason: "normal" | "timeout" | "transport-error"): TransactionAction[] {
    const actions: TransactionAction[] = [];
    if (this.current === "calling") actions.push(...this.leaveCalling());
    if (this.current === "completed" && reason !== "normal") actions.push({ type: "cancel-timer", timer: "D" });
    this.current = "terminated";
    actions.push({ type: "terminated", reason });
    return actions;
  }
}
