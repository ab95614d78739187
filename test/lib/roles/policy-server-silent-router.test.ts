// A router that stops answering (its RPT never comes, RFC 2748 §2.3): the policy server gives up on it after a
// deadline instead of waiting forever, so the call's later requests (the proxy's put-back after its 504, the end of
// the call) are answered in order, each policy server writes the call's one usage record, and no classifier, COPS
// request state or call is left at any role. Runs the nine roles in memory with R1's answers dropped.
import { describe, expect, it } from "vitest";
import { decodeCopsMessage, decodeSipAaaClientSi, parseProvisioningDecision } from "../../../protocols/cops/index.js";
import type { MessageRecord } from "../../../lib/drivers/message-record.js";
import { runCalls } from "../../../lib/flow/run-calls.js";
import type { CallSpec, FaultSpec, RunResult } from "../../../lib/flow/run-types.js";

const call: CallSpec = {
  caller: "sip:alice@example.com", callee: "sip:bob@example.com", startMs: 100, answerDelayMs: 500, durationMs: 40_000, hangUp: "caller",
  reinvites: [{ by: "caller", afterMs: 2_000, hold: true }],
};

/** R1's nth solicited report to POL1 (1: its configuration's, 2: the call's installation, …) lost. */
const lostReport = (nth: number): FaultSpec => ({ kind: "drop", proto: "COPS", msg: "RPT Success", from: "R1", to: "POL1", nth });

async function run(faults: FaultSpec[], spec: CallSpec = call): Promise<RunResult> {
  return runCalls({ driver: "memory", topology: { signedTokens: false }, calls: [spec], faults });
}

const labels = (r: RunResult, from: string, to: string): string[] => r.records.filter((m) => m.from === from && m.to === to && m.proto !== "RTP").map((m) => m.msg);

/** The TLV 9 numbers of the REQ LDP media changes a proxy sent. */
function changes(records: MessageRecord[], proxy: string): number[] {
  return records.flatMap((r) => {
    if (r.proto !== "COPS" || r.from !== proxy || r.msg !== "REQ LDP") return [];
    const m = decodeCopsMessage(r.bytes);
    const change = m.op === "REQ" ? decodeSipAaaClientSi(m.clientSi[0]!.data).mediaChange : undefined;
    return change === undefined ? [] : [change];
  });
}

/** Every REQ a proxy sent its policy server got a DEC back (RFC 2748 §3.3: a DEC answers each REQ in turn). */
/** The 5-tuples of each DEC Install POL1 sent R1, in order. */
function installs(records: MessageRecord[]): string[][] {
  return records.filter((m) => m.from === "POL1" && m.to === "R1" && m.msg === "DEC Install").map((m) =>
    parseProvisioningDecision(decodeCopsMessage(m.bytes)).install.map((f) => `${f.srcAddress}:${f.srcPort}>${f.dstAddress}:${f.dstPort}`).sort());
}

function everyRequestAnswered(r: RunResult, proxy: string, pdp: string): void {
  const reqs = labels(r, proxy, pdp).filter((l) => l.startsWith("REQ"));
  const decs = labels(r, pdp, proxy).filter((l) => l.startsWith("DEC"));
  expect(decs.length).toBe(reqs.length);
}

function nothingLeft(r: RunResult): void {
  expect(r.leftovers).toEqual({ classifiers: 0, copsRequestStates: 0, pendingTransactions: 0 });
  // The clearinghouse stored one usage record from each policy server (POL1 the source's, POL2 the destination's).
  expect(r.cdrs.map((c) => c.role).sort()).toEqual(["destination", "source"]);
  // Each sent once and confirmed: nothing merged, nothing repeated.
  const usage = r.records.filter((m) => m.proto === "OSP" && m.msg === "UsageIndication").map((m) => m.from).sort();
  expect(usage).toEqual(["POL1", "POL2"]);
}

describe("a router that never answers", () => {
  it("the held change's report lost: the caller gets 504, SIP1 asks back to the old media, the BYE ends the call at every role with one usage record per side", async () => {
    const r = await run([lostReport(3)]);
    const uac = r.records.filter((m) => m.proto === "SIP" && m.from === "SIP1" && m.to === "UAC").map((m) => m.msg);
    expect(uac).toContain("504 Server Time-out");
    expect(changes(r.records, "SIP1")).toEqual([1, 2]);
    expect(labels(r, "SIP1", "POL1")).toContain("REQ noLDP");
    expect(labels(r, "POL1", "SIP1")).toContain("DEC noLDP");
    everyRequestAnswered(r, "SIP1", "POL1");
    everyRequestAnswered(r, "SIP2", "POL2");
    expect(r.cdrs.find((c) => c.role === "source")?.durationS).toBe(40);
    nothingLeft(r);
  });

  it("the call's first installation never reported: after the deadline the call is refused 503 at SIP1 (its 2xx held, the callee hung up), what R1 may hold is removed, both sides report usage once", async () => {
    const r = await run([lostReport(2)]);
    expect(r.calls[0]?.finalStatusAtCaller).toBe(503);
    const toRouter = r.records.filter((m) => m.from === "POL1" && m.to === "R1" && (m.msg === "DEC Install" || m.msg === "DEC Remove"));
    expect(toRouter.map((m) => m.msg)).toEqual(["DEC Install", "DEC Remove"]);
    expect(toRouter[1]!.t - toRouter[0]!.t).toBe(15_000); // the report's deadline, then its classifiers taken out
    const decs = labels(r, "POL1", "SIP1").filter((l) => l.startsWith("DEC"));
    expect(decs).toEqual(["DEC AAA", "DEC LDP"]);
    everyRequestAnswered(r, "SIP1", "POL1");
    everyRequestAnswered(r, "SIP2", "POL2");
    nothingLeft(r);
    expect(r.cdrs.find((c) => c.role === "source")?.durationS).toBe(0); // never in conversation on the caller's side
  });

  it("the put-back answered but the removal at the call's end never reported: DEC noLDP and POL1's usage record after the deadline, the removal sent again and answered", async () => {
    // R1's reports: configuration, installation, the held change (lost), removal of its classifiers, the put-back's
    // installation, removal of the replaced ones, then the call's end (lost).
    const r = await run([lostReport(3), lostReport(7)]);
    expect(changes(r.records, "SIP1")).toEqual([1, 2]);
    const removals = r.records.filter((m) => m.from === "POL1" && m.to === "R1" && m.msg === "DEC Remove");
    const bye = r.records.find((m) => m.from === "UAC" && m.msg === "BYE")!;
    const afterBye = removals.filter((m) => m.t >= bye.t);
    expect(afterBye).toHaveLength(2); // the call's removal, and the same again once its deadline passed
    const noLdp = r.records.find((m) => m.from === "POL1" && m.to === "SIP1" && m.msg === "DEC noLDP")!;
    expect(noLdp.t - bye.t).toBeGreaterThanOrEqual(15_000);
    expect(noLdp.t - bye.t).toBeLessThan(16_000);
    everyRequestAnswered(r, "SIP1", "POL1");
    nothingLeft(r);
    expect(r.cdrs.find((c) => c.role === "source")?.durationS).toBe(40); // the conversation as SIP1 saw it
  });

  it("the held change's report late (after SIP1's 504, before the deadline): the put-back waits its turn, then the old media's classifiers go back in", async () => {
    const late: FaultSpec = { kind: "delay", proto: "COPS", msg: "RPT Success", from: "R1", to: "POL1", nth: 3, delayMs: 13_000 };
    const r = await run([late]);
    const uac = r.records.filter((m) => m.proto === "SIP" && m.from === "SIP1" && m.to === "UAC").map((m) => m.msg);
    expect(uac).toContain("504 Server Time-out");
    expect(changes(r.records, "SIP1")).toEqual([1, 2]);
    const [setup, held, putBack] = installs(r.records);
    expect(installs(r.records)).toHaveLength(3);
    expect(held).not.toEqual(setup);
    expect(putBack).toEqual(setup);
    // each REQ answered in turn: the change (done late), the put-back (taken up after it), the end
    expect(labels(r, "POL1", "SIP1").filter((l) => l.startsWith("DEC"))).toEqual(["DEC AAA", "DEC LDP", "DEC LDP", "DEC LDP", "DEC noLDP"]);
    everyRequestAnswered(r, "SIP1", "POL1");
    nothingLeft(r);
  });
});
