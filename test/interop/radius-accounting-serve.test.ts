// `callgate serve` with the deploy file's `accounting` and `quota` sections: the policy servers POL1 and POL2,
// each its own process, send each call's Start of their side while the call is up (read from a real FreeRADIUS's
// detail file before the caller hangs up), an Interim-Update every second and the Stop at the end, each once; POL1
// refuses the call over its quota, whose counters `callgate quota show` reads from disk. A POL1 SIGKILLed mid-call
// and started again goes on with the call's Interim-Updates (its journal of open sessions knows the Start time),
// sends no second Start and one Stop at the end.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freeUdpPort, startFreeradiusLab } from "../support/freeradius-lab.mjs";
import { killStartedProcesses, spawnCli, type RunningProcess } from "../support/cli-process.js";
import { AccountingSpool } from "../../lib/accounting/spool.js";
import { parseSessionJournal } from "../../lib/accounting/sessions.js";
import { rolesSection } from "../support/deploy-file.js";
import { SERVER_ROLES, namedFreePorts, serveProcess } from "../support/serve-deployment.js";
import { accountingOnce, detailKeys, readDetail, type Lab } from "./radius-accounting-helpers.js";

const SECRET = "serve-secret";
const dir = mkdtempSync(join(tmpdir(), "radius-serve-"));
let lab: Lab | undefined;
let second: Lab | undefined;

/** Event-Timestamp as FreeRADIUS writes it ("Dec  7 2026 16:25:15 UTC"), in epoch ms. */
const eventMs = (r: Record<string, string>): number => Date.parse(r["Event-Timestamp"]!.replace(/^(\w{3}) +(\d+) (\d{4}) (.*) UTC$/, "$1 $2 $3 $4Z"));

afterAll(async () => {
  killStartedProcesses();
  await lab?.stop();
  await second?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("callgate serve exports RADIUS accounting", () => {
  it("POL1 and POL2 send Start at establishment, Interim-Updates and Stop of each admitted call's side, each once; POL1 refuses the call over its quota", async () => {
    const acctPort = await freeUdpPort();
    const once = accountingOnce(dir);
    lab = await startFreeradiusLab({ dir, secret: SECRET, authPort: await freeUdpPort(), acctPort, modules: once.modules, accounting: once.accounting });
    const { uac, sip1, pol1, ch, sip2, pol2, uas } = await namedFreePorts(["uac", "sip1", "pol1", "ch", "sip2", "pol2", "uas"]);
    const sip = (port: number): string => `{ udp: ${port} }`;
    const config = join(dir, "deploy.yaml");
    writeFileSync(join(dir, "quota.yaml"), "timeZone: UTC\nrules:\n  - {name: daily, subject: subscriber, period: day, limits: {attempts: 2}, sipStatus: 403, reason: two calls a day}\n");
    writeFileSync(config, [
      "name: serve-accounting",
      "seed: 5",
      "topology: { clearinghouse: none, sipTransport: udp }",
      ...rolesSection({ UAC: sip(uac), SIP1: sip(sip1), POL1: pol1, CH: ch, SIP2: sip(sip2), POL2: pol2, UAS: sip(uas) }),
      "calls: { count: 3, intervalMs: 300, answerDelayMs: 150, durationMs: 3500, hangUp: caller }",
      `accounting: { servers: ["udp:127.0.0.1:${acctPort}"], secret: ${SECRET}, spool: acct.spool, interimSeconds: 1 }`,
      "quota: { rules: quota.yaml, db: quota.db }",
      "",
    ].join("\n"));
    const servers: [string, RunningProcess][] = SERVER_ROLES.filter((r) => r !== "CH").map((role) => [role, serveProcess(role, config, join(dir, `${role}.jsonl`))]);
    for (const [role, s] of servers) await s.waitFor(`${role} ready`, { what: role, ms: 120_000 });
    const caller = serveProcess("UAC", config, join(dir, "UAC.jsonl"));
    let callerDone = false;
    void caller.exited.then(() => (callerDone = true));
    // While the first call is up: both sides' Starts are in the detail file, its Stops are not.
    const first = "call-1@callgate.example.com";
    const startsOfFirst = () => readDetail(lab!.detailFile).filter((r) => r["Acct-Multi-Session-Id"] === first && r["Acct-Status-Type"] === "Start");
    const upUntil = Date.now() + 30_000;
    while (startsOfFirst().length < 2 && !callerDone && Date.now() < upUntil) await new Promise((r) => setTimeout(r, 50));
    const seenAt = Date.now();
    expect(callerDone).toBe(false);
    expect(startsOfFirst().map((r) => r["Acct-Session-Id"]).sort()).toEqual([`${first};originating`, `${first};terminating`]);
    expect(readDetail(lab.detailFile).filter((r) => r["Acct-Multi-Session-Id"] === first && r["Acct-Status-Type"] === "Stop")).toEqual([]);
    for (const r of startsOfFirst()) expect(eventMs(r)).toBeLessThanOrEqual(seenAt);
    await caller.exited;
    expect(caller.output()).toContain("3 call(s), 2 answered and ended, 1 failed");
    // the Stops follow the teardown behind the UAC
    const until = Date.now() + 30_000;
    const stops = () => readDetail(lab!.detailFile).filter((r) => r["Acct-Status-Type"] === "Stop").length;
    while (stops() < 4 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    for (const [, s] of servers) s.child.kill("SIGTERM");
    await Promise.all(servers.map(([, s]) => s.exited));
    const records = readDetail(lab.detailFile);
    const keys = detailKeys(records);
    expect([...keys.keys()].filter((k) => !k.includes("|Interim-Update|")).sort()).toEqual(
      [1, 2].flatMap((n) => ["originating", "terminating"].flatMap((side) => [`call-${n}@callgate.example.com;${side}|Start`, `call-${n}@callgate.example.com;${side}|Stop`])).sort(),
    );
    expect([...keys.values()].every((n) => n === 1)).toBe(true);
    for (const n of [1, 2])
      for (const side of ["originating", "terminating"]) {
        const session = records.filter((r) => r["Acct-Session-Id"] === `call-${n}@callgate.example.com;${side}`);
        const of = (status: string) => session.filter((r) => r["Acct-Status-Type"] === status);
        const [start, stop] = [of("Start")[0]!, of("Stop")[0]!];
        const interims = of("Interim-Update").map((r) => Number(r["Acct-Session-Time"]));
        expect(interims.length, `${n} ${side}`).toBeGreaterThanOrEqual(1);
        expect(interims.every((t) => t >= 1 && t <= 4)).toBe(true);
        // Start at establishment: the Stop's Event-Timestamp is the conversation later
        const sessionTime = Number(stop["Acct-Session-Time"]);
        expect(sessionTime).toBeGreaterThanOrEqual(3);
        expect(sessionTime).toBeLessThanOrEqual(4);
        expect(Math.abs((eventMs(stop) - eventMs(start)) / 1000 - sessionTime)).toBeLessThanOrEqual(1);
        expect(stop["NAS-Identifier"]).toMatch(/^callgate-POL[12]$/);
      }
    // one spool per policy server, everything in it answered
    for (const role of ["POL1", "POL2"]) {
      const spool = AccountingSpool.recover(join(dir, `acct.spool.${role}`));
      expect(spool.pending).toEqual([]);
      expect(spool.answered.size).toBe(records.filter((r) => r["NAS-Identifier"] === `callgate-${role}`).length);
    }
    const show = spawnCli("quota", ["show", "--db", join(dir, "quota.db")]);
    expect(await show.closed).toBe(0);
    // the quota's seconds are the caller's side's billed conversation, as its Stops say
    const billed = records.filter((r) => r["NAS-Identifier"] === "callgate-POL1" && r["Acct-Status-Type"] === "Stop").reduce((t, r) => t + Number(r["Acct-Session-Time"]), 0);
    expect(show.stdout()).toMatch(new RegExp(`^daily\\s+subscriber=\\S+\\s+day\\s+\\d{4}-\\d\\d-\\d\\d\\s+2\\s+2\\s+${billed}\\s+\\d+$`, "m"));
  }, 240_000);

  it("POL1 SIGKILLed mid-call and started again: its Interim-Updates go on from its journal with increasing Acct-Session-Time, no record twice, one Stop", async () => {
    // FreeRADIUS of its own, without the once-only table: its detail file holds every record it was sent.
    const sub = join(dir, "killed");
    mkdirSync(sub);
    const acctPort = await freeUdpPort();
    const lab2 = (second = await startFreeradiusLab({ dir: sub, secret: SECRET, authPort: await freeUdpPort(), acctPort }));
    const { uac, sip1, pol1, ch, sip2, pol2, uas } = await namedFreePorts(["uac", "sip1", "pol1", "ch", "sip2", "pol2", "uas"]);
    const sip = (port: number): string => `{ udp: ${port} }`;
    const config = join(sub, "deploy.yaml");
    // a 20 s call: room for the restarted POL1 to come up on a loaded machine and send interims before the Stop
    writeFileSync(config, [
      "name: serve-accounting-killed",
      "seed: 6",
      "topology: { clearinghouse: none, sipTransport: udp }",
      ...rolesSection({ UAC: sip(uac), SIP1: sip(sip1), POL1: pol1, CH: ch, SIP2: sip(sip2), POL2: pol2, UAS: sip(uas) }),
      "calls: { count: 1, intervalMs: 300, answerDelayMs: 150, durationMs: 20000, hangUp: caller }",
      `accounting: { servers: ["udp:127.0.0.1:${acctPort}"], secret: ${SECRET}, spool: acct.spool, interimSeconds: 1 }`,
      "",
    ].join("\n"));
    const servers = new Map<string, RunningProcess>(SERVER_ROLES.filter((r) => r !== "CH").map((role) => [role, serveProcess(role, config, join(sub, `${role}.jsonl`))]));
    for (const [role, s] of servers) await s.waitFor(`${role} ready`, { what: role, ms: 120_000 });
    const caller = serveProcess("UAC", config, join(sub, "UAC.jsonl"));
    let callerDone = false;
    void caller.exited.then(() => (callerDone = true));
    const session = "call-1@callgate.example.com;originating";
    const ours = () => readDetail(lab2.detailFile).filter((r) => r["Acct-Session-Id"] === session);
    const of = (status: string) => ours().filter((r) => r["Acct-Status-Type"] === status);
    const until = Date.now() + 30_000;
    while (of("Interim-Update").length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(of("Start")).toHaveLength(1);
    const victim = servers.get("POL1")!;
    victim.child.kill("SIGKILL");
    await victim.exited;
    const killedAt = Date.now();
    const again = serveProcess("POL1", config, join(sub, "POL1-again.jsonl"));
    servers.set("POL1", again);
    await again.waitFor("POL1 ready", { what: "POL1 again", ms: 120_000 });
    // the restarted POL1's interims (timed after the kill: the killed process made none of them) while the call is up
    const resumed = () => of("Interim-Update").filter((r) => eventMs(r) > killedAt);
    const resumeUntil = Date.now() + 60_000;
    while (resumed().length < 2 && of("Stop").length === 0 && Date.now() < resumeUntil) await new Promise((r) => setTimeout(r, 100));
    expect(of("Stop"), "the call ended before the restarted POL1 sent interims").toEqual([]);
    expect(resumed().length).toBeGreaterThanOrEqual(2);
    expect(callerDone).toBe(false);
    await caller.exited;
    const stopUntil = Date.now() + 30_000;
    while (of("Stop").length === 0 && Date.now() < stopUntil) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 1500)); // anything sent twice would land meanwhile
    for (const s of servers.values()) s.child.kill("SIGTERM");
    await Promise.all([...servers.values()].map((s) => s.exited));
    const records = ours();
    const keys = detailKeys(records);
    expect(keys.get(`${session}|Start`)).toBe(1);
    expect(keys.get(`${session}|Stop`)).toBe(1);
    expect([...keys.values()].every((n) => n === 1), JSON.stringify([...keys])).toBe(true);
    const start = records.find((r) => r["Acct-Status-Type"] === "Start")!;
    const stop = records.find((r) => r["Acct-Status-Type"] === "Stop")!;
    // the caller's proxy measured the conversation (2xx to BYE) across the restart
    const sessionTime = Number(stop["Acct-Session-Time"]);
    expect(sessionTime).toBeGreaterThanOrEqual(19);
    expect(sessionTime).toBeLessThanOrEqual(21);
    expect(Math.abs((eventMs(stop) - eventMs(start)) / 1000 - sessionTime)).toBeLessThanOrEqual(1);
    // every interim, before and after the kill, counts from the one Start: its time grows with its timestamp
    const interims = records.filter((r) => r["Acct-Status-Type"] === "Interim-Update").sort((x, y) => eventMs(x) - eventMs(y));
    expect(interims.some((r) => eventMs(r) <= killedAt)).toBe(true);
    for (const [i, r] of interims.entries()) {
      expect(Number(r["Acct-Session-Time"])).toBe((eventMs(r) - eventMs(start)) / 1000);
      if (i > 0) expect(Number(r["Acct-Session-Time"])).toBeGreaterThan(Number(interims[i - 1]!["Acct-Session-Time"]));
      expect(Number(r["Acct-Session-Time"])).toBeLessThanOrEqual(sessionTime);
    }
    expect(AccountingSpool.recover(join(sub, "acct.spool.POL1")).pending).toEqual([]);
    // the journal closed the session at its Stop
    expect(parseSessionJournal(readFileSync(join(sub, "acct.spool.POL1.sessions"), "utf8")).open).toEqual([]);
  }, 240_000);
});
