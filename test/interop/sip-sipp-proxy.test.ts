// SIPp UAC → `callgate proxy` (its own process) → SIPp UAS, over UDP and TCP, on loopback (issue 3 interop).
import { describe, expect, it } from "vitest";
import { findFile, freePort, readSippScreen, readSippStats, sippPath, startCliProxy, startSipp, waitForListener, workDir } from "./sip-sipp-helpers.js";

const CALLS = 2000;
const RATE = 200;

async function runThroughProxy(protocol: "udp" | "tcp") {
  expect(sippPath(), "sipp (Debian sip-tester) must be installed").toBeTruthy();
  const uasPort = await freePort();
  const uacPort = await freePort();
  const proxyPort = await freePort();
  const dir = workDir(`callgate-sipp-${protocol}-`);
  const proxy = await startCliProxy(["--listen", `${protocol}:127.0.0.1:${proxyPort}`, "--next-hop", `${protocol}:127.0.0.1:${uasPort}`]);
  const transportFlag = protocol === "udp" ? ["-t", "u1"] : ["-t", "t1"];
  const common = ["-i", "127.0.0.1", "-nostdin", "-trace_stat", "-fd", "1", "-trace_screen", "-trace_err"];
  const uas = startSipp(["-sn", "uas", ...transportFlag, "-p", String(uasPort), "-m", String(CALLS), ...common], dir);
  let proxyStats: Record<string, number> | undefined;
  try {
    await waitForListener(uasPort, protocol); // the UAS must be up before calls arrive
    const uacDir = workDir(`callgate-sipp-uac-${protocol}-`);
    const uac = startSipp(
      ["-sn", "uac", ...transportFlag, `127.0.0.1:${proxyPort}`, "-p", String(uacPort), "-m", String(CALLS), "-r", String(RATE), "-l", "400", ...common],
      uacDir,
    );
    const uacRun = await uac.done;
    const uasRun = await Promise.race([uas.done, new Promise<undefined>((r) => setTimeout(() => r(undefined), 10_000))]);
    const stats = readSippStats(findFile(uacDir, ".csv"));
    const screen = readSippScreen(findFile(uacDir, "_screen.log"));
    proxyStats = await proxy.stop();
    return { uacRun, uasRun, stats, screen, proxyStats };
  } finally {
    uas.child.kill("SIGTERM");
    if (!proxyStats) proxy.child.kill("SIGKILL");
  }
}

describe("SIPp through `callgate proxy`", () => {
  for (const protocol of ["udp", "tcp"] as const) {
    it(`${CALLS} calls over ${protocol.toUpperCase()}: all successful, none failed, no unexpected message`, async () => {
      const r = await runThroughProxy(protocol);
      expect(r.stats["SuccessfulCall(C)"]).toBe(String(CALLS));
      expect(r.stats["FailedCall(C)"]).toBe("0");
      expect(r.stats["FailedUnexpectedMessage(C)"]).toBe("0");
      expect(r.screen.unexpected).toBe(0);
      // Late retransmissions of a completed call ("dead call" messages, e.g. a UAS repeating its 200 because
      // the ACK took > T1 on a loaded machine) are legitimate; messages for no call at all are not.
      expect(r.screen.outOfCallMsgs).toBe(0);
      expect(r.uacRun.code).toBe(0); // SIPp exits 0 only if every call succeeded
      expect(r.uasRun?.code).toBe(0);
      // Every call's 6 requests/responses in each direction went through; nothing was malformed.
      expect(r.proxyStats.received).toBeGreaterThanOrEqual(CALLS * 6);
      expect(r.proxyStats).toMatchObject({ malformedDatagrams: 0, malformedStreams: 0, badRequests: 0 });
    });
  }
});
