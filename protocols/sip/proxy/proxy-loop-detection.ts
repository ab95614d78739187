// RFC 3261 §16.6 step 8 / §16.3 step 4: branch values that carry a hash of the loop-relevant request fields.
import type { SipRequest } from "../codec/sip-message.js";
import { MAGIC_COOKIE } from "../transaction/transaction-matching.js";

const FNV = 0x01000193;
const GOLDEN = 0x9e3779b1;

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
  const toTag = received.to.tag ?? "";
  const fromTag = received.from.tag ?? "";
  const seq = String(received.cseq.seq);
  const proxyRequire = received.hasHeader("Proxy-Require") ? received.getHeaders("Proxy-Require").join(",") : "";
  const proxyAuthorization = received.hasHeader("Proxy-Authorization") ? received.getHeaders("Proxy-Authorization").join(",") : "";
  const callId = received.callId;
  const uri = received.uri;
  // The fields in this order, each followed by a zero code unit, into both lanes.
  let a = mix(0x811c9dc5, toTag, FNV);
  a = mix(mix(mix(a, fromTag, FNV), callId, FNV), uri, FNV);
  a = mix(mix(mix(a, seq, FNV), proxyRequire, FNV), proxyAuthorization, FNV);
  let b = mix(0x050c5d1f, toTag, GOLDEN);
  b = mix(mix(mix(b, fromTag, GOLDEN), callId, GOLDEN), uri, GOLDEN);
  b = mix(mix(mix(b, seq, GOLDEN), proxyRequire, GOLDEN), proxyAuthorization, GOLDEN);
  return base36Pair(a, b);
}

const BASE36 = Array.from("0123456789abcdefghijklmnopqrstuvwxyz", (c) => c.charCodeAt(0));
const digits: number[] = new Array<number>(14).fill(0);

/** Seven base-36 digits of the unsigned 32-bit `n` at digits[at..at+7), by long division on 16-bit halves (small integers only). */
function putBase36(n: number, at: number): void {
  let hi = n >>> 16;
  let lo = n & 0xffff;
  for (let i = 6; i >= 0; i--) {
    const rh = hi % 36;
    hi = (hi - rh) / 36;
    const r = rh * 65536 + lo;
    const d = r % 36;
    lo = (r - d) / 36;
    digits[at + i] = BASE36[d]!;
  }
}

/** a.toString(36).padStart(7, "0") + b.toString(36).padStart(7, "0"), without the floating-point radix conversion. */
function base36Pair(a: number, b: number): string {
  putBase36(a, 0);
  putBase36(b, 7);
  const d = digits;
  return String.fromCharCode(d[0]!, d[1]!, d[2]!, d[3]!, d[4]!, d[5]!, d[6]!, d[7]!, d[8]!, d[9]!, d[10]!, d[11]!, d[12]!, d[13]!);
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
