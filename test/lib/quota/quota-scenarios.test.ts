// The quota scenarios through `callgate replay` (their `quota:` section names the rules): the N+1th call of a
// day refused and an octet limit acting from the routers' counts on both drivers; the month end and the DST
// change in virtual time; and --quota-db keeps the counters of a run, each call counted once.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { SqliteQuotaStore } from "../../../lib/quota/store-sqlite.js";
import { replayInProcess } from "../../support/replay-in-process.js";

const dir = mkdtempSync(join(tmpdir(), "quota-scenarios-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const replay = (args: string[]) => replayInProcess(args);

describe("quota scenarios", () => {
  for (const driver of ["memory", "net"] as const)
    for (const name of ["quota-daily-calls", "quota-octets", "quota-octets-cut"])
      it(`${name} on the ${driver} driver: every expectation holds`, async () => {
        const r = await replay([`scenarios/${name}.yaml`, ...(driver === "net" ? ["--net"] : [])]);
        expect(r.stderr).toBe("");
        expect(r.stdout).toMatch(/expectations: all \d+ hold/);
        expect(r.code).toBe(0);
      }, 60_000);

  it("--quota-db keeps the run's counters; the same calls replayed on that file are the same calls, counted once", async () => {
    const db = join(dir, "daily.db");
    const rows = async () => {
      const store = new SqliteQuotaStore(db, { readOnly: true });
      const list = (await store.list()).map((row) => [row.subject, row.periodKey, row.attempts, row.established, row.seconds]);
      await store.close();
      return list;
    };
    const r = await replay(["scenarios/quota-daily-calls.yaml", "--quota-db", db]);
    expect(r.code, r.stdout).toBe(0);
    const first = await rows();
    expect(first).toEqual([
      ["subscriber=alice@example.com", "2026-06-10", 3, 3, 3],
      ["subscriber=carol@example.com", "2026-06-10", 1, 1, 1],
    ]);
    // the same Call-IDs again (a retransmitted or re-asked REQ AAA, a usage report seen again): nothing added
    const again = await replay(["scenarios/quota-daily-calls.yaml", "--quota-db", db]);
    expect(again.code, again.stdout).toBe(0);
    expect(await rows()).toEqual(first);
  }, 60_000);

  it("refuses bad quota options with the reason", async () => {
    expect(await replay(["scenarios/fig5-fig6.yaml", "--quota-db", join(dir, "x.db")])).toMatchObject({ code: 2, stderr: "callgate replay: --quota-db and --quota-start need --quota\n" });
    expect((await replay(["scenarios/fig5-fig6.yaml", "--quota", join(dir, "none.yaml")])).stderr).toMatch(/--quota .*none\.yaml: no such file/);
    expect((await replay(["scenarios/quota-dst.yaml", "--quota-start", "yesterday"])).stderr).toMatch(/--quota-start 'yesterday' is not an ISO 8601 instant/);
  });
});
