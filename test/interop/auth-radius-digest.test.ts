// SIP Digest checked over RADIUS (RFC 5090) by FreeRADIUS's digest module, which holds only the HA1: the
// Access-Request carries the Digest-* attributes of RFC 5090 §3 and no password. FreeRADIUS 3.2's rlm_digest
// reads the older draft-sterman attributes, so the site this test writes copies the RFC 5090 attributes
// (103–115, named in its local dictionary) onto them before calling `digest`. MD5 only: rlm_digest knows no
// SHA-256 (RFC 8760); SHA-256 is checked by the local verifier.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { computeHa1 } from "../../lib/auth/credential-store.js";
import { computeDigestResponse } from "../../lib/auth/digest-response.js";
import { RadiusDigestVerifier } from "../../lib/auth/digest-verifier.js";
import { parseDigestCredentials, type DigestCredentials } from "../../protocols/sip/codec/digest.js";
import { RadiusUdpClient } from "../../protocols/radius/index.js";
import { freeUdpPort, startFreeradiusLab } from "../support/freeradius-lab.mjs";

const SECRET = "digest-secret";
const REALM = "sip.example.com";
const dir = mkdtempSync(join(tmpdir(), "auth-radius-digest-"));
const pcap = join(dir, "digest.pcap");
let lab: Awaited<ReturnType<typeof startFreeradiusLab>>;
let client: RadiusUdpClient;
let tshark: ChildProcess;
let authPort = 0;

const RFC5090_NAMES: [number, string][] = [
  [103, "Response"], [104, "Realm"], [105, "Nonce"], [108, "Method"], [109, "URI"], [110, "Qop"], [111, "Algorithm"], [113, "CNonce"], [114, "Nonce-Count"], [115, "Username"],
];
// RFC 5090 name → the attribute rlm_digest reads.
const TO_DIGEST_MODULE: [string, string][] = [
  ["Response", "Digest-Response"], ["Realm", "Digest-Realm"], ["Nonce", "Digest-Nonce"], ["Method", "Digest-Method"], ["URI", "Digest-URI"],
  ["Qop", "Digest-QOP"], ["Algorithm", "Digest-Algorithm"], ["CNonce", "Digest-CNonce"], ["Nonce-Count", "Digest-Nonce-Count"], ["Username", "Digest-User-Name"],
];

function credentials(password: string, nc = "00000001"): DigestCredentials {
  const nonce = "b7c1d9e0f2a3";
  const base = { username: "alice", realm: REALM, nonce, uri: "sip:bob@sip.example.com", algorithm: "MD5", qop: "auth", cnonce: "0a4f113b", nc };
  const ha1 = computeHa1("MD5", "alice", REALM, password);
  return { ...base, response: computeDigestResponse({ algorithm: "MD5", ha1, method: "INVITE", uri: base.uri, nonce, qop: "auth", nc, cnonce: base.cnonce }) };
}

beforeAll(async () => {
  authPort = await freeUdpPort();
  lab = await startFreeradiusLab({
    dir,
    secret: SECRET,
    authPort,
    acctPort: await freeUdpPort(),
    requireMessageAuthenticator: true,
    dictionary: RFC5090_NAMES.map(([code, name]) => `ATTRIBUTE\tRFC5090-Digest-${name}\t${code}\tstring`).join("\n"),
    authorize: [
      ...TO_DIGEST_MODULE.map(([from, to]) => `if (&RFC5090-Digest-${from}) {\n\t\t\tupdate request {\n\t\t\t\t&${to} := &RFC5090-Digest-${from}\n\t\t\t}\n\t\t}`),
      "files",
      // rlm_digest sets Auth-Type itself, and authenticates, only when draft-sterman's Digest-Attributes (207) is
      // present; its content was already turned into the attributes above, so a placeholder stands for it.
      "if (&Digest-Response) {\n\t\t\tupdate request {\n\t\t\t\t&Digest-Attributes := 0x00\n\t\t\t}\n\t\t\tupdate control {\n\t\t\t\t&Auth-Type := DIGEST\n\t\t\t}\n\t\t}",
    ].join("\n\t\t"),
    authenticate: "Auth-Type DIGEST {\n\t\t\tdigest\n\t\t}",
    // The server holds HA1 only.
    users: `alice Digest-HA1 := "${computeHa1("MD5", "alice", REALM, "wonderland")}"\n`,
  });
  tshark = spawn("tshark", ["-i", "lo", "-f", `udp port ${authPort}`, "-w", pcap, "-q"], { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  tshark.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const until = Date.now() + 15_000;
  while (!/Capturing on/.test(err)) {
    if (Date.now() > until) throw new Error(`tshark did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, 1000)); // "Capturing on" comes a little before the capture does
  // FreeRADIUS 3.2.1 signs its Access-Accepts but not its Access-Rejects, so Message-Authenticator is not required of answers here.
  client = await RadiusUdpClient.open({ secret: SECRET });
}, 60_000);

afterAll(async () => {
  await client?.close();
  if (tshark && tshark.exitCode === null) {
    tshark.kill("SIGINT");
    await new Promise((r) => tshark.once("exit", r));
  }
  await lab?.stop();
});

describe("RFC 5090 over RADIUS against FreeRADIUS's digest module", () => {
  const verifier = () => new RadiusDigestVerifier((request) => client.request({ address: "127.0.0.1", port: authPort }, request));

  it("the right password's response is accepted, a wrong one's rejected, an unknown user rejected", async () => {
    expect(await verifier().verify({ credentials: credentials("wonderland"), method: "INVITE" })).toEqual({ ok: true, username: "alice", realm: REALM });
    expect(await verifier().verify({ credentials: credentials("looking-glass"), method: "INVITE" })).toEqual({ ok: false, cause: "wrong-password" });
    // The same response for another method does not verify: A2 covers the method.
    expect(await verifier().verify({ credentials: credentials("wonderland"), method: "BYE" })).toEqual({ ok: false, cause: "wrong-password" });
    expect(await verifier().verify({ credentials: { ...credentials("wonderland"), username: "mallory" }, method: "INVITE" })).toMatchObject({ ok: false });
  });

  it("credentials parsed from a SIP header verify the same", async () => {
    const c = credentials("wonderland", "00000002");
    const header = `Digest username="alice", realm="${REALM}", nonce="${c.nonce}", uri="${c.uri}", response="${c.response}", algorithm=MD5, cnonce="${c.cnonce}", qop=auth, nc=${c.nc}`;
    expect(await verifier().verify({ credentials: parseDigestCredentials(header), method: "INVITE" })).toMatchObject({ ok: true });
  });

  it("on the wire: RFC 5090 attributes, no password, and a server that stays silent is 'no-answer'", async () => {
    const silent = new RadiusDigestVerifier(() => Promise.reject(new Error("timeout")));
    expect(await silent.verify({ credentials: credentials("wonderland"), method: "INVITE" })).toEqual({ ok: false, cause: "no-answer" });
    await new Promise((r) => setTimeout(r, 500));
    tshark.kill("SIGINT");
    await new Promise((r) => tshark.once("exit", r));
    const fields = await new Promise<string>((resolve, reject) => {
      const p = spawn("tshark", ["-r", pcap, "-d", `udp.port==${authPort},radius`, "-T", "fields", "-e", "radius.code", "-e", "radius.avp.type"]);
      let out = "";
      p.stdout.on("data", (d: Buffer) => (out += d.toString()));
      p.on("error", reject);
      p.on("exit", () => resolve(out));
    });
    const lines = fields.trim().split("\n").filter(Boolean);
    // Access-Requests (code 1): Digest-Response, -Realm, -Nonce, -Method, -URI, -Username (RFC 5090 §3), no User-Password (2).
    const requests = lines.filter((l) => l.startsWith("1\t"));
    expect(requests.length).toBe(5);
    for (const l of requests) {
      const types = new Set(l.split("\t")[1]!.split(",").map(Number));
      for (const t of [80, 103, 104, 105, 108, 109, 110, 113, 114, 115]) expect(types.has(t)).toBe(true);
      expect(types.has(2)).toBe(false);
    }
    expect(readFileSync(pcap).includes(Buffer.from("wonderland"))).toBe(false);
  });
});
