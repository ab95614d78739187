// Fuzz (1/2): 50,000 mutated corpus messages (RFC 4475, the example INVITE, generated messages). With
// fuzz-random.test.ts: over 100,000 inputs per run. Only SipParseError may escape.
import { describe, expect, it } from "vitest";
import { corpus, mutate, rng, run } from "./fuzz-helpers.js";

describe("fuzz: only SipParseError escapes", () => {
  const seeds = corpus();

  it("50,000 mutated corpus messages", () => {
    const next = rng(0x5eed4475);
    function* inputs(): Generator<Buffer> {
      for (let i = 0; i < 50_000; i++) yield mutate(seeds[next() % seeds.length]!, seeds[next() % seeds.length]!, next);
    }
    const r = run(inputs());
    expect(r.count).toBe(50_000);
    expect(r.escapes.slice(0, 5)).toEqual([]);
    // the mutations must leave many messages parseable, or the accessors would go unexercised
    expect(r.parsed).toBeGreaterThan(7_000);
  });
});
