import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeOspMessage, decodeTokenInfo, encodeOspMessage, encodeTokenInfo } from "../../../protocols/osp/index.js";
import { messageArb, tokenInfoArb } from "./arbitraries.js";

describe("OSP codec round trip (fast-check)", () => {
  it("decode(encode(m)) = m for every message, toolkit spelling", () => {
    fc.assert(
      fc.property(messageArb, (m) => {
        expect(decodeOspMessage(encodeOspMessage(m))).toEqual(m);
      }),
      { numRuns: 800 },
    );
  });

  it("decode(encode(m)) = m with ETSI spelling and without declaration", () => {
    fc.assert(
      fc.property(messageArb, (m) => {
        expect(decodeOspMessage(encodeOspMessage(m, { spelling: "etsi", declaration: false }))).toEqual(m);
      }),
      { numRuns: 300 },
    );
  });

  it("encode is stable: encode(decode(encode(m))) = encode(m)", () => {
    fc.assert(
      fc.property(messageArb, (m) => {
        const once = encodeOspMessage(m);
        expect(encodeOspMessage(decodeOspMessage(once)).equals(once)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it("TokenInfo round trips", () => {
    fc.assert(
      fc.property(tokenInfoArb, (t) => {
        expect(decodeTokenInfo(encodeTokenInfo(t))).toEqual(t);
      }),
      { numRuns: 300 },
    );
  });
});
