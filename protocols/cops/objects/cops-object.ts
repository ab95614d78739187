// RFC 2748 §2.2 object framing: Length (16) · C-Num (8) · C-Type (8), contents padded to 32 bits.
import { CopsDecodeError } from "../cops-decode-error.js";
import { CNum, ErrorCode, OBJECT_HEADER_LENGTH } from "../constants.js";
import { clientSiBodyLength, readClientSiBody, writeClientSiBody } from "./client-si-object.js";
import { readCodePairBody, writeCodePairBody } from "./code-pair-objects.js";
import { readContextBody, writeContextBody } from "./context-object.js";
import { decisionBodyLength, readDecisionBody, writeDecisionBody } from "./decision-object.js";
import { handleBodyLength, readHandleBody, writeHandleBody } from "./handle-object.js";
import { integrityBodyLength, readIntegrityBody, writeIntegrityBody } from "./integrity-object.js";
import { interfaceBodyLength, readInterfaceBody, writeInterfaceBody } from "./interface-object.js";
import type { CopsObject, CopsObjectKind } from "./object-types.js";
import { pdpAddressBodyLength, readPdpAddressBody, writePdpAddressBody } from "./pdp-address-object.js";
import { pepIdBodyLength, readPepIdBody, writePepIdBody } from "./pepid-object.js";

/** C-Num and the C-Types RFC 2748 defines for it. */
const OBJECT_TABLE: Record<CopsObjectKind, { cNum: number; cTypes: readonly number[] }> = {
  handle: { cNum: CNum.Handle, cTypes: [1] },
  context: { cNum: CNum.Context, cTypes: [1] },
  "in-interface": { cNum: CNum.InInterface, cTypes: [1, 2] },
  "out-interface": { cNum: CNum.OutInterface, cTypes: [1, 2] },
  reason: { cNum: CNum.Reason, cTypes: [1] },
  decision: { cNum: CNum.Decision, cTypes: [1, 2, 3, 4, 5] },
  "lpdp-decision": { cNum: CNum.LpdpDecision, cTypes: [1, 2, 3, 4, 5] },
  error: { cNum: CNum.Error, cTypes: [1] },
  "client-si": { cNum: CNum.ClientSI, cTypes: [1, 2] },
  "ka-timer": { cNum: CNum.KATimer, cTypes: [1] },
  pepid: { cNum: CNum.PEPID, cTypes: [1] },
  "report-type": { cNum: CNum.ReportType, cTypes: [1] },
  "pdp-redirect-address": { cNum: CNum.PdpRedirectAddress, cTypes: [1, 2] },
  "last-pdp-address": { cNum: CNum.LastPdpAddress, cTypes: [1, 2] },
  "acct-timer": { cNum: CNum.AcctTimer, cTypes: [1] },
  integrity: { cNum: CNum.Integrity, cTypes: [1, 2] },
};

const KIND_BY_CNUM: (CopsObjectKind | undefined)[] = [];
for (const [kind, { cNum }] of Object.entries(OBJECT_TABLE)) KIND_BY_CNUM[cNum] = kind as CopsObjectKind;

export function objectCNum(obj: CopsObject): number {
  return OBJECT_TABLE[obj.kind].cNum;
}

export function objectCType(obj: CopsObject): number {
  switch (obj.kind) {
    case "in-interface":
    case "out-interface":
    case "pdp-redirect-address":
    case "last-pdp-address":
      return obj.family === 4 ? 1 : 2;
    case "decision":
    case "lpdp-decision":
    case "client-si":
    case "integrity":
      return obj.cType;
    default:
      return 1;
  }
}

/** Contents length without header and padding. */
export function objectBodyLength(obj: CopsObject): number {
  switch (obj.kind) {
    case "handle":
      return handleBodyLength(obj);
    case "in-interface":
    case "out-interface":
      return interfaceBodyLength(obj);
    case "decision":
    case "lpdp-decision":
      return decisionBodyLength(obj);
    case "client-si":
      return clientSiBodyLength(obj);
    case "pepid":
      return pepIdBodyLength(obj);
    case "pdp-redirect-address":
    case "last-pdp-address":
      return pdpAddressBodyLength(obj);
    case "integrity":
      return integrityBodyLength(obj);
    default:
      return 4;
  }
}

/** Octets the object takes on the wire (header + contents + padding). */
export function objectWireLength(obj: CopsObject): number {
  return (OBJECT_HEADER_LENGTH + objectBodyLength(obj) + 3) & ~3;
}

/** Writes header, contents and zero padding; returns the offset after the object. */
export function writeObject(obj: CopsObject, buf: Buffer, offset: number): number {
  const bodyLength = objectBodyLength(obj);
  const length = OBJECT_HEADER_LENGTH + bodyLength;
  if (length > 0xffff) throw new RangeError(`${obj.kind} object longer than 65535 octets`);
  buf.writeUInt16BE(length, offset);
  buf[offset + 2] = objectCNum(obj);
  buf[offset + 3] = objectCType(obj);
  const body = offset + OBJECT_HEADER_LENGTH;
  switch (obj.kind) {
    case "handle":
      writeHandleBody(obj, buf, body);
      break;
    case "context":
      writeContextBody(obj, buf, body);
      break;
    case "in-interface":
    case "out-interface":
      writeInterfaceBody(obj, buf, body);
      break;
    case "decision":
    case "lpdp-decision":
      writeDecisionBody(obj, buf, body);
      break;
    case "client-si":
      writeClientSiBody(obj, buf, body);
      break;
    case "pepid":
      writePepIdBody(obj, buf, body);
      break;
    case "pdp-redirect-address":
    case "last-pdp-address":
      writePdpAddressBody(obj, buf, body);
      break;
    case "integrity":
      writeIntegrityBody(obj, buf, body);
      break;
    default:
      writeCodePairBody(obj, buf, body);
  }
  const padded = (offset + length + 3) & ~3;
  buf.fill(0, offset + length, padded);
  return padded;
}

/** One object of a message: the decoded model, its header offset, C-Num and C-Type (RFC 2748 §2.2). */
export interface DecodedObject {
  object: CopsObject;
  /** Offset of the object header in the message. */
  offset: number;
  cNum: number;
  cType: number;
}

/** Offset of the object after the one at `offset` (its padded end); valid once `readObject` accepted it. */
export function nextObjectOffset(buf: Buffer, offset: number): number {
  return (offset + buf.readUInt16BE(offset) + 3) & ~3;
}

/** Reads one object at `offset`, never past `end` (the next one starts at `nextObjectOffset`). */
export function readObject(buf: Buffer, offset: number, end: number): DecodedObject {
  if (end - offset < OBJECT_HEADER_LENGTH) {
    throw new CopsDecodeError("truncated", offset, "object header runs past the message end");
  }
  const length = buf.readUInt16BE(offset);
  const cNum = buf[offset + 2] ?? 0;
  const cType = buf[offset + 3] ?? 0;
  if (length < OBJECT_HEADER_LENGTH) {
    throw new CopsDecodeError("bad-object-length", offset, `object length ${length} is shorter than its header`, { cNum, cType });
  }
  const bodyEnd = offset + length;
  if (((bodyEnd + 3) & ~3) > end) {
    throw new CopsDecodeError("bad-object-length", offset, `object length ${length} runs past the message end`, { cNum, cType });
  }
  const kind = KIND_BY_CNUM[cNum];
  if (kind === undefined || cType < 1 || cType > OBJECT_TABLE[kind].cTypes.length) {
    // RFC 2748 §2.2.8 Error 13: sub-code carries C-Num and C-Type.
    throw new CopsDecodeError("unknown-object", offset, `unknown object C-Num ${cNum} C-Type ${cType}`, {
      cNum,
      cType,
      copsErrorCode: { code: ErrorCode.UnknownObject, subCode: (cNum << 8) | cType },
    });
  }
  const start = offset + OBJECT_HEADER_LENGTH;
  let object: CopsObject;
  switch (kind) {
    case "handle":
      object = readHandleBody(buf, start, bodyEnd);
      break;
    case "context":
      object = readContextBody(buf, start, bodyEnd);
      break;
    case "in-interface":
    case "out-interface":
      object = readInterfaceBody(kind, cType, buf, start, bodyEnd);
      break;
    case "decision":
    case "lpdp-decision":
      object = readDecisionBody(kind, cType, buf, start, bodyEnd);
      break;
    case "client-si":
      object = readClientSiBody(cType, buf, start, bodyEnd);
      break;
    case "pepid":
      object = readPepIdBody(buf, start, bodyEnd);
      break;
    case "pdp-redirect-address":
    case "last-pdp-address":
      object = readPdpAddressBody(kind, cType, buf, start, bodyEnd);
      break;
    case "integrity":
      object = readIntegrityBody(cType, buf, start, bodyEnd);
      break;
    default:
      object = readCodePairBody(kind, cNum, buf, start, bodyEnd);
  }
  return { object, offset, cNum, cType };
}
