// Kill test: 10,000 UsageIndications while the clearinghouse process is SIGKILLed and restarted three
// times; afterwards the store holds exactly 10,000 CDRs, none twice. And 600 authorisations across three
// SIGKILLs: no transaction id handed out twice, one call per transaction id in the store.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { OspClient, authorisationRequest, usageIndication } from "../../../protocols/osp/index.js";

const TOTAL = 10_000;
const KILL_AT = [2_000, 4_500, 7_000];
const dir = mkdtempSync(join(tmpdir(), "callgate-kill-"));
const children = new Set<ChildProcess>();

afterAll(() => {
  for (const c of children) c.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** Retransmissions the clearinghouse processes reported as already stored. */
const duplicates: string[] = [];

function startChild(dbPath: string, url: string): Promise<ChildProcess> {
  const entry = join(process.cwd(), "test/lib/clearinghouse/clearinghouse-child.ts");
  const child = spawn(process.execPath, ["--import", "tsx", entry, dbPath, url], { stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  child.on("exit", () => children.delete(child));
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("listening")) resolve(child);
      for (const m of d.toString().matchAll(/^duplicate (\S+)$/gm)) duplicates.push(m[1]!);
    });
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    child.on("exit", (code) => reject(new Error(`clearinghouse exited (${code}) before listening: ${err}`)));
  });
}

function kill(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGKILL");
  });
}

describe("clearinghouse kill test", () => {
  it("stores exactly 10,000 CDRs, none twice, across three SIGKILLs", { timeout: 150_000 }, async () => {
    const dbPath = join(dir, "cdr.sqlite");
    const url = `http://127.0.0.1:${await freePort()}/osp`;
    let child = await startChild(dbPath, url);
    let confirmed = 0;
    const client = new OspClient({
      url,
      outboxPath: join(dir, "outbox.journal"),
      usageConcurrency: 32,
      maxSockets: 32,
      retryDelayMs: 50,
      timeoutMs: 3_000,
      onUsageConfirmed: () => confirmed++,
    });
    const kills: number[] = [];
    const killer = (async () => {
      for (const threshold of KILL_AT) {
        while (confirmed < threshold) await new Promise((r) => setTimeout(r, 5));
        await kill(child);
        kills.push(confirmed);
        await new Promise((r) => setTimeout(r, 150)); // down for a while: usage spools
        child = await startChild(dbPath, url);
      }
    })();
    const T0 = Date.UTC(2026, 0, 15, 12, 0, 0);
    for (let batch = 0; batch < TOTAL / 500; batch++) {
      const spooled: Promise<void>[] = [];
      for (let i = batch * 500; i < (batch + 1) * 500; i++) {
        spooled.push(
          client.reportUsage(
            usageIndication({
              messageId: `ui-${i}`, nowMs: T0 + i, transactionId: String(1000 + i), callId: Buffer.from(`call-${i}@192.0.2.10`),
              role: "source", callingNumber: "14045266060", calledNumber: "14043342535", durationSeconds: i % 600,
            }),
          ),
        );
      }
      await Promise.all(spooled);
      await new Promise((r) => setTimeout(r, 10));
    }
    await killer;
    await client.drainUsage();
    await client.close();
    await kill(child);

    expect(kills.length).toBe(3);
    // The kills cost deliveries that had to be retried; retries of records already on disk were absorbed.
    expect(client.usageStats.failures).toBeGreaterThan(0);
    expect(client.usageStats.attempts).toBe(TOTAL + client.usageStats.failures);
    expect(client.usageStats.confirmed).toBe(TOTAL);
    console.log(`kill test: ${client.usageStats.failures} failed deliveries retried, ${duplicates.length} retransmissions recorded once`);
    for (const id of duplicates) expect(id).toMatch(/^ui-\d+$/);
    // Each kill came while usage was still outstanding.
    for (const at of kills) expect(at).toBeLessThan(TOTAL);
    expect(confirmed).toBe(TOTAL);
    const db = new Database(dbPath, { readonly: true });
    const row = db.prepare("SELECT COUNT(*) AS n, COUNT(DISTINCT message_id) AS ids, COUNT(DISTINCT call_id) AS calls FROM cdr").get() as { n: number; ids: number; calls: number };
    const expectedIds = db.prepare("SELECT COUNT(*) AS n FROM cdr WHERE CAST(substr(message_id, 4) AS INTEGER) BETWEEN 0 AND 9999").get() as { n: number };
    db.close();
    expect(row).toEqual({ n: TOTAL, ids: TOTAL, calls: TOTAL });
    expect(expectedIds.n).toBe(TOTAL);
  });

  it("hands out no transaction id twice across three SIGKILLs", { timeout: 150_000 }, async () => {
    const dbPath = join(dir, "cdr-authorise.sqlite");
    const url = `http://127.0.0.1:${await freePort()}/osp`;
    let child = await startChild(dbPath, url);
    const client = new OspClient({ url, outboxPath: join(dir, "outbox-authorise.journal"), maxSockets: 16, retryDelayMs: 50, timeoutMs: 3_000 });
    const CALLS = 600;
    let answered = 0;
    const killer = (async () => {
      for (const threshold of [150, 300, 450]) {
        while (answered < threshold) await new Promise((r) => setTimeout(r, 5));
        await kill(child);
        await new Promise((r) => setTimeout(r, 150));
        child = await startChild(dbPath, url);
      }
    })();
    const T0 = Date.UTC(2026, 0, 15, 12, 0, 0);
    const transactionIds: string[] = [];
    for (let batch = 0; batch < CALLS / 20; batch++) {
      await Promise.all(
        Array.from({ length: 20 }, async (_, k) => {
          const i = batch * 20 + k;
          const callId = Buffer.from(`auth-${i}@192.0.2.10`);
          const request = authorisationRequest({ messageId: `pol1-${i}`, nowMs: T0 + i, callId, callingNumber: "14045266060", calledNumber: "14043342535" });
          for (;;) {
            try {
              const rsp = await client.authorise(request);
              transactionIds[i] = rsp.transactionId!;
              break;
            } catch {
              await new Promise((r) => setTimeout(r, 20)); // the clearinghouse is down: ask again
            }
          }
          answered++;
          await client.reportUsage(
            usageIndication({ messageId: `pol1-u${i}`, nowMs: T0 + i, transactionId: transactionIds[i]!, callId, role: "source", callingNumber: "14045266060", calledNumber: "14043342535", durationSeconds: 5 }),
          );
        }),
      );
    }
    await killer;
    await client.drainUsage();
    await client.close();
    await kill(child);
    expect(new Set(transactionIds).size).toBe(CALLS);
    const db = new Database(dbPath, { readonly: true });
    const row = db.prepare("SELECT COUNT(*) AS n, COUNT(DISTINCT transaction_id) AS tids, COUNT(DISTINCT call_id) AS calls FROM cdr").get();
    const blocks = db.prepare("SELECT COUNT(DISTINCT (CAST(transaction_id AS INTEGER) - 1) / 1000) AS n FROM cdr").get() as { n: number };
    db.close();
    expect(row).toEqual({ n: CALLS, tids: CALLS, calls: CALLS });
    // Each life took its own block of ids (1000 by default): four lives, four blocks.
    expect(blocks.n).toBe(4);
  });
});
