// RFC 3261 §17.2.2: non-INVITE server transaction (Figure 8), sans-I/O.
import type { SipRequest, SipResponse } from "./sip-message.js";
import { resolveTimerConfig, transactionTimeout, type TransactionTimerConfig } from "./transaction-timers.js";
import type { NonInviteServerState, TransactionAction, TransactionEvent, TransactionMachine, TransactionOptions } from "./transaction-types.js";

export class NonInviteServerTransaction implements TransactionMachine {
  readonly kind = "non-invite-server" as const;
  private current: NonInviteServerState = "trying";
  private started = false;
  private lastResponse: SipResponse | undefined;
  private readonly cfg: TransactionTimerConfig;
  private readonly reliable: boolean;

  constructor(
    readonly request: SipRequest,
    options: TransactionOptions,
  ) {
    if (request.method === "INVITE" || request.method === "ACK") {
      throw new TypeError(`non-INVITE server transaction cannot carry ${request.method}`);
    }
    this.cfg = resolveTimerConfig(options);
    this.reliable = options.reliable;
  }

  get state(): NonInviteServerState {
    return this.current;
  }

  get response(): SipResponse | undefined {
    return this.lastResponse;
  }

  handle(event: TransactionEvent): TransactionAction[] {
    if (this.current === "terminated") return [];
    switch (event.type) {
      case "start":
        if (this.started) return [];
        this.started = true;
        return [{ type: "pass-to-tu", message: this.request }];
      case "message":
        // §17.2.2: retransmissions are discarded in Trying, answered with the last response afterwards.
        if ("status" in event.message || this.current === "trying" || !this.lastResponse) return [];
        return [{ type: "send", message: this.lastResponse }];
      case "timer":
        return this.current === "completed" && event.timer === "J" ? this.terminate("normal") : [];
      case "transport-error":
        // Figure 8: failure to send a response in Proceeding or Completed is reported to the TU.
        return this.current === "trying" ? [] : this.terminate("transport-error");
      case "tu-response":
        return this.onTuResponse(event.response);
    }
  }

  private onTuResponse(response: SipResponse): TransactionAction[] {
    if (this.current === "completed") return []; // further TU responses are discarded
    this.lastResponse = response;
    if (response.status < 200) {
      this.current = "proceeding";
      return [{ type: "send", message: response }];
    }
    this.current = "completed";
    const actions: TransactionAction[] = [{ type: "send", message: response }];
    // Timer J: 64*T1 for unreliable transports, 0 for reliable ones.
    if (this.reliable) actions.push(...this.terminate("normal"));
    else actions.push({ type: "set-timer", timer: "J", delay: transactionTimeout(this.cfg) });
    return actions;
  }

  private terminate(reason: "normal" | "timeout" | "transport-error"): TransactionAction[] {
    const actions: TransactionAction[] = [];
    if (this.current === "completed" && reason !== "normal" && !this.reliable) actions.push({ type: "cancel-timer", timer: "J" });
    this.current = "terminated";
    actions.push({ type: "terminated", reason });
    return actions;
  }
}
