// The SIP transaction layer of a role (RFC 3261 §17): runs protocols/sip's sans-I/O transaction machines per
// request, absorbs retransmissions, and turns their actions into node actions addressed to role names.
import {
  InviteClientTransaction,
  InviteServerTransaction,
  SipResponse,
  NonInviteClientTransaction,
  NonInviteServerTransaction,
  MAGIC_COOKIE,
  buildResponse,
  datagramRefusal,
  formatSipUri,
  requestHeadOf,
  parseSipMessage,
  resolveTimerConfig,
  serializeSipMessage,
  serverTransactionKey,
  type SipMessage,
  type SipRequest,
  type SipUri,
  type TransactionAction,
  type TransactionMachine,
  type TransactionOptions,
  type ViaHeader,
} from "../../protocols/sip/index.js";
import type { NodeAction as GenericNodeAction } from "../drivers/node.js";
import { ownString } from "./sip-ids.js";
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

/** Method a transaction is matched by: upper case (as the string keys of transaction-matching.ts were). */
function matchMethod(method: string): string {
  // the flow's methods are already upper case: no new string for them
  switch (method) {
    case "INVITE":
    case "ACK":
    case "BYE":
    case "CANCEL":
      return method;
    default:
      return method.toUpperCase();
  }
}

/** ASCII case-insensitive equality (host names, RFC 3261 §17.2.3 sent-by). */
function sameHost(a: string, b: string): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x >= 65 && x <= 90) x |= 0x20;
    if (y >= 65 && y <= 90) y |= 0x20;
    if (x !== y) return false;
  }
  return true;
}

/**
 * One live transaction: its machine, where its messages go, the (client side) TU's handlers, and what it is
 * matched by. Transactions sharing a top-Via branch (an INVITE and its CANCEL, RFC 3261 §9.1) form a chain
 * under that branch. Roles hold a server transaction by this object (see `ServerTx`).
 */
class TxEntry {
  /** Next transaction under the same branch. */
  next: TxEntry | undefined = undefined;
  /** Still in the layer's tables (false once Terminated or reset). */
  live = true;
  /** "sip:<id>:<timer>" per timer letter A..L, made once: the driver hashes a key string once. */
  timerKeys: string[] | undefined = undefined;
  constructor(
    readonly tx: TransactionMachine,
    readonly id: number,
    readonly peer: string,
    /** Client transactions only. */
    readonly handlers: ClientHandlers | undefined,
    /** Top-Via branch; "" for a server transaction without the magic cookie (keyed by `key2543`). */
    readonly branch: string,
    /** Client: the request's method; server: the method matched (ACK is matched as INVITE, §17.2.3). */
    readonly method: string,
    /** Server transactions with the magic cookie: sent-by of the top Via (§17.2.3). */
    readonly host: string,
    readonly port: number | undefined,
    /** Server transactions of RFC 2543 elements: the key of `serverTransactionKey`. */
    readonly key2543: string | undefined,
  ) {}
}

/** A server transaction as a role holds it: handed out with the request, given back to `respond`. */
export type ServerTx = TxEntry;

export type Inbound =
  | { kind: "request"; request: SipRequest; serverTx: ServerTx }
  /** ACK for a 2xx (its own transaction, RFC 3261 §17.1.1.3) or any request the TU sees without a transaction. */
  | { kind: "ack"; request: SipRequest }
  /** A response no client transaction claims (2xx retransmissions after the INVITE transaction ended). */
  | { kind: "stray-response"; response: SipResponse };

export interface SipTransactionLayerOptions {
  reliable: boolean;
  t1?: number;
  t2?: number;
  t4?: number;
  /** INVITE server transactions answer 100 Trying themselves (proxies: yes; user agents: no). */
  sendTrying?: boolean;
}

const TIMER_PREFIX = "sip:";
/** Timer letters A..L (RFC 3261 Table 4, RFC 6026 Timer L). */
const TIMER_LETTERS = 12;

function lingering(state: string): boolean {
  return state === "completed" || state === "confirmed";
}

const NO_ACTIONS: NodeAction[] = [];

/** The first transaction of a branch chain matching method (and sent-by for servers), RFC 3261 §17.1.3 / §17.2.3. */
function findClient(head: TxEntry | undefined, method: string): TxEntry | undefined {
  for (let e = head; e !== undefined; e = e.next) if (e.method === method) return e;
  return undefined;
}

function findServer(head: TxEntry | undefined, method: string, host: string, port: number | undefined): TxEntry | undefined {
  for (let e = head; e !== undefined; e = e.next) if (e.method === method && e.port === port && sameHost(e.host, host)) return e;
  return undefined;
}

function link(map: Map<string, TxEntry>, entry: TxEntry): void {
  const head = map.get(entry.branch);
  if (head !== undefined) entry.next = head;
  map.set(entry.branch, entry);
}

function unlink(map: Map<string, TxEntry>, entry: TxEntry): void {
  const head = map.get(entry.branch);
  if (head === entry) {
    if (entry.next === undefined) map.delete(entry.branch);
    else map.set(entry.branch, entry.next);
    return;
  }
  for (let e = head; e !== undefined; e = e.next) {
    if (e.next === entry) {
      e.next = entry.next;
      return;
    }
  }
}

export class SipTransactionLayer {
  /**
   * Client transactions by top-Via branch (§17.1.3: branch and CSeq method), server transactions by branch
   * (§17.2.3: branch, sent-by and method), so a message costs one lookup of its branch and no key string;
   * server transactions of RFC 2543 elements (no magic cookie) by the full key of `serverTransactionKey`.
   */
  private readonly clients = new Map<string, TxEntry>();
  private readonly servers = new Map<string, TxEntry>();
  private readonly servers2543 = new Map<string, TxEntry>();
  private readonly byId = new Map<number, TxEntry>();
  private nextId = 1;
  /** Options shared by every transaction of this layer (timers resolved once, RFC 3261 Table 4). */
  private readonly txOpts: TransactionOptions;
  private readonly inviteServerOpts: TransactionOptions & { sendTrying: boolean };
  /** Bytes that failed to parse (RFC 3261 §18.1.2 / §18.2.1: discarded). */
  discarded = 0;

  constructor(opts: SipTransactionLayerOptions) {
    const timers: { t1?: number; t2?: number; t4?: number } = {};
    if (opts.t1 !== undefined) timers.t1 = opts.t1;
    if (opts.t2 !== undefined) timers.t2 = opts.t2;
    if (opts.t4 !== undefined) timers.t4 = opts.t4;
    this.txOpts = { reliable: opts.reliable, config: resolveTimerConfig(timers) };
    this.inviteServerOpts = { ...this.txOpts, sendTrying: opts.sendTrying ?? true };
  }

  /** Transactions still waiting for a response or an answer (Calling, Trying, Proceeding). */
  get pending(): number {
    let n = 0;
    for (const e of this.byId.values()) if (!lingering(e.tx.state)) n++;
    return n;
  }

  /** Transactions only absorbing retransmissions until their wait timer ends (Completed, Confirmed; §17). */
  get lingering(): number {
    return this.byId.size - this.pending;
  }

  isTimer(key: string): boolean {
    return key.startsWith(TIMER_PREFIX);
  }

  /**
   * Send a request in a new client transaction (ACK for a 2xx goes out directly: it has none). `branch`, when
   * the caller knows the top Via branch it just wrote, saves parsing that Via back for the key (§17.1.3).
   */
  sendRequest(request: SipRequest, peer: string, now: number, handlers: ClientHandlers, branch?: string): NodeAction[] {
    if (request.method === "ACK") return [sipSend(peer, request)];
    const tx = request.method === "INVITE" ? new InviteClientTransaction(request, this.txOpts) : new NonInviteClientTransaction(request, this.txOpts);
    const id = this.nextId++;
    const entry = new TxEntry(tx, id, peer, handlers, branch ?? request.topVia.branch ?? "", matchMethod(request.method), "", undefined, undefined);
    link(this.clients, entry);
    this.byId.set(id, entry);
    return this.run(entry, tx.handle({ type: "start", now }), now);
  }

  /** Answer a request through its server transaction (ignored once that transaction has ended). */
  respond(serverTx: ServerTx, response: SipResponse, now: number): NodeAction[] {
    if (!serverTx.live) return [];
    return this.run(serverTx, serverTx.tx.handle({ type: "tu-response", response, now }), now);
  }

  /** Send a response outside any transaction (2xx retransmissions by a UAS core or a proxy, RFC 3261 §13.3.1.4). */
  static sendDirect(peer: string, response: SipResponse): NodeAction {
    return sipSend(peer, response);
  }

  /** Feed bytes from `peer`; returns the actions the transactions produced and what the TU must see. */
  receive(bytes: Buffer, peer: string, now: number): { actions: NodeAction[]; inbound?: Inbound } {
    let message: SipMessage;
    try {
      message = parseSipMessage(bytes);
    } catch (err) {
      this.discarded++;
      return { actions: refuseUnparsable(bytes, peer, err) };
    }
    if (message instanceof SipResponse) {
      let entry: TxEntry | undefined;
      try {
        // §17.1.3: the top Via branch and the CSeq method
        entry = findClient(this.clients.get(message.topVia.branch ?? ""), matchMethod(message.cseq.method));
      } catch {
        this.discarded++; // RFC 3261 §18.1.2: a response whose top Via or CSeq cannot be read is discarded
        return { actions: NO_ACTIONS };
      }
      if (entry === undefined) return { actions: NO_ACTIONS, inbound: { kind: "stray-response", response: message } };
      return { actions: this.run(entry, entry.tx.handle({ type: "message", message, now }), now) };
    }
    let via: ViaHeader;
    try {
      via = message.topVia;
    } catch {
      this.discarded++; // RFC 3261 §18.2.1: no readable top Via, no transaction
      return { actions: NO_ACTIONS };
    }
    const branch = via.branch;
    const isAck = message.method === "ACK";
    const method = isAck ? "INVITE" : matchMethod(message.method);
    let existing: TxEntry | undefined;
    let key2543: string | undefined;
    if (branch !== undefined && branch.startsWith(MAGIC_COOKIE)) {
      existing = findServer(this.servers.get(branch), method, via.host, via.port);
    } else {
      try {
        key2543 = serverTransactionKey(message);
      } catch {
        this.discarded++;
        return { actions: NO_ACTIONS };
      }
      existing = this.servers2543.get(key2543);
    }
    if (isAck) {
      if (existing !== undefined && existing.tx.state === "completed") {
        return { actions: this.run(existing, existing.tx.handle({ type: "message", message, now }), now) };
      }
      if (existing !== undefined) return { actions: NO_ACTIONS }; // ACK absorbed in Confirmed
      return { actions: NO_ACTIONS, inbound: { kind: "ack", request: message } };
    }
    if (existing !== undefined) {
      return { actions: this.run(existing, existing.tx.handle({ type: "message", message, now }), now) };
    }
    const tx = message.method === "INVITE" ? new InviteServerTransaction(message, this.inviteServerOpts) : new NonInviteServerTransaction(message, this.txOpts);
    const id = this.nextId++;
    let entry: TxEntry;
    if (key2543 === undefined) {
      entry = new TxEntry(tx, id, peer, undefined, branch!, method, via.host, via.port, undefined);
      link(this.servers, entry);
    } else {
      entry = new TxEntry(tx, id, peer, undefined, "", method, "", undefined, key2543);
      this.servers2543.set(key2543, entry);
    }
    this.byId.set(id, entry);
    const actions = this.run(entry, tx.handle({ type: "start", now }), now);
    return { actions, inbound: { kind: "request", request: message, serverTx: entry } };
  }

  timer(timerKey: string, now: number): NodeAction[] {
    // "sip:<id>:<timer letter>"
    const last = timerKey.length - 1;
    if (last < TIMER_PREFIX.length + 2 || timerKey.charCodeAt(last - 1) !== 58) return [];
    let id = 0;
    for (let i = TIMER_PREFIX.length; i < last - 1; i++) {
      const d = timerKey.charCodeAt(i) - 48;
      if (d < 0 || d > 9) return [];
      id = id * 10 + d;
    }
    const entry = this.byId.get(id);
    if (entry === undefined) return [];
    const name = timerKey.charAt(last);
    return this.run(entry, entry.tx.handle({ type: "timer", timer: name as never, now }), now);
  }

  /** Forget every transaction (a restarted process). */
  reset(): void {
    for (const e of this.byId.values()) e.live = false;
    this.clients.clear();
    this.servers.clear();
    this.servers2543.clear();
    this.byId.clear();
  }

  /** The driver key of one of an entry's timers, made once per entry and letter. */
  private timerKey(entry: TxEntry, timer: string): string {
    const slot = timer.charCodeAt(0) - 65;
    if (timer.length !== 1 || slot < 0 || slot >= TIMER_LETTERS) return TIMER_PREFIX + entry.id + ":" + timer;
    const keys = (entry.timerKeys ??= new Array<string>(TIMER_LETTERS));
    return (keys[slot] ??= TIMER_PREFIX + entry.id + ":" + timer);
  }

  private run(entry: TxEntry, actions: TransactionAction[], now: number): NodeAction[] {
    const out: NodeAction[] = [];
    for (let i = 0; i < actions.length; i++) {
      const a = actions[i]!;
      switch (a.type) {
        case "send":
          out.push(sipSend(entry.peer, a.message));
          break;
        case "set-timer":
          out.push({ type: "set-timer", key: this.timerKey(entry, a.timer), delayMs: a.delay });
          break;
        case "cancel-timer":
          out.push({ type: "cancel-timer", key: this.timerKey(entry, a.timer) });
          break;
        case "pass-to-tu": {
          // requests reach the TU through receive(); responses go to the client's handlers
          if (entry.handlers !== undefined && a.message instanceof SipResponse && entry.live) {
            const more = entry.handlers.onResponse(a.message, now);
            for (let k = 0; k < more.length; k++) out.push(more[k]!);
          }
          break;
        }
        case "terminated": {
          // Terminated transactions leave every table at once (RFC 3261 §17.1.1.2, §17.2.1).
          if (!entry.live) break;
          entry.live = false;
          this.byId.delete(entry.id);
          if (entry.handlers !== undefined) {
            unlink(this.clients, entry);
            if (a.reason !== "normal" && entry.handlers.onTimeout) {
              const more = entry.handlers.onTimeout(now);
              for (let k = 0; k < more.length; k++) out.push(more[k]!);
            }
          } else if (entry.key2543 !== undefined) {
            if (this.servers2543.get(entry.key2543) === entry) this.servers2543.delete(entry.key2543);
          } else unlink(this.servers, entry);
          break;
        }
      }
    }
    return out;
  }
}
