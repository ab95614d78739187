// RFC 3261 §18 / §26.2 over TLS (node:tls).
import { isIP, type Server, type Socket } from "node:net";
import { connect, createServer, type SecureContextOptions } from "node:tls";
import { DEFAULT_CONNECTION_LIMITS } from "../../net/connection-limits.js";
import { StreamTransport, type StreamTransportOptions } from "./transport-stream.js";
import type { TransportAddress } from "./transport-types.js";

/** TLS context, peer verification, client certificate requirement and server name of a TlsTransport. */
export interface TlsTransportOptions extends StreamTransportOptions {
  /** Certificate and key (PEM) presented to peers, plus CA for verifying them. */
  secureContext: SecureContextOptions;
  /** Verify the peer certificate on outbound connections (default true). */
  rejectUnauthorized?: boolean;
  /** Ask every client for a certificate and refuse the handshake without a valid one (mutual TLS). */
  requireClientCert?: boolean;
  /** SNI / name checked on outbound connections (default: the destination host). */
  servername?: string;
}

/** SIP over TLS (RFC 3261 §26.3.1). */
export class TlsTransport extends StreamTransport {
  readonly protocol = "tls" as const;
  protected readonly readyEvent = "secureConnect" as const;

  constructor(private readonly tlsOptions: TlsTransportOptions) {
    super(tlsOptions);
  }

  protected createServer(onSocket: (socket: Socket) => void): Server {
    const mutual = this.tlsOptions.requireClientCert === true;
    // The handshake is the connection's first head: it gets the header deadline (node's default is 120 s).
    const headerTimeoutMs = this.tlsOptions.connectionLimits?.headerTimeoutMs ?? DEFAULT_CONNECTION_LIMITS.headerTimeoutMs;
    const handshake = headerTimeoutMs > 0 ? { handshakeTimeout: headerTimeoutMs } : {};
    const server = createServer({ ...this.tlsOptions.secureContext, requestCert: mutual, rejectUnauthorized: mutual, ...handshake }, onSocket);
    // A failed or timed-out handshake: node leaves the socket open unless told (no listener, no close).
    server.on("tlsClientError", (_err, socket) => socket.destroy());
    return server as unknown as Server;
  }

  protected connectSocket(destination: TransportAddress): Socket {
    return connect({
      ...this.tlsOptions.secureContext,
      host: destination.host,
      port: destination.port,
      rejectUnauthorized: this.tlsOptions.rejectUnauthorized ?? true,
      // RFC 6066 §3: no IP literals in SNI.
      servername: this.tlsOptions.servername ?? (isIP(destination.host) ? undefined : destination.host),
    });
  }
}
