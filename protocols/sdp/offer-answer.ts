// The offer/answer model (RFC 3264) as a sans-I/O machine: one per dialog. It writes offers and answers from
// the local capabilities and checks the peer's answers against RFC 3264 §6: one m= line per offered m= line, in
// order, same media type; an accepted stream lists formats drawn from the offer; a refused one has port 0 and
// the offered formats (never an m= line without formats).
import type { SdpDirection, SdpMedia, SessionDescription } from "./model.js";
import { serializeSdp } from "./codec.js";
import { answerDirection, isRtpMedia, mediaDirection, mediaFormats, type SdpFormat } from "./media.js";

/** An encoding this side offers and accepts. */
export interface LocalCodec {
  /** Encoding name (RFC 3551), compared case-insensitively. */
  name: string;
  clockRate: number;
  channels?: number;
  /** The payload type used when this side offers (a static one, or 96-127). */
  payload: number;
  /** a=fmtp parameters this side offers with it. */
  fmtp?: string;
}

/** What this side of a dialog puts in its offers and answers. */
export interface OfferAnswerOptions {
  /** Address of o= and c= (RFC 4566 §5.2, §5.7). */
  address: string;
  addrType?: "IP4" | "IP6";
  /** o= username and session id (decimal text); the version starts at the id's value of 0 and counts changes. */
  username?: string;
  sessionId: string;
  sessionName?: string;
  /** Audio encodings accepted and offered, preferred first. */
  codecs?: readonly LocalCodec[];
  /** The port this side receives a stream on (called once per accepted or offered stream). */
  port(media: string, index: number): number;
  /** b=AS written in offers and answers. */
  bandwidthKbps?: number;
}

/** PCMU, PCMA, G729 and telephone-event (RFC 4733), the codecs used when none are given. */
export const DEFAULT_CODECS: readonly LocalCodec[] = [
  { name: "PCMU", clockRate: 8000, payload: 0 },
  { name: "PCMA", clockRate: 8000, payload: 8 },
  { name: "G729", clockRate: 8000, payload: 18 },
  { name: "telephone-event", clockRate: 8000, payload: 101, fmtp: "0-16" },
];

// Formats that carry no voice of their own: a stream that keeps only these has no acceptable media.
const AUXILIARY = new Set(["TELEPHONE-EVENT", "CN"]);

/** Whether an offer is outstanding, and whose (RFC 3264 §4). */
export type OfferAnswerState = "stable" | "local-offer" | "remote-offer";

/** The answer to a peer's offer, or the SIP status that refuses it. */
export type OfferOutcome =
  | { kind: "answer"; answer: SessionDescription; accepted: number }
  /** 488 no acceptable media (RFC 3261 §13.3.1.3), 491 glare (§14.2), 500 an offer already pending (RFC 3311 §5.2). */
  | { kind: "refused"; status: 488 | 491 | 500; reason: string };

/** Whether an answer keeps the rules of RFC 3264 §6, and if not, why. */
export type AnswerCheck = { kind: "ok" } | { kind: "invalid"; reason: string };

/** "NAME/rate/channels" keys of the local codecs (upper-case name), made once per codec list. */
const codecKeys = new WeakMap<readonly LocalCodec[], Set<string>>();
function keysOf(codecs: readonly LocalCodec[]): Set<string> {
  let keys = codecKeys.get(codecs);
  if (keys === undefined) {
    keys = new Set(codecs.map((c) => `${c.name.toUpperCase()}/${c.clockRate}/${c.channels ?? 1}`));
    codecKeys.set(codecs, keys);
  }
  return keys;
}

/** The offered formats this side keeps for a stream, in offer order (none: the stream is refused). */
function acceptedFormats(m: SdpMedia, codecs: readonly LocalCodec[]): SdpFormat[] {
  if (m.port === 0 || m.media !== "audio" || !isRtpMedia(m)) return [];
  const keys = keysOf(codecs);
  const kept: SdpFormat[] = [];
  let voice = false;
  for (const f of mediaFormats(m)) {
    const e = f.encoding;
    if (e === undefined) continue;
    const name = e.name.toUpperCase();
    if (!keys.has(`${name}/${e.clockRate}/${e.channels}`)) continue;
    kept.push(f);
    if (!AUXILIARY.has(name)) voice = true;
  }
  return voice ? kept : [];
}

/**
 * The answer to `offer` (RFC 3264 §6.1): for each offered stream, in order, either an accepted one (this side's
 * port, formats drawn from the offer, the direction of §6.1 unless `direction` holds the call) or a refused
 * one (port 0, the offered formats). `accepted` counts accepted streams (0: no acceptable media, answer 488).
 */
export function answerOffer(offer: SessionDescription, o: OfferAnswerOptions, version: string, direction?: SdpDirection): { answer: SessionDescription; accepted: number } {
  const codecs = o.codecs ?? DEFAULT_CODECS;
  let accepted = 0;
  const media: SdpMedia[] = offer.media.map((m, index) => {
    const formats = acceptedFormats(m, codecs);
    if (formats.length === 0) return { media: m.media, port: 0, proto: m.proto, formats: m.formats.slice(), connections: [], bandwidths: [], attributes: [] };
    accepted++;
    const attributes: SdpMedia["attributes"] = [];
    for (const f of formats) {
      const e = f.encoding!;
      attributes.push({ name: "rtpmap", value: `${f.format} ${e.name}/${e.clockRate}${e.channels !== 1 ? `/${e.channels}` : ""}` });
      if (f.fmtp !== undefined) attributes.push({ name: "fmtp", value: `${f.format} ${f.fmtp}` });
    }
    const offered = mediaDirection(offer, m);
    attributes.push({ name: combine(answerDirection(offered), direction) });
    const out: SdpMedia = { media: m.media, port: o.port(m.media, index), proto: m.proto, formats: formats.map((f) => f.format), connections: [], bandwidths: [], attributes };
    if (o.bandwidthKbps !== undefined) out.bandwidths.push({ type: "AS", value: o.bandwidthKbps });
    return out;
  });
  return { answer: describe(o, version, media), accepted };
}

/** The direction of §6.1 narrowed by what this side wants (a side on hold sends nothing). */
function combine(answer: SdpDirection, wanted: SdpDirection | undefined): SdpDirection {
  if (wanted === undefined || wanted === "sendrecv") return answer;
  const send = (answer === "sendrecv" || answer === "sendonly") && (wanted === "sendonly");
  const recv = (answer === "sendrecv" || answer === "recvonly") && (wanted === "recvonly");
  return send ? "sendonly" : recv ? "recvonly" : "inactive";
}

/** An offer of one audio stream with this side's codecs (RFC 3264 §5). */
export function makeOffer(o: OfferAnswerOptions, version: string, direction: SdpDirection = "sendrecv"): SessionDescription {
  const codecs = o.codecs ?? DEFAULT_CODECS;
  const attributes: SdpMedia["attributes"] = [];
  for (const c of codecs) {
    attributes.push({ name: "rtpmap", value: `${c.payload} ${c.name}/${c.clockRate}${(c.channels ?? 1) !== 1 ? `/${c.channels}` : ""}` });
    if (c.fmtp !== undefined) attributes.push({ name: "fmtp", value: `${c.payload} ${c.fmtp}` });
  }
  attributes.push({ name: direction });
  const m: SdpMedia = { media: "audio", port: o.port("audio", 0), proto: "RTP/AVP", formats: codecs.map((c) => String(c.payload)), connections: [], bandwidths: [], attributes };
  if (o.bandwidthKbps !== undefined) m.bandwidths.push({ type: "AS", value: o.bandwidthKbps });
  return describe(o, version, [m]);
}

/**
 * The text of `makeOffer(o, version, direction)` written directly (the same bytes serializeSdp gives), for the
 * offer a caller makes once per call. Throws SdpEncodeError where serializeSdp would.
 */
export function writeOffer(o: OfferAnswerOptions, version: string, direction: SdpDirection = "sendrecv"): string {
  const codecs = o.codecs ?? DEFAULT_CODECS;
  const address = o.address;
  if (address.length === 0 || /[\s\0]/.test(address) || !/^\d+$/.test(o.sessionId) || !/^\d+$/.test(version)) return serializeSdp(makeOffer(o, version, direction));
  const addrType = o.addrType ?? (address.includes(":") ? "IP6" : "IP4");
  const port = o.port("audio", 0);
  let formats = "";
  let attributes = "";
  for (const c of codecs) {
    formats += ` ${c.payload}`;
    attributes += `a=rtpmap:${c.payload} ${c.name}/${c.clockRate}${(c.channels ?? 1) !== 1 ? `/${c.channels}` : ""}\r\n`;
    if (c.fmtp !== undefined) attributes += `a=fmtp:${c.payload} ${c.fmtp}\r\n`;
  }
  if (codecs.length === 0 || !Number.isInteger(port) || port < 0 || port > 65535) return serializeSdp(makeOffer(o, version, direction));
  const bandwidth = o.bandwidthKbps === undefined ? "" : `b=AS:${o.bandwidthKbps}\r\n`;
  return `v=0\r\no=${o.username ?? "-"} ${o.sessionId} ${version} IN ${addrType} ${address}\r\ns=${o.sessionName ?? "callgate"}\r\nc=IN ${addrType} ${address}\r\nt=0 0\r\n` +
    `m=audio ${port} RTP/AVP${formats}\r\n${bandwidth}${attributes}a=${direction}\r\n`;
}

function describe(o: OfferAnswerOptions, version: string, media: SdpMedia[]): SessionDescription {
  const addrType = o.addrType ?? (o.address.includes(":") ? "IP6" : "IP4");
  return {
    origin: { username: o.username ?? "-", sessionId: o.sessionId, sessionVersion: version, netType: "IN", addrType, address: o.address },
    sessionName: o.sessionName ?? "callgate",
    emails: [], phones: [],
    connection: { netType: "IN", addrType, address: o.address },
    bandwidths: [], timing: [{ start: "0", stop: "0", repeats: [] }], attributes: [], media,
  };
}

/**
 * Whether `answer` is a valid answer to `offer` (RFC 3264 §6): as many m= lines, in order, same media types;
 * accepted streams list formats drawn from the offer (RTP: payload types offered); every m= line has formats.
 */
export function checkAnswer(offer: SessionDescription, answer: SessionDescription): AnswerCheck {
  if (answer.media.length !== offer.media.length) return { kind: "invalid", reason: `${answer.media.length} m= lines answer ${offer.media.length} offered` };
  for (let i = 0; i < offer.media.length; i++) {
    const o = offer.media[i]!;
    const a = answer.media[i]!;
    if (a.media !== o.media) return { kind: "invalid", reason: `m= line ${i + 1} is ${a.media}, offered ${o.media}` };
    if (a.formats.length === 0) return { kind: "invalid", reason: `m= line ${i + 1} has no formats` };
    if (a.port === 0) continue;
    if (o.port === 0) return { kind: "invalid", reason: `m= line ${i + 1} accepts a stream the offer refused` };
    if (isRtpMedia(o)) {
      const offered = new Set(o.formats);
      const stray = a.formats.find((f) => !offered.has(f));
      if (stray !== undefined) return { kind: "invalid", reason: `m= line ${i + 1} lists payload type ${stray} not in the offer` };
    }
  }
  return { kind: "ok" };
}

/**
 * One dialog's offer/answer state (RFC 3264 §4, RFC 3261 §13.2.1, RFC 3311 §5): at most one offer outstanding;
 * an offer crossing ours is glare (491); a second offer before the first is answered is refused (500); an offer
 * with no acceptable media is refused (488) and leaves the session as it was.
 */
export class OfferAnswerSession {
  state: OfferAnswerState = "stable";
  /** The last description this side sent that is in force (offer or answer), and the peer's. */
  local: SessionDescription | undefined;
  remote: SessionDescription | undefined;
  private pendingOffer: SessionDescription | undefined;
  private previousLocal: SessionDescription | undefined;
  private version: bigint;
  /** Local direction wish: "sendonly" puts the peer on hold (RFC 3264 §8.4). */
  hold = false;

  constructor(private readonly opts: OfferAnswerOptions) {
    this.version = 0n;
  }

  /** Continue a negotiation whose last description of ours had version `version` (RFC 3264 §8: later ones count up). */
  continueFrom(version: string): void {
    this.version = BigInt(version);
  }

  /** Take up a negotiation made elsewhere (the dialog's first offer and answer): later versions count from ours. */
  adopt(local: SessionDescription, remote: SessionDescription | undefined): void {
    this.local = local;
    this.remote = remote;
    this.version = BigInt(local.origin.sessionVersion);
    this.state = "stable";
  }

  /** Make an offer (RFC 3264 §5): only when none is outstanding. */
  createOffer(): SessionDescription | undefined {
    if (this.state !== "stable") return undefined;
    const offer = makeOffer(this.opts, this.nextVersion(), this.hold ? "sendonly" : "sendrecv");
    this.previousLocal = this.local;
    this.pendingOffer = offer;
    this.local = offer;
    this.state = "local-offer";
    return offer;
  }

  /** The peer's answer to our offer: in force when valid (RFC 3264 §6); otherwise the offer is withdrawn. */
  receiveAnswer(answer: SessionDescription): AnswerCheck {
    const offer = this.pendingOffer;
    if (this.state !== "local-offer" || offer === undefined) return { kind: "invalid", reason: "no offer outstanding" };
    const check = checkAnswer(offer, answer);
    if (check.kind === "ok") this.remote = answer;
    else this.local = this.previousLocal;
    this.pendingOffer = undefined;
    this.state = "stable";
    return check;
  }

  /** Our offer was refused (a non-2xx to the INVITE or UPDATE carrying it): the session stays as it was. */
  rollback(): void {
    if (this.state !== "local-offer") return;
    this.local = this.previousLocal;
    this.pendingOffer = undefined;
    this.state = "stable";
  }

  /** The peer's offer: answered at once (RFC 3264 §6), or refused with the status SIP gives the refusal. */
  receiveOffer(offer: SessionDescription): OfferOutcome {
    if (this.state === "local-offer") return { kind: "refused", status: 491, reason: "an offer of ours is outstanding" };
    if (this.state === "remote-offer") return { kind: "refused", status: 500, reason: "an offer of the peer is outstanding" };
    const version = this.version + 1n;
    const { answer, accepted } = answerOffer(offer, this.opts, String(version), this.hold ? "sendonly" : undefined);
    if (accepted === 0) return { kind: "refused", status: 488, reason: "no acceptable media" };
    this.version = version;
    this.local = answer;
    this.remote = offer;
    return { kind: "answer", answer, accepted };
  }

  private nextVersion(): string {
    this.version += 1n;
    return String(this.version);
  }
}
