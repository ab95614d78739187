// RFC 2748 §2.1 common header + §3 messages: encode and decode whole COPS messages.
import { CopsDecodeError } from "./cops-decode-error.js";
import { COPS_VERSION, HEADER_LENGTH, OP_NAMES, OpCode } from "./constants.js";
import type { CopsMessage, CopsOp } from "./cops-message.js";
import { messageToObjects, objectsToMessage } from "./message-grammar.js";
import { objectWireLength, readObject, writeObject } from "./objects/cops-object.js";
import type { DecodedObject } from "./objects/cops-object.js";

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
    const { decoded, next } = readObject(buf, offset, end);
    objects.push(decoded);
    offset = next;
  }
  return objects;
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
  const objects = decodeCopsObjects(buf, HEADER_LENGTH, header.length);
  return objectsToMessage(header.op, header.clientType, header.solicited, objects, header.length);
}

/** Encodes a message; Integrity objects are written as given (see `signCopsMessage` to fill the digest). */
export function encodeCopsMessage(msg: CopsMessage): Buffer {
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
    return Buffer.from(buf.subarray(HEADER_LENGTH + 4, HEADER_LENGTH + length));
  } catch (err) {
    if (err instanceof CopsDecodeError) return undefined;
    throw err;
  }
}
