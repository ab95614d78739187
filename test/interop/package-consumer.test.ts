// The published package as a user gets it: `npm pack` of a copy of this tree (prepack cleans dist/, prepare
// builds it), the tarball installed into an empty project without better-sqlite3 (an optional peer), and a
// strict `module: nodenext` TypeScript program compiled against the package's .d.ts files and run with node.
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, posix } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SQLITE_MISSING_MESSAGE } from "../../lib/adapters/cdr-store-sqlite.js";
import { runCalls, type CallSpec } from "../../lib/flow/run-calls.js";

const checkout = process.cwd();
const work = mkdtempSync(join(tmpdir(), "callgate-package-"));
const source = join(work, "source");
const unpacked = join(work, "unpacked");
const consumer = join(work, "consumer");
const tsc = join(checkout, "node_modules/typescript/bin/tsc");

interface PackReport {
  filename: string;
  files: Array<{ path: string }>;
}
let pack: PackReport;
let tarball: string;

const call: CallSpec = { caller: "sip:alice@example.com", callee: "sip:bob@example.com", startMs: 100, answerDelayMs: 2000, durationMs: 60_000, hangUp: "caller" };

const consumerProgram = `import { parseSipMessage, serializeSipMessage, isRequest } from "callgate/sip";
import { ClientType, decodeCopsMessage, encodeCopsMessage, type CopsMessage } from "callgate/cops";
import { decodeOspMessage, encodeOspMessage, type OspMessage } from "callgate/osp";
import { MemoryCdrStore, runCalls, VERSION, type CallDetailRecord, type CallSpec } from "callgate";

const invite = Buffer.from(
  "INVITE sip:bob@example.com SIP/2.0\\r\\n" +
    "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds\\r\\n" +
    "Max-Forwards: 70\\r\\nTo: <sip:bob@example.com>\\r\\nFrom: <sip:alice@example.com>;tag=1928301774\\r\\n" +
    "Call-ID: a84b4c76e66710\\r\\nCSeq: 314159 INVITE\\r\\nContact: <sip:alice@192.0.2.1>\\r\\nContent-Length: 0\\r\\n\\r\\n",
);
const sip = parseSipMessage(invite);
const sipAgain = parseSipMessage(serializeSipMessage(sip));
console.log(JSON.stringify({ sip: isRequest(sipAgain) ? sipAgain.method : "response", callId: sipAgain.getHeader("Call-ID") }));

const drq: CopsMessage = { op: "DRQ", clientType: ClientType.SipAaa, handle: Buffer.from([0, 0, 0, 7]), reason: { code: 2, subCode: 0 } };
const copsAgain = decodeCopsMessage(encodeCopsMessage(drq));
console.log(JSON.stringify({ cops: copsAgain.op, clientType: copsAgain.clientType, handle: copsAgain.op === "DRQ" ? copsAgain.handle.toString("hex") : "" }));

const confirmation: OspMessage = {
  messageId: "m1",
  components: [{ kind: "UsageConfirmation", componentId: "c1", status: { code: 200, description: "success" } }],
};
const ospAgain = decodeOspMessage(encodeOspMessage(confirmation));
const first = ospAgain.components[0];
console.log(JSON.stringify({ osp: first?.kind, status: first?.kind === "UsageConfirmation" ? first.status.code : 0 }));

const call: CallSpec = ${JSON.stringify(call)};
const result = await runCalls({ driver: "memory", calls: [call] });
const outcome = result.calls[0];
console.log(JSON.stringify({
  version: VERSION,
  established: outcome?.established,
  finalStatus: outcome?.finalStatusAtCaller,
  records: result.records.length,
  cdrs: result.cdrs.map((c) => [c.role, c.durationS]).sort(),
}));

// A CDR store keeps one record per usage (cdrIdentity): the second report of the same usage is not inserted.
const store = new MemoryCdrStore();
const usage: CallDetailRecord = { messageId: "m1", componentId: "c1", receivedAt: 0, role: "source", transactionId: "7", callId: "YzE=", peer: "pol1" };
const inserted = [await store.insertOnce(usage), await store.insertOnce({ ...usage, messageId: "m2" })];
console.log(JSON.stringify({ inserted, stored: await store.count() }));
`;

const sqliteProgram = `import { SqliteCdrStore } from "callgate";
try {
  const store = new SqliteCdrStore("cdrs.sqlite");
  await store.close();
  console.log(JSON.stringify({ opened: true }));
} catch (err) {
  console.log(JSON.stringify({ opened: false, message: (err as Error).message }));
}
`;

/** The program under `heading` in docs/embedding.md and the output it documents. */
function embeddingExample(heading = "## Example"): { program: string; output: string } {
  const doc = readFileSync(join(checkout, "docs/embedding.md"), "utf8");
  const at = doc.indexOf(heading);
  const example = doc.slice(at);
  const program = /```ts\n([\s\S]*?)```/.exec(example)?.[1];
  const output = /```text\n([\s\S]*?)```/.exec(example)?.[1];
  if (at < 0 || program === undefined || output === undefined) throw new Error(`docs/embedding.md: no ts program and text output under ${heading}`);
  return { program, output };
}

/** Programs of the guide the consumer compiles and runs: a custom policy refusing a caller, a policy server on loopback taking a PEP. */
const GUIDE_PROGRAMS = { policy: "## Your own policy", pdp: "### A policy server for the PEPs of your network" } as const;

/** Runs `command` without blocking this worker's event loop (its RPC to vitest must go on): status and output. */
function spawned(command: string, args: string[], cwd: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", (err) => resolve({ status: -1, stdout, stderr: String(err) }));
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

async function run(command: string, args: string[], cwd: string): Promise<string> {
  const r = await spawned(command, args, cwd);
  if (r.status !== 0) throw new Error(`${command} ${args.join(" ")} exited ${String(r.status)}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

function jsonLines(stdout: string): Array<Record<string, unknown>> {
  return stdout
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

beforeAll(async () => {
  // A copy, so that packing (which empties and rebuilds dist/) leaves the checkout's dist/ alone.
  mkdirSync(source);
  for (const entry of ["package.json", "tsconfig.json", "LICENSE", "README.md", "lib", "protocols", "scenarios", "docs", "scripts"]) {
    cpSync(join(checkout, entry), join(source, entry), { recursive: true });
  }
  symlinkSync(join(checkout, "node_modules"), join(source, "node_modules"), "dir");
  pack = (JSON.parse(await run("npm", ["pack", "--json", "--pack-destination", work], source)) as PackReport[])[0]!;
  tarball = join(work, pack.filename);
  mkdirSync(unpacked);
  await run("tar", ["-xzf", tarball, "-C", unpacked], work);

  mkdirSync(consumer);
  writeFileSync(join(consumer, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
  await run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", tarball, "@types/node@20"], consumer);
  writeFileSync(
    join(consumer, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: { target: "ES2022", module: "nodenext", moduleResolution: "nodenext", strict: true, skipLibCheck: false, types: ["node"], outDir: "out" },
      include: ["*.ts"],
    }),
  );
  writeFileSync(join(consumer, "main.ts"), consumerProgram);
  writeFileSync(join(consumer, "sqlite.ts"), sqliteProgram);
  writeFileSync(join(consumer, "embedding.ts"), embeddingExample().program);
  for (const [name, heading] of Object.entries(GUIDE_PROGRAMS)) writeFileSync(join(consumer, `${name}.ts`), embeddingExample(heading).program);
  await run(process.execPath, [tsc, "-p", "tsconfig.json"], consumer);
}, 300_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("the npm package", () => {
  it("holds the built library, its sources and a LICENSE, and every source map points into the tarball", () => {
    const files = new Set(pack.files.map((f) => f.path));
    for (const entry of ["LICENSE", "package.json", "dist/lib/index.js", "dist/lib/index.d.ts", "dist/protocols/sip/index.js", "dist/protocols/cops/index.js", "dist/protocols/osp/index.js", "dist/lib/cli/main.js", "dist/lib/replay/trace.proto"]) {
      expect(files, entry).toContain(entry);
    }
    const maps = [...files].filter((f) => f.endsWith(".map"));
    expect(maps.length).toBeGreaterThan(100);
    const unresolved: string[] = [];
    for (const map of maps) {
      const { sources } = JSON.parse(readFileSync(join(unpacked, "package", map), "utf8")) as { sources: string[] };
      for (const s of sources) {
        const target = posix.normalize(posix.join(posix.dirname(map), s));
        if (!files.has(target)) unresolved.push(`${map} → ${target}`);
      }
    }
    expect(unresolved).toEqual([]);
    // Nothing of the tests or of this tree's tooling.
    expect([...files].filter((f) => /^(test|bench|node_modules|\.ci)\//.test(f) || f.includes(".test."))).toEqual([]);
  });

  it("declares better-sqlite3 an optional peer, not a dependency", () => {
    const manifest = JSON.parse(readFileSync(join(unpacked, "package/package.json"), "utf8")) as Record<string, Record<string, unknown>>;
    expect(Object.keys(manifest.dependencies ?? {})).not.toContain("better-sqlite3");
    expect(manifest.peerDependencies?.["better-sqlite3"]).toBeTypeOf("string");
    expect(manifest.peerDependenciesMeta?.["better-sqlite3"]).toEqual({ optional: true });
    expect(manifest.scripts?.prepare).toBe("npm run build");
  });

  it("installs into an empty project without better-sqlite3", () => {
    expect(existsSync(join(consumer, "node_modules/callgate/dist/lib/index.js"))).toBe(true);
    expect(existsSync(join(consumer, "node_modules/better-sqlite3"))).toBe(false);
  });

  it("a strict nodenext program compiled against it round-trips SIP, COPS and OSP, runs a call in memory and stores a CDR once", async () => {
    const [sip, cops, osp, flow, store] = jsonLines(await run(process.execPath, ["out/main.js"], consumer));
    expect(sip).toEqual({ sip: "INVITE", callId: "a84b4c76e66710" });
    expect(cops).toEqual({ cops: "DRQ", clientType: 0x8cb1, handle: "00000007" });
    expect(osp).toEqual({ osp: "UsageConfirmation", status: 200 });
    // The same call run from this checkout's sources: the packaged build behaves the same.
    const here = await runCalls({ driver: "memory", calls: [call] });
    expect(flow).toEqual({
      version: JSON.parse(readFileSync(join(checkout, "package.json"), "utf8")).version,
      established: true,
      finalStatus: 200,
      records: here.records.length,
      cdrs: here.cdrs.map((c) => [c.role, c.durationS]).sort(),
    });
    expect(store).toEqual({ inserted: [true, false], stored: 1 });
    expect(flow?.cdrs).toEqual([
      ["destination", 60],
      ["source", 60],
    ]);
  });

  it("the example of docs/embedding.md compiles, runs and prints what the guide shows", async () => {
    expect(await run(process.execPath, ["out/embedding.js"], consumer)).toBe(embeddingExample().output);
  });

  it("a custom policy adapter refuses a premium-rate caller with 403 in a call through the package (the guide's program)", async () => {
    expect(await run(process.execPath, ["out/policy.js"], consumer)).toBe(embeddingExample(GUIDE_PROGRAMS.policy).output);
  });

  it("startPolicyServer on loopback takes a PEP written with callgate/cops: DEC AAA yes and 403, LDP installed by a started edge router (the guide's program)", async () => {
    const output = await run(process.execPath, ["out/pdp.js"], consumer);
    expect(output).toBe(embeddingExample(GUIDE_PROGRAMS.pdp).output);
    expect(output).toContain("PEP sip:mallory@example.com: DEC AAA no 403");
  });

  it("the SQLite CDR store, used without better-sqlite3, says how to install it", async () => {
    const [outcome] = jsonLines(await run(process.execPath, ["out/sqlite.js"], consumer));
    expect(outcome).toEqual({ opened: false, message: SQLITE_MISSING_MESSAGE });
    expect(SQLITE_MISSING_MESSAGE).toContain("npm install better-sqlite3@12");
    expect(existsSync(join(consumer, "cdrs.sqlite"))).toBe(false);
  });

  it("its callgate command runs the demo without better-sqlite3, and a SQLite CDR file asks for it", async () => {
    const bin = join(consumer, "node_modules/.bin/callgate");
    const demo = await spawned(bin, ["demo"], consumer);
    expect(demo.status, demo.stderr).toBe(0);
    expect(demo.stdout).toContain("FIG. 6 teardown: all 18 steps in causal order");
    // A file that exists (a missing one is refused before SQLite is needed): opening it needs better-sqlite3.
    writeFileSync(join(consumer, "existing.sqlite"), "");
    const cdrs = await spawned(bin, ["clearinghouse", "cdrs", "--db", "existing.sqlite"], consumer);
    expect(cdrs.status).not.toBe(0);
    expect(cdrs.stderr).toContain(SQLITE_MISSING_MESSAGE);
  });
});
