// SIPp as a softphone through `callgate serve` processes (SIP1, POL1, R1, CH, SIP2, POL2, R2 and the UAS, each
// its own process, as in a deployment): SIPp calls through SIP1 in every softphone case (hold and resume,
// refresh by UPDATE and by re-INVITE, 422, 100rel/PRACK, Require: foo → 420, late offer, static payload types,
// no acceptable media, OPTIONS and MESSAGE); then SIPp is the callee and a served UAC holds and resumes it. Each media change asks both policy servers again
// (TLV 9) and swaps the routers' classifiers; each answered call gets one usage record per side; tshark finds
// no malformed frame on any SIP hop. With 100rel, the offer and answer may be the INVITE's and the reliable 180's, or
// the 180's and the PRACK's: either way each router gets the agreed 5-tuples once. Past the policy: glare (the callee's re-INVITE crosses SIPp's, each end
// answers the other 491, the callee retries), a late offer whose ACK answer installs the flows, and a change the
// callee refuses (488) after both proxies installed it, put back.
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MessageRecord } from "../../lib/drivers/message-record.js";
import { mergeRecordFiles } from "../../lib/flow/serve-records.js";
import { decodeCopsMessage, decodeSipAaaClientSi, parseProvisioningDecision } from "../../protocols/cops/index.js";
import { mediaFlows } from "../../lib/flow/media-flows.js";
import { parseSipMessage, type SipRequest, type SipResponse } from "../../protocols/sip/index.js";
import { BUILT_CLI, killStartedProcesses, trackProcess, type RunningProcess } from "../support/cli-process.js";
import { rolesSection } from "../support/deploy-file.js";
import { SERVER_ROLES, namedFreePorts, serveProcess, untilRecordsStill } from "../support/serve-deployment.js";
import { sippPath, startSipp, workDir } from "./sip-sipp-helpers.js";
import { SCENARIO_DIR, dissect, runScenario, startCapture, type Capture } from "./sipp-softphone-helpers.js";

const dir = mkdtempSync(join(tmpdir(), "callgate-softphone-serve-"));
let p: Record<"uac" | "sip1" | "pol1" | "ch" | "sip2" | "pol2" | "uas", number>;
let capture: Capture;
const servers = new Map<string, RunningProcess>();
const recordFiles: string[] = [];

/** The deploy file with this `calls:` line; every process of one deployment reads the same roles and seed. */
function deployFile(name: string, calls: string): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    [
      `name: softphones-${name}`,
      "topology: { clearinghouse: osp-http, signedTokens: true, sipTransport: udp }",
      ...rolesSection({ UAC: `{ udp: ${p.uac} }`, SIP1: `{ udp: ${p.sip1} }`, POL1: p.pol1, CH: p.ch, SIP2: `{ udp: ${p.sip2} }`, POL2: p.pol2, UAS: `{ udp: ${p.uas} }` }),
      calls,
      "",
    ].join("\n"),
  );
  return file;
}

function serve(role: string, config: string, name = role): RunningProcess {
  const record = join(dir, `${name}.jsonl`);
  recordFiles.push(record);
  const s = serveProcess(role, config, record, { built: true });
  servers.set(name, s);
  return s;
}

let base = "";

beforeAll(async () => {
  expect(sippPath(), "sipp (Debian sip-tester) must be installed").toBeTruthy();
  expect(existsSync(BUILT_CLI), "run `npm run build` first").toBe(true);
  p = await namedFreePorts(["uac", "sip1", "pol1", "ch", "sip2", "pol2", "uas"]);
  // The seed is not named: the UAS draws fresh tags every start. The key PKI still comes from the default seed.
  base = deployFile("base", "calls: { answerDelayMs: 100, durationMs: 0, hangUp: caller }");
  capture = await startCapture([p.uac, p.sip1, p.sip2, p.uas]);
  for (const role of SERVER_ROLES) serve(role, base);
  for (const role of SERVER_ROLES) await servers.get(role)!.waitFor(`${role} ready`, { what: role, ms: 60_000 });
}, 90_000);

afterAll(async () => {
  await capture?.stop();
  for (const s of servers.values()) if (s.child.exitCode === null) s.child.kill("SIGTERM");
  await Promise.all([...servers.values()].map((s) => s.exited));
  killStartedProcesses();
});

/** The media change numbers (TLV 9) a proxy sent its policy server in one call, and what the PDP then told its router. */
function mediaChanges(records: MessageRecord[], callId: string, proxy: string, pol: string, router: string): Array<{ change: number; toRouter: string[] }> {
  const cops = records.filter((r) => r.proto === "COPS" && (r.callId === callId || r.callId === ""));
  return cops.flatMap((r, i) => {
    if (r.from !== proxy || r.msg !== "REQ LDP" || r.callId !== callId) return [];
    const m = decodeCopsMessage(r.bytes);
    const change = m.op === "REQ" ? decodeSipAaaClientSi(m.clientSi[0]!.data).mediaChange : undefined;
    if (change === undefined) return [];
    const dec = cops.findIndex((x, k) => k > i && x.from === pol && x.to === proxy && x.msg === "DEC LDP");
    return [{ change, toRouter: cops.slice(i, dec).filter((x) => x.from === pol && x.to === router).map((x) => x.msg) }];
  });
}

const callIdOf = (records: MessageRecord[], prefix: string): string => records.find((r) => r.callId.startsWith(prefix))?.callId ?? `${prefix}?`;

const SCENARIOS = ["session-timer-update", "session-timer-422", "prack", "prack-late-offer", "require-foo", "late-offer", "static-payloads", "no-acceptable-media", "hold-resume", "session-timer-reinvite", "options-message", "reinvite-refused"];

/** The flows ("src:port>dst:port", sorted) of each REQ LDP a proxy sent in one call: the setup's, then each change's. */
function ldpFlows(records: MessageRecord[], callId: string, proxy: string): Array<{ change: number | undefined; flows: string[] }> {
  return records.flatMap((r) => {
    if (r.proto !== "COPS" || r.from !== proxy || r.msg !== "REQ LDP" || r.callId !== callId) return [];
    const m = decodeCopsMessage(r.bytes);
    if (m.op !== "REQ") return [];
    const info = decodeSipAaaClientSi(m.clientSi[0]!.data);
    return [{ change: info.mediaChange, flows: info.flows.map((f) => `${f.srcAddress}:${f.srcPort}>${f.dstAddress}:${f.dstPort}`).sort() }];
  });
}

describe("SIPp softphone cases through callgate serve processes", () => {
  it.each(SCENARIOS)("SIPp calls through SIP1: %s", async (name) => {
    const run = await runScenario(`${name}.xml`, `127.0.0.1:${p.sip1}`, p.uac, name);
    expect(run.errors, `${name}: SIPp errors`).toBe("");
    expect(run.successful, run.stdout.slice(-1500)).toBe(1);
    expect(run.code).toBe(0);
  }, 60_000);

  it("glare: SIPp's re-INVITE crosses the callee's, each end answers the other 491 through both proxies, the callee retries within 2 s and is answered", async () => {
    // The UAS again, now re-INVITING (hold) half a second after each ACK; SIPp holds that re-INVITE unanswered
    // while its own crosses it.
    const old = servers.get("UAS")!;
    old.child.kill("SIGTERM");
    expect(await old.exited).toBe(0);
    const glaring = deployFile("glare", "calls: { answerDelayMs: 100, durationMs: 0, hangUp: caller, reinvites: [{by: callee, afterMs: 500, hold: true}] }");
    const uas = serve("UAS", glaring, "UAS-glare");
    servers.set("UAS", uas); // the next case takes its address
    await uas.waitFor("UAS ready", { what: "UAS", ms: 60_000 });
    const run = await runScenario("glare.xml", `127.0.0.1:${p.sip1}`, p.uac, "glare");
    expect(run.errors, "glare: SIPp errors").toBe("");
    expect(run.successful, run.stdout.slice(-1500)).toBe(1);
    expect(run.code).toBe(0);
  }, 90_000);

  it("SIPp as the callee: a served UAC calls it through both proxies, holds it and resumes it, hangs up; the UAC exits 0", async () => {
    // SIPp takes the UAS's address
    const uas = servers.get("UAS")!;
    uas.child.kill("SIGTERM");
    expect(await uas.exited).toBe(0);
    const sipp = startSipp(["-sf", join(SCENARIO_DIR, "callee-held-and-resumed.xml"), "-m", "1", "-i", "127.0.0.1", "-p", String(p.uas), "-nostdin", "-timeout", "40", "-trace_err"], workDir("callgate-softphone-callee-"));
    trackProcess(sipp.child);
    const caller = deployFile("caller-holds", "calls: { count: 1, answerDelayMs: 100, durationMs: 3000, hangUp: caller, reinvites: [{by: caller, afterMs: 800, hold: true}, {by: caller, afterMs: 800, hold: false}] }");
    const uac = serve("UAC", caller);
    expect(await uac.exited, uac.output()).toBe(0);
    expect(uac.output()).toContain("UAC: 1 call(s), 1 answered and ended");
    const done = await sipp.done;
    expect(done.code, done.stdout.slice(-1500) + done.stderr).toBe(0);
  }, 90_000);

  it("each hold and resume asked both policy servers again (TLV 9 1, 2: DEC Install then DEC Remove), a refresh did not; one usage record per side per answered call", async () => {
    await untilRecordsStill(recordFiles);
    const records = mergeRecordFiles(recordFiles.filter((f) => existsSync(f)));
    for (const prefix of ["hold-resume-", "call-1@"]) {
      const callId = callIdOf(records, prefix);
      for (const [proxy, pol, router] of [["SIP1", "POL1", "R1"], ["SIP2", "POL2", "R2"]] as const) {
        expect(mediaChanges(records, callId, proxy, pol, router), `${prefix} ${proxy}`).toEqual([
          { change: 1, toRouter: ["DEC Install", "DEC Remove"] },
          { change: 2, toRouter: ["DEC Install", "DEC Remove"] },
        ]);
      }
    }
    // refreshes repeat the SDP: no media change
    for (const prefix of ["session-timer-update-", "session-timer-reinvite-"])
      for (const proxy of ["SIP1", "SIP2"]) expect(mediaChanges(records, callIdOf(records, prefix), proxy, proxy === "SIP1" ? "POL1" : "POL2", proxy === "SIP1" ? "R1" : "R2"), `${prefix} ${proxy}`).toEqual([]);
    // every call the caller saw answered 200 was ended by a BYE answered 200, and was reported once by each policy server
    const answered = new Set(records.filter((r) => r.proto === "SIP" && r.msg.startsWith("200 ") && (r.to === "UAC") && /^CSeq:\s*\d+\s+INVITE/im.test(r.bytes.toString("latin1"))).map((r) => r.callId));
    expect([...answered].map((c) => c.replace(/-\d+-\d+@.*|@.*/, "")).sort()).toEqual(["call-1", "glare", "hold-resume", "late-offer", "prack", "prack-late-offer", "reinvite-refused", "session-timer-reinvite", "session-timer-update", "static-payloads"]);
    for (const callId of answered) {
      const mine = records.filter((r) => r.callId === callId);
      expect(mine.some((r) => r.proto === "SIP" && r.msg === "BYE"), callId).toBe(true);
      const usage = mine.filter((r) => r.proto === "OSP" && r.msg === "UsageIndication").map((r) => r.from).sort();
      expect(usage, callId).toEqual(["POL1", "POL2"]);
    }
    // every call's classifiers installed were removed
    for (const [pol, router] of [["POL1", "R1"], ["POL2", "R2"]] as const)
      for (const callId of answered) {
        const decs = records.filter((r) => r.callId === callId && r.proto === "COPS" && r.from === pol && r.to === router);
        expect(decs.filter((r) => r.msg === "DEC Remove").length, `${pol} ${callId}`).toBe(decs.filter((r) => r.msg === "DEC Install").length);
      }
  }, 60_000);

  it("tshark reads every SIP message of every hop: no malformed frame, no SDP line it cannot read", async () => {
    await capture.stop();
    const d = dissect(capture.file, [p.uac, p.sip1, p.sip2, p.uas]);
    expect(d.flagged).toEqual([]);
    const labels = new Set(d.messages.map((m) => `${m.label}/${m.cseqMethod}`));
    for (const l of ["INVITE/INVITE", "UPDATE/UPDATE", "PRACK/PRACK", "OPTIONS/OPTIONS", "MESSAGE/MESSAGE", "420/INVITE", "422/INVITE", "488/INVITE", "491/INVITE", "200/BYE"]) expect(labels, l).toContain(l);
    expect(d.messages.filter((m) => m.sdp).length).toBeGreaterThan(8);
  });

  it("late offer: no policy for the router until the ACK's answer; then each proxy asks for its flows (TLV 9 1) and its router gets them (DEC Install)", async () => {
    const records = mergeRecordFiles(recordFiles.filter((f) => existsSync(f)));
    const callId = callIdOf(records, "late-offer-");
    for (const [proxy, pol, router] of [["SIP1", "POL1", "R1"], ["SIP2", "POL2", "R2"]] as const) {
      const asked = ldpFlows(records, callId, proxy);
      // the 180's REQ LDP has no flows (no offer yet); the ACK's answer gives both directions
      expect(asked.map((a) => [a.change, a.flows.length]), proxy).toEqual([[undefined, 0], [1, 2]]);
      expect(mediaChanges(records, callId, proxy, pol, router), proxy).toEqual([{ change: 1, toRouter: ["DEC Install"] }]);
      const ackAt = records.findIndex((r) => r.callId === callId && r.proto === "SIP" && r.from === proxy && r.msg === "ACK");
      const reqAt = records.findIndex((r) => r.callId === callId && r.proto === "COPS" && r.from === proxy && r.msg === "REQ LDP" && decodeSipAaaClientSi((decodeCopsMessage(r.bytes) as { clientSi: { data: Buffer }[] }).clientSi[0]!.data).mediaChange === 1);
      expect(reqAt, proxy).toBeGreaterThan(ackAt);
      // the flows name the media port of SIPp's answer in the ACK
      const ack = records.find((r) => r.callId === callId && r.proto === "SIP" && r.from === proxy && r.msg === "ACK")!;
      const port = /^m=audio (\d+) /m.exec(parseSipMessage(ack.bytes).body.toString())?.[1];
      expect(port, proxy).toBeDefined();
      expect(asked[1]!.flows.filter((f) => f.startsWith(`127.0.0.1:${port}>`) || f.endsWith(`>127.0.0.1:${port}`)), proxy).toHaveLength(2);
    }
  });

  it("100rel: the INVITE's offer answered in the reliable 180, or the 180's offer answered in the PRACK; one DEC Install per router, carrying the agreed 5-tuples, none again at the 200 or ACK", async () => {
    const records = mergeRecordFiles(recordFiles.filter((f) => existsSync(f)));
    for (const [pattern, late] of [[/^prack-\d/, false], [/^prack-late-offer-\d/, true]] as const) {
      const callId = records.find((r) => pattern.test(r.callId))?.callId ?? String(pattern);
      const sip = records.filter((r) => r.proto === "SIP" && r.callId === callId);
      const msg = (from: string, to: string, label: string) => sip.find((r) => r.from === from && r.to === to && r.msg.startsWith(label));
      const ringing = parseSipMessage(msg("SIP1", "UAC", "180")!.bytes);
      // (the records are what the served roles sent: SIPp's own messages show as SIP1 passed them on)
      const offerer = parseSipMessage(msg("SIP1", "SIP2", late ? "PRACK" : "INVITE")!.bytes);
      const tuples = mediaFlows(offerer.body.toString(), ringing.body.toString()).map((f) => `${f.src.address}:${f.src.port}>${f.dst.address}:${f.dst.port}`).sort();
      expect(tuples, callId).toHaveLength(2);
      const ok = sip.find((r) => r.to === "UAC" && r.msg.startsWith("200") && (parseSipMessage(r.bytes) as SipResponse).cseq.method === "INVITE")!;
      expect(parseSipMessage(ok.bytes).body.length, callId).toBe(0);
      for (const [proxy, pol, router] of [["SIP1", "POL1", "R1"], ["SIP2", "POL2", "R2"]] as const) {
        const installs = records.filter((r) => r.proto === "COPS" && r.callId === callId && r.from === pol && r.to === router && r.msg === "DEC Install");
        const carried = installs.map((r) => parseProvisioningDecision(decodeCopsMessage(r.bytes)).install.map((f) => `${f.srcAddress}:${f.srcPort}>${f.dstAddress}:${f.dstPort}`).sort());
        expect(carried, `${callId} ${router}`).toEqual([tuples]);
        expect(ldpFlows(records, callId, proxy).map((a) => [a.change, a.flows.length]), `${callId} ${proxy}`).toEqual(late ? [[undefined, 0], [1, 2]] : [[undefined, 2]]);
      }
    }
  });

  it("a change the callee refused (488) after both proxies installed it: each asks its policy server back to the setup's flows, the routers swap back", async () => {
    const records = mergeRecordFiles(recordFiles.filter((f) => existsSync(f)));
    const callId = callIdOf(records, "reinvite-refused-");
    expect(records.filter((r) => r.callId === callId && r.proto === "SIP" && r.msg.startsWith("488")).map((r) => `${r.from}>${r.to}`)).toEqual(["UAS>SIP2", "SIP2>SIP1", "SIP1>UAC"]);
    for (const [proxy, pol, router] of [["SIP1", "POL1", "R1"], ["SIP2", "POL2", "R2"]] as const) {
      const asked = ldpFlows(records, callId, proxy);
      expect(asked.map((a) => a.change), proxy).toEqual([undefined, 1, 2]);
      expect(asked[1]!.flows, proxy).not.toEqual(asked[0]!.flows);
      expect(asked[2]!.flows, proxy).toEqual(asked[0]!.flows);
      expect(mediaChanges(records, callId, proxy, pol, router), proxy).toEqual([
        { change: 1, toRouter: ["DEC Install", "DEC Remove"] },
        { change: 2, toRouter: ["DEC Install", "DEC Remove"] },
      ]);
    }
  });

  it("glare: every 491 was acknowledged on its hop and relayed, the callee retried within 2 s, each proxy's last change names the session (the callee's hold) and was agreed", async () => {
    const records = mergeRecordFiles(recordFiles.filter((f) => existsSync(f)));
    const callId = callIdOf(records, "glare-");
    const sip = records.filter((r) => r.callId === callId && r.proto === "SIP");
    const refused = sip.filter((r) => r.msg.startsWith("491"));
    // the UAS's 491 to SIPp's re-INVITE goes up to SIPp; SIPp's to the UAS's goes down to the UAS; once each
    expect(refused.map((r) => `${r.from}>${r.to}`).sort()).toEqual(["SIP1>SIP2", "SIP1>UAC", "SIP2>SIP1", "SIP2>UAS", "UAS>SIP2"]);
    // RFC 3261 §17.1.1.3: the ACK of a non-2xx is sent by each hop that received it
    for (const r of refused.filter((x) => x.to !== "UAC")) {
      const cseq = (parseSipMessage(r.bytes) as SipResponse).cseq.seq;
      expect(sip.some((a) => a.msg === "ACK" && a.from === r.to && a.to === r.from && (parseSipMessage(a.bytes) as SipRequest).cseq.seq === cseq), `${r.from}>${r.to}`).toBe(true);
    }
    // §14.1: the UAS (not the Call-ID's owner) sends its offer again 0-2 s after the 491 reached it
    const toUas = refused.find((r) => r.to === "UAS")!;
    const retry = sip.find((r) => r.from === "UAS" && r.msg === "INVITE" && r.t > toUas.t);
    expect(retry).toBeDefined();
    expect(retry!.t - toUas.t).toBeLessThanOrEqual(2100);
    for (const [proxy, pol] of [["SIP1", "POL1"], ["SIP2", "POL2"]] as const) {
      const asked = ldpFlows(records, callId, proxy);
      expect(asked.at(-1)!.flows, proxy).toHaveLength(1); // the callee sends, held
      const lastAt = records.findLastIndex((r) => r.callId === callId && r.proto === "COPS" && r.from === proxy && r.msg === "REQ LDP");
      const dec = records.find((r, i) => i > lastAt && r.callId === callId && r.proto === "COPS" && r.from === pol && r.to === proxy);
      expect(dec?.msg, proxy).toBe("DEC LDP");
      const m = decodeCopsMessage(dec!.bytes);
      expect(m.op === "DEC" && m.decisions[0]?.command, proxy).toBe(1);
    }
  });
});
