// RFC 2748 §2.2.1 Handle object (C-Num 1, C-Type 1).
import { CopsDecodeError } from "../cops-decode-error.js";
import type { HandleObject } from "./object-types.js";

export function handleBodyLength(obj: HandleObject): number {
  return obj.handle.length;
}

export function writeHandleBody(obj: HandleObject, buf: Buffer, offset: number): void {
  obj.handle.copy(buf, offset);
}

export function readHandleBody(buf: Buffer, start: number, end: number): HandleObject {
  if (end <= start) throw new CopsDecodeError("bad-object", start, "empty Handle", { cNum: 1, cType: 1 });
  return { kind: "handle", handle: buf.subarray(start, end) }; // a view into the message
}
