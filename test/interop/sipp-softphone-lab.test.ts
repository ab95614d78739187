// SIPp as a softphone calling through `callgate lab` (SIP1 → SIP2 → UAS, with COPS and OSP): every softphone
// scenario, re-INVITEs and OPTIONS included; a hold and resume ask both policy servers again, a late offer's ACK
// answer installs its flows, and a change the callee refuses (488) is put back. The exit summary of the lab names
// each method with its responses and every call that did not end.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLab, type Lab } from "../../lib/flow/lab.js";
import { decodeCopsMessage, decodeSipAaaClientSi, parseProvisioningDecision } from "../../protocols/cops/index.js";
import { mediaFlows } from "../../lib/flow/media-flows.js";
import { parseSipMessage, type SipResponse } from "../../protocols/sip/index.js";
import { freePort, sippPath } from "./sip-sipp-helpers.js";
import { dissect, runScenario, startCapture, type Capture } from "./sipp-softphone-helpers.js";

let lab: Lab;
let capture: Capture;
let sipPorts: number[] = [];
const errors: string[] = [];

beforeAll(async () => {
  expect(sippPath(), "sipp (Debian sip-tester) must be installed").toBeTruthy();
  lab = await startLab({ answerDelayMs: 100, keepRecords: true, reliableProvisionals: true, onError: (where, err) => errors.push(`${where}: ${String(err)}`) });
  // SIP1 (the caller's leg), SIP2 and the UAS: every SIP hop of the lab
  sipPorts = ["SIP1", "SIP2", "UAS"].map((role) => Number(lab.endpoints[role]?.sip?.split(":")[1]));
  capture = await startCapture(sipPorts);
}, 60_000);

afterAll(async () => {
  await capture?.stop();
  await lab?.close();
});

const SCENARIOS = (process.env.SOFTPHONE_LAB_SCENARIOS ?? "session-timer-update,session-timer-422,prack,prack-late-offer,require-foo,late-offer,static-payloads,no-acceptable-media,hold-resume,session-timer-reinvite,options-message,reinvite-refused").split(",");

describe("SIPp softphone scenarios through callgate lab", () => {
  it.each(SCENARIOS)("%s", async (name) => {
    const run = await runScenario(`${name}.xml`, lab.endpoints.SIP1?.sip ?? "", await freePort(), name);
    expect(run.errors, `${name}: SIPp errors`).toBe("");
    expect(run.successful, run.stdout.slice(-1500)).toBe(1);
    expect(run.code).toBe(0);
  }, 40_000);

  it("the lab's stats name each method with its responses, no answered call left open, the refused media counted", async () => {
    await new Promise((r) => setTimeout(r, 500));
    const stats = lab.stats();
    expect(stats.responsesByMethod.UPDATE).toEqual({ "200 OK": 1 });
    expect(stats.responsesByMethod.PRACK).toEqual({ "200 OK": 2 });
    expect(stats.responsesByMethod.BYE).toEqual({ "200 OK": 8 });
    expect(stats.responsesByMethod.OPTIONS).toEqual({ "200 OK": 1 });
    expect(stats.responsesByMethod.MESSAGE).toEqual({ "200 OK": 1 });
    // the answered calls, hold and resume, and a refresh by re-INVITE; no acceptable media in an INVITE and in a re-INVITE
    expect(stats.responsesByMethod.INVITE).toMatchObject({ "200 OK": 11, "420 Bad Extension": 1, "422 Session Interval Too Small": 1, "488 Not Acceptable Here": 2 });
    expect(stats.callsNotEnded).toEqual([]);
    expect(stats.mediaRefused).toBe(2);
    expect(errors).toEqual([]);
    // every record carries the wall clock
    expect(lab.records.every((r) => r.t > Date.UTC(2020, 0, 1))).toBe(true);
    // and so do the CDRs the UsageIndications made: no 1970 timestamps
    const cdrs = await lab.cdrStore.query();
    expect(cdrs.length).toBeGreaterThanOrEqual(4);
    expect(cdrs.filter((c) => c.startTime !== undefined).length).toBeGreaterThanOrEqual(4);
    for (const c of cdrs) if (c.startTime !== undefined) expect(c.startTime * (c.startTime < 1e12 ? 1000 : 1)).toBeGreaterThan(Date.UTC(2020, 0, 1));
  });

  /** The REQ LDP updates (TLV 9) a proxy sent in the call whose Call-ID starts with `prefix`, and what its router got for each. */
  function changesOf(prefix: string, proxy: string, pol: string, router: string): Array<{ change: number; flows: string[]; toRouter: string[] }> {
    const cops = lab.records.filter((r) => r.proto === "COPS" && (r.callId.startsWith(prefix) || r.callId === ""));
    return cops.flatMap((r, i) => {
      if (r.from !== proxy || r.msg !== "REQ LDP" || !r.callId.startsWith(prefix)) return [];
      const m = decodeCopsMessage(r.bytes);
      const info = m.op === "REQ" ? decodeSipAaaClientSi(m.clientSi[0]!.data) : undefined;
      if (info?.mediaChange === undefined) return [];
      const dec = cops.findIndex((x, k) => k > i && x.from === pol && x.to === proxy && x.msg === "DEC LDP");
      const toRouter = cops.slice(i, dec).filter((x) => x.from === pol && x.to === router).map((x) => x.msg);
      return [{ change: info.mediaChange, flows: info.flows.map((f) => `${f.srcAddress}:${f.srcPort}>${f.dstAddress}:${f.dstPort}`).sort(), toRouter }];
    });
  }

  it("hold and resume asked each proxy's policy server again (TLV 9), a refresh repeating the SDP did not", () => {
    for (const [proxy, pol, router] of [["SIP1", "POL1", "R1"], ["SIP2", "POL2", "R2"]] as const) {
      const changes = changesOf("hold-resume-", proxy, pol, router);
      expect(changes.map((c) => c.change), proxy).toEqual([1, 2]);
      // hold: the one flow the held side still sends; resume: both ways again
      expect(changes.map((c) => c.flows.length), proxy).toEqual([1, 2]);
      for (const c of changes) expect(c.toRouter, `${proxy} change ${c.change}`).toEqual(["DEC Install", "DEC Remove"]);
      expect(changesOf("session-timer-reinvite-", proxy, pol, router), proxy).toEqual([]);
    }
  });

  it("a late offer's flows come from the ACK's answer (TLV 9 1, DEC Install); a change the callee refused (488) is put back (TLV 9 2, the first flows again)", () => {
    for (const [proxy, pol, router] of [["SIP1", "POL1", "R1"], ["SIP2", "POL2", "R2"]] as const) {
      const late = changesOf("late-offer-", proxy, pol, router);
      expect(late.map((c) => [c.change, c.flows.length, c.toRouter]), proxy).toEqual([[1, 2, ["DEC Install"]]]);
      const refused = changesOf("reinvite-refused-", proxy, pol, router);
      expect(refused.map((c) => [c.change, c.toRouter]), proxy).toEqual([[1, ["DEC Install", "DEC Remove"]], [2, ["DEC Install", "DEC Remove"]]]);
      expect(refused[1]!.flows, proxy).not.toEqual(refused[0]!.flows);
      const setup = lab.records.find((r) => r.proto === "COPS" && r.from === proxy && r.msg === "REQ LDP" && r.callId.startsWith("reinvite-refused-"))!;
      const m = decodeCopsMessage(setup.bytes);
      const first = m.op === "REQ" ? decodeSipAaaClientSi(m.clientSi[0]!.data).flows.map((f) => `${f.srcAddress}:${f.srcPort}>${f.dstAddress}:${f.dstPort}`).sort() : [];
      expect(refused[1]!.flows, proxy).toEqual(first);
    }
  });

  it("100rel: the INVITE's offer answered in the reliable 180, or the 180's offer answered in the PRACK; one DEC Install per router, carrying the agreed 5-tuples, none again at the 200 or ACK", () => {
    for (const [pattern, late] of [[/^prack-\d/, false], [/^prack-late-offer-\d/, true]] as const) {
      const sip = lab.records.filter((r) => r.proto === "SIP" && pattern.test(r.callId));
      const msg = (from: string, to: string, label: string) => sip.find((r) => r.from === from && r.to === to && r.msg.startsWith(label));
      const ringing = parseSipMessage(msg("SIP1", "UAC", "180")!.bytes);
      const offerer = parseSipMessage(msg("UAC", "SIP1", late ? "PRACK" : "INVITE")!.bytes);
      const tuples = mediaFlows(offerer.body.toString(), ringing.body.toString()).map((f) => `${f.src.address}:${f.src.port}>${f.dst.address}:${f.dst.port}`).sort();
      expect(tuples, String(pattern)).toHaveLength(2);
      const ok = sip.find((r) => r.to === "UAC" && r.msg.startsWith("200") && (parseSipMessage(r.bytes) as SipResponse).cseq.method === "INVITE")!;
      expect(parseSipMessage(ok.bytes).body.length, String(pattern)).toBe(0);
      const callId = ok.callId;
      for (const [proxy, pol, router] of [["SIP1", "POL1", "R1"], ["SIP2", "POL2", "R2"]] as const) {
        const installs = lab.records.filter((r) => r.proto === "COPS" && r.callId === callId && r.from === pol && r.to === router && r.msg === "DEC Install");
        const carried = installs.map((r) => parseProvisioningDecision(decodeCopsMessage(r.bytes)).install.map((f) => `${f.srcAddress}:${f.srcPort}>${f.dstAddress}:${f.dstPort}`).sort());
        expect(carried, `${String(pattern)} ${router}`).toEqual([tuples]);
        // the late offer's flows are media change 1, asked after the PRACK; the other call's are the setup's REQ LDP
        const asked = lab.records.filter((r) => r.proto === "COPS" && r.callId === callId && r.from === proxy && r.msg === "REQ LDP").map((r) => {
          const m = decodeCopsMessage(r.bytes);
          const info = m.op === "REQ" ? decodeSipAaaClientSi(m.clientSi[0]!.data) : undefined;
          return [info?.mediaChange, info?.flows.length];
        });
        expect(asked, `${String(pattern)} ${proxy}`).toEqual(late ? [[undefined, 0], [1, 2]] : [[undefined, 2]]);
      }
    }
  });

  it("tshark reads every SIP message of every hop: no malformed frame, no SDP line it cannot read", async () => {
    await capture.stop();
    const d = dissect(capture.file, sipPorts);
    expect(d.flagged).toEqual([]);
    const labels = new Set(d.messages.map((m) => `${m.label}/${m.cseqMethod}`));
    for (const l of ["INVITE/INVITE", "UPDATE/UPDATE", "PRACK/PRACK", "420/INVITE", "422/INVITE", "488/INVITE", "200/BYE"]) expect(labels, l).toContain(l);
    expect(d.messages.filter((m) => m.sdp).length).toBeGreaterThan(8);
  });
});
