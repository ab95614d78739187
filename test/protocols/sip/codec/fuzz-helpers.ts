// Fuzz helpers: reproducible mutators, random inputs and an exerciser that touches everything a consumer
// might touch. Whatever the input, only SipParseError may escape.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import fc from "fast-check";
import {
  formatSipMessage,
  isRequest,
  parseSipMessage,
  serializeSipMessage,
  SipParseError,
  validateRequestForProxy,
  validateRequestForUas,
  validateResponseForProxy,
  type SipMessage,
} from "../../../../protocols/sip/index.js";
import { messageArb } from "./arbitraries.js";
import { rfc4475, rfc4475Names } from "./corpus.js";

/** xorshift32: reproducible, fast. */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

const INTERESTING = Buffer.from("\r\n:;,<>\"\\%@ \t=?&[]/*0123456789\x00\x7f\xff\x80");
const BIG_NUMBERS = ["4294967296", "99999999999999999999", "-1", "0", "2147483648", "65536", "256"];

export function corpus(): Buffer[] {
  const out = [...rfc4475Names("valid"), ...rfc4475Names("invalid")].map((n) => rfc4475(n));
  out.push(readFileSync(resolve(process.cwd(), "examples/messages/invite.sip")));
  for (const g of fc.sample(messageArb, { numRuns: 60, seed: 4475 })) out.push(serializeSipMessage(g.message));
  return out;
}

export function mutate(src: Buffer, other: Buffer, next: () => number): Buffer {
  let b = Buffer.from(src);
  const rounds = 1 + (next() % 4);
  for (let r = 0; r < rounds; r++) {
    const len = b.length;
    const at = len === 0 ? 0 : next() % len;
    switch (next() % 9) {
      case 0: // bit flip
        if (len > 0) b[at] = b[at]! ^ (1 << (next() % 8));
        break;
      case 1: // interesting byte
        if (len > 0) b[at] = INTERESTING[next() % INTERESTING.length]!;
        break;
      case 2: // insert interesting bytes
        b = Buffer.concat([b.subarray(0, at), Buffer.from([INTERESTING[next() % INTERESTING.length]!, INTERESTING[next() % INTERESTING.length]!]), b.subarray(at)]);
        break;
      case 3: // delete a range
        b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(len, at + 1 + (next() % 16)))]);
        break;
      case 4: // duplicate a range
        b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + 1 + (next() % 40)), b.subarray(at)]);
        break;
      case 5: // truncate
        b = b.subarray(0, at);
        break;
      case 6: // splice with another message
        b = Buffer.concat([b.subarray(0, at), other.subarray(next() % Math.max(1, other.length))]);
        break;
      case 7: {
        // replace a digit run with an extreme number
        const s = b.toString("latin1");
        const m = /\d+/g;
        m.lastIndex = at;
        const hit = m.exec(s);
        if (hit) b = Buffer.from(s.slice(0, hit.index) + BIG_NUMBERS[next() % BIG_NUMBERS.length] + s.slice(hit.index + hit[0].length), "latin1");
        break;
      }
      default: // CRLF → LF or lone CR
        if (len > 0) {
          const i = b.indexOf("\r\n", at);
          if (i >= 0) b = Buffer.concat([b.subarray(0, i), b.subarray(i + (next() % 2 === 0 ? 1 : 0), i + 1), b.subarray(i + 2)]);
        }
    }
  }
  return b;
}

export function randomBytes(next: () => number): Buffer {
  const len = next() % 700;
  const b = Buffer.allocUnsafe(len);
  const ascii = next() % 2 === 0;
  for (let i = 0; i < len; i++) b[i] = ascii ? 32 + (next() % 95) : next() & 0xff;
  // Sometimes a plausible start line, so the header code runs on random bytes too.
  if (next() % 3 === 0) return Buffer.concat([Buffer.from(next() % 2 ? "INVITE sip:a@example.com SIP/2.0\r\n" : "SIP/2.0 200 OK\r\n"), b]);
  return b;
}

/**
 * Touches every typed accessor; on every `heavyEvery`-th call also the validators, the pretty-printer and
 * the serializer (slower, so sampled to keep the run short).
 */
let calls = 0;
export function exercise(m: SipMessage, heavyEvery = 8): void {
  const heavy = calls++ % heavyEvery === 0;
  const touch = (f: () => unknown): void => {
    try {
      f();
    } catch (e) {
      if (!(e instanceof SipParseError)) throw e;
    }
  };
  touch(() => m.via);
  touch(() => m.topVia);
  touch(() => m.from);
  touch(() => m.to);
  touch(() => m.callId);
  touch(() => m.cseq);
  touch(() => m.contact);
  touch(() => m.maxForwards);
  touch(() => m.contentLength);
  touch(() => m.contentType);
  touch(() => m.contentTypeHeader);
  touch(() => m.route);
  touch(() => m.recordRoute);
  touch(() => m.require);
  touch(() => m.proxyRequire);
  touch(() => m.supported);
  touch(() => m.allow);
  touch(() => m.expires);
  touch(() => m.getHeaders("via"));
  touch(() => m.getHeaders("contact"));
  touch(() => m.removeFirstHeaderValue("route"));
  if (!heavy) return;
  if (isRequest(m)) {
    touch(() => m.requestUri);
    touch(() => validateRequestForUas(m, { authSchemes: ["Digest"] }));
    touch(() => validateRequestForProxy(m));
  } else {
    touch(() => validateResponseForProxy(m));
  }
  touch(() => formatSipMessage(m));
  touch(() => serializeSipMessage(m));
}

export function run(inputs: Iterable<Buffer>): { count: number; parsed: number; escapes: string[] } {
  let count = 0;
  let parsed = 0;
  const escapes: string[] = [];
  for (const input of inputs) {
    count++;
    try {
      const m = parseSipMessage(input);
      parsed++;
      exercise(m);
    } catch (e) {
      if (!(e instanceof SipParseError)) escapes.push(`${String(e)} on ${input.toString("base64")}`);
    }
  }
  return { count, parsed, escapes };
}

