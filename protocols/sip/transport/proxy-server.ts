// Wiring: transports + transaction layer + stateful proxy core on real sockets and the real clock.
import type { SecureContextOptions } from "node:tls";
import type { SipParseLimits } from "../codec/message-parser.js";
import type { ProxyHook, ProxyObserver } from "../proxy/proxy-types.js";
import { StatefulProxy } from "../proxy/stateful-proxy.js";
import { TcpTransport } from "./tcp-transport.js";
import { TlsTransport } from "./tls-transport.js";
import { systemClock, type TransactionClock } from "../transaction/transaction-clock.js";
import { TransactionLayer } from "../transaction/transaction-layer.js";
import type { TransactionTimerConfig } from "../transaction/transaction-timers.js";
import type { SipTransport } from "./transport-interface.js";
import { SipTransportLayer, type TransportLayerOptions } from "./transport-layer.js";
import type { ConnectionLimits } from "../../net/connection-limits.js";
import { SipTransportError, type TransportAddress } from "./transport-types.js";
import { UdpTransport } from "./udp-transport.js";
import { WebSocketTransport } from "./websocket-transport.js";

/** Listeners, hook, limits, TLS and observers of a proxy server. */
export interface ProxyServerOptions {
  /** Addresses to listen on; port 0 picks a free port (see `addresses` after start). */
  listen: TransportAddress[];
  hook?: ProxyHook;
  observer?: ProxyObserver;
  recordRoute?: boolean;
  supportedExtensions?: string[];
  timers?: Partial<TransactionTimerConfig>;
  limits?: Partial<SipParseLimits>;
  /** Needed when a tls: address is listed. */
  tls?: { secureContext: SecureContextOptions; rejectUnauthorized?: boolean; requireClientCert?: boolean };
  advertisedHost?: string;
  clock?: TransactionClock;
  /** RFC 6026 Accepted state for INVITE server transactions (default true: a late INVITE retransmission is absorbed, not forwarded again). */
  acceptedState?: boolean;
  /** See TransportLayerOptions.allowDestination. */
  allowDestination?: (destination: TransportAddress) => boolean;
  /** Caps and timeouts of inbound TCP/TLS connections (DEFAULT_CONNECTION_LIMITS where not given). */
  connectionLimits?: Partial<ConnectionLimits>;
  /** See TransportLayerOptions.onDrop. */
  onDrop?: TransportLayerOptions["onDrop"];
  /**
   * Server transactions held at most (default 50,000; 0: no bound). A new request beyond gets 503 with
   * Retry-After, statelessly (RFC 3261 §21.5.4): a flood cannot grow the transaction tables without bound.
   * A call holds two for 32 s over UDP (INVITE Accepted, BYE Completed), so the default carries ~780 calls/s.
   */
  maxServerTransactions?: number;
}

export const DEFAULT_MAX_SERVER_TRANSACTIONS = 50_000;

/** A transport for one listener address (udp, tcp, tls, ws, wss). */
export function createTransport(address: TransportAddress, options: Pick<ProxyServerOptions, "limits" | "tls" | "connectionLimits"> = {}): SipTransport {
  const base = { host: address.host, port: address.port, ...(options.limits ? { limits: options.limits } : {}), ...(options.connectionLimits ? { connectionLimits: options.connectionLimits } : {}) };
  switch (address.protocol) {
    case "udp":
      return new UdpTransport(base);
    case "tcp":
      return new TcpTransport(base);
    case "tls":
      if (!options.tls) throw new SipTransportError("listen-failed", "tls listener needs a certificate and key", address);
      return new TlsTransport({ ...base, ...options.tls });
    case "ws":
      return new WebSocketTransport({ ...base, protocol: "ws" });
    case "wss":
      if (!options.tls) throw new SipTransportError("listen-failed", "wss listener needs a certificate and key", address);
      return new WebSocketTransport({ ...base, protocol: "wss", tls: options.tls });
  }
}

/** A running proxy: its transport and transaction layers, proxy core, addresses and `close()`. */
export interface ProxyServer {
  readonly transport: SipTransportLayer;
  readonly transactions: TransactionLayer;
  readonly proxy: StatefulProxy;
  /** Bound addresses (real ports). */
  readonly addresses: TransportAddress[];
  /** Stops the proxy: listeners, connections and transactions. */
  close(): Promise<void>;
}

/** A stateful proxy on real sockets: listeners, transport layer, transaction layer and the proxy core with your hook. */
export async function startProxyServer(options: ProxyServerOptions): Promise<ProxyServer> {
  const transports = options.listen.map((a) => createTransport(a, options));
  const transport = new SipTransportLayer({
    transports,
    ...(options.advertisedHost ? { advertisedHost: options.advertisedHost } : {}),
    ...(options.allowDestination ? { allowDestination: options.allowDestination } : {}),
    ...(options.onDrop ? { onDrop: options.onDrop } : {}),
  });
  await transport.start();
  const clock = options.clock ?? systemClock;
  const transactions = new TransactionLayer({
    sender: transport,
    clock,
    acceptedState: options.acceptedState ?? true,
    ...(options.timers ? { timers: options.timers } : {}),
  });
  const proxy = new StatefulProxy({
    transactions,
    identity: transport.identity(),
    clock,
    ...(options.hook ? { hook: options.hook } : {}),
    ...(options.observer ? { observer: options.observer } : {}),
    ...(options.recordRoute !== undefined ? { recordRoute: options.recordRoute } : {}),
    ...(options.supportedExtensions ? { supportedExtensions: options.supportedExtensions } : {}),
  });
  const maxServer = options.maxServerTransactions ?? DEFAULT_MAX_SERVER_TRANSACTIONS;
  transport.onMessage((m, ctx) => {
    // ACK and CANCEL belong to transactions already held; a retransmission finds its own.
    if (maxServer > 0 && transactions.serverCount >= maxServer && !("status" in m) && m.method !== "ACK" && m.method !== "CANCEL" && !transactions.findServerTransaction(m)) {
      transport.refuseOverload(m, ctx, 5);
      return;
    }
    transactions.receive(m, ctx);
  });
  return {
    transport,
    transactions,
    proxy,
    addresses: transport.identity().addresses,
    close: () => transport.close(),
  };
}
