// Human-readable rendering of a message: start line, each header with its typed decoding where the codec
// has one, and the body size. Used by `callgate parse`.
import { headerKey } from "./header-names.js";
import { parseContactList, parseNameAddr, parseNameAddrList, type NameAddrHeader } from "./header-name-addr.js";
import {
  parseCallId,
  parseContentLength,
  parseContentType,
  parseCSeq,
  parseExpires,
  parseMaxForwards,
  parseTokenList,
} from "./header-values.js";
import { parseViaValue } from "./header-via.js";
import { startLine } from "./message-serializer.js";
import { isRequest, type SipMessage } from "./sip-message.js";
import { SipParseError } from "./sip-parse-error.js";
import { formatSipUri, parseSipUri, type SipUri } from "./sip-uri.js";

/** One header with its typed decoding, or why it did not decode. */
export interface HeaderDescription {
  name: string;
  value: string;
  /** One line per decoded element, absent for headers the codec has no typed form for. */
  decoded?: string[];
  error?: SipParseError;
}

function params(p: Map<string, string | null>, skip: readonly string[] = []): string {
  const parts: string[] = [];
  for (const [k, v] of p) if (!skip.includes(k)) parts.push(v === null ? k : `${k}=${JSON.stringify(v)}`);
  return parts.length > 0 ? ` params{${parts.join(", ")}}` : "";
}

/** A SIP URI's typed decoding as one line of text. */
export function describeUri(uri: SipUri | string): string {
  if (typeof uri === "string") return `uri(other scheme)=${JSON.stringify(uri)}`;
  let out = `${uri.scheme}`;
  if (uri.user !== undefined) out += ` user=${JSON.stringify(uri.user)}`;
  if (uri.password !== undefined) out += ` password=${JSON.stringify(uri.password)}`;
  if (uri.scheme !== "tel") out += ` host=${uri.host}`;
  if (uri.port !== undefined) out += ` port=${uri.port}`;
  out += params(uri.params);
  if (uri.headers.size > 0) out += ` headers{${[...uri.headers].map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(", ")}}`;
  return out;
}

function describeNameAddr(h: NameAddrHeader): string {
  let out = "";
  if (h.displayName !== undefined) out += `display=${JSON.stringify(h.displayName)} `;
  out += `uri=<${describeUri(h.uri)}>`;
  if (h.tag !== undefined) out += ` tag=${h.tag}`;
  return out + params(h.params, ["tag"]);
}

function decode(name: string, value: string): string[] | undefined {
  switch (headerKey(name)) {
    case "via":
      return parseViaValue(value).map((v) => {
        let out = `${v.protocolName}/${v.protocolVersion} transport=${v.transport} host=${v.host}`;
        if (v.port !== undefined) out += ` port=${v.port}`;
        if (v.branch !== undefined) out += ` branch=${v.branch}`;
        if (v.received !== undefined) out += ` received=${v.received}`;
        if (v.rport !== undefined) out += ` rport=${v.rport === true ? "(request)" : v.rport}`;
        if (v.maddr !== undefined) out += ` maddr=${v.maddr}`;
        if (v.ttl !== undefined) out += ` ttl=${v.ttl}`;
        return out + params(v.params, ["branch", "received", "rport", "maddr", "ttl"]);
      });
    case "from":
    case "to":
      return [describeNameAddr(parseNameAddr(value, name))];
    case "contact":
      if (value === "*") return ["* (all bindings)"];
      return parseContactList(value).map((c) => {
        let out = describeNameAddr(c);
        if (c.expires !== undefined) out += ` expires=${c.expires}`;
        if (c.q !== undefined) out += ` q=${c.q}`;
        return out;
      });
    case "route":
    case "record-route":
      return parseNameAddrList(value, name).map(describeNameAddr);
    case "call-id":
      return [`call-id=${parseCallId(value)}`];
    case "cseq": {
      const c = parseCSeq(value);
      return [`seq=${c.seq} method=${c.method}`];
    }
    case "max-forwards":
      return [`hops=${parseMaxForwards(value)}`];
    case "content-length":
      return [`bytes=${parseContentLength(value)}`];
    case "content-type": {
      const ct = parseContentType(value, name);
      return [`media-type=${ct.mediaType}${params(ct.params)}`];
    }
    case "expires":
      return [`seconds=${parseExpires(value)}`];
    case "require":
    case "proxy-require":
    case "supported":
    case "unsupported":
    case "allow":
      return [`[${parseTokenList(value, name).join(", ")}]`];
    default:
      return undefined;
  }
}

/** Each header with its typed decoding (or the decoding error). */
export function describeHeaders(m: SipMessage): HeaderDescription[] {
  return m.headers.map((h) => {
    try {
      const decoded = decode(h.name, h.value);
      return decoded === undefined ? { name: h.name, value: h.value } : { name: h.name, value: h.value, decoded };
    } catch (e) {
      if (e instanceof SipParseError) return { name: h.name, value: h.value, error: e };
      throw e;
    }
  });
}

/** Multi-line rendering: start line (with the decoded Request-URI), headers, decodings, body size. */
export function formatSipMessage(m: SipMessage): string {
  const lines: string[] = [startLine(m)];
  if (isRequest(m)) {
    try {
      const uri = parseSipUri(m.uri);
      lines.push(`    = method=${m.method} request-uri=<${describeUri(uri)}> (${formatSipUri(uri)})`);
    } catch (e) {
      if (!(e instanceof SipParseError)) throw e;
      lines.push(`    ! ${e.code} at offset ${e.offset}: ${e.message}`);
    }
  } else {
    lines.push(`    = status=${m.status} reason=${JSON.stringify(m.reason)}`);
  }
  for (const d of describeHeaders(m)) {
    lines.push(`${d.name}: ${d.value}`);
    if (d.decoded !== undefined) for (const line of d.decoded) lines.push(`    = ${line}`);
    if (d.error !== undefined) lines.push(`    ! ${d.error.code} at ${d.error.header ?? d.name} offset ${d.error.offset}: ${d.error.message}`);
  }
  const ct = m.getHeader("content-type");
  lines.push(`body: ${m.body.length} bytes${ct !== undefined && m.body.length > 0 ? ` (${ct})` : ""}`);
  return lines.join("\n");
}
