// RFC 2748 §2.2.11 PEP Identification (C-Num 11, C-Type 1): NUL-terminated ASCII, zero-padded to 32 bits.
import { CopsDecodeError } from "../cops-decode-error.js";
import type { PepIdObject } from "./object-types.js";

export function pepIdBodyLength(obj: PepIdObject): number {
  return (Buffer.byteLength(obj.id, "latin1") + 1 + 3) & ~3;
}

export function writePepIdBody(obj: PepIdObject, buf: Buffer, offset: number): void {
  const end = offset + pepIdBodyLength(obj);
  const written = buf.write(obj.id, offset, "latin1");
  buf.fill(0, offset + written, end);
}

export function readPepIdBody(buf: Buffer, start: number, end: number): PepIdObject {
  const nul = buf.indexOf(0, start);
  if (nul < 0 || nul >= end) throw new CopsDecodeError("bad-object", start, "PEPID is not NUL-terminated", { cNum: 11, cType: 1 });
  for (let i = start; i < nul; i++) {
    if ((buf[i] ?? 0) > 0x7e || (buf[i] ?? 0) < 0x20) {
      throw new CopsDecodeError("bad-object", i, "PEPID holds a non-printable or non-ASCII octet", { cNum: 11, cType: 1 });
    }
  }
  return { kind: "pepid", id: buf.toString("latin1", start, nul) };
}
