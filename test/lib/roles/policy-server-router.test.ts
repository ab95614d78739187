// PolicyServer and EdgeRouter used alone (no SIP at all): a hand-written PEP node speaks COPS client type
// 0x8cb1 to the policy server, which provisions a real EdgeRouter; a custom PolicyAdapter decides.
import { describe, expect, it } from "vitest";
import {
  ClientType,
  decodeCopsMessage,
  encodeCopsMessage,
  buildSipAaaRequest,
  parseSipAaaDecision,
  type SipAaaPurposeName,
} from "../../../protocols/cops/index.js";
import { NoClearinghouse } from "../../../lib/adapters/clearinghouse-adapter.js";
import type { AaaQuery, ClassQuery, PolicyAdapter, UsageObservation } from "../../../lib/adapters/policy-adapter.js";
import { MemoryNetwork } from "../../../lib/drivers/memory-network.js";
import type { FlowNode, NodeAction, NodeEvent } from "../../../lib/drivers/node.js";
import type { CallEvent } from "../../../lib/flow/call-events.js";
import { EdgeRouter } from "../../../lib/roles/edge-router.js";
import { PolicyServer } from "../../../lib/roles/policy-server.js";

class PickyPolicy implements PolicyAdapter {
  usage: UsageObservation[] = [];
  decideAaa(q: AaaQuery) {
    return q.callee.includes("blocked") ? { allow: false, sipStatus: 403, reason: "callee blocked" } : { allow: true };
  }
  chooseClass(_q: ClassQuery) {
    return { dscp: 34, className: "AF41" };
  }
  observeUsage(u: UsageObservation) {
    this.usage.push(u);
  }
}

const flow = { protocol: 17, family: 4 as const, srcAddress: "192.0.2.10", srcPort: 20000, dstAddress: "192.0.2.20", dstPort: 30000, codec: "PCMU", bandwidthBps: 80_000 };

/** A PEP that opens COPS and then sends the scripted requests at the given times. */
function scriptedPep(script: Array<{ at: number; handle: number; purpose: SipAaaPurposeName | "DRQ"; callee: string }>): FlowNode & { decisions: string[] } {
  const decisions: string[] = [];
  return {
    name: "PEP",
    decisions,
    handle(ev: NodeEvent): NodeAction[] {
      if (ev.type === "start") {
        const opn = encodeCopsMessage({ op: "OPN", clientType: ClientType.SipAaa, pepId: "pep.example.com" });
        return [{ type: "send", proto: "COPS", to: "POL", bytes: opn, label: "OPN", callId: "" }, ...script.map((_s, i) => ({ type: "set-timer" as const, key: String(i), delayMs: script[i]?.at ?? 0 }))];
      }
      if (ev.type === "timer") {
        const s = script[Number(ev.key)];
        if (!s) return [];
        const handle = Buffer.alloc(4);
        handle.writeUInt32BE(s.handle);
        const callId = `call-${s.handle}`;
        const bytes = s.purpose === "DRQ"
          ? encodeCopsMessage({ op: "DRQ", clientType: ClientType.SipAaa, handle, reason: { code: 4, subCode: 0 } })
          : encodeCopsMessage(buildSipAaaRequest(s.purpose, handle, { callId, caller: "sip:alice@example.com", callee: s.callee, flows: [flow] }));
        return [{ type: "send", proto: "COPS", to: "POL", bytes, label: s.purpose, callId }];
      }
      if (ev.type === "deliver") {
        const m = decodeCopsMessage(ev.bytes);
        if (m.op === "DEC") {
          const d = parseSipAaaDecision(m);
          decisions.push(`${ev.now} ${d.purpose} ${d.allowed ? "yes" : "no"}${d.info.reason ? ` (${d.info.reason.text})` : ""}`);
        }
      }
      return [];
    },
  };
}

describe("PolicyServer + EdgeRouter without SIP", () => {
  it("decides AAA through the adapter, provisions the router with the adapter's DSCP, counts and reports usage", async () => {
    const policy = new PickyPolicy();
    const pol = new PolicyServer({ name: "POL", side: "originating", router: "R", policy, clearinghouse: new NoClearinghouse() });
    const router = new EdgeRouter({ name: "R", pdp: "POL" });
    const pep = scriptedPep([
      { at: 10, handle: 1, purpose: "AAA", callee: "sip:bob@example.com" },
      { at: 20, handle: 1, purpose: "LDP", callee: "sip:bob@example.com" },
      { at: 30, handle: 2, purpose: "AAA", callee: "sip:blocked@example.com" },
      { at: 40, handle: 2, purpose: "DRQ", callee: "" },
      { at: 10_020, handle: 1, purpose: "noLDP", callee: "sip:bob@example.com" },
      { at: 10_030, handle: 1, purpose: "DRQ", callee: "" },
    ]);
    const events: CallEvent[] = [];
    const net = new MemoryNetwork<CallEvent>({ onEmit: (_n, e) => events.push(e) });
    net.add(pol).add(router).add(pep as FlowNode<CallEvent>);
    net.start();
    await net.run({ untilMs: 5_000 });
    // While the call is up the router marks its media AF41 (DSCP 34) and nothing else.
    expect(router.markFor("192.0.2.10", 20000, "192.0.2.20", 30000)).toBe(34);
    expect(router.markFor("192.0.2.10", 20002, "192.0.2.20", 30000)).toBeUndefined();
    await net.run({ untilMs: 20_000 });
    expect(pep.decisions).toEqual(["12 AAA yes", "24 LDP yes", "32 AAA no (callee blocked)", "10024 noLDP yes"]);
    expect(router.classifiers.size).toBe(0);
    expect(pol.copsRequestStates).toBe(0);
    expect(pol.activeCalls).toBe(0);
    // The router marked the flow from t=22 to t=10022: 10 s at one packet per 20 ms, 200 octets each.
    // Its REQ AAA named both ends of the flow (no offer alone), so no end is known as the caller's: no sender.
    expect(policy.usage).toEqual([{ callId: "call-1", side: "originating", startMs: 23, endMs: 10_023, durationS: 10, packets: 500, octets: 100_000, octetsFromCaller: 0, octetsFromCallee: 0 }]);
    expect(events.filter((e) => e.type === "usage").map((e) => e.callId)).toEqual(["call-1"]);
  });
});
