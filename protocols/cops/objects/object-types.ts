// Typed models of the RFC 2748 §2.2 objects.
import type { IpFamily } from "./ip-address.js";

/** RFC 2748 §2.2.1 Handle (C-Type 1): opaque, chosen by the PEP. */
export interface HandleObject {
  kind: "handle";
  handle: Buffer;
}
/** RFC 2748 §2.2.2 Context. */
export interface ContextObject {
  kind: "context";
  rType: number;
  mType: number;
}
/** RFC 2748 §2.2.3 / §2.2.4 In-/Out-Interface (C-Type 1 IPv4, 2 IPv6). */
export interface InterfaceObject {
  kind: "in-interface" | "out-interface";
  family: IpFamily;
  address: string;
  ifIndex: number;
}
/** RFC 2748 §2.2.5 Reason. */
export interface ReasonObject {
  kind: "reason";
  code: number;
  subCode: number;
}
/** RFC 2748 §2.2.6 / §2.2.7 Decision and LPDP Decision. */
export type DecisionObject =
  | { kind: "decision" | "lpdp-decision"; cType: 1; command: number; flags: number }
  | { kind: "decision" | "lpdp-decision"; cType: 2 | 3 | 4 | 5; data: Buffer };
/** RFC 2748 §2.2.8 Error. */
export interface ErrorObject {
  kind: "error";
  code: number;
  subCode: number;
}
/** RFC 2748 §2.2.9 Client Specific Information (1 Signaled, 2 Named). */
export interface ClientSiObject {
  kind: "client-si";
  cType: 1 | 2;
  data: Buffer;
}
/** RFC 2748 §2.2.10 KA Timer / §2.2.15 Accounting Timer. */
export interface TimerObject {
  kind: "ka-timer" | "acct-timer";
  seconds: number;
}
/** RFC 2748 §2.2.11 PEP Identification. */
export interface PepIdObject {
  kind: "pepid";
  id: string;
}
/** RFC 2748 §2.2.12 Report-Type. */
export interface ReportTypeObject {
  kind: "report-type";
  reportType: number;
}
/** RFC 2748 §2.2.13 / §2.2.14 PDP Redirect Address and Last PDP Address. */
export interface PdpAddressObject {
  kind: "pdp-redirect-address" | "last-pdp-address";
  family: IpFamily;
  address: string;
  port: number;
}
/** RFC 2748 §2.2.16 Integrity (C-Type 1, HMAC digest) and RFC 4261 §4.1 Integrity-TLS (C-Type 2). */
export type IntegrityObject =
  | { kind: "integrity"; cType: 1; keyId: number; sequence: number; digest: Buffer }
  | { kind: "integrity"; cType: 2; flags: number };

/** Any COPS object (RFC 2748 §2.2), by C-Num. */
export type CopsObject =
  | HandleObject
  | ContextObject
  | InterfaceObject
  | ReasonObject
  | DecisionObject
  | ErrorObject
  | ClientSiObject
  | TimerObject
  | PepIdObject
  | ReportTypeObject
  | PdpAddressObject
  | IntegrityObject;

export type CopsObjectKind = CopsObject["kind"];
