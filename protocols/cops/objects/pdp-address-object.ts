// RFC 2748 §2.2.13 PDP Redirect Address / §2.2.14 Last PDP Address: address + 16 reserved + 16-bit TCP port.
import { CopsDecodeError } from "../cops-decode-error.js";
import { addressLength, readIp, writeIp } from "./ip-address.js";
import type { PdpAddressObject } from "./object-types.js";

export function pdpAddressBodyLength(obj: PdpAddressObject): number {
  return addressLength(obj.family) + 4;
}

export function writePdpAddressBody(obj: PdpAddressObject, buf: Buffer, offset: number): void {
  const a = addressLength(obj.family);
  writeIp(obj.family, obj.address, buf, offset);
  buf.writeUInt16BE(0, offset + a);
  buf.writeUInt16BE(obj.port, offset + a + 2);
}

export function readPdpAddressBody(
  kind: PdpAddressObject["kind"],
  cType: number,
  buf: Buffer,
  start: number,
  end: number,
): PdpAddressObject {
  const family = cType === 1 ? 4 : 6;
  const a = addressLength(family);
  if (end - start !== a + 4) {
    throw new CopsDecodeError("bad-object-length", start, `${kind} body must be ${a + 4} octets`, { cNum: kind === "pdp-redirect-address" ? 13 : 14, cType });
  }
  return { kind, family, address: readIp(family, buf, start), port: buf.readUInt16BE(start + a + 2) };
}
