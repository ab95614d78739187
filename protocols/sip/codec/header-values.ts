// Scalar and token-list headers: Call-ID (RFC 3261 §20.8), CSeq (§20.16), Max-Forwards (§20.22),
// Content-Length (§20.14), Content-Type (§20.15), Expires (§20.19), Require/Proxy-Require/Supported/Allow.
import { headerError, isTokenChar, parseDecimal, parseGenericParams, scanToken, skipWs } from "./header-lexer.js";

/** A CSeq value: sequence number and method (RFC 3261 §20.16). */
export interface CSeqHeader {
  seq: number;
  method: string;
}

/** A Content-Type value: media type and parameters (RFC 3261 §20.15). */
export interface ContentTypeHeader {
  type: string;
  subtype: string;
  /** "type/subtype" in lower case. */
  mediaType: string;
  params: Map<string, string | null>;
}

// word = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" / "(" / ")" / "<" / ">" /
//         ":" / "\" / DQUOTE / "/" / "[" / "]" / "?" / "{" / "}")   (RFC 3261 §25.1)
const WORD_CHARS = new Uint8Array(128);
for (let c = 0; c < 128; c++) if (isTokenChar(c)) WORD_CHARS[c] = 1;
for (const ch of '()<>:\\"/[]?{}') WORD_CHARS[ch.charCodeAt(0)] = 1;

/** callid = word [ "@" word ] */
export function parseCallId(text: string): string {
  checkCallIdIn(text, 0, text.length);
  return text;
}

/** Validates text[start, end) as a Call-ID; error offsets are positions in `text`. */
export function checkCallIdIn(text: string, start: number, end: number): void {
  if (end === start) headerError("Call-ID", "empty Call-ID", start);
  let at = -1;
  const table = WORD_CHARS;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 64 && at < 0 && i > start && i < end - 1) at = i;
    else if (c >= 128 || table[c] !== 1) headerError("Call-ID", `character ${JSON.stringify(text[i])} not allowed in Call-ID`, i);
  }
}

/** CSeq = 1*DIGIT LWS Method; the number must be below 2**31 (RFC 3261 §8.1.1.5). */
export function parseCSeq(text: string): CSeqHeader {
  return parseCSeqIn(text, 0, text.length);
}

/** parseCSeq on text[start, end); error offsets are positions in `text`. */
export function parseCSeqIn(text: string, start: number, end: number): CSeqHeader {
  let i = start;
  while (i < end && text.charCodeAt(i) >= 48 && text.charCodeAt(i) <= 57) i++;
  const seq = parseDecimal(text, start, i, 0x7fffffff, "CSeq");
  const ws = skipWs(text, i, end);
  if (ws === i) headerError("CSeq", "expected whitespace after the sequence number", i);
  const mEnd = scanToken(text, ws, end);
  if (mEnd === ws || mEnd !== end) headerError("CSeq", "expected a method token", mEnd);
  return { seq, method: text.substring(ws, mEnd) };
}

/** Max-Forwards = 1*DIGIT, 0..255 (RFC 3261 §20.22). */
export function parseMaxForwards(text: string): number {
  return parseDecimal(text, 0, text.length, 255, "Max-Forwards");
}

/** Content-Length = 1*DIGIT. */
export function parseContentLength(text: string): number {
  return parseDecimal(text, 0, text.length, 0x7fffffff, "Content-Length");
}

/** Expires = delta-seconds; values beyond 2**32-1 clamp to it (RFC 3261 §20.19 / §10.2.1.1). */
export function parseExpires(text: string): number {
  if (text.length === 0) headerError("Expires", "expected delta-seconds", 0);
  let v = 0;
  for (let i = 0; i < text.length; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) headerError("Expires", "expected delta-seconds", i);
    v = v * 10 + d;
  }
  return v > 0xffffffff ? 0xffffffff : v;
}

/** media-type = m-type SLASH m-subtype *(SEMI m-parameter) (RFC 3261 §20.15). */
export function parseContentType(text: string, header = "Content-Type"): ContentTypeHeader {
  let i = skipWs(text, 0);
  const tStart = i;
  i = scanToken(text, i);
  if (i === tStart) headerError(header, "expected media type", i);
  const type = text.substring(tStart, i);
  i = skipWs(text, i);
  if (text.charCodeAt(i) !== 47) headerError(header, "expected '/'", i);
  i = skipWs(text, i + 1);
  const sStart = i;
  i = scanToken(text, i);
  if (i === sStart) headerError(header, "expected media subtype", i);
  const subtype = text.substring(sStart, i);
  const params = new Map<string, string | null>();
  parseGenericParams(text, i, params, header, false);
  return { type, subtype, mediaType: `${type}/${subtype}`.toLowerCase(), params };
}

/** A comma-separated token list (option-tags, methods); empty value gives []. */
export function parseTokenList(text: string, header: string, into: string[] = []): string[] {
  const n = text.length;
  let i = skipWs(text, 0);
  if (i >= n) return into;
  for (;;) {
    const start = i;
    i = scanToken(text, i);
    if (i === start) headerError(header, "expected a token", i);
    into.push(text.substring(start, i));
    i = skipWs(text, i);
    if (i >= n) return into;
    if (text.charCodeAt(i) !== 44) headerError(header, `expected ',' but found ${JSON.stringify(text[i])}`, i);
    i = skipWs(text, i + 1);
  }
}
