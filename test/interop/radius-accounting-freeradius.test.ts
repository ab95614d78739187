// `callgate replay … --radius-acct` against a real FreeRADIUS: the accounting of scenarios/radius-accounting.yaml
// (answered, busy, cancelled, callee hangs up) lands in the detail file with the right attributes, durations
// and causes; a second replay with the same spool adds nothing; tshark, given the secret, finds every packet
// well-formed and every authenticator valid; and an exporting process SIGKILLed in the middle of its export,
// then started again, leaves every record in the detail file exactly once (the restart sends the unanswered
// records' same bytes from the same port; FreeRADIUS keeps a record once by its session, status and
// Event-Timestamp in the accounting table of docs/accounting.md, and logs it to the detail file when new).
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freeUdpPort, startFreeradiusLab } from "../support/freeradius-lab.mjs";
import { killStartedProcesses, spawnCli } from "../support/cli-process.js";
import { accountingOnce, detailKeys, readDetail, type Lab } from "./radius-accounting-helpers.js";

const SECRET = "acct-secret";
const dir = mkdtempSync(join(tmpdir(), "radius-acct-"));
const pcap = join(dir, "acct.pcap");
let lab: Lab | undefined;
let tshark: ChildProcess | undefined;
let acctPort = 0;

beforeAll(async () => {
  acctPort = await freeUdpPort();
  tshark = spawn("tshark", ["-i", "lo", "-f", `udp port ${acctPort}`, "-w", pcap, "-q"], { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  tshark.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const until = Date.now() + 15_000;
  while (!/Capturing on/.test(err)) {
    if (Date.now() > until || tshark.exitCode !== null) throw new Error(`tshark did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const once = accountingOnce(dir);
  lab = await startFreeradiusLab({ dir, secret: SECRET, authPort: await freeUdpPort(), acctPort, modules: once.modules, accounting: once.accounting });
}, 60_000);

afterAll(async () => {
  killStartedProcesses();
  await lab?.stop();
  if (tshark?.exitCode === null) tshark.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

async function replay(scenario: string, spool: string, extra: string[] = []) {
  const p = spawnCli("replay", [scenario, "--radius-acct", `udp:127.0.0.1:${acctPort}`, "--radius-secret", SECRET, "--radius-spool", spool, ...extra]);
  const code = await p.closed;
  return { code, out: p.output() };
}

const bySession = (id: string) => readDetail(lab!.detailFile).filter((r) => r["Acct-Session-Id"] === id);

describe("RADIUS accounting export to FreeRADIUS", () => {
  it("the scenario's Start, Interim-Update and Stop records land in the detail file with the right attributes and durations", async () => {
    const spool = join(dir, "scenario.spool");
    const { code, out } = await replay("scenarios/radius-accounting.yaml", spool, ["--radius-interim", "30"]);
    expect(code, out).toBe(0);
    expect(out).toMatch(/expectations: all \d+ hold/);
    const sent = /accounting: (\d+) record\(s\) answered by udp:127\.0\.0\.1:\d+/.exec(out);
    expect(sent, out).not.toBeNull();
    const expected: [call: string, talkS: number, origCause: string, termCause: string, interims: number][] = [
      ["answered", 90, "User-Request", "Host-Request", 3],
      ["callee-ends", 45, "Host-Request", "User-Request", 1],
      ["busy", 0, "Host-Request", "User-Request", 0],
      ["cancelled", 0, "User-Request", "Host-Request", 0],
    ];
    let total = 0;
    for (const [call, talkS, origCause, termCause, interims] of expected) {
      for (const side of ["originating", "terminating"] as const) {
        const records = bySession(`${call};${side}`);
        const statuses = records.map((r) => r["Acct-Status-Type"]);
        const established = talkS > 0;
        expect(statuses.filter((s) => s === "Start"), `${call} ${side}`).toHaveLength(established ? 1 : 0);
        expect(statuses.filter((s) => s === "Stop"), `${call} ${side}`).toHaveLength(1);
        // Interim-Updates every 30 s of the conversation (the one at 90 s may land beside the Stop)
        const interimTimes = records.filter((r) => r["Acct-Status-Type"] === "Interim-Update").map((r) => Number(r["Acct-Session-Time"]));
        expect(interimTimes.sort((a, b) => a - b), `${call} ${side}`).toEqual([30, 60, 90].slice(0, interims));
        const stop = records.find((r) => r["Acct-Status-Type"] === "Stop")!;
        expect(Number(stop["Acct-Session-Time"]), `${call} ${side}`).toBe(talkS);
        expect(stop["Acct-Terminate-Cause"], `${call} ${side}`).toBe(side === "originating" ? origCause : termCause);
        expect(stop["Acct-Multi-Session-Id"]).toBe(call);
        // the routers' counts for the installed policy (a ringing call's policy is installed at 180 too)
        expect(stop["Acct-Input-Octets"], `${call} ${side}`).toMatch(/^\d+$/);
        if (established) expect(Number(stop["Acct-Input-Octets"])).toBeGreaterThan(0);
        expect(stop["Acct-Input-Gigawords"]).toBe("0");
        for (const r of records) {
          expect(r["Event-Timestamp"], `${call} ${side}`).toMatch(/^\w{3} [ \d]\d \d{4} \d\d:\d\d:\d\d UTC$/);
          expect(r["Acct-Delay-Time"]).toMatch(/^\d+$/);
          expect(r["NAS-Identifier"]).toBe("callgate");
        }
        const [caller, callee] = readFileSync("scenarios/radius-accounting.yaml", "utf8").match(new RegExp(`id: ${call}\\n\\s+caller: (\\S+)\\n\\s+callee: (\\S+)`))!.slice(1);
        expect(stop["Calling-Station-Id"]).toBe(caller);
        expect(stop["Called-Station-Id"]).toBe(callee);
        expect(stop["User-Name"]).toBe((side === "originating" ? caller! : callee!).replace(/^sip:/, ""));
        total += records.length;
      }
    }
    // the Stop of the answered call comes 90 s of (virtual) time after its Start
    const answered = bySession("answered;originating");
    const t = (s: string) => Date.parse(answered.find((r) => r["Acct-Status-Type"] === s)!["Event-Timestamp"]!.replace(/^(\w{3}) +(\d+) (\d{4}) (.*) UTC$/, "$1 $2 $3 $4Z"));
    expect((t("Stop") - t("Start")) / 1000).toBeGreaterThanOrEqual(90);
    expect((t("Stop") - t("Start")) / 1000).toBeLessThan(92);
    expect(total).toBe(Number(sent![1]));
    expect([...detailKeys(readDetail(lab!.detailFile)).values()].every((n) => n === 1)).toBe(true);
  }, 120_000);

  it("the same replay again with the same spool sends nothing new: one record per session and status", async () => {
    const before = readDetail(lab!.detailFile).length;
    const { code, out } = await replay("scenarios/radius-accounting.yaml", join(dir, "scenario.spool"), ["--radius-interim", "30"]);
    expect(code, out).toBe(0);
    expect(out).toMatch(/accounting: (\d+) record\(s\) answered by [^\n]* \(\1 already sent before\)/);
    expect(readDetail(lab!.detailFile)).toHaveLength(before);
  }, 120_000);

  it("an exporting process SIGKILLed mid-export and started again: every record once in the detail file", async () => {
    const scenario = join(dir, "k300.yaml");
    writeFileSync(scenario, "name: k300\nseed: 7\ncalls:\n  - caller: sip:k{n}@example.com\n    callee: sip:bob@example.net\n    count: 300\n    intervalMs: 100\n    answerDelayMs: 300\n    durationMs: 2000\n");
    const spool = join(dir, "k300.spool");
    const first = spawnCli("replay", [scenario, "--radius-acct", `udp:127.0.0.1:${acctPort}`, "--radius-secret", SECRET, "--radius-spool", spool]);
    const answers = () => (readFileSync(spool, "utf8").match(/"ack":/g) ?? []).length;
    const until = Date.now() + 90_000;
    for (;;) {
      let n = 0;
      try {
        n = answers();
      } catch {
        // not created yet
      }
      if (n >= 50) break;
      if (first.child.exitCode !== null || Date.now() > until) throw new Error(`no export to interrupt: ${first.output()}`);
      await new Promise((r) => setTimeout(r, 2));
    }
    first.child.kill("SIGKILL");
    await first.closed;
    const answeredBeforeKill = answers();
    const spooledBeforeKill = (readFileSync(spool, "utf8").match(/"rec":/g) ?? []).length;
    expect(spooledBeforeKill).toBe(1200); // 300 calls × 2 sides × Start/Stop, all spooled before the first was sent
    expect(answeredBeforeKill).toBeLessThan(1200);
    const second = await replay(scenario, spool);
    expect(second.code, second.out).toBe(0);
    const keys = detailKeys(readDetail(lab!.detailFile).filter((r) => r["Acct-Multi-Session-Id"]?.startsWith("k300-")));
    expect(keys.size).toBe(1200);
    const doubled = [...keys].filter(([, n]) => n > 1);
    expect(doubled).toEqual([]);
  }, 180_000);

  it("tshark dissects every accounting packet with the secret: none malformed, every authenticator valid", async () => {
    await new Promise((r) => setTimeout(r, 500));
    tshark!.kill("SIGINT");
    await new Promise((r) => (tshark!.exitCode === null ? tshark!.once("exit", r) : r(undefined)));
    const out = execFileSync(
      "tshark",
      ["-r", pcap, "-d", `udp.port==${acctPort},radius`, "-o", `radius.shared_secret:${SECRET}`, "-o", "radius.validate_authenticator:TRUE",
        "-T", "fields", "-E", "separator=|", "-e", "radius.code", "-e", "radius.rsp", "-e", "radius.authenticator.valid", "-e", "radius.authenticator.invalid", "-e", "_ws.malformed", "-e", "radius.Acct_Session_Id"],
      { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 },
    );
    const rows = out.trim().split("\n").map((l) => l.split("|"));
    const requests = rows.filter((r) => r[0] === "4");
    const responses = rows.filter((r) => r[0] === "5");
    expect(requests.length).toBeGreaterThanOrEqual(1200);
    expect(responses.length).toBeGreaterThanOrEqual(1200);
    for (const [code, rsp, valid, invalid, malformed] of rows) {
      expect(malformed).toBe("");
      expect(invalid, `code ${code}`).not.toBe("1");
      // Response Authenticators checked with the secret (FreeRADIUS itself drops an Accounting-Request whose
      // authenticator, RFC 2866 §3, is wrong: every request here was answered)
      if (rsp === "1") expect(valid, `code ${code}`).toBe("1");
    }
    expect(requests.every((r) => r[5] !== "")).toBe(true);
    expect(new Set(responses.map((r) => r[2]))).toEqual(new Set(["1"]));
  }, 60_000);
});
