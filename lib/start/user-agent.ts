// A SIP user agent (FIG. 5 UAC or UAS) on real sockets: it places the calls it is given through its outbound
// proxy, or answers the INVITEs it receives as its behaviour says.
import type { CalleeBehaviour, PlannedCall } from "../roles/user-agent.js";
import { UserAgent } from "../roles/user-agent.js";
import type { SipRequest, SipResponse } from "../../protocols/sip/index.js";
import { answerDigestChallenge, type CallerCredentials } from "../auth/digest-client.js";
import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import { createServer } from "node:net";
import { hostPortOf, sipListenerEntry, startDeployedRole, startRoleOnSockets, viaTransportOf, type DeployedRoleStartOptions, type HostPort, type RoleHandle, type RoleSocketOptions, type SipTransportChoice } from "./role-sockets.js";

export interface UserAgentStartOptions extends RoleSocketOptions {
  /** The agent's node name (default "UA"). */
  name?: string;
  /** Where it takes SIP (default 127.0.0.1, a port the system picks). */
  listen?: string | HostPort;
  /**
   * How it speaks SIP with its proxy (default "udp"): "tcp", or "tls" (needs `tls` with `sip: true` and its
   * certificate under `name`; the proxy's must name `proxyName`). Over a stream, one connection to the proxy
   * carries both directions: a connection from the proxy's host is the proxy.
   */
  transport?: SipTransportChoice;
  /** Its outbound proxy: every request goes there. */
  proxy: string | HostPort;
  /** The proxy's node name in records and events (default "proxy"). */
  proxyName?: string;
  /** The sent-by of its Via and the host of its Contact (default: its listen address, "127.0.0.1:port", RFC 3261 §18.2.2). */
  host?: string;
  /** The address in its SDP (default: the listen host). */
  mediaAddress?: string;
  /** Calls to place, from the moment it starts (startMs counts from then). */
  calls?: PlannedCall[];
  /** How it answers an INVITE (default: 486 Busy Here to every one). */
  behaviour?: (callId: string, invite: SipRequest) => CalleeBehaviour;
  /** The caller's Digest account: a 401/407 to its INVITE is answered with credentials (RFC 3261 §22.2). */
  credentials?: CallerCredentials;
}

/** Starts a user agent on SIP over UDP, TCP or TLS (or a deployment's, given `deployed`). */
export async function startUserAgent(options: UserAgentStartOptions | DeployedRoleStartOptions<UserAgent>): Promise<RoleHandle<UserAgent>> {
  if ("deployed" in options) return startDeployedRole(options, { sip: true }, userAgentGauges(options.deployed.node));
  const name = options.name ?? "UA";
  const transport = options.transport ?? "udp";
  const asked = hostPortOf(options.listen ?? { host: "127.0.0.1", port: 0 }, "listen");
  // Responses come to the Via's sent-by (RFC 3261 §18.2.2): its port is known before the agent is built.
  const listen = options.host === undefined && asked.port === 0 ? { host: asked.host, port: await freePort(asked.host, transport) } : asked;
  const proxy = hostPortOf(options.proxy, "proxy");
  const proxyName = options.proxyName ?? "proxy";
  const host = options.host ?? `${listen.host.includes(":") ? `[${listen.host}]` : listen.host}:${listen.port}`;
  const credentials = options.credentials;
  const now = Date.now(); // the socket driver runs on the wall clock: planned calls start from now on it
  const agent = new UserAgent({
    name,
    proxy: proxyName,
    host,
    mediaAddress: options.mediaAddress ?? listen.host,
    transport: viaTransportOf(transport),
    ...(options.calls ? { calls: options.calls.map((c) => ({ ...c, startMs: now + c.startMs })) } : {}),
    behaviour: options.behaviour ?? (() => ({ outcome: "busy", answerDelayMs: 0, durationMs: 0, hangsUp: false })),
    ...(credentials ? { authenticate: (_callId: string, challenge: SipResponse, invite: SipRequest) => answerDigestChallenge(challenge, invite, credentials, () => randomBytes(12).toString("hex")) } : {}),
  });
  return startRoleOnSockets(agent, { sip: true }, {
    directory: { [name]: sipListenerEntry(listen, transport), [proxyName]: sipListenerEntry(proxy, transport) },
    topology: { sipTransport: transport },
    // A stream from the proxy's host is the proxy's (its Via names its host, not its listener); any other is
    // named by its address and answered on it (RFC 3261 §18.2.2).
    ...(transport === "udp" ? {} : { identifyTcpPeer: (proto, _acceptor, _first, source) => (proto === "SIP" && sameHost(source.address, proxy.host) ? proxyName : undefined) }),
    ...userAgentGauges(agent),
  }, options);
}

/** An agent's calls and transactions, as gauges. */
function userAgentGauges(agent: UserAgent): { queues: () => Record<string, number> } {
  const name = agent.name;
  return { queues: () => ({ [`${name} calls`]: agent.activeCalls, [`${name} transactions`]: agent.pendingTransactions }) };
}

/** "::ffff:127.0.0.1" is 127.0.0.1 (an IPv4 peer of a dual-stack listener). */
function sameHost(address: string, host: string): boolean {
  return address.replace(/^::ffff:/, "") === host.replace(/^\[|\]$/g, "");
}

/** A port free on `host` now for the transport's listener (bound, read, released). */
async function freePort(host: string, transport: SipTransportChoice): Promise<number> {
  if (transport !== "udp") {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, host, resolve);
    });
    const { port } = server.address() as { port: number };
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return port;
  }
  const socket = createSocket(host.includes(":") ? "udp6" : "udp4");
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(0, host, resolve);
  });
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}
