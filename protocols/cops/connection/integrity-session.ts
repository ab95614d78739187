// RFC 2748 §2.2.16 per-connection integrity state: Key ID, keys per peer, sequence numbers per direction.
import { encodeCopsMessage } from "../cops-codec.js";
import { CNum, HMAC_MD5_96_LENGTH, OBJECT_HEADER_LENGTH } from "../constants.js";
import type { CopsMessage } from "../cops-message.js";
import { integrityPlaceholder, signCopsMessage, verifyCopsDigest } from "../integrity.js";

/** Key id and key of a connection's Integrity objects. */
export interface CopsIntegrityConfig {
  /** Key ID put in the messages this side sends. */
  keyId: number;
  key: Buffer;
  /** Keys this side accepts from the peer, by the peer's Key ID (default: `{[keyId]: key}`). */
  peerKeys?: ReadonlyMap<number, Buffer>;
  /** First sequence number this side sends (in its OPN or CAT); default 0. */
  initialSequence?: number;
}

/** Header, Key ID, Sequence Number and HMAC-MD5-96 digest. */
const INTEGRITY_OBJECT_LENGTH = OBJECT_HEADER_LENGTH + 8 + HMAC_MD5_96_LENGTH;

/** The outcome of checking a message's Integrity object (RFC 2748 §2.2.17): valid, absent, unknown Key ID, wrong digest, or a sequence number other than the next expected one. */
export type IntegrityCheck = "ok" | "missing" | "bad-key" | "bad-digest" | "replayed";

/** The Integrity object of one connection (RFC 2748 §2.2.16): signs what goes out, checks what comes in, tracks sequence numbers. */
export class IntegritySession {
  private nextSend: number;
  private expectedReceive: number | undefined;
  private readonly peerKeys: ReadonlyMap<number, Buffer>;

  constructor(private readonly config: CopsIntegrityConfig) {
    this.nextSend = (config.initialSequence ?? 0) >>> 0;
    this.peerKeys = config.peerKeys ?? new Map([[config.keyId, config.key]]);
  }

  /** Encodes a copy of `msg` with an Integrity object carrying the next sequence number, and signs it. */
  seal(msg: CopsMessage): { bytes: Buffer; message: CopsMessage } {
    const sealed: CopsMessage = { ...msg, integrity: integrityPlaceholder(this.config.keyId, this.nextSend) };
    this.nextSend = (this.nextSend + 1) >>> 0; // wraps after 0xFFFFFFFF
    const bytes = signCopsMessage(encodeCopsMessage(sealed), this.config.key);
    if (sealed.integrity?.cType === 1) sealed.integrity.digest = Buffer.from(bytes.subarray(bytes.length - HMAC_MD5_96_LENGTH));
    return { bytes, message: sealed };
  }

  /** Checks a received message: key known, digest right, sequence exactly the next one. */
  check(bytes: Buffer, msg: CopsMessage): IntegrityCheck {
    const integrity = msg.integrity;
    if (integrity === undefined || integrity.cType !== 1) return "missing";
    return this.verify(bytes, integrity.keyId, integrity.sequence, integrity.digest.length);
  }

  /**
   * Checks a message that does not decode by its last 24 octets, where a C-Type 1 Integrity object must be
   * (RFC 2748 §2.2.16: always the last object): a tampered message is told apart from a malformed one its
   * signer sent.
   */
  checkUndecoded(bytes: Buffer): IntegrityCheck {
    const at = bytes.length - INTEGRITY_OBJECT_LENGTH;
    if (at < 8 || bytes.readUInt16BE(at) !== INTEGRITY_OBJECT_LENGTH || bytes[at + 2] !== CNum.Integrity || bytes[at + 3] !== 1) return "missing";
    return this.verify(bytes, bytes.readUInt32BE(at + 4), bytes.readUInt32BE(at + 8), HMAC_MD5_96_LENGTH);
  }

  private verify(bytes: Buffer, keyId: number, sequence: number, digestLength: number): IntegrityCheck {
    const key = this.peerKeys.get(keyId);
    if (key === undefined) return "bad-key";
    if (digestLength !== HMAC_MD5_96_LENGTH || !verifyCopsDigest(bytes, key)) return "bad-digest";
    if (this.expectedReceive !== undefined && sequence !== this.expectedReceive) return "replayed";
    this.expectedReceive = (sequence + 1) >>> 0;
    return "ok";
  }
}
