// A SIP proxy that is the COPS PEP of its policy server (FIG. 5 SIP1/SIP2) on real sockets: in front of a
// softswitch or a callee, it takes INVITEs from callers on the network, asks REQ AAA and LDP of its policy server
// and forwards the calls to its next hop (RFC 3261 §16 for the proxying).
import type { CopsIntegrityConfig } from "../../protocols/cops/index.js";
import type { NodeAddresses } from "../drivers/socket-network.js";
import { SipProxy } from "../roles/sip-proxy.js";
import { hostPortOf, startRoleOnSockets, type HostPort, type RoleHandle, type RoleSocketOptions } from "./role-sockets.js";

export interface SipProxyStartOptions extends RoleSocketOptions {
  /** The proxy's node name (default "proxy"). */
  name?: string;
  /** Its host name: its Via and Record-Route, and the PEPID of its OPN (default "proxy.invalid"). */
  host?: string;
  /** Where it takes SIP over UDP (default 127.0.0.1, a port the system picks). */
  listen?: string | HostPort;
  /** Where its policy server serves COPS. */
  pdp: string | HostPort;
  /** The policy server's node name: in records, and what its TLS certificate must name (default "PDP"). */
  pdpName?: string;
  /** Where every new INVITE goes (the softswitch, the callee): SIP over UDP. */
  nextHop: string | HostPort;
  /** The next hop's node name in records and events (default "next-hop"). */
  nextHopName?: string;
  /** Callers known by their SIP/UDP address, by the name records give them; requests from other loopback sources are taken too. */
  callers?: Record<string, string | HostPort>;
  /** Its Integrity keys, when the policy server has some for it (RFC 2748 §2.2.16). */
  integrity?: CopsIntegrityConfig;
  /** What it decides alone while its policy server is unreachable (RFC 2748 §2.5; default fail-closed). */
  localDecision?: "fail-open" | "fail-closed";
  /** RFC 3261 §16.6 step 11 Timer C (default 180 s). */
  timerCMs?: number;
}

/**
 * Starts a SIP proxy on SIP over UDP. Its next hop and its known callers are known by their addresses; requests
 * from any other loopback source are callers too, answered at their source.
 */
export async function startSipProxy(options: SipProxyStartOptions): Promise<RoleHandle<SipProxy>> {
  const name = options.name ?? "proxy";
  const listen = hostPortOf(options.listen ?? { host: "127.0.0.1", port: 0 }, "listen");
  const pdp = hostPortOf(options.pdp, "pdp");
  const next = hostPortOf(options.nextHop, "nextHop");
  const pdpName = options.pdpName ?? "PDP";
  const nextName = options.nextHopName ?? "next-hop";
  const proxy = new SipProxy({
    name,
    host: options.host ?? "proxy.invalid",
    pdp: pdpName,
    nextHop: () => nextName,
    transport: "UDP",
    ...(options.localDecision ? { localDecision: options.localDecision } : {}),
    ...(options.timerCMs !== undefined ? { timerCMs: options.timerCMs } : {}),
  });
  if (options.integrity) proxy.useCopsIntegrity(options.integrity);
  const directory: Record<string, NodeAddresses> = {
    [name]: { host: listen.host, sipUdp: listen.port },
    [pdpName]: { host: pdp.host, cops: pdp.port },
    [nextName]: { host: next.host, sipUdp: next.port },
  };
  for (const [caller, at] of Object.entries(options.callers ?? {})) {
    const a = hostPortOf(at, `callers.${caller}`);
    directory[caller] = { host: a.host, sipUdp: a.port };
  }
  return startRoleOnSockets(proxy, { sip: true }, {
    directory,
    externalSipPeer: { acceptor: name, as: "caller" },
    requestStates: () => ({ [name]: proxy.copsRequestStates }),
    queues: () => ({ [`${name} calls`]: proxy.activeCalls, [`${name} transactions`]: proxy.pendingTransactions }),
  }, options);
}
