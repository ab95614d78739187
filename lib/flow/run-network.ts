// runCalls on the loopback socket driver (filled in next).
import type { RunOptions, RunResult } from "./run-calls.js";

export function runOnNetwork(opts: RunOptions): Promise<RunResult> {
  return Promise.reject(new Error(`network driver not ready (${opts.calls.length} calls)`));
}
