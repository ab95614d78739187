// callgate/dsc: distributed session counters — the wire codec and the sans-I/O counter.
export { DscDecodeError, DscEncodeError } from "./errors.js";
export type { DscDecodeErrorCode } from "./errors.js";
export {
  DSC_DEFAULT_MAX_FRAME,
  DSC_FRAME_HEADER,
  DSC_MAX_ENTITIES,
  DSC_MAX_ID_LENGTH,
  DscFrameDecoder,
  decodeDscEnvelope,
  encodeDscEnvelope,
  encodeDscFrame,
} from "./codec.js";
export type { DscEnvelope, DscMessage, DscMessageKind, DscSession, EntityCount } from "./codec.js";
export { AuthorityMap, rendezvousOwner } from "./authority.js";
export { DscCore } from "./core.js";
export type { AuthoriseRequest, DscAction, DscCoreOptions, EntityStats, EntityThreshold, RefusalCause } from "./core.js";
export { DscNode } from "./tcp-driver.js";
export type { DscDecision, DscDropCause, DscNodeOptions, DscPeerAddress, DscTlsOptions } from "./tcp-driver.js";
