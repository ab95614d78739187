// Kamailio between SIP1 and SIP2 of a `callgate serve` deployment, as an operator would put a foreign proxy there:
// SIP1's next hop is Kamailio (roles.SIP1.nextHop in the deploy file), and Kamailio runs a plain record-routing
// config (loose_route, record_route, t_relay; no $du, no force_rport) that knows nothing of the roles. Over UDP and
// TCP, 100 calls each: every call answered and ended, the ladders match FIG. 5 / FIG. 6 once Kamailio's hop is
// folded, the BYE passes Kamailio by its Record-Route, nothing is left behind, tshark reads no malformed packet.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { MessageRecord } from "../../lib/drivers/message-record.js";
import { mergeRecordFiles } from "../../lib/flow/serve-records.js";
import { parseNameAddr, parseSipMessage, type SipRequest } from "../../protocols/sip/index.js";
import { checkLadder, splitCall } from "../lib/flow/ladder-helpers.js";
import { killStartedProcesses, startProcess, type RunningProcess } from "../support/cli-process.js";
import { rolesSection } from "../support/deploy-file.js";
import { SERVER_ROLES as SERVERS, namedFreePorts, serveProcess, untilRecordsStill } from "../support/serve-deployment.js";
import { waitForListener } from "./sip-sipp-helpers.js";

afterAll(killStartedProcesses);

const CALLS = 100;
const ROLES = new Set<string>(["UAC", ...SERVERS]);

/** A stateful proxy as its operator writes one: record-route dialog-creating requests, route in-dialog ones by Route. */
function kamailioConfig(listen: string, runDir: string): string {
  return `#!KAMAILIO
debug=1
log_stderror=yes
fork=yes
children=2
tcp_children=2
auto_aliases=no
dns=no
rev_dns=no
use_dns_cache=no
listen=${listen}
mpath="/usr/lib/x86_64-linux-gnu/kamailio/modules/"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "maxfwd.so"
loadmodule "pv.so"
loadmodule "siputils.so"
loadmodule "textops.so"
loadmodule "ctl.so"
modparam("ctl", "binrpc", "unix:${runDir}/kamailio_ctl")

request_route {
	if (!mf_process_maxfwd_header("10")) {
		sl_send_reply("483", "Too Many Hops");
		exit;
	}
	if (has_totag()) {
		if (loose_route()) {
			t_relay();
			exit;
		}
		if (is_method("ACK") && t_check_trans()) {
			t_relay();
		}
		exit;
	}
	if (is_method("CANCEL")) {
		if (t_check_trans()) t_relay();
		exit;
	}
	t_check_trans();
	loose_route();
	if (is_method("INVITE")) record_route();
	if (!t_relay()) sl_reply_error();
}
`;
}

/**
 * Records of Kamailio's hop folded into the direct SIP1–SIP2 message the reference flows name, repeats left out:
 * the same SIP message (label, CSeq) again from the same sender to the same receiver, i.e. a retransmission over
 * UDP (RFC 3261 §17) or the caller's ACK for a retransmitted 2xx (§13.2.2.4).
 */
function folded(records: MessageRecord[]): MessageRecord[] {
  const seen = new Set<string>();
  const out: MessageRecord[] = [];
  for (const r of records) {
    if (r.proto === "SIP") {
      const key = `${r.callId}|${r.from}|${r.to}|${r.msg}|${parseSipMessage(r.bytes).getHeader("CSeq") ?? ""}`;
      if (seen.has(key)) continue;
      seen.add(key);
    }
    out.push(ROLES.has(r.to) ? r : { ...r, to: r.from === "SIP1" ? "SIP2" : "SIP1" });
  }
  return out;
}

function tshark(...args: string[]): string {
  const res = spawnSync("tshark", args, { encoding: "utf8" });
  expect(res.status, res.stderr).toBe(0);
  return res.stdout;
}

async function throughKamailio(transport: "udp" | "tcp"): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), `callgate-kamailio-${transport}-`));
  const ports = await namedFreePorts(["uac", "sip1", "pol1", "ch", "sip2", "pol2", "uas", "kamailio"]);
  const kam = ports.kamailio;
  writeFileSync(join(dir, "kamailio.cfg"), kamailioConfig(`${transport}:127.0.0.1:${kam}`, dir));
  const sip = (port: number): string => (transport === "tcp" ? `{ udp: ${port}, tcp: ${port} }` : `{ udp: ${port} }`);
  const nextHop = `sip:127.0.0.1:${kam}${transport === "tcp" ? ";transport=tcp" : ""}`;
  const roles = rolesSection({ UAC: sip(ports.uac), SIP1: sip(ports.sip1), POL1: ports.pol1, CH: ports.ch, SIP2: sip(ports.sip2), POL2: ports.pol2, UAS: sip(ports.uas) })
    .map((line) => (line.startsWith("  SIP1:") ? line.replace(/ }$/, `, nextHop: "${nextHop}" }`) : line));
  const config = join(dir, "deploy.yaml");
  writeFileSync(
    config,
    [
      `name: kamailio-${transport}`,
      "seed: 11",
      `topology: { clearinghouse: osp-http, signedTokens: true, sipTransport: ${transport} }`,
      ...roles,
      `calls: { count: ${CALLS}, intervalMs: 40, answerDelayMs: 60, durationMs: 1000, hangUp: caller }`,
      "",
    ].join("\n"),
  );

  const pcap = join(dir, "kamailio.pcap");
  // Kamailio's own port, and the proxies' SIP ports: over TCP it connects to them from ports of its own.
  const sipPorts = [kam, ports.sip1, ports.sip2];
  const capture = startProcess("tshark", ["-i", "lo", "-f", `host 127.0.0.1 and (${sipPorts.map((p) => `port ${p}`).join(" or ")})`, "-w", pcap], "tshark");
  await capture.waitFor("Capturing on", { ms: 30_000 });
  const kamailio: RunningProcess = startProcess("kamailio", ["-f", join(dir, "kamailio.cfg"), "-DD", "-E", "-Y", dir, "-m", "64", "-M", "8"], "kamailio");
  try {
    await waitForListener(kam, transport).catch((err: unknown) => {
      throw new Error(`${String(err)}; kamailio said: ${kamailio.output().slice(-2000)}`);
    });
    await callsThrough(transport, dir, config, ports, sipPorts, pcap, kamailio, capture);
  } finally {
    // SIGTERM, not the SIGKILL of afterAll: Kamailio's main process takes its children with it, tshark its dumpcap.
    if (kamailio.child.exitCode === null) kamailio.child.kill("SIGTERM");
    if (capture.child.exitCode === null) capture.child.kill("SIGINT");
    await Promise.all([kamailio.exited, capture.exited]);
  }
}

async function callsThrough(
  transport: "udp" | "tcp",
  dir: string,
  config: string,
  ports: Record<"uac" | "sip1" | "pol1" | "ch" | "sip2" | "pol2" | "uas" | "kamailio", number>,
  sipPorts: number[],
  pcap: string,
  kamailio: RunningProcess,
  capture: RunningProcess,
): Promise<void> {
  const kam = ports.kamailio;

  const servers = SERVERS.map((role) => ({ role, s: serveProcess(role, config, join(dir, `${role}.jsonl`)) }));
  for (const { role, s } of servers) await s.waitFor(`${role} ready`, { what: role, ms: 90_000 });
  const uac = serveProcess("UAC", config, join(dir, "UAC.jsonl"));
  expect(await uac.exited, uac.output()).toBe(0);
  expect(uac.output()).toContain(`${CALLS} call(s), ${CALLS} answered and ended, 0 failed`);
  const files = ["UAC", ...SERVERS].map((r) => join(dir, `${r}.jsonl`)).filter((f) => existsSync(f));
  await untilRecordsStill(files);
  for (const { s } of servers) s.child.kill("SIGTERM");
  expect(await Promise.all(servers.map(({ s }) => s.exited))).toEqual(servers.map(() => 0));
  // Nothing left behind: no call, COPS request state or transaction held by either proxy.
  for (const { role, s } of servers.filter((x) => x.role === "SIP1" || x.role === "SIP2")) {
    expect(s.output(), role).toContain(`${role} holds {"calls":0,"copsRequestStates":0,"transactions":0}`);
  }
  kamailio.child.kill("SIGTERM");
  await kamailio.exited;
  await new Promise((r) => setTimeout(r, 500)); // the last packets reach the capture
  capture.child.kill("SIGINT");
  await capture.exited;

  const records = mergeRecordFiles(files);
  const foreign = `127.0.0.1:${kam}`;
  // Kamailio is a column of its own: SIP1 sends the INVITEs there, not to SIP2.
  // (over UDP an INVITE may be sent again: Timer A, RFC 3261 §17.1.1.2)
  const invites = records.filter((r) => r.from === "SIP1" && r.msg === "INVITE");
  expect(new Set(invites.map((r) => r.callId)).size).toBe(CALLS);
  for (const r of invites) expect(r.to).toBe(foreign);
  for (const callId of ["call-1@callgate.example.com", `call-${CALLS / 2}@callgate.example.com`, `call-${CALLS}@callgate.example.com`]) {
    const { setup, teardown } = splitCall(folded(records), callId);
    const s = checkLadder(setup, "setup");
    const ladder = (rs: MessageRecord[]): string => rs.map((r) => `${r.proto} ${r.from}>${r.to} ${r.msg}`).join("\n");
    expect(s.status, `${callId} setup: ${s.output}\n${ladder(setup)}`).toBe(0);
    expect(s.output).toContain("all 28 steps");
    const t = checkLadder(teardown, "teardown");
    expect(t.status, `${callId} teardown: ${t.output}\n${ladder(teardown)}`).toBe(0);
    expect(t.output).toContain("all 18 steps");
  }
  // The callee's dialog route set holds reachable URIs only (SIP2, Kamailio, SIP1: host:port, no example.com).
  const atUas = records.find((r) => r.from === "SIP2" && r.to === "UAS" && r.msg === "INVITE");
  const recordRoute = (parseSipMessage(atUas!.bytes) as SipRequest).getHeaders("Record-Route").map((v) => parseNameAddr(v, "Record-Route").uri);
  expect(recordRoute.map((u) => (typeof u === "string" ? u : `${u.host}:${u.port ?? ""}`))).toEqual([`127.0.0.1:${ports.sip2}`, foreign, `127.0.0.1:${ports.sip1}`]);
  // Every BYE SIP1 relays goes to Kamailio with Kamailio's Record-Route on top of its Route set, and reaches SIP2.
  const byes = records.filter((r) => r.from === "SIP1" && r.msg === "BYE");
  expect(new Set(byes.map((r) => r.callId)).size).toBe(CALLS);
  for (const r of byes) {
    expect(r.to).toBe(foreign);
    const route = (parseSipMessage(r.bytes) as SipRequest).getHeaders("Route");
    expect(route[0]).toContain(`sip:127.0.0.1:${kam}`);
    expect(route[1]).toContain(`sip:127.0.0.1:${ports.sip2}`);
  }
  expect(new Set(records.filter((r) => r.from === "SIP2" && r.to === "UAS" && r.msg === "BYE").map((r) => r.callId)).size).toBe(CALLS);

  // On the wire, tshark's SIP dissector reads every message to and from Kamailio, none malformed.
  const asSip = sipPorts.flatMap((p) => ["-d", `${transport}.port==${p},sip`]);
  // Messages, not frames: over TCP one segment carries several.
  const methods = tshark("-r", pcap, ...asSip, "-Y", "sip", "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,", "-e", "sip.CSeq.method").split(/[\n,]/).filter(Boolean);
  // Through Kamailio, each call: INVITE, 100, 180, 200, ACK, BYE, 200 on both of its sides at least.
  expect(methods.length).toBeGreaterThan(CALLS * 12);
  for (const m of ["INVITE", "ACK", "BYE"]) expect(methods.filter((x) => x === m).length, m).toBeGreaterThanOrEqual(CALLS * 2);
  expect(tshark("-r", pcap, ...asSip, "-Y", "_ws.malformed || _ws.expert.severity == error", "-T", "fields", "-e", "frame.number").trim()).toBe("");
}

describe("Kamailio between SIP1 and SIP2 (callgate serve, deploy file nextHop)", () => {
  it("over UDP: 100 calls answered and ended, ladders FIG. 5 / FIG. 6, BYE by Record-Route, nothing left", { timeout: 240_000 }, async () => {
    await throughKamailio("udp");
  });

  it("over TCP: 100 calls answered and ended, ladders FIG. 5 / FIG. 6, BYE by Record-Route, nothing left", { timeout: 240_000 }, async () => {
    await throughKamailio("tcp");
  });
});
