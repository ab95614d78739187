// Stream-mode framing for TCP/TLS (RFC 3261 §18.3): messages may be split across or glued within chunks;
// Content-Length is mandatory; CRLFs between messages (RFC 3261 §7.5, RFC 5626 §4.4.1 keep-alive
// "\r\n\r\n" pings and "\r\n" pongs) are skipped. Oversized input is refused as soon as it is seen: a head
// longer than the limits before its end arrives, or a Content-Length pushing the message past the limit
// before the body is buffered. After an error the stream cannot be resynchronised: close the connection.
import { SipParseError } from "./sip-parse-error.js";
import type { SipMessage } from "./sip-message.js";
import { latin1, parseHead, resolveParseOptions, type ParsedHead, type ResolvedParseOptions, type SipParseOptions } from "./message-parser.js";

const EMPTY = Buffer.alloc(0);

export class SipStreamParser {
  private readonly o: ResolvedParseOptions;
  private buf: Buffer = EMPTY;
  /** Offset in buf from which to keep looking for the end of the head. */
  private scanFrom = 0;
  private pending: { head: ParsedHead; total: number } | undefined;
  private failure: SipParseError | undefined;
  /** Stream offset of buf[0], so errors report positions in the whole stream. */
  private consumed = 0;
  /** Keep-alive CRLFs skipped so far (RFC 5626 §4.4.1). */
  keepAlives = 0;

  constructor(opts?: SipParseOptions) {
    this.o = resolveParseOptions(opts);
  }

  /** Bytes held while waiting for the rest of a message. */
  get bufferedBytes(): number {
    return this.buf.length;
  }

  /** Feeds a chunk; returns the messages it completed (possibly none). Throws SipParseError on bad input. */
  push(chunk: Buffer): SipMessage[] {
    if (this.failure !== undefined) {
      throw new SipParseError("stream-failed", `stream already failed: ${this.failure.message}`, this.failure.offset, this.failure.header);
    }
    try {
      return this.drain(chunk);
    } catch (e) {
      if (e instanceof SipParseError) {
        const err = e.code === "stream-failed" ? e : e.shifted(this.consumed);
        this.failure = err;
        this.buf = EMPTY;
        throw err;
      }
      throw e;
    }
  }

  private drain(chunk: Buffer): SipMessage[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: SipMessage[] = [];
    const limits = this.o.limits;
    for (;;) {
      let buf = this.buf;
      if (this.pending === undefined) {
        let skip = 0;
        while (skip < buf.length && (buf[skip] === 13 || buf[skip] === 10)) skip++;
        if (skip > 0) {
          // A lone CR may be the first half of a CRLF still in flight: it is skipped all the same.
          this.keepAlives++;
          buf = this.buf = buf.subarray(skip);
          this.consumed += skip;
          this.scanFrom = 0;
        }
        if (buf.length === 0) return out;
        const headEnd = findHeadEnd(buf, this.scanFrom);
        if (headEnd < 0) {
          if (buf.length > limits.maxMessageBytes) {
            throw new SipParseError("message-too-large", `head exceeds ${limits.maxMessageBytes} bytes without an empty line`, 0);
          }
          const lastLf = buf.lastIndexOf(10);
          if (buf.length - (lastLf + 1) > limits.maxLineBytes) {
            throw new SipParseError("line-too-long", `line longer than ${limits.maxLineBytes} bytes`, lastLf + 1);
          }
          this.scanFrom = Math.max(0, buf.length - 3);
          return out;
        }
        if (headEnd > limits.maxMessageBytes) {
          throw new SipParseError("message-too-large", `head of ${headEnd} bytes exceeds ${limits.maxMessageBytes}`, 0);
        }
        const head = parseHead(buf, latin1(buf, 0, headEnd), 0, headEnd, this.o);
        if (head.contentLength < 0) {
          throw new SipParseError("missing-content-length", "Content-Length is mandatory on stream transports (RFC 3261 §18.3)", head.bodyStart);
        }
        const total = head.bodyStart + head.contentLength;
        if (total > limits.maxMessageBytes) {
          throw new SipParseError("message-too-large", `message of ${total} bytes exceeds ${limits.maxMessageBytes}`, 0, "Content-Length");
        }
        this.pending = { head, total };
      }
      const { head, total } = this.pending;
      if (buf.length < total) return out;
      const msg = head.message;
      msg.body = head.contentLength === 0 ? EMPTY : Buffer.from(buf.subarray(head.bodyStart, total));
      out.push(msg);
      this.pending = undefined;
      this.scanFrom = 0;
      this.buf = total === buf.length ? EMPTY : buf.subarray(total);
      this.consumed += total;
    }
  }
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
