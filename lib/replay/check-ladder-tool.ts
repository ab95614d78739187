// Runs the project's reference checker (../shared/tools/check-ladder.mjs, outside the package) on a ladder file.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import type { FlowName } from "./reference-flows.js";

export interface ToolVerdict {
  ok: boolean;
  exitCode: number;
  output: string;
}

/** Where the checker sits for a checkout of the repository: `../shared/tools/` next to the repo root. */
export function defaultCheckLadderTool(repoRoot: string = process.cwd()): string {
  return resolve(repoRoot, "..", "shared", "tools", "check-ladder.mjs");
}

export function runCheckLadderTool(ladderFile: string, flow: FlowName, options: { noClearinghouse?: boolean; tool?: string } = {}): ToolVerdict {
  const tool = options.tool ?? defaultCheckLadderTool();
  if (!existsSync(tool)) throw new Error(`check-ladder tool not found at ${tool}`);
  const args = [tool, ladderFile, flow];
  if (options.noClearinghouse) args.push("--no-clearinghouse");
  const result = spawnSync(process.execPath, args, { encoding: "utf8" });
  if (result.error) throw result.error;
  const exitCode = result.status ?? -1;
  return { ok: exitCode === 0, exitCode, output: `${result.stdout}${result.stderr}` };
}
