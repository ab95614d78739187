import fc from "fast-check";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  CopsDecodeError,
  CopsFrameSplitter,
  decodeCopsMessage,
  decodePrSubObjects,
  decodeSipAaaClientSi,
  decodeSipAaaDecisionData,
  encodeCopsMessage,
  parseProvisioningDecision,
  parseProvisioningReport,
} from "../../../protocols/cops/index.js";
import { anyMessageArb } from "./arbitraries.js";
import { sampleClientTypeMessages } from "./samples.js";
import { mutateBytes } from "../../support/byte-mutations.js";
import { randomBytes, seededRandom } from "../../support/seeded-random.js";

function corpus(): Buffer[] {
  const vectors = readFileSync(join(process.cwd(), "..", "shared", "corpora", "cops", "vectors.txt"), "utf8")
    .split("\n")
    .filter((l) => l.trim() && !l.startsWith("#"))
    .map((l) => Buffer.from(l.trim().split(/\s+/).slice(1).join(""), "hex"));
  const generated = fc.sample(anyMessageArb, { numRuns: 300, seed: 42 }).map(encodeCopsMessage);
  return [...vectors, ...generated, ...sampleClientTypeMessages().map(encodeCopsMessage)];
}

function mutate(seed: Buffer, rnd: () => number): Buffer {
  return mutateBytes(seed, rnd, {
    // Interesting 16-bit values into an object length / header field.
    interesting: (out, pos, r) => {
      if (out.length >= pos + 2) out.writeUInt16BE([0, 1, 3, 4, 5, 0x7fff, 0xffff, 8, 12][Math.floor(r() * 9)] ?? 0, pos);
    },
    // The header length fixed, so the mutation reaches the object parser.
    fixLength: (out) => {
      if (out.length >= 8) out.writeUInt32BE(out.length, 4);
    },
  });
}

function onlyTypedErrors(fn: () => unknown): "ok" | "error" {
  try {
    fn();
    return "ok";
  } catch (err) {
    if (err instanceof CopsDecodeError) return "error";
    throw err;
  }
}

describe("fuzz: only CopsDecodeError escapes the decoders", () => {
  it("100,000 mutated-corpus and random inputs", () => {
    const seeds = corpus();
    const rnd = seededRandom(0xc0b5);
    let ok = 0;
    let rejected = 0;
    const TOTAL = 100_000;
    for (let i = 0; i < TOTAL; i++) {
      let input: Buffer;
      if (i % 5 === 4) {
        // random bytes, half of them behind a plausible header
        input = randomBytes(rnd, Math.floor(rnd() * 64));
        if (i % 10 === 4 && input.length >= 8) {
          input[0] = 0x10 | ((input[0] ?? 0) & 1);
          input[1] = 1 + Math.floor(rnd() * 10);
          input.writeUInt32BE(input.length, 4);
        }
      } else {
        input = mutate(seeds[i % seeds.length] ?? Buffer.alloc(0), rnd);
      }
      try {
        const r = onlyTypedErrors(() => {
          const msg = decodeCopsMessage(input);
          // what decodes must re-encode to bytes that decode and re-encode identically
          const again = encodeCopsMessage(msg);
          if (!encodeCopsMessage(decodeCopsMessage(again)).equals(again)) throw new Error("re-encoding is not stable");
        });
        if (r === "ok") ok++;
        else rejected++;
        if (i % 4 !== 0) continue;
        // every 4th input also goes through the client-type decoders and the stream framer
        const body = input.subarray(8);
        onlyTypedErrors(() => decodeSipAaaClientSi(body));
        onlyTypedErrors(() => decodeSipAaaDecisionData(body));
        onlyTypedErrors(() => decodePrSubObjects(body));
        onlyTypedErrors(() => new CopsFrameSplitter(4096).push(input));
      } catch (err) {
        throw new Error(`input #${i} ${input.toString("hex")}: ${(err as Error).stack}`);
      }
    }
    expect(ok + rejected).toBe(TOTAL);
    // the mutations reach both outcomes in volume
    expect(ok).toBeGreaterThan(1000);
    expect(rejected).toBeGreaterThan(1000);
  });

  it("client-type parsers reject mutated PR/AAA messages with CopsDecodeError only", () => {
    const rnd = seededRandom(7);
    const seeds = sampleClientTypeMessages().map(encodeCopsMessage);
    for (let i = 0; i < 20_000; i++) {
      const input = mutate(seeds[i % seeds.length] ?? Buffer.alloc(0), rnd);
      onlyTypedErrors(() => {
        const m = decodeCopsMessage(input);
        if (m.op === "DEC") parseProvisioningDecision(m);
        if (m.op === "RPT") parseProvisioningReport(m);
      });
    }
    expect(seeds.length).toBeGreaterThan(5);
  });
});
