// rp-pppoe's user-space client against our Access Concentrator Discovery machine, and our Host Discovery
// machine against rp-pppoe's pppoe-server, each over a veth pair whose far end lives in a network namespace
// this test creates. Raw frames cross into node through socat (a packet
// socket on the near end, one UDP datagram on loopback per frame). tshark then reads every frame of the
// exchange, and a frame of every kind our codec writes, without a malformed or error flag.
import { execFileSync, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import type { Socket } from "node:dgram";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PppoeDiscoveryClient, PppoeDiscoveryServer, decodePppoeFrame, encodePppoeFrame } from "../../protocols/pppoe/index.js";
import type { PppoeAction, PppoeClientEvent, PppoeFrame, PppoeServerEvent } from "../../protocols/pppoe/index.js";
import { flaggedFrames, pcapOf, run, tsharkFields, vethPair } from "../support/pppoe-lab.js";

const suffix = randomBytes(3).toString("hex");
const NETNS = `cgpppoe-${suffix}`;
const NEAR = `cgpa${suffix}`; // in this namespace, where socat reads and writes raw frames
const FAR = `cgpb${suffix}`; // in NETNS, where rp-pppoe runs
const HOST_NEAR = `cgpc${suffix}`; // our Host's end
const HOST_FAR = `cgpd${suffix}`; // pppoe-server's end, in NETNS
const AC_NAME = "callgate-test-ac";

let dir = "";
let socat: ChildProcess | undefined;
let udp: Socket | undefined;
let server: PppoeDiscoveryServer;
let acMac = "";
const wire: Buffer[] = [];
const events: PppoeServerEvent[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "pppoe-rp-"));
  await run("ip", ["netns", "add", NETNS]);
  await vethPair(NEAR, FAR, NETNS);
  await vethPair(HOST_NEAR, HOST_FAR, NETNS);
  acMac = readFileSync(`/sys/class/net/${NEAR}/address`, "utf8").trim();
  server = new PppoeDiscoveryServer({ mac: acMac, acName: AC_NAME, cookieSecret: randomBytes(32) });

  const socket = createSocket("udp4");
  udp = socket;
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  socket.on("message", (bytes, from) => {
    wire.push(Buffer.from(bytes));
    for (const action of server.handle({ type: "frame", bytes }, Date.now())) {
      if (action.type === "send") {
        wire.push(action.bytes);
        socket.send(action.bytes, from.port, from.address);
      } else if (action.type === "emit") events.push(action.event);
    }
  });
  const port = socket.address().port;
  socat = spawn("socat", [`INTERFACE:${NEAR}`, `UDP:127.0.0.1:${port}`], { stdio: ["ignore", "ignore", "pipe"] });
  // socat opens its packet socket before any frame is sent; give it a moment to bind.
  await new Promise((r) => setTimeout(r, 300));
  expect(socat.exitCode).toBe(null);
});

afterAll(async () => {
  socat?.kill();
  udp?.close();
  await run("ip", ["link", "del", NEAR]).catch(() => undefined);
  await run("ip", ["link", "del", HOST_NEAR]).catch(() => undefined);
  await run("ip", ["netns", "del", NETNS]).catch(() => undefined);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function pppoe(args: string[]) {
  return run("ip", ["netns", "exec", NETNS, "pppoe", "-I", FAR, ...args], { timeout: 20_000 });
}

describe("rp-pppoe client against our Access Concentrator", () => {
  it("pppoe -A lists our AC-Name and Ethernet address", async () => {
    const { stdout } = await pppoe(["-A", "-t", "2"]);
    expect(stdout).toContain(`Access-Concentrator: ${AC_NAME}`);
    expect(stdout.toLowerCase()).toContain(`ac-ethernet-address: ${acMac}`);
  });

  it("pppoe -d completes PADI/PADO/PADR/PADS and prints the SESSION_ID our AC allocated", async () => {
    const { stdout } = await pppoe(["-d", "-t", "2"]);
    const started = events.filter((e) => e.type === "session-started");
    expect(started).toHaveLength(1);
    const sessionId = started[0]?.type === "session-started" ? started[0].sessionId : -1;
    expect(stdout.trim().toLowerCase()).toBe(`${sessionId}:${acMac}`);
    expect(server.session(sessionId)?.hostMac).toBe(readMacInNetns());
  });

  it("pppoe -k sends a PADT that ends the session in our AC", async () => {
    const started = events.find((e) => e.type === "session-started");
    if (started?.type !== "session-started") throw new Error("no session to end");
    await pppoe(["-k", "-e", `${started.sessionId}:${acMac}`]);
    for (let i = 0; i < 50 && !events.some((e) => e.type === "session-ended"); i++) await new Promise((r) => setTimeout(r, 20));
    expect(events.filter((e) => e.type === "session-ended")).toEqual([
      { type: "session-ended", sessionId: started.sessionId, hostMac: started.hostMac, by: "host" },
    ]);
    expect(server.sessionCount).toBe(0);
  });

  it("tshark reads every frame of the exchange as PPPoE without a malformed flag, with our fields", () => {
    const pcap = join(dir, "rp-pppoe.pcap");
    writeFileSync(pcap, pcapOf(wire));
    expect(flaggedFrames(pcap)).toBe("");
    const rows = tsharkFields(pcap, ["eth.type", "pppoe.code", "pppoe.session_id", "pppoed.tags.ac_name"]);
    const ours = wire.map((bytes) => decodePppoeFrame(bytes));
    expect(rows).toEqual(
      ours.map((f) => [
        "0x8863",
        `0x${f.packet.kind === "discovery" ? { PADI: "09", PADO: "07", PADR: "19", PADS: "65", PADT: "a7" }[f.packet.code] : "00"}`,
        `0x${f.packet.sessionId.toString(16).padStart(4, "0")}`,
        f.packet.kind === "discovery" ? (f.packet.tags.find((t) => t.type === "ac-name")?.type === "ac-name" ? AC_NAME : "") : "",
      ]),
    );
    expect(ours.map((f) => (f.packet.kind === "discovery" ? f.packet.code : "session"))).toEqual(["PADI", "PADO", "PADI", "PADO", "PADR", "PADS", "PADT"]);
  });

  it("tshark reads a frame of every kind and tag our codec writes", () => {
    const host = "02:00:00:00:00:0a";
    const frames: PppoeFrame[] = [
      { destination: "ff:ff:ff:ff:ff:ff", source: host, packet: { kind: "discovery", code: "PADI", sessionId: 0, tags: [{ type: "service-name", name: "internet" }, { type: "host-uniq", value: Buffer.from("0102", "hex") }, { type: "relay-session-id", value: Buffer.from("abcd", "hex") }] } },
      { destination: host, source: acMac, packet: { kind: "discovery", code: "PADO", sessionId: 0, tags: [{ type: "ac-name", name: AC_NAME }, { type: "service-name", name: "internet" }, { type: "ac-cookie", value: Buffer.alloc(16, 9) }, { type: "vendor-specific", vendorId: 9, value: Buffer.from("cafe", "hex") }, { type: "end-of-list" }] } },
      { destination: acMac, source: host, packet: { kind: "discovery", code: "PADR", sessionId: 0, tags: [{ type: "service-name", name: "internet" }, { type: "ac-cookie", value: Buffer.alloc(16, 9) }] } },
      { destination: host, source: acMac, packet: { kind: "discovery", code: "PADS", sessionId: 0, tags: [{ type: "service-name-error", message: "no such service" }] } },
      { destination: host, source: acMac, packet: { kind: "discovery", code: "PADS", sessionId: 0x1234, tags: [{ type: "service-name", name: "internet" }] } },
      { destination: host, source: acMac, packet: { kind: "discovery", code: "PADS", sessionId: 0, tags: [{ type: "ac-system-error", message: "full" }] } },
      { destination: acMac, source: host, packet: { kind: "session", sessionId: 0x1234, payload: Buffer.from("c02101010008010405d4", "hex") } },
      { destination: host, source: acMac, packet: { kind: "discovery", code: "PADT", sessionId: 0x1234, tags: [{ type: "generic-error", message: "admin down" }] } },
    ];
    const pcap = join(dir, "codec.pcap");
    writeFileSync(pcap, pcapOf(frames.map(encodePppoeFrame)));
    expect(flaggedFrames(pcap)).toBe("");
    const rows = tsharkFields(pcap, ["pppoe.code", "pppoe.session_id", "pppoed.tags.service_name", "pppoed.tags.ac_name", "pppoed.tags.host_uniq", "pppoed.tags.vendor_id", "ppp.protocol"]);
    expect(rows).toEqual([
      ["0x09", "0x0000", "internet", "", "0102", "", ""],
      ["0x07", "0x0000", "internet", AC_NAME, "", "9", ""],
      ["0x19", "0x0000", "internet", "", "", "", ""],
      ["0x65", "0x0000", "", "", "", "", ""],
      ["0x65", "0x1234", "internet", "", "", "", ""],
      ["0x65", "0x0000", "", "", "", "", ""],
      ["0x00", "0x1234", "", "", "", "", "0xc021"],
      ["0xa7", "0x1234", "", "", "", "", ""],
    ]);
  });
});

function readMacInNetns(): string {
  return execFileSync("ip", ["netns", "exec", NETNS, "cat", `/sys/class/net/${FAR}/address`], { encoding: "utf8" }).trim();
}

describe("our Host Discovery machine against rp-pppoe's pppoe-server", () => {
  it("gets a session from PADI/PADO/PADR/PADS, then takes the server's PADT", async () => {
    // pppoe-server starts a "pppd" per session: here /bin/true, which exits at once, so the server ends the
    // session with a PADT, as it does when a real pppd dies.
    const rpServer = spawn("ip", ["netns", "exec", NETNS, "pppoe-server", "-F", "-I", HOST_FAR, "-C", "rp-ac", "-L", "10.77.0.1", "-R", "10.77.0.2", "-q", "/bin/true"], {
      stdio: "ignore",
    });
    const socket = createSocket("udp4");
    let bridge: ChildProcess | undefined;
    try {
      await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
      const port = socket.address().port;
      const probe = createSocket("udp4");
      await new Promise<void>((resolve) => probe.bind(0, "127.0.0.1", resolve));
      const bridgePort = probe.address().port;
      probe.close();
      bridge = spawn("socat", [`INTERFACE:${HOST_NEAR}`, `UDP-DATAGRAM:127.0.0.1:${port},bind=127.0.0.1:${bridgePort}`], { stdio: "ignore" });
      const hostMac = readFileSync(`/sys/class/net/${HOST_NEAR}/address`, "utf8").trim();
      const client = new PppoeDiscoveryClient({ mac: hostMac, hostUniq: Buffer.from("callgate-1"), initialTimeoutMs: 500, padiAttempts: 6 });
      const hostWire: Buffer[] = [];
      const hostEvents: PppoeClientEvent[] = [];
      const timers = new Map<string, NodeJS.Timeout>();
      const apply = (actions: PppoeAction<PppoeClientEvent>[]): void => {
        for (const a of actions) {
          if (a.type === "send") {
            hostWire.push(a.bytes);
            socket.send(a.bytes, bridgePort, "127.0.0.1");
          } else if (a.type === "set-timer") {
            clearTimeout(timers.get(a.name));
            timers.set(a.name, setTimeout(() => apply(client.handle({ type: "timer", name: a.name }, Date.now())), a.delayMs));
          } else if (a.type === "cancel-timer") clearTimeout(timers.get(a.name));
          else hostEvents.push(a.event);
        }
      };
      socket.on("message", (bytes) => {
        hostWire.push(Buffer.from(bytes));
        apply(client.handle({ type: "frame", bytes }, Date.now()));
      });
      await new Promise((r) => setTimeout(r, 300)); // socat and pppoe-server open their sockets
      apply(client.handle({ type: "start" }, Date.now()));
      for (let i = 0; i < 300 && !hostEvents.some((e) => e.type === "terminated" || e.type === "failed"); i++) await new Promise((r) => setTimeout(r, 20));
      for (const t of timers.values()) clearTimeout(t);

      const serverMac = execFileSync("ip", ["netns", "exec", NETNS, "cat", `/sys/class/net/${HOST_FAR}/address`], { encoding: "utf8" }).trim();
      const meaningful = hostEvents.filter((e) => e.type !== "dropped");
      expect(meaningful).toEqual([
        { type: "offer", acMac: serverMac, acName: "rp-ac", serviceNames: [""] },
        { type: "session", sessionId: 1, acMac: serverMac, acName: "rp-ac", serviceName: "" },
        { type: "terminated", by: "access-concentrator", sessionId: 1, message: expect.stringContaining("pppd") },
      ]);
      expect(client.state).toBe("closed");
      // rp-pppoe echoed our Host-Uniq in PADO and PADS (else the machine would have dropped them).
      const hostUniqs = hostWire.map((b) => decodePppoeFrame(b).packet).flatMap((p) => (p.kind === "discovery" ? p.tags.filter((t) => t.type === "host-uniq") : []));
      expect(hostUniqs.length).toBeGreaterThanOrEqual(4);
      const pcap = join(dir, "host.pcap");
      writeFileSync(pcap, pcapOf(hostWire));
      expect(flaggedFrames(pcap)).toBe("");
    } finally {
      bridge?.kill();
      socket.close();
      rpServer.kill();
    }
  });
});
