// SIPp as a softphone through `callgate serve` processes (SIP1, POL1, R1, CH, SIP2, POL2, R2 and the UAS, each
// its own process, as in a deployment): SIPp calls through SIP1 in every softphone case (hold and resume,
// refresh by UPDATE and by re-INVITE, 422, 100rel/PRACK, Require: foo → 420, late offer, static payload types,
// no acceptable media, OPTIONS and MESSAGE); then SIPp is the callee and a served UAC holds and resumes it. Each media change asks both policy servers again
// (TLV 9) and swaps the routers' classifiers; each answered call gets one usage record per side; tshark finds
// no malformed frame on any SIP hop.
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MessageRecord } from "../../lib/drivers/message-record.js";
import { mergeRecordFiles } from "../../lib/flow/serve-records.js";
import { decodeCopsMessage, decodeSipAaaClientSi } from "../../protocols/cops/index.js";
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

const SCENARIOS = ["session-timer-update", "session-timer-422", "prack", "require-foo", "late-offer", "static-payloads", "no-acceptable-media", "hold-resume", "session-timer-reinvite", "options-message"];

describe("SIPp softphone cases through callgate serve processes", () => {
  it.each(SCENARIOS)("SIPp calls through SIP1: %s", async (name) => {
    const run = await runScenario(`${name}.xml`, `127.0.0.1:${p.sip1}`, p.uac, name);
    expect(run.errors, `${name}: SIPp errors`).toBe("");
    expect(run.successful, run.stdout.slice(-1500)).toBe(1);
    expect(run.code).toBe(0);
  }, 60_000);

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
    expect([...answered].map((c) => c.replace(/-\d+-\d+@.*|@.*/, "")).sort()).toEqual(["call-1", "hold-resume", "late-offer", "prack", "session-timer-reinvite", "session-timer-update", "static-payloads"]);
    for (const callId of answered) {
      const mine = records.filter((r) => r.callId === callId);
      expect(mine.some((r) => r.proto === "SIP" && r.msg === "BYE"), callId).toBe(true);
      const usage = mine.filter((r) => r.proto === "OSP" && r.msg === "UsageIndication").map((r) => r.from).sort();
      expect(usage, callId).toEqual(["POL1", "POL2"]);
    }
    // every call's classifiers installed were removed. Left out: the late offer, whose flows are known only from
    // the ACK's answer (RFC 3261 §13.2.1); the proxy installs an empty policy at the 180 and never updates it.
    for (const [pol, router] of [["POL1", "R1"], ["POL2", "R2"]] as const)
      for (const callId of answered) {
        if (callId.startsWith("late-offer-")) continue;
        const decs = records.filter((r) => r.callId === callId && r.proto === "COPS" && r.from === pol && r.to === router);
        expect(decs.filter((r) => r.msg === "DEC Remove").length, `${pol} ${callId}`).toBe(decs.filter((r) => r.msg === "DEC Install").length);
      }
  }, 60_000);

  it("tshark reads every SIP message of every hop: no malformed frame, no SDP line it cannot read", async () => {
    await capture.stop();
    const d = dissect(capture.file, [p.uac, p.sip1, p.sip2, p.uas]);
    expect(d.flagged).toEqual([]);
    const labels = new Set(d.messages.map((m) => `${m.label}/${m.cseqMethod}`));
    for (const l of ["INVITE/INVITE", "UPDATE/UPDATE", "PRACK/PRACK", "OPTIONS/OPTIONS", "MESSAGE/MESSAGE", "420/INVITE", "422/INVITE", "488/INVITE", "200/BYE"]) expect(labels, l).toContain(l);
    expect(d.messages.filter((m) => m.sdp).length).toBeGreaterThan(8);
  });
});
