// RFC 3261 §17: the transaction layer. Owns the sans-I/O machines, matches inbound messages to them
// (§17.1.3, §17.2.3), runs their timers on an injectable clock and hands their sends to a sender.
import { InviteClientTransaction } from "./invite-client-transaction.js";
import { InviteServerTransaction, type InviteServerTransactionOptions } from "./invite-server-transaction.js";
import { NonInviteClientTransaction } from "./non-invite-client-transaction.js";
import { NonInviteServerTransaction } from "./non-invite-server-transaction.js";
import { SipResponse, type SipMessage, type SipRequest } from "../codec/sip-message.js";
import { systemClock, type TransactionClock } from "./transaction-clock.js";
import {
  clientKeyOfRequest,
  clientKeyOfResponse,
  isRfc3261Branch,
  mergedRequestKey,
  rfc2543AckMatches,
  serverTransactionKey,
} from "./transaction-matching.js";
import { resolveTimerConfig, type TransactionTimerConfig, type TransactionTimerName } from "./transaction-timers.js";
import type { TerminationReason, TransactionAction, TransactionEvent, TransactionMachine, TransactionOptions } from "./transaction-types.js";
import { isReliableProtocol, type InboundContext, type TransportAddress } from "../transport/transport-types.js";
import { buildResponse } from "../codec/message-builders.js";

/** How the layer puts messages on the wire; a rejected promise becomes a transport-error event. */
export interface TransactionSender {
  /** Sends a request to the destination chosen by the transaction user (§18.1.1). */
  sendRequest(request: SipRequest, destination: TransportAddress): Promise<void>;
  /** §18.2.2: route a response back along the path its request came in on. */
  sendResponse(response: SipResponse, context: InboundContext): Promise<void>;
}

/** The transaction user (UA core or proxy core). */
export interface TransactionUser {
  /** A new request created a server transaction (every method but ACK). */
  onRequest(request: SipRequest, transaction: ServerTransaction): void;
  /** An ACK that matched no INVITE server transaction: the ACK for a 2xx (§17.2.3, §13.2.2.4). */
  onAck?(ack: SipRequest, context: InboundContext): void;
  /** A response that matched no client transaction, e.g. a retransmitted 2xx (§17.1.3, §16.7). */
  onStrayResponse?(response: SipResponse, context: InboundContext): void;
}

/** What a client transaction tells its user: responses, and its end. */
export interface ClientTransactionCallbacks {
  /** A response the client transaction passes up: provisional and final (§17.1.1.2, §17.1.2.2). */
  onResponse(response: SipResponse, transaction: ClientTransaction): void;
  /** The transaction ended: completed, timed out or failed in transport (§17.1). */
  onTerminated?(reason: TerminationReason, transaction: ClientTransaction, error?: Error): void;
}

/** Sender, clock, timers and UAS behaviour of a TransactionLayer. */
export interface TransactionLayerOptions {
  sender: TransactionSender;
  clock?: TransactionClock;
  timers?: Partial<TransactionTimerConfig>;
  /** INVITE server transactions send 100 Trying themselves (§17.2.1). Default true. */
  sendTrying?: boolean;
  /** UAS behaviour of §8.2.2.2: answer merged requests with 482. Proxies leave this off (default). */
  rejectMergedRequests?: boolean;
  /** RFC 6026 Accepted state for INVITE server transactions (see InviteServerTransactionOptions). Default false. */
  acceptedState?: boolean;
}

abstract class TransactionHandle {
  readonly timers = new Map<TransactionTimerName, unknown>();
  /** Events raised while the transaction runs an event, in order (made on first need: most transactions never nest). */
  queue: TransactionEvent[] | undefined = undefined;
  busy = false;
  terminationReason: TerminationReason | undefined;
  lastError: Error | undefined;
  constructor(
    readonly key: string,
    readonly machine: TransactionMachine,
  ) {}
  get request(): SipRequest {
    return this.machine.request;
  }
  get state(): string {
    return this.machine.state;
  }
  get terminated(): boolean {
    return this.machine.state === "terminated";
  }
}

/** A running client transaction of the layer. */
export class ClientTransaction extends TransactionHandle {
  constructor(
    key: string,
    machine: InviteClientTransaction | NonInviteClientTransaction,
    readonly destination: TransportAddress,
    readonly callbacks: ClientTransactionCallbacks,
  ) {
    super(key, machine);
  }
}

/** A running server transaction of the layer: respond through it. */
export class ServerTransaction extends TransactionHandle {
  /** Called once when the transaction ends; "timeout"/"transport-error" mean the response was not delivered. */
  onTerminated: ((reason: TerminationReason, error?: Error) => void) | undefined;
  /** What the transaction user keeps for this transaction (a proxy: its request context); the layer never reads it. */
  userState: unknown;
  mergedKey: string | undefined;
  constructor(
    key: string,
    machine: InviteServerTransaction | NonInviteServerTransaction,
    readonly context: InboundContext,
    private readonly layer: TransactionLayer,
  ) {
    super(key, machine);
  }
  /** The last response sent through this transaction. */
  get lastResponse(): SipResponse | undefined {
    return (this.machine as InviteServerTransaction | NonInviteServerTransaction).response;
  }
  /** Sends a response through the transaction (§17.2.1 / §17.2.2); ignored once a final response went out. */
  respond(response: SipResponse): void {
    this.layer.dispatch(this, { type: "tu-response", response, now: this.layer.now() });
  }
}

/**
 * Timers under which a transaction only lingers to absorb retransmissions (§17.1.1.2 D, §17.1.2.2 K, §17.2.1 I,
 * §17.2.2 J, RFC 6026 L): its messages are only sent again as they are, not read.
 */
function isLingerTimer(timer: TransactionTimerName): boolean {
  return timer === "L" || timer === "J" || timer === "K" || timer === "I" || timer === "D";
}

function lingering(state: string): boolean {
  return state === "completed" || state === "confirmed" || state === "terminated";
}

/** Matches messages to transactions (RFC 3261 §17.1.3, §17.2.3), runs their machines on a clock and sends through the transport. */
export class TransactionLayer {
  private readonly clients = new Map<string, ClientTransaction>();
  private readonly servers = new Map<string, ServerTransaction>();
  private readonly merged = new Map<string, string>();
  private readonly clock: TransactionClock;
  private readonly sender: TransactionSender;
  /** Per-transaction options for unreliable and reliable transports, timers resolved once (Table 4). */
  private readonly unreliableOpts: TransactionOptions;
  private readonly reliableOpts: TransactionOptions;
  /** The same for INVITE server transactions, with 100 Trying and Accepted (made once, not per INVITE). */
  private readonly unreliableInviteServerOpts: InviteServerTransactionOptions;
  private readonly reliableInviteServerOpts: InviteServerTransactionOptions;
  private readonly sendTrying: boolean;
  private readonly rejectMerged: boolean;
  private readonly acceptedState: boolean;
  private user: TransactionUser | undefined;
  /** Transactions that began to linger since the last compaction (see compactLingering). */
  private readonly lingeringSince: (ClientTransaction | ServerTransaction)[] = [];

  constructor(options: TransactionLayerOptions) {
    this.sender = options.sender;
    this.clock = options.clock ?? systemClock;
    const config = resolveTimerConfig(options.timers);
    this.unreliableOpts = { reliable: false, config };
    this.reliableOpts = { reliable: true, config };
    this.sendTrying = options.sendTrying ?? true;
    this.rejectMerged = options.rejectMergedRequests ?? false;
    this.acceptedState = options.acceptedState ?? false;
    this.unreliableInviteServerOpts = { ...this.unreliableOpts, sendTrying: this.sendTrying, acceptedState: this.acceptedState };
    this.reliableInviteServerOpts = { ...this.reliableOpts, sendTrying: this.sendTrying, acceptedState: this.acceptedState };
  }

  /** Sets the transaction user that receives new requests, stray ACKs and stray responses. */
  setUser(user: TransactionUser): void {
    this.user = user;
  }

  /** Milliseconds on the layer's clock. */
  now(): number {
    return this.clock.now();
  }

  get clientCount(): number {
    return this.clients.size;
  }

  get serverCount(): number {
    return this.servers.size;
  }

  /** Transactions still waiting for a response or an answer (Calling, Trying, Proceeding), not lingering (§17). */
  get pendingCount(): number {
    let n = 0;
    for (const tx of this.clients.values()) if (!lingering(tx.state)) n++;
    for (const tx of this.servers.values()) if (!lingering(tx.state)) n++;
    return n;
  }

  /** Entry point for every message the transport layer parsed. */
  receive(message: SipMessage, context: InboundContext): void {
    if (message instanceof SipResponse) this.receiveResponse(message, context);
    else this.receiveRequest(message, context);
  }

  /** Starts a client transaction for `request` (which must carry its top Via with a fresh branch). */
  sendRequest(request: SipRequest, destination: TransportAddress, callbacks: ClientTransactionCallbacks): ClientTransaction {
    const options = isReliableProtocol(destination.protocol) ? this.reliableOpts : this.unreliableOpts;
    const machine =
      request.method === "INVITE" ? new InviteClientTransaction(request, options) : new NonInviteClientTransaction(request, options);
    const key = clientKeyOfRequest(request);
    if (this.clients.has(key)) throw new Error(`client transaction ${request.topVia.branch ?? ""}/${request.method} already exists`);
    const tx = new ClientTransaction(key, machine, destination, callbacks);
    this.clients.set(key, tx);
    this.dispatch(tx, { type: "start", now: this.now() });
    return tx;
  }

  /** Sends a request outside any transaction (ACK for 2xx, stateless forwarding). */
  sendStateless(request: SipRequest, destination: TransportAddress): Promise<void> {
    return this.sender.sendRequest(request, destination);
  }

  /** Sends a response outside any transaction (stateless forwarding of 2xx retransmissions, §16.7). */
  sendResponseStateless(response: SipResponse, context: InboundContext): Promise<void> {
    return this.sender.sendResponse(response, context);
  }

  /** §9.2: the INVITE server transaction a CANCEL refers to. */
  findServerTransactionForCancel(cancel: SipRequest): ServerTransaction | undefined {
    return this.servers.get(serverTransactionKey(cancel, "INVITE"));
  }

  /** The server transaction this request matches (§17.2.3), if any. */
  findServerTransaction(request: SipRequest): ServerTransaction | undefined {
    return this.servers.get(serverTransactionKey(request));
  }

  /** §8.2.2.2: a request without To tag whose From tag, Call-ID and CSeq match a different live transaction. */
  isMergedRequest(request: SipRequest): boolean {
    const mk = mergedRequestKey(request);
    if (mk === undefined) return false;
    const owner = this.merged.get(mk);
    return owner !== undefined && owner !== serverTransactionKey(request);
  }

  private receiveResponse(response: SipResponse, context: InboundContext): void {
    const tx = this.clients.get(clientKeyOfResponse(response));
    if (tx) this.dispatch(tx, { type: "message", message: response, now: this.now() });
    else this.user?.onStrayResponse?.(response, context);
  }

  private receiveRequest(request: SipRequest, context: InboundContext): void {
    const key = serverTransactionKey(request);
    const existing = this.servers.get(key);
    if (request.method === "ACK") {
      const inviteTx = existing?.machine.kind === "invite-server" ? existing : undefined;
      if (inviteTx && (isRfc3261Branch(request) || rfc2543AckMatches(request, inviteTx.lastResponse))) {
        // §17.2.3: an ACK for a 2xx has its own branch, so only non-2xx ACKs land here.
        this.dispatch(inviteTx, { type: "message", message: request, now: this.now() });
      } else {
        this.user?.onAck?.(request, context);
      }
      return;
    }
    if (existing) {
      this.dispatch(existing, { type: "message", message: request, now: this.now() });
      return;
    }
    const reliable = isReliableProtocol(context.source.protocol);
    const machine =
      request.method === "INVITE"
        ? new InviteServerTransaction(request, reliable ? this.reliableInviteServerOpts : this.unreliableInviteServerOpts)
        : new NonInviteServerTransaction(request, reliable ? this.reliableOpts : this.unreliableOpts);
    const tx = new ServerTransaction(key, machine, context, this);
    // §8.2.2.2 is UAS behaviour: a proxy keeps no merged-request keys
    const mk = this.rejectMerged ? mergedRequestKey(request) : undefined;
    if (this.rejectMerged && this.isMergedRequest(request)) {
      this.servers.set(key, tx);
      this.dispatch(tx, { type: "tu-response", response: buildResponse(request, 482, "Loop Detected"), now: this.now() });
      return;
    }
    this.servers.set(key, tx);
    if (mk !== undefined && !this.merged.has(mk)) {
      this.merged.set(mk, key);
      tx.mergedKey = mk;
    }
    this.dispatch(tx, { type: "start", now: this.now() });
  }

  /** Feeds one event to a transaction; events raised while it runs are queued so actions keep their order. */
  dispatch(tx: ClientTransaction | ServerTransaction, event: TransactionEvent): void {
    if (tx.busy) {
      (tx.queue ??= []).push(event);
      return;
    }
    tx.busy = true;
    try {
      // Events left queued by an earlier run that threw come first, as they did.
      let e: TransactionEvent | undefined = event;
      if (tx.queue !== undefined && tx.queue.length > 0) {
        tx.queue.push(event);
        e = tx.queue.shift();
      }
      while (e !== undefined) {
        if (e.type === "transport-error") tx.lastError = e.error;
        const actions = tx.machine.handle(e);
        for (const action of actions) this.perform(tx, action);
        e = tx.queue?.shift();
      }
    } finally {
      tx.busy = false;
    }
  }

  /**
   * A lingering transaction keeps its messages for up to 64·T1 but only resends them: once the current task is done
   * (its users have read what they wanted), their parsed header values are dropped, so they die young instead of
   * being carried by the garbage collector for the whole wait. A later read parses the header again.
   */
  private lingerLater(tx: ClientTransaction | ServerTransaction): void {
    this.lingeringSince.push(tx);
    if (this.lingeringSince.length === 1) queueMicrotask(() => this.compactLingering());
  }

  private compactLingering(): void {
    const list = this.lingeringSince;
    for (let i = 0; i < list.length; i++) {
      const tx = list[i]!;
      const machine = tx.machine;
      machine.request.dropParsed();
      if (tx instanceof ServerTransaction) tx.lastResponse?.dropParsed();
      else if (machine instanceof InviteClientTransaction) machine.generatedAck?.dropParsed();
    }
    list.length = 0;
  }

  private perform(tx: ClientTransaction | ServerTransaction, action: TransactionAction): void {
    switch (action.type) {
      case "send": {
        const sent =
          tx instanceof ClientTransaction
            ? this.sender.sendRequest(action.message as SipRequest, tx.destination)
            : this.sender.sendResponse(action.message as SipResponse, tx.context);
        sent.catch((err: unknown) => {
          const error = err instanceof Error ? err : new Error(String(err));
          this.dispatch(tx, { type: "transport-error", error, now: this.now() });
        });
        return;
      }
      case "set-timer": {
        if (isLingerTimer(action.timer)) this.lingerLater(tx);
        const old = tx.timers.get(action.timer);
        if (old !== undefined) this.clock.clearTimer(old);
        const timer = action.timer;
        tx.timers.set(
          timer,
          this.clock.setTimer(action.delay, () => {
            tx.timers.delete(timer);
            this.dispatch(tx, { type: "timer", timer, now: this.now() });
          }),
        );
        return;
      }
      case "cancel-timer": {
        const handle = tx.timers.get(action.timer);
        if (handle !== undefined) this.clock.clearTimer(handle);
        tx.timers.delete(action.timer);
        return;
      }
      case "pass-to-tu":
        if (tx instanceof ClientTransaction) tx.callbacks.onResponse(action.message as SipResponse, tx);
        else if ((action.message as SipRequest).method === "ACK") this.user?.onAck?.(action.message as SipRequest, tx.context);
        else this.user?.onRequest(action.message as SipRequest, tx);
        return;
      case "terminated": {
        for (const handle of tx.timers.values()) this.clock.clearTimer(handle);
        tx.timers.clear();
        tx.terminationReason = action.reason;
        const error = action.reason === "transport-error" ? tx.lastError : undefined;
        if (tx instanceof ClientTransaction) {
          if (this.clients.get(tx.key) === tx) this.clients.delete(tx.key);
          tx.callbacks.onTerminated?.(action.reason, tx, error);
        } else {
          if (this.servers.get(tx.key) === tx) this.servers.delete(tx.key);
          if (tx.mergedKey !== undefined && this.merged.get(tx.mergedKey) === tx.key) this.merged.delete(tx.mergedKey);
          tx.onTerminated?.(action.reason, error);
        }
        return;
      }
    }
  }
}
