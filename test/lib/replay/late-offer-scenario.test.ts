// scenarios/late-offer.yaml through `callgate replay` on both drivers: an INVITE without SDP answered in the ACK
// (RFC 3261 §13.2.1), and one that requires 100rel, whose reliable 180 offers and whose PRACK answers (RFC 3262 §5).
// Each router gets one DEC Install, after the answer passed its proxy, carrying the agreed 5-tuples; the teardown is
// FIG. 6 under check-ladder.mjs; one usage record per side. The new call fields are refused at their line.
import { describe, expect, it } from "vitest";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeCopsMessage, decodeSipAaaClientSi, parseProvisioningDecision } from "../../../protocols/cops/index.js";
import { parseSipMessage, type SipResponse } from "../../../protocols/sip/index.js";
import type { MessageRecord } from "../../../lib/drivers/message-record.js";
import { mediaFlows } from "../../../lib/flow/media-flows.js";
import { runCheckLadderTool } from "../../../lib/replay/check-ladder-tool.js";
import { mirrorLadder, splitCallLadder, writeJsonLines } from "../../../lib/replay/ladder-json.js";
import { parseScenario, toRunOptions } from "../../../lib/replay/scenario.js";
import { replayScenarioWithResult, scenarioRefusal } from "../../support/replay-in-process.js";

const file = join("scenarios", "late-offer.yaml");
const dir = mkdtempSync(join(tmpdir(), "callgate-late-offer-"));
const PROXIES = [["SIP1", "POL1", "R1"], ["SIP2", "POL2", "R2"]] as const;

const sipOf = (r: MessageRecord) => parseSipMessage(r.bytes);
const isSip = (r: MessageRecord, from: string, to: string, msg: string) => r.proto === "SIP" && r.from === from && r.to === to && r.msg.startsWith(msg);
const answers = (r: MessageRecord, method: string) => /^\d{3} /.test(r.msg) && (sipOf(r) as SipResponse).cseq.method === method;
const tuplesOf = (flows: ReturnType<typeof mediaFlows>) => flows.map((f) => `${f.src.address}:${f.src.port}>${f.dst.address}:${f.dst.port}`).sort();

/** Each DEC Install a policy server sent its router: where in the call's records, and its 5-tuples. */
function installs(records: MessageRecord[], pol: string, router: string): Array<{ at: number; tuples: string[] }> {
  return records.flatMap((r, at) => {
    if (r.proto !== "COPS" || r.from !== pol || r.to !== router || r.msg !== "DEC Install") return [];
    const dec = parseProvisioningDecision(decodeCopsMessage(r.bytes));
    return [{ at, tuples: dec.install.map((f) => `${f.srcAddress}:${f.srcPort}>${f.dstAddress}:${f.dstPort}`).sort() }];
  });
}

/** The REQ LDPs a proxy sent: its media change number (TLV 9; undefined for the 180's) and how many flows it named. */
function ldps(records: MessageRecord[], proxy: string): Array<[number | undefined, number]> {
  return records.flatMap((r): Array<[number | undefined, number]> => {
    if (r.proto !== "COPS" || r.from !== proxy || r.msg !== "REQ LDP") return [];
    const m = decodeCopsMessage(r.bytes);
    if (m.op !== "REQ") return [];
    const info = decodeSipAaaClientSi(m.clientSi[0]!.data);
    return [[info.mediaChange, info.flows.length]];
  });
}

const replay = (driver: "memory" | "net") => replayScenarioWithResult(file, driver);

describe("scenario late-offer: the policy is installed from the answer in the ACK or the PRACK", () => {
  for (const driver of ["memory", "net"] as const)
    it(`${driver} driver: INVITEs without SDP, one DEC Install per router after the answer with its 5-tuples, FIG. 6 teardowns, one CDR per side`, { timeout: 60_000 }, async () => {
      const { code, stdout, stderr, result } = await replay(driver);
      expect(stderr).toBe("");
      expect(stdout).toMatch(/expectations: all 15 hold/);
      expect(code).toBe(0);
      const byId = new Map(result.calls.map((c) => [c.spec.id, c]));
      for (const [id, reliable] of [["late-offer-ack", false], ["late-offer-100rel", true]] as const) {
        const call = byId.get(id)!;
        const records = result.records.filter((r) => r.callId === call.callId);
        // no INVITE on any hop carries an offer
        const invites = records.filter((r) => r.proto === "SIP" && r.msg === "INVITE");
        expect(invites.map((r) => `${r.from}>${r.to}`), id).toEqual(["UAC>SIP1", "SIP1>SIP2", "SIP2>UAS"]);
        for (const r of invites) expect(sipOf(r).body.length, id).toBe(0);
        if (reliable) expect(sipOf(invites[0]!).getHeader("Require"), id).toBe("100rel");
        // where the callee's offer and the caller's answer went: the 200 and the ACK, or the reliable 180 and the PRACK
        const offerAt = records.find((r) => isSip(r, "SIP1", "UAC", reliable ? "180" : "200") && answers(r, "INVITE"))!;
        const answerAt = records.find((r) => isSip(r, "UAC", "SIP1", reliable ? "PRACK" : "ACK"))!;
        if (reliable) expect((sipOf(offerAt) as SipResponse).getHeader("RSeq"), id).toBeDefined();
        const offer = sipOf(offerAt).body.toString();
        const answer = sipOf(answerAt).body.toString();
        expect(offer, id).toMatch(/^m=audio [1-9]\d* RTP\/AVP /m);
        expect(answer, id).toMatch(/^m=audio [1-9]\d* RTP\/AVP /m);
        const agreed = tuplesOf(mediaFlows(answer, offer));
        expect(agreed, id).toHaveLength(2);
        // with 100rel the 200 and the ACK carry no SDP: the session was agreed in the 180 and the PRACK
        if (reliable)
          for (const r of records.filter((x) => x.proto === "SIP" && (x.msg === "ACK" || (answers(x, "INVITE") && x.msg.startsWith("200")))))
            expect(sipOf(r).body.length, `${id} ${r.from}>${r.to} ${r.msg}`).toBe(0);
        for (const [proxy, pol, router] of PROXIES) {
          // the 180's REQ LDP names no flow; the answer's is media change 1 with both directions
          expect(ldps(records, proxy), `${id} ${proxy}`).toEqual([[undefined, 0], [1, 2]]);
          // the answer passed this proxy before its router was given anything (the ACK it relayed, or the PRACK's 200)
          const passed = records.findIndex((r) => (reliable ? r.proto === "SIP" && r.from === proxy && r.msg.startsWith("200") && answers(r, "PRACK") : isSip(r, proxy, proxy === "SIP1" ? "SIP2" : "UAS", "ACK")));
          expect(passed, `${id} ${proxy}`).toBeGreaterThanOrEqual(0);
          const given = installs(records, pol, router);
          expect(given.map((i) => i.tuples), `${id} ${router}`).toEqual([agreed]);
          expect(given[0]!.at, `${id} ${router}`).toBeGreaterThan(passed);
          const decs = records.filter((r) => r.proto === "COPS" && r.from === pol && r.to === router);
          expect(decs.filter((r) => r.msg === "DEC Remove").length, `${id} ${router}`).toBe(1);
        }
        // FIG. 6 (mirrored for the callee's BYE) under the reference checker
        const { teardown } = splitCallLadder(records);
        const ladder = join(dir, `${driver}.${id}.teardown.jsonl`);
        writeJsonLines(ladder, call.spec.hangUp === "callee" ? mirrorLadder(teardown) : teardown);
        const verdict = runCheckLadderTool(ladder, "teardown");
        expect(verdict.output, id).toMatch(/all 18 steps in causal order/);
        expect(verdict.ok, id).toBe(true);
        const cdrs = result.cdrs.filter((c) => c.callId === call.callId);
        expect(cdrs.map((c) => c.role).sort(), id).toEqual(["destination", "source"]);
        for (const cdr of cdrs) expect(Math.abs(cdr.durationS - 3), id).toBeLessThanOrEqual(driver === "memory" ? 0 : 1);
      }
      expect(result.leftovers).toEqual({ classifiers: 0, copsRequestStates: 0, pendingTransactions: 0 });
    });
});

describe("scenario lateOffer and require100rel: parsed onto the call, refused with line, column and field", () => {
  const call = (fields: string) => `name: x\ncalls:\n  - caller: sip:a@example.com\n    callee: sip:b@example.net\n${fields}`;
  const problems = (yaml: string): string => scenarioRefusal(yaml, "s.yaml");

  it("both flags reach the call spec; absent, neither is set", () => {
    const [late] = toRunOptions(parseScenario(call("    lateOffer: true\n    require100rel: true\n"))).calls;
    expect([late!.lateOffer, late!.require100rel]).toEqual([true, true]);
    const [plain] = toRunOptions(parseScenario(call(""))).calls;
    expect([plain!.lateOffer, plain!.require100rel]).toEqual([undefined, undefined]);
  });

  it("a value that is not a boolean, and a misspelt name", () => {
    expect(problems(call("    lateOffer: yes please\n"))).toBe("s.yaml:5:16: calls[0].lateOffer: must be boolean");
    expect(problems(call("    require100rel: 1\n"))).toBe("s.yaml:5:20: calls[0].require100rel: must be boolean");
    expect(problems(call("    require100Rel: true\n"))).toBe("s.yaml:5:5: calls[0].require100Rel: unknown field 'require100Rel'");
  });
});
