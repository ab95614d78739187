// Numbers of RFC 2748 (COPS) and RFC 3084 (COPS-PR).

/** RFC 2748 §2.1 op codes. */
export const OpCode = {
  REQ: 1,
  DEC: 2,
  RPT: 3,
  DRQ: 4,
  SSQ: 5,
  OPN: 6,
  CAT: 7,
  CC: 8,
  KA: 9,
  SSC: 10,
} as const;
/** A COPS operation's name (RFC 2748 §2.1). */
export type OpName = keyof typeof OpCode;
export const OP_NAMES: readonly (OpName | undefined)[] = [
  undefined, "REQ", "DEC", "RPT", "DRQ", "SSQ", "OPN", "CAT", "CC", "KA", "SSC",
];

/** RFC 2748 §2.2 C-Num values. */
export const CNum = {
  Handle: 1,
  Context: 2,
  InInterface: 3,
  OutInterface: 4,
  Reason: 5,
  Decision: 6,
  LpdpDecision: 7,
  Error: 8,
  ClientSI: 9,
  KATimer: 10,
  PEPID: 11,
  ReportType: 12,
  PdpRedirectAddress: 13,
  LastPdpAddress: 14,
  AcctTimer: 15,
  Integrity: 16,
} as const;

/** RFC 2748 §2.2.2 R-Type flags. */
export const RType = {
  IncomingMessage: 0x01,
  ResourceAllocation: 0x02,
  OutgoingMessage: 0x04,
  Configuration: 0x08,
} as const;

/** RFC 2748 §2.2.6 Decision C-Types. */
export const DecisionCType = {
  Flags: 1,
  StatelessData: 2,
  ReplacementData: 3,
  ClientSpecificData: 4,
  NamedData: 5,
} as const;

/** RFC 2748 §2.2.6 Command-Code. */
export const CommandCode = { Null: 0, Install: 1, Remove: 2 } as const;
/** RFC 2748 §2.2.6 Decision flags. */
export const DecisionFlag = { TriggerError: 0x01 } as const;

/** RFC 2748 §2.2.5 Reason codes. */
export const ReasonCode = {
  Unspecified: 1,
  Management: 2,
  Preempted: 3,
  Tear: 4,
  Timeout: 5,
  RouteChange: 6,
  InsufficientResources: 7,
  PdpDirective: 8,
  UnsupportedDecision: 9,
  SynchronizeHandleUnknown: 10,
  TransientHandle: 11,
  MalformedDecision: 12,
  UnknownObjectFromPdp: 13,
} as const;

/** RFC 2748 §2.2.8 Error codes. */
export const ErrorCode = {
  BadHandle: 1,
  InvalidHandleReference: 2,
  BadMessageFormat: 3,
  UnableToProcess: 4,
  MandatoryClientSiMissing: 5,
  UnsupportedClientType: 6,
  MandatoryObjectMissing: 7,
  ClientFailure: 8,
  CommunicationFailure: 9,
  Unspecified: 10,
  ShuttingDown: 11,
  RedirectToPreferredServer: 12,
  UnknownObject: 13,
  AuthenticationFailure: 14,
  AuthenticationRequired: 15,
} as const;

/** RFC 2748 §2.2.12 Report-Type. */
export const ReportType = { Success: 1, Failure: 2, Accounting: 3 } as const;

/** Client types: 0 for KA (RFC 2748 §3.7), 2 = DiffServ COPS-PR (RFC 3317), callgate's enterprise type. */
export const ClientType = {
  KeepAlive: 0,
  Rsvp: 1,
  DiffServPr: 2,
  /** callgate SIP proxy ↔ policy server client type (enterprise range, docs/protocols/cops.md). */
  SipAaa: 0x8cb1,
} as const;

/** IANA-registered TCP port for COPS (RFC 2748 §4.1). */
export const COPS_PORT = 3288;
export const COPS_VERSION = 1;
export const HEADER_LENGTH = 8;
export const OBJECT_HEADER_LENGTH = 4;
/** HMAC-MD5-96 digest length (RFC 2748 §2.2.16). */
export const HMAC_MD5_96_LENGTH = 12;
