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

async function holdAndResume(): Promise<{ records: MessageRecord[]; topo: ReturnType<typeof buildTopology> }> {
  const call = { caller: "sip:alice@example.com", callee: "sip:bob@example.com", startMs: 100, answerDelayMs: 1000, durationMs: 30_000, hangUp: "caller" as const };
  const topo = buildTopology(resolveTopology({ clearinghouse: "none" }), [call], [], {
    callee: () => ({ outcome: "answer", answerDelayMs: 1000, durationMs: 30_000, hangsUp: false, reinvites: [{ afterMs: 5000, hold: true }, { afterMs: 5000, hold: false }] }),
  });
  const records: MessageRecord[] = [];
  const net = new MemoryNetwork<CallEvent>({ onRecord: (r) => records.push(r) });
  for (const n of topo.nodes) net.add(n);
  for (const pol of [topo.pol1, topo.pol2]) pol.deliverDecisionsWith((actions) => net.perform(pol.name, actions));
  net.start();
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
});
