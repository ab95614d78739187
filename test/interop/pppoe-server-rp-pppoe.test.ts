// `callgate pppoe-server` against rp-pppoe's user-space `pppoe` client in a network namespace joined by a veth
// pair: discovery (-A and a full one), a PPP session through pppoe's stdin/stdout (HDLC-like framing) driven by
// our PPP client machine (LCP, PAP, IPCP, an IPv4 datagram reflected), PADT from either side, and tshark's
// dissection of everything that crossed the veth, field by field against our decoders.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PppLink } from "../../protocols/pppoe/index.js";
import { killStartedProcesses, spawnCli, startProcess, trackProcess, type RunningProcess } from "../support/cli-process.js";
import { HdlcPppEndpoint, TSHARK_PPPOE_FIELDS, flaggedFrames, framesOfPcap, macOf, ourPppoeFields, readyLine, run, tsharkFields, udpDatagram, vethPair } from "../support/pppoe-lab.js";

const suffix = randomBytes(3).toString("hex");
const NETNS = `cgsrv-${suffix}`;
const NEAR = `cgsa${suffix}`;
const FAR = `cgsb${suffix}`;
const AC_NAME = "callgate-isp";

let dir = "";
let server: RunningProcess | undefined;
let tshark: RunningProcess | undefined;
let serverMac = "";
const pcapFile = (): string => join(dir, "server.pcap");

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "pppoe-srv-"));
  await run("ip", ["netns", "add", NETNS]);
  await vethPair(NEAR, FAR, NETNS);
  serverMac = macOf(NEAR);
  tshark = startProcess("tshark", ["-i", NEAR, "-F", "pcap", "-w", pcapFile(), "-f", "ether proto 0x8863 or ether proto 0x8864"], "tshark");
  await tshark.waitFor("Capturing on", { ms: 30_000 });
  const config = join(dir, "server.yaml");
  writeFileSync(
    config,
    [
      `framePort: { interface: ${NEAR} }`,
      `acName: ${AC_NAME}`,
      "auth: pap",
      "users: { alice: wonderland }",
      "localAddress: 100.64.0.1",
      "pool: { first: 100.64.0.10, last: 100.64.0.20 }",
      "",
    ].join("\n"),
  );
  server = spawnCli("pppoe-server", ["--config", config, "--log-level", "debug"]);
  await server.waitFor('"ready":true', { stream: "stdout" });
  expect(readyLine(server).mac).toBe(serverMac);
});

afterAll(async () => {
  killStartedProcesses();
  await run("ip", ["link", "del", NEAR]).catch(() => undefined);
  await run("ip", ["netns", "del", NETNS]).catch(() => undefined);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** rp-pppoe's client in the namespace, PPP on its stdin/stdout in asynchronous HDLC-like framing. */
function startPppoeClient(): { child: ChildProcess; endpoint: HdlcPppEndpoint; exited: Promise<number | null> } {
  const child = spawn("ip", ["netns", "exec", NETNS, "pppoe", "-I", FAR, "-T", "60"], { stdio: ["pipe", "pipe", "pipe"] });
  trackProcess(child);
  child.stderr!.resume();
  const endpoint = new HdlcPppEndpoint(new PppLink({ role: "client", username: "alice", password: "wonderland", magic: 0x5eed0001, restartMs: 1000 }), (bytes) => {
    if (child.stdin!.writable) child.stdin!.write(bytes);
  });
  child.stdout!.on("data", (c: Buffer) => endpoint.push(c));
  child.stdin!.on("error", () => undefined);
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  return { child, endpoint, exited };
}

describe("rp-pppoe's pppoe client against callgate pppoe-server", () => {
  it("pppoe -A finds our server: AC-Name and Ethernet address", async () => {
    const { stdout } = await run("ip", ["netns", "exec", NETNS, "pppoe", "-I", FAR, "-A", "-t", "3"], { timeout: 20_000 });
    expect(stdout).toContain(`Access-Concentrator: ${AC_NAME}`);
    expect(stdout.toLowerCase()).toContain(`ac-ethernet-address: ${serverMac}`);
  });

  it("a full session through pppoe's stdin/stdout: LCP (the server's Configure-Request first), PAP, IPCP, a datagram reflected; EOF on stdin sends the PADT that ends it at the server", async () => {
    const pppoe = startPppoeClient();
    try {
      const firstFromServer: Buffer[] = [];
      const original = pppoe.endpoint.push.bind(pppoe.endpoint);
      pppoe.endpoint.push = (chunk: Buffer) => {
        if (firstFromServer.length === 0) firstFromServer.push(chunk);
        original(chunk);
      };
      pppoe.endpoint.start();
      await pppoe.endpoint.until(() => pppoe.endpoint.link.phase === "open", 30_000, "IPCP");
      expect(pppoe.endpoint.link.localAddress).toBe("100.64.0.10");
      expect(pppoe.endpoint.link.remoteAddress).toBe("100.64.0.1");
      expect(pppoe.endpoint.events.map((e) => e.type).filter((t) => t !== "dropped")).toEqual(["lcp-up", "authenticated", "ipcp-up"]);
      const sent = udpDatagram("100.64.0.10", "100.64.0.1", Buffer.from("hello through rp-pppoe"));
      pppoe.endpoint.sendIp(sent);
      await pppoe.endpoint.until(() => pppoe.endpoint.received.length > 0, 10_000, "the reflected datagram");
      expect(pppoe.endpoint.received[0]).toEqual(udpDatagram("100.64.0.1", "100.64.0.10", Buffer.from("hello through rp-pppoe")));
      await server!.waitFor('"msg":"link up"');
      // EOF on pppoe's stdin: it sends a PADT and exits; the server ends the session.
      pppoe.child.stdin!.end();
      await pppoe.exited;
      await server!.waitFor('"by":"host"');
      expect(server!.output()).toMatch(/"sessionId":1,"by":"host","reason":"padt".*"msg":"session ended"/);
    } finally {
      pppoe.endpoint.stopTimers();
      if (pppoe.child.exitCode === null) pppoe.child.kill("SIGKILL");
    }
  });

  it("a PADT from the server (it stops) ends pppoe's session: pppoe reports it and exits", async () => {
    const pppoe = startPppoeClient();
    try {
      pppoe.endpoint.start();
      await pppoe.endpoint.until(() => pppoe.endpoint.link.phase === "open", 30_000, "IPCP");
      const stoppedAt = Date.now();
      expect(await server!.stop("SIGTERM")).toBe(0);
      // pppoe logs the PADT to syslog and exits 0 at once (its own -T timeout would be 60 s).
      expect(await pppoe.exited).toBe(0);
      expect(Date.now() - stoppedAt).toBeLessThan(10_000);
    } finally {
      pppoe.endpoint.stopTimers();
      if (pppoe.child.exitCode === null) pppoe.child.kill("SIGKILL");
    }
  });

  it("tshark dissects every frame that crossed the veth (Discovery, LCP, PAP, IPCP, IPv4) without a malformed one, and its fields equal our decoders'", async () => {
    await tshark!.stop("SIGINT");
    const frames = framesOfPcap(pcapFile());
    expect(frames.length).toBeGreaterThan(20);
    expect(flaggedFrames(pcapFile())).toBe("");
    const rows = tsharkFields(pcapFile(), TSHARK_PPPOE_FIELDS);
    const ours = ourPppoeFields(frames);
    expect(rows).toEqual(ours);
    // What crossed: both Discovery exchanges, LCP, PAP, IPCP, the datagram both ways, PADT both ways.
    const seen = new Set(ours.map((r) => `${r[0]}/${r[3]}`));
    for (const kind of ["0x09/", "0x07/", "0x19/", "0x65/", "0xa7/", "0x00/0xc021", "0x00/0xc023", "0x00/0x8021", "0x00/0x0021"]) expect(seen).toContain(kind);
  });
});
