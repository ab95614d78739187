// Hostile WebSocket peers against a real `callgate lab --ws-port` process (RFC 7118, RFC 6455): frames that are no
// SIP message, a frame above the message size, a handshake without the "sip" subprotocol, a plain HTTP request on
// the WebSocket port, and a flood of connections from one address. Each is refused as its RFC says (close 1007,
// close 1009, no upgrade, 426, the per-source cap), counted in the lab's drop metrics and logged once per cause;
// afterwards a caller over WebSocket still gets its INVITE answered.
import { request } from "node:http";
import { afterAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { startLab, type Lab } from "../../lib/flow/lab.js";
import { killStartedProcesses, spawnCli, type RunningProcess } from "../support/cli-process.js";
import { freePort } from "./sip-sipp-helpers.js";

const PER_SOURCE = 8;
const sockets = new Set<WebSocket>();
let lab: RunningProcess | undefined;
let inProcess: Lab | undefined;
afterAll(async () => {
  for (const s of sockets) s.terminate();
  await lab?.stop();
  await inProcess?.close();
  killStartedProcesses();
});

/** Opens a WebSocket with the "sip" subprotocol; resolves when open, or with the close code when refused. */
function connect(url: string, protocols: string[] = ["sip"]): Promise<{ ws: WebSocket; open: boolean; closed: Promise<number> }> {
  const ws = new WebSocket(url, protocols);
  sockets.add(ws);
  const closed = new Promise<number>((resolve) => ws.once("close", (code) => resolve(code)));
  ws.on("error", () => undefined);
  return new Promise((resolve) => {
    ws.once("open", () => resolve({ ws, open: true, closed }));
    ws.once("close", () => resolve({ ws, open: false, closed }));
  });
}

/** The drop counters of the lab's /metrics (callgate_drops_total), by cause. */
async function dropCounts(metricsUrl: string): Promise<Record<string, number>> {
  const text = await (await fetch(metricsUrl)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^callgate_drops_total\{[^}]*proto="SIP"[^}]*cause="([^"]+)"[^}]*\} (\d+)/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

function loggedCauses(stderr: string): string[] {
  return stderr.split("\n").map((l) => /"cause":"([^"]+)"/.exec(l)?.[1]).filter((c): c is string => c !== undefined);
}

const SDP = ["v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0", "m=audio 6010 RTP/AVP 0", "a=rtpmap:0 PCMU/8000", ""].join("\r\n");
const INVITE = (callId: string) =>
  [
    "INVITE sip:bob@127.0.0.1 SIP/2.0",
    "Via: SIP/2.0/WS k9x2.invalid;branch=z9hG4bK-hostile-1",
    "Max-Forwards: 70",
    "From: <sip:alice@example.com>;tag=a1",
    "To: <sip:bob@127.0.0.1>",
    `Call-ID: ${callId}`,
    "CSeq: 1 INVITE",
    "Contact: <sip:alice@k9x2.invalid;transport=ws>",
    "Content-Type: application/sdp",
    `Content-Length: ${SDP.length}`,
    "",
    SDP,
  ].join("\r\n");

describe("callgate lab's WebSocket listener under hostile peers", () => {
  it("closes non-SIP frames (1007) and oversize frames (1009), refuses a handshake without 'sip' and plain HTTP (426), caps a flood per source; each cause counted and logged once; a caller still gets through", async () => {
    const metricsPort = await freePort();
    lab = spawnCli("lab", ["--ws-port", "0", "--max-connections-per-source", String(PER_SOURCE), "--metrics", `127.0.0.1:${metricsPort}`, "--answer-delay", "50", "--log-level", "info"]);
    await lab.waitFor("Ctrl-C", { stream: "stdout", ms: 60_000 });
    const url = /ws (ws:\/\/127\.0\.0\.1:\d+)/.exec(lab.stdout())?.[1] ?? "";
    expect(url).not.toBe("");
    const metrics = `http://127.0.0.1:${metricsPort}/metrics`;

    // three connections each send a frame that is no SIP message: each is closed with 1007 (RFC 6455 §7.4.1)
    for (const junk of ["hello", "GET / HTTP/1.1\r\n\r\n", "\u0000\u0001garbage\r\nmore"]) {
      const c = await connect(url);
      expect(c.open).toBe(true);
      c.ws.send(junk);
      expect(await c.closed).toBe(1007);
    }
    // two frames above 64 KiB: refused unread, closed with 1009
    for (let i = 0; i < 2; i++) {
      const c = await connect(url);
      c.ws.send(`INVITE sip:bob@127.0.0.1 SIP/2.0\r\nX: ${"a".repeat(70_000)}\r\n\r\n`);
      expect(await c.closed).toBe(1009);
    }
    // RFC 7118 §4: no "sip" subprotocol, no connection
    const wrong = await connect(url, ["chat"]);
    expect(wrong.open).toBe(false);
    // a plain HTTP request on the WebSocket port is answered 426 and closed
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(url.replace("ws:", "http:"), (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      req.end();
    });
    expect(status).toBe(426);

    // a flood: 40 connections from one address, the per-source cap keeps PER_SOURCE of them
    const flood = await Promise.all(Array.from({ length: 40 }, () => connect(url)));
    expect(flood.filter((c) => c.open).length).toBe(PER_SOURCE);
    // every refusal of the flood is counted by now (a reconnect below may meet the cap again while the flood closes)
    expect((await dropCounts(metrics))["ws-source-cap"]).toBe(40 - PER_SOURCE);
    for (const c of flood) c.ws.terminate();
    for (const c of flood) await c.closed;

    // the lab still takes a caller over WebSocket once the flood is gone (the cap frees as connections close)
    let caller: Awaited<ReturnType<typeof connect>> | undefined;
    for (let i = 0; i < 100 && !caller?.open; i++) {
      caller = await connect(url);
      if (!caller.open) await new Promise((r) => setTimeout(r, 100));
    }
    expect(caller?.open).toBe(true);
    const statuses: number[] = [];
    caller!.ws.on("message", (d: Buffer) => statuses.push(Number(/^SIP\/2\.0 (\d{3})/.exec(d.toString("latin1"))?.[1])));
    caller!.ws.send(INVITE("hostile-after@x"));
    for (let i = 0; i < 200 && !statuses.includes(200); i++) await new Promise((r) => setTimeout(r, 50));
    expect(statuses).toContain(200);
    expect(lab.child.exitCode).toBeNull();

    const drops = await dropCounts(metrics);
    expect(drops["ws-not-sip"]).toBe(3);
    expect(drops["ws-message-too-large"]).toBe(2);
    expect(drops["ws-source-cap"]).toBeGreaterThanOrEqual(40 - PER_SOURCE);
    const logged = loggedCauses(lab.stderr());
    for (const cause of ["SIP:ws-not-sip", "SIP:ws-message-too-large", "SIP:ws-source-cap"]) expect(logged.filter((c) => c === cause), cause).toHaveLength(1);
  }, 120_000);

  it("a peer that sends requests and never reads their answers is closed once a MiB of answers waits for it, counted; the lab holds nothing of it", async () => {
    const drops: string[] = [];
    inProcess = await startLab({ wsPort: 0, onDrop: (_proto, cause) => drops.push(cause) });
    const c = await connect(inProcess.endpoints.SIP1!.ws!);
    expect(c.open).toBe(true);
    c.ws.pause(); // reads nothing more: SIP1's 200s to its OPTIONS pile up
    let closed = false;
    void c.closed.then(() => (closed = true));
    let sent = 0;
    for (let round = 0; round < 400 && !closed; round++) {
      for (let k = 0; k < 500; k++, sent++)
        c.ws.send(["OPTIONS sip:127.0.0.1 SIP/2.0", `Via: SIP/2.0/WS slow.invalid;branch=z9hG4bK-slow-${sent}`, "Max-Forwards: 70", "From: <sip:a@example.com>;tag=1", "To: <sip:127.0.0.1>", `Call-ID: slow-${sent}`, "CSeq: 1 OPTIONS", "Content-Length: 0", "", ""].join("\r\n"));
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(closed, `still open after ${sent} requests`).toBe(true);
    expect(drops.filter((d) => d === "ws-slow-reader")).toHaveLength(1);
    for (let i = 0; i < 100 && inProcess.connections()["SIP1 WS"] !== 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(inProcess.connections()["SIP1 WS"]).toBe(0);
    expect(inProcess.held().transactions).toBeLessThan(sent);
  }, 120_000);
});
