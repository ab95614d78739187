// Test PKI made with the openssl CLI at test time: a CA and one certificate per role (CN and DNS name =
// the role, IP 127.0.0.1), written as PEM files into a temporary directory.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestPki {
  dir: string;
  caFile: string;
  caPem: string;
  /** PEM file paths by role. */
  files: Record<string, { certificate: string; key: string }>;
  /** PEM texts by role. */
  credentials: Record<string, { certificatePem: string; keyPem: string }>;
}

function openssl(args: string[], cwd: string): void {
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

/** A CA named `caName` and a certificate for each of `roles`, signed by it (EC P-256, one day). */
export function makeTestPki(roles: readonly string[], caName = "callgate test CA", dir = mkdtempSync(join(tmpdir(), "callgate-pki-"))): TestPki {
  openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", `/CN=${caName}`], dir);
  const files: TestPki["files"] = {};
  const credentials: TestPki["credentials"] = {};
  for (const role of roles) {
    const base = role.toLowerCase();
    writeFileSync(join(dir, `${base}.ext`), `subjectAltName=DNS:${base},IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n`);
    openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${base}.key`, "-out", `${base}.csr`, "-subj", `/CN=${role}`], dir);
    openssl(["x509", "-req", "-in", `${base}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${base}.pem`, "-days", "1", "-extfile", `${base}.ext`], dir);
    files[role] = { certificate: join(dir, `${base}.pem`), key: join(dir, `${base}.key`) };
    credentials[role] = { certificatePem: readFileSync(join(dir, `${base}.pem`), "utf8"), keyPem: readFileSync(join(dir, `${base}.key`), "utf8") };
  }
  return { dir, caFile: join(dir, "ca.pem"), caPem: readFileSync(join(dir, "ca.pem"), "utf8"), files, credentials };
}

/** One more certificate from `pki`'s CA, with CN `cn` and these DNS names (and IP 127.0.0.1); its PEM file paths. */
export function addCertificate(pki: TestPki, base: string, cn: string, dnsNames: readonly string[]): { certificate: string; key: string } {
  const dir = pki.dir;
  writeFileSync(join(dir, `${base}.ext`), `subjectAltName=${[...dnsNames.map((n) => `DNS:${n}`), "IP:127.0.0.1"].join(",")}\nextendedKeyUsage=serverAuth,clientAuth\n`);
  openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${base}.key`, "-out", `${base}.csr`, "-subj", `/CN=${cn}`], dir);
  openssl(["x509", "-req", "-in", `${base}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${base}.pem`, "-days", "1", "-extfile", `${base}.ext`], dir);
  return { certificate: join(dir, `${base}.pem`), key: join(dir, `${base}.key`) };
}
