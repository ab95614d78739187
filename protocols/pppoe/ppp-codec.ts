// PPP frames and the control packets a PPPoE access link needs: LCP (RFC 1661 §5), IPCP (RFC 1332), PAP
// (RFC 1334 §2.2) and CHAP (RFC 1994 §4). Decoders read only what the Length fields allow and throw only
// PppoeDecodeError; octets past a Length are padding (RFC 1661 §5).
import { PppoeDecodeError } from "./pppoe-decode-error.js";

/** PPP protocol numbers: LCP, PAP, CHAP, IPCP, IPv4. */
export const PppProtocol = {
  ipv4: 0x0021,
  ipcp: 0x8021,
  lcp: 0xc021,
  pap: 0xc023,
  chap: 0xc223,
} as const;

/** One PPP frame: Protocol and Information (RFC 1661 §2). */
export interface PppFrame {
  protocol: number;
  information: Buffer;
}

/**
 * A PPP frame as it comes off a line or a PPPoE session: Address/Control (0xff 0x03) optional (ACFC,
 * RFC 1661 §6.6), Protocol of one or two octets (PFC, §6.5; a valid Protocol is odd in its last octet and
 * even in its first, §2).
 */
export function decodePppFrame(buf: Buffer): PppFrame {
  let off = 0;
  if (buf.length >= 2 && buf[0] === 0xff && buf[1] === 0x03) off = 2;
  const first = buf[off];
  if (first === undefined) throw new PppoeDecodeError("truncated", off, "PPP frame has no Protocol field");
  let protocol: number;
  if ((first & 1) === 1) {
    protocol = first;
    off += 1;
  } else {
    const second = buf[off + 1];
    if (second === undefined) throw new PppoeDecodeError("truncated", off + 1, "PPP Protocol field is cut after one octet");
    if ((second & 1) === 0) throw new PppoeDecodeError("bad-ppp-protocol", off, `Protocol 0x${((first << 8) | second).toString(16)} is even`);
    protocol = (first << 8) | second;
    off += 2;
  }
  return { protocol, information: Buffer.from(buf.subarray(off)) };
}

/** Protocol (two octets) and Information; with `addressControl`, 0xff 0x03 first (an HDLC line, RFC 1662 §3.1). */
export function encodePppFrame(frame: PppFrame, options: { addressControl?: boolean } = {}): Buffer {
  if (!Number.isInteger(frame.protocol) || frame.protocol < 1 || frame.protocol > 0xffff || (frame.protocol & 1) === 0 || (frame.protocol & 0x100) !== 0) {
    throw new RangeError(`PPP Protocol 0x${frame.protocol.toString(16)} is not valid (RFC 1661 §2)`);
  }
  const head = options.addressControl ? 4 : 2;
  const out = Buffer.allocUnsafe(head + frame.information.length);
  if (options.addressControl) {
    out[0] = 0xff;
    out[1] = 0x03;
  }
  out.writeUInt16BE(frame.protocol, head - 2);
  frame.information.copy(out, head);
  return out;
}

// ------------------------------------------------------------------------------------ LCP and IPCP

/** Codes of the PPP control protocols (RFC 1661 §5). */
export const ControlCode = {
  configureRequest: 1,
  configureAck: 2,
  configureNak: 3,
  configureReject: 4,
  terminateRequest: 5,
  terminateAck: 6,
  codeReject: 7,
  protocolReject: 8,
  echoRequest: 9,
  echoReply: 10,
  discardRequest: 11,
} as const;

/** A Configuration Option (RFC 1661 §6): Type, and Data without the Type/Length octets. */
export interface PppOption {
  type: number;
  data: Buffer;
}

/** The Configure-* codes of the option negotiation. */
export type ConfigureCode = "configure-request" | "configure-ack" | "configure-nak" | "configure-reject";

/** A packet of a PPP control protocol (LCP, IPCP). */
export type ControlPacket =
  | { code: ConfigureCode; identifier: number; options: PppOption[] }
  | { code: "terminate-request" | "terminate-ack"; identifier: number; data: Buffer }
  | { code: "code-reject"; identifier: number; rejected: Buffer }
  | { code: "protocol-reject"; identifier: number; protocol: number; rejected: Buffer }
  | { code: "echo-request" | "echo-reply" | "discard-request"; identifier: number; magic: number; data: Buffer }
  /** A code this protocol does not know: answered with Code-Reject (RFC 1661 §5.6). */
  | { code: "unknown"; codeNumber: number; identifier: number; data: Buffer };

const CODE_BY_NUMBER = new Map<number, ControlPacket["code"]>([
  [1, "configure-request"],
  [2, "configure-ack"],
  [3, "configure-nak"],
  [4, "configure-reject"],
  [5, "terminate-request"],
  [6, "terminate-ack"],
  [7, "code-reject"],
  [8, "protocol-reject"],
  [9, "echo-request"],
  [10, "echo-reply"],
  [11, "discard-request"],
]);
const NUMBER_BY_CODE = new Map([...CODE_BY_NUMBER].map(([n, c]) => [c, n]));

/** Which codes a control protocol has: LCP all eleven, IPCP codes 1–7 (RFC 1332 §2). */
export type ControlProtocolName = "lcp" | "ipcp";

/** Fixed Data lengths of the options this layer reads (RFC 1661 §6, RFC 1332 §3, RFC 1877). */
const LCP_OPTION_LENGTHS = new Map<number, number>([
  [1, 2], // Maximum-Receive-Unit
  [2, 4], // Async-Control-Character-Map
  [5, 4], // Magic-Number
  [7, 0], // Protocol-Field-Compression
  [8, 0], // Address-and-Control-Field-Compression
]);
const IPCP_OPTION_LENGTHS = new Map<number, number>([
  [3, 4], // IP-Address
  [129, 4], // Primary DNS
  [131, 4], // Secondary DNS
]);

/** LCP configuration option types (RFC 1661 §6). */
export const LcpOption = { mru: 1, accm: 2, authProtocol: 3, magicNumber: 5, pfc: 7, acfc: 8 } as const;
/** IPCP configuration option types (RFC 1332, RFC 1877). */
export const IpcpOption = { ipAddress: 3, primaryDns: 129, secondaryDns: 131 } as const;

function decodeOptions(buf: Buffer, start: number, end: number, protocol: ControlProtocolName): PppOption[] {
  const fixed = protocol === "lcp" ? LCP_OPTION_LENGTHS : IPCP_OPTION_LENGTHS;
  const options: PppOption[] = [];
  let off = start;
  while (off < end) {
    if (end - off < 2) throw new PppoeDecodeError("bad-ppp-option", off, `${end - off} octet left, an option needs 2`);
    const type = buf[off] ?? 0;
    const length = buf[off + 1] ?? 0;
    if (length < 2) throw new PppoeDecodeError("bad-ppp-option", off + 1, `option ${type} with Length ${length} (< 2)`);
    if (length > end - off) throw new PppoeDecodeError("bad-ppp-option", off + 1, `option ${type} Length ${length} exceeds the ${end - off} octets left`);
    const want = fixed.get(type);
    if (want !== undefined && length - 2 !== want) {
      throw new PppoeDecodeError("bad-ppp-option", off + 1, `${protocol.toUpperCase()} option ${type} has ${length - 2} data octets, wants ${want}`);
    }
    // Authentication-Protocol carries at least the two-octet protocol (RFC 1661 §6.2).
    if (protocol === "lcp" && type === LcpOption.authProtocol && length < 4) {
      throw new PppoeDecodeError("bad-ppp-option", off + 1, `Authentication-Protocol with Length ${length} (< 4)`);
    }
    options.push({ type, data: Buffer.from(buf.subarray(off + 2, off + length)) });
    off += length;
  }
  return options;
}

/** An LCP or IPCP packet (the Information of its PPP frame). */
export function decodeControlPacket(buf: Buffer, protocol: ControlProtocolName): ControlPacket {
  if (buf.length < 4) throw new PppoeDecodeError("truncated", buf.length, `${protocol.toUpperCase()} packet needs 4 octets, ${buf.length} present`);
  const codeNumber = buf[0] ?? 0;
  const identifier = buf[1] ?? 0;
  const length = buf.readUInt16BE(2);
  if (length < 4) throw new PppoeDecodeError("bad-ppp-length", 2, `Length ${length} is shorter than the header`);
  if (length > buf.length) throw new PppoeDecodeError("bad-ppp-length", 2, `Length ${length} exceeds the ${buf.length} octets present`);
  const name = CODE_BY_NUMBER.get(codeNumber);
  const known = name !== undefined && (protocol === "lcp" || codeNumber <= ControlCode.codeReject);
  if (!known) return { code: "unknown", codeNumber, identifier, data: Buffer.from(buf.subarray(4, length)) };
  switch (name) {
    case "configure-request":
    case "configure-ack":
    case "configure-nak":
    case "configure-reject":
      return { code: name, identifier, options: decodeOptions(buf, 4, length, protocol) };
    case "terminate-request":
    case "terminate-ack":
      return { code: name, identifier, data: Buffer.from(buf.subarray(4, length)) };
    case "code-reject":
      return { code: name, identifier, rejected: Buffer.from(buf.subarray(4, length)) };
    case "protocol-reject":
      if (length < 6) throw new PppoeDecodeError("bad-ppp-length", 2, `Protocol-Reject of Length ${length} has no Rejected-Protocol`);
      return { code: name, identifier, protocol: buf.readUInt16BE(4), rejected: Buffer.from(buf.subarray(6, length)) };
    case "echo-request":
    case "echo-reply":
    case "discard-request":
      if (length < 8) throw new PppoeDecodeError("bad-ppp-length", 2, `${name} of Length ${length} has no Magic-Number`);
      return { code: name, identifier, magic: buf.readUInt32BE(4), data: Buffer.from(buf.subarray(8, length)) };
    case "unknown":
      return { code: "unknown", codeNumber, identifier, data: Buffer.from(buf.subarray(4, length)) };
  }
}

function checkByte(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xff) throw new RangeError(`${what} ${value} is not one octet`);
}

/** Total for a valid model; RangeError for one no peer may send (a field out of range, Length over 65535). */
export function encodeControlPacket(packet: ControlPacket): Buffer {
  checkByte(packet.identifier, "Identifier");
  let body: Buffer;
  switch (packet.code) {
    case "configure-request":
    case "configure-ack":
    case "configure-nak":
    case "configure-reject":
      body = Buffer.concat(
        packet.options.map((o) => {
          checkByte(o.type, "option Type");
          if (o.data.length > 253) throw new RangeError(`option ${o.type} data of ${o.data.length} octets exceeds 253`);
          return Buffer.concat([Buffer.from([o.type, o.data.length + 2]), o.data]);
        }),
      );
      break;
    case "terminate-request":
    case "terminate-ack":
      body = packet.data;
      break;
    case "code-reject":
      body = packet.rejected;
      break;
    case "protocol-reject": {
      const head = Buffer.alloc(2);
      head.writeUInt16BE(packet.protocol, 0);
      body = Buffer.concat([head, packet.rejected]);
      break;
    }
    case "echo-request":
    case "echo-reply":
    case "discard-request": {
      const head = Buffer.alloc(4);
      head.writeUInt32BE(packet.magic >>> 0, 0);
      body = Buffer.concat([head, packet.data]);
      break;
    }
    case "unknown":
      checkByte(packet.codeNumber, "Code");
      body = packet.data;
      break;
  }
  const codeNumber = packet.code === "unknown" ? packet.codeNumber : (NUMBER_BY_CODE.get(packet.code) ?? 0);
  if (body.length + 4 > 0xffff) throw new RangeError(`control packet of ${body.length + 4} octets exceeds 65535`);
  const out = Buffer.allocUnsafe(4 + body.length);
  out[0] = codeNumber;
  out[1] = packet.identifier;
  out.writeUInt16BE(4 + body.length, 2);
  body.copy(out, 4);
  return out;
}

// ------------------------------------------------------------------------------------------- PAP

/** A PAP packet: request, ack or nak. */
export type PapPacket =
  | { code: "authenticate-request"; identifier: number; peerId: Buffer; password: Buffer }
  | { code: "authenticate-ack" | "authenticate-nak"; identifier: number; message: Buffer };

/** RFC 1334 §2.2. */
export function decodePapPacket(buf: Buffer): PapPacket {
  if (buf.length < 4) throw new PppoeDecodeError("truncated", buf.length, `PAP packet needs 4 octets, ${buf.length} present`);
  const code = buf[0] ?? 0;
  const identifier = buf[1] ?? 0;
  const length = buf.readUInt16BE(2);
  if (length < 4 || length > buf.length) throw new PppoeDecodeError("bad-ppp-length", 2, `PAP Length ${length} outside 4..${buf.length}`);
  if (code === 1) {
    const idLength = buf[4];
    if (idLength === undefined || length < 5) throw new PppoeDecodeError("bad-ppp-length", 4, "Authenticate-Request has no Peer-ID Length");
    const pwAt = 5 + idLength;
    if (pwAt + 1 > length) throw new PppoeDecodeError("bad-ppp-length", 4, `Peer-ID Length ${idLength} leaves no Passwd-Length in Length ${length}`);
    const pwLength = buf[pwAt] ?? 0;
    if (pwAt + 1 + pwLength > length) throw new PppoeDecodeError("bad-ppp-length", pwAt, `Passwd-Length ${pwLength} exceeds Length ${length}`);
    return {
      code: "authenticate-request",
      identifier,
      peerId: Buffer.from(buf.subarray(5, pwAt)),
      password: Buffer.from(buf.subarray(pwAt + 1, pwAt + 1 + pwLength)),
    };
  }
  if (code === 2 || code === 3) {
    const msgLength = buf[4];
    if (msgLength === undefined || length < 5) throw new PppoeDecodeError("bad-ppp-length", 4, `PAP code ${code} has no Msg-Length`);
    if (5 + msgLength > length) throw new PppoeDecodeError("bad-ppp-length", 4, `Msg-Length ${msgLength} exceeds Length ${length}`);
    return { code: code === 2 ? "authenticate-ack" : "authenticate-nak", identifier, message: Buffer.from(buf.subarray(5, 5 + msgLength)) };
  }
  throw new PppoeDecodeError("bad-code", 0, `PAP code ${code} is unknown`);
}

function withHeader(code: number, identifier: number, body: Buffer): Buffer {
  checkByte(identifier, "Identifier");
  const out = Buffer.allocUnsafe(4 + body.length);
  out[0] = code;
  out[1] = identifier;
  out.writeUInt16BE(4 + body.length, 2);
  body.copy(out, 4);
  return out;
}

function short(value: Buffer, what: string): Buffer {
  if (value.length > 255) throw new RangeError(`${what} of ${value.length} octets exceeds 255`);
  return Buffer.concat([Buffer.from([value.length]), value]);
}

/** Encodes a PAP packet (RFC 1334 §2). */
export function encodePapPacket(packet: PapPacket): Buffer {
  if (packet.code === "authenticate-request") {
    return withHeader(1, packet.identifier, Buffer.concat([short(packet.peerId, "Peer-ID"), short(packet.password, "Password")]));
  }
  return withHeader(packet.code === "authenticate-ack" ? 2 : 3, packet.identifier, short(packet.message, "Message"));
}

// ------------------------------------------------------------------------------------------ CHAP

/** A CHAP packet: challenge, response, success or failure. */
export type ChapPacket =
  | { code: "challenge" | "response"; identifier: number; value: Buffer; name: Buffer }
  | { code: "success" | "failure"; identifier: number; message: Buffer };

/** RFC 1994 §4. */
export function decodeChapPacket(buf: Buffer): ChapPacket {
  if (buf.length < 4) throw new PppoeDecodeError("truncated", buf.length, `CHAP packet needs 4 octets, ${buf.length} present`);
  const code = buf[0] ?? 0;
  const identifier = buf[1] ?? 0;
  const length = buf.readUInt16BE(2);
  if (length < 4 || length > buf.length) throw new PppoeDecodeError("bad-ppp-length", 2, `CHAP Length ${length} outside 4..${buf.length}`);
  if (code === 1 || code === 2) {
    const size = buf[4];
    if (size === undefined || length < 5) throw new PppoeDecodeError("bad-ppp-length", 4, "CHAP Challenge/Response has no Value-Size");
    if (size === 0) throw new PppoeDecodeError("bad-ppp-length", 4, "CHAP Value-Size 0 (RFC 1994 §4.1: one octet or more)");
    if (5 + size > length) throw new PppoeDecodeError("bad-ppp-length", 4, `Value-Size ${size} exceeds Length ${length}`);
    return { code: code === 1 ? "challenge" : "response", identifier, value: Buffer.from(buf.subarray(5, 5 + size)), name: Buffer.from(buf.subarray(5 + size, length)) };
  }
  if (code === 3 || code === 4) return { code: code === 3 ? "success" : "failure", identifier, message: Buffer.from(buf.subarray(4, length)) };
  throw new PppoeDecodeError("bad-code", 0, `CHAP code ${code} is unknown`);
}

/** Encodes a CHAP packet (RFC 1994 §4). */
export function encodeChapPacket(packet: ChapPacket): Buffer {
  if (packet.code === "challenge" || packet.code === "response") {
    if (packet.value.length === 0) throw new RangeError("CHAP Value is empty");
    return withHeader(packet.code === "challenge" ? 1 : 2, packet.identifier, Buffer.concat([short(packet.value, "Value"), packet.name]));
  }
  const status = packet as Extract<ChapPacket, { message: Buffer }>;
  return withHeader(status.code === "success" ? 3 : 4, status.identifier, status.message);
}
