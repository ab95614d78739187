// Framing of the socket driver's stream links, per protocol: COPS by its common header's length (RFC 2748 §2.1),
// SIP by Content-Length (RFC 3261 §18.3) into each message's own bytes, parsed once by the node that gets them.
import { CopsDecodeError, CopsFrameSplitter, encodeCopsMessage } from "../../protocols/cops/index.js";
import type { MessagePhase } from "../../protocols/net/connection-limits.js";
import { SipStreamFramer } from "../../protocols/sip/index.js";
import type { Protocol } from "./message-record.js";

/** Whole messages of a chunk read on a stream (throws the protocol's error on bytes that cannot be framed). */
export type StreamFramer = (chunk: Buffer) => Buffer[];

/** A framer for a stream of `proto`; `phase` (an accepted connection's deadlines) learns what the stream waits for after each chunk. */
export function streamFramer(proto: Protocol, phase?: (p: MessagePhase) => void): StreamFramer {
  if (proto === "COPS") {
    const splitter = new CopsFrameSplitter();
    return (chunk) => {
      const frames = splitter.push(chunk);
      phase?.(splitter.buffered === 0 ? "idle" : splitter.buffered < 8 ? "head" : "body"); // 8: the common header (RFC 2748 §2.1)
      return frames;
    };
  }
  // The message's own bytes, cut by Content-Length: the receiving node parses each once.
  const framer = new SipStreamFramer();
  return (chunk) => {
    const frames = framer.push(chunk);
    phase?.(framer.phase);
    return frames;
  };
}

/** How a stream that cannot be framed is refused: COPS says why in a CC first (RFC 2748 §3.7); SIP just closes (RFC 3261 §18.3). */
export function framingRefusal(err: unknown): { cause: string; answer: Buffer } | undefined {
  // A drop by its code (one cause whatever the offset); the peer is told by CC.
  if (err instanceof CopsDecodeError) return { cause: `cops-${err.code}`, answer: encodeCopsMessage({ op: "CC", clientType: 0, error: err.copsErrorCode }) };
  return undefined;
}
