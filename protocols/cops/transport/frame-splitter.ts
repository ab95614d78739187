// Splits a TCP byte stream into whole COPS messages by the common header's Message Length (RFC 2748 §2.1),
// checking the header before trusting the length and bounding it. Linear in the bytes received: chunks are
// listed as they come and copied once, into the message they complete.
import { CopsDecodeError } from "../cops-decode-error.js";
import { COPS_VERSION, HEADER_LENGTH } from "../constants.js";

/** The longest COPS message a connection accepts by default. */
export const DEFAULT_MAX_MESSAGE_BYTES = 1 << 20;

/** Why a stream died: the decode error and the offending common-header octets (RFC 2748 §2.1). */
export type CopsFrameFailure = { error: CopsDecodeError; header: Buffer };

/** Cuts a TCP byte stream into COPS messages by their header's length, refusing one longer than the limit. */
export class CopsFrameSplitter {
  /** Chunks received and not yet consumed; the first one from `headOffset`. */
  private chunks: Buffer[] = [];
  private headOffset = 0;
  private total = 0;
  /** Length of the message at the head once its header was checked (0: not yet). */
  private expected = 0;
  private failed: CopsFrameFailure | undefined;
  private copied = 0;
  /** Stream offset of the head: where in the stream an error is (the typed error names it). */
  private consumed = 0;

  constructor(private readonly maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES) {}

  /** Bytes received but not yet part of a whole message. */
  get buffered(): number {
    return this.total;
  }

  /** Octets copied so far (headers split across chunks and the messages built): a work counter. */
  get bytesCopied(): number {
    return this.copied;
  }

  /** Set once a header was unusable: the error and the offending header octets. The stream is dead then. */
  get failure(): CopsFrameFailure | undefined {
    return this.failed;
  }

  /**
   * Appends a chunk and returns every whole message now available. A bad header (version, length < 8,
   * not a multiple of 4, above the bound) kills the stream: the messages before it are returned with
   * `failure` set, and every later call returns no message and the same failure.
   */
  read(chunk: Buffer): { frames: Buffer[]; failure?: CopsFrameFailure } {
    if (this.failed) return { frames: [], failure: this.failed };
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.total += chunk.length;
    }
    const frames: Buffer[] = [];
    while (this.total >= HEADER_LENGTH) {
      if (this.expected === 0) {
        // The header is read where it lies when one chunk holds it, else from a copy.
        const head = this.chunks[0] as Buffer;
        const [buf, at] = head.length - this.headOffset >= HEADER_LENGTH ? [head, this.headOffset] : [this.copyHeader(), 0];
        const error = this.checkHeader(buf, at);
        if (error) {
          this.failed = { error, header: Buffer.from(buf.subarray(at, at + HEADER_LENGTH)) };
          this.chunks = [];
          this.headOffset = 0;
          this.total = 0;
          return { frames, failure: this.failed };
        }
        this.expected = buf.readUInt32BE(at + 4);
      }
      if (this.total < this.expected) break;
      frames.push(this.take(this.expected));
      this.expected = 0;
    }
    return { frames };
  }

  /** Like `read`, but throws the CopsDecodeError when the stream cannot be framed. */
  push(chunk: Buffer): Buffer[] {
    const { frames, failure } = this.read(chunk);
    if (failure) throw failure.error;
    return frames;
  }

  /** The first 8 octets of what is buffered, copied out of the chunks they straddle. */
  private copyHeader(): Buffer {
    const header = Buffer.allocUnsafe(HEADER_LENGTH);
    let filled = 0;
    let offset = this.headOffset;
    for (let i = 0; filled < HEADER_LENGTH; i++) {
      const c = this.chunks[i] as Buffer;
      filled += c.copy(header, filled, offset, Math.min(c.length, offset + HEADER_LENGTH - filled));
      offset = 0;
    }
    this.copied += HEADER_LENGTH;
    return header;
  }

  /** Removes the first `length` buffered octets and returns them as one new buffer (one copy). */
  private take(length: number): Buffer {
    const out = Buffer.allocUnsafe(length);
    let filled = 0;
    let used = 0;
    while (filled < length) {
      const c = this.chunks[used] as Buffer;
      const n = c.copy(out, filled, this.headOffset, Math.min(c.length, this.headOffset + length - filled));
      filled += n;
      if (this.headOffset + n === c.length) {
        used++;
        this.headOffset = 0;
      } else {
        this.headOffset += n;
      }
    }
    if (used > 0) this.chunks.splice(0, used);
    this.total -= length;
    this.consumed += length;
    this.copied += length;
    return out;
  }

  private checkHeader(header: Buffer, at: number): CopsDecodeError | undefined {
    if ((header[at] ?? 0) >> 4 !== COPS_VERSION) {
      return new CopsDecodeError("bad-version", this.consumed, "stream does not carry COPS version 1");
    }
    const length = header.readUInt32BE(at + 4);
    if (length < HEADER_LENGTH || length % 4 !== 0) return new CopsDecodeError("bad-length", this.consumed + 4, `message length ${length}`);
    if (length > this.maxMessageBytes) {
      return new CopsDecodeError("frame-too-large", this.consumed + 4, `message length ${length} exceeds ${this.maxMessageBytes}`);
    }
    return undefined;
  }
}
