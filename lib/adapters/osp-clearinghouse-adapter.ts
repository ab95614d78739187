// The built-in ClearinghouseAdapter that speaks OSP (ETSI TS 101 321): AuthorisationRequest / UsageIndication out,
// AuthorisationResponse / UsageConfirmation back, correlated by messageId. The bytes go to the clearinghouse role
// over whatever the driver offers (HTTP on the socket driver, a queue in memory, a function call in-process).
// On the terminating side a presented token is validated first (signature, validity, CallId).
import {
  authorisationRequest,
  decodeOspMessage,
  encodeOspMessage,
  usageIndication,
  type OspSpelling,
  type OspTokenValidator,
} from "../../protocols/osp/index.js";
import type {
  AuthoriseRequest,
  AuthoriseResult,
  ClearinghouseAdapter,
  ClearinghouseAnswer,
  Exchange,
  UsageReport,
  UsageResult,
} from "./clearinghouse-adapter.js";

/** Identity and spelling of an OspClearinghouseAdapter. */
export interface OspClearinghouseAdapterOptions {
  /** Role (node name) of the clearinghouse. */
  peer?: string;
  /** Prefix of messageIds, unique per policy server. */
  idPrefix: string;
  /**
   * The run's seeded id source: four characters of it join the per-start tag of the messageIds, so that
   * processes started from one deploy file at the same millisecond still differ. Without it the tag is the
   * time alone (in-memory runs with the same seed stay byte-identical either way).
   */
  random?: () => number;
  spelling?: OspSpelling;
  /** Validates tokens presented on the terminating side; without it tokens pass unchecked. */
  validator?: OspTokenValidator;
}

/** "sip:+15551234@example.com" → "+15551234"; a non-numeric user part is sent as it is. */
export function numberOf(uri: string): string {
  const user = /^(?:sips?|tel):([^@;>]+)/.exec(uri)?.[1];
  return user ?? uri;
}

/** Milliseconds in base 36 (8 characters until 2059), then four characters of the seeded source if given. */
export function startTagOf(nowMs: number, random?: () => number): string {
  let tag = Math.max(0, Math.floor(nowMs)).toString(36);
  if (random) for (let i = 0; i < 4; i++) tag += Math.floor(random() * 36).toString(36);
  return tag;
}

/** The clearinghouse over OSP (ETSI TS 101 321): builds AuthorisationRequests and UsageIndications and reads their answers. */
export class OspClearinghouseAdapter implements ClearinghouseAdapter {
  readonly onWire = true;
  readonly peer: string;
  private nextId = 1;
  /** Per-start part of every messageId: the time of this adapter's first message (and the seeded source's characters). */
  private startTag: string | undefined;
  private readonly spelling: OspSpelling | undefined;

  constructor(private readonly opts: OspClearinghouseAdapterOptions) {
    this.peer = opts.peer ?? "CH";
    this.spelling = opts.spelling;
  }

  /**
   * `pol1-<start tag>-<n>`: unique across restarts of the policy server, which count n from 1 again. The tag
   * is taken from the clock of the first message (a restart comes later), never from a counter.
   */
  private messageId(now: number): string {
    this.startTag ??= startTagOf(now, this.opts.random);
    return `${this.opts.idPrefix}-${this.startTag}-${this.nextId++}`;
  }

  authorise(req: AuthoriseRequest): Exchange<AuthoriseResult> {
    const callId = Buffer.from(req.callId, "utf8");
    if (req.side === "terminating" && req.token && this.opts.validator) {
      const verdict = this.opts.validator.validate(req.token, { callId }, req.now);
      if (!verdict.ok) return { kind: "done", result: { allowed: false, status: 401, reason: `token refused: ${verdict.reason}` } };
    }
    const messageId = this.messageId(req.now);
    const message = authorisationRequest({
      messageId, nowMs: req.now, callId,
      callingNumber: numberOf(req.source), calledNumber: numberOf(req.destination),
    });
    return { kind: "wire", bytes: encodeOspMessage(message, { spelling: this.spelling }), label: "AuthorisationRequest", correlation: messageId };
  }

  reportUsage(rep: UsageReport): Exchange<UsageResult> {
    const messageId = this.messageId(rep.now);
    const message = usageIndication({
      messageId, nowMs: rep.now, transactionId: rep.transactionId ?? "", callId: Buffer.from(rep.callId, "utf8"),
      role: rep.side === "originating" ? "source" : "destination",
      callingNumber: numberOf(rep.source), calledNumber: numberOf(rep.destination),
      durationSeconds: rep.durationS, startTimeMs: rep.startMs, endTimeMs: rep.endMs, terminationCause: 16,
    });
    return { kind: "wire", bytes: encodeOspMessage(message, { spelling: this.spelling }), label: "UsageIndication", correlation: messageId };
  }

  decodeAnswer(bytes: Buffer): ClearinghouseAnswer {
    const message = decodeOspMessage(bytes);
    const c = message.components[0];
    if (c?.kind === "AuthorisationResponse") {
      const dest = c.destinations[0];
      const result: AuthoriseResult = { allowed: c.status.code === 200 && dest !== undefined, status: c.status.code };
      if (c.status.description !== undefined) result.reason = c.status.description;
      const token = dest?.tokens[0];
      if (token) result.token = token;
      const tid = c.transactionId ?? dest?.transactionId;
      if (tid !== undefined) result.transactionId = tid;
      if (dest?.usageDetail) result.timeLimitS = dest.usageDetail.amount;
      return { kind: "authorise", correlation: message.messageId, result };
    }
    if (c?.kind === "UsageConfirmation") {
      return { kind: "usage", correlation: message.messageId, result: { confirmed: c.status.code === 200, status: c.status.code } };
    }
    return { kind: "usage", correlation: message.messageId, result: { confirmed: false, status: 400 } };
  }
}
