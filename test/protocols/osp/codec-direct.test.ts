// The direct reader (codec.ts FastReader) against the element-tree path: same model or the same OspDecodeError.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decodeOspMessage,
  decodeOspMessageDirect,
  decodeOspMessageTree,
  decodeTokenInfo,
  decodeTokenInfoDirect,
  decodeTokenInfoTree,
  encodeOspMessage,
  encodeTokenInfo,
} from "../../../protocols/osp/codec.js";
import { OspDecodeError } from "../../../protocols/osp/index.js";
import type { OspMessage } from "../../../protocols/osp/index.js";
import { randomBytes, seededRandom } from "../../support/seeded-random.js";
import { messageArb, tokenInfoArb } from "./arbitraries.js";

const FLOW_KINDS = new Set(["AuthorisationRequest", "AuthorisationResponse", "UsageIndication", "UsageConfirmation"]);

/** The model without extension elements (the direct reader leaves those to the tree). */
function withoutExtensions<T>(v: T): T {
  if (Array.isArray(v)) return v.map(withoutExtensions) as T;
  if (v === null || typeof v !== "object" || Buffer.isBuffer(v)) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (k !== "extensions") out[k] = withoutExtensions(x);
  return out as T;
}

const flowMessageArb = messageArb
  .map((m) => withoutExtensions({ ...m, components: m.components.filter((c) => FLOW_KINDS.has(c.kind)) }))
  .filter((m) => m.components.length > 0);

/** Layouts the direct reader must read as written: pretty-printed, single-quoted attributes, spaces in end tags. */
function relayout(text: string, style: number): string {
  const declaration = text.startsWith("<?xml") ? text.slice(0, text.indexOf("?>") + 2) : "";
  return declaration + relayoutBody(text.slice(declaration.length), style);
}

function relayoutBody(xml: string, style: number): string {
  switch (style) {
    case 1: return xml.replace(/></g, ">\n  <");
    case 2: return xml.replace(/ ([A-Za-z]+)="([^"']*)"/g, " $1 = '$2'");
    case 3: return xml.replace(/<\/([A-Za-z]+)>/g, "</$1 >").replace(/\/>/g, " />");
    default: return xml;
  }
}

function outcome(f: () => unknown): unknown {
  try {
    return { ok: f() };
  } catch (err) {
    if (!(err instanceof OspDecodeError)) throw err;
    return { code: err.code, path: err.path, message: err.message };
  }
}

describe("OSP direct decode = element-tree decode", () => {
  it("reads every flow message directly, in every layout, to what the tree reads (fast-check)", () => {
    fc.assert(
      fc.property(flowMessageArb, fc.constantFrom("toolkit", "etsi"), fc.boolean(), fc.integer({ min: 0, max: 3 }), (m: OspMessage, spelling, declaration, style) => {
        const xml = relayout(encodeOspMessage(m, { spelling, declaration }).toString("utf8"), style);
        const bytes = Buffer.from(xml, "utf8");
        const direct = decodeOspMessageDirect(bytes);
        const tree = decodeOspMessageTree(bytes);
        expect(tree).toEqual(m);
        // Texts that are not plain (references, CR, non-BMP, U+FFFD...) go through the tree; all else is read directly.
        if (!/[&\r\ud800-\udfff\ufffd-\uffff]/.test(xml)) expect(direct).toBeDefined();
        if (direct !== undefined) expect(direct).toEqual(tree);
        expect(decodeOspMessage(xml)).toEqual(tree);
      }),
      { numRuns: 1500 },
    );
  });

  it("leaves other components and extensions to the tree", () => {
    fc.assert(
      fc.property(messageArb, (m) => {
        const bytes = encodeOspMessage(m);
        const direct = decodeOspMessageDirect(bytes);
        if (direct !== undefined) expect(direct).toEqual(decodeOspMessageTree(bytes));
        if (m.components.some((c) => !FLOW_KINDS.has(c.kind))) expect(direct).toBeUndefined();
      }),
      { numRuns: 500 },
    );
  });

  it("TokenInfo: direct = tree (fast-check)", () => {
    fc.assert(
      fc.property(tokenInfoArb, fc.integer({ min: 0, max: 3 }), (t, style) => {
        const bytes = Buffer.from(relayout(encodeTokenInfo(withoutExtensions(t)).toString("utf8"), style), "utf8");
        const direct = decodeTokenInfoDirect(bytes);
        const tree = decodeTokenInfoTree(bytes);
        if (direct !== undefined) expect(direct).toEqual(tree);
        expect(decodeTokenInfo(bytes)).toEqual(tree);
      }),
      { numRuns: 500 },
    );
  });

  it("mutated documents: decode gives the tree's model or the tree's OspDecodeError (>= 100,000 inputs)", () => {
    const seed = Number(process.env.OSP_FUZZ_SEED ?? Date.now() % 2 ** 31);
    const rnd = seededRandom(seed);
    const samples = fc.sample(flowMessageArb, { numRuns: 200, seed });
    const corpus = [
      ...samples.map((m) => encodeOspMessage(m)),
      ...fc.sample(tokenInfoArb, { numRuns: 50, seed }).map((t) => encodeTokenInfo(withoutExtensions(t))),
      ...readdirSync(join(process.cwd(), "test/protocols/osp/golden")).map((f) => readFileSync(join(process.cwd(), "test/protocols/osp/golden", f))),
    ];
    const SNIPPETS = ['"', "'", "<", ">", "/", " ", "\n", "&amp;", "\r", "=", "<!-- c -->", "é", "\u{1F600}", ' critical="false"', ' type="e164"', ' encoding="cdata"', "<Code>1</Code>", "</Status>", "<X/>"];
    let direct = 0;
    for (let i = 0; i < 100_000; i++) {
      let b = Buffer.from(corpus[i % corpus.length]!);
      const steps = 1 + Math.floor(rnd() * 3);
      for (let s = 0; s < steps; s++) {
        const at = Math.floor(rnd() * (b.length + 1));
        const kind = Math.floor(rnd() * 5);
        if (kind === 0 && b.length) b[Math.min(at, b.length - 1)] = Math.floor(rnd() * 256);
        else if (kind === 1) b = Buffer.concat([b.subarray(0, at), Buffer.from(SNIPPETS[Math.floor(rnd() * SNIPPETS.length)]!), b.subarray(at)]);
        else if (kind === 2) b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + Math.floor(rnd() * 12))]);
        else if (kind === 3) b = Buffer.concat([b.subarray(0, at), randomBytes(rnd, 1 + Math.floor(rnd() * 3)), b.subarray(at)]);
        else b = b.subarray(0, at);
      }
      const tokenInfo = b.includes("<TokenInfo");
      const got = outcome(() => (tokenInfo ? decodeTokenInfo(b) : decodeOspMessage(b)));
      const want = outcome(() => (tokenInfo ? decodeTokenInfoTree(b) : decodeOspMessageTree(b)));
      if (i % 10 === 0 && (tokenInfo ? decodeTokenInfoDirect(b) : decodeOspMessageDirect(b)) !== undefined) direct++;
      try {
        expect(got).toEqual(want);
      } catch (err) {
        throw new Error(`seed ${seed} input ${i} (${b.toString("base64")}): ${String(err)}`);
      }
    }
    // Some mutations leave a readable plain document (a changed value, a space): the direct reader was compared.
    expect(direct).toBeGreaterThan(10);
  }, 240_000);
});
