// RFC 3261 §18 / §26.2 over TLS (node:tls).
import { isIP, type Server, type Socket } from "node:net";
import { connect, createServer, type SecureContextOptions } from "node:tls";
import { StreamTransport, type StreamTransportOptions } from "./transport-stream.js";
import type { TransportAddress } from "./transport-types.js";

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

export class TlsTransport extends StreamTransport {
  readonly protocol = "tls" as const;
  protected readonly readyEvent = "secureConnect" as const;

  constructor(private readonly tlsOptions: TlsTransportOptions) {
    super(tlsOptions);
  }

  protected createServer(onSocket: (socket: Socket) => void): Server {
    const mutual = this.tlsOptions.requireClientCert === true;
    return createServer({ ...this.tlsOptions.secureContext, requestCert: mutual, rejectUnauthorized: mutual }, onSocket) as unknown as Server;
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
