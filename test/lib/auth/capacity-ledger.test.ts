import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CapacityLedger, type JournalEvent } from "../../../lib/auth/capacity-ledger.js";

const T0 = Date.UTC(2026, 0, 10);

describe("CapacityLedger", () => {
  it("ports: reservations and open sessions both hold a port; a refused or lapsed authorisation frees it", () => {
    const l = new CapacityLedger({ b: { ports: 2 } }, 1000);
    const r1 = l.admit(T0, "b");
    const r2 = l.admit(T0, "b");
    expect(r1.ok && r2.ok).toBe(true);
    expect(l.admit(T0, "b")).toEqual({ ok: false, cause: "ports" });
    if (r2.ok) l.release(r2.reservation);
    expect(l.admit(T0, "b").ok).toBe(true);
    // Both reservations lapse after holdMs without a Start.
    expect(l.admit(T0 + 1001, "b").ok).toBe(true);
    expect(l.usage(T0 + 1001, "b").reserved).toBe(1);
  });

  it("Start turns a reservation into a session, Stop frees it once (a retransmitted Stop is not counted twice)", () => {
    const l = new CapacityLedger({ b: { ports: 1, pricePerMinute: 2, credit: 10 } });
    expect(l.admit(T0, "b").ok).toBe(true);
    expect(l.start(T0, "b", "s1")?.kind).toBe("start");
    expect(l.start(T0, "b", "s1")).toBeUndefined();
    expect(l.usage(T0, "b")).toMatchObject({ sessions: 1, reserved: 0 });
    expect(l.admit(T0, "b")).toEqual({ ok: false, cause: "ports" });
    expect(l.stop(T0 + 61_000, "b", "s1", 61)?.kind).toBe("stop");
    expect(l.stop(T0 + 62_000, "b", "s1", 61)).toBeUndefined();
    // 61 s = 2 started minutes × 2 = 4 charged.
    expect(l.usage(T0 + 62_000, "b")).toMatchObject({ sessions: 0, creditLeft: 6 });
  });

  it("time per period, credit and suspension refuse; Session-Timeout is what is left; a new period starts afresh", () => {
    const l = new CapacityLedger({ t: { secondsPerPeriod: 100, periodSeconds: 3600 }, c: { credit: 1, pricePerMinute: 1 }, s: { suspended: true } });
    const v = l.admit(T0, "t");
    expect(v).toMatchObject({ ok: true, sessionTimeout: 100 });
    l.start(T0, "t", "a");
    l.stop(T0 + 100_000, "t", "a", 100);
    expect(l.admit(T0 + 100_000, "t")).toEqual({ ok: false, cause: "time" });
    expect(l.admit(T0 + 3_600_000, "t").ok).toBe(true);
    expect(l.admit(T0, "c")).toMatchObject({ ok: true, sessionTimeout: 60 });
    l.start(T0, "c", "x");
    l.stop(T0, "c", "x", 1);
    expect(l.admit(T0, "c")).toEqual({ ok: false, cause: "credit" });
    expect(l.admit(T0, "s")).toEqual({ ok: false, cause: "suspended" });
  });

  it("replaying the journal gives the same open sessions, time and credit (property)", () => {
    const op = fc.record({ start: fc.boolean(), session: fc.integer({ min: 0, max: 5 }), seconds: fc.integer({ min: 0, max: 500 }), dt: fc.integer({ min: 0, max: 60_000 }) });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const cap = { b: { ports: 3, secondsPerPeriod: 5000, periodSeconds: 3600, credit: 100, pricePerMinute: 1 } };
        const live = new CapacityLedger(cap);
        const journal: JournalEvent[] = [];
        let t = T0;
        for (const o of ops) {
          t += o.dt;
          const e = o.start ? live.start(t, "b", `s${o.session}`) : live.stop(t, "b", `s${o.session}`, o.seconds);
          if (e) journal.push(JSON.parse(JSON.stringify(e)) as JournalEvent);
        }
        const replayed = new CapacityLedger(cap);
        for (const e of journal) replayed.apply(e);
        expect(replayed.usage(t, "b")).toEqual(live.usage(t, "b"));
        expect(replayed.admit(t, "b")).toEqual(live.admit(t, "b"));
      }),
      { numRuns: 300 },
    );
  });

  it("an unknown provider is a programming error", () => {
    expect(() => new CapacityLedger({}).admit(T0, "nobody")).toThrow(/no rented capacity/);
  });
});
