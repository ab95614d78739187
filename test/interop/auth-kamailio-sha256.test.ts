// SHA-256 Digest (RFC 8760) against a real challenger: Kamailio's auth module with modparam algorithm "SHA-256"
// and qop=auth challenges our user agent's INVITE with 407 (auth_challenge) and checks the INVITE sent again
// (pv_proxy_authenticate against the password it holds). The right password is accepted (Kamailio answers 200, the
// call is set up and ended by BYE), a wrong one is refused (rc -2, 403); Kamailio's own log states each verdict.
// SIPp 3.6 answers MD5 only, so this is the test that fails if our SHA-256 response is wrong.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseDigestCredentials } from "../../protocols/sip/codec/digest.js";
import { parseSipMessage, type SipRequest } from "../../protocols/sip/index.js";
import type { MessageRecord } from "../../lib/drivers/message-record.js";
import type { CallEvent } from "../../lib/flow/call-events.js";
import { startUserAgent, type RoleHandle } from "../../lib/start/index.js";
import type { UserAgent } from "../../lib/roles/user-agent.js";
import { freePort } from "./sip-sipp-helpers.js";

const KAMAILIO = "/usr/sbin/kamailio";
const MODULES = "/usr/lib/x86_64-linux-gnu/kamailio/modules/";
const REALM = "kamailio.example";
const PASSWORD = "wonderland-sha";

const dir = mkdtempSync(join(tmpdir(), "callgate-kamailio-sha256-"));
let kamailio: ChildProcess | undefined;
let kamailioLog = "";
let port = 0;
const agents: RoleHandle<UserAgent>[] = [];

/** Kamailio as a challenging proxy: 407 with algorithm=SHA-256 and qop=auth, then 200 or 403 on its own check. */
function config(listen: string): string {
  return `#!KAMAILIO
debug=2
log_stderror=yes
fork=no
auto_aliases=no
dns=no
rev_dns=no
use_dns_cache=no
listen=${listen}
mpath="${MODULES}"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "xlog.so"
loadmodule "textops.so"
loadmodule "auth.so"
modparam("auth", "algorithm", "SHA-256")
modparam("auth", "qop", "auth")
modparam("auth", "nonce_count", 1)

request_route {
	if (is_method("ACK")) exit;
	if (is_method("BYE")) {
		sl_send_reply("200", "OK");
		exit;
	}
	if (!is_method("INVITE")) {
		sl_send_reply("405", "Method Not Allowed");
		exit;
	}
	$var(rc) = pv_proxy_authenticate("${REALM}", "${PASSWORD}", "0");
	xlog("L_NOTICE", "digest verdict rc=$var(rc) call=$ci\\n");
	if ($var(rc) == 1) {
		sl_send_reply("200", "OK");
		exit;
	}
	if ($var(rc) == -2) {
		sl_send_reply("403", "Wrong Password");
		exit;
	}
	auth_challenge("${REALM}", "1");
}
`;
}

beforeAll(async () => {
  expect(existsSync(KAMAILIO), "kamailio (Debian kamailio) must be installed").toBe(true);
  expect(existsSync(join(MODULES, "auth.so")), "Kamailio's auth module must be installed").toBe(true);
  port = await freePort();
  const cfg = join(dir, "kamailio.cfg");
  writeFileSync(cfg, config(`udp:127.0.0.1:${port}`));
  kamailio = spawn(KAMAILIO, ["-f", cfg, "-DD", "-E", "-m", "64", "-M", "8", "-Y", dir, "-P", join(dir, "kamailio.pid")], { stdio: ["ignore", "ignore", "pipe"] });
  kamailio.stderr!.on("data", (d: Buffer) => (kamailioLog += d.toString()));
  const until = Date.now() + 20_000;
  while (!/INFO: <core> \[main\.c:\d+\]: main\(\): processes|listening on/.test(kamailioLog)) {
    if (kamailio.exitCode !== null) throw new Error(`kamailio exited: ${kamailioLog}`);
    if (Date.now() > until) throw new Error(`kamailio did not start: ${kamailioLog}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}, 30_000);

afterAll(async () => {
  for (const a of agents) await a.close();
  if (kamailio && kamailio.exitCode === null) {
    kamailio.kill("SIGTERM");
    await new Promise((r) => kamailio!.once("exit", r));
  }
});

/** One call from our user agent through Kamailio, with these credentials; its records and events at the end. */
async function call(password: string, callId: string) {
  const records: MessageRecord[] = [];
  const events: CallEvent[] = [];
  const agent = await startUserAgent({
    name: "UAC",
    proxy: `127.0.0.1:${port}`,
    proxyName: "KAMAILIO",
    credentials: { username: "alice", password, algorithms: ["SHA-256"] },
    calls: [{ callId, from: `sip:alice@${REALM}`, to: `sip:bob@${REALM}`, startMs: 0, durationMs: 200, hangUp: "caller" }],
    onRecord: (r) => records.push(r),
  });
  agents.push(agent);
  agent.events.on("*", (e) => events.push(e));
  const until = Date.now() + 20_000;
  // the call ends either way: its BYE answered, or the final refusal of its INVITE
  while (!events.some((e) => e.type === "terminated")) {
    if (Date.now() > until) throw new Error(`the call did not end: ${records.map((r) => `${r.from}>${r.to} ${r.msg}`).join(", ")}\n${kamailioLog.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return { records, events };
}

describe("our user agent answers Kamailio's SHA-256 challenge", () => {
  // The records are what our agent sent (Kamailio is no node of ours); what it answered shows in the agent's
  // events (established, the final status) and in Kamailio's log (its own verdict on the response).
  it("the right password: the INVITE again after the 407 with a SHA-256 response (qop=auth) that Kamailio accepts; 200, then BYE", async () => {
    const { records, events } = await call(PASSWORD, "sha256-right@callgate.example");
    const labels = records.filter((r) => r.proto === "SIP").map((r) => `${r.from}>${r.to} ${r.msg}`);
    expect(labels).toEqual(["UAC>KAMAILIO INVITE", "UAC>KAMAILIO ACK", "UAC>KAMAILIO INVITE", "UAC>KAMAILIO ACK", "UAC>KAMAILIO BYE"]);
    const [first, , second] = records.map((r) => parseSipMessage(r.bytes) as SipRequest);
    expect(first!.getHeader("Proxy-Authorization")).toBeUndefined();
    // the agent accepts SHA-256 only: it answered, so Kamailio's challenge offered SHA-256 (RFC 8760 §2.4)
    const credentials = parseDigestCredentials(second!.getHeader("Proxy-Authorization") ?? "");
    expect(credentials).toMatchObject({ username: "alice", realm: REALM, algorithm: "SHA-256", qop: "auth", nc: "00000001", uri: `sip:bob@${REALM}` });
    expect(credentials.response).toMatch(/^[0-9a-f]{64}$/);
    expect(second!.cseq.seq).toBe(first!.cseq.seq + 1);
    expect(events.some((e) => e.type === "established")).toBe(true);
    expect(kamailioLog).toMatch(/digest verdict rc=-?\d+ call=sha256-right@callgate\.example[^\n]*\n[\s\S]*digest verdict rc=1 call=sha256-right@callgate\.example/);
  }, 60_000);

  it("a wrong password: Kamailio's own check refuses the SHA-256 response (rc -2) and the call ends with its 403", async () => {
    const { records, events } = await call("not-the-password", "sha256-wrong@callgate.example");
    expect(records.filter((r) => r.from === "UAC" && r.msg === "INVITE")).toHaveLength(2);
    expect(events.some((e) => e.type === "established")).toBe(false);
    expect(events.find((e) => e.type === "terminated")).toMatchObject({ status: 403 });
    expect(kamailioLog).toMatch(/digest verdict rc=-2 call=sha256-wrong@callgate\.example/);
    expect(kamailioLog).not.toMatch(/digest verdict rc=1 call=sha256-wrong/);
  }, 60_000);
});
