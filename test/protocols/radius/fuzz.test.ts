import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  RadiusClientMachine,
  RadiusCode,
  RadiusDecodeError,
  RadiusServerMachine,
  decodeRadiusPacket,
  encodeRadiusPacket,
  vendorSubAttributes,
  verifyRadiusPacket,
} from "../../../protocols/radius/index.js";
import { packetArb } from "./arbitraries.js";
import { mutateBytes } from "../../support/byte-mutations.js";
import { fuzzSeed, randomBytes, seededRandom } from "../../support/seeded-random.js";

const SECRET = "fuzz-secret";

function corpus(): Buffer[] {
  return fc.sample(packetArb, { numRuns: 400, seed: 2865 }).map((p) => encodeRadiusPacket(p, SECRET, Buffer.alloc(16, 1)));
}

function mutate(seed: Buffer, rnd: () => number): Buffer {
  return mutateBytes(seed, rnd, {
    // Interesting attribute lengths.
    interesting: (out, pos, r) => {
      if (out.length > pos) out[pos] = [0, 1, 2, 3, 6, 18, 0xff][Math.floor(r() * 7)] ?? 0;
    },
    // The header Length fixed, so the mutation reaches the attribute parser.
    fixLength: (out) => {
      if (out.length >= 20 && out.length <= 0xffff) out.writeUInt16BE(out.length, 2);
    },
  });
}

describe("fuzz: only RadiusDecodeError escapes the decoder", () => {
  it("100,000 mutated and random inputs", () => {
    const seed = fuzzSeed();
    const seeds = corpus();
    const rnd = seededRandom(seed);
    let ok = 0;
    let rejected = 0;
    const TOTAL = 100_000;
    for (let i = 0; i < TOTAL; i++) {
      const input = i % 10 === 9 ? randomBytes(rnd, Math.floor(rnd() * 80)) : mutate(seeds[i % seeds.length] ?? Buffer.alloc(0), rnd);
      try {
        const p = decodeRadiusPacket(input, SECRET);
        ok++;
        // what decodes verifies without throwing, and re-encodes to bytes that decode to the same packet
        verifyRadiusPacket(input, SECRET, Buffer.alloc(16, 1));
        const again = encodeRadiusPacket(p, SECRET, Buffer.alloc(16, 1));
        expect(decodeRadiusPacket(again, SECRET).attributes).toEqual(p.attributes);
        for (const a of p.attributes) {
          if (a.kind !== "vsa") continue;
          try {
            vendorSubAttributes(a);
          } catch (err) {
            if (!(err instanceof RadiusDecodeError)) throw err;
          }
        }
      } catch (err) {
        if (err instanceof RadiusDecodeError) {
          rejected++;
          expect(err.offset).toBeGreaterThanOrEqual(0);
          expect(err.offset).toBeLessThanOrEqual(input.length);
          continue;
        }
        throw new Error(`seed ${seed} input #${i} ${input.toString("hex")}: ${(err as Error).stack}`);
      }
    }
    expect(ok + rejected).toBe(TOTAL);
    // the mutations reach both outcomes in volume
    expect(ok).toBeGreaterThan(5000);
    expect(rejected).toBeGreaterThan(5000);
  });

  it("the machines turn 20,000 mutated datagrams into drops or requests, never an exception", () => {
    const seed = fuzzSeed();
    const seeds = corpus();
    const rnd = seededRandom(seed ^ 0x5a5a);
    const from = { address: "127.0.0.1", port: 1812 };
    const server = new RadiusServerMachine({ secretFor: () => SECRET, maxCacheEntries: 64 });
    const client = new RadiusClientMachine({ secret: SECRET, randomBytes: () => Buffer.alloc(16, 1) });
    // a few requests in flight so that answers with their Identifiers reach the response checks
    for (let i = 0; i < 8; i++) client.send(0, from, { code: RadiusCode.AccountingRequest, attributes: [] });
    const kinds = new Set<string>();
    for (let i = 0; i < 20_000; i++) {
      const input = mutate(seeds[i % seeds.length] ?? Buffer.alloc(0), rnd);
      try {
        for (const a of server.receive(i, from, input)) {
          kinds.add(`server:${a.type}`);
          if (a.type === "request" && i % 2 === 0) server.respond(i, a.requestId, { code: a.packet.code === RadiusCode.AccountingRequest ? 5 : 3, attributes: [] });
        }
        for (const a of client.receive(i, from, input)) kinds.add(`client:${a.type}`);
      } catch (err) {
        throw new Error(`seed ${seed} input #${i} ${input.toString("hex")}: ${(err as Error).stack}`);
      }
    }
    expect(kinds).toContain("server:drop");
    expect(kinds).toContain("server:request");
    expect(kinds).toContain("client:drop");
  });
});
