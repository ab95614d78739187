// Hostile input against real `callgate proxy` and `callgate lab` processes (issue 12): random bytes,
// truncated and oversized messages, lying lengths, slowloris, 1,000 idle connections and a flood of valid
// calls (SIPp), on SIP UDP/TCP, COPS and OSP HTTP. The process stays up, its RSS stays under a stated bound,
// the RFC's refusal is seen on the wire (SIP 400 / 513, HTTP 408 / 413 / 400), every limit closes what it
// should, and a normal SIPp call succeeds afterwards. Limits are set short (1-2 s) to keep the run brief.
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createConnection, type Socket } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { OspClient, authorisationRequest } from "../../protocols/osp/index.js";
import { parseSipMessage, SipStreamParser, type SipMessage, type SipResponse } from "../../protocols/sip/index.js";
import { killStartedProcesses, rssMb, spawnCli, trackProcess, type RunningProcess } from "../support/cli-process.js";
import { randomBytes, seededRandom } from "../support/seeded-random.js";
import { findFile, freePort, readSippStats, sippPath, startSipp, waitForListener, workDir } from "./sip-sipp-helpers.js";

/** RSS bounds stated for these runs (a node process with tsx starts near 100-150 MB). */
const PROXY_RSS_BOUND_MB = 200;
const LAB_RSS_BOUND_MB = 250;
const CLEARINGHOUSE_RSS_BOUND_MB = 200;

const LIMIT_ARGS = ["--header-timeout", "1000", "--body-timeout", "1000", "--idle-timeout", "2000", "--max-connections", "600", "--max-connections-per-source", "128"];
// HTTP waits for a head from the moment a connection opens: with a 5 s header deadline the 1,000 idle
// connections are all open before any deadline passes, so what the cap closes is told apart.
const HTTP_LIMIT_ARGS = LIMIT_ARGS.map((a, i) => (LIMIT_ARGS[i - 1] === "--header-timeout" ? "5000" : a));

/** What an OSP listener under these attacks drops, each cause logged once. */
const OSP_LISTENER_CAUSES = ["OSP:connection-cap", "OSP:idle-timeout", "OSP:body-timeout", "OSP:header-timeout", "OSP:body-too-large", "OSP:bad-request"];

const sockets = new Set<Socket>();
afterAll(() => {
  for (const s of sockets) s.destroy();
  killStartedProcesses();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `callgate <command>` from the sources (tsx), in its own process; resolves once `ready` is printed. */
async function startCli(command: string, args: string[], ready: string): Promise<RunningProcess> {
  const cli = spawnCli(command, args);
  await cli.waitFor(ready, { stream: "stdout", ms: 30_000 });
  return cli;
}

/** Samples a process's resident set size (/proc/PID/status VmRSS) every 100 ms; `max` in MB. */
function watchRss(pid: number): { max(): number; stop(): void } {
  let max = 0;
  const sample = (): void => {
    try {
      max = Math.max(max, rssMb(pid));
    } catch {
      // the process is gone; the test sees that elsewhere
    }
  };
  sample();
  const timer = setInterval(sample, 100);
  return { max: () => max, stop: () => clearInterval(timer) };
}

/** 1,000 idle connections to an OSP listener capped at 600: 400 closed at once, the rest later by its deadlines. */
async function expectCapOf600(port: number): Promise<void> {
  const idle = await thousandIdle(port);
  await eventually(() => idle.filter((c) => c.isClosed()).length >= 400, 5000, "400 connections past the cap closed");
  expect(idle.filter((c) => c.isClosed()).length).toBe(400);
  await Promise.all(idle.map((c) => c.closed));
}

/** The process is still up and its peak RSS stayed under `boundMb` (printed for the record). */
function expectUpUnderBound(cli: RunningProcess, rss: { max(): number; stop(): void }, boundMb: number, name: string): void {
  expect(cli.child.exitCode).toBeNull();
  rss.stop();
  expect(rss.max()).toBeLessThan(boundMb);
  console.log(`${name}: peak RSS ${rss.max().toFixed(1)} MB under hostile input (bound ${boundMb} MB)`);
}

/** Each cause logged once (the DropLog's interval is a minute), however many drops. */
function expectLoggedOnce(stderr: string, causes: string[]): void {
  const logged = stderr.split("\n").map((l) => /"cause":"([^"]+)"/.exec(l)?.[1]).filter((c): c is string => c !== undefined);
  for (const cause of causes) expect(logged.filter((c) => c === cause), cause).toHaveLength(1);
}

/** A UDP socket on 127.0.0.1 that keeps every SIP message it receives. */
async function udpPeer(): Promise<{ socket: UdpSocket; port: number; received: SipMessage[]; send(b: Buffer | string, port: number): Promise<void>; close(): void }> {
  const socket = createSocket("udp4");
  const received: SipMessage[] = [];
  socket.on("message", (d) => {
    try {
      received.push(parseSipMessage(d));
    } catch {
      // not SIP
    }
  });
  await new Promise<void>((r) => socket.bind(0, "127.0.0.1", () => r()));
  return {
    socket,
    port: socket.address().port,
    received,
    send: (b, port) => new Promise((resolve, reject) => socket.send(typeof b === "string" ? Buffer.from(b, "latin1") : b, port, "127.0.0.1", (e) => (e ? reject(e) : resolve()))),
    close: () => socket.close(),
  };
}

interface RawConn {
  socket: Socket;
  closed: Promise<void>;
  isClosed(): boolean;
  text(): string;
}

function connect(port: number, localAddress = "127.0.0.1"): Promise<RawConn> {
  const socket = createConnection({ host: "127.0.0.1", port, localAddress });
  sockets.add(socket);
  let done = false;
  let got = "";
  socket.on("data", (d) => (got += d.toString("latin1")));
  socket.on("error", () => undefined);
  const closed = new Promise<void>((r) =>
    socket.once("close", () => {
      done = true;
      sockets.delete(socket);
      r();
    }),
  );
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve({ socket, closed, isClosed: () => done, text: () => got }));
    socket.once("error", reject);
  });
}

async function eventually(pred: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`not reached in ${ms} ms: ${what}`);
    await sleep(25);
  }
}

let seq = 0;
function invite(opts: { viaPort: number; transport?: string; uri: string; body?: string; contentLength?: number }): string {
  seq++;
  const body = opts.body ?? "";
  return [
    `INVITE sip:15551234567@${opts.uri} SIP/2.0`,
    `Via: SIP/2.0/${opts.transport ?? "UDP"} 127.0.0.1:${opts.viaPort};branch=z9hG4bKhostile${seq};rport`,
    "Max-Forwards: 70",
    `From: <sip:hostile@127.0.0.1>;tag=h${seq}`,
    "To: <sip:15551234567@127.0.0.1>",
    `Call-ID: hostile-${seq}@127.0.0.1`,
    "CSeq: 1 INVITE",
    "Contact: <sip:hostile@127.0.0.1>",
    "Content-Type: application/sdp",
    `Content-Length: ${opts.contentLength ?? Buffer.byteLength(body)}`,
    "",
    body,
  ].join("\r\n");
}

/** The OSP HTTP attacks: a slow body and a dripping head (408), a declared body over the bound (413), garbage (400). */
async function ospHttpAttacks(port: number, userAgent: string): Promise<void> {
  const rand = seededRandom(13);
  const head = (n: number) => `POST /osp HTTP/1.1\r\nHost: ch\r\nUser-Agent: ${userAgent}\r\nContent-Type: text/plain\r\nContent-Length: ${n}\r\n\r\n`;
  const slow = await connect(port);
  slow.socket.write(`${head(1000)}<?xml`);
  await slow.closed;
  expect(slow.text()).toMatch(/^HTTP\/1\.1 408/);
  const huge = await connect(port);
  huge.socket.write(head(50_000_000));
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  for (let i = 0; i < 8 && !huge.isClosed(); i++) {
    huge.socket.write(chunk);
    await sleep(10);
  }
  await huge.closed;
  expect(huge.text()).toMatch(/^HTTP\/1\.1 413/);
  const garbage = await connect(port);
  garbage.socket.write(randomBytes(rand, 512));
  await garbage.closed;
  expect(garbage.text()).toMatch(/^HTTP\/1\.1 400/);
  // A head that takes 40 s to drip (a byte per 100 ms): the head deadline must cut every connection well before.
  const dripped = head(10).replace("Content-Type:", `X-Padding: ${"p".repeat(300)}\r\nContent-Type:`);
  const drips = await slowloris(port, 10, dripped);
  expect(drips.every((n) => n < dripped.length), `bytes sent before the close: ${drips.join(",")}`).toBe(true);
}

/** Datagrams of noise and of INVITEs cut anywhere, paced so the kernel buffer keeps up. */
async function sendNoise(peer: { send(b: Buffer | string, port: number): Promise<void> }, port: number, count: number, uri: string): Promise<void> {
  const rand = seededRandom(0x4057113);
  for (let i = 0; i < count; i++) {
    const whole = invite({ viaPort: 9, uri, body: "v=0\r\n" });
    const data = i % 2 === 0 ? randomBytes(rand, Math.floor(rand() * 1400)) : Buffer.from(whole.slice(0, Math.floor(rand() * whole.length)), "latin1");
    await peer.send(data, port);
    if (i % 200 === 199) await sleep(20);
  }
}

/** 1,000 connections that send nothing, from 10 source addresses (100 each, under the per-source cap of 128). */
async function thousandIdle(port: number): Promise<RawConn[]> {
  const conns: RawConn[] = [];
  for (let src = 1; src <= 10; src++) {
    const batch = await Promise.all(Array.from({ length: 100 }, () => connect(port, `127.0.0.${src}`)));
    conns.push(...batch);
  }
  return conns;
}

/** Drips `text` a byte every 100 ms over `n` connections; resolves once all are closed, with bytes sent on each. */
async function slowloris(port: number, n: number, text: string): Promise<number[]> {
  const conns = await Promise.all(Array.from({ length: n }, () => connect(port)));
  const sent = conns.map(() => 0);
  const drip = setInterval(() => {
    conns.forEach((c, k) => {
      if (!c.isClosed() && sent[k]! < text.length) c.socket.write(text[sent[k]!++]!);
    });
  }, 100);
  try {
    await Promise.all(conns.map((c) => c.closed));
  } finally {
    clearInterval(drip);
  }
  return sent;
}

function sippCall(target: string, transport: "u1" | "t1", calls: number, rate: number): Promise<Record<string, string>> {
  const dir = workDir("callgate-hostile-uac-");
  const run = startSipp(["-sn", "uac", "-t", transport, target, "-i", "127.0.0.1", "-m", String(calls), "-r", String(rate), "-l", "400", "-s", "15551234567", "-nostdin", "-trace_stat", "-fd", "1", "-timeout", "60", "-timeout_error"], dir);
  trackProcess(run.child);
  return run.done.then(() => readSippStats(findFile(dir, ".csv")));
}

describe("hostile input against `callgate proxy` (SIP over UDP and TCP)", () => {
  it("refuses what the RFCs refuse, closes what the limits close, stays under its RSS bound, then carries calls", async () => {
    expect(sippPath(), "sipp (Debian sip-tester) must be installed").toBeTruthy();
    const [uasPort, udpPort, tcpPort] = [await freePort(), await freePort(), await freePort()];
    const uas = startSipp(["-sn", "uas", "-t", "u1", "-p", String(uasPort), "-i", "127.0.0.1", "-nostdin"], workDir("callgate-hostile-uas-"));
    trackProcess(uas.child);
    await waitForListener(uasPort, "udp");
    const proxy = await startCli("proxy", ["--listen", `udp:127.0.0.1:${udpPort}`, "--listen", `tcp:127.0.0.1:${tcpPort}`, "--next-hop", `udp:127.0.0.1:${uasPort}`, ...LIMIT_ARGS], "listening on");
    const rss = watchRss(proxy.child.pid!);
    const peer = await udpPeer();
    try {
      const uri = `127.0.0.1:${udpPort}`;
      // Random bytes and INVITEs cut anywhere, from another socket: dropped and counted (a cut INVITE whose
      // head is whole is answered or forwarded, as it should be).
      const noise = await udpPeer();
      await sendNoise(noise, udpPort, 3000, uri);
      noise.close();

      // A lying Content-Length (5,000 announced, 5 sent): RFC 3261 §18.3 400 on the wire.
      await peer.send(invite({ viaPort: peer.port, uri, body: "v=0\r\n", contentLength: 5000 }), udpPort);
      // Oversized: a Content-Length past any datagram (and the size limit): 400 as well.
      await peer.send(invite({ viaPort: peer.port, uri, body: "x".repeat(1000), contentLength: 10_000_000 }), udpPort);
      await eventually(() => peer.received.length >= 2, 5000, "two 400 answers over UDP");
      expect(peer.received.map((m) => (m as SipResponse).status)).toEqual([400, 400]);
      expect((peer.received[0] as SipResponse).reason).toContain("Content-Length");

      // TCP: random bytes close the connection; a message past the size limit gets 513 first (§21.5.7).
      const rand = seededRandom(7);
      const junk = await Promise.all(Array.from({ length: 50 }, () => connect(tcpPort)));
      for (const c of junk) c.socket.write(randomBytes(rand, 4096));
      await Promise.all(junk.map((c) => c.closed));
      const big = await connect(tcpPort);
      big.socket.write(invite({ viaPort: big.socket.localPort!, transport: "TCP", uri, contentLength: 10_000_000 }));
      await big.closed;
      const bigAnswer = new SipStreamParser().push(Buffer.from(big.text(), "latin1"));
      expect((bigAnswer[0] as SipResponse).status).toBe(513);
      // A lying length on TCP (1,000 announced, 10 sent): closed at the body deadline.
      const lying = await connect(tcpPort);
      lying.socket.write(invite({ viaPort: lying.socket.localPort!, transport: "TCP", uri, body: "0123456789", contentLength: 1000 }));
      await lying.closed;

      // Slowloris: 20 connections dripping an INVITE a byte every 100 ms are closed at the 1 s header deadline.
      const text = invite({ viaPort: 9, transport: "TCP", uri });
      const sent = await slowloris(tcpPort, 20, text);
      for (const n of sent) expect(n).toBeLessThan(text.length);

      // 1,000 idle connections: 600 held (the cap), 400 closed at once, the rest at the 2 s idle timeout.
      const idle = await thousandIdle(tcpPort);
      await eventually(() => idle.filter((c) => c.isClosed()).length >= 400, 5000, "400 connections past the cap closed");
      expect(idle.filter((c) => c.isClosed()).length).toBe(400);
      await Promise.all(idle.map((c) => c.closed));

      // A flood of valid calls, then one normal call over UDP and one over TCP.
      const flood = await sippCall(`127.0.0.1:${udpPort}`, "u1", 1000, 400);
      expect(flood["SuccessfulCall(C)"]).toBe("1000");
      const afterUdp = await sippCall(`127.0.0.1:${udpPort}`, "u1", 1, 1);
      expect(afterUdp["SuccessfulCall(C)"]).toBe("1");
      const afterTcp = await sippCall(`127.0.0.1:${tcpPort}`, "t1", 1, 1);
      expect(afterTcp["SuccessfulCall(C)"]).toBe("1");

      expectUpUnderBound(proxy, rss, PROXY_RSS_BOUND_MB, "callgate proxy");
    } finally {
      rss.stop();
      peer.close();
      const code = await proxy.stop();
      uas.child.kill("SIGTERM");
      expect(code).toBe(0);
    }
    const line = proxy.stdout().trim().split("\n").reverse().find((l) => l.startsWith('{"stats"'));
    const stats = (JSON.parse(line ?? "{}") as { stats: Record<string, number> }).stats;
    expect(stats.malformedDatagrams).toBeGreaterThanOrEqual(1500); // half the noise is random bytes; some cut INVITEs still parse
    expect(stats.refusalsSent).toBeGreaterThanOrEqual(3); // two 400 over UDP, one 513 over TCP (and 400 for cut INVITEs)
    expect(stats.malformedStreams).toBeGreaterThanOrEqual(50);
    expect(stats.bodyTimeouts).toBe(1);
    expect(stats.headerTimeouts).toBe(20);
    expect(stats.connectionCap).toBe(400);
    expect(stats.idleTimeouts).toBeGreaterThanOrEqual(600);
    // Logged once per cause (DropLog), however many drops.
    const headerTimeoutLines = proxy.stderr().split("\n").filter((l) => l.includes('"cause":"SIP:header-timeout"'));
    expect(headerTimeoutLines).toHaveLength(1);
  });
});

describe("hostile input against `callgate lab` (SIP over UDP at SIP1, COPS at POL1, OSP over HTTP at CH)", () => {
  it("refuses, closes and bounds as stated, then carries a normal SIPp call", async () => {
    expect(sippPath(), "sipp (Debian sip-tester) must be installed").toBeTruthy();
    const lab = await startCli("lab", ["--answer-delay", "0", "--log-level", "warn", ...HTTP_LIMIT_ARGS], "SIGTERM stops the lab");
    const rss = watchRss(lab.child.pid!);
    const out = lab.stdout();
    const sip1 = /SIP1\s+sip (127\.0\.0\.1:\d+)/.exec(out)?.[1] ?? "";
    const copsPort = Number(/POL1\s+cops 127\.0\.0\.1:(\d+)/.exec(out)?.[1]);
    const ospPort = Number(/CH\s+osp http:\/\/127\.0\.0\.1:(\d+)\/osp/.exec(out)?.[1]);
    expect(sip1).not.toBe("");
    expect(copsPort).toBeGreaterThan(0);
    expect(ospPort).toBeGreaterThan(0);
    const sipPort = Number(sip1.split(":")[1]);
    const peer = await udpPeer();
    try {
      // SIP over UDP at SIP1: a lying Content-Length gets 400 (RFC 3261 §18.3); noise is dropped (a cut
      // INVITE whose head is whole is a call attempt like any other).
      await peer.send(invite({ viaPort: peer.port, uri: sip1, body: "v=0\r\n", contentLength: 5000 }), sipPort);
      await eventually(() => peer.received.some((m) => "status" in m && m.status === 400), 5000, "400 from SIP1");
      const noise = await udpPeer();
      await sendNoise(noise, sipPort, 1000, sip1);
      noise.close();

      // COPS: random bytes from no peer of the lab close the connection; so does a half header (no peer).
      const rand = seededRandom(11);
      const junk = await Promise.all(Array.from({ length: 50 }, () => connect(copsPort)));
      for (const c of junk) c.socket.write(randomBytes(rand, 1024));
      await Promise.all(junk.map((c) => c.closed));
      const cut = await connect(copsPort);
      cut.socket.write(Buffer.from([0x10, 0x01, 0x00, 0x01]));
      await cut.closed;

      // OSP over HTTP: a slow body gets 408 at the deadline, a body past the bound 413, garbage 400, a
      // dripping head 408.
      await ospHttpAttacks(ospPort, "callgate-POL1");

      // 1,000 idle connections on COPS and on OSP: 600 each held (with the lab's own: SIP1's and R1's COPS
      // links count), the rest closed at once, the held ones at the idle timeout.
      for (const port of [copsPort, ospPort]) {
        const idle = await thousandIdle(port);
        await eventually(() => idle.filter((c) => c.isClosed()).length >= 400, 5000, `400 connections past the cap closed on port ${port}`);
        const refusedAtOnce = idle.filter((c) => c.isClosed()).length;
        expect(refusedAtOnce).toBeGreaterThanOrEqual(400);
        expect(refusedAtOnce).toBeLessThanOrEqual(402);
        await Promise.all(idle.map((c) => c.closed));
      }

      // A flood of valid calls through all the roles, then one normal call.
      const flood = await sippCall(sip1, "u1", 300, 100);
      expect(flood["SuccessfulCall(C)"]).toBe("300");
      const after = await sippCall(sip1, "u1", 1, 1);
      expect(after["SuccessfulCall(C)"]).toBe("1");

      expectUpUnderBound(lab, rss, LAB_RSS_BOUND_MB, "callgate lab");
    } finally {
      rss.stop();
      peer.close();
      expect(await lab.stop()).toBe(0);
    }
    expectLoggedOnce(lab.stderr(), ["SIP:malformed-datagram", "COPS:unknown-peer", "COPS:connection-cap", "OSP:connection-cap", "OSP:body-timeout", "OSP:header-timeout", "OSP:body-too-large", "OSP:bad-request"]);
  });
});

describe("hostile input against `callgate clearinghouse` (OSP over HTTP)", () => {
  it("answers 408 / 413 / 400, caps and times out connections, stays under its RSS bound, then authorises a call", async () => {
    const ch = await startCli("clearinghouse", ["--listen", "http://127.0.0.1:0/osp", "--routes", "examples/deploy/osp-routes.yaml", "--memory", ...HTTP_LIMIT_ARGS], "listening on");
    const url = /listening on (http:\/\/127\.0\.0\.1:\d+\/osp)/.exec(ch.stdout())?.[1] ?? "";
    const port = Number(new URL(url).port);
    const rss = watchRss(ch.child.pid!);
    try {
      await ospHttpAttacks(port, "hostile");
      await expectCapOf600(port);
      const answer = await new OspClient({ url }).authorise(
        authorisationRequest({ messageId: "after-1", nowMs: Date.now(), callId: Buffer.from("hostile-after"), callingNumber: "14085550000", calledNumber: "441632960002" }),
      );
      expect(answer.status.code).toBe(200);
      expectUpUnderBound(ch, rss, CLEARINGHOUSE_RSS_BOUND_MB, "callgate clearinghouse");
    } finally {
      rss.stop();
      expect(await ch.stop()).toBe(0);
    }
    expectLoggedOnce(ch.stderr(), OSP_LISTENER_CAUSES);
  });
});

describe("hostile input against `callgate serve CH` with the deployment file's limits", () => {
  it("applies the file's limits section to the OSP listener: 408 at its deadlines, its connection cap", async () => {
    const dir = workDir("callgate-hostile-serve-");
    const [pol1, ch, pol2] = [await freePort(), await freePort(), await freePort()];
    const config = join(dir, "deploy.yaml");
    writeFileSync(
      config,
      [
        "roles:",
        `  POL1: { host: 127.0.0.1, cops: ${pol1} }`,
        `  CH:   { host: 127.0.0.1, osp: ${ch} }`,
        `  POL2: { host: 127.0.0.1, cops: ${pol2} }`,
        "limits: { headerTimeoutMs: 5000, bodyTimeoutMs: 1000, idleTimeoutMs: 2000, maxConnections: 600, maxConnectionsPerSource: 128 }",
        "",
      ].join("\n"),
    );
    const served = await startCli("serve", ["CH", "--config", config], "CH ready");
    const rss = watchRss(served.child.pid!);
    try {
      await ospHttpAttacks(ch, "callgate-POL1");
      await expectCapOf600(ch);
      expectUpUnderBound(served, rss, CLEARINGHOUSE_RSS_BOUND_MB, "callgate serve CH");
    } finally {
      rss.stop();
      expect(await served.stop()).toBe(0);
    }
    expectLoggedOnce(served.stderr(), OSP_LISTENER_CAUSES);
  });
});
