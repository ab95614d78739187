// Typed models of the RFC 2748 §3 messages.
import type { IpFamily } from "./objects/ip-address.js";
import type { IntegrityObject } from "./objects/object-types.js";

/** Context object: request type and message type (RFC 2748 §2.2.2). */
export interface CopsContext {
  rType: number;
  mType: number;
}
/** An IN-Int or OUT-Int object: an interface address and index (RFC 2748 §2.2.3). */
export interface CopsInterface {
  family: IpFamily;
  address: string;
  ifIndex: number;
}
/** A code and sub-code (Reason, Error objects). */
export interface CopsCodePair {
  code: number;
  subCode: number;
}
/** A PDP Redirect or Last PDP address (RFC 2748 §2.2.13). */
export interface CopsServerAddress {
  family: IpFamily;
  address: string;
  port: number;
}
/** Client Specific Information: signalled or named, opaque to COPS (RFC 2748 §2.2.9). */
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

/** REQ: the PEP asks for a decision (RFC 2748 §3.1). */
export interface CopsRequestMessage extends CopsMessageBase {
  op: "REQ";
  handle: Buffer;
  context: CopsContext;
  inInterface?: CopsInterface;
  outInterface?: CopsInterface;
  clientSi: CopsClientSi[];
  lpdpDecisions: CopsDecision[];
}
/** DEC: the PDP's decision (RFC 2748 §3.2). */
export interface CopsDecisionMessage extends CopsMessageBase {
  op: "DEC";
  handle: Buffer;
  /** One or more decisions, or else `error`. */
  decisions: CopsDecision[];
  error?: CopsCodePair;
}
/** RPT: the PEP reports on a decision (RFC 2748 §3.3). */
export interface CopsReportMessage extends CopsMessageBase {
  op: "RPT";
  handle: Buffer;
  reportType: number;
  clientSi?: CopsClientSi;
}
/** DRQ: the PEP deletes a request state (RFC 2748 §3.4). */
export interface CopsDeleteRequestMessage extends CopsMessageBase {
  op: "DRQ";
  handle: Buffer;
  reason: CopsCodePair;
}
/** SSQ: the PDP asks the PEP to send its request states again (RFC 2748 §3.5). */
export interface CopsSyncRequestMessage extends CopsMessageBase {
  op: "SSQ";
  handle?: Buffer;
}
/** OPN: a PEP opens a client type (RFC 2748 §3.6). */
export interface CopsClientOpenMessage extends CopsMessageBase {
  op: "OPN";
  pepId: string;
  clientSi?: CopsClientSi;
  lastPdpAddress?: CopsServerAddress;
}
/** CAT: the PDP accepts it, with the keep-alive timer (RFC 2748 §3.7). */
export interface CopsClientAcceptMessage extends CopsMessageBase {
  op: "CAT";
  kaTimerSeconds: number;
  acctTimerSeconds?: number;
}
/** CC: either side closes a client type, with an error (RFC 2748 §3.8). */
export interface CopsClientCloseMessage extends CopsMessageBase {
  op: "CC";
  error: CopsCodePair;
  redirect?: CopsServerAddress;
}
/** KA: keep-alive (RFC 2748 §3.9). */
export interface CopsKeepAliveMessage extends CopsMessageBase {
  op: "KA";
}
/** SSC: the PEP has sent its request states again (RFC 2748 §3.10). */
export interface CopsSyncCompleteMessage extends CopsMessageBase {
  op: "SSC";
  handle?: Buffer;
}

/** Any COPS message (RFC 2748 §3), by operation. */
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

/** The operation of a COPS message. */
export type CopsOp = CopsMessage["op"];
