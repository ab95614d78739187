// What the transport layer can still answer when a datagram does not parse as a whole: RFC 3261 §18.3 asks
// for 400 when a request's Content-Length exceeds the datagram, §8.2 / §16.3 step 1 for 400 when a
// mandatory header is missing or malformed. The answer needs the request line and the headers a response
// copies (§8.2.6.2: Via, From, To, Call-ID, CSeq); anything else (responses, ACK, garbage, one of those
// five missing) is dropped, because no well-formed response could be routed or matched (§17.1.3).
import { isToken } from "../codec/header-lexer.js";
import { headerNameMatches } from "../codec/header-names.js";
import { SipRequest, type SipHeader } from "../codec/sip-message.js";
import { SipParseError } from "../codec/sip-parse-error.js";

const COPIED = ["via", "from", "to", "call-id", "cseq"];
/** No more header lines are looked at than the parser's own default bound. */
const MAX_LINES = 256;

/**
 * The request line and the copied headers of a datagram, as a request to build a response from, or
 * undefined when the datagram is not a request (or is an ACK) or lacks one of them.
 */
export function requestHeadOf(datagram: Buffer): SipRequest | undefined {
  let start = 0;
  while (start < datagram.length && (datagram[start] === 13 || datagram[start] === 10)) start++;
  const headEnd = headEndOf(datagram, start);
  const lines = datagram.toString("latin1", start, headEnd).split(/\r?\n/);
  const requestLine = /^(\S+) (\S+) (SIP\/2\.0)\r?$/i.exec(lines[0] ?? "");
  if (!requestLine || !isToken(requestLine[1]!) || requestLine[1]!.toUpperCase() === "ACK") return undefined;
  const headers: SipHeader[] = [];
  for (let i = 1; i < lines.length && i <= MAX_LINES; i++) {
    const line = lines[i]!;
    if ((line.startsWith(" ") || line.startsWith("\t")) && headers.length > 0) {
      // §7.3.1 folding: a continuation of the previous header kept.
      const last = headers[headers.length - 1]!;
      last.value = `${last.value} ${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim();
    if (!COPIED.some((c) => headerNameMatches(name, c))) continue;
    headers.push({ name, value: line.slice(colon + 1).trim() });
  }
  if (!COPIED.every((c) => headers.some((h) => headerNameMatches(h.name, c)))) return undefined;
  return new SipRequest(requestLine[1]!, requestLine[2]!, headers, Buffer.alloc(0), requestLine[3]!);
}

/** The answer RFC 3261 gives a datagram request that failed to parse with `error`: status and reason phrase. */
export function datagramRefusal(error: unknown): { status: number; reason: string } | undefined {
  if (!(error instanceof SipParseError)) return undefined;
  switch (error.code) {
    case "body-too-short":
      return { status: 400, reason: "Bad Request (Content-Length exceeds the datagram)" }; // §18.3
    case "message-too-large":
      // A Content-Length beyond the size limit cannot fit a datagram either (§18.3).
      return { status: 400, reason: "Bad Request (Content-Length exceeds the datagram)" };
    case "missing-header": // Max-Forwards when it is enforced; the others make the request unanswerable
      return { status: 400, reason: `Bad Request (missing ${error.header ?? "header"})` };
    case "bad-content-length":
    case "bad-header-value":
    case "bad-header-line":
    case "duplicate-header":
    case "bad-uri":
      return { status: 400, reason: `Bad Request (${error.header ?? error.code})` };
    case "unsupported-uri-scheme":
      return { status: 416, reason: "Unsupported URI Scheme" }; // §16.3 step 2, §8.2.2.1
    default:
      return undefined;
  }
}

function headEndOf(buf: Buffer, from: number): number {
  const crlf = buf.indexOf("\r\n\r\n", from, "latin1");
  const lf = buf.indexOf("\n\n", from, "latin1");
  const ends = [crlf, lf].filter((x) => x >= 0);
  return ends.length > 0 ? Math.min(...ends) : buf.length;
}
