// RFC 3084 §4 COPS-PR sub-objects inside Named ClientSI / Named Decision Data:
// Length (16) · S-Num (8) · S-Type (8, 1 = BER) · contents padded to 32 bits.
import { CopsDecodeError } from "../cops-decode-error.js";
import { berValueLength, decodeBerValue, writeBerValue } from "./ber.js";
import type { BerValue } from "./ber.js";

/** S-Num of each COPS-PR sub-object (RFC 3084 §4). */
export const SNum = { PRID: 1, PPRID: 2, EPD: 3, GPERR: 4, CPERR: 5, ErrorPRID: 6 } as const;

/** One COPS-PR sub-object. */
export type PrSubObject =
  | { kind: "prid"; oid: string }
  | { kind: "pprid"; oid: string }
  | { kind: "epd"; values: BerValue[] }
  | { kind: "gperr"; code: number; subCode: number }
  | { kind: "cperr"; code: number; subCode: number }
  | { kind: "error-prid"; oid: string };

/** RFC 3084 §4.4 GPERR error codes. */
export const GlobalProvisioningError = {
  availMemLow: 1,
  availMemExhausted: 2,
  unknownASN1Tag: 3,
  maxMsgSizeExceeded: 4,
  unknownError: 5,
  maxRequestStatesOpen: 6,
  invalidASN1Length: 7,
  invalidObjectPad: 8,
  unknownPIBData: 9,
  unknownCOPSPRObject: 10,
  malformedDecision: 11,
} as const;

/** RFC 3084 §4.5 CPERR error codes. */
export const ClassProvisioningError = {
  priSpaceExhausted: 1,
  priInstanceInvalid: 2,
  attrValueInvalid: 3,
  attrValueSupLimited: 4,
  attrEnumSupLimited: 5,
  attrMaxLengthExceeded: 6,
  attrReferenceUnknown: 7,
  priNotifyOnly: 8,
  unknownPrc: 9,
  tooFewAttrs: 10,
  invalidAttrType: 11,
  deletedInRef: 12,
  priSpecificError: 13,
} as const;

const S_NUM: Record<PrSubObject["kind"], number> = {
  prid: SNum.PRID,
  pprid: SNum.PPRID,
  epd: SNum.EPD,
  gperr: SNum.GPERR,
  cperr: SNum.CPERR,
  "error-prid": SNum.ErrorPRID,
};

/** Content octets of a sub-object (without its 4-octet header and padding). */
function contentLength(sub: PrSubObject): number {
  switch (sub.kind) {
    case "prid":
    case "pprid":
    case "error-prid":
      return berValueLength({ type: "oid", value: sub.oid });
    case "epd": {
      let n = 0;
      for (const v of sub.values) n += berValueLength(v);
      return n;
    }
    case "gperr":
    case "cperr":
      return 4;
  }
}

function writeContent(sub: PrSubObject, buf: Buffer, offset: number): number {
  switch (sub.kind) {
    case "prid":
    case "pprid":
    case "error-prid":
      return writeBerValue({ type: "oid", value: sub.oid }, buf, offset);
    case "epd":
      for (const v of sub.values) offset = writeBerValue(v, buf, offset);
      return offset;
    case "gperr":
    case "cperr":
      buf.writeUInt16BE(sub.code, offset);
      buf.writeUInt16BE(sub.subCode, offset + 2);
      return offset + 4;
  }
}

/** Octets the sub-objects take, padded (RFC 3084 §4). */
export function prSubObjectsLength(subs: readonly PrSubObject[]): number {
  let total = 0;
  for (const sub of subs) {
    const length = 4 + contentLength(sub);
    if (length > 0xffff) throw new RangeError("COPS-PR sub-object longer than 65535 octets");
    total += (length + 3) & ~3;
  }
  return total;
}

/** Writes the sub-objects at `offset` (RFC 3084 §4); returns the offset after the last one's padding. */
export function writePrSubObjects(subs: readonly PrSubObject[], buf: Buffer, offset: number): number {
  for (const sub of subs) {
    const end = writeContent(sub, buf, offset + 4);
    const length = end - offset;
    if (length > 0xffff) throw new RangeError("COPS-PR sub-object longer than 65535 octets");
    buf[offset] = length >> 8;
    buf[offset + 1] = length & 0xff;
    buf[offset + 2] = S_NUM[sub.kind];
    buf[offset + 3] = 1; // S-Type 1 = BER
    const padded = (end + 3) & ~3;
    buf.fill(0, end, padded);
    offset = padded;
  }
  return offset;
}

/** Encodes COPS-PR sub-objects (RFC 3084 §4): PRID, PPRID, EPD, errors. */
export function encodePrSubObjects(subs: readonly PrSubObject[]): Buffer {
  const out = Buffer.allocUnsafe(prSubObjectsLength(subs));
  writePrSubObjects(subs, out, 0);
  return out;
}

const KIND_BY_SNUM: (PrSubObject["kind"] | undefined)[] = [undefined, "prid", "pprid", "epd", "gperr", "cperr", "error-prid"];

function readOid(buf: Buffer, start: number, end: number): string {
  const { value, next } = decodeBerValue(buf, start, end);
  if (value.type !== "oid" || next !== end) throw new CopsDecodeError("bad-sub-object", start, "PRID must hold exactly one BER OBJECT IDENTIFIER");
  return value.value;
}

/** Decodes a run of sub-objects; errors carry the GPERR the PDP should hear (RFC 3084 §4.4). */
export function decodePrSubObjects(data: Buffer): PrSubObject[] {
  const subs: PrSubObject[] = [];
  let offset = 0;
  while (offset < data.length) {
    if (data.length - offset < 4) throw new CopsDecodeError("bad-sub-object", offset, "sub-object header truncated");
    const length = data.readUInt16BE(offset);
    const sNum = data[offset + 2] ?? 0;
    const sType = data[offset + 3] ?? 0;
    const next = (offset + length + 3) & ~3;
    if (length < 4 || next > data.length) throw new CopsDecodeError("bad-sub-object", offset, `sub-object length ${length} out of bounds`);
    const kind = KIND_BY_SNUM[sNum];
    if (kind === undefined || sType !== 1) throw new CopsDecodeError("bad-sub-object", offset, `unknown sub-object S-Num ${sNum} S-Type ${sType}`);
    const start = offset + 4;
    const end = offset + length;
    switch (kind) {
      case "prid":
      case "pprid":
      case "error-prid":
        subs.push({ kind, oid: readOid(data, start, end) });
        break;
      case "epd": {
        const values: BerValue[] = [];
        for (let p = start; p < end; ) {
          const r = decodeBerValue(data, p, end);
          values.push(r.value);
          p = r.next;
        }
        subs.push({ kind, values });
        break;
      }
      case "gperr":
      case "cperr":
        if (length !== 8) throw new CopsDecodeError("bad-sub-object", offset, `${kind} must be 8 octets`);
        subs.push({ kind, code: data.readUInt16BE(start), subCode: data.readUInt16BE(start + 2) });
        break;
    }
    offset = next;
  }
  return subs;
}
