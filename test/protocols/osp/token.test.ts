import forge from "node-forge";
import { beforeAll, describe, expect, it } from "vitest";
import { createOspToken, decodeTokenInfo, OspTokenValidator, type OspTokenInfo } from "../../../protocols/osp/index.js";
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

let pki: TestPki;
let otherPki: TestPki;
beforeAll(() => {
  pki = makeTestPki("Callgate Test CA");
  otherPki = makeTestPki("Someone Else CA");
});

function validator(extra: { allowUnsigned?: boolean } = {}): OspTokenValidator {
  return new OspTokenValidator({ caCertificatesPem: [pki.caCertificatePem], clockSkewMs: 5_000, ...extra });
}

describe("signed OSP tokens (PKCS#7 SignedData over TokenInfo)", () => {
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
});

describe("unsigned OSP tokens", () => {
  it("are refused unless allowed, then checked like signed ones", () => {
    const token = createOspToken(info);
    expect(validator().validate(token, { callId }, T0)).toMatchObject({ ok: false, reason: "unsigned-not-allowed" });
    const v = validator({ allowUnsigned: true });
    expect(v.validate(token, { callId }, T0)).toEqual({ ok: true, info, signed: false });
    expect(v.validate(token, { callId }, T0)).toMatchObject({ ok: false, reason: "replayed" });
    expect(validator({ allowUnsigned: true }).validate(token, { callId }, T0 + 3_600_000)).toMatchObject({ ok: false, reason: "expired" });
  });
});
