// Deployment files of `callgate serve`: what a valid file gives each process, and how each mistake is named
// (file, line, column, field).
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DeployConfigError, callSpecsOf, checkRoleCovered, directoryOf, loadDeployConfig, parseDeployConfig, rolesFor } from "../../../lib/flow/deploy-config.js";
import { tcpPeerOf } from "../../../lib/flow/serve.js";
import { mergeServeRecords } from "../../../lib/flow/serve-records.js";
import { loadScenarioFile } from "../../../lib/replay/scenario.js";
import { ClientType, encodeCopsMessage } from "../../../protocols/cops/index.js";
import type { MessageRecord } from "../../../lib/drivers/message-record.js";
import { ROLES_ON_TWO_HOSTS as ROLES } from "../../support/deploy-file.js";
import { thrownBy } from "../../support/thrown.js";

function problemsOf(text: string, file = "deploy.yaml"): DeployConfigError {
  return thrownBy(DeployConfigError, () => parseDeployConfig(text, file));
}

describe("deployment file", () => {
  it("a whole deployment: defaults, the driver's directory, the UAC's calls", () => {
    const c = parseDeployConfig(`seed: 3\n${ROLES}calls: { count: 2, intervalMs: 50, answerDelayMs: 10, durationMs: 20, hangUp: callee }\n`);
    expect(c.seed).toBe(3);
    expect(c.topology).toMatchObject({ clearinghouse: "osp-http", signedTokens: true, sipTransport: "udp" });
    expect(directoryOf(c).SIP2).toEqual({ host: "127.0.0.2", sipUdp: 5060 });
    expect(directoryOf(c).POL1).toEqual({ host: "127.0.0.1", cops: 3288 });
    expect(callSpecsOf(c.calls).map((s) => [s.startMs, s.hangUp, s.answerDelayMs])).toEqual([[0, "callee", 10], [50, "callee", 10]]);
    expect(callSpecsOf(c.calls, 1_000_000).map((s) => s.startMs)).toEqual([1_000_000, 1_000_050]);
    expect(rolesFor("POL1", c)).toEqual(["POL1", "SIP1", "R1", "CH"]);
    expect(checkRoleCovered("UAS", c)).toBe("UAS");
  });

  it("the example file under examples/deploy is valid, and is no scenario", () => {
    const c = loadDeployConfig(join("examples", "deploy", "loopback.yaml"));
    for (const role of ["UAC", "SIP1", "POL1", "R1", "CH", "SIP2", "POL2", "R2", "UAS"]) expect(checkRoleCovered(role, c)).toBe(role);
    expect(() => loadScenarioFile(join("examples", "deploy", "loopback.yaml"))).toThrow(/not a scenario: it is a deployment file/);
  });

  it("schema problems name the file, line, column and field", () => {
    const err = problemsOf(`${ROLES}topology: { clearinghouse: in-process, sipTransport: sctp }\ncalls: { count: -1, colour: red }\n`, "d.yaml");
    expect(err.message).toContain("d.yaml:11:28: topology.clearinghouse: must be one of \"osp-http\", \"none\"");
    expect(err.message).toMatch(/d\.yaml:11:\d+: topology\.sipTransport: must be one of "udp", "tcp"/);
    expect(err.message).toMatch(/d\.yaml:12:\d+: calls\.count: must be >= 0/);
    expect(err.message).toMatch(/d\.yaml:12:\d+: calls\.colour: unknown field 'colour'/);
    expect(problemsOf("roles: { SIP3: { host: 127.0.0.1 } }\n").message).toContain("roles.SIP3: unknown field 'SIP3'");
    expect(problemsOf("roles: { SIP1: { sip: { udp: 5060 } } }\n").message).toContain("roles.SIP1.host: missing required field 'host'");
    expect(problemsOf("roles: { SIP1: { host: 127.0.0.1, sip: { udp: 0 } } }\n").message).toContain("roles.SIP1.sip.udp: must be >= 1");
    expect(problemsOf("roles: [\n").message).toMatch(/deploy\.yaml:\d+:\d+: YAML: /);
  });

  it("addresses: loopback only, each listener once, what each role binds", () => {
    const text = ROLES.replace("SIP2: { host: 127.0.0.2", "SIP2: { host: 10.0.0.2").replace("POL2: { host: 127.0.0.2, cops: 3288", "POL2: { host: 127.0.0.1, cops: 3288").replace("R1:   { host: 127.0.0.1 }", "R1:   { host: 127.0.0.1, cops: 3300 }");
    const err = problemsOf(`${text}topology: { sipTransport: tcp }\n`, "x.yaml");
    expect(err.message).toContain("x.yaml:5:34: roles.R1.cops: R1 does not listen for COPS (it only connects out)");
    expect(err.message).toContain("x.yaml:7:17: roles.SIP2.host: '10.0.0.2' is not a loopback address (127.0.0.0/8)");
    expect(err.message).toContain("x.yaml:8:34: roles.POL2.cops: tcp 127.0.0.1:3288 is already POL1.cops's");
    expect(err.message).toContain("x.yaml:3:9: roles.SIP1: SIP1 needs 'sip.tcp' (topology.sipTransport is tcp)");
    expect(problemsOf("roles: { CH: { host: 127.0.0.1 } }\n").message).toContain("roles.CH: CH needs 'osp' (topology.clearinghouse is osp-http)");
    expect(problemsOf("roles: { SIP1: { host: 127.0.0.300, sip: { udp: 5060 } } }\n").message).toContain("not a loopback address");
    expect(() => parseDeployConfig("topology: { clearinghouse: none }\nroles: { CH: { host: 127.0.0.1 } }\n")).not.toThrow();
  });

  it("a process needs its role and its neighbours in the file", () => {
    const c = parseDeployConfig("roles:\n  SIP1: { host: 127.0.0.1, sip: { udp: 5060 } }\n  POL1: { host: 127.0.0.1, cops: 3288 }\n", "part.yaml");
    expect(() => checkRoleCovered("SIP1", c)).toThrow("part.yaml: roles.UAC: missing: SIP1 talks to UAC\npart.yaml: roles.SIP2: missing: SIP1 talks to SIP2");
    expect(() => checkRoleCovered("UAS", c)).toThrow("roles.UAS: missing: the role to serve");
    expect(() => checkRoleCovered("SIP3", c)).toThrow("unknown role 'SIP3'");
    const none = parseDeployConfig(`topology: { clearinghouse: none }\n${ROLES}`);
    expect(rolesFor("POL2", none)).toEqual(["POL2", "SIP2", "R2"]);
    expect(() => checkRoleCovered("CH", none)).toThrow("topology.clearinghouse: is none: there is no CH to serve");
  });

  it("token signing from PEM files next to the deployment file, each file problem named", () => {
    const dir = mkdtempSync(join(tmpdir(), "callgate-deploy-"));
    writeFileSync(join(dir, "ca.pem"), "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n");
    writeFileSync(join(dir, "key.pem"), "-----BEGIN PRIVATE KEY-----\nAQ==\n-----END PRIVATE KEY-----\n");
    writeFileSync(join(dir, "notes.txt"), "not a key");
    const tokens = (key: string): string => `${ROLES}tokens: { caCertificate: ca.pem, signingKey: ${key}, signingCertificate: ca.pem }\n`;
    writeFileSync(join(dir, "ok.yaml"), tokens("key.pem"));
    const c = loadDeployConfig(join(dir, "ok.yaml"));
    expect(c.pki?.signer.privateKeyPem).toContain("BEGIN PRIVATE KEY");
    expect(c.pki?.caCertificatePem).toContain("BEGIN CERTIFICATE");
    writeFileSync(join(dir, "bad.yaml"), tokens("notes.txt").replace("key.pem", "absent.pem"));
    expect(() => loadDeployConfig(join(dir, "bad.yaml"))).toThrow(`bad.yaml:11:46: tokens.signingKey: ${join(dir, "notes.txt")} holds no PEM block`);
    writeFileSync(join(dir, "absent.yaml"), tokens("absent.pem"));
    expect(() => loadDeployConfig(join(dir, "absent.yaml"))).toThrow(`tokens.signingKey: cannot read ${join(dir, "absent.pem")}: ENOENT`);
    writeFileSync(join(dir, "unsigned.yaml"), `${tokens("key.pem")}topology: { signedTokens: false }\n`);
    expect(() => loadDeployConfig(join(dir, "unsigned.yaml"))).toThrow("tokens: topology.signedTokens is false: nothing is signed");
    expect(problemsOf(`${ROLES}tokens: { caCertificate: ca.pem }\n`).message).toContain("tokens.signingKey: missing required field 'signingKey'");
  });

  it("an unreadable file is named", () => {
    const dir = mkdtempSync(join(tmpdir(), "callgate-deploy-"));
    expect(() => loadDeployConfig(join(dir, "absent.yaml"))).toThrow(/absent\.yaml: cannot read: no such file$/);
    writeFileSync(join(dir, "ok.yaml"), ROLES);
    expect(loadDeployConfig(join(dir, "ok.yaml")).file).toBe(join(dir, "ok.yaml"));
  });
});

describe("serve helpers", () => {
  it("names a TCP peer by its COPS PEPID or its SIP Via, among the acceptor's neighbours only", () => {
    const opn = (pepId: string): Buffer => encodeCopsMessage({ op: "OPN", clientType: ClientType.SipAaa, pepId });
    expect(tcpPeerOf("POL1", "COPS", opn("r1"))).toBe("R1");
    expect(tcpPeerOf("POL1", "COPS", opn("sip1.example.com"))).toBe("SIP1");
    expect(tcpPeerOf("POL1", "COPS", opn("r2"))).toBeUndefined();
    expect(tcpPeerOf("POL1", "COPS", Buffer.from("junk"))).toBeUndefined();
    const invite = (host: string): Buffer => Buffer.from(`INVITE sip:b@x SIP/2.0\r\nVia: SIP/2.0/TCP ${host};branch=z9hG4bK1\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`);
    expect(tcpPeerOf("SIP1", "SIP", invite("192.0.2.10"))).toBe("UAC");
    expect(tcpPeerOf("SIP2", "SIP", invite("sip1.example.com"))).toBe("SIP1");
    expect(tcpPeerOf("SIP2", "SIP", invite("192.0.2.10"))).toBeUndefined();
  });

  it("merging: by time, and a router's RPT takes the call of the oldest unanswered DEC on its handle", () => {
    const handle = Buffer.from([0, 0, 0, 1]);
    const cops = (op: string, from: string, to: string, callId: string, t: number): MessageRecord => {
      const bytes = Buffer.alloc(16);
      bytes.writeUInt8(0x10, 0);
      bytes.writeUInt8(op === "RPT" ? 3 : 2, 1);
      bytes.writeUInt32BE(16, 4);
      bytes.writeUInt16BE(8, 8);
      bytes.writeUInt8(1, 10);
      bytes.writeUInt8(1, 11);
      handle.copy(bytes, 12);
      return { t, proto: "COPS", from, to, msg: op === "RPT" ? "RPT Success" : op, callId, bytes };
    };
    const pol = [cops("DEC NULL", "POL1", "R1", "", 1), cops("DEC Install", "POL1", "R1", "call-1", 5), cops("DEC Install", "POL1", "R1", "call-2", 6)];
    const r1 = [cops("RPT", "R1", "POL1", "", 2), cops("RPT", "R1", "POL1", "", 7), cops("RPT", "R1", "POL1", "", 8), cops("RPT", "R1", "POL1", "", 9)];
    const merged = mergeServeRecords([r1, pol]);
    expect(merged.map((r) => [r.t, r.msg, r.callId])).toEqual([
      [1, "DEC NULL", ""], [2, "RPT Success", ""], [5, "DEC Install", "call-1"], [6, "DEC Install", "call-2"],
      [7, "RPT Success", "call-1"], [8, "RPT Success", "call-2"], [9, "RPT Success", ""],
    ]);
  });
});
