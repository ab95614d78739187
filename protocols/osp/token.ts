// OSP authorisation tokens (TS 101 321): TokenInfo XML, signed as PKCS#7 SignedData by the clearinghouse.
import { createHash } from "node:crypto";
import forge from "node-forge";
import { decodeTokenInfo, encodeTokenInfo } from "./codec.js";
import { OspDecodeError } from "./errors.js";
import type { OspTokenInfo } from "./model.js";

/** The clearinghouse's signing identity, PEM encoded. */
export interface OspTokenSigner {
  privateKeyPem: string;
  certificatePem: string;
}

export type OspTokenRefusal =
  | "malformed"
  | "unsigned-not-allowed"
  | "bad-signature"
  | "untrusted-signer"
  | "expired"
  | "not-yet-valid"
  | "wrong-call-id"
  | "wrong-destination"
  | "replayed";

export type OspTokenVerdict =
  | { ok: true; info: OspTokenInfo; signed: boolean }
  | { ok: false; reason: OspTokenRefusal; detail: string };

export interface OspTokenValidatorOptions {
  /** Trusted CA certificates (PEM); a signed token's signer must chain to one of them. */
  caCertificatesPem: string[];
  /** Accept tokens that are bare TokenInfo XML (default false). */
  allowUnsigned?: boolean;
  /** Tolerated clock difference in ms on both ends of the validity window (default 60 s). */
  clockSkewMs?: number;
}

/** What the checking side expects the token to be for. */
export interface OspTokenExpectation {
  callId: Buffer;
  /** Called number or destination address; must equal a DestinationInfo or DestinationAlternate value when given. */
  destination?: string;
}

interface PreparedSigner {
  key: forge.pki.rsa.PrivateKey;
  cert: forge.pki.Certificate;
}
const preparedSigners = new WeakMap<OspTokenSigner, PreparedSigner>();

function prepareSigner(signer: OspTokenSigner): PreparedSigner {
  let p = preparedSigners.get(signer);
  if (!p) {
    p = {
      key: forge.pki.privateKeyFromPem(signer.privateKeyPem) as forge.pki.rsa.PrivateKey,
      cert: forge.pki.certificateFromPem(signer.certificatePem),
    };
    preparedSigners.set(signer, p);
  }
  return p;
}

/**
 * Makes a token: the TokenInfo document, or with a signer a DER PKCS#7 SignedData (content attached,
 * SHA-256, signer certificate included) over it.
 */
export function createOspToken(info: OspTokenInfo, signer?: OspTokenSigner): Buffer {
  const xml = encodeTokenInfo(info);
  if (!signer) return xml;
  const { key, cert } = prepareSigner(signer);
  const p7 = forge.pkcs7.createSignedData();
  p7.content = forge.util.createBuffer(xml.toString("binary"));
  p7.addCertificate(cert);
  // No authenticated attributes: the signature covers the content digest only (nothing read from a clock).
  p7.addSigner({ key, certificate: cert, digestAlgorithm: forge.pki.oids.sha256!, authenticatedAttributes: [] });
  p7.sign({ detached: false });
  return Buffer.from(forge.asn1.toDer(p7.toAsn1()).getBytes(), "binary");
}

class Refusal {
  constructor(
    readonly reason: OspTokenRefusal,
    readonly detail: string,
  ) {}
}

const DIGESTS: Record<string, string> = {
  [forge.pki.oids.sha1!]: "sha1",
  [forge.pki.oids.sha256!]: "sha256",
  [forge.pki.oids.sha384!]: "sha384",
  [forge.pki.oids.sha512!]: "sha512",
};

/** Checks tokens at the terminating side. Holds the single-use memory; reads time only from `nowMs`. */
export class OspTokenValidator {
  private readonly caStore: forge.pki.CAStore;
  private readonly skew: number;
  /** Token digest → expiry (ms) for single use. */
  private readonly seen = new Map<string, number>();

  constructor(readonly options: OspTokenValidatorOptions) {
    this.caStore = forge.pki.createCaStore(options.caCertificatesPem.map((pem) => forge.pki.certificateFromPem(pem)));
    this.skew = options.clockSkewMs ?? 60_000;
  }

  validate(token: Buffer, expect: OspTokenExpectation, nowMs: number): OspTokenVerdict {
    try {
      const { content, signed } = this.openToken(token, nowMs);
      let info: OspTokenInfo;
      try {
        info = decodeTokenInfo(content);
      } catch (err) {
        if (err instanceof OspDecodeError) throw new Refusal("malformed", `TokenInfo: ${err.message}`);
        throw err;
      }
      if (nowMs + this.skew < info.validAfter) {
        throw new Refusal("not-yet-valid", `valid after ${new Date(info.validAfter).toISOString()}`);
      }
      if (nowMs - this.skew > info.validUntil) {
        throw new Refusal("expired", `valid until ${new Date(info.validUntil).toISOString()}`);
      }
      if (!info.callId.equals(expect.callId)) throw new Refusal("wrong-call-id", "token was issued for another CallId");
      const named = [...info.destinationInfo, ...(info.destinationAlternates ?? [])];
      if (expect.destination !== undefined && !named.some((d) => d.value === expect.destination)) {
        throw new Refusal("wrong-destination", `token does not name destination ${expect.destination}`);
      }
      this.pruneSeen(nowMs);
      const digest = createHash("sha256").update(token).digest("base64");
      if (this.seen.has(digest)) throw new Refusal("replayed", "token already used");
      this.seen.set(digest, info.validUntil + this.skew);
      return { ok: true, info, signed };
    } catch (err) {
      if (err instanceof Refusal) return { ok: false, reason: err.reason, detail: err.detail };
      return { ok: false, reason: "malformed", detail: err instanceof Error ? err.message : String(err) };
    }
  }

  private pruneSeen(nowMs: number): void {
    if (this.seen.size < 1024) return;
    for (const [k, expiry] of this.seen) if (expiry < nowMs) this.seen.delete(k);
  }

  private openToken(token: Buffer, nowMs: number): { content: Buffer; signed: boolean } {
    const firstByte = token.find((b) => b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09);
    if (firstByte === 0x3c /* '<' */) {
      if (!this.options.allowUnsigned) throw new Refusal("unsigned-not-allowed", "unsigned tokens are not accepted");
      return { content: token, signed: false };
    }
    let p7: any;
    try {
      p7 = forge.pkcs7.messageFromAsn1(forge.asn1.fromDer(token.toString("binary"), true));
    } catch (err) {
      throw new Refusal("malformed", `not PKCS#7: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (p7.type !== forge.pki.oids.signedData) throw new Refusal("malformed", "not PKCS#7 SignedData");
    const content = signedDataContent(p7.rawCapture?.content);
    const signerInfos = (p7.rawCapture?.signerInfos ?? []) as forge.asn1.Asn1[];
    const signerInfo = signerInfos[0];
    if (!signerInfo || signerInfos.length !== 1) throw new Refusal("malformed", "expected exactly one SignerInfo");
    const certs = p7.certificates as forge.pki.Certificate[];
    const signerCert = certs[0];
    if (!signerCert) throw new Refusal("malformed", "signer certificate missing");
    verifySignerInfo(signerInfo, signerCert, content);
    try {
      forge.pki.verifyCertificateChain(this.caStore, [signerCert], { validityCheckDate: new Date(nowMs) } as any);
    } catch (err) {
      const msg = (err as { message?: string })?.message ?? String(err);
      throw new Refusal("untrusted-signer", `signer certificate does not chain to a trusted CA: ${msg}`);
    }
    return { content, signed: true };
  }
}

/** RFC 2315 §7 ContentInfo's [0] EXPLICIT content → its octets (primitive or constructed OCTET STRING). */
function signedDataContent(wrapper: forge.asn1.Asn1 | undefined): Buffer {
  const octets = (wrapper?.value as forge.asn1.Asn1[] | undefined)?.[0];
  if (!octets || octets.type !== forge.asn1.Type.OCTETSTRING) throw new Refusal("malformed", "SignedData carries no content");
  if (typeof octets.value === "string") return Buffer.from(octets.value, "binary");
  const chunks = (octets.value as forge.asn1.Asn1[]).map((c) => (typeof c.value === "string" ? Buffer.from(c.value, "binary") : Buffer.alloc(0)));
  return Buffer.concat(chunks);
}

// RFC 2315 §9.2 SignerInfo: version, issuerAndSerialNumber, digestAlgorithm, [0] authenticatedAttributes?,
// digestEncryptionAlgorithm, encryptedDigest, [1] unauthenticatedAttributes?
function verifySignerInfo(signerInfo: forge.asn1.Asn1, cert: forge.pki.Certificate, content: Buffer): void {
  const parts = signerInfo.value as forge.asn1.Asn1[];
  if (!Array.isArray(parts) || parts.length < 5) throw new Refusal("malformed", "SignerInfo too short");
  const digestOid = forge.asn1.derToOid(((parts[2]!.value as forge.asn1.Asn1[])[0]!.value as string));
  const hash = DIGESTS[digestOid];
  if (!hash) throw new Refusal("malformed", `unsupported digest algorithm ${digestOid}`);
  let index = 3;
  let signedBytes = createHash(hash).update(content).digest();
  const maybeAttrs = parts[3]!;
  if (maybeAttrs.tagClass === forge.asn1.Class.CONTEXT_SPECIFIC && maybeAttrs.type === 0) {
    // RFC 2315 §9.3: the signature covers the DER of the attributes as a SET; messageDigest must match the content.
    const attrs = maybeAttrs.value as forge.asn1.Asn1[];
    const mdOid = forge.pki.oids.messageDigest!;
    const mdAttr = attrs.find((a) => forge.asn1.derToOid((a.value as forge.asn1.Asn1[])[0]!.value as string) === mdOid);
    const mdValue = mdAttr ? (((mdAttr.value as forge.asn1.Asn1[])[1]!.value as forge.asn1.Asn1[])[0]!.value as string) : undefined;
    if (mdValue === undefined || !Buffer.from(mdValue, "binary").equals(signedBytes)) {
      throw new Refusal("bad-signature", "messageDigest attribute does not match the token content");
    }
    const set = forge.asn1.create(forge.asn1.Class.UNIVERSAL, forge.asn1.Type.SET, true, attrs);
    signedBytes = createHash(hash).update(Buffer.from(forge.asn1.toDer(set).getBytes(), "binary")).digest();
    index = 4;
  }
  const signature = parts[index + 1]?.value;
  if (typeof signature !== "string") throw new Refusal("malformed", "SignerInfo has no signature");
  let ok = false;
  try {
    ok = (cert.publicKey as forge.pki.rsa.PublicKey).verify(signedBytes.toString("binary"), signature);
  } catch {
    ok = false;
  }
  if (!ok) throw new Refusal("bad-signature", "signature does not verify with the signer certificate");
}
