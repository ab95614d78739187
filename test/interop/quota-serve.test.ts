// `callgate serve` with quotas on both policy servers (the deploy file's `quota` section, each policy server its
// own process, rules and counter file): POL1 counts its callers' calls, POL2 its callees'; the callee's limit of
// two calls a day is POL2's alone, so the third call passes POL1 and is refused at SIP2 with POL2's status and
// Reason, which the caller gets. `callgate quota show` reads each file. And an octet limit of POL1's ends calls
// in progress across the processes: R1 reports its counts on POL1's Accounting Timer, POL1 gives SIP1 the time
// spoken as the calls' time limit in an unsolicited DEC AAA, and SIP1 sends BYE both ways.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { fromJsonLines } from "../../lib/replay/ladder-json.js";
import { killStartedProcesses, spawnCli, type RunningProcess } from "../support/cli-process.js";
import { rolesSection } from "../support/deploy-file.js";
import { SERVER_ROLES, namedFreePorts, serveProcess, untilRecordsStill } from "../support/serve-deployment.js";

const dir = mkdtempSync(join(tmpdir(), "quota-serve-"));

afterAll(() => {
  killStartedProcesses();
  rmSync(dir, { recursive: true, force: true });
});

/** What one process sent, as it recorded it. */
const records = (role: string) => fromJsonLines(readFileSync(join(dir, `${role}.jsonl`), "utf8"));

describe("callgate serve with quotas on both policy servers", () => {
  it("POL2 refuses the callee's third call of the day by its own rules; POL1 counted all three by its own", async () => {
    const { uac, sip1, pol1, ch, sip2, pol2, uas } = await namedFreePorts(["uac", "sip1", "pol1", "ch", "sip2", "pol2", "uas"]);
    const sip = (port: number): string => `{ udp: ${port} }`;
    const config = join(dir, "deploy.yaml");
    writeFileSync(join(dir, "callers.yaml"), "timeZone: UTC\nrules:\n  - {name: callers, subject: subscriber, period: day, limits: {attempts: 10}}\n");
    writeFileSync(join(dir, "callees.yaml"), "timeZone: UTC\nrules:\n  - {name: callees, subject: destination, period: day, limits: {attempts: 2}, sipStatus: 480, reason: the callee takes two calls a day}\n");
    writeFileSync(config, [
      "name: serve-quota",
      "seed: 9",
      "topology: { clearinghouse: none, sipTransport: udp }",
      ...rolesSection({ UAC: sip(uac), SIP1: sip(sip1), POL1: pol1, CH: ch, SIP2: sip(sip2), POL2: pol2, UAS: sip(uas) }),
      "calls: { count: 3, intervalMs: 300, answerDelayMs: 150, durationMs: 1500, hangUp: caller }",
      "quota:",
      "  POL1: { rules: callers.yaml, db: pol1.db }",
      "  POL2: { rules: callees.yaml, db: pol2.db }",
      "",
    ].join("\n"));
    const servers: [string, RunningProcess][] = SERVER_ROLES.filter((r) => r !== "CH").map((role) => [role, serveProcess(role, config, join(dir, `${role}.jsonl`))]);
    for (const [role, s] of servers) await s.waitFor(`${role} ready`, { what: role, ms: 120_000 });
    const caller = serveProcess("UAC", config, join(dir, "UAC.jsonl"));
    await caller.exited;
    expect(caller.output()).toContain("3 call(s), 2 answered and ended, 1 failed");
    await untilRecordsStill(["SIP1", "SIP2", "POL1", "POL2"].map((r) => join(dir, `${r}.jsonl`)));
    for (const [, s] of servers) s.child.kill("SIGTERM");
    await Promise.all(servers.map(([, s]) => s.exited));
    // the refusal is POL2's: DEC AAA to SIP2, whose 480 carries the rule's Reason back to the caller
    const refused = records("SIP1").filter((r) => r.proto === "SIP" && r.to === "UAC" && r.msg.startsWith("480"));
    expect(refused).toHaveLength(1);
    expect(refused[0]!.bytes.toString()).toMatch(/\r\nReason: SIP;cause=480;text="the callee takes two calls a day"\r\n/);
    expect(records("SIP2").filter((r) => r.from === "SIP2" && r.to === "SIP1" && r.msg.startsWith("480"))).toHaveLength(1);
    expect(records("SIP2").filter((r) => r.from === "SIP2" && r.to === "UAS" && r.msg === "INVITE")).toHaveLength(2);
    const show = async (db: string, rules: string) => {
      const p = spawnCli("quota", ["show", "--db", join(dir, db), "--config", join(dir, rules)]);
      expect(await p.closed).toBe(0);
      return p.stdout();
    };
    // POL1 admitted all three (its limit is 10); POL2 two of them, the callee's limit
    expect(await show("pol1.db", "callers.yaml")).toMatch(/^callers\s+subscriber=\S+\s+day\s+\d{4}-\d\d-\d\d\s+3\/10\s+2\s/m);
    expect(await show("pol2.db", "callees.yaml")).toMatch(/^callees\s+destination=\S+\s+day\s+\d{4}-\d\d-\d\d\s+2\/2\s+2\s/m);
  }, 240_000);

  it("POL1's octet limit ends three calls in progress from R1's accounting reports, long before their own time limits", async () => {
    const sub = join(dir, "octets");
    mkdirSync(sub);
    const { uac, sip1, pol1, ch, sip2, pol2, uas } = await namedFreePorts(["uac", "sip1", "pol1", "ch", "sip2", "pol2", "uas"]);
    const sip = (port: number): string => `{ udp: ${port} }`;
    const config = join(sub, "deploy.yaml");
    // 450 kB a month for the realm: each call alone would have 22 s at its offer's 160 kbit/s; three at once use
    // it up in about 8 s, and R1 reports every 5 s
    writeFileSync(join(sub, "volume.yaml"), "timeZone: UTC\nrules:\n  - {name: volume, subject: realm, period: month, limits: {octets: 450000}, reason: volume quota used up}\n");
    writeFileSync(config, [
      "name: serve-octets",
      "seed: 11",
      "topology: { clearinghouse: none, sipTransport: udp }",
      ...rolesSection({ UAC: sip(uac), SIP1: sip(sip1), POL1: pol1, CH: ch, SIP2: sip(sip2), POL2: pol2, UAS: sip(uas) }),
      "calls: { count: 3, intervalMs: 200, answerDelayMs: 150, durationMs: 40000, hangUp: caller }",
      "quota: { rules: volume.yaml, db: pol1.db }",
      "",
    ].join("\n"));
    const rec = (role: string) => join(sub, `${role}.jsonl`);
    const servers: [string, RunningProcess][] = SERVER_ROLES.filter((r) => r !== "CH").map((role) => [role, serveProcess(role, config, rec(role))]);
    for (const [role, s] of servers) await s.waitFor(`${role} ready`, { what: role, ms: 120_000 });
    const caller = serveProcess("UAC", config, rec("UAC"));
    await caller.exited;
    expect(caller.output()).toContain("3 call(s), 3 answered and ended, 0 failed");
    await untilRecordsStill(["SIP1", "SIP2", "POL1", "R1"].map(rec));
    for (const [, s] of servers) s.child.kill("SIGTERM");
    await Promise.all(servers.map(([, s]) => s.exited));
    const sent = (role: string) => fromJsonLines(readFileSync(rec(role), "utf8"));
    expect(sent("R1").filter((r) => r.msg === "RPT Accounting").length).toBeGreaterThanOrEqual(1);
    // per call: the DEC AAA that admitted it, and the one that ended it
    const decAaa = sent("POL1").filter((r) => r.to === "SIP1" && r.msg === "DEC AAA");
    const calls = [...new Set(decAaa.map((r) => r.callId))];
    expect(calls).toHaveLength(3);
    for (const id of calls) expect(decAaa.filter((r) => r.callId === id), id).toHaveLength(2);
    // SIP1 ended each dialog both ways; the caller never hung up
    expect(sent("SIP1").filter((r) => r.msg === "BYE" && r.to === "UAC")).toHaveLength(3);
    expect(sent("SIP1").filter((r) => r.msg === "BYE" && r.to === "SIP2")).toHaveLength(3);
    expect(sent("UAC").filter((r) => r.msg === "BYE")).toHaveLength(0);
    // each well before the 40 s it asked for and the 22 s its own time limit gives: from the 2xx SIP1 relayed to its BYE
    for (const id of calls) {
      const at = (msg: string) => sent("SIP1").find((r) => r.callId === id && r.to === "UAC" && r.msg.startsWith(msg))!.t;
      const spokenS = (at("BYE") - at("200")) / 1000;
      expect(spokenS, id).toBeGreaterThan(4);
      expect(spokenS, id).toBeLessThan(18);
    }
    const show = spawnCli("quota", ["show", "--db", join(sub, "pol1.db")]);
    expect(await show.closed).toBe(0);
    const octets = Number(/^volume\s+realm=\S+\s+month\s+\S+\s+3\s+3\s+\d+\s+(\d+)$/m.exec(show.stdout())?.[1]);
    expect(octets).toBeGreaterThanOrEqual(450_000);
  }, 240_000);
});
