// The SIP transaction layer of a role (RFC 3261 §17): runs protocols/sip's sans-I/O transaction machines per
// request, absorbs retransmissions, and turns their actions into node actions addressed to role names.
import {
  InviteClientTransaction,
  InviteServerTransaction,
  NonInviteClientTransaction,
  NonInviteServerTransaction,
  clientKeyOfResponse,
  formatSipUri,
  clientKeyOfRequest,
  parseSipMessage,
  serializeSipMessage,
  serverTransactionKey,
  type SipMessage,
  type SipRequest,
  type SipResponse,
  type SipUri,
  type TransactionAction,
  type TransactionMachine,
} from "../../protocols/sip/index.js";
import type { NodeAction as GenericNodeAction } from "../drivers/node.js";
import type { CallEvent } from "../flow/call-events.js";
import { ownString } from "./sip-ids.js";

type NodeAction = GenericNodeAction<CallEvent>;

/** A URI of a parsed header as text (the codec gives a SipUri object for sip:/sips:/tel:, else the raw text). */
export function uriText(u: SipUri | string): string {
  return typeof u === "string" ? u : formatSipUri(u);
}

export function sipLabel(m: SipMessage): string {
  return "status" in m ? `${m.status} ${m.reason}` : m.method;
}

export function sipSend(to: string, m: SipMessage): NodeAction & { type: "send" } {
  return { type: "send", proto: "SIP", to, bytes: serializeSipMessage(m), label: sipLabel(m), callId: m.callId };
}

export interface ClientHandlers {
  onResponse(res: SipResponse, now: number): NodeAction[];
  /** Timer B/F fired or the transport failed (RFC 3261 §17.1.1.2, §17.1.2.2): the TU acts as on a 408. */
  onTimeout?(now: number): NodeAction[];
}

interface ClientEntry {
  tx: TransactionMachine;
  id: number;
  peer: string;
  handlers: ClientHandlers;
}

interface ServerEntry {
  tx: TransactionMachine;
  id: number;
  peer: string;
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

export class SipTransactionLayer {
  private readonly clients = new Map<string, ClientEntry>();
  private readonly servers = new Map<string, ServerEntry>();
  private readonly byId = new Map<number, { key: string; side: "client" | "server" }>();
  private nextId = 1;
  /** Bytes that failed to parse (RFC 3261 §18.1.2 / §18.2.1: discarded). */
  discarded = 0;

  constructor(private readonly opts: SipTransactionLayerOptions) {}

  /** Transactions still waiting for a response or an answer (Calling, Trying, Proceeding). */
  get pending(): number {
    let n = 0;
    for (const e of this.clients.values()) if (!lingering(e.tx.state)) n++;
    for (const e of this.servers.values()) if (!lingering(e.tx.state)) n++;
    return n;
  }

  /** Transactions only absorbing retransmissions until their wait timer ends (Completed, Confirmed; §17). */
  get lingering(): number {
    return this.clients.size + this.servers.size - this.pending;
  }

  isTimer(key: string): boolean {
    return key.startsWith(TIMER_PREFIX);
  }

  private txOptions(): { reliable: boolean; t1?: number; t2?: number; t4?: number } {
    const o: { reliable: boolean; t1?: number; t2?: number; t4?: number } = { reliable: this.opts.reliable };
    if (this.opts.t1 !== undefined) o.t1 = this.opts.t1;
    if (this.opts.t2 !== undefined) o.t2 = this.opts.t2;
    if (this.opts.t4 !== undefined) o.t4 = this.opts.t4;
    return o;
  }

  /** Send a request in a new client transaction (ACK for a 2xx goes out directly: it has none). */
  sendRequest(request: SipRequest, peer: string, now: number, handlers: ClientHandlers): NodeAction[] {
    if (request.method === "ACK") return [sipSend(peer, request)];
    const tx = request.method === "INVITE" ? new InviteClientTransaction(request, this.txOptions()) : new NonInviteClientTransaction(request, this.txOptions());
    const id = this.nextId++;
    const key = clientKeyOfRequest(request);
    this.clients.set(key, { tx, id, peer, handlers });
    this.byId.set(id, { key, side: "client" });
    return this.run(id, peer, tx, tx.handle({ type: "start", now }), now);
  }

  /** Answer a request through its server transaction. */
  respond(serverKey: string, response: SipResponse, now: number): NodeAction[] {
    const entry = this.servers.get(serverKey);
    if (entry === undefined) return [];
    return this.run(entry.id, entry.peer, entry.tx, entry.tx.handle({ type: "tu-response", response, now }), now);
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
      return { actions: [] };
    }
    if ("status" in message) {
      const entry = this.clients.get(clientKeyOfResponse(message));
      if (entry === undefined) return { actions: [], inbound: { kind: "stray-response", response: message } };
      return { actions: this.run(entry.id, entry.peer, entry.tx, entry.tx.handle({ type: "message", message, now }), now) };
    }
    const key = serverTransactionKey(message);
    const existing = this.servers.get(key);
    if (message.method === "ACK") {
      if (existing !== undefined && existing.tx.state === "completed") {
        return { actions: this.run(existing.id, existing.peer, existing.tx, existing.tx.handle({ type: "message", message, now }), now) };
      }
      if (existing !== undefined) return { actions: [] }; // ACK absorbed in Confirmed
      return { actions: [], inbound: { kind: "ack", request: message } };
    }
    if (existing !== undefined) {
      return { actions: this.run(existing.id, existing.peer, existing.tx, existing.tx.handle({ type: "message", message, now }), now) };
    }
    const tx = message.method === "INVITE"
      ? new InviteServerTransaction(message, { ...this.txOptions(), sendTrying: this.opts.sendTrying ?? true })
      : new NonInviteServerTransaction(message, this.txOptions());
    const id = this.nextId++;
    // The key is built from slices of the message text; a TU keeps it for the whole call, so it gets its own copy
    // (otherwise each call would pin its INVITE's full text, about 1 KB).
    const ownKey = ownString(key);
    this.servers.set(ownKey, { tx, id, peer });
    this.byId.set(id, { key: ownKey, side: "server" });
    const actions = this.run(id, peer, tx, tx.handle({ type: "start", now }), now);
    return { actions, inbound: { kind: "request", request: message, serverKey: ownKey } };
  }

  timer(timerKey: string, now: number): NodeAction[] {
    const [, idText, name] = timerKey.split(":");
    const ref = this.byId.get(Number(idText));
    if (ref === undefined || name === undefined) return [];
    const entry = ref.side === "client" ? this.clients.get(ref.key) : this.servers.get(ref.key);
    if (entry === undefined) return [];
    return this.run(entry.id, entry.peer, entry.tx, entry.tx.handle({ type: "timer", timer: name as never, now }), now);
  }

  /** Forget every transaction (a restarted process). */
  reset(): void {
    this.clients.clear();
    this.servers.clear();
    this.byId.clear();
  }

  private run(id: number, peer: string, tx: TransactionMachine, actions: TransactionAction[], now: number): NodeAction[] {
    const out: NodeAction[] = [];
    for (const a of actions) {
      switch (a.type) {
        case "send":
          out.push(sipSend(peer, a.message));
          break;
        case "set-timer":
          out.push({ type: "set-timer", key: `${TIMER_PREFIX}${id}:${a.timer}`, delayMs: a.delay });
          break;
        case "cancel-timer":
          out.push({ type: "cancel-timer", key: `${TIMER_PREFIX}${id}:${a.timer}` });
          break;
        case "pass-to-tu": {
          if (!("status" in a.message)) break; // requests reach the TU through receive()
          const ref = this.byId.get(id);
          const entry = ref?.side === "client" ? this.clients.get(ref.key) : undefined;
          if (entry) out.push(...entry.handlers.onResponse(a.message, now));
          break;
        }
        case "terminated": {
          const ref = this.byId.get(id);
          if (ref === undefined) break;
          this.byId.delete(id);
          if (ref.side === "client") {
            const entry = this.clients.get(ref.key);
            this.clients.delete(ref.key);
            if (a.reason !== "normal" && entry?.handlers.onTimeout) out.push(...entry.handlers.onTimeout(now));
          } else {
            this.servers.delete(ref.key);
          }
          break;
        }
      }
    }
    void tx;
    return out;
  }
}
