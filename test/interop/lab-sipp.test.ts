// SIPp (an outside UAC) calls through the lab: SIP1 → SIP2 → UAS with COPS and OSP on loopback (issue 7).
import { describe, expect, it } from "vitest";
import type { MessageRecord } from "../../lib/drivers/message-record.js";
import { startLab } from "../../lib/flow/lab.js";
import { spawnCli } from "../support/cli-process.js";
import { findFile, freePort, readSippStats, sippPath, startSipp, workDir } from "./sip-sipp-helpers.js";

const CALLS = 5;

function sippUac(target: string, port: number, calls: number, dir: string) {
  return startSipp(
    ["-sn", "uac", "-m", String(calls), "-r", "5", "-s", "15551234567", target, "-i", "127.0.0.1", "-p", String(port), "-nostdin", "-timeout", "20", "-trace_stat", "-fd", "1"],
    dir,
  );
}

/** Index of the first record `from → to` labelled `msg`, at or after `start`; -1 when none. */
function indexOf(records: readonly MessageRecord[], from: string, to: string, msg: string, start = 0): number {
  return records.findIndex((r, i) => i >= start && r.from === from && r.to === to && r.msg === msg);
}

describe("callgate lab with SIPp as the caller", () => {
  it(`${CALLS} SIPp calls through SIP1 to the UAS behind SIP2: all successful, FIG. 5 / FIG. 6 messages between the right roles`, async () => {
    expect(sippPath(), "sipp (Debian sip-tester) must be installed").toBeTruthy();
    const errors: string[] = [];
    const lab = await startLab({ answerDelayMs: 100, keepRecords: true, onError: (where, err) => errors.push(`${where}: ${String(err)}`) });
    try {
      const sip1 = lab.endpoints.SIP1?.sip ?? "";
      expect(sip1).toMatch(/^127\.0\.0\.1:\d+$/);
      for (const role of ["POL1", "POL2"]) expect(lab.endpoints[role]?.cops).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(lab.endpoints.CH?.osp).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/osp$/);
      expect(Object.keys(lab.endpoints)).not.toContain("UAC");

      const dir = workDir("callgate-lab-sipp-");
      const uac = sippUac(sip1, await freePort(), CALLS, dir);
      const run = await uac.done;
      const stats = readSippStats(findFile(dir, ".csv"));
      expect(stats["SuccessfulCall(C)"]).toBe(String(CALLS));
      expect(stats["FailedCall(C)"]).toBe("0");
      expect(run.code).toBe(0);
      // Let the usage reports of the last call reach the clearinghouse.
      await new Promise((r) => setTimeout(r, 500));

      const callIds = [...new Set(lab.records.filter((r) => r.from === "UAC" && r.msg === "INVITE").map((r) => r.callId))];
      expect(callIds).toHaveLength(CALLS);
      const call = lab.records.filter((r) => r.callId === callIds[0]);
      // FIG. 5 (set-up) then FIG. 6 (tear-down), each step after the one it depends on.
      const steps: Array<[string, string, string]> = [
        ["UAC", "SIP1", "INVITE"],
        ["SIP1", "POL1", "REQ AAA"],
        ["POL1", "CH", "AuthorisationRequest"],
        ["POL1", "SIP1", "DEC AAA"],
        ["SIP1", "SIP2", "INVITE"],
        ["SIP2", "POL2", "REQ AAA"],
        ["POL2", "SIP2", "DEC AAA"],
        ["SIP2", "UAS", "INVITE"],
        ["UAS", "SIP2", "180 Ringing"],
        ["SIP2", "POL2", "REQ LDP"],
        ["POL2", "R2", "DEC Install"],
        ["R2", "POL2", "RPT Success"],
        ["POL2", "SIP2", "DEC LDP"],
        ["SIP2", "SIP1", "180 Ringing"],
        ["SIP1", "POL1", "REQ LDP"],
        ["POL1", "R1", "DEC Install"],
        ["R1", "POL1", "RPT Success"],
        ["POL1", "SIP1", "DEC LDP"],
        ["SIP1", "UAC", "180 Ringing"],
        ["SIP1", "UAC", "200 OK"],
        ["UAC", "SIP1", "ACK"],
        ["UAC", "SIP1", "BYE"],
        ["SIP1", "POL1", "REQ noLDP"],
        ["POL1", "R1", "DEC Remove"],
        ["POL1", "CH", "UsageIndication"],
      ];
      let at = 0;
      for (const [from, to, msg] of steps) {
        const i = indexOf(call, from, to, msg, at);
        expect(i, `${from} → ${to} ${msg} after record ${at}`).toBeGreaterThanOrEqual(0);
        at = i + 1;
      }
      // FIG. 6 step 12: the BYE's 200 OK follows SIP2's 200 OK (step 11), concurrently with POL1's usage report.
      const byeAtSip1 = indexOf(call, "UAC", "SIP1", "BYE");
      const okFromSip2 = indexOf(call, "SIP2", "SIP1", "200 OK", byeAtSip1);
      expect(okFromSip2, "SIP2 → SIP1 200 OK after the BYE").toBeGreaterThan(byeAtSip1);
      expect(indexOf(call, "SIP1", "UAC", "200 OK", okFromSip2), "SIP1 → UAC 200 OK after SIP2's").toBeGreaterThan(okFromSip2);
      // The terminating side of the tear-down.
      const bye = indexOf(call, "SIP2", "UAS", "BYE");
      expect(bye).toBeGreaterThan(0);
      for (const [from, to, msg] of [["SIP2", "POL2", "REQ noLDP"], ["POL2", "R2", "DEC Remove"], ["POL2", "CH", "UsageIndication"]] as const) {
        expect(indexOf(call, from, to, msg), `${from} → ${to} ${msg}`).toBeGreaterThanOrEqual(0);
      }
      // The outside caller's messages carry its real loopback address and port.
      const invite = call[indexOf(call, "UAC", "SIP1", "INVITE")];
      expect(invite?.transport).toMatchObject({ kind: "udp", src: "127.0.0.1", dst: "127.0.0.1", dstPort: Number(sip1.split(":")[1]) });
      expect(errors).toEqual([]);
    } finally {
      await lab.close();
    }
  }, 30_000);

  it("`callgate lab` (the command, its own process) prints the addresses, carries a SIPp call and prints its ladder on SIGTERM", async () => {
    expect(sippPath(), "sipp (Debian sip-tester) must be installed").toBeTruthy();
    const sipPort = await freePort();
    const lab = spawnCli("lab", ["--sip-port", String(sipPort), "--answer-delay", "50", "--ladder", "--no-color"]);
    try {
      await lab.waitFor("SIGTERM stops the lab", { stream: "stdout", ms: 20_000 });
      expect(lab.stdout()).toContain(`SIP1  sip 127.0.0.1:${sipPort}`);
      expect(lab.stdout()).toMatch(/POL1\s+cops 127\.0\.0\.1:\d+/);
      expect(lab.stdout()).toMatch(/CH\s+osp http:\/\/127\.0\.0\.1:\d+\/osp/);

      const dir = workDir("callgate-lab-cli-sipp-");
      const run = await sippUac(`127.0.0.1:${sipPort}`, await freePort(), 1, dir).done;
      expect(run.code).toBe(0);
      expect(readSippStats(findFile(dir, ".csv"))["SuccessfulCall(C)"]).toBe("1");
      await new Promise((r) => setTimeout(r, 300));
      expect(await lab.stop()).toBe(0);
      expect(lab.stdout()).toContain("1 call(s) from outside");
      for (const label of ["REQ AAA", "DEC Install", "REQ noLDP", "DEC Remove", "UsageIndication"]) expect(lab.stdout()).toContain(label);
      // stderr holds the JSON log only, nothing above info (no error, no drop).
      const logLines = lab.stderr().trim().split("\n").map((l) => JSON.parse(l) as { level: number; msg: string });
      expect(logLines.map((l) => l.msg)).toEqual(["lab started", "lab stopped"]);
      expect(logLines.every((l) => l.level <= 30)).toBe(true);
    } finally {
      if (lab.child.exitCode === null) lab.child.kill("SIGKILL");
    }
  }, 30_000);
});
