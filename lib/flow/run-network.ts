// runCalls on the loopback socket driver: the same roles as in memory, on real sockets and real time.
import type { FlowNode } from "../drivers/node.js";
import { PolicyServer } from "../roles/policy-server.js";
import { SocketNetwork, type SocketNetworkOptions } from "../drivers/socket-network.js";
import type { SocketTlsOptions } from "../drivers/socket-tls.js";
import type { CallEvent } from "./call-events.js";
import { collectCdrs, horizonOf, leftovers } from "./call-outcomes.js";
import type { RunOptions, RunResult, TopologyOptions } from "./run-types.js";
import { prepareRun } from "./run-setup.js";
import { faultPlanOf } from "./run-memory.js";
import { withSipNodeTransports, type FlowTopology } from "./topology.js";
import { isRole, roleRow } from "./role-table.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The listeners a role binds on the socket driver (role-table.ts: what it listens for). */
export function socketSpecOf(name: string): { sip?: boolean; copsServer?: boolean; ospServer?: boolean } {
  const listens = isRole(name) ? roleRow(name).listens : undefined;
  if (listens === "sip") return { sip: true };
  if (listens === "cops") return { copsServer: true };
  if (listens === "osp") return { ospServer: true };
  return {};
}

function settled(topo: FlowTopology): boolean {
  const l = leftovers(topo);
  return l.classifiers === 0 && l.copsRequestStates === 0 && topo.pol1.usageBacklog + topo.pol2.usageBacklog === 0;
}

/** The socket network of a topology's nodes: all of them (runOnNetwork) or one role per process (`callgate serve`). */
export function flowNetwork(
  topology: Pick<TopologyOptions, "sipTransport" | "clearinghouse" | "userAgentTransports">,
  nodes: readonly FlowNode<CallEvent>[],
  options: Omit<SocketNetworkOptions<CallEvent>, "sipTransport" | "osp" | "sipNodeTransports">,
): SocketNetwork<CallEvent> {
  // SIP over TLS: the roles' stream transport inside TLS, named TLS in their Vias.
  if (options.tls?.sip && topology.sipTransport !== "tls") throw new Error("SIP over TLS needs topology.sipTransport tls (or tcp)");
  if (topology.sipTransport === "tls" && !options.tls?.sip) throw new Error("topology.sipTransport tls needs the driver's tls settings with sip on");
  const net = new SocketNetwork<CallEvent>({
    sipTransport: topology.sipTransport ?? "udp",
    ...withSipNodeTransports(topology),
    osp: topology.clearinghouse === "in-process" ? "in-process" : "http",
    ...options,
  });
  for (const n of nodes) {
    net.add(n, socketSpecOf(n.name));
    // A policy decision that settles after its event comes back as an event (real time).
    if (n instanceof PolicyServer) n.deliverDecisionsWith((actions) => net.perform(n.name, actions));
  }
  return net;
}

export async function runOnNetwork(opts: RunOptions & { keepRecords?: boolean; settleMs?: number; tls?: SocketTlsOptions }): Promise<RunResult> {
  if ((opts.services?.length ?? 0) > 0) throw new Error("RunOptions.services: the memory driver only (the socket driver has no transport to them)");
  const { topology, topo, bus, tracker, records, onRecord } = prepareRun(
    // A stream topology with SIP over TLS: its Vias say TLS. UDP stays a contradiction flowNetwork refuses.
    opts.tls?.sip && opts.topology?.sipTransport === "tcp" ? { ...opts, topology: { ...opts.topology, sipTransport: "tls" } } : opts,
  );
  const errors: string[] = [];
  const net = flowNetwork(topology, topo.nodes, {
    faults: faultPlanOf(opts.faults),
    ...(opts.tls ? { tls: opts.tls } : {}),
    onRecord,
    onEmit: (_node, e) => bus.publish(e),
    onError: (where, err) => errors.push(`${where}: ${String(err)}`),
  });
  await net.start();
  try {
    const deadline = performance.now() + horizonOf(opts.calls);
    while (!tracker.allEnded && performance.now() < deadline) await sleep(10);
    const settleUntil = performance.now() + (opts.settleMs ?? 3000);
    while (!settled(topo) && performance.now() < settleUntil) await sleep(10);
    return {
      records,
      calls: tracker.outcomes(),
      cdrs: await collectCdrs(topo, tracker),
      leftovers: leftovers(topo),
      endpoints: net.addresses(),
    };
  } finally {
    await net.stop();
  }
}
