// RFC 2748 §2.2.2 Context object (C-Num 2, C-Type 1): R-Type (16) + M-Type (16).
import { CopsDecodeError } from "../cops-decode-error.js";
import type { ContextObject } from "./object-types.js";

export function writeContextBody(obj: ContextObject, buf: Buffer, offset: number): void {
  buf.writeUInt16BE(obj.rType, offset);
  buf.writeUInt16BE(obj.mType, offset + 2);
}

export function readContextBody(buf: Buffer, start: number, end: number): ContextObject {
  if (end - start !== 4) throw new CopsDecodeError("bad-object-length", start, "Context body must be 4 octets", { cNum: 2, cType: 1 });
  return { kind: "context", rType: buf.readUInt16BE(start), mType: buf.readUInt16BE(start + 2) };
}
