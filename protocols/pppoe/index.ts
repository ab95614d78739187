// callgate/pppoe: the PPPoE layer (RFC 2516 Discovery and Session frames, RFC 1662 HDLC-like framing,
// sans-I/O Discovery machines for the Host and the Access Concentrator, PPP LCP/PAP/CHAP/IPCP codecs and the
// link machine that negotiates them).
export { PppoeDecodeError } from "./pppoe-decode-error.js";
export type { PppoeDecodeErrorCode } from "./pppoe-decode-error.js";
export {
  EtherType,
  PppoeCode,
  TagType,
  BROADCAST_MAC,
  MAX_PPPOE_PAYLOAD,
  MAX_PADI_FRAME,
  MAX_SESSION_ID,
  MIN_ETHERNET_FRAME,
} from "./constants.js";
export type { DiscoveryCodeName } from "./constants.js";
export { findTag, findErrorTag } from "./pppoe-frame.js";
export type { MacAddress, PppoeTag, PppoeTagName, PppoeFrame, PppoePacket, PppoeDiscoveryPacket, PppoeSessionPacket } from "./pppoe-frame.js";
export { encodePppoeFrame, decodePppoeFrame, encodePppoePacket, decodePppoePacket, peekEtherType, macToString, isMacAddress } from "./pppoe-codec.js";
export { HdlcDeframer, encodeHdlcFrame, decodeHdlcFrame, fcs16, fcs32, DEFAULT_ACCM, GOOD_FCS16, GOOD_FCS32, HDLC_FLAG, HDLC_ESCAPE } from "./hdlc.js";
export type { HdlcOptions, HdlcDeframerOptions, HdlcDeframed, FcsSize } from "./hdlc.js";
export type { PppoeAction, PppoePortEvent, PppoeDrop } from "./discovery-actions.js";
export { PppoeDiscoveryClient } from "./discovery-client.js";
export type { PppoeClientOptions, PppoeClientCommand, PppoeClientEvent, PppoeClientState } from "./discovery-client.js";
export { PppoeDiscoveryServer } from "./discovery-server.js";
export type { PppoeServerOptions, PppoeServerCommand, PppoeServerEvent, PppoeServerSession } from "./discovery-server.js";
export {
  PppProtocol,
  ControlCode,
  LcpOption,
  IpcpOption,
  decodePppFrame,
  encodePppFrame,
  decodeControlPacket,
  encodeControlPacket,
  decodePapPacket,
  encodePapPacket,
  decodeChapPacket,
  encodeChapPacket,
} from "./ppp-codec.js";
export type { PppFrame, PppOption, ControlPacket, ConfigureCode, ControlProtocolName, PapPacket, ChapPacket } from "./ppp-codec.js";
export { NegotiationMachine } from "./ppp-negotiation.js";
export type { NegotiationState, NegotiationPolicy, NegotiationAction, NegotiationOptions, Judgement } from "./ppp-negotiation.js";
export { PppLink, chapMd5Response, ipv4ToBuffer, bufferToIpv4 } from "./ppp-link.js";
export type { PppLinkOptions, PppClientOptions, PppServerOptions, PppLinkEvent, PppLinkAction, PppLinkInput, PppPhase, AuthMethod } from "./ppp-link.js";
