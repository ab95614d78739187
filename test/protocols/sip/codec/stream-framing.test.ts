// Stream framing without re-serialising (RFC 3261 §18.3): the framer hands back each message's own bytes and
// parses nothing; the stream parser parses each framed message exactly once. The parser module is wrapped so
// every call into it from the framing code is counted.
import fc from "fast-check";
import { afterEach, describe, expect, it, vi } from "vitest";
import * as parserModule from "../../../../protocols/sip/codec/message-parser.js";
import { SipParseError, SipStreamFramer, SipStreamParser, serializeSipMessage } from "../../../../protocols/sip/index.js";
import { messageArb } from "./arbitraries.js";

vi.mock("../../../../protocols/sip/codec/message-parser.js", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../../../protocols/sip/codec/message-parser.js")>();
  return { ...original, parseSipMessage: vi.fn(original.parseSipMessage), parseHead: vi.fn(original.parseHead) };
});

const parseCalls = (): number => vi.mocked(parserModule.parseSipMessage).mock.calls.length;
const headCalls = (): number => vi.mocked(parserModule.parseHead).mock.calls.length;

afterEach(() => {
  vi.mocked(parserModule.parseSipMessage).mockClear();
  vi.mocked(parserModule.parseHead).mockClear();
});

/** The stream cut at `cuts` (sorted, inside the stream), fed chunk by chunk. */
function chunksOf(stream: Buffer, cuts: number[]): Buffer[] {
  const points = [0, ...[...new Set(cuts)].sort((a, b) => a - b), stream.length];
  const out: Buffer[] = [];
  for (let i = 1; i < points.length; i++) if (points[i]! > points[i - 1]!) out.push(stream.subarray(points[i - 1], points[i]));
  return out;
}

/** Serialized messages, each preceded by 0–2 keep-alive CRLFs (RFC 5626 §4.4.1), and random cut points. */
const streamArb = fc
  .array(fc.tuple(messageArb, fc.constantFrom("", "\r\n", "\r\n\r\n")), { minLength: 1, maxLength: 6 })
  .chain((parts) => {
    const wires = parts.map(([g]) => serializeSipMessage(g.message));
    const stream = Buffer.concat(parts.flatMap(([, keepAlive], i) => [Buffer.from(keepAlive), wires[i]!]));
    return fc.record({
      wires: fc.constant(wires),
      stream: fc.constant(stream),
      cuts: fc.array(fc.integer({ min: 1, max: Math.max(1, stream.length - 1) }), { maxLength: 30 }),
    });
  });

describe("SIP stream framing splits without re-serialising (RFC 3261 §18.3)", () => {
  it("frames a random concatenation of messages split at random byte boundaries into the messages' own bytes, parsing nothing", () => {
    fc.assert(
      fc.property(streamArb, ({ wires, stream, cuts }) => {
        const framer = new SipStreamFramer();
        const before = parseCalls() + headCalls();
        const frames = chunksOf(stream, cuts).flatMap((c) => framer.push(c));
        expect(parseCalls() + headCalls()).toBe(before);
        expect(frames.map((f) => f.toString("hex"))).toEqual(wires.map((w) => w.toString("hex")));
        expect(framer.bufferedBytes).toBe(0);
        expect(framer.phase).toBe("idle");
      }),
      { numRuns: 300 },
    );
  });

  it("the stream parser yields the same messages and parses each exactly once", () => {
    fc.assert(
      fc.property(streamArb, ({ wires, stream, cuts }) => {
        const parser = new SipStreamParser();
        const [calls, heads] = [parseCalls(), headCalls()];
        const messages = chunksOf(stream, cuts).flatMap((c) => parser.push(c));
        expect(parseCalls() - calls).toBe(wires.length);
        expect(headCalls() - heads).toBe(0);
        expect(messages.map((m) => serializeSipMessage(m).toString("hex"))).toEqual(wires.map((w) => w.toString("hex")));
      }),
      { numRuns: 300 },
    );
  });

  const head = (lengthLines: string[], body = "hello"): Buffer =>
    Buffer.from(
      [
        "MESSAGE sip:bob@example.com SIP/2.0",
        "Via: SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bK1",
        "To: <sip:bob@example.com>",
        "From: <sip:alice@example.com>;tag=1",
        "Call-ID: f1@192.0.2.1",
        "CSeq: 1 MESSAGE",
        ...lengthLines,
        "",
        body,
      ].join("\r\n"),
    );

  it.each([
    ["compact form", ["l: 5"]],
    ["lower case, WSP before the colon", ["content-length \t: 5"]],
    ["a folded value (§7.3.1)", ["Content-Length:", "  5"]],
    ["leading zeros", ["Content-Length: 0005"]],
  ])("reads Content-Length as the parser does: %s", (_name, lines) => {
    const wire = head(lines);
    const framer = new SipStreamFramer();
    const frames = framer.push(Buffer.concat([wire, Buffer.from("\r\n"), wire]));
    expect(frames).toHaveLength(2);
    for (const f of frames) {
      expect(f.equals(wire)).toBe(true);
      expect(parserModule.parseSipMessage(f).body.toString()).toBe("hello");
    }
  });

  it.each([
    ["two Content-Length headers", ["Content-Length: 5", "l: 5"], "bad-content-length"],
    ["a value that is not 1*DIGIT", ["Content-Length: 5x"], "bad-content-length"],
    ["a value folded into two numbers", ["Content-Length: 2", " 3"], "bad-content-length"],
    ["a value of eleven digits", ["Content-Length: 00000000005"], "bad-content-length"],
    ["no Content-Length", ["X-Length: 5"], "missing-content-length"],
    ["a Content-Length past the message limit", ["Content-Length: 70000"], "message-too-large"],
  ])("refuses %s with a typed error and stays failed", (_name, lines, code) => {
    const framer = new SipStreamFramer();
    const wire = head(lines);
    let err: unknown;
    try {
      framer.push(wire);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SipParseError);
    expect((err as SipParseError).code).toBe(code);
    expect(framer.failedHead?.toString()).toBe(wire.subarray(0, wire.indexOf("\r\n\r\n") + 4).toString());
    expect(() => framer.push(head(["Content-Length: 5"]))).toThrow(expect.objectContaining({ code: "stream-failed" }));
    expect(framer.bufferedBytes).toBe(0);
  });

  it("holds no body beyond the limit: a Content-Length over it is refused when the head ends, before its body arrives", () => {
    const framer = new SipStreamFramer({ maxMessageBytes: 1024 });
    const wire = head(["Content-Length: 2000"], "");
    expect(() => framer.push(wire)).toThrow(expect.objectContaining({ code: "message-too-large" }));
    expect(framer.bufferedBytes).toBe(0);
  });

  it("the stream parser answers a request whose head is whole but whose Content-Length is missing (§18.3 400)", () => {
    const parser = new SipStreamParser();
    expect(() => parser.push(head([]))).toThrow(expect.objectContaining({ code: "missing-content-length" }));
    expect(parser.failedMessage && "method" in parser.failedMessage ? parser.failedMessage.method : undefined).toBe("MESSAGE");
  });
});
