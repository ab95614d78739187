// Typed models of the RFC 2748 §3 messages.
import type { IpFamily } from "./objects/ip-address.js";
import type { IntegrityObject } from "./objects/object-types.js";

export interface CopsContext {
  rType: number;
  mType: number;
}
export interface CopsInterface {
  family: IpFamily;
  address: string;
  ifIndex: number;
}
export interface CopsCodePair {
  code: number;
  subCode: number;
}
export interface CopsServerAddress {
  family: IpFamily;
  address: string;
  port: number;
}
export interface CopsClientSi {
  /** 1 Signaled, 2 Named (RFC 2748 §2.2.9). */
  cType: 1 | 2;
  data: Buffer;
}

/** One decision (RFC 2748 §3.2): Context, Decision Flags, then optional data objects in C-Type order. */
export interface CopsDecision {
  /** Mandatory in DEC; optional in a REQ's LPDP decision (RFC 2748 §3.1). */
  context?: CopsContext;
  command: number;
  flags: number;
  stateless?: Buffer;
  replacement?: Buffer;
  clientSi?: Buffer;
  named?: Buffer;
}

interface CopsMessageBase {
  clientType: number;
  /** Common header flag 0x1 (RFC 2748 §2.1). */
  solicited?: boolean;
  /** Integrity object; always the last object (RFC 2748 §2.2.16). */
  integrity?: IntegrityObject;
}

export interface CopsRequestMessage extends CopsMessageBase {
  op: "REQ";
  handle: Buffer;
  context: CopsContext;
  inInterface?: CopsInterface;
  outInterface?: CopsInterface;
  clientSi: CopsClientSi[];
  lpdpDecisions: CopsDecision[];
}
export interface CopsDecisionMessage extends CopsMessageBase {
  op: "DEC";
  handle: Buffer;
  /** One or more decisions, or else `error`. */
  decisions: CopsDecision[];
  error?: CopsCodePair;
}
export interface CopsReportMessage extends CopsMessageBase {
  op: "RPT";
  handle: Buffer;
  reportType: number;
  clientSi?: CopsClientSi;
}
export interface CopsDeleteRequestMessage extends CopsMessageBase {
  op: "DRQ";
  handle: Buffer;
  reason: CopsCodePair;
}
export interface CopsSyncRequestMessage extends CopsMessageBase {
  op: "SSQ";
  handle?: Buffer;
}
export interface CopsClientOpenMessage extends CopsMessageBase {
  op: "OPN";
  pepId: string;
  clientSi?: CopsClientSi;
  lastPdpAddress?: CopsServerAddress;
}
export interface CopsClientAcceptMessage extends CopsMessageBase {
  op: "CAT";
  kaTimerSeconds: number;
  acctTimerSeconds?: number;
}
export interface CopsClientCloseMessage extends CopsMessageBase {
  op: "CC";
  error: CopsCodePair;
  redirect?: CopsServerAddress;
}
export interface CopsKeepAliveMessage extends CopsMessageBase {
  op: "KA";
}
export interface CopsSyncCompleteMessage extends CopsMessageBase {
  op: "SSC";
  handle?: Buffer;
}

export type CopsMessage =
  | CopsRequestMessage
  | CopsDecisionMessage
  | CopsReportMessage
  | CopsDeleteRequestMessage
  | CopsSyncRequestMessage
  | CopsClientOpenMessage
  | CopsClientAcceptMessage
  | CopsClientCloseMessage
  | CopsKeepAliveMessage
  | CopsSyncCompleteMessage;

export type CopsOp = CopsMessage["op"];
