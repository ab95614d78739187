import { describe, expect, it } from "vitest";
import { DefaultPolicyAdapter, type UsageObservation } from "../../../lib/adapters/policy-adapter.js";

const observation = (i: number): UsageObservation => ({ callId: `call-${i}`, side: "originating", startMs: i, endMs: i + 1000, durationS: 1, packets: 0, octets: 0 });

describe("DefaultPolicyAdapter usage", () => {
  it("keeps only the latest observations (a long-running server observes usage forever) and counts all", () => {
    const adapter = new DefaultPolicyAdapter({ keepUsage: 3 });
    for (let i = 0; i < 10; i++) adapter.observeUsage(observation(i));
    expect(adapter.usageObserved).toBe(10);
    expect(adapter.usage.map((u) => u.callId)).toEqual(["call-7", "call-8", "call-9"]);
  });

  it("keeps none with keepUsage 0, and 1,000 by default", () => {
    const none = new DefaultPolicyAdapter({ keepUsage: 0 });
    none.observeUsage(observation(1));
    expect(none.usage).toEqual([]);
    expect(none.usageObserved).toBe(1);
    const fallback = new DefaultPolicyAdapter();
    for (let i = 0; i < 1500; i++) fallback.observeUsage(observation(i));
    expect(fallback.usage.length).toBe(1000);
    expect(fallback.usage[0]?.callId).toBe("call-500");
  });
});
