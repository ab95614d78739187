// Quotas through runCalls on both drivers: the N+1th call of a day refused with the status and Reason the
// caller sees, a call cut at its remaining allowance (BYE both ways, usage reported, classifiers removed),
// a DST change and a month boundary resetting the right counters, an octet limit fed by the routers' counts.
import { describe, expect, it } from "vitest";
import type { MessageRecord } from "../../../lib/drivers/message-record.js";
import { CallEventBus, type CallEvent } from "../../../lib/flow/call-events.js";
import { runCalls, type CallSpec, type RunOptions } from "../../../lib/flow/run-calls.js";
import { RunClock } from "../../../lib/flow/run-clock.js";
import { QuotaPolicyAdapter } from "../../../lib/quota/quota-policy.js";
import { parseQuotaConfig } from "../../../lib/quota/rules.js";
import { MemoryQuotaStore } from "../../../lib/quota/store.js";

const DRIVERS = ["memory", "net"] as const;
const SLOT_MS = 2500;

const call = (i: number, caller: string, talkMs: number, extra: Partial<CallSpec> = {}): CallSpec => ({
  id: `c${i}`, caller, callee: "sip:+4930123@example.net", startMs: i * SLOT_MS + 100, answerDelayMs: 100, durationMs: talkMs, hangUp: "caller", ...extra,
});

/**
 * The adapter's wall clock: call slot i (SLOT_MS of run time each) is at `instants[i]` plus the run time
 * into the slot, so one short run visits dates days apart on either driver.
 */
function slotClock(driver: "memory" | "net", instants: string[]): { clock: () => number; runClock: RunClock; start: () => void } {
  const runClock = new RunClock();
  let t0 = 0;
  const clock = (): number => {
    const t = runClock.now() - (driver === "net" ? t0 : 0);
    const slot = Math.min(instants.length - 1, Math.max(0, Math.floor(t / SLOT_MS)));
    return Date.parse(instants[slot]!) + (t - slot * SLOT_MS);
  };
  return { clock, runClock, start: () => (t0 = performance.now()) };
}

async function run(driver: "memory" | "net", policy: QuotaPolicyAdapter, calls: CallSpec[], runClock: RunClock, start: () => void) {
  const events = new CallEventBus();
  const seen: CallEvent[] = [];
  events.on("*", (e) => seen.push(e));
  const opts: RunOptions = { driver, calls, policy, events, clock: runClock, topology: { clearinghouse: "none" } };
  start();
  const result = await runCalls(opts);
  return { result, seen };
}

const refusalAtCaller = (records: MessageRecord[], callId: string): string | undefined =>
  records.find((r) => r.callId === callId && r.to === "UAC" && /^[4-6]\d\d/.test(r.msg))?.bytes.toString("latin1");

describe.each(DRIVERS)("quotas through runCalls (%s driver)", (driver) => {
  it("the N+1th call of a day is refused with the rule's status and Reason; another subscriber is not", async () => {
    const store = new MemoryQuotaStore();
    const config = parseQuotaConfig({
      timeZone: "Europe/Berlin",
      rules: [{ name: "daily-calls", subject: "subscriber", period: "day", limits: { attempts: 2 }, sipStatus: 403, reason: "daily call limit reached" }],
    });
    const { clock, runClock, start } = slotClock(driver, ["2026-06-10T08:00:00Z"]);
    const policy = new QuotaPolicyAdapter({ config, store, clock });
    const calls = [call(0, "sip:alice@example.com", 1000), call(1, "sip:alice@example.com", 1000), call(2, "sip:alice@example.com", 1000), call(3, "sip:carol@example.com", 1000)];
    const { result } = await run(driver, policy, calls, runClock, start);
    expect(result.calls.map((c) => c.finalStatusAtCaller)).toEqual([200, 200, 403, 200]);
    const third = result.calls[2]!.callId;
    expect(refusalAtCaller(result.records, third)).toMatch(/^SIP\/2\.0 403 [^\r]*\r\n[\s\S]*\r\nReason: SIP;cause=403;text="daily call limit reached"\r\n/);
    // the refused call never reached the callee and counted nothing
    expect(result.records.some((r) => r.callId === third && r.to === "UAS")).toBe(false);
    const rows = await store.list({ rule: "daily-calls" });
    expect(rows.map((r) => [r.subject, r.periodKey, r.attempts, r.established])).toEqual([
      ["subscriber=alice@example.com", "2026-06-10", 2, 2],
      ["subscriber=carol@example.com", "2026-06-10", 1, 1],
    ]);
    expect(result.leftovers).toEqual({ classifiers: 0, copsRequestStates: 0, pendingTransactions: 0 });
  }, 60_000);

  it("a call is cut at its remaining allowance of seconds: BYE both ways, usage reported, classifiers removed", async () => {
    const store = new MemoryQuotaStore();
    const config = parseQuotaConfig({ timeZone: "UTC", rules: [{ name: "talk-time", subject: ["subscriber"], period: "day", limits: { seconds: 4 } }] });
    const { clock, runClock, start } = slotClock(driver, ["2026-06-10T08:00:00Z", "2026-06-10T08:00:02.5Z", "2026-06-10T08:00:05Z", "2026-06-10T08:00:07.5Z"]);
    const policy = new QuotaPolicyAdapter({ config, store, clock });
    // c0 talks 1 s (counted as 1 s); c1 wants 20 s and is given the 3 s left; c2 finds the allowance spent
    const calls = [call(0, "sip:alice@example.com", 1000), call(1, "sip:alice@example.com", 20_000), call(4, "sip:alice@example.com", 500)];
    const { result, seen } = await run(driver, policy, calls, runClock, start);
    const [c0, c1, c2] = result.calls.map((c) => c.callId) as [string, string, string];
    const cut = result.records.filter((r) => r.callId === c1 && r.msg === "BYE" && r.from === "SIP1").map((r) => r.to).sort();
    expect(cut).toEqual(["SIP2", "UAC"]);
    const usage = seen.filter((e): e is Extract<CallEvent, { type: "usage" }> => e.type === "usage" && e.role === "POL1");
    const d1 = usage.find((u) => u.callId === c1)!.durationS;
    // the proxy checks its time limits every 4·T1 (2 s): cut between 3 s and 3 s + 2 s, never the 20 s asked for
    expect(d1).toBeGreaterThanOrEqual(3);
    expect(d1).toBeLessThan(5.5);
    expect(usage.find((u) => u.callId === c0)!.durationS).toBeCloseTo(1, 0);
    expect(result.calls.find((c) => c.callId === c2)!.finalStatusAtCaller).toBe(403);
    const [row] = await store.list({ rule: "talk-time" });
    expect(row!.seconds).toBe(1 + Math.ceil(d1));
    expect(result.leftovers).toEqual({ classifiers: 0, copsRequestStates: 0, pendingTransactions: 0 });
  }, 60_000);

  it("a DST change and a month boundary reset the day, month and year counters at local midnight (Europe/Berlin)", async () => {
    const store = new MemoryQuotaStore();
    const config = parseQuotaConfig({
      timeZone: "Europe/Berlin",
      rules: [
        { name: "day", subject: "subscriber", period: "day", limits: { attempts: 1 } },
        { name: "month", subject: "subscriber", period: "month", limits: { attempts: 2 } },
        { name: "year", subject: "subscriber", period: "year", limits: { attempts: 4 } },
      ],
    });
    const instants = [
      "2026-10-24T10:00:00Z", // Sat 12:00 CEST: admitted (day 1, month 1, year 1)
      "2026-10-24T22:30:00Z", // Sun 25 Oct 00:30 CEST: a new day, admitted (month 2, year 2)
      "2026-10-25T22:30:00Z", // Sun 23:30 CET, 25 h day: still 25 Oct, refused by "day" (a fixed +02:00 would say 26 Oct)
      "2026-10-26T11:00:00Z", // Mon 12:00: a new day, refused by "month" (2 of 2)
      "2026-10-31T23:10:00Z", // Sun 1 Nov 00:10 CET: new month, admitted (year 3)
      "2026-12-01T11:00:00Z", // new month again, admitted (year 4)
      "2026-12-02T11:00:00Z", // refused by "year" (4 of 4)
    ];
    const { clock, runClock, start } = slotClock(driver, instants);
    const policy = new QuotaPolicyAdapter({ config, store, clock });
    const calls = instants.map((_, i) => call(i, "sip:alice@example.com", 200));
    const { result } = await run(driver, policy, calls, runClock, start);
    expect(result.calls.map((c) => c.finalStatusAtCaller)).toEqual([200, 200, 403, 403, 200, 200, 403]);
    const reasons = [2, 3, 6].map((i) => /Reason: [^\r]*text="quota ([a-z]+):/.exec(refusalAtCaller(result.records, result.calls[i]!.callId) ?? "")?.[1]);
    expect(reasons).toEqual(["day", "month", "year"]);
    const rows = await store.list();
    expect(rows.map((r) => `${r.rule} ${r.periodKey} ${r.attempts}`)).toEqual([
      "day 2026-10-24 1", "day 2026-10-25 1", "day 2026-11-01 1", "day 2026-12-01 1",
      "month 2026-10-01 2", "month 2026-11-01 1", "month 2026-12-01 1",
      "year 2026-01-01 4",
    ]);
  }, 60_000);

  it("an octet limit acts from the routers' counts: the call that reaches it is counted whole, the next one is refused", async () => {
    const store = new MemoryQuotaStore();
    const config = parseQuotaConfig({ timeZone: "UTC", rules: [{ name: "volume", subject: ["realm"], period: "month", limits: { octets: 1 }, sipStatus: 486, reason: "volume quota used up" }] });
    const { clock, runClock, start } = slotClock(driver, ["2026-06-10T08:00:00Z"]);
    const policy = new QuotaPolicyAdapter({ config, store, clock });
    const calls = [call(0, "sip:alice@example.com", 1000), call(1, "sip:bob@example.com", 300)];
    const { result, seen } = await run(driver, policy, calls, runClock, start);
    const routerOctets = seen.find((e): e is Extract<CallEvent, { type: "usage" }> => e.type === "usage" && e.role === "POL1" && e.callId === result.calls[0]!.callId)!.octets;
    expect(routerOctets).toBeGreaterThan(0);
    const [row] = await store.list({ rule: "volume" });
    expect(row).toMatchObject({ subject: "realm=example.com", attempts: 1, octets: routerOctets });
    expect(result.calls.map((c) => c.finalStatusAtCaller)).toEqual([200, 486]);
    expect(refusalAtCaller(result.records, result.calls[1]!.callId)).toMatch(/\r\nReason: SIP;cause=486;text="volume quota used up"\r\n/);
  }, 60_000);
});
