// callgate/osp: the OSP layer (ETSI TS 101 321): codec, tokens, HTTP client and server.
export * from "./model.js";
export { OspDecodeError, type OspDecodeErrorCode } from "./errors.js";
export {
  decodeOspMessage,
  encodeOspMessage,
  decodeTokenInfo,
  encodeTokenInfo,
  ospMessageLabel,
  parseOspTime,
  formatOspTime,
  readOspMessageComponents,
  type OspEncodeOptions,
  type OspMessageReading,
} from "./codec.js";
export { componentElementName, componentKindOf, COMPONENT_KINDS } from "./names.js";
export {
  authorisationRequest,
  authorisationResponse,
  usageIndication,
  ospMessage,
  wholeSeconds,
  type AuthorisationRequestInput,
  type UsageIndicationInput,
} from "./builders.js";
export {
  createOspToken,
  OspTokenValidator,
  type OspTokenSigner,
  type OspTokenRefusal,
  type OspTokenVerdict,
  type OspTokenValidatorOptions,
  type OspTokenExpectation,
} from "./token.js";
export { generateOspPki, type OspKeyType, type OspPki, type OspPkiOptions } from "./token-pki.js";
export { OspClient, OspHttpError, type OspClientOptions } from "./http-client.js";
export { UsageOutbox, type OutboxEntry } from "./usage-outbox.js";
export { unwrapOspBody } from "./http-body.js";
export {
  startOspHttpServer,
  type OspHttpServer,
  type OspHttpServerOptions,
  type OspHttpHandler,
  type OspHttpRequestInfo,
  type OspHttpsServerTls,
} from "./http-server.js";
export type { OspComponentReading } from "./codec.js";
