// Typed errors of the DSC codec: the only exceptions its decoders throw.

/** What was wrong with a DSC frame or Envelope. */
export type DscDecodeErrorCode =
  | "frame-too-large" // length prefix above the receiver's maximum frame size
  | "empty-frame" // length prefix of 0: no Envelope
  | "bad-protobuf" // the Envelope's bytes are not protobuf of its schema (truncated field, bad wire type, ...)
  | "no-body" // an Envelope without one of its message kinds
  | "missing-field" // a field the message needs is absent or empty
  | "bad-value"; // a field out of its range (entity too long, too many entities, port above 65535, ...)

/** A DSC frame or Envelope refused by the decoder: the code and the byte offset of the fault. */
export class DscDecodeError extends Error {
  declare readonly name: "DscDecodeError";
  readonly code: DscDecodeErrorCode;
  /** Byte offset of the fault: in the stream for framing faults, in the frame's payload otherwise (0 when unknown). */
  readonly offset: number;
  /** The field at fault, as a path (`resync.owned[2].entities[0]`), when there is one. */
  readonly field: string | undefined;

  constructor(code: DscDecodeErrorCode, offset: number, message: string, field?: string) {
    // Malformed input is data, not a bug: no stack capture, so a flood of bad frames stays cheap.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(`DSC ${code} at offset ${offset}${field ? ` (${field})` : ""}: ${message}`);
    Error.stackTraceLimit = limit;
    Object.defineProperty(this, "name", { value: "DscDecodeError", enumerable: false });
    this.code = code;
    this.offset = offset;
    this.field = field;
  }
}

/** A message our own code asked to encode breaks the schema's limits (an entity too long, ...). */
export class DscEncodeError extends Error {
  declare readonly name: "DscEncodeError";
  constructor(message: string) {
    super(`DSC encode: ${message}`);
    Object.defineProperty(this, "name", { value: "DscEncodeError", enumerable: false });
  }
}
