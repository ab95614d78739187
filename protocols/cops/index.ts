// callgate/cops: the COPS layer (RFC 2748, RFC 3084, RFC 4261 integrity-TLS object).
export { CopsDecodeError } from "./cops-decode-error.js";
export type { CopsDecodeErrorCode, CopsErrorCodePair } from "./cops-decode-error.js";
export {
  OpCode,
  CNum,
  RType,
  DecisionCType,
  CommandCode,
  DecisionFlag,
  ReasonCode,
  ErrorCode,
  ReportType,
  ClientType,
  COPS_PORT,
} from "./constants.js";
export type { OpName } from "./constants.js";
export type {
  CopsMessage,
  CopsOp,
  CopsContext,
  CopsInterface,
  CopsCodePair,
  CopsServerAddress,
  CopsClientSi,
  CopsDecision,
  CopsRequestMessage,
  CopsDecisionMessage,
  CopsReportMessage,
  CopsDeleteRequestMessage,
  CopsSyncRequestMessage,
  CopsClientOpenMessage,
  CopsClientAcceptMessage,
  CopsClientCloseMessage,
  CopsKeepAliveMessage,
  CopsSyncCompleteMessage,
} from "./cops-message.js";
export type { CopsObject, IntegrityObject } from "./objects/object-types.js";
export { encodeCopsMessage, decodeCopsMessage, decodeCopsHeader, decodeCopsObjects, peekCopsHandle } from "./cops-codec.js";
export type { CopsHeader } from "./cops-codec.js";
export { hmacMd596, signCopsMessage, verifyCopsDigest } from "./integrity.js";
export { labelCopsMessage } from "./label.js";

// Client type 0x8cb1: SIP proxy ↔ policy server
export {
  SIP_AAA_CLIENT_TYPE,
  SipAaaPurpose,
  SipAaaTlv,
  sipAaaContext,
  encodeSipAaaClientSi,
  decodeSipAaaClientSi,
  encodeSipAaaDecisionData,
  decodeSipAaaDecisionData,
  buildSipAaaRequest,
  buildSipAaaDecision,
  encodeAaaRequest,
  encodeLdpRequest,
  encodeNoLdpRequest,
  encodeAaaDecision,
  parseSipAaaRequest,
  parseSipAaaDecision,
  withConnectedMs,
} from "./client-types/sip-aaa.js";
export type {
  SipAaaPurposeName,
  SipAaaMediaFlow,
  SipAaaRequestInfo,
  SipAaaDecisionInfo,
  ParsedSipAaaRequest,
  ParsedSipAaaDecision,
} from "./client-types/sip-aaa.js";

// Client type 2: COPS-PR DiffServ provisioning
export {
  DIFFSERV_PR_CLIENT_TYPE,
  CALLGATE_PIB,
  Prc,
  CONFIG_CONTEXT,
  buildConfigRequest,
  parseConfigRequest,
  buildInstallDecision,
  buildRemoveDecision,
  buildNullDecision,
  parseProvisioningDecision,
  buildProvisioningReport,
  parseProvisioningReport,
} from "./client-types/diffserv-pr.js";
export type {
  FlowMark,
  FlowUsage,
  RouterCapability,
  ProvisioningFailure,
  ParsedProvisioningDecision,
  ParsedProvisioningReport,
} from "./client-types/diffserv-pr.js";
export { encodeBerValue, decodeBerValue, encodeBerOid } from "./pr/ber.js";
export type { BerValue } from "./pr/ber.js";
export { encodePrSubObjects, decodePrSubObjects, SNum, GlobalProvisioningError, ClassProvisioningError } from "./pr/pr-sub-objects.js";
export type { PrSubObject } from "./pr/pr-sub-objects.js";

// Connections (sans-I/O) and transport
export type { CopsAction, CopsTransportEvent, CopsMachine } from "./connection/cops-actions.js";
export { CopsPepConnection } from "./connection/pep-connection.js";
export type { CopsPepOptions, CopsPepCommand, CopsPepEvent } from "./connection/pep-connection.js";
export { CopsPdpConnection, DEFAULT_MAX_REQUEST_STATES } from "./connection/pdp-connection.js";
export type { CopsPdpOptions, CopsPdpCommand, CopsPdpEvent, CopsPdpRefusal } from "./connection/pdp-connection.js";
export { handleKey, handleOfKey, ownBytes, ownHandle } from "./connection/handle-key.js";
export { parseIpv4 } from "./objects/ip-address.js";
export type { HandleKey } from "./connection/handle-key.js";
export { IntegritySession } from "./connection/integrity-session.js";
export type { CopsIntegrityConfig } from "./connection/integrity-session.js";
export { CopsFrameSplitter, DEFAULT_MAX_MESSAGE_BYTES } from "./transport/frame-splitter.js";
export { CopsSocketRunner, listenCopsPdp, connectCopsPep } from "./transport/tcp-driver.js";
export type { CopsWireHooks, CopsPdpServerOptions, CopsPdpSession, CopsPdpPeer, CopsPepClientOptions } from "./transport/tcp-driver.js";
export { pepAdmission } from "./connection/pep-admission.js";
export type { CopsPepCredentials, CopsPepSource } from "./connection/pep-admission.js";
export type {
  ClientSiObject,
  ContextObject,
  DecisionObject,
  ErrorObject,
  HandleObject,
  InterfaceObject,
  PdpAddressObject,
  PepIdObject,
  ReasonObject,
  ReportTypeObject,
  TimerObject,
} from "./objects/object-types.js";
export type { DecodedObject } from "./objects/cops-object.js";
export type { IpFamily } from "./objects/ip-address.js";
export type { CopsFrameFailure } from "./transport/frame-splitter.js";
export type { IntegrityCheck } from "./connection/integrity-session.js";
export type { PdpState } from "./connection/pdp-connection.js";
export type { PepState } from "./connection/pep-connection.js";
export type { ConnectionLimits, ConnectionRefusal, ConnectionPeer, MessagePhase, RefusalListener } from "../net/connection-limits.js";
