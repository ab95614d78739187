// Via (RFC 3261 §20.42, §25.1 via-parm), with received/rport (RFC 3581) and every extension parameter.
import { headerError, isTokenChar, parseDecimal, parseGenericParams, scanToken, skipWs } from "./header-lexer.js";
import { SipParseError } from "./sip-parse-error.js";

/** A Via value: transport, sent-by and parameters (branch, received, rport) (RFC 3261 §20.42). */
export interface ViaHeader {
  /** "SIP/2.0/UDP" as the three parts were written, without whitespace. */
  protocol: string;
  protocolName: string;
  protocolVersion: string;
  /** Transport in upper case: "UDP", "TCP", "TLS", "SCTP", "WS", "WSS" or an extension token. */
  transport: string;
  host: string;
  port?: number;
  /** Every parameter, names lower case, null when without value. */
  params: Map<string, string | null>;
  branch?: string;
  received?: string;
  /** RFC 3581: true for a bare ";rport", the port number once filled in. */
  rport?: number | true;
  maddr?: string;
  ttl?: number;
}

const H = "Via";

/** Parses one Via header value, which may carry several comma-separated via-parms. */
export function parseViaValue(text: string, into: ViaHeader[] = []): ViaHeader[] {
  return parseViaIn(text, 0, text.length, into);
}

/**
 * parseViaValue on text[start, end) (the value in place inside the message text). Error offsets are
 * positions in `text`; the caller makes them relative to `start`.
 */
export function parseViaIn(text: string, start: number, end: number, into: ViaHeader[]): ViaHeader[] {
  const n = end;
  let i = start;
  valueStart = start;
  for (;;) {
    i = skipWs(text, i, n);
    into.push(parseOneVia(text, i, n));
    i = skipWs(text, stopAt, n);
    if (i >= n) return into;
    // parseOneVia stops only at end or at a ','
    i++;
  }
}

/** Where the last parseOneVia stopped (avoids allocating a result tuple). */
let stopAt = 0;
/** Start of the value being parsed (errors inside parameter values are relative to those values). */
let valueStart = 0;

function parseOneVia(text: string, i: number, end: number): ViaHeader {
  const nameStart = i;
  i = scanToken(text, i, end);
  if (i === nameStart) headerError(H, "expected protocol name", i);
  const protocolName = i - nameStart === 3 && text.startsWith("SIP", nameStart) ? "SIP" : text.substring(nameStart, i);
  i = expectSlash(text, i, end);
  const verStart = i;
  i = scanToken(text, i, end);
  if (i === verStart) headerError(H, "expected protocol version", i);
  const protocolVersion = i - verStart === 3 && text.startsWith("2.0", verStart) ? "2.0" : text.substring(verStart, i);
  i = expectSlash(text, i, end);
  const tStart = i;
  i = scanToken(text, i, end);
  if (i === tStart) headerError(H, "expected transport", i);
  const transportRaw = text.substring(tStart, i);
  const afterProto = i;
  const protoEnd = i;
  i = skipWs(text, i, end);
  if (i === afterProto) headerError(H, "expected whitespace before sent-by", i);
  // sent-by = host [ COLON port ]
  const hostStart = i;
  if (i < end && text.charCodeAt(i) === 91) {
    const close = text.indexOf("]", i);
    if (close < 0 || close >= end) headerError(H, "unterminated IPv6 reference", i);
    i = close + 1;
  } else {
    while (i < end) {
      const c = text.charCodeAt(i);
      if ((c >= 48 && c <= 57) || ((c | 0x20) >= 97 && (c | 0x20) <= 122) || c === 45 || c === 46) i++;
      else break;
    }
  }
  if (i === hostStart) headerError(H, "expected sent-by host", i);
  const host = text.substring(hostStart, i);
  const compact = protoEnd - nameStart === protocolName.length + protocolVersion.length + transportRaw.length + 2;
  const via: ViaHeader = {
    protocol: compact ? text.substring(nameStart, protoEnd) : `${protocolName}/${protocolVersion}/${transportRaw}`,
    protocolName,
    protocolVersion,
    transport: isUpper(transportRaw) ? transportRaw : transportRaw.toUpperCase(),
    host,
    port: undefined,
    params: new Map(),
    branch: undefined,
    received: undefined,
    rport: undefined,
    maddr: undefined,
    ttl: undefined,
  };
  let j = skipWs(text, i, end);
  if (j < end && text.charCodeAt(j) === 58) {
    j = skipWs(text, j + 1, end);
    const pStart = j;
    while (j < end && text.charCodeAt(j) >= 48 && text.charCodeAt(j) <= 57) j++;
    via.port = parseDecimal(text, pStart, j, 65535, H);
    i = j;
  }
  i = parseGenericParams(text, i, via.params, H, true, end);
  const params = via.params;
  if (params.size > 0) {
    const branch = params.get("branch");
    if (branch !== undefined) {
      if (branch === null) headerError(H, "branch without value", i);
      via.branch = branch;
    }
    const received = params.get("received");
    if (received !== undefined) {
      if (received === null) headerError(H, "received without value", i);
      via.received = received;
    }
    const rport = params.get("rport");
    if (rport !== undefined) via.rport = rport === null ? true : paramNumber(rport, 65535);
    const maddr = params.get("maddr");
    if (maddr !== undefined) {
      if (maddr === null) headerError(H, "maddr without value", i);
      via.maddr = maddr;
    }
    const ttl = params.get("ttl");
    if (ttl !== undefined) {
      if (ttl === null) headerError(H, "ttl without value", i);
      via.ttl = paramNumber(ttl, 255);
    }
  }
  stopAt = i;
  return via;
}

function isUpper(t: string): boolean {
  for (let k = 0; k < t.length; k++) {
    const c = t.charCodeAt(k);
    if (c >= 97 && c <= 122) return false;
  }
  return true;
}

function expectSlash(text: string, i: number, end: number): number {
  i = skipWs(text, i, end);
  if (i >= end || text.charCodeAt(i) !== 47) headerError(H, "expected '/' in sent-protocol", i);
  return skipWs(text, i + 1, end);
}

/** A numeric parameter value; its error offsets are positions in the parameter value (as the caller shifts them by the value start, they are shifted back here). */
function paramNumber(value: string, max: number): number {
  try {
    return parseDecimal(value, 0, value.length, max, H);
  } catch (e) {
    throw e instanceof SipParseError ? e.shifted(valueStart) : e;
  }
}

/** Formats one Via value (params in map order). */
export function formatVia(via: ViaHeader): string {
  let out = `${via.protocolName}/${via.protocolVersion}/${via.transport} ${via.host}`;
  if (via.port !== undefined) out += `:${via.port}`;
  for (const [k, v] of via.params) out += v === null ? `;${k}` : `;${k}=${needsQuoting(v) ? `"${v.replace(/(["\\])/g, "\\$1")}"` : v}`;
  return out;
}

function needsQuoting(v: string): boolean {
  if (v.length === 0) return true;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (!isTokenChar(c) && c !== 58 && c !== 91 && c !== 93) return true;
  }
  return false;
}
