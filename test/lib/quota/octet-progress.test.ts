// Octet limits on calls in progress: the quota adapter gives an admitted call the time its subject's remaining
// octets last at the bandwidth its offer asks for, and from the routers' accounting reports ends every call of
// a subject whose ended and running calls together have reached the limit; the policy server turns that verdict
// into the proxy's time-limit cut (BYE both ways), on both drivers.
import { describe, expect, it } from "vitest";
import type { AaaQuery, ProgressObservation } from "../../../lib/adapters/policy-adapter.js";
import { CallEventBus } from "../../../lib/flow/call-events.js";
import { runCalls } from "../../../lib/flow/run-calls.js";
import type { MediaFlow } from "../../../lib/flow/media-flows.js";
import { QuotaPolicyAdapter } from "../../../lib/quota/quota-policy.js";
import { DigestPolicyAdapter } from "../../../lib/auth/digest-policy-adapter.js";
import type { DigestVerifier } from "../../../lib/auth/digest-verifier.js";
import { SessionLimitPolicy } from "../../../lib/dsc/session-limit-policy.js";
import type { SessionCounter } from "../../../lib/dsc/session-counter.js";
import { parseQuotaConfig } from "../../../lib/quota/rules.js";
import { MemoryQuotaStore } from "../../../lib/quota/store.js";

const config = parseQuotaConfig({
  timeZone: "UTC",
  rules: [
    { name: "volume", subject: "realm", period: "month", limits: { octets: 1_000_000 }, reason: "volume quota used up" },
    { name: "calls", subject: "subscriber", period: "day", limits: { attempts: 100 } },
  ],
});
const now = Date.parse("2026-06-10T10:00:00Z");
const pcmu = (direction: MediaFlow["direction"]): MediaFlow => ({ direction, media: "audio", protocol: "udp", src: { address: "192.0.2.1", port: 4000 }, dst: { address: "0.0.0.0", port: 0 }, codecs: ["PCMU"], bandwidthKbps: 80 });
const query = (callId: string, caller = "sip:alice@example.com", side: AaaQuery["side"] = "originating"): AaaQuery => ({
  callId, side, caller, callee: "sip:bob@example.net", flows: [pcmu("callee-to-caller"), pcmu("caller-to-callee")], now: 0,
});
const progress = (callId: string, octets: number, side: AaaQuery["side"] = "originating"): ProgressObservation => ({
  callId, side, now, startMs: now - 10_000, packets: octets / 200, octets, octetsFromCaller: octets / 2, octetsFromCallee: octets / 2,
});

describe("QuotaPolicyAdapter on calls in progress", () => {
  it("gives the octets left as time at the offer's bandwidth, and ends the subject's calls once ended and running calls reach the limit", async () => {
    const store = new MemoryQuotaStore();
    const quota = new QuotaPolicyAdapter({ config, store, clock: () => now, progressIntervalS: 2 });
    expect(quota.progressIntervalS).toBe(2);
    // 1,000,000 octets at 2 × 80 kbit/s (20,000 octets a second) last 50 s
    expect(await quota.decideAaa(query("a"))).toEqual({ allow: true, timeLimitS: 50 });
    await quota.observeUsage({ callId: "a", side: "originating", startMs: 0, endMs: 20_000, durationS: 20, packets: 2000, octets: 400_000 });
    // two calls of the realm, each given the whole 600,000 left (30 s), one of another realm
    expect(await quota.decideAaa(query("b"))).toEqual({ allow: true, timeLimitS: 30 });
    expect(await quota.decideAaa(query("c", "sip:carol@example.com"))).toEqual({ allow: true, timeLimitS: 30 });
    expect(await quota.decideAaa(query("x", "sip:xavier@example.org"))).toEqual({ allow: true, timeLimitS: 50 });
    expect(await quota.observeProgress(progress("b", 250_000))).toEqual({ end: false });
    expect(await quota.observeProgress(progress("c", 340_000))).toEqual({ end: false }); // 400k + 250k + 340k < 1M
    expect(await quota.observeProgress(progress("x", 900_000))).toEqual({ end: false }); // its own realm
    expect(await quota.observeProgress(progress("b", 260_000))).toEqual({ end: true, reason: "volume quota used up" }); // 1,000,000
    expect(await quota.observeProgress(progress("c", 341_000))).toEqual({ end: true, reason: "volume quota used up" });
    // the terminating side is not counted here; an unknown call has nothing to reach
    expect(await quota.observeProgress(progress("b", 10_000_000, "terminating"))).toEqual({ end: false });
    expect(await quota.observeProgress(progress("nobody", 10_000_000))).toEqual({ end: false });
    // b ends with fewer octets than reported last (its report is replaced, not added): c alone runs on
    await quota.observeUsage({ callId: "b", side: "originating", startMs: 0, endMs: 13_000, durationS: 13, packets: 1000, octets: 200_000 });
    expect(await quota.observeProgress(progress("c", 399_000))).toEqual({ end: false });
    expect(await quota.observeProgress(progress("c", 400_000))).toEqual({ end: true, reason: "volume quota used up" });
    expect((await store.list({ rule: "volume" })).map((r) => [r.subject, r.octets])).toEqual([["realm=example.com", 600_000], ["realm=example.org", 0]]);
  });

  it("restarted with calls in progress: finds them by the rows their attempts were counted on, and ends them at the limit", async () => {
    const store = new MemoryQuotaStore();
    const before = new QuotaPolicyAdapter({ config, store, clock: () => now });
    await before.decideAaa(query("r1"));
    await before.decideAaa(query("r2", "sip:carol@example.com"));
    // the policy server dies; a new one on the same store gets the routers' counts of both calls
    const after = new QuotaPolicyAdapter({ config, store, clock: () => now });
    expect(after.callsInProgress).toBe(0);
    expect(await after.observeProgress(progress("r1", 500_000))).toEqual({ end: false });
    expect(await after.observeProgress(progress("never-admitted", 5_000_000))).toEqual({ end: false });
    expect(await after.observeProgress(progress("r2", 500_000))).toEqual({ end: true, reason: "volume quota used up" });
    expect(after.callsInProgress).toBe(2);
    await after.observeUsage({ callId: "r1", side: "originating", startMs: 0, endMs: 25_000, durationS: 25, packets: 2500, octets: 510_000 });
    expect((await store.list({ rule: "volume" })).map((r) => [r.attempts, r.established, r.octets])).toEqual([[2, 1, 510_000]]);
  });

  it("caller authentication and session limits wrapped around it pass its watch of calls in progress through", async () => {
    const quota = new QuotaPolicyAdapter({ config, store: new MemoryQuotaStore(), clock: () => now, progressIntervalS: 3 });
    await quota.decideAaa(query("w"));
    const limited = new SessionLimitPolicy({ counter: {} as SessionCounter, inner: quota, server: "POL1", port: 3288 });
    const authenticated = new DigestPolicyAdapter(limited, {} as DigestVerifier, { realm: "example.com" });
    expect([limited.progressIntervalS, authenticated.progressIntervalS]).toEqual([3, 3]);
    expect(await authenticated.observeProgress(progress("w", 999_999))).toEqual({ end: false });
    expect(await authenticated.observeProgress(progress("w", 1_000_000))).toEqual({ end: true, reason: "volume quota used up" });
  });

  it("the rules file may set the interval; the adapter's option wins", () => {
    const rules = (p: unknown) => ({ timeZone: "UTC", progressIntervalS: p, rules: [{ name: "v", subject: "realm", period: "day", limits: { octets: 1 } }] });
    expect(new QuotaPolicyAdapter({ config: parseQuotaConfig(rules(3)), store: new MemoryQuotaStore() }).progressIntervalS).toBe(3);
    expect(new QuotaPolicyAdapter({ config: parseQuotaConfig(rules(3)), store: new MemoryQuotaStore(), progressIntervalS: 7 }).progressIntervalS).toBe(7);
    for (const bad of [0, 1.5, "5", 3601]) expect(() => parseQuotaConfig(rules(bad)), String(bad)).toThrow("progressIntervalS must be whole seconds, 1-3600");
  });

  it("without an octet limit asks the routers for no counts in progress", () => {
    const quota = new QuotaPolicyAdapter({ config: parseQuotaConfig({ timeZone: "UTC", rules: [{ name: "t", subject: "realm", period: "day", limits: { seconds: 60 } }] }), store: new MemoryQuotaStore() });
    expect(quota.progressIntervalS).toBeUndefined();
  });
});

for (const driver of ["memory", "net"] as const)
  describe(`an octet limit ends calls in progress on the ${driver} driver`, () => {
    it("three calls of a realm at once: POL1 ends them from R1's accounting reports, long before their time limits, BYE both ways", async () => {
      const events = new CallEventBus();
      const steps: string[] = [];
      events.on("step", (e) => steps.push(`${e.role} ${e.what}`));
      // 600,000 octets: each call alone would last 30 s at its offer's bandwidth; three at once reach it in 10 s
      const quota = new QuotaPolicyAdapter({
        config: parseQuotaConfig({ timeZone: "UTC", rules: [{ name: "volume", subject: "realm", period: "month", limits: { octets: 600_000 }, reason: "volume quota used up" }] }),
        store: new MemoryQuotaStore(), clock: () => now, progressIntervalS: 2,
      });
      const call = (i: number) => ({ caller: `sip:user${i}@example.com`, callee: "sip:bob@example.net", startMs: i * 100, answerDelayMs: 200, durationMs: 40_000, hangUp: "caller" as const });
      const r = await runCalls({ driver, topology: { clearinghouse: "none" }, policy: { originating: quota }, events, calls: [call(0), call(1), call(2)] });
      expect(r.calls.map((c) => [c.finalStatusAtCaller, c.established])).toEqual([[200, true], [200, true], [200, true]]);
      expect(steps.filter((s) => s.startsWith("POL1 call ended in progress: volume quota used up"))).toHaveLength(3);
      expect(steps.filter((s) => s.startsWith("SIP1 time limit reached: BYE to both ends"))).toHaveLength(3);
      // no caller hung up: each dialog was ended by SIP1's BYEs, each 10-14 s in (reports every 2 s, checks every 2 s), well before the 30 s time limit
      expect(r.records.filter((m) => m.msg === "BYE" && m.from === "UAC")).toHaveLength(0);
      for (const u of r.cdrs.filter((c) => c.role === "source")) {
        expect(u.durationS).toBeGreaterThanOrEqual(9);
        expect(u.durationS).toBeLessThanOrEqual(20);
      }
      expect(r.leftovers).toEqual({ classifiers: 0, copsRequestStates: 0, pendingTransactions: 0 });
    }, 120_000);
  });

describe("many calls in progress (memory driver)", () => {
  it("1,100 calls of one realm: R1 counts their 2,200 classifiers in three accounting reports (one would not fit a COPS object, 64 KiB), and POL1 ends every call", async () => {
    const events = new CallEventBus();
    let ended = 0;
    events.on("step", (e) => {
      if (e.role === "POL1" && e.what.startsWith("call ended in progress")) ended++;
    });
    const quota = new QuotaPolicyAdapter({
      config: parseQuotaConfig({ timeZone: "UTC", rules: [{ name: "volume", subject: "realm", period: "month", limits: { octets: 50_000_000 } }] }),
      store: new MemoryQuotaStore(), clock: () => now, progressIntervalS: 2,
    });
    const calls = Array.from({ length: 1100 }, (_, i) => ({ caller: `sip:u${i}@example.com`, callee: "sip:bob@example.net", startMs: i * 2, answerDelayMs: 200, durationMs: 30_000, hangUp: "caller" as const }));
    const r = await runCalls({ driver: "memory", topology: { clearinghouse: "none" }, policy: { originating: quota }, events, calls });
    expect(r.calls.filter((c) => c.established)).toHaveLength(1100);
    // 1,100 calls use 22 MB a second together: past 50 MB within 5 s, long before each one's own 2,500 s
    expect(ended).toBe(1100);
    expect(r.records.filter((m) => m.msg === "BYE" && m.from === "UAC")).toHaveLength(0);
    expect(r.leftovers).toEqual({ classifiers: 0, copsRequestStates: 0, pendingTransactions: 0 });
  }, 180_000);
});

