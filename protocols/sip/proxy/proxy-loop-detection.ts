// RFC 3261 §16.6 step 8 / §16.3 step 4: branch values that carry a hash of the loop-relevant request fields.
import type { SipRequest } from "../codec/sip-message.js";
import { MAGIC_COOKIE } from "../transaction/transaction-matching.js";

/** FNV-1a-style 32-bit hash of `text` and a separator, from `h`, with multiplier `prime`. */
function mix(h: number, text: string, prime: number): number {
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), prime);
  return Math.imul(h, prime) >>> 0; // a zero code unit between fields
}

/**
 * Hash over the fields §16.6 step 8 lists (To tag, From tag, Call-ID, Request-URI as received, CSeq number,
 * Proxy-Require, Proxy-Authorization). The top Via and Route are left out: they change hop by hop, so a
 * request coming back around a loop would otherwise never hash the same (§16.3 step 4 needs it to). The RFC
 * asks for no particular hash: two 32-bit lanes (FNV-1a's prime, and the golden ratio's) tell a spiral from a loop.
 */
export function loopDetectionHash(received: SipRequest): string {
  const parts = [
    received.to.tag ?? "",
    received.from.tag ?? "",
    received.callId,
    received.uri,
    String(received.cseq.seq),
    received.hasHeader("Proxy-Require") ? received.getHeaders("Proxy-Require").join(",") : "",
    received.hasHeader("Proxy-Authorization") ? received.getHeaders("Proxy-Authorization").join(",") : "",
  ];
  let a = 0x811c9dc5;
  let b = 0x050c5d1f;
  for (const p of parts) {
    a = mix(a, p, 0x01000193);
    b = mix(b, p, 0x9e3779b1);
  }
  return a.toString(36).padStart(7, "0") + b.toString(36).padStart(7, "0");
}

/** Branch for the n-th forwarded copy: magic cookie, loop hash, branch index. */
export function proxyBranch(loopHash: string, branchIndex: number, salt: string): string {
  return `${MAGIC_COOKIE}${loopHash}.${salt}${branchIndex}`;
}

/** The loop-hash part of a branch this proxy generated, or undefined. */
export function loopHashOfBranch(branch: string | undefined): string | undefined {
  if (!branch?.startsWith(MAGIC_COOKIE)) return undefined;
  const dot = branch.indexOf(".", MAGIC_COOKIE.length);
  return dot < 0 ? undefined : branch.slice(MAGIC_COOKIE.length, dot);
}
