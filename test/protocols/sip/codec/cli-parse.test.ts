// `callgate parse FILE [--stream]`: prints the start line, each header with its typed decoding, the body
// size; parse errors give code/offset/header and exit code 1.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { run } from "../../../../lib/cli/commands/parse.js";
import { rfc4475 } from "./corpus.js";

let out: string[];
let err: string[];
let dir: string;

beforeEach(() => {
  out = [];
  err = [];
  vi.spyOn(console, "log").mockImplementation((...a: unknown[]) => void out.push(a.join(" ")));
  vi.spyOn(console, "error").mockImplementation((...a: unknown[]) => void err.push(a.join(" ")));
  dir = mkdtempSync(join(tmpdir(), "callgate-parse-"));
});

afterEach(() => {
  vi.restoreAllMocks();
  rmSync(dir, { recursive: true, force: true });
});

function file(name: string, content: Buffer | string): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

describe("callgate parse", () => {
  it("pretty-prints the example INVITE with typed decodings", async () => {
    expect(await run(["examples/messages/invite.sip"])).toBe(0);
    const text = out.join("\n");
    expect(text).toMatch(/^INVITE sip:bob@example\.com SIP\/2\.0\n/);
    expect(text).toContain("= method=INVITE request-uri=<sip user=\"bob\" host=example.com>");
    expect(text).toContain("= SIP/2.0 transport=UDP host=192.0.2.10 port=5060 branch=z9hG4bK776asdhds rport=(request)");
    expect(text).toContain('= display="Alice" uri=<sip user="alice" host=example.com> tag=1928301774');
    expect(text).toContain("= seq=314159 method=INVITE");
    expect(text).toContain("= hops=70");
    expect(text).toContain("= [INVITE, ACK, CANCEL, BYE, OPTIONS]");
    expect(text).toMatch(/body: 134 bytes \(application\/sdp\)$/);
    expect(err).toEqual([]);
  });

  it("reports a parse error with code, offset and header, exit 1", async () => {
    expect(await run([file("ncl.sip", rfc4475("ncl"))])).toBe(1);
    expect(err.join("\n")).toMatch(/parse error code=bad-content-length offset=\d+ header=Content-Length/);
    expect(out).toEqual([]);
  });

  it("marks headers whose typed decoding fails and exits 1", async () => {
    expect(await run([file("badaspec.sip", rfc4475("badaspec"))])).toBe(1);
    expect(out.join("\n")).toMatch(/To: "Watson, Thomas" < sip:t\.watson@example\.org >\n {4}! bad-header-value at To offset \d+/);
  });

  it("--stream frames several messages and requires Content-Length", async () => {
    const one = rfc4475("noreason");
    expect(await run(["--stream", file("two.sip", Buffer.concat([one, Buffer.from("\r\n\r\n"), one]))])).toBe(0);
    expect(out.filter((l) => l.startsWith("--- message"))).toEqual(["--- message 1 of 2", "--- message 2 of 2"]);
    expect(await run(["--stream", file("inv2543.sip", rfc4475("inv2543"))])).toBe(1);
    expect(err.join("\n")).toContain("code=missing-content-length");
  });

  it("--stream reports an incomplete trailing message", async () => {
    const one = rfc4475("noreason");
    expect(await run(["--stream", file("cut.sip", one.subarray(0, one.length - 5))])).toBe(1);
    expect(err.join("\n")).toContain("incomplete message");
  });

  it("usage errors exit 2", async () => {
    expect(await run([])).toBe(2);
    expect(await run([join(dir, "missing.sip")])).toBe(2);
  });
});
