// One mutator for the codecs' fuzz tests: 1–4 edits of a valid message (bit flip, random byte, truncation,
// inserted bytes, a slice spliced on), plus two edits each protocol names: an interesting value written at the
// position, and the header's length fixed so the mutation reaches the parser behind it.
import { randomBytes } from "./seeded-random.js";

export interface ProtocolMutations {
  /** Writes an interesting value (a length, a type) at `pos`, in place. */
  interesting(out: Buffer, pos: number, rnd: () => number): void;
  /** Sets the header's length field to the message's new length, in place. */
  fixLength(out: Buffer): void;
}

export function mutateBytes(seed: Buffer, rnd: () => number, protocol: ProtocolMutations): Buffer {
  let out = Buffer.from(seed);
  const n = 1 + Math.floor(rnd() * 4);
  for (let k = 0; k < n; k++) {
    const pos = Math.floor(rnd() * Math.max(1, out.length));
    switch (Math.floor(rnd() * 7)) {
      case 0: // bit flip
        if (out.length) out[pos] = (out[pos] ?? 0) ^ (1 << Math.floor(rnd() * 8));
        break;
      case 1: // random byte
        if (out.length) out[pos] = Math.floor(rnd() * 256);
        break;
      case 2: // truncate
        out = out.subarray(0, pos);
        break;
      case 3: // insert bytes
        out = Buffer.concat([out.subarray(0, pos), randomBytes(rnd, 1 + Math.floor(rnd() * 8)), out.subarray(pos)]);
        break;
      case 4:
        protocol.interesting(out, pos, rnd);
        break;
      case 5:
        protocol.fixLength(out);
        break;
      case 6: // splice a slice of itself
        out = Buffer.concat([out, out.subarray(pos, pos + 16)]);
        break;
    }
  }
  return out;
}
