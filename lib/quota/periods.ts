// Calendar periods (day, ISO week from Monday, month, year) aligned to local midnight in an IANA time zone.
// Local wall time is read with Intl, so a DST change makes a day 23 or 25 hours long and moves no boundary.

/** A calendar period of a quota. */
export type QuotaPeriod = "day" | "week" | "month" | "year";
export const QUOTA_PERIODS: readonly QuotaPeriod[] = ["day", "week", "month", "year"];

/** The period a time falls in: its key, start and end, in the rule's time zone. */
export interface PeriodWindow {
  period: QuotaPeriod;
  /** Local date of the first day, YYYY-MM-DD: the counters' key for this window. */
  key: string;
  startMs: number;
  /** Start of the next window. */
  endMs: number;
}

interface LocalParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", second: "numeric",
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** Throws a RangeError naming the zone when Intl does not know it. */
export function checkTimeZone(timeZone: string): void {
  try {
    formatterFor(timeZone);
  } catch {
    throw new RangeError(`unknown IANA time zone '${timeZone}'`);
  }
}

function localParts(ms: number, timeZone: string): LocalParts {
  const p: Record<string, number> = {};
  for (const part of formatterFor(timeZone).formatToParts(new Date(ms))) if (part.type !== "literal") p[part.type] = Number(part.value);
  return { year: p.year!, month: p.month!, day: p.day!, hour: p.hour!, minute: p.minute!, second: p.second! };
}

/** Offset of the zone from UTC at `ms`, in ms (local = utc + offset). */
function offsetAt(ms: number, timeZone: string): number {
  const l = localParts(ms, timeZone);
  return Date.UTC(l.year, l.month - 1, l.day, l.hour, l.minute, l.second) - Math.floor(ms / 1000) * 1000;
}

/**
 * The instant local midnight of a date begins. Where midnight falls in a DST gap, the first instant of that
 * local day (the clock jumps past 00:00, so the day starts when it lands).
 */
export function localMidnight(year: number, month: number, day: number, timeZone: string): number {
  const wall = Date.UTC(year, month - 1, day);
  // Two rounds settle the offset on either side of a change.
  let guess = wall - offsetAt(wall, timeZone);
  guess = wall - offsetAt(guess, timeZone);
  const l = localParts(guess, timeZone);
  if (Date.UTC(l.year, l.month - 1, l.day) < wall) {
    // midnight does not exist (gap): the day starts when the clock jumps forward, on the hour at most 2 h later
    for (let t = guess; t < guess + 3 * 3_600_000; t += 60_000) {
      const m = localParts(t, timeZone);
      if (Date.UTC(m.year, m.month - 1, m.day) >= wall) return t;
    }
  }
  return guess;
}

const pad = (n: number, w = 2): string => String(n).padStart(w, "0");

/** The window of `period` that contains the instant `ms`, in `timeZone`. */
export function periodWindow(period: QuotaPeriod, ms: number, timeZone: string): PeriodWindow {
  const l = localParts(ms, timeZone);
  let y = l.year;
  let m = l.month;
  let d = l.day;
  let ny: number, nm: number, nd: number;
  switch (period) {
    case "day": {
      const next = new Date(Date.UTC(y, m - 1, d + 1));
      [ny, nm, nd] = [next.getUTCFullYear(), next.getUTCMonth() + 1, next.getUTCDate()];
      break;
    }
    case "week": {
      const dow = (new Date(Date.UTC(y, m - 1, d)).getUTCDay() + 6) % 7; // Monday 0 (ISO 8601)
      const first = new Date(Date.UTC(y, m - 1, d - dow));
      const next = new Date(Date.UTC(y, m - 1, d - dow + 7));
      [y, m, d] = [first.getUTCFullYear(), first.getUTCMonth() + 1, first.getUTCDate()];
      [ny, nm, nd] = [next.getUTCFullYear(), next.getUTCMonth() + 1, next.getUTCDate()];
      break;
    }
    case "month":
      d = 1;
      [ny, nm, nd] = m === 12 ? [y + 1, 1, 1] : [y, m + 1, 1];
      break;
    case "year":
      m = 1;
      d = 1;
      [ny, nm, nd] = [y + 1, 1, 1];
      break;
  }
  return {
    period,
    key: `${pad(y, 4)}-${pad(m)}-${pad(d)}`,
    startMs: localMidnight(y, m, d, timeZone),
    endMs: localMidnight(ny, nm, nd, timeZone),
  };
}
