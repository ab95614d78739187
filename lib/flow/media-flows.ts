// The media flows a call's policy is about, from the SDP offer and answer (RFC 3264 §5, §6): where each side
// wants to receive RTP, which codecs were agreed, and how much bandwidth. Reading SDP is protocols/sdp's.
import { SdpParseError, answerOffer, parseSdp, sdpStreams, serializeSdp, type OfferAnswerOptions, type StreamView } from "../../protocols/sdp/index.js";

/** One side's media address in an SDP offer or answer. */
export interface MediaEndpoint {
  address: string;
  port: number;
}

/** One direction of one media stream: a UDP 5-tuple plus what the policy needs to size it. */
export interface MediaFlow {
  direction: "caller-to-callee" | "callee-to-caller";
  media: string;
  protocol: "udp";
  src: MediaEndpoint;
  dst: MediaEndpoint;
  codecs: string[];
  bandwidthKbps: number;
}

/** What an SDP offer or answer carries (RFC 4566): session id, media address and port, codecs, bandwidth (kbit/s). */
export interface SdpOfferOptions {
  sessionId: number;
  address: string;
  audioPort: number;
  /** Payload types with rtpmap names, e.g. [{payload: 0, codec: "PCMU", rate: 8000}]. */
  codecs?: Array<{ payload: number; codec: string; rate: number }>;
  bandwidthKbps?: number;
}

const DEFAULT_CODECS = [
  { payload: 0, codec: "PCMU", rate: 8000 },
  { payload: 8, codec: "PCMA", rate: 8000 },
  { payload: 18, codec: "G729", rate: 8000 },
];

// IP/UDP/RTP bandwidth of common codecs at 20 ms packets (payload + 40 octets of headers per packet).
const CODEC_KBPS: Record<string, number> = { PCMU: 80, PCMA: 80, G722: 80, G729: 24, GSM: 29, OPUS: 64 };

/**
 * An SDP offer or answer (RFC 4566 §5 line order: v o s c t m b a), written directly: the same text
 * sdp-transform's writer gives for this shape, without its per-call grammar walk.
 */
export function buildSdp(o: SdpOfferOptions): string {
  const codecs = o.codecs ?? DEFAULT_CODECS;
  let text = `v=0\r\no=- ${o.sessionId} 1 IN IP4 ${o.address}\r\ns=callgate\r\nc=IN IP4 ${o.address}\r\nt=0 0\r\n`;
  text += `m=audio ${o.audioPort} RTP/AVP ${codecs.map((c) => c.payload).join(" ")}\r\n`;
  if (o.bandwidthKbps !== undefined) text += `b=AS:${o.bandwidthKbps}\r\n`;
  for (const c of codecs) text += `a=rtpmap:${c.payload} ${c.codec}/${c.rate}\r\n`;
  return `${text}a=sendrecv\r\n`;
}

/**
 * The answer to an offer (RFC 3264 §6.1): the offered codecs the answerer supports, in offer order; a stream
 * with none of them is refused with port 0 and its offered formats (protocols/sdp's answerer).
 */
export function answerSdp(offer: string, o: Omit<SdpOfferOptions, "codecs"> & { supported?: string[] }): string {
  const supported = (o.supported ?? ["PCMU", "PCMA", "G729"]).map((name) => ({ name, clockRate: 8000, payload: 0 }));
  const opts: OfferAnswerOptions = { address: o.address, sessionId: String(o.sessionId), codecs: supported, port: () => o.audioPort };
  if (o.bandwidthKbps !== undefined) opts.bandwidthKbps = o.bandwidthKbps;
  return serializeSdp(answerOffer(parseSdp(offer), opts, "1").answer);
}

function bandwidthOf(codecs: readonly string[], explicit: number | undefined): number {
  if (explicit !== undefined) return explicit;
  const first = codecs[0];
  return first === undefined ? 0 : (CODEC_KBPS[first.toUpperCase()] ?? 80);
}

/** The stream views of an SDP text, or none when it is not valid SDP (RFC 4566): no flows to install. */
function streams(sdp: string): readonly StreamView[] {
  try {
    return sdpStreams(sdp);
  } catch (err) {
    if (err instanceof SdpParseError) return [];
    throw err;
  }
}

/**
 * The 5-tuples for every stream accepted in the answer (a port of 0 rejects a stream, RFC 3264 §6), both ways
 * unless the stream is held. Symmetric RTP is assumed: each side sends from the address and port it receives on.
 */
export function mediaFlows(offer: string, answer: string | undefined): MediaFlow[] {
  const offered = streams(offer);
  const answered = answer === undefined ? undefined : streams(answer);
  const flows: MediaFlow[] = [];
  offered.forEach((o, i) => {
    const a = answered?.[i];
    if (o.port === 0) return;
    if (answered !== undefined && (a === undefined || a.port === 0)) return;
    // The views are shared (memo): the flows get their own endpoint objects and codec list.
    const codecs = (a?.codecs ?? o.codecs).slice();
    const bw = bandwidthOf(codecs, a?.bandwidthKbps ?? o.bandwidthKbps);
    const callerEnd = { address: o.address, port: o.port };
    const calleeEnd = a === undefined ? { address: "0.0.0.0", port: 0 } : { address: a.address, port: a.port };
    // RFC 3264 §6.1: a held stream (sendonly / recvonly / inactive) flows one way or not at all.
    const callerSends = (o.direction === "sendrecv" || o.direction === "sendonly") && (a === undefined || a.direction === "sendrecv" || a.direction === "recvonly");
    const calleeSends = (o.direction === "sendrecv" || o.direction === "recvonly") && (a === undefined || a.direction === "sendrecv" || a.direction === "sendonly");
    if (calleeSends) flows.push({ direction: "callee-to-caller", media: o.type, protocol: "udp", src: calleeEnd, dst: callerEnd, codecs, bandwidthKbps: bw });
    if (callerSends) flows.push({ direction: "caller-to-callee", media: o.type, protocol: "udp", src: callerEnd, dst: calleeEnd, codecs, bandwidthKbps: bw });
  });
  return flows;
}

/**
 * Whether two sets of flows are the same media (5-tuples, codecs, bandwidth): a re-INVITE or UPDATE that
 * refreshes the session without changing them needs no new policy (RFC 4028 refreshes repeat the old SDP).
 */
export function sameMediaFlows(a: readonly MediaFlow[], b: readonly MediaFlow[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.direction !== y.direction || x.media !== y.media || x.bandwidthKbps !== y.bandwidthKbps) return false;
    if (x.src.address !== y.src.address || x.src.port !== y.src.port || x.dst.address !== y.dst.address || x.dst.port !== y.dst.port) return false;
    if (x.codecs.join(" ") !== y.codecs.join(" ")) return false;
  }
  return true;
}
