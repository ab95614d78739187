// The proxy's media-change limits over the wire, through callgate lab on real sockets (sip.js over the lab's own
// WebSocket listener): at most 10 media changes per call per minute, the 11th re-INVITE answered 503 with
// Retry-After and counted once; and a held change whose decision never comes (the edge router never reports the
// new classifiers installed, so its policy server never answers DEC LDP) answered 504 with a Reason after 10 s,
// the old media kept and the call ended by its BYE: its policy server gives up on the router's report after its own
// deadline, takes out what the router may hold and reports the call's usage, so no role keeps the call.
import { afterEach, describe, expect, it } from "vitest";
import { FaultPlan } from "../../lib/drivers/fault-plan.js";
import { startLab, type Lab } from "../../lib/flow/lab.js";
import { directionsAtUas, mediaChanges, sipjsCall } from "./sipjs-helpers.js";

let lab: Lab | undefined;
afterEach(async () => {
  await lab?.close();
  lab = undefined;
});

/** Waits (up to 15 s) until `from` have each had their usage record of the call confirmed. */
async function usageConfirmed(l: Lab, callId: string, from: string[] = ["POL1", "POL2"]): Promise<void> {
  const done = () => from.every((pol) => l.records.some((r) => r.callId === callId && r.proto === "OSP" && r.msg === "UsageConfirmation" && r.to === pol));
  await until(done, 15_000);
}

/** Polls `ok` until it holds or `ms` pass. */
async function until(ok: () => boolean, ms: number): Promise<void> {
  for (const end = performance.now() + ms; !ok() && performance.now() < end; ) await new Promise((r) => setTimeout(r, 50));
}

describe("media-change limits through callgate lab", () => {
  it("12 re-INVITEs within a minute: the first 10 reach the UAS and its policy, the 11th and 12th get 503 with Retry-After from SIP1, each counted, logged once; the call still ends with one usage record per side", async () => {
    const logged: string[] = [];
    lab = await startLab({ answerDelayMs: 50, keepRecords: true, wsPort: 0, onEvent: (e) => e.type === "error" && logged.push(e.message) });
    const sip1Port = Number(lab.endpoints.SIP1?.sip?.split(":")[1]);
    const call = await sipjsCall(lab.endpoints.SIP1!.ws!, `sip:bob@127.0.0.1:${sip1Port}`);
    const answers: Array<{ status: number; retryAfter?: string; reason?: string }> = [];
    // hold, resume, … : each a media change; the 11th (hold) is refused, so the 12th holds again
    for (let i = 1; i <= 12; i++) answers.push(await call.reinvite(i % 2 === 1 || i === 12));
    expect(answers.slice(0, 10).map((a) => a.status)).toEqual(Array(10).fill(200));
    const refused = answers[10]!;
    expect(refused.status).toBe(503);
    expect(Number(refused.retryAfter)).toBeGreaterThan(0);
    expect(Number(refused.retryAfter)).toBeLessThanOrEqual(60);
    expect(refused.reason).toMatch(/cause=503/);
    expect(answers[11]!.status).toBe(503); // a 12th too: counted again, logged no more
    expect(await call.hangUp()).toBe(200);
    await call.stop();
    await usageConfirmed(lab, call.callId);

    const records = lab.records;
    // the UAS saw the setup and the 10 allowed changes only; the 11th never left SIP1
    expect(directionsAtUas(records, call.callId)).toHaveLength(11);
    const fromSip1 = records.filter((r) => r.callId === call.callId && r.from === "SIP1" && r.to === "UAC" && r.msg.startsWith("503 "));
    expect(fromSip1).toHaveLength(2);
    expect(mediaChanges(records, call.callId, "SIP1", "POL1", "R1").map((c) => c.change)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(lab.topology.sip1.refusedMediaChanges).toBe(2);
    expect(logged.filter((m) => m.startsWith("media-change-rate:"))).toHaveLength(1);
    expect(records.filter((r) => r.callId === call.callId && r.proto === "OSP" && r.msg === "UsageIndication").map((r) => r.from).sort()).toEqual(["POL1", "POL2"]);
    expect(lab.stats().callsNotEnded).toEqual([]);
  }, 90_000);

  it("a change whose DEC LDP never comes (R1 never reports the new classifiers): 504 with a Reason after 10 s, the UAS never sees the change, SIP1 asks back to the old media, the BYE ends the call", async () => {
    // R1's RPTs: the configuration's, the call's installation, then the held change's installation: lost.
    const faults = new FaultPlan([{ kind: "drop", proto: "COPS", msg: "RPT Success", from: "R1", to: "POL1", nth: 3 }]);
    lab = await startLab({ answerDelayMs: 50, keepRecords: true, wsPort: 0, faults });
    const sip1Port = Number(lab.endpoints.SIP1?.sip?.split(":")[1]);
    const call = await sipjsCall(lab.endpoints.SIP1!.ws!, `sip:bob@127.0.0.1:${sip1Port}`);
    const started = performance.now();
    const held = await call.reinvite(true);
    const waitedMs = performance.now() - started;
    expect(held.status).toBe(504);
    expect(held.reason).toMatch(/cause=504/);
    expect(waitedMs).toBeGreaterThanOrEqual(9_900);
    expect(await call.hangUp()).toBe(200);
    await call.stop();
    // POL1 waits for R1's report on the held change up to its deadline (15 s from the change), then ends the call.
    await usageConfirmed(lab, call.callId, ["POL2"]);
    const topo = lab.topology;
    const released = () => topo.r1.classifiers.size === 0 && topo.pol1.activeCalls === 0 && topo.sip1.activeCalls === 0 && topo.pol1.copsRequestStates === 0 && topo.sip1.copsRequestStates === 0;
    await until(() => released() && lab!.records.some((r) => r.callId === call.callId && r.msg === "UsageConfirmation" && r.to === "POL1"), 30_000);

    const records = lab.records;
    // the old media stays: the UAS got the setup's offer only, and SIP2's policy never heard of the change
    expect(directionsAtUas(records, call.callId)).toEqual(["sendrecv"]);
    expect(lab.topology.sip1.unansweredMediaChanges).toBe(1);
    expect(mediaChanges(records, call.callId, "SIP2", "POL2", "R2")).toEqual([]);
    // SIP1 asked its policy server for the change (TLV 9 1), then back to the media in force (TLV 9 2)
    expect(mediaChanges(records, call.callId, "SIP1", "POL1", "R1").map((c) => c.change)).toEqual([1, 2]);
    const refusal = records.find((r) => r.callId === call.callId && r.from === "SIP1" && r.to === "UAC" && r.msg.startsWith("504 "));
    expect(refusal?.bytes.toString("latin1")).toMatch(/^Reason: SIP;cause=504;text="[^"]+"\r?$/m);
    // one usage record per side, each confirmed once: POL1's (the call's whole conversation) after R1's deadline
    const usage = records.filter((r) => r.callId === call.callId && r.proto === "OSP" && r.msg === "UsageIndication");
    expect(usage.map((r) => r.from).sort()).toEqual(["POL1", "POL2"]);
    expect(records.filter((r) => r.callId === call.callId && r.msg === "UsageConfirmation").map((r) => r.to).sort()).toEqual(["POL1", "POL2"]);
    // every REQ of SIP1 answered in turn: AAA, LDP, the change (refused), the put-back (the call was ending), noLDP
    const reqs = records.filter((r) => r.callId === call.callId && r.from === "SIP1" && r.to === "POL1" && r.msg.startsWith("REQ"));
    const decs = records.filter((r) => r.callId === call.callId && r.from === "POL1" && r.to === "SIP1" && r.msg.startsWith("DEC"));
    expect(decs.map((r) => r.msg)).toEqual(reqs.map((r) => r.msg.replace("REQ", "DEC")));
    expect(decs.at(-1)?.msg).toBe("DEC noLDP");
    // nothing left: R1 holds no classifier, SIP1 and POL1 no call and no COPS request state
    expect(topo.r1.classifiers.size).toBe(0);
    expect([topo.sip1.activeCalls, topo.pol1.activeCalls, topo.sip1.copsRequestStates, topo.pol1.copsRequestStates]).toEqual([0, 0, 0, 0]);
    expect(lab.stats().callsNotEnded).toEqual([]);
  }, 90_000);
});
