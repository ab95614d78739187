// Typed error of the PPPoE layer's codecs (RFC 2516 frames, RFC 1662 HDLC-like framing, the PPP control
// protocols of RFC 1661/1332/1334/1994): the only exception their decoders throw.

/** Why a frame could not be decoded. */
export type PppoeDecodeErrorCode =
  | "truncated"
  | "bad-mac"
  | "bad-ethertype"
  | "bad-version-type"
  | "bad-code"
  | "bad-length"
  | "bad-session-id"
  | "bad-tag-length"
  | "bad-tag"
  | "missing-tag"
  | "frame-too-large"
  | "bad-fcs"
  | "bad-escape"
  | "aborted"
  | "bad-ppp-protocol"
  | "bad-ppp-length"
  | "bad-ppp-option";

/** A frame that cannot be decoded: its code and the offset. */
export class PppoeDecodeError extends Error {
  declare readonly name: "PppoeDecodeError";
  readonly code: PppoeDecodeErrorCode;
  /** Byte offset of the fault inside the buffer (or stream frame) being decoded. */
  readonly offset: number;
  /** TAG_TYPE of the faulty tag, when the fault is in one (RFC 2516 Appendix A). */
  readonly tagType: number | undefined;

  constructor(code: PppoeDecodeErrorCode, offset: number, message: string, tagType?: number) {
    // Malformed input is data, not a bug: skip the costly stack capture so floods of bad frames stay cheap.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(`PPPoE ${code} at offset ${offset}: ${message}`);
    Error.stackTraceLimit = limit;
    Object.defineProperty(this, "name", { value: "PppoeDecodeError", enumerable: false });
    this.code = code;
    this.offset = offset;
    this.tagType = tagType;
  }
}
