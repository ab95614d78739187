// Call-id hints of the socket driver (records only; the receiving node never decides on them): the sender's call
// id of a datagram or an OSP request in flight, found again by sender, receiver and the message's fingerprint.
import type { Protocol } from "./message-record.js";

/** Call-id hints held per sender–receiver pair: far more than are ever in flight on loopback at once. */
const HINTS_PER_PAIR = 4096;

/** FNV-1a of a message: with sender and receiver, the key of its call-id hint. */
function fingerprint(bytes: Buffer): number {
  let h = 0x811c9dc5 ^ bytes.length;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ (bytes[i] as number), 0x01000193);
  return h >>> 0;
}

/** Call ids of datagrams and OSP requests in flight, by "proto|from|to", then by fingerprint. */
export class CallHints {
  private readonly byPair = new Map<string, Map<number, string | string[]>>();

  /** Hints held now (a gauge: back to 0 once nothing is in flight). */
  get held(): number {
    let n = 0;
    for (const byPrint of this.byPair.values()) for (const held of byPrint.values()) n += typeof held === "string" ? 1 : held.length;
    return n;
  }

  add(proto: Protocol, from: string, to: string, bytes: Buffer, callId: string): void {
    const pair = `${proto}|${from}|${to}`;
    let byPrint = this.byPair.get(pair);
    if (!byPrint) this.byPair.set(pair, (byPrint = new Map()));
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
    const byPrint = this.byPair.get(`${proto}|${from}|${to}`);
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
