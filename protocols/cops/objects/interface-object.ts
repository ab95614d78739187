// RFC 2748 §2.2.3 In-Interface / §2.2.4 Out-Interface: address + 32-bit ifindex (C-Type 1 IPv4, 2 IPv6).
import { CopsDecodeError } from "../cops-decode-error.js";
import { addressLength, readIp, writeIp } from "./ip-address.js";
import type { InterfaceObject } from "./object-types.js";

export function interfaceBodyLength(obj: InterfaceObject): number {
  return addressLength(obj.family) + 4;
}

export function writeInterfaceBody(obj: InterfaceObject, buf: Buffer, offset: number): void {
  writeIp(obj.family, obj.address, buf, offset);
  buf.writeUInt32BE(obj.ifIndex >>> 0, offset + addressLength(obj.family));
}

export function readInterfaceBody(
  kind: InterfaceObject["kind"],
  cType: number,
  buf: Buffer,
  start: number,
  end: number,
): InterfaceObject {
  const family = cType === 1 ? 4 : 6;
  const size = addressLength(family) + 4;
  if (end - start !== size) {
    throw new CopsDecodeError("bad-object-length", start, `${kind} body must be ${size} octets`, { cNum: kind === "in-interface" ? 3 : 4, cType });
  }
  return { kind, family, address: readIp(family, buf, start), ifIndex: buf.readUInt32BE(start + size - 4) };
}
