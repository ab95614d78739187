// The one error type the OSP codec and token validator throw.

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
  constructor(
    readonly code: OspDecodeErrorCode,
    readonly path: string,
    readonly reason: string,
    readonly ospStatusCode: number = 400,
  ) {
    super(`OSP ${code} at ${path || "(document)"}: ${reason}`);
  }
}
