// Round trips of every PPP frame and control packet the layer writes (RFC 1661, 1332, 1334, 1994).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decodeChapPacket,
  decodeControlPacket,
  decodePapPacket,
  decodePppFrame,
  encodeChapPacket,
  encodeControlPacket,
  encodePapPacket,
  encodePppFrame,
} from "../../../protocols/pppoe/index.js";
import { chapPacketArb, controlPacketArb, papPacketArb, pppProtocolArb } from "./ppp-arbitraries.js";

const info = fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a));

describe("PPP codec round trip", () => {
  it("PPP frames, with and without Address/Control", () => {
    fc.assert(
      fc.property(pppProtocolArb, info, fc.boolean(), (protocol, information, addressControl) => {
        expect(decodePppFrame(encodePppFrame({ protocol, information }, { addressControl }))).toEqual({ protocol, information });
      }),
    );
  });

  it("a compressed one-octet Protocol (PFC, RFC 1661 §6.5) decodes to the same number", () => {
    expect(decodePppFrame(Buffer.from("2145", "hex"))).toEqual({ protocol: 0x21, information: Buffer.from("45", "hex") });
  });

  for (const protocol of ["lcp", "ipcp"] as const) {
    it(`${protocol.toUpperCase()} packets: decode(encode(p)) = p, and padding after Length is ignored`, () => {
      fc.assert(
        fc.property(controlPacketArb(protocol), fc.uint8Array({ maxLength: 8 }), (packet, pad) => {
          const bytes = encodeControlPacket(packet);
          expect(decodeControlPacket(bytes, protocol)).toEqual(packet);
          expect(decodeControlPacket(Buffer.concat([bytes, pad]), protocol)).toEqual(packet);
        }),
      );
    });
  }

  it("PAP packets", () => {
    fc.assert(fc.property(papPacketArb, (packet) => {
      expect(decodePapPacket(encodePapPacket(packet))).toEqual(packet);
    }));
  });

  it("CHAP packets", () => {
    fc.assert(fc.property(chapPacketArb, (packet) => {
      expect(decodeChapPacket(encodeChapPacket(packet))).toEqual(packet);
    }));
  });
});
