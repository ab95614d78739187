// RFC 3261 §18 over TCP.
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { StreamTransport, type StreamTransportOptions } from "./transport-stream.js";
import type { TransportAddress } from "./transport-types.js";

/** Settings of a TcpTransport. */
export type TcpTransportOptions = StreamTransportOptions;

/** SIP over TCP (RFC 3261 §18). */
export class TcpTransport extends StreamTransport {
  readonly protocol = "tcp" as const;
  protected readonly readyEvent = "connect" as const;

  protected createServer(onSocket: (socket: Socket) => void): Server {
    return createServer(onSocket);
  }

  protected connectSocket(destination: TransportAddress): Socket {
    return createConnection({ host: destination.host, port: destination.port });
  }
}
