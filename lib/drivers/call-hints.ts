// Call-id hints of the socket driver (records only; the receiving node never decides on them): the sender's call
// id of a datagram or an OSP request in flight, found again by sender, receiver and the message's fingerprint.
import type { Protocol } from "./message-record.js";

/** Call-id hints held per sender–receiver pair: far more than are ever in flight on loopback at once. */
const HINTS_PER_PAIR = 4096;

/** FNV-1a over the message's 32-bit words, then its last bytes: with sender and receiver, the key of its call-id hint. */
function fingerprint(bytes: Buffer): number {
  const n = bytes.length;
  const words = new DataView(bytes.buffer, bytes.byteOffset, n);
  let h = 0x811c9dc5 ^ n;
  let i = 0;
  for (; i + 4 <= n; i += 4) h = Math.imul(h ^ words.getInt32(i, true), 0x01000193);
  for (; i < n; i++) h = Math.imul(h ^ (bytes[i] as number), 0x01000193);
  return h >>> 0;
}

type ByPrint = Map<number, string | string[]>;

/** Call ids of datagrams and OSP requests in flight, by protocol, sender and receiver (no key string per message), then by fingerprint. */
export class CallHints {
  private readonly byPair = new Map<Protocol, Map<string, Map<string, ByPrint>>>();

  /** Hints held now (a gauge: back to 0 once nothing is in flight). */
  get held(): number {
    let n = 0;
    for (const byFrom of this.byPair.values())
      for (const byTo of byFrom.values()) for (const byPrint of byTo.values()) for (const held of byPrint.values()) n += typeof held === "string" ? 1 : held.length;
    return n;
  }

  private pair(proto: Protocol, from: string, to: string): ByPrint {
    let byFrom = this.byPair.get(proto);
    if (!byFrom) this.byPair.set(proto, (byFrom = new Map()));
    let byTo = byFrom.get(from);
    if (!byTo) byFrom.set(from, (byTo = new Map()));
    let byPrint = byTo.get(to);
    if (!byPrint) byTo.set(to, (byPrint = new Map()));
    return byPrint;
  }

  add(proto: Protocol, from: string, to: string, bytes: Buffer, callId: string): void {
    const byPrint = this.pair(proto, from, to);
    const print = fingerprint(bytes);
    const held = byPrint.get(print);
    if (held === undefined) {
      // A datagram lost on the way never takes its hint: the oldest go first, so the map stays bounded.
      if (byPrint.size >= HINTS_PER_PAIR) byPrint.delete(byPrint.keys().next().value as number);
      byPrint.set(print, callId);
    } else if (typeof held === "string") byPrint.set(print, [held, callId]);
    else if (held.length < HINTS_PER_PAIR) held.push(callId);
  }

  take(proto: Protocol, from: string, to: string, bytes: Buffer): string | undefined {
    const byPrint = this.byPair.get(proto)?.get(from)?.get(to);
    if (!byPrint) return undefined;
    const print = fingerprint(bytes);
    const held = byPrint.get(print);
    if (held === undefined || typeof held === "string") {
      byPrint.delete(print);
      return held;
    }
    const v = held.shift();
    if (held.length === 0) byPrint.delete(print);
    return v;
  }
}
