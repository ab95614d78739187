// Digest challenge and credentials header values (RFC 3261 §25.1, §22.4; RFC 7616 §3.3–3.4; RFC 8760):
// WWW-Authenticate / Proxy-Authenticate carry a challenge, Authorization / Proxy-Authorization credentials.
// Strict: one scheme (Digest), each parameter at most once, quoted where the grammar quotes it, hex where it is
// hex; any fault is a SipParseError ("bad-header-value") with the offset into the value.
import { TOKEN_CHARS } from "./header-lexer.js";
import { SipParseError } from "./sip-parse-error.js";

export interface DigestChallenge {
  realm: string;
  nonce: string;
  domain?: string;
  opaque?: string;
  stale?: boolean;
  /** "MD5", "SHA-256", "MD5-sess", … (RFC 8760 §2.2); absent means MD5. */
  algorithm?: string;
  /** qop-options, e.g. ["auth"]. */
  qop?: string[];
  /** Other auth-params, in order, each as given (quoted or not). */
  params?: DigestParam[];
}

/** The parameters of a Digest Authorization or Proxy-Authorization header (RFC 3261 §22.4, RFC 7616 §3.4). */
export interface DigestCredentials {
  username: string;
  realm: string;
  nonce: string;
  uri: string;
  /** request-digest: 32 (MD5) or 64 (SHA-256) lower-case hex digits. */
  response: string;
  algorithm?: string;
  cnonce?: string;
  opaque?: string;
  /** message-qop, e.g. "auth". */
  qop?: string;
  /** nonce-count: 8 hex digits. */
  nc?: string;
  params?: DigestParam[];
}

/** An auth-param as written: its name, value, and whether the value was a quoted string (RFC 7616 §3.4). */
export interface DigestParam {
  name: string;
  value: string;
  quoted: boolean;
}

const fail = (header: string, offset: number, detail: string): never => {
  throw new SipParseError("bad-header-value", detail, offset, header);
};

const isToken = (c: number): boolean => c < 128 && TOKEN_CHARS[c] === 1;
const isWsp = (c: number): boolean => c === 32 || c === 9;

/** LWS = [*WSP CRLF] 1*WSP (RFC 3261 §25.1): the index after any run of it. */
function skipLws(text: string, i: number): number {
  for (;;) {
    while (isWsp(text.charCodeAt(i))) i++;
    if (text.charCodeAt(i) === 13 && text.charCodeAt(i + 1) === 10 && isWsp(text.charCodeAt(i + 2))) i += 2;
    else return i;
  }
}
const HEX = /^[0-9a-f]+$/;

interface RawParam {
  name: string;
  value: string;
  quoted: boolean;
  at: number;
}

/** "Digest" LWS param *(COMMA param): the parameters, names lower-cased, each checked once. */
function lexDigest(text: string, header: string): RawParam[] {
  const n = text.length;
  let i = skipLws(text, 0);
  const schemeStart = i;
  while (i < n && isToken(text.charCodeAt(i))) i++;
  const scheme = text.slice(schemeStart, i);
  if (scheme.toLowerCase() !== "digest") fail(header, schemeStart, scheme === "" ? "no auth scheme" : `auth scheme '${scheme}' is not Digest`);
  if (skipLws(text, i) === i) fail(header, i, "Digest needs its parameters after white space");
  const params: RawParam[] = [];
  const seen = new Set<string>();
  for (;;) {
    i = skipLws(text, i);
    const nameAt = i;
    while (i < n && isToken(text.charCodeAt(i))) i++;
    if (i === nameAt) fail(header, i, "parameter name expected");
    const name = text.slice(nameAt, i).toLowerCase();
    if (seen.has(name)) fail(header, nameAt, `parameter '${name}' appears twice`);
    seen.add(name);
    i = skipLws(text, i);
    if (text.charCodeAt(i) !== 61) fail(header, i, `'=' expected after '${name}'`);
    i = skipLws(text, i + 1);
    let value = "";
    let quoted = false;
    if (text.charCodeAt(i) === 34) {
      quoted = true;
      i++;
      let closed = false;
      while (i < n) {
        const c = text.charCodeAt(i);
        if (c === 34) {
          closed = true;
          i++;
          break;
        }
        if (c === 92) {
          // quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)
          const next = text.charCodeAt(i + 1);
          if (i + 1 >= n || next === 10 || next === 13 || next > 127) fail(header, i, "bad quoted-pair");
          value += text[i + 1];
          i += 2;
          continue;
        }
        if ((c < 32 && c !== 9) || c === 127) fail(header, i, "control character in quoted-string");
        value += text[i];
        i++;
      }
      if (!closed) fail(header, n, `quoted value of '${name}' not closed`);
    } else {
      const at = i;
      while (i < n && isToken(text.charCodeAt(i))) i++;
      if (i === at) fail(header, i, `value of '${name}' expected`);
      value = text.slice(at, i);
    }
    params.push({ name, value, quoted, at: nameAt });
    i = skipLws(text, i);
    if (i >= n) break;
    if (text.charCodeAt(i) !== 44) fail(header, i, "',' expected between parameters");
    i++;
  }
  return params;
}

const QUOTED_CHALLENGE = new Set(["realm", "domain", "nonce", "opaque", "qop"]);
const TOKEN_CHALLENGE = new Set(["stale", "algorithm"]);
const QUOTED_CREDENTIALS = new Set(["username", "realm", "nonce", "uri", "response", "cnonce", "opaque"]);
const TOKEN_CREDENTIALS = new Set(["algorithm", "qop", "nc"]);

function checkQuoting(p: RawParam, quotedNames: Set<string>, tokenNames: Set<string>, header: string): void {
  if (quotedNames.has(p.name) && !p.quoted) fail(header, p.at, `'${p.name}' must be a quoted-string`);
  if (tokenNames.has(p.name) && p.quoted) fail(header, p.at, `'${p.name}' must not be quoted`);
}

/** A WWW-Authenticate or Proxy-Authenticate value. */
export function parseDigestChallenge(text: string, header = "Proxy-Authenticate"): DigestChallenge {
  const out: Partial<DigestChallenge> = {};
  const extra: DigestParam[] = [];
  for (const p of lexDigest(text, header)) {
    checkQuoting(p, QUOTED_CHALLENGE, TOKEN_CHALLENGE, header);
    switch (p.name) {
      case "realm":
      case "nonce":
      case "domain":
      case "opaque":
      case "algorithm":
        out[p.name] = p.value;
        break;
      case "stale": {
        const v = p.value.toLowerCase();
        if (v !== "true" && v !== "false") fail(header, p.at, "stale must be true or false");
        out.stale = v === "true";
        break;
      }
      case "qop": {
        const list = p.value.split(",").map((s) => s.trim());
        if (list.some((q) => q === "" || [...q].some((ch) => !isToken(ch.charCodeAt(0))))) fail(header, p.at, "qop must list tokens");
        out.qop = list;
        break;
      }
      default:
        extra.push({ name: p.name, value: p.value, quoted: p.quoted });
    }
  }
  if (out.realm === undefined) fail(header, 0, "realm is missing");
  if (out.nonce === undefined) fail(header, 0, "nonce is missing");
  if (extra.length) out.params = extra;
  return out as DigestChallenge;
}

/** An Authorization or Proxy-Authorization value. */
export function parseDigestCredentials(text: string, header = "Proxy-Authorization"): DigestCredentials {
  const out: Partial<DigestCredentials> = {};
  const extra: DigestParam[] = [];
  let responseAt = 0;
  let ncAt = 0;
  for (const p of lexDigest(text, header)) {
    checkQuoting(p, QUOTED_CREDENTIALS, TOKEN_CREDENTIALS, header);
    switch (p.name) {
      case "username":
      case "realm":
      case "nonce":
      case "uri":
      case "algorithm":
      case "cnonce":
      case "opaque":
      case "qop":
        out[p.name] = p.value;
        break;
      case "response":
        responseAt = p.at;
        out.response = p.value;
        break;
      case "nc":
        ncAt = p.at;
        out.nc = p.value;
        break;
      default:
        extra.push({ name: p.name, value: p.value, quoted: p.quoted });
    }
  }
  for (const name of ["username", "realm", "nonce", "uri", "response"] as const) if (out[name] === undefined) fail(header, 0, `${name} is missing`);
  const response = out.response!.toLowerCase();
  if (!HEX.test(response) || (response.length !== 32 && response.length !== 64)) fail(header, responseAt, "response must be 32 or 64 hex digits");
  out.response = response;
  if (out.nc !== undefined && !/^[0-9a-fA-F]{8}$/.test(out.nc)) fail(header, ncAt, "nc must be 8 hex digits");
  // RFC 7616 §3.4: with qop, cnonce and nc are required; without it, neither may appear.
  if (out.qop !== undefined && (out.cnonce === undefined || out.nc === undefined)) fail(header, 0, "qop needs cnonce and nc");
  if (out.qop === undefined && (out.cnonce !== undefined || out.nc !== undefined)) fail(header, 0, "cnonce and nc need qop");
  if (extra.length) out.params = extra;
  return out as DigestCredentials;
}

/** quoted-string; '"', '\\' and control characters other than CR and LF as quoted-pairs (RFC 3261 §25.1). */
function quote(value: string): string {
  return `"${value.replace(/[\\"\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, (c) => `\\${c}`)}"`;
}

function tokenValue(name: string, value: string): string {
  if (value === "" || [...value].some((ch) => !isToken(ch.charCodeAt(0)))) throw new RangeError(`'${name}' value '${value}' is not a token`);
  return value;
}

function quotedValue(name: string, value: string): string {
  if (/[\r\n]/.test(value)) throw new RangeError(`'${name}' holds CR or LF`);
  return quote(value);
}

function extraParams(params: DigestParam[] | undefined): string[] {
  return (params ?? []).map((p) => `${tokenValue("param name", p.name)}=${p.quoted ? quotedValue(p.name, p.value) : tokenValue(p.name, p.value)}`);
}

/** A challenge as a header value; throws RangeError for a value the grammar cannot carry. */
export function formatDigestChallenge(c: DigestChallenge): string {
  const parts = [`realm=${quotedValue("realm", c.realm)}`];
  if (c.domain !== undefined) parts.push(`domain=${quotedValue("domain", c.domain)}`);
  parts.push(`nonce=${quotedValue("nonce", c.nonce)}`);
  if (c.opaque !== undefined) parts.push(`opaque=${quotedValue("opaque", c.opaque)}`);
  if (c.stale !== undefined) parts.push(`stale=${c.stale ? "true" : "false"}`);
  if (c.algorithm !== undefined) parts.push(`algorithm=${tokenValue("algorithm", c.algorithm)}`);
  if (c.qop !== undefined) parts.push(`qop="${c.qop.map((q) => tokenValue("qop", q)).join(",")}"`);
  parts.push(...extraParams(c.params));
  return `Digest ${parts.join(", ")}`;
}

/** Credentials as a header value; throws RangeError for a value the grammar cannot carry. */
export function formatDigestCredentials(c: DigestCredentials): string {
  const parts = [
    `username=${quotedValue("username", c.username)}`,
    `realm=${quotedValue("realm", c.realm)}`,
    `nonce=${quotedValue("nonce", c.nonce)}`,
    `uri=${quotedValue("uri", c.uri)}`,
    `response=${quotedValue("response", c.response)}`,
  ];
  if (c.algorithm !== undefined) parts.push(`algorithm=${tokenValue("algorithm", c.algorithm)}`);
  if (c.cnonce !== undefined) parts.push(`cnonce=${quotedValue("cnonce", c.cnonce)}`);
  if (c.opaque !== undefined) parts.push(`opaque=${quotedValue("opaque", c.opaque)}`);
  if (c.qop !== undefined) parts.push(`qop=${tokenValue("qop", c.qop)}`);
  if (c.nc !== undefined) parts.push(`nc=${tokenValue("nc", c.nc)}`);
  parts.push(...extraParams(c.params));
  return `Digest ${parts.join(", ")}`;
}
