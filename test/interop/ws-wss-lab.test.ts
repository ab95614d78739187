// `callgate lab --ws-port` with TLS (--tls-cert): SIP1's WebSocket listener is wss (RFC 7118 §3, WebSocket over
// TLS) with the lab's certificate; a caller that trusts the lab's CA places a call over it (INVITE, 200, ACK, BYE,
// 200), SIP1 record-routes it with transport=wss; a plain ws:// handshake on that port gets no connection. The
// roles' mutual TLS is for the roles: an outside caller over wss presents no certificate.
import { readFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { killStartedProcesses, spawnCli, type RunningProcess } from "../support/cli-process.js";
import { addCertificate, makeTestPki } from "../support/tls-test-pki.js";

const LAB_NAMES = ["sip1", "pol1", "r1", "ch", "sip2", "pol2", "r2", "uas"];
let lab: RunningProcess | undefined;
const sockets: WebSocket[] = [];
afterAll(async () => {
  for (const s of sockets) s.terminate();
  await lab?.stop();
  killStartedProcesses();
});

const SDP = ["v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0", "m=audio 6010 RTP/AVP 0", "a=rtpmap:0 PCMU/8000", ""].join("\r\n");

function request(method: string, cseq: number, callId: string, extra: string[] = [], body = ""): string {
  return [
    `${method} sip:bob@127.0.0.1 SIP/2.0`,
    `Via: SIP/2.0/WSS q7w3.invalid;branch=z9hG4bK-wss-${method}-${cseq}`,
    "Max-Forwards: 70",
    "From: <sip:alice@example.com>;tag=w1",
    "To: <sip:bob@127.0.0.1>" + (extra.find((e) => e.startsWith(";tag=")) ?? ""),
    `Call-ID: ${callId}`,
    `CSeq: ${cseq} ${method}`,
    "Contact: <sip:alice@q7w3.invalid;transport=ws>",
    ...extra.filter((e) => !e.startsWith(";tag=")),
    ...(body ? ["Content-Type: application/sdp"] : []),
    `Content-Length: ${Buffer.byteLength(body)}`,
    "",
    body,
  ].join("\r\n");
}

describe("callgate lab's WebSocket listener over TLS (wss)", () => {
  it("a caller trusting the lab's CA calls over wss and hangs up; SIP1 record-routes it transport=wss; plain ws on that port gets nothing", async () => {
    const pki = makeTestPki([]);
    const cert = addCertificate(pki, "lab", "callgate lab", LAB_NAMES);
    lab = spawnCli("lab", ["--ws-port", "0", "--answer-delay", "50", "--log-level", "warn", "--tls-cert", cert.certificate, "--tls-key", cert.key, "--tls-ca", pki.caFile, "--tls-require-client-cert"]);
    await lab.waitFor("SIGTERM stops the lab", { stream: "stdout", ms: 60_000 });
    const url = /ws (wss:\/\/127\.0\.0\.1:\d+)/.exec(lab.stdout())?.[1] ?? "";
    expect(url, lab.stdout()).not.toBe("");

    // plain WebSocket on the wss port: the handshake never completes
    const plain = new WebSocket(url.replace("wss:", "ws:"), "sip");
    sockets.push(plain);
    plain.on("error", () => undefined);
    expect(await new Promise<boolean>((resolve) => {
      plain.once("open", () => resolve(true));
      plain.once("close", () => resolve(false));
    })).toBe(false);

    const ws = new WebSocket(url, "sip", { ca: readFileSync(pki.caFile), servername: "sip1" });
    sockets.push(ws);
    const messages: string[] = [];
    ws.on("message", (d: Buffer) => messages.push(d.toString("utf8")));
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    const callId = `wss-call-${Date.now()}@x`;
    ws.send(request("INVITE", 1, callId, [], SDP));
    const until = async (pred: () => string | undefined): Promise<string> => {
      for (let i = 0; i < 200; i++) {
        const m = pred();
        if (m !== undefined) return m;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`not seen; got:\n${messages.map((m) => m.split("\r\n")[0]).join("\n")}`);
    };
    const ok = await until(() => messages.find((m) => m.startsWith("SIP/2.0 200") && /CSeq: 1 INVITE/.test(m)));
    const recordRoute = ok.match(/^Record-Route: .*$/gm) ?? [];
    expect(recordRoute.join("\n")).toMatch(/transport=wss;lr/);
    const toTag = /^To: .*(;tag=[^;\r\n]+)/m.exec(ok)?.[1] ?? "";
    // RFC 3261 §12.1.2: the caller's route set is the Record-Route values in reverse order
    const routes = recordRoute.flatMap((h) => h.replace(/^Record-Route: /, "").split(/,\s*/)).reverse().map((v) => `Route: ${v}`);
    expect(routes[0]).toMatch(/^Route: <sip:127\.0\.0\.1:\d+;transport=wss;lr>$/);
    ws.send(request("ACK", 1, callId, [toTag, ...routes]));
    ws.send(request("BYE", 2, callId, [toTag, ...routes]));
    await until(() => messages.find((m) => m.startsWith("SIP/2.0 200") && /CSeq: 2 BYE/.test(m)));
    ws.close();
    expect(lab.child.exitCode).toBeNull();
  }, 120_000);
});
