// Sans-I/O RADIUS server: decodes and checks requests, and keeps the duplicate-detection cache of
// RFC 5080 §2.2.2 (same source address, port, Identifier and Request Authenticator → same request): a
// retransmission is answered with the cached response, or dropped while the first is still being handled.
import { RadiusCode, decodeRadiusPacket, encodeRadiusPacket, verifyRadiusPacket } from "./codec.js";
import type { RadiusAttribute, RadiusPacket } from "./codec.js";
import type { RadiusEndpoint } from "./client.js";
import { RadiusDecodeError } from "./errors.js";

/** Client secrets, the duplicate window and cache, and whether Message-Authenticator is required. */
export interface RadiusServerOptions {
  /** Shared secret of a client by its source address; undefined refuses the client (RFC 2865 §3). */
  secretFor: (client: RadiusEndpoint) => Buffer | string | undefined;
  /** How long a response stays cached for retransmissions (the client's MRD is 30 s, RFC 5080 §2.2.1). */
  duplicateWindowMs?: number;
  /** Bound on cached requests; the oldest goes first. */
  maxCacheEntries?: number;
  /** Drop an Access-Request without Message-Authenticator (RFC 3579 §3.2; see `RadiusVerifyOptions`). */
  requireMessageAuthenticator?: boolean;
}

/** The answer a handler gives to a request: code and attributes. */
export interface RadiusReply {
  code: typeof RadiusCode.AccessAccept | typeof RadiusCode.AccessReject | typeof RadiusCode.AccessChallenge | typeof RadiusCode.AccountingResponse;
  attributes: RadiusAttribute[];
}

/** What the server machine asks of its driver: reply, drop, handle a request. */
export type RadiusServerAction =
  | { type: "request"; requestId: number; from: RadiusEndpoint; packet: RadiusPacket }
  | { type: "send"; to: RadiusEndpoint; datagram: Buffer }
  | { type: "drop"; from: RadiusEndpoint; cause: string };

interface CacheEntry {
  requestId: number;
  from: RadiusEndpoint;
  code: number;
  authenticator: Buffer;
  secret: Buffer | string;
  response: Buffer | undefined;
  expiresAt: number;
}

const cacheKey = (from: RadiusEndpoint, identifier: number): string => `${from.address}|${from.port}|${identifier}`;

function replyAllowed(requestCode: number, replyCode: number): boolean {
  if (requestCode === RadiusCode.AccountingRequest) return replyCode === RadiusCode.AccountingResponse;
  return replyCode !== RadiusCode.AccountingResponse;
}

/** The sans-I/O RADIUS server: checks requests, drops duplicates while one is handled and answers them again after (RFC 5080 §2.2). */
export class RadiusServerMachine {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly byRequestId = new Map<number, string>();
  private nextRequestId = 1;
  private readonly window: number;
  private readonly maxEntries: number;

  constructor(private readonly options: RadiusServerOptions) {
    this.window = options.duplicateWindowMs ?? 30_000;
    this.maxEntries = options.maxCacheEntries ?? 16_384;
  }

  get cacheSize(): number {
    return this.cache.size;
  }

  /** Takes one datagram, returns what to do: handle it, answer a duplicate again, or drop it. */
  receive(now: number, from: RadiusEndpoint, datagram: Buffer): RadiusServerAction[] {
    this.expire(now);
    const secret = this.options.secretFor(from);
    if (secret === undefined) return [{ type: "drop", from, cause: "unknown-client" }];
    let packet: RadiusPacket;
    try {
      packet = decodeRadiusPacket(datagram, secret);
    } catch (err) {
      if (err instanceof RadiusDecodeError) return [{ type: "drop", from, cause: `malformed:${err.code}` }];
      throw err;
    }
    if (packet.code !== RadiusCode.AccessRequest && packet.code !== RadiusCode.AccountingRequest && packet.code !== RadiusCode.StatusServer)
      return [{ type: "drop", from, cause: "unexpected-code" }];
    const verdict = verifyRadiusPacket(datagram, secret, undefined, { requireMessageAuthenticator: this.options.requireMessageAuthenticator });
    if (verdict !== "ok") return [{ type: "drop", from, cause: verdict }];
    const key = cacheKey(from, packet.identifier);
    const seen = this.cache.get(key);
    if (seen && seen.authenticator.equals(packet.authenticator) && seen.code === packet.code) {
      if (seen.response) return [{ type: "send", to: from, datagram: seen.response }];
      return [{ type: "drop", from, cause: "duplicate-in-progress" }];
    }
    if (seen) this.forget(key, seen);
    if (this.cache.size >= this.maxEntries) {
      const [oldestKey, oldest] = this.cache.entries().next().value as [string, CacheEntry];
      this.forget(oldestKey, oldest);
    }
    const requestId = this.nextRequestId++;
    this.cache.set(key, {
      requestId,
      from: { address: from.address, port: from.port },
      code: packet.code,
      authenticator: packet.authenticator,
      secret,
      response: undefined,
      expiresAt: now + this.window,
    });
    this.byRequestId.set(requestId, key);
    return [{ type: "request", requestId, from, packet }];
  }

  /** Answer request `requestId`; the response is cached for its retransmissions. Throws RadiusEncodeError. */
  respond(now: number, requestId: number, reply: RadiusReply): RadiusServerAction[] {
    const key = this.byRequestId.get(requestId);
    const entry = key === undefined ? undefined : this.cache.get(key);
    if (!entry || entry.requestId !== requestId || entry.response) return [];
    if (!replyAllowed(entry.code, reply.code)) throw new Error(`reply code ${reply.code} does not answer request code ${entry.code}`);
    const identifier = Number(key!.slice(key!.lastIndexOf("|") + 1));
    entry.response = encodeRadiusPacket(
      { code: reply.code, identifier, authenticator: entry.authenticator, attributes: reply.attributes },
      entry.secret,
      entry.authenticator,
    );
    // Move to the back: the window runs from the response.
    entry.expiresAt = now + this.window;
    this.cache.delete(key!);
    this.cache.set(key!, entry);
    return [{ type: "send", to: entry.from, datagram: entry.response }];
  }

  /**
   * Give up on a request without answering (RFC 2866 §2: no Accounting-Response when the record was not
   * stored), so its retransmission is handled afresh.
   */
  abandon(requestId: number): void {
    const key = this.byRequestId.get(requestId);
    const entry = key === undefined ? undefined : this.cache.get(key);
    if (entry && entry.requestId === requestId && !entry.response) this.forget(key!, entry);
  }

  /** Purge cached entries whose window has passed. */
  tick(now: number): void {
    this.expire(now);
  }

  private expire(now: number): void {
    for (const [key, entry] of this.cache) {
      if (entry.expiresAt > now) break;
      this.forget(key, entry);
    }
  }

  private forget(key: string, entry: CacheEntry): void {
    this.cache.delete(key);
    this.byRequestId.delete(entry.requestId);
  }
}
