import { describe, expect, it } from "vitest";
import {
  GOOD_FCS16,
  GOOD_FCS32,
  HdlcDeframer,
  PppoeDecodeError,
  decodeHdlcFrame,
  encodeHdlcFrame,
  fcs16,
  fcs32,
} from "../../../protocols/pppoe/index.js";
import type { HdlcDeframed } from "../../../protocols/pppoe/index.js";
import { thrownBy } from "../../support/thrown.js";

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ""), "hex");
const frames = (results: HdlcDeframed[]) => results.flatMap((r) => (r.type === "frame" ? [r.frame.toString("hex")] : []));
const errors = (results: HdlcDeframed[]) => results.flatMap((r) => (r.type === "error" ? [r.error.code] : []));

describe("FCS (RFC 1662 Appendix C)", () => {
  it("computes the X.25 FCS-16 and the FCS-32 check values of '123456789'", () => {
    const data = Buffer.from("123456789");
    expect(~fcs16(data) & 0xffff).toBe(0x906e);
    expect(~fcs32(data) >>> 0).toBe(0xcbf43926);
  });

  it("leaves the good FCS over data followed by its FCS", () => {
    const line = encodeHdlcFrame(hex("ff03c021"), { accm: 0 });
    const unstuffed = line.subarray(1, line.length - 1);
    expect(fcs16(unstuffed)).toBe(GOOD_FCS16);
    const line32 = encodeHdlcFrame(hex("ff03c021"), { accm: 0, fcs: 32 });
    expect(fcs32(line32.subarray(1, line32.length - 1))).toBe(GOOD_FCS32);
  });
});

describe("octet stuffing (RFC 1662 §4.2)", () => {
  it("escapes Flag, Control Escape and the ACCM's control characters", () => {
    const content = hex("ff03 c021 7e7d 0111 20");
    const all = encodeHdlcFrame(content);
    expect(all.subarray(0, 15).toString("hex")).toBe("7e" + "ff" + "7d23" + "c021" + "7d5e" + "7d5d" + "7d21" + "7d31" + "20");
    // ACCM with only XON/XOFF (0x11, 0x13): 0x01 goes unescaped.
    const xonXoff = encodeHdlcFrame(content, { accm: 0x000a0000 });
    expect(xonXoff.subarray(0, 13).toString("hex")).toBe("7e" + "ff03c021" + "7d5e7d5d" + "01" + "7d31" + "20");
    expect(decodeHdlcFrame(xonXoff, { accm: 0x000a0000 })).toEqual(content);
  });

  it("drops received control characters flagged in the ACCM (inserted on the line)", () => {
    const line = encodeHdlcFrame(hex("ff03c0210102"));
    const noisy = Buffer.concat([line.subarray(0, 3), hex("11 13"), line.subarray(3)]);
    expect(decodeHdlcFrame(noisy)).toEqual(hex("ff03c0210102"));
  });
});

describe("HdlcDeframer", () => {
  it("finds frames between shared and doubled Flags, byte by byte", () => {
    const a = encodeHdlcFrame(hex("ff03c02101010004"));
    const b = encodeHdlcFrame(hex("ff03802101"));
    const stream = Buffer.concat([hex("7e7e"), a, b.subarray(1), hex("7e")]); // b shares a's closing Flag
    const deframer = new HdlcDeframer();
    const out: HdlcDeframed[] = [];
    for (const octet of stream) out.push(...deframer.push(Buffer.from([octet])));
    expect(frames(out)).toEqual(["ff03c02101010004", "ff03802101"]);
    expect(errors(out)).toEqual([]);
  });

  it("reports a bad FCS once and keeps going", () => {
    const bad = encodeHdlcFrame(hex("ff03c021010100"));
    bad[4] = (bad[4] ?? 0) ^ 0x40;
    const good = encodeHdlcFrame(hex("ff03c0210909"));
    const out = new HdlcDeframer().push(Buffer.concat([bad, good]));
    expect(errors(out)).toEqual(["bad-fcs"]);
    expect(frames(out)).toEqual(["ff03c0210909"]);
  });

  it("reports an aborted frame (Control Escape, Flag)", () => {
    const out = new HdlcDeframer().push(hex("7e ff03c021 7d 7e"));
    expect(errors(out)).toEqual(["aborted"]);
    expect(frames(out)).toEqual([]);
  });

  it("holds at most maxFrameBytes: a longer frame is reported once and skipped to the next Flag", () => {
    const deframer = new HdlcDeframer({ maxFrameBytes: 64 });
    const out = [...deframer.push(hex("7e")), ...deframer.push(Buffer.alloc(10_000, 0x41))];
    expect(errors(out)).toEqual(["frame-too-large"]);
    expect(deframer.pendingBytes).toBe(0);
    const after = deframer.push(encodeHdlcFrame(hex("ff03c021")));
    expect(frames(after)).toEqual(["ff03c021"]);
  });

  it("reports a frame shorter than its FCS", () => {
    expect(errors(new HdlcDeframer().push(hex("7e 41 42 7e")))).toEqual(["truncated"]);
  });
});

describe("decodeHdlcFrame", () => {
  it("throws typed errors: Flag inside, no frame, bad FCS", () => {
    const a = encodeHdlcFrame(hex("ff03c021"));
    expect(thrownBy(PppoeDecodeError, () => decodeHdlcFrame(Buffer.concat([a, a]))).code).toBe("bad-escape");
    expect(thrownBy(PppoeDecodeError, () => decodeHdlcFrame(hex("7e7e"))).code).toBe("truncated");
    expect(thrownBy(PppoeDecodeError, () => decodeHdlcFrame(a, { fcs: 32 })).code).toBe("bad-fcs");
  });
});
