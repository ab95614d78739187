// callgate enterprise client type 0x8cb1: SIP proxy (PEP) ↔ policy server (PDP), the REQ AAA / REQ LDP /
// REQ noLDP exchanges of WO 01/35294. Byte layout: docs/protocols/cops.md "Client type 0x8cb1".
import { CopsDecodeError } from "../cops-decode-error.js";
import { ClientType, CommandCode, ErrorCode, RType } from "../constants.js";
import type { CopsDecision, CopsDecisionMessage, CopsMessage, CopsRequestMessage } from "../cops-message.js";
import { encodeCopsMessage } from "../cops-codec.js";
import { addressLength, ipFamilyOf, readIp, writeIp } from "../objects/ip-address.js";
import type { IpFamily } from "../objects/ip-address.js";

export const SIP_AAA_CLIENT_TYPE = ClientType.SipAaa;

/** Context M-Type of this client type: which of the patent's requests a REQ/DEC belongs to. */
export const SipAaaPurpose = { AAA: 1, LDP: 2, noLDP: 3 } as const;
export type SipAaaPurposeName = keyof typeof SipAaaPurpose;

/** TLV types inside the Signaled ClientSI (REQ) and the Client Specific Decision Data (DEC). */
export const SipAaaTlv = {
  CallId: 1,
  Caller: 2,
  Callee: 3,
  MediaFlow: 4,
  RequestedClass: 5,
  OspToken: 6,
  Reason: 16,
  Token: 17,
  TimeLimit: 18,
  Dscp: 19,
} as const;

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

export interface SipAaaRequestInfo {
  callId: string;
  caller?: string;
  callee?: string;
  flows: SipAaaMediaFlow[];
  /** Requested DiffServ class (PHB name: "EF", "AF41", "BE"). */
  requestedClass?: string;
  /** OSP token bytes, carried opaque (never an OSP type). */
  ospToken?: Buffer;
}

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

class TlvWriter {
  private readonly parts: Buffer[] = [];
  add(type: number, value: Buffer): void {
    if (value.length > 0xffff) throw new RangeError(`TLV ${type} value longer than 65535 octets`);
    const b = Buffer.alloc(tlvSize(value.length));
    b.writeUInt16BE(type, 0);
    b.writeUInt16BE(value.length, 2);
    value.copy(b, 4);
    this.parts.push(b);
  }
  text(type: number, value: string | undefined): void {
    if (value !== undefined) this.add(type, Buffer.from(value, "utf8"));
  }
  done(): Buffer {
    return Buffer.concat(this.parts);
  }
}

function* readTlvs(data: Buffer): Generator<{ type: number; value: Buffer; offset: number }> {
  let offset = 0;
  while (offset < data.length) {
    if (data.length - offset < 4) throw new CopsDecodeError("bad-client-si", offset, "TLV header truncated");
    const type = data.readUInt16BE(offset);
    const length = data.readUInt16BE(offset + 2);
    if (offset + 4 + length > data.length) throw new CopsDecodeError("bad-client-si", offset, `TLV ${type} length ${length} runs past its object`);
    yield { type, value: data.subarray(offset + 4, offset + 4 + length), offset };
    offset += tlvSize(length);
  }
}

function utf8(value: Buffer, offset: number): string {
  const text = value.toString("utf8");
  if (!Buffer.from(text, "utf8").equals(value)) throw new CopsDecodeError("bad-client-si", offset, "TLV text is not valid UTF-8");
  return text;
}

function encodeFlow(flow: SipAaaMediaFlow): Buffer {
  const a = addressLength(flow.family);
  const codec = Buffer.from(flow.codec, "utf8");
  const b = Buffer.alloc(12 + 2 * a + codec.length);
  b[0] = flow.protocol;
  b[1] = flow.family;
  b.writeUInt16BE(0, 2);
  b.writeUInt16BE(flow.srcPort, 4);
  b.writeUInt16BE(flow.dstPort, 6);
  b.writeUInt32BE(flow.bandwidthBps >>> 0, 8);
  writeIp(flow.family, flow.srcAddress, b, 12);
  writeIp(flow.family, flow.dstAddress, b, 12 + a);
  codec.copy(b, 12 + 2 * a);
  return b;
}

function decodeFlow(value: Buffer, offset: number): SipAaaMediaFlow {
  const family = value[1];
  if (value.length < 12 || (family !== 4 && family !== 6)) throw new CopsDecodeError("bad-client-si", offset, "media flow TLV malformed");
  const a = addressLength(family);
  if (value.length < 12 + 2 * a) throw new CopsDecodeError("bad-client-si", offset, "media flow TLV too short for its addresses");
  return {
    protocol: value[0] ?? 0,
    family,
    srcPort: value.readUInt16BE(4),
    dstPort: value.readUInt16BE(6),
    bandwidthBps: value.readUInt32BE(8),
    srcAddress: readIp(family, value, 12),
    dstAddress: readIp(family, value, 12 + a),
    codec: utf8(value.subarray(12 + 2 * a), offset),
  };
}

/** Signaled ClientSI contents of a REQ AAA / LDP / noLDP. */
export function encodeSipAaaClientSi(info: SipAaaRequestInfo): Buffer {
  const w = new TlvWriter();
  w.text(SipAaaTlv.CallId, info.callId);
  w.text(SipAaaTlv.Caller, info.caller);
  w.text(SipAaaTlv.Callee, info.callee);
  for (const flow of info.flows) {
    if (ipFamilyOf(flow.srcAddress) !== flow.family || ipFamilyOf(flow.dstAddress) !== flow.family) {
      throw new RangeError("media flow addresses do not match its family");
    }
    w.add(SipAaaTlv.MediaFlow, encodeFlow(flow));
  }
  w.text(SipAaaTlv.RequestedClass, info.requestedClass);
  if (info.ospToken) w.add(SipAaaTlv.OspToken, info.ospToken);
  return w.done();
}

/** Parses the Signaled ClientSI; unknown TLV types are skipped; a missing Call-ID is Error 5. */
export function decodeSipAaaClientSi(data: Buffer): SipAaaRequestInfo {
  let callId: string | undefined;
  const info: Omit<SipAaaRequestInfo, "callId"> = { flows: [] };
  for (const { type, value, offset } of readTlvs(data)) {
    switch (type) {
      case SipAaaTlv.CallId:
        callId = utf8(value, offset);
        break;
      case SipAaaTlv.Caller:
        info.caller = utf8(value, offset);
        break;
      case SipAaaTlv.Callee:
        info.callee = utf8(value, offset);
        break;
      case SipAaaTlv.MediaFlow:
        info.flows.push(decodeFlow(value, offset));
        break;
      case SipAaaTlv.RequestedClass:
        info.requestedClass = utf8(value, offset);
        break;
      case SipAaaTlv.OspToken:
        info.ospToken = Buffer.from(value);
        break;
    }
  }
  if (callId === undefined) {
    throw new CopsDecodeError("bad-client-si", 0, "ClientSI without Call-ID", {
      copsErrorCode: { code: ErrorCode.MandatoryClientSiMissing, subCode: 0 },
    });
  }
  return { callId, ...info };
}

/** Client Specific Decision Data (Decision C-Type 4) contents. */
export function encodeSipAaaDecisionData(info: SipAaaDecisionInfo): Buffer {
  const w = new TlvWriter();
  if (info.reason) {
    const text = Buffer.from(info.reason.text, "utf8");
    const v = Buffer.alloc(4 + text.length);
    v.writeUInt16BE(info.reason.code, 0);
    text.copy(v, 4);
    w.add(SipAaaTlv.Reason, v);
  }
  if (info.token) w.add(SipAaaTlv.Token, info.token);
  if (info.timeLimitSeconds !== undefined) {
    const v = Buffer.alloc(4);
    v.writeUInt32BE(info.timeLimitSeconds >>> 0, 0);
    w.add(SipAaaTlv.TimeLimit, v);
  }
  if (info.dscp !== undefined) {
    if (info.dscp < 0 || info.dscp > 63) throw new RangeError(`DSCP ${info.dscp} out of 0..63`);
    w.add(SipAaaTlv.Dscp, Buffer.from([info.dscp]));
  }
  return w.done();
}

export function decodeSipAaaDecisionData(data: Buffer): SipAaaDecisionInfo {
  const info: SipAaaDecisionInfo = {};
  for (const { type, value, offset } of readTlvs(data)) {
    switch (type) {
      case SipAaaTlv.Reason:
        if (value.length < 4) throw new CopsDecodeError("bad-client-si", offset, "reason TLV shorter than 4 octets");
        info.reason = { code: value.readUInt16BE(0), text: utf8(value.subarray(4), offset) };
        break;
      case SipAaaTlv.Token:
        info.token = Buffer.from(value);
        break;
      case SipAaaTlv.TimeLimit:
        if (value.length !== 4) throw new CopsDecodeError("bad-client-si", offset, "time limit TLV must be 4 octets");
        info.timeLimitSeconds = value.readUInt32BE(0);
        break;
      case SipAaaTlv.Dscp:
        if (value.length !== 1 || (value[0] ?? 0) > 63) throw new CopsDecodeError("bad-client-si", offset, "DSCP TLV must be 1 octet 0..63");
        info.dscp = value[0] ?? 0;
        break;
    }
  }
  return info;
}

const R_TYPE_OF: Record<SipAaaPurposeName, number> = {
  AAA: RType.IncomingMessage,
  LDP: RType.ResourceAllocation,
  noLDP: RType.ResourceAllocation,
};

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

export function encodeAaaRequest(handle: Buffer, info: SipAaaRequestInfo): Buffer {
  return encodeCopsMessage(buildSipAaaRequest("AAA", handle, info));
}
export function encodeLdpRequest(handle: Buffer, info: SipAaaRequestInfo): Buffer {
  return encodeCopsMessage(buildSipAaaRequest("LDP", handle, info));
}
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

export function encodeAaaDecision(handle: Buffer, allowed: boolean, info: SipAaaDecisionInfo = {}): Buffer {
  return encodeCopsMessage(buildSipAaaDecision("AAA", handle, allowed, info));
}

function purposeOf(mType: number, offset: number): SipAaaPurposeName {
  for (const [name, value] of Object.entries(SipAaaPurpose)) if (value === mType) return name as SipAaaPurposeName;
  throw new CopsDecodeError("bad-client-si", offset, `unknown M-Type ${mType} for client type 0x8cb1`);
}

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

export interface ParsedSipAaaDecision {
  /** Undefined for a DEC carrying an Error object (it has no Context). */
  purpose: SipAaaPurposeName | undefined;
  handle: Buffer;
  allowed: boolean;
  info: SipAaaDecisionInfo;
}

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
