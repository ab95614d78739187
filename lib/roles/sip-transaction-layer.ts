// The SIP transactions of a role: protocols/sip's one TransactionLayer (RFC 3261 §17: matching, machines,
// timers), run on the node's clock. Its sends and timers become node actions addressed to role names.
import {
  SipResponse,
  TransactionLayer,
  buildResponse,
  datagramRefusal,
  formatSipUri,
  parseSipMessage,
  requestHeadOf,
  serializeSipMessage,
  type ClientTransactionCallbacks,
  type InboundContext,
  type ServerTransaction,
  type SipMessage,
  type SipRequest,
  type SipUri,
  type TransactionClock,
  type TransactionSender,
  type TransportAddress,
  type TransportProtocol,
  ownString,
} from "../../protocols/sip/index.js";
import type { NodeAction as GenericNodeAction } from "../drivers/node.js";
import type { CallEvent } from "../flow/call-events.js";

type NodeAction = GenericNodeAction<CallEvent>;

/** A URI of a parsed header as text (the codec gives a SipUri object for sip:/sips:/tel:, else the raw text). */
export function uriText(u: SipUri | string): string {
  return typeof u === "string" ? u : formatSipUri(u);
}

/** Last label made per status code, reused while the reason phrase is the same (no string per response sent). */
const statusLabels: ({ reason: string; label: string } | undefined)[] = [];

export function sipLabel(m: SipMessage): string {
  // instanceof, not `"status" in m`: messages come in many hidden classes, and the `in` check then goes megamorphic
  if (!(m instanceof SipResponse)) return m.method;
  const cached = statusLabels[m.status];
  if (cached !== undefined && cached.reason === m.reason) return cached.label;
  if (m.status < 100 || m.status > 699) return `${m.status} ${m.reason}`;
  // own copies: a cached label must not keep a received message's text alive
  const reason = ownString(m.reason);
  const label = ownString(`${m.status} ${reason}`);
  statusLabels[m.status] = { reason, label };
  return label;
}

export function sipSend(to: string, m: SipMessage): NodeAction & { type: "send" } {
  return { type: "send", proto: "SIP", to, bytes: serializeSipMessage(m), label: sipLabel(m), callId: m.callId };
}

/**
 * RFC 3261 §18.3 / §8.2: a request that does not parse whole but whose request line and Via, From, To,
 * Call-ID and CSeq can be read gets its 400 (e.g. a Content-Length past the datagram's end); else nothing.
 */
function refuseUnparsable(bytes: Buffer, peer: string, err: unknown): NodeAction[] {
  const answer = datagramRefusal(err);
  const request = answer ? requestHeadOf(bytes) : undefined;
  if (!answer || !request) return NO_ACTIONS;
  try {
    return [sipSend(peer, buildResponse(request, answer.status, answer.reason, { toTag: "bad" }))];
  } catch {
    return NO_ACTIONS; // a To or Via that does not parse: no answer can be built
  }
}

export interface ClientHandlers {
  onResponse(res: SipResponse, now: number): NodeAction[];
  /** Timer B/F fired or the transport failed (RFC 3261 §17.1.1.2, §17.1.2.2): the TU acts as on a 408. */
  onTimeout?(now: number): NodeAction[];
}

/** A server transaction as a role holds it: handed out with the request, given back to `respond`. */
export type ServerTx = ServerTransaction;

export type Inbound =
  | { kind: "request"; request: SipRequest; serverTx: ServerTx }
  /** ACK for a 2xx (its own transaction, RFC 3261 §17.1.1.3) or any request the TU sees without a transaction. */
  | { kind: "ack"; request: SipRequest }
  /** A response no client transaction claims (2xx retransmissions after the INVITE transaction ended). */
  | { kind: "stray-response"; response: SipResponse };

export interface SipTransactionLayerOptions {
  reliable: boolean;
  /** The transport peers are reached on (default: tcp when reliable, else udp). */
  protocol?: TransportProtocol;
  t1?: number;
  t2?: number;
  t4?: number;
  /** INVITE server transactions answer 100 Trying themselves (proxies: yes; user agents: no). */
  sendTrying?: boolean;
  /** The role a transport address names (default its host: a role is addressed by its name, port 0). */
  peerOf?: (address: TransportAddress) => string;
}

const TIMER_PREFIX = "sip:";

/** A timer of the layer: the clock's handle, its node timer key made once (set and cancel name it by one string). */
interface LayerTimer {
  readonly id: number;
  readonly key: string;
  readonly fire: () => void;
}
const NO_ACTIONS: NodeAction[] = [];
/** Node sends cannot fail synchronously: the driver reports a lost peer as its own event. */
const SENT: Promise<void> = Promise.resolve();

export class SipTransactionLayer {
  private layer!: TransactionLayer;
  private readonly protocol: TransportProtocol;
  private readonly timerConfig: { t1?: number; t2?: number; t4?: number };
  private readonly sendTrying: boolean;
  /** The node's time of the event being handled: the layer's clock. */
  private time = 0;
  /** Where the layer's sends and timers go while one call into it runs. */
  private out: NodeAction[] = [];
  private readonly fires = new Map<number, LayerTimer>();
  private nextTimer = 1;
  private inbound: Inbound | undefined = undefined;
  private readonly clock: TransactionClock;
  private readonly sender: TransactionSender;
  private readonly peerOf: (address: TransportAddress) => string;
  /** Bytes that failed to parse (RFC 3261 §18.1.2 / §18.2.1: discarded). */
  discarded = 0;

  constructor(opts: SipTransactionLayerOptions) {
    this.protocol = opts.protocol ?? (opts.reliable ? "tcp" : "udp");
    this.timerConfig = {};
    if (opts.t1 !== undefined) this.timerConfig.t1 = opts.t1;
    if (opts.t2 !== undefined) this.timerConfig.t2 = opts.t2;
    if (opts.t4 !== undefined) this.timerConfig.t4 = opts.t4;
    this.sendTrying = opts.sendTrying ?? true;
    this.peerOf = opts.peerOf ?? ((a) => a.host);
    this.clock = {
      now: () => this.time,
      setTimer: (delayMs, fire) => {
        const id = this.nextTimer++;
        const timer: LayerTimer = { id, key: TIMER_PREFIX + id, fire };
        this.fires.set(id, timer);
        this.out.push({ type: "set-timer", key: timer.key, delayMs });
        return timer;
      },
      clearTimer: (handle) => {
        const timer = handle as LayerTimer | undefined;
        if (timer !== undefined && this.fires.delete(timer.id)) this.out.push({ type: "cancel-timer", key: timer.key });
      },
    };
    this.sender = {
      sendRequest: (request, destination) => {
        this.out.push(sipSend(this.peerOf(destination), request));
        return SENT;
      },
      sendResponse: (response, context) => {
        this.out.push(sipSend(this.peerOf(context.source), response));
        return SENT;
      },
    };
    this.reset();
  }

  /** Transactions still waiting for a response or an answer (Calling, Trying, Proceeding). */
  get pending(): number {
    return this.layer.pendingCount;
  }

  /** Transactions only absorbing retransmissions until their wait timer ends (Completed, Confirmed; §17). */
  get lingering(): number {
    return this.layer.clientCount + this.layer.serverCount - this.layer.pendingCount;
  }

  /** The one transaction layer, for a transaction user of its own (the proxy role's StatefulProxy). */
  get transactions(): TransactionLayer {
    return this.layer;
  }

  /** The layer's clock (the node's time of the event being handled). */
  get transactionClock(): TransactionClock {
    return this.clock;
  }

  /** Runs `work` at `now`; what the layer sends and the timers it sets meanwhile, and what `emit` adds, are returned. */
  run(now: number, work: () => void): NodeAction[] {
    const out = this.begin(now);
    const saved = this.out;
    this.out = out;
    try {
      work();
    } finally {
      this.out = saved;
    }
    return out;
  }

  /** Adds actions of the role to those being collected (inside `run`, `receive` or `timer`). */
  emit(actions: readonly NodeAction[]): void {
    for (let i = 0; i < actions.length; i++) this.out.push(actions[i]!);
  }

  /** The transport address of a role, as the layer knows peers: by name, port 0, this layer's transport. */
  addressOfPeer(peer: string): TransportAddress {
    return this.address(peer);
  }

  isTimer(key: string): boolean {
    return key.startsWith(TIMER_PREFIX);
  }

  /** Send a request in a new client transaction (ACK for a 2xx goes out directly: it has none). */
  sendRequest(request: SipRequest, peer: string, now: number, handlers: ClientHandlers, _branch?: string): NodeAction[] {
    if (request.method === "ACK") return [sipSend(peer, request)];
    const out = this.begin(now);
    const saved = this.out;
    this.out = out;
    try {
      this.layer.sendRequest(request, this.address(peer), this.callbacks(handlers));
    } catch {
      // a transaction with this branch and method is already under way (RFC 3261 §17.1.3): it stands
    } finally {
      this.out = saved;
    }
    return out;
  }

  /** Answer a request through its server transaction (ignored once that transaction has ended). */
  respond(serverTx: ServerTx, response: SipResponse, now: number): NodeAction[] {
    if (serverTx.terminated) return NO_ACTIONS;
    const out = this.begin(now);
    const saved = this.out;
    this.out = out;
    try {
      serverTx.respond(response);
    } finally {
      this.out = saved;
    }
    return out;
  }

  /**
   * Feed bytes from `peer`; returns the actions the transactions produced and what the TU must see. `local`: where
   * they came in (the transport and listener, RFC 5658 §4), when not this layer's transport.
   */
  receive(bytes: Buffer, peer: string, now: number, prepare?: (request: SipRequest) => void, local?: TransportAddress): { actions: NodeAction[]; inbound?: Inbound } {
    let message: SipMessage;
    try {
      message = parseSipMessage(bytes);
      // RFC 3261 §18.1.2 / §18.2.1: without a readable top Via (and, for a response, CSeq) there is no transaction
      void message.topVia;
      if (message instanceof SipResponse) void message.cseq;
      else if (prepare) prepare(message);
    } catch (err) {
      this.discarded++;
      return { actions: refuseUnparsable(bytes, peer, err) };
    }
    const out = this.begin(now);
    const saved = this.out;
    this.out = out;
    this.inbound = undefined;
    try {
      this.layer.receive(message, this.context(peer, local));
    } catch {
      this.discarded++; // an RFC 2543 request whose matching fields do not parse (§17.2.3)
    } finally {
      this.out = saved;
    }
    const inbound = this.inbound;
    this.inbound = undefined;
    return inbound === undefined ? { actions: out } : { actions: out, inbound };
  }

  timer(timerKey: string, now: number): NodeAction[] {
    let id = 0;
    for (let i = TIMER_PREFIX.length; i < timerKey.length; i++) {
      const d = timerKey.charCodeAt(i) - 48;
      if (d < 0 || d > 9) return NO_ACTIONS;
      id = id * 10 + d;
    }
    const timer = this.fires.get(id);
    if (timer === undefined) return NO_ACTIONS;
    this.fires.delete(id);
    const out = this.begin(now);
    const saved = this.out;
    this.out = out;
    try {
      timer.fire();
    } finally {
      this.out = saved;
    }
    return out;
  }

  /** Forget every transaction (a restarted process); timers of the old ones fire into nothing. */
  reset(): void {
    this.fires.clear();
    this.layer = new TransactionLayer({ sender: this.sender, clock: this.clock, timers: this.timerConfig, sendTrying: this.sendTrying });
    this.layer.setUser({
      onRequest: (request, serverTx) => {
        this.inbound = { kind: "request", request, serverTx };
      },
      onAck: (request) => {
        this.inbound = { kind: "ack", request };
      },
      onStrayResponse: (response) => {
        this.inbound = { kind: "stray-response", response };
      },
    });
  }

  private begin(now: number): NodeAction[] {
    this.time = now;
    return [];
  }

  /** A role is addressed by its name; the transport's reliability decides retransmissions (RFC 3261 §17.1.1.2). */
  private address(peer: string): { protocol: TransportProtocol; host: string; port: number } {
    return { protocol: this.protocol, host: peer, port: 0 };
  }

  private context(peer: string, local: TransportAddress | undefined): InboundContext {
    if (local !== undefined) return { source: { protocol: local.protocol, host: peer, port: 0 }, local };
    const source = this.address(peer);
    return { source, local: source };
  }

  private callbacks(handlers: ClientHandlers): ClientTransactionCallbacks {
    return {
      onResponse: (res) => {
        const more = handlers.onResponse(res, this.time);
        for (let k = 0; k < more.length; k++) this.out.push(more[k]!);
      },
      onTerminated: (reason) => {
        if (reason === "normal" || !handlers.onTimeout) return;
        const more = handlers.onTimeout(this.time);
        for (let k = 0; k < more.length; k++) this.out.push(more[k]!);
      },
    };
  }
}
