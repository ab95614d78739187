import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  CopsDecodeError,
  decodeCopsMessage,
  encodeCopsMessage,
  labelCopsMessage,
  peekCopsHandle,
  type CopsMessage,
} from "../../../protocols/cops/index.js";
import { thrownBy } from "../../support/thrown.js";

const vectorsPath = join(process.cwd(), "..", "shared", "corpora", "cops", "vectors.txt");

function loadVectors(): { name: string; bytes: Buffer }[] {
  return readFileSync(vectorsPath, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "" && !l.startsWith("#"))
    .map((l) => {
      const [name, ...hex] = l.trim().split(/\s+/);
      return { name: name ?? "", bytes: Buffer.from(hex.join(""), "hex") };
    });
}

function decodeError(bytes: Buffer): CopsDecodeError {
  return thrownBy(CopsDecodeError, () => decodeCopsMessage(bytes));
}

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ""), "hex");

describe("golden vectors (../shared/corpora/cops/vectors.txt)", () => {
  const vectors = loadVectors();
  it("holds the eight messages", () => {
    expect(vectors.map((v) => v.name)).toEqual(["OPN", "CAT", "KA", "REQ", "DEC", "RPT", "DRQ", "CC"]);
  });
  for (const v of vectors) {
    it(`${v.name} decodes and re-encodes byte for byte`, () => {
      const msg = decodeCopsMessage(v.bytes);
      expect(msg.op).toBe(v.name);
      expect(encodeCopsMessage(msg).equals(v.bytes)).toBe(true);
    });
  }
  it("decodes the fields tshark shows", () => {
    const byName = Object.fromEntries(vectors.map((v) => [v.name, decodeCopsMessage(v.bytes)])) as Record<string, CopsMessage>;
    expect(byName.OPN).toMatchObject({ op: "OPN", clientType: 0x800a, pepId: "pep-1" });
    expect(byName.CAT).toMatchObject({ kaTimerSeconds: 30, acctTimerSeconds: 15 });
    expect(byName.REQ).toMatchObject({ clientType: 0x8008, handle: Buffer.from([0, 0, 0, 42]), context: { rType: 1, mType: 0 } });
    expect(byName.DEC).toMatchObject({ solicited: true, decisions: [{ context: { rType: 1, mType: 0 }, command: 1, flags: 0 }] });
    expect(byName.RPT).toMatchObject({ solicited: true, reportType: 1 });
    expect(byName.DRQ).toMatchObject({ reason: { code: 4, subCode: 0 } });
    expect(byName.CC).toMatchObject({ error: { code: 11, subCode: 0 } });
    expect(labelCopsMessage(byName.DEC as CopsMessage)).toBe("DEC Install");
    expect(labelCopsMessage(byName.RPT as CopsMessage)).toBe("RPT Success");
  });
});

describe("every object of RFC 2748 §2.2", () => {
  const full: CopsMessage[] = [
    {
      op: "REQ",
      clientType: 1,
      solicited: false,
      handle: Buffer.from("abcde"),
      context: { rType: 0x02, mType: 7 },
      inInterface: { family: 4, address: "192.0.2.1", ifIndex: 3 },
      outInterface: { family: 6, address: "2001:db8::1", ifIndex: 4 },
      clientSi: [
        { cType: 1, data: Buffer.from([1, 2, 3]) },
        { cType: 2, data: Buffer.from([9]) },
      ],
      lpdpDecisions: [
        { context: { rType: 1, mType: 0 }, command: 1, flags: 1, stateless: Buffer.from([1]), replacement: Buffer.from([2, 2]), clientSi: Buffer.from([3, 3, 3]), named: Buffer.from([4, 4, 4, 4]) },
        { command: 2, flags: 0 },
      ],
    },
    { op: "DEC", clientType: 1, solicited: true, handle: Buffer.from([1]), decisions: [], error: { code: 13, subCode: 0x1101 } },
    { op: "RPT", clientType: 2, solicited: false, handle: Buffer.from([1]), reportType: 3, clientSi: { cType: 2, data: Buffer.from([5, 5]) } },
    { op: "SSQ", clientType: 2, solicited: false, handle: Buffer.from([1, 2]) },
    { op: "SSC", clientType: 2, solicited: false },
    { op: "OPN", clientType: 2, solicited: false, pepId: "router-1", clientSi: { cType: 2, data: Buffer.alloc(4) }, lastPdpAddress: { family: 6, address: "2001:db8::a", port: 3288 } },
    { op: "CC", clientType: 2, solicited: false, error: { code: 12, subCode: 0 }, redirect: { family: 4, address: "192.0.2.9", port: 3288 } },
    { op: "KA", clientType: 0, solicited: false, integrity: { kind: "integrity", cType: 1, keyId: 7, sequence: 0xffffffff, digest: Buffer.alloc(12, 0xab) } },
    { op: "CAT", clientType: 2, solicited: false, kaTimerSeconds: 0, integrity: { kind: "integrity", cType: 2, flags: 1 } },
  ];
  for (const msg of full) {
    it(`${msg.op} with all its optional objects round-trips`, () => {
      const bytes = encodeCopsMessage(msg);
      expect(bytes.length % 4).toBe(0);
      expect(bytes.readUInt32BE(4)).toBe(bytes.length);
      expect(decodeCopsMessage(bytes)).toEqual(msg);
    });
  }
  it("pads objects to 32 bits but keeps the unpadded length in the object header (§2.2)", () => {
    const bytes = encodeCopsMessage({ op: "SSQ", clientType: 1, solicited: false, handle: Buffer.from([0xaa, 0xbb, 0xcc]) });
    expect(bytes.toString("hex")).toBe("10050001" + "00000010" + "0007" + "0101" + "aabbcc00");
  });
  it("encodes a PEPID NUL-terminated and zero-padded (§2.2.11)", () => {
    const bytes = encodeCopsMessage({ op: "OPN", clientType: 2, pepId: "abcd" });
    expect(bytes.subarray(8).toString("hex")).toBe("000c0b01" + "61626364" + "00000000");
  });
  it("encodes interface and address objects as §2.2.3/§2.2.13 lay them out", () => {
    const req = encodeCopsMessage({
      op: "REQ",
      clientType: 1,
      handle: Buffer.from([0, 0, 0, 1]),
      context: { rType: 1, mType: 0 },
      inInterface: { family: 4, address: "192.0.2.1", ifIndex: 0x01020304 },
      clientSi: [],
      lpdpDecisions: [],
    });
    expect(req.subarray(24).toString("hex")).toBe("000c0301" + "c0000201" + "01020304");
    const cc = encodeCopsMessage({ op: "CC", clientType: 1, error: { code: 12, subCode: 0 }, redirect: { family: 4, address: "192.0.2.2", port: 3288 } });
    expect(cc.subarray(16).toString("hex")).toBe("000c0d01" + "c0000202" + "00000cd8");
  });
});

describe("malformed messages get the RFC's error", () => {
  it("unknown C-Num → Error 13 with C-Num/C-Type as sub-code (§2.2.8)", () => {
    const bytes = hex("10 01 00 01 00000018 00080101 0000002a 00082a07 00000000");
    const err = decodeError(bytes);
    expect(err.code).toBe("unknown-object");
    expect(err.offset).toBe(16);
    expect(err.cNum).toBe(42);
    expect(err.cType).toBe(7);
    expect(err.copsErrorCode).toEqual({ code: 13, subCode: 0x2a07 });
    expect(peekCopsHandle(bytes)).toEqual(Buffer.from([0, 0, 0, 42]));
  });
  it("unknown C-Type of a known C-Num → Error 13", () => {
    const err = decodeError(hex("10 01 00 01 00000018 00080101 0000002a 00080209 00010000"));
    expect(err.copsErrorCode).toEqual({ code: 13, subCode: 0x0209 });
  });
  it("REQ without Context → Error 7 (mandatory object missing)", () => {
    const err = decodeError(hex("10 01 00 01 00000010 00080101 0000002a"));
    expect(err.code).toBe("missing-object");
    expect(err.copsErrorCode.code).toBe(7);
  });
  it("objects out of order → Error 3", () => {
    const err = decodeError(hex("10 01 00 01 00000018 00080201 00010000 00080101 0000002a"));
    expect(err.code).toBe("unexpected-object");
    expect(err.copsErrorCode.code).toBe(3);
  });
  it("a second Context in a REQ opens an LPDP decision whose Flags are missing → Error 7", () => {
    const err = decodeError(hex("10 01 00 01 00000020 00080101 0000002a 00080201 00010000 00080201 00010000"));
    expect(err.copsErrorCode.code).toBe(7);
    expect(err.offset).toBe(32);
  });
  it("a KA Timer inside a REQ → Error 3", () => {
    const err = decodeError(hex("10 01 00 01 00000020 00080101 0000002a 00080201 00010000 00080a01 0000001e"));
    expect(err.code).toBe("unexpected-object");
    expect(err.copsErrorCode.code).toBe(3);
    expect(err.cNum).toBe(10);
  });
  it("Integrity not last → Error 3 (§2.2.16)", () => {
    const err = decodeError(hex("10 05 00 01 00000028 00181001 00000001 00000002" + "00".repeat(12) + "00080101 0000002a"));
    expect(err.code).toBe("unexpected-object");
    expect(err.offset).toBe(32);
    expect(err.copsErrorCode.code).toBe(3);
  });
  it("DEC with neither decision nor error → Error 7", () => {
    const err = decodeError(hex("10 02 00 01 00000010 00080101 0000002a"));
    expect(err.copsErrorCode.code).toBe(7);
  });
  it("DEC with a Context but no Decision Flags → Error 7", () => {
    const err = decodeError(hex("10 02 00 01 00000018 00080101 0000002a 00080201 00010000"));
    expect(err.copsErrorCode.code).toBe(7);
  });
  it("object length running past the message → bad-object-length", () => {
    const err = decodeError(hex("10 04 00 01 00000010 00100101 0000002a"));
    expect(err.code).toBe("bad-object-length");
    expect(err.offset).toBe(8);
  });
  it("object length shorter than its header", () => {
    expect(decodeError(hex("10 04 00 01 00000010 00020101 0000002a")).code).toBe("bad-object-length");
  });
  it("header length disagreeing with the buffer, not a multiple of 4, or a bad version", () => {
    expect(decodeError(hex("10 09 00 00 00000010")).code).toBe("truncated");
    expect(decodeError(hex("10 09 00 00 00000009 00")).code).toBe("bad-length");
    expect(decodeError(hex("20 09 00 00 00000008")).code).toBe("bad-version");
    expect(decodeError(hex("10 0b 00 00 00000008")).code).toBe("bad-op-code");
    expect(decodeError(hex("12 09 00 00 00000008")).code).toBe("bad-header");
    expect(decodeError(hex("10 09 00")).code).toBe("truncated");
  });
  it("a fixed-size object with the wrong size", () => {
    const err = decodeError(hex("10 07 00 01 00000010 00060a01 00000000"));
    expect(err.code).toBe("bad-object-length");
    expect(err.cNum).toBe(10);
  });
  it("PEPID without NUL", () => {
    expect(decodeError(hex("10 06 00 01 00000010 00080b01 61626364")).code).toBe("bad-object");
  });
  it("error messages are fit for a log line", () => {
    const err = decodeError(hex("10 01 00 01 00000018 00080101 0000002a 00082a07 00000000"));
    expect(err.message).toBe("COPS unknown-object at offset 16: unknown object C-Num 42 C-Type 7");
  });
});
