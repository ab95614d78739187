// name-addr / addr-spec headers: From, To (RFC 3261 §20.20, §20.39), Contact (§20.10),
// Route and Record-Route (§20.34, §20.30).
import {
  headerError,
  isTokenChar,
  parseGenericParams,
  scanQuoted,
  skipWs,
  unquote,
} from "./header-lexer.js";
import { SipParseError } from "./sip-parse-error.js";
import { formatSipUri, parseSipUriIn, type SipUri } from "./sip-uri.js";

/** A name-addr header value (From, To, Route, Record-Route): display name, URI, parameters (RFC 3261 §20.10). */
export interface NameAddrHeader {
  displayName?: string;
  /** Parsed for sip/sips/tel; other absolute URIs are kept as text. */
  uri: SipUri | string;
  /** The URI exactly as written. */
  uriText: string;
  /** Whether the URI was in <...> (name-addr form). */
  angleBrackets: boolean;
  tag?: string;
  /** Header parameters (after the URI), names lower case, null when without value. */
  params: Map<string, string | null>;
}

/** A Contact value: name-addr, or `*` (RFC 3261 §20.10). */
export interface ContactHeader extends NameAddrHeader {
  expires?: number;
  q?: number;
}

/**
 * Parses one name-addr or addr-spec with its parameters starting at text[i]. Stops at the end or, when
 * `inList`, at a top-level ','; the stop index is left in `nameAddrStop` (no result tuple to allocate).
 */
export function parseNameAddrAt(
  text: string,
  i: number,
  header: string,
  inList: boolean,
  requireBrackets: boolean,
  end = text.length,
): NameAddrHeader {
  const n = end;
  i = skipWs(text, i, n);
  let displayName: string | undefined;
  let angle = false;
  let uriStart: number;
  let uriEnd: number;
  const c0 = i < n ? text.charCodeAt(i) : -1;
  if (c0 === 34) {
    const close = scanQuoted(text, i, header, n);
    displayName = unquote(text, i, close);
    i = skipWs(text, close, n);
    if (i >= n || text.charCodeAt(i) !== 60) headerError(header, "expected '<' after display name", i);
    angle = true;
  } else if (c0 === 60) {
    angle = true;
  } else {
    // Either *(token LWS) "<" or an addr-spec. Look for '<' before any character a token cannot hold.
    let j = i;
    let sawSpace = false;
    while (j < n) {
      const c = text.charCodeAt(j);
      if (isTokenChar(c)) {
        j++;
        continue;
      }
      if (c === 32 || c === 9) {
        sawSpace = true;
        j++;
        continue;
      }
      break;
    }
    if (j < n && text.charCodeAt(j) === 60) {
      let e = j;
      while (e > i && (text.charCodeAt(e - 1) === 32 || text.charCodeAt(e - 1) === 9)) e--;
      displayName = text.substring(i, e);
      i = j;
      angle = true;
    } else if (sawSpace && j < n && text.charCodeAt(j) !== 58) {
      headerError(header, "display name is not a token sequence or quoted-string", j);
    }
  }
  if (angle) {
    const close = text.indexOf(">", i + 1);
    if (close < 0 || close >= n) headerError(header, "unterminated '<'", i);
    uriStart = i + 1;
    uriEnd = close;
    i = close + 1;
  } else {
    if (requireBrackets) headerError(header, "expected '<' (name-addr)", i);
    // addr-spec: the URI ends at ';' (header params follow), ',' (list) or whitespace.
    uriStart = i;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 59 || c === 32 || c === 9 || (c === 44 && inList)) break;
      i++;
    }
    uriEnd = i;
    // RFC 3261 §20: a URI holding ',', ';' or '?' must be in a name-addr (RFC 4475 §3.1.2.13)
    const q = text.indexOf("?", uriStart);
    if (q >= 0 && q < uriEnd) headerError(header, "addr-spec with '?' must be enclosed in <>", q);
  }
  const uriText = text.substring(uriStart, uriEnd);
  if (uriText.length === 0) headerError(header, "empty URI", uriStart);
  const uri = parseHeaderUri(text, uriStart, uriEnd, uriText, header);
  const params = new Map<string, string | null>();
  i = parseGenericParams(text, i, params, header, inList, n);
  let tag: string | undefined;
  if (params.size > 0) {
    const t = params.get("tag");
    if (t === null) headerError(header, "tag without value", i);
    tag = t;
  }
  // Every field present from the start (one object shape; Contact's fields included).
  const h: ContactHeader = { displayName, uri, uriText, angleBrackets: angle, tag, params, expires: undefined, q: undefined };
  nameAddrStop = i;
  return h;
}

/** Index where the last parseNameAddrAt stopped. */
export let nameAddrStop = 0;

/** The URI text[offset, end) (also given as `uriText`), parsed in place. */
function parseHeaderUri(text: string, offset: number, end: number, uriText: string, header: string): SipUri | string {
  try {
    return parseSipUriIn(text, offset, end);
  } catch (e) {
    if (e instanceof SipParseError && e.code === "unsupported-uri-scheme") {
      // absoluteURI of another scheme: keep as text, but it must be one (RFC 3261 §25.1).
      for (let k = 0; k < uriText.length; k++) {
        const c = uriText.charCodeAt(k);
        if (c <= 32 || c >= 127 || c === 60 || c === 62 || c === 34) headerError(header, "bad character in URI", offset + k);
      }
      return uriText;
    }
    // the inner message names the offset inside the URI; this error's offset is inside the value
    if (e instanceof SipParseError) throw new SipParseError("bad-header-value", e.shifted(-offset).message, e.offset, header);
    throw e;
  }
}

/** From / To: exactly one name-addr or addr-spec. */
export function parseNameAddr(text: string, header: string): NameAddrHeader {
  return parseNameAddrIn(text, header, 0, text.length);
}

/** parseNameAddr on text[start, end); error offsets are positions in `text`. */
export function parseNameAddrIn(text: string, header: string, start: number, end: number): NameAddrHeader {
  const h = parseNameAddrAt(text, start, header, false, false, end);
  const stop = nameAddrStop;
  if (skipWs(text, stop, end) !== end) headerError(header, "trailing characters", stop);
  return h;
}

/** Route / Record-Route: comma-separated name-addrs (brackets required). */
export function parseNameAddrList(text: string, header: string, into: NameAddrHeader[] = []): NameAddrHeader[] {
  let i = 0;
  for (;;) {
    into.push(parseNameAddrAt(text, i, header, true, true));
    i = skipWs(text, nameAddrStop);
    if (i >= text.length) return into;
    i++;
  }
}

/** Contact: comma-separated contacts (not "*", which the caller handles). */
export function parseContactList(text: string, into: ContactHeader[] = []): ContactHeader[] {
  return parseContactListIn(text, 0, text.length, into);
}

/**
 * parseContactList on text[start, end); error offsets are positions in `text`, except those inside an
 * expires or q value, which stay relative to `start` shifted back (the caller subtracts `start`).
 */
export function parseContactListIn(text: string, start: number, end: number, into: ContactHeader[]): ContactHeader[] {
  const header = "Contact";
  let i = start;
  for (;;) {
    const h = parseNameAddrAt(text, i, header, true, false, end);
    const stop = nameAddrStop;
    const contact = h as ContactHeader;
    if (h.params.size > 0) {
      const expires = h.params.get("expires");
      const q = h.params.get("q");
      if (expires !== undefined || q !== undefined) {
        try {
          if (expires !== undefined) contact.expires = parseDeltaSeconds(expires, header);
          if (q !== undefined) contact.q = parseQValue(q, header);
        } catch (e) {
          throw e instanceof SipParseError ? e.shifted(start) : e;
        }
      }
    }
    into.push(contact);
    i = skipWs(text, stop, end);
    if (i >= end) return into;
    i++;
  }
}

/** delta-seconds (RFC 3261 §20.19, §25.1); values beyond 2**32-1 are clamped to it. */
export function parseDeltaSeconds(text: string | null, header: string): number {
  if (text === null || text.length === 0) headerError(header, "expected delta-seconds", 0);
  let v = 0;
  for (let i = 0; i < text.length; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) headerError(header, "expected delta-seconds", i);
    v = v * 10 + d;
  }
  return v > 0xffffffff ? 0xffffffff : v;
}

/** qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ) (RFC 3261 §25.1). */
export function parseQValue(text: string | null, header: string): number {
  if (text === null || !/^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(text)) headerError(header, `bad q value ${JSON.stringify(text)}`, 0);
  return Number(text);
}

function quoteDisplayName(name: string): string {
  return `"${name.replace(/(["\\])/g, "\\$1")}"`;
}

/** Formats a name-addr header value (always with brackets when there are params or a display name). */
export function formatNameAddr(h: NameAddrHeader): string {
  const uriText = typeof h.uri === "string" ? h.uri : formatSipUri(h.uri);
  let out = "";
  if (h.displayName !== undefined) out += quoteDisplayName(h.displayName) + " ";
  out += h.angleBrackets || h.displayName !== undefined || /[;,?]/.test(uriText) ? `<${uriText}>` : uriText;
  for (const [k, v] of h.params) out += v === null ? `;${k}` : `;${k}=${v}`;
  return out;
}
