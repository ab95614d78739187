// `callgate load`: see lib/replay/load-command.ts and docs/cli.md.
import { runCalls } from "../../flow/run-calls.js";
import { VERSION } from "../../index.js";
import { loadMain } from "../../replay/load-command.js";

export async function run(args: string[]): Promise<number> {
  return loadMain(args, { stdout: process.stdout, stderr: process.stderr, env: process.env, runner: runCalls, version: VERSION });
}
