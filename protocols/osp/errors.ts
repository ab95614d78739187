// The one error type the OSP codec and token validator throw.

/** Why an OSP message could not be decoded. */
export type OspDecodeErrorCode =
  | "not-xml"
  | "bad-root"
  | "missing-attribute"
  | "missing-element"
  | "duplicate-element"
  | "unexpected-text"
  | "unexpected-children"
  | "bad-value"
  | "unknown-critical-element"
  | "no-component"
  | "too-large";

/**
 * A message that cannot be decoded. `path` names the element (`Message/AuthorizationRequest/CallId`),
 * `reason` says what is wrong, `ospStatusCode` is the Status Code to answer with when the peer is to be told.
 */
export class OspDecodeError extends Error {
  override readonly name = "OspDecodeError";
  readonly code: OspDecodeErrorCode;
  readonly path: string;
  readonly reason: string;
  readonly ospStatusCode: number;
  /** Byte offset in the UTF-8 document where an XML syntax error was found (not-xml errors of the reader). */
  readonly offset: number | undefined;
  /** The message and the component the error lies in, when the document got that far (set by decodeOspMessage). */
  messageId: string | undefined;
  /** Element name of the component as sent (`UsageIndication`, `AuthorizationRequest`). */
  component: string | undefined;
  componentId: string | undefined;

  constructor(code: OspDecodeErrorCode, path: string, reason: string, ospStatusCode = 400, offset?: number) {
    // Decode errors describe the input, not the program: skip the costly stack capture (fuzzers and
    // hostile peers make many of them).
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(`OSP ${code} at ${path || "(document)"}: ${reason}`);
    Error.stackTraceLimit = limit;
    this.code = code;
    this.path = path;
    this.reason = reason;
    this.ospStatusCode = ospStatusCode;
    this.offset = offset;
    this.messageId = undefined;
    this.component = undefined;
    this.componentId = undefined;
  }
}
