import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { OspDecodeError, decodeOspMessage, decodeTokenInfo, encodeOspMessage } from "../../../protocols/osp/index.js";
import { fuzzSeed, randomBytes, seededRandom } from "../../support/seeded-random.js";

const goldenDir = join(process.cwd(), "test/protocols/osp/golden");
const capturedDir = join(process.cwd(), "test/protocols/osp/captured");
const corpus = [
  ...readdirSync(goldenDir).map((f) => readFileSync(join(goldenDir, f))),
  ...readdirSync(capturedDir).map((f) => readFileSync(join(capturedDir, f))),
];

const XMLISH = Buffer.from('<>/="\'&;#x? !-[]CDATAMessage messageId critical="false" encoding="base64" type=e164 0123456789\n\t\u00e9');
const NAMES = ["Message", "AuthorizationRequest", "AuthorisationResponse", "UsageIndication", "Status", "Code", "CallId", "Token", "Destination", "Timestamp", "Amount", "Foo"];

function mutate(input: Buffer, rnd: () => number, maxSteps = 4): Buffer {
  let b = Buffer.from(input);
  const steps = 1 + Math.floor(rnd() * maxSteps);
  for (let s = 0; s < steps; s++) {
    const at = Math.floor(rnd() * (b.length + 1));
    switch (Math.floor(rnd() * 7)) {
      case 0: // flip a byte
        if (b.length) b[Math.min(at, b.length - 1)] = Math.floor(rnd() * 256);
        break;
      case 1: // insert XML-ish bytes
        b = Buffer.concat([b.subarray(0, at), XMLISH.subarray(Math.floor(rnd() * XMLISH.length)).subarray(0, 1 + Math.floor(rnd() * 6)), b.subarray(at)]);
        break;
      case 2: // delete a range
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + Math.floor(rnd() * 20))]);
        break;
      case 3: // duplicate a range
        b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + 1 + Math.floor(rnd() * 60)), b.subarray(at)]);
        break;
      case 4: { // splice with another corpus document
        const other = corpus[Math.floor(rnd() * corpus.length)]!;
        const from = Math.floor(rnd() * other.length);
        b = Buffer.concat([b.subarray(0, at), other.subarray(from, from + Math.floor(rnd() * 200))]);
        break;
      }
      case 5: { // rename an element
        const text = b.toString("latin1");
        const name = NAMES[Math.floor(rnd() * NAMES.length)]!;
        b = Buffer.from(text.replace(/<(\/?)[A-Za-z]+/, (_m, slash: string) => `<${slash}${name}`), "latin1");
        break;
      }
      default: // truncate
        b = b.subarray(0, at);
    }
  }
  return b;
}

describe("OSP codec fuzz: only OspDecodeError escapes, and what decodes re-encodes", () => {
  it("survives >= 100,000 mutated and random inputs", () => {
    const seed = fuzzSeed();
    const rnd = seededRandom(seed);
    const total = 100_000;
    let decoded = 0;
    let refused = 0;
    for (let i = 0; i < total; i++) {
      let input: Buffer;
      if (i % 3 === 2) {
        input = randomBytes(rnd, Math.floor(rnd() * 200));
        if (rnd() < 0.5) input = Buffer.concat([Buffer.from("<Message messageId=\"1\">"), input]);
      } else {
        // Every other corpus input gets one mutation only: more of them still decode and go through re-encoding.
        input = mutate(corpus[i % corpus.length]!, rnd, i % 3 === 1 ? 1 : 4);
      }
      try {
        const m = decodeOspMessage(input);
        decoded++;
        // What decodes must encode; on every fourth one, encoding must also be a fixed point after one more decode.
        const once = encodeOspMessage(m);
        if (i % 4 === 0 && !encodeOspMessage(decodeOspMessage(once)).equals(once)) {
          throw new Error(`seed ${seed} input ${i}: re-encoding differs for ${input.toString("base64")}`);
        }
      } catch (err) {
        if (!(err instanceof OspDecodeError)) {
          throw new Error(`seed ${seed} input ${i} (${input.toString("base64")}): ${String(err)}`);
        }
        refused++;
      }
      if (i % 10 === 0) {
        try {
          decodeTokenInfo(input);
        } catch (err) {
          if (!(err instanceof OspDecodeError)) throw new Error(`seed ${seed} TokenInfo input ${i}: ${String(err)}`);
        }
      }
    }
    expect(decoded + refused).toBe(total);
    // Both outcomes must really occur, or the mutator is not exercising the decoder.
    expect(decoded).toBeGreaterThan(1000);
    expect(refused).toBeGreaterThan(10_000);
  });
});
