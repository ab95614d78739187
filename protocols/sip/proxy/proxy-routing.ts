// RFC 3261 §16.4 route information preprocessing, §16.6 steps 4/6/7 (Record-Route, strict-router
// postprocessing, next-hop choice) and §16.12 loose routing; next hop from a URI without DNS (RFC 3263 §4.2 literals).
import { parseNameAddr, type NameAddrHeader } from "../codec/header-name-addr.js";
import type { SipRequest } from "../codec/sip-message.js";
import { formatSipUri, parseSipUri, type SipUri } from "../codec/sip-uri.js";
import { defaultPort, protocolFromViaTransport, type TransportAddress, type TransportProtocol } from "../transport/transport-types.js";

/** Addresses this proxy answers on, as they appear in Via and Record-Route (advertised host, not 0.0.0.0). */
export interface ProxyIdentity {
  addresses: TransportAddress[];
  /** Extra host names that denote this proxy in URIs. */
  aliases?: string[];
}

function uriProtocol(uri: SipUri): TransportProtocol {
  const t = uri.params.get("transport");
  const p = typeof t === "string" ? protocolFromViaTransport(t) : undefined;
  if (p) return p;
  return uri.scheme === "sips" ? "tls" : "udp";
}

function stripBrackets(host: string): string {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}

/** RFC 3263 §4 for numeric hosts / explicit ports: transport from ;transport, port from the URI or the default. */
export function uriToTransportAddress(uriText: string): TransportAddress {
  const uri = parseSipUri(uriText);
  if (uri.scheme === "tel") throw new TypeError(`cannot route to tel URI ${uriText} without a gateway target`);
  const maddr = uri.params.get("maddr");
  const protocol = uriProtocol(uri);
  const host = stripBrackets(typeof maddr === "string" && maddr !== "" ? maddr : uri.host);
  return { protocol, host, port: uri.port ?? defaultPort(protocol) };
}

/** Whether a URI names this proxy (RFC 3261 §16.4). */
export function isLocalUri(uri: SipUri, identity: ProxyIdentity): boolean {
  if (uri.scheme === "tel") return false;
  const host = stripBrackets(uri.host).toLowerCase();
  const proto = uriProtocol(uri);
  for (const a of identity.addresses) {
    const port = uri.port ?? defaultPort(proto);
    if (a.host.toLowerCase() === host && a.port === port) return true;
  }
  return identity.aliases?.some((alias) => alias.toLowerCase() === host) ?? false;
}

function safeRequestUri(request: SipRequest): SipUri | undefined {
  try {
    return request.requestUri; // parsed once and cached by the message
  } catch {
    return undefined;
  }
}

function routeUriOf(value: string): SipUri | undefined {
  try {
    const na = parseNameAddr(value, "Route");
    return typeof na.uri === "string" ? undefined : na.uri;
  } catch {
    return undefined;
  }
}

function routeValues(request: SipRequest): string[] {
  return request.getHeaders("Route");
}

function setRouteValues(request: SipRequest, values: string[]): void {
  request.removeHeader("Route");
  // Route goes where the first Route was, else just after the Vias/Max-Forwards block: appending is legal (§7.3.1).
  for (const v of values) request.addHeader("Route", v, "bottom");
}

/**
 * §16.4: if the Request-URI is a URI this proxy put in a Record-Route (a strict router upstream), replace it
 * by the last Route value; then remove every leading Route entry that names this proxy (two of them after double
 * record-routing, RFC 5658). Mutates `request`.
 */
export function preprocessRoute(request: SipRequest, identity: ProxyIdentity): void {
  let routes = routeValues(request);
  const ruri = routes.length > 0 ? safeRequestUri(request) : undefined; // only matters with a Route set
  if (ruri && ruri.user === undefined && ruri.params.has("lr") && isLocalUri(ruri, identity) && routes.length > 0) {
    const last = routes[routes.length - 1]!;
    const lastUri = routeUriOf(last);
    if (lastUri) {
      request.uri = formatSipUri(lastUri);
      routes = routes.slice(0, -1);
    }
  }
  let popped = 0;
  while (popped < routes.length) {
    const u = routeUriOf(routes[popped]!);
    if (!u || !isLocalUri(u, identity)) break;
    popped++;
  }
  if (popped > 0 || (ruri !== undefined && routes.length !== routeValues(request).length)) setRouteValues(request, routes.slice(popped));
}

/**
 * §16.6 step 6: when the next Route entry is a strict router (no ;lr), move the Request-URI to the end of
 * the Route set and make that entry the Request-URI. Mutates `request`.
 */
export function postprocessStrictRoute(request: SipRequest): void {
  const routes = routeValues(request);
  const first = routes[0];
  if (first === undefined) return;
  const uri = routeUriOf(first);
  if (!uri || uri.params.has("lr")) return;
  const rest = routes.slice(1);
  rest.push(`<${request.uri}>`);
  request.uri = formatSipUri(uri);
  setRouteValues(request, rest);
}

/** §16.6 step 7: the next hop is the top Route (loose router) if any, else the Request-URI. */
export function nextHopOf(request: SipRequest): TransportAddress {
  const top = routeValues(request)[0];
  if (top !== undefined) {
    const na: NameAddrHeader = parseNameAddr(top, "Route");
    return uriToTransportAddress(typeof na.uri === "string" ? na.uri : formatSipUri(na.uri));
  }
  return uriToTransportAddress(request.uri);
}

/** This proxy's Record-Route value for one side (§16.6 step 4), loose routing (;lr). */
export function recordRouteValue(local: TransportAddress): string {
  const host = local.host.includes(":") ? `[${local.host}]` : local.host;
  const transport = local.protocol === "udp" ? "" : `;transport=${local.protocol}`;
  return `<sip:${host}:${local.port}${transport};lr>`;
}
