// What a UAS or proxy must answer to a parsed request before acting on it (RFC 3261 §8.2 for a UAS,
// §16.3 for a proxy), and whether a proxy may forward a response (RFC 3261 §16.7, RFC 4475 §3.1.2.5).
import { headerNameMatches } from "./header-names.js";
import { isToken } from "./header-lexer.js";
import type { SipHeader, SipRequest, SipResponse } from "./sip-message.js";
import { SipParseError } from "./sip-parse-error.js";

/** Why a request is refused, and the response to answer it with. */
export interface RequestRejection {
  status: number;
  reason: string;
  /** Headers the response must carry (Unsupported for 420, Accept for 415/406, Allow for 501). */
  headers?: SipHeader[];
  /** Why, for the log. */
  detail: string;
}

/** What a request is checked against: role, methods, extensions, content types, authentication schemes. */
export interface RequestValidationOptions {
  /** "uas" applies §8.2 (Require, methods, bodies); "proxy" applies §16.3 (Max-Forwards, Proxy-Require). */
  role?: "uas" | "proxy";
  /** Option-tags this element supports (Require for a UAS, Proxy-Require for a proxy). Default none. */
  supportedExtensions?: readonly string[];
  /** Methods a UAS implements (others get 501). */
  methods?: readonly string[];
  /** Body types a UAS accepts (others get 415). */
  acceptedContentTypes?: readonly string[];
  /** Body types a UAS can send in answer to INVITE (an Accept excluding all gets 406). */
  producibleContentTypes?: readonly string[];
  /** When set, credentials of another scheme get 401 (UAS) / 407 (proxy), RFC 3261 §22. */
  authSchemes?: readonly string[];
}

/** The methods a UAS accepts by default. */
export const DEFAULT_UAS_METHODS: readonly string[] = [
  "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "PRACK", "SUBSCRIBE", "NOTIFY", "PUBLISH", "INFO",
  "REFER", "MESSAGE", "UPDATE",
];
const DEFAULT_ACCEPTED_TYPES = ["application/sdp", "multipart/mixed", "text/plain", "message/sipfrag"];
const DEFAULT_PRODUCIBLE_TYPES = ["application/sdp"];

function reject(status: number, reason: string, detail: string, headers?: SipHeader[]): RequestRejection {
  return headers === undefined ? { status, reason, detail } : { status, reason, detail, headers };
}

/** Runs `touch`; a SipParseError becomes a 400 naming the header. */
function syntax(touch: () => unknown): RequestRejection | undefined {
  try {
    touch();
    return undefined;
  } catch (e) {
    if (e instanceof SipParseError) return reject(400, "Bad Request", e.message);
    throw e;
  }
}

const SINGLE_VALUED = ["to", "from", "call-id", "cseq", "max-forwards", "content-type", "content-length", "expires"];

// rfc1123-date = wkday "," SP date1 SP time SP "GMT" (RFC 3261 §20.17)
const RFC1123_DATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;

/**
 * The response a UAS (RFC 3261 §8.2) or proxy (§16.3) must send instead of processing `req`, or
 * undefined when the request may be processed. Checks run in the order of those sections.
 */
export function validateRequest(req: SipRequest, opts: RequestValidationOptions = {}): RequestRejection | undefined {
  const role = opts.role ?? "uas";
  // §8.2 / §16.3 step 1: reasonable syntax. Version first (§21.5.6 505, RFC 4475 §3.1.2.16).
  if (req.version.toUpperCase() !== "SIP/2.0") return reject(505, "Version Not Supported", `version ${req.version}`);
  for (const key of SINGLE_VALUED) {
    let n = 0;
    for (const h of req.headers) if (headerNameMatches(h.name, key)) n++;
    if (n > 1) return reject(400, "Bad Request", `${n} ${key} headers where one is allowed (RFC 4475 §3.3.8)`);
  }
  const bad =
    syntax(() => req.via) ??
    syntax(() => req.from) ??
    syntax(() => req.to) ??
    syntax(() => req.callId) ??
    syntax(() => req.cseq) ??
    syntax(() => req.maxForwards) ??
    syntax(() => req.contact) ??
    syntax(() => req.route) ??
    syntax(() => req.recordRoute) ??
    syntax(() => req.contentType) ??
    syntax(() => req.require) ??
    syntax(() => req.proxyRequire) ??
    syntax(() => req.supported) ??
    syntax(() => req.expires);
  if (bad !== undefined) return bad;
  if (req.via.length === 0) return reject(400, "Bad Request", "no Via");
  const date = req.getHeader("date");
  if (date !== undefined && !RFC1123_DATE.test(date)) return reject(400, "Bad Request", `Date not an RFC 1123 GMT date (RFC 4475 §3.1.2.12)`);
  // RFC 3261 §8.1.1.7: a branch of only the magic cookie identifies nothing (RFC 4475 §3.2.1).
  if (req.topVia.branch === "z9hG4bK") return reject(400, "Bad Request", "Via branch is only the magic cookie");
  // §8.2.2.1 / §16.3 step 2: Request-URI scheme.
  try {
    const ruri = req.requestUri;
    // RFC 3261 §19.1.1 table: headers are not allowed in a Request-URI (RFC 4475 §3.1.2.11).
    if (ruri.headers.size > 0) return reject(400, "Bad Request", "Request-URI carries headers");
  } catch (e) {
    if (!(e instanceof SipParseError)) throw e;
    if (e.code === "unsupported-uri-scheme") return reject(416, "Unsupported URI Scheme", e.message);
    return reject(400, "Bad Request", `Request-URI: ${e.message}`);
  }
  const method = req.method;
  if (role === "uas" && !(opts.methods ?? DEFAULT_UAS_METHODS).includes(method)) {
    // RFC 3261 §21.5.2; preferred to 400 when the CSeq also mismatches (RFC 4475 §3.1.2.18).
    return reject(501, "Not Implemented", `method ${method}`, [{ name: "Allow", value: (opts.methods ?? DEFAULT_UAS_METHODS).join(", ") }]);
  }
  // §8.1.1.5: CSeq method matches the request method (RFC 4475 §3.1.2.17).
  if (req.cseq.method !== method) return reject(400, "Bad Request", `CSeq method ${req.cseq.method} differs from ${method}`);
  // Content-Type must accompany a body (RFC 3261 §20.15).
  if (req.body.length > 0 && req.contentType === undefined) return reject(400, "Bad Request", "body without Content-Type");
  const supported = new Set((opts.supportedExtensions ?? []).map((t) => t.toLowerCase()));
  if (role === "proxy") {
    // §16.3 step 3: Max-Forwards 0 is not forwarded (RFC 4475 §3.3.11).
    if (req.maxForwards === 0) return reject(483, "Too Many Hops", "Max-Forwards is 0");
    // §16.3 step 5: Proxy-Require.
    const unknown = req.proxyRequire.filter((t) => !supported.has(t.toLowerCase()));
    if (unknown.length > 0) return reject(420, "Bad Extension", `Proxy-Require ${unknown.join(", ")}`, [{ name: "Unsupported", value: unknown.join(", ") }]);
    // §16.3 step 6 / §22.3: credentials of a scheme the proxy does not use.
    const pa = authScheme(req.getHeader("proxy-authorization"));
    if (opts.authSchemes !== undefined && pa !== undefined && !opts.authSchemes.some((s) => s.toLowerCase() === pa)) {
      return reject(407, "Proxy Authentication Required", `Proxy-Authorization scheme ${pa}`);
    }
    return undefined;
  }
  // §8.2.2.3: Require (not for ACK and CANCEL).
  if (method !== "ACK" && method !== "CANCEL") {
    const unknown = req.require.filter((t) => !supported.has(t.toLowerCase()));
    if (unknown.length > 0) return reject(420, "Bad Extension", `Require ${unknown.join(", ")}`, [{ name: "Unsupported", value: unknown.join(", ") }]);
  }
  // §22.1 / §22.4: credentials in a scheme we do not implement get a fresh challenge (RFC 4475 §3.3.7).
  const a = authScheme(req.getHeader("authorization"));
  if (opts.authSchemes !== undefined && a !== undefined && !opts.authSchemes.some((s) => s.toLowerCase() === a)) {
    return reject(401, "Unauthorized", `Authorization scheme ${a}`);
  }
  // §10.2: the address-of-record of a REGISTER is a SIP or SIPS URI (RFC 4475 §3.3.4).
  if (method === "REGISTER" && typeof req.to.uri === "string") {
    return reject(416, "Unsupported URI Scheme", `To URI ${req.to.uriText} is not sip/sips`);
  }
  // §8.2.3: body type (RFC 4475 §3.3.6).
  const accepted = opts.acceptedContentTypes ?? DEFAULT_ACCEPTED_TYPES;
  const ct = req.contentTypeHeader;
  if (req.body.length > 0 && ct !== undefined && !accepted.includes(ct.mediaType)) {
    return reject(415, "Unsupported Media Type", `Content-Type ${ct.mediaType}`, [{ name: "Accept", value: accepted.join(", ") }]);
  }
  // §21.4.7 406: Accept rules out every type we could answer with (RFC 4475 §3.3.15).
  if (method === "INVITE") {
    const accept = req.getHeaders("accept");
    const producible = opts.producibleContentTypes ?? DEFAULT_PRODUCIBLE_TYPES;
    if (accept.length > 0 && !producible.some((p) => accept.some((a) => mediaRangeMatches(a, p)))) {
      return reject(406, "Not Acceptable", `Accept ${accept.join(", ")}`, [{ name: "Accept", value: producible.join(", ") }]);
    }
  }
  return undefined;
}

/** RFC 3261 §8.2 checks as a UAS. */
export function validateRequestForUas(req: SipRequest, opts: Omit<RequestValidationOptions, "role"> = {}): RequestRejection | undefined {
  return validateRequest(req, { ...opts, role: "uas" });
}

/** RFC 3261 §16.3 checks as a proxy. */
export function validateRequestForProxy(req: SipRequest, opts: Omit<RequestValidationOptions, "role"> = {}): RequestRejection | undefined {
  return validateRequest(req, { ...opts, role: "proxy" });
}

function authScheme(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const sp = value.search(/[ \t]/);
  const scheme = sp < 0 ? value : value.substring(0, sp);
  return isToken(scheme) ? scheme.toLowerCase() : "";
}

function mediaRangeMatches(range: string, type: string): boolean {
  const r = (range.split(";")[0] ?? "").trim().toLowerCase();
  if (r === "*/*" || r === type) return true;
  return r.endsWith("/*") && type.startsWith(r.slice(0, -1));
}

/** Whether a proxy forwards a response, and why not. */
export interface ResponseVerdict {
  action: "discard";
  detail: string;
}

/**
 * Whether a proxy must discard a received response instead of processing it: unparseable mandatory
 * headers (RFC 4475 §3.1.2.5 "simply discard"), a version other than SIP/2.0, or a next hop whose sent-by
 * is the limited broadcast address (RFC 4475 §3.3.10).
 */
export function validateResponseForProxy(res: SipResponse): ResponseVerdict | undefined {
  if (res.version.toUpperCase() !== "SIP/2.0") return { action: "discard", detail: `version ${res.version}` };
  try {
    void res.via;
    void res.from;
    void res.to;
    void res.callId;
    void res.cseq;
  } catch (e) {
    if (e instanceof SipParseError) return { action: "discard", detail: e.message };
    throw e;
  }
  const next = res.via[1];
  if (next !== undefined && (next.received ?? next.host) === "255.255.255.255") {
    return { action: "discard", detail: "next Via sent-by is the broadcast address" };
  }
  return undefined;
}
