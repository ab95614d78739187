// The one error class the SIP codec throws: what failed (code), where (byte offset into the message or
// header value) and, for header-level faults, which header.

/** Why a SIP message could not be parsed. */
export type SipParseErrorCode =
  | "empty-message"
  | "bad-start-line"
  | "bad-method"
  | "bad-request-uri"
  | "bad-version"
  | "bad-status-code"
  | "bad-header-name"
  | "bad-header-line"
  | "bad-header-value"
  | "bad-line-ending"
  | "missing-header"
  | "duplicate-header"
  | "bad-content-length"
  | "body-too-short"
  | "missing-content-length"
  | "message-too-large"
  | "too-many-headers"
  | "line-too-long"
  | "bad-uri"
  | "unsupported-uri-scheme"
  | "stream-failed";

/** A SIP message that cannot be parsed: its code, the offset and the header concerned. */
export class SipParseError extends Error {
  readonly code: SipParseErrorCode;
  /** Byte offset into the message (or, for header-value and URI faults, into that value's text). */
  readonly offset: number;
  /** Header name as on the wire, when the fault is inside one header. */
  readonly header?: string;
  /** The description without code and position. */
  readonly detail: string;

  constructor(code: SipParseErrorCode, detail: string, offset: number, header?: string) {
    // No stack trace: a parse error is about the input, not the code, and hostile input can make a
    // proxy throw many of them; capturing stacks would make each one cost microseconds.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(`${code} at ${header !== undefined ? `${header} ` : ""}offset ${offset}: ${detail}`);
    Error.stackTraceLimit = limit;
    this.name = "SipParseError";
    this.code = code;
    this.detail = detail;
    this.offset = offset;
    if (header !== undefined) this.header = header;
  }

  /** The same error with its offset moved by `delta` (e.g. from message-relative to stream-relative). */
  shifted(delta: number): SipParseError {
    return new SipParseError(this.code, this.detail, this.offset + delta, this.header);
  }
}
