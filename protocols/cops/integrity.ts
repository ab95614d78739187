// RFC 2748 §2.2.16 message integrity: HMAC-MD5-96 over the message up to and including the
// Integrity object's Key ID and Sequence Number; the digest is the last 12 octets of the message.
import { createHmac, timingSafeEqual } from "node:crypto";
import { HMAC_MD5_96_LENGTH } from "./constants.js";

/** HMAC-MD5 truncated to 96 bits, the Integrity digest of RFC 2748 §2.2.16. */
export function hmacMd596(key: Buffer, data: Buffer): Buffer {
  return createHmac("md5", key).update(data).digest().subarray(0, HMAC_MD5_96_LENGTH);
}

/**
 * Fills the digest of a message encoded with a trailing Integrity (C-Type 1) object whose digest
 * field is 12 octets long. Returns the same buffer.
 */
export function signCopsMessage(bytes: Buffer, key: Buffer): Buffer {
  const covered = bytes.length - HMAC_MD5_96_LENGTH;
  hmacMd596(key, bytes.subarray(0, covered)).copy(bytes, covered);
  return bytes;
}

/** True when the last 12 octets are the HMAC-MD5-96 of everything before them under `key`. */
export function verifyCopsDigest(bytes: Buffer, key: Buffer): boolean {
  if (bytes.length < HMAC_MD5_96_LENGTH + 8) return false;
  const covered = bytes.length - HMAC_MD5_96_LENGTH;
  const expected = hmacMd596(key, bytes.subarray(0, covered));
  return timingSafeEqual(expected, bytes.subarray(covered));
}

/** Placeholder Integrity object for `encodeCopsMessage`, then `signCopsMessage`. */
export function integrityPlaceholder(keyId: number, sequence: number) {
  return { kind: "integrity" as const, cType: 1 as const, keyId, sequence, digest: Buffer.alloc(HMAC_MD5_96_LENGTH) };
}
