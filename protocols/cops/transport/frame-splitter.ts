// Splits a TCP byte stream into whole COPS messages by the common header's Message Length (RFC 2748 §2.1),
// checking the header before trusting the length and bounding it.
import { CopsDecodeError } from "../cops-decode-error.js";
import { COPS_VERSION, HEADER_LENGTH } from "../constants.js";

export const DEFAULT_MAX_MESSAGE_BYTES = 1 << 20;

export class CopsFrameSplitter {
  private pending: Buffer = Buffer.alloc(0);
  private failed: { error: CopsDecodeError; header: Buffer } | undefined;

  constructor(private readonly maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES) {}

  /** Bytes received but not yet part of a whole message. */
  get buffered(): number {
    return this.pending.length;
  }

  /** Set once a header was unusable: the error and the offending header octets. The stream is dead then. */
  get failure(): { error: CopsDecodeError; header: Buffer } | undefined {
    return this.failed;
  }

  /**
   * Appends a chunk and returns every whole message now available. A bad header (version, length < 8,
   * not a multiple of 4, above the bound) kills the stream: the messages before it are returned with
   * `failure` set, and every later call returns no message and the same failure.
   */
  read(chunk: Buffer): { frames: Buffer[]; failure?: { error: CopsDecodeError; header: Buffer } } {
    if (this.failed) return { frames: [], failure: this.failed };
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const frames: Buffer[] = [];
    let offset = 0;
    while (this.pending.length - offset >= HEADER_LENGTH) {
      const error = this.checkHeader(offset);
      if (error) {
        this.failed = { error, header: Buffer.from(this.pending.subarray(offset, offset + HEADER_LENGTH)) };
        this.pending = Buffer.alloc(0);
        return { frames, failure: this.failed };
      }
      const length = this.pending.readUInt32BE(offset + 4);
      if (this.pending.length - offset < length) break;
      frames.push(Buffer.from(this.pending.subarray(offset, offset + length)));
      offset += length;
    }
    this.pending = offset === 0 ? this.pending : Buffer.from(this.pending.subarray(offset));
    return { frames };
  }

  /** Like `read`, but throws the CopsDecodeError when the stream cannot be framed. */
  push(chunk: Buffer): Buffer[] {
    const { frames, failure } = this.read(chunk);
    if (failure) throw failure.error;
    return frames;
  }

  private checkHeader(offset: number): CopsDecodeError | undefined {
    if ((this.pending[offset] ?? 0) >> 4 !== COPS_VERSION) {
      return new CopsDecodeError("bad-version", offset, "stream does not carry COPS version 1");
    }
    const length = this.pending.readUInt32BE(offset + 4);
    if (length < HEADER_LENGTH || length % 4 !== 0) return new CopsDecodeError("bad-length", offset + 4, `message length ${length}`);
    if (length > this.maxMessageBytes) {
      return new CopsDecodeError("frame-too-large", offset + 4, `message length ${length} exceeds ${this.maxMessageBytes}`);
    }
    return undefined;
  }
}
