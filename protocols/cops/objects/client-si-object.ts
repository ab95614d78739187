// RFC 2748 §2.2.9 Client Specific Information (C-Num 9): C-Type 1 Signaled, 2 Named; contents per client type.
import type { ClientSiObject } from "./object-types.js";

export function clientSiBodyLength(obj: ClientSiObject): number {
  return obj.data.length;
}

export function writeClientSiBody(obj: ClientSiObject, buf: Buffer, offset: number): void {
  obj.data.copy(buf, offset);
}

export function readClientSiBody(cType: number, buf: Buffer, start: number, end: number): ClientSiObject {
  return { kind: "client-si", cType: cType as 1 | 2, data: buf.subarray(start, end) }; // a view into the message
}
