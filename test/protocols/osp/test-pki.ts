// Test-time PKI: a CA and a clearinghouse certificate signed by it, generated fresh with node:crypto keys
// (RSA 1024 by default for speed; ECDSA P-256 on request).
import { generateOspPki, type OspKeyType, type OspTokenSigner } from "../../../protocols/osp/index.js";

export interface TestPki {
  caCertificatePem: string;
  signer: OspTokenSigner;
}

export interface TestPkiOptions {
  keyType?: OspKeyType;
  rsaBits?: number;
}

/** A CA named `name` and a clearinghouse signer under it, valid 2000-01-01 to 2040-01-01. */
export function makeTestPki(name = "Test OSP CA", options: TestPkiOptions = {}): TestPki {
  return generateOspPki({
    keyType: options.keyType ?? "rsa",
    rsaBits: options.rsaBits ?? 1024,
    caName: name,
    signerName: `${name} clearinghouse`,
    notBefore: Date.UTC(2000, 0, 1),
    notAfter: Date.UTC(2040, 0, 1), // UTCTime (before 2050), as older ASN.1 readers expect
  });
}
