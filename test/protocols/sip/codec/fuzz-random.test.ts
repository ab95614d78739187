// Fuzz (2/2): 50,000 random byte strings, and 3,000 mutated streams fed in random chunks to the stream parser and to the raw framer.
import { describe, expect, it } from "vitest";
import { SipParseError, SipStreamFramer, SipStreamParser, parseSipMessage, serializeSipMessage } from "../../../../protocols/sip/index.js";
import { corpus, exercise, mutate, randomBytes, rng, run } from "./fuzz-helpers.js";

describe("fuzz: only SipParseError escapes", () => {
  const seeds = corpus();

  it("50,000 random byte strings", () => {
    const next = rng(0xb17e5);
    function* inputs(): Generator<Buffer> {
      for (let i = 0; i < 50_000; i++) yield randomBytes(next);
    }
    const r = run(inputs());
    expect(r.count).toBe(50_000);
    expect(r.escapes.slice(0, 5)).toEqual([]);
  });

  it("3,000 mutated streams in random chunks", () => {
    const next = rng(0x7c9);
    const escapes: string[] = [];
    for (let i = 0; i < 3_000; i++) {
      const stream = mutate(Buffer.concat([seeds[next() % seeds.length]!, seeds[next() % seeds.length]!]), seeds[next() % seeds.length]!, next);
      const p = new SipStreamParser();
      try {
        for (let at = 0; at < stream.length; ) {
          const step = 1 + (next() % 200);
          for (const m of p.push(stream.subarray(at, at + step))) exercise(m);
          at += step;
        }
      } catch (e) {
        if (!(e instanceof SipParseError)) escapes.push(`${String(e)} on ${stream.toString("base64")}`);
      }
    }
    expect(escapes.slice(0, 5)).toEqual([]);
  });

  it("3,000 mutated streams framed raw: only SipParseError escapes, and the framer and the stream parser agree message for message", () => {
    const next = rng(0xf4a3e);
    const problems: string[] = [];
    for (let i = 0; i < 3_000; i++) {
      const stream = mutate(Buffer.concat([seeds[next() % seeds.length]!, seeds[next() % seeds.length]!]), seeds[next() % seeds.length]!, next);
      const framer = new SipStreamFramer();
      const parser = new SipStreamParser();
      const fromFrames: string[] = [];
      const fromParser: string[] = [];
      let framesOk = true;
      for (let at = 0; at < stream.length; ) {
        const step = 1 + (next() % 200);
        const chunk = stream.subarray(at, at + step);
        at += step;
        try {
          if (framesOk) for (const f of framer.push(chunk)) fromFrames.push(serializeSipMessage(parseSipMessage(f)).toString("hex"));
        } catch (e) {
          if (!(e instanceof SipParseError)) problems.push(`framer: ${String(e)} on ${stream.toString("base64")}`);
          framesOk = false;
        }
        try {
          for (const m of parser.push(chunk)) fromParser.push(serializeSipMessage(m).toString("hex"));
        } catch (e) {
          if (!(e instanceof SipParseError)) problems.push(`parser: ${String(e)} on ${stream.toString("base64")}`);
          break;
        }
      }
      // The parser stops at the first message that does not parse; until then it yields what the frames parse to.
      if (fromParser.join() !== fromFrames.slice(0, fromParser.length).join()) problems.push(`disagree on ${stream.toString("base64")}`);
    }
    expect(problems.slice(0, 5)).toEqual([]);
  });
});
