// A DSC on real sockets: one DscCore, a listener for its peers' connections and one outbound connection to each
// peer (each direction of a pair is its own ordered stream). Mutual TLS by default: a peer is the name in its
// certificate; plain TCP (for tests and benchmarks on loopback) takes the identity of the first message.
import { createServer as createTcpServer, connect as tcpConnect, type Server, type Socket } from "node:net";
import { connect as tlsConnect, createServer as createTlsServer, type TLSSocket } from "node:tls";
import { ConnectionGate, type ConnectionLimits, type ConnectionPeer, type ConnectionRefusal } from "../net/connection-limits.js";
import { DscFrameDecoder, decodeDscEnvelope, DSC_DEFAULT_MAX_FRAME } from "./codec.js";
import { DscCore, type AuthoriseRequest, type DscAction, type DscCoreOptions, type RefusalCause } from "./core.js";
import { DscDecodeError } from "./errors.js";

/** A peer DSC: its identity and where it listens. */
export interface DscPeerAddress {
  id: string;
  host: string;
  port: number;
}

/** Mutual TLS between DSCs (PEM key, certificate and CA). */
export interface DscTlsOptions {
  /** PEM: this DSC's key and certificate (its name: CN or DNS name = its id), and the CA its peers' certificates chain to. */
  key: string;
  cert: string;
  ca: string;
}

/** Why the driver dropped a connection or a frame; each is counted, and reported to `onDrop`. */
export type DscDropCause = ConnectionRefusal | "bad-frame" | "unknown-peer" | "slow-peer" | "outbound-data";

/** The core's options plus where this DSC listens, its peers' addresses and TLS. */
export interface DscNodeOptions extends Omit<DscCoreOptions, "peers"> {
  /** Where this DSC listens (port 0: any). */
  listen: { host: string; port: number };
  peers: DscPeerAddress[];
  /** Mutual TLS between DSCs; without it, plain TCP. */
  tls?: DscTlsOptions;
  limits?: Partial<ConnectionLimits>;
  maxFrameBytes?: number;
  /** A peer that leaves this much unsent on its connection is closed (it cannot keep up). */
  maxQueuedBytes?: number;
  /** Delay before dialling a peer again (ms). */
  reconnectMs?: number;
  /** Told of every drop, with its cause and what happened (for a DropLog). */
  onDrop?: (cause: DscDropCause, peer: string, detail: string) => void;
}

/** A session granted (`local`: without asking a peer) or refused, with the cause and the entity that refused it. */
export type DscDecision = { granted: true; local: boolean } | { granted: false; cause: RefusalCause; entity: string };

interface Outbound {
  peer: DscPeerAddress;
  socket: Socket | undefined;
  up: boolean;
  retry: NodeJS.Timeout | undefined;
}

/** A DSC on the network: runs a DscCore over TCP (or mutual TLS) links to its peers, with connection limits. */
export class DscNode {
  readonly core: DscCore;
  readonly gate: ConnectionGate;
  readonly drops: Record<DscDropCause, number> = {
    "connection-cap": 0, "source-cap": 0, "idle-timeout": 0, "header-timeout": 0, "body-timeout": 0,
    "bad-frame": 0, "unknown-peer": 0, "slow-peer": 0, "outbound-data": 0,
  };
  private server: Server | undefined;
  private readonly outbound = new Map<string, Outbound>();
  private readonly inbound = new Set<Socket>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly waiting = new Map<string, ((d: DscDecision) => void)[]>();
  private closed = false;
  private readonly peerIds: Set<string>;
  /** Those waiting in `ready`: told when a link comes up, and when this DSC closes. */
  private readonly readyWaiters = new Set<{ linkUp(): void; end(): void }>();

  constructor(private readonly opts: DscNodeOptions) {
    this.peerIds = new Set(opts.peers.map((p) => p.id));
    this.core = new DscCore({ ...opts, peers: opts.peers.map((p) => p.id) });
    this.gate = new ConnectionGate(opts.limits, (cause, peer) => this.drop(cause, `${peer.address}:${peer.port}`, "closed by the listener's limits"));
    for (const p of opts.peers) this.outbound.set(p.id, { peer: p, socket: undefined, up: false, retry: undefined });
  }

  /** Listens, then dials every peer (and keeps dialling those that are down). Resolves with the bound port. */
  async start(): Promise<number> {
    const tls = this.opts.tls;
    const server = tls
      ? createTlsServer({ key: tls.key, cert: tls.cert, ca: tls.ca, requestCert: true, rejectUnauthorized: true }, (s) => this.accept(s, certificateName(s)))
      : createTcpServer((s) => this.accept(s, undefined));
    // TLS handshake failures (no or a foreign certificate) are the listener's to count.
    server.on("tlsClientError", (_err: Error, s: TLSSocket) => this.drop("unknown-peer", peerText(s), "TLS handshake refused"));
    this.gate.attach(server);
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.opts.listen.port, this.opts.listen.host, () => resolve());
    });
    // A peer whose port is not known yet (0) is dialled once setPeerAddress gives it.
    for (const o of this.outbound.values()) if (o.peer.port > 0) this.dial(o);
    const addr = server.address();
    return typeof addr === "object" && addr !== null ? addr.port : this.opts.listen.port;
  }

  /** Sets a peer's address (a peer listening on a port chosen at its start) and dials it. */
  setPeerAddress(id: string, host: string, port: number): void {
    const o = this.outbound.get(id);
    if (o === undefined) throw new Error(`${id} is not a peer of ${this.core.id}`);
    o.peer = { id, host, port };
    if (!o.up && o.socket === undefined && this.server !== undefined) {
      if (o.retry) clearTimeout(o.retry);
      o.retry = undefined;
      this.dial(o);
    }
  }

  /** Whether this DSC's connection to `peer` is up. */
  connected(peer: string): boolean {
    return this.outbound.get(peer)?.up ?? false;
  }

  /**
   * Resolves once this DSC's connections to every one of `peers` are up, or once `deadlineMs` passed (or the DSC
   * closed), with the peers still down then (none: all up).
   */
  ready(peers: string[], deadlineMs: number): Promise<string[]> {
    for (const id of peers) if (!this.peerIds.has(id)) throw new Error(`${id} is not a peer of ${this.core.id}`);
    const down = (): string[] => peers.filter((id) => !this.connected(id));
    if (down().length === 0 || this.closed) return Promise.resolve(down());
    return new Promise((resolve) => {
      const waiter = {
        linkUp: () => {
          if (down().length === 0) waiter.end();
        },
        end: () => {
          clearTimeout(timer);
          this.readyWaiters.delete(waiter);
          resolve(down());
        },
      };
      const timer = setTimeout(waiter.end, deadlineMs);
      this.readyWaiters.add(waiter);
    });
  }

  /** Asks for a session; resolves with the grant or the refusal and its cause. */
  authorise(req: AuthoriseRequest): Promise<DscDecision> {
    return new Promise((resolve) => {
      const list = this.waiting.get(req.sessionId);
      if (list) list.push(resolve);
      else this.waiting.set(req.sessionId, [resolve]);
      this.run(this.core.authorise(req));
    });
  }

  /** Ends a session: it stops counting on every DSC. */
  terminate(sessionId: string): void {
    this.run(this.core.terminate(sessionId));
  }

  /** Stops: connections closed, timers cleared; sessions still being decided are refused (unreachable). */
  async close(): Promise<void> {
    this.closed = true;
    for (const waiter of [...this.readyWaiters]) waiter.end();
    for (const [sessionId, list] of this.waiting) for (const resolve of list) resolve({ granted: false, cause: "unreachable", entity: sessionId });
    this.waiting.clear();
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    for (const o of this.outbound.values()) {
      if (o.retry) clearTimeout(o.retry);
      o.socket?.destroy();
    }
    for (const s of this.inbound) s.destroy();
    const server = this.server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  // ---- outbound ----

  private dial(o: Outbound): void {
    if (this.closed) return;
    const { host, port, id } = o.peer;
    const tls = this.opts.tls;
    const socket: Socket = tls ? tlsConnect({ host, port, key: tls.key, cert: tls.cert, ca: tls.ca, servername: id }) : tcpConnect({ host, port });
    o.socket = socket;
    socket.setNoDelay(true);
    socket.once(tls ? "secureConnect" : "connect", () => {
      o.up = true;
      this.run(this.core.peerUp(id));
      for (const waiter of [...this.readyWaiters]) waiter.linkUp();
    });
    // The peer sends on its own connection to us: bytes coming back on ours are not the protocol.
    socket.on("data", () => {
      this.drop("outbound-data", id, "data on an outbound connection");
      socket.destroy();
    });
    socket.on("error", () => undefined);
    socket.once("close", () => {
      o.socket = undefined;
      if (o.up) {
        o.up = false;
        this.run(this.core.peerDown(id));
      }
      if (!this.closed) o.retry = setTimeout(() => this.dial(o), this.opts.reconnectMs ?? 500);
    });
  }

  private write(to: string, frame: Buffer): void {
    const o = this.outbound.get(to);
    const s = o?.socket;
    if (o === undefined || s === undefined || !o.up) return; // the core learns of it by peerDown; Resync recovers
    if (s.writableLength > (this.opts.maxQueuedBytes ?? 8 * 1024 * 1024)) {
      this.drop("slow-peer", to, `${s.writableLength} bytes unsent`);
      s.destroy();
      return;
    }
    s.write(frame);
  }

  // ---- inbound ----

  private accept(socket: Socket, certified: string | undefined): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    if (certified !== undefined && !this.peerIds.has(certified)) {
      this.drop("unknown-peer", certified, "certificate names no configured peer");
      socket.destroy();
      return;
    }
    this.inbound.add(socket);
    socket.once("close", () => this.inbound.delete(socket));
    socket.on("error", () => undefined);
    const decoder = new DscFrameDecoder(this.opts.maxFrameBytes ?? DSC_DEFAULT_MAX_FRAME);
    const phase = this.gate.watch(socket);
    let identity = certified;
    socket.on("data", (chunk: Buffer) => {
      let frames: Buffer[];
      try {
        frames = decoder.push(chunk);
      } catch (err) {
        this.badFrame(socket, identity ?? peerText(socket), err);
        return;
      }
      phase(decoder.phase);
      for (const f of frames) {
        if (identity === undefined) {
          // Plain TCP: the first message names the peer (a configured one, or the connection is closed).
          let from = "";
          try {
            from = decodeDscEnvelope(f).from;
          } catch (err) {
            this.badFrame(socket, peerText(socket), err);
            return;
          }
          if (!this.peerIds.has(from)) {
            this.drop("unknown-peer", from, "first message from no configured peer");
            socket.destroy();
            return;
          }
          identity = from;
        }
        const actions = this.core.receive(identity, f);
        for (const a of actions) {
          if (a.type === "bad-peer") {
            this.badFrame(socket, identity, a.error);
            return;
          }
        }
        this.run(actions);
        if (socket.destroyed) return;
      }
    });
  }

  private badFrame(socket: Socket, peer: string, err: unknown): void {
    if (!(err instanceof DscDecodeError)) throw err;
    this.drop("bad-frame", peer, err.message);
    socket.destroy();
  }

  private drop(cause: DscDropCause, peer: string, detail: string): void {
    this.drops[cause]++;
    this.opts.onDrop?.(cause, peer, detail);
  }

  // ---- actions ----

  private run(actions: DscAction[]): void {
    for (const a of actions) {
      switch (a.type) {
        case "send":
          this.write(a.to, a.frame);
          break;
        case "decided": {
          const list = this.waiting.get(a.sessionId);
          if (list === undefined) break;
          this.waiting.delete(a.sessionId);
          const d: DscDecision = a.granted ? { granted: true, local: a.local } : { granted: false, cause: a.cause, entity: a.entity };
          for (const resolve of list) resolve(d);
          break;
        }
        case "set-timer": {
          const old = this.timers.get(a.key);
          if (old) clearTimeout(old);
          this.timers.set(
            a.key,
            setTimeout(() => {
              this.timers.delete(a.key);
              this.run(this.core.timer(a.key));
            }, a.delayMs),
          );
          break;
        }
        case "cancel-timer": {
          const t = this.timers.get(a.key);
          if (t) clearTimeout(t);
          this.timers.delete(a.key);
          break;
        }
        case "bad-peer":
          break; // handled where the frame came in
      }
    }
  }
}

function certificateName(s: TLSSocket): string | undefined {
  const cert = s.getPeerCertificate();
  const cn = cert?.subject?.CN;
  return typeof cn === "string" && cn.length > 0 ? cn : undefined;
}

function peerText(s: Socket): string {
  const p: ConnectionPeer = { address: s.remoteAddress ?? "?", port: s.remotePort ?? 0 };
  return `${p.address}:${p.port}`;
}
