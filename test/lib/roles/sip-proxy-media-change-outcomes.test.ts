// What becomes of a media change past the proxies' policy: two offers that cross (glare, RFC 3261 §14.1), an offer
// in the 2xx answered in the ACK (late offer, §13.2.1), and a change the far end refuses after both proxies had it
// installed (RFC 3264 §8: the old session stays). In each, the policy the proxies leave in force is the session's.
import { describe, expect, it } from "vitest";
import { decodeCopsMessage, decodeSipAaaClientSi, type SipAaaMediaFlow } from "../../../protocols/cops/index.js";
import { parseSipMessage, type SipRequest, type SipResponse } from "../../../protocols/sip/index.js";
import { MemoryNetwork } from "../../../lib/drivers/memory-network.js";
import type { MessageRecord } from "../../../lib/drivers/message-record.js";
import type { CallEvent } from "../../../lib/flow/call-events.js";
import { mediaFlows, type MediaFlow } from "../../../lib/flow/media-flows.js";
import type { CallSpec } from "../../../lib/flow/run-types.js";
import { buildTopology, resolveTopology } from "../../../lib/flow/topology.js";

const PROXIES = [["SIP1", "POL1", "R1"], ["SIP2", "POL2", "R2"]] as const;

async function run(call: Partial<CallSpec>): Promise<{ records: MessageRecord[]; events: CallEvent[]; topo: ReturnType<typeof buildTopology> }> {
  const spec: CallSpec = { caller: "sip:alice@example.com", callee: "sip:bob@example.com", startMs: 100, answerDelayMs: 1000, durationMs: 30_000, hangUp: "caller", ...call };
  const topo = buildTopology(resolveTopology({}), [spec], []);
  const records: MessageRecord[] = [];
  const events: CallEvent[] = [];
  const net = new MemoryNetwork<CallEvent>({ onRecord: (r) => records.push(r), onEmit: (_node, e) => events.push(e) });
  for (const n of topo.nodes) net.add(n);
  for (const pol of [topo.pol1, topo.pol2]) pol.deliverDecisionsWith((actions) => net.perform(pol.name, actions));
  net.start();
  await net.run({ untilMs: 120_000 });
  return { records, events, topo };
}

const sipOf = (r: MessageRecord) => parseSipMessage(r.bytes);
const label = (r: MessageRecord) => `${r.from}>${r.to} ${r.msg}`;

/** The REQ LDP media changes (TLV 9) a proxy sent, with their flows, in order. */
function changesAt(records: MessageRecord[], proxy: string): Array<{ change: number; flows: SipAaaMediaFlow[]; at: number }> {
  return records.flatMap((r, at) => {
    if (r.proto !== "COPS" || r.from !== proxy || r.msg !== "REQ LDP") return [];
    const m = decodeCopsMessage(r.bytes);
    const info = m.op === "REQ" ? decodeSipAaaClientSi(m.clientSi[0]!.data) : undefined;
    return info?.mediaChange === undefined ? [] : [{ change: info.mediaChange, flows: info.flows, at }];
  });
}

/** A flow as "src:port>dst:port" (what a classifier matches), in one order. */
const tuples = (flows: Array<SipAaaMediaFlow | MediaFlow>): string[] =>
  flows.map((f) => ("srcAddress" in f ? `${f.srcAddress}:${f.srcPort}>${f.dstAddress}:${f.dstPort}` : `${f.src.address}:${f.src.port}>${f.dst.address}:${f.dst.port}`)).sort();

/**
 * The session as the caller's hop last agreed it (RFC 3264 §8): the last 2xx to an INVITE or UPDATE with an offer
 * and an answer between UAC and SIP1, or an ACK's answer to a 2xx's offer.
 */
function agreedFlows(records: MessageRecord[]): MediaFlow[] {
  const hop = records.filter((r) => r.proto === "SIP" && ((r.from === "UAC" && r.to === "SIP1") || (r.from === "SIP1" && r.to === "UAC")));
  let agreed: MediaFlow[] = [];
  hop.forEach((r, i) => {
    const m = sipOf(r);
    if ("status" in m) {
      if (m.status < 200 || m.status >= 300 || m.body.length === 0 || !["INVITE", "UPDATE"].includes(m.cseq.method)) return;
      const req = hop.slice(0, i).reverse().map(sipOf).find((q): q is SipRequest => !("status" in q) && q.method === m.cseq.method && q.cseq.seq === m.cseq.seq && q.from.tag === m.from.tag);
      if (req === undefined || req.body.length === 0) return; // an offer in the 2xx: the ACK answers
      const callerOffered = r.from === "SIP1";
      agreed = callerOffered ? mediaFlows(req.body.toString(), m.body.toString()) : mediaFlows(m.body.toString(), req.body.toString());
    } else if (m.method === "ACK" && m.body.length > 0) {
      const ok = hop.slice(0, i).reverse().map(sipOf).find((q): q is SipResponse => "status" in q && q.status < 300 && q.cseq.seq === m.cseq.seq && q.cseq.method === "INVITE");
      agreed = mediaFlows(m.body.toString(), ok!.body.toString());
    }
  });
  return agreed;
}

/** Each proxy's last media change was agreed (DEC LDP yes) and names the session's flows; nothing is left anywhere. */
function expectPolicyFollowsSession(records: MessageRecord[], topo: ReturnType<typeof buildTopology>): void {
  const session = tuples(agreedFlows(records));
  expect(session.length).toBeGreaterThan(0);
  for (const [proxy, pol] of PROXIES) {
    const last = changesAt(records, proxy).at(-1)!;
    expect(tuples(last.flows), proxy).toEqual(session);
    const dec = records.find((r, i) => i > last.at && r.proto === "COPS" && r.from === pol && r.to === proxy && r.msg.startsWith("DEC"));
    expect(dec?.msg, proxy).toBe("DEC LDP");
    const m = decodeCopsMessage(dec!.bytes);
    expect(m.op === "DEC" && m.decisions[0]?.command, proxy).toBe(1); // Install: yes
  }
  // one update at a time: every REQ LDP after the first waits for the DEC LDP of the one before it
  for (const [proxy, pol] of PROXIES) {
    const asked = records.flatMap((r, i) => (r.proto === "COPS" && r.from === proxy && r.msg === "REQ LDP" ? [i] : []));
    for (let k = 1; k < asked.length; k++) {
      const between = records.slice(asked[k - 1]!, asked[k]!).filter((r) => r.proto === "COPS" && r.from === pol && r.to === proxy && r.msg === "DEC LDP");
      expect(between.length, `${proxy} REQ LDP ${k + 1}`).toBe(1);
    }
  }
  // every classifier installed was removed when the call ended, and each side reported the call once
  for (const [, pol, router] of PROXIES) {
    const decs = records.filter((r) => r.proto === "COPS" && r.from === pol && r.to === router).map((r) => r.msg);
    expect(decs.filter((m) => m === "DEC Remove").length, router).toBe(decs.filter((m) => m === "DEC Install").length);
  }
  expect(records.filter((r) => r.proto === "OSP" && r.msg === "UsageIndication").map((r) => r.from).sort()).toEqual(["POL1", "POL2"]);
  expect(topo.r1.classifiers.size + topo.r2.classifiers.size).toBe(0);
  expect(topo.sip1.activeCalls + topo.sip2.activeCalls).toBe(0);
}

describe("SipProxy: the outcome of a media change decides the policy left in force", () => {
  it("glare: the callee holds as the caller moves its media; one re-INVITE is refused 491 and retried after the §14.1 wait, both proxies end with the session's flows", async () => {
    const { records, topo } = await run({ reinvites: [{ by: "caller", afterMs: 5000, hold: false, mediaAddress: "192.0.2.99" }, { by: "callee", afterMs: 5000, hold: true }] });
    const reinvites = records.filter((r) => r.proto === "SIP" && r.msg === "INVITE" && (sipOf(r) as SipRequest).to.tag !== undefined);
    const refused = records.filter((r) => r.proto === "SIP" && r.msg.startsWith("491"));
    expect(refused.length).toBeGreaterThan(0);
    // every 491 is acknowledged on its hop (RFC 3261 §17.1.1.3), by the hop it was sent to
    for (const r of refused) {
      const res = sipOf(r) as SipResponse;
      expect(records.some((a) => a.proto === "SIP" && a.msg === "ACK" && a.from === r.to && a.to === r.from && (sipOf(a) as SipRequest).cseq.seq === res.cseq.seq), label(r)).toBe(true);
    }
    // the side refused sends its offer again after its §14.1 wait: the caller (Call-ID owner) 2.1-4 s, the callee 0-2 s
    const atUa = refused.filter((r) => r.to === "UAC" || r.to === "UAS");
    expect(atUa).toHaveLength(1);
    const ua = atUa[0]!.to;
    const sent = reinvites.filter((r) => r.from === ua);
    expect(sent).toHaveLength(2);
    const wait = sent[1]!.t - atUa[0]!.t;
    if (ua === "UAC") expect(wait).toBeGreaterThanOrEqual(2100);
    expect(wait).toBeLessThanOrEqual(ua === "UAC" ? 4000 : 2000);
    // both offers were answered 200 in the end, at their senders
    for (const sender of ["UAC", "UAS"]) {
      const oks = records.filter((r) => r.t > 5000 && r.proto === "SIP" && r.to === sender && r.msg.startsWith("200") && (sipOf(r) as SipResponse).cseq.method === "INVITE");
      expect(oks.length, sender).toBe(1);
    }
    // the session: the callee sends only (hold), to the caller's new address
    expect(tuples(agreedFlows(records))).toEqual([expect.stringMatching(/>192\.0\.2\.99:\d+$/)]);
    expectPolicyFollowsSession(records, topo);
  });

  it("late offer: the INVITE has no SDP, the 2xx offers, the ACK answers; each proxy installs the ACK's flows (REQ LDP, TLV 9 1) at its router", async () => {
    const { records, topo } = await run({ lateOffer: true });
    const sip = records.filter((r) => r.proto === "SIP");
    for (const r of sip.filter((x) => x.msg === "INVITE")) expect(sipOf(r).body.length, label(r)).toBe(0);
    const acks = sip.filter((r) => r.msg === "ACK");
    expect(acks.map(label)).toEqual(["UAC>SIP1 ACK", "SIP1>SIP2 ACK", "SIP2>UAS ACK"]);
    for (const a of acks) expect(sipOf(a).body.toString(), label(a)).toMatch(/^m=audio [1-9]\d* RTP\/AVP /m);
    for (const [proxy, pol, router] of PROXIES) {
      const changes = changesAt(records, proxy);
      expect(changes.map((c) => [c.change, c.flows.length]), proxy).toEqual([[1, 2]]);
      // asked once the ACK passed, and the router got the classifiers of both directions
      const ackAt = records.findIndex((r) => r.proto === "SIP" && r.msg === "ACK" && r.from === proxy);
      expect(changes[0]!.at).toBeGreaterThan(ackAt);
      const install = records.find((r, i) => i > changes[0]!.at && r.proto === "COPS" && r.from === pol && r.to === router && r.msg === "DEC Install");
      expect(install, router).toBeDefined();
    }
    expectPolicyFollowsSession(records, topo);
  });

  it("the callee refuses a change both proxies installed (488): each proxy asks its policy server back to the old media, the routers swap back, the call goes on", async () => {
    // The callee narrows the call to G.729; the caller then moves its media and offers PCMU alone: no codec in common.
    const { records, topo, events } = await run({
      reinvites: [{ by: "callee", afterMs: 3000, hold: false, codec: "G729" }, { by: "caller", afterMs: 8000, hold: false, codec: "PCMU", mediaAddress: "192.0.2.99" }],
    });
    const refusals = records.filter((r) => r.proto === "SIP" && r.msg.startsWith("488"));
    expect(refusals.map(label)).toEqual(["UAS>SIP2 488 Not Acceptable Here", "SIP2>SIP1 488 Not Acceptable Here", "SIP1>UAC 488 Not Acceptable Here"]);
    for (const [proxy, pol, router] of PROXIES) {
      const changes = changesAt(records, proxy);
      // 1 the callee's G.729, 2 the caller's move (installed, then refused by the callee), 3 back to 1's flows
      expect(changes.map((c) => c.change), proxy).toEqual([1, 2, 3]);
      expect(tuples(changes[1]!.flows).some((t) => t.includes("192.0.2.99")), proxy).toBe(true);
      expect(tuples(changes[2]!.flows), proxy).toEqual(tuples(changes[0]!.flows));
      // change 2 reached the router before the 488; change 3 put the old classifiers back and took change 2's out
      const refusedAt = records.findIndex((r) => r.proto === "SIP" && r.msg.startsWith("488") && r.from === (proxy === "SIP1" ? "SIP2" : "UAS"));
      expect(changes[1]!.at).toBeLessThan(refusedAt);
      expect(changes[2]!.at).toBeGreaterThan(refusedAt);
      const next = records.findIndex((r, i) => i > changes[2]!.at && r.proto === "COPS" && r.from === pol && r.to === proxy && r.msg.startsWith("DEC"));
      expect(records.slice(changes[2]!.at, next).filter((r) => r.from === pol && r.to === router).map((r) => r.msg)).toEqual(["DEC Install", "DEC Remove"]);
    }
    // the caller kept its session (RFC 3264 §8) and hung up as planned, 30 s after the answer
    expect(events.some((e) => e.type === "step" && e.role === "UAC" && /re-INVITE refused 488/.test(e.what))).toBe(true);
    const bye = records.find((r) => r.proto === "SIP" && r.msg === "BYE" && r.from === "UAC");
    expect(bye).toBeDefined();
    expectPolicyFollowsSession(records, topo);
  });
});
