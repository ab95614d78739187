// The flow's SipProxy and a CANCEL (RFC 3261 §16.10): 481 when the proxy never admitted the call. The 200 for a
// call it did admit is the "CANCEL before answer" branch (test/lib/flow/branch-cases.ts).
import { describe, expect, it } from "vitest";
import type { FlowNode, NodeAction } from "../../../lib/drivers/node.js";
import { buildTopology, resolveTopology } from "../../../lib/flow/topology.js";
import { parseSipMessage, type SipResponse } from "../../../protocols/sip/index.js";

function cancel(callId: string): Buffer {
  return Buffer.from(
    [
      "CANCEL sip:+15557654321@example.com SIP/2.0",
      "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKcancel1",
      "Max-Forwards: 70",
      "From: <sip:+15551234567@example.com>;tag=f1",
      "To: <sip:+15557654321@example.com>",
      `Call-ID: ${callId}`,
      "CSeq: 1 CANCEL",
      "Content-Length: 0",
      "",
      "",
    ].join("\r\n"),
  );
}

function sipResponses(actions: NodeAction[]): SipResponse[] {
  const out: SipResponse[] = [];
  for (const a of actions) {
    if (a.type !== "send" || a.proto !== "SIP") continue;
    const m = parseSipMessage(a.bytes);
    if ("status" in m) out.push(m);
  }
  return out;
}

describe("SipProxy (flow role) and CANCEL", () => {
  it("a CANCEL for a call it never saw gets 481 and nothing goes downstream", async () => {
    const topo = buildTopology(resolveTopology({ clearinghouse: "none" }), []);
    const sip1 = topo.nodes.find((n) => n.name === "SIP1") as FlowNode;
    await sip1.handle({ type: "start", now: 0 });
    const out = await sip1.handle({ type: "deliver", now: 5, proto: "SIP", from: "UAC", bytes: cancel("unknown@192.0.2.10") });
    expect(sipResponses(out).map((r) => `${r.status} ${r.cseq.method}`)).toEqual(["481 CANCEL"]);
    expect(out.filter((a) => a.type === "send" && a.to !== "UAC")).toEqual([]);
  });
});
