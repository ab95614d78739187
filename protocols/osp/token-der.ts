// Minimal ASN.1 DER writer and BER/DER reader (X.690) for the token's CMS SignedData and the certificates
// in it. The reader works on byte offsets so that signed parts can be hashed as they were received.

/** X.690 §8.1.2 identifier octets used by CMS (RFC 5652) and X.509 (RFC 5280). */
export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
  /** [n] constructed, context-specific (EXPLICIT, or IMPLICIT over a constructed type). */
  context: (n: number): number => 0xa0 | n,
} as const;

// ---- writer -------------------------------------------------------------------------------------------

function lengthOctets(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** Octets of the identifier and definite length (X.690 §8.1.3) of an element with `length` content octets. */
export function derHeaderLength(length: number): number {
  return length < 0x80 ? 2 : length < 0x100 ? 3 : length < 0x10000 ? 4 : length < 0x1000000 ? 5 : 6;
}

/** Writes identifier and definite length at `at`; returns where the contents start. */
export function writeDerHeader(buf: Buffer, at: number, tag: number, length: number): number {
  buf[at++] = tag;
  if (length < 0x80) {
    buf[at++] = length;
    return at;
  }
  const count = derHeaderLength(length) - 2;
  buf[at++] = 0x80 | count;
  for (let i = count - 1; i >= 0; i--) buf[at++] = Math.floor(length / 2 ** (8 * i)) & 0xff;
  return at;
}

/** One TLV with definite length (X.690 §10.1). */
export function der(tag: number, ...content: Buffer[]): Buffer {
  const body = content.length === 1 ? content[0]! : Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), lengthOctets(body.length), body]);
}

export function derOid(dotted: string): Buffer {
  const arcs = dotted.split(".").map(Number);
  const out: number[] = [40 * arcs[0]! + arcs[1]!];
  for (const arc of arcs.slice(2)) {
    const septets: number[] = [];
    let n = arc;
    do {
      septets.unshift(n & 0x7f);
      n = Math.floor(n / 128);
    } while (n > 0);
    for (let i = 0; i < septets.length - 1; i++) septets[i]! |= 0x80;
    out.push(...septets);
  }
  return der(TAG.OID, Buffer.from(out));
}

/** Non-negative INTEGER from big-endian magnitude bytes (X.690 §8.3: minimal, sign bit clear). */
export function derUnsignedInteger(magnitude: Buffer): Buffer {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const trimmed = magnitude.subarray(start);
  return der(TAG.INTEGER, trimmed[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed);
}

export const DER_NULL = Buffer.from([TAG.NULL, 0]);

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050. */
export function derTime(ms: number): Buffer {
  const iso = new Date(ms).toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 19).replace(/[-T:]/g, "");
  const year = new Date(ms).getUTCFullYear();
  if (year >= 1950 && year < 2050) return der(TAG.UTC_TIME, Buffer.from(`${digits.slice(2)}Z`, "latin1"));
  return der(TAG.GENERALIZED_TIME, Buffer.from(`${digits}Z`, "latin1"));
}

// ---- reader -------------------------------------------------------------------------------------------

/** A parsed element: `start` is its first identifier octet, `content`..`end` its contents octets. */
export interface DerNode {
  tag: number;
  start: number;
  content: number;
  /** End of the contents (exclusive); for an indefinite length, before the end-of-contents octets. */
  contentEnd: number;
  /** End of the whole element (exclusive). */
  end: number;
}

/** The only error the DER reader throws; its message names the offset of the problem. */
export class DerError extends Error {
  override readonly name = "DerError";
}

/** Reads the element at `offset`, not beyond `limit`. Single-octet tags only (all CMS/X.509 tags used here). */
export function readDer(buf: Buffer, offset: number, limit = buf.length, depth = 0): DerNode {
  if (offset + 2 > limit) throw new DerError(`truncated element at ${offset}`);
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError(`multi-octet tag at ${offset}`);
  let at = offset + 1;
  const first = buf[at++]!;
  if (first === 0x80) {
    // X.690 §8.1.3.6 indefinite length (BER, constructed only): children up to 00 00.
    if (!(tag & 0x20)) throw new DerError(`indefinite length on a primitive at ${offset}`);
    if (depth > 32) throw new DerError(`nesting too deep at ${offset}`);
    let child = at;
    for (;;) {
      if (child + 2 > limit) throw new DerError(`unterminated indefinite length at ${offset}`);
      if (buf[child] === 0 && buf[child + 1] === 0) return { tag, start: offset, content: at, contentEnd: child, end: child + 2 };
      child = readDer(buf, child, limit, depth + 1).end;
    }
  }
  let length = first;
  if (first & 0x80) {
    const count = first & 0x7f;
    if (count > 4) throw new DerError(`length too long at ${offset}`);
    if (at + count > limit) throw new DerError(`truncated length at ${offset}`);
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + buf[at++]!;
  }
  if (at + length > limit) throw new DerError(`element at ${offset} runs past its container`);
  return { tag, start: offset, content: at, contentEnd: at + length, end: at + length };
}

/** The children of a constructed element. */
export function derChildren(buf: Buffer, node: DerNode, depth = 0): DerNode[] {
  if (!(node.tag & 0x20)) throw new DerError(`element at ${node.start} is not constructed`);
  const out: DerNode[] = [];
  for (let at = node.content; at < node.contentEnd; ) {
    const child = readDer(buf, at, node.contentEnd, depth + 1);
    out.push(child);
    at = child.end;
  }
  return out;
}

/** Reads a child list and checks the tag of each expected position. */
export function expectTag(node: DerNode | undefined, tag: number, what: string): DerNode {
  if (!node || node.tag !== tag) throw new DerError(`${what}: expected tag 0x${tag.toString(16)}`);
  return node;
}

const oidTexts = new Map<string, string>();

/** Dotted form of an OBJECT IDENTIFIER (X.690 §8.19); the few OIDs tokens use are remembered. */
export function oidText(buf: Buffer, node: DerNode): string {
  expectTag(node, TAG.OID, "OBJECT IDENTIFIER");
  const raw = buf.toString("latin1", node.content, node.contentEnd);
  let text = oidTexts.get(raw);
  if (text === undefined) {
    text = decodeOid(buf.subarray(node.content, node.contentEnd), node.start);
    if (oidTexts.size < 256) oidTexts.set(raw, text);
  }
  return text;
}

function decodeOid(bytes: Buffer, at: number): string {
  if (bytes.length === 0 || bytes[bytes.length - 1]! & 0x80) throw new DerError(`incomplete OID at ${at}`);
  const arcs: number[] = [];
  let value = 0;
  for (const b of bytes) {
    value = value * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      if (arcs.length === 0) arcs.push(value < 80 ? Math.floor(value / 40) : 2, value < 80 ? value % 40 : value - 80);
      else arcs.push(value);
      value = 0;
    }
  }
  return arcs.join(".");
}

/** Contents of an OCTET STRING, primitive or constructed (BER, X.690 §8.7.3). */
export function octetStringValue(buf: Buffer, node: DerNode, depth = 0): Buffer {
  if (node.tag === TAG.OCTET_STRING) return buf.subarray(node.content, node.contentEnd);
  if (node.tag !== (TAG.OCTET_STRING | 0x20)) throw new DerError(`expected OCTET STRING at ${node.start}`);
  if (depth > 8) throw new DerError(`nesting too deep at ${node.start}`);
  return Buffer.concat(derChildren(buf, node).map((c) => octetStringValue(buf, c, depth + 1)));
}

/** UTCTime / GeneralizedTime (Z form, RFC 5280 §4.1.2.5) → ms since the epoch. */
export function timeValue(buf: Buffer, node: DerNode): number {
  const text = buf.toString("latin1", node.content, node.contentEnd);
  let m: RegExpExecArray | null;
  if (node.tag === TAG.UTC_TIME && (m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?Z$/.exec(text))) {
    const yy = Number(m[1]);
    return Date.UTC(yy < 50 ? 2000 + yy : 1900 + yy, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0));
  }
  if (node.tag === TAG.GENERALIZED_TIME && (m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.\d+)?Z$/.exec(text))) {
    return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  }
  throw new DerError(`unreadable time at ${node.start}`);
}
