// PPPoE access: frames relayed per second through `callgate pppoe-concentrator` (session-per-line mode: line
// table lookup, PPPoE encapsulation and back) to `callgate pppoe-server` over a veth pair into a network
// namespace, beside a plain Ethernet-frame echo over the same path in the same run (socat bridge, veth, socat
// bridge, a reflector that swaps the MAC addresses): the ceiling of the path without the concentrator.
// Both loads keep the same number of datagrams in flight (one per line; as many frames for the echo). The echo
// has its own veth pair so both stay set up, and they are measured in alternating windows (PPPOE_BENCH_ROUNDS),
// medians reported: on a shared machine a ratio of two runs minutes apart means little.
// Needs root (namespaces) and a build: npm run bench:pppoe   (PPPOE_BENCH_LINES, BENCH_SECONDS to size it)
// Last line: {"relayed_frames_per_s":…, "udp_echo_frames_per_s":…, "ratio":…, "ratios":[…], "lines":…, "seconds":…,
// "rounds":…, "lost_relay":…, "lost_echo":… (datagrams that never came back), "crossed":… (datagrams at the wrong line)}
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
  for (const args of [["link", "del", NEAR], ["link", "del", `${NEAR}e`], ["netns", "del", NETNS]]) {
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

/** A closed loop of `window` in flight: `send(tag)` starts one, `reply(tag)` ends it; runs while `measure` runs. */
class Loop {
  constructor(window, send) {
    this.window = window;
    this.sendOne = send;
    this.inFlight = new Map();
    this.next = 0;
    this.running = false;
    this.counted = 0;
  }
  reply(tag) {
    if (!this.inFlight.delete(tag)) return false;
    this.counted++;
    if (this.running) this.launch();
    return true;
  }
  launch() {
    const tag = this.next++;
    this.inFlight.set(tag, performance.now());
    this.sendOne(tag);
  }
  /** Round trips per second over `seconds`, after a warm-up; the loop drains before it returns. */
  async measure(seconds) {
    this.running = true;
    for (let i = this.inFlight.size; i < this.window; i++) this.launch();
    await sleep(300);
    const c0 = this.counted;
    const t0 = performance.now();
    await sleep(seconds * 1000);
    const rate = (this.counted - c0) / ((performance.now() - t0) / 1000);
    this.running = false;
    await sleep(300);
    // Still in flight after the drain: lost on the way.
    this.lost = this.inFlight.size;
    this.inFlight.clear();
    return rate;
  }
}

/** The plain path on its own veth pair: frames to a MAC-swapping reflector in the namespace. */
async function setupEcho(near, far, window) {
  const reflector = join(dir, "reflector.mjs");
  writeFileSync(
    reflector,
    `import { FramePort } from ${JSON.stringify(resolve("dist/lib/access/frame-port.js"))};
const port = await FramePort.open({ bind: { address: "127.0.0.1", port: 0 }, bridge: { address: "127.0.0.1", port: 0 }, interface: ${JSON.stringify(far)},
  onFrame: (b) => { const out = Buffer.from(b); b.copy(out, 0, 6, 12); b.copy(out, 6, 0, 6); port.send(out); } });
console.log("reflector ready");
process.on("SIGTERM", () => port.close().then(() => process.exit(0)));
`,
  );
  const proc = start("ip", ["netns", "exec", NETNS, process.execPath, reflector]);
  await waitFor(proc, "reflector ready");
  const farMac = sh("ip", ["netns", "exec", NETNS, "cat", `/sys/class/net/${far}/address`]).toString().trim();
  const nearMac = readFileSync(`/sys/class/net/${near}/address`, "utf8").trim();
  const frame = (tag) =>
    encodePppoeFrame({ destination: farMac, source: nearMac, packet: { kind: "session", sessionId: 1, payload: Buffer.concat([Buffer.from([0x00, 0x21]), datagram("10.0.0.2", "10.0.0.1", tag)]) } });
  let loop;
  const port = await FramePort.open({
    bind: { address: "127.0.0.1", port: 0 },
    bridge: { address: "127.0.0.1", port: 0 },
    interface: near,
    onFrame: (b) => {
      if (b.readUInt16BE(12) !== 0x8864 || b.subarray(0, 6).toString("hex") !== nearMac.replaceAll(":", "")) return;
      loop.reply(b.readUInt32BE(14 + 6 + 2 + 28));
    },
  });
  loop = new Loop(window, (tag) => port.send(frame(tag)));
  await sleep(200);
  return { loop, close: () => port.close().then(() => proc.child.kill("SIGTERM")) };
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

/** Lines through the concentrator to the server and back, on the main veth pair: one datagram in flight per line. */
async function setupRelay() {
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
  const crossed = { count: 0 };
  // Tag = line index in the high bits, so a datagram delivered to another line is seen as crossed.
  const loop = new Loop(LINES, (tag) => {
    const line = lines[tag % LINES];
    line.send(datagram(line.link.localAddress, "100.64.0.1", tag));
  });
  lines.forEach((line, i) => {
    line.onIp = (packet) => {
      const tag = packet.readUInt32BE(28);
      if (tag % LINES !== i) crossed.count++;
      // Each line's next datagram stays on that line: relaunch with a tag of the same line.
      if (loop.inFlight.delete(tag)) {
        loop.counted++;
        if (loop.running) {
          const next = tag + LINES;
          loop.inFlight.set(next, performance.now());
          line.send(datagram(line.link.localAddress, "100.64.0.1", next));
        }
      }
    };
  });
  loop.next = 0;
  loop.launch = function () {
    // First launches: one per line, tags 0..LINES-1.
    const tag = this.next++;
    this.inFlight.set(tag, performance.now());
    this.sendOne(tag);
  };
  const close = async () => {
    for (const l of lines) l.close();
    ac.child.kill("SIGTERM");
    server.child.kill("SIGTERM");
    await sleep(300);
  };
  return { loop, crossed, close };
}

const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
const ROUNDS = Number(process.env.PPPOE_BENCH_ROUNDS ?? 5);

try {
  sh("ip", ["netns", "add", NETNS]);
  sh("ip", ["-n", NETNS, "link", "set", "lo", "up"]);
  for (const [near, far] of [
    [NEAR, FAR],
    [`${NEAR}e`, `${FAR}e`],
  ]) {
    sh("ip", ["link", "add", near, "type", "veth", "peer", "name", far, "netns", NETNS]);
    sh("sysctl", ["-qw", `net.ipv6.conf.${near}.disable_ipv6=1`]);
    sh("ip", ["netns", "exec", NETNS, "sysctl", "-qw", `net.ipv6.conf.${far}.disable_ipv6=1`]);
    sh("ip", ["link", "set", near, "up"]);
    sh("ip", ["-n", NETNS, "link", "set", far, "up"]);
  }
  // Both set up at once, measured in alternating windows so both see the same load on this machine.
  const echo = await setupEcho(`${NEAR}e`, `${FAR}e`, LINES);
  const relay = await setupRelay();
  const rounds = [];
  for (let r = 0; r < ROUNDS; r++) {
    const e = (await echo.loop.measure(SECONDS)) * 2;
    const c = (await relay.loop.measure(SECONDS)) * 2;
    rounds.push({ relayed: Math.round(c), echo: Math.round(e), ratio: Number((c / e).toFixed(3)), lost_relay: relay.loop.lost, lost_echo: echo.loop.lost });
  }
  await relay.close();
  await echo.close();
  // Every round trip is two frames through the concentrator (line → server, server → line), two through the echo.
  const relayed = median(rounds.map((x) => x.relayed));
  const plain = median(rounds.map((x) => x.echo));
  for (const x of rounds) console.log(`round: ${x.relayed} frames relayed/s, plain echo ${x.echo} frames/s, ratio ${x.ratio}`);
  console.log(
    JSON.stringify({
      relayed_frames_per_s: relayed,
      udp_echo_frames_per_s: plain,
      ratio: median(rounds.map((x) => x.ratio)),
      ratios: rounds.map((x) => x.ratio),
      lines: LINES,
      seconds: SECONDS,
      rounds: ROUNDS,
      lost_relay: rounds.reduce((n, x) => n + x.lost_relay, 0),
      lost_echo: rounds.reduce((n, x) => n + x.lost_echo, 0),
      crossed: relay.crossed.count,
    }),
  );
} finally {
  cleanup();
}
