// The SIP transaction layer of a role (RFC 3261 §17): runs protocols/sip's sans-I/O transaction machines per
// request, absorbs retransmissions, and turns their actions into node actions addressed to role names.
import {
  InviteClientTransaction,
  InviteServerTransaction,
  SipResponse,
  NonInviteClientTransaction,
  NonInviteServerTransaction,
  clientKeyOfResponse,
  formatSipUri,
  clientKeyOfRequest,
  clientTransactionKey,
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
} from "../../protocols/sip/index.js";
import type { NodeAction as GenericNodeAction } from "../drivers/node.js";
import type { CallEvent } from "../flow/call-events.js";

type NodeAction = GenericNodeAction<CallEvent>;

/** A URI of a parsed header as text (the codec gives a SipUri object for sip:/sips:/tel:, else the raw text). */
export function uriText(u: SipUri | string): string {
  return typeof u === "string" ? u : formatSipUri(u);
}

export function sipLabel(m: SipMessage): string {
  // instanceof, not `"status" in m`: messages come in many hidden classes, and the `in` check then goes megamorphic
  return m instanceof SipResponse ? `${m.status} ${m.reason}` : m.method;
}

export function sipSend(to: string, m: SipMessage): NodeAction & { type: "send" } {
  return { type: "send", proto: "SIP", to, bytes: serializeSipMessage(m), label: sipLabel(m), callId: m.callId };
}

export interface ClientHandlers {
  onResponse(res: SipResponse, now: number): NodeAction[];
  /** Timer B/F fired or the transport failed (RFC 3261 §17.1.1.2, §17.1.2.2): the TU acts as on a 408. */
  onTimeout?(now: number): NodeAction[];
}

/** One live transaction: its machine, where its messages go, and (client side) the TU's handlers. */
interface TxEntry {
  tx: TransactionMachine;
  id: number;
  key: string;
  peer: string;
  /** Client transactions only. */
  handlers: ClientHandlers | undefined;
}

export type Inbound =
  | { kind: "request"; request: SipRequest; serverKey: string }
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

function lingering(state: string): boolean {
  return state === "completed" || state === "confirmed";
}

const NO_ACTIONS: NodeAction[] = [];

export class SipTransactionLayer {
  private readonly clients = new Map<string, TxEntry>();
  private readonly servers = new Map<string, TxEntry>();
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
    const key = branch === undefined ? clientKeyOfRequest(request) : clientTransactionKey(branch, request.method);
    const entry: TxEntry = { tx, id, key, peer, handlers };
    this.clients.set(key, entry);
    this.byId.set(id, entry);
    return this.run(entry, tx.handle({ type: "start", now }), now);
  }

  /** Answer a request through its server transaction. */
  respond(serverKey: string, response: SipResponse, now: number): NodeAction[] {
    const entry = this.servers.get(serverKey);
    if (entry === undefined) return [];
    return this.run(entry, entry.tx.handle({ type: "tu-response", response, now }), now);
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
    } catch {
      this.discarded++;
      return { actions: NO_ACTIONS };
    }
    if (message instanceof SipResponse) {
      let key: string;
      try {
        key = clientKeyOfResponse(message);
      } catch {
        this.discarded++; // RFC 3261 §18.1.2: a response whose top Via or CSeq cannot be read is discarded
        return { actions: NO_ACTIONS };
      }
      const entry = this.clients.get(key);
      if (entry === undefined) return { actions: NO_ACTIONS, inbound: { kind: "stray-response", response: message } };
      return { actions: this.run(entry, entry.tx.handle({ type: "message", message, now }), now) };
    }
    let key: string;
    try {
      key = serverTransactionKey(message);
    } catch {
      this.discarded++; // RFC 3261 §18.2.1: no readable top Via, no transaction
      return { actions: NO_ACTIONS };
    }
    const existing = this.servers.get(key);
    if (message.method === "ACK") {
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
    // The key holds slices of the message text, which the transaction holds anyway; a TU must not keep it
    // past the transaction (the roles drop it once their final response is sent).
    const entry: TxEntry = { tx, id, key, peer, handlers: undefined };
    this.servers.set(key, entry);
    this.byId.set(id, entry);
    const actions = this.run(entry, tx.handle({ type: "start", now }), now);
    return { actions, inbound: { kind: "request", request: message, serverKey: key } };
  }

  timer(timerKey: string, now: number): NodeAction[] {
    // "sip:<id>:<timer>"
    const colon = timerKey.indexOf(":", TIMER_PREFIX.length);
    if (colon < 0) return [];
    const entry = this.byId.get(Number(timerKey.substring(TIMER_PREFIX.length, colon)));
    if (entry === undefined) return [];
    const name = timerKey.substring(colon + 1);
    return this.run(entry, entry.tx.handle({ type: "timer", timer: name as never, now }), now);
  }

  /** Forget every transaction (a restarted process). */
  reset(): void {
    this.clients.clear();
    this.servers.clear();
    this.byId.clear();
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
          out.push({ type: "set-timer", key: TIMER_PREFIX + entry.id + ":" + a.timer, delayMs: a.delay });
          break;
        case "cancel-timer":
          out.push({ type: "cancel-timer", key: TIMER_PREFIX + entry.id + ":" + a.timer });
          break;
        case "pass-to-tu": {
          // requests reach the TU through receive(); responses go to the client's handlers
          if (entry.handlers !== undefined && a.message instanceof SipResponse && this.byId.has(entry.id)) {
            const more = entry.handlers.onResponse(a.message, now);
            for (let k = 0; k < more.length; k++) out.push(more[k]!);
          }
          break;
        }
        case "terminated": {
          // Terminated transactions leave every table at once (RFC 3261 §17.1.1.2, §17.2.1).
          if (this.byId.get(entry.id) !== entry) break;
          this.byId.delete(entry.id);
          if (entry.handlers !== undefined) {
            if (this.clients.get(entry.key) === entry) this.clients.delete(entry.key);
            if (a.reason !== "normal" && entry.handlers.onTimeout) {
              const more = entry.handlers.onTimeout(now);
              for (let k = 0; k < more.length; k++) out.push(more[k]!);
            }
          } else if (this.servers.get(entry.key) === entry) this.servers.delete(entry.key);
          break;
        }
      }
    }
    return out;
  }
}
