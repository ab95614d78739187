// A throw-away PKI for an embedded topology: a CA and the clearinghouse's token-signing certificate under it.
// Keys come from node:crypto (fast, native); forge builds the X.509 certificates the OSP token layer reads.
import { generateKeyPairSync } from "node:crypto";
import forge from "node-forge";
import type { OspTokenSigner } from "../../protocols/osp/index.js";

export interface FlowPki {
  caCertificatePem: string;
  signer: OspTokenSigner;
}

function certificate(cn: string, publicKeyPem: string, issuerCn: string, issuerKeyPem: string, ca: boolean, serial: string): string {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKeyPem);
  cert.serialNumber = serial;
  cert.validity.notBefore = new Date(Date.UTC(1970, 0, 1));
  cert.validity.notAfter = new Date(Date.UTC(2099, 0, 1));
  cert.setSubject([{ name: "commonName", value: cn }]);
  cert.setIssuer([{ name: "commonName", value: issuerCn }]);
  cert.setExtensions(ca ? [{ name: "basicConstraints", cA: true }, { name: "keyUsage", keyCertSign: true, digitalSignature: true }] : [{ name: "basicConstraints", cA: false }]);
  cert.sign(forge.pki.privateKeyFromPem(issuerKeyPem) as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

let cached: FlowPki | undefined;

/** One PKI per process (validity from 1970: the in-memory driver's virtual clock starts at 0). */
export function flowPki(bits = 2048): FlowPki {
  if (cached) return cached;
  const keys = (): { publicKey: string; privateKey: string } =>
    generateKeyPairSync("rsa", { modulusLength: bits, publicKeyEncoding: { type: "spki", format: "pem" }, privateKeyEncoding: { type: "pkcs1", format: "pem" } });
  const ca = keys();
  const ch = keys();
  const caCertificatePem = certificate("callgate flow CA", ca.publicKey, "callgate flow CA", ca.privateKey, true, "01");
  const chCert = certificate("callgate clearinghouse", ch.publicKey, "callgate flow CA", ca.privateKey, false, "02");
  const pki: FlowPki = { caCertificatePem, signer: { privateKeyPem: ch.privateKey, certificatePem: chCert } };
  cached = pki;
  return pki;
}
