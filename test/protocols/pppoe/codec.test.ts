import { describe, expect, it } from "vitest";
import {
  PppoeDecodeError,
  decodePppoeFrame,
  decodePppoePacket,
  encodePppoeFrame,
  findTag,
} from "../../../protocols/pppoe/index.js";
import type { PppoeDecodeErrorCode } from "../../../protocols/pppoe/index.js";
import { thrownBy } from "../../support/thrown.js";

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ""), "hex");
// A PADI rp-pppoe 3.15 sent on a veth (Service-Name "" only), padded to 60 octets.
const RP_PPPOE_PADI = hex("ffffffffffff 2a0f12010969 8863 1109 0000 0004 0101 0000").length;
const padi = Buffer.alloc(60);
hex("ffffffffffff 2a0f12010969 8863 1109 0000 0004 0101 0000").copy(padi);

function codeOf(bytes: Buffer): PppoeDecodeErrorCode {
  return thrownBy(PppoeDecodeError, () => decodePppoeFrame(bytes)).code;
}

describe("PPPoE frames (RFC 2516)", () => {
  it("decodes rp-pppoe's PADI and ignores the Ethernet padding", () => {
    expect(RP_PPPOE_PADI).toBe(24);
    expect(decodePppoeFrame(padi)).toEqual({
      destination: "ff:ff:ff:ff:ff:ff",
      source: "2a:0f:12:01:09:69",
      packet: { kind: "discovery", code: "PADI", sessionId: 0, tags: [{ type: "service-name", name: "" }] },
    });
  });

  it("encodes a PADS byte for byte: header, SESSION_ID, LENGTH, tags, padding", () => {
    const bytes = encodePppoeFrame({
      destination: "2a:0f:12:01:09:69",
      source: "02:00:00:00:00:01",
      packet: { kind: "discovery", code: "PADS", sessionId: 0x1234, tags: [{ type: "service-name", name: "isp" }, { type: "host-uniq", value: hex("abcd") }] },
    });
    expect(bytes.toString("hex")).toBe(
      "2a0f12010969" + "020000000001" + "8863" + "11" + "65" + "1234" + "000d" + "0101000369737" + "0" + "01030002abcd" + "00".repeat(60 - 33),
    );
  });

  it("encodes a session frame with Ethertype 0x8864 and CODE 0", () => {
    const bytes = encodePppoeFrame({
      destination: "02:00:00:00:00:02",
      source: "02:00:00:00:00:01",
      packet: { kind: "session", sessionId: 7, payload: hex("c021 0101 0004") },
    });
    expect(bytes.subarray(12, 26).toString("hex")).toBe("8864" + "11" + "00" + "0007" + "0006" + "c02101010004");
  });

  it("keeps unknown tags, stops at End-Of-List and reads vendor ids", () => {
    const payload = hex("0101 0000" + "0105 0006 00000de9 beef" + "7777 0001 aa" + "0000 0000" + "0102 0001 41");
    const packet = decodePppoePacket(Buffer.concat([hex("1109 0000"), Buffer.from([0, payload.length]), payload]), 0x8863);
    expect(packet).toEqual({
      kind: "discovery",
      code: "PADI",
      sessionId: 0,
      tags: [
        { type: "service-name", name: "" },
        { type: "vendor-specific", vendorId: 3561, value: hex("beef") },
        { type: "unknown", tagType: 0x7777, value: hex("aa") },
        { type: "end-of-list" },
      ],
    });
    expect(packet.kind === "discovery" && findTag(packet.tags, "ac-name")).toBe(undefined);
  });

  const frame = (ethertype: string, header: string, tags: string, dst = "020000000002") => {
    const body = hex(tags);
    const h = hex(header);
    h.writeUInt16BE(body.length, 4);
    return Buffer.concat([hex(dst + "020000000001" + ethertype), h, body]);
  };

  it.each<[string, Buffer, PppoeDecodeErrorCode, number]>([
    ["short Ethernet header", hex("ffffffffffff0200"), "truncated", 8],
    ["IPv4 Ethertype", frame("0800", "1109 0000 0000", "0101 0000"), "bad-ethertype", 14],
    ["VER/TYPE 2/1", frame("8863", "2109 0000 0000", "0101 0000", "ffffffffffff"), "bad-version-type", 14],
    ["unknown CODE", frame("8863", "1142 0000 0000", ""), "bad-code", 15],
    ["CODE 0 on the Discovery Ethertype", frame("8863", "1100 0001 0000", ""), "bad-code", 15],
    ["PADI CODE on the Session Ethertype", frame("8864", "1109 0001 0000", ""), "bad-code", 15],
    ["LENGTH past the frame", Buffer.concat([hex("ffffffffffff0200000000018863"), hex("1109 0000 0010 0101 0000")]), "bad-length", 18],
    ["LENGTH over 1494", Buffer.concat([hex("ffffffffffff0200000000018863"), hex("1109 0000 05d7")]), "frame-too-large", 18],
    ["tag length past LENGTH", frame("8863", "1109 0000 0000", "0101 0009 41", "ffffffffffff"), "bad-tag-length", 22],
    ["half a tag header", frame("8863", "1109 0000 0000", "0101 0000 01", "ffffffffffff"), "bad-tag-length", 24],
    ["End-Of-List with a value", frame("8863", "1109 0000 0000", "0101 0000 0000 0001 00", "ffffffffffff"), "bad-tag-length", 26],
    ["Service-Name not UTF-8", frame("8863", "1109 0000 0000", "0101 0002 c328", "ffffffffffff"), "bad-tag", 24],
    ["Vendor-Specific without vendor id", frame("8863", "1109 0000 0000", "0101 0000 0105 0002 0000", "ffffffffffff"), "bad-tag", 28],
    ["Vendor-Specific high octet set", frame("8863", "1109 0000 0000", "0101 0000 0105 0004 01000000", "ffffffffffff"), "bad-tag", 28],
    ["PADI without Service-Name", frame("8863", "1109 0000 0000", "0103 0001 aa", "ffffffffffff"), "missing-tag", 20],
    ["PADI with two Service-Names", frame("8863", "1109 0000 0000", "0101 0000 0101 0000", "ffffffffffff"), "missing-tag", 20],
    ["PADI not broadcast", frame("8863", "1109 0000 0000", "0101 0000"), "bad-mac", 0],
    ["PADO without AC-Name", frame("8863", "1107 0000 0000", "0101 0000"), "missing-tag", 20],
    ["PADO without Service-Name", frame("8863", "1107 0000 0000", "0102 0001 41"), "missing-tag", 20],
    ["PADR with a SESSION_ID", frame("8863", "1119 0005 0000", "0101 0000"), "bad-session-id", 16],
    ["PADS with SESSION_ID 0 and no error", frame("8863", "1165 0000 0000", "0101 0000"), "bad-session-id", 16],
    ["PADT with SESSION_ID 0", frame("8863", "11a7 0000 0000", ""), "bad-session-id", 16],
    ["reserved SESSION_ID 0xffff", frame("8864", "1100 ffff 0000", "c021"), "bad-session-id", 16],
    ["session frame with SESSION_ID 0", frame("8864", "1100 0000 0000", "c021"), "bad-session-id", 16],
    ["session frame to broadcast", frame("8864", "1100 0001 0000", "c021", "ffffffffffff"), "bad-mac", 0],
  ])("refuses %s with a typed error", (_name, bytes, code, offset) => {
    const err = thrownBy(PppoeDecodeError, () => decodePppoeFrame(bytes));
    expect(err.code).toBe(code);
    expect(err.offset).toBe(offset);
    expect(err.message).toMatch(new RegExp(`^PPPoE ${code} at offset ${offset}: `));
  });

  it("refuses a group source address", () => {
    const bytes = encodePppoeFrame({ destination: "02:00:00:00:00:02", source: "02:00:00:00:00:01", packet: { kind: "session", sessionId: 1, payload: hex("c021") } });
    bytes[6] = 0x03;
    expect(codeOf(bytes)).toBe("bad-mac");
  });

  it("refuses a PADI longer than 1484 octets (RFC 2516 §5.1)", () => {
    const tags = [{ type: "service-name" as const, name: "" }, { type: "host-uniq" as const, value: Buffer.alloc(1460) }];
    const bytes = encodePppoeFrame({ destination: "ff:ff:ff:ff:ff:ff", source: "02:00:00:00:00:01", packet: { kind: "discovery", code: "PADI", sessionId: 0, tags } });
    expect(codeOf(bytes)).toBe("frame-too-large");
  });

  it("will not encode a model no peer may receive", () => {
    const source = "02:00:00:00:00:01";
    expect(() => encodePppoeFrame({ destination: "nope", source, packet: { kind: "session", sessionId: 1, payload: Buffer.alloc(0) } })).toThrow(RangeError);
    expect(() => encodePppoeFrame({ destination: source, source, packet: { kind: "session", sessionId: 1, payload: Buffer.alloc(1495) } })).toThrow(RangeError);
  });
});
