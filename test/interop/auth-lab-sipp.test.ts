// SIPp with [authentication] (-au/-ap) through `callgate lab` with caller authentication on: SIP1 challenges the
// INVITE with 407 (nonce from the nonce machine), SIPp sends it again with Proxy-Authorization, REQ AAA carries
// it to POL1 (ClientSI TLV 8), which checks it against the credentials file (HA1 only). The right password is
// connected and passes check-ladder for FIG. 5 (from the INVITE with credentials) and FIG. 6; a wrong one gets 403; the capture of SIP and COPS
// holds no cleartext password; the authenticated INVITE replayed (same nonce and nonce-count) gets 403.
// SIPp 3.6 computes MD5 only and answers the first challenge it reads, so SIP1 offers MD5 here (RFC 8760 lets a
// server offer the algorithms it wants; SHA-256 is covered by test/lib/auth).
import { spawn, spawnSync } from "node:child_process";
import { createSocket } from "node:dgram";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCallerAuthentication, type CallerAuthentication } from "../../lib/auth/caller-auth.js";
import { credentialLine } from "../../lib/auth/credential-store.js";
import type { MessageRecord } from "../../lib/drivers/message-record.js";
import { startLab, type Lab } from "../../lib/flow/lab.js";
import { splitCallLadder } from "../../lib/replay/ladder-json.js";
import { checkLadder } from "../lib/flow/ladder-helpers.js";
import { findFile, freePort, readSippStats, sippPath, startSipp, workDir } from "./sip-sipp-helpers.js";
import { SCENARIO_DIR } from "./sipp-softphone-helpers.js";

const REALM = "sip1.example.com";
const PASSWORD = "wonderland-7f3a";
const dir = workDir("callgate-auth-lab-");
let auth: CallerAuthentication;
let lab: Lab;
let tshark: ReturnType<typeof spawn> | undefined;
const pcap = join(dir, "auth.pcap");
const errors: string[] = [];

async function sipp(file: string, password: string, callIdPrefix: string) {
  const work = workDir("callgate-auth-sipp-");
  const run = await startSipp(
    ["-sf", join(SCENARIO_DIR, file), "-m", "1", "-s", "bob", "-au", "alice", "-ap", password, "-i", "127.0.0.1", "-p", String(await freePort()), "-cid_str", `${callIdPrefix}-%u-%p@%s`, "-nostdin", "-timeout", "25", "-trace_stat", "-trace_err", "-fd", "1", lab.endpoints.SIP1?.sip ?? ""],
    work,
  ).done;
  const stats = readSippStats(findFile(work, ".csv"));
  const sippErrors = spawnSync("sh", ["-c", `cat ${work}/*_errors.log 2>/dev/null`], { encoding: "utf8" }).stdout;
  return { code: run.code, successful: Number(stats["SuccessfulCall(C)"]), stdout: run.stdout, errors: sippErrors };
}

const callRecords = (prefix: string): MessageRecord[] => lab.records.filter((r) => r.callId?.startsWith(prefix));

beforeAll(async () => {
  expect(sippPath(), "sipp (Debian sip-tester) must be installed").toBeTruthy();
  const credentials = join(dir, "credentials");
  writeFileSync(credentials, `${credentialLine("MD5", "alice", REALM, PASSWORD)}\n${credentialLine("SHA-256", "alice", REALM, PASSWORD)}\n`);
  auth = await startCallerAuthentication({ realm: REALM, credentials, algorithms: ["MD5"] });
  lab = await startLab({ answerDelayMs: 100, keepRecords: true, auth, onError: (where, err) => errors.push(`${where}: ${String(err)}`) });
  const sipPort = Number((lab.endpoints.SIP1?.sip ?? "").split(":")[1]);
  const copsPort = Number((lab.endpoints.POL1?.cops ?? "").split(":")[1]);
  tshark = spawn("tshark", ["-i", "lo", "-f", `udp port ${sipPort} or tcp port ${copsPort}`, "-w", pcap, "-q"], { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  tshark.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const until = Date.now() + 15_000;
  while (!/Capturing on/.test(err)) {
    if (Date.now() > until) throw new Error(`tshark did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, 1000));
}, 60_000);

afterAll(async () => {
  if (tshark && tshark.exitCode === null) {
    tshark.kill("SIGINT");
    await new Promise((r) => tshark!.once("exit", r));
  }
  await lab?.close();
  await auth?.close();
});

describe("SIPp with [authentication] through callgate lab", () => {
  it("the right password: 407, ACK, INVITE with credentials, connected; FIG. 5 and FIG. 6 pass check-ladder", async () => {
    const run = await sipp("auth-digest.xml", PASSWORD, "right");
    expect(run.errors).toBe("");
    expect(run.successful, run.stdout.slice(-1500)).toBe(1);
    await new Promise((r) => setTimeout(r, 500));
    const call = callRecords("right");
    const labels = call.filter((r) => (r.from === "UAC" || r.to === "UAC") && r.msg !== "100 Trying").map((r) => `${r.from}>${r.to} ${r.msg}`);
    expect(labels.slice(0, 4)).toEqual(["UAC>SIP1 INVITE", "SIP1>UAC 407 Proxy Authentication Required", "UAC>SIP1 ACK", "UAC>SIP1 INVITE"]);
    // The challenge comes before FIG. 5 step 1: only the INVITE with credentials reached POL1.
    expect(call.filter((r) => r.msg === "REQ AAA" && r.from === "SIP1")).toHaveLength(1);
    const firstInvite = call.findIndex((r) => r.from === "UAC" && r.msg === "INVITE");
    const secondInvite = call.findIndex((r, i) => i > firstInvite && r.from === "UAC" && r.msg === "INVITE");
    expect(call.findIndex((r) => r.msg === "REQ AAA")).toBeGreaterThan(secondInvite);
    expect(call[secondInvite]!.bytes.toString("latin1")).toMatch(/\r\nProxy-Authorization: Digest [^\r]*username="alice"[^\r]*realm="sip1\.example\.com"/);
    // check-ladder, labels as recorded: the challenge exchange (first INVITE, its 407 and ACK) is cut off before
    // FIG. 5 as `replay --ladder-json` cuts it, and the second INVITE is step 1.
    const { challenge, setup, teardown } = splitCallLadder(call);
    expect(challenge.filter((r) => r.msg !== "100 Trying").map((r) => `${r.from}>${r.to} ${r.msg}`)).toEqual(["UAC>SIP1 INVITE", "SIP1>UAC 407 Proxy Authentication Required", "UAC>SIP1 ACK"]);
    expect(setup[0]).toBe(call[secondInvite]);
    for (const [flow, half, steps] of [["setup", setup, 28], ["teardown", teardown, 18]] as const) {
      const verdict = checkLadder(half, flow);
      expect(verdict.status, verdict.output).toBe(0);
      expect(verdict.output).toContain(`all ${steps} steps`);
    }
  }, 60_000);

  it("a wrong password: 407, then 403 from POL1's refusal", async () => {
    const run = await sipp("auth-digest-wrong-password.xml", "not-the-password", "wrong");
    expect(run.errors).toBe("");
    expect(run.successful, run.stdout.slice(-1500)).toBe(1);
    const call = callRecords("wrong");
    expect(call.filter((r) => r.from === "POL1" && r.msg.startsWith("DEC AAA"))).toHaveLength(1);
    expect(call.some((r) => r.from === "SIP1" && r.to === "UAC" && r.msg === "403 Forbidden")).toBe(true);
    expect(call.some((r) => r.from === "SIP1" && r.to === "SIP2")).toBe(false);
  }, 60_000);

  it("the authenticated INVITE replayed (same nonce and nonce-count, new Call-ID) is refused 403 at SIP1", async () => {
    const call = callRecords("right");
    const invites = call.filter((r) => r.from === "UAC" && r.msg === "INVITE");
    const socket = createSocket("udp4");
    await new Promise<void>((r) => socket.bind(0, "127.0.0.1", () => r()));
    // Another Call-ID and branch, and a Via naming this socket (the response goes there, RFC 3261 §18.2.2).
    const replay = invites[1]!.bytes
      .toString("latin1")
      .replace(/\r\nCall-ID: [^\r]*/i, "\r\nCall-ID: replayed-1@127.0.0.1")
      .replace(/\r\nVia: SIP\/2\.0\/UDP [^;\r]*;branch=[^;\r]*/i, `\r\nVia: SIP/2.0/UDP 127.0.0.1:${socket.address().port};branch=z9hG4bK-replayed-1`);
    const answers: string[] = [];
    socket.on("message", (m) => answers.push(m.toString("latin1")));
    const [host, port] = (lab.endpoints.SIP1?.sip ?? "").split(":");
    socket.send(Buffer.from(replay, "latin1"), Number(port), host);
    const until = Date.now() + 5000;
    while (!answers.some((a) => /^SIP\/2\.0 [2-6]\d\d/.test(a)) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    socket.close();
    expect(answers.find((a) => /^SIP\/2\.0 [2-6]\d\d/.test(a))).toMatch(/^SIP\/2\.0 403 /);
    expect(lab.records.filter((r) => r.callId === "replayed-1@127.0.0.1" && r.msg === "REQ AAA")).toHaveLength(0);
  }, 30_000);

  it("the capture of SIP and COPS holds the digest, never the password", async () => {
    await new Promise((r) => setTimeout(r, 500));
    tshark!.kill("SIGINT");
    await new Promise((r) => tshark!.once("exit", r));
    const bytes = readFileSync(pcap);
    expect(bytes.includes(Buffer.from("Proxy-Authorization: Digest"))).toBe(true);
    expect(bytes.includes(Buffer.from(PASSWORD))).toBe(false);
    expect(bytes.includes(Buffer.from("not-the-password"))).toBe(false);
    expect(errors).toEqual([]);
  }, 30_000);
});
