// Accounting through outages of a real FreeRADIUS: 1,000 calls replayed with `--radius-acct` while the server
// is stopped and started twice and SIGKILLed once in the middle of the export; every call's Start and Stop of
// both sides reaches the detail file, none twice. And failover: with the first server silent, every record of
// the scenario goes to the second.
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freeUdpPort } from "../support/freeradius-lab.mjs";
import { killStartedProcesses, spawnCli } from "../support/cli-process.js";
import { ACCOUNTING_ONCE, detailKeys, killLab, readDetail, restartLab, stopLab, type Lab } from "./radius-accounting-helpers.js";

const SECRET = "outage-secret";
const dir = mkdtempSync(join(tmpdir(), "radius-outage-"));
let lab: Lab | undefined;
let labOptions: Parameters<typeof restartLab>[0];

beforeAll(async () => {
  labOptions = { dir, secret: SECRET, authPort: await freeUdpPort(), acctPort: await freeUdpPort(), ...ACCOUNTING_ONCE };
  lab = await restartLab(labOptions, undefined, 0);
}, 60_000);

afterAll(async () => {
  killStartedProcesses();
  await lab?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const detailBytes = () => (existsSync(lab!.detailFile) ? statSync(lab!.detailFile).size : 0);

describe("RADIUS accounting through FreeRADIUS outages", () => {
  it("1,000 calls while FreeRADIUS is stopped and started twice and SIGKILLed once: all Start/Stop pairs arrive; a record is logged twice only if it was in flight when the server went away", async () => {
    const scenario = join(dir, "k1000.yaml");
    writeFileSync(scenario, "name: k1000\nseed: 3\ncalls:\n  - caller: sip:u{n}@example.com\n    callee: sip:bob@example.net\n    count: 1000\n    intervalMs: 20\n    answerDelayMs: 300\n    durationMs: 3000\n");
    const replay = spawnCli("replay", [scenario, "--radius-acct", `udp:127.0.0.1:${labOptions.acctPort}`, "--radius-secret", SECRET, "--radius-spool", join(dir, "spool"), "--radius-wait", "150"]);
    // the export starts once the run is over: wait for the first records, then take the server away three times
    const outages: string[] = [];
    for (const [n, how] of [[1, "stop"], [2, "kill"], [3, "stop"]] as const) {
      const from = detailBytes();
      const until = Date.now() + 120_000;
      // the first outage once the export is under way; each later one as soon as the server has logged again
      // (waiting for more lets a fast machine finish the export while the server restarts)
      while (detailBytes() < from + (n === 1 ? 20_000 : 1)) {
        if (replay.child.exitCode !== null) throw new Error(`replay ended before outage ${n}: ${replay.output()}`);
        if (Date.now() > until) throw new Error(`no accounting before outage ${n}: ${replay.output()}`);
        await sleep(1);
      }
      // the server goes away now (stopped or SIGKILLed), stays away 1.5 s, then starts again
      outages.push(`${how} at ${readDetail(lab!.detailFile).length} records`);
      if (how === "kill") await killLab(lab!, n);
      else await stopLab(lab!, n);
      await sleep(1500);
      lab = await restartLab(labOptions, undefined, n);
    }
    const code = await replay.closed;
    expect(code, replay.output()).toBe(0);
    expect(replay.output()).toMatch(/accounting: 4000 record\(s\) answered/);
    const keys = detailKeys(readDetail(lab!.detailFile));
    const pairs = [...keys.keys()].filter((k) => k.startsWith("k1000-"));
    expect(pairs.filter((k) => k.endsWith("|Start"))).toHaveLength(2000);
    expect(pairs.filter((k) => k.endsWith("|Stop"))).toHaveLength(2000);
    for (let n = 1; n <= 1000; n++)
      for (const side of ["originating", "terminating"]) for (const s of ["Start", "Stop"]) expect(keys.get(`k1000-1-${n};${side}|${s}`), `k1000-1-${n} ${side} ${s}`).toBeGreaterThanOrEqual(1);
    // The server's duplicate cache dies with it: a record it logged but whose answer never reached the exporter
    // is sent again and logged again. At most the exporter's window (64 in flight) per outage.
    const twice = [...keys].filter(([, c]) => c > 1);
    expect(twice.every(([, c]) => c === 2), outages.join(", ")).toBe(true);
    expect(twice.length, `${outages.join(", ")}: ${twice.map(([k]) => k).join(" ")}`).toBeLessThanOrEqual(3 * 64);
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
