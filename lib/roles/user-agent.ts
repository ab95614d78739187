// A SIP user agent (RFC 3261 §8, §12-§15) as a sans-I/O node: places calls (UAC) and answers them (UAS) with
// an answer delay, busy (486), decline (603), no answer, CANCEL, and hang-up by either side. Dialogs live:
// re-INVITE and UPDATE (RFC 3311) with offer/answer (RFC 3264, protocols/sdp), glare (491, §14.1 retry),
// session timers (RFC 4028), reliable provisionals (RFC 3262), INFO, OPTIONS and MESSAGE (RFC 3428) answered.
import { buildRequest, buildResponse, ownString, type SipHeader, type SipRequest, type SipResponse } from "../../protocols/sip/index.js";
import { OfferAnswerSession, SdpParseError, answerOffer, parseSdp, writeOffer, serializeSdp, type LocalCodec, type OfferAnswerOptions, type SessionDescription } from "../../protocols/sdp/index.js";
import { readSdp } from "../../protocols/sdp/streams.js";
import { SipIds } from "./sip-ids.js";
import type { FlowNode, NodeAction, NodeEvent } from "../drivers/node.js";
import type { CallEvent } from "../flow/call-events.js";
import { SipTransactionLayer, sipSend, uriText, type ServerTx } from "./sip-transaction-layer.js";

/**
 * A new offer this side makes within a call (RFC 3264 §8), this long after the dialog is confirmed: by re-INVITE
 * (RFC 3261 §14.1) or by UPDATE (RFC 3311).
 */
export interface PlannedReinvite {
  afterMs: number;
  /** Offer a=sendonly (hold, RFC 3264 §8.4); false offers sendrecv again (resume). */
  hold: boolean;
  /**
   * The request that carries the offer (default INVITE). PRACK: the caller's offer goes in the PRACK of the
   * callee's first reliable 18x whose answer completed the INVITE's offer (RFC 3262 §5); `afterMs` is not used.
   */
  method?: "INVITE" | "UPDATE" | "PRACK";
  /** Offer this one encoding alone from now on (RFC 3264 §8.3.2). */
  codec?: MediaCodecName;
  /** Receive the media at this address from now on (RFC 3264 §8.3.1). */
  mediaAddress?: string;
}

/** Encodings a user agent can be told to offer alone (RFC 3551 static payload types it takes). */
export type MediaCodecName = "PCMU" | "PCMA" | "G729";

/** The encoding of each MediaCodecName. */
const CODEC_BY_NAME: Readonly<Record<MediaCodecName, LocalCodec>> = {
  PCMU: { name: "PCMU", clockRate: 8000, payload: 0 },
  PCMA: { name: "PCMA", clockRate: 8000, payload: 8 },
  G729: { name: "G729", clockRate: 8000, payload: 18 },
};

/** A new offer as the user agent makes it: a PlannedReinvite without its delay. */
type MediaChangeWish = Omit<PlannedReinvite, "afterMs">;

/** A call the UAC places: Call-ID, parties, when it starts, and how it ends (hang-up, CANCEL, give-up). */
export interface PlannedCall {
  callId: string;
  from: string;
  to: string;
  startMs: number;
  /** Caller hangs up this long after the 200 OK (when `hangUp` is "caller"). */
  durationMs: number;
  hangUp: "caller" | "callee";
  cancelAfterMs?: number;
  /** The caller gives up (CANCEL) when no final answer came by then; default 60 s. */
  noAnswerTimeoutMs?: number;
  /** Re-INVITEs the caller sends during the call (hold, resume). */
  reinvites?: PlannedReinvite[];
  /** The INVITE carries no offer: the callee offers in its 2xx and the ACK answers (RFC 3261 §13.2.1). */
  lateOffer?: boolean;
  /**
   * The INVITE says `Require: 100rel` (RFC 3262): the callee's 18x is reliable and PRACKed. With `lateOffer`, the
   * callee offers in that 18x and the PRACK answers (§5).
   */
  require100rel?: boolean;
}

/** How the UAS answers an INVITE: answer after a delay, busy, decline or no answer, and whether it hangs up. */
export interface CalleeBehaviour {
  outcome: "answer" | "busy" | "decline" | "no-answer";
  answerDelayMs: number;
  /** Callee hangs up this long after answering (when `hangsUp`). */
  durationMs: number;
  hangsUp: boolean;
  /** Re-INVITEs the callee sends once the ACK came (hold, resume). */
  reinvites?: PlannedReinvite[];
}

/** Name, outbound proxy, addresses and transport of a UserAgent, the calls it places (UAC) and how it answers (UAS). */
export interface UserAgentOptions {
  name: string;
  /** Outbound proxy role every request goes to. */
  proxy: string;
  host: string;
  mediaAddress: string;
  /** The transport named in its Via and Contact; TCP and TLS are reliable (no retransmissions). */
  transport?: "UDP" | "TCP" | "TLS";
  calls?: PlannedCall[];
  /** UAS: how to answer each INVITE. */
  behaviour?: (callId: string, invite: SipRequest) => CalleeBehaviour;
  t1?: number;
  /** Branches and tags; a flow passes one seeded from its run's seed so runs repeat byte for byte. */
  ids?: SipIds;
  /** UAS: send 18x reliably (RFC 3262) when the INVITE says Supported: 100rel (always when it says Require). */
  reliableProvisionals?: boolean;
  /** Smallest session interval accepted (RFC 4028 Min-SE, seconds; at least 90). */
  minSessionExpiresS?: number;
  /** Draws for the §14.1 glare back-off, in [0, 1) (default Math.random). */
  random?: () => number;
  /**
   * UAC: the header that answers a 401/407 to a call's INVITE (RFC 3261 §22.2, §22.3), or undefined to give up;
   * the INVITE goes again with it (same Call-ID and From tag, CSeq + 1). At most two tries per call.
   */
  authenticate?: (callId: string, challenge: SipResponse, invite: SipRequest) => SipHeader | undefined;
}

type DialogState = "calling" | "early" | "confirmed" | "ending" | "ended";

/** What only the INVITE transaction and the wait for the ACK need; dropped once the dialog is confirmed both ways. */
interface UaSetup {
  invite: SipRequest | undefined;
  inviteServerTx: ServerTx | undefined;
  provisionalSeen: boolean;
  cancelWanted: boolean;
  plan: PlannedCall | undefined;
  behaviour: CalleeBehaviour | undefined;
  /** The SDP answer, made once and sent in the 180 and the 200 (RFC 3264 §6). */
  answer: string | undefined;
  /** UAS: the offer went in the 200 (the INVITE had none), its answer comes in the ACK (RFC 3261 §13.2.1). */
  lateOffer: boolean;
  /** UAS: the reliable 18x (RFC 3262) waiting for its PRACK, and the 200 waiting behind it. */
  reliable18x: SipResponse | undefined;
  rseq: number;
  answerWaitsForPrack: boolean;
  /** RFC 4028 headers for the 2xx, decided from the INVITE. */
  timer: SessionTimer | undefined;
  /** UAC: INVITEs sent again with credentials after a 401/407 (RFC 3261 §22.2). */
  authTries?: number;
  /** UAS: the reliable 18x carried our offer (the INVITE had none, RFC 3262 §5); the PRACK answers it. */
  offerIn18x?: boolean;
  /** UAC: the RSeq last PRACKed; a reliable 18x not above it is a retransmission, discarded (RFC 3262 §4). */
  prackedRseq?: number;
}

/** A session interval agreed (RFC 4028 §7, §9): who refreshes, and whether the peer asked for Require: timer. */
interface SessionTimer {
  intervalS: number;
  refresher: "uac" | "uas";
  require: boolean;
}

/** One dialog (RFC 3261 §12): what in-dialog requests and teardown need, plus the setup state until confirmed. */
class UaCall {
  /** Local CSeq (RFC 3261 §12.2.1.1). */
  cseq = 0;
  /** Highest CSeq seen from the peer (§12.2.2: a lower one is refused 500). */
  remoteCseq = -1;
  /** Local and remote URI and tag of the dialog (RFC 3261 §12.1.1, §12.1.2): From and To of in-dialog requests. */
  localUri = "";
  localTag = "";
  remoteUri = "";
  remoteTag: string | undefined = undefined;
  /** Route set as Route values, in the order they are sent (§12.1.1 / §12.1.2). */
  routeSet: readonly string[] = NO_ROUTES;
  remoteTarget = "";
  /** UA timers (T_* bits) set and neither fired nor cancelled: only those are cancelled. */
  armed = 0;
  /** Driver key per UA timer ("ua:<what>:<Call-ID>"), made once per call so the driver hashes it once. */
  timerKeys: (string | undefined)[] | undefined = undefined;
  /** The 2xx to an INVITE retransmitted until its ACK (RFC 3261 §13.3.1.4), and its current interval. */
  pending2xx: SipResponse | undefined = undefined;
  retransmitMs = 0;
  /** The initial offer's (or answer's) session id and port (RFC 3264 §8: re-offers keep them). */
  mediaSessionId = 0;
  mediaPort = 0;
  /** The peer's Allow included UPDATE (a refresh then needs no SDP, RFC 4028 §7.4). */
  peerAllowsUpdate = false;
  /** What only a dialog that does more than a plain call needs: made on first use, so plain calls stay small. */
  private ext: DialogExtras | undefined = undefined;
  private extras(): DialogExtras {
    return (this.ext ??= new DialogExtras());
  }
  /** Offer/answer of the dialog (made when first needed). */
  get media(): OfferAnswerSession | undefined {
    return this.ext?.media;
  }
  set media(v: OfferAnswerSession | undefined) {
    this.extras().media = v;
  }
  /** Our re-INVITE or UPDATE is outstanding (one at a time, §14.1). */
  get outgoing(): boolean {
    return this.ext?.outgoing ?? false;
  }
  set outgoing(v: boolean) {
    this.extras().outgoing = v;
  }
  /** The CSeq of our last INVITE (its ACK's). */
  get inviteCseq(): number {
    return this.ext?.inviteCseq ?? 1;
  }
  set inviteCseq(v: number) {
    this.extras().inviteCseq = v;
  }
  /** RFC 4028 interval in force (0: none); we refresh when `refresher` is "local". */
  get sessionIntervalS(): number {
    return this.ext?.sessionIntervalS ?? 0;
  }
  set sessionIntervalS(v: number) {
    this.extras().sessionIntervalS = v;
  }
  get refresher(): "local" | "remote" {
    return this.ext?.refresher ?? "remote";
  }
  set refresher(v: "local" | "remote") {
    this.extras().refresher = v;
  }
  /** Planned re-INVITEs not yet sent. */
  get reinvites(): PlannedReinvite[] | undefined {
    return this.ext?.reinvites;
  }
  set reinvites(v: PlannedReinvite[] | undefined) {
    this.extras().reinvites = v;
  }
  /** The answer our ACK to the 2xx of this CSeq carried (late offer), sent again with a retransmitted 2xx's ACK. */
  get ackAnswer(): { cseq: number; sdp: string } | undefined {
    return this.ext?.ackAnswer;
  }
  set ackAnswer(v: { cseq: number; sdp: string } | undefined) {
    this.extras().ackAnswer = v;
  }
  /** The offer to make again after a 491. */
  get retryChange(): MediaChangeWish | undefined {
    return this.ext?.retryChange;
  }
  set retryChange(v: MediaChangeWish | undefined) {
    this.extras().retryChange = v;
  }
  /** The encodings and media address our offers carry, when a media change set them. */
  get offerCodecs(): readonly LocalCodec[] | undefined {
    return this.ext?.offerCodecs;
  }
  set offerCodecs(v: readonly LocalCodec[] | undefined) {
    this.extras().offerCodecs = v;
  }
  get mediaAddress(): string | undefined {
    return this.ext?.mediaAddress;
  }
  set mediaAddress(v: string | undefined) {
    this.extras().mediaAddress = v;
  }
  constructor(
    readonly callId: string,
    readonly side: "caller" | "callee",
    public state: DialogState,
    public setup: UaSetup | undefined,
  ) {}
}

/** Re-INVITE, UPDATE and session-timer state of a dialog (see UaCall.ext). */
class DialogExtras {
  media: OfferAnswerSession | undefined = undefined;
  outgoing = false;
  inviteCseq = 1;
  sessionIntervalS = 0;
  refresher: "local" | "remote" = "remote";
  reinvites: PlannedReinvite[] | undefined = undefined;
  retryChange: MediaChangeWish | undefined = undefined;
  ackAnswer: { cseq: number; sdp: string } | undefined = undefined;
  offerCodecs: readonly LocalCodec[] | undefined = undefined;
  mediaAddress: string | undefined = undefined;
}

const NO_ROUTES: readonly string[] = [];
const INTERNED_MAX = 256;

const DEFAULT_NO_ANSWER_MS = 60_000;

/** Methods this UA implements (RFC 3261 §20.5 Allow), and the option tags it supports (§20.37, §8.2.2.3). */
const ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, INFO, PRACK, MESSAGE";
const ALLOWED = new Set(ALLOW.split(", "));
const SUPPORTED = "100rel, timer";
const SUPPORTED_TAGS = new Set(["100rel", "timer"]);
/** The codecs the UA offers and accepts (RFC 3551 static payload types). */
const UA_CODECS: readonly LocalCodec[] = [{ name: "PCMU", clockRate: 8000, payload: 0 }, { name: "PCMA", clockRate: 8000, payload: 8 }, { name: "G729", clockRate: 8000, payload: 18 }];
/** Longest session interval kept (RFC 4028 §9 lets the UAS shorten it, not below Min-SE): one day. */
const MAX_SESSION_INTERVAL_S = 86_400;
/** RFC 4028 §4: Min-SE is never below 90 s. */
const MIN_SE_FLOOR = 90;

// UA timers of one call (bit numbers of UaCall.armed) and the <what> of their keys.
const T_CANCEL = 0;
const T_NOANSWER = 1;
const T_HANGUP = 2;
const T_ANSWER = 3;
const T_2XX = 4;
const T_2XX_GIVEUP = 5;
const T_REL = 6;
const T_REL_GIVEUP = 7;
const T_REINVITE = 8;
const T_GLARE = 9;
const T_REFRESH = 10;
const T_EXPIRE = 11;
const TIMER_WHAT = ["cancel", "noanswer", "hangup", "answer", "2xx", "2xxgiveup", "rel", "relgiveup", "reinvite", "glare", "refresh", "expire"] as const;

/** The option tags of a list header (Require, Supported: comma-separated tokens). */
function optionTags(req: SipRequest | SipResponse, name: string): string[] {
  const out: string[] = [];
  for (const v of req.getHeaders(name)) for (const t of v.split(",")) if (t.trim()) out.push(t.trim().toLowerCase());
  return out;
}

/** Whether a list header (Require, Supported, Allow) names `tag` (lower case), in any case: optionTags(...).includes(tag) without the list. */
function hasOptionTag(m: SipRequest | SipResponse, name: string, tag: string): boolean {
  for (const v of m.getHeaders(name)) {
    let start = 0;
    for (;;) {
      const comma = v.indexOf(",", start);
      const t = (comma < 0 ? v.slice(start) : v.slice(start, comma)).trim();
      // Lower-casing keeps the length of every token that can become an ASCII tag.
      if (t.length === tag.length && t.toLowerCase() === tag) return true;
      if (comma < 0) break;
      start = comma + 1;
    }
  }
  return false;
}

/**
 * A call's offer/answer options, read when used: a media change may move the address or narrow the encodings for
 * the rest of the dialog (RFC 3264 §8.3); the dialog keeps its port, a re-offer or re-answer moves nothing (§8).
 */
class CallMediaOptions implements OfferAnswerOptions {
  readonly sessionId: string;
  constructor(
    private readonly call: UaCall,
    private readonly fallback: string,
  ) {
    this.sessionId = String(call.mediaSessionId);
  }
  get address(): string {
    return this.call.mediaAddress ?? this.fallback;
  }
  get codecs(): readonly LocalCodec[] {
    return this.call.offerCodecs ?? UA_CODECS;
  }
  port(): number {
    return this.call.mediaPort;
  }
}

/** Session-Expires (RFC 4028 §4): "<delta-seconds>[;refresher=uac|uas]". */
function sessionExpiresOf(m: SipRequest | SipResponse): { intervalS: number; refresher: "uac" | "uas" | undefined } | undefined {
  const v = m.getHeader("Session-Expires");
  if (v === undefined) return undefined;
  const x = /^\s*(\d{1,9})\s*(?:;(.*))?$/.exec(v);
  if (!x) return undefined;
  const r = /(?:^|;)\s*refresher\s*=\s*(uac|uas)\s*(?:;|$)/i.exec(x[2] ?? "");
  return { intervalS: Number(x[1]), refresher: r ? (r[1]!.toLowerCase() as "uac" | "uas") : undefined };
}

export class UserAgent implements FlowNode<CallEvent> {
  readonly name: string;
  private readonly sip: SipTransactionLayer;
  private readonly calls = new Map<string, UaCall>();
  private mediaPort = 20_000;
  private readonly reliable: boolean;
  private readonly t1: number;
  private readonly minSe: number;
  private readonly random: () => number;

  private ids: SipIds;

  constructor(private readonly opts: UserAgentOptions) {
    this.name = opts.name;
    this.ids = opts.ids ?? new SipIds();
    this.reliable = opts.transport === "TCP" || opts.transport === "TLS";
    this.t1 = opts.t1 ?? 500;
    this.minSe = Math.max(MIN_SE_FLOOR, opts.minSessionExpiresS ?? MIN_SE_FLOOR);
    this.random = opts.random ?? Math.random;
    this.sip = new SipTransactionLayer({ reliable: this.reliable, t1: this.t1, sendTrying: false });
  }

  /** Tags and branches from node:crypto instead of the run's seed (RFC 3261 §19.3: tags must be globally unique). */
  drawFreshIdentifiers(): void {
    this.ids = new SipIds();
  }

  /** Dialogs and transactions still held (0 once every call has ended and its transactions finished). */
  get activeCalls(): number {
    return this.calls.size;
  }

  get pendingTransactions(): number {
    return this.sip.pending;
  }

  /** Place a call now or later (UAC): returns the actions to run. */
  place(plan: PlannedCall, now: number): NodeAction<CallEvent>[] {
    return [{ type: "set-timer", key: `ua:start:${plan.callId}`, delayMs: Math.max(0, plan.startMs - now) }, ...this.remember(plan)];
  }

  private remember(plan: PlannedCall): NodeAction<CallEvent>[] {
    this.pendingPlans.set(plan.callId, plan);
    return [];
  }

  private readonly pendingPlans = new Map<string, PlannedCall>();

  handle(ev: NodeEvent): NodeAction<CallEvent>[] {
    switch (ev.type) {
      case "start": {
        const out: NodeAction<CallEvent>[] = [];
        for (const plan of this.opts.calls ?? []) out.push(...this.place(plan, ev.now));
        return out;
      }
      case "deliver": {
        if (ev.proto !== "SIP") return [];
        const { actions, inbound } = this.sip.receive(ev.bytes, ev.from, ev.now);
        if (!inbound) return actions;
        if (inbound.kind === "request") return [...actions, ...this.onRequest(inbound.request, inbound.serverTx, ev.now)];
        if (inbound.kind === "ack") return [...actions, ...this.onAck(inbound.request, ev.now)];
        return [...actions, ...this.onStrayResponse(inbound.response)];
      }
      case "timer":
        if (this.sip.isTimer(ev.key)) return this.sip.timer(ev.key, ev.now);
        return this.onTimer(ev.key, ev.now);
      case "restart":
        this.sip.reset();
        this.calls.clear();
        return [];
      default:
        return [];
    }
  }

  // ---- offer/answer ----

  private mediaOptions(call: UaCall): OfferAnswerOptions {
    return new CallMediaOptions(call, this.opts.mediaAddress);
  }

  /** The dialog's offer/answer session, made on first use (the caller's first offer adopted when known). */
  private mediaOf(call: UaCall): OfferAnswerSession {
    if (call.media === undefined) {
      if (call.mediaSessionId === 0) {
        call.mediaSessionId = this.mediaPort;
        call.mediaPort = this.nextMediaPort();
      }
      call.media = new OfferAnswerSession(this.mediaOptions(call));
      if (call.side === "caller") {
        const first = parseSdp(this.callerOffer(call));
        call.media.adopt(first, undefined);
      } else if (call.setup?.answer !== undefined || (call.state !== "early" && !call.setup?.lateOffer)) call.media.continueFrom("1"); // after our first answer (version 1)
    }
    return call.media;
  }

  /** The caller's first offer (RFC 3264 §5), the same text for the same session id and port. */
  private callerOffer(call: UaCall): string {
    return serializeOffer(this.mediaOptions(call));
  }

  // ---- UAC ----

  private startCall(plan: PlannedCall, now: number): NodeAction<CallEvent>[] {
    const tag = this.ids.nextTag();
    const branch = this.ids.nextBranch();
    const call = new UaCall(plan.callId, "caller", "calling", undefined);
    call.mediaSessionId = now + this.mediaPort;
    call.mediaPort = this.nextMediaPort();
    const offer = plan.lateOffer ? undefined : this.callerOffer(call);
    const invite = buildRequest({
      method: "INVITE",
      uri: plan.to,
      from: `<${plan.from}>;tag=${tag}`,
      to: `<${plan.to}>`,
      callId: plan.callId,
      cseq: 1,
      via: { host: this.opts.host, transport: this.opts.transport ?? "UDP", branch },
      contact: `<${this.contactUri(plan.from)}>`,
      ...(plan.require100rel ? { extraHeaders: [{ name: "Supported", value: "100rel" }, { name: "Require", value: "100rel" }] } : {}),
      ...(offer !== undefined ? { body: offer, contentType: "application/sdp" } : {}),
    });
    call.setup = {
      invite, inviteServerTx: undefined, provisionalSeen: false, cancelWanted: false, plan, behaviour: undefined, answer: undefined,
      lateOffer: false, reliable18x: undefined, rseq: 0, answerWaitsForPrack: false, timer: undefined,
    };
    // The plan's URIs are shared with the plan, not copied.
    call.localUri = plan.from;
    call.localTag = tag;
    call.remoteUri = plan.to;
    call.cseq = 1;
    call.remoteTarget = plan.to;
    if (plan.reinvites !== undefined && plan.reinvites.length > 0) call.reinvites = plan.reinvites.slice();
    this.calls.set(plan.callId, call);
    const out: NodeAction<CallEvent>[] = this.sip.sendRequest(invite, this.opts.proxy, now, {
      onResponse: (res, t) => this.onInviteResponse(call, res, t),
      onTimeout: (t) => this.finish(call, t, { status: 408, reason: "no response (Timer B)" }),
    }, branch);
    if (plan.cancelAfterMs !== undefined) out.push(setTimer(call, T_CANCEL, plan.cancelAfterMs));
    out.push(setTimer(call, T_NOANSWER, plan.noAnswerTimeoutMs ?? DEFAULT_NO_ANSWER_MS));
    out.push(this.step(call, "INVITE sent"));
    return out;
  }

  private onInviteResponse(call: UaCall, res: SipResponse, now: number): NodeAction<CallEvent>[] {
    if (call.state === "ended") return [];
    const setup = call.setup;
    if (res.status < 200) {
      if (setup === undefined) return [];
      // RFC 3261 §9.1: any provisional, 100 included, allows a CANCEL.
      setup.provisionalSeen = true;
      if (res.status > 100) {
        if (call.state === "calling") call.state = "early";
        const tag = res.to.tag;
        if (tag !== undefined) call.remoteTag = ownString(tag);
      }
      const out: NodeAction<CallEvent>[] = [];
      // RFC 3262 §4: a reliable provisional is acknowledged with PRACK (RAck: RSeq, CSeq number, method).
      const rseq = Number((res.getHeader("RSeq") ?? "").trim());
      if (res.status > 100 && Number.isInteger(rseq) && rseq > 0 && hasOptionTag(res, "Require", "100rel") && rseq > (setup.prackedRseq ?? 0)) {
        setup.prackedRseq = rseq;
        const early = this.earlySdp(call, setup, res);
        out.push(...this.sendPrack(call, res, String(rseq), early.answer, now));
        if (early.refused !== undefined) {
          // RFC 3261 §9.1: an offer we cannot take leaves no session to set up
          out.push(this.step(call, `18x offer refused (${early.refused}): CANCEL`));
          setup.cancelWanted = true;
        }
      }
      if (setup.cancelWanted) out.push(...this.sendCancel(call, now));
      return out;
    }
    if (res.status < 300) return this.onInvite2xx(call, res, now);
    // Non-2xx final: the transaction sent the ACK (RFC 3261 §17.1.1.3).
    if ((res.status === 401 || res.status === 407) && setup?.invite !== undefined && (setup.authTries ?? 0) < 2 && !setup.cancelWanted) {
      const credentials = this.opts.authenticate?.(call.callId, res, setup.invite);
      if (credentials !== undefined) return this.sendInviteWithCredentials(call, setup, credentials, now);
    }
    return this.finish(call, now, { status: res.status, reason: res.reason });
  }

  /** The INVITE again with credentials (RFC 3261 §22.2): a new transaction, CSeq one higher, the same offer. */
  private sendInviteWithCredentials(call: UaCall, setup: UaSetup, credentials: SipHeader, now: number): NodeAction<CallEvent>[] {
    const first = setup.invite!;
    const branch = this.ids.nextBranch();
    const cseq = ++call.cseq;
    call.inviteCseq = cseq;
    const invite = buildRequest({
      method: "INVITE",
      uri: first.uri,
      from: first.getHeader("From") ?? "",
      to: first.getHeader("To") ?? "",
      callId: call.callId,
      cseq,
      via: { host: this.opts.host, transport: this.opts.transport ?? "UDP", branch },
      contact: first.getHeader("Contact") ?? "",
      extraHeaders: [credentials],
      body: first.body.toString("utf8"),
      contentType: "application/sdp",
    });
    setup.invite = invite;
    setup.authTries = (setup.authTries ?? 0) + 1;
    call.state = "calling";
    call.remoteTag = undefined;
    setup.provisionalSeen = false;
    return [
      ...this.sip.sendRequest(invite, this.opts.proxy, now, {
        onResponse: (res, t) => this.onInviteResponse(call, res, t),
        onTimeout: (t) => this.finish(call, t, { status: 408, reason: "no response (Timer B)" }),
      }, branch),
      this.step(call, "INVITE sent with credentials"),
    ];
  }

  /**
   * The SDP of a reliable 18x (RFC 3262 §5): with a late offer, the callee's offer, answered in the PRACK (a refusing
   * answer, every stream port 0, when none is acceptable); otherwise the answer to our offer, taken into the session.
   */
  private earlySdp(call: UaCall, setup: UaSetup, res: SipResponse): { answer?: string; refused?: string } {
    const sdp = sdpOf(res);
    if (sdp === undefined) return {};
    if (setup.plan?.lateOffer) {
      if (call.media !== undefined) return {};
      const media = new OfferAnswerSession(this.mediaOptions(call));
      const outcome = media.receiveOffer(sdp);
      if (outcome.kind === "answer") {
        call.media = media;
        return { answer: serializeSdpText(outcome.answer) };
      }
      return { answer: serializeSdpText(answerOffer(sdp, this.mediaOptions(call), "1").answer), refused: outcome.reason };
    }
    const media = this.mediaOf(call);
    if (media.state === "stable" && media.remote === undefined) media.remote = sdp;
    return {};
  }

  private sendPrack(call: UaCall, res: SipResponse, rseq: string, answer: string | undefined, now: number): NodeAction<CallEvent>[] {
    const tag = res.to.tag;
    if (tag !== undefined) call.remoteTag = ownString(tag);
    const contact = res.contact;
    const first = contact === "*" ? undefined : contact[0];
    if (first) call.remoteTarget = this.shared(uriText(first.uri));
    const rr = res.getHeaders("Record-Route");
    if (rr.length > 0) call.routeSet = this.sharedRoutes(rr.reverse());
    const branch = this.ids.nextBranch();
    const rack = { name: "RAck", value: `${rseq} ${res.cseq.seq} INVITE` };
    const wish = call.reinvites?.[0];
    const media = answer === undefined && wish?.method === "PRACK" && call.side === "caller" ? this.mediaOf(call) : undefined;
    if (media !== undefined && wish !== undefined && media.state === "stable" && media.remote !== undefined) {
      // RFC 3262 §5: the 18x's answer completed the INVITE's offer, so a new offer may go in the PRACK.
      call.reinvites!.shift();
      const before = { hold: media.hold, codecs: call.offerCodecs, address: call.mediaAddress };
      media.hold = wish.hold;
      if (wish.codec !== undefined) call.offerCodecs = [CODEC_BY_NAME[wish.codec]];
      if (wish.mediaAddress !== undefined) call.mediaAddress = wish.mediaAddress;
      const restore = (): void => {
        if (media.state === "local-offer") media.rollback();
        media.hold = before.hold;
        call.offerCodecs = before.codecs;
        call.mediaAddress = before.address;
      };
      const offer = media.createOffer();
      if (offer !== undefined) {
        const prack = this.inDialogRequest(call, "PRACK", ++call.cseq, branch, [rack], serializeSdpText(offer));
        const out = this.sip.sendRequest(prack, this.opts.proxy, now, {
          onResponse: (r, t) => this.onPrackOfferResponse(call, r, restore, (at) => this.sendPlainPrack(call, rack, at), t),
          onTimeout: () => (restore(), []),
        }, branch);
        out.push(this.step(call, "PRACK sent with an offer"));
        return out;
      }
      restore();
    }
    const prack = this.inDialogRequest(call, "PRACK", ++call.cseq, branch, [rack], answer);
    return this.sip.sendRequest(prack, this.opts.proxy, now, { onResponse: () => [] }, branch);
  }

  private sendPlainPrack(call: UaCall, rack: SipHeader, now: number): NodeAction<CallEvent>[] {
    if (call.state !== "early") return [];
    const branch = this.ids.nextBranch();
    const prack = this.inDialogRequest(call, "PRACK", ++call.cseq, branch, [rack]);
    return this.sip.sendRequest(prack, this.opts.proxy, now, { onResponse: () => [] }, branch);
  }

  /** The answer to an offer in our PRACK comes in its 2xx (RFC 3262 §5); a refusal leaves the session as it was (RFC 3264 §8). */
  private onPrackOfferResponse(call: UaCall, res: SipResponse, restore: () => void, prackAgain: (now: number) => NodeAction<CallEvent>[], now: number): NodeAction<CallEvent>[] {
    if (res.status < 200) return [];
    const media = this.mediaOf(call);
    if (res.status >= 300) {
      // A refused PRACK acknowledged nothing (RFC 3262 §4): the 18x is PRACKed again, without the offer.
      restore();
      return [this.step(call, `PRACK offer refused ${res.status}: the session stays`), ...prackAgain(now)];
    }
    const answer = sdpOf(res);
    const check = answer === undefined ? { kind: "invalid" as const, reason: "no answer in the PRACK's 2xx" } : media.receiveAnswer(answer);
    if (check.kind !== "ok") {
      restore();
      return [this.step(call, `PRACK answer refused: ${check.reason}`)];
    }
    return [this.step(call, "PRACK offer answered")];
  }

  private onInvite2xx(call: UaCall, res: SipResponse, now: number): NodeAction<CallEvent>[] {
    const setup = call.setup;
    if (setup === undefined || call.state === "confirmed" || call.state === "ending") return [this.ack(call, res.cseq.seq)]; // retransmitted 2xx: ACK again
    // RFC 3261 §12.1.2: the dialog's remote tag, route set (Record-Route reversed) and remote target (Contact).
    const tag = res.to.tag;
    if (tag !== undefined) call.remoteTag = ownString(tag);
    const plan = setup.plan;
    const rr = res.getHeaders("Record-Route");
    if (rr.length > 0) call.routeSet = this.sharedRoutes(rr.reverse());
    const contact = res.contact;
    const first = contact === "*" ? undefined : contact[0];
    if (first) call.remoteTarget = this.shared(uriText(first.uri));
    call.state = "confirmed";
    call.setup = undefined;
    call.peerAllowsUpdate = allowsUpdate(res);
    let refusedOffer: string | undefined;
    // (a late offer answered in a PRACK already has its session: RFC 3262 §5)
    if (plan?.lateOffer && call.media === undefined) {
      // RFC 3261 §13.2.1: the offer is in the 2xx and the ACK answers it.
      const media = new OfferAnswerSession(this.mediaOptions(call));
      call.media = media;
      const offer = sdpOf(res);
      const outcome = offer === undefined ? undefined : media.receiveOffer(offer);
      if (outcome?.kind === "answer") call.ackAnswer = { cseq: res.cseq.seq, sdp: serializeSdpText(outcome.answer) };
      else {
        refusedOffer = outcome === undefined ? "no offer in the 2xx" : outcome.reason;
        // §13.2.1: still a valid answer in the ACK, every stream refused (port 0 with the offered formats, RFC 3264 §6)
        if (offer !== undefined) call.ackAnswer = { cseq: res.cseq.seq, sdp: serializeSdpText(answerOffer(offer, this.mediaOptions(call), "1").answer) };
      }
    }
    const out: NodeAction<CallEvent>[] = [this.ack(call, res.cseq.seq)];
    cancelTimer(call, T_CANCEL, out);
    cancelTimer(call, T_NOANSWER, out);
    if (refusedOffer !== undefined) {
      // §13.2.1: an offer the caller cannot answer: the session is ended at once.
      out.push(this.step(call, `2xx offer refused (${refusedOffer}): BYE`), ...this.hangUp(call, now));
      return out;
    }
    if (!plan?.lateOffer && (call.media !== undefined || call.reinvites !== undefined)) {
      // the answer to our first offer, when re-offers will follow (RFC 3264 §8)
      const media = this.mediaOf(call);
      const answer = sdpOf(res);
      if (answer !== undefined && media.state === "stable" && media.remote === undefined) media.remote = answer;
    }
    this.armSessionTimer(call, sessionExpiresOf(res), "uac", out);
    out.push({ type: "emit", event: { type: "established", callId: call.callId, role: this.name, at: now } });
    if (plan?.hangUp === "caller") out.push(setTimer(call, T_HANGUP, plan.durationMs));
    this.armNextReinvite(call, out);
    return out;
  }

  private ack(call: UaCall, cseq: number): NodeAction<CallEvent> {
    // RFC 3261 §13.2.2.4: the ACK for a 2xx is a new transaction-less request in the dialog, CSeq of its INVITE.
    const answer = call.ackAnswer;
    const ack = this.inDialogRequest(call, "ACK", cseq, undefined, undefined, answer !== undefined && answer.cseq === cseq ? answer.sdp : undefined);
    return sipSend(this.opts.proxy, ack);
  }

  private sendCancel(call: UaCall, now: number): NodeAction<CallEvent>[] {
    const setup = call.setup;
    const invite = setup?.invite;
    if (!setup || !invite || call.state === "confirmed" || call.state === "ended") return [];
    if (!setup.provisionalSeen) {
      setup.cancelWanted = true; // RFC 3261 §9.1: no CANCEL before a provisional response
      return [];
    }
    setup.cancelWanted = false;
    // RFC 3261 §9.1: same Request-URI, Call-ID, From, To, CSeq number and top Via as the INVITE.
    const cancel = buildRequest({
      method: "CANCEL",
      uri: invite.uri,
      from: invite.getHeader("From") ?? "",
      to: invite.getHeader("To") ?? "",
      callId: call.callId,
      cseq: invite.cseq.seq,
      via: invite.getHeaders("Via").slice(0, 1),
    });
    return [...this.sip.sendRequest(cancel, this.opts.proxy, now, { onResponse: () => [] }), this.step(call, "CANCEL sent")];
  }

  // ---- re-INVITE and UPDATE sent (RFC 3261 §14.1, RFC 3311, RFC 4028 refresh) ----

  private armNextReinvite(call: UaCall, out: NodeAction<CallEvent>[]): void {
    // an offer meant for a PRACK that no reliable 18x called for is not sent later by other means
    while (call.reinvites?.[0]?.method === "PRACK") call.reinvites.shift();
    const next = call.reinvites?.[0];
    if (next !== undefined) out.push(setTimer(call, T_REINVITE, next.afterMs));
  }

  /** Send a new offer (hold, resume, another encoding or address) by re-INVITE or UPDATE, or retry one after 491. */
  private sendReinvite(call: UaCall, change: MediaChangeWish, now: number, why: string): NodeAction<CallEvent>[] {
    if (call.state !== "confirmed" || call.outgoing) return [];
    const media = this.mediaOf(call);
    // What the offer changes, kept to put back if the peer refuses it (RFC 3264 §8: the old session stays).
    const before = { hold: media.hold, codecs: call.offerCodecs, address: call.mediaAddress };
    media.hold = change.hold;
    if (change.codec !== undefined) call.offerCodecs = [CODEC_BY_NAME[change.codec]];
    if (change.mediaAddress !== undefined) call.mediaAddress = change.mediaAddress;
    const offer = media.createOffer();
    if (offer === undefined) {
      media.hold = before.hold;
      call.offerCodecs = before.codecs;
      call.mediaAddress = before.address;
      return [];
    }
    const restore = (): void => {
      media.rollback();
      media.hold = before.hold;
      call.offerCodecs = before.codecs;
      call.mediaAddress = before.address;
    };
    call.outgoing = true;
    const method = change.method ?? "INVITE";
    const cseq = ++call.cseq;
    if (method === "INVITE") call.inviteCseq = cseq;
    const branch = this.ids.nextBranch();
    const extra: SipHeader[] = [{ name: "Allow", value: ALLOW }, { name: "Supported", value: SUPPORTED }];
    if (call.sessionIntervalS > 0) extra.push({ name: "Session-Expires", value: `${call.sessionIntervalS};refresher=${call.refresher === "local" ? "uac" : "uas"}` });
    const req = this.inDialogRequest(call, method, cseq, branch, extra, serializeSdpText(offer));
    const out = this.sip.sendRequest(req, this.opts.proxy, now, {
      onResponse: (res, t) => this.onReinviteResponse(call, res, change, restore, t),
      onTimeout: (t) => {
        call.outgoing = false;
        restore();
        return this.hangUp(call, t);
      },
    }, branch);
    out.push(this.step(call, `${method === "INVITE" ? "re-INVITE" : "UPDATE"} sent (${why})`));
    return out;
  }

  private onReinviteResponse(call: UaCall, res: SipResponse, change: MediaChangeWish, restore: () => void, now: number): NodeAction<CallEvent>[] {
    if (res.status < 200 || call.state === "ended") return [];
    const media = this.mediaOf(call);
    call.outgoing = false;
    const invite = (change.method ?? "INVITE") === "INVITE";
    if (res.status < 300) {
      // RFC 3261 §13.2.2.4: a 2xx to an INVITE is acknowledged; an UPDATE's is not (RFC 3311 §5.1).
      const out: NodeAction<CallEvent>[] = invite ? [this.ack(call, res.cseq.seq)] : [];
      const answer = sdpOf(res);
      const check = answer === undefined ? { kind: "invalid" as const, reason: "no answer in the 2xx" } : media.receiveAnswer(answer);
      if (check.kind !== "ok") {
        // RFC 3261 §14.1 / RFC 3264: an unusable answer ends the session we cannot describe.
        out.push(this.step(call, `${invite ? "re-INVITE" : "UPDATE"} answer refused: ${check.reason}`));
        out.push(...this.hangUp(call, now));
        return out;
      }
      this.armSessionTimer(call, sessionExpiresOf(res), "uac", out);
      out.push(this.step(call, change.hold ? "held" : change.codec !== undefined || change.mediaAddress !== undefined ? "media changed" : "resumed"));
      this.armNextReinvite(call, out);
      return out;
    }
    restore();
    if (res.status === 422 && this.takeMinSe(call, res)) return this.sendReinvite(call, change, now, "Session-Expires raised to Min-SE");
    if (res.status === 491) {
      // RFC 3261 §14.1: the Call-ID's owner waits 2.1-4 s, the other side 0-2 s, in units of 10 ms.
      const units = Math.floor(this.random() * 200);
      const delay = call.side === "caller" ? 2100 + units * 10 : units * 10;
      call.retryChange = change;
      return [setTimer(call, T_GLARE, delay), this.step(call, `491: retry in ${delay} ms`)];
    }
    // §14.1: 481 or 408 to a re-INVITE ends the dialog; other refusals leave the session as it was.
    if (res.status === 481 || res.status === 408) return this.hangUp(call, now);
    const out: NodeAction<CallEvent>[] = [this.step(call, `${invite ? "re-INVITE" : "UPDATE"} refused ${res.status}: the media stays as it was`)];
    this.armNextReinvite(call, out);
    return out;
  }

  /** RFC 4028 §7.4: the refresher refreshes at half the interval, by UPDATE without SDP when the peer allows it. */
  private sendRefresh(call: UaCall, now: number): NodeAction<CallEvent>[] {
    if (call.state !== "confirmed" || call.outgoing) return [];
    if (!call.peerAllowsUpdate) return this.sendReinvite(call, { hold: call.media?.hold ?? false }, now, "session refresh");
    call.outgoing = true;
    const branch = this.ids.nextBranch();
    const req = this.inDialogRequest(call, "UPDATE", ++call.cseq, branch, [
      { name: "Session-Expires", value: `${call.sessionIntervalS};refresher=uac` },
      { name: "Supported", value: SUPPORTED },
    ]);
    return [
      ...this.sip.sendRequest(req, this.opts.proxy, now, {
        onResponse: (res, t) => {
          if (res.status < 200) return [];
          call.outgoing = false;
          const out: NodeAction<CallEvent>[] = [];
          if (res.status < 300) this.armSessionTimer(call, sessionExpiresOf(res), "uac", out);
          else if (res.status === 422 && this.takeMinSe(call, res)) return this.sendRefresh(call, t);
          else if (res.status === 481 || res.status === 408) return this.hangUp(call, t);
          return out;
        },
        onTimeout: (t) => this.hangUp(call, t),
      }, branch),
      this.step(call, "UPDATE sent (session refresh)"),
    ];
  }

  /** RFC 4028 §7.3: a 422 names the smallest interval the peer takes (Min-SE); retry with it once it is larger. */
  private takeMinSe(call: UaCall, res: SipResponse): boolean {
    const minSe = Number(/^\s*(\d{1,9})/.exec(res.getHeader("Min-SE") ?? "")?.[1] ?? NaN);
    if (!(minSe > call.sessionIntervalS) || minSe > MAX_SESSION_INTERVAL_S) return false;
    call.sessionIntervalS = minSe;
    return true;
  }

  /**
   * Start (or restart) the session timer from the Session-Expires of a 2xx or request (RFC 4028 §7, §9, §10):
   * `weAre` is our role in that transaction. The refresher refreshes at half the interval; either side ends
   * the session with BYE when no refresh came by the interval minus min(32 s, a third of it).
   */
  private armSessionTimer(call: UaCall, se: ReturnType<typeof sessionExpiresOf>, weAre: "uac" | "uas", out: NodeAction<CallEvent>[]): void {
    if (se === undefined || se.intervalS === 0) return;
    se = { intervalS: Math.min(se.intervalS, MAX_SESSION_INTERVAL_S), refresher: se.refresher };
    call.sessionIntervalS = se.intervalS;
    call.refresher = (se.refresher ?? "uas") === weAre ? "local" : "remote";
    cancelTimer(call, T_REFRESH, out);
    cancelTimer(call, T_EXPIRE, out);
    if (call.refresher === "local") out.push(setTimer(call, T_REFRESH, (se.intervalS * 1000) / 2));
    out.push(setTimer(call, T_EXPIRE, (se.intervalS - Math.min(32, se.intervalS / 3)) * 1000));
  }

  // ---- UAS ----

  private onRequest(req: SipRequest, serverTx: ServerTx, now: number): NodeAction<CallEvent>[] {
    const method = req.method;
    if (method === "CANCEL") return this.onCancel(req, serverTx, now);
    // RFC 3261 §8.2.1: a method we do not implement gets 405 with Allow.
    if (!ALLOWED.has(method)) return this.reply(serverTx, req, 405, now, [{ name: "Allow", value: ALLOW }]);
    // §8.2.2.3: an option tag in Require we do not support gets 420 with Unsupported naming it.
    const unsupported = optionTags(req, "Require").filter((t) => !SUPPORTED_TAGS.has(t));
    if (unsupported.length > 0) return this.reply(serverTx, req, 420, now, [{ name: "Unsupported", value: unsupported.join(", ") }]);
    const toTag = req.to.tag;
    if (method === "INVITE" && toTag === undefined) return this.onInvite(req, serverTx, now);
    if (method === "OPTIONS") return this.reply(serverTx, req, 200, now, this.capabilities());
    if (method === "MESSAGE" && toTag === undefined) return this.reply(serverTx, req, 200, now); // RFC 3428 §7
    // In-dialog requests (§12.2.2): the dialog must exist, and CSeq must not go back.
    const call = this.calls.get(req.callId);
    if (call === undefined || toTag === undefined || toTag !== call.localTag) return this.reply(serverTx, req, 481, now);
    if (req.cseq.seq < call.remoteCseq) return this.reply(serverTx, req, 500, now, [{ name: "Retry-After", value: "0" }]);
    call.remoteCseq = req.cseq.seq;
    switch (method) {
      case "BYE":
        return this.onBye(call, req, serverTx, now);
      case "INVITE":
        return this.onReinvite(call, req, serverTx, now);
      case "UPDATE":
        return this.onUpdate(call, req, serverTx, now);
      case "PRACK":
        return this.onPrack(call, req, serverTx, now);
      default: // INFO (RFC 6086 legacy use), MESSAGE in a dialog: accepted
        return this.reply(serverTx, req, 200, now);
    }
  }

  private capabilities(): SipHeader[] {
    return [{ name: "Allow", value: ALLOW }, { name: "Supported", value: SUPPORTED }, { name: "Accept", value: "application/sdp" }];
  }

  private reply(serverTx: ServerTx, req: SipRequest, status: number, now: number, headers: SipHeader[] = [], body?: string): NodeAction<CallEvent>[] {
    const res = buildResponse(req, status, status === 422 ? "Session Interval Too Small" : undefined, {
      toTag: this.ids.nextTag(), extraHeaders: headers,
      ...(body !== undefined ? { body, contentType: "application/sdp" } : {}),
    });
    return this.sip.respond(serverTx, res, now);
  }

  /** RFC 4028 §9 at the UAS: too small an interval is 422 with Min-SE; else the interval and refresher answered. */
  private negotiateTimer(req: SipRequest): SessionTimer | "too-small" | undefined {
    const se = sessionExpiresOf(req);
    if (se === undefined) return undefined;
    if (se.intervalS < this.minSe) return "too-small";
    const uacSupports = hasOptionTag(req, "Supported", "timer") || hasOptionTag(req, "Require", "timer");
    const refresher = se.refresher === "uas" || !uacSupports ? "uas" : "uac";
    return { intervalS: Math.min(se.intervalS, MAX_SESSION_INTERVAL_S), refresher, require: uacSupports };
  }

  private timerHeaders(t: SessionTimer | undefined): SipHeader[] {
    if (t === undefined) return [];
    const out: SipHeader[] = [{ name: "Session-Expires", value: `${t.intervalS};refresher=${t.refresher}` }];
    if (t.require) out.push({ name: "Require", value: "timer" });
    return out;
  }

  private onInvite(req: SipRequest, serverTx: ServerTx, now: number): NodeAction<CallEvent>[] {
    const callId = req.callId;
    if (this.calls.has(callId)) return []; // the same INVITE forked back to us, or a Call-ID reused: not a new call
    const timer = this.negotiateTimer(req);
    if (timer === "too-small") return this.reply(serverTx, req, 422, now, [{ name: "Min-SE", value: String(this.minSe) }]);
    const behaviour = this.opts.behaviour?.(callId, req) ?? { outcome: "answer", answerDelayMs: 0, durationMs: 0, hangsUp: false };
    const from = req.from;
    const contact = req.contact;
    const first = contact === "*" ? undefined : contact[0];
    const call = new UaCall(ownString(callId), "callee", "early", {
      invite: req, inviteServerTx: serverTx, provisionalSeen: true, cancelWanted: false, plan: undefined, behaviour, answer: undefined,
      lateOffer: false, reliable18x: undefined, rseq: 0, answerWaitsForPrack: false, timer,
    });
    // RFC 3261 §12.1.1: the dialog as the UAS sees it (route set = Record-Route in order, target = Contact).
    const localUri = this.shared(uriText(req.to.uri));
    const localTag = this.ids.nextTag();
    call.localUri = localUri;
    call.localTag = localTag;
    call.remoteUri = ownString(uriText(from.uri));
    call.remoteCseq = req.cseq.seq;
    const remoteTag = from.tag;
    if (remoteTag) call.remoteTag = ownString(remoteTag);
    const rr = req.getHeaders("Record-Route");
    if (rr.length > 0) call.routeSet = this.sharedRoutes(rr);
    call.remoteTarget = first ? ownString(uriText(first.uri)) : call.remoteUri;
    call.peerAllowsUpdate = allowsUpdate(req);
    if (behaviour.reinvites !== undefined && behaviour.reinvites.length > 0) call.reinvites = behaviour.reinvites.slice();
    this.calls.set(call.callId, call);
    if (behaviour.outcome === "busy") return this.rejectInvite(call, 486, now);
    if (behaviour.outcome === "decline") return this.rejectInvite(call, 603, now);
    const setup = call.setup!;
    // RFC 3264 §6 / RFC 3261 §13.2.1: answer the offer, or offer in the 200 when the INVITE had none.
    if (req.body.length === 0) setup.lateOffer = true;
    else {
      let offer: Readonly<SessionDescription>;
      try {
        // The offer both proxies read, read once (a shared description: answerOffer only reads it).
        offer = readSdp(req.body);
      } catch (err) {
        if (!(err instanceof SdpParseError)) throw err;
        return this.rejectInvite(call, 400, now, `Bad SDP: ${err.code} at line ${err.line}`);
      }
      // The first answer needs no session state: a later offer continues from its version (see mediaOf).
      call.mediaSessionId = this.mediaPort;
      call.mediaPort = this.nextMediaPort();
      const { answer, accepted } = answerOffer(offer, this.mediaOptions(call), "1");
      if (accepted === 0) return this.rejectInvite(call, 488, now, undefined, [{ name: "Warning", value: `304 ${this.opts.host} "Media type not available"` }]);
      setup.answer = serializeSdpText(answer);
    }
    const reliable = hasOptionTag(req, "Require", "100rel") || (this.opts.reliableProvisionals === true && hasOptionTag(req, "Supported", "100rel"));
    const extra: SipHeader[] = [];
    if (reliable) {
      // RFC 3262 §3: Require: 100rel and an RSeq; retransmitted until PRACKed.
      setup.rseq = 1 + Math.floor(this.random() * 1000);
      extra.push({ name: "Require", value: "100rel" }, { name: "RSeq", value: String(setup.rseq) });
    }
    let early = setup.answer;
    if (reliable && setup.lateOffer) {
      // RFC 3262 §5, RFC 3261 §13.2.1: the offer goes in the first reliable non-failure response, the PRACK answers.
      const offer = this.mediaOf(call).createOffer();
      if (offer !== undefined) {
        early = serializeSdpText(offer);
        setup.offerIn18x = true;
      }
    }
    const ringing = buildResponse(req, 180, "Ringing", {
      toTag: localTag, contact: `<${this.contactUri(localUri)}>`, extraHeaders: extra,
      ...(early !== undefined ? { body: early, contentType: "application/sdp" } : {}),
    });
    const out = this.sip.respond(serverTx, ringing, now);
    if (reliable) {
      setup.reliable18x = ringing;
      call.retransmitMs = this.t1;
      if (!this.reliable) out.push(setTimer(call, T_REL, this.t1));
      out.push(setTimer(call, T_REL_GIVEUP, 64 * this.t1));
    }
    out.push(this.step(call, "ringing"));
    if (behaviour.outcome === "answer") out.push(setTimer(call, T_ANSWER, behaviour.answerDelayMs));
    return out;
  }

  private rejectInvite(call: UaCall, status: number, now: number, reason?: string, headers: SipHeader[] = []): NodeAction<CallEvent>[] {
    const setup = call.setup;
    if (!setup?.invite || setup.inviteServerTx === undefined) return [];
    const out = this.sip.respond(setup.inviteServerTx, buildResponse(setup.invite, status, reason, { toTag: call.localTag, extraHeaders: headers }), now);
    cancelTimer(call, T_REL, out);
    cancelTimer(call, T_REL_GIVEUP, out);
    out.push(...this.finish(call, now, { status }));
    return out;
  }

  private answer(call: UaCall, now: number): NodeAction<CallEvent>[] {
    const setup = call.setup;
    const invite = setup?.invite;
    if (!setup || !invite || setup.inviteServerTx === undefined || call.state !== "early") return [];
    // RFC 3262 §3: no 2xx while a reliable provisional carrying SDP (answer or offer) waits for its PRACK.
    if (setup.reliable18x !== undefined && (setup.answer !== undefined || setup.offerIn18x)) {
      setup.answerWaitsForPrack = true;
      return [];
    }
    let body = setup.answer;
    if (setup.offerIn18x) body = undefined; // offered in the 18x and answered in the PRACK (RFC 3262 §5)
    else if (setup.lateOffer) {
      const offer = this.mediaOf(call).createOffer();
      body = offer === undefined ? undefined : serializeSdpText(offer);
    } else if (setup.rseq > 0) body = undefined; // the answer went in the reliable 18x (RFC 3262 §5)
    const headers: SipHeader[] = [...this.capabilities().slice(0, 2), ...this.timerHeaders(setup.timer)];
    const ok = buildResponse(invite, 200, "OK", {
      toTag: call.localTag, contact: `<${this.contactUri(call.localUri)}>`, extraHeaders: headers,
      ...(body !== undefined ? { body, contentType: "application/sdp" } : {}),
    });
    call.state = "confirmed";
    const out = this.sip.respond(setup.inviteServerTx, ok, now);
    // The INVITE transaction ended with the 2xx (RFC 3261 §17.2.1): its request and key are no longer needed.
    setup.invite = undefined;
    setup.inviteServerTx = undefined;
    setup.answer = undefined;
    if (setup.timer !== undefined) this.armSessionTimer(call, { intervalS: setup.timer.intervalS, refresher: setup.timer.refresher }, "uas", out);
    this.await2xxAck(call, ok, out);
    return out;
  }

  /** RFC 3261 §13.3.1.4: the UAS core retransmits a 2xx until the ACK comes (over UDP), and gives up at 64*T1. */
  private await2xxAck(call: UaCall, ok: SipResponse, out: NodeAction<CallEvent>[]): void {
    call.pending2xx = ok;
    if (!this.reliable) {
      call.retransmitMs = this.t1;
      out.push(setTimer(call, T_2XX, this.t1));
    }
    out.push(setTimer(call, T_2XX_GIVEUP, 64 * this.t1));
  }

  private onAck(ack: SipRequest, now: number): NodeAction<CallEvent>[] {
    const call = this.calls.get(ack.callId);
    const ok = call?.pending2xx;
    if (!call || ok === undefined || ack.cseq.seq !== ok.cseq.seq) return [];
    call.pending2xx = undefined;
    const out: NodeAction<CallEvent>[] = [];
    cancelTimer(call, T_2XX, out);
    cancelTimer(call, T_2XX_GIVEUP, out);
    // An offer in our 2xx is answered in the ACK (RFC 3261 §13.2.1); none or a bad one ends the call (§13.3.1.4).
    const media = call.media;
    if (media?.state === "local-offer") {
      const answer = sdpOf(ack);
      const check = answer === undefined ? { kind: "invalid" as const, reason: "no answer in the ACK" } : media.receiveAnswer(answer);
      if (check.kind !== "ok") {
        media.rollback();
        out.push(this.step(call, `ACK answer refused: ${check.reason}`), ...this.hangUp(call, now));
        return out;
      }
    }
    const setup = call.setup;
    if (setup === undefined) {
      out.push(this.step(call, "re-INVITE acknowledged"));
      return out;
    }
    call.setup = undefined;
    out.push({ type: "emit", event: { type: "established", callId: call.callId, role: this.name, at: now } });
    if (setup.behaviour?.hangsUp) out.push(setTimer(call, T_HANGUP, setup.behaviour.durationMs));
    this.armNextReinvite(call, out);
    return out;
  }

  private onPrack(call: UaCall, req: SipRequest, serverTx: ServerTx, now: number): NodeAction<CallEvent>[] {
    const setup = call.setup;
    const rack = /^\s*(\d+)\s+(\d+)\s+INVITE\s*$/i.exec(req.getHeader("RAck") ?? "");
    // RFC 3262 §3: a PRACK matching no outstanding reliable provisional gets 481.
    if (setup?.reliable18x === undefined || !rack || Number(rack[1]) !== setup.rseq || Number(rack[2]) !== setup.reliable18x.cseq.seq) {
      return this.reply(serverTx, req, 481, now);
    }
    const offered = req.body.length > 0 && !(setup.offerIn18x && call.media?.state === "local-offer");
    let out: NodeAction<CallEvent>[];
    if (offered) {
      // RFC 3262 §5: an offer in a PRACK after the 18x's offer/answer completed is answered in the PRACK's 2xx. One we
      // cannot take is refused (RFC 3264 §6), the session stays, and the 18x waits for a PRACK that is answered 2xx.
      const media = this.mediaOf(call);
      const answered = media.state === "stable" ? this.answerOffer(media, req) : { kind: "refused" as const, status: 491, headers: [] };
      if (answered.kind === "refused") {
        out = this.reply(serverTx, req, answered.status, now, answered.headers);
        out.push(this.step(call, `PRACK offer refused ${answered.status}`));
        return out;
      }
      setup.reliable18x = undefined;
      out = this.reply(serverTx, req, 200, now, [], answered.body);
      out.push(this.step(call, `PRACK: ${answered.what}`));
    } else {
      setup.reliable18x = undefined;
      out = this.reply(serverTx, req, 200, now);
    }
    cancelTimer(call, T_REL, out);
    cancelTimer(call, T_REL_GIVEUP, out);
    if (setup.offerIn18x && call.media?.state === "local-offer") {
      // RFC 3262 §5: the PRACK to an 18x with an offer carries the answer; without a valid one no session exists.
      const answer = sdpOf(req);
      const check = answer === undefined ? { kind: "invalid" as const, reason: "no answer in the PRACK" } : call.media.receiveAnswer(answer);
      if (check.kind !== "ok") {
        call.media.rollback();
        setup.answerWaitsForPrack = false;
        out.push(this.step(call, `PRACK answer refused: ${check.reason}`));
        out.push(...this.rejectInvite(call, 488, now, undefined, [{ name: "Warning", value: `399 ${this.opts.host} "no valid answer to the offer in the 180"` }]));
        return out;
      }
    }
    if (setup.answerWaitsForPrack) {
      setup.answerWaitsForPrack = false;
      out.push(...this.answer(call, now));
    }
    return out;
  }

  /** A re-INVITE (RFC 3261 §14.2): new offer answered, or an offer made when it has none; glare is 491. */
  private onReinvite(call: UaCall, req: SipRequest, serverTx: ServerTx, now: number): NodeAction<CallEvent>[] {
    // §14.2: an INVITE still unanswered or unacknowledged on our side gets 500 with Retry-After; ours crossing it, 491.
    if (call.state !== "confirmed" || call.pending2xx !== undefined) return this.reply(serverTx, req, 500, now, [{ name: "Retry-After", value: String(1 + Math.floor(this.random() * 9)) }]);
    if (call.outgoing) return this.reply(serverTx, req, 491, now);
    const timer = this.negotiateTimer(req);
    if (timer === "too-small") return this.reply(serverTx, req, 422, now, [{ name: "Min-SE", value: String(this.minSe) }]);
    const media = this.mediaOf(call);
    this.refreshTarget(call, req);
    let body: string | undefined;
    let what: string;
    if (req.body.length === 0) {
      const offer = media.createOffer();
      if (offer === undefined) return this.reply(serverTx, req, 491, now);
      body = serializeSdpText(offer);
      what = "re-INVITE without offer: offered in the 200";
    } else {
      const answered = this.answerOffer(media, req);
      if (answered.kind === "refused") return this.reply(serverTx, req, answered.status, now, answered.headers);
      body = answered.body;
      what = answered.what;
    }
    const ok = buildResponse(req, 200, "OK", {
      contact: `<${this.contactUri(call.localUri)}>`, extraHeaders: [...this.capabilities().slice(0, 2), ...this.timerHeaders(timer)], body, contentType: "application/sdp",
    });
    const out = this.sip.respond(serverTx, ok, now);
    if (timer !== undefined) this.armSessionTimer(call, { intervalS: timer.intervalS, refresher: timer.refresher }, "uas", out);
    this.await2xxAck(call, ok, out);
    out.push(this.step(call, what));
    return out;
  }

  /** An UPDATE (RFC 3311 §5.2): its offer answered in the 200, or a session refresh (RFC 4028) with none. */
  private onUpdate(call: UaCall, req: SipRequest, serverTx: ServerTx, now: number): NodeAction<CallEvent>[] {
    const timer = this.negotiateTimer(req);
    if (timer === "too-small") return this.reply(serverTx, req, 422, now, [{ name: "Min-SE", value: String(this.minSe) }]);
    this.refreshTarget(call, req);
    let body: string | undefined;
    let what = "UPDATE (session refresh)";
    if (req.body.length > 0) {
      const media = this.mediaOf(call);
      // RFC 3311 §5.2: an offer crossing our own outstanding one is 491.
      if (call.outgoing || media.state !== "stable") return this.reply(serverTx, req, 491, now);
      const answered = this.answerOffer(media, req);
      if (answered.kind === "refused") return this.reply(serverTx, req, answered.status, now, answered.headers);
      body = answered.body;
      what = `UPDATE: ${answered.what}`;
    }
    const out = this.reply(serverTx, req, 200, now, [{ name: "Contact", value: `<${this.contactUri(call.localUri)}>` }, ...this.timerHeaders(timer)], body);
    if (timer !== undefined) this.armSessionTimer(call, { intervalS: timer.intervalS, refresher: timer.refresher }, "uas", out);
    out.push(this.step(call, what));
    return out;
  }

  private answerOffer(media: OfferAnswerSession, req: SipRequest): { kind: "answer"; body: string; what: string } | { kind: "refused"; status: number; headers: SipHeader[] } {
    let offer: SessionDescription;
    try {
      offer = parseSdp(req.body);
    } catch (err) {
      if (!(err instanceof SdpParseError)) throw err;
      return { kind: "refused", status: 400, headers: [{ name: "Warning", value: `399 ${this.opts.host} "SDP ${err.code} at line ${err.line}"` }] };
    }
    const outcome = media.receiveOffer(offer);
    if (outcome.kind === "refused") {
      const headers: SipHeader[] = outcome.status === 500 ? [{ name: "Retry-After", value: "1" }] : outcome.status === 488 ? [{ name: "Warning", value: `304 ${this.opts.host} "Media type not available"` }] : [];
      return { kind: "refused", status: outcome.status, headers };
    }
    const held = offer.media.some((m) => m.port !== 0 && /^(sendonly|inactive)$/.test(m.attributes.find((a) => a.value === undefined && /^(sendonly|recvonly|inactive|sendrecv)$/.test(a.name))?.name ?? ""));
    return { kind: "answer", body: serializeSdpText(outcome.answer), what: held ? "held by the peer" : "media offer answered" };
  }

  /** §12.2.2: a target refresh request's Contact becomes the remote target. */
  private refreshTarget(call: UaCall, req: SipRequest): void {
    const contact = req.contact;
    const first = contact === "*" ? undefined : contact[0];
    if (first) call.remoteTarget = ownString(uriText(first.uri));
    if (req.hasHeader("Allow")) call.peerAllowsUpdate = allowsUpdate(req);
  }

  private onCancel(req: SipRequest, serverTx: ServerTx, now: number): NodeAction<CallEvent>[] {
    const out = this.sip.respond(serverTx, buildResponse(req, 200, "OK"), now);
    const call = this.calls.get(req.callId);
    if (call && call.side === "callee" && call.state === "early") {
      cancelTimer(call, T_ANSWER, out);
      out.push(...this.rejectInvite(call, 487, now));
    }
    return out;
  }

  // ---- both ----

  private onBye(call: UaCall, req: SipRequest, serverTx: ServerTx, now: number): NodeAction<CallEvent>[] {
    const out = this.sip.respond(serverTx, buildResponse(req, 200, "OK"), now);
    cancelTimer(call, T_HANGUP, out);
    out.push(...this.finish(call, now, { status: 200, endedBy: call.side === "caller" ? "callee" : "caller" }));
    return out;
  }

  private hangUp(call: UaCall, now: number): NodeAction<CallEvent>[] {
    if (call.state !== "confirmed") return [];
    call.state = "ending";
    const branch = this.ids.nextBranch();
    const bye = this.inDialogRequest(call, "BYE", ++call.cseq + (call.side === "caller" ? 1 : 0), branch);
    const done = (t: number): NodeAction<CallEvent>[] => this.finish(call, t, { status: 200, endedBy: call.side });
    return [...this.sip.sendRequest(bye, this.opts.proxy, now, { onResponse: (res, t) => (res.status >= 200 ? done(t) : []), onTimeout: done }, branch), this.step(call, "BYE sent")];
  }

  private inDialogRequest(call: UaCall, method: string, cseq: number, branch = this.ids.nextBranch(), headers?: SipHeader[], sdp?: string): SipRequest {
    // RFC 3261 §12.2.1.1: Request-URI = remote target, Route = route set (loose routing).
    const routes = call.routeSet;
    const extra: SipHeader[] = [];
    for (let i = 0; i < routes.length; i++) extra.push({ name: "Route", value: routes[i]! });
    if (headers !== undefined) for (const h of headers) extra.push(h);
    const remote = call.remoteTag ? `<${call.remoteUri}>;tag=${call.remoteTag}` : `<${call.remoteUri}>`;
    // Target refresh requests carry a Contact (§12.2.1.1, RFC 3311 §5.1).
    const refresh = method === "INVITE" || method === "UPDATE";
    return buildRequest({
      method, uri: call.remoteTarget, from: `<${call.localUri}>;tag=${call.localTag}`, to: remote, callId: call.callId, cseq,
      via: { host: this.opts.host, transport: this.opts.transport ?? "UDP", branch },
      ...(refresh ? { contact: `<${this.contactUri(call.localUri)}>` } : {}),
      extraHeaders: extra,
      ...(sdp !== undefined ? { body: sdp, contentType: "application/sdp" } : {}),
    });
  }

  private onStrayResponse(res: SipResponse): NodeAction<CallEvent>[] {
    const call = this.calls.get(res.callId);
    // A retransmitted 2xx to one of our INVITEs (initial or re-INVITE): ACK it again (§13.2.2.4).
    if (call && call.setup === undefined && res.status >= 200 && res.status < 300 && res.cseq.method === "INVITE") return [this.ack(call, res.cseq.seq)];
    return [];
  }

  private onTimer(key: string, now: number): NodeAction<CallEvent>[] {
    // "ua:<what>:<Call-ID>" (a Call-ID may itself hold ':')
    const colon = key.indexOf(":", 3);
    if (colon < 0) return [];
    const what = key.substring(3, colon);
    const callId = key.substring(colon + 1);
    if (what === "start") {
      const plan = this.pendingPlans.get(callId);
      if (!plan) return [];
      this.pendingPlans.delete(callId);
      return this.startCall(plan, now);
    }
    const call = this.calls.get(callId);
    if (!call) return [];
    const fired = TIMER_WHAT.indexOf(what as (typeof TIMER_WHAT)[number]);
    if (fired >= 0) call.armed &= ~(1 << fired);
    switch (what) {
      case "answer":
        return this.answer(call, now);
      case "hangup":
        return this.hangUp(call, now);
      case "cancel":
      case "noanswer":
        return this.sendCancel(call, now);
      case "2xx": {
        const ok = call.pending2xx;
        if (ok === undefined) return [];
        call.retransmitMs = Math.min(2 * call.retransmitMs, 4000);
        return [sipSend(this.opts.proxy, ok), setTimer(call, T_2XX, call.retransmitMs)];
      }
      case "2xxgiveup": {
        // §13.3.1.4: no ACK within 64*T1 ends the dialog with a BYE.
        const wasInitial = call.setup !== undefined;
        call.pending2xx = undefined;
        const out = cancelTimer(call, T_2XX, []);
        if (call.media?.state === "local-offer") call.media.rollback();
        call.setup = undefined;
        out.push(this.step(call, wasInitial ? "no ACK for the 200" : "no ACK for the re-INVITE's 200"), ...this.hangUp(call, now));
        return out;
      }
      case "rel": {
        const rel = call.setup?.reliable18x;
        if (rel === undefined) return [];
        call.retransmitMs = Math.min(2 * call.retransmitMs, 4000);
        return [sipSend(this.opts.proxy, rel), setTimer(call, T_REL, call.retransmitMs)];
      }
      case "relgiveup": {
        // RFC 3262 §3: no PRACK within 64*T1: the INVITE is refused with a 5xx.
        if (call.setup?.reliable18x === undefined) return [];
        const out = cancelTimer(call, T_REL, []);
        cancelTimer(call, T_ANSWER, out);
        out.push(...this.rejectInvite(call, 504, now, "No PRACK"));
        return out;
      }
      case "reinvite": {
        const next = call.reinvites?.shift();
        if (next === undefined) return [];
        const what = next.hold ? "hold" : next.codec !== undefined ? `offer ${next.codec} alone` : next.mediaAddress !== undefined ? `media to ${next.mediaAddress}` : "resume";
        return this.sendReinvite(call, next, now, what);
      }
      case "glare": {
        const change = call.retryChange;
        call.retryChange = undefined;
        return change === undefined ? [] : this.sendReinvite(call, change, now, "retry after 491");
      }
      case "refresh":
        return this.sendRefresh(call, now);
      case "expire":
        // RFC 4028 §10: no refresh came in time: the session ends.
        return [this.step(call, "session expired"), ...this.hangUp(call, now)];
      default:
        return [];
    }
  }

  private finish(call: UaCall, now: number, how: { status?: number; reason?: string; endedBy?: string }): NodeAction<CallEvent>[] {
    if (call.state === "ended") return [];
    call.state = "ended";
    this.calls.delete(call.callId);
    const event: CallEvent = { type: "terminated", callId: call.callId, role: this.name, at: now };
    if (how.status !== undefined) event.status = how.status;
    if (how.reason !== undefined) event.reason = how.reason;
    if (how.endedBy !== undefined) event.endedBy = how.endedBy;
    const out: NodeAction<CallEvent>[] = [];
    for (let t = 0; t < TIMER_WHAT.length; t++) cancelTimer(call, t, out);
    out.push({ type: "emit", event });
    return out;
  }

  private step(call: UaCall, what: string): NodeAction<CallEvent> {
    return { type: "emit", event: { type: "step", callId: call.callId, role: this.name, what } };
  }

  /**
   * An owned copy of a value most calls share (the callee's AOR and Contact, the proxies' Record-Route
   * values): one string per distinct value instead of one per call. Bounded; cleared when full.
   */
  private shared(s: string): string {
    let v = this.interned.get(s);
    if (v === undefined) {
      if (this.interned.size >= INTERNED_MAX) this.interned.clear();
      v = ownString(s);
      this.interned.set(v, v);
    }
    return v;
  }

  /** A route set as one shared frozen array per distinct list of values (see `shared`). */
  private sharedRoutes(values: string[]): readonly string[] {
    const key = values.join("\n");
    let v = this.internedRoutes.get(key);
    if (v === undefined) {
      if (this.internedRoutes.size >= INTERNED_MAX) this.internedRoutes.clear();
      v = Object.freeze(values.map((r) => this.shared(r)));
      this.internedRoutes.set(ownString(key), v);
    }
    return v;
  }

  private readonly interned = new Map<string, string>();
  private readonly internedRoutes = new Map<string, readonly string[]>();

  private contactUri(aor: string): string {
    // The user part of a sip: or sips: URI (what /^sips?:([^@]+)@/ captures).
    const from = aor.startsWith("sip:") ? 4 : aor.startsWith("sips:") ? 5 : -1;
    const at = from < 0 ? -1 : aor.indexOf("@", from);
    const user = at > from ? aor.slice(from, at) : undefined;
    return `sip:${user ? `${user}@` : ""}${this.opts.host}${this.opts.transport === "TCP" || this.opts.transport === "TLS" ? `;transport=${this.opts.transport.toLowerCase()}` : ""}`;
  }

  private nextMediaPort(): number {
    const port = this.mediaPort;
    this.mediaPort = this.mediaPort >= 60_000 ? 20_000 : this.mediaPort + 2;
    return port;
  }
}

/** Arm one of a call's UA timers (its key made once per call). */
function setTimer(call: UaCall, timer: number, delayMs: number): NodeAction<CallEvent> {
  call.armed |= 1 << timer;
  return { type: "set-timer", key: timerKey(call, timer), delayMs };
}

/** Cancel one of a call's UA timers if it is armed (a timer never set or already fired needs no cancel). */
function cancelTimer(call: UaCall, timer: number, out: NodeAction<CallEvent>[]): NodeAction<CallEvent>[] {
  const bit = 1 << timer;
  if ((call.armed & bit) !== 0) {
    call.armed &= ~bit;
    out.push({ type: "cancel-timer", key: timerKey(call, timer) });
  }
  return out;
}

function timerKey(call: UaCall, timer: number): string {
  // Room for the timers every call uses (up to T_2XX_GIVEUP); the array grows for the rest.
  const keys = (call.timerKeys ??= new Array<string | undefined>(T_2XX_GIVEUP + 1));
  return (keys[timer] ??= `ua:${TIMER_WHAT[timer]}:${call.callId}`);
}

/** An offer of our codecs as text (RFC 3264 §5; version 1: the dialog's first). */
function serializeOffer(o: OfferAnswerOptions): string {
  return writeOffer(o, "1");
}

function serializeSdpText(sd: SessionDescription): string {
  return serializeSdp(sd);
}

/** The SDP body of a message, or undefined when it has none or it is not valid SDP. */
function sdpOf(m: SipRequest | SipResponse): SessionDescription | undefined {
  if (m.body.length === 0) return undefined;
  try {
    return parseSdp(m.body);
  } catch (err) {
    if (err instanceof SdpParseError) return undefined;
    throw err;
  }
}

/** The peer's Allow lists UPDATE (RFC 3311 §5.1). */
function allowsUpdate(m: SipRequest | SipResponse): boolean {
  return hasOptionTag(m, "Allow", "update");
}
