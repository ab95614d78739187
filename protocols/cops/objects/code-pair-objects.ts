// Objects made of a 16-bit code and a 16-bit sub-code or reserved field:
// RFC 2748 §2.2.5 Reason, §2.2.8 Error, §2.2.12 Report-Type, §2.2.10 KA Timer, §2.2.15 Accounting Timer.
import { CopsDecodeError } from "../cops-decode-error.js";
import type { ErrorObject, ReasonObject, ReportTypeObject, TimerObject } from "./object-types.js";

export type CodePairObject = ReasonObject | ErrorObject | ReportTypeObject | TimerObject;

export function writeCodePairBody(obj: CodePairObject, buf: Buffer, offset: number): void {
  switch (obj.kind) {
    case "reason":
    case "error":
      buf.writeUInt16BE(obj.code, offset);
      buf.writeUInt16BE(obj.subCode, offset + 2);
      return;
    case "report-type":
      // Report-Type (16) + reserved (16)
      buf.writeUInt16BE(obj.reportType, offset);
      buf.writeUInt16BE(0, offset + 2);
      return;
    case "ka-timer":
    case "acct-timer":
      // reserved (16) + seconds (16)
      buf.writeUInt16BE(0, offset);
      buf.writeUInt16BE(obj.seconds, offset + 2);
      return;
  }
}

export function readCodePairBody(
  kind: CodePairObject["kind"],
  cNum: number,
  buf: Buffer,
  start: number,
  end: number,
): CodePairObject {
  if (end - start !== 4) throw new CopsDecodeError("bad-object-length", start, `${kind} body must be 4 octets`, { cNum, cType: 1 });
  const hi = buf.readUInt16BE(start);
  const lo = buf.readUInt16BE(start + 2);
  switch (kind) {
    case "reason":
    case "error":
      return { kind, code: hi, subCode: lo };
    case "report-type":
      return { kind, reportType: hi };
    case "ka-timer":
    case "acct-timer":
      return { kind, seconds: lo };
  }
}
