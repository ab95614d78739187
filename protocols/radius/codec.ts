// RADIUS packet codec: RFC 2865 §3 (packet), §5 (attributes), §5.2 (User-Password), RFC 2866 §3
// (Accounting Request Authenticator), RFC 3579 §3.2 (Message-Authenticator), RFC 5997 (Status-Server).
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { attributeValueType, type RadiusValueType } from "./dictionary.js";
import { RadiusDecodeError, RadiusEncodeError } from "./errors.js";

/** RADIUS packet codes (RFC 2865 §3, RFC 2866 §3). */
export const RadiusCode = {
  AccessRequest: 1,
  AccessAccept: 2,
  AccessReject: 3,
  AccountingRequest: 4,
  AccountingResponse: 5,
  AccessChallenge: 11,
  StatusServer: 12,
} as const;
export type RadiusCode = (typeof RadiusCode)[keyof typeof RadiusCode];

const KNOWN_CODES = new Set<number>(Object.values(RadiusCode));
/** RFC 2865 §3: minimum and maximum Length. */
export const RADIUS_HEADER_LENGTH = 20;
/** The longest RADIUS packet (RFC 2865 §3). */
export const RADIUS_MAX_PACKET_LENGTH = 4096;
const USER_PASSWORD = 2;
const VENDOR_SPECIFIC = 26;
const MESSAGE_AUTHENTICATOR = 80;
const EAP_MESSAGE = 79;

/** One attribute of a packet: type and value. */
export type RadiusAttribute =
  | { type: number; kind: "text"; value: string }
  | { type: number; kind: "string" | "octets"; value: Buffer }
  | { type: number; kind: "integer" | "date"; value: number }
  | { type: number; kind: "ipaddr"; value: string }
  /** User-Password in clear; hidden on the wire per RFC 2865 §5.2. */
  | { type: number; kind: "password"; value: Buffer }
  /** RFC 2865 §5.26: Vendor-Id and the vendor's bytes (see `vendorSubAttributes`). */
  | { type: number; kind: "vsa"; vendorId: number; data: Buffer };

/** A decoded RADIUS packet: code, identifier, authenticator, attributes. */
export interface RadiusPacket {
  code: RadiusCode;
  /** 0..255, matches a response to its request (RFC 2865 §3). */
  identifier: number;
  /** 16 octets. For Access-Request and Status-Server the caller supplies it (random); otherwise computed. */
  authenticator: Buffer;
  attributes: RadiusAttribute[];
}

/** Whether a code is a response (Accept, Reject, Challenge, Accounting-Response). */
export function isResponseCode(code: number): boolean {
  return code === 2 || code === 3 || code === 5 || code === 11;
}

/** Wire type the codec uses for an attribute in a packet of `code` (User-Password is hidden in Access-Request only). */
export function wireValueType(type: number, code: number): RadiusValueType {
  if (type === USER_PASSWORD && code !== RadiusCode.AccessRequest) return "octets";
  return attributeValueType(type);
}

const md5 = (...parts: Buffer[]): Buffer => {
  const h = createHash("md5");
  for (const p of parts) h.update(p);
  return h.digest();
};

const NO_SECRET = Buffer.alloc(0);
const NO_AUTHENTICATOR = Buffer.alloc(16);

const toSecret = (secret: Buffer | string): Buffer => (typeof secret === "string" ? Buffer.from(secret, "utf8") : secret);

/** RFC 2865 §5.2: pad to 16·n (n ≤ 8) with NULs, XOR with the MD5 chain over secret and authenticator. */
export function hideUserPassword(clear: Buffer, secret: Buffer | string, authenticator: Buffer): Buffer {
  if (clear.length > 128) throw new RadiusEncodeError("User-Password longer than 128 octets (RFC 2865 §5.2)", USER_PASSWORD);
  const s = toSecret(secret);
  const padded = Buffer.alloc(Math.max(16, Math.ceil(clear.length / 16) * 16));
  clear.copy(padded);
  let previous = authenticator;
  for (let i = 0; i < padded.length; i += 16) {
    const b = md5(s, previous);
    for (let j = 0; j < 16; j++) padded[i + j] = (padded[i + j] ?? 0) ^ (b[j] ?? 0);
    previous = padded.subarray(i, i + 16);
  }
  return padded;
}

/** RFC 2865 §5.2 reversed; trailing NUL padding removed. */
export function revealUserPassword(hidden: Buffer, secret: Buffer | string, authenticator: Buffer): Buffer {
  const s = toSecret(secret);
  const out = Buffer.alloc(hidden.length);
  let previous = authenticator;
  for (let i = 0; i < hidden.length; i += 16) {
    const b = md5(s, previous);
    for (let j = 0; j < 16; j++) out[i + j] = (hidden[i + j] ?? 0) ^ (b[j] ?? 0);
    previous = hidden.subarray(i, i + 16);
  }
  let end = out.length;
  while (end > 0 && out[end - 1] === 0) end--;
  return out.subarray(0, end);
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function decodeAttribute(code: number, type: number, value: Buffer, at: number, authenticator: Buffer, secret: Buffer): RadiusAttribute {
  const kind = wireValueType(type, code);
  const fixed = (n: number): void => {
    if (value.length !== n)
      throw new RadiusDecodeError("bad-attribute-length", at, `attribute ${type} (${kind}) has ${value.length} octets, needs ${n}`, type);
  };
  switch (kind) {
    case "integer":
    case "date":
      fixed(4);
      return { type, kind, value: value.readUInt32BE(0) };
    case "ipaddr":
      fixed(4);
      return { type, kind, value: `${value[0]}.${value[1]}.${value[2]}.${value[3]}` };
    case "text":
    case "string": {
      if (value.length === 0) throw new RadiusDecodeError("empty-attribute", at, `attribute ${type} has no value`, type);
      if (type === MESSAGE_AUTHENTICATOR) fixed(16);
      if (kind === "string") return { type, kind, value: Buffer.from(value) };
      try {
        return { type, kind, value: utf8.decode(value) };
      } catch {
        throw new RadiusDecodeError("bad-text", at, `attribute ${type} is not UTF-8`, type);
      }
    }
    case "password":
      if (value.length < 16 || value.length > 128 || value.length % 16 !== 0)
        throw new RadiusDecodeError("bad-password", at, `User-Password of ${value.length} octets is not 16·n, n = 1..8`, type);
      return { type, kind, value: revealUserPassword(value, secret, authenticator) };
    case "vsa":
      if (value.length < 5) throw new RadiusDecodeError("bad-vendor-specific", at, `Vendor-Specific of ${value.length} octets`, type);
      if (value[0] !== 0) throw new RadiusDecodeError("bad-vendor-specific", at, "Vendor-Id high-order octet is not 0", type);
      return { type, kind, vendorId: value.readUInt32BE(0), data: Buffer.from(value.subarray(4)) };
    case "octets":
      return { type, kind, value: Buffer.from(value) };
  }
}

/**
 * Decode one datagram. Octets past the Length field are padding and ignored (RFC 2865 §3). Authenticators are
 * not checked here: call `verifyRadiusPacket` on the same bytes. Throws only RadiusDecodeError.
 */
export function decodeRadiusPacket(buf: Buffer, secret: Buffer | string): RadiusPacket {
  if (buf.length < RADIUS_HEADER_LENGTH)
    throw new RadiusDecodeError("truncated", buf.length, `datagram of ${buf.length} octets is shorter than the 20-octet header`);
  const code = buf.readUInt8(0);
  if (!KNOWN_CODES.has(code)) throw new RadiusDecodeError("bad-code", 0, `unknown Code ${code}`);
  const length = buf.readUInt16BE(2);
  if (length < RADIUS_HEADER_LENGTH || length > RADIUS_MAX_PACKET_LENGTH)
    throw new RadiusDecodeError("bad-length", 2, `Length ${length} is outside 20..4096`);
  if (length > buf.length) throw new RadiusDecodeError("truncated", buf.length, `Length ${length} exceeds the ${buf.length}-octet datagram`);
  const s = toSecret(secret);
  const authenticator = Buffer.from(buf.subarray(4, 20));
  const attributes: RadiusAttribute[] = [];
  let at = RADIUS_HEADER_LENGTH;
  while (at < length) {
    if (at + 2 > length) throw new RadiusDecodeError("bad-attribute-length", at, "attribute header overruns the packet");
    const type = buf.readUInt8(at);
    const attrLength = buf.readUInt8(at + 1);
    if (attrLength < 2) throw new RadiusDecodeError("bad-attribute-length", at + 1, `attribute ${type} Length ${attrLength} < 2`, type);
    if (at + attrLength > length)
      throw new RadiusDecodeError("bad-attribute-length", at + 1, `attribute ${type} Length ${attrLength} overruns the packet`, type);
    attributes.push(decodeAttribute(code, type, buf.subarray(at + 2, at + attrLength), at, authenticator, s));
    at += attrLength;
  }
  return { code: code as RadiusCode, identifier: buf.readUInt8(1), authenticator, attributes };
}

function ipv4(value: string, type: number): Buffer {
  const parts = value.split(".");
  const out = Buffer.alloc(4);
  if (parts.length !== 4) throw new RadiusEncodeError(`attribute ${type}: ${JSON.stringify(value)} is not an IPv4 address`, type);
  parts.forEach((p, i) => {
    const n = Number(p);
    if (!/^\d{1,3}$/.test(p) || n > 255) throw new RadiusEncodeError(`attribute ${type}: ${JSON.stringify(value)} is not an IPv4 address`, type);
    out[i] = n;
  });
  return out;
}

function u32(value: number, type: number): Buffer {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff)
    throw new RadiusEncodeError(`attribute ${type}: ${value} is not a 32-bit unsigned integer`, type);
  const out = Buffer.alloc(4);
  out.writeUInt32BE(value);
  return out;
}

function attributeValueBytes(code: number, a: RadiusAttribute, secret: Buffer, authenticator: Buffer): Buffer {
  const expected = wireValueType(a.type, code);
  if (a.kind !== expected) throw new RadiusEncodeError(`attribute ${a.type} must be ${expected}, got ${a.kind}`, a.type);
  switch (a.kind) {
    case "integer":
    case "date":
      return u32(a.value, a.type);
    case "ipaddr":
      return ipv4(a.value, a.type);
    case "text":
      return Buffer.from(a.value, "utf8");
    case "string":
    case "octets":
      return a.type === MESSAGE_AUTHENTICATOR ? Buffer.alloc(16) : a.value;
    case "password":
      return hideUserPassword(a.value, secret, authenticator);
    case "vsa": {
      const out = Buffer.alloc(4 + a.data.length);
      if (!Number.isInteger(a.vendorId) || a.vendorId < 0 || a.vendorId > 0xffffff)
        throw new RadiusEncodeError(`Vendor-Id ${a.vendorId} is not a 24-bit SMI code`, a.type);
      out.writeUInt32BE(a.vendorId);
      a.data.copy(out, 4);
      return out;
    }
  }
}

function findMessageAuthenticator(pkt: Buffer): number | undefined {
  let at = RADIUS_HEADER_LENGTH;
  while (at + 2 <= pkt.length) {
    const len = pkt.readUInt8(at + 1);
    if (len < 2) return undefined;
    if (pkt.readUInt8(at) === MESSAGE_AUTHENTICATOR && len === 18 && at + 18 <= pkt.length) return at + 2;
    at += len;
  }
  return undefined;
}

/**
 * Encode a packet. Access-Request and Status-Server carry `packet.authenticator`; a response needs its
 * request's authenticator (RFC 2865 §3); an Accounting-Request's is computed (RFC 2866 §3). A
 * Message-Authenticator attribute in the list is filled in (RFC 3579 §3.2). Throws RadiusEncodeError.
 */
export function encodeRadiusPacket(packet: RadiusPacket, secret: Buffer | string, requestAuthenticator?: Buffer): Buffer {
  const s = toSecret(secret);
  const { code } = packet;
  if (!KNOWN_CODES.has(code)) throw new RadiusEncodeError(`unknown Code ${code}`);
  if (!Number.isInteger(packet.identifier) || packet.identifier < 0 || packet.identifier > 255)
    throw new RadiusEncodeError(`Identifier ${packet.identifier} is not 0..255`);
  const ownAuthenticator = code === RadiusCode.AccessRequest || code === RadiusCode.StatusServer;
  if (ownAuthenticator && packet.authenticator.length !== 16) throw new RadiusEncodeError("Request Authenticator must be 16 octets");
  if (isResponseCode(code) && requestAuthenticator?.length !== 16)
    throw new RadiusEncodeError("a response needs its request's 16-octet Request Authenticator");
  const parts: Buffer[] = [];
  let length = RADIUS_HEADER_LENGTH;
  for (const a of packet.attributes) {
    if (!Number.isInteger(a.type) || a.type < 0 || a.type > 255) throw new RadiusEncodeError(`attribute type ${a.type} is not one octet`);
    const value = attributeValueBytes(code, a, s, packet.authenticator);
    if (value.length > 253) throw new RadiusEncodeError(`attribute ${a.type} value of ${value.length} octets exceeds 253`, a.type);
    if (value.length === 0 && a.kind !== "octets") throw new RadiusEncodeError(`attribute ${a.type} is empty`, a.type);
    parts.push(Buffer.from([a.type, value.length + 2]), value);
    length += value.length + 2;
  }
  if (length > RADIUS_MAX_PACKET_LENGTH) throw new RadiusEncodeError(`packet of ${length} octets exceeds 4096`);
  const out = Buffer.alloc(length);
  out.writeUInt8(code, 0);
  out.writeUInt8(packet.identifier, 1);
  out.writeUInt16BE(length, 2);
  let at = RADIUS_HEADER_LENGTH;
  for (const p of parts) {
    p.copy(out, at);
    at += p.length;
  }
  // The authenticator field while Message-Authenticator is computed (RFC 3579 §3.2; Accounting: zeros).
  if (ownAuthenticator) packet.authenticator.copy(out, 4);
  else if (isResponseCode(code)) requestAuthenticator!.copy(out, 4);
  const ma = findMessageAuthenticator(out);
  if (ma !== undefined) createHmac("md5", s).update(out).digest().copy(out, ma);
  if (code === RadiusCode.AccountingRequest) md5(out, s).copy(out, 4);
  else if (isResponseCode(code)) md5(out, s).copy(out, 4);
  return out;
}

/** Whether a packet's authenticators hold, and which did not. */
export type RadiusVerification =
  | "ok"
  | "bad-authenticator"
  | "bad-message-authenticator"
  | "missing-message-authenticator"
  | "no-request-authenticator";

/** What to check of a packet: the request it answers, the Message-Authenticator. */
export interface RadiusVerifyOptions {
  /**
   * Refuse an Access-Request, Access-Accept, Access-Reject or Access-Challenge without Message-Authenticator:
   * without one an Access-Request is not signed at all, and a response can be forged by an attacker who can
   * compute MD5 collisions (CVE-2024-3596); FreeRADIUS's `require_message_authenticator`.
   */
  requireMessageAuthenticator?: boolean;
}

/**
 * Check a decoded datagram's authenticators: the Accounting-Request's (RFC 2866 §3), a response's
 * (RFC 2865 §3, needs its request's authenticator), and Message-Authenticator when present, which
 * EAP-Message and Status-Server require (RFC 3579 §3.2, RFC 5997 §2).
 */
export function verifyRadiusPacket(
  buf: Buffer,
  secret: Buffer | string,
  requestAuthenticator?: Buffer,
  options: RadiusVerifyOptions = {},
): RadiusVerification {
  if (buf.length < RADIUS_HEADER_LENGTH) return "bad-authenticator";
  const s = toSecret(secret);
  const length = Math.min(buf.readUInt16BE(2), buf.length);
  const pkt = Buffer.from(buf.subarray(0, length));
  const code = pkt.readUInt8(0);
  const received = Buffer.from(pkt.subarray(4, 20));
  const response = isResponseCode(code);
  if (response && requestAuthenticator?.length !== 16) return "no-request-authenticator";
  if (code === RadiusCode.AccountingRequest || response) {
    if (response) requestAuthenticator!.copy(pkt, 4);
    else pkt.fill(0, 4, 20);
    if (!timingSafeEqual(md5(pkt, s), received)) return "bad-authenticator";
  }
  const ma = findMessageAuthenticator(pkt);
  if (ma === undefined) {
    if (code === RadiusCode.StatusServer) return "missing-message-authenticator";
    if (options.requireMessageAuthenticator && code !== RadiusCode.AccountingRequest && code !== RadiusCode.AccountingResponse)
      return "missing-message-authenticator";
    if (code === RadiusCode.AccessRequest || code === RadiusCode.AccessChallenge) {
      for (let at = RADIUS_HEADER_LENGTH; at + 2 <= pkt.length && pkt.readUInt8(at + 1) >= 2; at += pkt.readUInt8(at + 1))
        if (pkt.readUInt8(at) === EAP_MESSAGE) return "missing-message-authenticator";
    }
    return "ok";
  }
  const claimed = Buffer.from(pkt.subarray(ma, ma + 16));
  if (code === RadiusCode.AccountingRequest) pkt.fill(0, 4, 20);
  else if (!response) received.copy(pkt, 4);
  pkt.fill(0, ma, ma + 16);
  return timingSafeEqual(createHmac("md5", s).update(pkt).digest(), claimed) ? "ok" : "bad-message-authenticator";
}

/** RFC 2865 §5.26 recommended layout: Vendor-Type, Vendor-Length (≥ 2), value. Throws RadiusDecodeError. */
export function vendorSubAttributes(vsa: { data: Buffer }): { vendorType: number; value: Buffer }[] {
  const out: { vendorType: number; value: Buffer }[] = [];
  const d = vsa.data;
  let at = 0;
  while (at < d.length) {
    if (at + 2 > d.length) throw new RadiusDecodeError("bad-vendor-specific", at, "vendor sub-attribute header overruns", VENDOR_SPECIFIC);
    const len = d.readUInt8(at + 1);
    if (len < 2 || at + len > d.length)
      throw new RadiusDecodeError("bad-vendor-specific", at + 1, `vendor sub-attribute Length ${len} is invalid`, VENDOR_SPECIFIC);
    out.push({ vendorType: d.readUInt8(at), value: Buffer.from(d.subarray(at + 2, at + len)) });
    at += len;
  }
  return out;
}

/** Build a Vendor-Specific attribute in the RFC 2865 §5.26 recommended layout. */
export function vendorSpecific(vendorId: number, subAttributes: { vendorType: number; value: Buffer }[]): RadiusAttribute {
  const data = Buffer.concat(
    subAttributes.map((s) => {
      if (s.value.length > 247) throw new RadiusEncodeError(`vendor sub-attribute ${s.vendorType} too long`, VENDOR_SPECIFIC);
      return Buffer.concat([Buffer.from([s.vendorType, s.value.length + 2]), s.value]);
    }),
  );
  return { type: VENDOR_SPECIFIC, kind: "vsa", vendorId, data };
}

/**
 * An attribute from its type and its value octets as an Accounting-Request carries them (RFC 2865 §5), typed
 * by the dictionary; a Vendor-Specific (§5.26) or a type the dictionary does not know keeps its octets as they
 * are. Throws RadiusDecodeError (offset: within the value) when the octets do not fit the type.
 */
export function radiusAttributeFromOctets(type: number, octets: Buffer): RadiusAttribute {
  if (!Number.isInteger(type) || type < 0 || type > 255) throw new RadiusDecodeError("bad-attribute-type", 0, `attribute type ${type} is not one octet`);
  if (octets.length > 253) throw new RadiusDecodeError("bad-attribute-length", 0, `attribute ${type} value of ${octets.length} octets exceeds 253`, type);
  return decodeAttribute(RadiusCode.AccountingRequest, type, octets, 0, NO_AUTHENTICATOR, NO_SECRET);
}

/** The value octets of an attribute as an Accounting-Request carries them (Vendor-Specific: Vendor-Id, then its data). */
export function radiusAttributeOctets(a: RadiusAttribute): Buffer {
  return Buffer.from(attributeValueBytes(RadiusCode.AccountingRequest, a, NO_SECRET, NO_AUTHENTICATOR));
}
