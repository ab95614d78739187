import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_ACCM,
  HdlcDeframer,
  decodeHdlcFrame,
  decodePppoeFrame,
  encodeHdlcFrame,
  encodePppoeFrame,
} from "../../../protocols/pppoe/index.js";
import { pppFrameArb, pppoeFrameArb } from "./arbitraries.js";

describe("PPPoE codec round trip (RFC 2516)", () => {
  it("decode(encode(frame)) equals the frame, padding included", () => {
    fc.assert(
      fc.property(pppoeFrameArb, (frame) => {
        const bytes = encodePppoeFrame(frame);
        expect(bytes.length).toBeGreaterThanOrEqual(60);
        expect(decodePppoeFrame(bytes)).toEqual(frame);
      }),
      { numRuns: 2000 },
    );
  });

  it("encode(decode(bytes)) gives the same bytes back", () => {
    fc.assert(
      fc.property(pppoeFrameArb, (frame) => {
        const bytes = encodePppoeFrame(frame);
        expect(encodePppoeFrame(decodePppoeFrame(bytes))).toEqual(bytes);
      }),
      { numRuns: 1000 },
    );
  });
});

describe("HDLC-like framing round trip (RFC 1662)", () => {
  const accmArb = fc.oneof(fc.constant(DEFAULT_ACCM), fc.constant(0), fc.integer({ min: 0, max: 0xffffffff }));

  it("one frame decodes to its content under any ACCM and either FCS", () => {
    fc.assert(
      fc.property(pppFrameArb, accmArb, fc.constantFrom(16 as const, 32 as const), (frame, accm, fcs) => {
        const line = encodeHdlcFrame(frame, { accm, fcs });
        // No Flag inside, no ACCM-flagged control character left unescaped (§4.2).
        for (let i = 1; i < line.length - 1; i++) {
          const o = line[i] ?? 0;
          expect(o).not.toBe(0x7e);
          if (o < 0x20) expect((accm >>> o) & 1).toBe(0);
        }
        expect(decodeHdlcFrame(line, { accm, fcs })).toEqual(frame);
      }),
      { numRuns: 1000 },
    );
  });

  it("the streaming deframer gives back every frame of a stream cut anywhere", () => {
    fc.assert(
      fc.property(
        fc.array(pppFrameArb, { minLength: 1, maxLength: 6 }),
        fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 20 }),
        (frames, cuts) => {
          const stream = Buffer.concat(frames.map((f) => encodeHdlcFrame(f, { fcs: 32 })));
          const deframer = new HdlcDeframer({ fcs: 32 });
          const out: Buffer[] = [];
          let pos = 0;
          let k = 0;
          while (pos < stream.length) {
            const n = cuts[k++ % cuts.length] ?? 1;
            for (const r of deframer.push(stream.subarray(pos, pos + n))) {
              if (r.type === "error") throw r.error;
              out.push(r.frame);
            }
            pos += n;
          }
          expect(out).toEqual(frames);
          expect(deframer.pendingBytes).toBe(0);
        },
      ),
      { numRuns: 500 },
    );
  });
});
