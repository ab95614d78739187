// Limits every inbound TCP/TLS listener applies, whatever it carries (SIP streams, COPS, OSP over HTTP): a
// connection cap, a per-source-address cap, an idle timeout, and deadlines for a message's head and body once
// its first byte has arrived (slowloris). Protocol-neutral: the framing layer says what it waits for.
import type { Server, Socket } from "node:net";

/** What an inbound TCP/TLS listener allows each connection and each source: caps (counts) and timeouts (ms). */
export interface ConnectionLimits {
  /** Open inbound connections at most; more are closed as soon as accepted. 0: no cap. */
  maxConnections: number;
  /** Open inbound connections from one source address at most. 0: no cap. */
  maxConnectionsPerSource: number;
  /** Close a connection that moved no byte either way for this long (ms). 0: never. */
  idleTimeoutMs: number;
  /** A message's head (SIP start line and headers, COPS common header, HTTP headers) must be whole this long after its first byte (ms). 0: no deadline. */
  headerTimeoutMs: number;
  /** A message's body must be whole this long after its head (ms). 0: no deadline. */
  bodyTimeoutMs: number;
}

export const DEFAULT_CONNECTION_LIMITS: Readonly<ConnectionLimits> = Object.freeze({
  maxConnections: 1024,
  maxConnectionsPerSource: 128,
  idleTimeoutMs: 120_000,
  headerTimeoutMs: 10_000,
  bodyTimeoutMs: 30_000,
});

/** Why a connection was closed by these limits. */
export type ConnectionRefusal = "connection-cap" | "source-cap" | "idle-timeout" | "header-timeout" | "body-timeout";

export const CONNECTION_REFUSALS: readonly ConnectionRefusal[] = ["connection-cap", "source-cap", "idle-timeout", "header-timeout", "body-timeout"];

/** What a connection's framing waits for: nothing (between messages), the rest of a head, or the rest of a body. */
export type MessagePhase = "idle" | "head" | "body";

export class ConnectionLimitError extends Error {
  override readonly name = "ConnectionLimitError";
  constructor(
    readonly setting: keyof ConnectionLimits,
    message: string,
  ) {
    super(message);
  }
}

/** The defaults overridden by `partial`; a setting that is not a non-negative integer is refused, by name. */
export function resolveConnectionLimits(partial: Partial<ConnectionLimits> = {}): ConnectionLimits {
  const limits = { ...DEFAULT_CONNECTION_LIMITS };
  for (const key of Object.keys(DEFAULT_CONNECTION_LIMITS) as (keyof ConnectionLimits)[]) {
    const v = partial[key];
    if (v === undefined) continue;
    if (!Number.isSafeInteger(v) || v < 0) throw new ConnectionLimitError(key, `${key} must be a non-negative integer, got ${String(v)}`);
    limits[key] = v;
  }
  return limits;
}

/** The remote address and port of a connection. */
export interface ConnectionPeer {
  address: string;
  port: number;
}

/** Called once per connection these limits close (or refuse), with why. */
export type RefusalListener = (cause: ConnectionRefusal, peer: ConnectionPeer) => void;

function peerOf(socket: Socket): ConnectionPeer {
  const a = socket.remoteAddress ?? "";
  return { address: a.startsWith("::ffff:") && a.includes(".") ? a.slice(7) : a, port: socket.remotePort ?? 0 };
}

/**
 * The limits of one listener. `attach(server)` enforces the caps and the idle timeout on every accepted
 * socket (for a TLS server, the TCP socket under the handshake); `watch(socket)` gives the framing layer a
 * function to say which phase it is in, and closes the socket when a head or body deadline passes.
 */
export class ConnectionGate {
  readonly limits: ConnectionLimits;
  /** Connections closed or refused, by cause. */
  readonly refused: Record<ConnectionRefusal, number> = { "connection-cap": 0, "source-cap": 0, "idle-timeout": 0, "header-timeout": 0, "body-timeout": 0 };
  private readonly bySource = new Map<string, number>();
  private openCount = 0;

  constructor(
    limits: Partial<ConnectionLimits> = {},
    private readonly onRefuse: RefusalListener = () => undefined,
  ) {
    this.limits = resolveConnectionLimits(limits);
  }

  /** Inbound connections open now. */
  get open(): number {
    return this.openCount;
  }

  /** Inbound connections open now from `address`. */
  openFrom(address: string): number {
    return this.bySource.get(address) ?? 0;
  }

  /** Applies the caps and the idle timeout to every connection `server` accepts, before its own listeners run. */
  attach(server: Server): void {
    server.prependListener("connection", (socket: Socket) => {
      this.admit(socket);
    });
  }

  /** Counts `socket` in; closes it and returns false if a cap is reached. */
  admit(socket: Socket): boolean {
    const peer = peerOf(socket);
    const { maxConnections, maxConnectionsPerSource, idleTimeoutMs } = this.limits;
    const fromSource = this.bySource.get(peer.address) ?? 0;
    const cause: ConnectionRefusal | undefined =
      maxConnections > 0 && this.openCount >= maxConnections ? "connection-cap" : maxConnectionsPerSource > 0 && fromSource >= maxConnectionsPerSource ? "source-cap" : undefined;
    if (cause !== undefined) {
      this.refuse(cause, socket, peer);
      return false;
    }
    this.openCount++;
    this.bySource.set(peer.address, fromSource + 1);
    socket.once("close", () => {
      this.openCount--;
      const n = (this.bySource.get(peer.address) ?? 1) - 1;
      if (n <= 0) this.bySource.delete(peer.address);
      else this.bySource.set(peer.address, n);
    });
    if (idleTimeoutMs > 0) {
      socket.setTimeout(idleTimeoutMs);
      socket.once("timeout", () => this.refuse("idle-timeout", socket, peer));
    }
    return true;
  }

  /** A setter of `socket`'s phase: entering "head" or "body" starts that deadline, "idle" clears it. */
  watch(socket: Socket): (phase: MessagePhase) => void {
    let current: MessagePhase = "idle";
    let timer: NodeJS.Timeout | undefined;
    const clear = (): void => {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    };
    socket.once("close", clear);
    return (phase) => {
      if (phase === current) return;
      current = phase;
      clear();
      if (phase === "idle" || socket.destroyed) return;
      const ms = phase === "head" ? this.limits.headerTimeoutMs : this.limits.bodyTimeoutMs;
      if (ms <= 0) return;
      timer = setTimeout(() => {
        timer = undefined;
        this.refuse(phase === "head" ? "header-timeout" : "body-timeout", socket, peerOf(socket));
      }, ms);
      timer.unref();
    };
  }

  private refuse(cause: ConnectionRefusal, socket: Socket, peer: ConnectionPeer): void {
    if (socket.destroyed) return;
    this.refused[cause]++;
    socket.destroy();
    this.onRefuse(cause, peer);
  }
}
