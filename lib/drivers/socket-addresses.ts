// Addresses on the socket driver: loopback, bound listeners, peers named by their address.
import { lookup as dnsLookup, type LookupOneOptions } from "node:dns";
import { isIPv4 } from "node:net";
import type { Address } from "./socket-types.js";

export const LOOPBACK = "127.0.0.1";

/** A peer named by its IPv4 address ("host:port"): a foreign SIP element, reached there. */
export function foreignAddress(name: string): Address | undefined {
  const colon = name.lastIndexOf(":");
  if (colon < 0) return undefined;
  const host = name.slice(0, colon);
  const port = Number(name.slice(colon + 1));
  return isIPv4(host) && Number.isInteger(port) && port > 0 && port < 65536 ? { host, port } : undefined;
}

export function isLoopback(address: string): boolean {
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(address);
}

/** dgram resolves the destination of every send; an IPv4 literal needs no dns.lookup round trip. */
export function literalLookup(host: string, options: LookupOneOptions, callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void): void {
  if (isIPv4(host)) callback(null, host, 4);
  else dnsLookup(host, options, callback);
}

/** Where a bound socket or server listens (address() is a system call: read once after binding). */
export function boundAddress(server: { address(): unknown } | undefined): Address | undefined {
  const a = server?.address() as { address: string; port: number } | null | undefined;
  return a && typeof a === "object" ? { host: a.address, port: a.port } : undefined;
}
