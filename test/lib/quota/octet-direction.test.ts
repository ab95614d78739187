// Octets by direction: the policy servers place each classifier's flow by the media ends the SDP offer (the
// caller's) and answer named, so a call's usage says how many octets the caller sent and how many the callee
// sent, and its RADIUS Stop has them as Acct-Input-Octets (from the user) and Acct-Output-Octets (to the user).
import { describe, expect, it } from "vitest";
import { AccountingRecorder } from "../../../lib/accounting/records.js";
import { CallEventBus, type CallEventOf } from "../../../lib/flow/call-events.js";
import { runCalls } from "../../../lib/flow/run-calls.js";
import { flowSender, learnOfferEnds, type PartyEnds } from "../../../lib/roles/flow-sender.js";

type Usage = CallEventOf<"usage">;
const flow = (src: string, dst: string) => {
  const [sa, sp] = src.split(":");
  const [da, dp] = dst.split(":");
  return { protocol: 17, family: 4 as const, srcAddress: sa!, srcPort: Number(sp), dstAddress: da!, dstPort: Number(dp), codec: "PCMU", bandwidthBps: 80_000 };
};

describe("flowSender", () => {
  it("knows the caller's end from the offer, the callee's from the answer, and follows an end a re-INVITE moves", () => {
    const ends: PartyEnds = { caller: [], callee: [] };
    // REQ AAA: the offer alone (the answerer's end is 0.0.0.0:0)
    learnOfferEnds(ends, [flow("0.0.0.0:0", "10.0.0.1:4000"), flow("10.0.0.1:4000", "0.0.0.0:0")]);
    expect(ends).toEqual({ caller: ["10.0.0.1:4000"], callee: [] });
    expect(flowSender(ends, flow("10.0.0.2:5000", "10.0.0.1:4000"))).toBe("callee");
    expect(flowSender(ends, flow("10.0.0.1:4000", "10.0.0.2:5000"))).toBe("caller");
    expect(ends).toEqual({ caller: ["10.0.0.1:4000"], callee: ["10.0.0.2:5000"] });
    // the callee moves its media (a re-INVITE): the caller's end still places both flows
    expect(flowSender(ends, flow("10.0.0.9:6000", "10.0.0.1:4000"))).toBe("callee");
    expect(flowSender(ends, flow("10.0.0.1:4000", "10.0.0.9:6000"))).toBe("caller");
    // then the caller moves: the callee's new end places them
    expect(flowSender(ends, flow("10.0.0.7:7000", "10.0.0.9:6000"))).toBe("caller");
    // both ends new at once: no sender (counted as the user's input)
    expect(flowSender(ends, flow("192.0.2.1:1", "192.0.2.2:2"))).toBeUndefined();
  });
});

const T = Date.parse("2026-06-10T08:00:00Z");

for (const driver of ["memory", "net"] as const)
  describe(`octets by direction on the ${driver} driver`, () => {
    it("a call held by one side: the usage of both policy servers splits its octets by sender, and the Stops map them to input and output", async () => {
      const events = new CallEventBus();
      const usage: Usage[] = [];
      events.on("usage", (e) => usage.push(e));
      const call = (id: string, by: "caller" | "callee", startMs: number) => ({
        id, caller: "sip:alice@example.com", callee: "sip:bob@example.net", startMs, answerDelayMs: 200, durationMs: 8000, hangUp: "caller" as const,
        // after 2 s the holder sends only (a=sendonly): the other side's flow stops for the remaining 6 s
        reinvites: [{ by, afterMs: 2000, hold: true }],
      });
      const r = await runCalls({ driver, topology: { clearinghouse: "none" }, events, calls: [call("caller-holds", "caller", 0), call("callee-holds", "callee", 20_000)] });
      expect(r.calls.every((o) => o.established)).toBe(true);
      expect(usage).toHaveLength(4);
      const byCall = (i: number) => usage.filter((u) => u.callId === r.calls[i]!.callId);
      for (const [i, holder] of [[0, "caller"], [1, "callee"]] as const) {
        for (const u of byCall(i)) {
          expect(u.octetsFromCaller! + u.octetsFromCallee!, `${holder} ${u.role}`).toBe(u.octets);
          // the router counts 10,000 octets a second per flow (200 octets every 20 ms): the holder's flow ran
          // about 8 s, the other's about 2 s
          const held = holder === "caller" ? u.octetsFromCallee! : u.octetsFromCaller!;
          const holding = holder === "caller" ? u.octetsFromCaller! : u.octetsFromCallee!;
          expect(holding, `${holder} ${u.role}`).toBeGreaterThan(70_000);
          expect(held, `${holder} ${u.role}`).toBeGreaterThan(10_000);
          expect(held, `${holder} ${u.role}`).toBeLessThan(50_000);
        }
      }
      // RFC 2866 §5.3/§5.4 from each side's user: the caller on POL1, the callee on POL2
      const rec = new AccountingRecorder({ nasIdentifier: "t", startFromUsage: true, describe: () => undefined });
      for (const u of usage) {
        const stop = rec.onEvent(u, T).find((x) => x.status === "Stop")!;
        const a = Object.fromEntries(stop.attributes);
        const fromUser = u.role === "POL1" ? u.octetsFromCaller : u.octetsFromCallee;
        const toUser = u.role === "POL1" ? u.octetsFromCallee : u.octetsFromCaller;
        expect([a["Acct-Input-Octets"], a["Acct-Output-Octets"], a["Acct-Input-Gigawords"], a["Acct-Output-Gigawords"]], u.role).toEqual([fromUser, toUser, 0, 0]);
      }
    }, 120_000);
  });

describe("Acct-Input/Output-Octets of a usage", () => {
  it("split above 2^32 into gigawords each way (RFC 2869 §5.1, §5.2); octets of no known sender are the user's input", () => {
    const rec = new AccountingRecorder({ nasIdentifier: "t", startFromUsage: true, describe: () => undefined });
    const stop = (role: string, u: Partial<Usage>) =>
      Object.fromEntries(rec.onEvent({ type: "usage", callId: `c-${role}-${u.octets}`, role, durationS: 10, packets: 1, octets: 0, reported: "local", ...u }, T).find((x) => x.status === "Stop")!.attributes);
    const big = { octets: 3 * 2 ** 32 + 30, octetsFromCaller: 2 ** 32 + 10, octetsFromCallee: 2 * 2 ** 32 + 20 };
    expect(stop("POL1", big)).toMatchObject({ "Acct-Input-Octets": 10, "Acct-Input-Gigawords": 1, "Acct-Output-Octets": 20, "Acct-Output-Gigawords": 2 });
    expect(stop("POL2", big)).toMatchObject({ "Acct-Input-Octets": 20, "Acct-Input-Gigawords": 2, "Acct-Output-Octets": 10, "Acct-Output-Gigawords": 1 });
    expect(stop("POL1", { octets: 500, octetsFromCaller: 100, octetsFromCallee: 150 })).toMatchObject({ "Acct-Input-Octets": 350, "Acct-Output-Octets": 150 });
    expect(stop("POL2", { octets: 700 })).toMatchObject({ "Acct-Input-Octets": 700, "Acct-Output-Octets": 0 });
  });
});
