// Realm capacity sharing as a sans-I/O machine (the RADIUS proxy's core): a NAS request in, actions out.
//   master realm  → checked against the local credential store, or forwarded to the master's RADIUS server;
//   client realm  → its identity replaced by the client provider's virtual identity and checked against the
//                   capacity rented to it (our ledger, then the master's server when it has one); if allowed, the
//                   original request goes to the client provider's server, whose answer decides; the answer
//                   goes back with the original identity;
//   unknown realm → Access-Reject; its accounting is not recorded, so not answered (RFC 2866 §2).
// Accounting is kept twice: a record for the master's server under the virtual identity, one for the client's
// server under the subscriber's, each spooled (made durable) by the driver before the NAS is answered; the
// driver's exporters send them until each server answers (RFC 2866 §2: stored, then answered).
import {
  AcctStatusType,
  RadiusCode,
  attributeCode,
  attributeValue,
  attributeValueName,
  radiusAttribute,
  type RadiusAttribute,
  type RadiusPacket,
  type RadiusReply,
  type RadiusRequest,
} from "../../protocols/radius/index.js";
import { fromRadiusAttribute, type AccountingRecord, type AccountingStatus } from "../accounting/records.js";
import { CapacityLedger, type CapacityRefusal, type JournalEvent } from "./capacity-ledger.js";
import type { CredentialStore } from "./credential-store.js";
import { splitUserRealm, type ClientProvider, type RadiusProxyConfig, type RadiusServerRef } from "./realm-table.js";

/** Which upstream exchange a forwarded request belongs to. */
export type ProxyStep = "master-auth" | "capacity" | "client-auth";

/** Where a spooled accounting record goes: the master's server, or a client provider's (by name). */
export type AccountingDestination = { kind: "master" } | { kind: "client"; name: string };

/** How the proxy settled a NAS request, as counted and logged. */
export type RealmDecision =
  | "accept"
  | "reject"
  | "unknown-realm"
  | "no-user-name"
  | `capacity-${CapacityRefusal}`
  | "capacity-refused-by-master"
  | "upstream-silent"
  | "recorded";

/** What the driver does for the core: forward to an upstream server, answer the NAS, or leave it unanswered. */
export type RealmProxyAction =
  | { type: "forward"; id: number; step: ProxyStep; to: RadiusServerRef; port: "auth" | "acct"; request: RadiusRequest }
  | { type: "answer"; id: number; reply: RadiusReply }
  /** No answer: the record was not stored, or the upstream server stayed silent (the NAS retries or fails over). */
  | { type: "no-answer"; id: number; cause: string }
  /**
   * Make this record durable for `to` (one spool per destination) before the actions that follow it, then send
   * it until that server answers. A record whose key is already spooled or answered is the same record.
   */
  | { type: "spool"; id: number; destination: AccountingDestination; to: RadiusServerRef; record: AccountingRecord }
  /** Make this durable before the actions that follow it. */
  | { type: "journal"; event: JournalEvent | MasterRecord }
  | { type: "decision"; id: number; identity: string; provider: string; decision: RealmDecision };

/** An accounting record of a master subscriber kept in the journal when the master has no RADIUS server. */
export interface MasterRecord {
  t: number;
  kind: "record";
  provider: "master";
  user: string;
  session: string;
  status: number;
}

interface Pending {
  packet: RadiusPacket;
  identity: string;
  provider: string;
  client?: ClientProvider;
  reservation?: number;
  sessionTimeout?: number;
  waiting: Set<ProxyStep>;
}

const A = {
  userName: attributeCode("User-Name"),
  userPassword: attributeCode("User-Password"),
  chapPassword: attributeCode("CHAP-Password"),
  chapChallenge: attributeCode("CHAP-Challenge"),
  proxyState: attributeCode("Proxy-State"),
  messageAuthenticator: attributeCode("Message-Authenticator"),
  sessionTimeout: attributeCode("Session-Timeout"),
  statusType: attributeCode("Acct-Status-Type"),
} as const;

const messageAuthenticator = (): RadiusAttribute => radiusAttribute("Message-Authenticator", Buffer.alloc(16));

/** Configuration, local credentials and capacity ledger of a RealmProxy. */
export interface RealmProxyOptions {
  config: RadiusProxyConfig;
  /** The master's local credentials (HA1), when `config.master.credentials` names a file. */
  credentials?: CredentialStore;
  ledger?: CapacityLedger;
}

/** The sans-I/O core of the realm RADIUS proxy: NAS requests and upstream replies in, RealmProxyAction out. */
export class RealmProxy {
  readonly ledger: CapacityLedger;
  private readonly pending = new Map<number, Pending>();
  private readonly masterRealms: Set<string>;
  private readonly clientByRealm = new Map<string, ClientProvider>();

  constructor(private readonly options: RealmProxyOptions) {
    const { config } = options;
    this.masterRealms = new Set(config.master.realms);
    for (const c of config.clients) for (const r of c.realms) this.clientByRealm.set(r, c);
    this.ledger =
      options.ledger ?? new CapacityLedger(Object.fromEntries(config.clients.map((c) => [c.name, c.capacity])), (config.holdSeconds ?? 60) * 1000);
  }

  get inProgress(): number {
    return this.pending.size;
  }

  /** A request from a NAS (already checked by the RADIUS server machine). */
  request(now: number, id: number, packet: RadiusPacket, nas: string): RealmProxyAction[] {
    if (packet.code === RadiusCode.AccountingRequest) return this.accounting(now, id, packet, nas);
    // RFC 5997 §3: a Status-Server is answered by the server itself, with Access-Accept.
    if (packet.code === RadiusCode.StatusServer) return [{ type: "answer", id, reply: { code: RadiusCode.AccessAccept, attributes: [messageAuthenticator()] } }];
    if (packet.code !== RadiusCode.AccessRequest) return [{ type: "no-answer", id, cause: "unsupported-code" }];
    const identity = attributeValue(packet, A.userName);
    if (typeof identity !== "string") return this.refuse(id, packet, "", "", "no-user-name");
    const parts = splitUserRealm(identity);
    const client = parts ? this.clientByRealm.get(parts.realm) : undefined;
    if (parts && this.masterRealms.has(parts.realm)) return this.masterAccess(id, packet, identity, parts.user, parts.realm);
    if (!parts || !client) return this.refuse(id, packet, identity, "", "unknown-realm");
    const verdict = this.ledger.admit(now, client.name);
    if (!verdict.ok) return this.refuse(id, packet, identity, client.name, `capacity-${verdict.cause}`);
    const p: Pending = { packet, identity, provider: client.name, client, reservation: verdict.reservation, waiting: new Set() };
    if (verdict.sessionTimeout !== undefined) p.sessionTimeout = verdict.sessionTimeout;
    this.pending.set(id, p);
    const master = this.options.config.master.radius;
    if (master) return [this.forward(id, p, "capacity", master, "auth", this.virtualAccess(packet, client))];
    return [this.forward(id, p, "client-auth", client.radius, "auth", this.originalAccess(packet))];
  }

  /** The answer of an upstream server to a forwarded request, or undefined when it stayed silent. */
  upstream(now: number, id: number, step: ProxyStep, answer: RadiusPacket | undefined): RealmProxyAction[] {
    const p = this.pending.get(id);
    if (!p || !p.waiting.delete(step)) return [];
    if (!answer) {
      this.pending.delete(id);
      if (p.reservation !== undefined) this.ledger.release(p.reservation);
      return [{ type: "decision", id, identity: p.identity, provider: p.provider, decision: "upstream-silent" }, { type: "no-answer", id, cause: `${step}-silent` }];
    }
    if (step === "capacity") {
      if (answer.code !== RadiusCode.AccessAccept) {
        this.pending.delete(id);
        if (p.reservation !== undefined) this.ledger.release(p.reservation);
        return this.refuse(id, p.packet, p.identity, p.provider, "capacity-refused-by-master");
      }
      return [this.forward(id, p, "client-auth", p.client!.radius, "auth", this.originalAccess(p.packet))];
    }
    // master-auth or client-auth: the upstream's answer decides.
    this.pending.delete(id);
    const accepted = answer.code === RadiusCode.AccessAccept;
    if (p.reservation !== undefined) {
      if (accepted) this.ledger.confirm(now, p.reservation);
      else this.ledger.release(p.reservation);
    }
    const attributes = answer.attributes.filter((a) => a.type !== A.proxyState && a.type !== A.messageAuthenticator && a.type !== A.userName);
    if (answer.attributes.some((a) => a.type === A.userName)) attributes.unshift(radiusAttribute("User-Name", p.identity));
    if (accepted && p.sessionTimeout !== undefined) {
      const i = attributes.findIndex((a) => a.type === A.sessionTimeout);
      const given = i >= 0 ? (attributes[i] as { value: number }).value : Infinity;
      const cap = radiusAttribute("Session-Timeout", Math.min(given, p.sessionTimeout));
      if (i >= 0) attributes[i] = cap;
      else attributes.push(cap);
    }
    const code = answer.code === RadiusCode.AccessAccept || answer.code === RadiusCode.AccessChallenge ? answer.code : RadiusCode.AccessReject;
    return [
      { type: "decision", id, identity: p.identity, provider: p.provider, decision: accepted ? "accept" : "reject" },
      { type: "answer", id, reply: { code, attributes: [...attributes, ...this.proxyStates(p.packet), messageAuthenticator()] } },
    ];
  }

  private masterAccess(id: number, packet: RadiusPacket, identity: string, user: string, realm: string): RealmProxyAction[] {
    const password = attributeValue(packet, A.userPassword);
    const store = this.options.credentials;
    const known = store && Buffer.isBuffer(password) ? store.verifyPassword(user, realm, password.toString("utf8")) : undefined;
    if (known !== undefined || !this.options.config.master.radius) {
      const decision = known === true ? "accept" : "reject";
      return [
        { type: "decision", id, identity, provider: "master", decision },
        { type: "answer", id, reply: { code: known === true ? RadiusCode.AccessAccept : RadiusCode.AccessReject, attributes: [...this.proxyStates(packet), messageAuthenticator()] } },
      ];
    }
    const p: Pending = { packet, identity, provider: "master", waiting: new Set() };
    this.pending.set(id, p);
    return [this.forward(id, p, "master-auth", this.options.config.master.radius, "auth", this.originalAccess(packet))];
  }

  private accounting(now: number, id: number, packet: RadiusPacket, nas: string): RealmProxyAction[] {
    const statusCode = attributeValue(packet, A.statusType);
    const status = typeof statusCode === "number" ? (attributeValueName(A.statusType, statusCode) as AccountingStatus | undefined) : undefined;
    if (status === undefined || !(status in AcctStatusType)) return [{ type: "no-answer", id, cause: "acct-status-type-unsupported" }];
    const nasId = String(attributeValue(packet, "NAS-IP-Address") ?? attributeValue(packet, "NAS-Identifier") ?? nas);
    if (status === "Accounting-On" || status === "Accounting-Off") return this.nasRestart(now, id, packet, nasId, status);
    const identity = attributeValue(packet, A.userName);
    const parts = typeof identity === "string" ? splitUserRealm(identity) : undefined;
    if (typeof identity !== "string" || !parts) return [{ type: "no-answer", id, cause: "acct-no-realm" }];
    const sessionId = attributeValue(packet, "Acct-Session-Id");
    const session = `${nasId}|${typeof sessionId === "string" ? sessionId : ""}`;
    const master = this.options.config.master.radius;
    const recorded = (provider: string): RealmProxyAction[] => [
      { type: "decision", id, identity, provider, decision: "recorded" },
      { type: "answer", id, reply: { code: RadiusCode.AccountingResponse, attributes: this.proxyStates(packet) } },
    ];
    if (this.masterRealms.has(parts.realm)) {
      if (!master) {
        const record: MasterRecord = { t: now, kind: "record", provider: "master", user: identity, session, status: statusCode as number };
        return [{ type: "journal", event: record }, ...recorded("master")];
      }
      return [{ type: "spool", id, destination: { kind: "master" }, to: master, record: accountingRecord(now, packet, nasId, status) }, ...recorded("master")];
    }
    const client = this.clientByRealm.get(parts.realm);
    if (!client) return [{ type: "no-answer", id, cause: "acct-unknown-realm" }];
    const actions: RealmProxyAction[] = [];
    const seconds = attributeValue(packet, "Acct-Session-Time");
    const event =
      status === "Start"
        ? this.ledger.start(now, client.name, session)
        : status === "Stop"
          ? this.ledger.stop(now, client.name, session, typeof seconds === "number" ? seconds : 0)
          : undefined;
    if (event) actions.push({ type: "journal", event });
    // RFC 2866 §2 (a proxy forwards the record): the master's copy under the provider's virtual identity.
    if (master) {
      const virtual = packet.attributes.map((a) => (a.type === A.userName ? radiusAttribute("User-Name", client.virtualIdentity.user) : a));
      actions.push({ type: "spool", id, destination: { kind: "master" }, to: master, record: accountingRecord(now, { ...packet, attributes: virtual }, nasId, status) });
    }
    actions.push({ type: "spool", id, destination: { kind: "client", name: client.name }, to: client.radius, record: accountingRecord(now, packet, nasId, status) });
    actions.push(...recorded(client.name));
    return actions;
  }

  /** Accounting-On/Off: the NAS's sessions are closed in the ledger (journaled), the record goes to the master. */
  private nasRestart(now: number, id: number, packet: RadiusPacket, nas: string, status: AccountingStatus): RealmProxyAction[] {
    const actions: RealmProxyAction[] = this.ledger.closeNas(now, nas).map((event) => ({ type: "journal", event }));
    const master = this.options.config.master.radius;
    if (master) actions.push({ type: "spool", id, destination: { kind: "master" }, to: master, record: accountingRecord(now, packet, nas, status) });
    actions.push({ type: "answer", id, reply: { code: RadiusCode.AccountingResponse, attributes: this.proxyStates(packet) } });
    return actions;
  }

  private forward(id: number, p: Pending, step: ProxyStep, to: RadiusServerRef, port: "auth" | "acct", request: RadiusRequest): RealmProxyAction {
    p.waiting.add(step);
    return { type: "forward", id, step, to, port, request };
  }

  /** The subscriber's request as the NAS sent it, re-signed for the next hop (RFC 3579 §3.2). */
  private originalAccess(packet: RadiusPacket): RadiusRequest {
    const attributes = packet.attributes.filter((a) => a.type !== A.messageAuthenticator);
    // RFC 1994 / RFC 2865 §5.3: without CHAP-Challenge the Request Authenticator is the challenge; ours differs.
    if (attributes.some((a) => a.type === A.chapPassword) && !attributes.some((a) => a.type === A.chapChallenge))
      attributes.push(radiusAttribute("CHAP-Challenge", packet.authenticator));
    return { code: RadiusCode.AccessRequest, attributes: [messageAuthenticator(), ...attributes] };
  }

  /** The request with the client provider's virtual identity and password in place of the subscriber's. */
  private virtualAccess(packet: RadiusPacket, client: ClientProvider): RadiusRequest {
    const drop = new Set<number>([A.userName, A.userPassword, A.chapPassword, A.chapChallenge, A.messageAuthenticator, A.proxyState]);
    return {
      code: RadiusCode.AccessRequest,
      attributes: [
        messageAuthenticator(),
        radiusAttribute("User-Name", client.virtualIdentity.user),
        radiusAttribute("User-Password", client.virtualIdentity.password),
        ...packet.attributes.filter((a) => !drop.has(a.type)),
      ],
    };
  }

  /** RFC 2865 §5.33: Proxy-State attributes of the request come back unmodified in the reply. */
  private proxyStates(packet: RadiusPacket): RadiusAttribute[] {
    return packet.attributes.filter((a) => a.type === A.proxyState);
  }

  private refuse(id: number, packet: RadiusPacket, identity: string, provider: string, decision: RealmDecision): RealmProxyAction[] {
    return [
      { type: "decision", id, identity, provider, decision },
      {
        type: "answer",
        id,
        reply: { code: RadiusCode.AccessReject, attributes: [radiusAttribute("Reply-Message", `refused: ${decision}`), ...this.proxyStates(packet), messageAuthenticator()] },
      },
    ];
  }
}

/** Attributes of the NAS's request that belong to this hop, not the record (RFC 2865 §5.33, RFC 3579 §3.2, RFC 2866 §5.2). */
const HOP_ATTRIBUTES = new Set<number>([A.proxyState, A.messageAuthenticator, attributeCode("Acct-Delay-Time")]);

/**
 * A NAS's Accounting-Request as a record: its attributes byte for byte (Vendor-Specific and unknown types as
 * octets), but for this hop's (Proxy-State, Message-Authenticator) and Acct-Delay-Time, which the exporter
 * sets when it sends, counted from the event (now less the NAS's own delay, RFC 2866 §5.2).
 * Its key is the NAS, Acct-Session-Id, Acct-Status-Type and Event-Timestamp (an Interim-Update's also its
 * Acct-Session-Time), so the NAS's retransmission, even as a new request with a longer delay, is the same record
 * and two records are never one. Without Event-Timestamp or Acct-Session-Time where they would tell records
 * apart (Accounting-On/Off, an interim), the Request Authenticator does: a retransmission repeats it.
 */
export function accountingRecord(now: number, packet: RadiusPacket, nas: string, status: AccountingStatus): AccountingRecord {
  const sessionId = attributeValue(packet, "Acct-Session-Id");
  const delay = attributeValue(packet, "Acct-Delay-Time");
  const stamp = attributeValue(packet, "Event-Timestamp");
  const sessionTime = attributeValue(packet, "Acct-Session-Time");
  const session = typeof sessionId === "string" ? sessionId : "";
  const parts = [nas, session, status];
  if (typeof stamp === "number") parts.push(String(stamp));
  if (status === "Interim-Update" && typeof sessionTime === "number") parts.push(`t${sessionTime}`);
  else if (status !== "Start" && status !== "Stop" && typeof stamp !== "number") parts.push(packet.authenticator.toString("hex"));
  return {
    key: parts.join("|"),
    sessionId: session,
    status,
    eventMs: now - (typeof delay === "number" ? delay * 1000 : 0),
    attributes: packet.attributes.filter((a) => !HOP_ATTRIBUTES.has(a.type)).map(fromRadiusAttribute),
  };
}
