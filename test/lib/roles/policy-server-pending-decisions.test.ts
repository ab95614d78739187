// A PolicyServer whose adapter answers later (on the run's virtual clock), driven by a hand-written PEP: the
// PEP deletes its state (DRQ) while the decision is pending, and the late answer must send nothing.
import { describe, expect, it } from "vitest";
import { ClientType, buildSipAaaRequest, decodeCopsMessage, encodeCopsMessage, parseSipAaaDecision, type SipAaaPurposeName } from "../../../protocols/cops/index.js";
import { NoClearinghouse } from "../../../lib/adapters/clearinghouse-adapter.js";
import { DefaultPolicyAdapter, type PolicyAdapter } from "../../../lib/adapters/policy-adapter.js";
import { MemoryNetwork } from "../../../lib/drivers/memory-network.js";
import type { FlowNode, NodeAction, NodeEvent } from "../../../lib/drivers/node.js";
import type { CallEvent } from "../../../lib/flow/call-events.js";
import { RunClock, VirtualClockNode } from "../../../lib/flow/run-clock.js";
import { EdgeRouter } from "../../../lib/roles/edge-router.js";
import { PolicyServer } from "../../../lib/roles/policy-server.js";

const flow = { protocol: 17, family: 4 as const, srcAddress: "192.0.2.10", srcPort: 20000, dstAddress: "192.0.2.20", dstPort: 30000, codec: "PCMU", bandwidthBps: 80_000 };

/** A PEP that opens COPS, sends the scripted requests for handle 1 at the given times and notes the DECs. */
function scriptedPep(script: Array<{ at: number; purpose: SipAaaPurposeName | "DRQ" }>): FlowNode<CallEvent> & { decisions: string[] } {
  const decisions: string[] = [];
  const handle = Buffer.from([0, 0, 0, 1]);
  return {
    name: "PEP",
    decisions,
    handle(ev: NodeEvent): NodeAction<CallEvent>[] {
      if (ev.type === "start") {
        const opn = encodeCopsMessage({ op: "OPN", clientType: ClientType.SipAaa, pepId: "pep.example.com" });
        return [{ type: "send", proto: "COPS", to: "POL", bytes: opn, label: "OPN", callId: "" }, ...script.map((s, i) => ({ type: "set-timer" as const, key: String(i), delayMs: s.at }))];
      }
      if (ev.type === "timer") {
        const s = script[Number(ev.key)];
        if (!s) return [];
        const bytes = s.purpose === "DRQ"
          ? encodeCopsMessage({ op: "DRQ", clientType: ClientType.SipAaa, handle, reason: { code: 4, subCode: 0 } })
          : encodeCopsMessage(buildSipAaaRequest(s.purpose, handle, { callId: "call-1", caller: "sip:alice@example.com", callee: "sip:bob@example.com", flows: [flow] }));
        return [{ type: "send", proto: "COPS", to: "POL", bytes, label: s.purpose, callId: "call-1" }];
      }
      if (ev.type === "deliver") {
        const m = decodeCopsMessage(ev.bytes);
        if (m.op === "DEC") {
          const d = parseSipAaaDecision(m);
          decisions.push(`${ev.now} ${d.purpose} ${d.allowed ? "yes" : "no"}`);
        }
      }
      return [];
    },
  };
}

async function run(script: Parameters<typeof scriptedPep>[0], aaaMs: number, classMs: number, restartAt?: number) {
  const clock = new RunClock();
  const defaults = new DefaultPolicyAdapter();
  const answered: string[] = [];
  const policy: PolicyAdapter = {
    decideAaa: async (q) => {
      await clock.sleep(aaaMs);
      answered.push(`${clock.now()} AAA`);
      return defaults.decideAaa(q);
    },
    chooseClass: async (q) => {
      await clock.sleep(classMs);
      answered.push(`${clock.now()} class`);
      return defaults.chooseClass(q);
    },
    observeUsage: () => {},
  };
  const pol = new PolicyServer({ name: "POL", side: "originating", router: "R", policy, clearinghouse: new NoClearinghouse(), policyTimeoutMs: 5000 });
  const router = new EdgeRouter({ name: "R", pdp: "POL" });
  const pep = scriptedPep(script);
  const events: CallEvent[] = [];
  const net = new MemoryNetwork<CallEvent>({ onEmit: (_n, e) => events.push(e) });
  const clockNode = new VirtualClockNode<CallEvent>(net);
  clock.bind(clockNode.binding());
  pol.deliverDecisionsWith((actions) => net.perform("POL", actions));
  net.add(pol).add(router).add(pep).add(clockNode);
  net.start();
  if (restartAt !== undefined) net.at(restartAt, "POL", { type: "restart" });
  await net.run({ untilMs: 20_000 });
  return { pol, router, pep, events, answered };
}

describe("PolicyServer: the PEP deletes a state whose decision is pending", () => {
  it("while AAA is decided: no DEC after the DRQ, nothing installed, nothing billed, no state left", async () => {
    const { pol, router, pep, events, answered } = await run([{ at: 10, purpose: "AAA" }, { at: 100, purpose: "DRQ" }], 500, 0);
    expect(answered).toEqual(["511 AAA"]); // asked at 11 (REQ after one hop), answered 500 virtual ms later
    expect(pep.decisions).toEqual([]);
    expect(router.classifiers.size).toBe(0);
    expect(events.filter((e) => e.type === "usage" || e.type === "error")).toEqual([]);
    expect(pol.pendingDecisions).toBe(0);
    expect(pol.activeCalls).toBe(0);
    expect(pol.copsRequestStates).toBe(0);
  });

  it("while the class is chosen: DEC AAA only, no classifier sent to the router, usage of 0 s reported once", async () => {
    const { pol, router, pep, events, answered } = await run([{ at: 10, purpose: "AAA" }, { at: 20, purpose: "LDP" }, { at: 100, purpose: "DRQ" }], 0, 500);
    expect(answered).toEqual(["11 AAA", "521 class"]);
    expect(pep.decisions).toEqual(["12 AAA yes"]);
    expect(router.classifiers.size).toBe(0);
    expect(events.filter((e) => e.type === "decision" && e.purpose === "Install")).toEqual([]);
    expect(events.filter((e) => e.type === "usage").map((e) => e.type === "usage" && e.durationS)).toEqual([0]);
    expect(events.filter((e) => e.type === "error")).toEqual([]);
    expect(pol.pendingDecisions).toBe(0);
    expect(pol.activeCalls).toBe(0);
  });

  it("undisturbed: the class answered 500 ms later is installed and DEC LDP follows the router's report", async () => {
    const { router, pep } = await run([{ at: 10, purpose: "AAA" }, { at: 20, purpose: "LDP" }], 0, 500);
    expect(pep.decisions).toEqual(["12 AAA yes", "524 LDP yes"]);
    expect(router.markFor("192.0.2.10", 20000, "192.0.2.20", 30000)).toBe(46);
  });

  it("REQ noLDP while the class is chosen: nothing installed, DEC noLDP once the class comes, then the DRQ ends it", async () => {
    const { pol, router, pep } = await run([{ at: 10, purpose: "AAA" }, { at: 20, purpose: "LDP" }, { at: 100, purpose: "noLDP" }, { at: 1000, purpose: "DRQ" }], 0, 500);
    expect(pep.decisions).toEqual(["12 AAA yes", "522 noLDP yes"]);
    expect(router.classifiers.size).toBe(0);
    expect(pol.pendingDecisions).toBe(0);
    expect(pol.activeCalls).toBe(0);
  });

  it("the policy server restarts while AAA is decided: the late answer of its previous life is dropped", async () => {
    const { pol, pep, answered } = await run([{ at: 10, purpose: "AAA" }], 500, 0, 100);
    expect(answered).toEqual(["511 AAA"]);
    expect(pep.decisions).toEqual([]);
    expect(pol.pendingDecisions).toBe(0);
  });

  it("a synchronous adapter costs no promise: every event the server handles returns its actions at once", async () => {
    const pol = new PolicyServer({ name: "POL", side: "originating", router: "R", policy: new DefaultPolicyAdapter(), clearinghouse: new NoClearinghouse() });
    let arrays = 0;
    let promises = 0;
    const counted: FlowNode<CallEvent> = {
      name: "POL",
      handle(ev) {
        const out = pol.handle(ev);
        if (Array.isArray(out)) arrays++;
        else promises++;
        return out;
      },
    };
    const pep = scriptedPep([{ at: 10, purpose: "AAA" }, { at: 20, purpose: "LDP" }, { at: 5000, purpose: "noLDP" }, { at: 5010, purpose: "DRQ" }]);
    const net = new MemoryNetwork<CallEvent>();
    net.add(counted).add(new EdgeRouter({ name: "R", pdp: "POL" })).add(pep);
    net.start();
    await net.run({ untilMs: 10_000 });
    expect(pep.decisions).toEqual(["12 AAA yes", "24 LDP yes", "5004 noLDP yes"]);
    expect(promises).toBe(0);
    expect(arrays).toBeGreaterThan(8);
  });
});
