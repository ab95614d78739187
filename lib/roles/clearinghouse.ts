// The OSP clearinghouse (CH of WO 01/35294): authorises calls with one token per destination
// (AuthorisationRequest → AuthorisationResponse) and turns usage into CDRs (UsageIndication →
// UsageConfirmation, sent only once the record is on disk). No I/O of its own: bytes or a message in,
// the answer out, time only from `nowMs`; the HTTP server and the in-memory adapter both call handle().
import * as nodeCrypto from "node:crypto";
import {
  OSP_STATUS,
  OspDecodeError,
  componentKindOf,
  createOspToken,
  decodeOspMessage,
  encodeOspMessage,
  wholeSeconds,
  type OspAuthorisationRequest,
  type OspComponent,
  type OspComponentKind,
  type OspDestination,
  type OspMessage,
  type OspSpelling,
  type OspStatus,
  type OspTokenSigner,
  type OspUsageIndication,
  readOspMessageComponents,
} from "../../protocols/osp/index.js";
import type { CallDetailRecord, CdrStore } from "../adapters/cdr-store.js";
import { selectRoute, type ClearinghouseRoute } from "./clearinghouse-routes.js";

export type { ClearinghouseRoute, ClearinghouseDestination } from "./clearinghouse-routes.js";

/** Routes, CDR store, token signer and spelling of a Clearinghouse. */
export interface ClearinghouseOptions {
  routes: ClearinghouseRoute[];
  store: CdrStore;
  /** Signs tokens (PKCS#7); without it tokens are unsigned TokenInfo XML. */
  signer?: OspTokenSigner;
  /** How long a token stays valid (default 5 min). */
  tokenLifetimeMs?: number;
  /** Spelling of Authorisation* names in answers (default "toolkit"). */
  spelling?: OspSpelling;
  /** Lowest transaction id handed out (default 1). Ids come from the store, never one it handed out before. */
  transactionIdStart?: bigint;
  /** Transaction ids reserved from the store at a time (default 1000): one durable write per block. */
  transactionIdBlock?: number;
  /** Answers to remember for retransmitted requests (default 10 000; at least half of them at any time). */
  replayCacheSize?: number;
  /** How long an answer is remembered for a retransmitted request (default 64 s, past any client's retries). */
  replayWindowMs?: number;
}

/** The clearinghouse's answer to one request: HTTP status, the message and its bytes. */
export interface ClearinghouseReply {
  /** HTTP status to answer with: 200 whenever an OSP answer exists, 400 when the request could not be read at all. */
  httpStatus: number;
  /** The OSP answer (absent only when httpStatus is not 200). */
  message?: OspMessage;
  bytes: Buffer;
}

/** A component of the request that did not decode: answered on its own with Status 400, the others as usual. */
class RefusedComponent {
  constructor(
    readonly kind: OspComponentKind,
    readonly error: OspDecodeError,
  ) {}
}

type RequestPart = OspComponent | RefusedComponent;

/** What a retransmission is answered from: when the request was first answered, and its first transaction id. */
interface Answered {
  at: number;
  transactionId: bigint;
}

/**
 * One generation of remembered answers: by sender, then by body digest (the digest string as the key, no
 * sender + digest string made per request).
 */
class AnsweredGeneration {
  private readonly bySender = new Map<string, Map<string, Answered>>();
  size = 0;

  get(sender: string, digest: string): Answered | undefined {
    return this.bySender.get(sender)?.get(digest);
  }

  set(sender: string, digest: string, entry: Answered): void {
    let answers = this.bySender.get(sender);
    if (answers === undefined) {
      answers = new Map();
      this.bySender.set(sender, answers);
    }
    if (!answers.has(digest)) this.size++;
    answers.set(digest, entry);
  }

  delete(sender: string, digest: string): void {
    if (this.bySender.get(sender)?.delete(digest)) this.size--;
  }
}

const ANSWER_KIND: Partial<Record<OspComponentKind, OspComponentKind>> = {
  AuthorisationRequest: "AuthorisationResponse",
  AuthorisationIndication: "AuthorisationConfirmation",
  ReauthorisationRequest: "ReauthorisationResponse",
  UsageIndication: "UsageConfirmation",
  CapabilitiesIndication: "CapabilitiesConfirmation",
  PricingIndication: "PricingConfirmation",
};

/** The OSP clearinghouse (CH): authorises calls from its routes, signs tokens, stores a CDR before it confirms usage. */
export class Clearinghouse {
  /** Transaction ids reserved from the store and not handed out yet: next … blockEnd - 1. */
  private nextTransactionId = 0n;
  private blockEnd = 0n;
  /**
   * Sender + messageId + body digest → when it was answered and its first transaction id. Only the same sender
   * sending the same bytes is a retransmission; it is answered again from these (same transaction, validity and
   * destinations, same timestamp; byte-identical with a deterministic signer: Ed25519, RSA PKCS#1 v1.5,
   * unsigned), so the cache holds a few bytes per request, not the answer. Anything else is a new request,
   * whatever its messageId (the toolkit gives every request of one second the same one).
   * Two generations, so that forgetting is dropping a whole generation: deleting entries one by one from the
   * front of a Map leaves V8 holes that every later front lookup walks over.
   */
  private answered = new AnsweredGeneration();
  private answeredBefore = new AnsweredGeneration();
  private generationStartedAt = -Infinity;

  constructor(readonly options: ClearinghouseOptions) {}

  /**
   * Sans-I/O core: one OSP request in (bytes or a decoded message), its answer out; time only from nowMs.
   * `decoded` is the request already decoded by the caller (the bytes still identify a retransmission).
   */
  handle(request: Buffer | string | OspMessage, nowMs: number, peer?: string, decoded?: OspMessage): Promise<ClearinghouseReply> {
    let message: OspMessage;
    let parts: RequestPart[];
    let body: Buffer | string;
    try {
      if (typeof request === "string" || Buffer.isBuffer(request)) {
        body = request;
        message = decoded ?? decodeOspMessage(request);
      } else {
        message = request;
        body = encodeOspMessage(request);
      }
      parts = message.components;
    } catch (err) {
      if (!(err instanceof OspDecodeError)) throw err;
      if (err.component === undefined) return Promise.resolve(this.answerUndecodable(request as Buffer | string, err, nowMs));
      // A component that does not decode is refused on its own; the others of its Message are answered as usual.
      body = request as Buffer | string;
      let reading: ReturnType<typeof readOspMessageComponents>;
      try {
        reading = readOspMessageComponents(body);
      } catch (documentError) {
        // e.g. an unknown critical element after the refused component: the Message as a whole is refused
        if (!(documentError instanceof OspDecodeError)) throw documentError;
        return Promise.resolve(this.answerUndecodable(body, documentError, nowMs));
      }
      parts = reading.components.map((r) => (r.ok ? r.component : new RefusedComponent(r.kind, r.error)));
      message = { messageId: reading.messageId, components: reading.components.flatMap((r) => (r.ok ? [r.component] : [])) };
    }
    const digest = bodyDigest(body);
    // The digest covers the whole body, messageId included: sender + digest names a retransmission.
    const sender = peer ?? "";
    const random = randomAttribute(digest);
    const earlier = this.recall(sender, digest, nowMs);
    if (earlier) return this.answer(message.messageId, parts, earlier.at, peer, { next: earlier.transactionId }, random);
    // Transaction ids are taken now, in arrival order, whatever the order the answers complete in.
    let authorisations = 0;
    for (const c of message.components) if (c.kind === "AuthorisationRequest") authorisations++;
    let firstTransactionId: bigint;
    try {
      firstTransactionId = this.takeTransactionIds(authorisations);
    } catch (err) {
      // No id that is surely new: refuse for now (503, retry later) rather than risk reusing one.
      const status = { code: OSP_STATUS.unavailable, description: `transaction ids unavailable: ${err instanceof Error ? err.message : String(err)}`.slice(0, 200) };
      const refusals = parts.map((c) =>
        c instanceof RefusedComponent ? refusedAnswer(c, nowMs) : statusAnswer(ANSWER_KIND[c.kind] ?? "UsageConfirmation", c.componentId, nowMs, status),
      );
      return Promise.resolve(this.reply(message.messageId, refusals, random));
    }
    const reply = this.answer(message.messageId, parts, nowMs, peer, { next: firstTransactionId }, random);
    this.remember(sender, digest, { at: nowMs, transactionId: firstTransactionId }, nowMs);
    reply.catch(() => {
      this.answered.delete(sender, digest);
      this.answeredBefore.delete(sender, digest);
    });
    return reply;
  }

  /** `count` consecutive transaction ids, from the current block or a new one the store reserves durably. */
  private takeTransactionIds(count: number): bigint {
    if (count === 0) return this.nextTransactionId;
    if (this.nextTransactionId + BigInt(count) > this.blockEnd) {
      const block = Math.max(count, this.options.transactionIdBlock ?? 1000);
      this.nextTransactionId = this.options.store.reserveTransactionIds(block, this.options.transactionIdStart ?? 1n);
      this.blockEnd = this.nextTransactionId + BigInt(block);
    }
    const first = this.nextTransactionId;
    this.nextTransactionId += BigInt(count);
    return first;
  }

  /**
   * A new generation starts when the current one holds half of `replayCacheSize` answers or is
   * `replayWindowMs` old; the one before it is dropped then. So an answer is kept for at least half the cache
   * size of later requests, and never answers after the window (64 s, past any client's retries).
   */
  private remember(sender: string, digest: string, entry: Answered, nowMs: number): void {
    const half = Math.max(1, Math.ceil((this.options.replayCacheSize ?? 10_000) / 2));
    if (this.answered.size >= half || nowMs - this.generationStartedAt >= (this.options.replayWindowMs ?? 64_000)) {
      this.answeredBefore = this.answered;
      this.answered = new AnsweredGeneration();
      this.generationStartedAt = nowMs;
    }
    this.answered.set(sender, digest, entry);
  }

  private recall(sender: string, digest: string, nowMs: number): Answered | undefined {
    const entry = this.answered.get(sender, digest) ?? this.answeredBefore.get(sender, digest);
    return entry !== undefined && entry.at > nowMs - (this.options.replayWindowMs ?? 64_000) ? entry : undefined;
  }

  private async answer(messageId: string, parts: RequestPart[], nowMs: number, peer: string | undefined, transactionIds: { next: bigint }, random: string): Promise<ClearinghouseReply> {
    const components: OspComponent[] = [];
    for (const c of parts) {
      components.push(c instanceof RefusedComponent ? refusedAnswer(c, nowMs) : await this.answerComponent(c, messageId, nowMs, peer, transactionIds));
    }
    return this.reply(messageId, components, random);
  }

  private reply(messageId: string, components: OspComponent[], random: string): ClearinghouseReply {
    const message: OspMessage = { messageId, random, components };
    return { httpStatus: 200, message, bytes: encodeOspMessage(message, { spelling: this.options.spelling }) };
  }

  private async answerComponent(
    c: OspComponent,
    messageId: string,
    nowMs: number,
    peer: string | undefined,
    transactionIds: { next: bigint },
  ): Promise<OspComponent> {
    switch (c.kind) {
      case "AuthorisationRequest":
        return this.authorise(c, nowMs, peer, transactionIds.next++);
      case "UsageIndication":
        return this.recordUsage(c, messageId, nowMs, peer);
      case "AuthorisationIndication":
      case "ReauthorisationRequest":
      case "CapabilitiesIndication":
      case "PricingIndication":
        return statusAnswer(ANSWER_KIND[c.kind]!, c.componentId, nowMs, { code: OSP_STATUS.success, description: "success" });
      default:
        // A response or confirmation sent to the clearinghouse: nothing to answer it with but a refusal.
        return statusAnswer("UsageConfirmation", c.componentId, nowMs, { code: OSP_STATUS.badRequest, description: `unexpected ${c.kind}` });
    }
  }

  private authorise(req: OspAuthorisationRequest, nowMs: number, peer: string | undefined, transactionNumber: bigint): OspComponent {
    const calledNumber = req.destinationInfo.find((d) => d.type === "e164")?.value ?? req.destinationInfo[0]?.value;
    const callingNumber = req.sourceInfo.find((d) => d.type === "e164")?.value ?? req.sourceInfo[0]?.value;
    const sourceAddress = req.sourceAlternates.find((d) => d.type === "transport")?.value;
    const refuse = (code: number, description: string): OspComponent => {
      const rsp: OspComponent = { kind: "AuthorisationResponse", timestamp: wholeSeconds(nowMs), status: { code, description }, destinations: [] };
      if (req.componentId !== undefined) rsp.componentId = req.componentId;
      return rsp;
    };
    if (calledNumber === undefined) return refuse(OSP_STATUS.badRequest, "no DestinationInfo");
    const decision = selectRoute(this.options.routes, { calledNumber, callingNumber, sourceAddress, peer });
    if (!decision.ok) {
      return decision.reason === "no-route"
        ? refuse(OSP_STATUS.noRoute, `no route to ${calledNumber}`)
        : refuse(OSP_STATUS.forbidden, "source not authorised for this route");
    }
    const route = decision.route;
    const transactionId = String(transactionNumber);
    const validAfter = wholeSeconds(nowMs);
    const validUntil = validAfter + wholeSeconds(this.options.tokenLifetimeMs ?? 300_000);
    const callId = req.callIds[0] ?? Buffer.alloc(0);
    const usageDetail = route.timeLimitSeconds !== undefined ? { service: {}, amount: route.timeLimitSeconds, increment: 1, unit: "s" } : undefined;
    const max = Math.max(1, req.maximumDestinations ?? route.destinations.length);
    const destinations = route.destinations.slice(0, max).map((d): OspDestination => {
      const number = d.number ?? calledNumber;
      const destinationInfo = [{ type: "e164", value: number }];
      const token = createOspToken(
        {
          sourceInfo: req.sourceInfo,
          // One DestinationInfo (the number), as the toolkit's TokenInfo holds a single destination number;
          // the address goes in DestinationAlternate, so each destination's token is distinct.
          destinationInfo,
          destinationAlternates: [{ type: "transport", value: d.address }],
          callId,
          validAfter,
          validUntil,
          transactionId,
          ...(usageDetail ? { usageDetail } : {}),
        },
        this.options.signer,
      );
      // No TransactionId inside Destination: the toolkit refuses it there (it is on the response).
      const dest: OspDestination = {
        validAfter,
        validUntil,
        callId,
        destinationInfo,
        destinationSignalAddress: d.address,
        tokens: [token],
        destinationAlternates: [],
      };
      if (usageDetail) dest.usageDetail = usageDetail;
      return dest;
    });
    const rsp: OspComponent = {
      kind: "AuthorisationResponse",
      timestamp: validAfter,
      status: { code: OSP_STATUS.success, description: "success" },
      transactionId,
      destinations,
    };
    if (req.componentId !== undefined) rsp.componentId = req.componentId;
    return rsp;
  }

  private async recordUsage(ind: OspUsageIndication, messageId: string, nowMs: number, peer: string | undefined): Promise<OspComponent> {
    const detail = ind.usageDetails[0];
    const record: CallDetailRecord = { messageId, componentId: ind.componentId ?? "", receivedAt: nowMs };
    const set = <K extends keyof CallDetailRecord>(k: K, v: CallDetailRecord[K] | undefined): void => {
      if (v !== undefined) record[k] = v;
    };
    set("role", ind.role);
    set("transactionId", ind.transactionId);
    set("callId", ind.callId?.toString("base64"));
    set("source", ind.sourceInfo[0]?.value);
    set("destination", ind.destinationInfo[0]?.value);
    set("destinationSignalAddress", ind.destinationSignalAddress ?? ind.destinationAlternates.find((a) => a.type === "transport")?.value);
    set("startTime", ind.startTime ?? detail?.startTime);
    set("endTime", ind.endTime ?? detail?.endTime);
    set("duration", detail?.amount);
    set("unit", detail?.unit);
    set("terminationCause", ind.terminationCause?.code);
    set("peer", peer);
    let status: OspStatus;
    try {
      // The confirmation is built only after the store says the record is on disk.
      await this.options.store.insertOnce(record);
      status = { code: OSP_STATUS.success, description: "success" };
    } catch (err) {
      status = { code: OSP_STATUS.unavailable, description: `usage not recorded: ${err instanceof Error ? err.message : String(err)}` };
    }
    return statusAnswer("UsageConfirmation", ind.componentId, nowMs, status);
  }

  /**
   * A document that does not decode as a whole (not XML, no messageId, …): answered in OSP, with the first
   * component's componentId and the error's element path in the Status Description, when its messageId and
   * first component can be seen in its text, else HTTP 400.
   */
  private answerUndecodable(request: Buffer | string, err: OspDecodeError, nowMs: number): ClearinghouseReply {
    const text = (typeof request === "string" ? request : request.toString("utf8")).slice(0, 4096);
    // Echoed only when made of characters an XML attribute can carry (§2.2): the text itself may not be XML.
    const messageId = /<Message\b[^>]*\bmessageId="([^"<>&\x00-\x1f\ud800-\udfff\ufffe\uffff]{1,64})"/.exec(text)?.[1];
    const start = /<Message\b[^>]*>\s*<([A-Za-z]+)\b([^>]*)>/.exec(text);
    const componentName = start?.[1];
    const componentId = start ? /\bcomponentId="([^"<>&\x00-\x1f\ud800-\udfff\ufffe\uffff]{1,64})"/.exec(start[2] ?? "")?.[1] : undefined;
    const kind = componentName ? componentKindOf(componentName) : undefined;
    const answerKind = kind ? ANSWER_KIND[kind] : undefined;
    if (messageId === undefined || answerKind === undefined) {
      return { httpStatus: 400, bytes: Buffer.from(`${err.message}\n`) };
    }
    const status = { code: err.ospStatusCode ?? OSP_STATUS.badRequest, description: `${err.path || "(document)"}: ${err.reason}`.slice(0, 200) };
    const random = randomAttribute(bodyDigest(request));
    return this.reply(messageId, [statusAnswer(answerKind, componentId, nowMs, status)], random);
  }
}

/** The answer to a component that did not decode: Status 400 (or the error's code), the element path and why. */
function refusedAnswer(refused: RefusedComponent, nowMs: number): OspComponent {
  const { error } = refused;
  const status = { code: error.ospStatusCode, description: `${error.path || "(document)"}: ${error.reason}`.slice(0, 200) };
  return statusAnswer(ANSWER_KIND[refused.kind] ?? "UsageConfirmation", error.componentId, nowMs, status);
}

/** SHA-256 of a request body, base64: crypto.hash (Node ≥ 20.12) is one call, about a third of createHash's cost. */
const bodyDigest: (body: Buffer | string) => string =
  typeof nodeCrypto.hash === "function"
    ? (body) => nodeCrypto.hash("sha256", body, "base64")
    : (body) => nodeCrypto.createHash("sha256").update(body).digest("base64");

/** The answer's `random` attribute, from the request's digest so that a retransmission gets the same answer. */
function randomAttribute(digest: string): string {
  // The digest's first 32 bits, read from its first six base64 characters (RFC 4648 §4) without a Buffer.
  let bits = 0;
  for (let i = 0; i < 6; i++) bits = bits * 64 + BASE64_VALUE.indexOf(digest[i] ?? "A");
  return String(1 + (Math.floor(bits / 16) % 65_535));
}

const BASE64_VALUE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

function statusAnswer(kind: OspComponentKind, componentId: string | undefined, nowMs: number, status: OspStatus): OspComponent {
  const base = { timestamp: wholeSeconds(nowMs), status, ...(componentId !== undefined ? { componentId } : {}) };
  switch (kind) {
    case "AuthorisationResponse":
    case "ReauthorisationResponse":
      return { kind, ...base, destinations: [] };
    case "AuthorisationConfirmation":
    case "UsageConfirmation":
    case "CapabilitiesConfirmation":
    case "PricingConfirmation":
      return { kind, ...base };
    default:
      return { kind: "UsageConfirmation", ...base };
  }
}
