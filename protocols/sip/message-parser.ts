// Datagram-mode SIP message parser (work in progress: full implementation follows).
import { SipParseError } from "./sip-parse-error.js";
import type { SipMessage } from "./sip-message.js";

export interface SipParseLimits {
  maxMessageBytes: number;
  maxHeaders: number;
  maxLineBytes: number;
}

export const DEFAULT_SIP_PARSE_LIMITS: Readonly<SipParseLimits> = { maxMessageBytes: 65536, maxHeaders: 256, maxLineBytes: 8192 };

export interface SipParseOptions {
  limits?: Partial<SipParseLimits>;
  /** Accept requests without Max-Forwards (RFC 3261 §16.6 step 3 lets a proxy add one). Default true. */
  tolerateMissingMaxForwards?: boolean;
}

export function parseSipMessage(buf: Buffer, _opts: SipParseOptions = {}): SipMessage {
  throw new SipParseError("empty-message", "parser not implemented yet", buf.length);
}
