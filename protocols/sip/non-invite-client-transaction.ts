// RFC 3261 §17.1.2: non-INVITE client transaction (Figure 6), sans-I/O.
import type { SipRequest, SipResponse } from "./sip-message.js";
import { resolveTimerConfig, transactionTimeout, type TransactionTimerConfig } from "./transaction-timers.js";
import type { NonInviteClientState, TransactionAction, TransactionEvent, TransactionMachine, TransactionOptions } from "./transaction-types.js";

export class NonInviteClientTransaction implements TransactionMachine {
  readonly kind = "non-invite-client" as const;
  private current: NonInviteClientState = "trying";
  private started = false;
  private timerEInterval = 0;
  private readonly cfg: TransactionTimerConfig;
  private readonly reliable: boolean;

  constructor(
    readonly request: SipRequest,
    options: TransactionOptions,
  ) {
    if (request.method === "INVITE" || request.method === "ACK") {
      throw new TypeError(`non-INVITE client transaction cannot carry ${request.method}`);
    }
    this.cfg = resolveTimerConfig(options);
    this.reliable = options.reliable;
  }

  get state(): NonInviteClientState {
    return this.current;
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
        // Figure 6: transport errors in Trying or Proceeding are reported to the TU.
        return this.current === "completed" ? [] : this.terminate("transport-error");
      case "tu-response":
        return [];
    }
  }

  private start(): TransactionAction[] {
    if (this.started) return [];
    this.started = true;
    const actions: TransactionAction[] = [{ type: "send", message: this.request }];
    if (!this.reliable) {
      this.timerEInterval = this.cfg.t1;
      actions.push({ type: "set-timer", timer: "E", delay: this.timerEInterval });
    }
    actions.push({ type: "set-timer", timer: "F", delay: transactionTimeout(this.cfg) });
    return actions;
  }

  private onTimer(timer: string): TransactionAction[] {
    if ((this.current === "trying" || this.current === "proceeding") && timer === "E" && !this.reliable) {
      // §17.1.2.2: Trying doubles up to T2; Proceeding retransmits every T2.
      this.timerEInterval = this.current === "trying" ? Math.min(2 * this.timerEInterval, this.cfg.t2) : this.cfg.t2;
      return [
        { type: "send", message: this.request },
        { type: "set-timer", timer: "E", delay: this.timerEInterval },
      ];
    }
    if ((this.current === "trying" || this.current === "proceeding") && timer === "F") return this.terminate("timeout");
    if (this.current === "completed" && timer === "K") return this.terminate("normal");
    return [];
  }

  private onResponse(response: SipResponse): TransactionAction[] {
    if (this.current === "completed") return []; // §17.1.2.2: absorbs retransmissions
    if (response.status < 200) {
      this.current = "proceeding";
      return [{ type: "pass-to-tu", message: response }];
    }
    const actions = this.stopRetransmitting();
    actions.push({ type: "pass-to-tu", message: response });
    this.current = "completed";
    // Timer K: T4 for unreliable transports, 0 for reliable ones.
    if (this.reliable) actions.push(...this.terminate("normal"));
    else actions.push({ type: "set-timer", timer: "K", delay: this.cfg.t4 });
    return actions;
  }

  private stopRetransmitting(): TransactionAction[] {
    const actions: TransactionAction[] = [];
    if (!this.reliable) actions.push({ type: "cancel-timer", timer: "E" });
    actions.push({ type: "cancel-timer", timer: "F" });
    return actions;
  }

  private terminate(reason: "normal" | "timeout" | "transport-error"): TransactionAction[] {
    const actions: TransactionAction[] = [];
    if (this.current === "trying" || this.current === "proceeding") actions.push(...this.stopRetransmitting());
    this.current = "terminated";
    actions.push({ type: "terminated", reason });
    return actions;
  }
}
