// A policy adapter that refuses some callers by calling number, plugged into both policy servers of the
// FIG. 5/6 flow on the in-memory driver (virtual clock: the calls take a fraction of a second).
//   npx tsx examples/custom-policy.ts
import { CallEventBus, DefaultPolicyAdapter, runCalls, type AaaQuery, type AaaVerdict, type CallSpec } from "../lib/index.js";

/** Refuses premium-rate calling numbers (+1900…) with 403; every other decision is the default one. */
class BlockPremiumCallers extends DefaultPolicyAdapter {
  override decideAaa(q: AaaQuery): AaaVerdict {
    const number = /^sips?:([^@;]+)@/.exec(q.caller)?.[1] ?? "";
    if (number.startsWith("+1900")) return { allow: false, sipStatus: 403, reason: `calling number ${number} is blocked` };
    return this.defaultVerdict(q);
  }
}

const callFrom = (caller: string, startMs: number): CallSpec => ({
  caller, callee: "sip:bob@example.net", startMs, answerDelayMs: 2000, durationMs: 30_000, hangUp: "caller",
});

const events = new CallEventBus();
events.on("decision", (e) => {
  if (!e.allow && e.role === "POL1") console.log(`POL1 refused ${e.callId}: ${e.reason}`);
});

const result = await runCalls({
  driver: "memory",
  policy: new BlockPremiumCallers(),
  events,
  calls: [callFrom("sip:alice@example.com", 0), callFrom("sip:+19005550100@example.com", 1000), callFrom("sip:carol@example.com", 2000)],
});
for (const call of result.calls) {
  console.log(`${call.spec.caller}: ${call.established ? "connected" : `refused ${call.finalStatusAtCaller}`}`);
}
console.log(`CDRs: ${result.cdrs.length}`);
