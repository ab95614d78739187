// Runs every benchmark in turn (after `npm run build`), keeps the JSON last line of each, writes them
// together to bench/results/<timestamp>.json and prints the combined object as the last line.
//   node bench/run-all.mjs [--only sip-parse,cops] [--skip proxy]
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const all = [
  { name: "sip-parse", args: [] },
  { name: "cops", args: [] },
  { name: "osp", args: [] },
  { name: "osp-codec", args: [] },
  { name: "flow", args: ["--expose-gc"] },
  { name: "proxy", args: [] },
];
const option = (flag) => {
  const i = process.argv.indexOf(flag);
  return i >= 0 ? (process.argv[i + 1] ?? "").split(",").filter(Boolean) : undefined;
};
const only = option("--only");
const skip = option("--skip") ?? [];
const chosen = all.filter((b) => (!only || only.includes(b.name)) && !skip.includes(b.name));

const results = {};
let failed = 0;
for (const bench of chosen) {
  process.stderr.write(`bench ${bench.name} ...\n`);
  const run = spawnSync(process.execPath, [...bench.args, join(here, `${bench.name}.mjs`)], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  const last = run.stdout.trim().split("\n").pop() ?? "";
  try {
    results[bench.name] = JSON.parse(last.slice(last.indexOf("{")));
  } catch {
    failed++;
    results[bench.name] = { error: `exit ${run.status}, no JSON last line` };
  }
}
const stamp = new Date().toISOString().replace(/[:.]/g, "-");
mkdirSync(join(here, "results"), { recursive: true });
writeFileSync(join(here, "results", `${stamp}.json`), JSON.stringify(results, null, 2) + "\n");
console.log(JSON.stringify(results));
process.exitCode = failed ? 1 : 0;
