// Realm capacity at a policy server with its journal (durableRealmCapacityPolicy), on this machine's disk, against
// the disk itself and against the same policy in memory, in the same run:
//  - one call at a time: decideAaa then observeUsage of a client provider's caller, each awaited until its line is
//    on disk, against writeSync + fdatasync of the same two lines in a bare loop;
//  - WINDOW calls at once (as a policy server's REQs arrive together): their starts share one sync, then their
//    stops, against one write + fdatasync of WINDOW lines, twice;
//  - the same policy in memory (realmCapacityPolicy), WINDOW calls at once: what the journal costs a call;
//  - the restart: journal lines read back per second when a policy server opens a journal of N calls.
// Both on this disk and on tmpfs (/dev/shm: a sync costs nothing, what is left is the journal's own work). Each
// figure and its bare loop are measured in turn, BENCH_ROUNDS times (a loaded disk varies a lot): medians.
// Run after `npm run build`: node bench/capacity-journal.mjs   (BENCH_SECONDS per measure, BENCH_ROUNDS, JOURNAL_WINDOW, JOURNAL_CALLS)
// Last line: {"window":…, "rounds":…, "memory_policy_calls_per_s":…, "disk_each_calls_per_s":…, "disk_each_ceiling_calls_per_s":…,
// "disk_each_ratio":…, "disk_window_calls_per_s":…, "disk_window_ceiling_calls_per_s":…, "disk_window_ratio":…,
// "disk_window_vs_memory_policy":…, "disk_replay_lines_per_s":…, "mem_…" the same}
import { closeSync, existsSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DefaultPolicyAdapter } from "../dist/lib/adapters/policy-adapter.js";
import { durableRealmCapacityPolicy, realmCapacityPolicy } from "../dist/lib/auth/realm-config.js";

const seconds = Number(process.env.BENCH_SECONDS ?? 1);
const replayCalls = Number(process.env.JOURNAL_CALLS ?? 20_000);
const window = Number(process.env.JOURNAL_WINDOW ?? 100);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const dir = mkdtempSync(join(tmpdir(), "capacity-journal-bench-"));
const T0 = 1_765_000_000_000;
const REALMS = {
  master: ["master.example"],
  clients: [{ name: "isp-b", realms: ["isp-b.example"], virtualIdentity: { user: "isp-b-virtual" }, capacity: { ports: 1_000_000, secondsPerPeriod: 1e12, credit: 1e12, pricePerMinute: 1 } }],
};

/** Runs `step` until `seconds` passed; returns steps per second. */
async function rate(step) {
  const until = performance.now() + seconds * 1000;
  const t0 = performance.now();
  let n = 0;
  while (performance.now() < until) await step(n++);
  return n / ((performance.now() - t0) / 1000);
}

const startLine = (i) => `${JSON.stringify({ op: "open", kind: "session", provider: "isp-b", session: `call-${i}@bench`, startMs: T0 + i, subscriber: `sub${i}@isp-b.example` })}\n`;
const stopLine = (i) => `${JSON.stringify({ op: "close", key: `session isp-b call-${i}@bench` })}\n${JSON.stringify({ op: "used", key: "used isp-b", t: T0 + i, seconds: 60 * i, charged: i })}\n`;

/** Call `i` of a client provider's caller: admitted (its start on disk), then its usage (its stop on disk). */
async function call(policy, i) {
  const callId = `call-${i}@bench`;
  const now = T0 + i * 10;
  const verdict = await policy.decideAaa({ callId, side: "originating", caller: `sip:sub${i}@isp-b.example`, callee: "sip:bob@example.net", flows: [], now });
  if (!verdict.allow) throw new Error(`call ${i} refused: ${verdict.reason}`);
  await policy.observeUsage({ callId, side: "originating", startMs: now, endMs: now + 60_000, durationS: 60, packets: 0, octets: 0 });
}

/** `window` calls at once: their decisions together, then their usage together. */
async function calls(policy, n) {
  const ids = Array.from({ length: window }, (_, k) => n * window + k);
  const verdicts = await Promise.all(ids.map((i) => policy.decideAaa({ callId: `call-${i}@bench`, side: "originating", caller: `sip:sub${i}@isp-b.example`, callee: "sip:bob@example.net", flows: [], now: T0 + i })));
  if (verdicts.some((v) => !v.allow)) throw new Error("a call was refused");
  await Promise.all(ids.map((i) => policy.observeUsage({ callId: `call-${i}@bench`, side: "originating", startMs: T0 + i, endMs: T0 + i + 60_000, durationS: 60, packets: 0, octets: 0 })));
}

const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];

async function measure(where) {
  const rawFd = openSync(join(where, "raw"), "a");
  const each = durableRealmCapacityPolicy(new DefaultPolicyAdapter(), REALMS, join(where, "each.jsonl"), { now: T0 });
  const grouped = durableRealmCapacityPolicy(new DefaultPolicyAdapter(), REALMS, join(where, "window.jsonl"), { now: T0 });
  const figures = { eachRate: [], eachCeiling: [], windowRate: [], windowCeiling: [] };
  let eachN = 0;
  let windowN = 0;
  for (let round = 0; round < rounds; round++) {
    figures.eachCeiling.push(
      await rate((i) => {
        writeSync(rawFd, startLine(i));
        fdatasyncSync(rawFd);
        writeSync(rawFd, stopLine(i));
        fdatasyncSync(rawFd);
      }),
    );
    figures.eachRate.push(await rate(() => call(each.policy, eachN++)));
    figures.windowCeiling.push(
      window *
        (await rate((n) => {
          let starts = "";
          let stops = "";
          for (let k = 0; k < window; k++) {
            starts += startLine(n * window + k);
            stops += stopLine(n * window + k);
          }
          writeSync(rawFd, starts);
          fdatasyncSync(rawFd);
          writeSync(rawFd, stops);
          fdatasyncSync(rawFd);
        })),
    );
    figures.windowRate.push(window * (await rate(() => calls(grouped.policy, windowN++))));
  }
  closeSync(rawFd);
  each.close();
  grouped.close();
  // Restart: a journal of `replayCalls` calls, half of them ended, opened by a new policy server.
  const path = join(where, "replay.jsonl");
  let text = `${JSON.stringify({ op: "open", kind: "used", provider: "isp-b", t: T0, seconds: 0, charged: 0 })}\n`;
  for (let i = 0; i < replayCalls; i++) text += startLine(i) + (i % 2 === 0 ? stopLine(i) : "");
  const fd = openSync(path, "w");
  writeSync(fd, text);
  closeSync(fd);
  const t0 = performance.now();
  const reopened = durableRealmCapacityPolicy(new DefaultPolicyAdapter(), REALMS, path, { now: T0 + replayCalls + 10 });
  const replaySeconds = (performance.now() - t0) / 1000;
  reopened.close();
  if (reopened.replay.replayed !== replayCalls / 2 + 1) throw new Error(`replayed ${reopened.replay.replayed} records, not ${replayCalls / 2 + 1}`);
  return { eachRate: median(figures.eachRate), eachCeiling: median(figures.eachCeiling), windowRate: median(figures.windowRate), windowCeiling: median(figures.windowCeiling), replayLinesPerS: (replayCalls * 2 + 1) / replaySeconds };
}

try {
  const r = (x) => Math.round(x);
  const memoryPolicy = realmCapacityPolicy(new DefaultPolicyAdapter(), REALMS);
  let memoryN = 0;
  const inMemory = median(await Array.from({ length: rounds }).reduce(async (all) => [...(await all), window * (await rate(() => calls(memoryPolicy, memoryN++)))], Promise.resolve([])));
  console.log(`policy in memory: ${r(inMemory).toLocaleString("en")} calls/s (${window} at once)`);
  const figures = { window, rounds, memory_policy_calls_per_s: r(inMemory) };
  for (const [name, where] of [["disk", dir], ["mem", existsSync("/dev/shm") ? mkdtempSync("/dev/shm/capacity-journal-bench-") : undefined]]) {
    if (where === undefined) continue;
    try {
      const m = await measure(where);
      console.log(`${name}: one at a time ${r(m.eachRate).toLocaleString("en")} calls/s (bare loop: ${r(m.eachCeiling).toLocaleString("en")}/s, ratio ${(m.eachRate / m.eachCeiling).toFixed(3)})`);
      console.log(`${name}: ${window} at once  ${r(m.windowRate).toLocaleString("en")} calls/s (bare loop: ${r(m.windowCeiling).toLocaleString("en")}/s, ratio ${(m.windowRate / m.windowCeiling).toFixed(3)}; against the policy in memory ${(m.windowRate / inMemory).toFixed(3)})`);
      console.log(`${name}: restart reads ${r(m.replayLinesPerS).toLocaleString("en")} journal lines/s`);
      Object.assign(figures, {
        [`${name}_each_calls_per_s`]: r(m.eachRate),
        [`${name}_each_ceiling_calls_per_s`]: r(m.eachCeiling),
        [`${name}_each_ratio`]: Number((m.eachRate / m.eachCeiling).toFixed(3)),
        [`${name}_window_calls_per_s`]: r(m.windowRate),
        [`${name}_window_ceiling_calls_per_s`]: r(m.windowCeiling),
        [`${name}_window_ratio`]: Number((m.windowRate / m.windowCeiling).toFixed(3)),
        [`${name}_window_vs_memory_policy`]: Number((m.windowRate / inMemory).toFixed(3)),
        [`${name}_replay_lines_per_s`]: r(m.replayLinesPerS),
      });
    } finally {
      if (where !== dir) rmSync(where, { recursive: true, force: true });
    }
  }
  console.log(JSON.stringify(figures));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
