// The runnable examples in examples/ and the policy example of docs/embedding.md: each type-checks (strict,
// nodenext) and prints what it promises.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { ClientType, ErrorCode, buildSipAaaRequest, parseSipAaaDecision } from "../../protocols/cops/index.js";
import { RawPep } from "../support/raw-cops-pep.js";

const TSX = join(process.cwd(), "node_modules", "tsx", "dist", "cli.mjs");

/** Runs node with `args` without blocking this worker's event loop (its RPC to vitest must go on), killed after `timeoutMs`. */
function runNode(args: string[], timeoutMs: number): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

async function runExample(name: string): Promise<string> {
  const res = await runNode([TSX, join("examples", name)], 60_000);
  expect(res.status, `${name}: ${res.stderr}`).toBe(0);
  return res.stdout;
}

describe("examples/", () => {
  it("type-check with the project's compiler settings", async () => {
    const res = await runNode([join("node_modules", "typescript", "bin", "tsc"), "-p", join("examples", "tsconfig.json")], 240_000);
    expect(res.status, res.stdout + res.stderr).toBe(0);
  }, 240_000);

  it("custom-policy.ts: the premium-rate caller is refused by POL1 with 403, the two others connected and billed per side", async () => {
    expect((await runExample("custom-policy.ts")).split("\n")).toEqual([
      "POL1 refused call-2@callgate.example.com: calling number +19005550100 is blocked",
      "sip:alice@example.com: connected",
      "sip:+19005550100@example.com: refused 403",
      "sip:carol@example.com: connected",
      "CDRs: 4",
      "",
    ]);
  });

  it("async-policy.ts: the remote authoriser is asked once per call, refuses mallory, alice's call is connected and billed", async () => {
    expect((await runExample("async-policy.ts")).split("\n")).toEqual([
      "sip:alice@example.com: connected",
      "sip:mallory@example.com: refused 403",
      "authoriser asked 2 times, CDRs: 2",
      "",
    ]);
  });
});

describe("examples/ with peers on the network", () => {
  it("codec-round-trips.ts: each codec gives back what it encoded and refuses a damaged copy with its typed error and offset", async () => {
    expect((await runExample("codec-round-trips.ts")).split("\n")).toEqual([
      "SIP: 292 octets, same bytes again true; SipParseError missing-header at offset 56",
      "COPS: REQ client type 0x8cb1 (SIP AAA), 116 octets, equal true; CopsDecodeError bad-length at offset 4",
      "OSP: UsageConfirmation, 178 octets, equal true; OspDecodeError not-xml at offset 24",
      "RADIUS: code 4 User-Name alice, 54 octets, same bytes again true; RadiusDecodeError bad-attribute-length at offset 21",
      "PPPoE: PADI from 02:00:00:00:00:01, 60 octets, equal true; PppoeDecodeError bad-length at offset 18",
      "",
    ]);
  });

  it("policy-server.ts: a PEP written with protocols/cops gets yes for alice and 403 for mallory; a stray connection is dropped; SIGTERM stops it", async () => {
    // One process (tsx as a loader): the signals reach the server itself.
    const child = spawn(process.execPath, ["--import", "tsx", join("examples", "policy-server.ts")], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    try {
      for (let i = 0; i < 600 && !/listening on cops/.test(stdout); i++) await new Promise((r) => setTimeout(r, 50));
      const port = Number(/cops 127\.0\.0\.1:(\d+)/.exec(stdout)?.[1]);
      expect(port, stdout).toBeGreaterThan(0);
      const pep = new RawPep(port);
      pep.send({ op: "OPN", clientType: ClientType.SipAaa, pepId: "softswitch.example.net" });
      expect((await pep.next()).op).toBe("CAT");
      const info = (n: number, caller: string) => ({ callId: `example-${n}@example.net`, caller, callee: "sip:bob@example.net", flows: [] });
      pep.send(buildSipAaaRequest("AAA", Buffer.from([0, 0, 0, 1]), info(1, "sip:alice@example.com")));
      expect(parseSipAaaDecision(await pep.next())).toMatchObject({ purpose: "AAA", allowed: true });
      pep.send(buildSipAaaRequest("AAA", Buffer.from([0, 0, 0, 2]), info(2, "sip:mallory@example.com")));
      expect(parseSipAaaDecision(await pep.next())).toMatchObject({ purpose: "AAA", allowed: false, info: { reason: { code: 403 } } });
      pep.end();
      const stray = new RawPep(port);
      stray.write(Buffer.from("GET / HTTP/1.1\r\n\r\n"));
      expect(await stray.refusedWith()).toBe(ErrorCode.BadMessageFormat);
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
      expect(stdout.replace(/:\d+/g, ":PORT").split("\n")).toEqual([
        "policy server listening on cops 127.0.0.1:PORT",
        "AAA example-1@example.net: yes",
        "AAA example-2@example.net: no (account of sip:mallory@example.com is closed)",
        "dropped COPS cops-bad-version from ?→PDP: COPS bad-version at offset 0: stream does not carry COPS version 1",
        "policy server stopped",
        "",
      ]);
    } finally {
      child.kill("SIGKILL");
    }
  }, 60_000);

  it("sip-proxy-softswitch.ts: SIPp's callers through the proxy to SIPp as the softswitch: both calls succeed, each asked AAA, LDP and noLDP of the policy server, the router's classifiers installed and removed", async () => {
    expect((await runExample("sip-proxy-softswitch.ts")).split("\n")).toEqual([
      "SIPp uac: exit 0 (all 2 calls successful), SIPp uas (softswitch): exit 0",
      "POL1 decided AAA yes 2, LDP yes 2, noLDP yes 2, refused 0",
      "R1 installs 4, removals 4, classifiers left 0",
      "SIP1 holds 0 calls, POL1 0 call request states",
      "",
    ]);
  }, 60_000);
});

const DOC_PROGRAMS = ["## Your own policy", "### A policy server for the PEPs of your network", "### A call through a proxy, a policy server and a clearinghouse"];

/** `program` importing the library's sources (`entry` of "lib/index" or "protocols/X/index") for "callgate" and "callgate/X". */
function importingSources(program: string, from: (entry: string) => string): string {
  return program.replace(/from "callgate(?:\/([a-z]+))?"/g, (_m, sub: string | undefined) => `from ${JSON.stringify(from(sub === undefined ? "lib/index" : `protocols/${sub}/index`))}`);
}

/** The ts program and the text output of the first blocks after `heading` in docs/embedding.md. */
function docBlocks(heading: string): { program: string; output: string } {
  const doc = readFileSync("docs/embedding.md", "utf8");
  const at = doc.indexOf(heading);
  expect(at, heading).toBeGreaterThanOrEqual(0);
  const section = doc.slice(at);
  const program = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  const output = /```text\n([\s\S]*?)```/.exec(section)?.[1];
  expect(program, "a ts block").toBeDefined();
  expect(output, "a text block").toBeDefined();
  return { program: program ?? "", output: output ?? "" };
}

describe("docs/embedding.md", () => {
  it("its programs type-check as strict nodenext programs against the library", async () => {
    const dir = mkdtempSync(join(tmpdir(), "callgate-doc-"));
    try {
      const files = DOC_PROGRAMS.map((heading, i) => {
        const file = join(dir, `program-${i}.mts`);
        writeFileSync(file, importingSources(docBlocks(heading).program, (entry) => join(process.cwd(), `${entry}.js`)));
        return file;
      });
      const tsc = await runNode(
        [join("node_modules", "typescript", "bin", "tsc"), "--noEmit", "--strict", "--module", "nodenext", "--moduleResolution", "nodenext", "--target", "es2022", "--skipLibCheck", "--types", "node", "--typeRoots", join(process.cwd(), "node_modules", "@types"), ...files],
        120_000,
      );
      expect(tsc.status, tsc.stdout + tsc.stderr).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);

  it.each(DOC_PROGRAMS)(
    "%s: its program runs against the library and prints the output the guide shows",
    async (heading) => {
      const { program, output } = docBlocks(heading);
      const dir = mkdtempSync(join(tmpdir(), "callgate-doc-"));
      try {
        const file = join(dir, "program.mts");
        writeFileSync(file, importingSources(program, (entry) => pathToFileURL(join(process.cwd(), `${entry}.ts`)).href));
        const res = await runNode([TSX, file], 60_000);
        expect(res.status, res.stderr).toBe(0);
        expect(res.stdout).toBe(output);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    90_000,
  );
});
