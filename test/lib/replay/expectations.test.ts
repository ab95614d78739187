import { describe, expect, it } from "vitest";
import { join } from "node:path";
import type { MessageRecord } from "../../../lib/drivers/message-record.js";
import type { RunResult } from "../../../lib/flow/run-calls.js";
import { checkExpectations, formatFailure, parseStep } from "../../../lib/replay/expectations.js";
import { expandCalls, loadScenarioFile, type Scenario } from "../../../lib/replay/scenario.js";
import { syntheticCall } from "./synthetic-call.js";

const scenario = (name: string): Scenario => loadScenarioFile(join(process.cwd(), "scenarios", `${name}.yaml`));
const rec = (t: number, proto: MessageRecord["proto"], from: string, to: string, msg: string, callId = "c1"): MessageRecord => ({ t, proto, from, to, msg, callId, bytes: Buffer.alloc(0) });

/** A run result as the runner would return it for the scenario's calls, with the given records and outcome fields. */
function result(s: Scenario, records: MessageRecord[], outcome: { finalStatusAtCaller?: number; established: boolean }, extra: Partial<RunResult> = {}): RunResult {
  return {
    records,
    calls: expandCalls(s).map((c) => ({ callId: records[0]?.callId ?? "c1", spec: c.spec, finalStatusAtCaller: outcome.finalStatusAtCaller, established: outcome.established })),
    // one usage record per side of an established call, for the conversation (2xx to BYE)
    cdrs: outcome.established ? expandCalls(s).flatMap((c) => ["source", "destination"].map((role) => ({ callId: records[0]?.callId ?? "c1", role, durationS: c.spec.durationMs / 1000 }))) : [],
    leftovers: { classifiers: 0, copsRequestStates: 0, pendingTransactions: 0 },
    ...extra,
  };
}

describe("expectations", () => {
  it("the FIG. 5/6 call as the reference draws it meets every expectation of fig5-fig6.yaml", () => {
    const s = scenario("fig5-fig6");
    const report = checkExpectations(s, result(s, syntheticCall({ callId: "c1", withExtras: true }), { finalStatusAtCaller: 200, established: true }));
    expect(report.failures).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.checked).toBe(8); // flow setup + teardown, status, established, CDRs, noStateLeft, established total, failed total
  });

  it("a missing DEC LDP fails the setup flow and names the first diverging message", () => {
    const s = scenario("fig5-fig6");
    const records = syntheticCall({ callId: "c1" }).filter((r) => !(r.msg === "DEC LDP" && r.from === "POL2"));
    const report = checkExpectations(s, result(s, records, { finalStatusAtCaller: 200, established: true }));
    expect(report.ok).toBe(false);
    expect(report.failures).toHaveLength(1);
    const text = formatFailure(report.failures[0]!);
    expect(text).toContain("call-1: setup flow (FIG. 5): step 16 missing: COPS|POL2|SIP2|DEC LDP");
    // due right after the RPT Success from R2; the message found there instead is SIP2's 180 Ringing upstream
    expect(text).toContain("first diverging message: #15 t=0.160s SIP SIP2 → SIP1 180 Ringing");
  });

  it("flow fig6 checks the teardown alone: a setup unlike FIG. 5 passes, a teardown unlike FIG. 6 does not", () => {
    const base = scenario("fig5-fig6");
    const s: Scenario = { ...base, calls: base.calls.map((c) => ({ ...c, expect: { ...c.expect, flow: "fig6" } })) };
    const noSetupDec = syntheticCall({ callId: "c1" }).filter((r) => !(r.msg === "DEC LDP" && r.from === "POL2"));
    const report = checkExpectations(s, result(s, noSetupDec, { finalStatusAtCaller: 200, established: true }));
    expect(report.failures).toEqual([]);
    expect(report.checked).toBe(7); // as fig5-fig6 less the setup flow
    const noRemove = syntheticCall({ callId: "c1" }).filter((r) => !(r.msg === "DEC Remove" && r.from === "POL1"));
    const broken = checkExpectations(s, result(s, noRemove, { finalStatusAtCaller: 200, established: true }));
    expect(broken.failures.map((f) => f.check)).toEqual(["teardown flow (FIG. 6)"]);
    expect(broken.failures[0]!.message).toMatch(/^step 5 missing: COPS\|POL1\|R1\|DEC Remove/);
  });

  it("OSP on the wire fails the no-clearinghouse scenario", () => {
    const s = scenario("fig5-fig6-no-clearinghouse");
    const good = checkExpectations(s, result(s, syntheticCall({ callId: "c1", noClearinghouse: true }), { finalStatusAtCaller: 200, established: true }));
    expect(good.failures).toEqual([]);
    const bad = checkExpectations(s, result(s, syntheticCall({ callId: "c1" }), { finalStatusAtCaller: 200, established: true }));
    expect(bad.failures.map((f) => f.check)).toEqual(["setup flow (FIG. 5)", "teardown flow (FIG. 6)", "absent", "absent"]);
    expect(bad.failures[0]!.message).toMatch(/^OSP message on the wire without a clearinghouse: OSP\|POL1\|CH\|AuthorisationRequest/);
  });

  it("a callee hang-up is checked against FIG. 6 mirrored, and a caller BYE is a divergence there", () => {
    const s = scenario("callee-hangs-up");
    expect(checkExpectations(s, result(s, syntheticCall({ callId: "c1", hangUp: "callee" }), { finalStatusAtCaller: 200, established: true })).failures).toEqual([]);
    const wrong = checkExpectations(s, result(s, syntheticCall({ callId: "c1" }), { finalStatusAtCaller: 200, established: true }));
    const f = wrong.failures.find((x) => x.check === "teardown flow (FIG. 6)")!;
    expect(f.message).toBe("BYE sent by UAC, expected UAS");
    expect(f.divergence?.record?.msg).toBe("BYE");
  });

  it("clearinghouse denies: statuses, steps in order, steps absent, no CDR", () => {
    const s = scenario("clearinghouse-denies");
    const records = [
      rec(0, "SIP", "UAC", "SIP1", "INVITE"),
      rec(1, "COPS", "SIP1", "POL1", "REQ AAA"),
      rec(2, "OSP", "POL1", "CH", "AuthorisationRequest"),
      rec(3, "OSP", "CH", "POL1", "AuthorisationResponse"),
      rec(4, "COPS", "POL1", "SIP1", "DEC AAA"),
      rec(5, "SIP", "SIP1", "UAC", "403 Forbidden"),
      rec(6, "SIP", "UAC", "SIP1", "ACK"),
    ];
    expect(checkExpectations(s, result(s, records, { finalStatusAtCaller: 403, established: false })).failures).toEqual([]);
    const forwarded = [...records.slice(0, 5), rec(4.6, "SIP", "SIP1", "SIP2", "INVITE"), ...records.slice(5)];
    const r2 = checkExpectations(s, result(s, forwarded, { finalStatusAtCaller: 403, established: false }));
    expect(r2.failures.map(formatFailure)).toEqual(["call-1: absent: 'SIP SIP1>SIP2 INVITE' was sent\n  first diverging message: #5 t=0.005s SIP SIP1 → SIP2 INVITE"]);
    const wrongStatus = checkExpectations(s, result(s, records.slice(0, 5), { finalStatusAtCaller: undefined, established: false }, { cdrs: [{ callId: "c1", role: "POL1", durationS: 0 }] }));
    expect(wrongStatus.failures.map((f) => f.check)).toEqual(["finalStatus", "contains", "cdrs"]);
    expect(formatFailure(wrongStatus.failures[0]!)).toContain("final status at the caller none, expected 403");
    expect(wrongStatus.failures[1]!.message).toBe("'SIP SIP1>UAC 403' not found after the previous expected step");
  });

  it("run-wide: state left behind, counts of established and failed calls", () => {
    const s = scenario("busy-486");
    const records = [rec(0, "SIP", "UAC", "SIP1", "INVITE"), rec(1, "SIP", "SIP2", "UAS", "INVITE"), rec(2, "SIP", "UAS", "SIP2", "486 Busy Here"), rec(3, "SIP", "SIP2", "SIP1", "486 Busy Here"), rec(4, "SIP", "SIP1", "UAC", "486 Busy Here"), rec(5, "SIP", "UAC", "SIP1", "ACK")];
    const leftovers = { classifiers: 1, copsRequestStates: 2, pendingTransactions: 0 };
    const cdrs = ["source", "destination"].map((role) => ({ callId: "c1", role, durationS: 0 }));
    const report = checkExpectations(s, result(s, records, { finalStatusAtCaller: 486, established: true }, { leftovers, cdrs }));
    expect(report.failures.map(formatFailure)).toEqual([
      "call-1: established: call was established, expected not established\n  first diverging message: #4 t=0.004s SIP SIP1 → UAC 486 Busy Here",
      "scenario: noStateLeft: state left behind: 1 classifier(s), 2 COPS request state(s), 0 SIP transaction(s)",
      "scenario: established: 1 call(s) established, expected 0",
      "scenario: failed: 0 call(s) failed, expected 1",
    ]);
  });

  it("parses ladder steps and rejects malformed ones", () => {
    expect(parseStep("COPS R2>POL2 RPT Failure")).toEqual({ proto: "COPS", from: "R2", to: "POL2", msg: "RPT Failure" });
    expect(() => parseStep("SIP UAC->SIP1")).toThrow(/not a ladder step/);
  });
});
