// An attribute given as its type and value octets (what an accounting spool keeps of a Vendor-Specific or an
// unknown type): octets → attribute → octets is the identity for every attribute an Accounting-Request can carry
// (fast-check), and 10^5 random or mutated (type, octets) pairs give an attribute or a RadiusDecodeError, never
// another exception.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  RadiusCode,
  RadiusDecodeError,
  decodeRadiusPacket,
  encodeRadiusPacket,
  radiusAttributeFromOctets,
  radiusAttributeOctets,
} from "../../../protocols/radius/index.js";
import { attributeArb } from "./arbitraries.js";
import { mutateBytes } from "../../support/byte-mutations.js";
import { fuzzSeed, randomBytes, seededRandom } from "../../support/seeded-random.js";

// Message-Authenticator's octets are computed when a packet is encoded, not kept.
const accountingAttribute = attributeArb(RadiusCode.AccountingRequest).filter((a) => a.type !== 80);

describe("RADIUS attributes from and to their value octets", () => {
  it("attribute → octets → attribute gives it back, and the octets are those an encoded Accounting-Request carries", () => {
    fc.assert(
      fc.property(accountingAttribute, (a) => {
        const octets = radiusAttributeOctets(a);
        expect(radiusAttributeFromOctets(a.type, octets)).toEqual(a);
        const wire = encodeRadiusPacket({ code: RadiusCode.AccountingRequest, identifier: 1, authenticator: Buffer.alloc(16), attributes: [a] }, "s");
        expect(wire.subarray(22).equals(octets)).toBe(true);
        expect(decodeRadiusPacket(wire, "s").attributes[0]).toEqual(radiusAttributeFromOctets(a.type, octets));
      }),
      { numRuns: 5000 },
    );
  });

  it("a type outside one octet or a value over 253 octets is refused, naming the type", () => {
    expect(() => radiusAttributeFromOctets(256, Buffer.alloc(1))).toThrow(RadiusDecodeError);
    expect(() => radiusAttributeFromOctets(-1, Buffer.alloc(1))).toThrow(/bad-attribute-type/);
    expect(() => radiusAttributeFromOctets(26, Buffer.alloc(254))).toThrow(/attribute 26 value of 254 octets/);
    // A Vendor-Specific shorter than its Vendor-Id, an integer of 3 octets.
    expect(() => radiusAttributeFromOctets(26, Buffer.from([0, 0, 9]))).toThrow(/bad-vendor-specific/);
    expect(() => radiusAttributeFromOctets(46, Buffer.from([0, 0, 9]))).toThrow(/bad-attribute-length/);
  });

  it("10^5 random and mutated (type, octets): an attribute that gives back its octets, or a RadiusDecodeError", () => {
    const rnd = seededRandom(fuzzSeed());
    const seeds = fc.sample(accountingAttribute, { numRuns: 300, seed: 2866 }).map((a) => ({ type: a.type, octets: radiusAttributeOctets(a) }));
    let decoded = 0;
    let refused = 0;
    for (let i = 0; i < 100_000; i++) {
      const seed = seeds[i % seeds.length]!;
      const type = rnd() < 0.1 ? Math.floor(rnd() * 300) - 20 : seed.type;
      const octets = rnd() < 0.2 ? randomBytes(rnd, Math.floor(rnd() * 260)) : mutateBytes(seed.octets, rnd, { interesting: () => {}, fixLength: () => {} });
      let a;
      try {
        a = radiusAttributeFromOctets(type, octets);
      } catch (err) {
        expect(err).toBeInstanceOf(RadiusDecodeError);
        refused++;
        continue;
      }
      decoded++;
      if (type !== 80) expect(radiusAttributeOctets(a).equals(octets)).toBe(true);
    }
    expect(decoded).toBeGreaterThan(1000);
    expect(refused).toBeGreaterThan(1000);
  }, 120_000);
});
