// callgate/sip: the SIP layer (codec, transactions, transports, proxy core).
// ---- codec (owned by the codec; keep these lines first) ----
export { SipParseError, type SipParseErrorCode } from "./sip-parse-error.js";
export {
  SipMessageBase,
  SipRequest,
  SipResponse,
  isRequest,
  isResponse,
  type SipMessage,
  type SipHeader,
} from "./sip-message.js";
export { parseSipUri, formatSipUri, type SipUri } from "./sip-uri.js";
export { COMPACT_FORMS, headerKey, headerNameMatches, canonicalHeaderName, LIST_HEADERS } from "./header-names.js";
export { splitTopLevelCommas } from "./header-lexer.js";
export { parseViaValue, formatVia, type ViaHeader } from "./header-via.js";
export {
  parseNameAddr,
  parseNameAddrList,
  parseContactList,
  formatNameAddr,
  type NameAddrHeader,
  type ContactHeader,
} from "./header-name-addr.js";
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
} from "./header-values.js";
export {
  parseSipMessage,
  DEFAULT_SIP_PARSE_LIMITS,
  type SipParseLimits,
  type SipParseOptions,
} from "./message-parser.js";
export { SipStreamParser } from "./stream-parser.js";
export { serializeSipMessage, serializeHead, startLine } from "./message-serializer.js";
export {
  buildRequest,
  buildResponse,
  generateBranch,
  generateTag,
  generateCallId,
  REASON_PHRASES,
  type BuildRequestOptions,
  type BuildResponseOptions,
} from "./message-builders.js";
export {
  validateRequest,
  validateRequestForUas,
  validateRequestForProxy,
  validateResponseForProxy,
  DEFAULT_UAS_METHODS,
  type RequestRejection,
  type RequestValidationOptions,
  type ResponseVerdict,
} from "./request-validation.js";
export { formatSipMessage, describeHeaders, describeUri, type HeaderDescription } from "./message-format.js";
// ---- end codec ----
// ---- transactions, transports, proxy (owned by the transaction/proxy helper) ----
export * from "./transaction-timers.js";
export * from "./transaction-types.js";
export * from "./transaction-clock.js";
export * from "./transaction-matching.js";
export { buildAckForNonSuccess } from "./transaction-ack.js";
export { InviteClientTransaction } from "./invite-client-transaction.js";
export { NonInviteClientTransaction } from "./non-invite-client-transaction.js";
export { InviteServerTransaction, type InviteServerTransactionOptions } from "./invite-server-transaction.js";
export { NonInviteServerTransaction } from "./non-invite-server-transaction.js";
export * from "./transaction-layer.js";
export * from "./transport-types.js";
export * from "./proxy-types.js";
export * from "./proxy-routing.js";
export * from "./proxy-validation.js";
export * from "./proxy-loop-detection.js";
export { StatefulProxy, chooseBestResponse, type StatefulProxyOptions } from "./stateful-proxy.js";
export * from "./transport-interface.js";
export * from "./transport-via.js";
export { UdpTransport, type UdpTransportOptions } from "./udp-transport.js";
export { StreamTransport, type StreamTransportOptions } from "./transport-stream.js";
export { TcpTransport, type TcpTransportOptions } from "./tcp-transport.js";
export { TlsTransport, type TlsTransportOptions } from "./tls-transport.js";
export { WebSocketTransport, type WebSocketTransportOptions } from "./websocket-transport.js";
export { SipTransportLayer, type TransportLayerOptions, type TransportStats, type InboundHandler } from "./transport-layer.js";
export { datagramRefusal, requestHeadOf } from "./transport-refusal.js";
export { startProxyServer, createTransport, type ProxyServer, type ProxyServerOptions } from "./proxy-server.js";
export { nextHopHook } from "./proxy-next-hop-hook.js";
