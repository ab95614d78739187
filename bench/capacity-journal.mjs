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
import { closeSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import { DefaultPolicyAdapter } from "../dist/lib/adapters/policy-adapter.js";
import { durableRealmCapacityPolicy, realmCapacityPolicy } from "../dist/lib/auth/realm-config.js";
import { median, onDiskAndTmpfs, rate, ratio, rounded, thousands, writeAndSync } from "./journal-bench.mjs";

const replayCalls = Number(process.env.JOURNAL_CALLS ?? 20_000);
const window = Number(process.env.JOURNAL_WINDOW ?? 100);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const T0 = 1_765_000_000_000;
const REALMS = {
  master: ["master.example"],
  clients: [{ name: "isp-b", realms: ["isp-b.example"], virtualIdentity: { user: "isp-b-virtual" }, capacity: { ports: 1_000_000, secondsPerPeriod: 1e12, credit: 1e12, pricePerMinute: 1 } }],
};

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
        writeAndSync(rawFd, startLine(i));
        writeAndSync(rawFd, stopLine(i));
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
          writeAndSync(rawFd, starts);
          writeAndSync(rawFd, stops);
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

const memoryPolicy = realmCapacityPolicy(new DefaultPolicyAdapter(), REALMS);
let memoryN = 0;
const inMemory = [];
for (let round = 0; round < rounds; round++) inMemory.push(window * (await rate(() => calls(memoryPolicy, memoryN++))));
const memoryRate = median(inMemory);
console.log(`policy in memory: ${thousands(memoryRate)} calls/s (${window} at once)`);
const figures = { window, rounds, memory_policy_calls_per_s: rounded(memoryRate) };
for (const [name, m] of await onDiskAndTmpfs("capacity-journal-bench", measure)) {
  console.log(`${name}: one at a time ${thousands(m.eachRate)} calls/s (bare loop: ${thousands(m.eachCeiling)}/s, ratio ${(m.eachRate / m.eachCeiling).toFixed(3)})`);
  console.log(`${name}: ${window} at once  ${thousands(m.windowRate)} calls/s (bare loop: ${thousands(m.windowCeiling)}/s, ratio ${(m.windowRate / m.windowCeiling).toFixed(3)}; against the policy in memory ${(m.windowRate / memoryRate).toFixed(3)})`);
  console.log(`${name}: restart reads ${thousands(m.replayLinesPerS)} journal lines/s`);
  Object.assign(figures, {
    [`${name}_each_calls_per_s`]: rounded(m.eachRate),
    [`${name}_each_ceiling_calls_per_s`]: rounded(m.eachCeiling),
    [`${name}_each_ratio`]: ratio(m.eachRate, m.eachCeiling),
    [`${name}_window_calls_per_s`]: rounded(m.windowRate),
    [`${name}_window_ceiling_calls_per_s`]: rounded(m.windowCeiling),
    [`${name}_window_ratio`]: ratio(m.windowRate, m.windowCeiling),
    [`${name}_window_vs_memory_policy`]: ratio(m.windowRate, memoryRate),
    [`${name}_replay_lines_per_s`]: rounded(m.replayLinesPerS),
  });
}
console.log(JSON.stringify(figures));
