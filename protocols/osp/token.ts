// OSP authorisation tokens (TS 101 321): TokenInfo XML, signed as CMS SignedData (RFC 5652, PKCS #7 v1.5
// compatible) by the clearinghouse. ASN.1 is built and read here; signatures are node:crypto's (native).
import * as nodeCrypto from "node:crypto";
import { createHash, createPrivateKey, verify as cryptoVerify, sign as cryptoSign, X509Certificate, type KeyObject } from "node:crypto";
import { decodeTokenInfo, encodeTokenInfo } from "./codec.js";
import { OspDecodeError } from "./errors.js";
import type { OspTokenInfo } from "./model.js";
import { der, derChildren, derHeaderLength, derOid, DER_NULL, expectTag, octetStringValue, oidText, readDer, TAG, writeDerHeader, type DerNode } from "./token-der.js";
import { certificateFacts, certificatePublicKey, OID, signatureAlgorithm, signatureDigest, type CertificateFacts } from "./token-pki.js";

/** The clearinghouse's signing identity, PEM encoded: an Ed25519, EC (P-256) or RSA private key and its certificate. */
export interface OspTokenSigner {
  privateKeyPem: string;
  certificatePem: string;
}

/** Why a token was refused: signature, certificate, validity window, call or destination. */
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

/** A token accepted with its TokenInfo, or refused with the reason. */
export type OspTokenVerdict =
  | { ok: true; info: OspTokenInfo; signed: boolean }
  | { ok: false; reason: OspTokenRefusal; detail: string };

/** The CAs an OspTokenValidator trusts and the clock skew it allows. */
export interface OspTokenValidatorOptions {
  /** Trusted CA certificates (PEM); a signed token's signer must be one of them or be issued by one. */
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

// ---- signing ------------------------------------------------------------------------------------------

/** Everything about a signer that does not change from token to token, DER-encoded once. */
interface PreparedSigner {
  key: KeyObject;
  /** SignedData fields before encapContentInfo: version 1, digestAlgorithms. */
  head: Buffer;
  /** [0] IMPLICIT certificates: the signer certificate. */
  certificates: Buffer;
  /** SignerInfo fields before signedAttrs: version 1, IssuerAndSerialNumber, digestAlgorithm. */
  signerHead: Buffer;
  signatureAlgorithm: Buffer;
  /** Digest of the content for the message-digest attribute, and the one node:crypto signs with (null: PureEdDSA). */
  contentDigest: string;
  signDigest: string | null;
  /** DER `SET OF` the signed attributes up to the message-digest value, whose length is fixed per digest. */
  attributesPrefix: Buffer;
}

const SHA256_ALGORITHM = der(TAG.SEQUENCE, derOid(OID.sha256), DER_NULL);
// RFC 8419 §3.1: with Ed25519 the digestAlgorithm is id-sha512, parameters absent.
const SHA512_ALGORITHM = der(TAG.SEQUENCE, derOid(OID.sha512));
const DATA_OID = derOid(OID.data);
// RFC 5652 §11.1 content-type attribute: id-data.
const CONTENT_TYPE_ATTRIBUTE = der(TAG.SEQUENCE, derOid(OID.contentType), der(TAG.SET, DATA_OID));
const MESSAGE_DIGEST_OID = derOid(OID.messageDigest);
const SIGNED_DATA_OID = derOid(OID.signedData);
const DIGEST_LENGTH: Record<string, number> = { sha256: 32, sha512: 64 };

/** One-shot digest: crypto.hash where Node has it (20.12+), else a Hash object. */
const oneShotHash: (algorithm: string, data: Buffer) => Buffer =
  typeof nodeCrypto.hash === "function"
    ? (algorithm, data) => nodeCrypto.hash(algorithm, data, "buffer")
    : (algorithm, data) => createHash(algorithm).update(data).digest();

/**
 * RFC 5652 §5.4: the signature is over the DER of the attributes as a SET OF (DER order: content-type sorts
 * before message-digest, its encoding being shorter with equal leading octets). All but the digest is fixed.
 */
function attributesPrefix(digestLength: number): Buffer {
  const placeholder = Buffer.alloc(digestLength);
  const set = der(TAG.SET, CONTENT_TYPE_ATTRIBUTE, der(TAG.SEQUENCE, MESSAGE_DIGEST_OID, der(TAG.SET, der(TAG.OCTET_STRING, placeholder))));
  return set.subarray(0, set.length - digestLength);
}

const preparedByObject = new WeakMap<OspTokenSigner, PreparedSigner>();
const preparedByPem = new Map<string, PreparedSigner>();

function prepareSigner(signer: OspTokenSigner): PreparedSigner {
  let prepared = preparedByObject.get(signer);
  if (prepared) return prepared;
  const pemKey = `${signer.privateKeyPem}\0${signer.certificatePem}`;
  prepared = preparedByPem.get(pemKey);
  if (!prepared) {
    const key = createPrivateKey(signer.privateKeyPem);
    const certDer = Buffer.from(new X509Certificate(signer.certificatePem).raw);
    const facts = certificateFacts(certDer);
    const ed25519 = key.asymmetricKeyType === "ed25519";
    const digestAlgorithm = ed25519 ? SHA512_ALGORITHM : SHA256_ALGORITHM;
    const contentDigest = ed25519 ? "sha512" : "sha256";
    prepared = {
      key,
      head: Buffer.concat([Buffer.from([TAG.INTEGER, 1, 1]), der(TAG.SET, digestAlgorithm)]),
      certificates: der(TAG.context(0), certDer),
      signerHead: Buffer.concat([Buffer.from([TAG.INTEGER, 1, 1]), der(TAG.SEQUENCE, facts.issuerDer, facts.serialDer), digestAlgorithm]),
      signatureAlgorithm: signatureAlgorithm(key, true),
      contentDigest,
      signDigest: signatureDigest(key),
      attributesPrefix: attributesPrefix(DIGEST_LENGTH[contentDigest]!),
    };
    if (preparedByPem.size >= 64) preparedByPem.clear();
    preparedByPem.set(pemKey, prepared);
  }
  preparedByObject.set(signer, prepared);
  return prepared;
}

/**
 * Makes a token: the TokenInfo document, or with a signer a DER CMS SignedData (RFC 5652 §5) with the
 * TokenInfo attached, the signer certificate included, and signed attributes content-type and message-digest
 * (no signing-time: nothing here reads a clock). SHA-256 with RSA and ECDSA; SHA-512 and PureEdDSA with
 * Ed25519 (RFC 8419 §3), whose signatures are deterministic (RFC 8032 §5.1.6), so the token is too.
 */
export function createOspToken(info: OspTokenInfo, signer?: OspTokenSigner): Buffer {
  const xml = encodeTokenInfo(info);
  if (!signer) return xml;
  const p = prepareSigner(signer);
  // The signed attributes as signed (SET OF); in the SignerInfo they are [0] IMPLICIT with the same contents.
  const signedAttributes = Buffer.allocUnsafe(p.attributesPrefix.length + DIGEST_LENGTH[p.contentDigest]!);
  p.attributesPrefix.copy(signedAttributes, 0);
  oneShotHash(p.contentDigest, xml).copy(signedAttributes, p.attributesPrefix.length);
  const signature = cryptoSign(p.signDigest, signedAttributes, p.key);
  signedAttributes[0] = TAG.context(0);
  // Sizes inside out, then one buffer written front to back (the same DER as nested der() calls).
  const tlv = (contentLength: number) => derHeaderLength(contentLength) + contentLength;
  const xmlOctets = tlv(xml.length);
  const eContent = tlv(xmlOctets);
  const encapContent = DATA_OID.length + eContent;
  const signerInfo = p.signerHead.length + signedAttributes.length + p.signatureAlgorithm.length + tlv(signature.length);
  const signedData = p.head.length + tlv(encapContent) + p.certificates.length + tlv(tlv(signerInfo));
  const contentInfo = SIGNED_DATA_OID.length + tlv(tlv(signedData));
  const out = Buffer.allocUnsafe(tlv(contentInfo));
  let at = writeDerHeader(out, 0, TAG.SEQUENCE, contentInfo);
  at += SIGNED_DATA_OID.copy(out, at);
  at = writeDerHeader(out, at, TAG.context(0), tlv(signedData));
  at = writeDerHeader(out, at, TAG.SEQUENCE, signedData);
  at += p.head.copy(out, at);
  at = writeDerHeader(out, at, TAG.SEQUENCE, encapContent);
  at += DATA_OID.copy(out, at);
  at = writeDerHeader(out, at, TAG.context(0), xmlOctets);
  at = writeDerHeader(out, at, TAG.OCTET_STRING, xml.length);
  at += xml.copy(out, at);
  at += p.certificates.copy(out, at);
  at = writeDerHeader(out, at, TAG.SET, tlv(signerInfo));
  at = writeDerHeader(out, at, TAG.SEQUENCE, signerInfo);
  at += p.signerHead.copy(out, at);
  at += signedAttributes.copy(out, at);
  at += p.signatureAlgorithm.copy(out, at);
  at = writeDerHeader(out, at, TAG.OCTET_STRING, signature.length);
  at += signature.copy(out, at);
  if (at !== out.length) throw new Error(`token assembly wrote ${at} of ${out.length} octets`);
  return out;
}

// ---- validation ---------------------------------------------------------------------------------------

class Refusal {
  constructor(
    readonly reason: OspTokenRefusal,
    readonly detail: string,
  ) {}
}

const DIGESTS: Record<string, string> = {
  [OID.sha1]: "sha1",
  [OID.sha256]: "sha256",
  [OID.sha384]: "sha384",
  [OID.sha512]: "sha512",
};

type SignatureFamily = "rsa" | "ec" | "ed25519";

/** Signature algorithm OIDs accepted per key type (RFC 3370 §3.2, RFC 5754 §3, RFC 5753 §2.1.1, RFC 8419 §3.1). */
const SIGNATURE_FAMILY: Record<string, SignatureFamily> = {
  [OID.rsaEncryption]: "rsa",
  "1.2.840.113549.1.1.5": "rsa", // sha1WithRSAEncryption
  [OID.sha256WithRSAEncryption]: "rsa",
  "1.2.840.113549.1.1.12": "rsa", // sha384WithRSAEncryption
  "1.2.840.113549.1.1.13": "rsa", // sha512WithRSAEncryption
  [OID.ecPublicKey]: "ec",
  "1.2.840.10045.4.1": "ec", // ecdsa-with-SHA1
  [OID.ecdsaWithSha256]: "ec",
  "1.2.840.10045.4.3.3": "ec", // ecdsa-with-SHA384
  "1.2.840.10045.4.3.4": "ec", // ecdsa-with-SHA512
  [OID.ed25519]: "ed25519",
};

interface TrustAnchor {
  der: Buffer;
  x509: X509Certificate;
  notBefore: number;
  notAfter: number;
}

/** The outcome of checking one signer certificate, computed once per distinct certificate. */
interface SignerCertificate {
  facts: CertificateFacts;
  publicKey: KeyObject;
  /** The CA it chains to, or why it does not. */
  anchor: TrustAnchor | string;
}

const MAX_CACHED_SIGNERS = 256;

/** Checks tokens at the terminating side. Holds the single-use memory; reads time only from `nowMs`. */
export class OspTokenValidator {
  private readonly anchors: TrustAnchor[];
  private readonly skew: number;
  /** SHA-256 of the TokenInfo a token carries → expiry (ms), for single use. */
  private readonly seen = new Map<string, number>();
  private sweepAtSize = 1024;
  /** SHA-256 of a signer certificate's DER → its key and chain verdict (the chain is checked once). */
  private readonly signerCache = new Map<string, SignerCertificate>();
  private lastSigner: { der: Buffer; entry: SignerCertificate } | undefined;

  constructor(readonly options: OspTokenValidatorOptions) {
    this.anchors = options.caCertificatesPem.map((pem) => {
      const x509 = new X509Certificate(pem);
      const certDer = Buffer.from(x509.raw);
      const facts = certificateFacts(certDer);
      return { der: certDer, x509, notBefore: facts.notBefore, notAfter: facts.notAfter };
    });
    this.skew = options.clockSkewMs ?? 60_000;
  }

  /** Checks a token's signature, certificate, validity window, call and destination at `nowMs`. */
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
      if (expect.destination !== undefined && !names(info.destinationInfo, expect.destination) && !names(info.destinationAlternates, expect.destination)) {
        throw new Refusal("wrong-destination", `token does not name destination ${expect.destination}`);
      }
      this.pruneSeen(nowMs);
      // Keyed by the signed content, not the envelope: a token re-encoded around the same signature (BER
      // lengths, another certificate set) is the same authorisation and counts as a replay.
      const digest = oneShotHash("sha256", content).toString("latin1");
      if (this.seen.has(digest)) throw new Refusal("replayed", "token already used");
      this.seen.set(digest, info.validUntil + this.skew);
      return { ok: true, info, signed };
    } catch (err) {
      if (err instanceof Refusal) return { ok: false, reason: err.reason, detail: err.detail };
      return { ok: false, reason: "malformed", detail: err instanceof Error ? err.message : String(err) };
    }
  }

  /** Drops expired single-use entries; runs when the memory has doubled since the last sweep (amortised O(1)). */
  private pruneSeen(nowMs: number): void {
    if (this.seen.size < this.sweepAtSize) return;
    for (const [k, expiry] of this.seen) if (expiry < nowMs) this.seen.delete(k);
    this.sweepAtSize = Math.max(1024, this.seen.size * 2);
  }

  private openToken(token: Buffer, nowMs: number): { content: Buffer; signed: boolean } {
    let first = 0;
    while (first < token.length && (token[first] === 0x20 || token[first] === 0x0a || token[first] === 0x0d || token[first] === 0x09)) first++;
    const firstByte = token[first];
    if (firstByte === 0x3c /* '<' */) {
      if (!this.options.allowUnsigned) throw new Refusal("unsigned-not-allowed", "unsigned tokens are not accepted");
      return { content: token, signed: false };
    }
    let parsed: ParsedSignedData;
    try {
      parsed = parseSignedData(token);
    } catch (err) {
      if (err instanceof Refusal) throw err;
      throw new Refusal("malformed", `not CMS SignedData: ${err instanceof Error ? err.message : String(err)}`);
    }
    const signer = this.signerCertificate(token, parsed);
    if (parsed.signatureFamily !== signer.publicKey.asymmetricKeyType) {
      throw new Refusal("bad-signature", `signature algorithm does not fit the signer's ${String(signer.publicKey.asymmetricKeyType)} key`);
    }
    verifySignature(token, parsed, signer.publicKey);
    const anchor = signer.anchor;
    if (typeof anchor === "string") throw new Refusal("untrusted-signer", `signer certificate does not chain to a trusted CA: ${anchor}`);
    if (nowMs < signer.facts.notBefore || nowMs > signer.facts.notAfter || nowMs < anchor.notBefore || nowMs > anchor.notAfter) {
      throw new Refusal("untrusted-signer", `signer or CA certificate is not valid at ${new Date(nowMs).toISOString()}`);
    }
    return { content: parsed.content, signed: true };
  }

  /** The certificate the SignerInfo names (issuer and serial), its key, and its chain verdict (cached by DER hash). */
  private signerCertificate(token: Buffer, parsed: ParsedSignedData): SignerCertificate {
    for (const node of parsed.certificates) {
      const certDer = token.subarray(node.start, node.end);
      let entry: SignerCertificate | undefined;
      // The certificate of the previous token, compared octet for octet, skips hashing this one.
      if (this.lastSigner?.der.equals(certDer)) entry = this.lastSigner.entry;
      else {
        const hash = oneShotHash("sha256", certDer).toString("latin1");
        entry = this.signerCache.get(hash);
        if (!entry) {
          entry = this.checkCertificate(Buffer.from(certDer));
          if (this.signerCache.size >= MAX_CACHED_SIGNERS) this.signerCache.clear();
          this.signerCache.set(hash, entry);
        }
        this.lastSigner = { der: Buffer.from(certDer), entry };
      }
      if (entry.facts.issuerDer.equals(parsed.sidIssuer) && entry.facts.serialDer.equals(parsed.sidSerial)) return entry;
    }
    throw new Refusal("malformed", "the certificate named by the SignerInfo is not in the token");
  }

  private checkCertificate(certDer: Buffer): SignerCertificate {
    let facts: CertificateFacts;
    let publicKey: KeyObject;
    let x509: X509Certificate;
    try {
      facts = certificateFacts(certDer);
      publicKey = certificatePublicKey(certDer);
      x509 = new X509Certificate(certDer);
    } catch (err) {
      throw new Refusal("malformed", `signer certificate: ${err instanceof Error ? err.message : String(err)}`);
    }
    let anchor: TrustAnchor | string = "no configured CA issued it";
    for (const ca of this.anchors) {
      if (ca.der.equals(certDer)) {
        anchor = ca;
        break;
      }
      // RFC 5280 §6.1.3: issuer name (and key identifiers, key usage) match, then the signature verifies.
      if (x509.checkIssued(ca.x509) && ca.x509.ca && x509.verify(ca.x509.publicKey)) {
        anchor = ca;
        break;
      }
    }
    return { facts, publicKey, anchor };
  }
}

/** Whether one of the DestinationInfo / DestinationAlternate entries has this value. */
function names(list: readonly { value: string }[] | undefined, destination: string): boolean {
  if (list !== undefined) for (const d of list) if (d.value === destination) return true;
  return false;
}

// ---- CMS SignedData reading (RFC 5652 §5; RFC 2315 §9 is the same shape) ----------------------------------

interface ParsedSignedData {
  content: Buffer;
  certificates: DerNode[];
  sidIssuer: Buffer;
  sidSerial: Buffer;
  hash: string;
  signedAttributes?: DerNode;
  signatureFamily: SignatureFamily;
  signature: Buffer;
}

function parseSignedData(token: Buffer): ParsedSignedData {
  const top = expectTag(readDer(token, 0), TAG.SEQUENCE, "ContentInfo");
  const [typeNode, wrapper] = derChildren(token, top);
  if (oidText(token, expectTag(typeNode, TAG.OID, "contentType")) !== OID.signedData) throw new Error("not SignedData");
  const signedData = expectTag(derChildren(token, expectTag(wrapper, TAG.context(0), "content"))[0], TAG.SEQUENCE, "SignedData");
  const fields = derChildren(token, signedData);
  let i = 2; // version, digestAlgorithms
  const encap = derChildren(token, expectTag(fields[i++], TAG.SEQUENCE, "encapContentInfo"));
  const eContentType = oidText(token, expectTag(encap[0], TAG.OID, "eContentType"));
  const eContent = derChildren(token, expectTag(encap[1], TAG.context(0), "eContent"))[0];
  if (!eContent) throw new Error("SignedData carries no content");
  const content = octetStringValue(token, eContent);
  const certificates = fields[i]?.tag === TAG.context(0) ? derChildren(token, fields[i++]!) : [];
  if (fields[i]?.tag === TAG.context(1)) i++; // crls
  const signerInfos = derChildren(token, expectTag(fields[i], TAG.SET, "signerInfos"));
  if (signerInfos.length !== 1) throw new Error("expected exactly one SignerInfo");
  const parts = derChildren(token, expectTag(signerInfos[0], TAG.SEQUENCE, "SignerInfo"));
  const sid = derChildren(token, expectTag(parts[1], TAG.SEQUENCE, "issuerAndSerialNumber"));
  const issuer = expectTag(sid[0], TAG.SEQUENCE, "issuer");
  const serial = expectTag(sid[1], TAG.INTEGER, "serialNumber");
  const digestOid = oidText(token, expectTag(derChildren(token, expectTag(parts[2], TAG.SEQUENCE, "digestAlgorithm"))[0], TAG.OID, "digestAlgorithm"));
  const hash = DIGESTS[digestOid];
  if (!hash) throw new Error(`unsupported digest algorithm ${digestOid}`);
  let j = 3;
  let signedAttributes: DerNode | undefined;
  if (parts[j]?.tag === TAG.context(0)) {
    signedAttributes = parts[j++]!;
    if (signedAttributes.contentEnd !== signedAttributes.end) throw new Error("signed attributes must be DER (definite length)");
  }
  const algorithmOid = oidText(token, expectTag(derChildren(token, expectTag(parts[j++], TAG.SEQUENCE, "signatureAlgorithm"))[0], TAG.OID, "signatureAlgorithm"));
  const signatureFamily = SIGNATURE_FAMILY[algorithmOid];
  if (!signatureFamily) throw new Error(`unsupported signature algorithm ${algorithmOid}`);
  // RFC 8419 §3.1: Ed25519 with signed attributes digests the content with SHA-512.
  if (signatureFamily === "ed25519" && signedAttributes && hash !== "sha512") throw new Error("Ed25519 signed attributes need the SHA-512 digest");
  if (signedAttributes) checkSignedAttributes(token, signedAttributes, content, hash, eContentType);
  const signatureNode = expectTag(parts[j], TAG.OCTET_STRING, "signature");
  return {
    content,
    certificates,
    sidIssuer: token.subarray(issuer.start, issuer.end),
    sidSerial: token.subarray(serial.start, serial.end),
    hash,
    ...(signedAttributes ? { signedAttributes } : {}),
    signatureFamily,
    signature: token.subarray(signatureNode.content, signatureNode.contentEnd),
  };
}

/** RFC 5652 §5.3, §11.1–11.2: content-type equals eContentType, message-digest equals the content's digest. */
function checkSignedAttributes(token: Buffer, attributes: DerNode, content: Buffer, hash: string, eContentType: string): void {
  let digestValue: Buffer | undefined;
  let contentType: string | undefined;
  for (const attribute of derChildren(token, attributes)) {
    const [typeNode, valuesNode] = derChildren(token, expectTag(attribute, TAG.SEQUENCE, "Attribute"));
    const type = oidText(token, expectTag(typeNode, TAG.OID, "attrType"));
    const values = derChildren(token, expectTag(valuesNode, TAG.SET, "attrValues"));
    if (type === OID.messageDigest) {
      if (values.length !== 1 || digestValue) throw new Error("message-digest must be one single-valued attribute");
      digestValue = octetStringValue(token, expectTag(values[0], TAG.OCTET_STRING, "messageDigest"));
    } else if (type === OID.contentType) {
      if (values.length !== 1 || contentType) throw new Error("content-type must be one single-valued attribute");
      contentType = oidText(token, expectTag(values[0], TAG.OID, "contentType"));
    }
  }
  if (!digestValue) throw new Error("signed attributes lack message-digest");
  if (contentType !== undefined && contentType !== eContentType) throw new Refusal("bad-signature", "content-type attribute differs from the content's type");
  if (!oneShotHash(hash, content).equals(digestValue)) {
    throw new Refusal("bad-signature", "message-digest attribute does not match the token content");
  }
}

function verifySignature(token: Buffer, parsed: ParsedSignedData, publicKey: KeyObject): void {
  const attrs = parsed.signedAttributes;
  // RFC 5652 §5.4: with signed attributes the signature covers their DER with the SET OF tag (0x31), else the content.
  let signedBytes = parsed.content;
  if (attrs) {
    signedBytes = Buffer.allocUnsafe(attrs.end - attrs.start);
    token.copy(signedBytes, 0, attrs.start, attrs.end);
    signedBytes[0] = TAG.SET;
  }
  let ok = false;
  try {
    // RFC 8419 §3.1: PureEdDSA over the same bytes, no pre-hash.
    ok = cryptoVerify(parsed.signatureFamily === "ed25519" ? null : parsed.hash, signedBytes, publicKey, parsed.signature);
  } catch {
    ok = false;
  }
  if (!ok) throw new Refusal("bad-signature", "signature does not verify with the signer certificate");
}
