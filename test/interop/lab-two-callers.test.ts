// Two outside callers at once through one `callgate lab` process, two SIPp processes on ports of their own (both
// over UDP, both over TCP, one of each): every call's callee re-INVITE (a request to the caller in its dialog, RFC 3261 §12.2) reaches the SIPp
// that placed the call, on its own source or connection, and every BYE of both gets its 200; a second caller's TCP
// connection leaves the first's calls alone.
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { killStartedProcesses, spawnCli } from "../support/cli-process.js";
import { findFile, freePort, readSippScreen, readSippStats, sippPath, startSipp, workDir } from "./sip-sipp-helpers.js";
import { SCENARIO_DIR } from "./sipp-softphone-helpers.js";

afterAll(() => killStartedProcesses());

const CALLS = 6;

function caller(transport: "u1" | "t1", target: string, localPort: number, prefix: string): { dir: string; done: ReturnType<typeof startSipp>["done"] } {
  const dir = workDir(`callgate-lab-two-callers-${prefix}-`);
  const sipp = startSipp(
    ["-sf", join(SCENARIO_DIR, "callee-reinvites-caller.xml"), "-t", transport, "-m", String(CALLS), "-r", "10", "-l", String(CALLS), "-i", "127.0.0.1", "-p", String(localPort), "-cid_str", `${prefix}-%u-%p@%s`, "-nostdin", "-timeout", "30", "-trace_stat", "-trace_screen", "-trace_err", "-fd", "1", target],
    dir,
  );
  return { dir, done: sipp.done };
}

describe("callgate lab with two outside callers at once", () => {
  const pairs: (readonly ["u1" | "t1", "u1" | "t1"])[] = [["u1", "u1"], ["t1", "t1"], ["u1", "t1"]];
  it.each(pairs)("two SIPp (%s, %s) call at once: each gets its own calls' re-INVITEs and every BYE answered, none fails", async (first, second) => {
    expect(sippPath(), "sipp (Debian sip-tester) must be installed").toBeTruthy();
    const sipPort = await freePort();
    const lab = spawnCli("lab", ["--sip-port", String(sipPort), "--answer-delay", "100", "--reinvites", "[{by: callee, afterMs: 300, hold: true}]"]);
    try {
      await lab.waitFor("SIGTERM stops the lab", { stream: "stdout", ms: 30_000 });
      const target = `127.0.0.1:${sipPort}`;
      const one = caller(first, target, await freePort(), `one-${first}`);
      const two = caller(second, target, await freePort(), `two-${second}`);
      const [runOne, runTwo] = await Promise.all([one.done, two.done]);
      for (const [name, run, dir] of [[`one-${first}`, runOne, one.dir], [`two-${second}`, runTwo, two.dir]] as const) {
        const stats = readSippStats(findFile(dir, ".csv"));
        expect(stats["SuccessfulCall(C)"], `${name}: ${run.stdout.slice(-1500)}`).toBe(String(CALLS));
        expect(stats["FailedCall(C)"], name).toBe("0");
        const screen = readSippScreen(findFile(dir, "_screen.log"));
        expect(screen.unexpected, name).toBe(0);
        expect(screen.outOfCallMsgs, name).toBe(0);
        expect(run.code, name).toBe(0);
      }
      await new Promise((r) => setTimeout(r, 300));
      expect(await lab.stop("SIGINT")).toBe(0);
      expect(lab.stdout()).toContain(`${2 * CALLS} call(s) from outside`);
      expect(lab.stdout()).toContain("every answered call ended");
      // no drop logged: no request went to a caller it was not for, none was lost
      const logLines = lab.stderr().trim().split("\n").map((l) => JSON.parse(l) as { level: number; msg: string });
      expect(logLines.map((l) => l.msg)).toEqual(["lab started", "lab stopped"]);
    } finally {
      if (lab.child.exitCode === null) lab.child.kill("SIGKILL");
    }
  }, 60_000);
});
