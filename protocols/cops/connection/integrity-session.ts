// RFC 2748 §2.2.16 per-connection integrity state: Key ID, keys per peer, sequence numbers per direction.
import { encodeCopsMessage } from "../cops-codec.js";
import { HMAC_MD5_96_LENGTH } from "../constants.js";
import type { CopsMessage } from "../cops-message.js";
import { integrityPlaceholder, signCopsMessage, verifyCopsDigest } from "../integrity.js";

export interface CopsIntegrityConfig {
  /** Key ID put in the messages this side sends. */
  keyId: number;
  key: Buffer;
  /** Keys this side accepts from the peer, by the peer's Key ID (default: `{[keyId]: key}`). */
  peerKeys?: ReadonlyMap<number, Buffer>;
  /** First sequence number this side sends (in its OPN or CAT); default 0. */
  initialSequence?: number;
}

export type IntegrityCheck = "ok" | "missing" | "bad-key" | "bad-digest" | "replayed";

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
    const key = this.peerKeys.get(integrity.keyId);
    if (key === undefined) return "bad-key";
    if (integrity.digest.length !== HMAC_MD5_96_LENGTH || !verifyCopsDigest(bytes, key)) return "bad-digest";
    if (this.expectedReceive !== undefined && integrity.sequence !== this.expectedReceive) return "replayed";
    this.expectedReceive = (integrity.sequence + 1) >>> 0;
    return "ok";
  }
}
