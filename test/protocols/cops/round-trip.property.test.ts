import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeCopsMessage, encodeCopsMessage } from "../../../protocols/cops/index.js";
import { messageArbs } from "./arbitraries.js";

describe("fast-check round trip, every message type (RFC 2748 §3)", () => {
  for (const [op, arb] of Object.entries(messageArbs)) {
    it(`${op}: decode(encode(m)) equals m and re-encodes to the same bytes`, () => {
      fc.assert(
        fc.property(arb, (msg) => {
          const bytes = encodeCopsMessage(msg);
          const back = decodeCopsMessage(bytes);
          expect(back).toEqual(msg);
          expect(encodeCopsMessage(back).equals(bytes)).toBe(true);
          expect(bytes.length % 4).toBe(0);
        }),
        { numRuns: 300 },
      );
    });
  }
});
