// A policy server's quota counters when its process is SIGKILLed in the middle of admitting calls: every call
// it admitted (its decision given) is on disk, the counters equal the call events kept, and the calls asked
// again after the restart count nothing twice.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { QuotaPolicyAdapter } from "../../../lib/quota/quota-policy.js";
import { parseQuotaConfig } from "../../../lib/quota/rules.js";
import { SqliteQuotaStore } from "../../../lib/quota/store-sqlite.js";

const dir = mkdtempSync(join(tmpdir(), "quota-kill-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const RULES = { timeZone: "UTC", rules: [{ name: "calls", subject: "realm", period: "day", limits: { attempts: 100_000 } }] };
const NOW = Date.parse("2026-06-10T08:00:00Z");

describe("quota counters and a SIGKILLed policy server", () => {
  it("every admitted call is on disk after the kill, and asking again after the restart adds nothing", async () => {
    const db = join(dir, "quota.db");
    const script = join(dir, "admit.mts");
    writeFileSync(script, `
import { QuotaPolicyAdapter } from ${JSON.stringify(join(process.cwd(), "lib/quota/quota-policy.ts"))};
import { parseQuotaConfig } from ${JSON.stringify(join(process.cwd(), "lib/quota/rules.ts"))};
import { SqliteQuotaStore } from ${JSON.stringify(join(process.cwd(), "lib/quota/store-sqlite.ts"))};
const policy = new QuotaPolicyAdapter({ config: parseQuotaConfig(${JSON.stringify(RULES)}), store: new SqliteQuotaStore(${JSON.stringify(db)}), clock: () => ${NOW} });
for (let i = 0; ; i++) {
  const v = await policy.decideAaa({ callId: "c" + i, side: "originating", caller: "sip:a@example.com", callee: "sip:b@example.net", flows: [], now: 0 });
  process.stdout.write((v.allow ? "admitted " : "refused ") + i + "\\n");
}
`);
    const child = spawn(process.execPath, ["--import", "tsx", script], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const until = Date.now() + 60_000;
    while ((out.match(/admitted/g) ?? []).length < 200) {
      if (Date.now() > until || child.exitCode !== null) throw new Error(`no admissions: ${out}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    const told = Math.max(...[...out.matchAll(/admitted (\d+)/g)].map((m) => Number(m[1])));
    const store = new SqliteQuotaStore(db);
    const [row] = await store.list();
    // everything the caller was told admitted is counted; at most the one in its transaction beyond
    expect(row!.attempts).toBeGreaterThanOrEqual(told + 1);
    expect(row!.attempts).toBeLessThanOrEqual(told + 2);
    // the restarted policy server is asked again for every call so far (resynchronisation): nothing is added
    const policy = new QuotaPolicyAdapter({ config: parseQuotaConfig(RULES), store, clock: () => NOW });
    for (let i = 0; i < row!.attempts; i++) await policy.decideAaa({ callId: `c${i}`, side: "originating", caller: "sip:a@example.com", callee: "sip:b@example.net", flows: [], now: 0 });
    expect((await store.list())[0]!.attempts).toBe(row!.attempts);
    await store.close();
  }, 90_000);
});
