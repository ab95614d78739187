// Small lexer shared by the typed header parsers: LWS, tokens, quoted-strings, generic-params and
// top-level comma splitting (RFC 3261 §25.1). Positions are string indices into one header value.
import { SipParseError } from "./sip-parse-error.js";

/** token characters of RFC 3261 §25.1. */
export const TOKEN_CHARS = new Uint8Array(128);
for (let c = 48; c <= 57; c++) TOKEN_CHARS[c] = 1;
for (let c = 65; c <= 90; c++) TOKEN_CHARS[c] = 1;
for (let c = 97; c <= 122; c++) TOKEN_CHARS[c] = 1;
for (const ch of "-.!%*_+`'~") TOKEN_CHARS[ch.charCodeAt(0)] = 1;

/** gen-value characters outside quotes: token chars plus ':' (IPv6 without brackets, tolerated). */
const VALUE_CHARS = new Uint8Array(TOKEN_CHARS);
VALUE_CHARS[58] = 1;

/**
 * Frequent parameter names as constants (no allocation, hash already computed), recognised at text[i]
 * when the name ends there (the next character is not a token character); undefined otherwise.
 */
function knownParamAt(text: string, i: number, n: number): string | undefined {
  switch (text.charCodeAt(i)) {
    case 116: // t
      if (i + 9 <= n && text.charCodeAt(i + 1) === 114 && text.charCodeAt(i + 2) === 97 && text.charCodeAt(i + 3) === 110 && text.charCodeAt(i + 4) === 115 && text.charCodeAt(i + 5) === 112 && text.charCodeAt(i + 6) === 111 && text.charCodeAt(i + 7) === 114 && text.charCodeAt(i + 8) === 116 && (i + 9 === n || !isTokenChar(text.charCodeAt(i + 9)))) return "transport";
      if (i + 3 <= n && text.charCodeAt(i + 1) === 97 && text.charCodeAt(i + 2) === 103 && (i + 3 === n || !isTokenChar(text.charCodeAt(i + 3)))) return "tag";
      if (i + 3 <= n && text.charCodeAt(i + 1) === 116 && text.charCodeAt(i + 2) === 108 && (i + 3 === n || !isTokenChar(text.charCodeAt(i + 3)))) return "ttl";
      return undefined;
    case 98: // b
      if (i + 6 <= n && text.charCodeAt(i + 1) === 114 && text.charCodeAt(i + 2) === 97 && text.charCodeAt(i + 3) === 110 && text.charCodeAt(i + 4) === 99 && text.charCodeAt(i + 5) === 104 && (i + 6 === n || !isTokenChar(text.charCodeAt(i + 6)))) return "branch";
      return undefined;
    case 114: // r
      if (i + 8 <= n && text.charCodeAt(i + 1) === 101 && text.charCodeAt(i + 2) === 99 && text.charCodeAt(i + 3) === 101 && text.charCodeAt(i + 4) === 105 && text.charCodeAt(i + 5) === 118 && text.charCodeAt(i + 6) === 101 && text.charCodeAt(i + 7) === 100 && (i + 8 === n || !isTokenChar(text.charCodeAt(i + 8)))) return "received";
      if (i + 5 <= n && text.charCodeAt(i + 1) === 112 && text.charCodeAt(i + 2) === 111 && text.charCodeAt(i + 3) === 114 && text.charCodeAt(i + 4) === 116 && (i + 5 === n || !isTokenChar(text.charCodeAt(i + 5)))) return "rport";
      return undefined;
    case 108: // l
      if (i + 2 <= n && text.charCodeAt(i + 1) === 114 && (i + 2 === n || !isTokenChar(text.charCodeAt(i + 2)))) return "lr";
      return undefined;
    case 109: // m
      if (i + 6 <= n && text.charCodeAt(i + 1) === 101 && text.charCodeAt(i + 2) === 116 && text.charCodeAt(i + 3) === 104 && text.charCodeAt(i + 4) === 111 && text.charCodeAt(i + 5) === 100 && (i + 6 === n || !isTokenChar(text.charCodeAt(i + 6)))) return "method";
      if (i + 5 <= n && text.charCodeAt(i + 1) === 97 && text.charCodeAt(i + 2) === 100 && text.charCodeAt(i + 3) === 100 && text.charCodeAt(i + 4) === 114 && (i + 5 === n || !isTokenChar(text.charCodeAt(i + 5)))) return "maddr";
      return undefined;
    case 101: // e
      if (i + 7 <= n && text.charCodeAt(i + 1) === 120 && text.charCodeAt(i + 2) === 112 && text.charCodeAt(i + 3) === 105 && text.charCodeAt(i + 4) === 114 && text.charCodeAt(i + 5) === 101 && text.charCodeAt(i + 6) === 115 && (i + 7 === n || !isTokenChar(text.charCodeAt(i + 7)))) return "expires";
      return undefined;
    case 113: // q
      if (i + 1 <= n && (i + 1 === n || !isTokenChar(text.charCodeAt(i + 1)))) return "q";
      return undefined;
    case 117: // u
      if (i + 4 <= n && text.charCodeAt(i + 1) === 115 && text.charCodeAt(i + 2) === 101 && text.charCodeAt(i + 3) === 114 && (i + 4 === n || !isTokenChar(text.charCodeAt(i + 4)))) return "user";
      return undefined;
    default:
      return undefined;
  }
}

export function isTokenChar(c: number): boolean {
  return c < 128 && TOKEN_CHARS[c] === 1;
}

export function isToken(text: string): boolean {
  if (text.length === 0) return false;
  for (let i = 0; i < text.length; i++) if (!isTokenChar(text.charCodeAt(i))) return false;
  return true;
}

// Reads past the end of a string are avoided in the hot scanners: one out-of-bounds charCodeAt makes the
// optimizing compiler fall back to a builtin call at that site for good.
export function skipWs(text: string, i: number, end = text.length): number {
  const n = end;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c !== 32 && c !== 9) break;
    i++;
  }
  return i;
}

export function headerError(header: string, detail: string, offset: number): never {
  throw new SipParseError("bad-header-value", detail, offset, header);
}

export function scanToken(text: string, i: number, end = text.length): number {
  while (i < end && isTokenChar(text.charCodeAt(i))) i++;
  return i;
}

/** Scans a quoted-string starting at text[i] === '"'; returns index after the closing quote. */
export function scanQuoted(text: string, i: number, header: string, end = text.length): number {
  const n = end;
  i++;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 34) return i + 1;
    if (c === 92) {
      if (i + 1 >= n) break;
      i += 2;
      continue;
    }
    i++;
  }
  return headerError(header, "unterminated quoted-string", i);
}

/** Content of the quoted-string text[start,end) (quotes included) with quoted-pairs resolved. */
export function unquote(text: string, start: number, end: number): string {
  const inner = text.substring(start + 1, end - 1);
  if (inner.indexOf("\\") < 0) return inner;
  return inner.replace(/\\([\s\S])/g, "$1");
}

/**
 * Parses `*( SEMI generic-param )` from text[i...end) into `params` (names lower case, quoted values
 * unquoted, null for no value). Stops at end, or at a top-level ',' when `stopAtComma`. Returns the index
 * where it stopped.
 */
export function parseGenericParams(
  text: string,
  i: number,
  params: Map<string, string | null>,
  header: string,
  stopAtComma: boolean,
  end = text.length,
): number {
  const n = end;
  for (;;) {
    i = skipWs(text, i, n);
    if (i >= n) return i;
    const c = text.charCodeAt(i);
    if (c === 44 && stopAtComma) return i;
    if (c !== 59) headerError(header, `expected ';' but found ${JSON.stringify(text[i])}`, i);
    i = skipWs(text, i + 1, n);
    const nameStart = i;
    let name = i < n ? knownParamAt(text, i, n) : undefined;
    if (name !== undefined) i += name.length;
    else {
      let upper = false;
      for (; i < n; i++) {
        const t = text.charCodeAt(i);
        if (t >= 128 || TOKEN_CHARS[t] !== 1) break;
        if (t >= 65 && t <= 90) upper = true;
      }
      if (i === nameStart) headerError(header, "empty parameter name", i);
      name = upper ? text.substring(nameStart, i).toLowerCase() : text.substring(nameStart, i);
    }
    i = skipWs(text, i, n);
    if (i < n && text.charCodeAt(i) === 61) {
      i = skipWs(text, i + 1, n);
      if (i < n && text.charCodeAt(i) === 34) {
        const close = scanQuoted(text, i, header, n);
        params.set(name, unquote(text, i, close));
        i = close;
      } else {
        // token / host (IPv6 reference allowed: RFC 3261 gen-value)
        const valueStart = i;
        if (i < n && text.charCodeAt(i) === 91) {
          const close = text.indexOf("]", i);
          if (close < 0 || close >= n) headerError(header, "unterminated IPv6 reference", i);
          i = close + 1;
        } else {
          const table = VALUE_CHARS;
          while (i < n) {
            const v = text.charCodeAt(i);
            if (v >= 128 || table[v] !== 1) break;
            i++;
          }
        }
        if (i === valueStart) headerError(header, `empty value of parameter '${name}'`, i);
        params.set(name, text.substring(valueStart, i));
      }
    } else {
      params.set(name, null);
    }
  }
}

/**
 * Splits a header value at top-level commas (outside quoted-strings and <...>) into trimmed elements.
 * Throws on an empty element or an unterminated quote/bracket.
 */
export function splitTopLevelCommas(text: string, header: string): string[] {
  const out: string[] = [];
  const n = text.length;
  let start = 0;
  let angle = false;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) {
      i = scanQuoted(text, i, header) - 1;
    } else if (c === 60) {
      angle = true;
    } else if (c === 62) {
      angle = false;
    } else if (c === 44 && !angle) {
      out.push(trimmedElement(text, start, i, header));
      start = i + 1;
    }
  }
  if (angle) headerError(header, "unterminated '<'", n);
  out.push(trimmedElement(text, start, n, header));
  return out;
}

function trimmedElement(text: string, start: number, end: number, header: string): string {
  let s = start;
  let e = end;
  while (s < e && (text.charCodeAt(s) === 32 || text.charCodeAt(s) === 9)) s++;
  while (e > s && (text.charCodeAt(e - 1) === 32 || text.charCodeAt(e - 1) === 9)) e--;
  if (s === e) headerError(header, "empty list element", start);
  return s === 0 && e === text.length ? text : text.substring(s, e);
}

/** Parses a non-negative decimal integer that must fit in `max`. */
export function parseDecimal(text: string, start: number, end: number, max: number, header: string): number {
  if (start >= end) headerError(header, "expected digits", start);
  let v = 0;
  for (let i = start; i < end; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) headerError(header, `expected a digit but found ${JSON.stringify(text[i])}`, i);
    v = v * 10 + d;
    if (v > max) headerError(header, `number exceeds ${max}`, start);
  }
  return v;
}
