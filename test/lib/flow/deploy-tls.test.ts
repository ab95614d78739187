// The deploy file's `tls` section: certificates read and checked at load, impossible settings refused with
// the field named. Certificates come from the openssl CLI at test time.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { DeployConfigError, checkRoleCovered, directoryOf, loadDeployConfig, parseDeployConfig } from "../../../lib/flow/deploy-config.js";
import { tlsForRole } from "../../../lib/flow/deploy-tls.js";
import { rolesSection } from "../../support/deploy-file.js";
import { makeTestPki, type TestPki } from "../../support/tls-test-pki.js";

const ROLES = ["UAC", "SIP1", "POL1", "R1", "CH", "SIP2", "POL2", "R2", "UAS"];
let pki: TestPki;

beforeAll(() => {
  pki = makeTestPki(ROLES);
  for (const r of ROLES) {
    copyFileSync(pki.files[r]!.certificate, join(pki.dir, `${r}.crt`));
    copyFileSync(pki.files[r]!.key, join(pki.dir, `${r}.key.pem`));
  }
});

function deploy(tls: string[], topology = "{ sipTransport: tcp }", sip = (p: number) => `{ udp: ${p}, tls: ${p + 1} }`): string {
  return [
    `topology: ${topology}`,
    ...rolesSection({ UAC: sip(5060), SIP1: sip(5070), POL1: 3288, CH: 5045, SIP2: sip(5080), POL2: 3289, UAS: sip(5090) }),
    "tls:",
    ...tls,
    "",
  ].join("\n");
}

const allRoles = (): string[] => ["  roles:", ...ROLES.map((r) => `    ${r}: { certificate: ${r}.crt, key: ${r}.key.pem }`)];

function problems(text: string): string {
  try {
    parseDeployConfig(text, join(pki.dir, "deploy.yaml"));
  } catch (err) {
    expect(err).toBeInstanceOf(DeployConfigError);
    return (err as Error).message;
  }
  throw new Error("the file was accepted");
}

describe("deploy file: tls", () => {
  it("TLS everywhere with mutual TLS: every role's certificate and key read, sip.tls ports in the directory", () => {
    const config = parseDeployConfig(deploy(["  ca: ca.pem", "  requireClientCert: true", "  sip: true", "  cops: true", "  osp: true", ...allRoles()]), join(pki.dir, "deploy.yaml"));
    expect(config.tls?.caPem).toBe(pki.caPem);
    expect(config.tls).toMatchObject({ requireClientCert: true, sip: true, cops: true, osp: true });
    expect(Object.keys(config.tls?.credentials ?? {}).sort()).toEqual([...ROLES].sort());
    expect(config.tls?.credentials.SIP1?.certificatePem).toBe(pki.credentials.SIP1?.certificatePem);
    expect(directoryOf(config).SIP1).toMatchObject({ sipUdp: 5070, sipTls: 5071 });
    // A role's process holds only its own key.
    expect(Object.keys(tlsForRole(config.tls!, "POL1").credentials)).toEqual(["POL1"]);
  });

  it("a certificate without its key, a missing file, a key of another certificate: each named", () => {
    const text = deploy([
      "  ca: ca.pem", "  requireClientCert: true", "  cops: true", "  roles:",
      "    SIP1: { certificate: SIP1.crt }",
      "    R1: { certificate: R1.crt, key: nowhere.key }",
      "    POL1: { certificate: POL1.crt, key: POL2.key.pem }",
      "    SIP2: { certificate: SIP2.crt, key: SIP2.key.pem }", "    R2: { certificate: R2.crt, key: R2.key.pem }", "    POL2: { certificate: POL2.crt, key: POL2.key.pem }",
    ]);
    const message = problems(text);
    expect(message).toContain("tls.roles.SIP1: key missing: a certificate needs its key");
    expect(message).toMatch(/tls\.roles\.R1\.key: cannot read .*nowhere\.key: ENOENT/);
    expect(message).toContain("tls.roles.POL1.key: is not the key of the certificate");
  });

  it("roles that need a certificate and have none, a missing CA, a CA file that is no certificate", () => {
    writeFileSync(join(pki.dir, "not-a-cert.pem"), "hello\n");
    expect(problems(deploy(["  ca: ca.pem", "  cops: true", "  roles:", "    POL1: { certificate: POL1.crt, key: POL1.key.pem }"]))).toContain("tls.roles: POL2 needs a certificate and key: it listens for COPS over TLS");
    expect(problems(deploy(["  ca: ca.pem", "  osp: true", "  requireClientCert: true", "  roles:", "    CH: { certificate: CH.crt, key: CH.key.pem }"]))).toContain("POL1 needs a certificate and key: it connects to the clearinghouse over mutual TLS");
    expect(problems(deploy(["  ca: missing-ca.pem", "  cops: true", ...allRoles()]))).toMatch(/tls\.ca: cannot read .*missing-ca\.pem: ENOENT/);
    expect(problems(deploy(["  ca: not-a-cert.pem", "  cops: true", ...allRoles()]))).toMatch(/tls\.ca: .*not-a-cert\.pem holds no CERTIFICATE PEM block/);
  });

  it("SIP over TLS without the stream transport or without sip.tls ports; a section that switches nothing on", () => {
    expect(problems(deploy(["  ca: ca.pem", "  sip: true", ...allRoles()], "{ sipTransport: udp }"))).toContain("tls.sip: SIP over TLS needs topology.sipTransport tcp");
    expect(problems(deploy(["  ca: ca.pem", "  sip: true", ...allRoles()], "{ sipTransport: tcp }", (p) => `{ udp: ${p}, tcp: ${p} }`))).toContain("SIP1 needs 'sip.tls' (tls.sip is true)");
    expect(problems(deploy(["  ca: ca.pem", ...allRoles()]))).toContain("tls: switches nothing on");
  });
});

describe("examples/deploy/tls.yaml with scripts/make-tls-pki.sh", () => {
  it("the example loads once the script has made its PKI: TLS on every link, every role's certificate, Integrity keys", () => {
    const dir = mkdtempSync(join(tmpdir(), "callgate-tls-example-"));
    copyFileSync(join("examples", "deploy", "tls.yaml"), join(dir, "tls.yaml"));
    expect(() => loadDeployConfig(join(dir, "tls.yaml"))).toThrow(/tls\.ca: cannot read .*pki\/ca\.pem: ENOENT/);
    execFileSync("sh", [join("scripts", "make-tls-pki.sh"), join(dir, "pki")], { stdio: "ignore" });
    const config = loadDeployConfig(join(dir, "tls.yaml"));
    expect(config.tls).toMatchObject({ requireClientCert: true, sip: true, cops: true, osp: true });
    expect(Object.keys(config.tls?.credentials ?? {}).sort()).toEqual([...ROLES].sort());
    expect(config.copsSecurity?.POL1?.peps?.SIP1?.integrity?.keyId).toBe(1);
    for (const role of ROLES) expect(checkRoleCovered(role, config)).toBe(role);
  });
});
