// The caller's side of Digest: answerDigestChallenge reproduces RFC 7616 §3.9.1's responses from a 401, takes the
// first challenge whose algorithm the caller accepts, and answers nothing it cannot (another scheme, -sess, only
// auth-int, malformed); its answer is accepted by our own verifier and refused for a wrong password.
import { describe, expect, it } from "vitest";
import { answerDigestChallenge } from "../../../lib/auth/digest-client.js";
import { CredentialStore, credentialLine } from "../../../lib/auth/credential-store.js";
import { LocalDigestVerifier } from "../../../lib/auth/digest-verifier.js";
import { parseDigestCredentials } from "../../../protocols/sip/codec/digest.js";
import { SipRequest, SipResponse } from "../../../protocols/sip/index.js";

const RFC_NONCE = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
const RFC_OPAQUE = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS";
const RFC_CNONCE = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
const MUFASA = { username: "Mufasa", password: "Circle of Life" };

const rfcChallenge = (algorithm: string) => `Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=${algorithm}, nonce="${RFC_NONCE}", opaque="${RFC_OPAQUE}"`;
const response = (status: number, header: string, values: string[]) => new SipResponse(status, "Unauthorized", values.map((value) => ({ name: header, value })));

describe("answerDigestChallenge", () => {
  it("RFC 7616 §3.9.1: SHA-256 first (the server's order), the same response as the RFC; MD5 when the caller takes MD5 only", () => {
    const res = response(401, "WWW-Authenticate", [rfcChallenge("SHA-256"), rfcChallenge("MD5")]);
    const req = new SipRequest("GET", "/dir/index.html");
    const sha = answerDigestChallenge(res, req, MUFASA, () => RFC_CNONCE);
    expect(sha?.name).toBe("Authorization");
    const c = parseDigestCredentials(sha!.value, "Authorization");
    expect(c).toMatchObject({ username: "Mufasa", realm: "http-auth@example.org", uri: "/dir/index.html", algorithm: "SHA-256", qop: "auth", nc: "00000001", cnonce: RFC_CNONCE, opaque: RFC_OPAQUE });
    expect(c.response).toBe("753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
    const md5 = answerDigestChallenge(res, req, { ...MUFASA, algorithms: ["MD5"] }, () => RFC_CNONCE);
    expect(parseDigestCredentials(md5!.value, "Authorization").response).toBe("8ca523f5e9506fed4657c9700eebdbec");
  });

  it("407 is answered with Proxy-Authorization, and our verifier accepts the right password and refuses a wrong one", () => {
    const res = response(407, "Proxy-Authenticate", ['Digest realm="sip1.example.com", nonce="n0nce", algorithm=SHA-256, qop="auth"']);
    const req = new SipRequest("INVITE", "sip:bob@example.net");
    const verifier = new LocalDigestVerifier(CredentialStore.parse(credentialLine("SHA-256", "alice", "sip1.example.com", "wonderland")));
    const right = answerDigestChallenge(res, req, { username: "alice", password: "wonderland" }, () => "c1")!;
    expect(right.name).toBe("Proxy-Authorization");
    expect(verifier.verify({ credentials: parseDigestCredentials(right.value), method: "INVITE" })).toEqual({ ok: true, username: "alice", realm: "sip1.example.com" });
    const wrong = answerDigestChallenge(res, req, { username: "alice", password: "guess" }, () => "c1")!;
    expect(verifier.verify({ credentials: parseDigestCredentials(wrong.value), method: "INVITE" })).toEqual({ ok: false, cause: "wrong-password" });
    // the response is bound to the method: the same credentials do not hold for a BYE
    expect(verifier.verify({ credentials: parseDigestCredentials(right.value), method: "BYE" })).toEqual({ ok: false, cause: "wrong-password" });
  });

  it("without qop (RFC 2069 style) the response has no nc or cnonce", () => {
    const res = response(407, "Proxy-Authenticate", ['Digest realm="r", nonce="n"']);
    const header = answerDigestChallenge(res, new SipRequest("INVITE", "sip:b@d"), { username: "a", password: "p" }, () => "never");
    const c = parseDigestCredentials(header!.value);
    expect(c.qop).toBeUndefined();
    expect(c.nc).toBeUndefined();
    expect(c.cnonce).toBeUndefined();
    expect(c.response).toMatch(/^[0-9a-f]{32}$/);
  });

  it("answers nothing it cannot: another scheme, a malformed challenge, an algorithm not accepted, auth-int only, a non-challenge status", () => {
    const req = new SipRequest("INVITE", "sip:b@d");
    const creds = { username: "a", password: "p" };
    const none = (status: number, header: string, values: string[], c = creds) => answerDigestChallenge(response(status, header, values), req, c, () => "x");
    expect(none(407, "Proxy-Authenticate", ['Basic realm="r"'])).toBeUndefined();
    expect(none(407, "Proxy-Authenticate", ['Digest realm="r", nonce="n", nonce="twice"'])).toBeUndefined();
    expect(none(407, "Proxy-Authenticate", ['Digest realm="r", nonce="n", algorithm=MD5-sess'])).toBeUndefined();
    expect(none(407, "Proxy-Authenticate", ['Digest realm="r", nonce="n", algorithm=SHA-512-256'])).toBeUndefined();
    expect(none(407, "Proxy-Authenticate", ['Digest realm="r", nonce="n", algorithm=MD5'], { ...creds, algorithms: ["SHA-256"] } as typeof creds)).toBeUndefined();
    expect(none(407, "Proxy-Authenticate", ['Digest realm="r", nonce="n", qop="auth-int"'])).toBeUndefined();
    expect(none(401, "Proxy-Authenticate", ['Digest realm="r", nonce="n"'])).toBeUndefined(); // a 401 is answered from WWW-Authenticate
    expect(none(403, "Proxy-Authenticate", ['Digest realm="r", nonce="n"'])).toBeUndefined();
    // a malformed one beside a good one: the good one is answered
    expect(none(407, "Proxy-Authenticate", ['Digest realm="r", nonce=', 'Digest realm="r", nonce="n"'])?.name).toBe("Proxy-Authorization");
  });
});
