// callgate enterprise client type 0x8cb1: SIP proxy (PEP) ↔ policy server (PDP), the REQ AAA / REQ LDP /
// REQ noLDP exchanges of WO 01/35294. Byte layout: docs/protocols/cops.md "Client type 0x8cb1".
import { CopsDecodeError } from "../cops-decode-error.js";
import { ClientType, CommandCode, ErrorCode, RType } from "../constants.js";
import type { CopsDecision, CopsDecisionMessage, CopsMessage, CopsRequestMessage } from "../cops-message.js";
import { encodeCopsMessage } from "../cops-codec.js";
import { addressLength, ipFamilyOf, readIp, readIpv4, writeIp } from "../objects/ip-address.js";
import type { IpFamily } from "../objects/ip-address.js";

/** The COPS client type between the SIP proxies and their policy servers. */
export const SIP_AAA_CLIENT_TYPE = ClientType.SipAaa;

/** Context M-Type of this client type: which of the patent's requests a REQ/DEC belongs to. */
export const SipAaaPurpose = { AAA: 1, LDP: 2, noLDP: 3 } as const;
/** AAA, LDP or noLDP: what a request of this client type asks. */
export type SipAaaPurposeName = keyof typeof SipAaaPurpose;

/** TLV types inside the Signaled ClientSI (REQ) and the Client Specific Decision Data (DEC). */
export const SipAaaTlv = {
  CallId: 1,
  Caller: 2,
  Callee: 3,
  MediaFlow: 4,
  RequestedClass: 5,
  OspToken: 6,
  ConnectedMs: 7,
  ProxyAuthorization: 8,
  MediaChange: 9,
  Reason: 16,
  Token: 17,
  TimeLimit: 18,
  Dscp: 19,
} as const;

/** One media flow of the call, from the SDP offer and answer. */
export interface SipAaaMediaFlow {
  /** IP protocol number (17 UDP, 6 TCP). */
  protocol: number;
  family: IpFamily;
  srcAddress: string;
  srcPort: number;
  dstAddress: string;
  dstPort: number;
  /** Codec name as in SDP rtpmap, e.g. "PCMU/8000". */
  codec: string;
  /** Bandwidth in bit/s. */
  bandwidthBps: number;
}

/** What a proxy tells its policy server about the call. */
export interface SipAaaRequestInfo {
  callId: string;
  caller?: string;
  callee?: string;
  flows: SipAaaMediaFlow[];
  /** Requested DiffServ class (PHB name: "EF", "AF41", "BE"). */
  requestedClass?: string;
  /** OSP token bytes, carried opaque (never an OSP type). */
  ospToken?: Buffer;
  /** REQ noLDP: milliseconds the call was connected at the PEP, from the 2xx it relayed to the BYE. */
  connectedMs?: number;
  /** REQ AAA: the INVITE's Proxy-Authorization value for the PEP's realm (RFC 3261 §22.3), as text. */
  proxyAuthorization?: string;
  /**
   * REQ LDP on an installed call's handle (RFC 2748 §3.4, an updated request state): the media changed
   * (re-INVITE, UPDATE) and `flows` replace the installed ones. Counts 1, 2, … per call; a number already
   * seen is a resent request, not a new change.
   */
  mediaChange?: number;
}

/** What a policy server tells the proxy with its decision. */
export interface SipAaaDecisionInfo {
  /** Why (mainly on refusal): a code of the policy server and a text. */
  reason?: { code: number; text: string };
  /** Token bytes the proxy forwards (e.g. OSP token from the clearinghouse). */
  token?: Buffer;
  /** Maximum call duration in seconds. */
  timeLimitSeconds?: number;
  /** DSCP to mark the media with (0–63). */
  dscp?: number;
}

// ---- TLV framing: Type (16) · Length (16, value octets) · Value · zero padding to 32 bits ----

function tlvSize(valueLength: number): number {
  return (4 + valueLength + 3) & ~3;
}

function checkTlvValue(type: number, length: number): number {
  if (length > 0xffff) throw new RangeError(`TLV ${type} value longer than 65535 octets`);
  return tlvSize(length);
}

/** Writes a TLV header at `offset`; the value follows at `offset + 4`. */
function writeTlvHeader(type: number, length: number, buf: Buffer, offset: number): number {
  buf[offset] = type >> 8;
  buf[offset + 1] = type & 0xff;
  buf[offset + 2] = length >> 8;
  buf[offset + 3] = length & 0xff;
  return offset + 4;
}

/** Zero padding after a value ending at `end`; returns the next TLV's offset. */
function pad(buf: Buffer, end: number): number {
  const padded = (end + 3) & ~3;
  for (let i = end; i < padded; i++) buf[i] = 0;
  return padded;
}

/** UTF-8 octets of `text`: its length when it is ASCII (the common case), without a call into the runtime. */
function utf8Length(text: string): number {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) >= 0x80) return Buffer.byteLength(text, "utf8");
  return text.length;
}

/** Writes `text` (whose UTF-8 length is `length`) at `offset`; ASCII text octet by octet. */
function writeText(text: string, length: number, buf: Buffer, offset: number): number {
  if (length !== text.length) return buf.write(text, offset, length, "utf8");
  for (let i = 0; i < length; i++) buf[offset + i] = text.charCodeAt(i);
  return length;
}

function writeTextTlv(type: number, value: string, length: number, buf: Buffer, offset: number): number {
  const at = writeTlvHeader(type, length, buf, offset);
  return pad(buf, at + writeText(value, length, buf, at));
}

function writeBytesTlv(type: number, value: Buffer, buf: Buffer, offset: number): number {
  const at = writeTlvHeader(type, value.length, buf, offset);
  return pad(buf, at + value.copy(buf, at));
}

/** Text of octets start … end of `data`: ASCII straight away, otherwise checked to be well-formed UTF-8. */
function utf8(data: Buffer, start: number, end: number, offset: number): string {
  for (let i = start; i < end; i++) {
    if ((data[i] ?? 0) >= 0x80) {
      const text = data.toString("utf8", start, end);
      // The decoder puts U+FFFD for every ill-formed sequence; without one the text is exact. A U+FFFD can also
      // be a literal one (EF BF BD), so then the octets are compared.
      if (text.includes("\uFFFD") && !Buffer.from(text, "utf8").equals(data.subarray(start, end))) {
        throw new CopsDecodeError("bad-client-si", offset, "TLV text is not valid UTF-8");
      }
      return text;
    }
  }
  return data.toString("latin1", start, end);
}

function flowValueLength(flow: SipAaaMediaFlow): number {
  return 12 + 2 * addressLength(flow.family) + utf8Length(flow.codec);
}

function writeFlow(flow: SipAaaMediaFlow, b: Buffer, offset: number): void {
  const a = addressLength(flow.family);
  b[offset] = flow.protocol;
  b[offset + 1] = flow.family;
  b.writeUInt16BE(0, offset + 2);
  b.writeUInt16BE(flow.srcPort, offset + 4);
  b.writeUInt16BE(flow.dstPort, offset + 6);
  b.writeUInt32BE(flow.bandwidthBps >>> 0, offset + 8);
  writeIp(flow.family, flow.srcAddress, b, offset + 12);
  writeIp(flow.family, flow.dstAddress, b, offset + 12 + a);
  writeText(flow.codec, utf8Length(flow.codec), b, offset + 12 + 2 * a);
}

function decodeFlow(data: Buffer, start: number, end: number, offset: number): SipAaaMediaFlow {
  const length = end - start;
  const family = data[start + 1];
  if (length < 12 || (family !== 4 && family !== 6)) throw new CopsDecodeError("bad-client-si", offset, "media flow TLV malformed");
  const a = addressLength(family);
  if (length < 12 + 2 * a) throw new CopsDecodeError("bad-client-si", offset, "media flow TLV too short for its addresses");
  return {
    protocol: data[start] ?? 0,
    family,
    srcPort: data.readUInt16BE(start + 4),
    dstPort: data.readUInt16BE(start + 6),
    bandwidthBps: data.readUInt32BE(start + 8),
    srcAddress: family === 4 ? readIpv4(data, start + 12) : readIp(family, data, start + 12),
    dstAddress: family === 4 ? readIpv4(data, start + 12 + a) : readIp(family, data, start + 12 + a),
    codec: utf8(data, start + 12 + 2 * a, end, offset),
  };
}

/** Signaled ClientSI contents of a REQ AAA / LDP / noLDP, written into one buffer. */
export function encodeSipAaaClientSi(info: SipAaaRequestInfo): Buffer {
  const callIdLength = utf8Length(info.callId);
  let total = checkTlvValue(SipAaaTlv.CallId, callIdLength);
  const callerLength = info.caller === undefined ? 0 : utf8Length(info.caller);
  if (info.caller !== undefined) total += checkTlvValue(SipAaaTlv.Caller, callerLength);
  const calleeLength = info.callee === undefined ? 0 : utf8Length(info.callee);
  if (info.callee !== undefined) total += checkTlvValue(SipAaaTlv.Callee, calleeLength);
  for (const flow of info.flows) {
    if (ipFamilyOf(flow.srcAddress) !== flow.family || ipFamilyOf(flow.dstAddress) !== flow.family) {
      throw new RangeError("media flow addresses do not match its family");
    }
    total += checkTlvValue(SipAaaTlv.MediaFlow, flowValueLength(flow));
  }
  const classLength = info.requestedClass === undefined ? 0 : utf8Length(info.requestedClass);
  if (info.requestedClass !== undefined) total += checkTlvValue(SipAaaTlv.RequestedClass, classLength);
  if (info.ospToken) total += checkTlvValue(SipAaaTlv.OspToken, info.ospToken.length);
  const authorizationLength = info.proxyAuthorization === undefined ? 0 : utf8Length(info.proxyAuthorization);
  if (info.proxyAuthorization !== undefined) total += checkTlvValue(SipAaaTlv.ProxyAuthorization, authorizationLength);
  if (info.connectedMs !== undefined) total += CONNECTED_TLV_LENGTH;
  if (info.mediaChange !== undefined) {
    if (!Number.isInteger(info.mediaChange) || info.mediaChange < 1 || info.mediaChange > 0xffffffff) throw new RangeError(`media change ${info.mediaChange} is not 1 to 2^32-1`);
    total += 8;
  }
  const out = Buffer.allocUnsafe(total);
  let p = writeTextTlv(SipAaaTlv.CallId, info.callId, callIdLength, out, 0);
  if (info.caller !== undefined) p = writeTextTlv(SipAaaTlv.Caller, info.caller, callerLength, out, p);
  if (info.callee !== undefined) p = writeTextTlv(SipAaaTlv.Callee, info.callee, calleeLength, out, p);
  for (const flow of info.flows) {
    const length = flowValueLength(flow);
    writeFlow(flow, out, writeTlvHeader(SipAaaTlv.MediaFlow, length, out, p));
    p = pad(out, p + 4 + length);
  }
  if (info.requestedClass !== undefined) p = writeTextTlv(SipAaaTlv.RequestedClass, info.requestedClass, classLength, out, p);
  if (info.ospToken) p = writeBytesTlv(SipAaaTlv.OspToken, info.ospToken, out, p);
  if (info.proxyAuthorization !== undefined) p = writeTextTlv(SipAaaTlv.ProxyAuthorization, info.proxyAuthorization, authorizationLength, out, p);
  if (info.mediaChange !== undefined) {
    out.writeUInt32BE(info.mediaChange, writeTlvHeader(SipAaaTlv.MediaChange, 4, out, p));
    p += 8;
  }
  if (info.connectedMs !== undefined) writeConnectedTlv(info.connectedMs, out, p);
  return out;
}

const CONNECTED_TLV_LENGTH = 12;

function writeConnectedTlv(connectedMs: number, out: Buffer, offset: number): void {
  if (!Number.isSafeInteger(connectedMs) || connectedMs < 0) throw new RangeError(`connected time ${connectedMs} ms is not a non-negative integer`);
  out.writeBigUInt64BE(BigInt(connectedMs), writeTlvHeader(SipAaaTlv.ConnectedMs, 8, out, offset));
}

/** The ClientSI of a REQ LDP with the connected time added: the REQ noLDP's (the rest of its TLVs unchanged). */
export function withConnectedMs(clientSi: Buffer, connectedMs: number): Buffer {
  const out = Buffer.allocUnsafe(clientSi.length + CONNECTED_TLV_LENGTH);
  clientSi.copy(out, 0);
  writeConnectedTlv(connectedMs, out, clientSi.length);
  return out;
}

/** Bounds of the TLV at `offset` of `data`: its value end; throws for a truncated one. */
function tlvValueEnd(data: Buffer, offset: number): number {
  if (data.length - offset < 4) throw new CopsDecodeError("bad-client-si", offset, "TLV header truncated");
  const type = data.readUInt16BE(offset);
  const length = data.readUInt16BE(offset + 2);
  if (offset + 4 + length > data.length) throw new CopsDecodeError("bad-client-si", offset, `TLV ${type} length ${length} runs past its object`);
  return offset + 4 + length;
}

/** Parses the Signaled ClientSI; unknown TLV types are skipped; a missing Call-ID is Error 5. */
export function decodeSipAaaClientSi(data: Buffer): SipAaaRequestInfo {
  let callId: string | undefined;
  let caller: string | undefined;
  let callee: string | undefined;
  let requestedClass: string | undefined;
  let ospToken: Buffer | undefined;
  let connectedMs: number | undefined;
  let proxyAuthorization: string | undefined;
  let mediaChange: number | undefined;
  const flows: SipAaaMediaFlow[] = [];
  for (let offset = 0; offset < data.length; ) {
    const end = tlvValueEnd(data, offset);
    const type = data.readUInt16BE(offset);
    const start = offset + 4;
    switch (type) {
      case SipAaaTlv.CallId:
        callId = utf8(data, start, end, offset);
        break;
      case SipAaaTlv.Caller:
        caller = utf8(data, start, end, offset);
        break;
      case SipAaaTlv.Callee:
        callee = utf8(data, start, end, offset);
        break;
      case SipAaaTlv.MediaFlow:
        flows.push(decodeFlow(data, start, end, offset));
        break;
      case SipAaaTlv.RequestedClass:
        requestedClass = utf8(data, start, end, offset);
        break;
      case SipAaaTlv.OspToken:
        ospToken = data.subarray(start, end); // a view into the message
        break;
      case SipAaaTlv.ProxyAuthorization:
        proxyAuthorization = utf8(data, start, end, offset);
        break;
      case SipAaaTlv.ConnectedMs: {
        const ms = end - start === 8 ? data.readBigUInt64BE(start) : -1n;
        if (ms < 0n || ms > BigInt(Number.MAX_SAFE_INTEGER)) throw new CopsDecodeError("bad-client-si", offset, "connected time TLV must be 8 octets of at most 2^53-1 ms");
        connectedMs = Number(ms);
        break;
      }
      case SipAaaTlv.MediaChange:
        if (end - start !== 4 || data.readUInt32BE(start) === 0) throw new CopsDecodeError("bad-client-si", offset, "media change TLV must be 4 octets, not 0");
        mediaChange = data.readUInt32BE(start);
        break;
    }
    offset = (end + 3) & ~3;
  }
  if (callId === undefined) {
    throw new CopsDecodeError("bad-client-si", 0, "ClientSI without Call-ID", {
      copsErrorCode: { code: ErrorCode.MandatoryClientSiMissing, subCode: 0 },
    });
  }
  const info: SipAaaRequestInfo = { callId, flows };
  if (caller !== undefined) info.caller = caller;
  if (callee !== undefined) info.callee = callee;
  if (requestedClass !== undefined) info.requestedClass = requestedClass;
  if (ospToken !== undefined) info.ospToken = ospToken;
  if (connectedMs !== undefined) info.connectedMs = connectedMs;
  if (proxyAuthorization !== undefined) info.proxyAuthorization = proxyAuthorization;
  if (mediaChange !== undefined) info.mediaChange = mediaChange;
  return info;
}

/** Client Specific Decision Data (Decision C-Type 4) contents, written into one buffer. */
export function encodeSipAaaDecisionData(info: SipAaaDecisionInfo): Buffer {
  let total = 0;
  const reasonLength = info.reason ? 4 + Buffer.byteLength(info.reason.text, "utf8") : 0;
  if (info.reason) total += checkTlvValue(SipAaaTlv.Reason, reasonLength);
  if (info.token) total += checkTlvValue(SipAaaTlv.Token, info.token.length);
  if (info.timeLimitSeconds !== undefined) total += 8;
  if (info.dscp !== undefined) {
    if (info.dscp < 0 || info.dscp > 63) throw new RangeError(`DSCP ${info.dscp} out of 0..63`);
    total += 8;
  }
  if (total === 0) return EMPTY;
  const out = Buffer.allocUnsafe(total);
  let p = 0;
  if (info.reason) {
    const at = writeTlvHeader(SipAaaTlv.Reason, reasonLength, out, p);
    out.writeUInt16BE(info.reason.code, at);
    out.writeUInt16BE(0, at + 2);
    p = pad(out, at + 4 + out.write(info.reason.text, at + 4, reasonLength - 4, "utf8"));
  }
  if (info.token) p = writeBytesTlv(SipAaaTlv.Token, info.token, out, p);
  if (info.timeLimitSeconds !== undefined) {
    out.writeUInt32BE(info.timeLimitSeconds >>> 0, writeTlvHeader(SipAaaTlv.TimeLimit, 4, out, p));
    p += 8;
  }
  if (info.dscp !== undefined) {
    const at = writeTlvHeader(SipAaaTlv.Dscp, 1, out, p);
    out[at] = info.dscp;
    p = pad(out, at + 1);
  }
  return out;
}
const EMPTY = Buffer.alloc(0);

/** Reads the TLVs of a DEC's Client Specific Decision Data: reason, token, time limit, DSCP. */
export function decodeSipAaaDecisionData(data: Buffer): SipAaaDecisionInfo {
  const info: SipAaaDecisionInfo = {};
  for (let offset = 0; offset < data.length; ) {
    const end = tlvValueEnd(data, offset);
    const type = data.readUInt16BE(offset);
    const start = offset + 4;
    const length = end - start;
    switch (type) {
      case SipAaaTlv.Reason:
        if (length < 4) throw new CopsDecodeError("bad-client-si", offset, "reason TLV shorter than 4 octets");
        info.reason = { code: data.readUInt16BE(start), text: utf8(data, start + 4, end, offset) };
        break;
      case SipAaaTlv.Token:
        info.token = data.subarray(start, end); // a view into the message
        break;
      case SipAaaTlv.TimeLimit:
        if (length !== 4) throw new CopsDecodeError("bad-client-si", offset, "time limit TLV must be 4 octets");
        info.timeLimitSeconds = data.readUInt32BE(start);
        break;
      case SipAaaTlv.Dscp:
        if (length !== 1 || (data[start] ?? 0) > 63) throw new CopsDecodeError("bad-client-si", offset, "DSCP TLV must be 1 octet 0..63");
        info.dscp = data[start] ?? 0;
        break;
    }
    offset = (end + 3) & ~3;
  }
  return info;
}

const R_TYPE_OF: Record<SipAaaPurposeName, number> = {
  AAA: RType.IncomingMessage,
  LDP: RType.ResourceAllocation,
  noLDP: RType.ResourceAllocation,
};

/** The Context object (R-Type, M-Type) of a purpose: AAA, LDP or noLDP. */
export function sipAaaContext(purpose: SipAaaPurposeName): { rType: number; mType: number } {
  return { rType: R_TYPE_OF[purpose], mType: SipAaaPurpose[purpose] };
}

/** REQ of the given purpose on `handle` (one handle per call, updated AAA → LDP → noLDP). */
export function buildSipAaaRequest(purpose: SipAaaPurposeName, handle: Buffer, info: SipAaaRequestInfo): CopsRequestMessage {
  return {
    op: "REQ",
    clientType: SIP_AAA_CLIENT_TYPE,
    solicited: false,
    handle,
    context: sipAaaContext(purpose),
    clientSi: [{ cType: 1, data: encodeSipAaaClientSi(info) }],
    lpdpDecisions: [],
  };
}

/** A REQ AAA: may this call be set up? */
export function encodeAaaRequest(handle: Buffer, info: SipAaaRequestInfo): Buffer {
  return encodeCopsMessage(buildSipAaaRequest("AAA", handle, info));
}
/** A REQ LDP: install the call's local policy (its media flows). */
export function encodeLdpRequest(handle: Buffer, info: SipAaaRequestInfo): Buffer {
  return encodeCopsMessage(buildSipAaaRequest("LDP", handle, info));
}
/** A REQ noLDP: the call is over, remove its policy. */
export function encodeNoLdpRequest(handle: Buffer, info: SipAaaRequestInfo): Buffer {
  return encodeCopsMessage(buildSipAaaRequest("noLDP", handle, info));
}

/** Solicited DEC answering a REQ: Install = yes, Remove = no (as RSVP's RFC 2749 uses them). */
export function buildSipAaaDecision(
  purpose: SipAaaPurposeName,
  handle: Buffer,
  allowed: boolean,
  info: SipAaaDecisionInfo = {},
): CopsDecisionMessage {
  const decision: CopsDecision = {
    context: sipAaaContext(purpose),
    command: allowed ? CommandCode.Install : CommandCode.Remove,
    flags: 0,
  };
  const data = encodeSipAaaDecisionData(info);
  if (data.length > 0) decision.clientSi = data;
  return { op: "DEC", clientType: SIP_AAA_CLIENT_TYPE, solicited: true, handle, decisions: [decision] };
}

/** A DEC AAA: yes (with token and time limit) or no (with a reason). */
export function encodeAaaDecision(handle: Buffer, allowed: boolean, info: SipAaaDecisionInfo = {}): Buffer {
  return encodeCopsMessage(buildSipAaaDecision("AAA", handle, allowed, info));
}

function purposeOf(mType: number, offset: number): SipAaaPurposeName {
  switch (mType) {
    case SipAaaPurpose.AAA:
      return "AAA";
    case SipAaaPurpose.LDP:
      return "LDP";
    case SipAaaPurpose.noLDP:
      return "noLDP";
  }
  throw new CopsDecodeError("bad-client-si", offset, `unknown M-Type ${mType} for client type 0x8cb1`);
}

/** A decoded REQ of this client type: purpose, handle and call information. */
export interface ParsedSipAaaRequest {
  purpose: SipAaaPurposeName;
  handle: Buffer;
  info: SipAaaRequestInfo;
}

/** Reads a REQ of this client type; Error 5 when the Signaled ClientSI is missing. */
export function parseSipAaaRequest(msg: CopsMessage): ParsedSipAaaRequest {
  if (msg.op !== "REQ" || msg.clientType !== SIP_AAA_CLIENT_TYPE) throw new CopsDecodeError("bad-client-si", 0, "not a client type 0x8cb1 REQ");
  const si = msg.clientSi.find((s) => s.cType === 1);
  if (!si) {
    throw new CopsDecodeError("bad-client-si", 0, "REQ without Signaled ClientSI", {
      copsErrorCode: { code: ErrorCode.MandatoryClientSiMissing, subCode: 0 },
    });
  }
  return { purpose: purposeOf(msg.context.mType, 0), handle: msg.handle, info: decodeSipAaaClientSi(si.data) };
}

/** A decoded DEC of this client type: purpose, handle, verdict and decision data. */
export interface ParsedSipAaaDecision {
  /** Undefined for a DEC carrying an Error object (it has no Context). */
  purpose: SipAaaPurposeName | undefined;
  handle: Buffer;
  allowed: boolean;
  info: SipAaaDecisionInfo;
}

/** Purpose, verdict and decision data of a DEC of this client type. */
export function parseSipAaaDecision(msg: CopsMessage): ParsedSipAaaDecision {
  if (msg.op !== "DEC" || msg.clientType !== SIP_AAA_CLIENT_TYPE) throw new CopsDecodeError("bad-client-si", 0, "not a client type 0x8cb1 DEC");
  const d = msg.decisions[0];
  if (msg.error || d === undefined || d.context === undefined) {
    return { purpose: undefined, handle: msg.handle, allowed: false, info: msg.error ? { reason: { code: msg.error.code, text: "COPS error" } } : {} };
  }
  return {
    purpose: purposeOf(d.context.mType, 0),
    handle: msg.handle,
    allowed: d.command === CommandCode.Install,
    info: d.clientSi ? decodeSipAaaDecisionData(d.clientSi) : {},
  };
}
