// The media flows a call's policy is about, from the SDP offer and answer (RFC 3264 §5, §6): where each side
// wants to receive RTP, which codecs were agreed, and how much bandwidth. Parsing is sdp-transform's.
import sdpTransform from "sdp-transform";

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

/** The answer to an offer (RFC 3264 §6.1): keep the offered codecs the answerer supports, in offer order. */
export function answerSdp(offer: string, o: Omit<SdpOfferOptions, "codecs"> & { supported?: string[] }): string {
  const audio = streams(offer).find((m) => m.type === "audio");
  const supported = new Set((o.supported ?? ["PCMU", "PCMA", "G729"]).map((s) => s.toUpperCase()));
  const agreed = (audio?.rtp ?? []).filter((r) => supported.has(r.codec.toUpperCase()));
  const opts: SdpOfferOptions = { sessionId: o.sessionId, address: o.address, audioPort: audio && agreed.length > 0 ? o.audioPort : 0, codecs: agreed.map((r) => ({ payload: r.payload, codec: r.codec, rate: r.rate ?? 8000 })) };
  if (o.bandwidthKbps !== undefined) opts.bandwidthKbps = o.bandwidthKbps;
  return buildSdp(opts);
}

/** What the flows need of one m= section (RFC 4566 §5.14, §5.7, §5.8, §6 rtpmap). Read-only: views are shared. */
interface StreamView {
  readonly type: string;
  readonly endpoint: MediaEndpoint;
  readonly codecs: string[];
  readonly rtp: ReadonlyArray<{ payload: number; codec: string; rate?: number }>;
  readonly bandwidthKbps: number | undefined;
}

// The same offer is read by the callee and by both proxies (twice each: alone, then with the answer), so the
// stream views of recent SDP texts are kept: each SDP is parsed and reduced once per call.
const SDP_MEMO_SIZE = 256;
const sdpMemo = new Map<string, StreamView[]>();

function streams(sdp: string): StreamView[] {
  let views = sdpMemo.get(sdp);
  if (views === undefined) {
    views = simpleStreams(sdp) ?? reduceSdp(sdpTransform.parse(sdp));
    if (sdpMemo.size >= SDP_MEMO_SIZE) sdpMemo.clear();
    sdpMemo.set(sdp, views);
  }
  return views;
}

const O_LINE = /^\S* \d* \d* \S* IP\d (\S*)$/;
const C_LINE = /^IN IP\d (\S*)$/;
const M_LINE = /^(\w+) (0|[1-9]\d*)(?:\/(?:0|[1-9]\d*))? [\w/]+(?: .*)?$/;
const B_AS_LINE = /^AS:(0|[1-9]\d*)$/;
const RTPMAP_LINE = /^rtpmap:(0|[1-9]\d*) ([\w\-.]+)\/(0|[1-9]\d*)(?:\/\S+)?$/;

/**
 * The stream views of an SDP made only of the lines the flows read (RFC 4566 §5: o=, c=, m=, b=AS, a=rtpmap)
 * plus lines they ignore, written in the plain form our user agents and common peers use; undefined for
 * anything else, which then goes through sdp-transform. Gives what reduceSdp gives for such text, without
 * the general grammar walk.
 */
function simpleStreams(sdp: string): StreamView[] | undefined {
  let sessionAddress: string | undefined;
  let originAddress: string | undefined;
  let sessionAs: number | undefined;
  const media: { type: string; port: number; ip: string | undefined; as: number | undefined; rtp: { payload: number; codec: string; rate: number }[] }[] = [];
  let current: (typeof media)[number] | undefined;
  let pos = 0;
  while (pos < sdp.length) {
    let eol = sdp.indexOf("\n", pos);
    if (eol < 0) eol = sdp.length;
    const end = eol > pos && sdp.charCodeAt(eol - 1) === 13 ? eol - 1 : eol;
    const line = sdp.substring(pos, end);
    pos = eol + 1;
    if (line.length === 0) continue;
    if (line.length < 2 || line.charCodeAt(1) !== 61 || line.indexOf("\r") >= 0) return undefined;
    const value = line.substring(2);
    let m: RegExpExecArray | null;
    switch (line.charCodeAt(0)) {
      case 118: case 115: case 116: case 105: case 117: case 101: case 112: case 122: case 107: case 114:
        break; // v s t i u e p z k r: not read
      case 111: // o=
        if ((m = O_LINE.exec(value)) === null) return undefined;
        originAddress = m[1]!;
        break;
      case 99: // c=
        if ((m = C_LINE.exec(value)) === null) return undefined;
        if (current) current.ip = m[1]!;
        else sessionAddress = m[1]!;
        break;
      case 109: // m=
        if ((m = M_LINE.exec(value)) === null) return undefined;
        current = { type: m[1]!, port: Number(m[2]), ip: undefined, as: undefined, rtp: [] };
        media.push(current);
        break;
      case 98: // b=
        if ((m = B_AS_LINE.exec(value)) === null) return undefined;
        // the first b=AS of a level counts (as reduceSdp's find)
        if (current) current.as ??= Number(m[1]);
        else sessionAs ??= Number(m[1]);
        break;
      case 97: // a=
        if (value.startsWith("rtpmap:")) {
          if ((m = RTPMAP_LINE.exec(value)) === null || current === undefined) return undefined;
          current.rtp.push({ payload: Number(m[1]), codec: m[2]!, rate: Number(m[3]) });
        }
        break;
      default:
        return undefined;
    }
  }
  const session = sessionAddress ?? originAddress ?? "0.0.0.0";
  return media.map((x) => ({
    type: x.type,
    endpoint: { address: x.ip ?? session, port: x.port },
    codecs: x.rtp.map((r) => r.codec),
    rtp: x.rtp,
    bandwidthKbps: x.as ?? sessionAs,
  }));
}

function reduceSdp(parsed: ReturnType<typeof sdpTransform.parse>): StreamView[] {
  const sessionAddress = parsed.connection?.ip ?? parsed.origin?.address ?? "0.0.0.0";
  return parsed.media.map((m) => ({
    type: m.type,
    endpoint: { address: m.connection?.ip ?? sessionAddress, port: m.port },
    codecs: (m.rtp ?? []).map((r) => r.codec),
    rtp: m.rtp ?? [],
    bandwidthKbps: (m.bandwidth ?? parsed.bandwidth ?? []).find((b) => b.type === "AS")?.limit,
  }));
}

function bandwidthOf(codecs: string[], explicit: number | undefined): number {
  if (explicit !== undefined) return explicit;
  const first = codecs[0];
  return first === undefined ? 0 : (CODEC_KBPS[first.toUpperCase()] ?? 80);
}

/**
 * The 5-tuples both ways for every stream accepted in the answer (a port of 0 rejects a stream, RFC 3264 §6).
 * Symmetric RTP is assumed: each side sends from the address and port it receives on.
 */
export function mediaFlows(offer: string, answer: string | undefined): MediaFlow[] {
  const offered = streams(offer);
  const answered = answer === undefined ? undefined : streams(answer);
  const flows: MediaFlow[] = [];
  offered.forEach((o, i) => {
    const a = answered?.[i];
    if (o.endpoint.port === 0) return;
    if (answered !== undefined && (a === undefined || a.endpoint.port === 0)) return;
    // The views are shared (memo): the flows get their own endpoint objects and codec list.
    const codecs = (a?.codecs ?? o.codecs).slice();
    const bw = bandwidthOf(codecs, a?.bandwidthKbps ?? o.bandwidthKbps);
    const callerEnd = { address: o.endpoint.address, port: o.endpoint.port };
    const calleeEnd = a === undefined ? { address: "0.0.0.0", port: 0 } : { address: a.endpoint.address, port: a.endpoint.port };
    flows.push({ direction: "callee-to-caller", media: o.type, protocol: "udp", src: calleeEnd, dst: callerEnd, codecs, bandwidthKbps: bw });
    flows.push({ direction: "caller-to-callee", media: o.type, protocol: "udp", src: callerEnd, dst: calleeEnd, codecs, bandwidthKbps: bw });
  });
  return flows;
}
