import fc from "fast-check";
import { describe, expect, it } from "vitest";
import "../../support/fast-check-seed.js";
import {
  DSC_MAX_ENTITIES,
  DscDecodeError,
  DscEncodeError,
  DscFrameDecoder,
  decodeDscEnvelope,
  encodeDscEnvelope,
  encodeDscFrame,
  type DscEnvelope,
} from "../../../protocols/dsc/index.js";
import { thrownBy } from "../../support/thrown.js";
import { envelopeArb } from "./arbitraries.js";

const update: DscEnvelope = { from: "dsc-a", message: { kind: "update", session: { id: "call-1/originating", entities: ["user alice@example.net", "realm example.net"], owner: "dsc-a", server: "10.0.0.1", port: 5060 } } };

describe("DSC codec", () => {
  it("round-trips every valid envelope, alone and framed", () => {
    fc.assert(
      fc.property(envelopeArb, (env) => {
        expect(decodeDscEnvelope(encodeDscEnvelope(env))).toEqual(env);
        const frame = encodeDscFrame(env);
        expect(frame.readUInt32BE(0)).toBe(frame.length - 4);
        const frames = new DscFrameDecoder().push(frame);
        expect(frames.length).toBe(1);
        expect(decodeDscEnvelope(frames[0] as Buffer)).toEqual(env);
      }),
      { numRuns: 2000 },
    );
  });

  it("splits a stream cut anywhere into the same frames", () => {
    fc.assert(
      fc.property(fc.array(envelopeArb, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 8 }), (envs, cuts) => {
        const stream = Buffer.concat(envs.map((e) => encodeDscFrame(e)));
        const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
        const dec = new DscFrameDecoder();
        const got: DscEnvelope[] = [];
        let prev = 0;
        for (const p of [...points, stream.length]) {
          for (const f of dec.push(stream.subarray(prev, p))) got.push(decodeDscEnvelope(f));
          prev = p;
        }
        expect(got).toEqual(envs);
        expect(dec.phase).toBe("idle");
      }),
      { numRuns: 500 },
    );
  });

  it("reports the frame phase for the listener's deadlines", () => {
    const frame = encodeDscFrame(update);
    const dec = new DscFrameDecoder();
    dec.push(frame.subarray(0, 2));
    expect(dec.phase).toBe("head");
    dec.push(frame.subarray(2, 9));
    expect(dec.phase).toBe("body");
    expect(dec.push(frame.subarray(9)).length).toBe(1);
    expect(dec.phase).toBe("idle");
  });

  it("refuses an oversized or empty frame by its stream offset", () => {
    const dec = new DscFrameDecoder(1024);
    const ok = encodeDscFrame(update);
    const big = Buffer.from([0, 0, 0x10, 0]);
    const err = thrownBy(DscDecodeError, () => dec.push(Buffer.concat([ok, big])));
    expect(err.code).toBe("frame-too-large");
    expect(err.offset).toBe(ok.length);
    const empty = thrownBy(DscDecodeError, () => new DscFrameDecoder().push(Buffer.alloc(4)));
    expect(empty.code).toBe("empty-frame");
  });

  it("names the missing or bad field", () => {
    const bytes = encodeDscEnvelope(update);
    // An Envelope with only `from`: no message.
    const noBody = thrownBy(DscDecodeError, () => decodeDscEnvelope(Buffer.from([0x0a, 0x01, 0x61])));
    expect(noBody.code).toBe("no-body");
    // Truncated inside the session.
    const cut = thrownBy(DscDecodeError, () => decodeDscEnvelope(bytes.subarray(0, bytes.length - 3)));
    expect(cut.code).toBe("bad-protobuf");
    // An update whose session names no entity (encoded by hand: field 4 { field 1 { id, owner } }).
    const session = Buffer.from([0x0a, 0x01, 0x73, 0x1a, 0x01, 0x61]);
    const upd = Buffer.concat([Buffer.from([0x0a, session.length]), session]);
    const env = Buffer.concat([Buffer.from([0x0a, 0x01, 0x61, 0x22, upd.length]), upd]);
    const noEntities = thrownBy(DscDecodeError, () => decodeDscEnvelope(env));
    expect(noEntities.code).toBe("missing-field");
    expect(noEntities.field).toBe("update.session.entities");
  });

  it("refuses to encode what it would refuse to decode", () => {
    const session = update.message.kind === "update" ? update.message.session : undefined;
    const many: DscEnvelope = { from: "dsc-a", message: { kind: "update", session: { ...(session as NonNullable<typeof session>), entities: Array.from({ length: DSC_MAX_ENTITIES + 1 }, (_, i) => `user u${i}`) } } };
    thrownBy(DscEncodeError, () => encodeDscEnvelope(many));
    thrownBy(DscEncodeError, () => encodeDscEnvelope({ from: "", message: { kind: "broadcast", counts: [] } }));
  });
});
