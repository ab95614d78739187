// Realm capacity that outlives its policy server: `callgate serve` processes with the deploy file's `realms` section
// (isp-b rents two ports), SIPp callers of isp-b.example. POL1 is SIGKILLed while two isp-b calls are up and started
// again: SIP1's PEP resends their request states (RFC 2748 §2.5), and the third call still gets 503 with the Reason
// naming the provider's ports; once the two calls end, the next call is answered. Then two calls end while POL1 is
// down: when it is back, SIP1 tells it of them (their REQ, then DRQ), and two new calls at once are both answered.
// The record files (every message with its bytes) are the evidence. A lab whose realms file names a journal keeps
// the period's connection time across a SIGKILL: the provider's time used up before, a call after it gets 403.
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { killStartedProcesses, spawnCli, type RunningProcess } from "../support/cli-process.js";
import { rolesSection } from "../support/deploy-file.js";
import { namedFreePorts, serveProcess } from "../support/serve-deployment.js";
import { ISP_B, finals, recordsOf, startSippCallers, startingWith, until, usageIn } from "./auth-realms-helpers.js";
import { freePort, sippPath, workDir } from "./sip-sipp-helpers.js";

const running: RunningProcess[] = [];
afterAll(async () => {
  await Promise.all(running.map((p) => p.stop()));
  killStartedProcesses();
});

const ROLES = ["SIP1", "POL1", "R1", "SIP2", "POL2", "R2", "UAS"] as const;

describe("callgate serve: realm capacity across a POL1 restart", () => {
  it("SIGKILLed POL1: the ports of calls up stay taken (503 with its Reason), calls ended while it was down give theirs back", async () => {
    expect(sippPath(), "sipp (Debian sip-tester) must be installed").toBeTruthy();
    const dir = mkdtempSync(join(tmpdir(), "callgate-realms-restart-"));
    const p = await namedFreePorts(["uac", "sip1", "pol1", "ch", "sip2", "pol2", "uas"]);
    const config = join(dir, "deploy.yaml");
    writeFileSync(
      config,
      [
        "name: realms-restart",
        "topology: { clearinghouse: none }",
        "realms:",
        "  master: [master.example]",
        "  clients:",
        `  ${ISP_B}`,
        ...rolesSection({ UAC: `{ udp: ${p.uac} }`, SIP1: `{ udp: ${p.sip1} }`, POL1: p.pol1, CH: p.ch, SIP2: `{ udp: ${p.sip2} }`, POL2: p.pol2, UAS: `{ udp: ${p.uas} }` }),
        "calls: { count: 1, answerDelayMs: 100, durationMs: 300, hangUp: caller }",
        "",
      ].join("\n"),
    );
    const processes = new Map<string, RunningProcess>();
    const serve = (role: string, record: string): RunningProcess => {
      const proc = serveProcess(role, config, join(dir, record));
      running.push(proc);
      processes.set(role, proc);
      return proc;
    };
    for (const role of ROLES) serve(role, `${role}.jsonl`);
    for (const role of ROLES) await processes.get(role)!.waitFor(`${role} ready`, { what: role, ms: 90_000 });
    const sip1 = `127.0.0.1:${p.sip1}`;
    const sip1Records = join(dir, "SIP1.jsonl");
    const answered = (prefix: string) => () => startingWith(finals(recordsOf(sip1Records)), prefix).filter((f) => f.status === 200).length;
    /** POL1 killed, then started again with `record` as its record file, and SIP1's PEP back at it. */
    const restartPol1 = async (record: string): Promise<string> => {
      expect(await processes.get("POL1")!.stop("SIGKILL")).toBe(null);
      const file = join(dir, record);
      await serve("POL1", record).waitFor("POL1 ready", { what: "POL1 again", ms: 90_000 });
      return file;
    };
    /** Distinct calls with id `prefix`… of the messages `from` sent `to`, by a record file (each process records what it sends). */
    const callsIn = (file: string, from: string, to: string, msg: RegExp, prefix: string) => () =>
      new Set(recordsOf(file).filter((r) => r.from === from && r.to === to && msg.test(r.msg) && r.callId.startsWith(prefix)).map((r) => r.callId)).size;

    // 1. Two isp-b calls up (talking 25 s), POL1 killed and started again.
    const held = startSippCallers(sip1, "isp-b.example", 2, "held", { port: p.uac, talkMs: 25_000 });
    await until("held calls answered", answered("held-"), 2);
    // The capacity in use is in the journal beside the deploy file (its default place).
    expect(existsSync(join(dir, "callgate-realms.jsonl"))).toBe(true);
    const pol1Again = await restartPol1("POL1-again.jsonl");
    // SIP1's PEP reconnected and sent both calls' states again (REQ LDP), which the restarted POL1 answered.
    await until("held call states resynchronised at the restarted POL1", callsIn(pol1Again, "POL1", "SIP1", /^DEC LDP$/, "held-"), 2, 60_000);
    // The third call finds both ports taken: 503 with its Reason, from POL1 (not SIP1's local decision).
    const third = await startSippCallers(sip1, "isp-b.example", 1, "third");
    expect(third.code, third.stdout.slice(-1500)).toBe(0);
    expect(startingWith(finals(recordsOf(sip1Records)), "third-")).toEqual([{ status: 503, reason: 'SIP;cause=503;text="capacity of isp-b: ports"' }]);
    // The two calls end; the restarted POL1 has their usage: the next call is answered.
    const heldRun = await held;
    expect(heldRun.code, heldRun.stdout.slice(-1500)).toBe(0);
    await usageIn(pol1Again, "held-", 2);
    const after = await startSippCallers(sip1, "isp-b.example", 1, "after");
    expect(after.code, after.stdout.slice(-1500)).toBe(0);
    expect(startingWith(finals(recordsOf(sip1Records)), "after-").map((f) => f.status)).toEqual([200]);

    // 2. Two isp-b calls end while POL1 is down.
    const down = startSippCallers(sip1, "isp-b.example", 2, "down", { port: p.uac, talkMs: 6000 });
    await until("down calls answered", answered("down-"), 2);
    expect(await processes.get("POL1")!.stop("SIGKILL")).toBe(null);
    const downRun = await down;
    expect(downRun.code, downRun.stdout.slice(-1500)).toBe(0);
    const pol1Third = join(dir, "POL1-third.jsonl");
    await serve("POL1", "POL1-third.jsonl").waitFor("POL1 ready", { what: "POL1 once more", ms: 90_000 });
    // Back, POL1 hears of both calls' ends: SIP1 kept them while no PDP listened and sends their last REQ (noLDP),
    // then DRQ; POL1 answers DEC noLDP and has their usage.
    await usageIn(pol1Third, "down-", 2);
    const again = await startSippCallers(sip1, "isp-b.example", 2, "again", { port: p.uac });
    expect(again.code, again.stdout.slice(-1500)).toBe(0);
    expect(startingWith(finals(recordsOf(sip1Records)), "again-").map((f) => f.status)).toEqual([200, 200]);
    // No call refused but the third.
    const refused = [...finals(recordsOf(sip1Records))].filter(([, f]) => f.status !== 200).map(([id]) => id.split("-")[0]);
    expect(refused).toEqual(["third"]);
  }, 240_000);
});

describe("callgate lab --realms FILE with a journal", () => {
  it("the period's connection time outlives a SIGKILLed lab: used up before, the next call gets 403 after", async () => {
    expect(sippPath(), "sipp (Debian sip-tester) must be installed").toBeTruthy();
    const dir = workDir("callgate-realms-lab-journal-");
    const realms = join(dir, "realms.yaml");
    // 7 s a period: two 4 s calls use it up.
    writeFileSync(realms, ["journal: capacity.jsonl", "master: [master.example]", "clients:", "  - { name: isp-b, realms: [isp-b.example], virtualIdentity: { user: isp-b-virtual }, capacity: { ports: 2, secondsPerPeriod: 7, periodSeconds: 86400 } }", ""].join("\n"));
    const sipPort = await freePort();
    const lab = (record: string): Promise<RunningProcess> => {
      const proc = spawnCli("lab", ["--sip-port", String(sipPort), "--answer-delay", "50", "--realms", realms, "--record", join(dir, record), "--log-level", "warn"]);
      running.push(proc);
      return proc.waitFor("SIGTERM stops the lab", { ms: 30_000, stream: "stdout" }).then(() => proc);
    };
    const sip1 = `127.0.0.1:${sipPort}`;
    const first = await lab("lab.jsonl");
    const two = await startSippCallers(sip1, "isp-b.example", 2, "two");
    expect(two.code, two.stdout.slice(-1500)).toBe(0);
    await usageIn(join(dir, "lab.jsonl"), "two-", 2);
    const spent = await startSippCallers(sip1, "isp-b.example", 1, "spent");
    expect(spent.code, spent.stdout.slice(-1500)).toBe(0);
    expect(await first.stop("SIGKILL")).toBe(null);

    await lab("lab-again.jsonl");
    const after = await startSippCallers(sip1, "isp-b.example", 1, "after");
    expect(after.code, after.stdout.slice(-1500)).toBe(0);
    const byCall = new Map([...finals(recordsOf(join(dir, "lab.jsonl"))), ...finals(recordsOf(join(dir, "lab-again.jsonl")))]);
    expect(startingWith(byCall, "two-").map((f) => f.status)).toEqual([200, 200]);
    const timeUp = { status: 403, reason: 'SIP;cause=403;text="capacity of isp-b: time"' };
    expect(startingWith(byCall, "spent-")).toEqual([timeUp]);
    expect(startingWith(byCall, "after-")).toEqual([timeUp]);
    // The journal is where the realms file said, beside it.
    expect(existsSync(join(dir, "capacity.jsonl"))).toBe(true);
  }, 120_000);
});
