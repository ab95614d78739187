// Typed errors of the RADIUS codec: the only exceptions its decoder and encoder throw.

/** Why a RADIUS packet could not be decoded. */
export type RadiusDecodeErrorCode =
  | "truncated" // buffer shorter than the header or than the Length field (RFC 2865 §3)
  | "bad-length" // Length field outside 20..4096 (RFC 2865 §3)
  | "bad-code" // unknown packet Code (RFC 2865 §3)
  | "bad-attribute-length" // attribute Length < 2, overrunning the packet, or wrong for its type (RFC 2865 §5)
  | "empty-attribute" // text/string with no octets (RFC 2865 §5: 1-253 octets)
  | "bad-text" // text that is not UTF-8 (RFC 2865 §5)
  | "bad-password" // User-Password not a multiple of 16 octets (RFC 2865 §5.2)
  | "bad-vendor-specific" // Vendor-Specific shorter than its Vendor-Id, or bad sub-attributes (RFC 2865 §5.26)
  | "bad-attribute-type"; // a type outside one octet, given with its value octets (RFC 2865 §5)

/** A RADIUS packet that cannot be decoded: its code and the offset. */
export class RadiusDecodeError extends Error {
  declare readonly name: "RadiusDecodeError";
  readonly code: RadiusDecodeErrorCode;
  /** Byte offset of the fault inside the buffer being decoded. */
  readonly offset: number;
  /** Attribute type at fault, when the fault is inside an attribute. */
  readonly attributeType: number | undefined;

  constructor(code: RadiusDecodeErrorCode, offset: number, message: string, attributeType?: number) {
    // Malformed input is data, not a bug: skip the stack capture so floods of bad datagrams stay cheap.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(`RADIUS ${code} at offset ${offset}: ${message}`);
    Error.stackTraceLimit = limit;
    Object.defineProperty(this, "name", { value: "RadiusDecodeError", enumerable: false });
    this.code = code;
    this.offset = offset;
    this.attributeType = attributeType;
  }
}

/** A packet our own code asked to build cannot be put on the wire (value too long, packet over 4096, …). */
export class RadiusEncodeError extends Error {
  declare readonly name: "RadiusEncodeError";
  readonly attributeType: number | undefined;

  constructor(message: string, attributeType?: number) {
    super(`RADIUS encode: ${message}`);
    Object.defineProperty(this, "name", { value: "RadiusEncodeError", enumerable: false });
    this.attributeType = attributeType;
  }
}
