// scenarios/media-changes.yaml on both drivers: a codec change by UPDATE, an address change that R2 cannot
// install (refused 488 with a Reason, the old media kept), a hold by UPDATE and a move with resume by re-INVITE.
// Every change is a TLV 9 update at each proxy it crosses; the routers lose every classifier they were given;
// the call is still one usage record per side. Mistakes in the new fields are reported at FILE:LINE:COLUMN.
import { describe, expect, it } from "vitest";
import { decodeCopsMessage, decodeSipAaaClientSi } from "../../../protocols/cops/index.js";
import type { MessageRecord } from "../../../lib/drivers/message-record.js";
import { runCalls } from "../../../lib/flow/run-calls.js";
import { checkExpectations } from "../../../lib/replay/expectations.js";
import { loadScenarioFile, parseScenario, toRunOptions } from "../../../lib/replay/scenario.js";
import { scenarioRefusal } from "../../support/replay-in-process.js";

const file = "scenarios/media-changes.yaml";

/** The media changes (TLV 9 values) a proxy sent its policy server, in order. */
function mediaChanges(records: MessageRecord[], proxy: string): Array<number | undefined> {
  return records
    .filter((r) => r.proto === "COPS" && r.from === proxy && r.msg === "REQ LDP")
    .map((r) => {
      const m = decodeCopsMessage(r.bytes);
      return m.op === "REQ" ? decodeSipAaaClientSi(m.clientSi[0]!.data).mediaChange : undefined;
    });
}

const text = (r: MessageRecord) => r.bytes.toString("latin1");
const sip = (records: MessageRecord[], from: string, to: string, msg: string) => records.filter((r) => r.proto === "SIP" && r.from === from && r.to === to && r.msg.startsWith(msg));

describe("scenario media-changes: UPDATE, codec, address, a refused change", () => {
  for (const driver of ["memory", "net"] as const)
    it(`${driver} driver: every change asks again (TLV 9), the refused one is 488 with a Reason and the old media stays, installs equal removals, one 40 s CDR per side`, { timeout: 120_000 }, async () => {
      const scenario = loadScenarioFile(file);
      const result = await runCalls(toRunOptions(scenario, { driver }));
      const report = checkExpectations(scenario, result);
      expect(report.failures).toEqual([]);
      const { records } = result;
      // the caller's UPDATE offers PCMA alone, and is answered with it
      const [update] = sip(records, "UAC", "SIP1", "UPDATE");
      expect(text(update!)).toMatch(/^m=audio \d+ RTP\/AVP 8\r$/m);
      expect(sip(records, "UAS", "SIP2", "200 ").some((r) => /CSeq: \d+ UPDATE/.test(text(r)) && /^m=audio \d+ RTP\/AVP 8\r$/m.test(text(r)))).toBe(true);
      // the callee's first move is refused by SIP2 (R2 could not install): 488 with a Reason; the caller never sees it
      const invitesFromUas = sip(records, "UAS", "SIP2", "INVITE");
      expect(invitesFromUas.map((r) => /^c=IN IP4 (\S+)\r$/m.exec(text(r))?.[1])).toEqual(["198.51.100.7", "198.51.100.7"]);
      const [refusal] = sip(records, "SIP2", "UAS", "488 ");
      expect(text(refusal!)).toMatch(/^Reason: SIP;cause=488;text="router R2 could not install the new media"\r$/m);
      expect(sip(records, "SIP1", "UAC", "INVITE")).toHaveLength(1);
      // the old media stayed: the callee's hold by UPDATE still offers its old address, its last re-INVITE the new one
      const [hold] = sip(records, "UAS", "SIP2", "UPDATE");
      expect(text(hold!)).toMatch(/^c=IN IP4 192\.0\.2\.20\r$/m);
      expect(text(hold!)).toMatch(/^a=sendonly\r$/m);
      expect(text(invitesFromUas[1]!)).toMatch(/^a=sendrecv\r$/m);
      // each change is a TLV 9 update; SIP2 also asked for the refused one
      expect(mediaChanges(records, "SIP1")).toEqual([undefined, 1, 2, 3, 4, 5]);
      expect(mediaChanges(records, "SIP2")).toEqual([undefined, 1, 2, 3, 4, 5, 6]);
      for (const [pol, router, refused] of [["POL1", "R1", 0], ["POL2", "R2", 1]] as const) {
        const decs = records.filter((r) => r.proto === "COPS" && r.from === pol && r.to === router);
        expect(records.filter((r) => r.proto === "COPS" && r.from === router && r.msg === "RPT Failure")).toHaveLength(refused);
        expect(decs.filter((r) => r.msg === "DEC Remove").length, router).toBe(decs.filter((r) => r.msg === "DEC Install").length - refused);
      }
      expect(result.leftovers).toEqual({ classifiers: 0, copsRequestStates: 0, pendingTransactions: 0 });
      expect(result.cdrs.map((c) => c.role).sort()).toEqual(["destination", "source"]);
      for (const cdr of result.cdrs) expect(Math.abs(cdr.durationS - 40)).toBeLessThanOrEqual(driver === "memory" ? 0 : 1);
    });
});

describe("scenario reinvites: the new fields refused with line, column and field", () => {
  const base = (entry: string, faults = "") => `name: x\ncalls:\n  - caller: sip:a@example.com\n    callee: sip:b@example.net\n    durationMs: 20000\n    reinvites:\n      - ${entry}\n${faults}`;
  const problems = (yaml: string): string => scenarioRefusal(yaml, "s.yaml");

  it("accepts each and maps them onto the side's planned offers", () => {
    const s = parseScenario(base("{by: caller, afterMs: 5000, hold: false, method: UPDATE, codec: G729, mediaAddress: 203.0.113.9}"));
    expect(toRunOptions(s).calls[0]!.reinvites).toEqual([{ by: "caller", afterMs: 5000, hold: false, method: "UPDATE", codec: "G729", mediaAddress: "203.0.113.9" }]);
  });

  it("an unknown method, an unknown codec, an address that is not IPv4, nth on a policy server", () => {
    expect(problems(base("{by: caller, afterMs: 5000, hold: false, method: INFO}"))).toContain(`s.yaml:7:58: calls[0].reinvites[0].method: must be one of "INVITE", "UPDATE"`);
    expect(problems(base("{by: caller, afterMs: 5000, hold: false, codec: opus}"))).toContain(`s.yaml:7:57: calls[0].reinvites[0].codec: must be one of "PCMU", "PCMA", "G729"`);
    expect(problems(base("{by: caller, afterMs: 5000, hold: false, mediaAddress: 300.1.2.3}"))).toMatch(/s\.yaml:7:64: calls\[0\]\.reinvites\[0\]\.mediaAddress: must match pattern/);
    expect(problems(base("{by: caller, afterMs: 5000, hold: false}", "faults:\n  - {kind: deny, role: POL1, nth: 2}\n"))).toMatch(/s\.yaml:9:24: faults\[0\]\.role: must be one of "R1", "R2"/);
  });
});
