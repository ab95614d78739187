import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isRequest, SipParseError, SipStreamParser, type SipMessage } from "../../../../protocols/sip/index.js";

const msg = (cseq: number, body = ""): Buffer =>
  Buffer.from(
    [
      "MESSAGE sip:bob@example.com SIP/2.0",
      "Via: SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bK" + cseq,
      "Max-Forwards: 70",
      "To: <sip:bob@example.com>",
      "From: <sip:alice@example.com>;tag=1",
      "Call-ID: s1@192.0.2.1",
      `CSeq: ${cseq} MESSAGE`,
      "Content-Type: text/plain",
      `Content-Length: ${Buffer.byteLength(body)}`,
      "",
      body,
    ].join("\r\n"),
  );

const summary = (ms: SipMessage[]): [number, string][] => ms.map((m) => [m.cseq.seq, m.body.toString()]);

describe("SipStreamParser (RFC 3261 §18.3)", () => {
  it("returns glued messages from one chunk, skipping keep-alive CRLFs (RFC 5626 §4.4.1)", () => {
    const p = new SipStreamParser();
    const out = p.push(Buffer.concat([Buffer.from("\r\n\r\n"), msg(1, "héllo"), Buffer.from("\r\n"), msg(2), msg(3, "x")]));
    expect(summary(out)).toEqual([[1, "héllo"], [2, ""], [3, "x"]]);
    expect(p.bufferedBytes).toBe(0);
    expect(p.keepAlives).toBe(2);
  });

  it("yields a message only when its last body byte arrives", () => {
    const p = new SipStreamParser();
    const whole = msg(7, "0123456789");
    expect(p.push(whole.subarray(0, whole.length - 1))).toEqual([]);
    expect(p.bufferedBytes).toBe(whole.length - 1);
    const out = p.push(whole.subarray(whole.length - 1));
    expect(summary(out)).toEqual([[7, "0123456789"]]);
  });

  it("gives the same messages for every way of splitting the stream", () => {
    const stream = Buffer.concat([msg(1, "first body"), Buffer.from("\r\n\r\n"), msg(2), msg(3, "ünïcode body"), Buffer.from("\r\n")]);
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 40 }), (cuts) => {
        const points = [0, ...cuts.sort((a, b) => a - b), stream.length];
        const p = new SipStreamParser();
        const out: SipMessage[] = [];
        for (let i = 1; i < points.length; i++) out.push(...p.push(stream.subarray(points[i - 1], points[i])));
        expect(summary(out)).toEqual([[1, "first body"], [2, ""], [3, "ünïcode body"]]);
        expect(p.bufferedBytes).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it("requires Content-Length on a stream", () => {
    const noLength = Buffer.from(msg(1).toString().replace("Content-Length: 0\r\n", ""));
    const p = new SipStreamParser();
    const e = (() => {
      try {
        p.push(noLength);
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(e).toBeInstanceOf(SipParseError);
    expect((e as SipParseError).code).toBe("missing-content-length");
  });

  it("refuses an oversized Content-Length before the body is buffered", () => {
    const p = new SipStreamParser({ limits: { maxMessageBytes: 1024 } });
    const head = Buffer.from(msg(1).toString().replace("Content-Length: 0", "Content-Length: 5000"));
    expect(() => p.push(head)).toThrow(expect.objectContaining({ code: "message-too-large" }));
  });

  it("refuses a head that grows past the limits without an empty line", () => {
    const p = new SipStreamParser({ limits: { maxMessageBytes: 4096, maxLineBytes: 8192 } });
    const start = Buffer.from("INVITE sip:b@example.com SIP/2.0\r\n");
    expect(p.push(start)).toEqual([]);
    let err: unknown;
    try {
      for (let i = 0; i < 100; i++) p.push(Buffer.from(`X-Filler-${i}: ${"a".repeat(60)}\r\n`));
    } catch (e) {
      err = e;
    }
    expect((err as SipParseError).code).toBe("message-too-large");
    expect(p.bufferedBytes).toBe(0);
  });

  it("refuses an endless line as soon as it passes maxLineBytes", () => {
    const p = new SipStreamParser({ limits: { maxLineBytes: 100 } });
    expect(p.push(Buffer.from("INVITE sip:b@example.com SIP/2.0\r\nX: "))).toEqual([]);
    expect(() => p.push(Buffer.from("b".repeat(200)))).toThrow(expect.objectContaining({ code: "line-too-long" }));
  });

  it("reports stream offsets and stays failed after an error", () => {
    const p = new SipStreamParser();
    const good = msg(1);
    expect(() => p.push(Buffer.concat([good, Buffer.from("GARBAGE LINE\r\n\r\n")]))).toThrow(
      expect.objectContaining({ code: "bad-start-line", offset: good.length + "GARBAGE LINE".length }),
    );
    expect(() => p.push(msg(2))).toThrow(expect.objectContaining({ code: "stream-failed" }));
  });

  it("keeps requests typed", () => {
    const out = new SipStreamParser().push(msg(5, "hi"));
    expect(out).toHaveLength(1);
    expect(isRequest(out[0]!) && out[0].method).toBe("MESSAGE");
  });
});
