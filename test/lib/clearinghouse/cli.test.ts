import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { run } from "../../../lib/cli/commands/clearinghouse.js";
import { OspClient, authorisationRequest, decodeOspMessage, encodeOspMessage, usageIndication } from "../../../protocols/osp/index.js";
import { SqliteCdrStore } from "../../../lib/adapters/cdr-store-sqlite.js";
import { Clearinghouse } from "../../../lib/roles/clearinghouse.js";

const dir = mkdtempSync(join(tmpdir(), "callgate-ch-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const entry = join(process.cwd(), "test/lib/clearinghouse/cli-entry.ts");

/** Runs the command in this process (for commands that finish), capturing what it writes. */
async function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const out = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    stdout += chunk.toString();
    return true;
  });
  const err = vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
    stderr += chunk.toString();
    return true;
  });
  try {
    const code = await run(args);
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

describe("callgate clearinghouse", () => {
  it("serves OSP from a routes file, then exports the CDRs as CSV and JSON", async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const db = join(dir, "cdr.sqlite");
    const url = `http://127.0.0.1:${port}/osp`;
    const server = spawn(process.execPath, ["--import", "tsx", entry, "--listen", url, "--routes", "examples/deploy/osp-routes.yaml", "--db", db], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let banner = "";
    await new Promise<void>((resolve, reject) => {
      server.stdout.on("data", (d: Buffer) => {
        banner += d.toString();
        if (banner.includes("listening")) resolve();
      });
      server.on("exit", (code) => reject(new Error(`exited ${code}`)));
    });
    expect(banner).toContain(`listening on ${url}`);
    const client = new OspClient({ url });
    const now = Date.UTC(2026, 0, 15, 12, 0, 0);
    const rsp = await client.authorise(authorisationRequest({ messageId: "c1", nowMs: now, callId: Buffer.from("cli-call"), callingNumber: "14085550000", calledNumber: "441632960002" }));
    expect(rsp.status.code).toBe(200);
    expect(rsp.destinations[0]?.destinationSignalAddress).toBe("[192.0.2.30]:5060");
    expect(rsp.destinations[0]?.destinationInfo[0]?.value).toBe("441632960002");
    expect(rsp.destinations[0]?.usageDetail?.amount).toBe(600);
    await client.reportUsage(usageIndication({ messageId: "c2", nowMs: now, transactionId: rsp.transactionId!, callId: Buffer.from("cli-call"), role: "source", callingNumber: "14085550000", calledNumber: "441632960002", durationSeconds: 61 }));
    await client.drainUsage();
    await client.close();
    const exited = new Promise((r) => server.on("exit", r));
    server.kill("SIGTERM");
    expect(await exited).toBe(0);

    const csv = await runCli(["cdrs", "--db", db, "--format", "csv"]);
    expect(csv.code).toBe(0);
    const lines = csv.stdout.trim().split("\r\n");
    expect(lines[0]).toMatch(/^messageId,componentId,receivedAt,role,transactionId/);
    expect(lines.length).toBe(2);
    expect(lines[1]).toContain(`c2,c2,`);
    const json = await runCli(["cdrs", "--db", db, "--format", "json"]);
    const records = JSON.parse(json.stdout) as { messageId: string; duration: number; transactionId: string }[];
    expect(records.map((r) => [r.messageId, r.duration, r.transactionId])).toEqual([["c2", 61, rsp.transactionId]]);
  });

  it("cdrs --transaction N returns one call after clearinghouse restarts on the same file", async () => {
    const db = join(dir, "restarts.sqlite");
    const now = Date.UTC(2026, 0, 15, 12, 0, 0);
    const issued: string[] = [];
    for (let life = 0; life < 3; life++) {
      const store = new SqliteCdrStore(db);
      const ch = new Clearinghouse({ routes: [{ prefix: "", destinations: [{ address: "[192.0.2.20]:5060" }] }], store });
      for (let i = 0; i < 3; i++) {
        const call = Buffer.from(`life${life}-call${i}`);
        // Every life numbers its messages from 1, as a restarted policy server once did.
        const auth = await ch.handle(encodeOspMessage(authorisationRequest({ messageId: `pol1-${i}`, nowMs: now, callId: call, callingNumber: "1", calledNumber: "2" })), now, "POL1");
        const rsp = decodeOspMessage(auth.bytes).components[0]!;
        if (rsp.kind !== "AuthorisationResponse") throw new Error(rsp.kind);
        issued.push(rsp.transactionId!);
        for (const [peer, role] of [["POL1", "source"], ["POL2", "destination"]] as const) {
          const ui = usageIndication({ messageId: `${peer}-${i}`, nowMs: now, transactionId: rsp.transactionId!, callId: call, role, callingNumber: "1", calledNumber: "2", durationSeconds: 5 });
          await ch.handle(encodeOspMessage(ui), now, peer);
        }
      }
      await store.close();
    }
    expect(new Set(issued).size).toBe(9);
    for (const tid of issued) {
      const out = await runCli(["cdrs", "--db", db, "--format", "json", "--transaction", tid]);
      const records = JSON.parse(out.stdout) as { role: string; callId: string }[];
      expect(records.map((r) => r.role).sort()).toEqual(["destination", "source"]);
      expect(new Set(records.map((r) => r.callId)).size).toBe(1);
    }
  });

  it("explains a missing --routes", async () => {
    const out = await runCli(["--listen", "http://127.0.0.1:0/osp"]);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain("--routes FILE is required");
  });
});
