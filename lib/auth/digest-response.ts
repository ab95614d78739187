// The request-digest of RFC 7616 §3.4.1 (RFC 2617 §3.2.2.1 for MD5; RFC 8760 for SHA-256), computed from HA1 so
// that no password is needed: response = KD(HA1, nonce ":" nc ":" cnonce ":" qop ":" H(A2)) with qop, else
// KD(HA1, nonce ":" H(A2)); A2 = method ":" digest-uri (qop=auth).
import { timingSafeEqual } from "node:crypto";
import { DIGEST_ALGORITHMS, digestHash, type DigestAlgorithm } from "./credential-store.js";

/** What a Digest response is computed from: HA1, the request's method and URI, nonce and, with qop, nc and cnonce. */
export interface DigestInput {
  algorithm: DigestAlgorithm;
  /** HA1 in hex. */
  ha1: string;
  method: string;
  uri: string;
  nonce: string;
  qop?: string;
  nc?: string;
  cnonce?: string;
}

/** The algorithm a credentials' `algorithm` parameter names (absent: MD5), or undefined when not supported. */
export function digestAlgorithm(name: string | undefined): DigestAlgorithm | undefined {
  if (name === undefined) return "MD5";
  return DIGEST_ALGORITHMS.find((a) => a.toLowerCase() === name.toLowerCase());
}

/** The Digest `response` value (hex) for these inputs (RFC 2617 §3.2.2.1, RFC 8760). */
export function computeDigestResponse(d: DigestInput): string {
  const ha2 = digestHash(d.algorithm, `${d.method}:${d.uri}`);
  const data = d.qop !== undefined ? `${d.nonce}:${d.nc ?? ""}:${d.cnonce ?? ""}:${d.qop}:${ha2}` : `${d.nonce}:${ha2}`;
  return digestHash(d.algorithm, `${d.ha1}:${data}`);
}

/** Constant-time comparison of two hex digests. */
export function sameDigest(a: string, b: string): boolean {
  const x = Buffer.from(a.toLowerCase(), "latin1");
  const y = Buffer.from(b.toLowerCase(), "latin1");
  return x.length === y.length && timingSafeEqual(x, y);
}
