// Messages captured from the TransNexus OSP Toolkit (libosptk 4.13, Debian) talking to our clearinghouse
// (see test/interop/osp/toolkit.test.ts): its layout (a newline after each start tag) and its elements.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { decodeOspMessage, encodeOspMessage } from "../../../protocols/osp/index.js";

const captured = (name: string) => readFileSync(join(process.cwd(), "test/protocols/osp/captured", name));

describe("toolkit-captured messages", () => {
  it("AuthorizationRequest decodes to the call it asked for and re-encodes to an equal message", () => {
    const m = decodeOspMessage(captured("libosptk-4.13-authorization-request.xml"));
    const c = m.components[0]!;
    if (c.kind !== "AuthorisationRequest") throw new Error(c.kind);
    expect(c.callIds.map((b) => b.toString())).toEqual(["call-1@192.0.2.10"]);
    expect(c.sourceInfo).toEqual([{ type: "e164", value: "14045266060" }]);
    expect(c.deviceInfo).toEqual([{ type: "transport", value: "[192.0.2.10]" }]);
    expect(c.sourceAlternates).toEqual([{ type: "transport", value: "[192.0.2.5]" }]);
    expect(c.destinationInfo).toEqual([{ type: "e164", value: "14043342535" }]);
    expect(c.maximumDestinations).toBe(5);
    expect(c.service).toEqual({});
    expect(decodeOspMessage(encodeOspMessage(m))).toEqual(m);
  });

  it("UsageIndication carries its call times inside UsageDetail", () => {
    const m = decodeOspMessage(captured("libosptk-4.13-usage-indication.xml"));
    const c = m.components[0]!;
    if (c.kind !== "UsageIndication") throw new Error(c.kind);
    expect(c.role).toBe("source");
    expect(c.transactionId).toBe("1");
    expect(c.destinationAlternates).toEqual([{ type: "transport", value: "[192.0.2.20]:5060" }]);
    const d = c.usageDetails[0]!;
    expect([d.amount, d.increment, d.unit, d.releaseSource]).toEqual([61, 1, "s", "source"]);
    expect(d.endTime! - d.startTime!).toBe(61_000);
    expect(d.connectTime).toBe(d.startTime);
    expect(d.alertTime).toBe(d.startTime! - 4000);
    expect(decodeOspMessage(encodeOspMessage(m))).toEqual(m);
  });

  it("UsageIndication with post-dial delays and statistics: decimal seconds, one PostDialDelay per side", () => {
    const m = decodeOspMessage(captured("libosptk-4.13-usage-indication-pdd.xml"));
    const c = m.components[0]!;
    if (c.kind !== "UsageIndication") throw new Error(c.kind);
    const d = c.usageDetails[0]!;
    expect(d.postDialDelays).toEqual([
      { type: "destination", seconds: 1.234 },
      { type: "source", seconds: 1.01 },
    ]);
    expect([d.amount, d.increment, d.unit]).toEqual([61, 1, "s"]);
    // <Statistics critical="false"> (RFactor "93.2000", MOSCQ "4.1000") is kept as an extension, not read.
    expect(d.extensions?.map((e) => e.name)).toEqual(["Statistics"]);
    expect(decodeOspMessage(encodeOspMessage(m))).toEqual(m);
  });
});
