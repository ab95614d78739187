// Caller authentication from the deploy file's `auth` section: SIP1, POL1, R1, SIP2, POL2, R2 and the UAS as
// `callgate serve` processes (the built CLI), SIPp with [authentication] in the UAC's place. SIP1's process
// challenges, POL1's checks the credentials file: the right password is connected, a wrong one refused 403.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { credentialLine } from "../../lib/auth/credential-store.js";
import { killStartedProcesses, type RunningProcess } from "../support/cli-process.js";
import { rolesSection } from "../support/deploy-file.js";
import { namedFreePorts, serveProcess } from "../support/serve-deployment.js";
import { findFile, readSippStats, sippPath, startSipp, workDir } from "./sip-sipp-helpers.js";
import { SCENARIO_DIR } from "./sipp-softphone-helpers.js";

const ROLES = ["SIP1", "POL1", "R1", "SIP2", "POL2", "R2", "UAS"] as const;
const running: RunningProcess[] = [];

afterAll(async () => {
  await Promise.all(running.map((p) => p.stop()));
  killStartedProcesses();
});

async function sipp(file: string, password: string, sip1: number, uacPort: number): Promise<number> {
  const work = workDir("callgate-auth-serve-sipp-");
  const run = await startSipp(
    ["-sf", join(SCENARIO_DIR, file), "-m", "1", "-s", "bob", "-au", "alice", "-ap", password, "-i", "127.0.0.1", "-p", String(uacPort), "-nostdin", "-timeout", "30", "-trace_stat", "-trace_err", "-fd", "1", `127.0.0.1:${sip1}`],
    work,
  ).done;
  const errors = spawnSync("sh", ["-c", `cat ${work}/*_errors.log 2>/dev/null`], { encoding: "utf8" }).stdout;
  expect(errors, run.stdout.slice(-1500)).toBe("");
  return Number(readSippStats(findFile(work, ".csv"))["SuccessfulCall(C)"]);
}

describe("callgate serve with the deploy file's auth section", () => {
  it("SIPp in the UAC's place: the right password connected, a wrong one 403", async () => {
    expect(sippPath(), "sipp (Debian sip-tester) must be installed").toBeTruthy();
    const dir = mkdtempSync(join(tmpdir(), "callgate-auth-serve-"));
    writeFileSync(join(dir, "credentials"), `${credentialLine("MD5", "alice", "sip1.example.com", "wonderland")}\n`);
    const p = await namedFreePorts(["uac", "sip1", "pol1", "ch", "sip2", "pol2", "uas"]);
    const config = join(dir, "deploy.yaml");
    writeFileSync(
      config,
      [
        "name: auth",
        "topology: { clearinghouse: none }",
        "auth: { realm: sip1.example.com, credentials: credentials, algorithms: [MD5] }",
        ...rolesSection({ UAC: `{ udp: ${p.uac} }`, SIP1: `{ udp: ${p.sip1} }`, POL1: p.pol1, CH: p.ch, SIP2: `{ udp: ${p.sip2} }`, POL2: p.pol2, UAS: `{ udp: ${p.uas} }` }),
        "calls: { count: 1, answerDelayMs: 100, durationMs: 300, hangUp: caller }",
        "",
      ].join("\n"),
    );
    for (const role of ROLES) running.push(serveProcess(role, config, join(dir, `${role}.jsonl`), { built: true }));
    for (const [i, role] of ROLES.entries()) await running[i]!.waitFor(`${role} ready`, { what: role, ms: 90_000 });
    expect(await sipp("auth-digest.xml", "wonderland", p.sip1, p.uac)).toBe(1);
    expect(await sipp("auth-digest-wrong-password.xml", "guess", p.sip1, p.uac)).toBe(1);
  }, 150_000);
});
