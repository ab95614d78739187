// runCalls on the in-memory driver: one virtual clock, deterministic, an hour-long call in milliseconds.
import { FaultPlan, type DownWindow, type MessageFault } from "../drivers/fault-plan.js";
import { MemoryNetwork } from "../drivers/memory-network.js";
import type { MessageRecord, Protocol } from "../drivers/message-record.js";
import type { CallEvent } from "./call-events.js";
import { collectCdrs, horizonOf, leftovers } from "./call-outcomes.js";
import type { FaultSpec, RunOptions, RunResult } from "./run-types.js";
import { VirtualClockNode } from "./run-clock.js";
import { prepareRun } from "./run-setup.js";
import { withSipNodeTransports } from "./topology.js";
import { PROTOCOL_PORTS, ROLE_TABLE, isRole, roleRow } from "./role-table.js";

export function faultPlanOf(faults: FaultSpec[] = []): FaultPlan {
  const messages: MessageFault[] = [];
  const down: DownWindow[] = [];
  for (const f of faults) {
    if (f.kind === "down") down.push({ role: f.role, fromMs: f.fromMs, toMs: f.toMs });
    else if (f.kind !== "deny") messages.push({ ...f });
  }
  return new FaultPlan(messages, down);
}

/** A node's last address octet in the records (99 for a node outside the nine roles). */
function octetOf(name: string): number | undefined {
  return isRole(name) ? ROLE_TABLE[name].memoryOctet : undefined;
}

/** Synthetic loopback addresses so a capture of an in-memory run reads like one of the network driver. */
export function syntheticTransport(sipKind: "udp" | "tcp") {
  // Nine roles, a handful of links: each (proto, from, to) gets its addresses once, shared by its records.
  const memo = new Map<string, MessageRecord["transport"]>();
  return (proto: Protocol, from: string, to: string): MessageRecord["transport"] => {
    const key = `${proto} ${from} ${to}`;
    let t = memo.get(key);
    if (t === undefined) {
      t = addressesOf(sipKind, proto, from, to);
      memo.set(key, t);
    }
    return t;
  };
}

function addressesOf(sipKind: "udp" | "tcp", proto: Protocol, from: string, to: string): MessageRecord["transport"] {
  const src = `127.0.1.${octetOf(from) ?? 99}`;
  const dst = `127.0.1.${octetOf(to) ?? 99}`;
  const port = PROTOCOL_PORTS[proto];
  if (proto === "SIP") return { kind: sipKind, src, srcPort: port, dst, dstPort: port };
  // COPS: the PEP (proxy, router) connects to the PDP's 3288; OSP: the policy server posts to the clearinghouse.
  const serverSide = isRole(to) && roleRow(to).listens === (proto === "COPS" ? "cops" : proto === "OSP" ? "osp" : undefined);
  return serverSide
    ? { kind: proto === "OSP" ? "http" : "tcp", src, srcPort: 40_000 + (octetOf(from) ?? 0), dst, dstPort: port }
    : { kind: proto === "OSP" ? "http" : "tcp", src, srcPort: port, dst, dstPort: 40_000 + (octetOf(to) ?? 0) };
}

export async function runOnMemory(opts: RunOptions & { keepRecords?: boolean }): Promise<RunResult> {
  const { topology, topo, bus, tracker, records, onRecord } = prepareRun(opts);
  const net = new MemoryNetwork<CallEvent>({
    faults: faultPlanOf(opts.faults),
    onRecord,
    onEmit: (_node, e) => bus.publish(e),
    // In memory, SIP over TLS is recorded as the stream it carries.
    transportOf: syntheticTransport(topology.sipTransport === "tls" ? "tcp" : (topology.sipTransport ?? "udp")),
    sipTransport: topology.sipTransport ?? "udp",
    ...withSipNodeTransports(topology),
  });
  for (const n of topo.nodes) net.add(n);
  for (const n of opts.services ?? []) net.add(n);
  // A decision that settles after its event comes back as an event at the virtual time it settled.
  for (const pol of [topo.pol1, topo.pol2]) pol.deliverDecisionsWith((actions) => net.perform(pol.name, actions));
  if (opts.clock) {
    const clockNode = new VirtualClockNode<CallEvent>(net);
    net.add(clockNode);
    opts.clock.bind(clockNode.binding());
  }
  try {
    return await runTopology(opts, net, { topo, tracker, records });
  } finally {
    opts.clock?.bind(undefined);
  }
}

async function runTopology(
  opts: RunOptions,
  net: MemoryNetwork<CallEvent>,
  { topo, tracker, records }: Pick<ReturnType<typeof prepareRun>, "topo" | "tracker" | "records">,
): Promise<RunResult> {
  net.start();
  const horizon = horizonOf(opts.calls);
  // A slice must end with the clock at its end, or the loops below would ask for the same slice forever.
  const slice = async (ms: number): Promise<void> => {
    const until = net.now + ms;
    await net.run({ untilMs: until });
    if (net.now < until) throw new Error(`memory driver: a run slice to ${until} ms stopped at ${net.now} ms`);
  };
  // Run in slices until every call has ended, then let transactions, DRQs and usage reports settle.
  while (!tracker.allEnded && net.now < horizon) await slice(10_000);
  await slice(60_000);
  // Usage owed to an unreachable clearinghouse is retried until it answers (reconciled later).
  while (topo.pol1.usageBacklog + topo.pol2.usageBacklog > 0 && net.now < horizon * 2) await slice(10_000);
  return {
    records,
    calls: tracker.outcomes(),
    cdrs: await collectCdrs(topo, tracker),
    leftovers: leftovers(topo),
  };
}
