// scenarios/media-change.yaml on both drivers: the callee holds and resumes a FIG. 5 call by re-INVITE; each
// proxy asks its policy server again (REQ LDP, TLV 9), the routers' classifiers follow the media, and usage
// still counts the one call once per side.
import { describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeCopsMessage, decodeSipAaaClientSi } from "../../../protocols/cops/index.js";
import { parseSipMessage, type SipRequest } from "../../../protocols/sip/index.js";
import type { MessageRecord } from "../../../lib/drivers/message-record.js";
import { runCalls } from "../../../lib/flow/run-calls.js";
import { runCheckLadderTool } from "../../../lib/replay/check-ladder-tool.js";
import { checkExpectations } from "../../../lib/replay/expectations.js";
import { fromJsonLines, isMidDialogSessionRequest, splitCallLadder, writeJsonLines } from "../../../lib/replay/ladder-json.js";
import { replayMain } from "../../../lib/replay/replay-command.js";
import { loadScenarioFile, parseScenario, toRunOptions } from "../../../lib/replay/scenario.js";
import { scenarioRefusal } from "../../support/replay-in-process.js";

const file = join("scenarios", "media-change.yaml");
const dir = mkdtempSync(join(tmpdir(), "callgate-media-change-"));

const isReinvite = (r: MessageRecord) => r.proto === "SIP" && r.msg === "INVITE" && (parseSipMessage(r.bytes) as SipRequest).to.tag !== undefined;

/** The media changes (TLV 9 values) a proxy sent its policy server, in order. */
function mediaChanges(records: MessageRecord[], proxy: string): Array<number | undefined> {
  return records
    .filter((r) => r.proto === "COPS" && r.from === proxy && r.msg === "REQ LDP")
    .map((r) => {
      const m = decodeCopsMessage(r.bytes);
      return m.op === "REQ" ? decodeSipAaaClientSi(m.clientSi[0]!.data).mediaChange : undefined;
    });
}

describe("scenario media-change: a call held and resumed", () => {
  for (const driver of ["memory", "net"] as const)
    it(`${driver} driver: answered and ended once, two TLV 9 updates per proxy, installs removed, one whole-call CDR per side, FIG. 5/6 still pass check-ladder`, { timeout: 120_000 }, async () => {
      const scenario = loadScenarioFile(file);
      const result = await runCalls(toRunOptions(scenario, { driver }));
      const report = checkExpectations(scenario, result);
      expect(report.failures).toEqual([]);
      expect(report.ok).toBe(true);

      const [call] = result.calls;
      expect(result.calls.length).toBe(1);
      expect(call!.finalStatusAtCaller).toBe(200);
      expect(call!.established).toBe(true);
      const { records } = result;
      // the callee's two re-INVITEs, each forwarded over both proxies to the caller, each answered 200
      expect(records.filter(isReinvite).map((r) => `${r.from}>${r.to}`)).toEqual(["UAS>SIP2", "SIP2>SIP1", "SIP1>UAC", "UAS>SIP2", "SIP2>SIP1", "SIP1>UAC"]);
      expect(records.filter((r) => r.proto === "SIP" && r.msg === "BYE").map((r) => `${r.from}>${r.to}`)).toEqual(["UAC>SIP1", "SIP1>SIP2", "SIP2>UAS"]);
      // setup, hold, resume: the two updates carry TLV 9 (media change 1, then 2) on the call's handle
      for (const proxy of ["SIP1", "SIP2"]) expect(mediaChanges(records, proxy)).toEqual([undefined, 1, 2]);
      // every classifier a router was given, it lost again: setup + two changes installed, the old flows and the end removed
      for (const [pol, router] of [["POL1", "R1"], ["POL2", "R2"]] as const) {
        const decs = records.filter((r) => r.proto === "COPS" && r.from === pol && r.to === router);
        const installs = decs.filter((r) => r.msg === "DEC Install").length;
        expect(installs).toBe(3);
        expect(decs.filter((r) => r.msg === "DEC Remove").length).toBe(installs);
      }
      expect(result.leftovers).toEqual({ classifiers: 0, copsRequestStates: 0, pendingTransactions: 0 });
      // one usage record per side, covering the whole 30 s conversation, held part included
      expect(result.cdrs.map((c) => c.role).sort()).toEqual(["destination", "source"]);
      for (const cdr of result.cdrs) expect(Math.abs(cdr.durationS - 30)).toBeLessThanOrEqual(driver === "memory" ? 0 : 1);

      // FIG. 5 is the ladder up to the first re-INVITE, FIG. 6 from the BYE; the media changes between them
      // repeat FIG. 5's steps 13-21, so the ladder cut only at the BYE does not pass as FIG. 5
      const mine = records.filter((r) => r.callId === call!.callId);
      const firstChange = mine.findIndex(isReinvite);
      const byeAt = mine.findIndex((r) => r.proto === "SIP" && r.msg === "BYE");
      const { setup: cut, midCall, teardown } = splitCallLadder(mine);
      expect(cut).toEqual(mine.slice(0, firstChange));
      expect(midCall[0]).toBe(mine[firstChange]);
      expect(midCall.filter(isMidDialogSessionRequest)).toEqual(mine.filter(isReinvite));
      expect(teardown[0]).toBe(mine[byeAt]);
      const ladders = { setup: cut, teardown, beforeBye: mine.slice(0, byeAt) };
      for (const [name, ladder] of Object.entries(ladders)) writeJsonLines(join(dir, `${driver}.${name}.jsonl`), ladder);
      const setup = runCheckLadderTool(join(dir, `${driver}.setup.jsonl`), "setup");
      expect(setup.output).toMatch(/all 28 steps in causal order/);
      expect(setup.ok).toBe(true);
      const down = runCheckLadderTool(join(dir, `${driver}.teardown.jsonl`), "teardown");
      expect(down.output).toMatch(/all 18 steps in causal order/);
      expect(down.ok).toBe(true);
      const whole = runCheckLadderTool(join(dir, `${driver}.beforeBye.jsonl`), "setup");
      expect(whole.ok).toBe(false);
      expect(whole.output).toMatch(/step 13 \(COPS\|SIP2\|POL2\|REQ LDP\) appears 3 times/);
    });

  it("memory driver: the caller's hold and resume go the other way, UAC to UAS, and are asked for again the same way", { timeout: 20_000 }, async () => {
    const scenario = parseScenario(
      "name: caller-holds\ncalls:\n  - caller: sip:alice@example.com\n    callee: sip:bob@example.net\n    durationMs: 20000\n    reinvites:\n      - {by: caller, afterMs: 4000, hold: true}\n      - {by: caller, afterMs: 4000, hold: false}\n",
    );
    const result = await runCalls(toRunOptions(scenario, { driver: "memory" }));
    expect(result.records.filter(isReinvite).map((r) => `${r.from}>${r.to}`)).toEqual(["UAC>SIP1", "SIP1>SIP2", "SIP2>UAS", "UAC>SIP1", "SIP1>SIP2", "SIP2>UAS"]);
    for (const proxy of ["SIP1", "SIP2"]) expect(mediaChanges(result.records, proxy)).toEqual([undefined, 1, 2]);
    expect(result.leftovers).toEqual({ classifiers: 0, copsRequestStates: 0, pendingTransactions: 0 });
    expect(result.cdrs.map((c) => [c.role, c.durationS]).sort()).toEqual([["destination", 20], ["source", 20]]);
  });

  it("callgate replay runs it, every expectation holds, and --ladder-json cuts FIG. 5 at the first re-INVITE", { timeout: 30_000 }, async () => {
    let stdout = "";
    let stderr = "";
    const out = join(dir, "replay.jsonl");
    const code = await replayMain([file, "--ladder-json", out], { stdout: { write: (t: string) => (stdout += t), isTTY: false }, stderr: { write: (t: string) => (stderr += t) }, env: {}, runner: runCalls, version: "test" });
    expect(stderr).toBe("");
    expect(stdout).toMatch(/expectations: all 9 hold/);
    expect(code).toBe(0);
    const base = join(dir, "replay");
    expect(stdout).toContain(`wrote ${base}.setup.jsonl\nwrote ${base}.midcall.jsonl\nwrote ${base}.teardown.jsonl\n`);
    expect(runCheckLadderTool(`${base}.setup.jsonl`, "setup").output).toMatch(/all 28 steps in causal order/);
    expect(runCheckLadderTool(`${base}.teardown.jsonl`, "teardown").output).toMatch(/all 18 steps in causal order/);
    const midCall = fromJsonLines(readFileSync(`${base}.midcall.jsonl`, "utf8"));
    expect(midCall.filter(isMidDialogSessionRequest).map((r) => `${r.from}>${r.to}`)).toEqual(["UAS>SIP2", "SIP2>SIP1", "SIP1>UAC", "UAS>SIP2", "SIP2>SIP1", "SIP1>UAC"]);
    expect(midCall.some((r) => r.msg === "BYE")).toBe(false);
  });
});

describe("scenario reinvites: refused with line, column and field", () => {
  const base = (reinvites: string, extra = "") => `name: x\ncalls:\n  - caller: sip:a@example.com\n    callee: sip:b@example.net\n    durationMs: 20000\n${extra}    reinvites:\n${reinvites}`;
  const problems = (text: string): string => scenarioRefusal(text, "s.yaml");

  it("maps onto each side's planned re-INVITEs", () => {
    const s = parseScenario(base("      - {by: callee, afterMs: 5000, hold: true}\n      - {by: caller, afterMs: 6000, hold: false}\n"));
    expect(toRunOptions(s).calls[0]!.reinvites).toEqual([
      { by: "callee", afterMs: 5000, hold: true },
      { by: "caller", afterMs: 6000, hold: false },
    ]);
  });

  it("an unknown side, a missing hold, an unknown field, a zero delay", () => {
    expect(problems(base("      - {by: proxy, afterMs: 5000, hold: true}\n"))).toContain(`s.yaml:7:14: calls[0].reinvites[0].by: must be one of "caller", "callee"`);
    expect(problems(base("      - {by: callee, afterMs: 5000}\n"))).toContain(`calls[0].reinvites[0].hold: missing required field 'hold'`);
    expect(problems(base("      - {by: callee, afterMs: 5000, hold: true, video: true}\n"))).toContain(`calls[0].reinvites[0].video: unknown field 'video'`);
    expect(problems(base("      - {by: callee, afterMs: 0, hold: true}\n"))).toContain(`calls[0].reinvites[0].afterMs: must be > 0`);
    expect(problems(base("      []\n"))).toContain(`calls[0].reinvites: must NOT have fewer than 1 items`);
  });

  it("a re-INVITE after the call ended, or on a call that is not answered", () => {
    expect(problems(base("      - {by: callee, afterMs: 15000, hold: true}\n      - {by: callee, afterMs: 6000, hold: false}\n"))).toBe(
      "s.yaml:8:31: calls[0].reinvites[1].afterMs: the callee's re-INVITE would come 21000 ms after the answer, when the call (durationMs 20000) has ended",
    );
    expect(problems(base("      - {by: caller, afterMs: 1000, hold: true}\n", "    outcome: busy\n"))).toBe("s.yaml:8:7: calls[0].reinvites: re-INVITEs need an answered call, but outcome is 'busy'");
  });
});
