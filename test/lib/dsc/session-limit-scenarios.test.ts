// The session-limit scenarios (their `sessionLimits` section) on both drivers: through `callgate replay`, every
// expectation holds (the third concurrent call of a realm refused with 403 and a Reason naming it, an ended call
// letting the next in, 503 when the realm's authoritative DSC is cut off); behind the ladder, the DSCs counted
// what the calls say (remote grants at the authority, 0 left at the end); the answered calls pass check-ladder.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { replaySessionLimits } from "../../../lib/dsc/replay-session-limits.js";
import { runCalls } from "../../../lib/flow/run-calls.js";
import { runCheckLadderTool } from "../../../lib/replay/check-ladder-tool.js";
import { recordsByCall, splitCallLadder, writeJsonLines } from "../../../lib/replay/ladder-json.js";
import { loadScenarioFile, parseScenario, ScenarioError, toRunOptions } from "../../../lib/replay/scenario.js";
import { replayInProcess } from "../../support/replay-in-process.js";

const dir = mkdtempSync(join(tmpdir(), "session-limit-scenarios-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const replay = (args: string[]) => replayInProcess(args);

const DRIVERS = ["memory", "net"] as const;

describe.each(DRIVERS)("session-limit scenarios (%s driver)", (driver) => {
  const flag = driver === "net" ? ["--net"] : [];
  for (const name of ["session-limit-realm", "session-limit-authority-unreachable"])
    it(`callgate replay scenarios/${name}.yaml: every expectation holds`, async () => {
      const r = await replay([`scenarios/${name}.yaml`, ...flag]);
      expect(r.stderr).toBe("");
      expect(r.stdout).toMatch(/expectations: all \d+ hold/);
      expect(r.code).toBe(0);
    }, 90_000);

  it("session-limit-realm: dsc-1's grants came from the authority dsc-2, every count is 0 at the end, the answered calls pass check-ladder", async () => {
    const scenario = loadScenarioFile("scenarios/session-limit-realm.yaml");
    const limits = replaySessionLimits(scenario.sessionLimits!);
    try {
      const result = await runCalls({ ...toRunOptions(scenario, { driver }), policy: limits.policy });
      expect(result.calls.map((c) => [c.spec.id, c.finalStatusAtCaller])).toEqual([["alice-out", 200], ["dave-in", 200], ["erin-out", 403], ["erin-again", 200]]);
      const realm = "realm example.com";
      const [dsc1, dsc2] = [limits.cluster.core("dsc-1"), limits.cluster.core("dsc-2")];
      expect(dsc1.authorityOf(realm)).toBe("dsc-2");
      // POL1's DSC decided alice-out, erin-out and erin-again; POL2's dave-in. dsc-1 authorised sessions at dsc-2.
      expect(dsc1.entityStats(realm)).toMatchObject({ active: 0, granted: 2, refused: 1, overSubscribed: 0 });
      // The authority refused the Request of erin-out too.
      expect(dsc2.entityStats(realm)).toMatchObject({ active: 0, granted: 1, refused: 1, overSubscribed: 0 });
      expect(dsc2.authorisers(realm)).toContain("dsc-1");
      expect(dsc2.recordedSessions(realm)).toEqual([]);
      expect(limits.counting()).toBe(0);
      // The answered calls are FIG. 5 and FIG. 6 as the reference checker reads them.
      const byCall = recordsByCall(result.records);
      for (const c of result.calls.filter((o) => o.established)) {
        const { setup, midCall, teardown } = splitCallLadder(byCall.get(c.callId) ?? []);
        expect(midCall).toEqual([]);
        for (const [flow, ladder] of [["setup", setup], ["teardown", teardown]] as const) {
          const file = join(dir, `${driver}.${c.spec.id}.${flow}.jsonl`);
          writeJsonLines(file, ladder);
          const verdict = runCheckLadderTool(file, flow);
          expect(verdict.output, `${c.spec.id} ${flow}`).toMatch(/in causal order/);
          expect(verdict.ok, verdict.output).toBe(true);
        }
      }
    } finally {
      limits.close();
    }
  }, 90_000);
});

describe("the sessionLimits section", () => {
  const base = [
    "name: x",
    "sessionLimits:",
    '  thresholds: {"realm example.com": {global: 1, local: 0}}',
    "calls:",
    "  - {caller: 'sip:a@example.com', callee: 'sip:b@example.net', expect: {finalStatus: 200, reason: 'SIP;cause=1'}}",
  ];

  it("is validated by the schema at its line and field", () => {
    const bad = [...base];
    bad[2] = '  thresholds: {"account example.com": {global: 1}}';
    expect(() => parseScenario(bad.join("\n"), "x.yaml")).toThrow(ScenarioError);
    try {
      parseScenario(bad.join("\n"), "x.yaml");
    } catch (e) {
      // The same words as the deploy file's refusal of it.
      expect((e as Error).message).toMatch(/^x\.yaml:3:\d+: sessionLimits\.thresholds\.account example\.com: is no entity: 'user <address>', 'group <name>' or 'realm <host>'$/);
    }
    expect(() => parseScenario([...base.slice(0, 3), "  failClosed: maybe", ...base.slice(3)].join("\n"), "x.yaml")).toThrow(/x\.yaml:4:\d+: sessionLimits\.failClosed: must be boolean/);
    expect(parseScenario(base.join("\n")).sessionLimits).toEqual({ thresholds: { "realm example.com": { global: 1, local: 0 } } });
  });

  it("is refused by callgate replay with the field when it names a DSC it does not have, or a local threshold above the global one", async () => {
    const cases: Array<[string, RegExp]> = [
      ["  policyServers: {POL1: dsc-9}\n  dscs: [dsc-1]", /sessionLimits\.policyServers\.POL1: DSC 'dsc-9' is not one of dscs \(dsc-1\)/],
      ['  authority: {"realm example.com": nowhere}\n  dscs: [POL1, POL2]', /sessionLimits\.authority\["realm example\.com"\]: DSC 'nowhere' is not one of dscs/],
      ["  unreachable: [dsc-3]\n  dscs: [POL1, POL2]", /sessionLimits\.unreachable\[0\]: DSC 'dsc-3' is not one of dscs/],
    ];
    for (const [extra, message] of cases) {
      const file = join(dir, "x.yaml");
      writeFileSync(file, [...base.slice(0, 3), extra, ...base.slice(3)].join("\n"));
      const r = await replay([file]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
    }
    const file = join(dir, "x.yaml");
    writeFileSync(file, base.join("\n").replace("{global: 1, local: 0}", "{global: 1, local: 2}"));
    expect((await replay([file])).stderr).toMatch(/x\.yaml:3:\d+: sessionLimits\.thresholds\.realm example\.com\.local: 2 is above the global threshold 1/);
    // Quotas give the policy servers their adapter too: one or the other.
    writeFileSync(file, [...base.slice(0, 3), `quota: {rules: ${join(process.cwd(), "scenarios", "quota-rules", "daily-calls.yaml")}}`, ...base.slice(3)].join("\n"));
    expect(await replay([file])).toMatchObject({ code: 2, stderr: expect.stringMatching(/sessionLimits: the run already has a policy adapter/) });
  });

  it("a Reason the caller did not get fails the scenario, naming the one it got", async () => {
    const file = join(dir, "x.yaml");
    // One session of the realm at a time: the second overlapping call is refused, but not with this Reason.
    writeFileSync(
      file,
      [
        ...base.slice(0, 3),
        "topology: {clearinghouse: none}",
        "calls:",
        "  - {caller: 'sip:a@example.com', callee: 'sip:b@example.net', answerDelayMs: 100, durationMs: 2000}",
        "  - {caller: 'sip:c@example.com', callee: 'sip:b@example.net', startMs: 500, expect: {finalStatus: 403, reason: 'SIP;cause=403;text=\"realm example.com is full\"'}}",
      ].join("\n"),
    );
    const r = await replay([file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/x-2: reason: Reason 'SIP;cause=403;text="realm example\.com at its session limit"' at the caller, expected 'SIP;cause=403;text="realm example\.com is full"'/);
    expect(r.stdout).toMatch(/first diverging message: #\d+ t=\S+ SIP SIP1 → UAC 403/);
  });
});
