// What the journal benchmarks (session-journal, capacity-journal) share: a rate loop, medians, the bare
// write + fdatasync loop a journal is held against, and each measure run on this disk and on tmpfs (/dev/shm: a
// sync costs nothing, what is left is the journal's own work), each directory removed afterwards.
import { existsSync, fdatasyncSync, mkdtempSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const benchSeconds = Number(process.env.BENCH_SECONDS ?? 1);

/** Runs `step(n)` (awaited) until `seconds` passed; returns steps per second. */
export async function rate(step, seconds = benchSeconds) {
  const until = performance.now() + seconds * 1000;
  const t0 = performance.now();
  let n = 0;
  while (performance.now() < until) await step(n++);
  return n / ((performance.now() - t0) / 1000);
}

export const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];

/** The bare loop's step: `text` written and synced, as a journal's line or group would be. */
export function writeAndSync(fd, text) {
  writeSync(fd, text);
  fdatasyncSync(fd);
}

/** `measure(dir)` on this disk ("disk") and on tmpfs ("mem", when there is one): [name, result] pairs. */
export async function onDiskAndTmpfs(prefix, measure) {
  const results = [];
  for (const [name, parent] of [["disk", tmpdir()], ["mem", existsSync("/dev/shm") ? "/dev/shm" : undefined]]) {
    if (parent === undefined) continue;
    const where = mkdtempSync(join(parent, `${prefix}-`));
    try {
      results.push([name, await measure(where)]);
    } finally {
      rmSync(where, { recursive: true, force: true });
    }
  }
  return results;
}

export const rounded = (x) => Math.round(x);
export const ratio = (x, ceiling) => Number((x / ceiling).toFixed(3));
export const thousands = (x) => Math.round(x).toLocaleString("en");
