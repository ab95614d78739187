// Test-time PKI: a CA and a clearinghouse certificate signed by it, generated fresh (small keys for speed).
import forge from "node-forge";
import type { OspTokenSigner } from "../../../protocols/osp/index.js";

export interface TestPki {
  caCertificatePem: string;
  signer: OspTokenSigner;
}

function makeCert(
  subjectCn: string,
  keys: forge.pki.rsa.KeyPair,
  issuer: { cn: string; key: forge.pki.rsa.PrivateKey } | undefined,
  isCa: boolean,
  serial: string,
): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serial;
  cert.validity.notBefore = new Date(Date.UTC(2000, 0, 1));
  cert.validity.notAfter = new Date(Date.UTC(2040, 0, 1)); // UTCTime (before 2050), as older ASN.1 readers expect
  cert.setSubject([{ name: "commonName", value: subjectCn }]);
  cert.setIssuer([{ name: "commonName", value: issuer ? issuer.cn : subjectCn }]);
  cert.setExtensions(isCa ? [{ name: "basicConstraints", cA: true }, { name: "keyUsage", keyCertSign: true, digitalSignature: true }] : [{ name: "basicConstraints", cA: false }]);
  cert.sign(issuer ? issuer.key : keys.privateKey, forge.md.sha256.create());
  return cert;
}

/** A CA named `name` and a clearinghouse signer under it. */
export function makeTestPki(name = "Test OSP CA", bits = 1024): TestPki {
  const caKeys = forge.pki.rsa.generateKeyPair({ bits, e: 0x10001 });
  const ca = makeCert(name, caKeys, undefined, true, "01");
  const chKeys = forge.pki.rsa.generateKeyPair({ bits, e: 0x10001 });
  const ch = makeCert(`${name} clearinghouse`, chKeys, { cn: name, key: caKeys.privateKey }, false, "02");
  return {
    caCertificatePem: forge.pki.certificateToPem(ca),
    signer: { privateKeyPem: forge.pki.privateKeyToPem(chKeys.privateKey), certificatePem: forge.pki.certificateToPem(ch) },
  };
}
