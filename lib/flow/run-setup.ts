// What every driver's run starts with: the topology, the event bus feeding the outcome tracker, and the
// record sink (kept for the result and passed on to the caller's onRecord).
import type { MessageRecord } from "../drivers/message-record.js";
import type { CalleeBehaviour } from "../roles/user-agent.js";
import { CallEventBus } from "./call-events.js";
import { OutcomeTracker } from "./call-outcomes.js";
import type { FlowPki } from "./flow-pki.js";
import type { RunOptions } from "./run-calls.js";
import { buildTopology, resolveTopology } from "./topology.js";

export function prepareRun(
  opts: RunOptions & { keepRecords?: boolean; keepUsage?: boolean; callee?: (callId: string) => CalleeBehaviour; pki?: FlowPki },
) {
  const topology = resolveTopology(opts.topology);
  const topo = buildTopology(topology, opts.calls, opts.faults, {
    ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
    ...(opts.callee ? { callee: opts.callee } : {}),
    ...(opts.pki ? { pki: opts.pki } : {}),
  });
  const bus = new CallEventBus();
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
