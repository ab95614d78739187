// Flow benchmark: complete calls (FIG. 5 setup + FIG. 6 teardown through all nine roles) per second on the
// in-memory driver, on the loopback socket driver (all roles in one process) and with each role in its own
// `callgate serve` process; memory (V8 heap + Buffers) per established call with 10,000 calls up; a CPU profile
// of where the time goes, by protocol layer and by role; and, in the same run, the machine's ceilings for the
// default configuration: signed calls/s that one core's token crypto allows (the clearinghouse signs, POL2
// validates; bare Ed25519 for reference), and calls/s that bare UDP loopback datagrams between two processes allow
// at the messages per call of an in-memory run (an upper bound: no protocol work), each rate as a share of its ceiling.
// Run after `npm run build`:
//   node --expose-gc bench/flow.mjs [--quick]
// Last line: {"inmemory_calls_per_s":…, "network_calls_per_s":…, "processes_calls_per_s":…, "bytes_per_call":…,
//   "crypto_ceiling_signed_calls_per_s":…, "socket_ceiling_calls_per_s":…, "inmemory_vs_crypto_ceiling":…,
//   "network_vs_socket_ceiling":…, …}
import { runCalls, buildTopology, resolveTopology, MemoryNetwork, CallEventBus } from "../dist/lib/index.js";
import { flowPki } from "../dist/lib/flow/flow-pki.js";
import { createOspToken, OspTokenValidator } from "../dist/protocols/osp/index.js";
import { Session } from "node:inspector/promises";
import { fork, spawn } from "node:child_process";
import { createPrivateKey, createPublicKey, randomBytes, sign, verify } from "node:crypto";
import { createSocket } from "node:dgram";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { freePort } from "./free-port.mjs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";

const quick = process.argv.includes("--quick");
const gc = globalThis.gc;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// The far side of the UDP ceiling: echoes every datagram to its sender; tells the parent its port and, on ask, its CPU time.
if (process.argv.includes("--udp-echo")) {
  const sock = createSocket("udp4");
  sock.on("message", (msg, from) => sock.send(msg, from.port, from.address));
  sock.bind(0, "127.0.0.1", () => process.send({ port: sock.address().port }));
  process.on("message", (m) => {
    if (m === "cpu") process.send({ cpu: process.cpuUsage() });
    if (m === "exit") sock.close(() => process.exit(0));
  });
  process.on("disconnect", () => process.exit(0));
  await new Promise(() => {});
}

function calls(n, { spacingMs = 1, answerDelayMs = 20, durationMs = 200 } = {}) {
  return Array.from({ length: n }, (_, i) => ({
    id: `bench-${i}@callgate.example.com`, caller: `sip:+1555${String(i).padStart(7, "0")}@example.com`, callee: "sip:+15550000001@example.com",
    startMs: 10 + i * spacingMs, answerDelayMs, durationMs, hangUp: i % 2 ? "callee" : "caller",
  }));
}

/** Wraps every node's handle() to add up wall time per role and per protocol of the event. */
function profiled(nodes, table) {
  for (const node of nodes) {
    const inner = node.handle.bind(node);
    node.handle = (ev) => {
      const key = `${node.name} ${ev.type === "deliver" ? ev.proto : ev.type}`;
      const t = process.hrtime.bigint();
      const out = inner(ev);
      const add = () => table.set(key, (table.get(key) ?? 0n) + (process.hrtime.bigint() - t));
      if (Array.isArray(out)) add();
      else out.then(add, add);
      return out;
    };
  }
}

async function memoryRate(n, topologyOptions, profile) {
  const topology = resolveTopology(topologyOptions);
  const specs = calls(n);
  const topo = buildTopology(topology, specs, [], { seed: 1 });
  if (profile) profiled(topo.nodes, profile);
  const bus = new CallEventBus();
  let ended = 0;
  let established = 0;
  bus.on("terminated", (e) => { if (e.role === "UAC") ended++; });
  bus.on("established", (e) => { if (e.role === "UAC") established++; });
  const net = new MemoryNetwork({ onEmit: (_n, e) => bus.publish(e) });
  for (const node of topo.nodes) net.add(node);
  const t0 = performance.now();
  net.start();
  while (ended < n && net.now < 600_000) await net.run({ untilMs: net.now + 1_000 });
  const ms = performance.now() - t0;
  if (established !== n) throw new Error(`memory: ${established}/${n} calls established`);
  return { callsPerS: n / (ms / 1000), ms, messagesPerCall: net.messagesMoved / n };
}

/**
 * Up to three runs of `runOnce(spacingMs)`, the best reported with its offered rate. The first offers a call
 * every `spacingMs`; far above capacity the backlog passes SIP's T1 and retransmissions eat CPU, so the next
 * runs offer 1.25× the best rate seen (1.5× the last offer when that was met).
 */
async function ramp(spacingMs, runOnce) {
  let best;
  for (let attempt = 0; attempt < 3; attempt++) {
    const run = await runOnce(spacingMs);
    if (!best || run.callsPerS > best.callsPerS) best = run;
    if (best.callsPerS <= 0) break;
    // Offer met (within the ramp/tail bias): offer more. Otherwise overloaded: offer a little above the best.
    spacingMs = 1000 / (run.callsPerS >= 0.8 * run.offeredPerS ? 1.5 * run.offeredPerS : 1.25 * best.callsPerS);
  }
  return best;
}

/**
 * Sustained complete calls per second on the loopback socket driver: complete calls divided by the time from
 * the first message of the run to the last message of a complete call (UsageConfirmation / DRQ included).
 * Ramp-up and tail count, so short runs read low, never high. Failures are calls that did not complete.
 */
async function networkRate(n, topologyOptions, { spacingMs = 2 } = {}) {
  const tokens = topologyOptions.clearinghouse === "none" ? "no clearinghouse" : topologyOptions.signedTokens === false ? "unsigned tokens" : "signed tokens";
  return ramp(spacingMs, async (spacing) => {
    const lastAt = new Map();
    let first = Infinity;
    const result = await runCalls({
      driver: "net", topology: topologyOptions, calls: calls(n, { spacingMs: spacing, answerDelayMs: 10, durationMs: 100 }), keepRecords: false,
      onRecord: (r) => {
        if (!r.callId) return;
        if (r.t < first) first = r.t;
        lastAt.set(r.callId, r.t);
      },
    });
    const complete = result.calls.filter((c) => c.established && c.endedBy !== undefined);
    const last = Math.max(0, ...complete.map((c) => lastAt.get(c.callId) ?? 0));
    const ms = last - first;
    const callsPerS = ms > 0 ? (complete.length * 1000) / ms : 0;
    const offeredPerS = 1000 / spacing;
    const setup = complete.map((c) => c.setupLatencyMs ?? 0).sort((a, b) => a - b);
    const run = { callsPerS, ms, failed: n - complete.length, offeredPerS, spacingMs: spacing, setupP50Ms: Math.round(setup[setup.length >> 1] ?? 0) };
    console.log(`loopback run, ${tokens}: ${n} calls offered at ${offeredPerS.toFixed(0)}/s, ${callsPerS.toFixed(1)} complete calls/s over ${ms} ms, ${run.failed} failed, setup p50 ${run.setupP50Ms} ms`);
    return run;
  });
}

/** CPU time (user + system, ms) a process has used so far, from /proc (Linux); undefined elsewhere. */
function cpuMsOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // clock ticks of 1/100 s (USER_HZ)
  } catch {
    return undefined;
  }
}

/**
 * Complete calls per second with every role in its own process (`callgate serve ROLE`), so the nine roles
 * share the machine's cores. The UAC places `n` calls `intervalMs` apart; the rate is complete calls divided by
 * the time from the UAC's first INVITE to its last BYE answer (the UAC's own record file, host clock).
 */
async function processesRate(n, topology, intervalMs) {
  const cli = new URL("../dist/lib/cli/main.js", import.meta.url).pathname;
  const dir = mkdtempSync(join(tmpdir(), "callgate-bench-"));
  const ports = new Set();
  while (ports.size < 7) ports.add(await freePort());
  const [uac, sip1, pol1, ch, sip2, pol2, uas] = [...ports];
  const sip = (port) => `{ udp: ${port} }`;
  const config = join(dir, "deploy.yaml");
  writeFileSync(config, [
    "name: bench", "seed: 1", `topology: ${topology}`, "roles:",
    `  UAC: { host: 127.0.0.1, sip: ${sip(uac)} }`, `  SIP1: { host: 127.0.0.1, sip: ${sip(sip1)} }`,
    `  POL1: { host: 127.0.0.1, cops: ${pol1} }`, "  R1: { host: 127.0.0.1 }", `  CH: { host: 127.0.0.1, osp: ${ch} }`,
    `  SIP2: { host: 127.0.0.1, sip: ${sip(sip2)} }`, `  POL2: { host: 127.0.0.1, cops: ${pol2} }`, "  R2: { host: 127.0.0.1 }",
    `  UAS: { host: 127.0.0.1, sip: ${sip(uas)} }`,
    `calls: { count: ${n}, intervalMs: ${intervalMs}, answerDelayMs: 10, durationMs: 100, hangUp: caller }`, "",
  ].join("\n"));
  // BENCH_NODE_ARGS: node options for the role processes (e.g. "--cpu-prof --cpu-prof-dir DIR" to profile each role).
  const nodeArgs = process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(" ") : [];
  const start = (role, extra = []) => {
    const child = spawn(process.execPath, [...nodeArgs, cli, "serve", role, "--config", config, ...extra], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (c) => (out += c));
    child.stderr.on("data", (c) => (out += c));
    const exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
    return { role, child, out: () => out, exited };
  };
  const servers = ["SIP1", "POL1", "R1", "CH", "SIP2", "POL2", "R2", "UAS"].map((r) => start(r));
  try {
    for (const s of servers) {
      const until = Date.now() + 60_000;
      while (!s.out().includes(`${s.role} ready`)) {
        if (s.child.exitCode !== null || Date.now() > until) throw new Error(`${s.role} did not start: ${s.out()}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    const record = join(dir, "UAC.jsonl");
    const before = new Map(servers.map((s) => [s.role, cpuMsOf(s.child.pid)]));
    const caller = start("UAC", ["--record", record]);
    await caller.exited;
    // Let the teardown behind the UAC (usage to the clearinghouse, DRQs) finish before reading the roles' CPU.
    await new Promise((r) => setTimeout(r, 500));
    const cpuMsPerCall = {};
    for (const s of servers) {
      const [was, now] = [before.get(s.role), cpuMsOf(s.child.pid)];
      if (was !== undefined && now !== undefined) cpuMsPerCall[s.role] = Math.round(((now - was) / n) * 100) / 100;
    }
    const summary = /(\d+) call\(s\), (\d+) answered and ended, (\d+) failed/.exec(caller.out());
    if (!summary) throw new Error(`UAC: ${caller.out()}`);
    const records = readFileSync(record, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    const ts = records.map((r) => r.t);
    const ms = Math.max(...ts) - Math.min(...ts);
    const complete = Number(summary[2]);
    return { callsPerS: ms > 0 ? (complete * 1000) / ms : 0, ms, failed: n - complete, offeredPerS: 1000 / intervalMs, cpuMsPerCall };
  } finally {
    for (const s of servers) s.child.kill("SIGTERM");
    await Promise.all(servers.map((s) => s.exited));
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Token crypto alone, one core: the clearinghouse's createOspToken with the flow's Ed25519 signer, and POL2's
 * OspTokenValidator (CA of the flow PKI, single use) on tokens signed outside its timing, distinct call ids
 * throughout (a replay is refused). Medians of `rounds` rounds of `perRound` tokens; bare node:crypto Ed25519
 * sign and verify of the same size of message for reference.
 */
function cryptoCeiling(perRound, rounds) {
  const pki = flowPki();
  const validator = new OspTokenValidator({ caCertificatesPem: [pki.caCertificatePem], allowUnsigned: false });
  const validAfter = Math.floor(Date.now() / 1000) * 1000;
  let next = 0;
  const tokenInfo = () => {
    const i = next++;
    return {
      sourceInfo: [{ type: "e164", value: `+1555${String(i % 1e7).padStart(7, "0")}` }], destinationInfo: [{ type: "e164", value: "+15550000001" }],
      destinationAlternates: [{ type: "transport", value: "[192.0.2.20]:5060" }], callId: Buffer.from(`crypto-${i}@callgate.example.com`),
      validAfter, validUntil: validAfter + 300_000, transactionId: String(i + 1), usageDetail: { service: {}, amount: 4 * 3600, increment: 1, unit: "s" },
    };
  };
  const perS = (count, t0) => count / ((performance.now() - t0) / 1000);
  const check = (token, info) => {
    const verdict = validator.validate(token, { callId: info.callId }, validAfter);
    if (!verdict.ok) throw new Error(`token refused: ${verdict.reason} ${verdict.detail}`);
  };
  const warm = tokenInfo();
  check(createOspToken(warm, pki.signer), warm); // signer prepared, signer certificate chain checked once
  const key = createPrivateKey(pki.signer.privateKeyPem);
  const publicKey = createPublicKey(key);
  const message = randomBytes(110); // about the size of the signed attributes a token's signature covers
  const signature = sign(null, message, key);
  const signs = [], validates = [], bareSigns = [], bareVerifies = [];
  for (let r = 0; r < rounds; r++) {
    const infos = Array.from({ length: perRound }, tokenInfo);
    let t0 = performance.now();
    const tokens = infos.map((info) => createOspToken(info, pki.signer));
    signs.push(perS(perRound, t0));
    t0 = performance.now();
    for (let i = 0; i < perRound; i++) check(tokens[i], infos[i]);
    validates.push(perS(perRound, t0));
    t0 = performance.now();
    for (let i = 0; i < perRound; i++) sign(null, message, key);
    bareSigns.push(perS(perRound, t0));
    t0 = performance.now();
    for (let i = 0; i < perRound; i++) if (!verify(null, message, publicKey, signature)) throw new Error("Ed25519 verify failed");
    bareVerifies.push(perS(perRound, t0));
  }
  const sign1 = median(signs), validate1 = median(validates);
  return {
    signsPerS: sign1, validatesPerS: validate1, signedCallsPerS: 1 / (1 / sign1 + 1 / validate1),
    ed25519SignsPerS: median(bareSigns), ed25519VerifiesPerS: median(bareVerifies), tokenBytes: createOspToken(tokenInfo(), pki.signer).length,
  };
}

/**
 * UDP datagrams of `bytes` octets on loopback between this process and a forked echo process, `window` in
 * flight. Each round trip moves two datagrams. Rounds end after `roundTrips` round trips or `maxMs`; medians
 * over `rounds`. CPU per datagram counts both processes (process.cpuUsage, user + system).
 */
async function udpCeiling({ bytes = 700, window = 32, roundTrips = 33_000, maxMs = 1000, rounds = 3 } = {}) {
  const child = fork(new URL(import.meta.url).pathname, ["--udp-echo"], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const fromChild = () => new Promise((resolve) => child.once("message", resolve));
  const childCpu = async () => {
    const reply = fromChild();
    child.send("cpu");
    const { cpu } = await reply;
    return cpu.user + cpu.system;
  };
  const { port } = await fromChild();
  const sock = createSocket("udp4");
  await new Promise((resolve) => sock.bind(0, "127.0.0.1", resolve));
  const payload = Buffer.alloc(bytes, 0x61);
  const runs = [];
  let lost = 0;
  try {
    for (let r = 0; r < rounds; r++) {
      const childBefore = await childCpu();
      const parentBefore = process.cpuUsage();
      const t0 = performance.now();
      const done = await new Promise((resolve) => {
        let sent = 0, received = 0, lastProgress = received;
        const send = () => { sent++; sock.send(payload, port, "127.0.0.1"); };
        const finish = () => { clearInterval(watchdog); sock.removeListener("message", onMessage); resolve(received); };
        const onMessage = () => {
          received++;
          if (received >= roundTrips || performance.now() - t0 >= maxMs) finish();
          else if (sent - received < window) send();
        };
        // A datagram lost on loopback (buffers full) would shrink the window for good: count it lost and refill.
        const watchdog = setInterval(() => {
          if (received === lastProgress) { lost += sent - received; sent = received; for (let i = 0; i < window; i++) send(); }
          if (performance.now() - t0 >= maxMs + 500) finish();
          lastProgress = received;
        }, 100);
        sock.on("message", onMessage);
        for (let i = 0; i < window; i++) send();
      });
      const ms = performance.now() - t0;
      const parent = process.cpuUsage(parentBefore);
      const childUs = (await childCpu()) - childBefore;
      const datagrams = 2 * done;
      runs.push({ perS: datagrams / (ms / 1000), parentUs: (parent.user + parent.system) / datagrams, bothUs: (parent.user + parent.system + childUs) / datagrams });
    }
  } finally {
    sock.close();
    child.send("exit");
    await new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once("exit", resolve)));
  }
  return { messagesPerS: median(runs.map((x) => x.perS)), cpuUsPerMessage: median(runs.map((x) => x.bothUs)), parentCpuUsPerMessage: median(runs.map((x) => x.parentUs)), lost };
}

/**
 * Memory per established call with `n` calls up, in the default configuration: V8 heap plus the memory of
 * Buffers (ArrayBuffer backing stores live outside the V8 heap but are held by the calls all the same).
 */
async function bytesPerCall(n, topologyOptions) {
  const measure = async (count) => {
    const topology = resolveTopology(topologyOptions);
    const specs = calls(count, { spacingMs: 1, answerDelayMs: 50, durationMs: 3_600_000 });
    const topo = buildTopology(topology, specs, [], { seed: 1 });
    let established = 0;
    const net = new MemoryNetwork({ onEmit: (_n, e) => { if (e.type === "established" && e.role === "UAC") established++; } });
    for (const node of topo.nodes) net.add(node);
    net.start();
    // Everyone answered, every transaction finished (Timer D 32 s), calls still up for the hour.
    await net.run({ untilMs: 10 + count + 60_000 });
    gc?.();
    gc?.();
    const { heapUsed, arrayBuffers } = process.memoryUsage();
    return { heapUsed, arrayBuffers, established, keep: [topo, net] };
  };
  const base = await measure(0);
  const baseline = { heapUsed: base.heapUsed, arrayBuffers: base.arrayBuffers };
  base.keep = null;
  const full = await measure(n);
  if (full.established !== n) throw new Error(`heap: ${full.established}/${n} calls up`);
  const heap = Math.round((full.heapUsed - baseline.heapUsed) / n);
  const buffers = Math.max(0, Math.round((full.arrayBuffers - baseline.arrayBuffers) / n));
  return { heap, buffers, total: heap + buffers };
}

/** Where the CPU time of a run goes, by protocol layer: self time of V8 CPU profile samples, by source file. */
const LAYERS = [
  [/\/protocols\/sip\//, "SIP codec+transactions"],
  [/\/protocols\/cops\//, "COPS codec+connections"],
  [/\/protocols\/osp\/token|node:internal\/crypto/, "OSP tokens (sign/verify)"],
  [/\/protocols\/osp\/|fast-xml-parser/, "OSP codec"],
  [/sdp-transform|\/lib\/flow\/media-flows|\/protocols\/sdp\//, "SDP"],
  [/\/lib\/roles\/(sip-proxy|user-agent|sip-transaction-layer|sip-ids)/, "roles: SIP side"],
  [/\/lib\/roles\/(policy-server|edge-router|cops-links)/, "roles: COPS side"],
  [/\/lib\/roles\/(clearinghouse|ch-node)|\/lib\/adapters\//, "roles: clearinghouse+adapters"],
  [/\/lib\/drivers\//, "memory driver"],
];
/** A frame's own layer, or undefined for runtime frames (Buffer, Map, natives) that count for their caller's layer. */
function ownLayer(url, fn) {
  if (fn === "(garbage collector)") return "GC";
  if (fn === "(program)" || fn === "(idle)" || fn === "(root)") return "other";
  for (const [re, name] of LAYERS) if (re.test(url)) return name;
  return url.startsWith("node:") || url === "" ? undefined : "other";
}
async function profileByLayer(run) {
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 200 });
  await session.post("Profiler.start");
  await run();
  const { profile } = await session.post("Profiler.stop");
  session.disconnect();
  const nodeLayer = new Map();
  const visit = (node, inherited) => {
    const layer = ownLayer(node.callFrame.url, node.callFrame.functionName) ?? inherited;
    nodeLayer.set(node.id, layer);
    for (const child of node.children ?? []) visit(byId.get(child), layer);
  };
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  visit(profile.nodes[0], "node runtime");
  const byLayer = new Map();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0;
    const layer = nodeLayer.get(profile.samples[i]);
    if (layer === undefined) continue;
    byLayer.set(layer, (byLayer.get(layer) ?? 0) + dt);
    total += dt;
  }
  return [...byLayer.entries()].map(([layer, us]) => ({ layer, share: us / total })).sort((a, b) => b.share - a.share);
}

const processesTopology = "{ clearinghouse: osp-http, signedTokens: true, sipTransport: udp }";
if (process.argv.includes("--processes-only")) {
  const n = Number(process.env.BENCH_CALLS ?? 1000);
  const r = await processesRate(n, processesTopology, Number(process.env.BENCH_INTERVAL_MS ?? 2));
  console.log(JSON.stringify({ processes_calls_per_s: Math.round(r.callsPerS), ...r }));
  process.exit(0);
}
flowPki(); // the clearinghouse's signing key and CA, made once per process, outside the timings
const defaultTopology = { clearinghouse: "osp-http", signedTokens: true, clearinghouseTimeoutMs: 60_000 };
const n = quick ? 200 : 2000;
// Warm-up: V8 compiles the hot paths of all three protocols in its first thousands of calls (TurboFan jobs on
// the platform threads took more CPU than the calls themselves in a cold 600-call run); the rates are steady-state.
for (let i = 0; i < 2; i++) await memoryRate(n, defaultTopology);
const memRuns = [];
let messagesPerCall = 0;
for (let i = 0; i < 3; i++) {
  const run = await memoryRate(n, defaultTopology);
  memRuns.push(run.callsPerS);
  messagesPerCall = run.messagesPerCall;
}
const mem = { callsPerS: median(memRuns) };
// Ceilings next to the rates they bound, the same minute, the same load from other work.
const crypto = cryptoCeiling(quick ? 1000 : 4000, quick ? 3 : 5);
const memUnsigned = await memoryRate(n, { clearinghouse: "osp-http", signedTokens: false, clearinghouseTimeoutMs: 60_000 });
const memNoCh = await memoryRate(n, { clearinghouse: "none" });
// Profiles run apart from the timed runs (sampling costs time): by protocol layer, and by role and event.
const profile = new Map();
const layers = await profileByLayer(() => memoryRate(n, defaultTopology, profile));
const udp = await udpCeiling(quick ? { maxMs: 400 } : {});
const socketCeiling = udp.messagesPerS / messagesPerCall;
// The same datagrams if every core did nothing else: CPU per datagram (both sides) against all cores.
const socketCpuCeiling = (availableParallelism() * 1e6) / udp.cpuUsPerMessage / messagesPerCall;
// Warm-up of the socket path (node:dgram, net, http and our drivers), not timed.
await runCalls({ driver: "net", topology: defaultTopology, calls: calls(quick ? 150 : 600, { spacingMs: 5, answerDelayMs: 10, durationMs: 100 }), keepRecords: false });
const netCalls = quick ? 300 : 2000;
const netDefault = await networkRate(netCalls, defaultTopology, { spacingMs: 4 });
const processesCalls = quick ? 150 : 600;
const processes = await ramp(4, async (spacing) => {
  const run = await processesRate(processesCalls, processesTopology, spacing);
  console.log(`processes run, signed tokens: ${processesCalls} calls offered at ${run.offeredPerS.toFixed(0)}/s, ${run.callsPerS.toFixed(1)} complete calls/s over ${run.ms.toFixed(0)} ms, ${run.failed} failed`);
  return run;
});
const netUnsigned = await networkRate(netCalls, { clearinghouse: "osp-http", signedTokens: false, clearinghouseTimeoutMs: 60_000 }, { spacingMs: 3 });
const bytes = await bytesPerCall(quick ? 1000 : 10_000, defaultTopology);

console.log(`CPU profile of ${n} in-memory calls, default configuration, self time by protocol layer (runtime frames count for their caller):`);
for (const { layer, share } of layers) console.log(`  ${layer.padEnd(32)} ${(share * 100).toFixed(1).padStart(5)} %`);
const total = [...profile.values()].reduce((a, b) => a + b, 0n);
const rows = [...profile.entries()].sort((a, b) => (b[1] > a[1] ? 1 : -1)).slice(0, 14);
console.log(`the same run by role, time inside each role's handle() by the protocol of the event:`);
for (const [key, ns] of rows) console.log(`  ${key.padEnd(16)} ${(Number(ns) / 1e6).toFixed(1).padStart(9)} ms  ${((Number(ns) * 100) / Number(total)).toFixed(1).padStart(5)} %`);
console.log(`in memory: ${mem.callsPerS.toFixed(0)} calls/s signed tokens (median of ${memRuns.map((r) => r.toFixed(0)).join(", ")}), ${memUnsigned.callsPerS.toFixed(0)} unsigned, ${memNoCh.callsPerS.toFixed(0)} without clearinghouse`);
console.log(`loopback:  ${netDefault.callsPerS.toFixed(1)} calls/s signed tokens (${netDefault.failed} failed), ${netUnsigned.callsPerS.toFixed(0)} unsigned (${netUnsigned.failed} failed)`);
console.log(`processes: ${processes.callsPerS.toFixed(1)} calls/s signed tokens, each role its own process (best of the ramp, offered ${processes.offeredPerS.toFixed(0)}/s, ${processes.failed} failed)`);
console.log(`  CPU per call by role in that run (ms): ${Object.entries(processes.cpuMsPerCall).map(([r, ms]) => `${r} ${ms}`).join(", ")} (+ the UAC)`);
console.log(`memory per established call (all roles, default configuration): ${bytes.total} bytes = ${bytes.heap} V8 heap + ${bytes.buffers} Buffer memory`);
const ratio = (rate, ceiling) => Math.round((rate / ceiling) * 100) / 100;
console.log(`ceilings (this machine, this minute, other work running; medians of a few rounds):`);
console.log(`  token crypto, one core: ${crypto.signsPerS.toFixed(0)} signs/s (clearinghouse) and ${crypto.validatesPerS.toFixed(0)} validations/s (POL2), ${crypto.tokenBytes}-byte tokens` +
  ` → ${crypto.signedCallsPerS.toFixed(0)} signed calls/s; in memory runs at ${ratio(mem.callsPerS, crypto.signedCallsPerS)} of it`);
console.log(`  bare Ed25519 (node:crypto): ${crypto.ed25519SignsPerS.toFixed(0)} signs/s, ${crypto.ed25519VerifiesPerS.toFixed(0)} verifies/s`);
console.log(`  UDP loopback, two processes, 700-byte datagrams, 32 in flight: ${udp.messagesPerS.toFixed(0)} datagrams/s, ${udp.cpuUsPerMessage.toFixed(1)} µs CPU each` +
  ` (both sides; ${udp.parentCpuUsPerMessage.toFixed(1)} µs this side), ${((udp.messagesPerS * udp.cpuUsPerMessage) / 1e6).toFixed(2)} cores busy${udp.lost ? `, ${udp.lost} lost` : ""}`);
console.log(`  ${messagesPerCall.toFixed(1)} messages per call (in memory, default configuration) → socket ceiling ${socketCeiling.toFixed(0)} calls/s, an upper bound` +
  ` (datagrams only, no protocol work); loopback runs at ${ratio(netDefault.callsPerS, socketCeiling)} of it, processes at ${ratio(processes.callsPerS, socketCeiling)};` +
  ` ${socketCpuCeiling.toFixed(0)} calls/s if all ${availableParallelism()} cores moved datagrams at that CPU cost`);
console.log(JSON.stringify({
  inmemory_calls_per_s: Math.round(mem.callsPerS),
  network_calls_per_s: Math.round(netDefault.callsPerS * 10) / 10,
  bytes_per_call: bytes.total,
  heap_bytes_per_call: bytes.heap,
  buffer_bytes_per_call: bytes.buffers,
  inmemory_calls_per_s_unsigned_tokens: Math.round(memUnsigned.callsPerS),
  inmemory_calls_per_s_no_clearinghouse: Math.round(memNoCh.callsPerS),
  network_calls_per_s_unsigned_tokens: Math.round(netUnsigned.callsPerS),
  profile_share_by_layer: Object.fromEntries(layers.map(({ layer, share }) => [layer, Math.round(share * 1000) / 1000])),
  processes_calls_per_s: Math.round(processes.callsPerS * 10) / 10,
  processes_cpu_ms_per_call_by_role: processes.cpuMsPerCall,
  processes_offered_per_s: Math.round(processes.offeredPerS),
  processes_failed: processes.failed,
  crypto_ceiling_signed_calls_per_s: Math.round(crypto.signedCallsPerS),
  token_signs_per_s: Math.round(crypto.signsPerS),
  token_validations_per_s: Math.round(crypto.validatesPerS),
  ed25519_sign_per_s: Math.round(crypto.ed25519SignsPerS),
  ed25519_verify_per_s: Math.round(crypto.ed25519VerifiesPerS),
  udp_messages_per_s: Math.round(udp.messagesPerS),
  udp_cpu_us_per_message: Math.round(udp.cpuUsPerMessage * 10) / 10,
  messages_per_call: Math.round(messagesPerCall * 10) / 10,
  socket_ceiling_calls_per_s: Math.round(socketCeiling),
  socket_cpu_ceiling_calls_per_s: Math.round(socketCpuCeiling),
  inmemory_vs_crypto_ceiling: ratio(mem.callsPerS, crypto.signedCallsPerS),
  network_vs_socket_ceiling: ratio(netDefault.callsPerS, socketCeiling),
}));
