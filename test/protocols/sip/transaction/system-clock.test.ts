import { describe, expect, it } from "vitest";
import { systemClock } from "../../../../protocols/sip/transaction/transaction-clock.js";

function firedWhen(fired: string[], name: string): Promise<void> {
  return new Promise((resolve) => {
    const poll = (): void => {
      if (fired.includes(name)) resolve();
      else setTimeout(poll, 2);
    };
    poll();
  });
}

describe("systemClock timers", () => {
  it("fires timers of one delay in the order set, never a cleared one, and not before their delay", async () => {
    const fired: string[] = [];
    const start = performance.now();
    const at = new Map<string, number>();
    const mark = (name: string) => () => {
      fired.push(name);
      at.set(name, performance.now() - start);
    };
    systemClock.setTimer(30, mark("a"));
    const b = systemClock.setTimer(30, mark("b"));
    systemClock.setTimer(30, mark("c"));
    systemClock.setTimer(5, mark("x"));
    systemClock.clearTimer(b);
    await firedWhen(fired, "c");
    await new Promise((r) => setTimeout(r, 40));
    expect(fired).toEqual(["x", "a", "c"]);
    expect(at.get("a")!).toBeGreaterThanOrEqual(30);
    expect(at.get("x")!).toBeGreaterThanOrEqual(5);
  });

  it("a cleared first timer does not hold back the next one, and an emptied delay takes new timers", async () => {
    const fired: string[] = [];
    const first = systemClock.setTimer(25, () => fired.push("first"));
    systemClock.clearTimer(first);
    systemClock.clearTimer(first); // twice: nothing more happens
    systemClock.setTimer(25, () => fired.push("second"));
    await firedWhen(fired, "second");
    const again = systemClock.setTimer(25, () => fired.push("third"));
    await firedWhen(fired, "third");
    systemClock.clearTimer(again); // after it fired: nothing happens
    expect(fired).toEqual(["second", "third"]);
  });

  it("a timer cleared after falling due but before its turn does not fire", async () => {
    const fired: string[] = [];
    // The first clears the second before its turn (in the same batch or a later one).
    systemClock.setTimer(10, () => {
      fired.push("one");
      systemClock.clearTimer(late);
    });
    const late = systemClock.setTimer(10, () => fired.push("two"));
    systemClock.setTimer(40, () => fired.push("end"));
    await firedWhen(fired, "end");
    expect(fired).toEqual(["one", "end"]);
  });
});
