// Sans-I/O COPS PDP side of one connection (RFC 2748 §2.3, §3, §4): answers OPN with CAT or CC (redirect),
// echoes KA, answers REQs in the order received, expects one RPT per DEC with a configuration context.
import { CopsDecodeError } from "../cops-decode-error.js";
import { decodeCopsHeader, peekCopsHandle } from "../cops-codec.js";
import { ClientType, ErrorCode, RType } from "../constants.js";
import type {
  CopsCodePair,
  CopsDecision,
  CopsMessage,
  CopsReportMessage,
  CopsRequestMessage,
  CopsServerAddress,
} from "../cops-message.js";
import type { CopsAction, CopsTransportEvent } from "./cops-actions.js";
import { handleHex, handleKey } from "./handle-key.js";
import type { HandleKey } from "./handle-key.js";
import { IntegritySession } from "./integrity-session.js";
import { decodeOrError, integrityCloseError, sendAction } from "./message-io.js";
import type { CopsIntegrityConfig } from "./integrity-session.js";

/** Client type, timers, limits and admission of a CopsPdpConnection. */
export interface CopsPdpOptions {
  /** Client types this PDP serves; OPN for any other gets CC Error 6. */
  clientTypes: number[];
  kaTimerSeconds: number;
  /** Accounting Timer sent in CAT (RFC 2748 §2.2.15); omitted when undefined. */
  acctTimerSeconds?: number;
  /** When set, every OPN is answered by CC Error 12 naming this PDP (RFC 2748 §3.7). */
  redirect?: CopsServerAddress;
  /** Integrity keys; when set, messages without a valid Integrity object close the connection. */
  integrity?: CopsIntegrityConfig;
  /**
   * Integrity keys of the PEP an OPN names (RFC 2748 §2.2.16, a Key ID per PEP); replaces `integrity`. A PEP
   * without keys (undefined) speaks without Integrity.
   */
  integrityFor?: (pepId: string) => CopsIntegrityConfig | undefined;
  /** Admits or refuses an OPN (PEPID, client type) once its Integrity, if any, checked out: an Error refuses it with CC. */
  admitPep?: (pepId: string, clientType: number) => CopsCodePair | undefined;
  /** Most request states open at once; a REQ opening one more gets a DEC with Error 4 (default 10,000). */
  maxRequestStates?: number;
  /** Most REQs waiting for their DEC; one more closes the connection with CC Error 4 (default 2 × maxRequestStates). */
  maxPendingRequests?: number;
}

/** Request states a PDP keeps per connection by default; one more REQ gets DEC Error 4. */
export const DEFAULT_MAX_REQUEST_STATES = 10_000;

/** Why the PDP refused or dropped input: a stable token to count and log by. */
export type CopsPdpRefusal =
  | "bad-message"
  | "before-open"
  | "second-open"
  | "unsupported-client-type"
  | "pep-not-admitted"
  | "integrity-missing"
  | "integrity-failed"
  | "keep-alive-timeout"
  | "no-open"
  | "request-states-full"
  | "pending-requests-full"
  | "malformed-request"
  | "malformed-report"
  | "unexpected-message";

/** What the policy server tells its PDP connection to do: decide, ask to synchronise, close. */
export type CopsPdpCommand =
  | { type: "decide"; handle: Buffer; decisions: CopsDecision[] }
  | { type: "decide-error"; handle: Buffer; error: CopsCodePair }
  | { type: "decide-unsolicited"; handle: Buffer; decisions: CopsDecision[] }
  | { type: "synchronize"; handle?: Buffer }
  | { type: "shutdown"; error?: CopsCodePair; redirect?: CopsServerAddress };

/** What a PDP connection reports: opened, request, report, delete, closed. */
export type CopsPdpEvent =
  | { type: "opened"; pepId: string; clientType: number; lastPdpAddress?: CopsServerAddress }
  | { type: "request"; handle: Buffer; message: CopsRequestMessage }
  | { type: "report"; handle: Buffer; message: CopsReportMessage; answersDecision: boolean }
  | { type: "deleted"; handle: Buffer; reason: CopsCodePair }
  | { type: "sync-complete"; handle?: Buffer }
  | { type: "pep-lost"; reason: string }
  | { type: "closed"; error?: CopsCodePair }
  | { type: "protocol-error"; error: string; copsErrorCode?: CopsCodePair; cause?: CopsPdpRefusal };

interface PendingRequest {
  key: HandleKey;
  answer: CopsMessage | undefined;
  dropped: boolean;
  /** The next unanswered REQ of the same handle. */
  next: PendingRequest | undefined;
}

/** A PDP connection's state: waiting for the PEP's Client-Open, open, or closed (RFC 2748 §2.5). */
export type PdpState = "waiting-open" | "open" | "closed";

/** The PDP side of one COPS connection (RFC 2748): admits the PEP, keeps its request states, answers keep-alives. */
export class CopsPdpConnection {
  private state: PdpState = "waiting-open";
  private clientType = 0;
  private integrity: IntegritySession | undefined;
  /** REQs not yet answered, oldest first from `queueHead` (RFC 2748 §2.3: answered in order). */
  private queue: PendingRequest[] = [];
  private queueHead = 0;
  /** The oldest unanswered REQ of each handle (the others follow by `next`). */
  private readonly unansweredByHandle = new Map<HandleKey, PendingRequest>();
  /** Open request states: the RPTs each still owes. */
  private readonly states = new Map<HandleKey, number>();
  /** When the last message came in: the KA loss timer is re-armed from it when it fires (RFC 2748 §4.4). */
  private lastReceivedMs = 0;
  private readonly maxStates: number;
  private readonly maxPending: number;
  private pepIdentity = "";

  constructor(private readonly options: CopsPdpOptions) {
    this.maxStates = options.maxRequestStates ?? DEFAULT_MAX_REQUEST_STATES;
    this.maxPending = options.maxPendingRequests ?? 2 * this.maxStates;
  }

  /** The PEPID of the accepted OPN ("" before). */
  get pepId(): string {
    return this.pepIdentity;
  }

  get connectionState(): PdpState {
    return this.state;
  }
  get openHandles(): number {
    return this.states.size;
  }
  get unansweredRequests(): number {
    return this.queue.length - this.queueHead;
  }
  /** Report States the PDP still awaits for this Client Handle (RFC 2748 §3.6). */
  pendingReports(handle: Buffer): number {
    return this.states.get(handleKey(handle)) ?? 0;
  }

  /** Takes a command or transport event at `nowMs` (milliseconds) and returns the actions to perform. */
  handle(event: CopsPdpCommand | CopsTransportEvent, nowMs: number): CopsAction<CopsPdpEvent>[] {
    const out: CopsAction<CopsPdpEvent>[] = [];
    switch (event.type) {
      case "connected":
        this.state = "waiting-open";
        out.push({ type: "set-timer", name: "open-timeout", delayMs: 30_000 });
        break;
      case "message":
        this.onMessage(event.bytes, nowMs, out);
        break;
      case "timer":
        if (event.name === "ka-loss" && this.state === "open") {
          const due = this.lastReceivedMs + this.options.kaTimerSeconds * 1000;
          if (nowMs < due) {
            out.push({ type: "set-timer", name: "ka-loss", delayMs: due - nowMs });
            break;
          }
          out.push({ type: "emit", event: { type: "pep-lost", reason: "keep-alive timer expired" } });
          this.closeWithError({ code: ErrorCode.CommunicationFailure, subCode: 0 }, "keep-alive timer expired", out, "keep-alive-timeout");
        } else if (event.name === "open-timeout" && this.state === "waiting-open") {
          this.state = "closed";
          out.push({ type: "emit", event: { type: "protocol-error", error: "no OPN in time", cause: "no-open" } });
          out.push({ type: "close", reason: "no OPN" });
        }
        break;
      case "disconnected":
        if (this.state !== "closed") {
          this.state = "closed";
          out.push({ type: "cancel-timer", name: "ka-loss" });
          out.push({ type: "emit", event: { type: "pep-lost", reason: event.reason ?? "connection closed" } });
        }
        break;
      case "decide":
        this.answer(event.handle, { op: "DEC", clientType: this.clientType, solicited: true, handle: event.handle, decisions: event.decisions }, out);
        break;
      case "decide-error":
        this.answer(event.handle, { op: "DEC", clientType: this.clientType, solicited: true, handle: event.handle, decisions: [], error: event.error }, out);
        break;
      case "decide-unsolicited": {
        if (!this.states.has(handleKey(event.handle))) {
          out.push({ type: "emit", event: { type: "protocol-error", error: `unsolicited DEC on unknown handle ${handleHex(event.handle)}` } });
          break;
        }
        const dec: CopsMessage = { op: "DEC", clientType: this.clientType, solicited: false, handle: event.handle, decisions: event.decisions };
        this.countReports(dec, out);
        this.send(dec, out);
        break;
      }
      case "synchronize": {
        const ssq: CopsMessage = { op: "SSQ", clientType: this.clientType };
        if (event.handle) ssq.handle = event.handle;
        this.send(ssq, out);
        break;
      }
      case "shutdown": {
        const cc: CopsMessage = { op: "CC", clientType: this.clientType, error: event.error ?? { code: ErrorCode.ShuttingDown, subCode: 0 } };
        if (event.redirect) {
          cc.error = { code: ErrorCode.RedirectToPreferredServer, subCode: 0 };
          cc.redirect = event.redirect;
        }
        this.send(cc, out);
        this.state = "closed";
        out.push({ type: "cancel-timer", name: "ka-loss" });
        out.push({ type: "close", reason: "shutdown" });
        break;
      }
    }
    return out;
  }

  private onMessage(bytes: Buffer, nowMs: number, out: CopsAction<CopsPdpEvent>[]): void {
    if (this.state === "closed") return;
    const msg = decodeOrError(bytes);
    if (msg instanceof CopsDecodeError) {
      // With Integrity on, a message that fails it is refused as such, decodable or not (RFC 2748 §2.2.16).
      const verdict = this.integrity?.checkUndecoded(bytes) ?? "ok";
      if (verdict !== "ok") {
        this.closeWithError(integrityCloseError(verdict), `integrity ${verdict}`, out, verdict === "missing" ? "integrity-missing" : "integrity-failed");
        return;
      }
      this.onMalformed(bytes, msg, out);
      return;
    }
    if (msg.op === "OPN" && this.state === "waiting-open") {
      const config = this.options.integrityFor ? this.options.integrityFor(msg.pepId) : this.options.integrity;
      this.integrity = config ? new IntegritySession(config) : undefined;
    }
    if (this.integrity || (this.options.integrity && !this.options.integrityFor)) {
      const verdict = this.integrity ? this.integrity.check(bytes, msg) : "missing";
      if (verdict !== "ok") {
        // An OPN that fails is not answered under the PEP's key: the sender is not known to hold it.
        if (this.state === "waiting-open") this.integrity = undefined;
        this.closeWithError(integrityCloseError(verdict), `integrity ${verdict}`, out, verdict === "missing" ? "integrity-missing" : "integrity-failed");
        return;
      }
    }
    // Any message restarts the KA loss timer (RFC 2748 §4.4): noted here, applied when the timer fires.
    this.lastReceivedMs = nowMs;
    if (this.state === "waiting-open" && msg.op !== "OPN") {
      this.closeWithError({ code: ErrorCode.BadMessageFormat, subCode: 0 }, `${msg.op} before OPN`, out, "before-open");
      return;
    }
    switch (msg.op) {
      case "OPN":
        if (this.state === "open") {
          // One OPN per connection and client type (RFC 2748 §3.6): a second one is a bad message.
          this.closeWithError({ code: ErrorCode.BadMessageFormat, subCode: 0 }, "second OPN on an open connection", out, "second-open");
          break;
        }
        this.onOpen(msg.pepId, msg.clientType, msg.lastPdpAddress, out);
        break;
      case "REQ":
        this.onRequest(msg, out);
        break;
      case "RPT":
        this.onReport(msg, out);
        break;
      case "DRQ":
        this.onDelete(msg.handle, msg.reason, out);
        break;
      case "KA":
        // RFC 2748 §3.8: the PDP echoes the KA.
        this.send({ op: "KA", clientType: ClientType.KeepAlive }, out);
        break;
      case "SSC":
        out.push({ type: "emit", event: msg.handle ? { type: "sync-complete", handle: msg.handle } : { type: "sync-complete" } });
        break;
      case "CC":
        this.state = "closed";
        out.push({ type: "cancel-timer", name: "ka-loss" });
        out.push({ type: "emit", event: { type: "closed", error: msg.error } });
        out.push({ type: "close", reason: `CC error ${msg.error.code}` });
        break;
      default:
        out.push({ type: "emit", event: { type: "protocol-error", error: `unexpected ${msg.op} from PEP`, cause: "unexpected-message" } });
    }
  }

  private onMalformed(bytes: Buffer, err: CopsDecodeError, out: CopsAction<CopsPdpEvent>[]): void {
    let op = 0;
    try {
      op = decodeCopsHeader(bytes).opCode;
    } catch (headerErr) {
      if (!(headerErr instanceof CopsDecodeError)) throw headerErr;
    }
    const handle = peekCopsHandle(bytes);
    if (op === 1 && handle && this.state === "open") {
      // RFC 2748 §3.2: a malformed REQ is answered by a DEC carrying the Error object.
      out.push({ type: "emit", event: { type: "protocol-error", error: err.message, copsErrorCode: err.copsErrorCode, cause: "malformed-request" } });
      this.refuseRequest(handle, err.copsErrorCode, out);
      return;
    }
    if ((op === 3 || op === 4 || op === 10) && this.state === "open") {
      out.push({ type: "emit", event: { type: "protocol-error", error: err.message, copsErrorCode: err.copsErrorCode, cause: "malformed-report" } });
      return;
    }
    // Malformed OPN, unknown op code or undecodable framing: CC with the Error (RFC 2748 §2.2.8, §3.7).
    this.closeWithError(err.copsErrorCode, err.message, out, "bad-message");
  }

  private onOpen(pepId: string, clientType: number, last: CopsServerAddress | undefined, out: CopsAction<CopsPdpEvent>[]): void {
    this.clientType = clientType;
    out.push({ type: "cancel-timer", name: "open-timeout" });
    if (!this.options.clientTypes.includes(clientType)) {
      this.closeWithError({ code: ErrorCode.UnsupportedClientType, subCode: 0 }, `client type ${clientType} not served`, out, "unsupported-client-type");
      return;
    }
    const refusal = this.options.admitPep?.(pepId, clientType);
    if (refusal) {
      this.closeWithError(refusal, `PEPID '${pepId}' not admitted`, out, "pep-not-admitted");
      return;
    }
    this.pepIdentity = pepId;
    if (this.options.redirect) {
      this.send({ op: "CC", clientType, error: { code: ErrorCode.RedirectToPreferredServer, subCode: 0 }, redirect: this.options.redirect }, out);
      this.state = "closed";
      out.push({ type: "close", reason: "redirected" });
      return;
    }
    const cat: CopsMessage = { op: "CAT", clientType, kaTimerSeconds: this.options.kaTimerSeconds };
    if (this.options.acctTimerSeconds !== undefined) cat.acctTimerSeconds = this.options.acctTimerSeconds;
    this.send(cat, out);
    this.state = "open";
    if (this.options.kaTimerSeconds > 0) out.push({ type: "set-timer", name: "ka-loss", delayMs: this.options.kaTimerSeconds * 1000 });
    out.push({ type: "emit", event: last ? { type: "opened", pepId, clientType, lastPdpAddress: last } : { type: "opened", pepId, clientType } });
  }

  private onRequest(msg: CopsRequestMessage, out: CopsAction<CopsPdpEvent>[]): void {
    const key = handleKey(msg.handle);
    if (!this.states.has(key)) {
      if (this.states.size >= this.maxStates) {
        // No more request states on this connection: the REQ is refused on its handle (RFC 2748 §2.2.8, §3.3).
        out.push({ type: "emit", event: { type: "protocol-error", error: `request states full (${this.maxStates})`, copsErrorCode: { code: ErrorCode.UnableToProcess, subCode: 0 }, cause: "request-states-full" } });
        this.refuseRequest(msg.handle, { code: ErrorCode.UnableToProcess, subCode: 0 }, out);
        return;
      }
      if (!this.roomForRequest(out)) return;
      this.states.set(key, 0);
    } else if (!this.roomForRequest(out)) {
      return;
    }
    this.enqueue(key);
    out.push({ type: "emit", event: { type: "request", handle: msg.handle, message: msg } });
  }

  /** False (and the connection closed with CC Error 4) when as many REQs as allowed already wait for a DEC. */
  private roomForRequest(out: CopsAction<CopsPdpEvent>[]): boolean {
    if (this.queue.length - this.queueHead < this.maxPending) return true;
    this.closeWithError({ code: ErrorCode.UnableToProcess, subCode: 0 }, `more than ${this.maxPending} REQs waiting for a DEC`, out, "pending-requests-full");
    return false;
  }

  /** Answers a REQ, in its turn, with a DEC carrying `error` (RFC 2748 §3.3: Handle, Error). */
  private refuseRequest(handle: Buffer, error: CopsCodePair, out: CopsAction<CopsPdpEvent>[]): void {
    if (!this.roomForRequest(out)) return;
    this.enqueue(handleKey(handle));
    this.answer(handle, { op: "DEC", clientType: this.clientType, solicited: true, handle, decisions: [], error }, out);
  }

  private onReport(msg: CopsReportMessage, out: CopsAction<CopsPdpEvent>[]): void {
    const key = handleKey(msg.handle);
    const pendingReports = this.states.get(key);
    if (pendingReports === undefined) {
      out.push({ type: "emit", event: { type: "protocol-error", error: `RPT for unknown handle ${handleHex(msg.handle)}` } });
      return;
    }
    let answersDecision = false;
    if (msg.solicited) {
      if (pendingReports > 0) {
        this.states.set(key, pendingReports - 1);
        answersDecision = true;
      } else {
        out.push({ type: "emit", event: { type: "protocol-error", error: `solicited RPT without a DEC on ${handleHex(msg.handle)}` } });
      }
    }
    out.push({ type: "emit", event: { type: "report", handle: msg.handle, message: msg, answersDecision } });
  }

  private onDelete(handle: Buffer, reason: CopsCodePair, out: CopsAction<CopsPdpEvent>[]): void {
    const key = handleKey(handle);
    this.states.delete(key);
    // Answers still owed to the deleted state are dropped; later ones may now go out.
    for (let p = this.unansweredByHandle.get(key); p !== undefined; p = p.next) p.dropped = true;
    this.unansweredByHandle.delete(key);
    this.flush(out);
    out.push({ type: "emit", event: { type: "deleted", handle, reason } });
  }

  /** Attaches a solicited DEC to the oldest unanswered REQ of `handle`, then sends what is in order. */
  private answer(handle: Buffer, dec: CopsMessage, out: CopsAction<CopsPdpEvent>[]): void {
    const key = handleKey(handle);
    const pending = this.unansweredByHandle.get(key);
    if (!pending) {
      out.push({ type: "emit", event: { type: "protocol-error", error: `no unanswered REQ on handle ${handleHex(handle)}` } });
      return;
    }
    if (pending.next) this.unansweredByHandle.set(key, pending.next);
    else this.unansweredByHandle.delete(key);
    pending.answer = dec;
    this.flush(out);
  }

  private enqueue(key: HandleKey): void {
    const entry: PendingRequest = { key, answer: undefined, dropped: false, next: undefined };
    this.queue.push(entry);
    let last = this.unansweredByHandle.get(key);
    if (last === undefined) {
      this.unansweredByHandle.set(key, entry);
      return;
    }
    while (last.next !== undefined) last = last.next;
    last.next = entry;
  }

  private flush(out: CopsAction<CopsPdpEvent>[]): void {
    for (;;) {
      const head = this.queue[this.queueHead];
      if (head === undefined || (head.answer === undefined && !head.dropped)) break;
      this.queueHead++;
      const answer = head.answer;
      // Sent: the slot (kept until the queue is compacted) no longer pins the DEC and its handle's pool slab.
      head.answer = undefined;
      if (answer && !head.dropped) {
        this.countReports(answer, out);
        this.send(answer, out);
      }
    }
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
  }

  private countReports(dec: CopsMessage, _out: CopsAction<CopsPdpEvent>[]): void {
    if (dec.op !== "DEC") return;
    let configuration = false;
    for (const d of dec.decisions) if (((d.context?.rType ?? 0) & RType.Configuration) !== 0) configuration = true;
    if (!configuration) return;
    const key = handleKey(dec.handle);
    const pendingReports = this.states.get(key);
    if (pendingReports !== undefined) this.states.set(key, pendingReports + 1);
  }

  private send(msg: CopsMessage, out: CopsAction<CopsPdpEvent>[]): void {
    out.push(sendAction(msg, this.integrity));
  }

  /** RFC 2748 §3.7: CC carrying the Error, then the connection is closed. */
  private closeWithError(error: CopsCodePair, why: string, out: CopsAction<CopsPdpEvent>[], cause: CopsPdpRefusal): void {
    this.send({ op: "CC", clientType: this.clientType, error }, out);
    this.state = "closed";
    out.push({ type: "cancel-timer", name: "ka-loss" });
    out.push({ type: "cancel-timer", name: "open-timeout" });
    out.push({ type: "emit", event: { type: "protocol-error", error: why, copsErrorCode: error, cause } });
    out.push({ type: "close", reason: why });
  }
}
