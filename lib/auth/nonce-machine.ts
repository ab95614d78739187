// Nonces for Digest challenges (RFC 7616 §3.3, §5.4–5.5): each is the time it was issued, random octets and an
// HMAC over both, so a nonce we did not issue is known as such without state; the state kept per nonce is the
// highest nonce-count seen, so a replayed request (same or lower nc) is refused. Nonces expire (the client is
// challenged again with stale=true) and the table is bounded (the oldest go first; a forgotten but authentic
// nonce is treated as stale). Sans-I/O: time and randomness are given.
import { createHmac, timingSafeEqual } from "node:crypto";

/** The outcome of checking a nonce: usable, expired (challenge again with stale=true), not one of ours, or an nc already seen. */
export type NonceCheck = "ok" | "stale" | "unknown" | "replay";

/** HMAC key, random source, lifetime and capacity of a NonceMachine. */
export interface NonceMachineOptions {
  /** HMAC key (at least 16 octets). */
  secret: Buffer;
  /** Source of `n` random octets for each nonce (node:crypto's randomBytes in production). */
  randomBytes: (n: number) => Buffer;
  /** How long a nonce may be used (default 5 minutes). */
  lifetimeMs?: number;
  /** Nonces tracked at once (default 100,000). */
  maxNonces?: number;
}

const STAMP = 8;
const RANDOM = 9;
const MAC = 16;

/** Issues and checks Digest nonces: HMAC-stamped, expiring, nonce counts tracked against replay (RFC 7616 §3.3). */
export class NonceMachine {
  /** nonce → [issued at, highest nc seen (0 = none yet)], in order of issue. */
  private readonly live = new Map<string, { issuedAt: number; nc: number }>();
  private readonly lifetimeMs: number;
  private readonly maxNonces: number;

  constructor(private readonly options: NonceMachineOptions) {
    if (options.secret.length < 16) throw new RangeError("nonce secret must be at least 16 octets");
    this.lifetimeMs = options.lifetimeMs ?? 300_000;
    this.maxNonces = options.maxNonces ?? 100_000;
  }

  get size(): number {
    return this.live.size;
  }

  private mac(body: Buffer): Buffer {
    return createHmac("sha256", this.options.secret).update(body).digest().subarray(0, MAC);
  }

  /** A fresh nonce stamped with `now` (ms). */
  issue(now: number): string {
    this.expire(now);
    const body = Buffer.alloc(STAMP + RANDOM);
    body.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(now))), 0);
    this.options.randomBytes(RANDOM).copy(body, STAMP);
    const nonce = Buffer.concat([body, this.mac(body)]).toString("base64url");
    if (this.live.size >= this.maxNonces) this.live.delete(this.live.keys().next().value as string);
    this.live.set(nonce, { issuedAt: now, nc: 0 });
    return nonce;
  }

  /**
   * May a request use `nonce` with nonce-count `nc` (8 hex digits, or undefined without qop: then once only)?
   * "ok" records the count; "stale" asks for a new challenge with stale=true; "unknown" and "replay" refuse.
   */
  check(now: number, nonce: string, nc: string | undefined): NonceCheck {
    const raw = /^[A-Za-z0-9_-]+$/.test(nonce) ? Buffer.from(nonce, "base64url") : Buffer.alloc(0);
    if (raw.length !== STAMP + RANDOM + MAC) return "unknown";
    const body = raw.subarray(0, STAMP + RANDOM);
    if (!timingSafeEqual(this.mac(body), raw.subarray(STAMP + RANDOM))) return "unknown";
    const issuedAt = Number(body.readBigUInt64BE(0));
    if (now - issuedAt > this.lifetimeMs || issuedAt > now + 1000) return "stale";
    const state = this.live.get(nonce);
    if (!state) return "stale";
    const count = nc === undefined ? 1 : parseInt(nc, 16);
    if (!Number.isFinite(count) || count < 1) return "replay";
    if (count <= state.nc) return "replay";
    state.nc = count;
    return "ok";
  }

  private expire(now: number): void {
    for (const [nonce, s] of this.live) {
      if (now - s.issuedAt <= this.lifetimeMs) break;
      this.live.delete(nonce);
    }
  }
}
