// Issue 12, "a crash leaves nothing behind": nine `callgate serve` processes under load; one role is SIGKILLed
// mid-run and started again. Afterwards every answered call has exactly one CDR per side in the clearinghouse's
// SQLite store, the routers removed every classifier they installed, and no role holds a call or a COPS
// request state (RFC 2748 §2.5 resynchronisation, RFC 3084 state reported by the router).
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { recordFromJsonLine } from "../../lib/drivers/message-record.js";
import { BUILT_CLI as CLI, killStartedProcesses, type RunningProcess } from "../support/cli-process.js";
import { rolesSection } from "../support/deploy-file.js";
import { SERVER_ROLES as SERVERS, namedFreePorts, serveProcess } from "../support/serve-deployment.js";

/**
 * Roles killed, one deployment each (about 5 minutes for the eight; a proxy or the callee takes about 60 s:
 * calls left ringing there end 64·T1 after the caller's CANCEL). CHAOS_ROLES=POL1,R1 narrows the list. The
 * caller is the load generator (SIPp or phones in a deployment) and is not killed.
 */
const KILLED = (process.env.CHAOS_ROLES ?? "POL1,POL2,R1,R2,CH,SIP1,SIP2,UAS").split(",").filter(Boolean);
const CALLS = 50;
const INTERVAL_MS = 100;
const KILL_AFTER_MS = 2500;
const DOWN_MS = 300;
const DURATION_MS = 6000;

afterAll(killStartedProcesses);

/** The host's monotonic clock, as `callgate serve` stamps its records. */
const hostClockMs = (): number => Number(process.hrtime.bigint() / 1000n) / 1000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const serve = (role: string, config: string, record: string): RunningProcess => serveProcess(role, config, record, { built: true });
/** Resolves once `ROLE ready` has been printed `times` times (a restarted role prints it again). */
const ready = (p: RunningProcess, role: string, times = 1): Promise<void> => p.waitFor(`${role} ready`, { what: role, ms: 90_000, times });

async function writeConfig(dir: string): Promise<string> {
  const { uac, sip1, pol1, ch, sip2, pol2, uas } = await namedFreePorts(["uac", "sip1", "pol1", "ch", "sip2", "pol2", "uas"]);
  const sip = (port: number): string => `{ udp: ${port} }`;
  const file = join(dir, "deploy.yaml");
  writeFileSync(
    file,
    [
      "name: chaos",
      "seed: 12",
      // Short clearinghouse timers: a usage report to a dead clearinghouse is retried within the run.
      "topology: { clearinghouse: osp-http, signedTokens: true, sipTransport: udp, clearinghouseTimeoutMs: 1000, usageRetryMs: 1000 }",
      "cdrStore: cdrs.sqlite",
      ...rolesSection({ UAC: sip(uac), SIP1: sip(sip1), POL1: pol1, CH: ch, SIP2: sip(sip2), POL2: pol2, UAS: sip(uas) }),
      // A caller that hears nothing final for 5 s cancels (the callee's process may have died while ringing).
      // Calls last 6 s: calls set up before the kill are still up when the victim is back, however slow its start.
      `calls: { count: ${CALLS}, intervalMs: ${INTERVAL_MS}, answerDelayMs: 200, durationMs: ${DURATION_MS}, hangUp: caller, noAnswerTimeoutMs: 5000 }`,
      "",
    ].join("\n"),
  );
  return file;
}

/** Waits until no role has written a record for `quietMs` (the teardown and usage retries run behind the UAC). */
async function untilQuiet(files: string[], quietMs: number, maxMs: number): Promise<void> {
  const size = (): number => files.reduce((n, f) => n + (existsSync(f) ? statSync(f).size : 0), 0);
  let last = size();
  let since = Date.now();
  const until = Date.now() + maxMs;
  while (Date.now() < until) {
    await sleep(250);
    const now = size();
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) return;
  }
}

/** `ROLE holds {...}`: what a role still held when it was stopped. */
function holds(output: string, role: string): Record<string, number> {
  const line = output.split("\n").find((l) => l.startsWith(`${role} holds `));
  expect(line, `${role} printed no state: ${output}`).toBeDefined();
  return JSON.parse((line ?? "").slice(`${role} holds `.length)) as Record<string, number>;
}

interface Cdr {
  role?: string;
  callId?: string;
  messageId: string;
}

describe("chaos: one role SIGKILLed and restarted under load (nine callgate serve processes)", () => {
  for (const killed of KILLED) {
    it(`${killed}: one CDR per side for every answered call, every classifier removed, no state left`, async () => {
      expect(existsSync(CLI), "run `npm run build` first").toBe(true);
      const dir = mkdtempSync(join(tmpdir(), "callgate-chaos-"));
      const config = await writeConfig(dir);
      const record = (role: string): string => join(dir, `${role}.jsonl`);
      const procs = new Map<string, RunningProcess>();
      for (const role of SERVERS) procs.set(role, serve(role, config, record(role)));
      for (const role of SERVERS) await ready(procs.get(role)!, role);
      const uac = serve("UAC", config, record("UAC"));

      await sleep(KILL_AFTER_MS);
      const victim = procs.get(killed)!;
      victim.child.kill("SIGKILL");
      await victim.exited;
      const killedAt = hostClockMs();
      await sleep(DOWN_MS);
      const again = serve(killed, config, record(killed));
      await ready(again, killed);
      const restartedAt = hostClockMs();
      const restartedWall = Date.now();
      procs.set(killed, again);

      // A call whose INVITE the killed proxy had taken never gets a final response at the UAC (its user agent has
      // no Timer C): the UAC is stopped once every call had time to be answered (5 s) and hung up (6 s).
      await Promise.race([uac.exited, sleep(CALLS * INTERVAL_MS + DURATION_MS + 18_000)]);
      uac.child.kill("SIGTERM");
      await uac.exited;
      const files = ["UAC", ...SERVERS].map(record);
      // A proxy or callee killed while a call was ringing there is silent: the proxies answer the caller's CANCEL
      // (sent after 5 s) themselves 64·T1 (32 s) later (RFC 3261 §9.1), with nothing on the wire meanwhile.
      if (killed === "UAS" || killed === "SIP1" || killed === "SIP2") await sleep(restartedWall + 5000 + 64 * 500 + 5000 - Date.now());
      // Quiet for longer than the callee's 2xx retransmission interval (at most 4 s).
      await untilQuiet(files, 5000, 90_000);
      for (const p of procs.values()) p.child.kill("SIGTERM");
      const codes = await Promise.all([...procs.values()].map((p) => p.exited));
      expect(codes, [...procs.values()].map((p) => p.output()).join("\n")).toEqual([...procs.values()].map(() => 0));

      // The kill fell mid-run: a call set up before it was torn down after the restart.
      const uacRecords = readFileSync(record("UAC"), "utf8").trim().split("\n").map((l) => recordFromJsonLine(l));
      const invitedAt = new Map<string, number>();
      for (const r of uacRecords) if (r.msg === "INVITE" && !invitedAt.has(r.callId)) invitedAt.set(r.callId, r.t);
      const byeAfter = uacRecords.filter((r) => r.msg === "BYE" && r.t > restartedAt && (invitedAt.get(r.callId) ?? Infinity) < killedAt);
      expect(byeAfter.length, "calls spanning the kill").toBeGreaterThan(0);

      // Answered: the caller hung up (hangUp: caller), so it sent BYE.
      const answered = [...new Set(uacRecords.filter((r) => r.msg === "BYE").map((r) => r.callId))];
      // Calls placed while the victim was down may be refused (fail-closed); a slow restart under load refuses more.
      expect(answered.length, uac.output()).toBeGreaterThanOrEqual(10);

      const exported = spawnSync(process.execPath, [CLI, "clearinghouse", "cdrs", "--db", join(dir, "cdrs.sqlite"), "--format", "json"], { encoding: "utf8" });
      expect(exported.status, exported.stderr).toBe(0);
      const cdrs = JSON.parse(exported.stdout) as Cdr[];
      const perSide = new Map<string, number>();
      for (const c of cdrs) {
        const key = `${Buffer.from(c.callId ?? "", "base64").toString("utf8")} ${c.role ?? "?"}`;
        perSide.set(key, (perSide.get(key) ?? 0) + 1);
      }
      const problems: string[] = [];
      for (const callId of answered)
        for (const side of ["source", "destination"]) if (perSide.get(`${callId} ${side}`) !== 1) problems.push(`${callId} ${side}: ${perSide.get(`${callId} ${side}`) ?? 0} CDRs`);
      for (const [key, n] of perSide) if (n > 1) problems.push(`${key}: ${n} CDRs`);

      const out = (role: string): string => procs.get(role)!.output();
      const routers: string[] = [];
      for (const router of ["R1", "R2"]) {
        const h = holds(out(router), router);
        routers.push(`${router} ${h.installs} installs / ${h.removals} removals`);
        if (h.classifiers !== 0 || h.installs !== h.removals) problems.push(`${router} holds ${JSON.stringify(h)}`);
      }
      for (const role of ["POL1", "POL2", "SIP1", "SIP2"]) {
        const h = holds(out(role), role);
        if (h.calls !== 0 || h.copsRequestStates !== 0 || (h.usageBacklog ?? 0) !== 0) problems.push(`${role} holds ${JSON.stringify(h)}`);
      }
      for (const [role, p] of procs) writeFileSync(join(dir, `${role}.out`), p.output());
      writeFileSync(join(dir, "UAC.out"), uac.output());
      console.log(`chaos ${killed}: ${CALLS} calls, ${answered.length} answered, ${cdrs.length} CDRs, ${routers.join(", ")} (run of the killed process's successor)`);
      expect([...new Set(problems)], `answered ${answered.length}, CDRs ${cdrs.length}; outputs in ${dir}`).toEqual([]);
      rmSync(dir, { recursive: true, force: true }); // kept only when the run failed
    });
  }
});
