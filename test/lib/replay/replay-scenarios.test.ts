// End to end: every scenario of scenarios/ through the real flow runner (in-memory driver) and `callgate replay`.
import { describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCheckLadderTool } from "../../../lib/replay/check-ladder-tool.js";
import { decodeTrace, encodeTrace, TRACE_FORMAT_VERSION } from "../../../lib/replay/trace.js";
import { replayInProcess } from "../../support/replay-in-process.js";

const dir = mkdtempSync(join(tmpdir(), "callgate-e2e-"));
const scenarios = readdirSync(join(process.cwd(), "scenarios"))
  .filter((f) => f.endsWith(".yaml"))
  .map((f) => f.replace(/\.yaml$/, ""));

const replay = (args: string[]) => replayInProcess(args);

describe("scenarios replayed on the in-memory driver", () => {
  for (const name of scenarios)
    it(`${name}: every expectation holds (exit 0)`, { timeout: 20_000 }, async () => {
      const r = await replay([join("scenarios", `${name}.yaml`)]);
      expect(r.stderr).toBe("");
      expect(r.stdout).toMatch(/expectations: all \d+ hold/);
      expect(r.code).toBe(0);
    });

  for (const [name, noClearinghouse] of [["fig5-fig6", false], ["fig5-fig6-no-clearinghouse", true]] as const)
    it(`${name}: the recorded ladder split at the BYE passes check-ladder.mjs setup and teardown`, { timeout: 20_000 }, async () => {
      const ladder = join(dir, `${name}.jsonl`);
      const r = await replay([join("scenarios", `${name}.yaml`), "--ladder-json", ladder]);
      expect(r.stdout).toContain(`wrote ${join(dir, `${name}.setup.jsonl`)}`);
      for (const flow of ["setup", "teardown"] as const) {
        const verdict = runCheckLadderTool(join(dir, `${name}.${flow}.jsonl`), flow, { noClearinghouse });
        expect(verdict.output).toMatch(/in causal order/);
        expect(verdict.ok).toBe(true);
      }
    });

  it("a recorded run replays from its trace without divergence", { timeout: 20_000 }, async () => {
    const trace = join(dir, "fig5-fig6.trace");
    expect((await replay([join("scenarios", "fig5-fig6.yaml"), "--record", trace])).code).toBe(0);
    const again = await replay(["--trace", trace]);
    expect(again.stdout).toMatch(/trace: the replay matches all \d+ recorded messages of 1 call\(s\)/);
    expect(again.code).toBe(0);
  });

  // A trace keeps the run's options as data: a scenario whose adapters are code is refused at --record (exit 2),
  // every other one replays from its trace without divergence; none crashes.
  for (const name of scenarios)
    it(`${name}: --record, then --trace matches, or --record refuses the adapters by name`, { timeout: 40_000 }, async () => {
      const trace = join(dir, `${name}.rec.trace`);
      const recorded = await replay([join("scenarios", `${name}.yaml`), "--record", trace]);
      if (recorded.code === 2) {
        expect(recorded.stderr).toMatch(/--record: this run's (policy|callerChallenge)[a-zA-Z, ]* come from the scenario's quota, sessionLimits, auth or realms/);
        expect(existsSync(trace)).toBe(false);
        return;
      }
      expect(recorded.stderr).toBe("");
      const again = await replay(["--trace", trace]);
      expect(again.stderr).toBe("");
      expect(again.stdout).toMatch(/trace: the replay matches all \d+ recorded messages of \d+ call\(s\)/);
      expect(again.code).toBe(0);
    });

  it("scenarios with quota, sessionLimits and auth are the ones refused at --record", { timeout: 40_000 }, async () => {
    for (const name of ["quota-daily-calls", "session-limit-realm", "auth-fig5-fig6", "realm-capacity-ports"]) {
      const r = await replay([join("scenarios", `${name}.yaml`), "--record", join(dir, `${name}.refused.trace`)]);
      expect(r.code, name).toBe(2);
    }
  });

  it("a trace holding an adapter as data is refused by name, not run", () => {
    const bytes = encodeTrace({ formatVersion: TRACE_FORMAT_VERSION, callgateVersion: "test", scenarioName: "x", driver: "memory", runOptions: { driver: "memory", calls: [], policy: {} as never }, records: [], calls: [] });
    expect(() => decodeTrace(bytes)).toThrow(/holds policy as data/);
  });
});
