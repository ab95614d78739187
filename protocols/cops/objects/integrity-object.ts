// RFC 2748 §2.2.16 Integrity (C-Num 16, C-Type 1): Key ID (32) + Sequence Number (32) + keyed digest;
// RFC 4261 §4.1 Integrity-TLS (C-Type 2): reserved (16) + Flags (16), 0x01 = StartTLS.
import { CopsDecodeError } from "../cops-decode-error.js";
import type { IntegrityObject } from "./object-types.js";

export const INTEGRITY_TLS_START = 0x01;

export function integrityBodyLength(obj: IntegrityObject): number {
  return obj.cType === 1 ? 8 + obj.digest.length : 4;
}

export function writeIntegrityBody(obj: IntegrityObject, buf: Buffer, offset: number): void {
  if (obj.cType === 1) {
    buf.writeUInt32BE(obj.keyId >>> 0, offset);
    buf.writeUInt32BE(obj.sequence >>> 0, offset + 4);
    obj.digest.copy(buf, offset + 8);
  } else {
    buf.writeUInt16BE(0, offset);
    buf.writeUInt16BE(obj.flags, offset + 2);
  }
}

export function readIntegrityBody(cType: number, buf: Buffer, start: number, end: number): IntegrityObject {
  if (cType === 1) {
    if (end - start < 8) throw new CopsDecodeError("bad-object-length", start, "Integrity body shorter than Key ID + Sequence Number", { cNum: 16, cType });
    return {
      kind: "integrity",
      cType: 1,
      keyId: buf.readUInt32BE(start),
      sequence: buf.readUInt32BE(start + 4),
      digest: buf.subarray(start + 8, end), // a view into the message
    };
  }
  if (end - start !== 4) throw new CopsDecodeError("bad-object-length", start, "Integrity-TLS body must be 4 octets", { cNum: 16, cType });
  return { kind: "integrity", cType: 2, flags: buf.readUInt16BE(start + 2) };
}
