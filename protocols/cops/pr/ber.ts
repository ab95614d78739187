// The BER (X.690) subset COPS-PR needs (RFC 3084 §4.1–§4.3): OBJECT IDENTIFIER for PRIDs, and the
// SPPI value types of EPD attributes (RFC 3159: INTEGER, OCTET STRING, OID, IpAddress, Unsigned32,
// TimeTicks, Integer64, Unsigned64, NULL).
import { CopsDecodeError } from "../cops-decode-error.js";

export type BerValue =
  | { type: "null" }
  | { type: "integer"; value: number }
  | { type: "octets"; value: Buffer }
  | { type: "oid"; value: string }
  | { type: "ip-address"; value: string }
  | { type: "unsigned32"; value: number }
  | { type: "timeticks"; value: number }
  | { type: "integer64"; value: bigint }
  | { type: "unsigned64"; value: bigint };

/** Tag octets: universal 0x02/0x04/0x05/0x06, SPPI application types [APPLICATION n] primitive. */
export const BerTag = {
  integer: 0x02,
  octets: 0x04,
  null: 0x05,
  oid: 0x06,
  "ip-address": 0x40,
  unsigned32: 0x42,
  timeticks: 0x43,
  integer64: 0x4a,
  unsigned64: 0x4b,
} as const;

const TYPE_BY_TAG = new Map<number, BerValue["type"]>(Object.entries(BerTag).map(([k, v]) => [v, k as BerValue["type"]]));

function lengthOctets(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  if (length <= 0xff) return Buffer.from([0x81, length]);
  if (length <= 0xffff) return Buffer.from([0x82, length >> 8, length & 0xff]);
  return Buffer.from([0x83, (length >> 16) & 0xff, (length >> 8) & 0xff, length & 0xff]);
}

function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), lengthOctets(content.length), content]);
}

/** Minimal two's complement content octets of a signed integer. */
function signedContent(value: bigint): Buffer {
  const bytes: number[] = [];
  let v = value;
  for (;;) {
    const byte = Number(v & 0xffn);
    bytes.unshift(byte);
    v >>= 8n;
    if ((v === 0n && (byte & 0x80) === 0) || (v === -1n && (byte & 0x80) !== 0)) break;
  }
  return Buffer.from(bytes);
}

function readSigned(content: Buffer): bigint {
  let v = 0n;
  for (const b of content) v = (v << 8n) | BigInt(b);
  if (content.length > 0 && ((content[0] ?? 0) & 0x80) !== 0) v -= 1n << BigInt(content.length * 8);
  return v;
}

export function encodeOidContent(oid: string): Buffer {
  const arcs = oid.split(".").map((a) => {
    if (!/^\d+$/.test(a)) throw new RangeError(`bad OID arc in ${oid}`);
    return BigInt(a);
  });
  const [a0, a1] = arcs;
  if (a0 === undefined || a1 === undefined || a0 > 2n || (a0 < 2n && a1 > 39n)) throw new RangeError(`bad OID ${oid}`);
  const out: number[] = [];
  const push = (arc: bigint): void => {
    const group: number[] = [Number(arc & 0x7fn)];
    for (let v = arc >> 7n; v > 0n; v >>= 7n) group.unshift(Number(v & 0x7fn) | 0x80);
    out.push(...group);
  };
  push(a0 * 40n + a1);
  for (const arc of arcs.slice(2)) push(arc);
  return Buffer.from(out);
}

export function decodeOidContent(content: Buffer, offset: number): string {
  if (content.length === 0) throw new CopsDecodeError("bad-ber", offset, "empty OBJECT IDENTIFIER");
  const arcs: bigint[] = [];
  let v = 0n;
  let started = false;
  for (let i = 0; i < content.length; i++) {
    const b = content[i] ?? 0;
    if (!started && b === 0x80) throw new CopsDecodeError("bad-ber", offset + i, "OID sub-identifier with a leading 0x80");
    started = true;
    v = (v << 7n) | BigInt(b & 0x7f);
    if ((b & 0x80) === 0) {
      arcs.push(v);
      v = 0n;
      started = false;
    } else if (i === content.length - 1) {
      throw new CopsDecodeError("bad-ber", offset + i, "OID ends inside a sub-identifier");
    }
  }
  const first = arcs[0] ?? 0n;
  const head = first < 80n ? [first / 40n, first % 40n] : [2n, first - 80n];
  return [...head, ...arcs.slice(1)].map(String).join(".");
}

export function encodeBerOid(oid: string): Buffer {
  return tlv(BerTag.oid, encodeOidContent(oid));
}

export function encodeBerValue(v: BerValue): Buffer {
  switch (v.type) {
    case "null":
      return tlv(BerTag.null, Buffer.alloc(0));
    case "integer":
      return tlv(BerTag.integer, signedContent(BigInt(v.value)));
    case "octets":
      return tlv(BerTag.octets, v.value);
    case "oid":
      return encodeBerOid(v.value);
    case "ip-address": {
      const parts = v.value.split(".").map(Number);
      if (parts.length !== 4 || parts.some((p) => !(p >= 0 && p <= 255))) throw new RangeError(`bad IpAddress ${v.value}`);
      return tlv(BerTag["ip-address"], Buffer.from(parts));
    }
    case "unsigned32":
    case "timeticks":
      return tlv(BerTag[v.type], signedContent(BigInt(v.value >>> 0)));
    case "integer64":
      return tlv(BerTag.integer64, signedContent(v.value));
    case "unsigned64":
      return tlv(BerTag.unsigned64, signedContent(BigInt.asUintN(64, v.value)));
  }
}

/** Reads one BER TLV at `offset` (definite lengths only); returns value and next offset. */
export function decodeBerValue(buf: Buffer, offset: number, end: number): { value: BerValue; next: number } {
  if (end - offset < 2) throw new CopsDecodeError("bad-ber", offset, "BER element truncated");
  const tag = buf[offset] ?? 0;
  let lenByte = buf[offset + 1] ?? 0;
  let pos = offset + 2;
  let length = lenByte;
  if (lenByte & 0x80) {
    const n = lenByte & 0x7f;
    if (n === 0 || n > 3) throw new CopsDecodeError("bad-ber", offset + 1, "indefinite or oversized BER length");
    if (end - pos < n) throw new CopsDecodeError("bad-ber", offset + 1, "BER length octets truncated");
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + (buf[pos + i] ?? 0);
    pos += n;
    lenByte = 0;
  }
  if (length > end - pos) throw new CopsDecodeError("bad-ber", offset, `BER length ${length} runs past its container`);
  const content = buf.subarray(pos, pos + length);
  const next = pos + length;
  const type = TYPE_BY_TAG.get(tag);
  if (type === undefined) throw new CopsDecodeError("bad-ber", offset, `unsupported BER tag 0x${tag.toString(16)}`);
  const intLike = (max: number): bigint => {
    if (length === 0 || length > max) throw new CopsDecodeError("bad-ber", offset, `${type} of ${length} octets`);
    return readSigned(content);
  };
  switch (type) {
    case "null":
      if (length !== 0) throw new CopsDecodeError("bad-ber", offset, "NULL with content");
      return { value: { type }, next };
    case "integer": {
      const v = intLike(4);
      return { value: { type, value: Number(v) }, next };
    }
    case "octets":
      return { value: { type, value: Buffer.from(content) }, next };
    case "oid":
      return { value: { type, value: decodeOidContent(content, pos) }, next };
    case "ip-address":
      if (length !== 4) throw new CopsDecodeError("bad-ber", offset, "IpAddress must be 4 octets");
      return { value: { type, value: [...content].join(".") }, next };
    case "unsigned32":
    case "timeticks": {
      const v = BigInt.asUintN(32, intLike(5));
      return { value: { type, value: Number(v) }, next };
    }
    case "integer64":
      return { value: { type, value: BigInt.asIntN(64, intLike(8)) }, next };
    case "unsigned64":
      return { value: { type, value: BigInt.asUintN(64, intLike(9)) }, next };
  }
}
