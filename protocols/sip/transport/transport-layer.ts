// RFC 3261 §18: the transport layer over several transports. Inbound: received/rport stamping (§18.2.1,
// RFC 3581), sent-by check on responses (§18.1.2), bad input counted and dropped (or 400). Outbound: the
// §18.1.1 size rule (UDP → TCP above the MTU limit) and response routing (§18.2.2).
import { buildResponse } from "../codec/message-builders.js";
import { serializeSipMessage } from "../codec/message-serializer.js";
import type { ProxyIdentity } from "../proxy/proxy-routing.js";
import { SipParseError } from "../codec/sip-parse-error.js";
import type { SipMessage, SipRequest, SipResponse } from "../codec/sip-message.js";
import type { TransactionSender } from "../transaction/transaction-layer.js";
import type { InboundRejection, RejectedInput, SipTransport } from "./transport-interface.js";
import { datagramRefusal, requestHeadOf } from "./transport-refusal.js";
import { responseDestination, stampReceived } from "./transport-via.js";
import {
  defaultPort,
  isReliableProtocol,
  protocolFromViaTransport,
  SipTransportError,
  viaTransportToken,
  type InboundContext,
  type TransportAddress,
  type TransportProtocol,
} from "./transport-types.js";
import { formatVia, parseViaValue } from "../codec/header-via.js";

/** Transports, advertised host, UDP size limit, destination filter and drop listener of a SipTransportLayer. */
export interface TransportLayerOptions {
  transports: SipTransport[];
  /** Host written into Via / Record-Route when a transport is bound to a wildcard address. */
  advertisedHost?: string;
  /** §18.1.1: requests larger than this go over TCP instead of UDP (MTU 1500 − 200). */
  udpSizeLimit?: number;
  /**
   * Destinations this layer may send to (default: all). Anything else is refused with a SipTransportError
   * "destination-refused": an ACL against reflecting traffic at third parties named in Via/maddr/Route.
   */
  allowDestination?: (destination: TransportAddress) => boolean;
  /**
   * Called for every input dropped or refused (after it is counted), with a stable cause token (e.g.
   * "malformed-datagram", "header-timeout", "source-cap") and what was wrong: a caller's DropLog.
   */
  onDrop?: (cause: string, source: TransportAddress | undefined, detail: string) => void;
}

/** What a transport layer counted: messages, refusals and drops by cause. */
export interface TransportStats {
  received: number;
  sent: number;
  malformedDatagrams: number;
  malformedStreams: number;
  oversized: number;
  badFrames: number;
  /** Parsed, but a header the transaction layer needs was malformed. */
  badRequests: number;
  /** §18.1.2: responses whose top Via is not ours. */
  misroutedResponses: number;
  /** Requests moved from UDP to TCP by the size rule. */
  sizeRuleSwitches: number;
  sendErrors: number;
  /** Sends refused by `allowDestination`. */
  refusedDestinations: number;
  /** Inbound connections closed by the connection limits, by cause. */
  connectionCap: number;
  sourceCap: number;
  idleTimeouts: number;
  headerTimeouts: number;
  bodyTimeouts: number;
  /** Error responses sent for input that did not parse whole (§18.3 400, §21.5.7 513, §8.2 400/416). */
  refusalsSent: number;
  /** New requests answered 503 because the element was at its transaction bound (§21.5.4). */
  overloadRefusals: number;
}

/** Takes each message a transport layer received. */
export type InboundHandler = (message: SipMessage, context: InboundContext) => void;

export class SipTransportLayer implements TransactionSender {
  readonly stats: TransportStats = {
    received: 0,
    sent: 0,
    malformedDatagrams: 0,
    malformedStreams: 0,
    oversized: 0,
    badFrames: 0,
    badRequests: 0,
    misroutedResponses: 0,
    sizeRuleSwitches: 0,
    sendErrors: 0,
    refusedDestinations: 0,
    connectionCap: 0,
    sourceCap: 0,
    idleTimeouts: 0,
    headerTimeouts: 0,
    bodyTimeouts: 0,
    refusalsSent: 0,
    overloadRefusals: 0,
  };
  private handler: InboundHandler | undefined;
  private readonly transports: SipTransport[];
  private readonly udpSizeLimit: number;

  constructor(private readonly options: TransportLayerOptions) {
    this.transports = options.transports;
    this.udpSizeLimit = options.udpSizeLimit ?? 1300;
  }

  /** Where parsed messages go (normally TransactionLayer.receive). Errors it throws are counted, never fatal. */
  onMessage(handler: InboundHandler): void {
    this.handler = handler;
  }

  /** Starts listening on every transport; each gets its port. */
  async start(): Promise<void> {
    for (const t of this.transports) {
      await t.listen({
        message: (m, ctx) => this.inbound(m, ctx),
        rejected: (reason, source, detail, input) => this.rejected(reason, source, detail, input),
      });
      this.sentBy = undefined; // a transport just got its port
    }
  }

  /** Closes every transport and its connections. */
  async close(): Promise<void> {
    await Promise.all(this.transports.map((t) => t.close()));
  }

  /** The address of each transport as written in Via and Record-Route. */
  localAddress(protocol: TransportProtocol): TransportAddress | undefined {
    const t = this.transports.find((x) => x.protocol === protocol);
    if (!t) return undefined;
    const wildcard = t.local.host === "0.0.0.0" || t.local.host === "::";
    return { ...t.local, host: wildcard ? (this.options.advertisedHost ?? "127.0.0.1") : (this.options.advertisedHost ?? t.local.host) };
  }

  private sentBy: { host: string; port: number }[] | undefined;

  /** This node's addresses, as a proxy writes them in Via and Record-Route. */
  identity(): ProxyIdentity {
    const addresses: TransportAddress[] = [];
    for (const t of this.transports) {
      const a = this.localAddress(t.protocol);
      if (a) addresses.push(a);
    }
    return { addresses };
  }

  private static readonly COUNTERS: Record<InboundRejection, keyof TransportStats> = {
    "malformed-datagram": "malformedDatagrams",
    "malformed-stream": "malformedStreams",
    oversized: "oversized",
    "bad-frame": "badFrames",
    "connection-cap": "connectionCap",
    "source-cap": "sourceCap",
    "idle-timeout": "idleTimeouts",
    "header-timeout": "headerTimeouts",
    "body-timeout": "bodyTimeouts",
  };

  private rejected(reason: InboundRejection, source: TransportAddress, detail: string, input?: RejectedInput): void {
    this.stats[SipTransportLayer.COUNTERS[reason]]++;
    this.options.onDrop?.(reason, source, detail);
    if (!input) return;
    if (input.request && input.status !== undefined && input.context) {
      this.refuse(input.request, input.context, input.status, input.reason ?? "Bad Request");
    } else if (input.datagram) {
      const answer = datagramRefusal(input.error);
      const request = answer ? requestHeadOf(input.datagram) : undefined;
      if (answer && request) this.refuse(request, { source, local: this.localAddress(source.protocol) ?? source }, answer.status, answer.reason);
    }
  }

  /**
   * RFC 3261 §21.5.4: answers a new request with 503 and Retry-After, statelessly (no transaction is kept),
   * when the element cannot take more; counted and reported as "overload".
   */
  refuseOverload(request: SipRequest, context: InboundContext, retryAfterSeconds: number): void {
    this.stats.overloadRefusals++;
    this.options.onDrop?.("overload", context.source, `${request.method} answered 503`);
    this.refuse(request, context, 503, "Service Unavailable", { "Retry-After": String(retryAfterSeconds) });
  }

  /** Answers a request that could not be processed whole (§18.3, §21.5.7, §8.2), if its Via routes back. */
  private refuse(request: SipRequest, context: InboundContext, status: number, reason: string, extraHeaders?: Record<string, string>): void {
    try {
      stampReceived(request, context.source);
      const response = buildResponse(request, status, reason.replace(/[\r\n]/g, " "), { toTag: "bad", ...(extraHeaders ? { extraHeaders } : {}) });
      this.stats.refusalsSent++;
      void this.sendResponse(response, context).catch(() => undefined);
    } catch {
      // no usable Via or To: dropped (already counted)
    }
  }

  private isOurSentBy(host: string, port: number | undefined, transport: string): boolean {
    const proto = protocolFromViaTransport(transport);
    const p = port ?? (proto ? defaultPort(proto) : 5060);
    // Built once the transports are bound (ports known); compared field by field, no key string per response.
    const ours = (this.sentBy ??= this.identity().addresses.map((a) => ({ host: a.host.toLowerCase(), port: a.port })));
    let lower: string | undefined;
    for (let i = 0; i < ours.length; i++) {
      const a = ours[i]!;
      if (a.port !== p) continue;
      if (a.host === host || a.host === (lower ??= host.toLowerCase())) return true;
    }
    return false;
  }

  private inbound(message: SipMessage, context: InboundContext): void {
    this.stats.received++;
    try {
      if ("status" in message) {
        const via = message.topVia;
        if (!this.isOurSentBy(via.host, via.port, via.transport)) {
          this.stats.misroutedResponses++; // §18.1.2: silently discard
          this.options.onDrop?.("misrouted-response", context.source, `top Via ${via.host}:${via.port ?? ""} is not ours`);
          return;
        }
      } else {
        stampReceived(message, context.source);
      }
      this.handler?.(message, context);
    } catch (err) {
      this.stats.badRequests++;
      const detail = err instanceof Error ? err.message : String(err);
      this.options.onDrop?.("bad-request", context.source, detail);
      // §8.2 / §16.3 step 1: a request whose essential headers do not parse gets 400, if it can be routed back.
      if (err instanceof SipParseError && !("status" in message) && message.method !== "ACK") this.refuse(message, context, 400, `Bad Request (${err.header ?? err.code})`);
    }
  }

  private checkDestination(destination: TransportAddress): void {
    if (this.options.allowDestination && !this.options.allowDestination(destination)) {
      this.stats.refusedDestinations++;
      throw new SipTransportError("destination-refused", `sending to ${destination.host}:${destination.port} is not allowed`, destination);
    }
  }

  private transportFor(protocol: TransportProtocol): SipTransport {
    const t = this.transports.find((x) => x.protocol === protocol);
    if (!t) throw new SipTransportError("no-transport", `no ${protocol} transport configured`);
    return t;
  }

  /** Sends a request; a UDP request over the size limit goes over TCP when there is one (§18.1.1). */
  async sendRequest(request: SipRequest, destination: TransportAddress): Promise<void> {
    this.checkDestination(destination);
    const data = serializeSipMessage(request);
    let target = destination;
    const tcp = this.transports.find((t) => t.protocol === "tcp");
    if (destination.protocol === "udp" && data.length > this.udpSizeLimit && tcp) {
      // §18.1.1: too big for UDP; send over TCP with the Via saying so, fall back to UDP if TCP is refused.
      const viaOverTcp = rewriteTopViaTransport(request, "tcp", this.localAddress("tcp")!);
      if (viaOverTcp) {
        this.stats.sizeRuleSwitches++;
        target = { ...destination, protocol: "tcp" };
        try {
          await this.transportFor("tcp").send(serializeSipMessage(viaOverTcp), target);
          this.stats.sent++;
          return;
        } catch {
          target = destination;
        }
      }
    }
    try {
      await this.transportFor(target.protocol).send(data, target);
      this.stats.sent++;
    } catch (err) {
      this.stats.sendErrors++;
      throw err instanceof SipTransportError ? err : new SipTransportError("send-failed", String(err), target, { cause: err });
    }
  }

  /** §18.2.2: over the request's connection if still open, else to received/rport (or sent-by) of the top Via. */
  async sendResponse(response: SipResponse, context: InboundContext): Promise<void> {
    const data = serializeSipMessage(response);
    const protocol = context.source.protocol;
    try {
      const transport = this.transportFor(protocol);
      if (isReliableProtocol(protocol) && context.connectionId !== undefined && transport.hasConnection(context.connectionId)) {
        await transport.send(data, context.source, context.connectionId);
      } else if (protocol === "ws" || protocol === "wss") {
        throw new SipTransportError("connection-closed", "WebSocket connection of the request is gone (RFC 7118 §5.2)", context.source);
      } else {
        const dest = { ...responseDestination(response, protocol), protocol };
        this.checkDestination(dest);
        await transport.send(data, dest);
      }
      this.stats.sent++;
    } catch (err) {
      this.stats.sendErrors++;
      throw err;
    }
  }
}

/** A copy of `request` whose top Via names `protocol` and our address on it (§18.1.1). */
function rewriteTopViaTransport(request: SipRequest, protocol: TransportProtocol, local: TransportAddress): SipRequest | undefined {
  const top = request.getHeaders("Via")[0];
  const via = top !== undefined ? parseViaValue(top)[0] : undefined;
  if (!via) return undefined;
  const copy = request.clone();
  via.transport = viaTransportToken(protocol);
  via.protocol = `${via.protocolName}/${via.protocolVersion}/${via.transport}`;
  via.host = local.host.includes(":") ? `[${local.host}]` : local.host;
  via.port = local.port;
  copy.removeFirstHeaderValue("Via");
  copy.addHeader("Via", formatVia(via), "top");
  return copy;
}
