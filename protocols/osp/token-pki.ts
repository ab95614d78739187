// X.509 pieces the token layer needs (RFC 5280): reading a certificate's issuer, serial and validity, and
// generating a throw-away PKI (a CA and a token-signing certificate under it) with node:crypto keys.
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign as cryptoSign, type KeyObject } from "node:crypto";
import { der, DerError, derChildren, derOid, derTime, derUnsignedInteger, DER_NULL, expectTag, readDer, TAG, timeValue } from "./token-der.js";

/** Token key types: Ed25519 (RFC 8032, in CMS per RFC 8419), ECDSA on P-256 (RFC 5753/5754) or RSA PKCS #1 v1.5 (RFC 3370). */
export type OspKeyType = "ed25519" | "p256" | "rsa";

export const OID = {
  data: "1.2.840.113549.1.7.1",
  signedData: "1.2.840.113549.1.7.2",
  contentType: "1.2.840.113549.1.9.3",
  messageDigest: "1.2.840.113549.1.9.4",
  sha1: "1.3.14.3.2.26",
  sha256: "2.16.840.1.101.3.4.2.1",
  sha384: "2.16.840.1.101.3.4.2.2",
  sha512: "2.16.840.1.101.3.4.2.3",
  rsaEncryption: "1.2.840.113549.1.1.1",
  sha256WithRSAEncryption: "1.2.840.113549.1.1.11",
  ecPublicKey: "1.2.840.10045.2.1",
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  ed25519: "1.3.101.112",
  commonName: "2.5.4.3",
  basicConstraints: "2.5.29.19",
  keyUsage: "2.5.29.15",
} as const;

/** What the token layer reads from a certificate (RFC 5280 §4.1). */
export interface CertificateFacts {
  /** DER of the issuer Name and of the serialNumber INTEGER: together CMS IssuerAndSerialNumber. */
  issuerDer: Buffer;
  serialDer: Buffer;
  notBefore: number;
  notAfter: number;
}

export function certificateFacts(cert: Buffer): CertificateFacts {
  const top = expectTag(readDer(cert, 0), TAG.SEQUENCE, "Certificate");
  const tbs = expectTag(derChildren(cert, top)[0], TAG.SEQUENCE, "TBSCertificate");
  const fields = derChildren(cert, tbs);
  let i = fields[0]?.tag === TAG.context(0) ? 1 : 0; // [0] EXPLICIT version
  const serial = expectTag(fields[i++], TAG.INTEGER, "serialNumber");
  i++; // signature AlgorithmIdentifier
  const issuer = expectTag(fields[i++], TAG.SEQUENCE, "issuer");
  const validity = derChildren(cert, expectTag(fields[i++], TAG.SEQUENCE, "validity"));
  if (validity.length !== 2) throw new DerError("validity must hold notBefore and notAfter");
  return {
    issuerDer: cert.subarray(issuer.start, issuer.end),
    serialDer: cert.subarray(serial.start, serial.end),
    notBefore: timeValue(cert, validity[0]!),
    notAfter: timeValue(cert, validity[1]!),
  };
}

/**
 * AlgorithmIdentifier of a signature made by `key`: over SHA-256 for RSA and ECDSA (RFC 4055 §5 with NULL;
 * RFC 5758 §3.2 without), id-Ed25519 without parameters (RFC 8410 §3, RFC 8419 §3.1) for Ed25519.
 */
export function signatureAlgorithm(key: KeyObject, forCms: boolean): Buffer {
  if (key.asymmetricKeyType === "ed25519") return ED25519_ALGORITHM;
  if (key.asymmetricKeyType === "ec") return der(TAG.SEQUENCE, derOid(OID.ecdsaWithSha256));
  if (key.asymmetricKeyType === "rsa") {
    // CMS SignerInfo conventionally names the key algorithm (RFC 3370 §3.2); X.509 the signature algorithm.
    return der(TAG.SEQUENCE, derOid(forCms ? OID.rsaEncryption : OID.sha256WithRSAEncryption), DER_NULL);
  }
  throw new Error(`unsupported token key type ${String(key.asymmetricKeyType)}`);
}

const ED25519_ALGORITHM = der(TAG.SEQUENCE, derOid(OID.ed25519));

/** The digest node:crypto's sign/verify take for `key`: none for Ed25519 (PureEdDSA, RFC 8032 §5.1), else SHA-256. */
export function signatureDigest(key: KeyObject): string | null {
  return key.asymmetricKeyType === "ed25519" ? null : "sha256";
}

// RFC 8410 §7 OneAsymmetricKey for Ed25519: version 0, id-Ed25519, CurvePrivateKey (OCTET STRING of the seed).
const ED25519_PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

/** An Ed25519 private key from its 32-byte seed (RFC 8032 §5.1.5), so keys can be derived deterministically. */
export function ed25519PrivateKey(seed: Buffer): KeyObject {
  if (seed.length !== 32) throw new Error("an Ed25519 seed is 32 bytes");
  return createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: "der", type: "pkcs8" });
}

function name(commonName: string): Buffer {
  // PrintableString when the name fits it (the toolkit's own ASN.1 reader knows no UTF8String), else UTF8String.
  const printable = /^[A-Za-z0-9 '()+,\-./:=?]*$/.test(commonName);
  const value = printable ? der(TAG.PRINTABLE_STRING, Buffer.from(commonName, "latin1")) : der(TAG.UTF8_STRING, Buffer.from(commonName, "utf8"));
  const atv = der(TAG.SEQUENCE, derOid(OID.commonName), value);
  return der(TAG.SEQUENCE, der(TAG.SET, atv));
}

function extension(oid: string, critical: boolean, value: Buffer): Buffer {
  return der(TAG.SEQUENCE, derOid(oid), ...(critical ? [Buffer.from([TAG.BOOLEAN, 1, 0xff])] : []), der(TAG.OCTET_STRING, value));
}

export interface CertificateInput {
  subject: string;
  issuer: string;
  subjectPublicKey: KeyObject;
  issuerPrivateKey: KeyObject;
  /** A positive serial number, up to 2^53 - 1. */
  serial: number;
  notBefore: number;
  notAfter: number;
  ca: boolean;
}

/** A v3 certificate (RFC 5280 §4.1) signed by the issuer's key (SHA-256, or Ed25519 per RFC 8410 §6); returns DER. */
export function createCertificate(input: CertificateInput): Buffer {
  const serialBytes = Buffer.alloc(8);
  serialBytes.writeBigUInt64BE(BigInt(input.serial));
  // RFC 5280 §4.2.1.9 basicConstraints (critical for a CA), §4.2.1.3 keyUsage.
  const basic = der(TAG.SEQUENCE, ...(input.ca ? [Buffer.from([TAG.BOOLEAN, 1, 0xff])] : []));
  // keyUsage BIT STRING: digitalSignature (bit 0), keyCertSign (bit 5), cRLSign (bit 6).
  const usage = input.ca ? Buffer.from([TAG.BIT_STRING, 2, 1, 0x86]) : Buffer.from([TAG.BIT_STRING, 2, 7, 0x80]);
  const extensions = der(TAG.context(3), der(TAG.SEQUENCE, extension(OID.basicConstraints, input.ca, basic), extension(OID.keyUsage, true, usage)));
  const algorithm = signatureAlgorithm(input.issuerPrivateKey, false);
  const tbs = der(
    TAG.SEQUENCE,
    der(TAG.context(0), Buffer.from([TAG.INTEGER, 1, 2])), // v3
    derUnsignedInteger(serialBytes),
    algorithm,
    name(input.issuer),
    der(TAG.SEQUENCE, derTime(input.notBefore), derTime(input.notAfter)),
    name(input.subject),
    input.subjectPublicKey.export({ type: "spki", format: "der" }),
    extensions,
  );
  const signature = cryptoSign(signatureDigest(input.issuerPrivateKey), tbs, input.issuerPrivateKey);
  return der(TAG.SEQUENCE, tbs, algorithm, der(TAG.BIT_STRING, Buffer.from([0]), signature));
}

export function certificatePem(certDer: Buffer): string {
  const b64 = certDer.toString("base64").replace(/.{64}/g, "$&\n").replace(/\n$/, "");
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}

/** Key type, names, validity and (for reproducible runs) the keys of a generated PKI. */
export interface OspPkiOptions {
  /**
   * Default "p256": the cheapest to sign and validate of the types the TransNexus toolkit accepts.
   * "ed25519" is cheaper still and deterministic, but the toolkit (OpenSSL 1.x era PKCS #7 code) does not know it.
   */
  keyType?: OspKeyType;
  /** RSA modulus length (default 2048). */
  rsaBits?: number;
  caName?: string;
  signerName?: string;
  notBefore?: number;
  notAfter?: number;
  /** Use these private keys (of `keyType`) instead of fresh ones, e.g. from `ed25519PrivateKey(seed)`. */
  caPrivateKey?: KeyObject;
  signerPrivateKey?: KeyObject;
  /** Certificate serial numbers (default 1 and 2). */
  caSerial?: number;
  signerSerial?: number;
}

/** A CA and a token-signing key and certificate. */
export interface OspPki {
  caCertificatePem: string;
  /** The clearinghouse's token-signing identity (private key PEM: SEC 1 for EC, PKCS #1 for RSA, PKCS #8 for Ed25519). */
  signer: { privateKeyPem: string; certificatePem: string };
}

/** A throw-away PKI for tests and embedded topologies: a CA and a token-signing certificate under it. */
export function generateOspPki(options: OspPkiOptions = {}): OspPki {
  const keyType = options.keyType ?? "p256";
  const caName = options.caName ?? "callgate OSP CA";
  const signerName = options.signerName ?? `${caName} clearinghouse`;
  const notBefore = options.notBefore ?? Date.UTC(2000, 0, 1);
  const notAfter = options.notAfter ?? Date.UTC(2040, 0, 1);
  const fresh = (): KeyObject =>
    keyType === "ed25519"
      ? generateKeyPairSync("ed25519").privateKey
      : keyType === "p256"
        ? generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey
        : generateKeyPairSync("rsa", { modulusLength: options.rsaBits ?? 2048 }).privateKey;
  const caKey = options.caPrivateKey ?? fresh();
  const chKey = options.signerPrivateKey ?? fresh();
  const caCert = createCertificate({ subject: caName, issuer: caName, subjectPublicKey: createPublicKey(caKey), issuerPrivateKey: caKey, serial: options.caSerial ?? 1, notBefore, notAfter, ca: true });
  const chCert = createCertificate({ subject: signerName, issuer: caName, subjectPublicKey: createPublicKey(chKey), issuerPrivateKey: caKey, serial: options.signerSerial ?? 2, notBefore, notAfter, ca: false });
  const format = chKey.asymmetricKeyType === "ed25519" ? "pkcs8" : chKey.asymmetricKeyType === "ec" ? "sec1" : "pkcs1";
  const privateKeyPem = chKey.export({ type: format, format: "pem" }).toString();
  return { caCertificatePem: certificatePem(caCert), signer: { privateKeyPem, certificatePem: certificatePem(chCert) } };
}

/** The public key in a certificate (node:crypto parses the SubjectPublicKeyInfo). */
export function certificatePublicKey(certDer: Buffer): KeyObject {
  const top = readDer(certDer, 0);
  const tbs = derChildren(certDer, top)[0]!;
  const fields = derChildren(certDer, tbs);
  const spki = fields[fields[0]?.tag === TAG.context(0) ? 6 : 5];
  if (!spki) throw new Error("certificate has no subjectPublicKeyInfo");
  return createPublicKey({ key: certDer.subarray(spki.start, spki.end), format: "der", type: "spki" });
}
