// Issue 12, "a crash leaves nothing behind", on the in-memory driver: a policy server or a router that goes down
// and comes back with no state, and a PEP that never comes back (RFC 2748 §2.5, RFC 3084 reports).
import { describe, expect, it } from "vitest";
import {
  ClientType,
  buildSipAaaRequest,
  decodeCopsMessage,
  encodeCopsMessage,
  type SipAaaPurposeName,
} from "../../../protocols/cops/index.js";
import { NoClearinghouse } from "../../../lib/adapters/clearinghouse-adapter.js";
import { DefaultPolicyAdapter, type UsageObservation } from "../../../lib/adapters/policy-adapter.js";
import type { MessageRecord } from "../../../lib/drivers/message-record.js";
import { FaultPlan } from "../../../lib/drivers/fault-plan.js";
import { MemoryNetwork } from "../../../lib/drivers/memory-network.js";
import type { FlowNode, NodeAction, NodeEvent } from "../../../lib/drivers/node.js";
import type { CallEvent } from "../../../lib/flow/call-events.js";
import { runCalls, type CallSpec } from "../../../lib/flow/run-calls.js";
import { EdgeRouter } from "../../../lib/roles/edge-router.js";
import { PolicyServer } from "../../../lib/roles/policy-server.js";

const topology = { signedTokens: false, clearinghouseTimeoutMs: 500, usageRetryMs: 500 } as const;
const call = (startMs: number, durationMs: number): CallSpec => ({ caller: "sip:alice@example.com", callee: "sip:bob@example.com", startMs, answerDelayMs: 200, durationMs, hangUp: "caller" });
const sent = (records: MessageRecord[], from: string, to: string, msg: string, since = 0): MessageRecord[] => records.filter((r) => r.from === from && r.to === to && r.msg === msg && r.t >= since);
const cdrSides = (cdrs: { callId: string; role: string }[]): string[] => cdrs.map((c) => `${c.callId} ${c.role}`).sort();

describe("a crash leaves nothing behind (in memory)", () => {
  it("a call that ends while its policy server is down is billed once, and the classifier it left at the router is removed", async () => {
    // Call 1 ends (BYE at ≈2.5 s) while POL1 is down (2-4 s); call 2 spans the outage and ends after it.
    const r = await runCalls({ driver: "memory", topology, calls: [call(50, 2200), call(100, 6000)], faults: [{ kind: "down", role: "POL1", fromMs: 2000, toMs: 4000 }] });
    expect(r.calls.map((c) => c.established)).toEqual([true, true]);
    const [first, second] = r.calls.map((c) => c.callId);
    expect(cdrSides(r.cdrs)).toEqual([`${first} destination`, `${first} source`, `${second} destination`, `${second} source`]);
    // SIP1 told the restarted POL1 of call 1 (REQ noLDP with the connected time, then DRQ, RFC 2748 §2.5) ...
    const noLdp = sent(r.records, "SIP1", "POL1", "REQ noLDP", 4000);
    expect(noLdp.length).toBe(2);
    expect(sent(r.records, "SIP1", "POL1", "DRQ", 4000).length).toBe(2);
    // ... which billed its conversation (≈2.2 s, not 0): the proxy's clock, not the restarted server's.
    expect(r.cdrs.find((c) => c.callId === first && c.role === "source")?.durationS).toBe(2);
    // R1 reported its classifiers (accounting RPT) and POL1 removed the one no call claimed any more.
    expect(sent(r.records, "R1", "POL1", "RPT Accounting", 4000).length).toBe(1);
    expect(sent(r.records, "POL1", "R1", "DEC Remove", 4000).some((m) => m.callId === "")).toBe(true);
    expect(r.leftovers).toEqual({ classifiers: 0, copsRequestStates: 0, pendingTransactions: 0 });
  });

  it("a router that restarts empty mid-call gets the call's classifiers again, and they are removed when it ends", async () => {
    const r = await runCalls({ driver: "memory", topology, calls: [call(50, 6000)], faults: [{ kind: "down", role: "R1", fromMs: 2000, toMs: 3000 }] });
    expect(r.calls[0]?.established).toBe(true);
    expect(cdrSides(r.cdrs)).toEqual([`${r.calls[0]?.callId} destination`, `${r.calls[0]?.callId} source`]);
    const installs = sent(r.records, "POL1", "R1", "DEC Install");
    expect(installs.length).toBe(2);
    expect(installs[1]?.t ?? 0).toBeGreaterThanOrEqual(3000);
    expect(sent(r.records, "POL1", "R1", "DEC Remove", 3000).length).toBe(1);
    expect(r.leftovers.classifiers).toBe(0);
    expect(r.leftovers.copsRequestStates).toBe(0);
  });

  it("a caller that died in conversation: the proxy ends the call at the authorised time limit (DEC AAA, 4 h), BYE to both ends, both sides billed", async () => {
    // The caller would hang up after 5 h, but is gone from 2 s on; the clearinghouse's route allows 4 h.
    const r = await runCalls({ driver: "memory", topology, calls: [call(50, 5 * 3600_000)], faults: [{ kind: "down", role: "UAC", fromMs: 2000, toMs: 10 * 3600_000 }] });
    const callId = r.calls[0]?.callId ?? "";
    expect(r.calls[0]?.established).toBe(true);
    // Each proxy counts the limit from the 2xx it relayed; whichever ends the call first, the callee gets BYE.
    const byes = sent(r.records, "SIP2", "UAS", "BYE");
    expect(byes[0]?.t).toBeGreaterThanOrEqual(4 * 3600_000);
    expect(byes[0]?.t).toBeLessThan(4 * 3600_000 + 5000); // deadlines are checked every 4·T1 (2 s)
    expect(r.cdrs.map((c) => `${c.callId} ${c.role} ${c.durationS}`).sort()).toEqual([`${callId} destination 14400`, `${callId} source 14400`]);
    expect(r.leftovers.classifiers).toBe(0);
    expect(r.leftovers.copsRequestStates).toBe(0);
  });

  for (const { name, noAnswerTimeoutMs, status } of [
    { name: "the caller's CANCEL goes unanswered: the proxies answer 487 themselves after 64*T1 (RFC 3261 §9.1, §16.10)", noAnswerTimeoutMs: 3000, status: 487 },
    { name: "nobody cancels: Timer C fires (RFC 3261 §16.8), the branch is cancelled, the caller gets 408", noAnswerTimeoutMs: 400_000, status: 408 },
  ]) {
    it(`a callee that goes away after ringing, ${name}; the policy is released on both sides`, async () => {
      // The UAS rings at once and would answer at 5 s, but is down from 1 s on: nothing reaches it any more.
      const silent: CallSpec = { ...call(50, 1000), answerDelayMs: 5000, noAnswerTimeoutMs };
      const r = await runCalls({ driver: "memory", topology, calls: [silent], faults: [{ kind: "down", role: "UAS", fromMs: 1000, toMs: 1_000_000 }] });
      expect(r.calls[0]?.established).toBe(false);
      expect(r.calls[0]?.finalStatusAtCaller).toBe(status);
      // Made by whichever proxy's deadline came first; relayed or not, one final response reaches the caller.
      expect(sent(r.records, "SIP1", "UAC", `${status} ${status === 487 ? "Request Terminated" : "Request Timeout"}`).length).toBe(1);
      expect(r.leftovers.classifiers).toBe(0);
      expect(r.leftovers.copsRequestStates).toBe(0);
      // Both sides were authorised and never connected: one usage report each, of 0 s.
      expect(r.cdrs.map((c) => `${c.role} ${c.durationS}`).sort()).toEqual(["destination 0", "source 0"]);
    });
  }

  for (const { name, backAtMs, endsBy } of [
    { name: "a PEP that restarts holding nothing: SSQ, and its SSC leaves the old state out", backAtMs: 2000, endsBy: 2500 },
    { name: "a PEP that never comes back: its states end when the grace period runs out", backAtMs: 60_000, endsBy: 3500 },
  ]) {
    it(`${name}: policy removed from the router, usage reported once`, async () => {
      const usage: UsageObservation[] = [];
      const policy = new (class extends DefaultPolicyAdapter {
        override observeUsage(u: UsageObservation): void {
          usage.push(u);
        }
      })();
      const pol = new PolicyServer({ name: "POL", side: "originating", router: "R", policy, clearinghouse: new NoClearinghouse(), resyncGraceMs: 2000 });
      const router = new EdgeRouter({ name: "R", pdp: "POL" });
      // The PEP admits one call (AAA, LDP), then goes down at 1 s.
      const pep = scriptedPep([
        { at: 100, handle: 7, purpose: "AAA" },
        { at: 300, handle: 7, purpose: "LDP" },
      ]);
      const net = new MemoryNetwork<CallEvent>({ faults: new FaultPlan([], [{ role: "PEP", fromMs: 1000, toMs: backAtMs }]) });
      net.add(pol).add(router).add(pep);
      net.start();
      await net.run({ untilMs: 1500 });
      expect(router.classifiers.size).toBe(1);
      expect(pol.copsRequestStates).toBe(1); // kept for the PEP to resynchronise (RFC 2748 §2.5)
      await net.run({ untilMs: endsBy });
      expect(pep.received.includes("SSQ")).toBe(backAtMs < endsBy);
      expect(router.classifiers.size).toBe(0);
      expect(router.installs).toBe(1);
      expect(router.removals).toBe(1);
      expect(pol.copsRequestStates).toBe(0);
      expect(pol.activeCalls).toBe(0);
      expect(usage).toHaveLength(1);
      // Billed from the installation until the server gave up on the state, not 0.
      expect(usage[0]?.durationS).toBe(Math.round((Math.min(backAtMs, 3000) - 301) / 1000));
    });
  }
});

/** A COPS PEP of client type 0x8cb1 that opens, sends the scripted REQs, and after a restart opens again holding nothing. */
function scriptedPep(script: Array<{ at: number; handle: number; purpose: SipAaaPurposeName }>): FlowNode<CallEvent> & { received: string[] } {
  const received: string[] = [];
  const opn = (): NodeAction<CallEvent> => ({ type: "send", proto: "COPS", to: "POL", bytes: encodeCopsMessage({ op: "OPN", clientType: ClientType.SipAaa, pepId: "pep.example.com" }), label: "OPN", callId: "" });
  return {
    name: "PEP",
    received,
    handle(ev: NodeEvent): NodeAction<CallEvent>[] {
      switch (ev.type) {
        case "start":
          return [opn(), ...script.map((s, i) => ({ type: "set-timer" as const, key: String(i), delayMs: s.at }))];
        case "restart":
          return [opn()];
        case "timer": {
          const s = script[Number(ev.key)];
          if (!s) return [];
          const handle = Buffer.alloc(4);
          handle.writeUInt32BE(s.handle);
          const flow = { protocol: 17, family: 4 as const, srcAddress: "192.0.2.10", srcPort: 20000, dstAddress: "192.0.2.20", dstPort: 30000, codec: "PCMU", bandwidthBps: 80_000 };
          const bytes = encodeCopsMessage(buildSipAaaRequest(s.purpose, handle, { callId: "call-7", caller: "sip:alice@example.com", callee: "sip:bob@example.com", flows: [flow] }));
          return [{ type: "send", proto: "COPS", to: "POL", bytes, label: `REQ ${s.purpose}`, callId: "call-7" }];
        }
        case "deliver": {
          const m = decodeCopsMessage(ev.bytes);
          received.push(m.op);
          // RFC 2748 §3.5: SSQ is answered by every state sent again (none here), then SSC.
          if (m.op === "SSQ") return [{ type: "send", proto: "COPS", to: "POL", bytes: encodeCopsMessage({ op: "SSC", clientType: ClientType.SipAaa }), label: "SSC", callId: "" }];
          return [];
        }
        default:
          return [];
      }
    },
  };
}
