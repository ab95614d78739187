// FIG. 5 / FIG. 6 over real loopback sockets: SIP over UDP and TCP, COPS over TCP, OSP over HTTP.
import { describe, expect, it } from "vitest";
import { runCalls, type CallSpec } from "../../lib/flow/run-calls.js";
import { checkLadder, splitCall } from "../lib/flow/ladder-helpers.js";

const shortCall: CallSpec = { caller: "sip:alice@example.com", callee: "sip:bob@example.com", startMs: 50, answerDelayMs: 200, durationMs: 300, hangUp: "caller" };

describe("FIG. 5 / FIG. 6 on the loopback socket driver", () => {
  it("SIP over UDP, OSP over HTTP: ladders match, every record carries real loopback ports", async () => {
    const result = await runCalls({ driver: "net", calls: [shortCall] });
    const call = result.calls[0];
    expect(call?.established).toBe(true);
    const { setup, teardown } = splitCall(result.records, call?.callId ?? "");
    const s = checkLadder(setup, "setup");
    expect(s.output).toContain("all 28 steps");
    expect(checkLadder(teardown, "teardown").status).toBe(0);
    for (const r of result.records) {
      expect(r.transport?.src).toBe("127.0.0.1");
      expect(r.transport?.dst).toBe("127.0.0.1");
      expect(r.transport?.srcPort).toBeGreaterThan(0);
      expect(r.transport?.dstPort).toBeGreaterThan(0);
    }
    expect(new Set(result.records.filter((r) => r.proto === "OSP").map((r) => r.transport?.kind))).toEqual(new Set(["http"]));
    expect(result.endpoints?.CH?.osp).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/osp$/);
    expect(result.cdrs).toHaveLength(2);
    expect(result.leftovers.classifiers).toBe(0);
    expect(result.leftovers.copsRequestStates).toBe(0);
  });

  it("SIP over TCP without a clearinghouse: ladders match with --no-clearinghouse, nothing left behind", async () => {
    const result = await runCalls({ driver: "net", topology: { clearinghouse: "none", sipTransport: "tcp" }, calls: [shortCall] });
    const { setup, teardown } = splitCall(result.records, result.calls[0]?.callId ?? "");
    expect(checkLadder(setup, "setup", true).status).toBe(0);
    expect(checkLadder(teardown, "teardown", true).status).toBe(0);
    expect(new Set(result.records.filter((r) => r.proto === "SIP").map((r) => r.transport?.kind))).toEqual(new Set(["tcp"]));
    // Reliable transport: no transaction waits in Completed, so nothing is pending once the call is over.
    expect(result.leftovers).toEqual({ classifiers: 0, copsRequestStates: 0, pendingTransactions: 0 });
  });

  it("in-process clearinghouse: OSP handed over without a socket, the ladder still matches FIG. 5/6", async () => {
    const result = await runCalls({ driver: "net", topology: { clearinghouse: "in-process", signedTokens: false }, calls: [shortCall] });
    const { setup, teardown } = splitCall(result.records, result.calls[0]?.callId ?? "");
    expect(checkLadder(setup, "setup").status).toBe(0);
    expect(checkLadder(teardown, "teardown").status).toBe(0);
    const osp = result.records.filter((r) => r.proto === "OSP");
    expect(osp).toHaveLength(8);
    for (const r of osp) expect(r.transport).toBeUndefined();
    expect(result.endpoints?.CH?.osp).toBeUndefined();
  });
});
