// RFC 2748 §2.1 common header + §3 messages: encode and decode whole COPS messages.
import { CopsDecodeError } from "./cops-decode-error.js";
import { CNum, COPS_VERSION, HEADER_LENGTH, OBJECT_HEADER_LENGTH, OP_NAMES, OpCode } from "./constants.js";
import type { CopsClientSi, CopsDecision, CopsInterface, CopsMessage, CopsOp } from "./cops-message.js";
import { integrityBodyLength, readIntegrityBody, writeIntegrityBody } from "./objects/integrity-object.js";
import { writeInterfaceBody } from "./objects/interface-object.js";
import { addressLength } from "./objects/ip-address.js";
import type { IntegrityObject } from "./objects/object-types.js";
import { messageToObjects, objectsToMessage } from "./message-grammar.js";
import { nextObjectOffset, objectWireLength, readObject, writeObject } from "./objects/cops-object.js";
import type { DecodedObject } from "./objects/cops-object.js";

/** The 8-octet COPS common header (RFC 2748 §2.1). */
export interface CopsHeader {
  version: number;
  solicited: boolean;
  op: CopsOp;
  opCode: number;
  clientType: number;
  length: number;
}

/** Reads and checks the 8-octet common header (RFC 2748 §2.1). */
export function decodeCopsHeader(buf: Buffer, offset = 0): CopsHeader {
  if (buf.length - offset < HEADER_LENGTH) throw new CopsDecodeError("truncated", offset, "shorter than the 8-octet common header");
  const first = buf[offset] ?? 0;
  const version = first >> 4;
  const flags = first & 0x0f;
  if (version !== COPS_VERSION) throw new CopsDecodeError("bad-version", offset, `version ${version}, expected 1`);
  if ((flags & ~0x1) !== 0) throw new CopsDecodeError("bad-header", offset, `undefined flag bits 0x${flags.toString(16)}`);
  const opCode = buf[offset + 1] ?? 0;
  const op = OP_NAMES[opCode];
  if (op === undefined) throw new CopsDecodeError("bad-op-code", offset + 1, `unknown op code ${opCode}`);
  const length = buf.readUInt32BE(offset + 4);
  if (length < HEADER_LENGTH || length % 4 !== 0) {
    throw new CopsDecodeError("bad-length", offset + 4, `message length ${length} is not a multiple of 4 of at least 8`);
  }
  return { version, solicited: (flags & 0x1) !== 0, op, opCode, clientType: buf.readUInt16BE(offset + 2), length };
}

/** Decodes every object of a message body without checking the grammar. */
export function decodeCopsObjects(buf: Buffer, start: number, end: number): DecodedObject[] {
  const objects: DecodedObject[] = [];
  let offset = start;
  while (offset < end) {
    objects.push(readObject(buf, offset, end));
    offset = nextObjectOffset(buf, offset);
  }
  return objects;
}

// ---- direct decoding of the per-call messages in their usual shape; anything else (and every fault) goes the
// generic way (object list + grammar), which says exactly what is wrong ----

/** Length of the object at `p` when it is C-Num `cNum` / C-Type `cType` and fits before `end`, else -1. */
function objectAt(buf: Buffer, p: number, end: number, cNum: number): number {
  if (end - p < OBJECT_HEADER_LENGTH || buf[p + 2] !== cNum) return -1;
  const length = ((buf[p] ?? 0) << 8) | (buf[p + 1] ?? 0);
  if (length < OBJECT_HEADER_LENGTH || ((p + length + 3) & ~3) > end) return -1;
  return length;
}

function next(p: number, length: number): number {
  return (p + length + 3) & ~3;
}

/** A trailing Integrity object at `p` (RFC 2748 §2.2.16, RFC 4261 §4.1), undefined at the end, null for anything else. */
function integrityAt(buf: Buffer, p: number, end: number): IntegrityObject | undefined | null {
  if (p === end) return undefined;
  const length = objectAt(buf, p, end, CNum.Integrity);
  if (length < 0 || next(p, length) !== end) return null;
  const cType = buf[p + 3];
  if (cType === 1 && length >= 12) return readIntegrityBody(1, buf, p + 4, p + length);
  if (cType === 2 && length === 8) return readIntegrityBody(2, buf, p + 4, p + length);
  return null;
}

/** Handle object at the start of the body (non-empty, RFC 2748 §2.2.1): its length, or -1. */
function handleAt(buf: Buffer, end: number): number {
  const length = objectAt(buf, HEADER_LENGTH, end, CNum.Handle);
  return length > OBJECT_HEADER_LENGTH && buf[HEADER_LENGTH + 3] === 1 ? length : -1;
}

/** A 4-octet-body object (Context, Reason, Error, Report-Type) of C-Type 1 at `p`, or false. */
function pairAt(buf: Buffer, p: number, end: number, cNum: number): boolean {
  return objectAt(buf, p, end, cNum) === 8 && buf[p + 3] === 1;
}

function decodeDirect(buf: Buffer, op: CopsOp, clientType: number, solicited: boolean): CopsMessage | undefined {
  const end = buf.length;
  if (op === "KA") {
    const integrity = integrityAt(buf, HEADER_LENGTH, end);
    if (integrity === null) return undefined;
    const ka: CopsMessage = { op, clientType, solicited };
    if (integrity) ka.integrity = integrity;
    return ka;
  }
  if (op !== "REQ" && op !== "DEC" && op !== "RPT" && op !== "DRQ") return undefined;
  const hl = handleAt(buf, end);
  if (hl < 0) return undefined;
  const handle = buf.subarray(HEADER_LENGTH + 4, HEADER_LENGTH + hl);
  let p = next(HEADER_LENGTH, hl);
  let message: CopsMessage;
  switch (op) {
    case "REQ": {
      // <Handle> <Context> [<ClientSI(s)>] [<Integrity>] (interfaces and LPDP decisions: the generic path)
      if (!pairAt(buf, p, end, CNum.Context)) return undefined;
      const context = { rType: buf.readUInt16BE(p + 4), mType: buf.readUInt16BE(p + 6) };
      p += 8;
      const clientSi: CopsClientSi[] = [];
      for (;;) {
        const length = objectAt(buf, p, end, CNum.ClientSI);
        if (length < 0) break;
        const cType = buf[p + 3];
        if (cType !== 1 && cType !== 2) return undefined;
        clientSi.push({ cType, data: buf.subarray(p + 4, p + length) });
        p = next(p, length);
      }
      message = { op, clientType, solicited, handle, context, clientSi, lpdpDecisions: [] };
      break;
    }
    case "DEC": {
      // <Handle> <Context> <Decision: Flags> [<Decision: data> …] … | <Error>, then [<Integrity>]
      if (pairAt(buf, p, end, CNum.Error)) {
        message = { op, clientType, solicited, handle, decisions: [], error: { code: buf.readUInt16BE(p + 4), subCode: buf.readUInt16BE(p + 6) } };
        p += 8;
        break;
      }
      const decisions: CopsDecision[] = [];
      while (pairAt(buf, p, end, CNum.Context)) {
        const context = { rType: buf.readUInt16BE(p + 4), mType: buf.readUInt16BE(p + 6) };
        p += 8;
        if (!(objectAt(buf, p, end, CNum.Decision) === 8 && buf[p + 3] === 1)) return undefined;
        const decision: CopsDecision = { command: buf.readUInt16BE(p + 4), flags: buf.readUInt16BE(p + 6) };
        decision.context = context;
        p += 8;
        for (let last = 1; ; ) {
          const length = objectAt(buf, p, end, CNum.Decision);
          const cType = buf[p + 3] ?? 0;
          if (length < 0 || cType === 1) break;
          if (cType <= last || cType > 5) return undefined;
          const data = buf.subarray(p + 4, p + length);
          if (cType === 2) decision.stateless = data;
          else if (cType === 3) decision.replacement = data;
          else if (cType === 4) decision.clientSi = data;
          else decision.named = data;
          last = cType;
          p = next(p, length);
        }
        decisions.push(decision);
      }
      if (decisions.length === 0) return undefined;
      message = { op, clientType, solicited, handle, decisions };
      break;
    }
    case "RPT": {
      // <Handle> <Report-Type> [<ClientSI>] [<Integrity>]
      if (!pairAt(buf, p, end, CNum.ReportType)) return undefined;
      message = { op, clientType, solicited, handle, reportType: buf.readUInt16BE(p + 4) };
      p += 8;
      const length = objectAt(buf, p, end, CNum.ClientSI);
      if (length >= 0) {
        const cType = buf[p + 3];
        if (cType !== 1 && cType !== 2) return undefined;
        message.clientSi = { cType, data: buf.subarray(p + 4, p + length) };
        p = next(p, length);
      }
      break;
    }
    case "DRQ":
      // <Handle> <Reason> [<Integrity>]
      if (!pairAt(buf, p, end, CNum.Reason)) return undefined;
      message = { op, clientType, solicited, handle, reason: { code: buf.readUInt16BE(p + 4), subCode: buf.readUInt16BE(p + 6) } };
      p += 8;
      break;
  }
  const integrity = integrityAt(buf, p, end);
  if (integrity === null) return undefined;
  if (integrity) message.integrity = integrity;
  return message;
}

/** Decodes exactly one whole message; `buf` must hold precisely its octets. */
export function decodeCopsMessage(buf: Buffer): CopsMessage {
  const header = decodeCopsHeader(buf);
  if (header.length !== buf.length) {
    throw new CopsDecodeError(
      header.length > buf.length ? "truncated" : "bad-length",
      4,
      `header says ${header.length} octets, buffer holds ${buf.length}`,
    );
  }
  const direct = decodeDirect(buf, header.op, header.clientType, header.solicited);
  if (direct !== undefined) return direct;
  const objects = decodeCopsObjects(buf, HEADER_LENGTH, header.length);
  return objectsToMessage(header.op, header.clientType, header.solicited, objects, header.length);
}

// ---- direct encoding of the per-call messages (REQ, DEC, RPT, DRQ, KA): no object list, one allocation ----

/** Octets an object with `body` content octets takes (header + padding); RangeError past 65535 (RFC 2748 §2.2). */
function wire(kind: string, body: number): number {
  if (OBJECT_HEADER_LENGTH + body > 0xffff) throw new RangeError(`${kind} object longer than 65535 octets`);
  return (OBJECT_HEADER_LENGTH + body + 3) & ~3;
}

/** Writes an object header; returns the offset of its contents. */
function head(buf: Buffer, offset: number, body: number, cNum: number, cType: number): number {
  const length = OBJECT_HEADER_LENGTH + body;
  buf[offset] = length >> 8;
  buf[offset + 1] = length & 0xff;
  buf[offset + 2] = cNum;
  buf[offset + 3] = cType;
  return offset + OBJECT_HEADER_LENGTH;
}

/** Zero padding after contents ending at `end`; returns the next object's offset. */
function padTo(buf: Buffer, end: number): number {
  const padded = (end + 3) & ~3;
  for (let i = end; i < padded; i++) buf[i] = 0;
  return padded;
}

function bytesObject(buf: Buffer, offset: number, data: Buffer, cNum: number, cType: number): number {
  const at = head(buf, offset, data.length, cNum, cType);
  return padTo(buf, at + data.copy(buf, at));
}

function pairObject(buf: Buffer, offset: number, hi: number, lo: number, cNum: number): number {
  const at = head(buf, offset, 4, cNum, 1);
  buf.writeUInt16BE(hi, at);
  buf.writeUInt16BE(lo, at + 2);
  return at + 4;
}

function decisionsLength(kind: "decision" | "lpdp-decision", decisions: readonly CopsDecision[], needContext: boolean): number {
  let n = 0;
  for (const d of decisions) {
    if (d.context) n += 8;
    else if (needContext) throw new RangeError("a DEC decision needs its Context");
    n += 8;
    if (d.stateless) n += wire(kind, d.stateless.length);
    if (d.replacement) n += wire(kind, d.replacement.length);
    if (d.clientSi) n += wire(kind, d.clientSi.length);
    if (d.named) n += wire(kind, d.named.length);
  }
  return n;
}

function writeDecisions(buf: Buffer, offset: number, decisions: readonly CopsDecision[], cNum: number): number {
  for (const d of decisions) {
    if (d.context) offset = pairObject(buf, offset, d.context.rType, d.context.mType, CNum.Context);
    offset = head(buf, offset, 4, cNum, 1);
    buf.writeUInt16BE(d.command, offset);
    buf.writeUInt16BE(d.flags, offset + 2);
    offset += 4;
    if (d.stateless) offset = bytesObject(buf, offset, d.stateless, cNum, 2);
    if (d.replacement) offset = bytesObject(buf, offset, d.replacement, cNum, 3);
    if (d.clientSi) offset = bytesObject(buf, offset, d.clientSi, cNum, 4);
    if (d.named) offset = bytesObject(buf, offset, d.named, cNum, 5);
  }
  return offset;
}

function interfaceWire(iface: CopsInterface): number {
  return OBJECT_HEADER_LENGTH + addressLength(iface.family) + 4;
}

function writeInterface(buf: Buffer, offset: number, iface: CopsInterface, cNum: number): number {
  const body = addressLength(iface.family) + 4;
  const at = head(buf, offset, body, cNum, iface.family === 4 ? 1 : 2);
  writeInterfaceBody({ kind: cNum === CNum.InInterface ? "in-interface" : "out-interface", family: iface.family, address: iface.address, ifIndex: iface.ifIndex }, buf, at);
  return at + body;
}

function integrityWire(integrity: IntegrityObject | undefined): number {
  return integrity === undefined ? 0 : wire("integrity", integrityBodyLength(integrity));
}

function writeIntegrity(buf: Buffer, offset: number, integrity: IntegrityObject | undefined): number {
  if (integrity === undefined) return offset;
  const body = integrityBodyLength(integrity);
  const at = head(buf, offset, body, CNum.Integrity, integrity.cType);
  writeIntegrityBody(integrity, buf, at);
  return padTo(buf, at + body);
}

function startMessage(msg: CopsMessage, length: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  buf[0] = (COPS_VERSION << 4) | (msg.solicited ? 1 : 0);
  buf[1] = OpCode[msg.op];
  buf.writeUInt16BE(msg.clientType, 2);
  buf.writeUInt32BE(length, 4);
  return buf;
}

/** The per-call messages written directly, or undefined for the others (the object-list path below). */
function encodeDirect(msg: CopsMessage): Buffer | undefined {
  switch (msg.op) {
    case "REQ": {
      // <Handle> <Context> [<IN-Int>] [<OUT-Int>] [<ClientSI(s)>] [<LPDPDecision(s)>] [<Integrity>]
      let length = HEADER_LENGTH + wire("handle", msg.handle.length) + 8;
      if (msg.inInterface) length += interfaceWire(msg.inInterface);
      if (msg.outInterface) length += interfaceWire(msg.outInterface);
      for (const si of msg.clientSi) length += wire("client-si", si.data.length);
      length += decisionsLength("lpdp-decision", msg.lpdpDecisions, false) + integrityWire(msg.integrity);
      const buf = startMessage(msg, length);
      let p = bytesObject(buf, HEADER_LENGTH, msg.handle, CNum.Handle, 1);
      p = pairObject(buf, p, msg.context.rType, msg.context.mType, CNum.Context);
      if (msg.inInterface) p = writeInterface(buf, p, msg.inInterface, CNum.InInterface);
      if (msg.outInterface) p = writeInterface(buf, p, msg.outInterface, CNum.OutInterface);
      for (const si of msg.clientSi) p = bytesObject(buf, p, si.data, CNum.ClientSI, si.cType);
      p = writeDecisions(buf, p, msg.lpdpDecisions, CNum.LpdpDecision);
      writeIntegrity(buf, p, msg.integrity);
      return buf;
    }
    case "DEC": {
      // <Handle> <Decision(s)> | <Error> [<Integrity>]
      if (!msg.error && msg.decisions.length === 0) throw new RangeError("DEC needs a decision or an error");
      let length = HEADER_LENGTH + wire("handle", msg.handle.length);
      length += msg.error ? 8 : decisionsLength("decision", msg.decisions, true);
      length += integrityWire(msg.integrity);
      const buf = startMessage(msg, length);
      let p = bytesObject(buf, HEADER_LENGTH, msg.handle, CNum.Handle, 1);
      p = msg.error ? pairObject(buf, p, msg.error.code, msg.error.subCode, CNum.Error) : writeDecisions(buf, p, msg.decisions, CNum.Decision);
      writeIntegrity(buf, p, msg.integrity);
      return buf;
    }
    case "RPT": {
      // <Handle> <Report-Type> [<ClientSI>] [<Integrity>]
      const length = HEADER_LENGTH + wire("handle", msg.handle.length) + 8 + (msg.clientSi ? wire("client-si", msg.clientSi.data.length) : 0) + integrityWire(msg.integrity);
      const buf = startMessage(msg, length);
      let p = bytesObject(buf, HEADER_LENGTH, msg.handle, CNum.Handle, 1);
      p = pairObject(buf, p, msg.reportType, 0, CNum.ReportType);
      if (msg.clientSi) p = bytesObject(buf, p, msg.clientSi.data, CNum.ClientSI, msg.clientSi.cType);
      writeIntegrity(buf, p, msg.integrity);
      return buf;
    }
    case "DRQ": {
      // <Handle> <Reason> [<Integrity>]
      const length = HEADER_LENGTH + wire("handle", msg.handle.length) + 8 + integrityWire(msg.integrity);
      const buf = startMessage(msg, length);
      const p = pairObject(buf, bytesObject(buf, HEADER_LENGTH, msg.handle, CNum.Handle, 1), msg.reason.code, msg.reason.subCode, CNum.Reason);
      writeIntegrity(buf, p, msg.integrity);
      return buf;
    }
    case "KA": {
      const buf = startMessage(msg, HEADER_LENGTH + integrityWire(msg.integrity));
      writeIntegrity(buf, HEADER_LENGTH, msg.integrity);
      return buf;
    }
    default:
      return undefined;
  }
}

/** Encodes a message; Integrity objects are written as given (see `signCopsMessage` to fill the digest). */
export function encodeCopsMessage(msg: CopsMessage): Buffer {
  const direct = encodeDirect(msg);
  if (direct !== undefined) return direct;
  const objects = messageToObjects(msg);
  let length = HEADER_LENGTH;
  for (const obj of objects) length += objectWireLength(obj);
  const buf = Buffer.allocUnsafe(length);
  buf[0] = (COPS_VERSION << 4) | (msg.solicited ? 1 : 0);
  buf[1] = OpCode[msg.op];
  buf.writeUInt16BE(msg.clientType, 2);
  buf.writeUInt32BE(length, 4);
  let offset = HEADER_LENGTH;
  for (const obj of objects) offset = writeObject(obj, buf, offset);
  return buf;
}

/**
 * Finds the Handle of a message that may not decode as a whole, to address a DEC with Error
 * (RFC 2748 §3.2). Returns undefined if no Handle object can be read.
 */
export function peekCopsHandle(buf: Buffer): Buffer | undefined {
  try {
    const header = decodeCopsHeader(buf);
    const end = Math.min(header.length, buf.length);
    if (end - HEADER_LENGTH < 4) return undefined;
    const length = buf.readUInt16BE(HEADER_LENGTH);
    if (buf[HEADER_LENGTH + 2] !== 1 || buf[HEADER_LENGTH + 3] !== 1) return undefined;
    if (length <= 4 || HEADER_LENGTH + length > end) return undefined;
    return buf.subarray(HEADER_LENGTH + 4, HEADER_LENGTH + length);
  } catch (err) {
    if (err instanceof CopsDecodeError) return undefined;
    throw err;
  }
}
