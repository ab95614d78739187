// A policy server (COPS PDP, FIG. 5 POL1/POL2) on real sockets for the PEPs of the network: SIP proxies of the SIP
// AAA client type (0x8cb1) and one DiffServ edge router (COPS-PR, RFC 3084), each known by the PEPID of its OPN.
import type { CopsPepCredentials } from "../../protocols/cops/index.js";
import { NoClearinghouse, type ClearinghouseAdapter } from "../adapters/clearinghouse-adapter.js";
import { DefaultPolicyAdapter, type CallSide, type PolicyAdapter } from "../adapters/policy-adapter.js";
import type { NodeAddresses } from "../drivers/socket-network.js";
import { PolicyServer } from "../roles/policy-server.js";
import { judgeCopsOpen, openOrListedAdmission } from "./cops-admission.js";
import { hostPortOf, startDeployedRole, startRoleOnSockets, type DeployedRoleStartOptions, type HostPort, type RoleHandle, type RoleSocketOptions } from "./role-sockets.js";

export interface PolicyServerStartOptions extends RoleSocketOptions {
  /** The server's node name: its records, events and TLS certificate (default "PDP"). */
  name?: string;
  /** Which side of the call its PEPs are on (default "originating"). */
  side?: CallSide;
  /** Where COPS is served (default 127.0.0.1, a port the system picks). */
  listen?: string | HostPort;
  /** Decides AAA and the DiffServ class (default: DefaultPolicyAdapter). May answer later (a promise, a wire exchange). */
  policy?: PolicyAdapter;
  /** How calls are authorised and usage reported (default: NoClearinghouse, all local). */
  clearinghouse?: ClearinghouseAdapter;
  /** Where the clearinghouse adapter's peer (`clearinghouse.peer`) serves OSP: host and port of its HTTP listener. */
  clearinghouseAt?: string | HostPort;
  /** PEPID of the edge router this server provisions (DEC Install/Remove); LDP requests wait for it (default "router"). */
  router?: string;
  /** The PEPs admitted, with their source addresses and Integrity keys; when absent, any PEPID is admitted. */
  peps?: CopsPepCredentials[];
  /** Request states one PEP connection may open (RFC 2748 §2.2.8 Error 4 beyond). */
  maxRequestStates?: number;
  /** REQs one PEP connection may leave waiting for a DEC. */
  maxPendingRequests?: number;
  /** How long a policy decision may take before the call is refused with 503 (default 3000 ms). */
  policyTimeoutMs?: number;
  /** How long the clearinghouse may take before it counts as unreachable (default 3000 ms). */
  clearinghouseTimeoutMs?: number;
  clearinghouseUnreachable?: "fail-closed" | "fail-open";
  /** Interval between retries of an unconfirmed usage report (default 5000 ms). */
  usageRetryMs?: number;
  /** COPS keep-alive timer offered to PEPs (RFC 2748 §2.2.10, default 30 s). */
  kaTimerSeconds?: number;
}

/** Starts a policy server (or a deployment's, given `deployed`); PEPs connect to `handle.addresses.cops`. */
export async function startPolicyServer(options: PolicyServerStartOptions | DeployedRoleStartOptions<PolicyServer> = {}): Promise<RoleHandle<PolicyServer>> {
  if ("deployed" in options) return startDeployedRole(options, { copsServer: true }, policyServerGauges(options.deployed.node));
  const name = options.name ?? "PDP";
  const listen = hostPortOf(options.listen ?? { host: "127.0.0.1", port: 0 }, "listen");
  const clearinghouse: ClearinghouseAdapter = options.clearinghouse ?? new NoClearinghouse();
  const server = new PolicyServer({
    name,
    side: options.side ?? "originating",
    router: options.router ?? "router",
    policy: options.policy ?? new DefaultPolicyAdapter(),
    clearinghouse,
    ...(options.clearinghouseUnreachable ? { clearinghouseUnreachable: options.clearinghouseUnreachable } : {}),
    ...(options.clearinghouseTimeoutMs !== undefined ? { clearinghouseTimeoutMs: options.clearinghouseTimeoutMs } : {}),
    ...(options.usageRetryMs !== undefined ? { usageRetryMs: options.usageRetryMs } : {}),
    ...(options.policyTimeoutMs !== undefined ? { policyTimeoutMs: options.policyTimeoutMs } : {}),
    ...(options.kaTimerSeconds !== undefined ? { kaTimerSeconds: options.kaTimerSeconds } : {}),
  });
  // The machine of every accepted connection holds the admitted PEPs' keys and the bounds.
  const keys = new Map((options.peps ?? []).map((p) => [p.pepId, p.integrity]));
  server.configureCops({
    integrityFor: (pepId) => keys.get(pepId),
    ...(options.maxRequestStates !== undefined ? { maxRequestStates: options.maxRequestStates } : {}),
    ...(options.maxPendingRequests !== undefined ? { maxPendingRequests: options.maxPendingRequests } : {}),
  });
  const directory: Record<string, NodeAddresses> = { [name]: { host: listen.host, cops: listen.port } };
  if (options.clearinghouseAt !== undefined) {
    const at = hostPortOf(options.clearinghouseAt, "clearinghouseAt");
    directory[clearinghouse.peer ?? "CH"] = { host: at.host, osp: at.port };
  }
  return startRoleOnSockets(server, { copsServer: true }, {
    directory,
    // A PEP is named by the PEPID its PDP machine admitted; anything else gets that machine's CC.
    identifyTcpPeer: (proto, _acceptor, first, source) => {
      if (proto !== "COPS") return undefined;
      const judged = judgeCopsOpen(first, openOrListedAdmission(options.peps, source));
      return "pepId" in judged ? judged.pepId : judged;
    },
    ...policyServerGauges(server),
  }, options);
}

/** A policy server's request states and queues, as gauges. */
function policyServerGauges(server: PolicyServer): { requestStates: () => Record<string, number>; queues: () => Record<string, number> } {
  const name = server.name;
  return {
    requestStates: () => ({ [name]: server.copsRequestStates }),
    queues: () => ({ [`${name} usage backlog`]: server.usageBacklog, [`${name} pending decisions`]: server.pendingDecisions }),
  };
}
