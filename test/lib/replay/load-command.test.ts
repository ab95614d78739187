import { describe, expect, it } from "vitest";
import { join } from "node:path";
import type { RunOptions, RunResult } from "../../../lib/flow/run-calls.js";
import { loadCalls, loadMain, percentile, progressLine, type LoadReport } from "../../../lib/replay/load-command.js";
import type { Runner } from "../../../lib/replay/replay-command.js";
import { loadScenarioFile } from "../../../lib/replay/scenario.js";
import { syntheticCall } from "./synthetic-call.js";

const scenarioPath = (name: string) => join(process.cwd(), "scenarios", `${name}.yaml`);

/** Answers "answer" calls with the reference ladder and a latency of 100 + i ms, busy calls with 486. */
const fakeRunner = (seen: RunOptions[]): Runner => async (options) => {
  seen.push(options);
  const result: RunResult = { records: [], calls: [], cdrs: [], leftovers: { classifiers: 0, copsRequestStates: 0, pendingTransactions: 0 } };
  options.calls.forEach((c, i) => {
    const callId = `${c.id}@x`;
    if (c.outcome === "busy") {
      const r = { t: c.startMs, proto: "SIP" as const, from: "SIP1", to: "UAC", msg: "486 Busy Here", callId, bytes: Buffer.alloc(0) };
      result.records.push(r);
      options.onRecord?.(r);
      result.calls.push({ callId, spec: c, finalStatusAtCaller: 486, established: false });
    } else if (c.outcome === "no-answer") {
      result.calls.push({ callId, spec: c, finalStatusAtCaller: undefined, established: false });
    } else {
      for (const r of syntheticCall({ callId, startMs: c.startMs })) {
        result.records.push(r);
        options.onRecord?.(r);
      }
      result.calls.push({ callId, spec: c, finalStatusAtCaller: 200, established: true, setupLatencyMs: 100 + i });
    }
  });
  return result;
};

async function load(args: string[], runner: Runner, stderrIsTty = false) {
  let stdout = "";
  let stderr = "";
  let clock = 0;
  const code = await loadMain(args, { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t), isTTY: stderrIsTty }, env: {}, runner, version: "test" }, () => (clock += 50));
  return { code, stdout, stderr };
}

/** Percentages of the progress bar's redraws, in order. */
const progressPercents = (stderr: string): number[] => [...stderr.matchAll(/\r\[[#-]+\]\s+(\d+)%/g)].map((m) => Number(m[1]));

describe("callgate load", () => {
  it("spreads N calls at rate R over the scenario's call shapes, each caller and callee unique", () => {
    const calls = loadCalls(loadScenarioFile(scenarioPath("concurrent-100-mixed")), 7, 50);
    expect(calls.map((c) => c.startMs)).toEqual([0, 20, 40, 60, 80, 100, 120]);
    expect(calls.map((c) => c.id)).toEqual(["load-1", "load-2", "load-3", "load-4", "load-5", "load-6", "load-7"]);
    expect(calls[2]!.caller).toBe("sip:caller3-3@example.com");
    expect(new Set(calls.map((c) => c.callee)).size).toBe(7);
  });

  it("nearest-rank percentiles", () => {
    const v = Array.from({ length: 100 }, (_, i) => i + 1);
    expect([percentile(v, 50), percentile(v, 95), percentile(v, 99)]).toEqual([50, 95, 99]);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNull();
  });

  it("draws a progress bar on a terminal's stderr, then reports throughput, latency percentiles and failures by cause", async () => {
    const seen: RunOptions[] = [];
    const r = await load(["--scenario", scenarioPath("busy-486"), "--calls", "3", "--rate", "10"], fakeRunner(seen), true);
    expect(r.code).toBe(0);
    expect(seen[0]!.calls).toHaveLength(3);
    expect(r.stderr).toMatch(/\r\[#{30}\] 100%/);
    expect(r.stdout).toContain("calls: 3 (0 established, 3 failed), 3 messages");
    expect(r.stdout).toContain("failures by cause:\n       3  486 Busy Here");
    expect(r.stdout).toContain("set-up latency (first INVITE → 200 at the caller): p50 n/a");
  });

  it("draws no progress when stderr is not a terminal (a file or a pipe)", async () => {
    const r = await load(["--scenario", scenarioPath("busy-486"), "--calls", "3", "--rate", "10"], fakeRunner([]), false);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain("calls: 3 (0 established, 3 failed)");
  });

  it("the progress bar never goes back, though records arrive out of time order", async () => {
    // A runner whose records come late ones first, as the socket driver's may (each call's own clock).
    const shuffled: Runner = async (options) => {
      const result = await fakeRunner([])(options);
      const times = [3000, 500, 2500, 100, 4000, 1000, 3500, 200];
      for (const t of times) options.onRecord?.({ t, proto: "SIP", from: "UAC", to: "SIP1", msg: "INVITE", callId: "x", bytes: Buffer.alloc(0) });
      return result;
    };
    const r = await load(["--scenario", scenarioPath("busy-486"), "--calls", "40", "--rate", "10"], shuffled, true);
    const percents = progressPercents(r.stderr);
    expect(percents.length).toBeGreaterThan(3);
    expect(percents.at(-1)).toBe(100);
    for (let i = 1; i < percents.length; i++) expect(percents[i]!).toBeGreaterThanOrEqual(percents[i - 1]!);
  });

  it("on --net, calls/s counts calls completed per wall second between the first and the last end, not the hold time", async () => {
    // 5 calls started 100 ms apart, each held 10 s: they end at 10.0, 10.1, ... 10.4 s; wall time ~10.4 s.
    const held: Runner = async (options) => {
      const result: RunResult = { records: [], calls: [], cdrs: [], leftovers: { classifiers: 0, copsRequestStates: 0, pendingTransactions: 0 } };
      options.calls.forEach((c, i) => {
        const callId = `held-${i}`;
        for (const t of [i * 100, i * 100 + 10_000]) result.records.push({ t, proto: "SIP", from: "UAC", to: "SIP1", msg: t < 10_000 ? "INVITE" : "BYE", callId, bytes: Buffer.alloc(0) });
        result.calls.push({ callId, spec: c, finalStatusAtCaller: 200, established: true, setupLatencyMs: 50 });
      });
      return result;
    };
    let clock = 0;
    let stdout = "";
    const code = await loadMain(["--scenario", scenarioPath("busy-486"), "--calls", "5", "--rate", "10", "--net", "--json"], { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: () => true }, env: {}, runner: held, version: "test" }, () => (clock += 10_400));
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as LoadReport;
    expect(report.driver).toBe("net");
    expect(report.wallSeconds).toBeCloseTo(10.4, 6);
    expect(report.callsPerSecond).toBeCloseTo(10, 6); // 4 intervals in 0.4 s; 5 / 10.4 s would be 0.48
  });

  it("--json prints one object with the figures", async () => {
    const seen: RunOptions[] = [];
    const mixed = await load(["--scenario", scenarioPath("concurrent-100-mixed"), "--calls", "100", "--rate", "200", "--json"], fakeRunner(seen));
    expect(mixed.stderr).toBe("");
    const report = JSON.parse(mixed.stdout) as LoadReport;
    // the mix repeats: 35 caller + 15 callee hang-ups answered, 20 busy, 15 cancel (fake: answered), 15 no answer
    expect(report).toMatchObject({ calls: 100, established: 65, failed: 35, offeredRate: 200, failuresByCause: { "486 Busy Here": 20, "no final response": 15 } });
    const latencies = seen[0]!.calls.map((_, i) => 100 + i).filter((_, i) => !["busy", "no-answer"].includes(seen[0]!.calls[i]!.outcome!));
    expect(report.setupLatencyMs.p50).toBe(latencies[Math.ceil(0.5 * latencies.length) - 1]);
    expect(report.setupLatencyMs.p99).toBe(latencies[Math.ceil(0.99 * latencies.length) - 1]);
    expect(report.wallSeconds).toBeGreaterThan(0);
    expect(report.callsPerSecond).toBeCloseTo(100 / report.wallSeconds, 6);
  });

  it("rejects missing or bad arguments with exit 2 and the reason", async () => {
    const cases: Array<[string[], string]> = [
      [["--calls", "3", "--rate", "1"], "callgate load: --scenario FILE is required"],
      [["--scenario", scenarioPath("busy-486"), "--calls", "0", "--rate", "1"], "callgate load: --calls must be a whole number of at least 1, not '0'"],
      [["--scenario", scenarioPath("busy-486"), "--calls", "abc", "--rate", "1"], "callgate load: --calls must be a whole number of at least 1, not 'abc'"],
      [["--scenario", scenarioPath("busy-486"), "--calls", "3", "--rate=-1"], "callgate load: --rate must be a number of calls per second above 0, not '-1'"],
      [["--scenario", scenarioPath("busy-486"), "--calls", "3"], "callgate load: --rate R is required"],
      [["--scenario", "no-such-scenario.yaml", "--calls", "3", "--rate", "1"], "callgate load: cannot read no-such-scenario.yaml: no such file"],
    ];
    for (const [args, reason] of cases) {
      const r = await load(args, fakeRunner([]));
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr.split("\n")[0]).toBe(reason);
    }
  });

  it("progress line", () => {
    expect(progressLine(0.5, 1500, 42, 10)).toBe("[#####-----]  50%  1.5 s  42 msgs");
  });
});
