import { describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RunOptions, RunResult } from "../../../lib/flow/run-calls.js";
import { fromJsonLines } from "../../../lib/replay/ladder-json.js";
import { runCheckLadderTool } from "../../../lib/replay/check-ladder-tool.js";
import { type Runner } from "../../../lib/replay/replay-command.js";
import { syntheticCall } from "./synthetic-call.js";
import { replayInProcess } from "../../support/replay-in-process.js";

const dir = mkdtempSync(join(tmpdir(), "callgate-replay-"));
const scenarioPath = (name: string) => join(process.cwd(), "scenarios", `${name}.yaml`);

/** A stand-in for runCalls that answers every call with the reference ladder. */
function referenceRunner(damage: (r: RunResult) => void = () => undefined, seen: RunOptions[] = []): Runner {
  return async (options) => {
    seen.push(options);
    const noCh = options.topology?.clearinghouse === "none";
    const result: RunResult = {
      records: options.calls.flatMap((c) => syntheticCall({ callId: `${c.id}@192.0.2.10`, hangUp: c.hangUp, noClearinghouse: noCh, startMs: c.startMs })),
      calls: options.calls.map((c) => ({ callId: `${c.id}@192.0.2.10`, spec: c, finalStatusAtCaller: 200, established: true })),
      cdrs: options.calls.flatMap((c) => ["source", "destination"].map((role) => ({ callId: `${c.id}@192.0.2.10`, role, durationS: c.durationMs / 1000 }))),
      leftovers: { classifiers: 0, copsRequestStates: 0, pendingTransactions: 0 },
    };
    damage(result);
    return result;
  };
}

const replay = (args: string[], runner: Runner, env: NodeJS.ProcessEnv = {}) => replayInProcess(args, { runner, env, version: "0.0.0-test" });

describe("callgate replay", () => {
  it("runs fig5-fig6, prints the ladder, writes JSON lines, split ladders, HTML, pcap and a trace; exit 0", async () => {
    const out = (f: string) => join(dir, "ok", f);
    const seen: RunOptions[] = [];
    const r = await replay([scenarioPath("fig5-fig6"), "--ladder", "--ladder-json", out("ladder.jsonl"), "--html", out("ladder.html"), "--pcap", out("call.pcap"), "--record", out("run.trace")], referenceRunner(undefined, seen));
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(seen[0]!.driver).toBe("memory");
    expect(r.stdout).toMatch(/t \(s\)\s+UAC\s+SIP1\s+POL1\s+R1\s+CH\s+SIP2\s+POL2\s+R2\s+UAS/);
    expect(r.stdout).toContain("S         |---- INVITE --->|"); // letter, not colour: stdout is not a TTY
    expect(r.stdout).toContain("fig5-fig6: 1 call(s) on the in-memory driver, 1 established, 46 messages");
    expect(r.stdout).toContain("expectations: all 8 hold");
    expect(fromJsonLines(readFileSync(out("ladder.jsonl"), "utf8"))).toHaveLength(46);
    expect(runCheckLadderTool(out("ladder.setup.jsonl"), "setup").ok).toBe(true);
    expect(runCheckLadderTool(out("ladder.teardown.jsonl"), "teardown").ok).toBe(true);
    expect(readFileSync(out("ladder.html"), "utf8")).toContain("expectations: all 8 hold");
    expect(readFileSync(out("call.pcap")).readUInt32LE(0)).toBe(0xa1b2c3d4);
    expect(existsSync(out("run.trace"))).toBe(true);
    expect(r.stdout).toContain(`wrote ${out("call.pcap")}`);
  });

  it("colours the ladder when asked by FORCE_COLOR and passes --net on to the runner", async () => {
    const seen: RunOptions[] = [];
    const r = await replay([scenarioPath("fig5-fig6"), "--ladder", "--net"], referenceRunner(undefined, seen), { FORCE_COLOR: "1" });
    expect(seen[0]!.driver).toBe("net");
    expect(r.stdout).toContain("\u001b[32m");
    expect(r.stdout).toContain("loopback network driver");
  });

  it("exits 1 and prints the first diverging message when the ladder breaks FIG. 5", async () => {
    const r = await replay([scenarioPath("fig5-fig6")], referenceRunner((res) => {
      res.records = res.records.filter((x) => !(x.msg === "RPT Success" && x.from === "R1"));
    }));
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("expectations: 2 of 8 failed");
    expect(r.stdout).toContain("call-1: setup flow (FIG. 5): step 20 missing: COPS|R1|POL1|RPT Success");
    expect(r.stdout).toMatch(/first diverging message: #\d+ t=\d+\.\d{3}s COPS POL1 → SIP1 DEC LDP/);
  });

  it("--call shows one call of a many-call run in the ladder and the HTML", async () => {
    const html = join(dir, "call", "one.html");
    const r = await replay([scenarioPath("concurrent-100-mixed"), "--ladder", "--call", "busy-7", "--html", html], referenceRunner());
    const rows = r.stdout.split("\n").filter((l) => /^\s+\d+\.\d{3} [SCOR] /.test(l));
    expect(rows).toHaveLength(46); // the one call's reference ladder, not 100 calls' worth
    expect(readFileSync(html, "utf8").match(/<g class="msg /g)).toHaveLength(46);
    expect(readFileSync(html, "utf8")).toContain("call busy-7@192.0.2.10");
    const unknown = await replay([scenarioPath("fig5-fig6"), "--call", "nope"], referenceRunner());
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("no call 'nope' in this run (calls: call-1)");
  });

  it("rejects an invalid scenario with file, line and field, exit 2", async () => {
    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, "name: bad\ncalls:\n  - caller: sip:a@example.com\n    callee: sip:b@example.net\n    outcome: later\n");
    const r = await replay([bad], referenceRunner());
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${bad}:5:14: calls[0].outcome: must be one of`);
    expect((await replay([], referenceRunner())).code).toBe(2);
    expect((await replay([scenarioPath("fig5-fig6"), "--bogus"], referenceRunner())).code).toBe(2);
  });

  it("replays a recorded trace: identical run exit 0, a different run exit 1 with the divergence", async () => {
    const trace = join(dir, "trace", "run.trace");
    expect((await replay([scenarioPath("callee-hangs-up"), "--record", trace], referenceRunner())).code).toBe(0);
    const seen: RunOptions[] = [];
    const same = await replay(["--trace", trace], referenceRunner(undefined, seen));
    expect(same.code).toBe(0);
    expect(seen[0]!.calls[0]!.hangUp).toBe("callee");
    expect(same.stdout).toContain("trace: the replay matches all 46 recorded messages of 1 call(s)");
    const differs = await replay(["--trace", trace], referenceRunner((res) => {
      res.records[10]!.msg = "DEC Remove";
    }));
    expect(differs.code).toBe(1);
    expect(differs.stdout).toContain("trace: replay diverges in call call-1 at its message 10: different message");
    expect(differs.stdout).toContain("  recorded: #10 t=0.100s SIP SIP2 → UAS INVITE\n  replayed: #10 t=0.100s SIP SIP2 → UAS DEC Remove");
    writeFileSync(join(dir, "junk.trace"), "junk");
    expect((await replay(["--trace", join(dir, "junk.trace")], referenceRunner())).stderr).toContain("not a callgate trace");
  });
});
