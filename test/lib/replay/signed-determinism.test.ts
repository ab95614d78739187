// Same seed, same bytes, signed tokens included: the flow's Ed25519 PKI derives from the run seed and
// Ed25519 signatures are deterministic (RFC 8032 §5.1.6), so in-memory runs with the default topology
// (clearinghouse on, signed tokens validated) repeat byte for byte.
import { describe, expect, it } from "vitest";
import type { MessageRecord } from "../../../lib/drivers/message-record.js";
import { runCalls, type RunOptions } from "../../../lib/flow/run-calls.js";
import { decodeOspMessage } from "../../../protocols/osp/index.js";

const calls: RunOptions["calls"] = [
  { caller: "sip:alice@example.com", callee: "sip:bob@example.net", startMs: 0, answerDelayMs: 200, durationMs: 20_000, hangUp: "caller" },
  { caller: "sip:carol@example.com", callee: "sip:dave@example.net", startMs: 50, answerDelayMs: 900, durationMs: 12_000, hangUp: "callee" },
  { caller: "sip:erin@example.com", callee: "sip:frank@example.net", startMs: 80, answerDelayMs: 300, durationMs: 0, hangUp: "caller", outcome: "busy" },
];

const tokens = (records: MessageRecord[]): string[] =>
  records
    .filter((r) => r.proto === "OSP" && r.msg === "AuthorisationResponse")
    .flatMap((r) => decodeOspMessage(r.bytes).components.flatMap((c) => ("destinations" in c ? c.destinations.flatMap((d) => d.tokens.map((t) => t.toString("hex"))) : [])));

describe("in-memory runs with signed tokens are byte-identical for a seed", () => {
  for (const clearinghouse of ["osp-http", "in-process"] as const) {
    it(`clearinghouse ${clearinghouse}, signed tokens (the default)`, async () => {
      const run = async (seed: number) => {
        const result = await runCalls({ driver: "memory", seed, topology: { clearinghouse }, calls });
        // POL2 accepted the tokens: both answered calls came up.
        expect(result.calls.filter((c) => c.established)).toHaveLength(2);
        return result.records;
      };
      const a = await run(9);
      const b = await run(9);
      expect(a.length).toBeGreaterThan(100);
      expect(b.map((r) => ({ ...r, bytes: r.bytes.toString("base64") }))).toEqual(a.map((r) => ({ ...r, bytes: r.bytes.toString("base64") })));
      // Every call was authorised on both sides with a signed token: CMS SignedData naming id-Ed25519.
      const signed = tokens(a);
      expect(signed.length).toBe(2 * calls.length);
      expect(signed.every((t) => t.startsWith("30") && t.includes("300506032b6570"))).toBe(true);
      // Another seed: another PKI, so other signatures over otherwise similar tokens.
      const c = tokens(await run(10));
      expect(c.length).toBe(signed.length);
      expect(c.some((t, i) => t === signed[i])).toBe(false);
    });
  }
});
