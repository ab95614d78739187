// Policy follows the media: a REQ LDP update on an installed call's handle (TLV 9, media change) makes the policy
// server install the new flows' classifiers at a real EdgeRouter and remove the old ones; the call keeps one
// usage record; a change the router cannot take leaves the old classifiers in force.
import { describe, expect, it } from "vitest";
import { ClientType, buildSipAaaRequest, decodeCopsMessage, decodeSipAaaClientSi, encodeCopsMessage, encodeSipAaaClientSi, labelCopsMessage, parseSipAaaDecision, type SipAaaMediaFlow } from "../../../protocols/cops/index.js";
import { NoClearinghouse } from "../../../lib/adapters/clearinghouse-adapter.js";
import type { PolicyAdapter, UsageObservation } from "../../../lib/adapters/policy-adapter.js";
import { MemoryNetwork } from "../../../lib/drivers/memory-network.js";
import type { FlowNode, NodeAction, NodeEvent } from "../../../lib/drivers/node.js";
import type { MessageRecord } from "../../../lib/drivers/message-record.js";
import type { CallEvent } from "../../../lib/flow/call-events.js";
import { EdgeRouter } from "../../../lib/roles/edge-router.js";
import { PolicyServer } from "../../../lib/roles/policy-server.js";

class Policy implements PolicyAdapter {
  usage: UsageObservation[] = [];
  decideAaa() {
    return { allow: true };
  }
  chooseClass() {
    return { dscp: 46, className: "EF" };
  }
  observeUsage(u: UsageObservation) {
    this.usage.push(u);
  }
}

const flow = (srcPort: number, dstAddress = "192.0.2.20"): SipAaaMediaFlow => ({ protocol: 17, family: 4, srcAddress: "192.0.2.10", srcPort, dstAddress, dstPort: 30000, codec: "PCMU", bandwidthBps: 80_000 });

type Step = { at: number; purpose: "AAA" | "LDP" | "noLDP" | "DRQ"; flows?: SipAaaMediaFlow[]; mediaChange?: number };

function scriptedPep(script: Step[]): FlowNode & { decisions: string[] } {
  const decisions: string[] = [];
  const handle = Buffer.from([0, 0, 0, 1]);
  return {
    name: "PEP",
    decisions,
    handle(ev: NodeEvent): NodeAction[] {
      if (ev.type === "start") {
        const opn = encodeCopsMessage({ op: "OPN", clientType: ClientType.SipAaa, pepId: "pep.example.com" });
        return [{ type: "send", proto: "COPS", to: "POL", bytes: opn, label: "OPN", callId: "" }, ...script.map((s, i) => ({ type: "set-timer" as const, key: String(i), delayMs: s.at }))];
      }
      if (ev.type === "timer") {
        const s = script[Number(ev.key)]!;
        const bytes = s.purpose === "DRQ"
          ? encodeCopsMessage({ op: "DRQ", clientType: ClientType.SipAaa, handle, reason: { code: 4, subCode: 0 } })
          : encodeCopsMessage(buildSipAaaRequest(s.purpose, handle, { callId: "call-1", caller: "sip:alice@example.com", callee: "sip:bob@example.com", flows: s.flows ?? [], ...(s.mediaChange !== undefined ? { mediaChange: s.mediaChange } : {}) }));
        return [{ type: "send", proto: "COPS", to: "POL", bytes, label: s.purpose, callId: "call-1" }];
      }
      if (ev.type === "deliver") {
        const m = decodeCopsMessage(ev.bytes);
        if (m.op === "DEC") {
          const d = parseSipAaaDecision(m);
          decisions.push(`${d.purpose} ${d.allowed ? "yes" : "no"}${d.info.reason ? ` (${d.info.reason.code} ${d.info.reason.text})` : ""}`);
        }
      }
      return [];
    },
  };
}

describe("media change: REQ LDP update on the same handle", () => {
  it("TLV 9 round trip: 4 octets after the flows, before the connected time", () => {
    const si = encodeSipAaaClientSi({ callId: "c", flows: [flow(20000)], mediaChange: 2 });
    expect(decodeSipAaaClientSi(si)).toMatchObject({ callId: "c", mediaChange: 2 });
    const at = si.length - 8;
    expect(si.subarray(at).toString("hex")).toBe("0009000400000002");
    expect(() => decodeSipAaaClientSi(Buffer.concat([si.subarray(0, at), Buffer.from("0009000400000000", "hex")]))).toThrow(/media change/);
  });

  it("two changes: each installs the new classifiers and removes the old, the call is billed once for all of them", async () => {
    const policy = new Policy();
    const pol = new PolicyServer({ name: "POL", side: "originating", router: "R", policy, clearinghouse: new NoClearinghouse() });
    const router = new EdgeRouter({ name: "R", pdp: "POL" });
    const pep = scriptedPep([
      { at: 10, purpose: "AAA" },
      { at: 20, purpose: "LDP", flows: [flow(20000)] },
      { at: 4_020, purpose: "LDP", flows: [flow(20002)], mediaChange: 1 }, // hold: new port
      { at: 4_030, purpose: "LDP", flows: [flow(20002)], mediaChange: 1 }, // the same change sent again
      { at: 8_020, purpose: "LDP", flows: [flow(20004, "192.0.2.30")], mediaChange: 2 }, // new address
      { at: 12_020, purpose: "noLDP" },
      { at: 12_030, purpose: "DRQ" },
    ]);
    const records: MessageRecord[] = [];
    const net = new MemoryNetwork<CallEvent>({ onRecord: (r) => records.push(r) });
    net.add(pol).add(router).add(pep as FlowNode<CallEvent>);
    net.start();
    await net.run({ untilMs: 3_000 });
    expect(router.markFor("192.0.2.10", 20000, "192.0.2.20", 30000)).toBe(46);
    await net.run({ untilMs: 6_000 });
    expect(router.markFor("192.0.2.10", 20000, "192.0.2.20", 30000)).toBeUndefined();
    expect(router.markFor("192.0.2.10", 20002, "192.0.2.20", 30000)).toBe(46);
    await net.run({ untilMs: 10_000 });
    expect(router.markFor("192.0.2.10", 20002, "192.0.2.20", 30000)).toBeUndefined();
    expect(router.markFor("192.0.2.10", 20004, "192.0.2.30", 30000)).toBe(46);
    await net.run({ untilMs: 20_000 });
    expect(pep.decisions).toEqual(["AAA yes", "LDP yes", "LDP yes", "LDP yes", "LDP yes", "noLDP yes"]);
    expect(router.classifiers.size).toBe(0);
    const toRouter = records.filter((r) => r.from === "POL" && r.to === "R").map((r) => r.msg);
    expect(toRouter.filter((m) => m === "DEC Install")).toHaveLength(3);
    expect(toRouter.filter((m) => m === "DEC Remove")).toHaveLength(3);
    // The REQ updates are REQ LDP on the one handle (RFC 2748 §3.4)
    const reqs = records.filter((r) => r.from === "PEP" && r.to === "POL" && r.proto === "COPS").map((r) => labelCopsMessage(r.bytes));
    expect(reqs).toEqual(["OPN", "REQ AAA", "REQ LDP", "REQ LDP", "REQ LDP", "REQ LDP", "REQ noLDP", "DRQ"]);
    // One usage record: 12 s of conversation at one packet per 20 ms over the three classifiers in turn.
    expect(policy.usage).toHaveLength(1);
    expect(policy.usage[0]).toMatchObject({ callId: "call-1", durationS: 12 });
    expect(policy.usage[0]!.packets).toBeGreaterThan(590);
    expect(policy.usage[0]!.packets).toBeLessThanOrEqual(600);
    expect(pol.activeCalls).toBe(0);
  });

  it("a=inactive (no flows) removes the call's classifiers and installs none; a resume installs again; one usage record", async () => {
    const policy = new Policy();
    const pol = new PolicyServer({ name: "POL", side: "originating", router: "R", policy, clearinghouse: new NoClearinghouse() });
    const router = new EdgeRouter({ name: "R", pdp: "POL" });
    const pep = scriptedPep([
      { at: 10, purpose: "AAA" },
      { at: 20, purpose: "LDP", flows: [flow(20000)] },
      { at: 1_020, purpose: "LDP", flows: [], mediaChange: 1 },
      { at: 2_020, purpose: "LDP", flows: [flow(20000)], mediaChange: 2 },
      { at: 3_020, purpose: "noLDP" },
      { at: 3_030, purpose: "DRQ" },
    ]);
    const records: MessageRecord[] = [];
    const net = new MemoryNetwork<CallEvent>({ onRecord: (r) => records.push(r) });
    net.add(pol).add(router).add(pep as FlowNode<CallEvent>);
    net.start();
    await net.run({ untilMs: 1_500 });
    expect(router.markFor("192.0.2.10", 20000, "192.0.2.20", 30000)).toBeUndefined();
    expect(router.classifiers.size).toBe(0);
    await net.run({ untilMs: 2_500 });
    expect(router.markFor("192.0.2.10", 20000, "192.0.2.20", 30000)).toBe(46);
    await net.run({ untilMs: 5_000 });
    expect(pep.decisions).toEqual(["AAA yes", "LDP yes", "LDP yes", "LDP yes", "noLDP yes"]);
    expect(router.classifiers.size).toBe(0);
    const toRouter = records.filter((r) => r.from === "POL" && r.to === "R").map((r) => r.msg);
    expect(toRouter.filter((m) => m === "DEC Install")).toHaveLength(2);
    expect(toRouter.filter((m) => m === "DEC Remove")).toHaveLength(2);
    expect(policy.usage).toHaveLength(1);
    expect(pol.activeCalls).toBe(0);
  });

  it("a call ending while inactive is billed without a router round trip", async () => {
    const policy = new Policy();
    const pol = new PolicyServer({ name: "POL", side: "originating", router: "R", policy, clearinghouse: new NoClearinghouse() });
    const router = new EdgeRouter({ name: "R", pdp: "POL" });
    const pep = scriptedPep([
      { at: 10, purpose: "AAA" },
      { at: 20, purpose: "LDP", flows: [flow(20000)] },
      { at: 1_020, purpose: "LDP", flows: [], mediaChange: 1 },
      { at: 2_020, purpose: "noLDP" },
      { at: 2_030, purpose: "DRQ" },
    ]);
    const net = new MemoryNetwork<CallEvent>({});
    net.add(pol).add(router).add(pep as FlowNode<CallEvent>);
    net.start();
    await net.run({ untilMs: 5_000 });
    expect(pep.decisions).toEqual(["AAA yes", "LDP yes", "LDP yes", "noLDP yes"]);
    expect(router.classifiers.size).toBe(0);
    expect(policy.usage).toHaveLength(1);
    expect(policy.usage[0]!.packets).toBeGreaterThan(0);
    expect(pol.activeCalls).toBe(0);
  });
});
