import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { computeHa1 } from "../../../lib/auth/credential-store.js";
import { computeDigestResponse } from "../../../lib/auth/digest-response.js";
import { NonceMachine } from "../../../lib/auth/nonce-machine.js";
import { SipChallenger } from "../../../lib/auth/sip-challenge.js";
import { formatDigestCredentials, parseDigestChallenge } from "../../../protocols/sip/codec/digest.js";
import { parseSipMessage } from "../../../protocols/sip/codec/message-parser.js";
import type { SipRequest } from "../../../protocols/sip/codec/sip-message.js";

const REALM = "sip1.example";
function invite(extra: string[] = [], method = "INVITE"): SipRequest {
  const text = [
    `${method} sip:bob@example.com SIP/2.0`,
    "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-1",
    "Max-Forwards: 70",
    "From: <sip:alice@example.com>;tag=a",
    "To: <sip:bob@example.com>",
    "Call-ID: c1",
    `CSeq: 2 ${method}`,
    "Contact: <sip:alice@192.0.2.1>",
    ...extra,
    "Content-Length: 0",
    "",
    "",
  ].join("\r\n");
  return parseSipMessage(Buffer.from(text)) as SipRequest;
}
function answer(challengeValue: string, password: string, nc = "00000001", algorithm = "SHA-256" as "SHA-256" | "MD5"): string {
  const c = parseDigestChallenge(challengeValue);
  const base = { username: "alice", realm: c.realm, nonce: c.nonce, uri: "sip:bob@example.com", algorithm, qop: "auth", nc, cnonce: "xyz" };
  return formatDigestCredentials({ ...base, response: computeDigestResponse({ ...base, ha1: computeHa1(algorithm, "alice", c.realm, password), method: "INVITE" }) });
}

describe("SipChallenger", () => {
  const make = (lifetimeMs = 60_000, secret = Buffer.alloc(32, 9)) => new SipChallenger({ realm: REALM, nonces: new NonceMachine({ secret, randomBytes, lifetimeMs }) });

  it("407 with SHA-256 then MD5 challenges; credentials pass on once; a replay is 403", () => {
    const ch = make();
    const first = ch.check(0, invite());
    expect(first).toMatchObject({ kind: "challenge", status: 407, cause: "no-credentials" });
    if (first.kind !== "challenge") return;
    expect(first.headers.map((h) => parseDigestChallenge(h.value).algorithm)).toEqual(["SHA-256", "MD5"]);
    expect(parseDigestChallenge(first.headers[0]!.value)).toMatchObject({ realm: REALM, qop: ["auth"] });
    const creds = answer(first.headers[0]!.value, "pw");
    expect(ch.check(1, invite([`Proxy-Authorization: ${creds}`]))).toEqual({ kind: "pass", proxyAuthorization: creds, username: "alice" });
    expect(ch.check(2, invite([`Proxy-Authorization: ${creds}`]))).toMatchObject({ kind: "refuse", status: 403, cause: "nonce-replay" });
    // The next nonce-count on the same nonce passes; MD5 too.
    expect(ch.check(3, invite([`Proxy-Authorization: ${answer(first.headers[1]!.value, "pw", "00000002", "MD5")}`]))).toMatchObject({ kind: "pass" });
    // Only challenged methods.
    expect(ch.check(4, invite([], "OPTIONS"))).toEqual({ kind: "pass" });
  });

  it("stale, foreign, other-realm and malformed credentials", () => {
    const ch = make(1000);
    const first = ch.check(0, invite());
    if (first.kind !== "challenge") throw new Error("no challenge");
    const late = ch.check(5000, invite([`Proxy-Authorization: ${answer(first.headers[0]!.value, "pw")}`]));
    expect(late).toMatchObject({ kind: "challenge", cause: "stale-nonce" });
    if (late.kind === "challenge") expect(parseDigestChallenge(late.headers[0]!.value).stale).toBe(true);
    const foreign = make(1000, Buffer.alloc(32, 8)).check(0, invite());
    if (foreign.kind !== "challenge") throw new Error("no challenge");
    expect(ch.check(10, invite([`Proxy-Authorization: ${answer(foreign.headers[0]!.value, "pw")}`]))).toMatchObject({ kind: "challenge", cause: "unknown-nonce" });
    const elsewhere = answer(first.headers[0]!.value.replace(REALM, "other.example"), "pw");
    expect(ch.check(10, invite([`Proxy-Authorization: ${elsewhere}`]))).toMatchObject({ kind: "challenge", cause: "no-credentials" });
    expect(ch.check(10, invite(['Proxy-Authorization: Digest username="alice"']))).toMatchObject({ kind: "refuse", status: 400 });
  });
});
