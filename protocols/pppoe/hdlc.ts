// RFC 1662 HDLC-like framing for asynchronous lines: Flag Sequence, octet stuffing with the Async-Control-
// Character-Map (§4.2), FCS-16 and FCS-32 (§C.2, §C.3), and a streaming deframer bounded in frame size.
import { PppoeDecodeError } from "./pppoe-decode-error.js";

/** The HDLC flag sequence (RFC 1662 §4.1). */
export const HDLC_FLAG = 0x7e;
/** The HDLC control escape (RFC 1662 §4.2). */
export const HDLC_ESCAPE = 0x7d;
/** The ACCM every link starts with: all 32 control characters escaped (RFC 1662 §7.1). */
export const DEFAULT_ACCM = 0xffffffff;
/** FCS-16 over data and its own FCS (RFC 1662 §C.2). */
export const GOOD_FCS16 = 0xf0b8;
/** FCS-32 over data and its own FCS (RFC 1662 §C.3). */
export const GOOD_FCS32 = 0xdebb20e3;

/** The FCS in bits (RFC 1662 §C). */
export type FcsSize = 16 | 32;

/** ACCM and FCS size of HDLC-like framing (RFC 1662 §7). */
export interface HdlcOptions {
  /** Async-Control-Character-Map: bit n set escapes (on send) or discards (on receive) octet n < 0x20. */
  accm?: number;
  fcs?: FcsSize;
}

const FCS16_TABLE = new Uint16Array(256);
const FCS32_TABLE = new Uint32Array(256);
for (let b = 0; b < 256; b++) {
  let v16 = b;
  let v32 = b;
  for (let i = 0; i < 8; i++) {
    v16 = v16 & 1 ? (v16 >>> 1) ^ 0x8408 : v16 >>> 1;
    v32 = v32 & 1 ? (v32 >>> 1) ^ 0xedb88320 : v32 >>> 1;
  }
  FCS16_TABLE[b] = v16;
  FCS32_TABLE[b] = v32 >>> 0;
}

/** Running FCS-16 (initial 0xffff) over `data[start, end)` (RFC 1662 §C.2). */
export function fcs16(data: Uint8Array, fcs = 0xffff, start = 0, end = data.length): number {
  for (let i = start; i < end; i++) fcs = (fcs >>> 8) ^ (FCS16_TABLE[(fcs ^ (data[i] ?? 0)) & 0xff] ?? 0);
  return fcs;
}

/** Running FCS-32 (initial 0xffffffff) over `data[start, end)` (RFC 1662 §C.3). */
export function fcs32(data: Uint8Array, fcs = 0xffffffff, start = 0, end = data.length): number {
  for (let i = start; i < end; i++) fcs = ((fcs >>> 8) ^ (FCS32_TABLE[(fcs ^ (data[i] ?? 0)) & 0xff] ?? 0)) >>> 0;
  return fcs;
}

/** Octets to escape under an ACCM: Flag, Control Escape and the flagged control characters (§4.2). */
function escapeTable(accm: number): Uint8Array {
  if (accm === cachedAccm) return cachedTable;
  const table = new Uint8Array(256);
  table[HDLC_FLAG] = 1;
  table[HDLC_ESCAPE] = 1;
  for (let o = 0; o < 0x20; o++) table[o] = (accm >>> o) & 1;
  cachedAccm = accm;
  cachedTable = table;
  return table;
}
let cachedAccm = -1;
let cachedTable = new Uint8Array(256);

/**
 * One frame on the line: Flag, the stuffed frame (Address, Control, Protocol, Information as given) and its
 * FCS (complemented, least significant octet first), Flag.
 */
export function encodeHdlcFrame(frame: Uint8Array, options: HdlcOptions = {}): Buffer {
  const escape = escapeTable((options.accm ?? DEFAULT_ACCM) >>> 0);
  const size = options.fcs ?? 16;
  const withFcs = Buffer.alloc(frame.length + size / 8);
  withFcs.set(frame, 0);
  if (size === 16) withFcs.writeUInt16LE(~fcs16(frame) & 0xffff, frame.length);
  else withFcs.writeUInt32LE(~fcs32(frame) >>> 0, frame.length);
  let escaped = 0;
  for (let i = 0; i < withFcs.length; i++) escaped += escape[withFcs[i] ?? 0] ?? 0;
  const out = Buffer.allocUnsafe(withFcs.length + escaped + 2);
  let w = 0;
  out[w++] = HDLC_FLAG;
  for (let i = 0; i < withFcs.length; i++) {
    const o = withFcs[i] ?? 0;
    if (escape[o] === 1) {
      out[w++] = HDLC_ESCAPE;
      out[w++] = o ^ 0x20;
    } else out[w++] = o;
  }
  out[w++] = HDLC_FLAG;
  return out;
}

/** Framing options and the longest frame a deframer accepts. */
export interface HdlcDeframerOptions extends HdlcOptions {
  /** Longest frame accepted, unstuffed, FCS included (default 1500 + 4 + 4: MRU, header, FCS-32). */
  maxFrameBytes?: number;
}

/** A frame out of the byte stream, or why one was dropped. */
export type HdlcDeframed = { type: "frame"; frame: Buffer } | { type: "error"; error: PppoeDecodeError };

/**
 * Streaming deframer: bytes in any chunking, frames out (FCS checked and removed). Linear in its input; holds
 * at most one frame of `maxFrameBytes`. A frame in error is reported once and skipped to the next Flag.
 */
export class HdlcDeframer {
  private readonly buffer: Buffer;
  private readonly accm: number;
  private readonly fcsSize: FcsSize;
  private length = 0;
  private escaping = false;
  /** Discarding up to the next Flag after an error. */
  private skipping = false;
  /** Octets seen on the line since the frame began (offset reported in errors). */
  private lineOffset = 0;

  constructor(options: HdlcDeframerOptions = {}) {
    this.buffer = Buffer.alloc(options.maxFrameBytes ?? 1508);
    this.accm = (options.accm ?? DEFAULT_ACCM) >>> 0;
    this.fcsSize = options.fcs ?? 16;
  }

  /** Takes bytes off the stream, returns the whole frames (and the errors) they complete. */
  push(chunk: Uint8Array): HdlcDeframed[] {
    const out: HdlcDeframed[] = [];
    for (let i = 0; i < chunk.length; i++) {
      const octet = chunk[i] ?? 0;
      if (octet === HDLC_FLAG) {
        if (this.escaping && !this.skipping) {
          // Control Escape followed by Flag aborts the frame (RFC 1662 §4.2).
          out.push({ type: "error", error: new PppoeDecodeError("aborted", this.lineOffset, "frame aborted by Control Escape, Flag") });
        } else if (!this.skipping && this.length > 0) {
          out.push(this.finish());
        }
        this.reset();
        continue;
      }
      this.lineOffset++;
      if (this.skipping) continue;
      // Received control characters flagged in the ACCM were inserted on the way: drop them (RFC 1662 §4.2).
      if (octet < 0x20 && ((this.accm >>> octet) & 1) === 1) continue;
      if (this.escaping) {
        this.escaping = false;
        this.append(octet ^ 0x20, out);
      } else if (octet === HDLC_ESCAPE) {
        this.escaping = true;
      } else this.append(octet, out);
    }
    return out;
  }

  /** Octets held for the frame in progress. */
  get pendingBytes(): number {
    return this.length;
  }

  private append(octet: number, out: HdlcDeframed[]): void {
    if (this.length === this.buffer.length) {
      out.push({
        type: "error",
        error: new PppoeDecodeError("frame-too-large", this.lineOffset - 1, `frame exceeds ${this.buffer.length} octets`),
      });
      this.skipping = true;
      this.length = 0;
      return;
    }
    this.buffer[this.length++] = octet;
  }

  private finish(): HdlcDeframed {
    try {
      return { type: "frame", frame: checkFcs(this.buffer.subarray(0, this.length), this.fcsSize) };
    } catch (error) {
      return { type: "error", error: error as PppoeDecodeError };
    }
  }

  private reset(): void {
    this.length = 0;
    this.escaping = false;
    this.skipping = false;
    this.lineOffset = 0;
  }
}

function checkFcs(unstuffed: Buffer, size: FcsSize): Buffer {
  const fcsOctets = size / 8;
  // Address, Control and a Protocol octet at least, then the FCS; ACFC may drop Address/Control (RFC 1661 §6.6).
  if (unstuffed.length < fcsOctets + 2) {
    throw new PppoeDecodeError("truncated", unstuffed.length, `frame of ${unstuffed.length} octets is shorter than its FCS-${size} and a Protocol`);
  }
  const good = size === 16 ? fcs16(unstuffed) === GOOD_FCS16 : fcs32(unstuffed) === GOOD_FCS32;
  if (!good) throw new PppoeDecodeError("bad-fcs", unstuffed.length - fcsOctets, `FCS-${size} does not check`);
  return Buffer.from(unstuffed.subarray(0, unstuffed.length - fcsOctets));
}

/** One whole line frame (Flags around it optional) to its content without FCS. Throws PppoeDecodeError. */
export function decodeHdlcFrame(line: Buffer, options: HdlcDeframerOptions = {}): Buffer {
  const deframer = new HdlcDeframer(options);
  const results = [...deframer.push(FLAG_ONLY), ...deframer.push(line), ...deframer.push(FLAG_ONLY)];
  const frames: Buffer[] = [];
  for (const r of results) {
    if (r.type === "error") throw r.error;
    frames.push(r.frame);
  }
  const [frame] = frames;
  if (frame === undefined) throw new PppoeDecodeError("truncated", 0, "no frame between the Flags");
  if (frames.length > 1) throw new PppoeDecodeError("bad-escape", line.indexOf(HDLC_FLAG, 1), "Flag inside a frame");
  return frame;
}

const FLAG_ONLY = Buffer.from([HDLC_FLAG]);
