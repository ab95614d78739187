import { describe, expect, it } from "vitest";
import { DefaultPolicyAdapter, type AaaQuery, type UsageObservation } from "../../../lib/adapters/policy-adapter.js";
import type { AccountingRecord } from "../../../lib/accounting/records.js";
import type { JournalEvent } from "../../../lib/auth/capacity-ledger.js";
import { RealmCapacityPolicyAdapter } from "../../../lib/auth/realm-capacity-adapter.js";

const T = Date.UTC(2026, 0, 5);
const q = (callId: string, caller: string, now = T): AaaQuery => ({ callId, side: "originating", caller, callee: "sip:bob@example.net", flows: [], now });
const usage = (callId: string, durationS: number, endMs: number): UsageObservation => ({ callId, side: "originating", startMs: endMs - durationS * 1000, endMs, durationS, packets: 0, octets: 0 });

function make(inner = new DefaultPolicyAdapter()) {
  const master: AccountingRecord[] = [];
  const client: AccountingRecord[] = [];
  const journal: JournalEvent[] = [];
  const adapter = new RealmCapacityPolicyAdapter(inner, {
    masterRealms: ["master.example"],
    clients: [{ name: "isp-b", realms: ["isp-b.example"], virtualIdentity: { user: "isp-b-virtual" }, capacity: { ports: 2, credit: 10, pricePerMinute: 1 }, accounting: { submit: (r) => client.push(...r) } }],
    masterAccounting: { submit: (r) => master.push(...r) },
    onJournal: (e) => journal.push(e),
    maxCallMs: 3600_000,
  });
  return { adapter, master, client, journal };
}

describe("RealmCapacityPolicyAdapter (calls)", () => {
  it("master realm to the wrapped policy; unknown realm refused; the N+1th call of a client realm refused 503", () => {
    const { adapter } = make();
    expect(adapter.decideAaa(q("m1", "sip:alice@master.example"))).toEqual({ allow: true });
    expect(adapter.decideAaa(q("u1", "sip:eve@nowhere.example"))).toMatchObject({ allow: false, sipStatus: 403, reason: "unknown realm" });
    expect(adapter.decideAaa(q("b1", "<sip:bob@isp-b.example>;tag=x"))).toMatchObject({ allow: true, timeLimitS: 600 });
    expect(adapter.decideAaa(q("b2", "sip:carol@isp-b.example"))).toMatchObject({ allow: true });
    expect(adapter.decideAaa(q("b3", "sip:dave@isp-b.example"))).toMatchObject({ allow: false, sipStatus: 503, reason: "capacity of isp-b: ports" });
    // The terminating side is not the caller's provider's.
    expect(adapter.decideAaa({ ...q("b3", "sip:dave@isp-b.example"), side: "terminating" })).toEqual({ allow: true });
  });

  it("dual accounting: Start and Stop to the master as the virtual identity, to the provider as the subscriber; usage frees the port and spends credit", () => {
    const { adapter, master, client, journal } = make();
    adapter.decideAaa(q("b1", "sip:bob@isp-b.example"));
    adapter.decideAaa(q("b2", "sip:carol@isp-b.example"));
    adapter.observeUsage(usage("b1", 125, T + 125_000));
    expect(master.map((r) => [r.status, r.attributes.find(([n]) => n === "User-Name")?.[1]])).toEqual([["Start", "isp-b-virtual"], ["Start", "isp-b-virtual"], ["Stop", "isp-b-virtual"]]);
    expect(client.map((r) => [r.status, r.attributes.find(([n]) => n === "User-Name")?.[1]])).toEqual([["Start", "bob@isp-b.example"], ["Start", "carol@isp-b.example"], ["Stop", "bob@isp-b.example"]]);
    expect(client[2]!.attributes).toContainEqual(["Acct-Session-Time", 125]);
    expect(journal.map((e) => e.kind)).toEqual(["start", "start", "stop"]);
    // 125 s = 3 started minutes: 7 credit left; a third call fits again.
    expect(adapter.ledger.usage(T + 125_000, "isp-b")).toMatchObject({ sessions: 1, creditLeft: 7 });
    expect(adapter.decideAaa(q("b3", "sip:dave@isp-b.example", T + 126_000))).toMatchObject({ allow: true, timeLimitS: 420 });
  });

  it("a refusal of the wrapped policy frees the port; a call whose usage never came is closed after maxCallMs", async () => {
    const { adapter, client } = make(new DefaultPolicyAdapter({ denyAll: true }));
    expect(adapter.decideAaa(q("b1", "sip:bob@isp-b.example"))).toMatchObject({ allow: false });
    expect(adapter.ledger.usage(T, "isp-b")).toMatchObject({ sessions: 0, reserved: 0 });
    const ok = make();
    ok.adapter.decideAaa(q("b1", "sip:bob@isp-b.example"));
    ok.adapter.decideAaa(q("b2", "sip:carol@isp-b.example", T + 3_600_001));
    expect(ok.client.filter((r) => r.status === "Stop").map((r) => r.sessionId)).toEqual(["b1"]);
    expect(client).toEqual([]);
  });
});
