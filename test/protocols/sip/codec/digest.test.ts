// Digest challenge and credentials values: RFC examples, every refusal with its offset, fast-check round trips,
// and a fuzz of 10^5 mutated values that only ever throws SipParseError.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  formatDigestChallenge,
  formatDigestCredentials,
  parseDigestChallenge,
  parseDigestCredentials,
  type DigestChallenge,
  type DigestCredentials,
} from "../../../../protocols/sip/codec/digest.js";
import { SipParseError } from "../../../../protocols/sip/codec/sip-parse-error.js";
import { mutateBytes } from "../../../support/byte-mutations.js";
import { fuzzSeed, seededRandom } from "../../../support/seeded-random.js";

function refusal(fn: () => unknown): SipParseError {
  try {
    fn();
  } catch (err) {
    if (err instanceof SipParseError) return err;
    throw err;
  }
  throw new Error("no refusal");
}

describe("Digest values: examples", () => {
  it("RFC 8760 §3.1's SHA-256 challenge and RFC 3261 §22.4-style credentials", () => {
    const c = parseDigestChallenge('Digest realm="http-auth@example.org",\r\n qop="auth, auth-int",\talgorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"');
    expect(c).toEqual({
      realm: "http-auth@example.org",
      qop: ["auth", "auth-int"],
      algorithm: "SHA-256",
      nonce: "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
      opaque: "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS",
    });
    const a = parseDigestCredentials(
      'digest username="bob", realm="biloxi.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="sip:bob@biloxi.com", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629FAE49393A05397450978507C4EF1", opaque="5ccc069c403ebaf9f0171e9517f40e41", x-extra=1',
      "Authorization",
    );
    expect(a).toMatchObject({ username: "bob", qop: "auth", nc: "00000001", response: "6629fae49393a05397450978507c4ef1", params: [{ name: "x-extra", value: "1", quoted: false }] });
    expect(parseDigestChallenge('Digest realm="a\\"b", nonce="n", stale=TRUE').realm).toBe('a"b');
  });

  it("refuses with what and where", () => {
    const cases: [() => unknown, string, number][] = [
      [() => parseDigestChallenge('Basic realm="x"'), "is not Digest", 0],
      [() => parseDigestChallenge("Digest"), "after white space", 6],
      [() => parseDigestChallenge('Digest realm="x", realm="y", nonce="n"'), "appears twice", 18],
      [() => parseDigestChallenge('Digest realm="x" nonce="n"'), "',' expected", 17],
      [() => parseDigestChallenge('Digest realm="x'), "not closed", 15],
      [() => parseDigestChallenge('Digest realm=x, nonce="n"'), "must be a quoted-string", 7],
      [() => parseDigestChallenge('Digest realm="x", nonce="n", stale=maybe'), "true or false", 29],
      [() => parseDigestChallenge('Digest realm="x"'), "nonce is missing", 0],
      [() => parseDigestChallenge('Digest realm="a\u0001b", nonce="n"'), "control character", 15],
      [() => parseDigestCredentials('Digest username="u", realm="r", nonce="n", uri="sip:x", response="abc"'), "32 or 64 hex", 56],
      [() => parseDigestCredentials(`Digest username="u", realm="r", nonce="n", uri="sip:x", response="${"a".repeat(32)}", qop=auth`), "qop needs cnonce and nc", 0],
      [() => parseDigestCredentials(`Digest username="u", realm="r", nonce="n", uri="sip:x", response="${"a".repeat(32)}", qop=auth, cnonce="c", nc=1`), "nc must be 8 hex", 123],
      [() => parseDigestCredentials(`Digest username="u", realm="r", nonce="n", uri="sip:x", response="${"a".repeat(32)}", qop="auth", cnonce="c", nc=00000001`), "must not be quoted", 101],
      [() => parseDigestCredentials(`Digest realm="r", nonce="n", uri="sip:x", response="${"a".repeat(32)}"`), "username is missing", 0],
    ];
    for (const [fn, detail, offset] of cases) {
      const e = refusal(fn);
      expect(e.code).toBe("bad-header-value");
      expect(e.detail).toContain(detail);
      expect(e.offset).toBe(offset);
    }
  });
});

const text = fc.string({ unit: fc.constantFrom(..."abcXYZ09 -_.:/@\"\\,=é"), maxLength: 20 });
const token = fc.string({ unit: fc.constantFrom(..."abcdz09-._!%*+`'~"), minLength: 1, maxLength: 10 });
const hex = (n: number) => fc.string({ unit: fc.constantFrom(..."0123456789abcdef"), minLength: n, maxLength: n });
const extras = fc.option(fc.array(fc.record({ name: token.map((t) => `x-${t.toLowerCase()}`), value: token, quoted: fc.boolean() }), { minLength: 1, maxLength: 3 }).map((ps) => ps.filter((p, i) => ps.findIndex((q) => q.name === p.name) === i)), { nil: undefined });
const noUndefined = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

const challenges: fc.Arbitrary<DigestChallenge> = fc
  .record({
    realm: text,
    nonce: text,
    domain: fc.option(text, { nil: undefined }),
    opaque: fc.option(text, { nil: undefined }),
    stale: fc.option(fc.boolean(), { nil: undefined }),
    algorithm: fc.option(fc.constantFrom("MD5", "SHA-256", "MD5-sess", "SHA-256-sess"), { nil: undefined }),
    qop: fc.option(fc.array(fc.constantFrom("auth", "auth-int"), { minLength: 1, maxLength: 2 }), { nil: undefined }),
    params: extras,
  })
  .map(noUndefined);

const credentials: fc.Arbitrary<DigestCredentials> = fc
  .record({
    username: text,
    realm: text,
    nonce: text,
    uri: text,
    response: fc.oneof(hex(32), hex(64)),
    algorithm: fc.option(fc.constantFrom("MD5", "SHA-256"), { nil: undefined }),
    opaque: fc.option(text, { nil: undefined }),
    qopPart: fc.option(fc.record({ qop: fc.constantFrom("auth", "auth-int"), cnonce: text, nc: hex(8) }), { nil: undefined }),
    params: extras,
  })
  .map(({ qopPart, ...rest }) => noUndefined({ ...rest, ...(qopPart ?? {}) }) as DigestCredentials);

describe("Digest values: properties", () => {
  it("challenge: parse(format(c)) = c", () => {
    fc.assert(fc.property(challenges, (c) => {
        expect(parseDigestChallenge(formatDigestChallenge(c))).toEqual(c);
      }), { numRuns: 2000 });
  });
  it("credentials: parse(format(c)) = c", () => {
    fc.assert(fc.property(credentials, (c) => {
        expect(parseDigestCredentials(formatDigestCredentials(c))).toEqual(c);
      }), { numRuns: 2000 });
  });
});

describe("Digest values: fuzz", () => {
  it("10^5 mutated values: a model or SipParseError, never another exception; what parses formats and parses again the same", () => {
    const rnd = seededRandom(fuzzSeed());
    const seeds = [
      Buffer.from(formatDigestChallenge({ realm: "example.com", nonce: "abc", qop: ["auth"], algorithm: "SHA-256", opaque: "o", stale: false })),
      Buffer.from(formatDigestCredentials({ username: "alice", realm: "example.com", nonce: "abc", uri: "sip:bob@example.com", response: "a".repeat(64), algorithm: "SHA-256", qop: "auth", cnonce: "c1", nc: "00000001" })),
    ];
    const interesting = ['"', "\\", ",", "=", " ", "\t", "\r\n", "Digest ", "qop=", "nc=", "\u0000"];
    const protocol = {
      interesting: (out: Buffer, pos: number, r: () => number) => {
        const v = Buffer.from(interesting[Math.floor(r() * interesting.length)]!);
        v.copy(out, Math.min(pos, Math.max(0, out.length - v.length)));
      },
      fixLength: () => undefined,
    };
    let parsed = 0;
    for (let i = 0; i < 100_000; i++) {
      const value = mutateBytes(seeds[i % 2]!, rnd, protocol).toString("latin1");
      try {
        if (i % 2 === 0) {
          const c = parseDigestChallenge(value);
          expect(parseDigestChallenge(formatDigestChallenge(c))).toEqual(c);
        } else {
          const c = parseDigestCredentials(value);
          expect(parseDigestCredentials(formatDigestCredentials(c))).toEqual(c);
        }
        parsed++;
      } catch (err) {
        if (!(err instanceof SipParseError)) throw new Error(`${String(err)} for ${JSON.stringify(value)}`);
      }
    }
    expect(parsed).toBeGreaterThan(1000);
  });
});
