// A SIP user agent (FIG. 5 UAC or UAS) on real sockets: it places the calls it is given through its outbound
// proxy, or answers the INVITEs it receives as its behaviour says.
import type { CalleeBehaviour, PlannedCall } from "../roles/user-agent.js";
import { UserAgent } from "../roles/user-agent.js";
import type { SipRequest } from "../../protocols/sip/index.js";
import { hostPortOf, startRoleOnSockets, type HostPort, type RoleHandle, type RoleSocketOptions } from "./role-sockets.js";

export interface UserAgentStartOptions extends RoleSocketOptions {
  /** The agent's node name (default "UA"). */
  name?: string;
  /** Where it takes SIP over UDP (default 127.0.0.1, a port the system picks). */
  listen?: string | HostPort;
  /** Its outbound proxy: every request goes there, and only its datagrams are taken. */
  proxy: string | HostPort;
  /** The host in its Via and Contact, and its SDP's media address (default: the listen host). */
  host?: string;
  mediaAddress?: string;
  /** Calls to place, from the moment it starts (startMs counts from then). */
  calls?: PlannedCall[];
  /** How it answers an INVITE (default: 486 Busy Here to every one). */
  behaviour?: (callId: string, invite: SipRequest) => CalleeBehaviour;
}

/** Starts a user agent on SIP over UDP. */
export async function startUserAgent(options: UserAgentStartOptions): Promise<RoleHandle<UserAgent>> {
  const name = options.name ?? "UA";
  const listen = hostPortOf(options.listen ?? { host: "127.0.0.1", port: 0 }, "listen");
  const proxy = hostPortOf(options.proxy, "proxy");
  const proxyName = `${name}-proxy`;
  const host = options.host ?? listen.host;
  const now = Date.now(); // the socket driver runs on the wall clock: planned calls start from now on it
  const agent = new UserAgent({
    name,
    proxy: proxyName,
    host,
    mediaAddress: options.mediaAddress ?? host,
    transport: "UDP",
    ...(options.calls ? { calls: options.calls.map((c) => ({ ...c, startMs: now + c.startMs })) } : {}),
    behaviour: options.behaviour ?? (() => ({ outcome: "busy", answerDelayMs: 0, durationMs: 0, hangsUp: false })),
  });
  return startRoleOnSockets(agent, { sip: true }, {
    directory: { [name]: { host: listen.host, sipUdp: listen.port }, [proxyName]: { host: proxy.host, sipUdp: proxy.port } },
    queues: () => ({ [`${name} calls`]: agent.activeCalls, [`${name} transactions`]: agent.pendingTransactions }),
  }, options);
}
