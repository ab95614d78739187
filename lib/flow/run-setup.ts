// What every driver's run starts with: the topology, the event bus feeding the outcome tracker, and the
// record sink (kept for the result and passed on to the caller's onRecord).
import type { MessageRecord } from "../drivers/message-record.js";
import type { CalleeBehaviour } from "../roles/user-agent.js";
import { CallEventBus } from "./call-events.js";
import { OutcomeTracker } from "./call-outcomes.js";
import type { FlowPki } from "./flow-pki.js";
import type { RunOptions } from "./run-types.js";
import { buildTopology, resolveTopology, type TopologyAdapters } from "./topology.js";

/** RunOptions' adapters as the topology takes them: `policy` for both sides or per side. */
export function adaptersOf(opts: Pick<RunOptions, "policy" | "clearinghouse" | "cdrStore">): TopologyAdapters {
  const adapters: TopologyAdapters = {};
  const policy = opts.policy;
  if (policy !== undefined) {
    if ("decideAaa" in policy) adapters.policy = { originating: policy, terminating: policy };
    else adapters.policy = policy;
  }
  if (opts.clearinghouse !== undefined) adapters.clearinghouse = opts.clearinghouse;
  if (opts.cdrStore !== undefined) adapters.cdrStore = opts.cdrStore;
  return adapters;
}

export function prepareRun(
  opts: RunOptions & { keepRecords?: boolean; keepUsage?: boolean; callee?: (callId: string) => CalleeBehaviour; pki?: FlowPki },
) {
  const topology = resolveTopology(opts.topology);
  const topo = buildTopology(topology, opts.calls, opts.faults, {
    ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
    ...(opts.callee ? { callee: opts.callee } : {}),
    ...(opts.pki ? { pki: opts.pki } : {}),
    adapters: { ...adaptersOf(opts), ...(opts.callerChallenge ? { callerChallenge: opts.callerChallenge } : {}) },
  });
  const bus = opts.events ?? new CallEventBus();
  const tracker = new OutcomeTracker(topo.callIds, opts.calls, opts.keepUsage ?? true);
  bus.on("*", (e) => tracker.onEvent(e));
  const records: MessageRecord[] = [];
  const keep = opts.keepRecords ?? true;
  const onRecord = (r: MessageRecord): void => {
    if (keep) records.push(r);
    opts.onRecord?.(r);
  };
  return { topology, topo, bus, tracker, records, onRecord };
}
