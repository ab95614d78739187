// `callgate replay` run in this process, its output captured: the one helper of the scenario tests.
import { expect } from "vitest";
import { runCalls } from "../../lib/flow/run-calls.js";
import type { RunResult } from "../../lib/flow/run-types.js";
import { replayMain, type Runner } from "../../lib/replay/replay-command.js";
import { parseScenario, ScenarioError } from "../../lib/replay/scenario.js";

export interface ReplayOutput {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `callgate replay ARGS` on the real flow runner (or `runner`), with stdout and stderr captured. */
export async function replayInProcess(args: string[], options: { runner?: Runner; env?: NodeJS.ProcessEnv; version?: string } = {}): Promise<ReplayOutput> {
  let stdout = "";
  let stderr = "";
  const code = await replayMain(args, {
    stdout: { write: (t: string) => (stdout += t), isTTY: false },
    stderr: { write: (t: string) => (stderr += t) },
    env: options.env ?? {},
    runner: options.runner ?? runCalls,
    version: options.version ?? "test",
  });
  return { code, stdout, stderr };
}

/** `replayInProcess` of one scenario on a driver, with the run's result kept for the test to read. */
export async function replayScenarioWithResult(file: string, driver: "memory" | "net"): Promise<ReplayOutput & { result: RunResult }> {
  let result: RunResult | undefined;
  const out = await replayInProcess([file, ...(driver === "net" ? ["--net"] : [])], {
    runner: async (opts) => (result = await runCalls(opts)),
  });
  expect(result).toBeDefined();
  return { ...out, result: result! };
}

/** The message a scenario text is refused with; fails the test when it is accepted or refused otherwise. */
export function scenarioRefusal(text: string, fileName: string): string {
  try {
    parseScenario(text, fileName);
  } catch (e) {
    expect(e).toBeInstanceOf(ScenarioError);
    return (e as Error).message;
  }
  throw new Error("accepted");
}
