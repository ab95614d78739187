// SIPp as a softphone calling through `callgate lab` (SIP1 → SIP2 → UAS, with COPS and OSP): every softphone
// scenario, re-INVITEs and OPTIONS included; a hold and resume ask both policy servers again. The exit summary of the lab names each method with its responses and every call that
// did not end.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLab, type Lab } from "../../lib/flow/lab.js";
import { decodeCopsMessage, decodeSipAaaClientSi } from "../../protocols/cops/index.js";
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

const SCENARIOS = (process.env.SOFTPHONE_LAB_SCENARIOS ?? "session-timer-update,session-timer-422,prack,require-foo,late-offer,static-payloads,no-acceptable-media,hold-resume,session-timer-reinvite,options-message").split(",");

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
    expect(stats.responsesByMethod.PRACK).toEqual({ "200 OK": 1 });
    expect(stats.responsesByMethod.BYE).toEqual({ "200 OK": 6 });
    expect(stats.responsesByMethod.OPTIONS).toEqual({ "200 OK": 1 });
    expect(stats.responsesByMethod.MESSAGE).toEqual({ "200 OK": 1 });
    // four answered calls, hold and resume, and a refresh by re-INVITE
    expect(stats.responsesByMethod.INVITE).toMatchObject({ "200 OK": 9, "420 Bad Extension": 1, "422 Session Interval Too Small": 1, "488 Not Acceptable Here": 1 });
    expect(stats.callsNotEnded).toEqual([]);
    expect(stats.mediaRefused).toBe(1);
    expect(errors).toEqual([]);
    // every record carries the wall clock
    expect(lab.records.every((r) => r.t > Date.UTC(2020, 0, 1))).toBe(true);
    // and so do the CDRs the UsageIndications made: no 1970 timestamps
    const cdrs = await lab.cdrStore.query();
    expect(cdrs.length).toBeGreaterThanOrEqual(4);
    expect(cdrs.filter((c) => c.startTime !== undefined).length).toBeGreaterThanOrEqual(4);
    for (const c of cdrs) if (c.startTime !== undefined) expect(c.startTime * (c.startTime < 1e12 ? 1000 : 1)).toBeGreaterThan(Date.UTC(2020, 0, 1));
  });

  it("hold and resume asked each proxy's policy server again (TLV 9), a refresh repeating the SDP did not", () => {
    for (const [proxy, pol, router] of [["SIP1", "POL1", "R1"], ["SIP2", "POL2", "R2"]] as const) {
      const cops = lab.records.filter((r) => r.proto === "COPS");
      const changes = cops.flatMap((r, i) => {
        if (r.from !== proxy || r.msg !== "REQ LDP") return [];
        const m = decodeCopsMessage(r.bytes);
        const change = m.op === "REQ" ? decodeSipAaaClientSi(m.clientSi[0]!.data).mediaChange : undefined;
        return change === undefined ? [] : [{ change, i, flows: m.op === "REQ" ? decodeSipAaaClientSi(m.clientSi[0]!.data).flows.length : -1 }];
      });
      expect(changes.map((c) => c.change), proxy).toEqual([1, 2]);
      // hold: the one flow the held side still sends; resume: both ways again
      expect(changes.map((c) => c.flows), proxy).toEqual([1, 2]);
      for (const c of changes) {
        const dec = cops.findIndex((r, i) => i > c.i && r.from === pol && r.to === proxy && r.msg === "DEC LDP");
        const toRouter = cops.slice(c.i, dec).filter((r) => r.from === pol && r.to === router).map((r) => r.msg);
        expect(toRouter, `${proxy} change ${c.change}`).toEqual(["DEC Install", "DEC Remove"]);
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
