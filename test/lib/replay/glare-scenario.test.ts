// scenarios/glare.yaml on the in-memory driver: the caller's hold and the callee's codec change cross (RFC 3261
// §14.1). The callee's is refused 491 and ACKed on each hop, and sent again within 0-2 s (the callee does not own the
// Call-ID); the caller's applies first, then the callee's: PCMA, still held. The back-off is drawn from the run's seed,
// so two runs give the same bytes at the same times.
import { describe, expect, it } from "vitest";
import { parseSipMessage, type SipResponse } from "../../../protocols/sip/index.js";
import type { MessageRecord } from "../../../lib/drivers/message-record.js";
import { runCalls } from "../../../lib/flow/run-calls.js";
import { checkExpectations } from "../../../lib/replay/expectations.js";
import { loadScenarioFile, toRunOptions } from "../../../lib/replay/scenario.js";

const scenario = loadScenarioFile("scenarios/glare.yaml");
const sipOf = (r: MessageRecord) => parseSipMessage(r.bytes);
const hop = (records: MessageRecord[], from: string, to: string, msg: string) => records.filter((r) => r.proto === "SIP" && r.from === from && r.to === to && r.msg.startsWith(msg));
const sdpLine = (r: MessageRecord, re: RegExp) => re.exec(sipOf(r).body.toString())?.[0];

describe("scenario glare: two re-INVITEs cross", () => {
  it("the callee's gets 491 on each hop, ACKed there, and is sent again within 2 s; both changes apply; a second run repeats it byte for byte", { timeout: 60_000 }, async () => {
    const result = await runCalls(toRunOptions(scenario));
    expect(checkExpectations(scenario, result).failures).toEqual([]);
    const { records } = result;
    // 491s went to the callee's side only, each ACKed by the hop it was sent to (RFC 3261 §17.1.1.3)
    const refusals = records.filter((r) => r.proto === "SIP" && r.msg.startsWith("491"));
    expect(refusals.map((r) => `${r.from}>${r.to}`)).toEqual(["SIP1>SIP2", "SIP2>UAS"]);
    for (const r of refusals) {
      const at = records.indexOf(r);
      expect(records.slice(at).some((a) => a.proto === "SIP" && a.msg === "ACK" && a.from === r.to && a.to === r.from && sipOf(a).cseq.seq === sipOf(r).cseq.seq), `${r.from}>${r.to}`).toBe(true);
    }
    // the callee's two re-INVITEs: the same offer (PCMA alone, sendrecv; a new o= version), the second 0-2 s after its 491, CSeq one up
    const fromCallee = hop(records, "UAS", "SIP2", "INVITE");
    expect(fromCallee).toHaveLength(2);
    const [first, again] = fromCallee as [MessageRecord, MessageRecord];
    const media = (r: MessageRecord) => sipOf(r).body.toString().split("\r\n").filter((l) => /^(m|c|a)=/.test(l));
    expect(media(again)).toEqual(media(first));
    expect(sdpLine(again, /^m=audio \d+ RTP\/AVP 8\r$/m)).toBeDefined();
    expect(sdpLine(again, /^a=sendrecv\r$/m)).toBeDefined();
    const backOff = again.t - refusals[1]!.t;
    expect(backOff).toBeGreaterThan(0);
    expect(backOff).toBeLessThanOrEqual(2000);
    expect(sipOf(again).cseq.seq).toBe(sipOf(first).cseq.seq + 1);
    // the caller was never refused: its hold went through first, then it answered the callee's PCMA, still holding
    const toCaller = hop(records, "SIP1", "UAC", "INVITE");
    expect(toCaller).toHaveLength(1);
    const answer = hop(records, "UAC", "SIP1", "200").find((r) => (sipOf(r) as SipResponse).cseq.method === "INVITE")!;
    expect(answer.t).toBeGreaterThan(again.t);
    expect(sdpLine(answer, /^m=audio \d+ RTP\/AVP 8\r$/m)).toBeDefined();
    expect(sdpLine(answer, /^a=sendonly\r$/m)).toBeDefined();
    for (const [pol, router] of [["POL1", "R1"], ["POL2", "R2"]] as const) {
      const decs = records.filter((r) => r.proto === "COPS" && r.from === pol && r.to === router).map((r) => r.msg);
      expect(decs.filter((m) => m === "DEC Remove").length, router).toBe(decs.filter((m) => m === "DEC Install").length);
    }
    expect(result.leftovers).toEqual({ classifiers: 0, copsRequestStates: 0, pendingTransactions: 0 });

    const again2 = await runCalls(toRunOptions(scenario));
    expect(again2.records.map((r) => `${r.t} ${r.from}>${r.to} ${r.bytes.toString("base64")}`)).toEqual(records.map((r) => `${r.t} ${r.from}>${r.to} ${r.bytes.toString("base64")}`));
  });
});
