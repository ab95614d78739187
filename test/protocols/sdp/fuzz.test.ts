import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SdpParseError, parseSdp, serializeSdp } from "../../../protocols/sdp/index.js";
import { offerArb, sessionArb } from "./arbitraries.js";
import { mutateBytes } from "../../support/byte-mutations.js";
import { fuzzSeed, seededRandom } from "../../support/seeded-random.js";

const INTERESTING = ["=", "\r\n", "\n", " ", "/", ":", "m=", "c=", "0", "128", "65536", "\0", "\r"].map((s) => Buffer.from(s));

describe("fuzz: only SdpParseError escapes the SDP parser", () => {
  it("100,000 mutated descriptions: each is refused with a typed error or read into a model that writes back stably", () => {
    const seed = fuzzSeed();
    const corpus = [...fc.sample(sessionArb, { numRuns: 200, seed: 4566 }), ...fc.sample(offerArb, { numRuns: 200, seed: 3264 })].map((sd) => Buffer.from(serializeSdp(sd)));
    const rnd = seededRandom(seed);
    let refused = 0;
    let read = 0;
    for (let i = 0; i < 100_000; i++) {
      const input = mutateBytes(corpus[i % corpus.length]!, rnd, {
        interesting: (out, pos, r) => {
          const v = INTERESTING[Math.floor(r() * INTERESTING.length)]!;
          v.copy(out, pos, 0, Math.min(v.length, out.length - pos));
        },
        fixLength: () => undefined, // SDP has no length field: the body's end is the description's end
      });
      let sd;
      try {
        sd = parseSdp(input);
      } catch (e) {
        if (!(e instanceof SdpParseError)) throw new Error(`seed ${seed} input ${i}: ${String(e)}`);
        expect(e.offset).toBeGreaterThanOrEqual(0);
        expect(e.offset).toBeLessThanOrEqual(Math.max(input.length, 65_536));
        refused++;
        continue;
      }
      read++;
      const again = serializeSdp(sd);
      expect(serializeSdp(parseSdp(again))).toBe(again);
    }
    expect(refused + read).toBe(100_000);
    expect(refused).toBeGreaterThan(10_000);
    expect(read).toBeGreaterThan(1_000);
  }, 120_000);
});
