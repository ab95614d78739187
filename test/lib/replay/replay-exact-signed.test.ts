// `callgate replay --trace FILE --exact` with signed tokens: the default scenario (fig5-fig6, Ed25519 tokens
// from the seeded flow PKI) is recorded and replayed byte for byte, in this process and in a fresh one (whose
// PKI is derived anew from the trace's seed, not taken from a cache).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { decodeTrace, encodeTrace } from "../../../lib/replay/trace.js";
import { decodeOspMessage } from "../../../protocols/osp/index.js";
import { replayInProcess } from "../../support/replay-in-process.js";

const dir = mkdtempSync(join(tmpdir(), "callgate-exact-"));
const scenario = join(process.cwd(), "scenarios", "fig5-fig6.yaml");
const ED25519_ALGORITHM = Buffer.from("300506032b6570", "hex"); // id-Ed25519, RFC 8419 §3.1

const replay = (args: string[]) => replayInProcess(args, { version: "0.0.0-test" });

/** The tokens of every AuthorisationResponse in a trace, with the index of their record. */
function tokensIn(path: string): { index: number; token: Buffer }[] {
  return decodeTrace(readFileSync(path)).records.flatMap((r, index) => {
    if (r.proto !== "OSP" || r.msg !== "AuthorisationResponse") return [];
    return decodeOspMessage(r.bytes).components.flatMap((c) => ("destinations" in c ? c.destinations.flatMap((d) => d.tokens.map((token) => ({ index, token }))) : []));
  });
}

describe("callgate replay --trace --exact with signed tokens", () => {
  const trace = join(dir, "fig5-fig6.trace");

  it("records fig5-fig6 (signed Ed25519 tokens) and replays it byte for byte", async () => {
    const recorded = await replay([scenario, "--record", trace]);
    expect(recorded.stderr).toBe("");
    expect(recorded.code).toBe(0);
    const tokens = tokensIn(trace);
    expect(tokens.length).toBe(2); // one per AuthorisationResponse: POL1's and POL2's
    for (const { token } of tokens) expect(token.includes(ED25519_ALGORITHM)).toBe(true);

    const again = await replay(["--trace", trace, "--exact"]);
    expect(again.stderr).toBe("");
    expect(again.stdout).toMatch(/trace: the replay matches all \d+ recorded messages of 1 call\(s\)/);
    expect(again.code).toBe(0);
  });

  it("holds in a fresh process too: the PKI is derived from the trace's seed", () => {
    const res = spawnSync(process.execPath, ["--import", "tsx", join(process.cwd(), "lib/cli/main.ts"), "replay", "--trace", trace, "--exact"], { encoding: "utf8", timeout: 120_000 });
    expect(res.stderr).toBe("");
    expect(res.stdout).toMatch(/trace: the replay matches all \d+ recorded messages/);
    expect(res.status).toBe(0);
  });

  it("reports a token whose bytes differ from the recorded one", async () => {
    const decoded = decodeTrace(readFileSync(trace));
    const [{ index }] = tokensIn(trace) as [{ index: number; token: Buffer }];
    const record = decoded.records[index]!;
    // Change one base64 character of the token (inside <Token encoding="base64">…</Token>).
    const at = record.bytes.indexOf("<Token") + record.bytes.subarray(record.bytes.indexOf("<Token")).indexOf(">") + 20;
    const bytes = Buffer.from(record.bytes);
    bytes[at] = bytes[at] === 0x41 ? 0x42 : 0x41;
    decoded.records[index] = { ...record, bytes };
    const tampered = join(dir, "tampered.trace");
    writeFileSync(tampered, encodeTrace(decoded));
    const r = await replay(["--trace", tampered, "--exact"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("different bytes");
    // Without --exact the same trace matches: labels, order and times are unchanged.
    expect((await replay(["--trace", tampered])).code).toBe(0);
  });
});
