import sdpTransform from "sdp-transform";
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

  it("names static payload types offered without rtpmap (RFC 3551) and refuses a stream with port 0 and the offered formats", () => {
    const phone = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 34242 RTP/AVP 96 0 8 18\r\na=rtpmap:96 opus/48000/2\r\n";
    expect(mediaFlows(phone, undefined)[0]?.codecs).toEqual(["opus", "PCMU", "PCMA", "G729"]);
    const answer = answerSdp(phone, { sessionId: 5, address: "127.0.0.1", audioPort: 7000 });
    expect(answer).toContain("m=audio 7000 RTP/AVP 0 8 18\r\n");
    const refused = answerSdp(phone, { sessionId: 5, address: "127.0.0.1", audioPort: 7000, supported: ["GSM"] });
    expect(refused).toContain("m=audio 0 RTP/AVP 96 0 8 18\r\n");
    expect(mediaFlows(phone, refused)).toEqual([]);
  });

  it("reads valid SDP as sdp-transform does; SDP that breaks RFC 4566 gives no flows", () => {
    const texts: string[] = [];
    for (let i = 0; i < 60; i++) {
      const o = buildSdp({ sessionId: i, address: `192.0.2.${i + 1}`, audioPort: 20000 + 2 * i, ...(i % 3 === 0 ? { bandwidthKbps: 24 + i } : {}) });
      texts.push(
        o,
        answerSdp(o, { sessionId: i + 1, address: "198.51.100.1", audioPort: 30000 + i, supported: i % 2 ? ["PCMA"] : ["PCMU", "G729"] }),
        o.replace(/\r\n/g, "\n"),
        o.replace("t=0 0", "b=AS:64\r\nt=0 0"),
        `${o}m=video 0 RTP/AVP 31\r\na=rtpmap:31 H261/90000\r\n`,
        `${o}m=audio ${40000 + i} RTP/AVP 0\r\nc=IN IP4 203.0.113.${i + 1}\r\nb=TIAS:64000\r\na=rtpmap:0 PCMU/8000\r\n`,
        o.replace(/c=IN IP4 [0-9.]+/, "c=IN IP6 2001:db8::1"),
        `${o}a=fmtp:18 annexb=no\r\n`,
        o.replace("s=callgate", "s=-\r\ni=info"),
        o.replace("a=rtpmap:0 PCMU/8000", "a=rtpmap:0 PCMU/8000/1"),
      );
    }
    // Out of order (b= after t=), no c= anywhere, an unknown type letter: not SDP (RFC 4566 §5, §5.7).
    for (const broken of [offer.replace("m=audio", "b=AS:64\r\nm=audio"), offer.replace(/c=IN IP4 [0-9.]+\r\n/, ""), offer.replace("m=audio", "X=1\r\nm=audio")]) {
      expect(mediaFlows(broken, undefined)).toEqual([]);
    }
    for (const text of texts) {
      const p = sdpTransform.parse(text);
      const session = p.connection?.ip ?? p.origin?.address ?? "0.0.0.0";
      const want = p.media
        .filter((m) => m.port !== 0)
        .map((m) => ({ address: m.connection?.ip ?? session, port: m.port, codecs: (m.rtp ?? []).map((r) => r.codec), bw: (m.bandwidth ?? p.bandwidth ?? []).find((b) => b.type === "AS")?.limit }));
      const got = mediaFlows(text, undefined)
        .filter((f) => f.direction === "caller-to-callee")
        .map((f) => ({ address: f.src.address, port: f.src.port, codecs: f.codecs, bw: f.bandwidthKbps }));
      expect(got.map((g) => ({ ...g, bw: undefined }))).toEqual(want.map((w) => ({ ...w, bw: undefined })));
      // explicit b=AS wins; otherwise the codec table (RFC 3550 header overhead) sizes the flow
      got.forEach((g, i) => { if (want[i]!.bw !== undefined) expect(g.bw).toBe(want[i]!.bw); });
    }
  });
});

describe("sameMediaFlows", () => {
  it("a refresh with the same SDP is the same media; a new port or a hold is a change; a held stream flows one way", async () => {
    const { sameMediaFlows } = await import("../../../lib/flow/media-flows.js");
    const offer = buildSdp({ sessionId: 1, address: "127.0.0.1", audioPort: 4000 });
    const answer = answerSdp(offer, { sessionId: 2, address: "127.0.0.1", audioPort: 5000 });
    const moved = answerSdp(offer, { sessionId: 2, address: "127.0.0.1", audioPort: 5002 });
    expect(sameMediaFlows(mediaFlows(offer, answer), mediaFlows(offer, answer))).toBe(true);
    expect(sameMediaFlows(mediaFlows(offer, answer), mediaFlows(offer, moved))).toBe(false);
    expect(sameMediaFlows(mediaFlows(offer, answer), [])).toBe(false);
    // hold: the caller offers sendonly, the answer says recvonly: only the caller's media flows
    const hold = offer.replace("a=sendrecv", "a=sendonly");
    const held = answerSdp(hold, { sessionId: 2, address: "127.0.0.1", audioPort: 5000 });
    expect(held).toContain("a=recvonly");
    expect(mediaFlows(hold, held).map((f) => f.direction)).toEqual(["caller-to-callee"]);
    expect(sameMediaFlows(mediaFlows(offer, answer), mediaFlows(hold, held))).toBe(false);
    expect(mediaFlows(offer.replace("a=sendrecv", "a=inactive"), undefined)).toEqual([]);
  });
});
