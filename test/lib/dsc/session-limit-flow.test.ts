// Session limits through runCalls on both drivers: POL1 counts each call's caller, POL2 its callee, each at its
// own DSC; group "sales" has members on both sides, so its sessions are counted at two policy servers against
// one limit. The N+1th call is refused with 403 and a Reason naming the group; an ended call lets the next in.
import { afterEach, describe, expect, it } from "vitest";
import { InProcessDscCluster, SessionLimitPolicy } from "../../../lib/dsc/index.js";
import type { MessageRecord } from "../../../lib/drivers/message-record.js";
import { runCalls, type CallSpec } from "../../../lib/flow/run-calls.js";
import { RoleMetrics } from "../../../lib/observability/metrics.js";

const DRIVERS = ["memory", "net"] as const;
const SALES = { "alice@example.com": ["sales"], "carol@example.com": ["sales"], "dave@example.net": ["sales"] };

const call = (id: string, caller: string, callee: string, startMs: number, durationMs: number): CallSpec => ({
  id, caller: `sip:${caller}`, callee: `sip:${callee}`, startMs, answerDelayMs: 100, durationMs, hangUp: "caller",
});

const refusalAtCaller = (records: MessageRecord[], callId: string): string | undefined =>
  records.find((r) => r.callId === callId && r.to === "UAC" && /^[4-6]\d\d/.test(r.msg))?.bytes.toString("latin1");

let cluster: InProcessDscCluster | undefined;
afterEach(() => cluster?.close());

describe.each(DRIVERS)("session limits through runCalls (%s driver)", (driver) => {
  it("the third concurrent session of group sales is refused with 403 and its Reason; an ended call lets the next in", async () => {
    cluster = new InProcessDscCluster(["dsc-1", "dsc-2"], { threshold: (e) => (e === "group sales" ? { global: 2, local: 1 } : undefined) });
    const membership = { groups: SALES, realms: false };
    const pol1 = new SessionLimitPolicy({ counter: cluster.counter("dsc-1"), membership, server: "POL1", port: 3288, sides: ["originating"] });
    const pol2 = new SessionLimitPolicy({ counter: cluster.counter("dsc-2"), membership, server: "POL2", port: 3288, sides: ["terminating"] });
    const calls = [
      call("c0", "alice@example.com", "bob@example.net", 100, 3000), // sales at POL1
      call("c1", "erin@example.com", "dave@example.net", 600, 3000), // sales at POL2
      call("c2", "carol@example.com", "frank@example.net", 1200, 1000), // a third: refused
      call("c3", "alice@example.com", "bob@example.net", 6000, 500), // after c0 and c1 ended
    ];
    const result = await runCalls({ driver, calls, policy: { originating: pol1, terminating: pol2 }, topology: { clearinghouse: "none" } });
    expect(result.calls.map((c) => c.finalStatusAtCaller)).toEqual([200, 200, 403, 200]);
    const third = result.calls[2]!.callId;
    expect(refusalAtCaller(result.records, third)).toMatch(/\r\nReason: SIP;cause=403;text="group sales at its session limit"\r\n/);
    expect(result.records.some((r) => r.callId === third && r.to === "UAS")).toBe(false);
    // Every call over: nothing counted anywhere, at either DSC.
    for (const id of ["dsc-1", "dsc-2"]) expect(cluster.core(id).entityStats("group sales").active).toBe(0);
    expect(pol1.counting + pol2.counting).toBe(0);
    const stats = [cluster.core("dsc-1").entityStats("group sales"), cluster.core("dsc-2").entityStats("group sales")];
    expect(stats.reduce((n, s) => n + s.granted, 0)).toBe(3);
    expect(stats.reduce((n, s) => n + s.refused, 0)).toBe(1);
    // Per-entity metrics on a role's registry.
    const metrics = new RoleMetrics("POL1", { defaultMetrics: false });
    pol1.registerMetrics(metrics);
    const text = await metrics.text();
    expect(text).toMatch(/callgate_session_entity_refused\{entity="group sales",role="POL1"\} 1/);
    expect(text).toMatch(/callgate_session_entity_active\{entity="group sales",role="POL1"\} 0/);
  }, 60_000);

  it("a call refused after its session was granted (the callee side) releases it", async () => {
    cluster = new InProcessDscCluster(["dsc-1", "dsc-2"], { threshold: (e) => (e.startsWith("realm ") ? { global: 5, local: 2 } : undefined) });
    const pol1 = new SessionLimitPolicy({ counter: cluster.counter("dsc-1"), server: "POL1", port: 3288 });
    // POL2 refuses every call: POL1's session, granted at REQ AAA, must not stay counted.
    const pol2 = new SessionLimitPolicy({ counter: cluster.counter("dsc-2"), server: "POL2", port: 3288, sides: ["terminating"], inner: { decideAaa: () => ({ allow: false, sipStatus: 403, reason: "no" }), chooseClass: () => ({ dscp: 46, className: "EF" }), observeUsage: () => undefined } });
    const calls = [call("c0", "alice@example.com", "bob@example.net", 100, 500), call("c1", "alice@example.com", "bob@example.net", 300, 500)];
    const result = await runCalls({ driver, calls, policy: { originating: pol1, terminating: pol2 }, topology: { clearinghouse: "none" } });
    expect(result.calls.map((c) => c.finalStatusAtCaller)).toEqual([403, 403]);
    expect(cluster.core("dsc-1").entityStats("realm example.com").granted).toBe(2);
    expect(pol1.counting + pol2.counting).toBe(0);
    for (const id of ["dsc-1", "dsc-2"]) for (const e of ["realm example.com", "realm example.net"]) expect(cluster.core(id).entityStats(e).active).toBe(0);
  }, 60_000);
});
