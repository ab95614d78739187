import fc from "fast-check";
import sdpTransform from "sdp-transform";
import { describe, expect, it } from "vitest";
import { SdpEncodeError, SdpParseError, mediaFormats, parseSdp, sdpStreams, serializeSdp } from "../../../protocols/sdp/index.js";
import { readSdp } from "../../../protocols/sdp/streams.js";
import { sessionArb } from "./arbitraries.js";

// An offer of the kind the softphones send (static payload types without a=rtpmap, RFC 4566 / RFC 3551).
const PHONE_OFFER =
  "v=0\r\no=- 3917094528 3917094528 IN IP4 127.0.0.1\r\ns=pjmedia\r\nb=AS:117\r\nt=0 0\r\na=X-nat:0\r\n" +
  "m=audio 34242 RTP/AVP 96 97 98 0 8 18 101\r\nc=IN IP4 127.0.0.1\r\nb=TIAS:96000\r\na=rtcp:34243 IN IP4 127.0.0.1\r\na=sendrecv\r\n" +
  "a=rtpmap:96 opus/48000/2\r\na=fmtp:96 useinbandfec=1\r\na=rtpmap:97 speex/16000\r\na=rtpmap:98 speex/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n";

function thrown(f: () => unknown): SdpParseError {
  try {
    f();
  } catch (e) {
    if (e instanceof SdpParseError) return e;
    throw e;
  }
  throw new Error("did not throw");
}

describe("SDP codec (RFC 4566)", () => {
  it("reads a softphone offer: static payload types named from RFC 3551 without rtpmap, dynamic ones from rtpmap", () => {
    const sd = parseSdp(PHONE_OFFER);
    expect(sd.origin).toEqual({ username: "-", sessionId: "3917094528", sessionVersion: "3917094528", netType: "IN", addrType: "IP4", address: "127.0.0.1" });
    expect(sd.bandwidths).toEqual([{ type: "AS", value: 117 }]);
    const m = sd.media[0]!;
    expect(m.formats).toEqual(["96", "97", "98", "0", "8", "18", "101"]);
    expect(mediaFormats(m).map((f) => f.encoding?.name)).toEqual(["opus", "speex", "speex", "PCMU", "PCMA", "G729", "telephone-event"]);
    expect(mediaFormats(m)[0]).toEqual({ format: "96", encoding: { name: "opus", clockRate: 48000, channels: 2 }, fmtp: "useinbandfec=1" });
    expect(sdpStreams(PHONE_OFFER)[0]).toMatchObject({ type: "audio", address: "127.0.0.1", port: 34242, direction: "sendrecv", codecs: ["opus", "speex", "speex", "PCMU", "PCMA", "G729", "telephone-event"] });
    expect(serializeSdp(sd)).toBe(PHONE_OFFER);
  });

  it("accepts bare LF line ends and one trailing empty line, writes CRLF", () => {
    const lf = PHONE_OFFER.replace(/\r\n/g, "\n");
    expect(serializeSdp(parseSdp(lf))).toBe(PHONE_OFFER);
    expect(serializeSdp(parseSdp(Buffer.from(`${PHONE_OFFER}\r\n`)))).toBe(PHONE_OFFER);
  });

  const bad: Array<[string, string, string, number]> = [
    ["m= line without formats (what the old answerer wrote)", PHONE_OFFER.replace("m=audio 34242 RTP/AVP 96 97 98 0 8 18 101", "m=audio 0 RTP/AVP "), "bad-media", 7],
    ["m= line with a trailing space only", PHONE_OFFER.replace("RTP/AVP 96 97 98 0 8 18 101", "RTP/AVP"), "bad-media", 7],
    ["payload type over 127", PHONE_OFFER.replace(" 101\r\n", " 128\r\n"), "bad-media", 7],
    ["port over 65535", PHONE_OFFER.replace("34242", "65536"), "bad-media", 7],
    ["v= not 0", PHONE_OFFER.replace("v=0", "v=1"), "bad-version", 1],
    ["no v= first", PHONE_OFFER.slice(5), "missing-line", 1],
    ["o= with five fields", PHONE_OFFER.replace("o=- ", "o="), "bad-origin", 2],
    ["s= empty", PHONE_OFFER.replace("s=pjmedia", "s="), "bad-line", 3],
    ["t= missing", PHONE_OFFER.replace("t=0 0\r\n", ""), "missing-line", 5],
    ["b= without a number", PHONE_OFFER.replace("b=AS:117", "b=AS:lots"), "bad-bandwidth", 4],
    ["c= with two fields", PHONE_OFFER.replace("c=IN IP4 127.0.0.1", "c=IN 127.0.0.1"), "bad-connection", 8],
    ["session c= after t=", PHONE_OFFER.replace("t=0 0\r\n", "t=0 0\r\nc=IN IP4 1.2.3.4\r\n"), "bad-order", 6],
    ["two s= lines", PHONE_OFFER.replace("s=pjmedia\r\n", "s=pjmedia\r\ns=again\r\n"), "bad-order", 4],
    ["a media c= after a=", PHONE_OFFER.replace("a=sendrecv\r\n", "a=sendrecv\r\nc=IN IP4 1.2.3.4\r\n"), "bad-order", 12],
    ["unknown type letter", PHONE_OFFER.replace("a=X-nat:0", "x=1"), "unknown-type", 6],
    ["upper-case type", PHONE_OFFER.replace("a=X-nat:0", "X=1"), "bad-line", 6],
    ["no c= anywhere", PHONE_OFFER.replace("c=IN IP4 127.0.0.1\r\n", ""), "missing-line", 16],
    ["a bare CR inside a line", PHONE_OFFER.replace("a=X-nat:0", "a=X-nat:0\r1"), "bad-encoding", 6],
    ["an empty line inside", PHONE_OFFER.replace("t=0 0\r\n", "t=0 0\r\n\r\n"), "bad-line", 7],
    ["double space", PHONE_OFFER.replace("RTP/AVP 96", "RTP/AVP  96"), "bad-media", 7],
  ];
  it.each(bad)("refuses %s with a typed error naming the line and offset", (_what, text, code, line) => {
    const e = thrown(() => parseSdp(text));
    expect(e.code).toBe(code);
    expect(e.line).toBe(line);
    const lines = text.split("\n");
    if (code !== "missing-line" || line <= lines.length) expect(e.offset).toBeLessThanOrEqual(Buffer.byteLength(text));
    expect(e.message).toContain(`line ${line}`);
  });

  it("offset is the byte offset of the faulty line (UTF-8)", () => {
    const text = PHONE_OFFER.replace("s=pjmedia", "s=téléphone").replace("b=AS:117", "b=AS:x");
    const e = thrown(() => parseSdp(text));
    expect(e.offset).toBe(Buffer.from(text).indexOf("b=AS:x"));
    expect(thrown(() => parseSdp(Buffer.from([0x76, 0x3d, 0xff]))).code).toBe("bad-encoding");
  });

  it("readSdp reads a body as parseSdp does, once per text for every reader, and refuses what parseSdp refuses", () => {
    const body = Buffer.from(PHONE_OFFER.replace("34242", "34250"));
    const first = readSdp(body);
    expect(first).toEqual(parseSdp(body));
    expect(readSdp(Buffer.from(body))).toBe(first);
    expect(sdpStreams(body.toString("utf8"))[0]).toMatchObject({ port: 34250, codecs: ["opus", "speex", "speex", "PCMU", "PCMA", "G729", "telephone-event"] });
    expect(thrown(() => readSdp(Buffer.from([0x76, 0x3d, 0xff]))).code).toBe("bad-encoding");
    expect(thrown(() => readSdp(Buffer.alloc(70_000, 0x61))).code).toBe("too-large");
    const bad = Buffer.from(PHONE_OFFER.replace("b=AS:117", "b=AS:x"));
    expect(thrown(() => readSdp(bad))).toEqual(thrown(() => parseSdp(bad)));
  });

  it("refuses to write an m= line without formats", () => {
    const sd = parseSdp(PHONE_OFFER);
    sd.media[0]!.formats = [];
    expect(() => serializeSdp(sd)).toThrow(SdpEncodeError);
  });

  it("round trip: parse(serialize(x)) is x for any valid description (fast-check)", () => {
    fc.assert(
      fc.property(sessionArb, (sd) => {
        const text = serializeSdp(sd);
        expect(parseSdp(text)).toEqual(sd);
        expect(parseSdp(Buffer.from(text))).toEqual(sd);
      }),
      { numRuns: 1000 },
    );
  });

  it("reads media sections, formats and addresses as sdp-transform does (differential)", () => {
    fc.assert(
      fc.property(sessionArb, (sd) => {
        // sdp-transform's m= grammar has no "/<number of ports>".
        for (const m of sd.media) delete m.portCount;
        const text = serializeSdp(sd);
        const oracle = sdpTransform.parse(text);
        expect(oracle.media.map((m) => [m.type, m.port, m.protocol, String(m.payloads).split(" ")])).toEqual(sd.media.map((m) => [m.media, m.port, m.proto, m.formats]));
        expect(oracle.origin?.sessionId !== undefined).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
