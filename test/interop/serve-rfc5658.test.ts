// RFC 5658 in the FIG. 5/6 flow of `callgate serve` processes: the caller's hop to SIP1 runs over UDP (the deploy
// file's roles.UAC.sipTransport), SIP1–SIP2 and SIP2–UAS over TCP. SIP1 learns from its driver which listener each
// message came in on, and its StatefulProxy record-routes twice: the INVITE leaving SIP1 carries one value naming its
// TCP listener and one naming its UDP listener (§4); the caller's ACK and BYE come back along both and SIP1 takes
// both off (RFC 3261 §16.4). First the served UAC (every role records, so the ladder is checked against FIG. 5 / FIG.
// 6), then SIPp as the caller (20 calls, route set kept, its trace read), then SIP1 SIGKILLed mid-call and restarted
// (the BYEs still pass by the Route set alone); all captured and read by tshark; nothing left at any role.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MessageRecord } from "../../lib/drivers/message-record.js";
import { hostClockMs } from "../../lib/flow/serve.js";
import { mergeRecordFiles } from "../../lib/flow/serve-records.js";
import { parseSipMessage, type SipRequest } from "../../protocols/sip/index.js";
import { checkLadder, splitCall } from "../lib/flow/ladder-helpers.js";
import { killStartedProcesses, startProcess, type RunningProcess } from "../support/cli-process.js";
import { rolesSection } from "../support/deploy-file.js";
import { SERVER_ROLES, namedFreePorts, serveProcess, untilRecordsStill } from "../support/serve-deployment.js";
import { findFile, readSippStats, sippPath, startSipp, workDir } from "./sip-sipp-helpers.js";

const SIPP_CALLS = 20;
const SERVED_CALLS = 3;

const dir = mkdtempSync(join(tmpdir(), "callgate-serve-rfc5658-"));
const servers = new Map<string, RunningProcess>();
const recordFiles = ["UAC", ...SERVER_ROLES].map((r) => join(dir, `${r}.jsonl`));
let p: Record<"uac" | "sip1" | "sip1tcp" | "pol1" | "ch" | "sip2" | "sip2tcp" | "pol2" | "uas" | "uastcp", number>;
let config = "";
let capture: RunningProcess | undefined;
const pcap = join(dir, "sip.pcap");

/** SIP1's two Record-Route values, the outbound (TCP) side's on top (RFC 5658 §4), and SIP2's. */
const sip1Tcp = (): string => `<sip:127.0.0.1:${p.sip1tcp};transport=tcp;lr>`;
const sip1Udp = (): string => `<sip:127.0.0.1:${p.sip1};lr>`;
const sip2Tcp = (): string => `<sip:127.0.0.1:${p.sip2tcp};transport=tcp;lr>`;

beforeAll(async () => {
  expect(sippPath(), "sipp (Debian sip-tester) must be installed").toBeTruthy();
  p = await namedFreePorts(["uac", "sip1", "sip1tcp", "pol1", "ch", "sip2", "sip2tcp", "pol2", "uas", "uastcp"]);
  config = join(dir, "deploy.yaml");
  const roles = rolesSection({
    UAC: `{ udp: ${p.uac} }, sipTransport: udp`,
    SIP1: `{ udp: ${p.sip1}, tcp: ${p.sip1tcp} }`,
    POL1: p.pol1,
    CH: p.ch,
    SIP2: `{ udp: ${p.sip2}, tcp: ${p.sip2tcp} }`,
    POL2: p.pol2,
    UAS: `{ udp: ${p.uas}, tcp: ${p.uastcp} }`,
  });
  writeFileSync(
    config,
    ["name: rfc5658", "seed: 13", "topology: { clearinghouse: osp-http, signedTokens: true, sipTransport: tcp }", ...roles, `calls: { count: ${SERVED_CALLS}, intervalMs: 100, answerDelayMs: 100, durationMs: 500, hangUp: caller }`, ""].join("\n"),
  );
  const sipPorts = [p.uac, p.sip1, p.sip1tcp, p.sip2tcp];
  capture = startProcess("tshark", ["-i", "lo", "-f", `host 127.0.0.1 and (${sipPorts.map((x) => `port ${x}`).join(" or ")})`, "-w", pcap], "tshark");
  await capture.waitFor("Capturing on", { ms: 30_000 });
  for (const role of SERVER_ROLES) servers.set(role, serveProcess(role, config, join(dir, `${role}.jsonl`)));
  for (const role of SERVER_ROLES) await servers.get(role)!.waitFor(`${role} ready`, { what: role, ms: 90_000 });
}, 150_000);

afterAll(async () => {
  for (const s of servers.values()) if (s.child.exitCode === null) s.child.kill("SIGTERM");
  if (capture && capture.child.exitCode === null) capture.child.kill("SIGINT");
  await Promise.all([...servers.values(), ...(capture ? [capture] : [])].map((s) => s.exited));
  killStartedProcesses();
});

const sip = (r: MessageRecord): SipRequest => parseSipMessage(r.bytes) as SipRequest;

/** The caller's side of the test: SIPp over UDP keeping the 200's Record-Route as its route set (rrs). */
function sippScenario(talkMs = 300): string {
  const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="RFC 5658 caller over UDP">
  <send retrans="500">
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "Alice" <sip:alice@sip1.example.com>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:alice@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=alice 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000

    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200" rrs="true">
    <action>
      <ereg regexp="${esc(`${sip2Tcp()}, ${sip1Tcp()}, ${sip1Udp()}`)}|Record-Route: ${esc(sip2Tcp())}\\r?\\nRecord-Route: ${esc(sip1Tcp())}\\r?\\nRecord-Route: ${esc(sip1Udp())}" search_in="msg" check_it="true" assign_to="rr"/>
    </action>
  </recv>
  <send>
    <![CDATA[
      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "Alice" <sip:alice@sip1.example.com>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      [routes]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: <sip:alice@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <pause milliseconds="${talkMs}"/>
  <send retrans="500">
    <![CDATA[
      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "Alice" <sip:alice@sip1.example.com>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      [routes]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Contact: <sip:alice@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200" crlf="true"/>
  <Reference variables="rr"/>
</scenario>
`;
}

/** The requests SIPp sent, from its message trace (-trace_msg): method, Call-ID and Route values. */
function sippSent(trace: string): { method: string; callId: string; route: string[] }[] {
  const out: { method: string; callId: string; route: string[] }[] = [];
  for (const entry of trace.split(/^-{10,}.*$/m)) {
    const sent = /message sent \(\d+ bytes\):\s*\n([\s\S]*)/.exec(entry)?.[1] ?? /message sent \[\d+\] bytes :\s*\n([\s\S]*)/.exec(entry)?.[1];
    if (sent === undefined) continue;
    const method = /^([A-Z]+) \S+ SIP\/2\.0/.exec(sent.trimStart())?.[1];
    const callId = /^Call-ID:\s*(\S+)/im.exec(sent)?.[1];
    if (method === undefined || callId === undefined) continue;
    const route = [...sent.matchAll(/^Route:\s*(.*?)\s*$/gim)].flatMap((m) => m[1]!.split(/,\s*(?=<)/));
    out.push({ method, callId, route });
  }
  return out;
}

describe("RFC 5658 in the FIG. 5/6 flow: the caller over UDP, SIP1–SIP2 over TCP (callgate serve)", () => {
  it(`the served UAC: ${SERVED_CALLS} calls answered and ended; SIP1 record-routes twice; ACK and BYE pass by both values; FIG. 5 28/28, FIG. 6 18/18`, async () => {
    const uac = serveProcess("UAC", config, join(dir, "UAC.jsonl"));
    expect(await uac.exited, uac.output()).toBe(0);
    expect(uac.output()).toContain(`${SERVED_CALLS} call(s), ${SERVED_CALLS} answered and ended, 0 failed`);
    await untilRecordsStill(recordFiles);
    const records = mergeRecordFiles(recordFiles.filter((f) => existsSync(f))).filter((r) => r.callId.startsWith("call-"));
    const invites = records.filter((r) => r.from === "SIP1" && r.to === "SIP2" && r.msg === "INVITE");
    expect(new Set(invites.map((r) => r.callId)).size).toBe(SERVED_CALLS);
    for (const r of invites) {
      expect(r.transport?.kind).toBe("tcp");
      expect(sip(r).getHeaders("Record-Route")).toEqual([sip1Tcp(), sip1Udp()]);
      expect(sip(r).getHeaders("Via")[0]).toMatch(new RegExp(`^SIP/2\\.0/TCP 127\\.0\\.0\\.1:${p.sip1tcp};`));
    }
    // The caller's hop is UDP both ways; SIP1's answers to it name UDP in its Via.
    for (const r of records.filter((x) => x.proto === "SIP" && ((x.from === "SIP1" && x.to === "UAC") || (x.from === "UAC" && x.to === "SIP1")))) expect(r.transport?.kind, `${r.from}>${r.to} ${r.msg}`).toBe("udp");
    for (const method of ["ACK", "BYE"]) {
      const fromUac = records.filter((r) => r.from === "UAC" && r.msg === method);
      expect(fromUac, method).toHaveLength(SERVED_CALLS);
      for (const r of fromUac) expect(sip(r).getHeaders("Route"), method).toEqual([sip1Udp(), sip1Tcp(), sip2Tcp()]);
      const relayed = records.filter((r) => r.from === "SIP1" && r.to === "SIP2" && r.msg === method);
      expect(relayed, method).toHaveLength(SERVED_CALLS);
      for (const r of relayed) expect(sip(r).getHeaders("Route"), method).toEqual([sip2Tcp()]);
    }
    const { setup, teardown } = splitCall(records, "call-1@callgate.example.com");
    const ladder = (rs: MessageRecord[]): string => rs.map((r) => `${r.proto} ${r.from}>${r.to} ${r.msg}`).join("\n");
    const s = checkLadder(setup, "setup");
    expect(s.status, `${s.output}\n${ladder(setup)}`).toBe(0);
    expect(s.output).toContain("all 28 steps");
    const t = checkLadder(teardown, "teardown");
    expect(t.status, `${t.output}\n${ladder(teardown)}`).toBe(0);
    expect(t.output).toContain("all 18 steps");
  }, 120_000);

  it(`SIPp as the caller over UDP: ${SIPP_CALLS} calls, 0 failed; the 200 carries both of SIP1's values, SIPp's ACK and BYE go along them and pass SIP1 to SIP2`, async () => {
    const work = workDir("callgate-serve-rfc5658-sipp-");
    writeFileSync(join(work, "caller.xml"), sippScenario());
    // SIPp takes the UAC's address: SIP1 knows its datagrams as the UAC's.
    const run = await startSipp(
      ["-sf", "caller.xml", "-m", String(SIPP_CALLS), "-r", "10", "-s", "bob", "-i", "127.0.0.1", "-p", String(p.uac), "-nostdin", "-timeout", "60", "-trace_msg", "-trace_err", "-trace_stat", "-fd", "1", `127.0.0.1:${p.sip1}`],
      work,
    ).done;
    const stats = readSippStats(findFile(work, ".csv"));
    expect(stats["SuccessfulCall(C)"], `${run.stdout.slice(-1500)}${run.stderr}`).toBe(String(SIPP_CALLS));
    expect(stats["FailedCall(C)"]).toBe("0");
    expect(run.code).toBe(0);
    const sent = sippSent(readFileSync(findFile(work, "_messages.log"), "latin1"));
    const callIds = new Set(sent.filter((m) => m.method === "INVITE").map((m) => m.callId));
    expect(callIds.size).toBe(SIPP_CALLS);
    for (const method of ["ACK", "BYE"]) {
      const mine = sent.filter((m) => m.method === method);
      expect(mine.length, method).toBeGreaterThanOrEqual(SIPP_CALLS);
      for (const m of mine) expect(m.route, `${method} ${m.callId}`).toEqual([sip1Udp(), sip1Tcp(), sip2Tcp()]);
    }
    await untilRecordsStill(recordFiles);
    const records = mergeRecordFiles(recordFiles.filter((f) => existsSync(f))).filter((r) => callIds.has(r.callId));
    for (const method of ["INVITE", "ACK", "BYE"]) {
      const relayed = records.filter((r) => r.from === "SIP1" && r.to === "SIP2" && r.msg === method);
      expect(new Set(relayed.map((r) => r.callId)).size, method).toBe(SIPP_CALLS);
      for (const r of relayed) {
        expect(r.transport?.kind, method).toBe("tcp");
        if (method === "INVITE") expect(sip(r).getHeaders("Record-Route")).toEqual([sip1Tcp(), sip1Udp()]);
        else expect(sip(r).getHeaders("Route"), method).toEqual([sip2Tcp()]);
      }
      expect(new Set(records.filter((r) => r.from === "SIP2" && r.to === "UAS" && r.msg === method).map((r) => r.callId)).size, `${method} at the UAS`).toBe(SIPP_CALLS);
    }
  }, 120_000);

  it("SIP1 SIGKILLed mid-call and restarted: the callers' BYEs come back to it by both Record-Route values, and the new SIP1 passes them to SIP2 over TCP by the Route set alone", async () => {
    const calls = 5;
    const work = workDir("callgate-serve-rfc5658-kill-");
    writeFileSync(join(work, "caller.xml"), sippScenario(4000));
    const sipp = startSipp(
      ["-sf", "caller.xml", "-m", String(calls), "-r", "10", "-s", "bob", "-i", "127.0.0.1", "-p", String(p.uac), "-nostdin", "-timeout", "90", "-trace_msg", "-trace_err", "-trace_stat", "-fd", "1", `127.0.0.1:${p.sip1}`],
      work,
    );
    const sip1File = join(dir, "SIP1.jsonl");
    const answered = (): Set<string> =>
      new Set(mergeRecordFiles([sip1File]).filter((r) => r.from === "SIP1" && r.to === "UAC" && r.msg === "200 OK" && /^CSeq:\s*1 INVITE/im.test(r.bytes.toString("latin1")) && !r.callId.startsWith("call-")).map((r) => r.callId));
    const before = answered().size;
    // Every call is answered (its ACK follows at once), then SIP1 dies while the calls talk.
    for (let i = 0; i < 200 && answered().size < before + calls; i++) await new Promise((r) => setTimeout(r, 50));
    expect(answered().size - before).toBe(calls);
    const old = servers.get("SIP1")!;
    old.child.kill("SIGKILL");
    await old.exited;
    const killedAt = hostClockMs();
    const again = serveProcess("SIP1", config, sip1File);
    servers.set("SIP1", again);
    await again.waitFor("SIP1 ready", { what: "SIP1", ms: 60_000 });
    // SIPp sends each BYE after its 4 s of talk and again until answered (RFC 3261 §17.1.2.2): the new SIP1 takes them.
    const run = await sipp.done;
    const stats = readSippStats(findFile(work, ".csv"));
    expect(stats["SuccessfulCall(C)"], `${run.stdout.slice(-1500)}${run.stderr}`).toBe(String(calls));
    expect(stats["FailedCall(C)"]).toBe("0");
    const sent = sippSent(readFileSync(findFile(work, "_messages.log"), "latin1"));
    const ids = new Set(sent.filter((m) => m.method === "INVITE").map((m) => m.callId));
    for (const m of sent.filter((x) => x.method === "BYE")) expect(m.route).toEqual([sip1Udp(), sip1Tcp(), sip2Tcp()]);
    await untilRecordsStill(recordFiles);
    const byes = mergeRecordFiles(recordFiles.filter((f) => existsSync(f))).filter((r) => ids.has(r.callId) && r.from === "SIP1" && r.to === "SIP2" && r.msg === "BYE" && r.t > killedAt);
    expect(new Set(byes.map((r) => r.callId)).size).toBe(calls);
    for (const r of byes) {
      expect(r.transport?.kind).toBe("tcp");
      expect(sip(r).getHeaders("Route")).toEqual([sip2Tcp()]);
    }
  }, 150_000);

  it("nothing is left at any role; on the wire, tshark reads the INVITEs SIP1 sends over TCP with both values, and no malformed frame", async () => {
    await untilRecordsStill(recordFiles);
    for (const s of servers.values()) s.child.kill("SIGTERM");
    expect(await Promise.all([...servers.values()].map((s) => s.exited))).toEqual([...servers.values()].map(() => 0));
    for (const role of ["SIP1", "SIP2"]) expect(servers.get(role)!.output(), role).toContain(`${role} holds {"calls":0,"copsRequestStates":0,"transactions":0}`);
    for (const role of ["POL1", "POL2"]) expect(servers.get(role)!.output(), role).toContain(`${role} holds {"calls":0,"copsRequestStates":0,"usageBacklog":0}`);
    // A router keeps its one configuration request state (REQ Config) for as long as it runs: no call's classifier.
    for (const role of ["R1", "R2"]) {
      const line = servers.get(role)!.output().split("\n").find((l) => l.startsWith(`${role} holds `)) ?? "";
      const held = JSON.parse(line.slice(`${role} holds `.length) || "null") as Record<string, number> | null;
      expect(held, role).toMatchObject({ classifiers: 0, copsRequestStates: 1 });
      expect(held!.installs, role).toBe(held!.removals);
      expect(held!.installs, role).toBeGreaterThanOrEqual(2 * (SIPP_CALLS + SERVED_CALLS));
    }
    await new Promise((r) => setTimeout(r, 500)); // the last packets reach the capture
    capture!.child.kill("SIGINT");
    await capture!.exited;
    const asSip = ["-d", `tcp.port==${p.sip1tcp},sip`, "-d", `tcp.port==${p.sip2tcp},sip`, "-d", `udp.port==${p.sip1},sip`, "-d", `udp.port==${p.uac},sip`];
    const tshark = (...args: string[]): string => {
      const res = spawnSync("tshark", ["-r", pcap, ...asSip, ...args], { encoding: "utf8" });
      expect(res.status, res.stderr).toBe(0);
      return res.stdout;
    };
    const invites = tshark("-Y", `sip.Method == "INVITE" && tcp.dstport == ${p.sip2tcp}`, "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=|", "-e", "sip.Record-Route").split("\n").filter(Boolean);
    // Over TCP one segment may carry several INVITEs: each carries SIP1's two values.
    expect(invites.length).toBeGreaterThan(0);
    const values = invites.flatMap((line) => line.split("|"));
    expect(values.filter((v) => v === sip1Tcp()).length).toBeGreaterThanOrEqual(SIPP_CALLS + SERVED_CALLS);
    expect(values.filter((v) => v === sip1Tcp()).length).toBe(values.filter((v) => v === sip1Udp()).length);
    expect(tshark("-Y", "_ws.malformed || _ws.expert.severity == error", "-T", "fields", "-e", "frame.number").trim()).toBe("");
  }, 120_000);
});
