// RFC 3261 §17: what the four transaction machines (Figures 5-8) share: event dispatch, the Terminated
// sink, and the retransmit/timeout timer pairs (A/B §17.1.1.2, E/F §17.1.2.2, G/H §17.2.1).
import { SipResponse, type SipRequest } from "../codec/sip-message.js";
import { resolveTimerConfig, transactionTimeout, type TransactionTimerConfig, type TransactionTimerName } from "./transaction-timers.js";
import type { TerminationReason, TransactionAction, TransactionEvent, TransactionOptions } from "./transaction-types.js";

export abstract class TransactionBase<State extends string> {
  protected current: State | "terminated";
  protected readonly cfg: Readonly<TransactionTimerConfig>;
  protected readonly reliable: boolean;
  /** Current interval of this machine's retransmission timer (A, E or G). */
  protected retransmitInterval = 0;
  private started = false;

  constructor(
    readonly request: SipRequest,
    options: TransactionOptions,
    initial: State,
  ) {
    this.current = initial;
    this.cfg = options.config ?? resolveTimerConfig(options);
    this.reliable = options.reliable;
  }

  get state(): State | "terminated" {
    return this.current;
  }

  /** Takes one event, returns the actions it causes (RFC 3261 §17 Figures 5-8). */
  handle(event: TransactionEvent): TransactionAction[] {
    if (this.current === "terminated") return [];
    switch (event.type) {
      case "start":
        if (this.started) return [];
        this.started = true;
        return this.onStart();
      case "message":
        return event.message instanceof SipResponse ? this.onResponse(event.message) : this.onRequest(event.message);
      case "timer":
        return this.onTimer(event.timer);
      case "transport-error":
        return this.reportsTransportError() ? this.terminate("transport-error") : [];
      case "tu-response":
        return this.onTuResponse(event.response);
    }
  }

  /** The actions on creation: the first send and the state's timers (§17.1, §17.2). */
  protected abstract onStart(): TransactionAction[];
  /** The actions when one of this transaction's timers fires (RFC 3261 Table 4). */
  protected abstract onTimer(timer: TransactionTimerName): TransactionAction[];
  /** §17.1.4 / §17.2.4: whether a transport failure in the current state is reported to the TU. */
  protected abstract reportsTransportError(): boolean;
  /** Timers still armed in the current state that Terminated must cancel. */
  protected abstract cancelOnTerminate(reason: TerminationReason): TransactionAction[];

  /** Client transactions: responses from the transport. Servers ignore them. */
  protected onResponse(_response: SipResponse): TransactionAction[] {
    return [];
  }

  /** Server transactions: request retransmissions (and ACK) from the transport. Clients ignore them. */
  protected onRequest(_request: SipRequest): TransactionAction[] {
    return [];
  }

  /** Server transactions: a response from the TU. Clients ignore it. */
  protected onTuResponse(_response: SipResponse): TransactionAction[] {
    return [];
  }

  /** Ends the transaction: cancels its timers and reports why. */
  protected terminate(reason: TerminationReason): TransactionAction[] {
    const actions = this.cancelOnTerminate(reason);
    this.current = "terminated";
    actions.push({ type: "terminated", reason });
    return actions;
  }

  /** Send and arm a pair: the retransmission timer at T1 (unreliable transports only), the timeout at 64*T1. */
  protected sendWithTimers(message: SipRequest | SipResponse, retransmitTimer: TransactionTimerName, timeoutTimer: TransactionTimerName): TransactionAction[] {
    const actions: TransactionAction[] = [{ type: "send", message }];
    if (!this.reliable) {
      this.retransmitInterval = this.cfg.t1;
      actions.push({ type: "set-timer", timer: retransmitTimer, delay: this.retransmitInterval });
    }
    actions.push({ type: "set-timer", timer: timeoutTimer, delay: transactionTimeout(this.cfg) });
    return actions;
  }

  /** Resend and re-arm the retransmission timer with its next interval. */
  protected retransmit(message: SipRequest | SipResponse, retransmitTimer: TransactionTimerName, nextInterval: number): TransactionAction[] {
    this.retransmitInterval = nextInterval;
    return [
      { type: "send", message },
      { type: "set-timer", timer: retransmitTimer, delay: this.retransmitInterval },
    ];
  }

  /** Cancel a pair armed by sendWithTimers. */
  protected cancelTimers(retransmitTimer: TransactionTimerName, timeoutTimer: TransactionTimerName): TransactionAction[] {
    const actions: TransactionAction[] = [];
    if (!this.reliable) actions.push({ type: "cancel-timer", timer: retransmitTimer });
    actions.push({ type: "cancel-timer", timer: timeoutTimer });
    return actions;
  }

  /** Wait in the current state for `delay` (Timer D, I, J or K); a zero wait (reliable transport) terminates at once. */
  protected linger(timer: TransactionTimerName, delay: number): TransactionAction[] {
    return delay === 0 ? this.terminate("normal") : [{ type: "set-timer", timer, delay }];
  }
}
