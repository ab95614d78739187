// A SIP user agent (FIG. 5 UAC or UAS) on real sockets: it places the calls it is given through its outbound
// proxy, or answers the INVITEs it receives as its behaviour says.
import type { CalleeBehaviour, PlannedCall } from "../roles/user-agent.js";
import { UserAgent } from "../roles/user-agent.js";
import type { SipRequest, SipResponse } from "../../protocols/sip/index.js";
import { answerDigestChallenge, type CallerCredentials } from "../auth/digest-client.js";
import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import { hostPortOf, startRoleOnSockets, type HostPort, type RoleHandle, type RoleSocketOptions } from "./role-sockets.js";

export interface UserAgentStartOptions extends RoleSocketOptions {
  /** The agent's node name (default "UA"). */
  name?: string;
  /** Where it takes SIP over UDP (default 127.0.0.1, a port the system picks). */
  listen?: string | HostPort;
  /** Its outbound proxy: every request goes there, and only its datagrams are taken. */
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

/** Starts a user agent on SIP over UDP. */
export async function startUserAgent(options: UserAgentStartOptions): Promise<RoleHandle<UserAgent>> {
  const name = options.name ?? "UA";
  const asked = hostPortOf(options.listen ?? { host: "127.0.0.1", port: 0 }, "listen");
  // Responses come to the Via's sent-by (RFC 3261 §18.2.2): its port is known before the agent is built.
  const listen = options.host === undefined && asked.port === 0 ? { host: asked.host, port: await freeUdpPort(asked.host) } : asked;
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
    transport: "UDP",
    ...(options.calls ? { calls: options.calls.map((c) => ({ ...c, startMs: now + c.startMs })) } : {}),
    behaviour: options.behaviour ?? (() => ({ outcome: "busy", answerDelayMs: 0, durationMs: 0, hangsUp: false })),
    ...(credentials ? { authenticate: (_callId: string, challenge: SipResponse, invite: SipRequest) => answerDigestChallenge(challenge, invite, credentials, () => randomBytes(12).toString("hex")) } : {}),
  });
  return startRoleOnSockets(agent, { sip: true }, {
    directory: { [name]: { host: listen.host, sipUdp: listen.port }, [proxyName]: { host: proxy.host, sipUdp: proxy.port } },
    queues: () => ({ [`${name} calls`]: agent.activeCalls, [`${name} transactions`]: agent.pendingTransactions }),
  }, options);
}

/** A UDP port free on `host` now (bound, read, released). */
async function freeUdpPort(host: string): Promise<number> {
  const socket = createSocket(host.includes(":") ? "udp6" : "udp4");
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(0, host, resolve);
  });
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}
