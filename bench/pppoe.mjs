// PPPoE access: frames relayed per second through `callgate pppoe-concentrator` (session-per-line mode: line
// table lookup, PPPoE encapsulation and back) to `callgate pppoe-server` over a veth pair into a network
// namespace, beside a plain Ethernet-frame echo over the same path in the same run (socat bridge, veth, socat
// bridge, a reflector that swaps the MAC addresses): the ceiling of the path without the concentrator.
// Both loads keep the same number of datagrams in flight (one per line; as many frames for the echo).
// Needs root (namespaces) and a build: npm run bench:pppoe   (PPPOE_BENCH_LINES, BENCH_SECONDS to size it)
// Last line: {"relayed_frames_per_s":…, "udp_echo_frames_per_s":…, "ratio":…, "lines":…, "seconds":…,
// "lost_relay":…, "lost_echo":… (datagrams that never came back: their line or window slot stalled), "crossed":…}
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { HdlcDeframer, PppLink, encodeHdlcFrame, encodePppoeFrame } from "../dist/protocols/pppoe/index.js";
import { FramePort } from "../dist/lib/access/frame-port.js";

const LINES = Number(process.env.PPPOE_BENCH_LINES ?? 64);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const suffix = randomBytes(3).toString("hex");
const NETNS = `cgbench-${suffix}`;
const NEAR = `cgba${suffix}`;
const FAR = `cgbb${suffix}`;
const dir = mkdtempSync(join(tmpdir(), "pppoe-bench-"));
const children = [];
const sh = (cmd, args) => execFileSync(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function start(cmd, args) {
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (c) => (out += c));
  child.stderr.on("data", (c) => (out += c));
  children.push(child);
  return { child, output: () => out };
}

async function waitFor(proc, text, ms = 30_000) {
  const end = Date.now() + ms;
  while (!proc.output().includes(text)) {
    if (Date.now() > end || proc.child.exitCode !== null) throw new Error(`no "${text}" in:\n${proc.output()}`);
    await sleep(20);
  }
}

function cleanup() {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  for (const args of [["link", "del", NEAR], ["netns", "del", NETNS]]) {
    try {
      sh("ip", args);
    } catch {
      // already gone
    }
  }
  rmSync(dir, { recursive: true, force: true });
}

/** A UDP/IPv4 datagram of 100 octets whose payload carries `tag`. */
function datagram(src, dst, tag) {
  const p = Buffer.alloc(100);
  p[0] = 0x45;
  p.writeUInt16BE(p.length, 2);
  p[8] = 64;
  p[9] = 17;
  Buffer.from(src.split(".").map(Number)).copy(p, 12);
  Buffer.from(dst.split(".").map(Number)).copy(p, 16);
  p.writeUInt32BE(tag, 28);
  return p;
}

/** The plain path: frames to a MAC-swapping reflector in the namespace, `window` in flight. */
async function measureEcho(window) {
  const reflector = join(dir, "reflector.mjs");
  writeFileSync(
    reflector,
    `import { FramePort } from ${JSON.stringify(resolve("dist/lib/access/frame-port.js"))};
const port = await FramePort.open({ bind: { address: "127.0.0.1", port: 0 }, bridge: { address: "127.0.0.1", port: 0 }, interface: ${JSON.stringify(FAR)},
  onFrame: (b) => { const out = Buffer.from(b); b.copy(out, 0, 6, 12); b.copy(out, 6, 0, 6); port.send(out); } });
console.log("reflector ready");
process.on("SIGTERM", () => port.close().then(() => process.exit(0)));
`,
  );
  const proc = start("ip", ["netns", "exec", NETNS, process.execPath, reflector]);
  await waitFor(proc, "reflector ready");
  const farMac = sh("ip", ["netns", "exec", NETNS, "cat", `/sys/class/net/${FAR}/address`]).toString().trim();
  const nearMac = readFileSync(`/sys/class/net/${NEAR}/address`, "utf8").trim();
  let received = 0;
  let counting = false;
  let counted = 0;
  /** Frames in flight → when sent; one older than a second at the end was lost on the way. */
  const sent = new Map();
  const frame = (tag) =>
    encodePppoeFrame({ destination: farMac, source: nearMac, packet: { kind: "session", sessionId: 1, payload: Buffer.concat([Buffer.from([0x00, 0x21]), datagram("10.0.0.2", "10.0.0.1", tag)]) } });
  let next = 0;
  const port = await FramePort.open({
    bind: { address: "127.0.0.1", port: 0 },
    bridge: { address: "127.0.0.1", port: 0 },
    interface: NEAR,
    onFrame: (b) => {
      if (b.readUInt16BE(12) !== 0x8864 || b.subarray(0, 6).toString("hex") !== nearMac.replaceAll(":", "")) return;
      const tag = b.readUInt32BE(14 + 6 + 2 + 28);
      if (!sent.delete(tag)) return;
      received++;
      if (counting) counted++;
        sent.set(next, performance.now());
      port.send(frame(next++));
    },
  });
  await sleep(200);
  for (let i = 0; i < window; i++) {
    sent.set(next, performance.now());
    port.send(frame(next++));
  }
  await sleep(500);
  counting = true;
  const t0 = performance.now();
  await sleep(SECONDS * 1000);
  counting = false;
  const now = performance.now();
  const elapsed = (now - t0) / 1000;
  const lost = [...sent.values()].filter((at) => now - at > 1000).length;
  await port.close();
  proc.child.kill("SIGTERM");
  return { roundTripsPerS: counted / elapsed, lost, received };
}

class Line {
  constructor(socket, username, password, magic) {
    this.socket = socket;
    this.deframer = new HdlcDeframer();
    this.timers = new Map();
    this.onIp = () => undefined;
    this.link = new PppLink({ role: "client", username, password, magic, restartMs: 1000, maxConfigure: 30 });
    socket.on("data", (c) => {
      for (const r of this.deframer.push(c)) if (r.type === "frame") this.apply(this.link.handle({ type: "frame", bytes: r.frame }));
    });
    socket.on("error", () => undefined);
  }
  apply(actions) {
    for (const a of actions) {
      if (a.type === "send") this.socket.write(encodeHdlcFrame(Buffer.concat([Buffer.from([0xff, 0x03]), a.frame])));
      else if (a.type === "set-timer") {
        clearTimeout(this.timers.get(a.name));
        this.timers.set(a.name, setTimeout(() => this.apply(this.link.handle({ type: "timer", name: a.name })), a.delayMs));
      } else if (a.type === "cancel-timer") clearTimeout(this.timers.get(a.name));
      else if (a.event.type === "ip") this.onIp(a.event.packet);
    }
  }
  send(packet) {
    this.apply([{ type: "send", frame: this.link.ipFrame(packet) }]);
  }
  close() {
    for (const t of this.timers.values()) clearTimeout(t);
    this.socket.destroy();
  }
}

/** Lines through the concentrator to the server and back: each line keeps one datagram in flight. */
async function measureConcentrator() {
  const users = Array.from({ length: LINES }, (_, i) => [`u${i}`, `p${i}`]);
  const serverConfig = join(dir, "server.yaml");
  writeFileSync(
    serverConfig,
    `framePort: { interface: ${FAR} }\nauth: pap\nusers: { ${users.map(([u, p]) => `${u}: ${p}`).join(", ")} }\nlocalAddress: 100.64.0.1\npool: { first: 100.64.0.10, last: 100.64.3.250 }\n`,
  );
  const server = start("ip", ["netns", "exec", NETNS, process.execPath, "dist/lib/cli/main.js", "pppoe-server", "--config", serverConfig, "--log-level", "warn"]);
  await waitFor(server, '"ready":true');
  const acConfig = join(dir, "ac.yaml");
  writeFileSync(acConfig, `mode: session-per-line\nframePort: { interface: ${NEAR} }\nlines: { listen: "127.0.0.1:0", maxLines: ${LINES} }\nmaxSessions: ${LINES}\n`);
  const ac = start(process.execPath, ["dist/lib/cli/main.js", "pppoe-concentrator", "--config", acConfig, "--log-level", "warn"]);
  await waitFor(ac, '"ready":true');
  const ready = JSON.parse(ac.output().split("\n").find((l) => l.startsWith('{"ready"')));
  const [host, port] = ready.lines.split(":");
  const lines = [];
  for (let i = 0; i < LINES; i++) {
    const socket = connect(Number(port), host);
    await new Promise((r) => socket.once("connect", r));
    const line = new Line(socket, users[i][0], users[i][1], 0x100 + i);
    line.apply(line.link.handle({ type: "open" }));
    lines.push(line);
  }
  const end = Date.now() + 60_000;
  while (!lines.every((l) => l.link.phase === "open")) {
    if (Date.now() > end) throw new Error(`lines not up:\n${ac.output()}\n${server.output()}`);
    await sleep(20);
  }
  let counting = false;
  let counted = 0;
  let wrong = 0;
  const lastAt = new Map();
  for (const [i, line] of lines.entries()) {
    let expected = i << 20;
    line.onIp = (packet) => {
      // A datagram that is not this line's own last one would be a crossed session.
      if (packet.readUInt32BE(28) !== expected) wrong++;
      lastAt.set(line, performance.now());
      if (counting) counted++;
      expected++;
      line.send(datagram(line.link.localAddress, "100.64.0.1", expected));
    };
    line.send(datagram(line.link.localAddress, "100.64.0.1", expected));
  }
  await sleep(500);
  counting = true;
  const t0 = performance.now();
  await sleep(SECONDS * 1000);
  counting = false;
  const now = performance.now();
  const elapsed = (now - t0) / 1000;
  const lost = lines.filter((l) => now - (lastAt.get(l) ?? 0) > 1000).length;
  for (const l of lines) l.close();
  ac.child.kill("SIGTERM");
  server.child.kill("SIGTERM");
  await sleep(300);
  return { roundTripsPerS: counted / elapsed, lost, wrong };
}

try {
  sh("ip", ["netns", "add", NETNS]);
  sh("ip", ["-n", NETNS, "link", "set", "lo", "up"]);
  sh("ip", ["link", "add", NEAR, "type", "veth", "peer", "name", FAR, "netns", NETNS]);
  sh("sysctl", ["-qw", `net.ipv6.conf.${NEAR}.disable_ipv6=1`]);
  sh("ip", ["netns", "exec", NETNS, "sysctl", "-qw", `net.ipv6.conf.${FAR}.disable_ipv6=1`]);
  sh("ip", ["link", "set", NEAR, "up"]);
  sh("ip", ["-n", NETNS, "link", "set", FAR, "up"]);
  const echo = await measureEcho(LINES);
  const relay = await measureConcentrator();
  // Every round trip is two frames through the concentrator (line → server, server → line), two through the echo.
  const relayed = Math.round(relay.roundTripsPerS * 2);
  const plain = Math.round(echo.roundTripsPerS * 2);
  console.log(`concentrator: ${relayed} frames relayed/s with ${LINES} lines; plain frame echo over the same path: ${plain} frames/s`);
  console.log(JSON.stringify({ relayed_frames_per_s: relayed, udp_echo_frames_per_s: plain, ratio: Number((relayed / plain).toFixed(3)), lines: LINES, seconds: SECONDS, lost_relay: relay.lost, lost_echo: echo.lost, crossed: relay.wrong }));
} finally {
  cleanup();
}
