// A SIP proxy that is the COPS PEP of its policy server (FIG. 5 SIP1/SIP2) on real sockets: in front of a
// softswitch or a callee, it takes INVITEs from callers on the network, asks REQ AAA and LDP of its policy server
// and forwards the calls to its next hop (RFC 3261 §16 for the proxying).
import type { CopsIntegrityConfig } from "../../protocols/cops/index.js";
import type { NodeAddresses } from "../drivers/socket-network.js";
import { SipProxy } from "../roles/sip-proxy.js";
import { hostPortOf, sipListenerEntry, startDeployedRole, startRoleOnSockets, viaTransportOf, type DeployedRoleStartOptions, type HostPort, type RoleHandle, type RoleSocketOptions, type SipTransportChoice } from "./role-sockets.js";

export interface SipProxyStartOptions extends RoleSocketOptions {
  /** The proxy's node name (default "proxy"). */
  name?: string;
  /** Its host name: its Via and Record-Route, and the PEPID of its OPN (default "proxy.invalid"). */
  host?: string;
  /** Where it takes SIP (default 127.0.0.1, a port the system picks). */
  listen?: string | HostPort;
  /**
   * How it speaks SIP with callers and its next hop (default "udp"): "tcp", or "tls" (needs `tls` with `sip: true`
   * and its certificate under `name`; the next hop's must name `nextHopName`). Over UDP it takes callers over TCP
   * on the same port too (RFC 3261 §18).
   */
  transport?: SipTransportChoice;
  /** Where its policy server serves COPS. */
  pdp: string | HostPort;
  /** The policy server's node name: in records, and what its TLS certificate must name (default "PDP"). */
  pdpName?: string;
  /** Where every new INVITE goes (the softswitch, the callee), over `transport`. */
  nextHop: string | HostPort;
  /** The next hop's node name in records and events (default "next-hop"). */
  nextHopName?: string;
  /**
   * Callers known by their SIP address (over a stream: their Via's sent-by), by the name records give them.
   * Requests from others are taken too: over UDP from loopback sources (named "caller"), over a stream from any
   * connection (named by its address, answered on it, RFC 3261 §18.2.2).
   */
  callers?: Record<string, string | HostPort>;
  /** Its Integrity keys, when the policy server has some for it (RFC 2748 §2.2.16). */
  integrity?: CopsIntegrityConfig;
  /** What it decides alone while its policy server is unreachable (RFC 2748 §2.5; default fail-closed). */
  localDecision?: "fail-open" | "fail-closed";
  /** RFC 3261 §16.6 step 11 Timer C (default 180 s). */
  timerCMs?: number;
}

/**
 * Starts a SIP proxy on SIP over UDP, TCP or TLS. Its next hop and its known callers are known by their addresses;
 * requests from other sources are callers too, answered at their source or on their connection. Given `deployed`,
 * it runs that proxy at its deployment's addresses.
 */
export async function startSipProxy(options: SipProxyStartOptions | DeployedRoleStartOptions<SipProxy>): Promise<RoleHandle<SipProxy>> {
  if ("deployed" in options) return startDeployedRole(options, { sip: true }, sipProxyGauges(options.deployed.node));
  const name = options.name ?? "proxy";
  const listen = hostPortOf(options.listen ?? { host: "127.0.0.1", port: 0 }, "listen");
  const pdp = hostPortOf(options.pdp, "pdp");
  const next = hostPortOf(options.nextHop, "nextHop");
  const pdpName = options.pdpName ?? "PDP";
  const nextName = options.nextHopName ?? "next-hop";
  const transport = options.transport ?? "udp";
  const proxy = new SipProxy({
    name,
    host: options.host ?? "proxy.invalid",
    pdp: pdpName,
    nextHop: () => nextName,
    transport: viaTransportOf(transport),
    ...(options.localDecision ? { localDecision: options.localDecision } : {}),
    ...(options.timerCMs !== undefined ? { timerCMs: options.timerCMs } : {}),
  });
  if (options.integrity) proxy.useCopsIntegrity(options.integrity);
  const directory: Record<string, NodeAddresses> = {
    [name]: sipListenerEntry(listen, transport),
    [pdpName]: { host: pdp.host, cops: pdp.port },
    [nextName]: sipListenerEntry(next, transport),
  };
  for (const [caller, at] of Object.entries(options.callers ?? {})) {
    directory[caller] = sipListenerEntry(hostPortOf(at, `callers.${caller}`), transport);
  }
  return startRoleOnSockets(proxy, { sip: true }, {
    directory,
    topology: { sipTransport: transport },
    // Over UDP an outside caller is "caller" (and may call over TCP on the UDP port). Over a stream a connection
    // is named by the sent-by of its first request's Via when that is a known peer's listener, else by its
    // address (RFC 3261 §18.2.1, §18.2.2): each caller's connection is a peer of its own.
    ...(transport === "udp" ? { externalSipPeer: { acceptor: name, as: "caller" } } : { identifyTcpPeer: () => undefined }),
    ...sipProxyGauges(proxy),
  }, options);
}

/** A proxy's request states, calls and transactions, as gauges. */
function sipProxyGauges(proxy: SipProxy): { requestStates: () => Record<string, number>; queues: () => Record<string, number> } {
  const name = proxy.name;
  return {
    requestStates: () => ({ [name]: proxy.copsRequestStates }),
    queues: () => ({ [`${name} calls`]: proxy.activeCalls, [`${name} transactions`]: proxy.pendingTransactions }),
  };
}
