// RFC 3261 §16: the application-facing shapes of the stateful proxy (the per-request decision hook).
import type { SipHeader, SipRequest, SipResponse } from "../codec/sip-message.js";
import type { InboundContext, TransportAddress } from "../transport/transport-types.js";

/** One place to send a request (§16.5): a new Request-URI and/or an explicit next-hop address. */
export interface ProxyTarget {
  /** New Request-URI; the received one is kept when absent. */
  uri?: string;
  /** Where to send; when absent the top Route, else the Request-URI decides (§16.6 step 7). */
  nextHop?: TransportAddress;
}

/** What a proxy hook decides for a request: forward, respond or hold. */
export type ProxyDecision =
  /** Forward to the targets in parallel (§16.6); no targets means route by Route / Request-URI. */
  | { action: "forward"; targets?: (ProxyTarget | string)[] }
  /** Answer the request with this status (the proxy acts as UAS for it, §16.5). */
  | { action: "respond"; status: number; reason?: string; headers?: SipHeader[] }
  /** Keep the request pending; the application calls `forward` / `respond` on the context later. */
  | { action: "hold" };

/** The request the hook is asked about and the means to settle it. */
export interface ProxyRequestContext {
  readonly id: number;
  readonly request: SipRequest;
  readonly method: string;
  readonly source: InboundContext;
  /** The request carries a To tag (§12.2): it belongs to an existing dialog. */
  readonly inDialog: boolean;
  /** After removing this proxy's own entries, a Route header still names the next hop (§16.4). */
  readonly hasRoute: boolean;
  /** Aborted when the request is CANCELled, or its server transaction ends, before it was settled. */
  readonly signal: AbortSignal;
  /** True once `forward` or a final `respond` took effect. */
  readonly settled: boolean;
  /** What the hook's application keeps for this request (set and read by it; the proxy never reads it). */
  userState: unknown;
  /** Forwards the request to the targets in parallel (§16.6); no targets: route by Route / Request-URI. */
  forward(targets?: (ProxyTarget | string)[]): void;
  /** Provisional statuses are sent and leave the request pending; final ones settle it. */
  respond(status: number, reason?: string, headers?: SipHeader[]): void;
  /** Relays a response the response hook held (§16.7 from step 3 on). */
  release(response: SipResponse): void;
  /**
   * Gives up on a forwarded request: pending branches are CANCELled (§9.1), held responses dropped, and upstream
   * is answered with this final response unless it has one already.
   */
  abandon(status: number, reason?: string, headers?: SipHeader[]): void;
}

/**
 * Judges a response of a branch (its top Via already removed) before §16.7 relays it: "relay" it now, "hold" it
 * until the application calls `release` (or `abandon`), or "drop" it.
 */
export type ProxyResponseHook = (context: ProxyRequestContext, response: SipResponse) => "relay" | "hold" | "drop";

/** Decides, possibly asynchronously, what happens to each request not absorbed by a transaction. */
export type ProxyHook = (context: ProxyRequestContext) => ProxyDecision | void | Promise<ProxyDecision | void>;

/** Observer callbacks for accounting and logs (no influence on forwarding). */
export interface ProxyObserver {
  /** The final response the proxy sent upstream for a request (forwarded or generated). */
  onFinalResponse?(context: ProxyRequestContext, response: SipResponse): void;
  /** A request was forwarded to a branch. */
  onForward?(context: ProxyRequestContext, forwarded: SipRequest, destination: TransportAddress): void;
  /** Something went wrong that the proxy handled locally (hook threw, unroutable target, ...). */
  onError?(context: ProxyRequestContext | undefined, error: Error): void;
}
