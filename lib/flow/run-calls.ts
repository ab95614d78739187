// Runs a batch of calls through the FIG. 5 / FIG. 6 topology on a chosen driver and returns the record stream,
// per-call outcomes, CDRs and leftover state.
import type { RunOptions, RunResult } from "./run-types.js";

export type { Role, TopologyOptions, PerSide, CallSpec, FaultSpec, RunOptions, CallOutcome, RunResult } from "./run-types.js";

/** Runs calls through the FIG. 5 / FIG. 6 roles on the in-memory or the socket driver and returns their outcomes, the record stream and the CDRs. */
export async function runCalls(opts: RunOptions): Promise<RunResult> {
  if (opts.driver === "memory") {
    const { runOnMemory } = await import("./run-memory.js");
    return runOnMemory(opts);
  }
  const { runOnNetwork } = await import("./run-network.js");
  return runOnNetwork(opts);
}
