// `callgate load --scenario FILE --calls N --rate R [--net] [--json]`: N calls shaped like the scenario's calls
// (its entries taken in turn), started at R calls per second; a progress bar on stderr while it runs (on a terminal only), then
// throughput, set-up latency percentiles (first INVITE → 200 at the caller) and failures by cause.
import { parseArgs } from "node:util";
import type { MessageRecord } from "../drivers/message-record.js";
import type { CallOutcome, CallSpec, RunOptions, RunResult } from "../flow/run-types.js";
import type { CommandIo } from "./replay-command.js";
import { expandCalls, loadScenarioFile, ScenarioError, toRunOptions, type Scenario } from "./scenario.js";

export const LOAD_USAGE = `usage: callgate load --scenario FILE --calls N --rate R [--net] [--json]
  --scenario FILE   scenario whose calls (and topology, faults) shape the load
  --calls N         number of calls to place
  --rate R          calls started per second
  --net             real sockets on loopback instead of the in-memory driver
  --json            print the report as one JSON object`;

export interface LoadReport {
  calls: number;
  established: number;
  failed: number;
  offeredRate: number;
  /** The driver the calls ran on: on "memory" call time is virtual, on "net" it is wall time. */
  driver: "memory" | "net";
  wallSeconds: number;
  /**
   * memory: calls processed per wall second (calls / wallSeconds; call time is virtual, so hold times cost nothing).
   * net: calls completed per wall second, counted between the first and the last call's end, so the calls' hold
   * time is not in the divisor; calls / wallSeconds when fewer than two calls ended.
   */
  callsPerSecond: number;
  /** Seconds of call time the run covered (virtual on the in-memory driver). */
  virtualSeconds: number;
  setupLatencyMs: { p50: number | null; p95: number | null; p99: number | null };
  failuresByCause: Record<string, number>;
  messages: number;
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] as number;
}

/** Caller and callee made unique per call: `sip:alice@example.com` → `sip:alice-17@example.com`. */
function numbered(uri: string, n: number): string {
  return uri.replace(/^(sips?:)([^@;>]+)@/, `$1$2-${n}@`);
}

export function loadCalls(scenario: Scenario, count: number, rate: number): CallSpec[] {
  const templates = expandCalls(scenario).map((c) => c.spec);
  return Array.from({ length: count }, (_, i) => {
    const t = templates[i % templates.length] as CallSpec;
    return { ...t, id: `load-${i + 1}`, caller: numbered(t.caller, i + 1), callee: numbered(t.callee, i + 1), startMs: Math.round((i * 1000) / rate) };
  });
}

/** The failure cause of a call that was not established: its final status with the reason phrase seen on the wire. */
export function failureCause(outcome: CallOutcome, records: readonly MessageRecord[]): string {
  const status = outcome.finalStatusAtCaller;
  if (status === undefined) return "no final response";
  const seen = records.find((r) => r.callId === outcome.callId && r.proto === "SIP" && r.to === "UAC" && r.msg.startsWith(`${status} `));
  return seen ? seen.msg : String(status);
}

/** Calls completed per second of record time between the first and the last call's last message; undefined below two calls. */
export function completionRate(records: readonly MessageRecord[]): number | undefined {
  const ends = new Map<string, number>();
  for (const r of records) if (r.callId !== "") ends.set(r.callId, Math.max(ends.get(r.callId) ?? 0, r.t));
  if (ends.size < 2) return undefined;
  const times = [...ends.values()];
  const spanMs = Math.max(...times) - Math.min(...times);
  return spanMs > 0 ? ((ends.size - 1) * 1000) / spanMs : undefined;
}

export function loadReport(result: RunResult, offeredRate: number, wallSeconds: number, driver: "memory" | "net" = "memory"): LoadReport {
  const established = result.calls.filter((c) => c.established);
  const latencies = established.map((c) => c.setupLatencyMs).filter((v): v is number => v !== undefined).sort((a, b) => a - b);
  const failuresByCause: Record<string, number> = {};
  for (const c of result.calls) {
    if (c.established) continue;
    const cause = failureCause(c, result.records);
    failuresByCause[cause] = (failuresByCause[cause] ?? 0) + 1;
  }
  const lastT = result.records.reduce((max, r) => Math.max(max, r.t), 0);
  return {
    calls: result.calls.length,
    established: established.length,
    failed: result.calls.length - established.length,
    offeredRate,
    driver,
    wallSeconds,
    callsPerSecond: (driver === "net" ? completionRate(result.records) : undefined) ?? (wallSeconds > 0 ? result.calls.length / wallSeconds : 0),
    virtualSeconds: lastT / 1000,
    setupLatencyMs: { p50: percentile(latencies, 50), p95: percentile(latencies, 95), p99: percentile(latencies, 99) },
    failuresByCause,
    messages: result.records.length,
  };
}

export function formatLoadReport(r: LoadReport): string {
  const ms = (v: number | null): string => (v === null ? "n/a" : `${v.toFixed(1)} ms`);
  const causes = Object.entries(r.failuresByCause)
    .sort((a, b) => b[1] - a[1])
    .map(([cause, n]) => `  ${String(n).padStart(6)}  ${cause}`);
  return [
    `calls: ${r.calls} (${r.established} established, ${r.failed} failed), ${r.messages} messages`,
    r.driver === "net"
      ? `offered: ${r.offeredRate} calls/s; ran in ${r.wallSeconds.toFixed(3)} s wall; calls completed at ${r.callsPerSecond.toFixed(1)} calls/s (first to last call's end)`
      : `offered: ${r.offeredRate} calls/s; ran in ${r.wallSeconds.toFixed(3)} s wall (${r.callsPerSecond.toFixed(1)} calls/s processed), ${r.virtualSeconds.toFixed(3)} s of virtual call time`,
    `set-up latency (first INVITE → 200 at the caller): p50 ${ms(r.setupLatencyMs.p50)}, p95 ${ms(r.setupLatencyMs.p95)}, p99 ${ms(r.setupLatencyMs.p99)}`,
    r.failed > 0 ? `failures by cause:\n${causes.join("\n")}` : "failures by cause: none",
  ].join("\n");
}

/** `[#########-----------]  45%  12.3 s  1234 msgs` on one rewritten line. */
export function progressLine(fraction: number, tMs: number, messages: number, width = 30): string {
  const f = Math.min(1, Math.max(0, fraction));
  const done = Math.round(f * width);
  return `[${"#".repeat(done)}${"-".repeat(width - done)}] ${String(Math.round(f * 100)).padStart(3)}%  ${(tMs / 1000).toFixed(1)} s  ${messages} msgs`;
}

export async function loadMain(args: string[], io: CommandIo, now: () => number = () => performance.now()): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args,
      options: { scenario: { type: "string" }, calls: { type: "string" }, rate: { type: "string" }, net: { type: "boolean" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" } },
    }).values;
  } catch (e) {
    io.stderr.write(`callgate load: ${e instanceof Error ? e.message : String(e)}\n${LOAD_USAGE}\n`);
    return 2;
  }
  if (values.help) {
    io.stdout.write(`${LOAD_USAGE}\n`);
    return 0;
  }
  const count = Number(values.calls);
  const rate = Number(values.rate);
  const problems = [
    values.scenario === undefined ? "--scenario FILE is required" : undefined,
    values.calls === undefined ? "--calls N is required" : !/^\d+$/.test(values.calls) || count < 1 ? `--calls must be a whole number of at least 1, not '${values.calls}'` : undefined,
    values.rate === undefined ? "--rate R is required" : !(rate > 0) || !Number.isFinite(rate) ? `--rate must be a number of calls per second above 0, not '${values.rate}'` : undefined,
  ].filter((p): p is string => p !== undefined);
  if (problems.length > 0 || values.scenario === undefined) {
    io.stderr.write(`${problems.map((p) => `callgate load: ${p}`).join("\n")}\n${LOAD_USAGE}\n`);
    return 2;
  }
  let scenario: Scenario;
  try {
    scenario = loadScenarioFile(values.scenario);
  } catch (e) {
    io.stderr.write(`${e instanceof ScenarioError ? e.message : `callgate load: ${e instanceof Error ? e.message : String(e)}`}\n`);
    return 2;
  }
  const calls = loadCalls(scenario, count, rate);
  // Expected end of the run in call time, for the progress bar.
  const endMs = Math.max(1, ...calls.map((c) => c.startMs + Math.max(c.answerDelayMs + c.durationMs, c.noAnswerTimeoutMs ?? 0, c.cancelAfterMs ?? 0)));
  let messages = 0;
  let lastT = 0;
  let lastDraw = -Infinity;
  // A bar redrawn with \r belongs on a terminal only; it never goes back (records may arrive out of time order).
  const showProgress = !values.json && io.stderr.isTTY === true;
  let shown = 0;
  const draw = (tMs: number, fraction: number): void => {
    shown = Math.max(shown, Math.min(1, fraction));
    io.stderr.write(`\r${progressLine(shown, tMs, messages)}`);
  };
  const options: RunOptions = {
    ...toRunOptions(scenario, values.net ? { driver: "net" } : {}),
    calls,
    onRecord: (r) => {
      messages++;
      lastT = Math.max(lastT, r.t);
      if (showProgress && now() - lastDraw >= 100) {
        lastDraw = now();
        // 99 % at most until the run has returned: calls may outlast the schedule
        draw(lastT, Math.min(0.99, lastT / endMs));
      }
    },
  };
  const started = now();
  const result = await io.runner(options);
  const wallSeconds = (now() - started) / 1000;
  if (showProgress) {
    draw(lastT, 1);
    io.stderr.write("\n");
  }
  const report = loadReport(result, rate, wallSeconds, options.driver === "net" ? "net" : "memory");
  io.stdout.write(values.json ? `${JSON.stringify(report)}\n` : `${formatLoadReport(report)}\n`);
  return 0;
}
