import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DscDecodeError, DscFrameDecoder, decodeDscEnvelope, encodeDscFrame } from "../../../protocols/dsc/index.js";
import { mutateBytes } from "../../support/byte-mutations.js";
import { fuzzSeed, randomBytes, seededRandom } from "../../support/seeded-random.js";
import { envelopeArb } from "./arbitraries.js";

function corpus(): Buffer[] {
  return fc.sample(envelopeArb, { numRuns: 400, seed: 1535 }).map((e) => encodeDscFrame(e));
}

function mutate(seed: Buffer, rnd: () => number): Buffer {
  return mutateBytes(seed, rnd, {
    // Interesting protobuf bytes: field keys of each wire type, varint continuation, lengths.
    interesting: (out, pos, r) => {
      if (out.length > pos) out[pos] = [0x00, 0x08, 0x0a, 0x12, 0x1a, 0x22, 0x3a, 0x80, 0xff, 0x7f, 0x05, 0x0f][Math.floor(r() * 12)] ?? 0;
    },
    // The frame's length prefix fixed, so the mutation reaches the protobuf reader behind it.
    fixLength: (out) => {
      if (out.length >= 4) out.writeUInt32BE(out.length - 4, 0);
    },
  });
}

describe("fuzz: only DscDecodeError escapes the framed decoder", () => {
  it("100,000 mutated and random streams", () => {
    const seed = fuzzSeed();
    const seeds = corpus();
    const rnd = seededRandom(seed);
    const TOTAL = 100_000;
    let decoded = 0;
    let rejected = 0;
    for (let i = 0; i < TOTAL; i++) {
      const input = i % 10 === 9 ? randomBytes(rnd, Math.floor(rnd() * 80)) : mutate(seeds[i % seeds.length] ?? Buffer.alloc(0), rnd);
      const dec = new DscFrameDecoder(64 * 1024);
      try {
        // Fed in two pieces, as a stream would deliver it.
        const cut = Math.floor(rnd() * (input.length + 1));
        const frames = [...dec.push(input.subarray(0, cut)), ...dec.push(input.subarray(cut))];
        for (const f of frames) {
          const env = decodeDscEnvelope(f);
          decoded++;
          // What decodes re-encodes to a frame that decodes to the same envelope.
          expect(decodeDscEnvelope(encodeDscFrame(env).subarray(4))).toEqual(env);
        }
      } catch (err) {
        if (!(err instanceof DscDecodeError)) throw new Error(`seed ${seed}, input ${i} (${input.toString("hex")}): ${String(err)}`);
        expect(err.offset).toBeGreaterThanOrEqual(0);
        rejected++;
      }
    }
    // Both outcomes are reached: the mutations are neither all fatal nor all harmless.
    expect(decoded).toBeGreaterThan(TOTAL / 20);
    expect(rejected).toBeGreaterThan(TOTAL / 20);
  }, 120_000);
});
