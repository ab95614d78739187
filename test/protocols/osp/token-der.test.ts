import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createOspToken, generateOspPki, type OspTokenInfo } from "../../../protocols/osp/index.js";
import {
  der,
  derChildren,
  DerError,
  derHeaderLength,
  derOid,
  derTime,
  derUnsignedInteger,
  octetStringValue,
  oidText,
  readDer,
  TAG,
  timeValue,
  writeDerHeader,
  type DerNode,
} from "../../../protocols/osp/token-der.js";
import { certificateFacts } from "../../../protocols/osp/token-pki.js";
import { fuzzSeed } from "../../support/seeded-random.js";

describe("DER writer and reader (X.690)", () => {
  it("reads back any TLV it writes, short and long lengths", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0x1e }), fc.uint8Array({ maxLength: 70_000 }), (tag, bytes) => {
        const encoded = der(tag, Buffer.from(bytes));
        const node = readDer(encoded, 0);
        expect(node).toMatchObject({ tag, start: 0, end: encoded.length, contentEnd: encoded.length });
        expect(encoded.subarray(node.content, node.contentEnd).equals(Buffer.from(bytes))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it("writes the identifier and length octets der() writes, at every length boundary", () => {
    const check = (tag: number, length: number) => {
      const expected = der(tag, Buffer.alloc(length)).subarray(0, derHeaderLength(length));
      const out = Buffer.alloc(derHeaderLength(length));
      expect(writeDerHeader(out, 0, tag, length)).toBe(out.length);
      expect(out.equals(expected)).toBe(true);
    };
    for (const length of [0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0xffffff, 0x1000000]) check(TAG.OCTET_STRING, length);
    const lengths = fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 0x30000 }));
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xff }), lengths, check), { numRuns: 300 });
  });

  it("round-trips OIDs, non-negative INTEGERs and times", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 39 }), fc.array(fc.nat(), { maxLength: 8 }), (a, b, rest) => {
        const dotted = [a, b, ...rest].join(".");
        const encoded = derOid(dotted);
        expect(oidText(encoded, readDer(encoded, 0))).toBe(dotted);
      }),
    );
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 160n) - 1n }), (n) => {
        const hex = n.toString(16).padStart(42, "0");
        const encoded = derUnsignedInteger(Buffer.from(hex, "hex"));
        const node = readDer(encoded, 0);
        const content = encoded.subarray(node.content, node.contentEnd);
        expect(BigInt(`0x${content.toString("hex") || "0"}`)).toBe(n);
        expect(content[0]! & 0x80).toBe(0); // X.690 §8.3.2: positive, minimal
        if (content.length > 1) expect(content[0] === 0 && !(content[1]! & 0x80)).toBe(false);
      }),
    );
    fc.assert(
      fc.property(fc.integer({ min: Date.UTC(1950, 0, 1) / 1000, max: Date.UTC(9999, 11, 31) / 1000 }), (seconds) => {
        const ms = seconds * 1000;
        const encoded = derTime(ms);
        const node = readDer(encoded, 0);
        expect(node.tag).toBe(ms < Date.UTC(2050, 0, 1) ? TAG.UTC_TIME : TAG.GENERALIZED_TIME);
        expect(timeValue(encoded, node)).toBe(ms);
      }),
    );
  });

  it("reads BER indefinite lengths and constructed OCTET STRINGs", () => {
    const content = Buffer.from([TAG.OCTET_STRING | 0x20, 0x80, ...der(TAG.OCTET_STRING, Buffer.from("ab")), ...der(TAG.OCTET_STRING, Buffer.from("cd")), 0, 0]);
    const wrapped = Buffer.from([TAG.SEQUENCE, 0x80, ...content, 0, 0]);
    const top = readDer(wrapped, 0);
    expect(top.end).toBe(wrapped.length);
    const [inner] = derChildren(wrapped, top);
    expect(octetStringValue(wrapped, inner!).toString()).toBe("abcd");
  });

  it("refuses lengths that run past the container", () => {
    expect(() => readDer(Buffer.from([0x30, 0x05, 0x01]), 0)).toThrow(DerError);
    expect(() => readDer(Buffer.from([0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), 0)).toThrow(DerError);
    expect(() => readDer(Buffer.from([0x04, 0x80, 0, 0]), 0)).toThrow(DerError);
    expect(() => derChildren(Buffer.from([0x30, 0x03, 0x02, 0x05, 0x00]), readDer(Buffer.from([0x30, 0x03, 0x02, 0x05, 0x00]), 0))).toThrow(DerError);
  });
});

describe("DER reader fuzz: nothing but DerError escapes", () => {
  const pki = generateOspPki({ keyType: "p256" });
  const info: OspTokenInfo = {
    sourceInfo: [{ type: "e164", value: "14045266060" }],
    destinationInfo: [{ type: "e164", value: "14043342535" }],
    callId: Buffer.from("fuzz@192.0.2.10"),
    validAfter: 0,
    validUntil: 1000,
    transactionId: "1",
    usageDetail: { service: {}, amount: 60, increment: 1, unit: "s" },
  };
  const edPki = generateOspPki({ keyType: "ed25519" });
  const pemDer = (pem: string) => Buffer.from(pem.replace(/-----[A-Z ]+-----|\s/g, ""), "base64");
  // P-256 and Ed25519 (RFC 8419) tokens and certificates, in turn.
  const tokens = [createOspToken(info, pki.signer), createOspToken(info, edPki.signer)];
  const certs = [pemDer(pki.signer.certificatePem), pemDer(edPki.signer.certificatePem)];

  /** Walks the whole tree the way the token reader does: every constructed node opened, every leaf decoded by its tag. */
  function walk(buf: Buffer, node: DerNode, depth: number): void {
    if (node.tag & 0x20) {
      for (const child of derChildren(buf, node, depth)) walk(buf, child, depth + 1);
      if ((node.tag & 0xdf) === TAG.OCTET_STRING) octetStringValue(buf, node);
      return;
    }
    if (node.tag === TAG.OID) oidText(buf, node);
    if (node.tag === TAG.UTC_TIME || node.tag === TAG.GENERALIZED_TIME) timeValue(buf, node);
    if (node.tag === TAG.OCTET_STRING) octetStringValue(buf, node);
  }

  it("survives 100,000 mutated tokens and certificates and random inputs", () => {
    const seed = fuzzSeed();
    let state = seed;
    const rnd = () => (state = (Math.imul(state, 1103515245) + 12345) & 0x7fffffff) / 0x7fffffff;
    const counts = { parsed: 0, refused: 0 };
    for (let i = 0; i < 100_000; i++) {
      let input: Buffer;
      if (i % 10 === 9) {
        input = Buffer.from(Array.from({ length: Math.floor(rnd() * 64) }, () => Math.floor(rnd() * 256)));
      } else {
        const pick = Math.floor(i / 2) % 2;
        input = Buffer.from(i % 2 ? tokens[pick]! : certs[pick]!);
        const flips = 1 + Math.floor(rnd() * 4);
        for (let f = 0; f < flips; f++) input[Math.floor(rnd() * input.length)] = Math.floor(rnd() * 256);
        if (rnd() < 0.2) input = input.subarray(0, Math.floor(rnd() * input.length));
      }
      try {
        walk(input, readDer(input, 0), 0);
        if (i % 2 === 0) certificateFacts(input);
        counts.parsed++;
      } catch (err) {
        if (!(err instanceof DerError)) throw new Error(`seed ${seed}, input ${i}: ${String(err)} (${input.toString("hex")})`);
        counts.refused++;
      }
    }
    expect(counts.parsed).toBeGreaterThan(1000);
    expect(counts.refused).toBeGreaterThan(1000);
  });
});
