import { describe, expect, it } from "vitest";
import { runCalls, type CallSpec } from "../../../lib/flow/run-calls.js";
import { checkLadder, mirrored, splitCall } from "./ladder-helpers.js";

const oneHourCall: CallSpec = { caller: "sip:alice@example.com", callee: "sip:bob@example.com", startMs: 100, answerDelayMs: 2000, durationMs: 3_600_000, hangUp: "caller" };

describe("FIG. 5 / FIG. 6 on the in-memory driver", () => {
  it("with the clearinghouse: setup and teardown ladders match the reference flows", async () => {
    const result = await runCalls({ driver: "memory", calls: [oneHourCall] });
    const call = result.calls[0];
    expect(call?.established).toBe(true);
    expect(call?.finalStatusAtCaller).toBe(200);
    const { setup, teardown } = splitCall(result.records, call?.callId ?? "");
    const s = checkLadder(setup, "setup");
    expect(s.output).toContain("setup: all 28 steps in causal order");
    expect(s.status).toBe(0);
    const t = checkLadder(teardown, "teardown");
    expect(t.output).toContain("teardown: all 18 steps in causal order");
    expect(t.status).toBe(0);
    // One CDR per side, billing the conversation (2xx to BYE, as REQ noLDP reports it), not the ringing before it.
    expect(result.cdrs.map((c) => c.role).sort()).toEqual(["destination", "source"]);
    for (const cdr of result.cdrs) expect(cdr.durationS).toBe(3600);
    expect(result.leftovers).toEqual({ classifiers: 0, copsRequestStates: 0, pendingTransactions: 0 });
  });

  it("without a clearinghouse: no OSP on the wire, ladders match with --no-clearinghouse", async () => {
    const result = await runCalls({ driver: "memory", topology: { clearinghouse: "none" }, calls: [oneHourCall] });
    expect(result.records.some((r) => r.proto === "OSP")).toBe(false);
    const { setup, teardown } = splitCall(result.records, result.calls[0]?.callId ?? "");
    expect(checkLadder(setup, "setup", true).status).toBe(0);
    expect(checkLadder(teardown, "teardown", true).status).toBe(0);
    // The same setup fails the full check: the OSP steps are missing.
    expect(checkLadder(setup, "setup").status).toBe(1);
    expect(result.cdrs.map((c) => c.role).sort()).toEqual(["destination", "source"]);
    expect(result.leftovers.classifiers).toBe(0);
  });

  it("callee hangs up: the teardown is FIG. 6's mirror image", async () => {
    const result = await runCalls({ driver: "memory", calls: [{ ...oneHourCall, durationMs: 60_000, hangUp: "callee" }] });
    const call = result.calls[0];
    expect(call?.endedBy).toBe("callee");
    const { teardown } = splitCall(result.records, call?.callId ?? "");
    expect(teardown[0]).toMatchObject({ proto: "SIP", from: "UAS", to: "SIP2", msg: "BYE" });
    expect(checkLadder(teardown, "teardown").status).toBe(1);
    const m = checkLadder(mirrored(teardown), "teardown");
    expect(m.output).toContain("all 18 steps");
    expect(m.status).toBe(0);
    expect(result.leftovers).toEqual({ classifiers: 0, copsRequestStates: 0, pendingTransactions: 0 });
  });

  it("is deterministic for a seed: same labels at the same virtual times", async () => {
    const run = async (): Promise<string[]> =>
      (await runCalls({ driver: "memory", seed: 7, topology: { signedTokens: false }, calls: [{ ...oneHourCall, durationMs: 30_000 }, { ...oneHourCall, startMs: 500, durationMs: 20_000, hangUp: "callee" }] })).records.map((r) => `${r.t} ${r.from}>${r.to} ${r.msg}`);
    expect(await run()).toEqual(await run());
  });
});
