// Policy follows the media through the proxies: a callee's hold and resume by re-INVITE are forwarded in the
// dialog (RFC 3261 §16), and each, changing the flows, is held for a REQ LDP update on the call's handle (TLV 9)
// until the policy server has installed the new classifiers at the router and removed the old ones.
import { describe, expect, it } from "vitest";
import { decodeCopsMessage, decodeSipAaaClientSi } from "../../../protocols/cops/index.js";
import { parseSipMessage, type SipRequest } from "../../../protocols/sip/index.js";
import { MemoryNetwork } from "../../../lib/drivers/memory-network.js";
import type { MessageRecord } from "../../../lib/drivers/message-record.js";
import type { CallEvent } from "../../../lib/flow/call-events.js";
import { buildTopology, resolveTopology } from "../../../lib/flow/topology.js";
import { faultPlanOf } from "../../../lib/flow/run-memory.js";
import type { FaultSpec } from "../../../lib/flow/run-types.js";
import { DefaultPolicyAdapter, type ClassChoice, type ClassQuery, type Decision } from "../../../lib/adapters/policy-adapter.js";

/** Chooses a class for a call's first flows only; later choices never settle, so a media change is refused (DEC LDP no). */
class FirstClassOnly extends DefaultPolicyAdapter {
  chosen = 0;
  override chooseClass(q: ClassQuery): Decision<ClassChoice> {
    return this.chosen++ === 0 ? super.chooseClass(q) : new Promise<ClassChoice>(() => undefined);
  }
}

async function holdAndResume(terminatingPolicy?: DefaultPolicyAdapter, faults: FaultSpec[] = [], midway?: (net: MemoryNetwork<CallEvent>, records: MessageRecord[]) => void): Promise<{ records: MessageRecord[]; topo: ReturnType<typeof buildTopology> }> {
  const call = { caller: "sip:alice@example.com", callee: "sip:bob@example.com", startMs: 100, answerDelayMs: 1000, durationMs: 30_000, hangUp: "caller" as const };
  const topo = buildTopology(resolveTopology({ clearinghouse: "none" }), [call], [], {
    callee: () => ({ outcome: "answer", answerDelayMs: 1000, durationMs: 30_000, hangsUp: false, reinvites: [{ afterMs: 5000, hold: true }, { afterMs: 5000, hold: false }] }),
    ...(terminatingPolicy ? { adapters: { policy: { terminating: terminatingPolicy } } } : {}),
  });
  const records: MessageRecord[] = [];
  const net = new MemoryNetwork<CallEvent>({ onRecord: (r) => records.push(r), faults: faultPlanOf(faults) });
  for (const n of topo.nodes) net.add(n);
  for (const pol of [topo.pol1, topo.pol2]) pol.deliverDecisionsWith((actions) => net.perform(pol.name, actions));
  net.start();
  if (midway !== undefined) {
    await net.run({ untilMs: 8_000 });
    midway(net, records);
  }
  await net.run({ untilMs: 120_000 });
  return { records, topo };
}

const label = (r: MessageRecord) => `${r.from}>${r.to} ${r.msg}`;

describe("SipProxy: a media-changing re-INVITE asks policy again", () => {
  it("hold and resume: each re-INVITE waits at each proxy for REQ LDP (TLV 9) and DEC LDP, the routers get DEC Install then Remove", async () => {
    const { records, topo } = await holdAndResume();
    const invites = records.filter((r) => r.proto === "SIP" && r.msg === "INVITE");
    // the initial INVITE and two re-INVITEs on each of the three hops
    expect(invites.length).toBe(9);
    const reinvites = invites.filter((r) => (parseSipMessage(r.bytes) as SipRequest).to.tag !== undefined);
    expect(reinvites.map(label)).toEqual(["UAS>SIP2 INVITE", "SIP2>SIP1 INVITE", "SIP1>UAC INVITE", "UAS>SIP2 INVITE", "SIP2>SIP1 INVITE", "SIP1>UAC INVITE"]);
    for (const [proxy, pol, router] of [["SIP2", "POL2", "R2"], ["SIP1", "POL1", "R1"]] as const) {
      const changes = records.filter((r) => r.proto === "COPS" && r.from === proxy && r.msg === "REQ LDP").map((r) => decodeCopsMessage(r.bytes));
      expect(changes.length).toBe(3); // setup, hold, resume
      const infos = changes.map((m) => (m.op === "REQ" ? decodeSipAaaClientSi(m.clientSi[0]!.data) : undefined));
      expect(infos.map((i) => i?.mediaChange)).toEqual([undefined, 1, 2]);
      // FIG. 5: both ways at setup; the callee holds (sendonly), so only its flow is left; resumed, both again
      expect(infos.map((i) => i?.flows.length)).toEqual([2, 1, 2]);
      const held = infos[1]!.flows[0]!;
      expect(held.srcAddress).toBe("192.0.2.20");
      // each re-INVITE leaves the proxy only after DEC LDP came back from its policy server
      for (let k = 0; k < 2; k++) {
        const reqAt = records.findIndex((r) => r.proto === "COPS" && r.from === proxy && r.msg === "REQ LDP" && decodeSipAaaClientSi((decodeCopsMessage(r.bytes) as { clientSi: { data: Buffer }[] }).clientSi[0]!.data).mediaChange === k + 1);
        const decAt = records.findIndex((r, i) => i > reqAt && r.proto === "COPS" && r.from === pol && r.to === proxy && r.msg.startsWith("DEC"));
        const fwdAt = records.findIndex((r, i) => i > reqAt && r.proto === "SIP" && r.from === proxy && r.msg === "INVITE");
        expect(reqAt).toBeGreaterThan(-1);
        expect(decAt).toBeGreaterThan(reqAt);
        expect(fwdAt).toBeGreaterThan(decAt);
        expect(records[decAt]!.msg).toBe("DEC LDP");
        // between the REQ and its DEC, the router got the new classifiers and lost the old ones
        const between = records.slice(reqAt, decAt).filter((r) => r.from === pol && r.to === router).map((r) => r.msg);
        expect(between).toEqual(expect.arrayContaining(["DEC Install", "DEC Remove"]));
      }
    }
    // every re-INVITE answered 200 at its sender, the call ended by the caller's BYE, nothing left behind
    const reOks = records.filter((r) => r.proto === "SIP" && r.msg.startsWith("200") && r.to === "UAS");
    expect(reOks.length).toBeGreaterThanOrEqual(2);
    expect(records.filter((r) => r.proto === "SIP" && r.msg === "BYE").length).toBe(3);
    expect(topo.sip1.activeCalls + topo.sip2.activeCalls).toBe(0);
    expect(topo.r1.classifiers.size + topo.r2.classifiers.size).toBe(0);
  });

  it("a change the policy server refuses: 488 to the sender, the request never reaches the other end, the old classifiers stay", async () => {
    const { records, topo } = await holdAndResume(new FirstClassOnly());
    const sip = records.filter((r) => r.proto === "SIP");
    const refusals = sip.filter((r) => r.msg.startsWith("488"));
    // the hold is refused at SIP2, the terminating side's PEP
    expect(refusals.map(label)).toEqual(["SIP2>UAS 488 Not Acceptable Here"]);
    const res = parseSipMessage(refusals[0]!.bytes);
    expect(res.getHeader("Reason")).toMatch(/^SIP;cause=488;text=/);
    // the hold never went past SIP2; the resume offers the media still in force, so it is no change and passes
    // both proxies without asking policy
    const past = sip.filter((r) => r.from === "SIP2" && r.to === "SIP1" && r.msg === "INVITE").map((r) => parseSipMessage(r.bytes) as SipRequest);
    expect(past.filter((r) => r.to.tag !== undefined).map((r) => /a=sendonly/.test(r.body.toString()))).toEqual([false]);
    const changeReqs = records.filter((r) => r.proto === "COPS" && r.msg === "REQ LDP").map((r) => decodeCopsMessage(r.bytes)).filter((m) => m.op === "REQ" && decodeSipAaaClientSi(m.clientSi[0]!.data).mediaChange !== undefined);
    expect(changeReqs).toHaveLength(1);
    // the call went on with its first media and ended as usual, nothing left at the routers
    const toR2 = records.filter((r) => r.from === "POL2" && r.to === "R2").map((r) => r.msg);
    expect(toR2.filter((m) => m === "DEC Install")).toHaveLength(1);
    expect(records.filter((r) => r.proto === "SIP" && r.msg === "BYE").length).toBe(3);
    expect(topo.r1.classifiers.size + topo.r2.classifiers.size).toBe(0);
    expect(topo.sip1.activeCalls + topo.sip2.activeCalls).toBe(0);
  });

  it("an OPTIONS outside a dialog addressed to the proxy: 200 with Allow", async () => {
    const topo = buildTopology(resolveTopology({ clearinghouse: "none" }), []);
    await topo.sip1.handle({ type: "start", now: 0, sip: { host: "127.0.0.1", port: 5071, transport: "UDP" } });
    const options = [
      "OPTIONS sip:127.0.0.1:5071 SIP/2.0",
      "Via: SIP/2.0/UDP 127.0.0.1:40000;branch=z9hG4bKopt1;rport",
      "Max-Forwards: 70",
      "From: <sip:phone@127.0.0.1>;tag=p1",
      "To: <sip:127.0.0.1:5071>",
      "Call-ID: keepalive-1",
      "CSeq: 1 OPTIONS",
      "Content-Length: 0",
      "",
      "",
    ].join("\r\n");
    const out = await topo.sip1.handle({ type: "deliver", now: 1, proto: "SIP", from: "UAC", bytes: Buffer.from(options), source: { host: "127.0.0.1", port: 40000 } });
    const sent = out.flatMap((a) => (a.type === "send" && a.proto === "SIP" ? [parseSipMessage(a.bytes)] : []));
    expect(sent).toHaveLength(1);
    const res = sent[0]!;
    expect("status" in res ? res.status : 0).toBe(200);
    expect(res.getHeader("Allow")?.split(", ")).toEqual(expect.arrayContaining(["INVITE", "UPDATE", "PRACK", "INFO", "MESSAGE", "OPTIONS"]));
    expect(res.to.tag).toBeTruthy();
  });

  it("a policy server slow to answer a change (60 s): 504 at the proxy's wait, the policy asked back to the old media, the late DEC changes nothing, nothing is left", async () => {
    // the second DEC from POL2 to SIP2 (the hold's DEC LDP) comes 60 s late; the proxy waits 10 s
    const { records, topo } = await holdAndResume(undefined, [{ kind: "delay", proto: "COPS", msg: "DEC LDP", from: "POL2", to: "SIP2", nth: 2, delayMs: 60_000 }]);
    const sip = records.filter((r) => r.proto === "SIP");
    const answered = sip.find((r) => r.from === "SIP2" && r.to === "UAS" && r.msg.startsWith("504"));
    expect(answered).toBeDefined();
    expect((parseSipMessage(answered!.bytes) as { cseq: { method: string } }).cseq.method).toBe("INVITE");
    // the hold never went on towards the caller; the resume after it offers the media in force and passes
    const past = sip.filter((r) => r.from === "SIP2" && r.to === "SIP1" && r.msg === "INVITE").map((r) => parseSipMessage(r.bytes).body.toString());
    expect(past.map((b) => /a=sendonly/.test(b))).toEqual([false]);
    // setup, the hold, and back to the media in force (the resume then offers that media: no change)
    const asked = records.filter((r) => r.proto === "COPS" && r.from === "SIP2" && r.msg === "REQ LDP").map((r) => decodeCopsMessage(r.bytes));
    expect(asked.map((m) => (m.op === "REQ" ? decodeSipAaaClientSi(m.clientSi[0]!.data).flows.length : -1))).toEqual([2, 1, 2]);
    expect(topo.sip1.activeCalls + topo.sip2.activeCalls).toBe(0);
    expect(topo.sip1.pendingTransactions + topo.sip2.pendingTransactions).toBe(0);
    expect(topo.r1.classifiers.size + topo.r2.classifiers.size).toBe(0);
  });

  it("a held re-INVITE cancelled before the policy server answers: 487 from the proxy, and the policy goes back to the old media", async () => {
    const { records, topo } = await holdAndResume(undefined, [{ kind: "delay", proto: "COPS", msg: "DEC LDP", from: "POL2", to: "SIP2", nth: 2, delayMs: 2_000 }], (net, recs) => {
      const hold = recs.find((r) => r.proto === "SIP" && r.from === "UAS" && r.msg === "INVITE");
      const req = parseSipMessage(hold!.bytes) as SipRequest;
      const cancel = [
        `CANCEL ${req.uri} SIP/2.0`,
        `Via: ${req.getHeaders("Via")[0]}`,
        "Max-Forwards: 70",
        `From: ${req.getHeader("From")}`,
        `To: ${req.getHeader("To")}`,
        `Call-ID: ${req.callId}`,
        `CSeq: ${req.cseq.seq} CANCEL`,
        "Content-Length: 0",
        "",
        "",
      ].join("\r\n");
      net.perform("UAS", [{ type: "send", proto: "SIP", to: "SIP2", bytes: Buffer.from(cancel), label: "CANCEL", callId: req.callId }]);
    });
    const sip = records.filter((r) => r.proto === "SIP");
    expect(sip.filter((r) => r.from === "SIP2" && r.to === "UAS").map((r) => r.msg)).toEqual(expect.arrayContaining(["200 OK", "487 Request Terminated"]));
    // the hold never went past SIP2 (the UAS's later resume offers the media in force and passes)
    expect(sip.filter((r) => r.to === "UAC" && r.msg === "INVITE" && /a=sendonly/.test(r.bytes.toString()))).toEqual([]);
    const changes = records.filter((r) => r.proto === "COPS" && r.from === "SIP2" && r.msg === "REQ LDP").map((r) => decodeCopsMessage(r.bytes)).flatMap((m) => (m.op === "REQ" ? [decodeSipAaaClientSi(m.clientSi[0]!.data)] : []));
    // setup, the hold (one flow), then back to both flows once the late DEC LDP yes came
    expect(changes.map((c) => [c.mediaChange, c.flows.length])).toEqual([[undefined, 2], [1, 1], [2, 2]]);
    expect(topo.sip1.activeCalls + topo.sip2.activeCalls).toBe(0);
    expect(topo.r1.classifiers.size + topo.r2.classifiers.size).toBe(0);
  });
});
