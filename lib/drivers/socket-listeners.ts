// What every listener of the socket driver shares: its connection limits (caps, idle timeout, head and body
// deadlines), the TLS handshake's deadline and failure, and the mutual-TLS check of a connecting peer.
import type { Server as HttpServer } from "node:http";
import type { Server as TcpServer, Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { ConnectionGate, DEFAULT_CONNECTION_LIMITS } from "../../protocols/net/connection-limits.js";
import { limitHttpServer } from "../../protocols/net/http-limits.js";
import type { Protocol } from "./message-record.js";
import { certifiedAs, tlsFor } from "./socket-tls.js";
import type { SocketTransportOptions } from "./socket-types.js";

/** Connection limits of each listener, by "node|proto". */
export class ListenerGates {
  private readonly gates = new Map<string, ConnectionGate>();

  constructor(private readonly options: SocketTransportOptions) {}

  /** The listener's connection limits: caps and idle timeout here, head and body deadlines through the framer's phase. */
  limit(server: TcpServer | HttpServer, name: string, proto: Protocol): void {
    const onRefuse = (cause: string, peer: { address: string; port: number }): void => this.options.onDrop?.(proto, cause, `${peer.address}:${peer.port}`);
    if (proto === "OSP") {
      const gate = limitHttpServer(server as HttpServer, { ...(this.options.limits ? { limits: this.options.limits } : {}), onRefuse, onClientError: (cause, detail) => this.options.onDrop?.(proto, cause, detail) });
      this.gates.set(`${name}|${proto}`, gate);
      return;
    }
    const gate = new ConnectionGate(this.options.limits, onRefuse);
    gate.attach(server);
    this.gates.set(`${name}|${proto}`, gate);
  }

  get(name: string, proto: Protocol): ConnectionGate | undefined {
    return this.gates.get(`${name}|${proto}`);
  }

  /** Inbound connections open now, by "node protocol" listener. */
  open(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [key, gate] of this.gates) out[key.replace("|", " ")] = gate.open;
    return out;
  }
}

/** A failed or timed-out handshake closes its socket (node leaves it open when nobody listens). */
export function closeFailedHandshakes<S extends { on(event: "tlsClientError", listener: (err: Error, socket: { destroy(): void }) => void): unknown }>(server: S): S {
  server.on("tlsClientError", (_err, socket) => socket.destroy());
  return server;
}

/** A TLS handshake is a connection's first head: it gets the listeners' header deadline. */
export function handshakeTimeoutMs(options: SocketTransportOptions): number {
  return options.limits?.headerTimeoutMs ?? DEFAULT_CONNECTION_LIMITS.headerTimeoutMs;
}

/** SIP, COPS and OSP links a node accepts are either plain or TLS; with mutual TLS the client certificate must name the peer. */
export function certifiedPeer(options: SocketTransportOptions, proto: Protocol, sock: Socket, peer: string): boolean {
  const tls = options.tls;
  if (!tls?.requireClientCert || !tlsFor(tls, proto)) return true;
  return certifiedAs(sock as TLSSocket, peer);
}
