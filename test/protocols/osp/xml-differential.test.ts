// Differential test: the OSP XML reader against fast-xml-parser plus the strict checks (xml-oracle.ts).
// On random OSP messages and random XML-aware mutations of them, both accept with the same tree or both refuse.
import fc from "fast-check";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { OspDecodeError, encodeOspMessage } from "../../../protocols/osp/index.js";
import { readXmlDocument } from "../../../protocols/osp/xml-reader.js";
import type { XmlElement } from "../../../protocols/osp/xml-tree.js";
import { fuzzSeed, seededRandom } from "../../support/seeded-random.js";
import { messageArb } from "./arbitraries.js";
import { OracleRefusal, oracleRead } from "./xml-oracle.js";

const SNIPPETS = [
  "<!-- c -->", "<!---->", "<!-- a--b -->", "<!-- a --->", "<!--", "-->", "<![CDATA[x<y&z]]>", "<![CDATA[]]>", "<![CDATA[", "]]>", "]]",
  "&amp;", "&lt;", "&gt;", "&quot;", "&apos;", "&#65;", "&#x42;", "&#0065;", "&#0;", "&#xD800;", "&#x110000;", "&#xFFFE;", "&#9;", "&#13;",
  "&bogus;", "&", "&#;", "&#x;", "&amp", "<?pi x?>", "<?xml version=\"1.0\"?>", "<?xml-stylesheet href=\"a\"?>", "<!DOCTYPE Message>",
  "<!DOCTYPE Message [<!ENTITY x \"y\">]>", "<!ENTITY x \"y\">", "<!ELEMENT a ANY>", "\r\n", "\r", "\t", "\n", " ", "\u0001", "\u000b",
  "\uFFFE", "\uFEFF", "\u00e9", "\u{1F600}", "\u00a0", "\u2028", "<", ">", "\"", "'", "=", "/", "</Message>", "<Extra critical=\"false\"/>",
  "<a b=\"1\" b=\"2\"/>", "<a b='x\"y'/>", "<a b=\"x'y\">t</a>", "<a b=\"1\"c=\"2\"/>", "<a b=1/>", "<a b/>", "<a\tb\n=\r\"v\t1\"/>", "<ns:a/>",
  "<_a.b-c/>", "<1a/>", "<-a/>", "<.a/>", "<a\u00b7b/>", "<\u00e9t\u00e9/>", "<a\u0300/>", "<\u0300a/>", "< a/>", "<a / >", "<a/ >",
  "</ a>", "<a></a >", "<a></b>", "<a>", "</a>", "<a/>", "<a >x</a>", "<x:y z:w=\"1\"/>", "<__proto__/>", "<a __proto__=\"1\"/>",
  "<a toString=\"1\"/>", "<a xml:lang=\"en\"/>", "<xmlfoo/>",
];

function mutate(text: string, rnd: () => number): string {
  let s = text;
  const steps = 1 + Math.floor(rnd() * 3);
  for (let k = 0; k < steps; k++) {
    const at = Math.floor(rnd() * (s.length + 1));
    const r = rnd();
    if (r < 0.55) {
      s = s.slice(0, at) + SNIPPETS[Math.floor(rnd() * SNIPPETS.length)]! + s.slice(at);
    } else if (r < 0.7) {
      s = s.slice(0, at) + s.slice(at + 1 + Math.floor(rnd() * 8));
    } else if (r < 0.8) {
      s = s.slice(0, at) + s.slice(at, at + 1 + Math.floor(rnd() * 40)) + s.slice(at);
    } else if (r < 0.9) {
      // replace one character of a tag or value by a random printable or special one
      const c = String.fromCharCode([0x20, 0x3c, 0x3e, 0x26, 0x22, 0x27, 0x2f, 0x3d, 0x21, 0x3f, 0x5d, 0x2d][Math.floor(rnd() * 12)]!);
      s = s.slice(0, at) + c + s.slice(at + 1);
    } else {
      // wrap a range in a comment or a CDATA section
      const end = Math.min(s.length, at + Math.floor(rnd() * 30));
      s = rnd() < 0.5 ? `${s.slice(0, at)}<!--${s.slice(at, end)}-->${s.slice(end)}` : `${s.slice(0, at)}<![CDATA[${s.slice(at, end)}]]>${s.slice(end)}`;
    }
  }
  return s;
}

type Outcome = { ok: true; tree: XmlElement } | { ok: false; why: string };

function outcome(read: () => XmlElement): Outcome {
  try {
    return { ok: true, tree: read() };
  } catch (err) {
    if (err instanceof OspDecodeError || err instanceof OracleRefusal) return { ok: false, why: err.message };
    throw err;
  }
}

function compare(input: Buffer | string): boolean {
  const ours = outcome(() => readXmlDocument(input));
  const theirs = outcome(() => oracleRead(input));
  const show = typeof input === "string" ? JSON.stringify(input) : JSON.stringify(input.toString("utf8"));
  if (ours.ok !== theirs.ok) {
    throw new Error(`${show}: reader ${ours.ok ? "accepts" : `refuses (${ours.why})`}, oracle ${theirs.ok ? "accepts" : `refuses (${theirs.why})`}`);
  }
  if (ours.ok && theirs.ok) expect(ours.tree, show).toEqual(theirs.tree);
  return ours.ok;
}

const goldenDir = join(process.cwd(), "test/protocols/osp/golden");
const capturedDir = join(process.cwd(), "test/protocols/osp/captured");
const corpus = [
  ...readdirSync(goldenDir).map((f) => readFileSync(join(goldenDir, f), "utf8")),
  ...readdirSync(capturedDir).map((f) => readFileSync(join(capturedDir, f), "utf8")),
];

describe("OSP XML reader vs fast-xml-parser (differential)", () => {
  it("the golden and captured documents read the same", () => {
    for (const doc of corpus) expect(compare(Buffer.from(doc))).toBe(true);
  });

  it("random OSP messages read the same, as bytes and as strings", () => {
    fc.assert(
      fc.property(messageArb, fc.boolean(), (m, asString) => {
        const bytes = encodeOspMessage(m);
        expect(compare(asString ? bytes.toString("utf8") : bytes)).toBe(true);
      }),
      { numRuns: 400 },
    );
  });

  it("random mutations of random OSP messages: both accept the same tree or both refuse", () => {
    fc.assert(
      fc.property(messageArb, fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.boolean(), (m, seed, asString) => {
        const text = mutate(encodeOspMessage(m).toString("utf8"), seededRandom(seed));
        compare(asString ? text : Buffer.from(text));
      }),
      { numRuns: 3000 },
    );
  });

  it("20,000 seeded mutations of the golden corpus: both accept the same tree or both refuse", () => {
    const seed = fuzzSeed();
    const rnd = seededRandom(seed);
    let accepted = 0;
    for (let i = 0; i < 20_000; i++) {
      const text = mutate(corpus[i % corpus.length]!, rnd);
      try {
        if (compare(i % 2 === 0 ? Buffer.from(text) : text)) accepted++;
      } catch (err) {
        throw new Error(`seed ${seed} input ${i}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    // Both outcomes must occur, or the mutations do not exercise the reader.
    expect(accepted).toBeGreaterThan(1000);
    expect(accepted).toBeLessThan(19_000);
  });
});
