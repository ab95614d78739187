// `callgate replay`: see lib/replay/replay-command.ts and docs/cli.md.
import { runCalls } from "../../flow/run-calls.js";
import { VERSION } from "../../index.js";
import { replayMain } from "../../replay/replay-command.js";

export async function run(args: string[]): Promise<number> {
  return replayMain(args, { stdout: process.stdout, stderr: process.stderr, env: process.env, runner: runCalls, version: VERSION });
}
