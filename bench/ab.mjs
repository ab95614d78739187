// A/B of benchmarks in one run: the working tree (B) against a base commit (A, default HEAD~1), built in a
// temporary git worktree that shares this checkout's node_modules. Rounds alternate A and B so both see the
// same machine load; each figure is the median of its rounds.
//   node bench/ab.mjs [--base REF] [--only sip-parse,cops] [--rounds 3] [--args "--quick"]
// Prints one line per numeric figure and, last, a JSON object { base, benches: { name: { key: {a, b, ratio} } } }.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const option = (flag, fallback) => {
  const i = process.argv.indexOf(flag);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
const base = option("--base", "HEAD~1");
const rounds = Number(option("--rounds", "3"));
const only = (option("--only", "sip-parse,cops,osp,osp-codec") ?? "").split(",").filter(Boolean);
const nodeArgs = { flow: ["--expose-gc"] };
// Passed to every bench script on both sides (e.g. flow's --quick).
const benchArgs = (option("--args", "") ?? "").split(" ").filter(Boolean);

const sha = execFileSync("git", ["rev-parse", base], { cwd: root, encoding: "utf8" }).trim();
const tree = mkdtempSync(join(tmpdir(), "callgate-ab-"));
execFileSync("git", ["worktree", "add", "--detach", tree, sha], { cwd: root, stdio: "ignore" });
try {
  symlinkSync(join(root, "node_modules"), join(tree, "node_modules"), "dir");
  for (const dir of [tree, root]) {
    execFileSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json"], { cwd: dir, stdio: "inherit" });
    if (existsSync(join(dir, "scripts/copy-assets.mjs"))) execFileSync(process.execPath, ["scripts/copy-assets.mjs"], { cwd: dir, stdio: "inherit" });
  }

  const runs = { a: {}, b: {} };
  const runOne = (side, dir, name) => {
    const run = spawnSync(process.execPath, [...(nodeArgs[name] ?? []), join(dir, "bench", `${name}.mjs`), ...benchArgs], {
      cwd: dir,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    });
    const last = run.stdout.trim().split("\n").pop() ?? "";
    try {
      const figures = JSON.parse(last.slice(last.indexOf("{")));
      ((runs[side][name] ??= [])).push(figures);
    } catch {
      process.stderr.write(`ab: ${side} ${name} printed no JSON last line (exit ${run.status})\n`);
    }
  };
  for (let r = 0; r < rounds; r++) {
    for (const name of only) {
      if (!existsSync(join(tree, "bench", `${name}.mjs`))) continue;
      process.stderr.write(`ab: round ${r + 1}/${rounds} ${name}\n`);
      // Alternate which side goes first each round.
      const order = r % 2 === 0 ? [["a", tree], ["b", root]] : [["b", root], ["a", tree]];
      for (const [side, dir] of order) runOne(side, dir, name);
    }
  }

  const median = (xs) => {
    const s = [...xs].sort((x, y) => x - y);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  const benches = {};
  for (const name of only) {
    const a = runs.a[name] ?? [];
    const b = runs.b[name] ?? [];
    if (a.length === 0 || b.length === 0) continue;
    benches[name] = {};
    for (const key of Object.keys(b[0])) {
      const av = a.map((f) => f[key]).filter((v) => typeof v === "number");
      const bv = b.map((f) => f[key]).filter((v) => typeof v === "number");
      if (av.length === 0 || bv.length === 0) continue;
      const am = median(av);
      const bm = median(bv);
      benches[name][key] = { a: am, b: bm, ratio: am === 0 ? null : Number((bm / am).toFixed(3)) };
      console.log(`${name}.${key}: A ${am} B ${bm} B/A ${am === 0 ? "-" : (bm / am).toFixed(3)}`);
    }
  }
  console.log(JSON.stringify({ base: sha, rounds, benches }));
} finally {
  execFileSync("git", ["worktree", "remove", "--force", tree], { cwd: root, stdio: "ignore" });
  rmSync(tree, { recursive: true, force: true });
}
