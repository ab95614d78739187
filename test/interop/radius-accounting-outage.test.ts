// Accounting through outages of a real FreeRADIUS: 1,000 calls replayed with `--radius-acct` while the server
// is stopped twice and SIGKILLed twice (each time started again) in the middle of the export; with the
// once-only recipe of docs/accounting.md (an SQLite table keyed by Acct-Session-Id, Acct-Status-Type and
// Event-Timestamp) every call's Start and Stop of both sides is stored exactly once, resends included. A record
// answered before a SIGKILL and sent again after the restart is stored once; one the table cannot take is not
// answered. And failover: with the first server silent, every record of the scenario goes to the second.
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freeUdpPort } from "../support/freeradius-lab.mjs";
import { killStartedProcesses, spawnCli } from "../support/cli-process.js";
import Database from "better-sqlite3";
import { RadiusCode, RadiusTimeoutError, RadiusUdpClient, radiusAttribute, type RadiusPacket } from "../../protocols/radius/index.js";
import { ACCOUNTING_TABLE_SCHEMA, accountingOnce, killLab, readAccountingTable, readDetail, restartLab, stopLab, type Lab } from "./radius-accounting-helpers.js";

const SECRET = "outage-secret";
const dir = mkdtempSync(join(tmpdir(), "radius-outage-"));
let lab: Lab | undefined;
let labOptions: Parameters<typeof restartLab>[0];
const once = accountingOnce(dir);

beforeAll(async () => {
  labOptions = { dir, secret: SECRET, authPort: await freeUdpPort(), acctPort: await freeUdpPort(), modules: once.modules, accounting: once.accounting };
  lab = await restartLab(labOptions, undefined, 0);
}, 60_000);

afterAll(async () => {
  killStartedProcesses();
  await lab?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// what the server has received so far (the detail file of the stored records grows only with new ones)
const detailBytes = () => (existsSync(once.received) ? statSync(once.received).size : 0);

describe("RADIUS accounting through FreeRADIUS outages", () => {
  it("1,000 calls while FreeRADIUS is stopped twice and SIGKILLed twice: every Start and Stop of both sides is stored exactly once", async () => {
    const scenario = join(dir, "k1000.yaml");
    writeFileSync(scenario, "name: k1000\nseed: 3\ncalls:\n  - caller: sip:u{n}@example.com\n    callee: sip:bob@example.net\n    count: 1000\n    intervalMs: 20\n    answerDelayMs: 300\n    durationMs: 3000\n");
    const replay = spawnCli("replay", [scenario, "--radius-acct", `udp:127.0.0.1:${labOptions.acctPort}`, "--radius-secret", SECRET, "--radius-spool", join(dir, "spool"), "--radius-wait", "150"]);
    // the export starts once the run is over: wait for the first records, then take the server away three times
    const outages: string[] = [];
    for (const [n, how] of [[1, "stop"], [2, "kill"], [3, "stop"], [4, "kill"]] as const) {
      const from = detailBytes();
      const until = Date.now() + 120_000;
      // each outage once the server has received some 25-50 requests more (a full window in flight): far from
      // the 4,000, so that a fast machine cannot finish the export between two outages
      while (detailBytes() < from + (n === 1 ? 20_000 : 10_000)) {
        if (replay.child.exitCode !== null) throw new Error(`replay ended before outage ${n}: ${replay.output()}`);
        if (Date.now() > until) throw new Error(`no accounting before outage ${n}: ${replay.output()}`);
        await sleep(1);
      }
      // the server goes away now (stopped or SIGKILLed), stays away 1.5 s, then starts again
      outages.push(`${how} at ${readDetail(once.received).length} requests received`);
      if (how === "kill") await killLab(lab!, n);
      else await stopLab(lab!, n);
      await sleep(1500);
      lab = await restartLab(labOptions, undefined, n);
    }
    const code = await replay.closed;
    expect(code, replay.output()).toBe(0);
    expect(replay.output()).toMatch(/accounting: 4000 record\(s\) answered/);
    // The accounting table: every record once. Its key holds the Event-Timestamp, so a record resent with
    // another timestamp would stand twice here, counted by session and status.
    const rows = readAccountingTable(once.database).filter((r) => r.acct_session_id.startsWith("k1000-"));
    const stored = new Map<string, number>();
    for (const r of rows) stored.set(`${r.acct_session_id}|${r.acct_status_type}`, (stored.get(`${r.acct_session_id}|${r.acct_status_type}`) ?? 0) + 1);
    const received = readDetail(once.received).filter((r) => r["Acct-Session-Id"]?.startsWith("k1000-")).length;
    const context = `${outages.join(", ")}; ${received} requests received for ${rows.length} rows`;
    for (let n = 1; n <= 1000; n++)
      for (const side of ["originating", "terminating"]) for (const s of ["Start", "Stop"]) expect(stored.get(`k1000-1-${n};${side}|${s}`), `k1000-1-${n} ${side} ${s}: ${context}`).toBe(1);
    expect(rows, context).toHaveLength(4000);
    expect(received, context).toBeGreaterThanOrEqual(4000);
  }, 300_000); // ~50-100 s; the bound leaves room for a loaded machine

  it("fails over: with the first server silent, the second gets every record of the scenario", async () => {
    const silent = await freeUdpPort();
    const before = readDetail(lab!.detailFile).length;
    const p = spawnCli("replay", ["scenarios/radius-accounting.yaml", "--radius-acct", `udp:127.0.0.1:${silent}`, "--radius-acct", `udp:127.0.0.1:${labOptions.acctPort}`, "--radius-secret", SECRET, "--radius-spool", join(dir, "failover.spool")]);
    const code = await p.closed;
    expect(code, p.output()).toBe(0);
    expect(p.output()).toMatch(/accounting: 12 record\(s\) answered by udp:127\.0\.0\.1:\d+, udp:127\.0\.0\.1:\d+/);
    const added = readDetail(lab!.detailFile).slice(before);
    expect(added.map((r) => `${r["Acct-Session-Id"]}|${r["Acct-Status-Type"]}`).sort()).toEqual(
      ["answered", "callee-ends"].flatMap((c) => ["originating", "terminating"].flatMap((s) => [`${c};${s}|Start`, `${c};${s}|Stop`]))
        .concat(["busy", "cancelled"].flatMap((c) => [`${c};originating|Stop`, `${c};terminating|Stop`])).sort(),
    );
  }, 120_000);
});

describe("the once-only accounting table across a FreeRADIUS SIGKILL", () => {
  const own = mkdtempSync(join(tmpdir(), "radius-once-"));
  const table = accountingOnce(own);
  let server: Lab | undefined;
  let client: RadiusUdpClient | undefined;

  afterAll(async () => {
    await client?.close();
    await server?.stop();
    rmSync(own, { recursive: true, force: true });
  });

  it("a record answered before the SIGKILL and sent again after the restart (new Identifier, later Acct-Delay-Time) is answered and stored once; one the table cannot take is not answered", async () => {
    const options = { dir: own, secret: SECRET, authPort: await freeUdpPort(), acctPort: await freeUdpPort(), modules: table.modules, accounting: table.accounting };
    server = await restartLab(options, undefined, 0);
    client = await RadiusUdpClient.open({ secret: SECRET, initialTimeoutMs: 500, maxRetransmissions: 2, maxDurationMs: 3000 });
    const to = { address: "127.0.0.1", port: options.acctPort };
    const record = (session: string, delayS: number) => ({
      code: RadiusCode.AccountingRequest,
      attributes: [
        radiusAttribute("Acct-Status-Type", "Start"),
        radiusAttribute("Acct-Session-Id", session),
        radiusAttribute("NAS-Identifier", "callgate"),
        radiusAttribute("Event-Timestamp", 1_800_000_000),
        radiusAttribute("Acct-Delay-Time", delayS),
      ],
    });
    const answer = (p: RadiusPacket) => p.code;
    expect(answer(await client.request(to, record("once-1;originating", 0)))).toBe(RadiusCode.AccountingResponse);
    await killLab(server, 1);
    server = await restartLab(options, undefined, 1);
    expect(answer(await client.request(to, record("once-1;originating", 7)))).toBe(RadiusCode.AccountingResponse);
    expect(readAccountingTable(table.database).filter((r) => r.acct_session_id === "once-1;originating")).toEqual([
      { acct_session_id: "once-1;originating", acct_status_type: "Start", event_timestamp: 1_800_000_000, acct_session_time: null, nas_identifier: "callgate" },
    ]);
    expect(readDetail(table.received).filter((r) => r["Acct-Session-Id"] === "once-1;originating")).toHaveLength(2);
    expect(readDetail(server.detailFile).filter((r) => r["Acct-Session-Id"] === "once-1;originating")).toHaveLength(1);
    // The table gone (a broken database): the insert fails, and no Accounting-Response says the record is kept.
    const db = new Database(table.database);
    db.exec("DROP TABLE accounting");
    await expect(client.request(to, record("once-2;originating", 0))).rejects.toBeInstanceOf(RadiusTimeoutError);
    db.exec(ACCOUNTING_TABLE_SCHEMA);
    db.close();
    expect(answer(await client.request(to, record("once-2;originating", 4)))).toBe(RadiusCode.AccountingResponse);
    expect(readAccountingTable(table.database).map((r) => r.acct_session_id)).toEqual(["once-2;originating"]);
  }, 120_000);
});
