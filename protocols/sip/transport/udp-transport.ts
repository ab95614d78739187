// RFC 3261 §18 over UDP: one datagram per message, parse errors counted and dropped.
import { createSocket, type Socket } from "node:dgram";
import { isIPv6 } from "node:net";
import { parseSipMessage, type SipParseLimits } from "../codec/message-parser.js";
import type { SipTransport, TransportEvents } from "./transport-interface.js";
import { SipTransportError, type InboundContext, type TransportAddress } from "./transport-types.js";

/** Address, message limits and socket buffer size of a UdpTransport. */
export interface UdpTransportOptions {
  host: string;
  port: number;
  limits?: Partial<SipParseLimits>;
  /** SO_RCVBUF / SO_SNDBUF to ask for (default 4 MiB). */
  socketBufferBytes?: number;
}

/** SIP over UDP (RFC 3261 §18). */
export class UdpTransport implements SipTransport {
  readonly protocol = "udp" as const;
  readonly reliable = false;
  private socket: Socket | undefined;
  private bound: TransportAddress;

  constructor(private readonly options: UdpTransportOptions) {
    this.bound = { protocol: "udp", host: options.host, port: options.port };
  }

  get local(): TransportAddress {
    return this.bound;
  }

  listen(events: TransportEvents): Promise<void> {
    const socket = createSocket({ type: isIPv6(this.options.host) ? "udp6" : "udp4", reuseAddr: false });
    this.socket = socket;
    // Made once: without limits of its own the parser takes its shared defaults (no options object per datagram).
    const parseOptions = this.options.limits ? { limits: this.options.limits } : undefined;
    socket.on("message", (data, rinfo) => {
      const source: TransportAddress = { protocol: "udp", host: rinfo.address, port: rinfo.port };
      let message;
      try {
        message = parseSipMessage(data, parseOptions);
      } catch (err) {
        events.rejected("malformed-datagram", source, err instanceof Error ? err.message : String(err), { datagram: data, error: err });
        return;
      }
      const context: InboundContext = { source, local: this.bound };
      events.message(message, context);
    });
    return new Promise((resolve, reject) => {
      socket.once("error", (err) => reject(new SipTransportError("listen-failed", `udp listen on ${this.options.host}:${this.options.port}: ${err.message}`)));
      socket.bind(this.options.port, this.options.host, () => {
        const a = socket.address();
        this.bound = { protocol: "udp", host: this.options.host, port: a.port };
        // Room for bursts while the event loop is busy (capped by the kernel's rmem_max / wmem_max).
        try {
          socket.setRecvBufferSize(this.options.socketBufferBytes ?? 4 * 1024 * 1024);
          socket.setSendBufferSize(this.options.socketBufferBytes ?? 4 * 1024 * 1024);
        } catch {
          // keep the kernel default
        }
        socket.removeAllListeners("error");
        socket.on("error", () => undefined); // per-datagram errors surface through send callbacks
        resolve();
      });
    });
  }

  send(data: Buffer, destination: TransportAddress): Promise<void> {
    const socket = this.socket;
    if (!socket) return Promise.reject(new SipTransportError("no-transport", "udp transport is not listening", destination));
    return new Promise((resolve, reject) => {
      socket.send(data, destination.port, destination.host, (err) => {
        if (err) reject(new SipTransportError("unreachable", `udp send to ${destination.host}:${destination.port} failed: ${err.message}`, destination, { cause: err }));
        else resolve();
      });
    });
  }

  hasConnection(): boolean {
    return false;
  }

  close(): Promise<void> {
    const s = this.socket;
    this.socket = undefined;
    if (!s) return Promise.resolve();
    return new Promise((resolve) => s.close(() => resolve()));
  }
}
