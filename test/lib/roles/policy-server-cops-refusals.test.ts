// The policy server node's COPS refusals as node actions: the PDP machine's CC is followed by a `close` of that
// connection, every refusal is an error event naming its cause (what the operations' DropLog counts), and
// the request-state bound set by configureCops answers the excess REQ with DEC Error 4.
import { describe, expect, it } from "vitest";
import { NoClearinghouse } from "../../../lib/adapters/clearinghouse-adapter.js";
import type { AaaQuery, PolicyAdapter } from "../../../lib/adapters/policy-adapter.js";
import type { NodeAction } from "../../../lib/drivers/node.js";
import type { CallEvent } from "../../../lib/flow/call-events.js";
import { PolicyServer } from "../../../lib/roles/policy-server.js";
import { ClientType, ErrorCode, buildConfigRequest, buildSipAaaRequest, decodeCopsMessage, encodeCopsMessage } from "../../../protocols/cops/index.js";

const allowAll: PolicyAdapter = {
  decideAaa: (_q: AaaQuery) => ({ allow: true }),
  chooseClass: () => ({ dscp: 46, className: "EF" }),
  observeUsage: () => undefined,
};
const server = () => new PolicyServer({ name: "POL1", side: "originating", router: "R1", policy: allowAll, clearinghouse: new NoClearinghouse() });
const deliver = (pol: PolicyServer, from: string, bytes: Buffer): NodeAction<CallEvent>[] => pol.handle({ type: "deliver", now: 0, proto: "COPS", from, bytes }) as NodeAction<CallEvent>[];
const handleOf = (n: number) => Buffer.from([0, 0, 0, n]);
const req = (n: number) => encodeCopsMessage(buildSipAaaRequest("AAA", handleOf(n), { callId: `c${n}`, flows: [] }));
const sent = (actions: NodeAction<CallEvent>[]) => actions.flatMap((a) => (a.type === "send" ? [decodeCopsMessage(a.bytes)] : []));
const errors = (actions: NodeAction<CallEvent>[]) => actions.flatMap((a) => (a.type === "emit" && a.event.type === "error" ? [a.event.message] : []));

describe("PolicyServer COPS refusals", () => {
  it("a REQ before OPN from the proxy or the router: CC Error 3, then the connection is closed; the error names the cause", () => {
    for (const peer of ["SIP1", "R1"]) {
      const pol = server();
      const out = deliver(pol, peer, peer === "R1" ? encodeCopsMessage(buildConfigRequest(handleOf(1))) : req(1));
      expect(sent(out)).toMatchObject([{ op: "CC", error: { code: ErrorCode.BadMessageFormat } }]);
      expect(out.filter((a) => a.type === "close")).toEqual([{ type: "close", proto: "COPS", peer, reason: "REQ before OPN" }]);
      expect(errors(out)).toEqual([expect.stringMatching(new RegExp(`^COPS before-open from ${peer}: `))]);
    }
  });
  it("a PEP silent for the KA timer: CC Error 9, then its connection is closed", () => {
    const pol = server();
    const opened = deliver(pol, "SIP1", encodeCopsMessage({ op: "OPN", clientType: ClientType.SipAaa, pepId: "sip1.example.com" }));
    const ka = opened.find((a) => a.type === "set-timer" && a.key.endsWith(":ka-loss"));
    expect(ka?.type === "set-timer" && ka.delayMs).toBe(30_000);
    const out = pol.handle({ type: "timer", now: 30_000, key: ka?.type === "set-timer" ? ka.key : "" }) as NodeAction<CallEvent>[];
    expect(sent(out)).toMatchObject([{ op: "CC", error: { code: ErrorCode.CommunicationFailure } }]);
    expect(out.filter((a) => a.type === "close")).toEqual([{ type: "close", proto: "COPS", peer: "SIP1", reason: "keep-alive timer expired" }]);
    expect(errors(out)).toEqual([expect.stringMatching(/^COPS keep-alive-timeout from SIP1: /)]);
  });
  it("configureCops bounds the request states of a PEP connection: the excess REQ gets DEC Error 4 and no call", () => {
    const pol = server();
    pol.configureCops({ maxRequestStates: 2 });
    expect(sent(deliver(pol, "SIP1", encodeCopsMessage({ op: "OPN", clientType: ClientType.SipAaa, pepId: "sip1.example.com" })))[0]?.op).toBe("CAT");
    for (const n of [1, 2]) expect(sent(deliver(pol, "SIP1", req(n)))).toMatchObject([{ op: "DEC", handle: handleOf(n) }]);
    const out = deliver(pol, "SIP1", req(3));
    expect(sent(out)).toMatchObject([{ op: "DEC", handle: handleOf(3), error: { code: ErrorCode.UnableToProcess } }]);
    expect(errors(out)).toEqual([expect.stringMatching(/^COPS request-states-full from SIP1: /)]);
    expect(pol.copsRequestStates).toBe(2);
    expect(out.some((a) => a.type === "close")).toBe(false);
  });
});
