// A DiffServ edge router (FIG. 5 R1/R2, a COPS-PR PEP of RFC 3084) on real sockets: it connects to its policy
// server, opens its configuration state and installs or removes the classifiers the server decides.
import type { CopsIntegrityConfig } from "../../protocols/cops/index.js";
import { EdgeRouter } from "../roles/edge-router.js";
import { hostPortOf, startDeployedRole, startRoleOnSockets, type DeployedRoleStartOptions, type HostPort, type RoleHandle, type RoleSocketOptions } from "./role-sockets.js";

export interface EdgeRouterStartOptions extends RoleSocketOptions {
  /** The router's node name (default "router"). */
  name?: string;
  /** The PEPID of its OPN (default: the name in lower case); the policy server's `router` names it. */
  pepId?: string;
  /** Where its policy server serves COPS. */
  pdp: string | HostPort;
  /** The policy server's node name: in records, and what its TLS certificate must name (default "PDP"). */
  pdpName?: string;
  /** Its Integrity keys, when the policy server has some for it (RFC 2748 §2.2.16). */
  integrity?: CopsIntegrityConfig;
  /** Classifiers it can hold (RFC 3084 capability). */
  maxFlows?: number;
  /** Refuse every installation (a router out of resources): RPT Failure. */
  failInstall?: boolean;
}

/** Starts an edge router (or a deployment's, given `deployed`); it connects out only (no listener). */
export async function startEdgeRouter(options: EdgeRouterStartOptions | DeployedRoleStartOptions<EdgeRouter>): Promise<RoleHandle<EdgeRouter>> {
  if ("deployed" in options) return startDeployedRole(options, {}, edgeRouterGauges(options.deployed.node));
  const name = options.name ?? "router";
  const pdp = hostPortOf(options.pdp, "pdp");
  const pdpName = options.pdpName ?? "PDP";
  const router = new EdgeRouter({
    name,
    pdp: pdpName,
    ...(options.pepId !== undefined ? { pepId: options.pepId } : {}),
    ...(options.maxFlows !== undefined ? { maxFlows: options.maxFlows } : {}),
    ...(options.failInstall ? { failInstall: true } : {}),
  });
  if (options.integrity) router.useCopsIntegrity(options.integrity);
  return startRoleOnSockets(router, {}, {
    directory: { [pdpName]: { host: pdp.host, cops: pdp.port } },
    ...edgeRouterGauges(router),
  }, options);
}

/** A router's request states and classifiers, as gauges. */
function edgeRouterGauges(router: EdgeRouter): { requestStates: () => Record<string, number>; queues: () => Record<string, number> } {
  const name = router.name;
  return {
    requestStates: () => ({ [name]: router.copsRequestStates }),
    queues: () => ({ [`${name} classifiers`]: router.classifiers.size }),
  };
}
