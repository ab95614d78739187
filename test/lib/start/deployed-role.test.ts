// A start function given `deployed` runs the node its deployment built (as `callgate serve` starts every role):
// that very node at the deployment's addresses, with its peers named as the deployment names them, its gauges on
// the handle, the deployment's release run once on close, and run too when the listener cannot bind.
import { afterEach, describe, expect, it } from "vitest";
import { NoClearinghouse } from "../../../lib/adapters/clearinghouse-adapter.js";
import { DefaultPolicyAdapter } from "../../../lib/adapters/policy-adapter.js";
import { EdgeRouter } from "../../../lib/roles/edge-router.js";
import { PolicyServer } from "../../../lib/roles/policy-server.js";
import { judgeCopsOpen, openOrListedAdmission } from "../../../lib/start/cops-admission.js";
import { startEdgeRouter, startPolicyServer, type RoleHandle } from "../../../lib/start/index.js";
import type { DeployedRole } from "../../../lib/start/index.js";

const handles: RoleHandle[] = [];
afterEach(async () => {
  for (const h of handles.splice(0)) await h.close();
});

async function until(what: string, done: () => boolean, ms = 10_000): Promise<void> {
  for (const end = Date.now() + ms; !done(); ) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const policyServer = (): PolicyServer =>
  new PolicyServer({ name: "POL-A", side: "originating", router: "edge-a", policy: new DefaultPolicyAdapter(), clearinghouse: new NoClearinghouse() });

/** COPS peers named by the PEPID of an OPN (any PEPID admitted). */
const byPepId: NonNullable<DeployedRole<PolicyServer>["identifyTcpPeer"]> = (proto, _acceptor, first, source) => {
  if (proto !== "COPS") return undefined;
  const judged = judgeCopsOpen(first, openOrListedAdmission(undefined, source));
  return "pepId" in judged ? judged.pepId : judged;
};

describe("a start function given a deployed node", () => {
  it("runs that node at the deployment's addresses: a deployed router opens its configuration state at a deployed policy server; release runs once on close", async () => {
    const released: string[] = [];
    const server = policyServer();
    const pdp = await startPolicyServer({
      deployed: { node: server, directory: { "POL-A": { host: "127.0.0.1", cops: 0 } }, identifyTcpPeer: byPepId, release: () => Promise.resolve(void released.push("POL-A")) },
    });
    handles.push(pdp);
    expect(pdp.node).toBe(server);
    const port = Number(/:(\d+)$/.exec(pdp.addresses.cops ?? "")?.[1]);
    expect(port).toBeGreaterThan(0);

    const edge = new EdgeRouter({ name: "EDGE-A", pdp: "POL-A", pepId: "edge-a" });
    const router = await startEdgeRouter({ deployed: { node: edge, directory: { "POL-A": { host: "127.0.0.1", cops: port } } } });
    handles.push(router);
    expect(router.node).toBe(edge);
    // COPS-PR: the router's configuration request state, held on both sides (RFC 3084 §4.1).
    await until("the router's configuration state open", () => edge.copsRequestStates === 1);
    expect(router.gauges.requestStates()).toEqual({ "EDGE-A": edge.copsRequestStates });
    expect(Object.values(pdp.gauges.connections()).reduce((a, b) => a + b, 0)).toBe(1);

    await router.close();
    await pdp.close();
    await pdp.close();
    expect(released).toEqual(["POL-A"]);
  });

  it("a deployed node whose listener cannot bind is refused naming the address, and its deployment's release runs", async () => {
    const first = await startPolicyServer({ deployed: { node: policyServer(), directory: { "POL-A": { host: "127.0.0.1", cops: 0 } }, identifyTcpPeer: byPepId } });
    handles.push(first);
    const port = Number(/:(\d+)$/.exec(first.addresses.cops ?? "")?.[1]);
    let released = 0;
    await expect(
      startPolicyServer({
        deployed: { node: policyServer(), directory: { "POL-A": { host: "127.0.0.1", cops: port } }, identifyTcpPeer: byPepId, release: () => Promise.resolve(void released++) },
      }),
    ).rejects.toThrow(`POL-A cannot listen on 127.0.0.1:${port}: EADDRINUSE`);
    expect(released).toBe(1);
  });
});
