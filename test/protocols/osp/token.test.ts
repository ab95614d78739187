import { createPublicKey, verify as cryptoVerify } from "node:crypto";
import forge from "node-forge";
import { beforeAll, describe, expect, it } from "vitest";
import { createOspToken, decodeTokenInfo, generateOspPki, OspTokenValidator, type OspKeyType, type OspTokenInfo } from "../../../protocols/osp/index.js";
import { makeTestPki, type TestPki } from "./test-pki.js";

const T0 = Date.UTC(2026, 0, 15, 12, 0, 0);
const callId = Buffer.from("call-1@192.0.2.10");
const info: OspTokenInfo = {
  sourceInfo: [{ type: "e164", value: "14045266060" }],
  destinationInfo: [
    { type: "e164", value: "14043342535" },
    { type: "transport", value: "[192.0.2.20]:5060" },
  ],
  callId,
  validAfter: T0,
  validUntil: T0 + 300_000,
  transactionId: "77",
  usageDetail: { service: {}, amount: 3600, increment: 1, unit: "s" },
};

const asn1Children = (node: forge.asn1.Asn1): forge.asn1.Asn1[] => node.value as forge.asn1.Asn1[];
const asn1Oid = (node: forge.asn1.Asn1 | undefined): string => forge.asn1.derToOid(node!.value as string);

/** The SignerInfo of a token, read with forge's ASN.1 parser (independent of ours). */
function signerInfoOf(token: Buffer): forge.asn1.Asn1[] {
  const signedData = asn1Children(asn1Children(forge.asn1.fromDer(token.toString("binary")))[1]!)[0]!;
  const fields = asn1Children(signedData);
  return asn1Children(asn1Children(fields[fields.length - 1]!)[0]!);
}

const KEY_TYPES: [string, OspKeyType, string][] = [
  ["RSA", "rsa", "1.2.840.113549.1.1.1"], // rsaEncryption (RFC 3370 §3.2)
  ["ECDSA P-256", "p256", "1.2.840.10045.4.3.2"], // ecdsa-with-SHA256 (RFC 5753 §2.1.1)
  ["Ed25519", "ed25519", "1.3.101.112"], // id-Ed25519 (RFC 8419 §3.1)
];

describe.each(KEY_TYPES)("signed OSP tokens with %s keys (CMS SignedData over TokenInfo)", (_label, keyType, signatureOid) => {
  // RFC 8419 §3.1: Ed25519 digests the content with SHA-512 and signs with PureEdDSA (no pre-hash).
  const contentDigest = keyType === "ed25519" ? "sha512" : "sha256";
  const verifyDigest = keyType === "ed25519" ? null : "sha256";
  let pki: TestPki;
  let otherPki: TestPki;
  beforeAll(() => {
    pki = makeTestPki("Callgate Test CA", { keyType });
    otherPki = makeTestPki("Someone Else CA", { keyType });
  });

  function validator(extra: { allowUnsigned?: boolean } = {}): OspTokenValidator {
    return new OspTokenValidator({ caCertificatesPem: [pki.caCertificatePem], clockSkewMs: 5_000, ...extra });
  }

  it("a valid token is accepted and yields its TokenInfo", () => {
    const token = createOspToken(info, pki.signer);
    const verdict = validator().validate(token, { callId, destination: "14043342535" }, T0 + 1000);
    expect(verdict).toEqual({ ok: true, info, signed: true });
  });

  it("is DER PKCS#7 SignedData with the TokenInfo as content and the signer certificate", () => {
    const token = createOspToken(info, pki.signer);
    const asn1 = forge.asn1.fromDer(token.toString("binary"));
    const oid = forge.asn1.derToOid((asn1.value as forge.asn1.Asn1[])[0]!.value as string);
    expect(oid).toBe(forge.pki.oids.signedData);
    const start = token.indexOf("<?xml");
    expect(start).toBeGreaterThan(0);
    expect(decodeTokenInfo(token.subarray(start, token.indexOf("</TokenInfo>") + 12))).toEqual(info);
  });

  it("refuses a forged signature (content altered after signing)", () => {
    const token = Buffer.from(createOspToken(info, pki.signer));
    const at = token.indexOf("14043342535");
    token[at] = "2".charCodeAt(0);
    const verdict = validator().validate(token, { callId }, T0 + 1000);
    expect(verdict).toMatchObject({ ok: false, reason: "bad-signature" });
  });

  it("refuses a token signed under another CA", () => {
    const verdict = validator().validate(createOspToken(info, otherPki.signer), { callId }, T0 + 1000);
    expect(verdict).toMatchObject({ ok: false, reason: "untrusted-signer" });
  });

  it("refuses an expired token, allowing the configured skew", () => {
    const token = createOspToken(info, pki.signer);
    expect(validator().validate(token, { callId }, info.validUntil + 4_000).ok).toBe(true);
    const verdict = validator().validate(token, { callId }, info.validUntil + 6_000);
    expect(verdict).toMatchObject({ ok: false, reason: "expired" });
  });

  it("refuses a token that is not yet valid, allowing the configured skew", () => {
    const token = createOspToken(info, pki.signer);
    expect(validator().validate(token, { callId }, T0 - 4_000).ok).toBe(true);
    expect(validator().validate(token, { callId }, T0 - 6_000)).toMatchObject({ ok: false, reason: "not-yet-valid" });
  });

  it("refuses a token for another CallId", () => {
    const verdict = validator().validate(createOspToken(info, pki.signer), { callId: Buffer.from("call-2@192.0.2.10") }, T0 + 1000);
    expect(verdict).toMatchObject({ ok: false, reason: "wrong-call-id" });
  });

  it("refuses a token for another destination", () => {
    const verdict = validator().validate(createOspToken(info, pki.signer), { callId, destination: "14049999999" }, T0 + 1000);
    expect(verdict).toMatchObject({ ok: false, reason: "wrong-destination" });
    expect(validator().validate(createOspToken(info, pki.signer), { callId, destination: "[192.0.2.20]:5060" }, T0 + 1000).ok).toBe(true);
  });

  it("refuses a replayed token", () => {
    const v = validator();
    const token = createOspToken(info, pki.signer);
    expect(v.validate(token, { callId }, T0 + 1000).ok).toBe(true);
    expect(v.validate(token, { callId }, T0 + 2000)).toMatchObject({ ok: false, reason: "replayed" });
  });

  it("refuses a replay of the same token re-encoded outside its signature (BER indefinite outer length)", () => {
    const v = validator();
    const token = createOspToken(info, pki.signer);
    expect(token.subarray(0, 2).toString("hex")).toBe("3082"); // DER: two length octets follow
    const reencoded = Buffer.concat([Buffer.from([0x30, 0x80]), token.subarray(4), Buffer.from([0, 0])]);
    expect(validator().validate(reencoded, { callId }, T0 + 1000)).toMatchObject({ ok: true }); // still a valid token
    expect(v.validate(token, { callId }, T0 + 1000).ok).toBe(true);
    expect(v.validate(reencoded, { callId }, T0 + 2000)).toMatchObject({ ok: false, reason: "replayed" });
  });

  it("gives each refusal its own reason", () => {
    const token = createOspToken(info, pki.signer);
    const forged = Buffer.from(token);
    forged[forged.indexOf("14043342535")] = "2".charCodeAt(0);
    const v = validator();
    const reasons = [
      v.validate(forged, { callId }, T0),
      validator().validate(createOspToken(info, otherPki.signer), { callId }, T0),
      validator().validate(token, { callId }, T0 + 3_600_000),
      validator().validate(token, { callId }, T0 - 3_600_000),
      validator().validate(token, { callId: Buffer.from("x") }, T0),
      (() => {
        const once = validator();
        once.validate(token, { callId }, T0);
        return once.validate(token, { callId }, T0);
      })(),
    ].map((r) => (r.ok ? "ok" : r.reason));
    expect(reasons).toEqual(["bad-signature", "untrusted-signer", "expired", "not-yet-valid", "wrong-call-id", "replayed"]);
  });

  it("never throws on damaged tokens, and never accepts altered content", () => {
    const token = createOspToken(info, pki.signer);
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const reasons = new Set<string>();
    for (let i = 0; i < 600; i++) {
      const damaged = Buffer.from(token);
      const flips = 1 + Math.floor(rnd() * 3);
      for (let f = 0; f < flips; f++) damaged[Math.floor(rnd() * damaged.length)] = Math.floor(rnd() * 256);
      const cut = rnd() < 0.2 ? damaged.subarray(0, Math.floor(rnd() * damaged.length)) : damaged;
      const verdict = new OspTokenValidator({ caCertificatesPem: [pki.caCertificatePem] }).validate(cut, { callId }, T0 + 1000);
      if (verdict.ok) expect(verdict.info).toEqual(info);
      else reasons.add(verdict.reason);
    }
    expect(reasons.has("malformed")).toBe(true);
    expect(reasons.has("bad-signature")).toBe(true);
  });

  it("refuses garbage as malformed", () => {
    expect(validator().validate(Buffer.from([0x30, 0x82, 0xff]), { callId }, T0)).toMatchObject({ ok: false, reason: "malformed" });
  });
  it("signs the DER SET OF signed attributes (content-type id-data, message-digest) per RFC 5652 §5.4", () => {
    const token = createOspToken(info, pki.signer);
    const parts = signerInfoOf(token);
    const attrs = parts[3]!;
    expect(attrs.tagClass).toBe(forge.asn1.Class.CONTEXT_SPECIFIC);
    expect(attrs.type).toBe(0);
    const byOid = new Map(asn1Children(attrs).map((a) => [asn1Oid(asn1Children(a)[0]), asn1Children(asn1Children(a)[1]!)[0]!]));
    expect(asn1Oid(byOid.get("1.2.840.113549.1.9.3"))).toBe("1.2.840.113549.1.7.1");
    const start = token.indexOf("<?xml");
    const content = token.subarray(start, token.indexOf("</TokenInfo>") + 12);
    const md = (contentDigest === "sha512" ? forge.md.sha512 : forge.md.sha256).create();
    expect(byOid.get("1.2.840.113549.1.9.4")!.value).toBe(md.update(content.toString("binary")).digest().getBytes());
    expect(asn1Oid(asn1Children(parts[2]!)[0])).toBe(contentDigest === "sha512" ? "2.16.840.1.101.3.4.2.3" : "2.16.840.1.101.3.4.2.1");
    expect(asn1Oid(asn1Children(parts[4]!)[0])).toBe(signatureOid);
    // Re-tag [0] IMPLICIT as SET OF and verify with the certificate's key, outside our own reader.
    const set = forge.asn1.create(forge.asn1.Class.UNIVERSAL, forge.asn1.Type.SET, true, asn1Children(attrs));
    const signed = Buffer.from(forge.asn1.toDer(set).getBytes(), "binary");
    const publicKey = createPublicKey(pki.signer.certificatePem);
    expect(cryptoVerify(verifyDigest, signed, publicKey, Buffer.from(parts[5]!.value as string, "binary"))).toBe(true);
  });

  it("refuses a token whose signer certificate imitates the trusted one (same issuer and serial, other key)", () => {
    const v = validator();
    expect(v.validate(createOspToken(info, pki.signer), { callId }, T0)).toMatchObject({ ok: true });
    const impostor = makeTestPki("Callgate Test CA", { keyType }); // same names and serials, fresh keys
    const verdict = v.validate(createOspToken({ ...info, transactionId: "78" }, impostor.signer), { callId }, T0);
    expect(verdict).toMatchObject({ ok: false, reason: "untrusted-signer" });
  });

  it("checks the signer certificate's validity period on every token, also once its chain is cached", () => {
    const shortLived = generateOspPki({ keyType, rsaBits: 1024, caName: "Short CA", notBefore: T0 - 86_400_000, notAfter: T0 + 86_400_000 });
    const v = new OspTokenValidator({ caCertificatesPem: [shortLived.caCertificatePem] });
    const farInfo = { ...info, validAfter: T0, validUntil: T0 + 10 * 86_400_000 };
    expect(v.validate(createOspToken(farInfo, shortLived.signer), { callId }, T0)).toMatchObject({ ok: true });
    const later = v.validate(createOspToken({ ...farInfo, transactionId: "79" }, shortLived.signer), { callId }, T0 + 2 * 86_400_000);
    expect(later).toMatchObject({ ok: false, reason: "untrusted-signer" });
    const earlier = v.validate(createOspToken({ ...farInfo, transactionId: "80" }, shortLived.signer), { callId }, T0 - 2 * 86_400_000);
    expect(earlier).toMatchObject({ ok: false, reason: "untrusted-signer" });
  });

  it("validates many tokens from one signer (chain cached) and still refuses each altered one", () => {
    const v = validator();
    for (let i = 0; i < 50; i++) {
      const token = createOspToken({ ...info, transactionId: String(1000 + i) }, pki.signer);
      expect(v.validate(token, { callId }, T0).ok).toBe(true);
      const altered = Buffer.from(createOspToken({ ...info, transactionId: String(2000 + i) }, pki.signer));
      altered[altered.indexOf(`<TransactionId>${2000 + i}`) + 15] = "9".charCodeAt(0);
      expect(v.validate(altered, { callId }, T0)).toMatchObject({ ok: false, reason: "bad-signature" });
    }
  });
});

describe("tokens from other CMS signers", () => {
  let pki: TestPki;
  beforeAll(() => {
    pki = makeTestPki("Callgate Test CA", { keyType: "rsa" });
  });

  function forgeToken(authenticatedAttributes: { type: string; value?: Date | string }[]): Buffer {
    const p7 = forge.pkcs7.createSignedData();
    p7.content = forge.util.createBuffer(Buffer.from(createOspToken(info)).toString("binary"));
    const certificate = forge.pki.certificateFromPem(pki.signer.certificatePem);
    p7.addCertificate(certificate);
    const key = forge.pki.privateKeyFromPem(pki.signer.privateKeyPem) as forge.pki.rsa.PrivateKey;
    p7.addSigner({ key, certificate, digestAlgorithm: forge.pki.oids.sha256!, authenticatedAttributes });
    p7.sign({ detached: false });
    return Buffer.from(forge.asn1.toDer(p7.toAsn1()).getBytes(), "binary");
  }

  it("accepts PKCS #7 without authenticated attributes (signature over the content) and with them (signing-time too)", () => {
    // One validator each: both carry the same TokenInfo, which single use accepts once.
    const v = () => new OspTokenValidator({ caCertificatesPem: [pki.caCertificatePem] });
    expect(v().validate(forgeToken([]), { callId }, T0)).toEqual({ ok: true, info, signed: true });
    const withAttributes = forgeToken([
      { type: forge.pki.oids.contentType!, value: forge.pki.oids.data! },
      { type: forge.pki.oids.messageDigest! },
      { type: forge.pki.oids.signingTime!, value: new Date(T0) },
    ]);
    expect(v().validate(withAttributes, { callId }, T0)).toEqual({ ok: true, info, signed: true });
  });

  it("refuses such a token when its content was altered", () => {
    for (const attributes of [[], [{ type: forge.pki.oids.contentType!, value: forge.pki.oids.data! }, { type: forge.pki.oids.messageDigest! }]]) {
      const token = forgeToken(attributes);
      token[token.indexOf("14043342535")] = "2".charCodeAt(0);
      const verdict = new OspTokenValidator({ caCertificatesPem: [pki.caCertificatePem] }).validate(token, { callId }, T0);
      expect(verdict).toMatchObject({ ok: false, reason: "bad-signature" });
    }
  });
});

describe("unsigned OSP tokens", () => {
  let pki: TestPki;
  beforeAll(() => {
    pki = makeTestPki("Callgate Test CA");
  });
  function validator(extra: { allowUnsigned?: boolean } = {}): OspTokenValidator {
    return new OspTokenValidator({ caCertificatesPem: [pki.caCertificatePem], clockSkewMs: 5_000, ...extra });
  }

  it("are refused unless allowed, then checked like signed ones", () => {
    const token = createOspToken(info);
    expect(validator().validate(token, { callId }, T0)).toMatchObject({ ok: false, reason: "unsigned-not-allowed" });
    const v = validator({ allowUnsigned: true });
    expect(v.validate(token, { callId }, T0)).toEqual({ ok: true, info, signed: false });
    expect(v.validate(token, { callId }, T0)).toMatchObject({ ok: false, reason: "replayed" });
    expect(validator({ allowUnsigned: true }).validate(token, { callId }, T0 + 3_600_000)).toMatchObject({ ok: false, reason: "expired" });
  });

  it("keeps refusing replays of live tokens across single-use sweeps of thousands of tokens", () => {
    const v = validator({ allowUnsigned: true });
    const tokens = Array.from({ length: 3000 }, (_, i) => createOspToken({ ...info, transactionId: String(i), validUntil: T0 + (i % 2 ? 1_000 : 600_000) }));
    for (const token of tokens) expect(v.validate(token, { callId }, T0).ok).toBe(true);
    // 5 minutes later the odd tokens are past ValidUntil + skew (swept), the even ones still live.
    const later = T0 + 300_000;
    for (let i = 0; i < 3000; i++) v.validate(createOspToken({ ...info, transactionId: `late-${i}`, validUntil: later + 600_000 }), { callId }, later);
    expect(v.validate(tokens[0]!, { callId }, later)).toMatchObject({ ok: false, reason: "replayed" });
    expect(v.validate(tokens[2998]!, { callId }, later)).toMatchObject({ ok: false, reason: "replayed" });
    expect(v.validate(tokens[1]!, { callId }, later)).toMatchObject({ ok: false, reason: "expired" });
  });
});
