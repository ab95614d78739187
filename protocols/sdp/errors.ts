// Typed errors of the SDP codec (RFC 4566): the only exceptions its parser and writer throw.

/** Why a session description was refused (each names the RFC 4566 rule it breaks). */
export type SdpParseErrorCode =
  | "bad-encoding" // not UTF-8, or a NUL in the text (RFC 4566 §5: text is ISO 10646 in UTF-8, no NUL/CR/LF)
  | "bad-line" // a line that is not <type>=<value> with a single lowercase letter (RFC 4566 §5)
  | "unknown-type" // a type letter RFC 4566 does not define (§5: such a description is ignored whole)
  | "bad-order" // a line out of the order of RFC 4566 §5, or repeated where only one is allowed
  | "missing-line" // v=, o=, s= or t= absent, or no c= for a media stream (RFC 4566 §5, §5.7)
  | "bad-version" // v= other than 0 (RFC 4566 §5.1)
  | "bad-origin" // o= not six fields (RFC 4566 §5.2)
  | "bad-connection" // c= not <nettype> <addrtype> <address> (RFC 4566 §5.7)
  | "bad-bandwidth" // b= not <bwtype>:<integer> (RFC 4566 §5.8)
  | "bad-timing" // t= or r= not integers (RFC 4566 §5.9, §5.10)
  | "bad-attribute" // a= with an empty or non-token name (RFC 4566 §5.13)
  | "bad-media" // m= not <media> <port>[/<n>] <proto> <fmt>... with at least one format (RFC 4566 §5.14)
  | "too-large"; // more text or lines than the parser accepts

/** A session description that is not valid SDP: the rule, the 1-based line and the byte offset of the fault. */
export class SdpParseError extends Error {
  declare readonly name: "SdpParseError";
  readonly code: SdpParseErrorCode;
  /** Byte offset (in the UTF-8 text) where the faulty line starts, or where the fault is. */
  readonly offset: number;
  /** 1-based line number of the fault. */
  readonly line: number;

  constructor(code: SdpParseErrorCode, offset: number, line: number, message: string) {
    // Malformed input is data, not a bug: no stack capture, so floods of bad bodies stay cheap.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(`SDP ${code} at line ${line} (offset ${offset}): ${message}`);
    Error.stackTraceLimit = limit;
    Object.defineProperty(this, "name", { value: "SdpParseError", enumerable: false });
    this.code = code;
    this.offset = offset;
    this.line = line;
  }
}

/** A session description our own code asked to write is not valid SDP (empty formats, a CR in a value, …). */
export class SdpEncodeError extends Error {
  declare readonly name: "SdpEncodeError";
  constructor(message: string) {
    super(`SDP encode: ${message}`);
    Object.defineProperty(this, "name", { value: "SdpEncodeError", enumerable: false });
  }
}
