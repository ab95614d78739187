// Request and response builders (RFC 3261 §8.1.1 for requests, §8.2.6 for responses).
import { randomBytes } from "node:crypto";
import { formatVia, type ViaHeader } from "./header-via.js";
import { SipRequest, SipResponse, type SipHeader } from "./sip-message.js";
import { headerNameMatches } from "./header-names.js";

/** Branch with the RFC 3261 magic cookie (§8.1.1.7) and 64 random bits. */
export function generateBranch(): string {
  return "z9hG4bK" + randomBytes(8).toString("hex");
}

/** Tag with 64 random bits (RFC 3261 §19.3 asks for at least 32). */
export function generateTag(): string {
  return randomBytes(6).toString("base64url");
}

/** Call-ID (RFC 3261 §8.1.1.4): random word, optionally "@host". */
export function generateCallId(host?: string): string {
  const id = randomBytes(12).toString("hex");
  return host ? `${id}@${host}` : id;
}

/** The parts of a request to build: method, URI, Via, From, To, Call-ID, CSeq, headers, body. */
export interface BuildRequestOptions {
  method: string;
  /** Request-URI text. */
  uri: string;
  /** From header value (must carry a tag, RFC 3261 §8.1.1.3). */
  from: string;
  /** To header value. */
  to: string;
  callId: string;
  cseq: number;
  /** Via values, top first, or one ViaHeader-like object; a branch is generated when missing. */
  via?: string | string[] | Partial<ViaHeader> & { host: string; transport?: string };
  maxForwards?: number;
  contact?: string;
  body?: Buffer | string;
  contentType?: string;
  extraHeaders?: SipHeader[] | Record<string, string>;
}

function toHeaderList(extra: SipHeader[] | Record<string, string> | undefined): SipHeader[] {
  if (extra === undefined) return [];
  if (Array.isArray(extra)) return extra.map((h) => ({ name: h.name, value: h.value }));
  return Object.entries(extra).map(([name, value]) => ({ name, value }));
}

/** Builds a request with the mandatory headers of RFC 3261 §8.1.1 in conventional order. */
export function buildRequest(o: BuildRequestOptions): SipRequest {
  const headers: SipHeader[] = [];
  const vias: string[] = [];
  if (typeof o.via === "string") vias.push(o.via);
  else if (Array.isArray(o.via)) vias.push(...o.via);
  else if (o.via !== undefined) {
    const v = o.via;
    const params = new Map(v.params ?? []);
    if (!params.has("branch")) params.set("branch", v.branch ?? generateBranch());
    if (v.rport === true && !params.has("rport")) params.set("rport", null);
    const full: ViaHeader = {
      protocol: `SIP/2.0/${(v.transport ?? "UDP").toUpperCase()}`,
      protocolName: "SIP",
      protocolVersion: "2.0",
      transport: (v.transport ?? "UDP").toUpperCase(),
      host: v.host,
      params,
    };
    if (v.port !== undefined) full.port = v.port;
    vias.push(formatVia(full));
  }
  for (const v of vias) headers.push({ name: "Via", value: v });
  headers.push({ name: "Max-Forwards", value: String(o.maxForwards ?? 70) });
  headers.push({ name: "From", value: o.from });
  headers.push({ name: "To", value: o.to });
  headers.push({ name: "Call-ID", value: o.callId });
  headers.push({ name: "CSeq", value: `${o.cseq} ${o.method}` });
  if (o.contact !== undefined) headers.push({ name: "Contact", value: o.contact });
  headers.push(...toHeaderList(o.extraHeaders));
  const body = o.body === undefined ? Buffer.alloc(0) : typeof o.body === "string" ? Buffer.from(o.body, "utf8") : o.body;
  if (o.contentType !== undefined) headers.push({ name: "Content-Type", value: o.contentType });
  headers.push({ name: "Content-Length", value: String(body.length) });
  return new SipRequest(o.method, o.uri, headers, body);
}

/** What a response built for a request adds: To tag, extra headers, body, Contact. */
export interface BuildResponseOptions {
  /** To-tag to add when the request's To has none (RFC 3261 §8.2.6.2); not added for 100. */
  toTag?: string;
  extraHeaders?: SipHeader[] | Record<string, string>;
  body?: Buffer | string;
  contentType?: string;
  contact?: string;
}

/** Default reason phrases (RFC 3261 §21). */
export const REASON_PHRASES: Readonly<Record<number, string>> = {
  100: "Trying", 180: "Ringing", 181: "Call Is Being Forwarded", 182: "Queued", 183: "Session Progress",
  200: "OK", 202: "Accepted", 300: "Multiple Choices", 301: "Moved Permanently", 302: "Moved Temporarily",
  305: "Use Proxy", 380: "Alternative Service", 400: "Bad Request", 401: "Unauthorized", 402: "Payment Required",
  403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
  407: "Proxy Authentication Required", 408: "Request Timeout", 410: "Gone", 413: "Request Entity Too Large",
  414: "Request-URI Too Long", 415: "Unsupported Media Type", 416: "Unsupported URI Scheme", 420: "Bad Extension",
  421: "Extension Required", 423: "Interval Too Brief", 480: "Temporarily Unavailable",
  481: "Call/Transaction Does Not Exist", 482: "Loop Detected", 483: "Too Many Hops", 484: "Address Incomplete",
  485: "Ambiguous", 486: "Busy Here", 487: "Request Terminated", 488: "Not Acceptable Here", 491: "Request Pending",
  493: "Undecipherable", 500: "Server Internal Error", 501: "Not Implemented", 502: "Bad Gateway",
  503: "Service Unavailable", 504: "Server Time-out", 505: "Version Not Supported", 513: "Message Too Large",
  600: "Busy Everywhere", 603: "Decline", 604: "Does Not Exist Anywhere", 606: "Not Acceptable",
};

/**
 * Builds a response to `req` (RFC 3261 §8.2.6.2): Via (all, in order), From, To (with a tag added unless
 * status is 100 or one is present), Call-ID and CSeq copied; Record-Route copied for 18x/2xx (§12.1.1).
 */
export function buildResponse(req: SipRequest, status: number, reason?: string, o: BuildResponseOptions = {}): SipResponse {
  // One pass over the request's headers, sorted into the groups of the response in their wire order.
  const vias: SipHeader[] = [];
  const froms: SipHeader[] = [];
  const callIds: SipHeader[] = [];
  const cseqs: SipHeader[] = [];
  let recordRoutes: SipHeader[] | undefined;
  let toHeader: SipHeader | undefined;
  // Record-Route only belongs in dialog-establishing responses.
  const keepRecordRoute = status >= 180 && status < 300 && req.method !== "CANCEL";
  const hs = req.headers;
  for (let i = 0; i < hs.length; i++) {
    const h = hs[i]!;
    const name = h.name;
    if (headerNameMatches(name, "via")) vias.push({ name, value: h.value });
    else if (headerNameMatches(name, "from")) froms.push({ name, value: h.value });
    else if (headerNameMatches(name, "to")) {
      if (toHeader === undefined) toHeader = h;
    } else if (headerNameMatches(name, "call-id")) callIds.push({ name, value: h.value });
    else if (headerNameMatches(name, "cseq")) cseqs.push({ name, value: h.value });
    else if (keepRecordRoute && headerNameMatches(name, "record-route")) (recordRoutes ??= []).push({ name, value: h.value });
  }
  const headers = vias;
  if (recordRoutes !== undefined) for (const h of recordRoutes) headers.push(h);
  for (const h of froms) headers.push(h);
  if (toHeader !== undefined) {
    let value = toHeader.value;
    if (status !== 100 && o.toTag !== undefined && !hasTag(req)) value += `;tag=${o.toTag}`;
    headers.push({ name: toHeader.name, value });
  }
  for (const h of callIds) headers.push(h);
  for (const h of cseqs) headers.push(h);
  if (o.contact !== undefined) headers.push({ name: "Contact", value: o.contact });
  if (o.extraHeaders !== undefined) for (const h of toHeaderList(o.extraHeaders)) headers.push(h);
  const body = o.body === undefined ? EMPTY_BODY : typeof o.body === "string" ? Buffer.from(o.body, "utf8") : o.body;
  if (o.contentType !== undefined) headers.push({ name: "Content-Type", value: o.contentType });
  headers.push({ name: "Content-Length", value: String(body.length) });
  return new SipResponse(status, reason ?? REASON_PHRASES[status] ?? "Unknown", headers, body, "SIP/2.0");
}

const EMPTY_BODY = Buffer.alloc(0);

function hasTag(req: SipRequest): boolean {
  try {
    return req.to.tag !== undefined;
  } catch {
    return false;
  }
}
