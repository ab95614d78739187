// `callgate proxy --metrics`: SIPp UAC → proxy → SIPp UAS; the proxy's /metrics counts the calls and its drops (issue 12).
import { createSocket } from "node:dgram";
import { describe, expect, it } from "vitest";
import { findFile, freePort, readSippStats, sippPath, startCliProxy, startSipp, waitForListener, workDir } from "./sip-sipp-helpers.js";
import { metricSample } from "../support/observability-helpers.js";

const CALLS = 3;


describe("callgate proxy, operated", () => {
  it("its /metrics counts answered calls and a dropped datagram by cause", async () => {
    expect(sippPath(), "sipp (Debian sip-tester) must be installed").toBeTruthy();
    const [uasPort, uacPort, proxyPort, metricsPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const dir = workDir("callgate-proxy-metrics-");
    const proxy = await startCliProxy(["--listen", `udp:127.0.0.1:${proxyPort}`, "--next-hop", `udp:127.0.0.1:${uasPort}`, "--metrics", `127.0.0.1:${metricsPort}`, "--log-level", "warn"]);
    const common = ["-i", "127.0.0.1", "-nostdin", "-trace_stat", "-fd", "1"];
    const uas = startSipp(["-sn", "uas", "-p", String(uasPort), "-m", String(CALLS), ...common], dir);
    let stopped = false;
    try {
      const url = `http://127.0.0.1:${metricsPort}/metrics`;
      expect(metricSample(await (await fetch(url)).text(), "callgate_calls_total")).toBeUndefined();
      await waitForListener(uasPort, "udp");
      const uacDir = workDir("callgate-proxy-metrics-uac-");
      const uac = await startSipp(["-sn", "uac", `127.0.0.1:${proxyPort}`, "-p", String(uacPort), "-m", String(CALLS), "-r", "10", ...common], uacDir).done;
      expect(uac.code).toBe(0);
      expect(readSippStats(findFile(uacDir, ".csv"))["SuccessfulCall(C)"]).toBe(String(CALLS));
      // A datagram that is no SIP message: dropped, counted by cause (RFC 3261 §18.3 leaves no response possible).
      const sock = createSocket("udp4");
      await new Promise<void>((r) => sock.send(Buffer.from("\x00\x01 not sip\r\n\r\n"), proxyPort, "127.0.0.1", () => r()));
      sock.close();
      let text = "";
      for (let i = 0; i < 40; i++) {
        text = await (await fetch(url)).text();
        if (text.includes('callgate_drops_total{proto="SIP"')) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(metricSample(text, "callgate_calls_total", { outcome: "answered", role: "proxy" })).toBe(CALLS);
      const dropped = text.split("\n").filter((l) => l.startsWith('callgate_drops_total{proto="SIP"'));
      expect(dropped.length, text).toBeGreaterThan(0);
      await proxy.stop();
      stopped = true;
    } finally {
      uas.child.kill("SIGTERM");
      if (!stopped) proxy.child.kill("SIGKILL");
    }
  }, 40_000);
});
