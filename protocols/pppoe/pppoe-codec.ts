// RFC 2516 codec: Ethernet II header, PPPoE header (§4), Discovery tags (§5, Appendix A) and the per-code
// rules of §5.1–§5.5. Decoders trust no length and throw only PppoeDecodeError.
import {
  BROADCAST_MAC,
  ETHERNET_HEADER_BYTES,
  EtherType,
  MAX_PADI_FRAME,
  MAX_PPPOE_PAYLOAD,
  MIN_ETHERNET_FRAME,
  PPPOE_HEADER_BYTES,
  PPPOE_VERSION_TYPE,
  PppoeCode,
  TagType,
} from "./constants.js";
import type { DiscoveryCodeName } from "./constants.js";
import { PppoeDecodeError } from "./pppoe-decode-error.js";
import type { MacAddress, PppoeDiscoveryPacket, PppoeFrame, PppoePacket, PppoeTag } from "./pppoe-frame.js";

const CODE_NAMES = new Map<number, DiscoveryCodeName>([
  [PppoeCode.PADI, "PADI"],
  [PppoeCode.PADO, "PADO"],
  [PppoeCode.PADR, "PADR"],
  [PppoeCode.PADS, "PADS"],
  [PppoeCode.PADT, "PADT"],
]);

const utf8 = new TextDecoder("utf-8", { fatal: true });
const MAC_PATTERN = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/;
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** Six octets as a MAC address text. */
export function macToString(buf: Buffer, offset = 0): MacAddress {
  let s = HEX[buf[offset] ?? 0] ?? "00";
  for (let i = 1; i < 6; i++) s += ":" + (HEX[buf[offset + i] ?? 0] ?? "00");
  return s;
}

/** Whether the text is a MAC address (aa:bb:cc:dd:ee:ff). */
export function isMacAddress(mac: string): boolean {
  return MAC_PATTERN.test(mac);
}

function writeMac(mac: MacAddress, out: Buffer, offset: number): void {
  if (!MAC_PATTERN.test(mac)) throw new RangeError(`not a lowercase MAC address: ${JSON.stringify(mac)}`);
  for (let i = 0; i < 6; i++) out[offset + i] = parseInt(mac.slice(i * 3, i * 3 + 2), 16);
}

// ---------------------------------------------------------------------------------------------- encode

function tagBytes(tag: PppoeTag): { type: number; value: Buffer } {
  switch (tag.type) {
    case "end-of-list":
      return { type: TagType.endOfList, value: Buffer.alloc(0) };
    case "service-name":
      return { type: TagType.serviceName, value: Buffer.from(tag.name, "utf8") };
    case "ac-name":
      return { type: TagType.acName, value: Buffer.from(tag.name, "utf8") };
    case "host-uniq":
      return { type: TagType.hostUniq, value: tag.value };
    case "ac-cookie":
      return { type: TagType.acCookie, value: tag.value };
    case "vendor-specific": {
      // The vendor id's high-order octet is 0 (RFC 2516 Appendix A).
      if (!Number.isInteger(tag.vendorId) || tag.vendorId < 0 || tag.vendorId > 0xffffff) {
        throw new RangeError(`vendor id out of range: ${tag.vendorId}`);
      }
      const value = Buffer.alloc(4 + tag.value.length);
      value.writeUInt32BE(tag.vendorId, 0);
      tag.value.copy(value, 4);
      return { type: TagType.vendorSpecific, value };
    }
    case "relay-session-id":
      return { type: TagType.relaySessionId, value: tag.value };
    case "service-name-error":
      return { type: TagType.serviceNameError, value: Buffer.from(tag.message, "utf8") };
    case "ac-system-error":
      return { type: TagType.acSystemError, value: Buffer.from(tag.message, "utf8") };
    case "generic-error":
      return { type: TagType.genericError, value: Buffer.from(tag.message, "utf8") };
    case "unknown":
      return { type: tag.tagType, value: tag.value };
  }
}

function encodeTags(tags: readonly PppoeTag[]): Buffer {
  const parts: Buffer[] = [];
  for (const tag of tags) {
    const { type, value } = tagBytes(tag);
    if (value.length > 0xffff) throw new RangeError(`tag ${tag.type} value too long: ${value.length}`);
    const head = Buffer.alloc(4);
    head.writeUInt16BE(type, 0);
    head.writeUInt16BE(value.length, 2);
    parts.push(head, value);
  }
  return Buffer.concat(parts);
}

function codeOf(packet: PppoePacket): number {
  return packet.kind === "session" ? PppoeCode.session : PppoeCode[packet.code];
}

/** PPPoE header and payload, without the Ethernet header. Throws RangeError for a model no peer may send. */
export function encodePppoePacket(packet: PppoePacket): Buffer {
  const payload = packet.kind === "session" ? packet.payload : encodeTags(packet.tags);
  if (payload.length > MAX_PPPOE_PAYLOAD) throw new RangeError(`PPPoE payload of ${payload.length} octets exceeds ${MAX_PPPOE_PAYLOAD}`);
  if (!Number.isInteger(packet.sessionId) || packet.sessionId < 0 || packet.sessionId > 0xffff) {
    throw new RangeError(`session id out of range: ${packet.sessionId}`);
  }
  const out = Buffer.alloc(PPPOE_HEADER_BYTES + payload.length);
  out[0] = PPPOE_VERSION_TYPE;
  out[1] = codeOf(packet);
  out.writeUInt16BE(packet.sessionId, 2);
  out.writeUInt16BE(payload.length, 4);
  payload.copy(out, PPPOE_HEADER_BYTES);
  return out;
}

/** One Ethernet II frame (no FCS), padded to the 60-octet minimum. */
export function encodePppoeFrame(frame: PppoeFrame): Buffer {
  const pppoe = encodePppoePacket(frame.packet);
  const length = Math.max(MIN_ETHERNET_FRAME, ETHERNET_HEADER_BYTES + pppoe.length);
  const out = Buffer.alloc(length);
  writeMac(frame.destination, out, 0);
  writeMac(frame.source, out, 6);
  out.writeUInt16BE(frame.packet.kind === "session" ? EtherType.session : EtherType.discovery, 12);
  pppoe.copy(out, ETHERNET_HEADER_BYTES);
  return out;
}

// ---------------------------------------------------------------------------------------------- decode

function text(buf: Buffer, start: number, end: number, tagType: number): string {
  try {
    return utf8.decode(buf.subarray(start, end));
  } catch {
    throw new PppoeDecodeError("bad-tag", start, `tag 0x${tagType.toString(16).padStart(4, "0")} is not UTF-8`, tagType);
  }
}

/** Tags of a Discovery payload `buf[start, end)`; `base` is added to offsets in errors. */
function decodeTags(buf: Buffer, start: number, end: number): PppoeTag[] {
  const tags: PppoeTag[] = [];
  let off = start;
  while (off < end) {
    if (end - off < 4) throw new PppoeDecodeError("bad-tag-length", off, `${end - off} octets left, a tag header needs 4`);
    const type = buf.readUInt16BE(off);
    const length = buf.readUInt16BE(off + 2);
    const v = off + 4;
    if (length > end - v) throw new PppoeDecodeError("bad-tag-length", off + 2, `tag length ${length} exceeds the ${end - v} octets left`, type);
    const ve = v + length;
    switch (type) {
      case TagType.endOfList:
        if (length !== 0) throw new PppoeDecodeError("bad-tag-length", off + 2, `End-Of-List with length ${length}`, type);
        tags.push({ type: "end-of-list" });
        return tags; // no further tags (Appendix A)
      case TagType.serviceName:
        tags.push({ type: "service-name", name: text(buf, v, ve, type) });
        break;
      case TagType.acName:
        tags.push({ type: "ac-name", name: text(buf, v, ve, type) });
        break;
      case TagType.hostUniq:
        tags.push({ type: "host-uniq", value: Buffer.from(buf.subarray(v, ve)) });
        break;
      case TagType.acCookie:
        tags.push({ type: "ac-cookie", value: Buffer.from(buf.subarray(v, ve)) });
        break;
      case TagType.vendorSpecific:
        if (length < 4) throw new PppoeDecodeError("bad-tag", v, `Vendor-Specific of ${length} octets has no vendor id`, type);
        if (buf[v] !== 0) throw new PppoeDecodeError("bad-tag", v, "Vendor-Specific vendor id's high octet is not 0", type);
        tags.push({ type: "vendor-specific", vendorId: buf.readUInt32BE(v), value: Buffer.from(buf.subarray(v + 4, ve)) });
        break;
      case TagType.relaySessionId:
        tags.push({ type: "relay-session-id", value: Buffer.from(buf.subarray(v, ve)) });
        break;
      case TagType.serviceNameError:
        tags.push({ type: "service-name-error", message: text(buf, v, ve, type) });
        break;
      case TagType.acSystemError:
        tags.push({ type: "ac-system-error", message: text(buf, v, ve, type) });
        break;
      case TagType.genericError:
        tags.push({ type: "generic-error", message: text(buf, v, ve, type) });
        break;
      default:
        tags.push({ type: "unknown", tagType: type, value: Buffer.from(buf.subarray(v, ve)) });
    }
    off = ve;
  }
  return tags;
}

function count(tags: readonly PppoeTag[], type: PppoeTag["type"]): number {
  let n = 0;
  for (const t of tags) if (t.type === type) n++;
  return n;
}

/** The per-code rules of RFC 2516 §5.1–§5.5 a receiver can check. `offset` locates the PPPoE header. */
function checkDiscovery(packet: PppoeDiscoveryPacket, offset: number): void {
  const { code, sessionId, tags } = packet;
  const needZero = code === "PADI" || code === "PADO" || code === "PADR";
  if (needZero && sessionId !== 0) throw new PppoeDecodeError("bad-session-id", offset + 2, `${code} with SESSION_ID 0x${sessionId.toString(16)}`);
  if (code === "PADT" && sessionId === 0) throw new PppoeDecodeError("bad-session-id", offset + 2, "PADT with SESSION_ID 0");
  if (code === "PADS" && sessionId === 0 && !tags.some((t) => t.type.endsWith("-error"))) {
    throw new PppoeDecodeError("bad-session-id", offset + 2, "PADS with SESSION_ID 0 and no error tag");
  }
  if ((code === "PADI" || code === "PADR") && count(tags, "service-name") !== 1) {
    throw new PppoeDecodeError("missing-tag", offset + PPPOE_HEADER_BYTES, `${code} must carry exactly one Service-Name`, TagType.serviceName);
  }
  if (code === "PADO") {
    if (count(tags, "ac-name") !== 1) throw new PppoeDecodeError("missing-tag", offset + PPPOE_HEADER_BYTES, "PADO must carry exactly one AC-Name", TagType.acName);
    if (count(tags, "service-name") < 1) throw new PppoeDecodeError("missing-tag", offset + PPPOE_HEADER_BYTES, "PADO must carry a Service-Name", TagType.serviceName);
  }
}

/**
 * A PPPoE packet (header and payload) at `buf[offset...]` for the given Ethertype. Octets past LENGTH are
 * Ethernet padding and are ignored.
 */
export function decodePppoePacket(buf: Buffer, etherType: number, offset = 0): PppoePacket {
  if (etherType !== EtherType.discovery && etherType !== EtherType.session) {
    throw new PppoeDecodeError("bad-ethertype", offset, `Ethertype 0x${etherType.toString(16).padStart(4, "0")} is not PPPoE`);
  }
  if (buf.length - offset < PPPOE_HEADER_BYTES) throw new PppoeDecodeError("truncated", buf.length, `PPPoE header needs 6 octets, ${Math.max(0, buf.length - offset)} present`);
  if (buf[offset] !== PPPOE_VERSION_TYPE) throw new PppoeDecodeError("bad-version-type", offset, `VER/TYPE 0x${(buf[offset] ?? 0).toString(16)} (want 0x11)`);
  const code = buf[offset + 1] ?? 0;
  const sessionId = buf.readUInt16BE(offset + 2);
  const length = buf.readUInt16BE(offset + 4);
  const start = offset + PPPOE_HEADER_BYTES;
  if (length > MAX_PPPOE_PAYLOAD) throw new PppoeDecodeError("frame-too-large", offset + 4, `LENGTH ${length} exceeds ${MAX_PPPOE_PAYLOAD}`);
  if (length > buf.length - start) throw new PppoeDecodeError("bad-length", offset + 4, `LENGTH ${length} exceeds the ${buf.length - start} octets present`);
  if (sessionId === 0xffff) throw new PppoeDecodeError("bad-session-id", offset + 2, "SESSION_ID 0xffff is reserved");
  if (etherType === EtherType.session) {
    if (code !== PppoeCode.session) throw new PppoeDecodeError("bad-code", offset + 1, `Session stage CODE 0x${code.toString(16)} (want 0x00)`);
    if (sessionId === 0) throw new PppoeDecodeError("bad-session-id", offset + 2, "Session stage with SESSION_ID 0");
    return { kind: "session", sessionId, payload: Buffer.from(buf.subarray(start, start + length)) };
  }
  const name = CODE_NAMES.get(code);
  if (name === undefined) throw new PppoeDecodeError("bad-code", offset + 1, `Discovery CODE 0x${code.toString(16)} is unknown`);
  const packet: PppoeDiscoveryPacket = { kind: "discovery", code: name, sessionId, tags: decodeTags(buf, start, start + length) };
  checkDiscovery(packet, offset);
  return packet;
}

/** One Ethernet II frame (no FCS) carrying PPPoE. */
export function decodePppoeFrame(buf: Buffer): PppoeFrame {
  if (buf.length < ETHERNET_HEADER_BYTES) throw new PppoeDecodeError("truncated", buf.length, `Ethernet header needs 14 octets, ${buf.length} present`);
  const packet = decodePppoePacket(buf, buf.readUInt16BE(12), ETHERNET_HEADER_BYTES);
  const source = macToString(buf, 6);
  // A source address is never group or broadcast (IEEE 802.3 §3.2.3).
  if (((buf[6] ?? 0) & 1) === 1) throw new PppoeDecodeError("bad-mac", 6, `source ${source} is a group address`);
  const destination = macToString(buf, 0);
  if (packet.kind === "discovery" && packet.code === "PADI") {
    if (destination !== BROADCAST_MAC) throw new PppoeDecodeError("bad-mac", 0, `PADI to ${destination}, not broadcast`);
    if (ETHERNET_HEADER_BYTES + PPPOE_HEADER_BYTES + buf.readUInt16BE(18) > MAX_PADI_FRAME) {
      throw new PppoeDecodeError("frame-too-large", 18, `PADI exceeds ${MAX_PADI_FRAME} octets`);
    }
  } else if (((buf[0] ?? 0) & 1) === 1) {
    throw new PppoeDecodeError("bad-mac", 0, `${packet.kind === "session" ? "session frame" : packet.code} to group address ${destination}`);
  }
  return { destination, source, packet };
}

/** Ethertype of a raw Ethernet frame, or undefined when it is shorter than its header. */
export function peekEtherType(buf: Buffer): number | undefined {
  return buf.length >= ETHERNET_HEADER_BYTES ? buf.readUInt16BE(12) : undefined;
}
