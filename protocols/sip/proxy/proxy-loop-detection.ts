// RFC 3261 §16.6 step 8 / §16.3 step 4: branch values that carry a hash of the loop-relevant request fields.
import { createHash } from "node:crypto";
import type { SipRequest } from "../codec/sip-message.js";
import { MAGIC_COOKIE } from "../transaction/transaction-matching.js";

/**
 * Hash over the fields §16.6 step 8 lists (To tag, From tag, Call-ID, Request-URI as received, CSeq number,
 * Proxy-Require, Proxy-Authorization). The top Via and Route are left out: they change hop by hop, so a
 * request coming back around a loop would otherwise never hash the same (§16.3 step 4 needs it to).
 */
export function loopDetectionHash(received: SipRequest): string {
  const h = createHash("sha1");
  const parts = [
    received.to.tag ?? "",
    received.from.tag ?? "",
    received.callId,
    received.uri,
    String(received.cseq.seq),
    received.getHeaders("Proxy-Require").join(","),
    received.getHeaders("Proxy-Authorization").join(","),
  ];
  for (const p of parts) h.update(p).update("\u0000");
  return h.digest("base64url").slice(0, 16);
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
