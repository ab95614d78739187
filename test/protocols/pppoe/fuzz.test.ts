// ≥ 10^5 mutated inputs per codec: each decodes or throws PppoeDecodeError, nothing else.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  HdlcDeframer,
  PppoeDecodeError,
  decodeHdlcFrame,
  decodePppoeFrame,
  encodeHdlcFrame,
  encodePppoeFrame,
} from "../../../protocols/pppoe/index.js";
import { mutateBytes } from "../../support/byte-mutations.js";
import { fuzzSeed, seededRandom } from "../../support/seeded-random.js";
import { pppFrameArb, pppoeFrameArb } from "./arbitraries.js";

const RUNS = 100_000;

function mutate(seed: Buffer, rnd: () => number, lengthAt: number | undefined): Buffer {
  return mutateBytes(seed, rnd, {
    // Interesting 16-bit values into a length / tag field.
    interesting: (out, pos, r) => {
      if (out.length >= pos + 2) out.writeUInt16BE([0, 1, 3, 4, 5, 0x5d6, 0x5d7, 0xffff, 0x0101, 0x0105][Math.floor(r() * 10)] ?? 0, pos);
    },
    // The PPPoE LENGTH fixed, so the mutation reaches the tag parser.
    fixLength: (out) => {
      if (lengthAt !== undefined && out.length >= lengthAt + 2) out.writeUInt16BE(Math.min(0xffff, out.length - lengthAt - 2), lengthAt);
    },
  });
}

function expectOnlyTypedErrors(run: () => unknown): "ok" | "refused" {
  try {
    run();
    return "ok";
  } catch (err) {
    if (err instanceof PppoeDecodeError) {
      expect(err.offset).toBeGreaterThanOrEqual(0);
      return "refused";
    }
    throw err;
  }
}

describe("fuzz", () => {
  it(`PPPoE frame decoder: ${RUNS} mutated frames, only PppoeDecodeError`, () => {
    const seed = fuzzSeed();
    const corpus = fc.sample(pppoeFrameArb, { numRuns: 300, seed: 7 }).map(encodePppoeFrame);
    const rnd = seededRandom(seed);
    const tally = { ok: 0, refused: 0 };
    for (let i = 0; i < RUNS; i++) {
      const input = mutate(corpus[i % corpus.length] ?? Buffer.alloc(0), rnd, 18);
      try {
        tally[expectOnlyTypedErrors(() => decodePppoeFrame(input))]++;
      } catch (err) {
        throw new Error(`seed ${seed}, input ${input.toString("hex")}: ${String(err)}`);
      }
    }
    // Both outcomes are reached: the mutations are neither all harmless nor all fatal.
    expect(tally.ok).toBeGreaterThan(RUNS / 100);
    expect(tally.refused).toBeGreaterThan(RUNS / 100);
  });

  it(`HDLC frame decoder and deframer: ${RUNS} mutated lines, only PppoeDecodeError`, () => {
    const seed = fuzzSeed();
    const corpus = fc.sample(pppFrameArb, { numRuns: 300, seed: 8 }).flatMap((f) => [encodeHdlcFrame(f), encodeHdlcFrame(f, { fcs: 32, accm: 0 })]);
    const rnd = seededRandom(seed + 1);
    const deframer = new HdlcDeframer({ maxFrameBytes: 256 });
    const tally = { ok: 0, refused: 0 };
    let streamed = 0;
    let maxPending = 0;
    for (let i = 0; i < RUNS; i++) {
      const input = mutate(corpus[i % corpus.length] ?? Buffer.alloc(0), rnd, undefined);
      try {
        tally[expectOnlyTypedErrors(() => decodeHdlcFrame(input, { fcs: i % 2 ? 32 : 16 }))]++;
        for (const r of deframer.push(input)) if (r.type === "frame") streamed++;
      } catch (err) {
        throw new Error(`seed ${seed}, input ${input.toString("hex")}: ${String(err)}`);
      }
      maxPending = Math.max(maxPending, deframer.pendingBytes);
    }
    expect(maxPending).toBeLessThanOrEqual(256);
    expect(tally.ok).toBeGreaterThan(RUNS / 100);
    expect(tally.refused).toBeGreaterThan(RUNS / 100);
    expect(streamed).toBeGreaterThan(0);
  });
});
