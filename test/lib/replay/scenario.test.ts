import { describe, expect, it } from "vitest";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { expandCalls, loadScenarioFile, parseScenario, ScenarioError, toRunOptions, type ScenarioProblem } from "../../../lib/replay/scenario.js";

const dir = join(process.cwd(), "scenarios");
// scenarios/ holds scenarios only: deployment files, routes and messages live under examples/.
const entries = readdirSync(dir, { withFileTypes: true });
const files = entries.filter((e) => e.isFile() && e.name.endsWith(".yaml")).map((e) => e.name);

const REQUIRED = [
  "fig5-fig6", "fig5-fig6-no-clearinghouse", "callee-hangs-up", "clearinghouse-denies", "clearinghouse-unreachable-fail-closed",
  "clearinghouse-unreachable-fail-open", "terminating-policy-denies", "router-install-fails", "busy-486", "cancel-before-answer",
  "no-answer", "lossy-udp", "concurrent-100-mixed",
];

function problems(text: string): ScenarioProblem[] {
  try {
    parseScenario(text, "broken.yaml");
  } catch (e) {
    expect(e).toBeInstanceOf(ScenarioError);
    return (e as ScenarioError).problems;
  }
  throw new Error("scenario was accepted");
}

describe("scenario files", () => {
  it("include every scenario the issue lists", () => {
    expect(files.map((f) => f.replace(/\.yaml$/, "")).sort()).toEqual(expect.arrayContaining(REQUIRED));
  });

  it("scenarios/ holds scenario files only, and folders only of files its scenarios read", () => {
    expect(entries.filter((e) => e.isFile() && !e.name.endsWith(".yaml")).map((e) => e.name)).toEqual([]);
    const texts = files.map((f) => readFileSync(join(dir, f), "utf8"));
    const unused = entries.filter((e) => e.isDirectory() && !texts.some((t) => t.includes(`${e.name}/`))).map((e) => e.name);
    expect(unused, "folders under scenarios/ no scenario reads: deployment files, routes and messages go to examples/").toEqual([]);
  });

  for (const file of files)
    it(`${file} validates and its name matches the file`, () => {
      const scenario = loadScenarioFile(join(dir, file));
      expect(`${scenario.name}.yaml`).toBe(file);
      const options = toRunOptions(scenario);
      expect(options.calls.length).toBeGreaterThan(0);
      expect(new Set(options.calls.map((c) => c.id)).size).toBe(options.calls.length);
    });

  it("expands repeated entries: 100 calls with ids, addresses and starts per repetition", () => {
    const scenario = loadScenarioFile(join(dir, "concurrent-100-mixed.yaml"));
    const calls = expandCalls(scenario);
    expect(calls).toHaveLength(100);
    const third = calls.find((c) => c.spec.id === "answer-caller-3")!;
    expect(third.spec).toMatchObject({ caller: "sip:caller3@example.com", callee: "sip:callee3@example.net", startMs: 40, hangUp: "caller" });
    expect(calls.find((c) => c.spec.id === "busy-2")!.spec).toMatchObject({ outcome: "busy", startMs: 40 });
    expect(calls.filter((c) => c.expect.established === true)).toHaveLength(50);
  });

  it("maps topology, faults and seed onto the runner's options, defaults filled in", () => {
    const options = toRunOptions(loadScenarioFile(join(dir, "clearinghouse-unreachable-fail-open.yaml")));
    expect(options.driver).toBe("memory");
    expect(options.topology).toEqual({ clearinghouseUnreachable: "fail-open" });
    expect(options.faults).toEqual([{ kind: "down", role: "CH", fromMs: 0, toMs: 3600000 }]);
    expect(options.seed).toBe(1);
    expect(options.calls[0]).toEqual({ id: "call-1", caller: "sip:alice@example.com", callee: "sip:bob@example.net", startMs: 0, answerDelayMs: 1000, durationMs: 20000, hangUp: "caller", outcome: "answer" });
  });
});

describe("broken scenarios are rejected at their line and field", () => {
  const base = ["name: broken", "calls:", "  - caller: sip:a@example.com", "    callee: sip:b@example.net"];

  it("an unknown outcome", () => {
    const p = problems([...base, "    outcome: maybe"].join("\n"));
    expect(p).toEqual([{ line: 5, column: 14, field: "calls[0].outcome", message: 'must be one of "answer", "busy", "decline", "no-answer", "cancel"' }]);
  });

  it("a misspelt field points at the key", () => {
    const p = problems([...base, "    anwserDelayMs: 100"].join("\n"));
    expect(p).toEqual([{ line: 5, column: 5, field: "calls[0].anwserDelayMs", message: "unknown field 'anwserDelayMs'" }]);
  });

  it("a missing required field points at the object that lacks it", () => {
    const p = problems(["name: broken", "calls:", "  - caller: sip:a@example.com", "    startMs: 5"].join("\n"));
    expect(p).toEqual([{ line: 3, column: 5, field: "calls[0].callee", message: "missing required field 'callee'" }]);
  });

  it("a wrong type and a negative number in a second call", () => {
    const p = problems([...base, "  - caller: sip:c@example.com", "    callee: sip:d@example.net", "    startMs: -1", "    durationMs: long"].join("\n"));
    expect(p.map((x) => [x.line, x.field])).toEqual([[7, "calls[1].startMs"], [8, "calls[1].durationMs"]]);
    expect(p[0]!.message).toBe("must be >= 0");
    expect(p[1]!.message).toBe("must be number");
  });

  it("a fault of kind down without its window, and a deny on a role that takes no decision", () => {
    const p = problems([...base, "faults:", "  - kind: down", "    role: CH", "  - kind: deny", "    role: UAS"].join("\n"));
    expect(p).toEqual([
      { line: 6, column: 5, field: "faults[0].fromMs", message: "missing required field 'fromMs'" },
      { line: 6, column: 5, field: "faults[0].toMs", message: "missing required field 'toMs'" },
      { line: 9, column: 11, field: "faults[1].role", message: 'must be one of "CH", "POL1", "POL2", "R1", "R2"' },
    ]);
  });

  it("a malformed expectation step and an unknown flow", () => {
    const p = problems([...base, "    expect:", "      flow: fig7", "      contains: [\"SIP UAC-SIP1 INVITE\"]"].join("\n"));
    expect(p.map((x) => [x.line, x.column, x.field])).toEqual([[6, 13, "calls[0].expect.flow"], [7, 18, "calls[0].expect.contains[0]"]]);
  });

  it("YAML syntax errors come with their line", () => {
    const p = problems(["name: broken", "calls:", "  - caller: sip:a@example.com", "   callee: [unclosed"].join("\n"));
    expect(p[0]!.line).toBeGreaterThanOrEqual(3);
    expect(p[0]!.message).toMatch(/^YAML: /);
  });

  it("the error message names the file, line and column", () => {
    try {
      parseScenario([...base, "    hangUp: nobody"].join("\n"), "scenarios/x.yaml");
      expect.unreachable();
    } catch (e) {
      expect((e as Error).message).toBe('scenarios/x.yaml:5:13: calls[0].hangUp: must be one of "caller", "callee"');
    }
  });
});
