// SIPp uac → proxy → SIPp uas at rising call rates over UDP on loopback; the highest rate held for
// BENCH_HOLD_S seconds (default 10) with 0 failed calls and 0 retransmissions (UAC and UAS side), for
// callgate's proxy (in this process, from dist/) and for Kamailio (bench/kamailio/kamailio.cfg).
// Run: npm run build && node bench/proxy.mjs. Last line: {"ours_cps":…,"kamailio_cps":…,"ratio":…,...}
import { spawn, execFileSync } from "node:child_process";
import { createSocket } from "node:dgram";
import { freePort } from "./free-port.mjs";
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import v8 from "node:v8";
import vm from "node:vm";

const here = dirname(fileURLToPath(import.meta.url));
const { startProxyServer, nextHopHook } = await import(join(here, "..", "dist", "protocols", "sip", "index.js"));

const RATES = (process.env.BENCH_RATES ?? "100,200,400,700,1000,1400,2000,2800,4000").split(",").map(Number);
const HOLD_S = Number(process.env.BENCH_HOLD_S ?? 10);
// Kamailio UDP worker processes. With more than one, a 180 and the 200 right behind it can be relayed out
// of order by different workers, which SIPp's UAC counts as a failed call; 1 is its best setting here.
const KAMAILIO_CHILDREN = Number(process.env.KAMAILIO_CHILDREN ?? 1);

v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc");

function need(cmd) {
  try {
    return execFileSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" }).trim();
  } catch {
    throw new Error(`${cmd} is not installed`);
  }
}

async function udpBound(port, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const bound = await new Promise((resolve) => {
      const s = createSocket("udp4");
      s.once("error", () => resolve(true));
      s.bind(port, "127.0.0.1", () => s.close(() => resolve(false)));
    });
    if (bound) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing bound udp 127.0.0.1:${port}`);
}

const children = new Set();
process.on("exit", () => {
  for (const c of children) c.kill("SIGKILL");
});

function run(cmd, args, cwd) {
  const child = spawn(cmd, args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
  children.add(child);
  child.on("close", () => children.delete(child));
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d.toString()));
  const done = new Promise((resolve) => child.on("close", (code) => resolve({ code, stderr })));
  return { child, done };
}

function lastStats(dir) {
  const f = readdirSync(dir).find((n) => n.endsWith(".csv"));
  if (!f) return {};
  const lines = readFileSync(join(dir, f), "utf8").trim().split(/\r?\n/);
  const head = lines[0].split(";");
  const last = lines[lines.length - 1].split(";");
  return Object.fromEntries(head.map((h, i) => [h, last[i]]));
}

/** One rate step through the proxy listening on proxyPort; returns pass/fail and counters. */
async function step(proxyPort, rate, sample) {
  const uasPort = await freePort();
  const uacPort = await freePort();
  const uasDir = mkdtempSync(join(tmpdir(), "bench-uas-"));
  const uacDir = mkdtempSync(join(tmpdir(), "bench-uac-"));
  const calls = rate * HOLD_S;
  const common = ["-i", "127.0.0.1", "-nostdin", "-trace_stat", "-fd", "1"];
  const uas = run("sipp", ["-sn", "uas", "-p", String(uasPort), ...common], uasDir);
  let target;
  try {
    await udpBound(uasPort);
    target = await proxyTarget(uasPort);
  } catch (err) {
    uas.child.kill("SIGTERM");
    throw err;
  }
  const uac = run(
    "sipp",
    ["-sn", "uac", `127.0.0.1:${proxyPort}`, "-p", String(uacPort), "-r", String(rate), "-m", String(calls), "-l", String(Math.max(200, rate * 4)), "-recv_timeout", "40000", "-timeout", `${HOLD_S + 40}s`, ...common],
    uacDir,
  );
  // Calls stuck after a collapse must not hold the climb forever.
  const guard = setTimeout(() => uac.child.kill("SIGKILL"), (HOLD_S + 90) * 1000);
  await uac.done;
  clearTimeout(guard);
  // Right after the last call: completed transactions still wait out Timers J/K/L; measure what they retain.
  const retained = sample ? sample() : undefined;
  await new Promise((r) => setTimeout(r, 1000)); // let the UAS write its final stats
  uas.child.kill("SIGTERM");
  await uas.done;
  target.release();
  const c = lastStats(uacDir);
  const s = lastStats(uasDir);
  const result = {
    rate,
    successful: Number(c["SuccessfulCall(C)"] ?? 0),
    failed: Number(c["FailedCall(C)"] ?? 0),
    uacRetrans: Number(c["Retransmissions(C)"] ?? 0),
    uasRetrans: Number(s["Retransmissions(C)"] ?? 0),
  };
  result.pass = result.successful === calls && result.failed === 0 && result.uacRetrans === 0 && result.uasRetrans === 0;
  if (retained) result.retained = retained;
  return result;
}

// The proxy under test forwards to whatever `proxyTarget` points at for the current step.
let proxyTarget = async () => ({ release() {} });

async function climb(name, proxyPort, sample) {
  let best = 0;
  let bestStep;
  for (const rate of RATES) {
    const r = await step(proxyPort, rate, sample);
    console.log(`${name}: ${JSON.stringify(r)}`);
    if (!r.pass) break;
    best = rate;
    bestStep = r;
  }
  return { cps: best, bestStep };
}

async function benchOurs() {
  let nextHopPort = 0;
  // The hook reads the current UAS port at call time.
  const hook = (ctx) => nextHopHook({ protocol: "udp", host: "127.0.0.1", port: nextHopPort })(ctx);
  const server = await startProxyServer({ listen: [{ protocol: "udp", host: "127.0.0.1", port: 0 }], hook });
  const port = server.addresses[0].port;
  proxyTarget = async (uasPort) => {
    nextHopPort = uasPort;
    return { release() {} };
  };
  gc();
  const baseline = process.memoryUsage().heapUsed;
  const sample = () => {
    gc();
    const transactions = server.transactions.clientCount + server.transactions.serverCount;
    const heapBytes = process.memoryUsage().heapUsed - baseline;
    return { transactions, heapBytes, bytesPerTransaction: transactions > 0 ? Math.round(heapBytes / transactions) : null };
  };
  const { cps, bestStep } = await climb("callgate", port, sample);
  await server.close();
  return { cps, retained: bestStep?.retained };
}

async function benchKamailio() {
  need("kamailio");
  const port = await freePort();
  const template = readFileSync(join(here, "kamailio", "kamailio.cfg"), "utf8");
  const runDir = mkdtempSync(join(tmpdir(), "bench-kamailio-"));
  let proc;
  const start = async (uasPort) => {
    const cfg = template
      .replaceAll("__LISTEN__", `udp:127.0.0.1:${port}`)
      .replaceAll("__NEXT_HOP__", `sip:127.0.0.1:${uasPort}`)
      .replaceAll("__CHILDREN__", String(KAMAILIO_CHILDREN));
    const cfgPath = join(runDir, "kamailio.cfg");
    writeFileSync(cfgPath, cfg);
    proc = run("kamailio", ["-f", cfgPath, "-DD", "-E", "-Y", runDir, "-m", "256", "-M", "16"], runDir);
    const started = proc;
    await udpBound(port).catch(async (err) => {
      started.child.kill("SIGTERM");
      const { stderr } = await started.done;
      throw new Error(`${err.message}; kamailio said: ${stderr.slice(-2000)}`);
    });
    return {
      async release() {},
    };
  };
  // Kamailio's next hop is in its config, so it is restarted for each step (after the UAS port is known).
  proxyTarget = async (uasPort) => {
    const handle = await start(uasPort);
    return {
      release: () => {
        proc.child.kill("SIGTERM");
        void handle.release();
      },
    };
  };
  const { cps } = await climb("kamailio", port);
  if (proc) await proc.done;
  return { cps };
}

need("sipp");
const ours = await benchOurs();
const kam = await benchKamailio();
const ratio = kam.cps > 0 ? Math.round((ours.cps / kam.cps) * 100) / 100 : null;
console.log(
  JSON.stringify({
    ours_cps: ours.cps,
    kamailio_cps: kam.cps,
    ratio,
    kamailio_children: KAMAILIO_CHILDREN,
    hold_seconds: HOLD_S,
    transport: "udp",
    ours_live_transactions_after_best_step: ours.retained?.transactions ?? null,
    ours_heap_bytes_per_transaction: ours.retained?.bytesPerTransaction ?? null,
  }),
);
