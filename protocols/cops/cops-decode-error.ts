// Typed error of the COPS codec: the only exception its decoders throw.

/** Error/sub-code a peer should receive for this fault (RFC 2748 §2.2.8). */
export interface CopsErrorCodePair {
  code: number;
  subCode: number;
}

/** Why a COPS message could not be decoded. */
export type CopsDecodeErrorCode =
  | "truncated"
  | "bad-header"
  | "bad-version"
  | "bad-length"
  | "bad-op-code"
  | "bad-object-length"
  | "unknown-object"
  | "bad-object"
  | "missing-object"
  | "unexpected-object"
  | "bad-sub-object"
  | "bad-ber"
  | "bad-client-si"
  | "frame-too-large";

/** A COPS message that cannot be decoded: its code, the offset and, where it applies, the RFC 2748 error to answer with. */
export class CopsDecodeError extends Error {
  declare readonly name: "CopsDecodeError";
  readonly code: CopsDecodeErrorCode;
  /** Byte offset of the fault inside the buffer being decoded. */
  readonly offset: number;
  readonly cNum: number | undefined;
  readonly cType: number | undefined;
  /** What the RFC says to tell the peer (Error object code/sub-code, RFC 2748 §2.2.8). */
  readonly copsErrorCode: CopsErrorCodePair;

  constructor(
    code: CopsDecodeErrorCode,
    offset: number,
    message: string,
    details: { cNum?: number; cType?: number; copsErrorCode?: CopsErrorCodePair } = {},
  ) {
    // Malformed input is data, not a bug: skip the costly stack capture so floods of bad frames stay cheap.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(`COPS ${code} at offset ${offset}: ${message}`);
    Error.stackTraceLimit = limit;
    Object.defineProperty(this, "name", { value: "CopsDecodeError", enumerable: false });
    this.code = code;
    this.offset = offset;
    this.cNum = details.cNum;
    this.cType = details.cType;
    this.copsErrorCode = details.copsErrorCode ?? { code: 3, subCode: 0 };
  }
}
