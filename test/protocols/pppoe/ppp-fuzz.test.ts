// ≥ 10^5 mutated inputs per PPP codec (frame, LCP, IPCP, PAP, CHAP): each decodes or throws PppoeDecodeError.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  PppoeDecodeError,
  decodeChapPacket,
  decodeControlPacket,
  decodePapPacket,
  decodePppFrame,
  encodeChapPacket,
  encodeControlPacket,
  encodePapPacket,
  encodePppFrame,
} from "../../../protocols/pppoe/index.js";
import { mutateBytes } from "../../support/byte-mutations.js";
import { fuzzSeed, seededRandom } from "../../support/seeded-random.js";
import { chapPacketArb, controlPacketArb, papPacketArb, pppProtocolArb } from "./ppp-arbitraries.js";

const RUNS = 100_000;

/** Mutations of a PPP control packet: interesting lengths anywhere, and the Length at offset 2 fixed. */
function mutate(seed: Buffer, rnd: () => number, lengthAt: number): Buffer {
  return mutateBytes(seed, rnd, {
    interesting: (out, pos, r) => {
      const v = [0, 1, 2, 3, 4, 5, 6, 0xff][Math.floor(r() * 8)] ?? 0;
      if (r() < 0.5) {
        if (out.length > pos) out[pos] = v;
      } else if (out.length >= pos + 2) out.writeUInt16BE(v, pos);
    },
    fixLength: (out) => {
      if (out.length >= lengthAt + 2) out.writeUInt16BE(Math.min(0xffff, out.length - lengthAt + 2), lengthAt);
    },
  });
}

function fuzz(name: string, corpus: Buffer[], decode: (b: Buffer) => unknown, lengthAt: number, salt: number): void {
  it(`${name}: ${RUNS} mutated inputs, only PppoeDecodeError`, () => {
    const seed = fuzzSeed() + salt;
    const rnd = seededRandom(seed);
    const tally = { ok: 0, refused: 0 };
    for (let i = 0; i < RUNS; i++) {
      const input = mutate(corpus[i % corpus.length] ?? Buffer.alloc(0), rnd, lengthAt);
      try {
        decode(input);
        tally.ok++;
      } catch (err) {
        if (!(err instanceof PppoeDecodeError)) throw new Error(`seed ${seed}, input ${input.toString("hex")}: ${String(err)}`);
        expect(err.offset).toBeGreaterThanOrEqual(0);
        tally.refused++;
      }
    }
    expect(tally.ok).toBeGreaterThan(RUNS / 100);
    expect(tally.refused).toBeGreaterThan(RUNS / 100);
  });
}

describe("fuzz PPP codecs", () => {
  const frames = fc.sample(fc.tuple(pppProtocolArb, fc.uint8Array({ maxLength: 16 })), { numRuns: 200, seed: 11 }).map(([protocol, i]) => encodePppFrame({ protocol, information: Buffer.from(i) }, { addressControl: protocol % 3 === 0 }));
  fuzz("PPP frame", frames, decodePppFrame, 0, 1);
  fuzz("LCP", fc.sample(controlPacketArb("lcp"), { numRuns: 300, seed: 12 }).map(encodeControlPacket), (b) => decodeControlPacket(b, "lcp"), 2, 2);
  fuzz("IPCP", fc.sample(controlPacketArb("ipcp"), { numRuns: 300, seed: 13 }).map(encodeControlPacket), (b) => decodeControlPacket(b, "ipcp"), 2, 3);
  fuzz("PAP", fc.sample(papPacketArb, { numRuns: 300, seed: 14 }).map(encodePapPacket), decodePapPacket, 2, 4);
  fuzz("CHAP", fc.sample(chapPacketArb, { numRuns: 300, seed: 15 }).map(encodeChapPacket), decodeChapPacket, 2, 5);
});
