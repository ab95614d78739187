// The BER (X.690) subset COPS-PR needs (RFC 3084 §4.1–§4.3): OBJECT IDENTIFIER for PRIDs, and the
// SPPI value types of EPD attributes (RFC 3159: INTEGER, OCTET STRING, OID, IpAddress, Unsigned32,
// TimeTicks, Integer64, Unsigned64, NULL).
import { CopsDecodeError } from "../cops-decode-error.js";

/** A BER value COPS-PR uses: integer, unsigned, octet string, object identifier, null. */
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

const TYPE_BY_TAG: (BerValue["type"] | undefined)[] = [];
for (const [k, v] of Object.entries(BerTag)) TYPE_BY_TAG[v] = k as BerValue["type"];

/** Octets of the definite length field for `length` content octets (X.690 §8.1.3). */
function lengthOfLength(length: number): number {
  return length < 0x80 ? 1 : length <= 0xff ? 2 : length <= 0xffff ? 3 : 4;
}

function writeLength(length: number, buf: Buffer, offset: number): number {
  if (length < 0x80) {
    buf[offset] = length;
    return offset + 1;
  }
  if (length <= 0xff) {
    buf[offset] = 0x81;
    buf[offset + 1] = length;
    return offset + 2;
  }
  if (length <= 0xffff) {
    buf[offset] = 0x82;
    buf[offset + 1] = length >> 8;
    buf[offset + 2] = length & 0xff;
    return offset + 3;
  }
  buf[offset] = 0x83;
  buf[offset + 1] = (length >> 16) & 0xff;
  buf[offset + 2] = (length >> 8) & 0xff;
  buf[offset + 3] = length & 0xff;
  return offset + 4;
}

function tlv(tag: number, content: Buffer): Buffer {
  const out = Buffer.allocUnsafe(1 + lengthOfLength(content.length) + content.length);
  out[0] = tag;
  content.copy(out, writeLength(content.length, out, 1));
  return out;
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

/** Content octets of a signed 32-bit integer in minimal two's complement (X.690 §8.3.2). */
function int32ContentLength(v: number): number {
  if (v >= -0x80 && v < 0x80) return 1;
  if (v >= -0x8000 && v < 0x8000) return 2;
  if (v >= -0x800000 && v < 0x800000) return 3;
  return 4;
}

/** Content octets of an unsigned 32-bit value (a leading 0x00 keeps it non-negative). */
function uint32ContentLength(v: number): number {
  return v < 0x80 ? 1 : v < 0x8000 ? 2 : v < 0x800000 ? 3 : v < 0x80000000 ? 4 : 5;
}

/** Writes the low `n` octets of `v` big-endian (n ≤ 5; a fifth octet is the sign/zero octet). */
function writeIntOctets(v: number, n: number, buf: Buffer, offset: number): void {
  for (let i = n - 1; i >= 0; i--) {
    buf[offset + i] = i === n - 5 ? 0 : v & 0xff;
    v = v >> 8;
  }
}

/** Octets of the TLV of an unsigned 32-bit value (Unsigned32, TimeTicks). */
export function berUnsignedLength(u: number): number {
  return 2 + uint32ContentLength(u >>> 0);
}

/** Writes the TLV of an unsigned 32-bit value under `tag`; returns the offset after it. */
export function writeBerUnsigned(tag: number, u: number, buf: Buffer, offset: number): number {
  const v = u >>> 0;
  const n = uint32ContentLength(v);
  buf[offset] = tag;
  buf[offset + 1] = n;
  writeIntOctets(v, n, buf, offset + 2);
  return offset + 2 + n;
}

/** Value of a short-form Unsigned32 TLV (tag 0x42) at `offset` ending by `end`, or -1 when it is anything else. */
export function peekBerUnsigned(buf: Buffer, offset: number, end: number): number {
  if (end - offset < 3 || buf[offset] !== BerTag.unsigned32) return -1;
  const n = buf[offset + 1] ?? 0;
  if (n === 0 || n > 5 || offset + 2 + n > end) return -1;
  return n === 5 ? buf.readUInt32BE(offset + 3) : readInt32(buf, offset + 2, n) >>> 0;
}

/** Value of a short-form INTEGER TLV of 1–4 octets at `offset`, or undefined when it is anything else. */
export function peekBerInteger(buf: Buffer, offset: number, end: number): number | undefined {
  if (end - offset < 3 || buf[offset] !== BerTag.integer) return undefined;
  const n = buf[offset + 1] ?? 0;
  if (n === 0 || n > 4 || offset + 2 + n > end) return undefined;
  return readInt32(buf, offset + 2, n);
}

function readSigned(content: Buffer): bigint {
  let v = 0n;
  for (const b of content) v = (v << 8n) | BigInt(b);
  if (content.length > 0 && ((content[0] ?? 0) & 0x80) !== 0) v -= 1n << BigInt(content.length * 8);
  return v;
}

/** Signed value of 1–4 content octets at `start`. */
function readInt32(buf: Buffer, start: number, length: number): number {
  let v = (buf[start] ?? 0) << 24 >> 24; // sign-extended first octet
  for (let i = 1; i < length; i++) v = v * 256 + (buf[start + i] ?? 0);
  return v;
}

function slowOidContent(oid: string): Buffer {
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

/** Encoded content of an OID without its last arc, by the text before the last dot (PRIDs share their class prefix). */
const OID_PREFIXES = new Map<string, Buffer>();

/** Value of a decimal arc of at most 15 digits, or -1 (anything else goes the BigInt way). */
function smallArc(oid: string, start: number): number {
  const n = oid.length - start;
  if (n < 1 || n > 15) return -1;
  let v = 0;
  for (let i = start; i < oid.length; i++) {
    const c = oid.charCodeAt(i) - 0x30;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

function arcLength(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 0x80);
    n++;
  }
  return n;
}

function writeArc(v: number, buf: Buffer, offset: number): number {
  const n = arcLength(v);
  for (let i = n - 1; i >= 0; i--) {
    buf[offset + i] = (v % 0x80) | (i === n - 1 ? 0 : 0x80);
    v = Math.floor(v / 0x80);
  }
  return offset + n;
}

/** Prefix content and last arc of `oid` when it has three or more arcs and a small last arc. */
function oidPrefix(oid: string): Buffer | undefined {
  const dot = oid.lastIndexOf(".");
  if (dot < 0 || oid.indexOf(".") === dot) return undefined;
  const last = smallArc(oid, dot + 1);
  if (last < 0) return undefined;
  const key = oid.slice(0, dot);
  let prefix = OID_PREFIXES.get(key);
  if (prefix === undefined) {
    const full = slowOidContent(oid); // throws the RangeError for a bad OID
    prefix = full.subarray(0, full.length - arcLength(last));
    if (OID_PREFIXES.size >= 256) OID_PREFIXES.clear();
    OID_PREFIXES.set(key, prefix);
  }
  return prefix;
}

function oidContentLength(oid: string): number {
  const prefix = oidPrefix(oid);
  if (prefix === undefined) return slowOidContent(oid).length;
  return prefix.length + arcLength(smallArc(oid, oid.lastIndexOf(".") + 1));
}

function writeOidContent(oid: string, buf: Buffer, offset: number): number {
  const prefix = oidPrefix(oid);
  if (prefix === undefined) {
    const content = slowOidContent(oid);
    return offset + content.copy(buf, offset);
  }
  prefix.copy(buf, offset);
  return writeArc(smallArc(oid, oid.lastIndexOf(".") + 1), buf, offset + prefix.length);
}

export function encodeOidContent(oid: string): Buffer {
  const out = Buffer.allocUnsafe(oidContentLength(oid));
  writeOidContent(oid, out, 0);
  return out;
}

function slowDecodeOid(content: Buffer): string {
  const arcs: bigint[] = [];
  let v = 0n;
  for (let i = 0; i < content.length; i++) {
    const b = content[i] ?? 0;
    v = (v << 7n) | BigInt(b & 0x7f);
    if ((b & 0x80) === 0) {
      arcs.push(v);
      v = 0n;
    }
  }
  const first = arcs[0] ?? 0n;
  const head = first < 80n ? [first / 40n, first % 40n] : [2n, first - 80n];
  return [...head, ...arcs.slice(1)].map(String).join(".");
}

export function decodeOidContent(content: Buffer, offset: number): string {
  if (content.length === 0) throw new CopsDecodeError("bad-ber", offset, "empty OBJECT IDENTIFIER");
  let text = "";
  let v = 0;
  let started = false;
  let big = false;
  let first = true;
  for (let i = 0; i < content.length; i++) {
    const b = content[i] ?? 0;
    if (!started && b === 0x80) throw new CopsDecodeError("bad-ber", offset + i, "OID sub-identifier with a leading 0x80");
    started = true;
    if (v >= 0x400000000000) big = true; // past 2^46: the arc needs BigInt
    v = v * 0x80 + (b & 0x7f);
    if ((b & 0x80) === 0) {
      if (first) text = v < 80 ? `${Math.floor(v / 40)}.${v % 40}` : `2.${v - 80}`;
      else text += `.${v}`;
      first = false;
      v = 0;
      started = false;
    } else if (i === content.length - 1) {
      throw new CopsDecodeError("bad-ber", offset + i, "OID ends inside a sub-identifier");
    }
  }
  return big ? slowDecodeOid(content) : text;
}

/** Encodes a dotted object identifier in BER. */
export function encodeBerOid(oid: string): Buffer {
  const n = oidContentLength(oid);
  const out = Buffer.allocUnsafe(1 + lengthOfLength(n) + n);
  out[0] = BerTag.oid;
  writeOidContent(oid, out, writeLength(n, out, 1));
  return out;
}

/** The TLV of the value types without a fast path (and of out-of-range numbers): built as before. */
function slowBerValue(v: BerValue): Buffer {
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

function isInt32(v: number): boolean {
  return (v | 0) === v;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** A 64-bit value as a Number when it is non-negative and exact as one (counters), else -1. */
function smallBig(v: BerValue): number {
  if (v.type !== "integer64" && v.type !== "unsigned64") return -1;
  return v.value >= 0n && v.value <= MAX_SAFE ? Number(v.value) : -1;
}

/** Minimal two's complement content octets of a non-negative safe integer (a leading 0x00 when the top bit is set). */
function nonNegativeLength(n: number): number {
  let k = 1;
  let limit = 0x80;
  while (n >= limit) {
    k++;
    limit *= 0x100;
  }
  return k;
}

function writeNonNegative(n: number, k: number, buf: Buffer, offset: number): void {
  for (let i = k - 1; i >= 0; i--) {
    buf[offset + i] = n % 0x100;
    n = Math.floor(n / 0x100);
  }
}

/** Octets of the whole TLV of `v`. */
export function berValueLength(v: BerValue): number {
  switch (v.type) {
    case "integer":
      if (isInt32(v.value)) return 2 + int32ContentLength(v.value);
      break;
    case "unsigned32":
    case "timeticks":
      return 2 + uint32ContentLength(v.value >>> 0);
    case "octets":
      return 1 + lengthOfLength(v.value.length) + v.value.length;
    case "oid": {
      const n = oidContentLength(v.value);
      return 1 + lengthOfLength(n) + n;
    }
    case "null":
      return 2;
    case "integer64":
    case "unsigned64": {
      const n = smallBig(v);
      if (n >= 0) return 2 + nonNegativeLength(n);
      break;
    }
    default:
      break;
  }
  return slowBerValue(v).length;
}

/** Writes the TLV of `v` at `offset`; returns the offset after it. */
export function writeBerValue(v: BerValue, buf: Buffer, offset: number): number {
  switch (v.type) {
    case "integer":
      if (isInt32(v.value)) {
        const n = int32ContentLength(v.value);
        buf[offset] = BerTag.integer;
        buf[offset + 1] = n;
        writeIntOctets(v.value, n, buf, offset + 2);
        return offset + 2 + n;
      }
      break;
    case "unsigned32":
    case "timeticks": {
      const u = v.value >>> 0;
      const n = uint32ContentLength(u);
      buf[offset] = BerTag[v.type];
      buf[offset + 1] = n;
      writeIntOctets(u, n, buf, offset + 2);
      return offset + 2 + n;
    }
    case "octets": {
      buf[offset] = BerTag.octets;
      const at = writeLength(v.value.length, buf, offset + 1);
      return at + v.value.copy(buf, at);
    }
    case "oid": {
      const n = oidContentLength(v.value);
      buf[offset] = BerTag.oid;
      return writeOidContent(v.value, buf, writeLength(n, buf, offset + 1));
    }
    case "null":
      buf[offset] = BerTag.null;
      buf[offset + 1] = 0;
      return offset + 2;
    case "integer64":
    case "unsigned64": {
      const n = smallBig(v);
      if (n < 0) break;
      const k = nonNegativeLength(n);
      buf[offset] = BerTag[v.type];
      buf[offset + 1] = k;
      writeNonNegative(n, k, buf, offset + 2);
      return offset + 2 + k;
    }
    default:
      break;
  }
  const slow = slowBerValue(v);
  return offset + slow.copy(buf, offset);
}

/** Encodes a value in BER, as COPS-PR's EPD carries it (RFC 3084 §4.3). */
export function encodeBerValue(v: BerValue): Buffer {
  const out = Buffer.allocUnsafe(berValueLength(v));
  writeBerValue(v, out, 0);
  return out;
}

/** Reads one BER TLV at `offset` (definite lengths only); returns value and next offset. */
export function decodeBerValue(buf: Buffer, offset: number, end: number): { value: BerValue; next: number } {
  if (end - offset < 2) throw new CopsDecodeError("bad-ber", offset, "BER element truncated");
  const tag = buf[offset] ?? 0;
  const lenByte = buf[offset + 1] ?? 0;
  let pos = offset + 2;
  let length = lenByte;
  if (lenByte & 0x80) {
    const n = lenByte & 0x7f;
    if (n === 0 || n > 3) throw new CopsDecodeError("bad-ber", offset + 1, "indefinite or oversized BER length");
    if (end - pos < n) throw new CopsDecodeError("bad-ber", offset + 1, "BER length octets truncated");
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + (buf[pos + i] ?? 0);
    pos += n;
  }
  if (length > end - pos) throw new CopsDecodeError("bad-ber", offset, `BER length ${length} runs past its container`);
  const next = pos + length;
  const type = TYPE_BY_TAG[tag];
  if (type === undefined) throw new CopsDecodeError("bad-ber", offset, `unsupported BER tag 0x${tag.toString(16)}`);
  switch (type) {
    case "null":
      if (length !== 0) throw new CopsDecodeError("bad-ber", offset, "NULL with content");
      return { value: { type }, next };
    case "integer":
      if (length === 0 || length > 4) throw new CopsDecodeError("bad-ber", offset, `${type} of ${length} octets`);
      return { value: { type, value: readInt32(buf, pos, length) }, next };
    case "octets":
      // A view into the message (no copy): callers keep what they need.
      return { value: { type, value: buf.subarray(pos, next) }, next };
    case "oid":
      return { value: { type, value: decodeOidContent(buf.subarray(pos, next), pos) }, next };
    case "ip-address":
      if (length !== 4) throw new CopsDecodeError("bad-ber", offset, "IpAddress must be 4 octets");
      return { value: { type, value: `${buf[pos]}.${buf[pos + 1]}.${buf[pos + 2]}.${buf[pos + 3]}` }, next };
    case "unsigned32":
    case "timeticks": {
      if (length === 0 || length > 5) throw new CopsDecodeError("bad-ber", offset, `${type} of ${length} octets`);
      // Low 32 bits of the two's complement value (BigInt.asUintN(32, …)).
      const v = length === 5 ? buf.readUInt32BE(pos + 1) : readInt32(buf, pos, length) >>> 0;
      return { value: { type, value: v }, next };
    }
    case "integer64":
      if (length === 0 || length > 8) throw new CopsDecodeError("bad-ber", offset, `${type} of ${length} octets`);
      return { value: { type, value: BigInt.asIntN(64, readSigned(buf.subarray(pos, next))) }, next };
    case "unsigned64":
      if (length === 0 || length > 9) throw new CopsDecodeError("bad-ber", offset, `${type} of ${length} octets`);
      return { value: { type, value: BigInt.asUintN(64, readSigned(buf.subarray(pos, next))) }, next };
  }
}
