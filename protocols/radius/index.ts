// callgate/radius: the RADIUS layer (RFC 2865, RFC 2866, RFC 2869, RFC 3579 §3.2, RFC 5080 §2.2, RFC 5090).
export { RadiusDecodeError, RadiusEncodeError } from "./errors.js";
export type { RadiusDecodeErrorCode } from "./errors.js";
export {
  RADIUS_DICTIONARY,
  AcctStatusType,
  AcctTerminateCause,
  attributeDefinition,
  attributeCode,
  attributeValueType,
  attributeValueName,
} from "./dictionary.js";
export type { RadiusValueType, RadiusAttributeDefinition } from "./dictionary.js";
export {
  RadiusCode,
  RADIUS_HEADER_LENGTH,
  RADIUS_MAX_PACKET_LENGTH,
  encodeRadiusPacket,
  decodeRadiusPacket,
  verifyRadiusPacket,
  hideUserPassword,
  revealUserPassword,
  vendorSpecific,
  vendorSubAttributes,
  radiusAttributeFromOctets,
  radiusAttributeOctets,
  wireValueType,
  isResponseCode,
} from "./codec.js";
export type { RadiusAttribute, RadiusPacket, RadiusVerification, RadiusVerifyOptions } from "./codec.js";
export { radiusAttribute, findAttribute, attributeValue } from "./attributes.js";
export { RadiusClientMachine } from "./client.js";
export type { RadiusClientAction, RadiusClientOptions, RadiusEndpoint, RadiusRequest } from "./client.js";
export { RadiusServerMachine } from "./server.js";
export type { RadiusServerAction, RadiusServerOptions, RadiusReply } from "./server.js";
export {
  RadiusUdpClient,
  RadiusClientSocket,
  bindRadiusSocket,
  RadiusUdpServer,
  RadiusTimeoutError,
  RadiusQueueFullError,
  RADIUS_AUTH_PORT,
  RADIUS_ACCT_PORT,
} from "./udp.js";
export type { RadiusUdpClientOptions, RadiusClientSocketHooks, RadiusUdpServerOptions, RadiusRequestHandler, RadiusDropListener } from "./udp.js";
