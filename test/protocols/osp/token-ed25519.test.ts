// Ed25519 tokens (RFC 8032; CMS conventions of RFC 8419): key derivation from a seed, the SignedData shape,
// determinism, and round trips of generated TokenInfos through sign and validate.
import { createHash, createPrivateKey, createPublicKey, sign as cryptoSign, X509Certificate } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createOspToken, encodeTokenInfo, generateOspPki, OspTokenValidator, type OspTokenInfo } from "../../../protocols/osp/index.js";
import { certificateFacts, ed25519PrivateKey } from "../../../protocols/osp/token-pki.js";
import { der, derChildren, derOid, readDer, TAG } from "../../../protocols/osp/token-der.js";
import { flowPki } from "../../../lib/flow/flow-pki.js";
import { tokenInfoArb } from "./arbitraries.js";

const T0 = Date.UTC(2026, 0, 15, 12, 0, 0);
const callId = Buffer.from("call-1@192.0.2.10");
const info: OspTokenInfo = {
  sourceInfo: [{ type: "e164", value: "14045266060" }],
  destinationInfo: [{ type: "e164", value: "14043342535" }],
  destinationAlternates: [{ type: "transport", value: "[192.0.2.20]:5060" }],
  callId,
  validAfter: T0,
  validUntil: T0 + 300_000,
  transactionId: "77",
  usageDetail: { service: {}, amount: 3600, increment: 1, unit: "s" },
};

const seededPki = (seed: number) =>
  generateOspPki({
    keyType: "ed25519",
    caPrivateKey: ed25519PrivateKey(Buffer.alloc(32, seed)),
    signerPrivateKey: ed25519PrivateKey(Buffer.alloc(32, seed + 1)),
    caSerial: 1000 + seed,
    signerSerial: 2000 + seed,
    notBefore: 0,
    notAfter: Date.UTC(2049, 0, 1),
  });

/** The SignerInfo's fields: version, sid, digestAlgorithm, [0] signedAttrs, signatureAlgorithm, signature. */
function signerInfoFields(token: Buffer) {
  const signedData = derChildren(token, derChildren(token, readDer(token, 0))[1]!)[0]!;
  const fields = derChildren(token, signedData);
  const signerInfos = fields[fields.length - 1]!;
  return { fields, signerInfo: derChildren(token, derChildren(token, signerInfos)[0]!) };
}
const bytesOf = (token: Buffer, node: { start: number; end: number }) => token.subarray(node.start, node.end).toString("hex");

describe("Ed25519 keys from a seed", () => {
  it("match RFC 8032 §7.1 test 1 (public key and signature of the empty message)", () => {
    const key = ed25519PrivateKey(Buffer.from("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", "hex"));
    const spki = createPublicKey(key).export({ type: "spki", format: "der" });
    expect(spki.subarray(-32).toString("hex")).toBe("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
    expect(cryptoSign(null, Buffer.alloc(0), key).toString("hex")).toBe(
      "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    );
  });

  it("refuse a seed that is not 32 bytes", () => {
    expect(() => ed25519PrivateKey(Buffer.alloc(31))).toThrow(/32 bytes/);
  });

  it("give the same certificates and byte-identical tokens for the same seed, others for another", () => {
    const a = seededPki(1);
    const b = seededPki(1);
    expect(b).toEqual(a);
    expect(createOspToken(info, b.signer).equals(createOspToken(info, a.signer))).toBe(true);
    const c = seededPki(3);
    expect(c.caCertificatePem).not.toBe(a.caCertificatePem);
    expect(createOspToken(info, c.signer).equals(createOspToken(info, a.signer))).toBe(false);
  });

  it("flowPki derives the flow's CA and clearinghouse from the run seed", () => {
    const one = flowPki("ed25519", 11);
    expect(flowPki("ed25519", 11)).toBe(one);
    expect(flowPki("ed25519", 12).caCertificatePem).not.toBe(one.caCertificatePem);
    // The in-memory driver's virtual clock starts at 0: the certificates are valid from then on.
    const v = new OspTokenValidator({ caCertificatesPem: [one.caCertificatePem] });
    expect(v.validate(createOspToken({ ...info, validAfter: 0, validUntil: 60_000 }, one.signer), { callId }, 0)).toMatchObject({ ok: true, signed: true });
  });
});

describe("Ed25519 tokens in CMS SignedData (RFC 8419 §3)", () => {
  const pki = seededPki(5);

  it("name id-sha512 and id-Ed25519 with absent parameters", () => {
    const token = createOspToken(info, pki.signer);
    const { fields, signerInfo } = signerInfoFields(token);
    const sha512 = "300b0609608648016503040203";
    expect(bytesOf(token, fields[1]!)).toBe(`310d${sha512}`); // digestAlgorithms SET
    expect(bytesOf(token, signerInfo[2]!)).toBe(sha512);
    expect(signerInfo[3]!.tag).toBe(TAG.context(0));
    expect(bytesOf(token, signerInfo[4]!)).toBe("300506032b6570");
    expect(signerInfo[5]!.contentEnd - signerInfo[5]!.content).toBe(64); // RFC 8032 §5.1.6: R || S
  });

  it("are the DER of the nested SignedData (RFC 5652 §5), also across long-form length boundaries", () => {
    const key = createPrivateKey(pki.signer.privateKeyPem);
    const certDer = Buffer.from(new X509Certificate(pki.signer.certificatePem).raw);
    const facts = certificateFacts(certDer);
    const sha512 = der(TAG.SEQUENCE, derOid("2.16.840.1.101.3.4.2.3"));
    const data = derOid("1.2.840.113549.1.7.1");
    const reference = (t: OspTokenInfo): Buffer => {
      const xml = encodeTokenInfo(t);
      const md = der(TAG.SEQUENCE, derOid("1.2.840.113549.1.9.4"), der(TAG.SET, der(TAG.OCTET_STRING, createHash("sha512").update(xml).digest())));
      const attributes = Buffer.concat([der(TAG.SEQUENCE, derOid("1.2.840.113549.1.9.3"), der(TAG.SET, data)), md]);
      const signature = cryptoSign(null, der(TAG.SET, attributes), key);
      const signerInfo = der(TAG.SEQUENCE, Buffer.from([TAG.INTEGER, 1, 1]), der(TAG.SEQUENCE, facts.issuerDer, facts.serialDer), sha512, der(TAG.context(0), attributes), der(TAG.SEQUENCE, derOid("1.3.101.112")), der(TAG.OCTET_STRING, signature));
      const encap = der(TAG.SEQUENCE, data, der(TAG.context(0), der(TAG.OCTET_STRING, xml)));
      const signedData = der(TAG.SEQUENCE, Buffer.from([TAG.INTEGER, 1, 1]), der(TAG.SET, sha512), encap, der(TAG.context(0), certDer), der(TAG.SET, signerInfo));
      return der(TAG.SEQUENCE, derOid("1.2.840.113549.1.7.2"), der(TAG.context(0), signedData));
    };
    for (const n of [0, 1, 60, 127, 128, 255, 256, 40_000, 65_535, 70_000]) {
      const t = { ...info, callId: Buffer.alloc(n, 0x41), transactionId: String(n) };
      expect(createOspToken(t, pki.signer).toString("hex")).toBe(reference(t).toString("hex"));
    }
  });

  it("are deterministic: the same TokenInfo and key give the same bytes", () => {
    expect(createOspToken(info, pki.signer).equals(createOspToken(info, { ...pki.signer }))).toBe(true);
  });

  it("refuses an Ed25519 token whose signed attributes claim another digest than SHA-512", () => {
    const token = Buffer.from(createOspToken(info, pki.signer));
    const { signerInfo } = signerInfoFields(token);
    token[signerInfo[2]!.end - 1] = 0x01; // id-sha512 → id-sha256 (same length)
    expect(new OspTokenValidator({ caCertificatesPem: [pki.caCertificatePem] }).validate(token, { callId }, T0)).toMatchObject({
      ok: false,
      reason: "malformed",
      detail: expect.stringContaining("SHA-512"),
    });
  });

  it("refuses a token whose Ed25519 signature was swapped for one of another token", () => {
    const a = Buffer.from(createOspToken(info, pki.signer));
    const b = createOspToken({ ...info, transactionId: "78" }, pki.signer);
    const sa = signerInfoFields(a).signerInfo[5]!;
    const sb = signerInfoFields(b).signerInfo[5]!;
    b.copy(a, sa.content, sb.content, sb.contentEnd);
    const v = new OspTokenValidator({ caCertificatesPem: [pki.caCertificatePem] });
    expect(v.validate(a, { callId }, T0)).toMatchObject({ ok: false, reason: "bad-signature" });
  });

  it("round-trip: any TokenInfo signed with Ed25519 validates to itself, once", () => {
    // Certificates valid over the whole range of generated times (1900–2199, GeneralizedTime).
    const wide = generateOspPki({ keyType: "ed25519", notBefore: Date.UTC(1900, 0, 1), notAfter: Date.UTC(2200, 0, 1) });
    const validator = new OspTokenValidator({ caCertificatesPem: [wide.caCertificatePem], clockSkewMs: 0 });
    let n = 0;
    fc.assert(
      fc.property(tokenInfoArb, (generated) => {
        // A distinct CallId per run keeps the single-use memory from refusing a generated duplicate.
        const t: OspTokenInfo = {
          ...generated,
          callId: Buffer.concat([generated.callId, Buffer.from(`#${n++}`)]),
          validAfter: Math.min(generated.validAfter, generated.validUntil),
          validUntil: Math.max(generated.validAfter, generated.validUntil),
        };
        const token = createOspToken(t, wide.signer);
        const destination = t.destinationInfo[0]?.value;
        expect(validator.validate(token, { callId: t.callId, ...(destination !== undefined ? { destination } : {}) }, t.validAfter)).toEqual({ ok: true, info: t, signed: true });
        expect(validator.validate(token, { callId: t.callId }, t.validAfter)).toMatchObject({ ok: false, reason: "replayed" });
      }),
      { numRuns: 300 },
    );
  });
});
