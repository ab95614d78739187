// Invariants of the call flow over random mixes of calls, outcomes, timings and injected faults (in memory):
// once everything has settled no classifier, COPS request state or SIP transaction is left; every authorised
// side of every call reports usage exactly once, refused sides never; durations match the SIP timeline.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { MessageRecord } from "../../../lib/drivers/message-record.js";
import { runCalls, type CallSpec, type FaultSpec } from "../../../lib/flow/run-calls.js";

const callArb = fc.record({
  startMs: fc.integer({ min: 0, max: 5_000 }),
  answerDelayMs: fc.integer({ min: 0, max: 4_000 }),
  durationMs: fc.integer({ min: 0, max: 30_000 }),
  hangUp: fc.constantFrom("caller" as const, "callee" as const),
  outcome: fc.constantFrom("answer" as const, "answer" as const, "answer" as const, "busy" as const, "decline" as const, "no-answer" as const, "cancel" as const),
  cancelAfterMs: fc.integer({ min: 1, max: 3_000 }),
});

const faultArb: fc.Arbitrary<FaultSpec[]> = fc.oneof(
  fc.constant([]),
  fc.constantFrom<FaultSpec[]>(
    [{ kind: "deny", role: "CH" }],
    [{ kind: "deny", role: "POL1" }],
    [{ kind: "deny", role: "POL2" }],
    [{ kind: "deny", role: "R1" }],
    [{ kind: "deny", role: "R2" }],
  ),
  fc.record({
    msg: fc.constantFrom("INVITE", "180 Ringing", "200 OK", "ACK", "BYE", "CANCEL"),
    from: fc.constantFrom("UAC", "SIP1", "SIP2", "UAS"),
    nth: fc.integer({ min: 1, max: 3 }),
    kind: fc.constantFrom("drop" as const, "duplicate" as const, "delay" as const),
  }).map((f): FaultSpec[] => [{ kind: f.kind, proto: "SIP", msg: f.msg, from: f.from, nth: f.nth, delayMs: 700 }]),
  fc.record({ fromMs: fc.integer({ min: 0, max: 6_000 }), lengthMs: fc.integer({ min: 100, max: 8_000 }) })
    .map((w): FaultSpec[] => [{ kind: "down", role: "CH", fromMs: w.fromMs, toMs: w.fromMs + w.lengthMs }]),
);

function first(records: MessageRecord[], from: string, to: string, msg: string): MessageRecord | undefined {
  return records.find((r) => r.from === from && r.to === to && r.msg === msg);
}

describe("call-flow invariants (fast-check, in-memory driver)", () => {
  it("settles clean, one usage report per authorised side, durations follow the SIP timeline", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(callArb, { minLength: 1, maxLength: 4 }), faultArb, fc.constantFrom("fail-closed" as const, "fail-open" as const), async (mix, faults, unreachable) => {
        const calls: CallSpec[] = mix.map((c, i) => ({
          id: `inv-${i}@callgate.example.com`, caller: `sip:caller${i}@example.com`, callee: `sip:callee${i}@example.com`,
          startMs: c.startMs, answerDelayMs: c.answerDelayMs, durationMs: c.durationMs, hangUp: c.hangUp, outcome: c.outcome,
          cancelAfterMs: c.cancelAfterMs, noAnswerTimeoutMs: 6_000,
        }));
        const result = await runCalls({
          driver: "memory", calls, faults,
          topology: { signedTokens: false, clearinghouseTimeoutMs: 1_000, usageRetryMs: 1_000, clearinghouseUnreachable: unreachable },
        });
        expect(result.leftovers).toEqual({ classifiers: 0, copsRequestStates: 0, pendingTransactions: 0 });
        for (const call of result.calls) {
          const mine = result.records.filter((r) => r.callId === call.callId);
          // A side is authorised when its proxy let the INVITE through (DEC AAA yes, or its local decision).
          const sourceAuthorised = first(mine, "SIP1", "SIP2", "INVITE") !== undefined;
          const destinationAuthorised = first(mine, "SIP2", "UAS", "INVITE") !== undefined;
          const cdrs = result.cdrs.filter((c) => c.callId === call.callId);
          expect(cdrs.filter((c) => c.role === "source")).toHaveLength(sourceAuthorised ? 1 : 0);
          expect(cdrs.filter((c) => c.role === "destination")).toHaveLength(destinationAuthorised ? 1 : 0);
          expect(call.finalStatusAtCaller).toBeDefined();
          if (!call.established) {
            for (const c of cdrs) expect(c.durationS).toBe(0);
            continue;
          }
          // Each side bills the conversation its proxy saw: from relaying the 2xx upstream to the BYE reaching it
          // (REQ noLDP carries it). A record's t is its sending; delivery is 1 ms later, plus any injected delay.
          const proxyOf = { source: "SIP1", destination: "SIP2" } as const;
          const upstreamOf = { source: "UAC", destination: "SIP1" } as const;
          const sipFaults = faults.some((f) => f.kind !== "deny" && f.kind !== "down");
          for (const c of cdrs) {
            const side = c.role as "source" | "destination";
            const answered = first(mine, proxyOf[side], upstreamOf[side], "200 OK");
            const bye = mine.find((r) => r.msg === "BYE" && r.to === proxyOf[side]);
            if (!bye || !answered) continue;
            const connectedS = (bye.t + 1 - answered.t) / 1000;
            // Rounding to whole seconds; a dropped or delayed SIP message moves the records off the proxy's view.
            expect(Math.abs(c.durationS - connectedS)).toBeLessThanOrEqual(sipFaults ? 2.5 : 0.501);
          }
        }
      }),
      { numRuns: Number(process.env.INVARIANT_RUNS ?? 40), seed: Number(process.env.INVARIANT_SEED ?? 20260101) },
    );
  });
});
