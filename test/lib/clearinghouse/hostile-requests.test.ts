// The clearinghouse core under damaged OSP requests: every request gets an answer (OSP with a status per
// component, or HTTP 400), nothing throws, and only readable usage becomes a CDR.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { decodeOspMessage } from "../../../protocols/osp/index.js";
import { MemoryCdrStore } from "../../../lib/adapters/cdr-store-memory.js";
import { Clearinghouse } from "../../../lib/roles/clearinghouse.js";
import { fuzzSeed, seededRandom } from "../../support/seeded-random.js";

const corpus = ["golden", "captured"].flatMap((d) => {
  const dir = join(process.cwd(), "test/protocols/osp", d);
  return readdirSync(dir)
    .filter((f) => !f.startsWith("token-info"))
    .map((f) => readFileSync(join(dir, f)));
});

/** One to three byte-level damages, or a component's value replaced by something that is not a number. */
function damage(input: Buffer, rnd: () => number): Buffer {
  let b = Buffer.from(input);
  const steps = 1 + Math.floor(rnd() * 3);
  for (let s = 0; s < steps; s++) {
    const at = Math.floor(rnd() * (b.length + 1));
    switch (Math.floor(rnd() * 5)) {
      case 0:
        if (b.length) b[Math.min(at, b.length - 1)] = Math.floor(rnd() * 256);
        break;
      case 1:
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + Math.floor(rnd() * 16))]);
        break;
      case 2:
        b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + 1 + Math.floor(rnd() * 80)), b.subarray(at)]);
        break;
      case 3:
        b = Buffer.from(b.toString("latin1").replace(/>(\d[\d.]*)</, ">1,5<"), "latin1");
        break;
      default:
        b = b.subarray(0, at);
    }
  }
  return b;
}

describe("Clearinghouse.handle under damaged requests", () => {
  it("answers every one of 20,000 damaged requests, per component where it can", async () => {
    const rnd = seededRandom(fuzzSeed());
    const store = new MemoryCdrStore();
    const ch = new Clearinghouse({ routes: [{ prefix: "", destinations: [{ address: "[192.0.2.20]:5060" }] }], store });
    let ospAnswers = 0;
    let httpRefusals = 0;
    let refusedComponents = 0;
    let answeredComponents = 0;
    for (let i = 0; i < 20_000; i++) {
      const input = damage(corpus[Math.floor(rnd() * corpus.length)]!, rnd);
      const reply = await ch.handle(input, 1_800_000_000_000 + i, `192.0.2.${i % 7}`);
      if (reply.httpStatus === 400) {
        httpRefusals++;
        expect(reply.message).toBeUndefined();
        continue;
      }
      expect(reply.httpStatus).toBe(200);
      ospAnswers++;
      const answer = decodeOspMessage(reply.bytes);
      expect(answer.components.length).toBeGreaterThan(0);
      for (const c of answer.components) {
        answeredComponents++;
        if ("status" in c && c.status.code === 400) refusedComponents++;
      }
    }
    console.log(`damaged requests: ${ospAnswers} answered in OSP (${answeredComponents} components, ${refusedComponents} refused with 400), ${httpRefusals} with HTTP 400, ${await store.count()} CDRs`);
    expect(ospAnswers).toBeGreaterThan(1_000);
    expect(refusedComponents).toBeGreaterThan(100);
    expect(httpRefusals).toBeGreaterThan(1_000);
  });
});
