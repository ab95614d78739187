// `callgate lab` with TLS on every link between its roles (SIP from SIP1 on, COPS, OSP over HTTPS; one
// certificate naming every role, the CA pinned, mutual TLS): a SIPp call over UDP to SIP1 completes, and a
// tshark capture of the lab's COPS and OSP ports holds TLS records only. A certificate that does not name
// every role, or one without --tls-ca, is refused at start.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { killStartedProcesses, spawnCli, startProcess, type RunningProcess } from "../support/cli-process.js";
import { addCertificate, makeTestPki, type TestPki } from "../support/tls-test-pki.js";
import { findFile, freePort, readSippStats, startSipp, workDir } from "./sip-sipp-helpers.js";

const LAB_NAMES = ["sip1", "pol1", "r1", "ch", "sip2", "pol2", "r2", "uas"];
let pki: TestPki;
let lab: { certificate: string; key: string };
let partial: { certificate: string; key: string };

beforeAll(() => {
  pki = makeTestPki([]);
  lab = addCertificate(pki, "lab", "callgate lab", LAB_NAMES);
  partial = addCertificate(pki, "partial", "SIP1", ["sip1", "sip2"]);
});

afterAll(killStartedProcesses);

describe("callgate lab over TLS", () => {
  it("a SIPp call completes through the lab with TLS between every role; COPS and OSP on the wire are TLS records", async () => {
    const sipPort = await freePort();
    const p = spawnCli("lab", ["--sip-port", String(sipPort), "--answer-delay", "50", "--log-level", "warn", "--tls-cert", lab.certificate, "--tls-key", lab.key, "--tls-ca", pki.caFile, "--tls-require-client-cert"]);
    let capture: RunningProcess | undefined;
    try {
      await p.waitFor("SIGTERM stops the lab", { what: "lab" });
      expect(p.output()).toContain("SIP/TLS between the roles, COPS/TLS, OSP/HTTPS");
      expect(p.output()).toMatch(/CH\s+osp https:\/\/127\.0\.0\.1:\d+\/osp/);
      // The caller's address is SIP1's UDP port, as the lab prints it.
      expect(p.output()).toContain(`SIP1  sip 127.0.0.1:${sipPort}\n`);
      const sip2 = Number(/SIP2\s+sip 127\.0\.0\.1:(\d+);transport=tls/.exec(p.output())?.[1]);
      const pol1 = Number(/POL1\s+cops 127\.0\.0\.1:(\d+)/.exec(p.output())?.[1]);
      const ch = Number(/CH\s+osp https:\/\/127\.0\.0\.1:(\d+)/.exec(p.output())?.[1]);
      expect(sip2 > 0 && pol1 > 0 && ch > 0, p.output()).toBe(true);
      // The proxies' COPS connections opened at start; the call's REQs, SIP1→SIP2 and OSP come after the capture starts.
      const dir = workDir("callgate-lab-tls-");
      const pcap = join(dir, "lab.pcap");
      capture = startProcess("tshark", ["-i", "lo", "-f", `tcp port ${sip2} or tcp port ${pol1} or tcp port ${ch}`, "-w", pcap]);
      await capture.waitFor("Capturing on", { ms: 30_000 });
      const run = await startSipp(["-sn", "uac", "-m", "1", "-r", "1", "-s", "15551234567", `127.0.0.1:${sipPort}`, "-i", "127.0.0.1", "-p", String(await freePort()), "-nostdin", "-timeout", "20", "-trace_stat", "-fd", "1"], dir).done;
      expect(run.code, run.stdout + run.stderr).toBe(0);
      expect(readSippStats(findFile(dir, ".csv"))["SuccessfulCall(C)"]).toBe("1");
      await new Promise((r) => setTimeout(r, 500));
      capture.child.kill("SIGINT");
      await capture.exited;
      const asTls = [sip2, pol1, ch].flatMap((port) => ["-d", `tcp.port==${port},tls`]);
      const records = execFileSync("tshark", ["-r", pcap, ...asTls, "-Y", "tls.record.opaque_type == 23 || tls.record.content_type == 23", "-T", "fields", "-e", "tcp.dstport"], { encoding: "utf8" }).trim().split("\n").filter(Boolean).map(Number);
      // Application data to SIP2 (the INVITE), to POL1 (REQ AAA) and to CH (AuthorisationRequest).
      for (const port of [sip2, pol1, ch]) expect(records, String(port)).toContain(port);
      expect(execFileSync("tshark", ["-r", pcap, "-Y", "sip || cops || http || xml", "-T", "fields", "-e", "frame.number"], { encoding: "utf8" }).trim()).toBe("");
      const payload = Buffer.from(execFileSync("tshark", ["-r", pcap, "-Y", "tcp.len > 0", "-T", "fields", "-e", "tcp.payload"], { encoding: "utf8" }).replace(/[^0-9a-f]/gi, ""), "hex").toString("latin1");
      for (const clear of ["SIP/2.0", "INVITE sip:", "<Message", "POST /osp"]) expect(payload.includes(clear), clear).toBe(false);
    } finally {
      if (capture && capture.child.exitCode === null) capture.child.kill("SIGINT");
      p.child.kill("SIGTERM");
      await p.exited;
    }
    expect(p.output()).toContain("1 call(s) from outside");
  });

  it("refused at start: a certificate that does not name every role, --tls-cert without --tls-ca", async () => {
    const notAll = spawnCli("lab", ["--tls-cert", partial.certificate, "--tls-key", partial.key, "--tls-ca", pki.caFile]);
    const noCa = spawnCli("lab", ["--tls-cert", lab.certificate, "--tls-key", lab.key]);
    expect(await notAll.exited).toBe(2);
    expect(notAll.output()).toMatch(/--tls-cert .*partial\.pem: the certificate does not name pol1, r1, ch, pol2, r2, uas/);
    expect(await noCa.exited).toBe(2);
    expect(noCa.output()).toContain("--tls-cert needs --tls-ca in the lab");
  });
});
