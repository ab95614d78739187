import { describe, expect, it } from "vitest";
import { answerSdp, buildSdp, mediaFlows } from "../../../lib/flow/media-flows.js";

describe("media flows from SDP offer/answer", () => {
  const offer = buildSdp({ sessionId: 1, address: "192.0.2.10", audioPort: 49170 });

  it("gives one 5-tuple each way with the agreed codecs and bandwidth", () => {
    const answer = answerSdp(offer, { sessionId: 2, address: "192.0.2.20", audioPort: 3456, supported: ["PCMA", "G729"] });
    const flows = mediaFlows(offer, answer);
    expect(flows).toEqual([
      { direction: "callee-to-caller", media: "audio", protocol: "udp", src: { address: "192.0.2.20", port: 3456 }, dst: { address: "192.0.2.10", port: 49170 }, codecs: ["PCMA", "G729"], bandwidthKbps: 80 },
      { direction: "caller-to-callee", media: "audio", protocol: "udp", src: { address: "192.0.2.10", port: 49170 }, dst: { address: "192.0.2.20", port: 3456 }, codecs: ["PCMA", "G729"], bandwidthKbps: 80 },
    ]);
  });

  it("honours b=AS and drops a stream the answer rejects with port 0", () => {
    const withBw = buildSdp({ sessionId: 3, address: "192.0.2.10", audioPort: 4000, bandwidthKbps: 24, codecs: [{ payload: 18, codec: "G729", rate: 8000 }] });
    expect(mediaFlows(withBw, undefined).map((f) => f.bandwidthKbps)).toEqual([24, 24]);
    const rejected = answerSdp(withBw, { sessionId: 4, address: "192.0.2.20", audioPort: 5000, supported: ["PCMU"] });
    expect(mediaFlows(withBw, rejected)).toEqual([]);
  });
});
