// Calendar periods in IANA zones: fast-check properties (a window holds its instant, windows tile time, start
// at local midnight) and the DST days of Europe/Berlin and America/Santiago (midnight skipped).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { periodWindow, QUOTA_PERIODS, type QuotaPeriod } from "../../../lib/quota/periods.js";

const ZONES = ["UTC", "Europe/Berlin", "America/New_York", "America/Santiago", "Australia/Lord_Howe", "Asia/Kolkata", "Pacific/Chatham"];
const localTime = (ms: number, timeZone: string): string =>
  new Intl.DateTimeFormat("sv-SE", { timeZone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(new Date(ms));

describe("periodWindow", () => {
  it("holds its instant, starts on its key's local date, and the next window starts where it ends (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: Date.parse("1990-01-01"), max: Date.parse("2060-01-01") }),
        fc.constantFrom(...ZONES),
        fc.constantFrom(...QUOTA_PERIODS),
        (t, zone, period: QuotaPeriod) => {
          const w = periodWindow(period, t, zone);
          expect(w.startMs).toBeLessThanOrEqual(t);
          expect(t).toBeLessThan(w.endMs);
          expect(localTime(w.startMs, zone).slice(0, 10)).toBe(w.key);
          // the instant before the start is in the previous window
          expect(periodWindow(period, w.startMs - 1, zone).endMs).toBe(w.startMs);
          expect(periodWindow(period, w.endMs, zone).startMs).toBe(w.endMs);
          if (period === "week") expect(new Date(`${w.key}T12:00:00Z`).getUTCDay()).toBe(1);
          if (period === "month") expect(w.key.endsWith("-01")).toBe(true);
          if (period === "year") expect(w.key.endsWith("-01-01")).toBe(true);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("DST: Berlin's spring day has 23 hours and its autumn day 25, both from local midnight", () => {
    const spring = periodWindow("day", Date.parse("2026-03-29T12:00:00Z"), "Europe/Berlin");
    expect([spring.key, new Date(spring.startMs).toISOString(), (spring.endMs - spring.startMs) / 3_600_000]).toEqual(["2026-03-29", "2026-03-28T23:00:00.000Z", 23]);
    const autumn = periodWindow("day", Date.parse("2026-10-25T22:30:00Z"), "Europe/Berlin"); // 23:30 CET
    expect([autumn.key, new Date(autumn.startMs).toISOString(), (autumn.endMs - autumn.startMs) / 3_600_000]).toEqual(["2026-10-25", "2026-10-24T22:00:00.000Z", 25]);
  });

  it("DST at midnight (America/Santiago): the day starts when the clock lands at 01:00", () => {
    const w = periodWindow("day", Date.parse("2026-09-06T12:00:00Z"), "America/Santiago");
    expect([w.key, new Date(w.startMs).toISOString(), (w.endMs - w.startMs) / 3_600_000]).toEqual(["2026-09-06", "2026-09-06T04:00:00.000Z", 23]);
    expect(localTime(w.startMs, "America/Santiago")).toBe("2026-09-06 01:00");
  });

  it("a month and a year begin at local midnight, not UTC's", () => {
    const m = periodWindow("month", Date.parse("2026-10-31T23:30:00Z"), "Europe/Berlin"); // 00:30 on 1 Nov local
    expect([m.key, new Date(m.startMs).toISOString()]).toEqual(["2026-11-01", "2026-10-31T23:00:00.000Z"]);
    const y = periodWindow("year", Date.parse("2026-12-31T15:00:00Z"), "Pacific/Chatham");
    expect(y.key).toBe("2027-01-01");
  });
});
