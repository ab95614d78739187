// SIPp as a softphone against the UAS role on a loopback socket (the role `callgate lab` answers with): hold and
// resume, session refresh by UPDATE and by re-INVITE, 422, glare, 100rel/PRACK, Require: foo, late offer, static
// payload types, no acceptable media, OPTIONS and MESSAGE. tshark captures it all: no malformed frame, no SDP
// line it cannot read.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SocketNetwork } from "../../lib/drivers/socket-network.js";
import type { MessageRecord } from "../../lib/drivers/message-record.js";
import type { CallEvent } from "../../lib/flow/call-events.js";
import { UserAgent } from "../../lib/roles/user-agent.js";
import { freePort, sippPath } from "./sip-sipp-helpers.js";
import { dissect, runScenario, startCapture, type Capture } from "./sipp-softphone-helpers.js";

let net: SocketNetwork<CallEvent>;
let capture: Capture;
let uasPort = 0;
let uas: UserAgent;
const sippPorts: number[] = [];
const records: MessageRecord[] = [];
const events: CallEvent[] = [];

beforeAll(async () => {
  expect(sippPath(), "sipp (Debian sip-tester) must be installed").toBeTruthy();
  uas = new UserAgent({
    name: "UAS", proxy: "UAC", host: "127.0.0.1", mediaAddress: "127.0.0.1", reliableProvisionals: true,
    // The glare scenario's calls get a re-INVITE (hold) from the UAS half a second after the ACK.
    behaviour: (callId) => ({ outcome: "answer", answerDelayMs: 100, durationMs: 0, hangsUp: false, ...(callId.startsWith("glare-") ? { reinvites: [{ afterMs: 500, hold: true }] } : {}) }),
  });
  uasPort = await freePort();
  net = new SocketNetwork<CallEvent>({
    sipTransport: "udp", osp: "in-process", externalSipPeer: { acceptor: "UAS", as: "UAC" }, wallClock: true, sipPorts: { UAS: uasPort },
    onRecord: (r) => records.push(r), onEmit: (_n, e) => events.push(e),
  });
  net.add(uas, { sip: true });
  for (let i = 0; i < 11; i++) sippPorts.push(await freePort());
  capture = await startCapture([uasPort]);
  await net.start();
}, 60_000);

afterAll(async () => {
  await capture?.stop();
  await net?.stop();
});

const scenarios: Array<[string, string]> = [
  ["hold-resume.xml", "hold and resume by re-INVITE: a=sendonly answered a=recvonly, then a=sendrecv"],
  ["session-timer-update.xml", "session timer refreshed by UPDATE: Session-Expires: 90;refresher=uac in both 200s"],
  ["session-timer-reinvite.xml", "session timer refreshed by re-INVITE"],
  ["session-timer-422.xml", "Session-Expires: 30 refused 422 with Min-SE: 90"],
  ["glare.xml", "glare: crossing re-INVITEs both get 491, the UAS retries within 2 s and is answered"],
  ["prack.xml", "Require: 100rel: 180 with RSeq, PRACK answered, then the 200"],
  ["require-foo.xml", "Require: foo refused 420 with Unsupported: foo"],
  ["late-offer.xml", "late offer: the 200 offers, the ACK answers"],
  ["static-payloads.xml", "static payload types without rtpmap answered with formats 0 8 18"],
  ["no-acceptable-media.xml", "an offer of opus and speex only refused 488"],
  ["options-message.xml", "OPTIONS (Allow lists UPDATE) and MESSAGE outside a dialog answered 200"],
];

describe("SIPp softphone scenarios against the UAS role", () => {
  it.each(scenarios.map(([file, what], i) => [what, file, i] as const))("%s", async (_what, file, i) => {
    const prefix = file.replace(".xml", "");
    const run = await runScenario(file, `127.0.0.1:${uasPort}`, sippPorts[i]!, prefix);
    expect(run.errors, `${file}: SIPp errors`).toBe("");
    expect(run.successful, `${file}: ${run.stdout.slice(-2000)}`).toBe(1);
    expect(run.failed).toBe(0);
    expect(run.code).toBe(0);
  }, 40_000);

  it("the UAS holds no call once the scenarios are done, and the glare call saw the 491 both ways", () => {
    expect(uas.activeCalls).toBe(0);
    const glare = records.filter((r) => r.callId.startsWith("glare-"));
    expect(glare.filter((r) => r.msg.startsWith("491 ")).map((r) => `${r.from}→${r.to}`).sort()).toEqual(["UAC→UAS", "UAS→UAC"]);
    expect(glare.filter((r) => r.from === "UAS" && r.msg === "INVITE").length).toBe(2);
    expect(events.filter((e) => e.type === "terminated" && e.callId.startsWith("hold-resume-"))).toHaveLength(1);
    // every message record carries the wall clock (ms since the epoch), not time since start
    expect(records.every((r) => r.t > Date.UTC(2020, 0, 1))).toBe(true);
  });

  it("tshark reads every captured SIP message and SDP body: no malformed frame, no expert warning", async () => {
    await capture.stop();
    const d = dissect(capture.file, [uasPort]);
    expect(d.flagged).toEqual([]);
    const labels = new Set(d.messages.map((m) => `${m.label}/${m.cseqMethod}`));
    for (const l of ["INVITE/INVITE", "200/INVITE", "UPDATE/UPDATE", "PRACK/PRACK", "491/INVITE", "420/INVITE", "422/INVITE", "488/INVITE", "OPTIONS/OPTIONS", "MESSAGE/MESSAGE"]) expect(labels, l).toContain(l);
    // every 200 to an INVITE carries SDP (answers and the late offer), but where the answer went in the reliable 180 (RFC 3262 §5)
    const oks = d.messages.filter((m) => m.label === "200" && m.cseqMethod === "INVITE");
    expect(oks.filter((m) => !m.sdp).map((m) => m.callId.replace(/-.*/, ""))).toEqual(["prack"]);
    expect(d.messages.find((m) => m.label === "180" && m.callId.startsWith("prack-"))?.sdp).toBe(true);
  });
});
