// sip.js 0.21 (Node, WebSocket from `ws`) holds and resumes a call through callgate lab: sip.js → the lab's own
// WebSocket listener of SIP1 (RFC 7118) → SIP2 → UAS. The re-INVITEs offer a=sendonly, then a=sendrecv (RFC 3264
// §8.4); each makes both proxies of the lab ask their policy servers again (REQ LDP with TLV 9: 1, then 2), which
// install the new classifiers at their router and remove the old ones; sip.js hangs up, and the call gets one
// usage record per side. tshark reads the WebSocket hop as SIP over WebSocket, with no malformed frame.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { workDir } from "./sip-sipp-helpers.js";
import { startLab, type Lab } from "../../lib/flow/lab.js";
import { directionsAtUas, mediaChanges, sipjsCall } from "./sipjs-helpers.js";

let lab: Lab | undefined;
let capture: ChildProcess | undefined;
afterAll(async () => {
  if (capture?.exitCode === null) capture.kill("SIGINT");
  await lab?.close();
});

describe("sip.js over WebSocket holds and resumes a call through callgate lab's own WebSocket listener", () => {
  it("re-INVITE a=sendonly then a=sendrecv, each answered 200; TLV 9 updates 1 and 2 at both proxies, DEC Install then DEC Remove at both routers; BYE; one usage record per side", async () => {
    const errors: string[] = [];
    lab = await startLab({ answerDelayMs: 100, keepRecords: true, wsPort: 0, onError: (where, err) => errors.push(`${where}: ${String(err)}`) });
    const sip1Port = Number(lab.endpoints.SIP1?.sip?.split(":")[1]);
    const wsUrl = lab.endpoints.SIP1?.ws ?? "";
    expect(wsUrl).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);
    const wsPort = wsUrl.split(":")[2]!;
    const pcap = join(workDir("callgate-sipjs-lab-"), "ws.pcap");
    capture = spawn("tshark", ["-i", "lo", "-f", `tcp port ${wsPort}`, "-w", pcap, "-q"], { stdio: ["ignore", "ignore", "pipe"] });
    let captureLog = "";
    capture.stderr!.on("data", (d: Buffer) => (captureLog += d.toString()));
    for (let i = 0; i < 300 && !captureLog.includes("Capture started") && capture.exitCode === null; i++) await new Promise((r) => setTimeout(r, 50));
    expect(captureLog, "tshark must be installed and capture on lo").toContain("Capture started");

    const call = await sipjsCall(wsUrl, `sip:bob@127.0.0.1:${sip1Port}`);
    expect((await call.reinvite(true)).status).toBe(200);
    expect((await call.reinvite(false)).status).toBe(200);
    expect(call.offers).toEqual(["sendrecv", "sendonly", "sendrecv"]);
    expect(await call.hangUp()).toBe(200);
    await call.stop();
    const callId = call.callId;

    // the usage records come after the BYE: wait for both policy servers' UsageIndications to be confirmed
    const usageConfirmed = () => lab!.records.filter((r) => r.callId === callId && r.proto === "OSP" && r.msg === "UsageConfirmation").length;
    for (let i = 0; i < 200 && usageConfirmed() < 2; i++) await new Promise((r) => setTimeout(r, 50));
    const records = lab.records;
    const mine = records.filter((r) => r.callId === callId);
    // the caller's messages came over the WebSocket: SIP1 recorded them from the caller, and answered on it
    // (an ACK repeated for a 2xx the UAS sent again before its ACK came counts once)
    const fromCaller = mine.filter((r) => r.from === "UAC" && r.to === "SIP1").map((r) => `${r.msg} ${/^CSeq:\s*(\d+)/im.exec(r.bytes.toString("latin1"))?.[1] ?? "?"}`);
    expect([...new Set(fromCaller)].map((m) => m.split(" ")[0])).toEqual(["INVITE", "ACK", "INVITE", "ACK", "INVITE", "ACK", "BYE"]);
    // the caller's Via (sent-by a .invalid host, RFC 7118 §5.2) got received and was answered on its connection
    const invite = mine.find((r) => r.from === "SIP1" && r.to === "SIP2" && r.msg === "INVITE")!.bytes.toString("latin1");
    expect(invite).toMatch(/^Via: SIP\/2\.0\/WSS? [a-z0-9]+\.invalid;.*received=127\.0\.0\.1/im);
    // SIP1 record-routes twice where the transport changes (RFC 5658 §4, RFC 7118 §5): its UDP listener toward SIP2,
    // its WebSocket listener (transport=ws) toward the caller, and the caller's in-dialog requests route by both
    expect(invite.match(/^Record-Route: .*$/gim)).toEqual([`Record-Route: <sip:127.0.0.1:${sip1Port};lr>`, `Record-Route: <sip:127.0.0.1:${wsPort};transport=ws;lr>`]);
    const bye = mine.find((r) => r.from === "UAC" && r.msg === "BYE")!.bytes.toString("latin1");
    expect(bye.match(/^Route: .*$/gim)?.slice(0, 2)).toEqual([`Route: <sip:127.0.0.1:${wsPort};transport=ws;lr>`, `Route: <sip:127.0.0.1:${sip1Port};lr>`]);
    // both re-INVITEs crossed the lab to the UAS and their 200s came back
    expect(directionsAtUas(records, callId)).toEqual(["sendrecv", "sendonly", "sendrecv"]);
    const oks = mine.filter((r) => r.proto === "SIP" && r.to === "SIP1" && r.from === "SIP2" && r.msg.startsWith("200 ")).map((r) => /^CSeq:\s*(\d+\s+\w+)/im.exec(r.bytes.toString("latin1"))?.[1]);
    expect(new Set(oks.filter((c) => c?.endsWith("INVITE"))).size).toBe(3);
    for (const [proxy, pol, router] of [["SIP1", "POL1", "R1"], ["SIP2", "POL2", "R2"]] as const) {
      expect(mediaChanges(records, callId, proxy, pol, router), proxy).toEqual([
        { change: 1, toRouter: ["DEC Install", "DEC Remove"] },
        { change: 2, toRouter: ["DEC Install", "DEC Remove"] },
      ]);
      const decs = mine.filter((r) => r.proto === "COPS" && r.from === pol && r.to === router);
      expect(decs.filter((r) => r.msg === "DEC Remove").length, router).toBe(decs.filter((r) => r.msg === "DEC Install").length);
    }
    // one usage record per side for the whole call
    expect(mine.filter((r) => r.proto === "OSP" && r.msg === "UsageIndication").map((r) => r.from).sort()).toEqual(["POL1", "POL2"]);
    // the clearinghouse's CDRs name the call by its Call-ID bytes in base64
    const cdrs = (await lab.cdrStore.query()).filter((c) => c.callId === Buffer.from(callId).toString("base64"));
    expect(cdrs.map((c) => c.role).sort()).toEqual(["destination", "source"]);
    expect(lab.stats().callsNotEnded).toEqual([]);
    // sip.js closed its WebSocket: the listener holds no connection
    for (let i = 0; i < 200 && lab.connections()["SIP1 WS"] !== 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(lab.connections()["SIP1 WS"]).toBe(0);
    expect(errors).toEqual([]);

    // tshark: the WebSocket hop is HTTP upgraded to WebSocket carrying SIP; every message there, none malformed
    await new Promise((r) => setTimeout(r, 300));
    const tshark = capture;
    tshark.kill("SIGINT");
    await new Promise((r) => tshark.once("exit", r));
    const decode = ["-d", `tcp.port==${wsPort},http`];
    const fields = spawnSync("tshark", ["-r", pcap, ...decode, "-Y", "sip", "-T", "fields", "-E", "separator=|", "-e", "sip.Method", "-e", "sip.Status-Code", "-e", "sip.CSeq.method"], { encoding: "utf8" });
    const seen = fields.stdout.trim().split("\n").filter(Boolean).map((l) => l.split("|"));
    expect(seen.filter(([m]) => m === "INVITE")).toHaveLength(3);
    expect(seen.filter(([m]) => m === "ACK").length).toBeGreaterThanOrEqual(3); // an ACK repeats for a repeated 2xx
    expect(seen.filter(([m]) => m === "BYE")).toHaveLength(1);
    expect(seen.filter(([, status, cseq]) => status === "200" && cseq === "INVITE").length).toBeGreaterThanOrEqual(3);
    expect(seen.filter(([, status, cseq]) => status === "200" && cseq === "BYE")).toHaveLength(1);
    const bad = spawnSync("tshark", ["-r", pcap, ...decode, "-Y", "_ws.malformed || (_ws.expert.severity >= warning && !tcp.analysis)", "-T", "fields", "-e", "frame.number", "-e", "_ws.expert.message"], { encoding: "utf8" });
    expect(bad.status).toBe(0);
    expect(bad.stdout.trim()).toBe("");
  }, 60_000);
});
