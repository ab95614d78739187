// Reliable provisional responses (RFC 3262) and the policy of the call: the INVITE offers and the reliable 180
// answers, or the INVITE has no offer, the reliable 180 offers and the PRACK answers (§5). In both, each proxy's
// router gets one DEC Install whose classifiers are the agreed session's 5-tuples, and neither the 200 nor the ACK
// installs them again.
import { describe, expect, it } from "vitest";
import { decodeCopsMessage, decodeSipAaaClientSi, parseProvisioningDecision } from "../../../protocols/cops/index.js";
import { parseSipMessage, type SipResponse } from "../../../protocols/sip/index.js";
import { MemoryNetwork } from "../../../lib/drivers/memory-network.js";
import type { MessageRecord } from "../../../lib/drivers/message-record.js";
import type { CallEvent } from "../../../lib/flow/call-events.js";
import { mediaFlows } from "../../../lib/flow/media-flows.js";
import type { CallSpec } from "../../../lib/flow/run-types.js";
import { buildTopology, resolveTopology } from "../../../lib/flow/topology.js";

const PROXIES = [["SIP1", "POL1", "R1"], ["SIP2", "POL2", "R2"]] as const;

async function run(call: Partial<CallSpec>): Promise<{ records: MessageRecord[]; topo: ReturnType<typeof buildTopology> }> {
  const spec: CallSpec = { caller: "sip:alice@example.com", callee: "sip:bob@example.com", startMs: 100, answerDelayMs: 1000, durationMs: 20_000, hangUp: "caller", require100rel: true, ...call };
  const topo = buildTopology(resolveTopology({}), [spec], []);
  const records: MessageRecord[] = [];
  const net = new MemoryNetwork<CallEvent>({ onRecord: (r) => records.push(r) });
  for (const n of topo.nodes) net.add(n);
  for (const pol of [topo.pol1, topo.pol2]) pol.deliverDecisionsWith((actions) => net.perform(pol.name, actions));
  net.start();
  await net.run({ untilMs: 120_000 });
  return { records, topo };
}

const sipOf = (r: MessageRecord) => parseSipMessage(r.bytes);
const hop = (records: MessageRecord[], from: string, to: string, msg: string) => records.filter((r) => r.proto === "SIP" && r.from === from && r.to === to && r.msg.startsWith(msg));

/** The 5-tuples ("src:port>dst:port", sorted) each DEC Install a policy server sent its router carried. */
function installsAt(records: MessageRecord[], pol: string, router: string): Array<{ at: number; tuples: string[] }> {
  return records.flatMap((r, at) => {
    if (r.proto !== "COPS" || r.from !== pol || r.to !== router || r.msg !== "DEC Install") return [];
    const dec = parseProvisioningDecision(decodeCopsMessage(r.bytes));
    return [{ at, tuples: dec.install.map((f) => `${f.srcAddress}:${f.srcPort}>${f.dstAddress}:${f.dstPort}`).sort() }];
  });
}

/** Each REQ LDP a proxy sent: its media change number (TLV 9, undefined at setup) and how many flows it named. */
function ldpsAt(records: MessageRecord[], proxy: string): Array<{ at: number; change: number | undefined; flows: number }> {
  return records.flatMap((r, at) => {
    if (r.proto !== "COPS" || r.from !== proxy || r.msg !== "REQ LDP") return [];
    const m = decodeCopsMessage(r.bytes);
    const info = m.op === "REQ" ? decodeSipAaaClientSi(m.clientSi[0]!.data) : undefined;
    return info === undefined ? [] : [{ at, change: info.mediaChange, flows: info.flows.length }];
  });
}

function expectEndedClean(records: MessageRecord[], topo: ReturnType<typeof buildTopology>): void {
  for (const [, pol, router] of PROXIES) {
    const decs = records.filter((r) => r.proto === "COPS" && r.from === pol && r.to === router).map((r) => r.msg);
    expect(decs.filter((m) => m === "DEC Remove").length, router).toBe(decs.filter((m) => m === "DEC Install").length);
  }
  expect(records.filter((r) => r.proto === "OSP" && r.msg === "UsageIndication").map((r) => r.from).sort()).toEqual(["POL1", "POL2"]);
  expect(hop(records, "SIP1", "UAC", "200").filter((r) => (sipOf(r) as SipResponse).cseq.method === "BYE")).toHaveLength(1);
  expect(topo.r1.classifiers.size + topo.r2.classifiers.size).toBe(0);
  expect(topo.sip1.activeCalls + topo.sip2.activeCalls).toBe(0);
}

describe("SipProxy with reliable provisionals (RFC 3262): the policy follows the offer and answer wherever they go", () => {
  it("the INVITE offers, the reliable 180 answers: REQ LDP at the 180 names both ways, one DEC Install per router with those 5-tuples, the 200 and ACK install nothing more", async () => {
    const { records, topo } = await run({});
    const invite = hop(records, "UAC", "SIP1", "INVITE")[0]!;
    expect(invite.bytes.toString()).toMatch(/\r\nRequire: 100rel\r\n/);
    const ringing = hop(records, "SIP1", "UAC", "180")[0]!;
    expect((sipOf(ringing) as SipResponse).getHeader("RSeq")).toBeDefined();
    const agreed = mediaFlows(sipOf(invite).body.toString(), sipOf(ringing).body.toString()).map((f) => `${f.src.address}:${f.src.port}>${f.dst.address}:${f.dst.port}`).sort();
    expect(agreed).toHaveLength(2);
    // the 200 has no SDP (the answer went in the 180), the PRACK passed both proxies and was answered
    expect(sipOf(hop(records, "SIP1", "UAC", "200").find((r) => (sipOf(r) as SipResponse).cseq.method === "INVITE")!).body.length).toBe(0);
    expect(hop(records, "SIP2", "UAS", "PRACK")).toHaveLength(1);
    for (const [proxy, pol, router] of PROXIES) {
      expect(ldpsAt(records, proxy).map((l) => [l.change, l.flows]), proxy).toEqual([[undefined, 2]]);
      expect(installsAt(records, pol, router).map((i) => i.tuples), router).toEqual([agreed]);
    }
    expectEndedClean(records, topo);
  });

  it("late offer: the INVITE has none, the reliable 180 offers, the PRACK answers; each proxy asks for the PRACK's flows (TLV 9 1) once its 200 passed, one DEC Install per router with the agreed 5-tuples, none at the 200 or ACK", async () => {
    const { records, topo } = await run({ lateOffer: true });
    for (const r of records.filter((x) => x.proto === "SIP" && x.msg === "INVITE")) expect(sipOf(r).body.length).toBe(0);
    const offer = sipOf(hop(records, "SIP1", "UAC", "180")[0]!).body.toString();
    expect(offer).toMatch(/^m=audio [1-9]\d* RTP\/AVP /m);
    const pracks = hop(records, "UAC", "SIP1", "PRACK");
    expect(pracks).toHaveLength(1);
    const answer = sipOf(pracks[0]!).body.toString();
    expect(answer).toMatch(/^m=audio [1-9]\d* RTP\/AVP /m);
    // RFC 3262 §5: the session is the 180's offer and the PRACK's answer; the 200 and ACK carry no SDP
    const agreed = mediaFlows(answer, offer).map((f) => `${f.src.address}:${f.src.port}>${f.dst.address}:${f.dst.port}`).sort();
    expect(agreed).toHaveLength(2);
    const ok = hop(records, "SIP1", "UAC", "200").find((r) => (sipOf(r) as SipResponse).cseq.method === "INVITE")!;
    expect(sipOf(ok).body.length).toBe(0);
    for (const a of records.filter((r) => r.proto === "SIP" && r.msg === "ACK")) expect(sipOf(a).body.length).toBe(0);
    for (const [proxy, pol, router] of PROXIES) {
      const ldps = ldpsAt(records, proxy);
      // the 180's REQ LDP names no flow (no answer yet); the PRACK's answer is change 1 with both ways
      expect(ldps.map((l) => [l.change, l.flows]), proxy).toEqual([[undefined, 0], [1, 2]]);
      const prackOk = records.findIndex((r) => r.proto === "SIP" && r.to === proxy && r.msg.startsWith("200") && (sipOf(r) as SipResponse).cseq.method === "PRACK");
      expect(ldps[1]!.at, proxy).toBeGreaterThan(prackOk);
      const installs = installsAt(records, pol, router);
      expect(installs.map((i) => i.tuples), router).toEqual([agreed]);
      expect(installs[0]!.at, router).toBeGreaterThan(ldps[1]!.at);
      // the change was agreed: DEC LDP yes
      const dec = records.find((r, i) => i > ldps[1]!.at && r.proto === "COPS" && r.from === pol && r.to === proxy && r.msg.startsWith("DEC"));
      const m = decodeCopsMessage(dec!.bytes);
      expect(m.op === "DEC" && m.decisions[0]?.command, proxy).toBe(1);
    }
    // the callee took the answer: it neither refused the INVITE nor ended the call itself
    expect(records.some((r) => r.proto === "SIP" && r.from === "UAS" && r.msg === "BYE")).toBe(false);
    expectEndedClean(records, topo);
  });
});
