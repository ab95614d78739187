// Soak: `callgate lab` in its own process under SIPp at a steady call rate, its RSS sampled from /proc; then idle.
// Bounds (issue 12): RSS grows < 5 % over the last 5 minutes of load, and after the idle time it has come back
// to at most 20 % above the 1-minute figure (below it is memory handed back, not held: not a failure). The last line printed is JSON; the exit code is 1 when a bound or a call failed.
//   SOAK_SECONDS (600)        load time          SOAK_IDLE_SECONDS (120)  idle time after the load
//   SOAK_RATE (20)            calls per second   SOAK_CALL_MS (1000)      how long each call lasts (SIPp -d)
//   SOAK_SAMPLE_SECONDS (5)   RSS sampling step  SOAK_FROM_SOURCE=1       run lib/cli/main.ts through tsx (no build)
//   SOAK_NODE_ARGS            extra node options of the lab process (e.g. "--max-old-space-size=96")
// Beside RSS it samples the lab's V8 heap (used, total) and external memory from its /metrics, to tell a leak
// (used heap climbing) from an allocator that keeps freed pages (RSS above a flat used heap).
// The 1-minute and 5-minute marks shrink with a short run (a fifth and a half of SOAK_SECONDS at most).
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./free-port.mjs";

const env = (name, fallback) => (process.env[name] !== undefined ? Number(process.env[name]) : fallback);
const loadS = env("SOAK_SECONDS", 600);
const idleS = env("SOAK_IDLE_SECONDS", 120);
const rate = env("SOAK_RATE", 20);
const callMs = env("SOAK_CALL_MS", 1000);
const sampleS = env("SOAK_SAMPLE_SECONDS", 5);
const fromSource = process.env.SOAK_FROM_SOURCE === "1";
const oneMinuteS = Math.min(60, loadS / 5);
const windowS = Math.min(300, loadS / 2);

if (spawnSync("sh", ["-c", "command -v sipp"]).status !== 0) {
  console.error("soak: sipp (Debian sip-tester) is not installed");
  process.exit(1);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rssKiB = (pid) => Number(/VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? NaN);

const sipPort = await freePort();
const cli = fromSource ? ["--import", "tsx", "lib/cli/main.ts"] : ["dist/lib/cli/main.js"];
const nodeArgs = (process.env.SOAK_NODE_ARGS ?? "").split(/\s+/).filter(Boolean);
const lab = spawn(process.execPath, [...nodeArgs, ...cli, "lab", "--sip-port", String(sipPort), "--answer-delay", "100", "--log-level", "warn", "--metrics", "127.0.0.1:0"], {
  stdio: ["ignore", "pipe", "pipe"],
});
let labOut = "";
let labErr = "";
lab.stdout.on("data", (d) => (labOut += d.toString()));
lab.stderr.on("data", (d) => (labErr += d.toString()));
const labClosed = new Promise((resolve) => lab.on("close", (code) => resolve(code)));
const stopLab = async () => {
  if (lab.exitCode === null) lab.kill("SIGTERM");
  return labClosed;
};
process.on("SIGINT", () => {
  lab.kill("SIGKILL");
  process.exit(130);
});

const ready = Date.now() + 30_000;
while (!labOut.includes("SIGTERM stops the lab") && lab.exitCode === null && Date.now() < ready) await sleep(100);
if (!labOut.includes("SIGTERM stops the lab")) {
  console.error(`soak: the lab did not start\n${labOut}\n${labErr}`);
  await stopLab();
  process.exit(1);
}

const metricsUrl = /metrics\s+(http:\/\/\S+\/metrics)/.exec(labOut)?.[1];
const MEMORY_SERIES = { heapUsed: "callgate_nodejs_heap_size_used_bytes", heapTotal: "callgate_nodejs_heap_size_total_bytes", external: "callgate_nodejs_external_memory_bytes" };
/* global fetch -- Node 20 has it */
async function heapKiB() {
  if (!metricsUrl) return {};
  try {
    const text = await (await fetch(metricsUrl)).text();
    const out = {};
    for (const [key, name] of Object.entries(MEMORY_SERIES)) {
      const m = new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, "m").exec(text);
      if (m) out[key] = Math.round(Number(m[1]) / 1024);
    }
    return out;
  } catch {
    return {};
  }
}

const dir = mkdtempSync(join(tmpdir(), "callgate-soak-"));
const calls = Math.round(rate * loadS);
const sipp = spawn(
  "sipp",
  ["-sn", "uac", "-r", String(rate), "-m", String(calls), "-d", String(callMs), "-s", "15551234567", `127.0.0.1:${sipPort}`, "-i", "127.0.0.1", "-p", String(await freePort()),
    "-nostdin", "-trace_stat", "-fd", "5", "-timeout", String(loadS + 120)],
  { cwd: dir, stdio: ["ignore", "ignore", "pipe"] },
);
const sippClosed = new Promise((resolve) => sipp.on("close", (code) => resolve(code)));

const t0 = Date.now();
const samples = [];
const sample = async () => samples.push({ s: Math.round((Date.now() - t0) / 100) / 10, rssKiB: rssKiB(lab.pid), ...(await heapKiB()) });
let sippCode;
sippClosed.then((c) => (sippCode = c));
while (sippCode === undefined && lab.exitCode === null) {
  await sample();
  await sleep(sampleS * 1000);
}
const loadEndS = (Date.now() - t0) / 1000;
await sample();
const idleStart = Date.now();
while (Date.now() - idleStart < idleS * 1000 && lab.exitCode === null) {
  await sleep(sampleS * 1000);
  await sample();
}
const afterIdle = samples[samples.length - 1];
const labCode = await stopLab();

const nearest = (s) => samples.reduce((best, x) => (Math.abs(x.s - s) < Math.abs(best.s - s) ? x : best), samples[0]);
const oneMinute = nearest(oneMinuteS);
const windowStart = nearest(loadEndS - windowS);
const loadEnd = nearest(loadEndS);
const windowSamples = samples.filter((x) => x.s >= windowStart.s && x.s <= loadEnd.s);
const mib = (kib) => (kib === undefined || !Number.isFinite(kib) ? null : +(kib / 1024).toFixed(1));
const growth = (loadEnd.rssKiB - windowStart.rssKiB) / windowStart.rssKiB;
const idleVsOneMinute = (afterIdle.rssKiB - oneMinute.rssKiB) / oneMinute.rssKiB;

let sippStats = {};
const statFile = readdirSync(dir).find((n) => n.endsWith(".csv"));
if (statFile) {
  const lines = readFileSync(join(dir, statFile), "utf8").trim().split(/\r?\n/);
  const head = lines[0].split(";");
  const last = lines[lines.length - 1].split(";");
  head.forEach((h, i) => (sippStats[h] = last[i]));
}
const successful = Number(sippStats["SuccessfulCall(C)"] ?? 0);
const failed = Number(sippStats["FailedCall(C)"] ?? 0);
const summaryLine = labOut.split("\n").find((l) => / call\(s\) from outside/.test(l)) ?? "";

const result = {
  loadSeconds: Math.round(loadEndS),
  idleSeconds: idleS,
  rate,
  calls: { placed: calls, successful, failed, lab: summaryLine.trim() },
  rssMiB: {
    oneMinute: +(oneMinute.rssKiB / 1024).toFixed(1),
    windowStart: +(windowStart.rssKiB / 1024).toFixed(1),
    loadEnd: +(loadEnd.rssKiB / 1024).toFixed(1),
    afterIdle: +(afterIdle.rssKiB / 1024).toFixed(1),
    peak: +(Math.max(...samples.map((x) => x.rssKiB)) / 1024).toFixed(1),
  },
  heapUsedMiB: {
    oneMinute: mib(oneMinute.heapUsed),
    windowStart: mib(windowStart.heapUsed),
    loadEnd: mib(loadEnd.heapUsed),
    afterIdle: mib(afterIdle.heapUsed),
    windowMin: mib(Math.min(...windowSamples.map((x) => x.heapUsed ?? Infinity))),
    windowMax: mib(Math.max(...windowSamples.map((x) => x.heapUsed ?? 0))),
  },
  heapTotalMiB: { windowStart: mib(windowStart.heapTotal), loadEnd: mib(loadEnd.heapTotal) },
  ...(nodeArgs.length > 0 ? { nodeArgs } : {}),
  growthLastWindow: +(growth * 100).toFixed(2),
  growthWindowSeconds: windowS,
  afterIdleVsOneMinute: +(idleVsOneMinute * 100).toFixed(2),
  bounds: { growthLastWindowPercentBelow: 5, afterIdleAboveOneMinutePercentAtMost: 20 },
  labExit: labCode,
  sippExit: sippCode,
};
const problems = [];
if (growth >= 0.05) problems.push(`RSS grew ${result.growthLastWindow} % over the last ${windowS} s of load (bound 5 %)`);
if (idleVsOneMinute > 0.2) problems.push(`RSS after ${idleS} s idle is ${result.afterIdleVsOneMinute} % above the 1-minute figure (bound +20 %)`);
if (successful !== calls || failed !== 0) problems.push(`SIPp: ${successful} of ${calls} calls successful, ${failed} failed`);
if (labCode !== 0) problems.push(`the lab exited with ${labCode}: ${labErr.slice(-500)}`);
result.ok = problems.length === 0;
result.problems = problems;
for (const p of problems) console.error(`soak: ${p}`);
console.log(JSON.stringify({ samples: samples.map((x) => [x.s, x.rssKiB, x.heapUsed ?? null, x.heapTotal ?? null]) }));
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
