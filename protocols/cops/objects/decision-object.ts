// RFC 2748 §2.2.6 Decision (C-Num 6) and §2.2.7 LPDP Decision (C-Num 7), C-Types 1-5.
import { CopsDecodeError } from "../cops-decode-error.js";
import type { DecisionObject } from "./object-types.js";

export function decisionBodyLength(obj: DecisionObject): number {
  return obj.cType === 1 ? 4 : obj.data.length;
}

export function writeDecisionBody(obj: DecisionObject, buf: Buffer, offset: number): void {
  if (obj.cType === 1) {
    // Command-Code (16) + Flags (16)
    buf.writeUInt16BE(obj.command, offset);
    buf.writeUInt16BE(obj.flags, offset + 2);
  } else {
    obj.data.copy(buf, offset);
  }
}

export function readDecisionBody(
  kind: DecisionObject["kind"],
  cType: number,
  buf: Buffer,
  start: number,
  end: number,
): DecisionObject {
  const cNum = kind === "decision" ? 6 : 7;
  if (cType === 1) {
    if (end - start !== 4) throw new CopsDecodeError("bad-object-length", start, "Decision Flags body must be 4 octets", { cNum, cType });
    return { kind, cType: 1, command: buf.readUInt16BE(start), flags: buf.readUInt16BE(start + 2) };
  }
  return { kind, cType: cType as 2 | 3 | 4 | 5, data: buf.subarray(start, end) }; // a view into the message
}
