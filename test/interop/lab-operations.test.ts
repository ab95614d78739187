// `callgate lab` as an operator runs it: no message history unless asked, JSON logs, Prometheus metrics (issue 12).
import { describe, expect, it } from "vitest";
import { join } from "node:path";
import { SqliteCdrStore } from "../../lib/adapters/cdr-store-sqlite.js";
import { startLab } from "../../lib/flow/lab.js";
import { findFile, freePort, readSippStats, sippPath, startSipp, workDir } from "./sip-sipp-helpers.js";
import { metricSample } from "../support/observability-helpers.js";
import { spawnCli } from "../support/cli-process.js";

function sippUac(target: string, port: number, calls: number, dir: string) {
  return startSipp(["-sn", "uac", "-m", String(calls), "-r", "10", "-s", "15551234567", target, "-i", "127.0.0.1", "-p", String(port), "-nostdin", "-timeout", "30", "-trace_stat", "-fd", "1"], dir);
}


async function until(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}

describe("callgate lab, operated", () => {
  it("keeps no records by default, and what it holds per call returns to zero after each batch of calls", async () => {
    expect(sippPath(), "sipp (Debian sip-tester) must be installed").toBeTruthy();
    const lab = await startLab({ answerDelayMs: 20 });
    try {
      const sip1 = lab.endpoints.SIP1?.sip ?? "";
      const afterBatch: Array<Record<string, number>> = [];
      for (let batch = 1; batch <= 3; batch++) {
        const dir = workDir("callgate-lab-memory-");
        const run = await sippUac(sip1, await freePort(), 10, dir).done;
        expect(run.code).toBe(0);
        expect(readSippStats(findFile(dir, ".csv"))["SuccessfulCall(C)"]).toBe("10");
        // The usage reports of the last calls reach the clearinghouse after SIPp's last 200 OK.
        await until(() => lab.held().usageBacklog === 0 && lab.held().calls === 0 && lab.held().hints === 0, 5000);
        afterBatch.push(lab.held());
        expect(lab.stats().callsFromOutside).toBe(10 * batch);
      }
      expect(lab.records).toEqual([]);
      for (const held of afterBatch) expect(held).toEqual({ records: 0, hints: 0, calls: 0, transactions: held.transactions, copsRequestStates: 0, classifiers: 0, usageBacklog: 0 });
      // Server transactions linger for Timer J/H (RFC 3261 §17.2): bounded by the rate, not the number of calls.
      expect(afterBatch[2]?.transactions ?? Infinity).toBeLessThanOrEqual((afterBatch[0]?.transactions ?? 0) + 10);
      expect(lab.stats().finalsToCaller).toEqual({ "200 OK": 30 });
      // The CDRs, one per side and call, are in the store on disk, not in the lab's memory.
      expect(await lab.cdrStore.count()).toBe(60);
    } finally {
      await lab.close();
    }
  }, 60_000);

  it("--keep N keeps the last N messages only; --cdr-db keeps the CDRs after the lab", async () => {
    const cdrDb = join(workDir("callgate-lab-cdr-"), "cdr.sqlite");
    const lab = await startLab({ answerDelayMs: 20, keepRecords: 25, cdrDb });
    try {
      const dir = workDir("callgate-lab-keep-");
      expect((await sippUac(lab.endpoints.SIP1?.sip ?? "", await freePort(), 3, dir).done).code).toBe(0);
      await until(() => lab.held().usageBacklog === 0, 5000);
      expect(lab.stats().messages).toBeGreaterThan(100);
      expect(lab.records).toHaveLength(25);
      const ts = lab.records.map((r) => r.t);
      expect(ts).toEqual([...ts].sort((a, b) => a - b));
    } finally {
      await lab.close();
    }
    const store = new SqliteCdrStore(cdrDb, { readOnly: true });
    expect(await store.count()).toBe(6);
    await store.close();
  }, 30_000);

  it("`callgate lab --metrics` serves counters that move with a call; its log is JSON lines with levels", async () => {
    expect(sippPath(), "sipp (Debian sip-tester) must be installed").toBeTruthy();
    const sipPort = await freePort();
    const labProcess = spawnCli("lab", ["--sip-port", String(sipPort), "--answer-delay", "20", "--metrics", "127.0.0.1:0", "--log-level", "debug"]);
    try {
      await labProcess.waitFor("SIGTERM stops the lab", { ms: 20_000, stream: "stdout" });
      const url = /metrics\s+(http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(labProcess.stdout())?.[1];
      expect(url, labProcess.output()).toBeTruthy();
      const before = await (await fetch(url ?? "")).text();
      expect(metricSample(before, "callgate_calls_total")).toBeUndefined();
      expect(metricSample(before, "callgate_cdrs_written_total")).toBe(0);
      expect(metricSample(before, "callgate_process_resident_memory_bytes")).toBeGreaterThan(0);

      const dir = workDir("callgate-lab-metrics-");
      expect((await sippUac(`127.0.0.1:${sipPort}`, await freePort(), 2, dir).done).code).toBe(0);
      let after = "";
      for (let i = 0; i < 50 && metricSample(after, "callgate_cdrs_written_total") !== 4; i++) {
        await new Promise((r) => setTimeout(r, 100));
        after = await (await fetch(url ?? "")).text();
      }
      // Two calls ended at SIP1; each one authorised at both proxies (AAA), one CDR per side.
      expect(metricSample(after, "callgate_calls_total", { outcome: "ended", role: "lab" })).toBe(2);
      expect(metricSample(after, "callgate_decisions_total", { kind: "AAA", verdict: "allow" })).toBeGreaterThanOrEqual(4);
      expect(metricSample(after, "callgate_cdrs_written_total")).toBe(4);
      expect(metricSample(after, "callgate_cops_request_states", { peer: "POL1" })).toBeDefined();

      expect(await labProcess.stop()).toBe(0);
      expect(labProcess.stdout()).toContain("2 call(s) from outside");
      expect(labProcess.stdout()).toContain("final responses to the caller: 2 × 200 OK");
      const lines = labProcess.stderr().trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
      for (const l of lines) {
        expect(typeof l.level).toBe("number");
        expect(l.name).toBe("lab");
        expect(typeof l.time).toBe("number");
      }
      const started = lines.find((l) => l.msg === "lab started");
      expect(started?.level).toBe(30);
      expect(started?.endpoints).toMatchObject({ SIP1: { sip: `127.0.0.1:${sipPort}` } });
      expect(started?.metrics).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(lines.at(-1)).toMatchObject({ msg: "lab stopped", level: 30, callsFromOutside: 2 });
    } finally {
      if (labProcess.child.exitCode === null) labProcess.child.kill("SIGKILL");
    }
  }, 40_000);
});
