// `callgate replay` run in this process, its output captured: the one helper of the scenario tests.
import { runCalls } from "../../lib/flow/run-calls.js";
import { replayMain, type Runner } from "../../lib/replay/replay-command.js";

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
