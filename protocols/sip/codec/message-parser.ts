// Hand-written SIP message parser (RFC 3261 §7, §25). Works on the latin1 view of the bytes, so string
// indices are byte offsets; header values holding non-ASCII bytes are re-decoded as UTF-8. Only framing
// and the mandatory headers' presence are checked here; header values are parsed lazily by the accessors.
import { SipParseError } from "./sip-parse-error.js";
import {
  SipRequest,
  SipResponse,
  WIRE_CALL_ID,
  WIRE_C_SEQ,
  WIRE_CONTACT,
  WIRE_FROM,
  WIRE_REQUEST_URI,
  WIRE_SLOTS,
  WIRE_TO,
  WIRE_VIA,
  type SipHeader,
  type SipMessage,
} from "./sip-message.js";
import { TOKEN_CHARS } from "./header-lexer.js";

/** Bounds a parse holds a message to: sizes and counts of lines, headers and body. */
export interface SipParseLimits {
  /** Whole message (head + body), bytes. */
  maxMessageBytes: number;
  /** Header lines (after unfolding). */
  maxHeaders: number;
  /** One start line or one header (including its folded continuation lines), bytes. */
  maxLineBytes: number;
}

/** Defaults a proxy would pick: 64 KiB covers the largest UDP datagram and any sane TCP message. */
export const DEFAULT_SIP_PARSE_LIMITS: Readonly<SipParseLimits> = Object.freeze({
  maxMessageBytes: 65536,
  maxHeaders: 256,
  maxLineBytes: 8192,
});

/** The limits of a parse, and whether a request without Max-Forwards is tolerated. */
export interface SipParseOptions {
  limits?: Partial<SipParseLimits>;
  /**
   * Accept requests without Max-Forwards (default true): RFC 2543 elements omit it (RFC 4475 §3.4.1) and
   * a proxy adds one when forwarding (RFC 3261 §16.6 step 3). Set false to enforce RFC 3261 §8.1.1.
   */
  tolerateMissingMaxForwards?: boolean;
}

/** Parse state shared with the stream parser. */
export interface ResolvedParseOptions {
  limits: SipParseLimits;
  tolerateMissingMaxForwards: boolean;
}

const DEFAULT_RESOLVED: ResolvedParseOptions = { limits: DEFAULT_SIP_PARSE_LIMITS, tolerateMissingMaxForwards: true };

export function resolveParseOptions(opts: SipParseOptions | undefined): ResolvedParseOptions {
  if (opts === undefined) return DEFAULT_RESOLVED;
  const l = opts?.limits;
  return {
    limits: l === undefined ? DEFAULT_SIP_PARSE_LIMITS : { ...DEFAULT_SIP_PARSE_LIMITS, ...l },
    tolerateMissingMaxForwards: opts?.tolerateMissingMaxForwards ?? true,
  };
}

// Bits for the headers the parser tracks.
const H_VIA = 1;
const H_FROM = 2;
const H_TO = 4;
const H_CALL_ID = 8;
const H_CSEQ = 16;
const H_MAX_FORWARDS = 32;
const H_CONTENT_LENGTH = 64;
/** Not checked, only located for in-place parsing. */
const H_CONTACT = 128;

/** The sip-message WIRE_* slot of a tracked header, or -1. */
function wireSlot(kind: number): number {
  switch (kind) {
    case H_VIA: return WIRE_VIA;
    case H_FROM: return WIRE_FROM;
    case H_TO: return WIRE_TO;
    case H_CALL_ID: return WIRE_CALL_ID;
    case H_CSEQ: return WIRE_C_SEQ;
    case H_CONTACT: return WIRE_CONTACT;
    default: return -1;
  }
}

const REQUEST_REQUIRED = H_VIA | H_FROM | H_TO | H_CALL_ID | H_CSEQ;
const RESPONSE_REQUIRED = H_VIA | H_FROM | H_TO | H_CALL_ID | H_CSEQ;
const REQUIRED_NAMES: [number, string][] = [
  [H_VIA, "Via"],
  [H_FROM, "From"],
  [H_TO, "To"],
  [H_CALL_ID, "Call-ID"],
  [H_CSEQ, "CSeq"],
  [H_MAX_FORWARDS, "Max-Forwards"],
];

/** Case-insensitive compare of s[start, start+lower.length) with an all-lower-case ASCII word. */
function eqLower(s: string, start: number, lower: string): boolean {
  for (let k = 0; k < lower.length; k++) {
    let c = s.charCodeAt(start + k);
    if (c >= 65 && c <= 90) c |= 0x20;
    if (c !== lower.charCodeAt(k)) return false;
  }
  return true;
}

/** Which tracked header (if any) the name s[start,end) denotes, compact forms included. */
function classifyHeader(s: string, start: number, end: number): number {
  const len = end - start;
  const c0 = s.charCodeAt(start) | 0x20;
  switch (len) {
    case 1:
      switch (c0) {
        case 118: return H_VIA; // v
        case 102: return H_FROM; // f
        case 116: return H_TO; // t
        case 105: return H_CALL_ID; // i
        case 108: return H_CONTENT_LENGTH; // l
        default: return 0;
      }
    case 2:
      return c0 === 116 && eqLower(s, start, "to") ? H_TO : 0;
    case 3:
      return c0 === 118 && eqLower(s, start, "via") ? H_VIA : 0;
    case 4:
      if (c0 === 102 && eqLower(s, start, "from")) return H_FROM;
      if (c0 === 99 && eqLower(s, start, "cseq")) return H_CSEQ;
      return 0;
    case 7:
      return c0 === 99 && eqLower(s, start, "call-id") ? H_CALL_ID : 0;
    case 12:
      return c0 === 109 && eqLower(s, start, "max-forwards") ? H_MAX_FORWARDS : 0;
    case 14:
      return c0 === 99 && eqLower(s, start, "content-length") ? H_CONTENT_LENGTH : 0;
    default:
      return 0;
  }
}

/** Set by knownHeaderAt / knownHeaderName: the tracked-header bit of the name it recognised. */
let knownHeaderKind = 0;

/**
 * The usual spellings of frequent header names, recognised at buf[i] when followed directly by ':' (so no
 * token scan is needed): the name as a constant string, its tracked-header bit in `knownHeaderKind`.
 * Undefined for anything else (the general scan then handles the line).
 */
function knownHeaderAt(buf: Buffer, i: number, end: number): string | undefined {
  knownHeaderKind = 0;
  switch (buf[i]) {
    case 86: // V
      // Via:
      if (buf[i + 1] === 105 && buf[i + 2] === 97 && buf[i + 3] === 58) {
        knownHeaderKind = H_VIA;
        return i + 3 < end ? "Via" : undefined;
      }
      return undefined;
    case 70: // F
      // From:
      if (buf[i + 1] === 114 && buf[i + 2] === 111 && buf[i + 3] === 109 && buf[i + 4] === 58) {
        knownHeaderKind = H_FROM;
        return i + 4 < end ? "From" : undefined;
      }
      return undefined;
    case 84: // T
      // To:
      if (buf[i + 1] === 111 && buf[i + 2] === 58) {
        knownHeaderKind = H_TO;
        return i + 2 < end ? "To" : undefined;
      }
      return undefined;
    case 67: // C
      // Content-Length:
      if (buf[i + 1] === 111 && buf[i + 2] === 110 && buf[i + 3] === 116 && buf[i + 4] === 101 && buf[i + 5] === 110 && buf[i + 6] === 116 && buf[i + 7] === 45 && buf[i + 8] === 76 && buf[i + 9] === 101 && buf[i + 10] === 110 && buf[i + 11] === 103 && buf[i + 12] === 116 && buf[i + 13] === 104 && buf[i + 14] === 58) {
        knownHeaderKind = H_CONTENT_LENGTH;
        return i + 14 < end ? "Content-Length" : undefined;
      }
      // Content-Type:
      if (buf[i + 1] === 111 && buf[i + 2] === 110 && buf[i + 3] === 116 && buf[i + 4] === 101 && buf[i + 5] === 110 && buf[i + 6] === 116 && buf[i + 7] === 45 && buf[i + 8] === 84 && buf[i + 9] === 121 && buf[i + 10] === 112 && buf[i + 11] === 101 && buf[i + 12] === 58) return i + 12 < end ? "Content-Type" : undefined;
      // Call-ID:
      if (buf[i + 1] === 97 && buf[i + 2] === 108 && buf[i + 3] === 108 && buf[i + 4] === 45 && buf[i + 5] === 73 && buf[i + 6] === 68 && buf[i + 7] === 58) {
        knownHeaderKind = H_CALL_ID;
        return i + 7 < end ? "Call-ID" : undefined;
      }
      // Contact:
      if (buf[i + 1] === 111 && buf[i + 2] === 110 && buf[i + 3] === 116 && buf[i + 4] === 97 && buf[i + 5] === 99 && buf[i + 6] === 116 && buf[i + 7] === 58) {
        knownHeaderKind = H_CONTACT;
        return i + 7 < end ? "Contact" : undefined;
      }
      // CSeq:
      if (buf[i + 1] === 83 && buf[i + 2] === 101 && buf[i + 3] === 113 && buf[i + 4] === 58) {
        knownHeaderKind = H_CSEQ;
        return i + 4 < end ? "CSeq" : undefined;
      }
      return undefined;
    case 77: // M
      // Max-Forwards:
      if (buf[i + 1] === 97 && buf[i + 2] === 120 && buf[i + 3] === 45 && buf[i + 4] === 70 && buf[i + 5] === 111 && buf[i + 6] === 114 && buf[i + 7] === 119 && buf[i + 8] === 97 && buf[i + 9] === 114 && buf[i + 10] === 100 && buf[i + 11] === 115 && buf[i + 12] === 58) {
        knownHeaderKind = H_MAX_FORWARDS;
        return i + 12 < end ? "Max-Forwards" : undefined;
      }
      return undefined;
    case 82: // R
      // Record-Route:
      if (buf[i + 1] === 101 && buf[i + 2] === 99 && buf[i + 3] === 111 && buf[i + 4] === 114 && buf[i + 5] === 100 && buf[i + 6] === 45 && buf[i + 7] === 82 && buf[i + 8] === 111 && buf[i + 9] === 117 && buf[i + 10] === 116 && buf[i + 11] === 101 && buf[i + 12] === 58) return i + 12 < end ? "Record-Route" : undefined;
      // Require:
      if (buf[i + 1] === 101 && buf[i + 2] === 113 && buf[i + 3] === 117 && buf[i + 4] === 105 && buf[i + 5] === 114 && buf[i + 6] === 101 && buf[i + 7] === 58) return i + 7 < end ? "Require" : undefined;
      // Reason:
      if (buf[i + 1] === 101 && buf[i + 2] === 97 && buf[i + 3] === 115 && buf[i + 4] === 111 && buf[i + 5] === 110 && buf[i + 6] === 58) return i + 6 < end ? "Reason" : undefined;
      // Route:
      if (buf[i + 1] === 111 && buf[i + 2] === 117 && buf[i + 3] === 116 && buf[i + 4] === 101 && buf[i + 5] === 58) return i + 5 < end ? "Route" : undefined;
      return undefined;
    case 65: // A
      // Accept:
      if (buf[i + 1] === 99 && buf[i + 2] === 99 && buf[i + 3] === 101 && buf[i + 4] === 112 && buf[i + 5] === 116 && buf[i + 6] === 58) return i + 6 < end ? "Accept" : undefined;
      // Allow:
      if (buf[i + 1] === 108 && buf[i + 2] === 108 && buf[i + 3] === 111 && buf[i + 4] === 119 && buf[i + 5] === 58) return i + 5 < end ? "Allow" : undefined;
      return undefined;
    case 83: // S
      // Supported:
      if (buf[i + 1] === 117 && buf[i + 2] === 112 && buf[i + 3] === 112 && buf[i + 4] === 111 && buf[i + 5] === 114 && buf[i + 6] === 116 && buf[i + 7] === 101 && buf[i + 8] === 100 && buf[i + 9] === 58) return i + 9 < end ? "Supported" : undefined;
      // Subject:
      if (buf[i + 1] === 117 && buf[i + 2] === 98 && buf[i + 3] === 106 && buf[i + 4] === 101 && buf[i + 5] === 99 && buf[i + 6] === 116 && buf[i + 7] === 58) return i + 7 < end ? "Subject" : undefined;
      // Server:
      if (buf[i + 1] === 101 && buf[i + 2] === 114 && buf[i + 3] === 118 && buf[i + 4] === 101 && buf[i + 5] === 114 && buf[i + 6] === 58) return i + 6 < end ? "Server" : undefined;
      return undefined;
    case 85: // U
      // User-Agent:
      if (buf[i + 1] === 115 && buf[i + 2] === 101 && buf[i + 3] === 114 && buf[i + 4] === 45 && buf[i + 5] === 65 && buf[i + 6] === 103 && buf[i + 7] === 101 && buf[i + 8] === 110 && buf[i + 9] === 116 && buf[i + 10] === 58) return i + 10 < end ? "User-Agent" : undefined;
      return undefined;
    case 69: // E
      // Expires:
      if (buf[i + 1] === 120 && buf[i + 2] === 112 && buf[i + 3] === 105 && buf[i + 4] === 114 && buf[i + 5] === 101 && buf[i + 6] === 115 && buf[i + 7] === 58) return i + 7 < end ? "Expires" : undefined;
      // Event:
      if (buf[i + 1] === 118 && buf[i + 2] === 101 && buf[i + 3] === 110 && buf[i + 4] === 116 && buf[i + 5] === 58) return i + 5 < end ? "Event" : undefined;
      return undefined;
    case 68: // D
      // Date:
      if (buf[i + 1] === 97 && buf[i + 2] === 116 && buf[i + 3] === 101 && buf[i + 4] === 58) return i + 4 < end ? "Date" : undefined;
      return undefined;
    case 118: // v
      // v:
      if (buf[i + 1] === 58) {
        knownHeaderKind = H_VIA;
        return i + 1 < end ? "v" : undefined;
      }
      return undefined;
    case 102: // f
      // f:
      if (buf[i + 1] === 58) {
        knownHeaderKind = H_FROM;
        return i + 1 < end ? "f" : undefined;
      }
      return undefined;
    case 116: // t
      // t:
      if (buf[i + 1] === 58) {
        knownHeaderKind = H_TO;
        return i + 1 < end ? "t" : undefined;
      }
      return undefined;
    case 105: // i
      // i:
      if (buf[i + 1] === 58) {
        knownHeaderKind = H_CALL_ID;
        return i + 1 < end ? "i" : undefined;
      }
      return undefined;
    case 108: // l
      // l:
      if (buf[i + 1] === 58) {
        knownHeaderKind = H_CONTENT_LENGTH;
        return i + 1 < end ? "l" : undefined;
      }
      return undefined;
    case 109: // m
      // m:
      if (buf[i + 1] === 58) {
        knownHeaderKind = H_CONTACT;
        return i + 1 < end ? "m" : undefined;
      }
      return undefined;
    case 99: // c
      // c:
      if (buf[i + 1] === 58) return i + 1 < end ? "c" : undefined;
      return undefined;
    case 107: // k
      // k:
      if (buf[i + 1] === 58) return i + 1 < end ? "k" : undefined;
      return undefined;
    case 115: // s
      // s:
      if (buf[i + 1] === 58) return i + 1 < end ? "s" : undefined;
      return undefined;
    case 101: // e
      // e:
      if (buf[i + 1] === 58) return i + 1 < end ? "e" : undefined;
      return undefined;
    default:
      return undefined;
  }
}

/**
 * The usual spellings of frequent header names as constant strings (no substring, no hashing later), with
 * their tracked-header bit in `knownHeaderKind`; undefined for any other spelling. The byte comparisons
 * are written out (a loop over a constant word costs several times more).
 */
function knownHeaderName(buf: Buffer, i: number, len: number): string | undefined {
  knownHeaderKind = 0;
  const c0 = buf[i];
  switch (len) {
    case 1:
      switch (c0) {
        case 118: knownHeaderKind = H_VIA; return "v";
        case 102: knownHeaderKind = H_FROM; return "f";
        case 116: knownHeaderKind = H_TO; return "t";
        case 105: knownHeaderKind = H_CALL_ID; return "i";
        case 108: knownHeaderKind = H_CONTENT_LENGTH; return "l";
        case 109: knownHeaderKind = H_CONTACT; return "m";
        case 99: return "c";
        case 107: return "k";
        case 115: return "s";
        case 101: return "e";
        default: return undefined;
      }
    case 2:
      // To
      if (c0 === 84 && buf[i + 1] === 111) {
        knownHeaderKind = H_TO;
        return "To";
      }
      return undefined;
    case 3:
      // Via
      if (c0 === 86 && buf[i + 1] === 105 && buf[i + 2] === 97) {
        knownHeaderKind = H_VIA;
        return "Via";
      }
      return undefined;
    case 4:
      // From
      if (c0 === 70 && buf[i + 1] === 114 && buf[i + 2] === 111 && buf[i + 3] === 109) {
        knownHeaderKind = H_FROM;
        return "From";
      }
      // CSeq
      if (c0 === 67 && buf[i + 1] === 83 && buf[i + 2] === 101 && buf[i + 3] === 113) {
        knownHeaderKind = H_CSEQ;
        return "CSeq";
      }
      // Date
      if (c0 === 68 && buf[i + 1] === 97 && buf[i + 2] === 116 && buf[i + 3] === 101) return "Date";
      return undefined;
    case 5:
      // Route
      if (c0 === 82 && buf[i + 1] === 111 && buf[i + 2] === 117 && buf[i + 3] === 116 && buf[i + 4] === 101) return "Route";
      // Allow
      if (c0 === 65 && buf[i + 1] === 108 && buf[i + 2] === 108 && buf[i + 3] === 111 && buf[i + 4] === 119) return "Allow";
      // Event
      if (c0 === 69 && buf[i + 1] === 118 && buf[i + 2] === 101 && buf[i + 3] === 110 && buf[i + 4] === 116) return "Event";
      return undefined;
    case 6:
      // Accept
      if (c0 === 65 && buf[i + 1] === 99 && buf[i + 2] === 99 && buf[i + 3] === 101 && buf[i + 4] === 112 && buf[i + 5] === 116) return "Accept";
      // Server
      if (c0 === 83 && buf[i + 1] === 101 && buf[i + 2] === 114 && buf[i + 3] === 118 && buf[i + 4] === 101 && buf[i + 5] === 114) return "Server";
      // Reason
      if (c0 === 82 && buf[i + 1] === 101 && buf[i + 2] === 97 && buf[i + 3] === 115 && buf[i + 4] === 111 && buf[i + 5] === 110) return "Reason";
      return undefined;
    case 7:
      // Call-ID
      if (c0 === 67 && buf[i + 1] === 97 && buf[i + 2] === 108 && buf[i + 3] === 108 && buf[i + 4] === 45 && buf[i + 5] === 73 && buf[i + 6] === 68) {
        knownHeaderKind = H_CALL_ID;
        return "Call-ID";
      }
      // Contact
      if (c0 === 67 && buf[i + 1] === 111 && buf[i + 2] === 110 && buf[i + 3] === 116 && buf[i + 4] === 97 && buf[i + 5] === 99 && buf[i + 6] === 116) {
        knownHeaderKind = H_CONTACT;
        return "Contact";
      }
      // Subject
      if (c0 === 83 && buf[i + 1] === 117 && buf[i + 2] === 98 && buf[i + 3] === 106 && buf[i + 4] === 101 && buf[i + 5] === 99 && buf[i + 6] === 116) return "Subject";
      // Expires
      if (c0 === 69 && buf[i + 1] === 120 && buf[i + 2] === 112 && buf[i + 3] === 105 && buf[i + 4] === 114 && buf[i + 5] === 101 && buf[i + 6] === 115) return "Expires";
      // Require
      if (c0 === 82 && buf[i + 1] === 101 && buf[i + 2] === 113 && buf[i + 3] === 117 && buf[i + 4] === 105 && buf[i + 5] === 114 && buf[i + 6] === 101) return "Require";
      return undefined;
    case 9:
      // Supported
      if (c0 === 83 && buf[i + 1] === 117 && buf[i + 2] === 112 && buf[i + 3] === 112 && buf[i + 4] === 111 && buf[i + 5] === 114 && buf[i + 6] === 116 && buf[i + 7] === 101 && buf[i + 8] === 100) return "Supported";
      return undefined;
    case 10:
      // User-Agent
      if (c0 === 85 && buf[i + 1] === 115 && buf[i + 2] === 101 && buf[i + 3] === 114 && buf[i + 4] === 45 && buf[i + 5] === 65 && buf[i + 6] === 103 && buf[i + 7] === 101 && buf[i + 8] === 110 && buf[i + 9] === 116) return "User-Agent";
      return undefined;
    case 12:
      // Max-Forwards
      if (c0 === 77 && buf[i + 1] === 97 && buf[i + 2] === 120 && buf[i + 3] === 45 && buf[i + 4] === 70 && buf[i + 5] === 111 && buf[i + 6] === 114 && buf[i + 7] === 119 && buf[i + 8] === 97 && buf[i + 9] === 114 && buf[i + 10] === 100 && buf[i + 11] === 115) {
        knownHeaderKind = H_MAX_FORWARDS;
        return "Max-Forwards";
      }
      // Content-Type
      if (c0 === 67 && buf[i + 1] === 111 && buf[i + 2] === 110 && buf[i + 3] === 116 && buf[i + 4] === 101 && buf[i + 5] === 110 && buf[i + 6] === 116 && buf[i + 7] === 45 && buf[i + 8] === 84 && buf[i + 9] === 121 && buf[i + 10] === 112 && buf[i + 11] === 101) return "Content-Type";
      // Record-Route
      if (c0 === 82 && buf[i + 1] === 101 && buf[i + 2] === 99 && buf[i + 3] === 111 && buf[i + 4] === 114 && buf[i + 5] === 100 && buf[i + 6] === 45 && buf[i + 7] === 82 && buf[i + 8] === 111 && buf[i + 9] === 117 && buf[i + 10] === 116 && buf[i + 11] === 101) return "Record-Route";
      return undefined;
    case 14:
      // Content-Length
      if (c0 === 67 && buf[i + 1] === 111 && buf[i + 2] === 110 && buf[i + 3] === 116 && buf[i + 4] === 101 && buf[i + 5] === 110 && buf[i + 6] === 116 && buf[i + 7] === 45 && buf[i + 8] === 76 && buf[i + 9] === 101 && buf[i + 10] === 110 && buf[i + 11] === 103 && buf[i + 12] === 116 && buf[i + 13] === 104) {
        knownHeaderKind = H_CONTENT_LENGTH;
        return "Content-Length";
      }
      return undefined;
    default:
      return undefined;
  }
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT (RFC 3261 §7.1; "SIP" case-insensitive). Returns end or -1. */
function scanVersion(s: string, i: number, end: number): number {
  if (end - i < 7 || !eqLower(s, i, "sip/")) return -1;
  let j = i + 4;
  const major = j;
  while (j < end && isDigit(s.charCodeAt(j))) j++;
  if (j === major || s.charCodeAt(j) !== 46) return -1;
  j++;
  const minor = j;
  while (j < end && isDigit(s.charCodeAt(j))) j++;
  if (j === minor) return -1;
  return j;
}

/** Decodes buf[start,end) as UTF-8 when it holds a non-ASCII byte, else returns the latin1 substring. */
function textOf(s: string, buf: Buffer, start: number, end: number, highBit: boolean): string {
  return highBit ? buf.toString("utf8", start, end) : s.substring(start, end);
}

/** Set by unfoldValue: offset of the last piece of the value, and of the line after the header. */
let foldedValueStart = 0;
let foldedNext = 0;

/**
 * A header value spread over continuation lines, from s[afterColon...]: each fold (LWS = [*WSP CRLF] 1*WSP)
 * becomes one SP (RFC 3261 §7.3.1).
 */
function unfoldValue(buf: Buffer, s: string, nameStart: number, nameEnd: number, afterColon: number, end: number, maxLine: number): string {
  let pos = afterColon;
  let valueStart = pos;
  let high = false;
  let folded: string | undefined;
  for (;;) {
    const eol = s.indexOf("\n", pos);
    if (eol < 0 || eol >= end) throw new SipParseError("bad-header-line", "header line not terminated", pos, s.substring(nameStart, nameEnd));
    const lineEnd = eol > pos && s.charCodeAt(eol - 1) === 13 ? eol - 1 : eol;
    const cr = s.indexOf("\r", pos);
    if (cr >= 0 && cr < lineEnd) throw new SipParseError("bad-line-ending", "bare CR in header value", cr, s.substring(nameStart, nameEnd));
    for (let k = pos; k < lineEnd && !high; k++) if (s.charCodeAt(k) >= 128) high = true;
    if (lineEnd - nameStart > maxLine) {
      throw new SipParseError("line-too-long", `header longer than ${maxLine} bytes`, nameStart, s.substring(nameStart, nameEnd));
    }
    const next = s.charCodeAt(eol + 1);
    if ((next === 32 || next === 9) && eol + 1 < end) {
      let pe = lineEnd;
      while (pe > valueStart && (s.charCodeAt(pe - 1) === 32 || s.charCodeAt(pe - 1) === 9)) pe--;
      let pb = valueStart;
      while (pb < pe && (s.charCodeAt(pb) === 32 || s.charCodeAt(pb) === 9)) pb++;
      const piece = textOf(s, buf, pb, pe, high);
      folded = folded === undefined || folded.length === 0 ? piece : piece.length === 0 ? folded : folded + " " + piece;
      pos = eol + 1;
      while (s.charCodeAt(pos) === 32 || s.charCodeAt(pos) === 9) pos++;
      valueStart = pos;
      high = false;
      continue;
    }
    let valueEnd = lineEnd;
    foldedNext = eol + 1;
    while (valueStart < valueEnd && (s.charCodeAt(valueStart) === 32 || s.charCodeAt(valueStart) === 9)) valueStart++;
    while (valueEnd > valueStart && (s.charCodeAt(valueEnd - 1) === 32 || s.charCodeAt(valueEnd - 1) === 9)) valueEnd--;
    foldedValueStart = valueStart;
    const value = textOf(s, buf, valueStart, valueEnd, high);
    if (folded === undefined) return value;
    return value.length === 0 ? folded : folded.length === 0 ? value : folded + " " + value;
  }
}

/** Result of parsing the head (start line + headers); body framing is left to the caller. */
export interface ParsedHead {
  message: SipMessage;
  /** Offset of the first body byte. */
  bodyStart: number;
  /** Content-Length value, or -1 if the header is absent. */
  contentLength: number;
}

/**
 * Parses start line and headers from buf[start...], where `s` is the latin1 view of buf. The head must
 * end with an empty line inside `end`.
 */
export function parseHead(
  buf: Buffer,
  s: string,
  start: number,
  end: number,
  o: ResolvedParseOptions,
  datagram = false,
): ParsedHead {
  const limits = o.limits;
  // [value, offset] of the Request-URI and of the first header of each WIRE_* slot (see SipMessageBase.attachWire)
  const wire = new Array<string | number | undefined>(2 * WIRE_SLOTS);
  // ---- start line (RFC 3261 §7.1, §7.2)
  let pos = start;
  let eol = s.indexOf("\n", pos);
  if (eol < 0 || eol >= end) throw new SipParseError("bad-start-line", "no end of start line", pos);
  let lineEnd = eol > pos && s.charCodeAt(eol - 1) === 13 ? eol - 1 : eol;
  if (lineEnd - pos > limits.maxLineBytes) throw new SipParseError("line-too-long", `start line longer than ${limits.maxLineBytes} bytes`, pos);
  let message: SipMessage;
  let isReq: boolean;
  const versionEnd = scanVersion(s, pos, lineEnd);
  if (versionEnd > 0 && s.charCodeAt(versionEnd) === 32) {
    // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase
    isReq = false;
    const codeStart = versionEnd + 1;
    let j = codeStart;
    while (j < lineEnd && isDigit(s.charCodeAt(j))) j++;
    if (j - codeStart !== 3) throw new SipParseError("bad-status-code", "status code is not 3 digits", codeStart);
    const status = (s.charCodeAt(codeStart) - 48) * 100 + (s.charCodeAt(codeStart + 1) - 48) * 10 + (s.charCodeAt(codeStart + 2) - 48);
    if (status < 100 || status > 699) throw new SipParseError("bad-status-code", `status code ${status} outside 100-699`, codeStart);
    let reason = "";
    if (j < lineEnd) {
      if (s.charCodeAt(j) !== 32) throw new SipParseError("bad-start-line", "expected SP after status code", j);
      let high = false;
      for (let k = j + 1; k < lineEnd; k++) {
        const c = s.charCodeAt(k);
        if (c >= 128) high = true;
        else if (c < 32 && c !== 9) throw new SipParseError("bad-start-line", "control character in reason phrase", k);
      }
      reason = textOf(s, buf, j + 1, lineEnd, high);
    }
    message = new SipResponse(status, reason, [], EMPTY, s.substring(pos, versionEnd));
  } else {
    // Request-Line = Method SP Request-URI SP SIP-Version (single SP separators, RFC 4475 §3.1.2.9/10)
    isReq = true;
    let j = pos;
    while (j < lineEnd && buf[j]! < 128 && TOKEN_CHARS[buf[j]!] === 1) j++;
    if (j === pos) throw new SipParseError("bad-method", "start line does not begin with a method token or SIP version", pos);
    if (buf[j] !== 32 || j >= lineEnd) throw new SipParseError("bad-start-line", "expected SP after method", j);
    const methodEnd = j;
    const uriStart = j + 1;
    let k = uriStart;
    while (k < lineEnd) {
      const c = buf[k]!;
      if (c === 32) break;
      if (c <= 32 || c >= 127 || c === 60 || c === 62 || c === 34) {
        throw new SipParseError("bad-request-uri", `character 0x${c.toString(16)} not allowed in Request-URI`, k);
      }
      k++;
    }
    if (k === uriStart) throw new SipParseError("bad-request-uri", "empty Request-URI", k);
    if (k >= lineEnd) throw new SipParseError("bad-start-line", "no SIP version in request line", k);
    const vStart = k + 1;
    const vEnd = scanVersion(s, vStart, lineEnd);
    if (vEnd < 0) {
      const sp = s.indexOf(" ", vStart);
      if (sp >= 0 && sp < lineEnd) throw new SipParseError("bad-request-uri", "whitespace inside the Request-URI or between request-line elements", k);
      throw new SipParseError("bad-version", "bad SIP version in request line", vStart);
    }
    if (vEnd !== lineEnd) throw new SipParseError("bad-start-line", "trailing characters after SIP version", vEnd);
    const uri = s.substring(uriStart, k);
    wire[2 * WIRE_REQUEST_URI] = uri;
    wire[2 * WIRE_REQUEST_URI + 1] = uriStart;
    message = new SipRequest(s.substring(pos, methodEnd), uri, [], EMPTY, s.substring(vStart, vEnd));
  }
  pos = eol + 1;

  // ---- header lines (RFC 3261 §7.3), folding (§7.3.1)
  // Line ends are found with native indexOf on `s`; the short scans (names, trimming) read `buf` bytes.
  const maxLine = limits.maxLineBytes;
  // One native pass tells whether any byte is non-ASCII (latin1 chars >= 0x80 take 2 UTF-8 bytes).
  const headHasHigh = Buffer.byteLength(s, "utf8") !== s.length;
  const headers: SipHeader[] = [];
  let seen = 0;
  let contentLength = -1;
  for (;;) {
    if (pos >= end) {
      // A datagram ending right after a header line: no empty line and no body (tolerated, documented).
      if (datagram && pos === end) break;
      throw new SipParseError("bad-header-line", "headers not terminated by an empty line", pos);
    }
    let c = buf[pos]!;
    if (c === 13 && pos + 1 < end && buf[pos + 1] === 10) {
      pos += 2;
      break;
    }
    if (c === 10) {
      pos += 1;
      break;
    }
    if (c === 32 || c === 9) throw new SipParseError("bad-header-line", "continuation line without a header", pos);
    const nameStart = pos;
    let name = knownHeaderAt(buf, pos, end);
    let kind = knownHeaderKind;
    let nameEnd: number;
    if (name !== undefined) {
      nameEnd = pos + name.length;
      pos = nameEnd;
    } else {
      // The head always ends in LF before `end` (or `end` is the buffer's end), so the scan stops in time.
      while (c < 128 && TOKEN_CHARS[c] === 1) c = buf[++pos]!;
      nameEnd = pos;
      if (nameEnd === nameStart) throw new SipParseError("bad-header-name", "header name is not a token", pos);
      while (pos < end && (c === 32 || c === 9)) c = buf[++pos]!;
      if (c !== 58 || pos >= end) throw new SipParseError("bad-header-name", "expected ':' after header name", pos, s.substring(nameStart, nameEnd));
    }
    pos++;
    const afterColon = pos;
    // value: up to the line end; a CR anywhere but before the LF is a bare CR (header injection)
    eol = s.indexOf("\n", pos);
    if (eol < 0 || eol >= end) throw new SipParseError("bad-header-line", "header line not terminated", afterColon, s.substring(nameStart, nameEnd));
    lineEnd = eol > pos && s.charCodeAt(eol - 1) === 13 ? eol - 1 : eol;
    const cr = s.indexOf("\r", pos);
    if (cr >= 0 && cr < lineEnd) throw new SipParseError("bad-line-ending", "bare CR in header value", cr, s.substring(nameStart, nameEnd));
    let high = false;
    if (headHasHigh) {
      for (let k = pos; k < lineEnd; k++) {
        if (s.charCodeAt(k) >= 128) {
          high = true;
          break;
        }
      }
    }
    if (lineEnd - nameStart > maxLine) {
      throw new SipParseError("line-too-long", `header longer than ${maxLine} bytes`, nameStart, s.substring(nameStart, nameEnd));
    }
    let value: string;
    let valueStart: number;
    // whether `value` is exactly s[valueStart, valueStart + value.length)
    let plain = false;
    if (eol + 1 < end && (buf[eol + 1] === 32 || buf[eol + 1] === 9)) {
      // folded (rare): the general scan
      value = unfoldValue(buf, s, nameStart, nameEnd, afterColon, end, maxLine);
      valueStart = foldedValueStart;
      pos = foldedNext;
    } else {
      valueStart = pos;
      let valueEnd = lineEnd;
      while (valueStart < valueEnd && (buf[valueStart] === 32 || buf[valueStart] === 9)) valueStart++;
      while (valueEnd > valueStart && (buf[valueEnd - 1] === 32 || buf[valueEnd - 1] === 9)) valueEnd--;
      value = high ? buf.toString("utf8", valueStart, valueEnd) : s.substring(valueStart, valueEnd);
      pos = eol + 1;
      if (!high) plain = true;
    }
    if (headers.length >= limits.maxHeaders) {
      throw new SipParseError("too-many-headers", `more than ${limits.maxHeaders} headers`, nameStart);
    }
    if (name === undefined) {
      name = knownHeaderName(buf, nameStart, nameEnd - nameStart);
      kind = knownHeaderKind;
      if (name === undefined) {
        name = s.substring(nameStart, nameEnd);
        kind = classifyHeader(s, nameStart, nameEnd);
      }
    }
    headers.push({ name, value });
    if (kind !== 0) {
      const slot = plain ? wireSlot(kind) : -1;
      if (slot >= 0 && wire[2 * slot] === undefined) {
        wire[2 * slot] = value;
        wire[2 * slot + 1] = valueStart;
      }
      if (kind === H_CONTENT_LENGTH) {
        // RFC 3261 §20.14 / RFC 4475 §3.1.2.3, §3.3.9: one non-negative decimal, never two
        if ((seen & H_CONTENT_LENGTH) !== 0) throw new SipParseError("bad-content-length", "more than one Content-Length", nameStart, name);
        contentLength = parseLength(value, valueStart, name, limits.maxMessageBytes);
      }
      seen |= kind;
    }
  }
  const required = isReq ? REQUEST_REQUIRED | (o.tolerateMissingMaxForwards ? 0 : H_MAX_FORWARDS) : RESPONSE_REQUIRED;
  if ((seen & required) !== required) {
    for (const [bit, hname] of REQUIRED_NAMES) {
      if ((required & bit) !== 0 && (seen & bit) === 0) {
        throw new SipParseError("missing-header", `mandatory header ${hname} missing (RFC 3261 §8.1.1)`, pos, hname);
      }
    }
  }
  message.headers = headers;
  message.attachWire(s, wire);
  return { message, bodyStart: pos, contentLength };
}

const EMPTY = Buffer.alloc(0);

/** Node's Buffer#latin1Slice (untyped): one-byte string of the bytes, no encoding dispatch. */
export function latin1(buf: Buffer, start: number, end: number): string {
  return (buf as unknown as { latin1Slice(start: number, end: number): string }).latin1Slice(start, end);
}

function parseLength(value: string, offset: number, name: string, max: number): number {
  if (value.length === 0 || value.length > 10) throw new SipParseError("bad-content-length", "Content-Length is not 1*DIGIT", offset, name);
  let n = 0;
  for (let k = 0; k < value.length; k++) {
    const d = value.charCodeAt(k) - 48;
    if (d < 0 || d > 9) throw new SipParseError("bad-content-length", `Content-Length ${JSON.stringify(value)} is not 1*DIGIT`, offset + k, name);
    n = n * 10 + d;
  }
  if (n > max) throw new SipParseError("message-too-large", `Content-Length ${n} exceeds the ${max}-byte message limit`, offset, name);
  return n;
}

/**
 * Parses one message from a datagram (RFC 3261 §18.3): the body is Content-Length bytes when the header
 * is present (octets after it are ignored, RFC 4475 §3.1.1.8), else the rest of the datagram.
 * A non-empty body shares memory with `buf`.
 */
export function parseSipMessage(buf: Buffer, opts?: SipParseOptions): SipMessage {
  const o = resolveParseOptions(opts);
  const n = buf.length;
  if (n > o.limits.maxMessageBytes) {
    throw new SipParseError("message-too-large", `message of ${n} bytes exceeds ${o.limits.maxMessageBytes}`, 0);
  }
  let start = 0;
  // RFC 3261 §7.5: CRLFs before the start line are ignored.
  while (start < n && (buf[start] === 13 || buf[start] === 10)) start++;
  if (start >= n) throw new SipParseError("empty-message", "no start line", start);
  const s = latin1(buf, 0, n);
  const head = parseHead(buf, s, start, n, o, true);
  const msg = head.message;
  let bodyEnd = n;
  if (head.contentLength >= 0) {
    bodyEnd = head.bodyStart + head.contentLength;
    if (bodyEnd > n) {
      throw new SipParseError("body-too-short", `Content-Length ${head.contentLength} but only ${n - head.bodyStart} body bytes`, head.bodyStart, "Content-Length");
    }
  }
  // An empty body stays the shared empty buffer: an empty slice would keep the whole datagram alive with the message.
  if (bodyEnd > head.bodyStart) msg.body = buf.subarray(head.bodyStart, bodyEnd);
  return msg;
}

/** Whether buf[start, start+lower.length) is the all-lower-case ASCII word `lower`, case-insensitively. */
function bytesEqLower(buf: Buffer, start: number, lower: string): boolean {
  for (let k = 0; k < lower.length; k++) {
    let c = buf[start + k]!;
    if (c >= 65 && c <= 90) c |= 0x20;
    if (c !== lower.charCodeAt(k)) return false;
  }
  return true;
}

/**
 * The Content-Length of the head buf[0, headEnd) (which ends in its empty line), or -1 when it has none: what a
 * stream framer needs to cut the message (RFC 3261 §18.3), read without parsing the head. Header names are
 * matched as parseHead matches them (case-insensitive, compact form "l", WSP before the colon), a folded value
 * is unfolded (§7.3.1), and the value is held to §20.14 as parseHead holds it (1*DIGIT, never two, at most
 * `maxMessageBytes`), so the framer and the parse of the frame agree on where the message ends.
 */
export function contentLengthOfHead(buf: Buffer, headEnd: number, maxMessageBytes: number): number {
  let pos = buf.indexOf(10) + 1; // past the start line
  let found = -1;
  while (pos > 0 && pos < headEnd) {
    const c0 = buf[pos]!;
    if (c0 === 13 || c0 === 10) break; // the empty line
    let eol = buf.indexOf(10, pos);
    if (eol < 0 || eol >= headEnd) break;
    const lower = c0 | 0x20;
    if (lower !== 108 && lower !== 99) {
      pos = eol + 1; // neither "l" nor "content-length": not this header (continuation lines start with WSP)
      continue;
    }
    let nameEnd = pos;
    while (nameEnd < eol && buf[nameEnd]! < 128 && TOKEN_CHARS[buf[nameEnd]!] === 1) nameEnd++;
    const nameLength = nameEnd - pos;
    const isLength = (nameLength === 1 && lower === 108) || (nameLength === 14 && bytesEqLower(buf, pos, "content-length"));
    let colon = nameEnd;
    while (colon < eol && (buf[colon] === 32 || buf[colon] === 9)) colon++;
    if (!isLength || buf[colon] !== 58) {
      pos = eol + 1;
      continue;
    }
    // The value runs to the end of the line and over any continuation lines (a line starting with SP or HTAB).
    while (eol + 1 < headEnd && (buf[eol + 1] === 32 || buf[eol + 1] === 9)) {
      const next = buf.indexOf(10, eol + 1);
      if (next < 0 || next >= headEnd) break;
      eol = next;
    }
    const name = latin1(buf, pos, nameEnd);
    if (found >= 0) throw new SipParseError("bad-content-length", "more than one Content-Length", pos, name);
    const raw = latin1(buf, colon + 1, eol).replace(/\r?\n[ \t]+/g, " ");
    let a = 0;
    let b = raw.length;
    while (a < b && (raw.charCodeAt(a) === 32 || raw.charCodeAt(a) === 9)) a++;
    while (b > a && (raw.charCodeAt(b - 1) === 32 || raw.charCodeAt(b - 1) === 9 || raw.charCodeAt(b - 1) === 13)) b--;
    found = parseLength(raw.substring(a, b), colon + 1, name, maxMessageBytes);
    pos = eol + 1;
  }
  return found;
}
