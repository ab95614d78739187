import { describe, expect, it } from "vitest";
import { CallHints } from "../../../lib/drivers/call-hints.js";

describe("CallHints: the sender's call id of a message in flight", () => {
  it("finds a hint by sender, receiver and bytes, once; equal bytes in flight give their call ids in send order", () => {
    const hints = new CallHints();
    const ack = Buffer.from("ACK sip:bob@example.com SIP/2.0\r\n\r\n");
    hints.add("SIP", "SIP1", "SIP2", ack, "call-1");
    hints.add("SIP", "SIP1", "SIP2", ack, "call-2");
    hints.add("SIP", "SIP1", "SIP2", Buffer.from("other"), "call-3");
    expect(hints.held).toBe(3);
    expect(hints.take("SIP", "SIP2", "SIP1", ack)).toBeUndefined(); // the other direction holds nothing
    expect(hints.take("SIP", "SIP1", "SIP2", ack)).toBe("call-1");
    expect(hints.take("SIP", "SIP1", "SIP2", ack)).toBe("call-2");
    expect(hints.take("SIP", "SIP1", "SIP2", ack)).toBeUndefined();
    expect(hints.take("SIP", "SIP1", "SIP2", Buffer.from("other"))).toBe("call-3");
    expect(hints.held).toBe(0);
  });

  it("stays bounded when datagrams are lost and never take their hints: the oldest go first", () => {
    const hints = new CallHints();
    for (let i = 0; i < 10_000; i++) hints.add("SIP", "UAC", "SIP1", Buffer.from(`INVITE ${i}`), `call-${i}`);
    expect(hints.held).toBe(4096);
    expect(hints.take("SIP", "UAC", "SIP1", Buffer.from("INVITE 0"))).toBeUndefined();
    expect(hints.take("SIP", "UAC", "SIP1", Buffer.from("INVITE 9999"))).toBe("call-9999");
  });
});
