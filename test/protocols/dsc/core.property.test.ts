// Random authorise / terminate traffic over five DSCs in one process, messages delivered in random order across
// links (in order on each), with and without DSCs killed and restarted and requests timing out.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import "../../support/fast-check-seed.js";
import { runMesh, type RunOptions, type RunTally } from "./mesh-run.js";
import { stepsArb, type Step } from "./traffic.js";

function check(arb: fc.Arbitrary<Step[]>, opts: RunOptions): RunTally {
  const tally: RunTally = { granted: 0, refused: 0, overSubscribed: 0, kills: 0 };
  fc.assert(fc.property(arb, (steps) => runMesh(steps, opts, tally)), { numRuns: 100 });
  // The runs reached grants and refusals at the thresholds.
  expect(tally.granted).toBeGreaterThan(100);
  expect(tally.refused).toBeGreaterThan(10);
  return tally;
}

describe("five DSCs in one process, random traffic", () => {
  it("every session asked of its authority never exceeds a global threshold", () => {
    const tally = check(stepsArb({ faults: false, timers: false, maxLength: 300 }), { localZero: true });
    expect(tally.overSubscribed).toBe(0);
  });

  it("local grants: the bound, every excess counted, all counters 0 at the end", () => {
    const tally = check(stepsArb({ faults: false, timers: true, maxLength: 300 }), {});
    // Concurrent local grants did take entities past their thresholds, and were counted.
    expect(tally.overSubscribed).toBeGreaterThan(0);
  });

  it("the same with DSCs killed and restarted mid-run (fail closed)", () => {
    expect(check(stepsArb({ faults: true, timers: true, maxLength: 300 }), {}).kills).toBeGreaterThan(50);
  });

  it("the same failing open while an authority is down", () => {
    expect(check(stepsArb({ faults: true, timers: true, maxLength: 300 }), { failClosed: false }).kills).toBeGreaterThan(50);
  });
});
