import { describe, expect, it } from "vitest";
import fc from "fast-check";
import type { MessageRecord } from "../../../lib/drivers/message-record.js";
import type { RunOptions, RunResult } from "../../../lib/flow/run-calls.js";
import { compareWithTrace, decodeTrace, encodeTrace, TraceError, traceFromRun } from "../../../lib/replay/trace.js";
import { syntheticCall } from "./synthetic-call.js";

const options: RunOptions = { driver: "memory", topology: { clearinghouse: "osp-http" }, calls: [{ id: "call-1", caller: "sip:a@example.com", callee: "sip:b@example.net", startMs: 0, answerDelayMs: 2000, durationMs: 60000, hangUp: "caller" }], seed: 3, onRecord: () => undefined };
function run(records: MessageRecord[], finalStatus = 200): RunResult {
  return { records, calls: [{ callId: "c1", spec: options.calls[0]!, finalStatusAtCaller: finalStatus, established: true }], cdrs: [], leftovers: { classifiers: 0, copsRequestStates: 0, pendingTransactions: 0 } };
}

describe("binary trace", () => {
  it("round-trips a run: options, records with bytes and transport, call results", () => {
    const records = syntheticCall({ callId: "c1" });
    records[0]!.transport = { kind: "udp", src: "127.0.0.1", srcPort: 40000, dst: "127.0.0.1", dstPort: 5060 };
    const trace = traceFromRun("fig5-fig6", options, run(records), "0.1.0");
    const back = decodeTrace(encodeTrace(trace));
    expect(back.runOptions).toEqual({ driver: "memory", topology: { clearinghouse: "osp-http" }, calls: options.calls, seed: 3 });
    expect(back.records).toEqual(records);
    expect(back.calls).toEqual([{ callId: "c1", specId: "call-1", finalStatus: 200, established: true }]);
    expect(back.scenarioName).toBe("fig5-fig6");
    expect(back.driver).toBe("memory");
  });

  it("round-trips arbitrary records", () => {
    const record = fc.record({
      t: fc.double({ min: 0, max: 1e9, noNaN: true }),
      proto: fc.constantFrom("SIP", "COPS", "OSP", "RADIUS" as const),
      from: fc.string(),
      to: fc.string(),
      msg: fc.string(),
      callId: fc.string(),
      bytes: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
    });
    fc.assert(
      fc.property(fc.array(record, { maxLength: 20 }), (records) => {
        const back = decodeTrace(encodeTrace(traceFromRun("x", options, run(records as MessageRecord[]), "0.1.0")));
        expect(back.records).toEqual(records);
      }),
      { numRuns: 200 },
    );
  });

  it("rejects bytes that are not a trace with a TraceError", () => {
    expect(() => decodeTrace(Buffer.from("not a trace at all"))).toThrow(TraceError);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          decodeTrace(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(TraceError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("finds the first divergence between a trace and its replay", () => {
    const records = syntheticCall({ callId: "c1" });
    const trace = decodeTrace(encodeTrace(traceFromRun("fig5-fig6", options, run(records), "0.1.0")));
    expect(compareWithTrace(trace, run(syntheticCall({ callId: "c1" })))).toBeUndefined();
    const moved = syntheticCall({ callId: "c1" });
    moved[7]!.t += 1;
    expect(compareWithTrace(trace, run(moved))).toMatchObject({ specId: "call-1", position: 7, reason: "sent at 71 ms instead of 70 ms" });
    const relabelled = syntheticCall({ callId: "c1" });
    relabelled[20]!.msg = "RPT Failure";
    expect(compareWithTrace(trace, run(relabelled))).toMatchObject({ position: 20, reason: "different message", actual: { msg: "RPT Failure" } });
    expect(compareWithTrace(trace, run(records.slice(0, 30)))).toMatchObject({ position: 30, reason: "the replay stops early" });
    expect(compareWithTrace(trace, run(records, 503))).toMatchObject({ reason: "final status 503 instead of 200" });
    // bytes only when asked
    const retagged = syntheticCall({ callId: "c1" });
    retagged[3]!.bytes = Buffer.from("other");
    expect(compareWithTrace(trace, run(retagged))).toBeUndefined();
    expect(compareWithTrace(trace, run(retagged), { bytes: true })).toMatchObject({ position: 3, reason: "different bytes" });
    // a network trace is compared by labels and order only
    const net = { ...trace, driver: "net" as const };
    expect(compareWithTrace(net, run(moved))).toBeUndefined();
  });
});
