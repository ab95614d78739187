import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { CredentialStore, computeHa1, credentialLine } from "../../../lib/auth/credential-store.js";
import { computeDigestResponse } from "../../../lib/auth/digest-response.js";
import { LocalDigestVerifier, rfc5090AccessRequest } from "../../../lib/auth/digest-verifier.js";
import { NonceMachine } from "../../../lib/auth/nonce-machine.js";
import { attributeValue } from "../../../protocols/radius/index.js";

describe("Digest response", () => {
  it("RFC 2617 §3.5 (MD5) and RFC 7616 §3.9.1 (SHA-256) examples", () => {
    expect(
      computeDigestResponse({ algorithm: "MD5", ha1: computeHa1("MD5", "Mufasa", "testrealm@host.com", "Circle Of Life"), method: "GET", uri: "/dir/index.html", nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093", qop: "auth", nc: "00000001", cnonce: "0a4f113b" }),
    ).toBe("6629fae49393a05397450978507c4ef1");
    expect(
      computeDigestResponse({
        algorithm: "SHA-256",
        ha1: computeHa1("SHA-256", "Mufasa", "http-auth@example.org", "Circle of Life"),
        method: "GET",
        uri: "/dir/index.html",
        nonce: "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
        qop: "auth",
        nc: "00000001",
        cnonce: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
      }),
    ).toBe("753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
  });
});

describe("LocalDigestVerifier", () => {
  const store = CredentialStore.parse([credentialLine("SHA-256", "alice", "example.com", "pw"), credentialLine("MD5", "alice", "example.com", "pw")].join("\n"));
  const verifier = new LocalDigestVerifier(store);
  const creds = (algorithm: "MD5" | "SHA-256", password: string) => {
    const base = { username: "alice", realm: "example.com", nonce: "n1", uri: "sip:bob@example.com", algorithm, qop: "auth", nc: "00000001", cnonce: "c" };
    return { ...base, response: computeDigestResponse({ ...base, ha1: computeHa1(algorithm, "alice", "example.com", password), method: "INVITE" }) };
  };
  it("accepts the right password under MD5 and SHA-256; refuses a wrong one, another method, an unknown user, auth-int", () => {
    expect(verifier.verify({ credentials: creds("SHA-256", "pw"), method: "INVITE" })).toMatchObject({ ok: true });
    expect(verifier.verify({ credentials: creds("MD5", "pw"), method: "INVITE" })).toMatchObject({ ok: true });
    expect(verifier.verify({ credentials: creds("SHA-256", "pW"), method: "INVITE" })).toEqual({ ok: false, cause: "wrong-password" });
    expect(verifier.verify({ credentials: creds("SHA-256", "pw"), method: "BYE" })).toEqual({ ok: false, cause: "wrong-password" });
    expect(verifier.verify({ credentials: { ...creds("MD5", "pw"), username: "bob" }, method: "INVITE" })).toEqual({ ok: false, cause: "unknown-user" });
    expect(verifier.verify({ credentials: { ...creds("MD5", "pw"), qop: "auth-int" }, method: "INVITE" })).toEqual({ ok: false, cause: "unsupported-qop" });
    expect(verifier.verify({ credentials: { ...creds("MD5", "pw"), algorithm: "SHA-512-256" }, method: "INVITE" })).toEqual({ ok: false, cause: "unsupported-algorithm" });
  });
  it("the RFC 5090 request carries the response, never the password", () => {
    const r = rfc5090AccessRequest({ credentials: creds("SHA-256", "pw"), method: "INVITE" });
    expect(attributeValue(r, "Digest-Method")).toBe("INVITE");
    expect(attributeValue(r, "Digest-Algorithm")).toBe("SHA-256");
    expect(attributeValue(r, "User-Password")).toBeUndefined();
    expect(JSON.stringify(r)).not.toContain('"pw"');
  });
});

describe("NonceMachine", () => {
  const secret = Buffer.alloc(32, 1);
  const machine = (opts: { lifetimeMs?: number; maxNonces?: number } = {}) => new NonceMachine({ secret, randomBytes, ...opts });

  it("a nonce counts up: each nc once, in increasing order; a replay (same or lower nc) is refused", () => {
    const m = machine();
    const n = m.issue(1000);
    expect(m.check(1001, n, "00000001")).toBe("ok");
    expect(m.check(1002, n, "00000001")).toBe("replay");
    expect(m.check(1003, n, "00000003")).toBe("ok");
    expect(m.check(1004, n, "00000002")).toBe("replay");
    // without qop: once
    const once = m.issue(1000);
    expect(m.check(1001, once, undefined)).toBe("ok");
    expect(m.check(1002, once, undefined)).toBe("replay");
  });

  it("expired or forgotten nonces are stale; forged or foreign ones unknown", () => {
    const m = machine({ lifetimeMs: 1000, maxNonces: 2 });
    const a = m.issue(0);
    expect(m.check(1001, a, "00000001")).toBe("stale");
    const b = m.issue(2000);
    m.issue(2000);
    m.issue(2000); // b is forgotten: the table holds two
    expect(m.size).toBe(2);
    expect(m.check(2001, b, "00000001")).toBe("stale");
    const other = new NonceMachine({ secret: Buffer.alloc(32, 2), randomBytes }).issue(2000);
    expect(m.check(2001, other, "00000001")).toBe("unknown");
    expect(m.check(2001, "not-a-nonce!", "00000001")).toBe("unknown");
    const c = m.issue(2000);
    const flipped = Buffer.from(c, "base64url");
    flipped[3] = (flipped[3] ?? 0) ^ 1;
    expect(m.check(2001, flipped.toString("base64url"), "00000001")).toBe("unknown");
  });

  it("nonces differ and the table stays bounded under a flood of challenges", () => {
    const m = machine({ maxNonces: 1000 });
    const seen = new Set<string>();
    for (let i = 0; i < 5000; i++) seen.add(m.issue(i));
    expect(seen.size).toBe(5000);
    expect(m.size).toBe(1000);
  });
});
