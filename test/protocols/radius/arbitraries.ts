// fast-check arbitraries of well-typed RADIUS packets (every attribute in the form the decoder returns).
import fc from "fast-check";
import { RADIUS_DICTIONARY, RadiusCode, wireValueType } from "../../../protocols/radius/index.js";
import type { RadiusAttribute, RadiusPacket } from "../../../protocols/radius/index.js";

const types = RADIUS_DICTIONARY.map((d) => d.code).filter((c) => c !== 80);
const unknownTypes = fc.integer({ min: 1, max: 255 }).filter((t) => !RADIUS_DICTIONARY.some((d) => d.code === t));

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max }).map((a) => Buffer.from(a));
// UTF-8 of at most 253 octets, at least one
const text = fc.string({ unit: "grapheme", minLength: 1, maxLength: 60 }).filter((s) => {
  const n = Buffer.byteLength(s, "utf8");
  return n >= 1 && n <= 253;
});
const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join("."));
// RFC 2865 §5.2: clear text without trailing NULs, ≤ 128 octets
const password = bytes(1, 128).filter((b) => b[b.length - 1] !== 0);

export function attributeArb(code: number): fc.Arbitrary<RadiusAttribute> {
  const known = fc.constantFrom(...types).chain((type): fc.Arbitrary<RadiusAttribute> => {
    const kind = wireValueType(type, code);
    switch (kind) {
      case "integer":
      case "date":
        return u32.map((value) => ({ type, kind, value }));
      case "ipaddr":
        return ipv4.map((value) => ({ type, kind, value }));
      case "text":
        return text.map((value) => ({ type, kind, value }));
      case "string":
        return bytes(1, 253).map((value) => ({ type, kind, value }));
      case "octets":
        return bytes(0, 253).map((value) => ({ type, kind, value }));
      case "password":
        return password.map((value) => ({ type, kind, value }));
      case "vsa":
        return fc.tuple(fc.integer({ min: 0, max: 0xffffff }), bytes(1, 249)).map(([vendorId, data]) => ({ type, kind, vendorId, data }));
    }
  });
  const unknown = fc.tuple(unknownTypes, bytes(0, 253)).map(([type, value]): RadiusAttribute => ({ type, kind: "octets", value }));
  return fc.oneof({ weight: 4, arbitrary: known }, { weight: 1, arbitrary: unknown });
}

const codes = [
  RadiusCode.AccessRequest,
  RadiusCode.AccessAccept,
  RadiusCode.AccessReject,
  RadiusCode.AccountingRequest,
  RadiusCode.AccountingResponse,
  RadiusCode.AccessChallenge,
  RadiusCode.StatusServer,
] as const;

export const packetArb: fc.Arbitrary<RadiusPacket> = fc.constantFrom(...codes).chain((code) =>
  fc.record({
    code: fc.constant(code),
    identifier: fc.nat(255),
    authenticator: bytes(16, 16),
    attributes: fc.array(attributeArb(code), { maxLength: 12 }),
  }),
);
