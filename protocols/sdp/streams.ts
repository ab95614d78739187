// The media streams of a description as policy sees them (RFC 3264 §5, §6): where each stream is received,
// which encodings, how much bandwidth. Read-only views, kept for recent texts: the same offer is read by the
// callee and by both proxies.
import { parseSdp, sdpText } from "./codec.js";
import { isRtpMedia, mediaAddress, mediaBandwidthKbps, mediaDirection, mediaFormats } from "./media.js";
import type { SdpDirection, SessionDescription } from "./model.js";

/** One media stream as policy sees it: where it is received, which encodings, its direction and bandwidth. */
export interface StreamView {
  readonly type: string;
  readonly address: string;
  readonly port: number;
  readonly direction: SdpDirection;
  /** Encoding names in m= line order (static payload types named from RFC 3551); formats of unknown encoding left out. */
  readonly codecs: readonly string[];
  readonly formats: readonly string[];
  readonly bandwidthKbps: number | undefined;
}

const MEMO_SIZE = 256;
/** A text read: its description, and its stream views once asked for. */
interface Read {
  readonly sd: SessionDescription;
  views: readonly StreamView[] | undefined;
}
const memo = new Map<string, Read>();

function read(text: string): Read {
  let known = memo.get(text);
  if (known === undefined) {
    known = { sd: parseSdp(text), views: undefined };
    // The oldest text goes (insertion order): the offer and answer of calls still being set up stay.
    if (memo.size >= MEMO_SIZE) memo.delete(memo.keys().next().value as string);
    memo.set(text, known);
  }
  return known;
}

/**
 * parseSdp of a message body, shared with every reader of the same text (the callee reads the offer both proxies
 * read): the description is not copied, so it is only read, never changed. Throws SdpParseError as parseSdp does.
 */
export function readSdp(body: Buffer): Readonly<SessionDescription> {
  return read(sdpText(body)).sd;
}

/** The streams of an SDP text, in m= line order. Throws SdpParseError for text that is not valid SDP. */
export function sdpStreams(text: string): readonly StreamView[] {
  const known = read(text);
  return (known.views ??= viewsOf(known.sd));
}

function viewsOf(sd: SessionDescription): readonly StreamView[] {
  return Object.freeze(
    sd.media.map((m) =>
      Object.freeze({
        type: m.media,
        address: mediaAddress(sd, m) ?? "0.0.0.0",
        port: m.port,
        direction: mediaDirection(sd, m),
        codecs: Object.freeze(isRtpMedia(m) ? mediaFormats(m).flatMap((f) => (f.encoding ? [f.encoding.name] : [])) : []),
        formats: Object.freeze(m.formats.slice()),
        bandwidthKbps: mediaBandwidthKbps(sd, m),
      }),
    ),
  );
}
