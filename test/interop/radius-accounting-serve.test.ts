// `callgate serve` with the deploy file's `accounting` and `quota` sections: the policy servers POL1 and POL2,
// each its own process, send every call's Start and Stop of their side to a real FreeRADIUS (the detail file holds
// each once), and POL1 refuses the call over its quota, whose counters `callgate quota show` reads from disk.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freeUdpPort, startFreeradiusLab } from "../support/freeradius-lab.mjs";
import { killStartedProcesses, spawnCli, type RunningProcess } from "../support/cli-process.js";
import { rolesSection } from "../support/deploy-file.js";
import { SERVER_ROLES, namedFreePorts, serveProcess } from "../support/serve-deployment.js";
import { ACCOUNTING_ONCE, detailKeys, readDetail, type Lab } from "./radius-accounting-helpers.js";

const SECRET = "serve-secret";
const dir = mkdtempSync(join(tmpdir(), "radius-serve-"));
let lab: Lab | undefined;

afterAll(async () => {
  killStartedProcesses();
  await lab?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("callgate serve exports RADIUS accounting", () => {
  it("POL1 and POL2 send Start and Stop of each admitted call's side, each once; POL1 refuses the call over its quota", async () => {
    const acctPort = await freeUdpPort();
    lab = await startFreeradiusLab({ dir, secret: SECRET, authPort: await freeUdpPort(), acctPort, ...ACCOUNTING_ONCE });
    const { uac, sip1, pol1, ch, sip2, pol2, uas } = await namedFreePorts(["uac", "sip1", "pol1", "ch", "sip2", "pol2", "uas"]);
    const sip = (port: number): string => `{ udp: ${port} }`;
    const config = join(dir, "deploy.yaml");
    writeFileSync(join(dir, "quota.yaml"), "timeZone: UTC\nrules:\n  - {name: daily, subject: subscriber, period: day, limits: {attempts: 2}, sipStatus: 403, reason: two calls a day}\n");
    writeFileSync(config, [
      "name: serve-accounting",
      "seed: 5",
      "topology: { clearinghouse: none, sipTransport: udp }",
      ...rolesSection({ UAC: sip(uac), SIP1: sip(sip1), POL1: pol1, CH: ch, SIP2: sip(sip2), POL2: pol2, UAS: sip(uas) }),
      "calls: { count: 3, intervalMs: 300, answerDelayMs: 150, durationMs: 1200, hangUp: caller }",
      `accounting: { servers: ["udp:127.0.0.1:${acctPort}"], secret: ${SECRET}, spool: acct.spool }`,
      "quota: { rules: quota.yaml, db: quota.db }",
      "",
    ].join("\n"));
    const servers: [string, RunningProcess][] = SERVER_ROLES.filter((r) => r !== "CH").map((role) => [role, serveProcess(role, config, join(dir, `${role}.jsonl`))]);
    for (const [role, s] of servers) await s.waitFor(`${role} ready`, { what: role, ms: 120_000 });
    const caller = serveProcess("UAC", config, join(dir, "UAC.jsonl"));
    await caller.exited;
    expect(caller.output()).toContain("3 call(s), 2 answered and ended, 1 failed");
    // the Stops follow the teardown behind the UAC
    const until = Date.now() + 30_000;
    while (readDetail(lab.detailFile).length < 8 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    for (const [, s] of servers) s.child.kill("SIGTERM");
    await Promise.all(servers.map(([, s]) => s.exited));
    const records = readDetail(lab.detailFile);
    const keys = detailKeys(records);
    expect([...keys.keys()].sort()).toEqual(
      [1, 2].flatMap((n) => ["originating", "terminating"].flatMap((side) => [`call-${n}@callgate.example.com;${side}|Start`, `call-${n}@callgate.example.com;${side}|Stop`])).sort(),
    );
    expect([...keys.values()].every((n) => n === 1)).toBe(true);
    for (const r of records.filter((x) => x["Acct-Status-Type"] === "Stop")) {
      expect(Number(r["Acct-Session-Time"])).toBe(1);
      expect(r["NAS-Identifier"]).toMatch(/^callgate-POL[12]$/);
    }
    // one spool per policy server, everything in it answered
    for (const role of ["POL1", "POL2"]) expect(readFileSync(join(dir, `acct.spool.${role}`), "utf8").match(/"ack":/g)).toHaveLength(4);
    const show = spawnCli("quota", ["show", "--db", join(dir, "quota.db")]);
    expect(await show.closed).toBe(0);
    expect(show.stdout()).toMatch(/^daily\s+subscriber=\S+\s+day\s+\d{4}-\d\d-\d\d\s+2\s+2\s+2\s+\d+$/m);
  }, 240_000);
});
