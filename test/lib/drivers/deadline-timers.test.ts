import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DeadlineTimers } from "../../../lib/drivers/deadline-timers.js";

describe("DeadlineTimers (one armed timer for every node timer of the socket driver)", () => {
  let start = 0;
  let fired: Array<[string, number]>;
  let timers: DeadlineTimers;
  const clock = (): number => Date.now() - start;

  beforeEach(() => {
    vi.useFakeTimers();
    start = Date.now();
    fired = [];
    timers = new DeadlineTimers(clock, (key) => fired.push([key, clock()]));
  });
  afterEach(() => {
    timers.clear();
    vi.useRealTimers();
  });

  it("fires in deadline order, same deadline in the order set, never before the deadline", () => {
    timers.set("b", 20);
    timers.set("a", 10);
    timers.set("c", 20);
    timers.set("z", 0);
    vi.advanceTimersByTime(9);
    expect(fired.map(([k]) => k)).toEqual(["z"]);
    vi.advanceTimersByTime(100);
    expect(fired.map(([k]) => k)).toEqual(["z", "a", "b", "c"]);
    expect(fired[1]?.[1]).toBeGreaterThanOrEqual(10);
    expect(fired[2]?.[1]).toBeGreaterThanOrEqual(20);
    expect(timers.size).toBe(0);
  });

  it("setting a key again replaces it; cancel forgets it", () => {
    timers.set("t", 10);
    timers.set("t", 30);
    timers.set("gone", 5);
    timers.cancel("gone");
    vi.advanceTimersByTime(20);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(20);
    expect(fired.map(([k]) => k)).toEqual(["t"]);
    expect(fired[0]?.[1]).toBeGreaterThanOrEqual(30);
  });

  it("a timer set while firing (a retransmission doubling its interval) is armed", () => {
    let n = 0;
    const chain = new DeadlineTimers(clock, (key) => {
      fired.push([key, clock()]);
      if (++n < 4) chain.set(key, 500 * 2 ** n);
    });
    chain.set("E", 500);
    vi.advanceTimersByTime(500 + 1000 + 2000 + 4000 + 10);
    expect(fired.map(([, t]) => t)).toEqual([500, 1500, 3500, 7500]);
    chain.clear();
  });

  it("an earlier deadline re-arms; clear stops everything", () => {
    timers.set("late", 1000);
    timers.set("early", 5);
    vi.advanceTimersByTime(6);
    expect(fired.map(([k]) => k)).toEqual(["early"]);
    timers.clear();
    vi.advanceTimersByTime(2000);
    expect(fired.map(([k]) => k)).toEqual(["early"]);
  });

  it("many cancelled long timers are compacted away and the live ones still fire in order", () => {
    for (let i = 0; i < 10_000; i++) {
      timers.set(`B${i}`, 32_000);
      timers.cancel(`B${i}`);
    }
    timers.set("x", 50);
    timers.set("y", 50);
    timers.set("w", 40);
    for (let i = 0; i < 5_000; i++) timers.set(`K${i}`, 60_000 + i);
    for (let i = 0; i < 5_000; i++) timers.cancel(`K${i}`);
    expect(timers.size).toBe(3);
    vi.advanceTimersByTime(70_000);
    expect(fired.map(([k]) => k)).toEqual(["w", "x", "y"]);
  });
});
