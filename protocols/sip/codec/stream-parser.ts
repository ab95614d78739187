// Stream-mode framing for TCP/TLS (RFC 3261 §18.3): messages may be split across or glued within chunks;
// Content-Length is mandatory; CRLFs between messages (RFC 3261 §7.5, RFC 5626 §4.4.1 keep-alive
// "\r\n\r\n" pings and "\r\n" pongs) are skipped. Oversized input is refused as soon as it is seen: a head
// longer than the limits before its end arrives, or a Content-Length pushing the message past the limit
// before the body is buffered. After an error the stream cannot be resynchronised: close the connection.
// Linear in the bytes received however they are split: a partial message grows one buffer whose capacity
// doubles (each byte is copied O(1) times), and the line-length check looks at new bytes only. Framing reads
// only the start line's shape and Content-Length; each framed message is then parsed once, by its receiver.
import { SipParseError } from "./sip-parse-error.js";
import type { SipMessage } from "./sip-message.js";
import {
  DEFAULT_SIP_PARSE_LIMITS,
  contentLengthOfHead,
  latin1,
  parseHead,
  parseSipMessage,
  resolveParseOptions,
  type ResolvedParseOptions,
  type SipParseLimits,
  type SipParseOptions,
} from "./message-parser.js";

const EMPTY = Buffer.alloc(0);
const MIN_CAPACITY = 4096;

/** What the stream waits for: nothing (between messages), the rest of a head, or the rest of a body. */
export type StreamParserPhase = "idle" | "head" | "body";

/**
 * Cuts a stream transport's bytes into whole SIP messages by Content-Length (RFC 3261 §18.3) without parsing
 * them: each frame is the message's own bytes, as sent, for the one parse its receiver makes. Only the start
 * line's shape, the limits and the Content-Length header are read here.
 */
export class SipStreamFramer {
  readonly limits: SipParseLimits;
  /** The bytes not yet framed: a received chunk itself, or a window of `store`. */
  private buf: Buffer = EMPTY;
  /** Owned storage `buf` is a window of (when `owned`), grown by doubling. */
  private store: Buffer = EMPTY;
  private owned = false;
  /** Whether the unframed bytes were already copied since a message last completed (then storage doubles). */
  private grown = false;
  /** Offset in buf from which to keep looking for the end of the head. */
  private scanFrom = 0;
  /** Offset in buf where the current head line starts (for the line-length limit). */
  private lineStart = 0;
  /** Offset in buf up to which line ends were looked for. */
  private lineScanned = 0;
  /** Total length of the message whose head was read, while its body arrives. */
  private pendingTotal = -1;
  private failure: SipParseError | undefined;
  /** The head bytes of the message the stream failed on when its head was whole (Content-Length missing or too large). */
  private failedHeadBytes: Buffer | undefined;
  /** Stream offset of buf[0], so errors report positions in the whole stream. */
  private consumed = 0;
  /** Stream offsets of the frames the last push returned, in order. */
  readonly frameOffsets: number[] = [];
  /** Keep-alive CRLFs skipped so far (RFC 5626 §4.4.1). */
  keepAlives = 0;

  constructor(limits?: Partial<SipParseLimits>) {
    this.limits = limits === undefined ? DEFAULT_SIP_PARSE_LIMITS : { ...DEFAULT_SIP_PARSE_LIMITS, ...limits };
  }

  /** Bytes held while waiting for the rest of a message. */
  get bufferedBytes(): number {
    return this.buf.length;
  }

  /** What the stream waits for now (for header and body deadlines). */
  get phase(): StreamParserPhase {
    return this.pendingTotal >= 0 ? "body" : this.buf.length > 0 ? "head" : "idle";
  }

  /** After a failure at a whole head (Content-Length missing, bad or too large): that head's bytes, empty line included. */
  get failedHead(): Buffer | undefined {
    return this.failedHeadBytes;
  }

  /** Stream offset of `failedHead`. */
  get failedHeadOffset(): number {
    return this.consumed;
  }

  private append(chunk: Buffer): void {
    const live = this.buf.length;
    if (live === 0) {
      this.buf = chunk;
      this.owned = false;
      return;
    }
    const need = live + chunk.length;
    if (this.owned) {
      const at = this.buf.byteOffset - this.store.byteOffset;
      if (at + need <= this.store.length) {
        chunk.copy(this.store, at + live);
        this.buf = this.store.subarray(at, at + need);
        return;
      }
    }
    // A chunk's leftover is copied once at its size (as Buffer.concat would, from node's pool); a message
    // still growing after that doubles its storage, so each byte is copied O(1) times however it is split.
    const store = Buffer.allocUnsafe(this.grown ? Math.max(MIN_CAPACITY, need * 2) : need);
    this.grown = true;
    this.buf.copy(store, 0);
    chunk.copy(store, live);
    this.store = store;
    this.owned = true;
    this.buf = store.subarray(0, need);
  }

  /** Moves the start of buf by `n` bytes (consumed); offsets into buf follow. */
  private consume(n: number): void {
    this.consumed += n;
    this.grown = false;
    this.scanFrom = 0;
    this.lineStart = 0;
    this.lineScanned = 0;
    if (n >= this.buf.length) {
      this.buf = EMPTY;
      this.store = EMPTY; // an idle connection holds no buffer
      this.owned = false;
    } else {
      this.buf = this.buf.subarray(n);
    }
  }

  /**
   * Feeds a chunk; returns the whole messages it completed (possibly none), each an own copy of its bytes, and
   * their stream offsets in `frameOffsets`. Throws SipParseError (offsets in the whole stream) on input that
   * cannot be framed; the stream then stays failed: close the connection.
   */
  push(chunk: Buffer): Buffer[] {
    if (this.failure !== undefined) {
      throw new SipParseError("stream-failed", `stream already failed: ${this.failure.message}`, this.failure.offset, this.failure.header);
    }
    this.frameOffsets.length = 0;
    try {
      return this.drain(chunk);
    } catch (e) {
      if (e instanceof SipParseError) {
        const err = e.shifted(this.consumed);
        this.failure = err;
        this.buf = EMPTY;
        this.store = EMPTY;
        throw err;
      }
      throw e;
    }
  }

  private drain(chunk: Buffer): Buffer[] {
    this.append(chunk);
    const out: Buffer[] = [];
    const limits = this.limits;
    for (;;) {
      let buf = this.buf;
      if (this.pendingTotal < 0) {
        let skip = 0;
        while (skip < buf.length && (buf[skip] === 13 || buf[skip] === 10)) skip++;
        if (skip > 0) {
          // A lone CR may be the first half of a CRLF still in flight: it is skipped all the same.
          this.keepAlives++;
          this.consume(skip);
          buf = this.buf;
        }
        if (buf.length === 0) return out;
        const headEnd = findHeadEnd(buf, this.scanFrom);
        if (headEnd < 0) {
          if (buf.length > limits.maxMessageBytes) {
            throw new SipParseError("message-too-large", `head exceeds ${limits.maxMessageBytes} bytes without an empty line`, 0);
          }
          const lastLf = this.lineScanned === 0 ? buf.lastIndexOf(10) : buf.subarray(this.lineScanned).lastIndexOf(10);
          if (lastLf >= 0) {
            // The first line is whole: garbage is refused now, not at the head's end.
            if (this.lineStart === 0) checkStartLine(buf, buf.indexOf(10));
            this.lineStart = this.lineScanned + lastLf + 1;
          }
          this.lineScanned = buf.length;
          if (buf.length - this.lineStart > limits.maxLineBytes) {
            throw new SipParseError("line-too-long", `line longer than ${limits.maxLineBytes} bytes`, this.lineStart);
          }
          this.scanFrom = Math.max(0, buf.length - 3);
          return out;
        }
        if (headEnd > limits.maxMessageBytes) {
          throw new SipParseError("message-too-large", `head of ${headEnd} bytes exceeds ${limits.maxMessageBytes}`, 0);
        }
        const length = this.contentLength(buf, headEnd);
        const total = headEnd + length;
        if (total > limits.maxMessageBytes) {
          this.failedHeadBytes = Buffer.from(buf.subarray(0, headEnd));
          throw new SipParseError("message-too-large", `message of ${total} bytes exceeds ${limits.maxMessageBytes}`, 0, "Content-Length");
        }
        this.pendingTotal = total;
      }
      const total = this.pendingTotal;
      if (buf.length < total) return out;
      // An own copy: the frame outlives the chunk and this framer's storage, and keeps neither alive.
      out.push(Buffer.from(buf.subarray(0, total)));
      this.frameOffsets.push(this.consumed);
      this.pendingTotal = -1;
      this.consume(total);
    }
  }

  /**
   * Content-Length of a whole head: mandatory on a stream (RFC 3261 §18.3), bounded by the message limit before
   * any body is held. The start line is checked first, as a head that arrives in pieces has it checked.
   */
  private contentLength(buf: Buffer, headEnd: number): number {
    let length: number;
    try {
      if (this.lineStart === 0) checkStartLine(buf, buf.indexOf(10));
      length = contentLengthOfHead(buf, headEnd, Number.MAX_SAFE_INTEGER);
    } catch (e) {
      this.failedHeadBytes = Buffer.from(buf.subarray(0, headEnd));
      throw e;
    }
    if (length < 0) {
      this.failedHeadBytes = Buffer.from(buf.subarray(0, headEnd));
      throw new SipParseError("missing-content-length", "Content-Length is mandatory on stream transports (RFC 3261 §18.3)", headEnd);
    }
    return length;
  }
}

/**
 * Frames SIP messages out of a stream transport's bytes (SipStreamFramer) and parses each frame once: the
 * messages a TCP/TLS listener hands its transaction layer. After an error the stream cannot be resynchronised.
 */
export class SipStreamParser {
  private readonly o: ResolvedParseOptions;
  private readonly framer: SipStreamFramer;
  /** The request whose head was read when the stream failed (Content-Length too large or missing), if any. */
  private refusable: SipMessage | undefined;
  private failure: SipParseError | undefined;

  constructor(opts?: SipParseOptions) {
    this.o = resolveParseOptions(opts);
    this.framer = new SipStreamFramer(this.o.limits);
  }

  /** Bytes held while waiting for the rest of a message. */
  get bufferedBytes(): number {
    return this.failure === undefined ? this.framer.bufferedBytes : 0;
  }

  /** What the stream waits for now (for header and body deadlines). */
  get phase(): StreamParserPhase {
    return this.framer.phase;
  }

  /** Keep-alive CRLFs skipped so far (RFC 5626 §4.4.1). */
  get keepAlives(): number {
    return this.framer.keepAlives;
  }

  /**
   * After a failure: the message whose head was whole when its Content-Length was found too large or
   * missing, so the caller can answer it (RFC 3261 §21.5.7 513, §18.3 400) before closing.
   */
  get failedMessage(): SipMessage | undefined {
    return this.refusable;
  }

  /** Feeds a chunk; returns the messages it completed (possibly none). Throws SipParseError on bad input. */
  push(chunk: Buffer): SipMessage[] {
    if (this.failure !== undefined) {
      throw new SipParseError("stream-failed", `stream already failed: ${this.failure.message}`, this.failure.offset, this.failure.header);
    }
    let frames: Buffer[];
    try {
      frames = this.framer.push(chunk);
    } catch (e) {
      throw this.fail(this.framingFailure(e));
    }
    const out: SipMessage[] = [];
    for (let i = 0; i < frames.length; i++) {
      try {
        out.push(parseSipMessage(frames[i]!, this.o));
      } catch (e) {
        throw this.fail(e instanceof SipParseError ? e.shifted(this.framer.frameOffsets[i]!) : e);
      }
    }
    return out;
  }

  private fail(e: unknown): unknown {
    if (e instanceof SipParseError) this.failure = e;
    return e;
  }

  /**
   * A framing failure at a whole head: the head's own fault, if it has one, is the error (a parse of the head
   * finds it first); else that head is the message to answer.
   */
  private framingFailure(e: unknown): unknown {
    const head = this.framer.failedHead;
    if (!(e instanceof SipParseError) || head === undefined) return e;
    try {
      const unbounded = { ...this.o, limits: { ...this.o.limits, maxMessageBytes: Number.MAX_SAFE_INTEGER } };
      this.refusable = parseHead(head, latin1(head, 0, head.length), 0, head.length, unbounded).message;
    } catch (headError) {
      if (headError instanceof SipParseError) return headError.shifted(this.framer.failedHeadOffset);
    }
    return e;
  }
}

// RFC 3261 §7.1 / §7.2: Request-Line = Method SP Request-URI SP SIP-Version; Status-Line = SIP-Version SP
// Status-Code SP Reason-Phrase. Only the shape is checked here; parseHead checks the rest once the head is whole.
const START_LINE = /^(?:[^\s]+ [^\s]+ SIP\/[^\s]+|SIP\/[^\s]+ \d{3}(?: [^\r\n]*)?)\r?$/;

/** Whether a message's first line has the shape of a Request-Line or a Status-Line (RFC 3261 §7.1, §7.2). */
export function isSipStartLine(buf: Buffer): boolean {
  const lf = buf.indexOf(10);
  return lf > 0 && START_LINE.test(latin1(buf, 0, lf));
}

function checkStartLine(buf: Buffer, lf: number): void {
  if (!START_LINE.test(latin1(buf, 0, lf))) throw new SipParseError("bad-start-line", "first line is neither a Request-Line nor a Status-Line", 0);
}

/** Index just past the empty line ending the head ("\r\n\r\n" or bare "\n\n"), or -1. */
function findHeadEnd(buf: Buffer, from: number): number {
  let p = buf.indexOf(10, from);
  while (p >= 0) {
    const a = buf[p + 1];
    if (a === 10) return p + 2;
    if (a === 13 && buf[p + 2] === 10) return p + 3;
    if (a === undefined || (a === 13 && p + 2 >= buf.length)) return -1;
    p = buf.indexOf(10, p + 1);
  }
  return -1;
}
