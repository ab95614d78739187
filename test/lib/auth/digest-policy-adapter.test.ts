import { describe, expect, it } from "vitest";
import { DefaultPolicyAdapter, type AaaQuery } from "../../../lib/adapters/policy-adapter.js";
import { CredentialStore, computeHa1, credentialLine } from "../../../lib/auth/credential-store.js";
import { computeDigestResponse } from "../../../lib/auth/digest-response.js";
import { DigestPolicyAdapter } from "../../../lib/auth/digest-policy-adapter.js";
import { LocalDigestVerifier, RadiusDigestVerifier } from "../../../lib/auth/digest-verifier.js";
import { formatDigestCredentials } from "../../../protocols/sip/codec/digest.js";
import { RadiusCode, attributeValue } from "../../../protocols/radius/index.js";

const REALM = "sip1.example";
const store = CredentialStore.parse(credentialLine("SHA-256", "alice", REALM, "wonderland"));

function header(password: string, realm = REALM): string {
  const base = { username: "alice", realm, nonce: "n", uri: "sip:bob@example.com", algorithm: "SHA-256", qop: "auth", nc: "00000001", cnonce: "c" };
  return formatDigestCredentials({ ...base, response: computeDigestResponse({ ...base, algorithm: "SHA-256", ha1: computeHa1("SHA-256", "alice", realm, password), method: "INVITE" }) });
}
const query = (proxyAuthorization?: string, side: AaaQuery["side"] = "originating"): AaaQuery => ({
  callId: "c1", side, caller: "sip:alice@example.com", callee: "sip:bob@example.com", flows: [], now: 0, ...(proxyAuthorization !== undefined ? { proxyAuthorization } : {}),
});

describe("DigestPolicyAdapter", () => {
  it("local HA1 store: the right password lets the wrapped policy decide; anything else is 403", () => {
    const refusals: string[] = [];
    const a = new DigestPolicyAdapter(new DefaultPolicyAdapter(), new LocalDigestVerifier(store), { realm: REALM, onRefusal: (_c, cause) => refusals.push(cause) });
    expect(a.decideAaa(query(header("wonderland")))).toEqual({ allow: true });
    expect(a.decideAaa(query(header("looking-glass")))).toMatchObject({ allow: false, sipStatus: 403, reason: "authentication failed: wrong-password" });
    expect(a.decideAaa(query())).toMatchObject({ allow: false, sipStatus: 403 });
    expect(a.decideAaa(query('Digest username="alice"'))).toMatchObject({ allow: false, sipStatus: 403 });
    expect(a.decideAaa(query(header("wonderland", "elsewhere")))).toMatchObject({ allow: false, sipStatus: 403 });
    expect(refusals).toEqual(["wrong-password", "no credentials", "malformed credentials (realm is missing)", "credentials for realm 'elsewhere'"]);
    // The terminating side's policy server is not asked for the caller's credentials.
    expect(a.decideAaa(query(undefined, "terminating"))).toEqual({ allow: true });
    // The wrapped policy still refuses what it refuses.
    const strict = new DigestPolicyAdapter(new DefaultPolicyAdapter({ denyAll: true }), new LocalDigestVerifier(store), { realm: REALM });
    expect(strict.decideAaa(query(header("wonderland")))).toMatchObject({ allow: false, reason: "denied by local policy" });
  });

  it("password guessing: after five wrong responses the username is refused without asking, for a minute", () => {
    let asked = 0;
    const counting = { verify: (r: Parameters<LocalDigestVerifier["verify"]>[0]) => (asked++, new LocalDigestVerifier(store).verify(r)) };
    const a = new DigestPolicyAdapter(new DefaultPolicyAdapter(), counting, { realm: REALM });
    const at = (now: number, password: string) => a.decideAaa({ ...query(header(password)), now });
    for (let i = 0; i < 5; i++) expect(at(i, "guess")).toMatchObject({ allow: false, reason: "authentication failed: wrong-password" });
    expect(at(10, "wonderland")).toMatchObject({ allow: false, reason: "authentication failed: too many wrong passwords" });
    expect(asked).toBe(5);
    expect(at(60_005, "wonderland")).toEqual({ allow: true });
    expect(asked).toBe(6);
  });

  it("over RADIUS (RFC 5090): a later decision; Access-Reject and silence both refuse", async () => {
    const asked: unknown[] = [];
    let answer: RadiusCode | "silence" = RadiusCode.AccessAccept;
    const verifier = new RadiusDigestVerifier(async (request) => {
      asked.push(attributeValue(request, "Digest-Username"));
      if (answer === "silence") throw new Error("timeout");
      return { code: answer, identifier: 0, authenticator: Buffer.alloc(16), attributes: [] };
    });
    const a = new DigestPolicyAdapter(new DefaultPolicyAdapter(), verifier, { realm: REALM, bindCaller: true });
    expect(await a.decideAaa(query(header("wonderland")))).toEqual({ allow: true });
    answer = RadiusCode.AccessReject;
    expect(await a.decideAaa(query(header("wonderland")))).toMatchObject({ allow: false, sipStatus: 403 });
    answer = "silence";
    expect(await a.decideAaa(query(header("wonderland")))).toMatchObject({ allow: false, reason: "authentication failed: no-answer" });
    expect(asked).toEqual(["alice", "alice", "alice"]);
    // bindCaller: credentials of alice for a call from mallory.
    expect(await a.decideAaa({ ...query(header("wonderland")), caller: "sip:mallory@example.com" })).toMatchObject({ allow: false, reason: "authentication failed: caller is not 'alice'" });
  });
});
