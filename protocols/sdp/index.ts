// callgate/sdp: SDP (RFC 4566) codec and the offer/answer model (RFC 3264) as a sans-I/O machine.
export { SdpParseError, SdpEncodeError } from "./errors.js";
export type { SdpParseErrorCode } from "./errors.js";
export type { SessionDescription, SdpMedia, SdpOrigin, SdpConnection, SdpBandwidth, SdpAttribute, SdpTiming, SdpDirection } from "./model.js";
export { parseSdp, serializeSdp, SDP_MAX_LENGTH, SDP_MAX_LINES } from "./codec.js";
export { staticPayload } from "./static-payloads.js";
export type { RtpEncoding } from "./static-payloads.js";
export { isRtpMedia, mediaFormats, mediaDirection, answerDirection, mediaAddress, mediaBandwidthKbps } from "./media.js";
export type { SdpFormat } from "./media.js";
export { OfferAnswerSession, answerOffer, makeOffer, writeOffer, checkAnswer, DEFAULT_CODECS } from "./offer-answer.js";
export type { LocalCodec, OfferAnswerOptions, OfferAnswerState, OfferOutcome, AnswerCheck } from "./offer-answer.js";
export { sdpStreams } from "./streams.js";
export type { StreamView } from "./streams.js";
