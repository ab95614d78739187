// What both ends of a COPS connection do with a message: decode it (the typed error as a value), answer an
// integrity failure (RFC 2748 §2.2.16), and encode or seal what goes out.
import { CopsDecodeError } from "../cops-decode-error.js";
import { decodeCopsMessage, encodeCopsMessage } from "../cops-codec.js";
import { ErrorCode } from "../constants.js";
import type { CopsCodePair, CopsMessage } from "../cops-message.js";
import type { CopsAction } from "./cops-actions.js";
import type { IntegrityCheck, IntegritySession } from "./integrity-session.js";

/** Decodes one framed message; a CopsDecodeError is returned for the caller to answer, anything else is thrown. */
export function decodeOrError(bytes: Buffer): CopsMessage | CopsDecodeError {
  try {
    return decodeCopsMessage(bytes);
  } catch (err) {
    if (err instanceof CopsDecodeError) return err;
    throw err;
  }
}

/** RFC 2748 §2.2.8 / §2.2.16: a message failing integrity closes the connection with Error 15 (missing) or 14 (failed). */
export function integrityCloseError(verdict: Exclude<IntegrityCheck, "ok">): CopsCodePair {
  return { code: verdict === "missing" ? ErrorCode.AuthenticationRequired : ErrorCode.AuthenticationFailure, subCode: 0 };
}

/** The send action for `msg`: sealed with the next Integrity object when the connection has a session. */
export function sendAction(msg: CopsMessage, integrity: IntegritySession | undefined): Extract<CopsAction, { type: "send" }> {
  if (integrity === undefined) return { type: "send", bytes: encodeCopsMessage(msg), message: msg };
  const sealed = integrity.seal(msg);
  return { type: "send", bytes: sealed.bytes, message: sealed.message };
}
