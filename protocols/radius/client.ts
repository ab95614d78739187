// Sans-I/O RADIUS client: events in (send, receive, tick with the time), actions out. Retransmits the same
// bytes, so the same Identifier and Request Authenticator (RFC 5080 §2.2.1); at most 256 requests
// outstanding per (server, port), the rest queued (RFC 2865 §3: the Identifier is one octet). An answered
// Identifier rests before reuse: a server still finishing the old request would take the new one for a
// conflicting packet (FreeRADIUS drops it, then handles the retransmission as new: a duplicate record).
import { RadiusCode, decodeRadiusPacket, encodeRadiusPacket, verifyRadiusPacket } from "./codec.js";
import type { RadiusAttribute, RadiusPacket } from "./codec.js";
import { RadiusDecodeError } from "./errors.js";

/** A RADIUS peer's address and port. */
export interface RadiusEndpoint {
  address: string;
  port: number;
}

/** A request to send: code and attributes. */
export interface RadiusRequest {
  code: typeof RadiusCode.AccessRequest | typeof RadiusCode.AccountingRequest | typeof RadiusCode.StatusServer;
  attributes: RadiusAttribute[];
}

/** Secret, randomness, retransmission timing, per-server limits and Message-Authenticator requirement of a RadiusClientMachine. */
export interface RadiusClientOptions {
  secret: Buffer | string;
  /** Source of Request Authenticators, which must be unpredictable (RFC 2865 §3). */
  randomBytes: (length: number) => Buffer;
  /** Uniform [0, 1) for the retransmission jitter; defaults to none. */
  random?: () => number;
  /** RFC 5080 §2.2.1 timers: IRT, MRT, MRC, MRD. */
  initialTimeoutMs?: number;
  maxTimeoutMs?: number;
  maxRetransmissions?: number;
  maxDurationMs?: number;
  /** Requests in flight per (server, port), 1..256 (the Identifier is one octet). */
  maxOutstandingPerServer?: number;
  /** How long an Identifier rests after its answer or timeout before it is used again (default 50 ms). */
  identifierRestMs?: number;
  /** Drop an Access-Accept/Reject/Challenge without Message-Authenticator (see `RadiusVerifyOptions`). */
  requireMessageAuthenticator?: boolean;
  /** Requests waiting for an Identifier, per server, beyond which `send` refuses. */
  maxQueuedPerServer?: number;
}

/** What the client machine asks of its driver: send, set or cancel a timer, settle a request. */
export type RadiusClientAction =
  | { type: "send"; to: RadiusEndpoint; datagram: Buffer; handle?: number }
  | { type: "response"; handle: number; packet: RadiusPacket; from: RadiusEndpoint }
  | { type: "timeout"; handle: number; retransmissions: number }
  | { type: "queue-full"; handle: number }
  | { type: "drop"; from: RadiusEndpoint; cause: string };

interface Pending {
  handle: number;
  identifier: number;
  code: number;
  datagram: Buffer;
  requestAuthenticator: Buffer;
  firstSentAt: number;
  deadline: number;
  timeoutMs: number;
  retransmissions: number;
}

interface Queued {
  handle: number;
  request: RadiusRequest;
  authenticator: Buffer;
}

interface ServerState {
  to: RadiusEndpoint;
  byIdentifier: Map<number, Pending>;
  nextIdentifier: number;
  /** Identifiers resting, oldest first, and when each may be used again. */
  resting: { identifier: number; until: number }[];
  queue: Queued[];
  /** Index of the queue's head (shifting a long array is O(n)). */
  queueHead: number;
}

const endpointKey = (e: RadiusEndpoint): string => `${e.address}|${e.port}`;

function expectedResponse(requestCode: number, responseCode: number): boolean {
  if (requestCode === RadiusCode.AccountingRequest) return responseCode === RadiusCode.AccountingResponse;
  return responseCode === RadiusCode.AccessAccept || responseCode === RadiusCode.AccessReject || responseCode === RadiusCode.AccessChallenge;
}

/** The sans-I/O RADIUS client: Identifiers, retransmissions (RFC 5080 §2.2), answers matched and verified. */
export class RadiusClientMachine {
  private readonly servers = new Map<string, ServerState>();
  private nextHandle = 1;
  private readonly irt: number;
  private readonly mrt: number;
  private readonly mrc: number;
  private readonly mrd: number;
  private readonly maxQueued: number;
  private readonly maxOutstanding: number;
  private readonly restMs: number;

  constructor(private readonly options: RadiusClientOptions) {
    this.irt = options.initialTimeoutMs ?? 2000;
    this.mrt = options.maxTimeoutMs ?? 16000;
    this.mrc = options.maxRetransmissions ?? 5;
    this.mrd = options.maxDurationMs ?? 30000;
    this.maxQueued = options.maxQueuedPerServer ?? 100_000;
    this.maxOutstanding = Math.min(256, Math.max(1, options.maxOutstandingPerServer ?? 256));
    this.restMs = options.identifierRestMs ?? 50;
  }

  /** Requests in flight (holding an Identifier) and waiting, over all servers. */
  get outstanding(): number {
    let n = 0;
    for (const s of this.servers.values()) n += s.byIdentifier.size;
    return n;
  }

  get queued(): number {
    let n = 0;
    for (const s of this.servers.values()) n += s.queue.length - s.queueHead;
    return n;
  }

  /** Send a request; it is encoded now, so a malformed request throws RadiusEncodeError here. */
  send(now: number, to: RadiusEndpoint, request: RadiusRequest): { handle: number; actions: RadiusClientAction[] } {
    const handle = this.nextHandle++;
    const authenticator = request.code === RadiusCode.AccountingRequest ? Buffer.alloc(16) : this.options.randomBytes(16);
    const key = endpointKey(to);
    let server = this.servers.get(key);
    if (!server) {
      server = { to: { address: to.address, port: to.port }, byIdentifier: new Map(), nextIdentifier: 0, resting: [], queue: [], queueHead: 0 };
      this.servers.set(key, server);
    }
    if (server.queueHead === server.queue.length && this.canDispatch(now, server))
      return { handle, actions: [this.dispatch(now, server, { handle, request, authenticator })] };
    // encoded now as well, so that a request that cannot be encoded throws here rather than when dequeued
    encodeRadiusPacket({ code: request.code, identifier: 0, authenticator, attributes: request.attributes }, this.options.secret);
    if (server.queue.length - server.queueHead >= this.maxQueued) return { handle, actions: [{ type: "queue-full", handle }] };
    server.queue.push({ handle, request, authenticator });
    return { handle, actions: [] };
  }

  /**
   * Sends again, as they were, the bytes of a request encoded before (by this client before a restart): the
   * retransmission keeps its Identifier and Request Authenticator (RFC 5080 §2.2.1), so a server that saw it
   * answers it as a duplicate. Undefined when that Identifier is in flight or resting towards `to`.
   */
  resend(now: number, to: RadiusEndpoint, datagram: Buffer): { handle: number; actions: RadiusClientAction[] } | undefined {
    if (datagram.length < 20) return undefined;
    const key = endpointKey(to);
    let server = this.servers.get(key);
    if (!server) {
      server = { to: { address: to.address, port: to.port }, byIdentifier: new Map(), nextIdentifier: 0, resting: [], queue: [], queueHead: 0 };
      this.servers.set(key, server);
    }
    const identifier = datagram[1]!;
    this.canDispatch(now, server);
    if (server.byIdentifier.has(identifier) || server.resting.some((r) => r.identifier === identifier) || server.byIdentifier.size >= this.maxOutstanding) return undefined;
    const handle = this.nextHandle++;
    const timeoutMs = this.jitter(this.irt);
    server.byIdentifier.set(identifier, {
      handle, identifier, code: datagram[0]!, datagram, requestAuthenticator: Buffer.from(datagram.subarray(4, 20)),
      firstSentAt: now, deadline: now + timeoutMs, timeoutMs, retransmissions: 0,
    });
    return { handle, actions: [{ type: "send", to: server.to, datagram, handle }] };
  }

  private canDispatch(now: number, server: ServerState): boolean {
    let rested = 0;
    while (rested < server.resting.length && server.resting[rested]!.until <= now) rested++;
    if (rested > 0) server.resting.splice(0, rested);
    return server.byIdentifier.size < this.maxOutstanding && server.byIdentifier.size + server.resting.length < 256;
  }

  private release(now: number, server: ServerState, identifier: number): void {
    server.byIdentifier.delete(identifier);
    if (this.restMs > 0) server.resting.push({ identifier, until: now + this.restMs });
  }

  private dispatch(now: number, server: ServerState, q: Queued): RadiusClientAction {
    let identifier = server.nextIdentifier;
    const resting = new Set(server.resting.map((r) => r.identifier));
    while (server.byIdentifier.has(identifier) || resting.has(identifier)) identifier = (identifier + 1) & 0xff;
    const datagram = encodeRadiusPacket(
      { code: q.request.code, identifier, authenticator: q.authenticator, attributes: q.request.attributes },
      this.options.secret,
    );
    server.nextIdentifier = (identifier + 1) & 0xff;
    const timeoutMs = this.jitter(this.irt);
    server.byIdentifier.set(identifier, {
      handle: q.handle,
      identifier,
      code: q.request.code,
      datagram,
      requestAuthenticator: Buffer.from(datagram.subarray(4, 20)),
      firstSentAt: now,
      deadline: now + timeoutMs,
      timeoutMs,
      retransmissions: 0,
    });
    return { type: "send", to: server.to, datagram, handle: q.handle };
  }

  /** RFC 5080 §2.2.1: RT ± 10 % random. */
  private jitter(ms: number): number {
    const r = this.options.random;
    return r ? ms * (1 + (r() * 0.2 - 0.1)) : ms;
  }

  /** A datagram arrived from `from`. */
  receive(now: number, from: RadiusEndpoint, datagram: Buffer): RadiusClientAction[] {
    const server = this.servers.get(endpointKey(from));
    if (!server) return [{ type: "drop", from, cause: "unknown-server" }];
    let packet: RadiusPacket;
    try {
      packet = decodeRadiusPacket(datagram, this.options.secret);
    } catch (err) {
      if (err instanceof RadiusDecodeError) return [{ type: "drop", from, cause: `malformed:${err.code}` }];
      throw err;
    }
    const pending = server.byIdentifier.get(packet.identifier);
    if (!pending) return [{ type: "drop", from, cause: "unknown-identifier" }];
    if (!expectedResponse(pending.code, packet.code)) return [{ type: "drop", from, cause: "unexpected-code" }];
    const verdict = verifyRadiusPacket(datagram, this.options.secret, pending.requestAuthenticator, {
      requireMessageAuthenticator: this.options.requireMessageAuthenticator,
    });
    if (verdict !== "ok") return [{ type: "drop", from, cause: verdict }];
    this.release(now, server, packet.identifier);
    const actions: RadiusClientAction[] = [{ type: "response", handle: pending.handle, packet, from }];
    this.refill(now, server, actions);
    return actions;
  }

  private refill(now: number, server: ServerState, actions: RadiusClientAction[]): void {
    while (server.queueHead < server.queue.length && this.canDispatch(now, server)) {
      const next = server.queue[server.queueHead]!;
      server.queue[server.queueHead++] = undefined as unknown as Queued;
      actions.push(this.dispatch(now, server, next));
    }
    if (server.queueHead === server.queue.length) {
      server.queue = [];
      server.queueHead = 0;
    } else if (server.queueHead > 1024 && server.queueHead * 2 > server.queue.length) {
      server.queue = server.queue.slice(server.queueHead);
      server.queueHead = 0;
    }
    this.canDispatch(now, server);
    if (server.byIdentifier.size === 0 && server.queue.length === 0 && server.resting.length === 0) this.servers.delete(endpointKey(server.to));
  }

  /** Time has reached `now`: retransmit what is due, give up on what has run out (RFC 5080 §2.2.1 MRC, MRD). */
  tick(now: number): RadiusClientAction[] {
    const actions: RadiusClientAction[] = [];
    for (const server of [...this.servers.values()]) {
      for (const p of [...server.byIdentifier.values()]) {
        if (p.deadline > now) continue;
        if (p.retransmissions >= this.mrc || now - p.firstSentAt >= this.mrd) {
          this.release(now, server, p.identifier);
          actions.push({ type: "timeout", handle: p.handle, retransmissions: p.retransmissions });
          continue;
        }
        p.retransmissions++;
        p.timeoutMs = this.jitter(Math.min(2 * p.timeoutMs, this.mrt));
        p.deadline = Math.min(now + p.timeoutMs, p.firstSentAt + this.mrd);
        actions.push({ type: "send", to: server.to, datagram: p.datagram });
      }
      this.refill(now, server, actions);
    }
    return actions;
  }

  /** Earliest time `tick` has work (a retransmission, a give-up, a queued request or rested Identifier), or undefined. */
  nextDeadline(): number | undefined {
    let next: number | undefined;
    const consider = (t: number): void => {
      if (next === undefined || t < next) next = t;
    };
    for (const s of this.servers.values()) {
      for (const p of s.byIdentifier.values()) consider(p.deadline);
      const firstRest = s.resting[0];
      if (firstRest && s.queueHead < s.queue.length) consider(firstRest.until);
    }
    return next;
  }
}
