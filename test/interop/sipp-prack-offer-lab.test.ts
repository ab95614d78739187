// SIPp as a softphone making a new offer in its PRACK (RFC 3262 §5) through `callgate lab`: the lab's callee
// answers it in the PRACK's 200, and each proxy asks its policy server again (REQ LDP, TLV 9 1), then for the
// answer's flows (TLV 9 2); its router installs the new flows and removes the old. An offer the callee cannot take
// gets 488 after the proxies installed it, and each router is put back on the setup's flows. tshark reads every SIP message of every hop.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLab, type Lab } from "../../lib/flow/lab.js";
import { decodeCopsMessage, decodeSipAaaClientSi, parseProvisioningDecision } from "../../protocols/cops/index.js";
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
  sipPorts = ["SIP1", "SIP2", "UAS"].map((role) => Number(lab.endpoints[role]?.sip?.split(":")[1]));
  capture = await startCapture(sipPorts);
}, 60_000);

afterAll(async () => {
  await capture?.stop();
  await lab?.close();
});

describe("SIPp offers in its PRACK through callgate lab", () => {
  it("the PRACK's 200 answers; TLV 9 1 and 2 at both proxies, the agreed flows installed and every old one removed at both routers", async () => {
    const run = await runScenario("prack-offer.xml", lab.endpoints.SIP1?.sip ?? "", await freePort(), "prack-offer");
    expect(run.errors).toBe("");
    expect(run.successful, run.stdout.slice(-1500)).toBe(1);
    const sip = lab.records.filter((r) => r.proto === "SIP" && r.callId.startsWith("prack-offer-"));
    const prackOk = sip.find((r) => r.from === "UAS" && r.msg.startsWith("200") && (parseSipMessage(r.bytes) as SipResponse).cseq.method === "PRACK")!;
    expect(parseSipMessage(prackOk.bytes).body.toString()).toMatch(/^m=audio [1-9]\d* RTP\/AVP 8\b/m);
    const callId = prackOk.callId;
    for (const [proxy, pol, router] of [["SIP1", "POL1", "R1"], ["SIP2", "POL2", "R2"]] as const) {
      const cops = lab.records.filter((r) => r.proto === "COPS" && r.callId === callId);
      const asked = cops.filter((r) => r.from === proxy && r.msg === "REQ LDP").map((r) => {
        const m = decodeCopsMessage(r.bytes);
        const info = m.op === "REQ" ? decodeSipAaaClientSi(m.clientSi[0]!.data) : undefined;
        return { change: info?.mediaChange, flows: (info?.flows ?? []).map((f) => `${f.dstPort}/${f.codec ?? ""}`).sort() };
      });
      // the setup's flows name SIPp's first port; the PRACK's offer its port 6042 (TLV 9 1), asked before forwarding
      // with the codec of the answer in force; once the 200 answered PCMA, that answer's flows (TLV 9 2)
      expect(asked.map((a) => a.change), proxy).toEqual([undefined, 1, 2]);
      expect(asked[0]!.flows.join(" "), proxy).not.toContain("6042");
      expect(asked[1]!.flows.join(" "), proxy).toContain("6042/");
      expect(asked[2]!.flows, proxy).toEqual(["20000/PCMA", "6042/PCMA"]);
      // each router: installed and removed alike, the last installation the agreed flows (ports; DECs carry no codec)
      const decs = cops.filter((r) => r.from === pol && r.to === router && (r.msg === "DEC Install" || r.msg === "DEC Remove"));
      const installs = decs.filter((r) => r.msg === "DEC Install");
      expect(installs.length, router).toBe(3);
      expect(decs.filter((r) => r.msg === "DEC Remove").length, router).toBe(installs.length);
      const last = parseProvisioningDecision(decodeCopsMessage(installs.at(-1)!.bytes)).install.map((f) => f.dstPort).sort();
      expect(last, router).toEqual([20000, 6042]);
    }
    expect(errors).toEqual([]);
  }, 60_000);

  it("an offer the callee cannot take (opus alone): 488 to the PRACK after the proxies installed it, each router back on the setup's flows; the 180 PRACKed again", async () => {
    const run = await runScenario("prack-offer-refused.xml", lab.endpoints.SIP1?.sip ?? "", await freePort(), "prack-refused");
    expect(run.errors).toBe("");
    expect(run.successful, run.stdout.slice(-1500)).toBe(1);
    const sip = lab.records.filter((r) => r.proto === "SIP" && r.callId.startsWith("prack-refused-"));
    const answers = sip.filter((r) => r.from === "UAS" && /^\d{3} /.test(r.msg) && (parseSipMessage(r.bytes) as SipResponse).cseq.method === "PRACK").map((r) => r.msg);
    expect(answers).toEqual(["488 Not Acceptable Here", "200 OK"]);
    const callId = sip[0]!.callId;
    for (const [pol, router] of [["POL1", "R1"], ["POL2", "R2"]] as const) {
      const installs = lab.records.filter((r) => r.proto === "COPS" && r.callId === callId && r.from === pol && r.to === router && r.msg === "DEC Install");
      const ports = installs.map((r) => parseProvisioningDecision(decodeCopsMessage(r.bytes)).install.map((f) => f.dstPort).sort((a, b) => a - b));
      // the setup's flows, the PRACK's offer (asked before forwarding), the setup's again after the 488
      expect(ports.length, router).toBe(3);
      expect(ports[1], router).toContain(6042);
      expect(ports[2], router).toEqual(ports[0]);
      const removes = lab.records.filter((r) => r.proto === "COPS" && r.callId === callId && r.from === pol && r.to === router && r.msg === "DEC Remove");
      expect(removes.length, router).toBe(installs.length);
    }
    expect(errors).toEqual([]);
  }, 60_000);

  it("tshark reads every SIP message of every hop: no malformed frame", async () => {
    await capture.stop();
    const d = dissect(capture.file, sipPorts);
    expect(d.flagged).toEqual([]);
    const labels = new Set(d.messages.map((m) => `${m.label}/${m.cseqMethod}`));
    for (const l of ["PRACK/PRACK", "200/PRACK", "488/PRACK"]) expect(labels, l).toContain(l);
  }, 60_000);
});
