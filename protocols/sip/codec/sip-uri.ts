// SIP, SIPS (RFC 3261 §19.1, §25.1) and tel (RFC 3966) URIs.
// Fields hold decoded text (%-escapes resolved); formatSipUri escapes again where the grammar requires.
import { SipParseError } from "./sip-parse-error.js";

/** A sip: or sips: URI: user, host, port, parameters and headers (RFC 3261 §19.1). */
export interface SipUri {
  /** Lower case: "sip", "sips" or "tel". */
  scheme: "sip" | "sips" | "tel";
  /** sip/sips: the user part; tel: the telephone-subscriber number (e.g. "+1-201-555-0123"). */
  user?: string;
  password?: string;
  /** Host name, IPv4 address or IPv6 reference with brackets ("[2001:db8::1]"); "" for tel. */
  host: string;
  port?: number;
  /** uri-parameters, names lower case; null for a parameter without value (";lr"). */
  params: Map<string, string | null>;
  /** ?headers, names as written. */
  headers: Map<string, string>;
}

// Character classes of RFC 3261 §25.1, as 128-entry lookup tables.
function charTable(extra: string): Uint8Array {
  const t = new Uint8Array(128);
  for (let c = 48; c <= 57; c++) t[c] = 1;
  for (let c = 65; c <= 90; c++) t[c] = 1;
  for (let c = 97; c <= 122; c++) t[c] = 1;
  for (const ch of "-_.!~*'()" + extra) t[ch.charCodeAt(0)] = 1;
  return t;
}
const USER_CHARS = charTable("&=+$,;?/");
const PASSWORD_CHARS = charTable("&=+$,");
const PARAM_CHARS = charTable("[]/:&+$");
const HEADER_CHARS = charTable("[]/?:+$");
const TEL_CHARS = new Uint8Array(128);
for (const ch of "0123456789ABCDEFabcdef*#+-.()") TEL_CHARS[ch.charCodeAt(0)] = 1;

function fail(detail: string, offset: number): never {
  throw new SipParseError("bad-uri", detail, offset);
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  const l = c | 0x20;
  if (l >= 97 && l <= 102) return l - 87;
  return -1;
}

/** Set by scanPart: whether the scanned part held a %-escape. */
let sawEscape = false;

/**
 * Validates text[start,end) against `allowed` (plus %HH), stopping early at `stop` (a char code, or -1).
 * Returns where it stopped; `sawEscape` tells whether decoding is needed.
 */
function scanPart(text: string, start: number, end: number, allowed: Uint8Array, stop: number, what: string): number {
  sawEscape = false;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === stop) return i;
    if (c === 37) {
      if (i + 2 >= end || hexValue(text.charCodeAt(i + 1)) < 0 || hexValue(text.charCodeAt(i + 2)) < 0) fail(`bad %-escape in ${what}`, i);
      sawEscape = true;
      i += 2;
    } else if (c >= 128 || allowed[c] !== 1) {
      fail(`character ${JSON.stringify(text[i])} not allowed in ${what}`, i);
    }
  }
  return end;
}

/** text[start,end) with %HH escapes decoded as UTF-8 (already validated). */
function decodeEscapes(text: string, start: number, end: number): string {
  const bytes: number[] = [];
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 37) {
      bytes.push(hexValue(text.charCodeAt(i + 1)) * 16 + hexValue(text.charCodeAt(i + 2)));
      i += 2;
    } else bytes.push(c);
  }
  return Buffer.from(bytes).toString("utf8");
}

/** Validates text[start,end) against `allowed` (plus %HH) and returns it with escapes decoded (UTF-8). */
function decodePart(text: string, start: number, end: number, allowed: Uint8Array, what: string): string {
  let hasEscape = false;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 37) {
      if (i + 2 >= end || hexValue(text.charCodeAt(i + 1)) < 0 || hexValue(text.charCodeAt(i + 2)) < 0) {
        fail(`bad %-escape in ${what}`, i);
      }
      hasEscape = true;
      i += 2;
    } else if (c >= 128 || allowed[c] !== 1) {
      fail(`character ${JSON.stringify(text[i])} not allowed in ${what}`, i);
    }
  }
  return hasEscape ? decodeEscapes(text, start, end) : text.substring(start, end);
}

function validateHost(text: string, start: number, end: number): void {
  if (start >= end) fail("empty host", start);
  if (text.charCodeAt(start) === 91 /* [ */) {
    if (text.charCodeAt(end - 1) !== 93 || end - start < 4) fail("bad IPv6 reference", start);
    let colons = 0;
    for (let i = start + 1; i < end - 1; i++) {
      const c = text.charCodeAt(i);
      if (c === 58) colons++;
      else if (!(hexValue(c) >= 0 || c === 46)) fail("bad character in IPv6 reference", i);
    }
    if (colons < 2) fail("bad IPv6 reference", start);
    return;
  }
  let prev = 46;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    const alnum = (c >= 48 && c <= 57) || ((c | 0x20) >= 97 && (c | 0x20) <= 122);
    if (alnum) {
      prev = c;
      continue;
    }
    if (c === 45 && prev !== 46) {
      prev = c;
      continue;
    }
    if (c === 46 && prev !== 46 && prev !== 45) {
      prev = c;
      continue;
    }
    fail(`bad character ${JSON.stringify(text[i])} in host`, i);
  }
  if (prev === 45) fail("host label ends with '-'", end - 1);
}

function parsePort(text: string, start: number, end: number): number {
  if (start >= end || end - start > 5) fail("bad port", start);
  let port = 0;
  for (let i = start; i < end; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) fail("bad port", i);
    port = port * 10 + d;
  }
  if (port > 65535) fail("port out of range", start);
  return port;
}

function hasUpper(t: string): boolean {
  for (let k = 0; k < t.length; k++) {
    const c = t.charCodeAt(k);
    if (c >= 65 && c <= 90) return true;
  }
  return false;
}

/**
 * Parses ";name[=value]" parameters of text[start,end) into `into` (names lower case); with `stopAtQuery`
 * they end at a '?' (sip/sips headers follow). Returns where they ended.
 */
function parseUriParams(text: string, start: number, end: number, into: Map<string, string | null>, stopAtQuery: boolean): number {
  let i = start;
  while (i < end) {
    if (stopAtQuery && text.charCodeAt(i) === 63) return i;
    // text[i] is ';': one pass over name and value, validating as it goes.
    const nameStart = i + 1;
    const nameEnd = scanParamPart(text, nameStart, end, true, stopAtQuery);
    const nameEscaped = sawEscape;
    const nameUpper = sawUpper;
    if (nameEnd === nameStart) fail("empty URI parameter name", nameStart);
    let name = nameEscaped ? decodeEscapes(text, nameStart, nameEnd) : text.substring(nameStart, nameEnd);
    if (nameEscaped ? hasUpper(name) : nameUpper) name = name.toLowerCase();
    if (nameEnd < end && text.charCodeAt(nameEnd) === 61) {
      const valueEnd = scanParamPart(text, nameEnd + 1, end, false, stopAtQuery);
      into.set(name, sawEscape ? decodeEscapes(text, nameEnd + 1, valueEnd) : text.substring(nameEnd + 1, valueEnd));
      i = valueEnd;
    } else {
      into.set(name, null);
      i = nameEnd;
    }
  }
  return i;
}

let sawUpper = false;

/** Scans paramchars up to ';' (or '=' for a name, '?' when `stopAtQuery`); sets sawEscape / sawUpper. */
function scanParamPart(text: string, start: number, end: number, isName: boolean, stopAtQuery: boolean): number {
  sawEscape = false;
  sawUpper = false;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 59 || (isName && c === 61) || (c === 63 && stopAtQuery)) return i;
    if (c === 37) {
      if (i + 2 >= end || hexValue(text.charCodeAt(i + 1)) < 0 || hexValue(text.charCodeAt(i + 2)) < 0) fail("bad %-escape in URI parameter", i);
      sawEscape = true;
      i += 2;
    } else if (c >= 128 || PARAM_CHARS[c] !== 1) {
      fail(`character ${JSON.stringify(text[i])} not allowed in URI parameter`, i);
    } else if (c >= 65 && c <= 90) sawUpper = true;
  }
  return end;
}

function parseTelUri(text: string): SipUri {
  const start = 4;
  let end = text.indexOf(";", start);
  if (end < 0) end = text.length;
  if (end === start) fail("empty telephone number", start);
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c >= 128 || TEL_CHARS[c] !== 1) fail("bad character in telephone number", i);
  }
  const uri: SipUri = { scheme: "tel", user: text.substring(start, end), password: undefined, host: "", port: undefined, params: new Map(), headers: new Map() };
  parseUriParams(text, end, text.length, uri.params, false);
  return uri;
}

/** Parses a sip:, sips: or tel: URI. Other schemes throw SipParseError code "unsupported-uri-scheme". */
export function parseSipUri(text: string): SipUri {
  return parseSipUriIn(text, 0, text.length);
}

/**
 * parseSipUri on text[start, end) (a URI in place inside a header value or message); error offsets are
 * positions in `text`.
 */
export function parseSipUriIn(text: string, start: number, end: number): SipUri {
  let scheme: "sip" | "sips" | "tel";
  let colon: number;
  const s0 = end - start > 3 ? text.charCodeAt(start) | 0x20 : 0;
  if (s0 === 115 && text.charCodeAt(start + 3) === 58 && (text.charCodeAt(start + 1) | 0x20) === 105 && (text.charCodeAt(start + 2) | 0x20) === 112) {
    // "sip:" without searching for the colon
    scheme = "sip";
    colon = start + 3;
  } else if (start !== 0 || end !== text.length) {
    // other schemes (rare here): on their own string
    try {
      return parseSipUriIn(text.substring(start, end), 0, end - start);
    } catch (e) {
      throw e instanceof SipParseError ? e.shifted(start) : e;
    }
  } else {
    colon = text.indexOf(":");
    if (colon <= 0) fail("no scheme", 0);
    if (colon === 3 && s0 === 115 && (text.charCodeAt(1) | 0x20) === 105 && (text.charCodeAt(2) | 0x20) === 112) scheme = "sip";
    else if (colon === 4 && text.substring(0, 4).toLowerCase() === "sips") scheme = "sips";
    else if (colon === 3 && text.substring(0, 3).toLowerCase() === "tel") return parseTelUri(text);
    else {
      for (let i = 0; i < colon; i++) {
        const c = text.charCodeAt(i) | 0x20;
        const ok = (c >= 97 && c <= 122) || (i > 0 && ((c >= 48 && c <= 57) || c === 0x2b || c === 0x2d || c === 0x2e));
        if (!ok) fail("bad scheme", i);
      }
      throw new SipParseError("unsupported-uri-scheme", `scheme '${text.substring(0, colon)}' is not sip, sips or tel`, 0);
    }
  }
  const len = end;
  let i = colon + 1;
  // userinfo: everything up to the first '@' (user and password cannot hold a raw '@').
  let at = text.indexOf("@", i);
  if (at >= len) at = -1;
  // All fields present from the start: one object shape for every URI.
  const uri: SipUri = { scheme, user: undefined, password: undefined, host: "", port: undefined, params: new Map(), headers: new Map() };
  if (at >= 0) {
    // One pass over the user part: validate, note escapes, stop at the password ':'.
    const userEnd = scanPart(text, i, at, USER_CHARS, 58, "user part");
    if (userEnd === i) fail("empty user part", i);
    uri.user = sawEscape ? decodeEscapes(text, i, userEnd) : text.substring(i, userEnd);
    if (userEnd < at) {
      scanPart(text, userEnd + 1, at, PASSWORD_CHARS, -1, "password");
      uri.password = sawEscape ? decodeEscapes(text, userEnd + 1, at) : text.substring(userEnd + 1, at);
    }
    i = at + 1;
  }
  // hostport ends at ';', '?' or end; the port follows the ':' after the host (RFC 3261 §25.1 hostport).
  let hpEnd = i;
  let portColon = -1;
  if (i < len && text.charCodeAt(i) === 91) {
    const close = text.indexOf("]", i);
    if (close < 0 || close >= len) fail("unterminated IPv6 reference", i);
    validateHost(text, i, close + 1);
    hpEnd = close + 1;
    while (hpEnd < len) {
      const c = text.charCodeAt(hpEnd);
      if (c === 59 || c === 63) break;
      if (c === 58 && portColon < 0 && hpEnd === close + 1) portColon = hpEnd;
      else if (portColon < 0) fail("characters after IPv6 reference", hpEnd);
      hpEnd++;
    }
  } else {
    // hostname / IPv4: alphanum, '-' and '.', no empty label, no label ending in '-'
    let prev = 46;
    while (hpEnd < len) {
      const c = text.charCodeAt(hpEnd);
      if (c === 59 || c === 63) break;
      if (portColon < 0) {
        if ((c >= 48 && c <= 57) || ((c | 0x20) >= 97 && (c | 0x20) <= 122)) prev = c;
        else if (c === 45 && prev !== 46) prev = c;
        else if (c === 46 && prev !== 46 && prev !== 45) prev = c;
        else if (c === 58) {
          if (prev === 45 || hpEnd === i) fail("bad host", hpEnd);
          portColon = hpEnd;
        } else fail(`bad character ${JSON.stringify(text[hpEnd])} in host`, hpEnd);
      }
      hpEnd++;
    }
    if (hpEnd === i || portColon === i) fail("empty host", i);
    if (portColon < 0 && prev === 45) fail("host label ends with '-'", hpEnd - 1);
  }
  let hostEnd = hpEnd;
  if (portColon >= 0) {
    hostEnd = portColon;
    uri.port = parsePort(text, portColon + 1, hpEnd);
  }
  uri.host = text.substring(i, hostEnd);
  i = hpEnd;
  // uri-parameters run to the first '?' (no paramchar is a '?'), then come the headers
  const paramsEnd = i < len && text.charCodeAt(i) === 59 ? parseUriParams(text, i, len, uri.params, true) : i;
  const q = paramsEnd < len ? paramsEnd : -1;
  if (q >= 0) {
    let j = q + 1;
    if (j >= len) fail("empty URI headers", j);
    while (j <= len) {
      let amp = text.indexOf("&", j);
      if (amp < 0 || amp > len) amp = len;
      const eq = text.indexOf("=", j);
      if (eq < 0 || eq > amp) fail("URI header without '='", j);
      if (eq === j) fail("empty URI header name", j);
      uri.headers.set(
        decodePart(text, j, eq, HEADER_CHARS, "URI header"),
        decodePart(text, eq + 1, amp, HEADER_CHARS, "URI header"),
      );
      j = amp + 1;
    }
  }
  return uri;
}

function encodePart(value: string, allowed: Uint8Array): string {
  let plain = true;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c >= 128 || allowed[c] !== 1) {
      plain = false;
      break;
    }
  }
  if (plain) return value;
  let out = "";
  for (const byte of Buffer.from(value, "utf8")) {
    out += byte < 128 && allowed[byte] === 1 ? String.fromCharCode(byte) : "%" + byte.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

/** Formats a URI, escaping each part per RFC 3261 §25.1 (or RFC 3966 for tel). */
export function formatSipUri(uri: SipUri): string {
  let out = uri.scheme + ":";
  if (uri.scheme === "tel") {
    out += uri.user ?? "";
  } else {
    if (uri.user !== undefined) {
      out += encodePart(uri.user, USER_CHARS);
      if (uri.password !== undefined) out += ":" + encodePart(uri.password, PASSWORD_CHARS);
      out += "@";
    }
    out += uri.host;
    if (uri.port !== undefined) out += ":" + uri.port;
  }
  for (const [name, value] of uri.params) {
    out += ";" + encodePart(name, PARAM_CHARS);
    if (value !== null) out += "=" + encodePart(value, PARAM_CHARS);
  }
  let first = true;
  for (const [name, value] of uri.headers) {
    out += (first ? "?" : "&") + encodePart(name, HEADER_CHARS) + "=" + encodePart(value, HEADER_CHARS);
    first = false;
  }
  return out;
}
