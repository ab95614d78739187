// RFC 3261 §16.3: request validation by a proxy, before any forwarding.
import type { SipHeader, SipRequest } from "../codec/sip-message.js";
import { loopDetectionHash, loopHashOfBranch } from "./proxy-loop-detection.js";
import type { ProxyIdentity } from "./proxy-routing.js";

/** Why a proxy refuses a request (RFC 3261 §16.3), and the status to answer. */
export interface ValidationFailure {
  status: number;
  reason: string;
  headers?: SipHeader[];
}

/** What a proxy checks requests against: its identity, the extensions it supports (Proxy-Require), loop detection. */
export interface ValidationOptions {
  identity: ProxyIdentity;
  /** Option tags this proxy supports (Proxy-Require, §16.3 step 5). */
  supportedExtensions?: readonly string[];
  /** §16.3 step 4 (optional in the RFC): on by default. */
  loopDetection?: boolean;
}

/**
 * §16.3 steps 1–5 (step 6, Proxy-Authorization, is the hook's business). Returns the error response to
 * send, or undefined if the request may go on. Malformed mandatory headers yield 400 (step 1).
 */
export function validateProxyRequest(request: SipRequest, options: ValidationOptions): ValidationFailure | undefined {
  // Step 1: reasonable syntax — the headers a proxy relies on must parse.
  let maxForwards: number | undefined;
  try {
    void request.callId;
    void request.cseq;
    void request.from;
    void request.to;
    void request.topVia;
    maxForwards = request.maxForwards;
    if (request.cseq.method.toUpperCase() !== request.method.toUpperCase()) {
      return { status: 400, reason: "CSeq Method Does Not Match" };
    }
  } catch (err) {
    return { status: 400, reason: `Bad Request (${err instanceof Error ? err.message.slice(0, 80).replace(/[\r\n]/g, " ") : "malformed"})` };
  }
  if (request.version.toUpperCase() !== "SIP/2.0") return { status: 505, reason: "Version Not Supported" };
  // Step 2: URI scheme.
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(request.uri)?.[1]?.toLowerCase();
  if (scheme !== "sip" && scheme !== "sips" && scheme !== "tel") return { status: 416, reason: "Unsupported URI Scheme" };
  try {
    void request.requestUri;
  } catch {
    return { status: 400, reason: "Bad Request-URI" };
  }
  // Step 3: Max-Forwards.
  if (maxForwards === 0) return { status: 483, reason: "Too Many Hops" };
  // Step 4: loop detection — a Via of ours whose branch hash equals this request's hash.
  if (options.loopDetection ?? true) {
    let mine: string[] | undefined;
    for (const via of request.via) {
      const port = via.port ?? 5060;
      const ours = options.identity.addresses.some((a) => a.host.toLowerCase() === via.host.toLowerCase() && a.port === port);
      if (!ours) continue;
      const h = loopHashOfBranch(via.branch);
      if (h === undefined) continue;
      (mine ??= []).push(h);
    }
    if (mine && mine.includes(loopDetectionHash(request))) return { status: 482, reason: "Loop Detected" };
  }
  // Step 5: Proxy-Require.
  let proxyRequire: string[];
  try {
    proxyRequire = request.proxyRequire;
  } catch {
    return { status: 400, reason: "Bad Proxy-Require" };
  }
  if (proxyRequire.length === 0) return undefined;
  const supported = new Set((options.supportedExtensions ?? []).map((t) => t.toLowerCase()));
  const unsupported = proxyRequire.filter((t) => !supported.has(t.toLowerCase()));
  if (unsupported.length > 0) {
    return { status: 420, reason: "Bad Extension", headers: [{ name: "Unsupported", value: unsupported.join(", ") }] };
  }
  return undefined;
}
