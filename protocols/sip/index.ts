// callgate/sip: the SIP layer (codec, transactions, transports, proxy core).
// ---- codec (owned by the codec; keep these lines first) ----
export { SipParseError, type SipParseErrorCode } from "./codec/sip-parse-error.js";
export {
  SipMessageBase,
  SipRequest,
  SipResponse,
  isRequest,
  isResponse,
  type SipMessage,
  type SipHeader,
} from "./codec/sip-message.js";
export { parseSipUri, formatSipUri, type SipUri } from "./codec/sip-uri.js";
export { COMPACT_FORMS, headerKey, headerNameMatches, canonicalHeaderName, LIST_HEADERS } from "./codec/header-names.js";
export { splitTopLevelCommas } from "./codec/header-lexer.js";
export { ownString } from "./codec/own-string.js";
export { parseViaValue, formatVia, type ViaHeader } from "./codec/header-via.js";
export {
  parseNameAddr,
  parseNameAddrList,
  parseContactList,
  formatNameAddr,
  type NameAddrHeader,
  type ContactHeader,
} from "./codec/header-name-addr.js";
export {
  parseCallId,
  parseCSeq,
  parseMaxForwards,
  parseContentLength,
  parseContentType,
  parseExpires,
  parseTokenList,
  type CSeqHeader,
  type ContentTypeHeader,
} from "./codec/header-values.js";
export {
  parseSipMessage,
  DEFAULT_SIP_PARSE_LIMITS,
  type SipParseLimits,
  type SipParseOptions,
} from "./codec/message-parser.js";
export { SipStreamFramer, SipStreamParser } from "./codec/stream-parser.js";
export { serializeSipMessage, serializeHead, startLine } from "./codec/message-serializer.js";
export {
  buildRequest,
  buildResponse,
  generateBranch,
  generateTag,
  generateCallId,
  REASON_PHRASES,
  type BuildRequestOptions,
  type BuildResponseOptions,
} from "./codec/message-builders.js";
export {
  validateRequest,
  validateRequestForUas,
  validateRequestForProxy,
  validateResponseForProxy,
  DEFAULT_UAS_METHODS,
  type RequestRejection,
  type RequestValidationOptions,
  type ResponseVerdict,
} from "./codec/request-validation.js";
export { formatSipMessage, describeHeaders, describeUri, type HeaderDescription } from "./codec/message-format.js";
// ---- end codec ----
// ---- transactions, transports, proxy (owned by the transaction/proxy helper) ----
export * from "./transaction/transaction-timers.js";
export * from "./transaction/transaction-types.js";
export * from "./transaction/transaction-clock.js";
export * from "./transaction/transaction-matching.js";
export { buildAckForNonSuccess } from "./transaction/transaction-ack.js";
export { InviteClientTransaction } from "./transaction/invite-client-transaction.js";
export { NonInviteClientTransaction } from "./transaction/non-invite-client-transaction.js";
export { InviteServerTransaction, type InviteServerTransactionOptions } from "./transaction/invite-server-transaction.js";
export { NonInviteServerTransaction } from "./transaction/non-invite-server-transaction.js";
export * from "./transaction/transaction-layer.js";
export * from "./transport/transport-types.js";
export * from "./proxy/proxy-types.js";
export * from "./proxy/proxy-routing.js";
export * from "./proxy/proxy-validation.js";
export * from "./proxy/proxy-loop-detection.js";
export { StatefulProxy, chooseBestResponse, type StatefulProxyOptions } from "./proxy/stateful-proxy.js";
export * from "./transport/transport-interface.js";
export * from "./transport/transport-via.js";
export { UdpTransport, type UdpTransportOptions } from "./transport/udp-transport.js";
export { StreamTransport, type StreamTransportOptions } from "./transport/transport-stream.js";
export { TcpTransport, type TcpTransportOptions } from "./transport/tcp-transport.js";
export { TlsTransport, type TlsTransportOptions } from "./transport/tls-transport.js";
export { WebSocketTransport, type WebSocketTransportOptions } from "./transport/websocket-transport.js";
export { SipTransportLayer, type TransportLayerOptions, type TransportStats, type InboundHandler } from "./transport/transport-layer.js";
export { datagramRefusal, requestHeadOf } from "./transport/transport-refusal.js";
export { startProxyServer, createTransport, type ProxyServer, type ProxyServerOptions } from "./transport/proxy-server.js";
export { nextHopHook } from "./proxy/proxy-next-hop-hook.js";
export type { StreamParserPhase } from "./codec/stream-parser.js";
export type { WebSocketTlsOptions } from "./transport/websocket-transport.js";
export type { ConnectionGate, ConnectionLimits, ConnectionRefusal, ConnectionPeer, MessagePhase, RefusalListener } from "../net/connection-limits.js";
export type { DigestCredentials, DigestParam } from "./codec/digest.js";
