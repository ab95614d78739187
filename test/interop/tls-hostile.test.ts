// Hostile input against the TLS listeners of `callgate proxy` (tls: and wss:): 1,000 connections that never
// start a handshake, random bytes, a handshake record that announces more than it sends; each is closed (the
// handshake gets the listener's header deadline; without it node waits 120 s), the per-source cap holds, the
// process stays up under a stated RSS bound, and a normal request over TLS and over wss is answered afterwards.
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { randomBytes } from "node:crypto";
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { killStartedProcesses, rssMb, spawnCli } from "../support/cli-process.js";
import { makeTestPki, type TestPki } from "../support/tls-test-pki.js";
import { freePort } from "./sip-sipp-helpers.js";

const RSS_BOUND_MB = 300;
let pki: TestPki;
let nextHop: UdpSocket;
let nextHopPort = 0;

beforeAll(async () => {
  pki = makeTestPki(["proxy"]);
  // The next hop answers every request 200 OK with its Via headers (RFC 3261 §8.2.6).
  nextHop = createSocket("udp4");
  nextHop.on("message", (msg, rinfo) => {
    const head = msg.toString("latin1").split("\r\n\r\n")[0]!.split("\r\n");
    if (!/^[A-Z]+ /.test(head[0] ?? "")) return;
    const keep = head.filter((l) => /^(Via|From|To|Call-ID|CSeq):/i.test(l)).map((l) => (/^To:/i.test(l) ? `${l};tag=hop` : l));
    nextHop.send(Buffer.from(["SIP/2.0 200 OK", ...keep, "Content-Length: 0", "", ""].join("\r\n"), "latin1"), rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => nextHop.bind(0, "127.0.0.1", resolve));
  nextHopPort = nextHop.address().port;
});

afterAll(() => {
  nextHop?.close();
  killStartedProcesses();
});

function options(transport: "TLS" | "WSS", n: number): string {
  return [`OPTIONS sip:bob@127.0.0.1 SIP/2.0`, `Via: SIP/2.0/${transport} client.invalid;branch=z9hG4bK-hostile-${n}`, "Max-Forwards: 70", `From: <sip:alice@127.0.0.1>;tag=h${n}`, "To: <sip:bob@127.0.0.1>", `Call-ID: hostile-${n}@127.0.0.1`, `CSeq: ${n} OPTIONS`, "Content-Length: 0", "", ""].join("\r\n");
}

/** Opens a raw TCP connection, writes `bytes` (if any), resolves once it is closed by the server. */
function closedBy(port: number, bytes?: Buffer): { opened: Promise<void>; closed: Promise<void>; sock: Socket } {
  const sock = netConnect(port, "127.0.0.1");
  const opened = new Promise<void>((resolve) => sock.once("connect", () => {
    if (bytes) sock.write(bytes);
    resolve();
  }));
  sock.on("error", () => undefined);
  sock.on("data", () => undefined);
  return { sock, opened, closed: new Promise((resolve) => sock.once("close", () => resolve())) };
}

async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  try {
    return await Promise.race([p, limit]);
  } finally {
    clearTimeout(timer);
  }
}

describe("callgate proxy TLS listeners under hostile input", () => {
  it("silent, garbage and cut handshakes are closed, the per-source cap holds, RSS stays bounded, normal requests are answered after", async () => {
    const [tlsPort, wssPort, udpPort] = [await freePort(), await freePort(), await freePort()];
    const proxy = spawnCli("proxy", [
      "--listen", `tls:127.0.0.1:${tlsPort}`, "--listen", `wss:127.0.0.1:${wssPort}`, "--listen", `udp:127.0.0.1:${udpPort}`, "--next-hop", `udp:127.0.0.1:${nextHopPort}`,
      "--tls-cert", pki.files.proxy!.certificate, "--tls-key", pki.files.proxy!.key, "--tls-ca", pki.caFile,
      "--header-timeout", "5000", "--max-connections-per-source", "1000", "--log-level", "info"]);
    await proxy.waitFor("callgate proxy listening on");
    try {
      // 1,000 connections that never start a handshake, then 20 more beyond the per-source cap.
      const idle = Array.from({ length: 1000 }, () => closedBy(tlsPort));
      await Promise.all(idle.map((c) => c.opened));
      const beyond = Array.from({ length: 20 }, () => closedBy(tlsPort));
      // Beyond the cap: closed at once (counted as source-cap drops, read from the exit log below).
      await within(Promise.all(beyond.map((c) => c.closed)), 30_000, "connections beyond the per-source cap");
      const peak = rssMb(proxy.child.pid!);
      expect(peak).toBeLessThan(RSS_BOUND_MB);
      // The silent ones: closed by the handshake deadline (5 s; node's own is 120 s and needs a listener to close).
      await within(Promise.all(idle.map((c) => c.closed)), 30_000, "silent TLS connections");

      // Random bytes, and a handshake record announcing 16 KB of which 100 bytes come: closed, on tls: and wss:.
      const garbage = [closedBy(tlsPort, randomBytes(4096)), closedBy(wssPort, randomBytes(4096))];
      const cut = Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x40, 0x00]), randomBytes(100)]);
      const cuts = [closedBy(tlsPort, cut), closedBy(wssPort, cut), closedBy(wssPort)];
      await within(Promise.all([...garbage, ...cuts].map((c) => c.closed)), 15_000, "garbage and cut handshakes");

      // The process is up and answers a normal request over TLS and over wss.
      expect(proxy.child.exitCode).toBeNull();
      const overTls = await new Promise<string>((resolve) => {
        const s = tlsConnect({ host: "127.0.0.1", port: tlsPort, ca: pki.caPem }, () => s.write(options("TLS", 1)));
        let got = "";
        s.on("data", (d: Buffer) => {
          got += d.toString("latin1");
          if (got.includes("\r\n\r\n")) {
            resolve(got.split("\r\n")[0] ?? "");
            s.destroy();
          }
        });
        s.on("error", (err) => resolve(`error: ${err.message}`));
      });
      expect(overTls).toBe("SIP/2.0 200 OK");
      const overWss = await new Promise<string>((resolve) => {
        const ws = new WebSocket(`wss://127.0.0.1:${wssPort}`, "sip", { ca: pki.caPem });
        ws.on("open", () => ws.send(options("WSS", 2)));
        ws.on("message", (d: Buffer) => {
          resolve(d.toString("latin1").split("\r\n")[0] ?? "");
          ws.close();
        });
        ws.on("error", (err) => resolve(`error: ${err.message}`));
      });
      expect(overWss).toBe("SIP/2.0 200 OK");
      console.log(JSON.stringify({ proxyRssMbWith1000SilentTlsConnections: Math.round(peak), boundMb: RSS_BOUND_MB }));
    } finally {
      await proxy.stop();
    }
    // The exit log line counts the refusals by cause: the 20 beyond the per-source cap among them.
    const out = proxy.output();
    const stopped = out.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as { msg: string; drops?: Record<string, number> }).find((l) => l.msg === "proxy stopped");
    expect(stopped?.drops?.["SIP:source-cap"], out.slice(-2000)).toBeGreaterThanOrEqual(20);
  });
});
