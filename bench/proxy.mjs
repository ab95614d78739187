// SIPp uac → proxy → SIPp uas at rising call rates over UDP on loopback; the highest rate held for
// BENCH_HOLD_S seconds (default 10) with 0 failed calls and 0 retransmissions (UAC and UAS side), for
// callgate's proxy (from dist/, in a process of its own, kept from step to step) and for Kamailio
// (bench/kamailio/kamailio.cfg). The two climbs take turns rate by rate, so a change in the machine's load
// falls on both.
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

// `node bench/proxy.mjs --serve`: callgate's proxy alone in its process (the bench's own work stays out of its
// event loop); prints {"port":…} when listening, then takes on stdin "hop PORT" (forward to the UAS on PORT from
// now on; answers {}), "sample" (live transactions and heap after GC) and "close".
if (process.argv[2] === "--serve") {
  const { startProxyServer, nextHopHook } = await import(join(here, "..", "dist", "protocols", "sip", "index.js"));
  v8.setFlagsFromString("--expose-gc");
  const gcNow = vm.runInNewContext("gc");
  let current = nextHopHook({ protocol: "udp", host: "127.0.0.1", port: 0 });
  const hook = (ctx) => current(ctx);
  const server = await startProxyServer({ listen: [{ protocol: "udp", host: "127.0.0.1", port: 0 }], hook });
  gcNow();
  const baseline = process.memoryUsage().heapUsed;
  process.stdout.write(`${JSON.stringify({ port: server.addresses[0].port })}\n`);
  let input = "";
  process.stdin.on("data", async (d) => {
    input += d.toString();
    for (let nl = input.indexOf("\n"); nl >= 0; nl = input.indexOf("\n")) {
      const command = input.slice(0, nl).trim();
      input = input.slice(nl + 1);
      if (command.startsWith("hop ")) {
        current = nextHopHook({ protocol: "udp", host: "127.0.0.1", port: Number(command.slice(4)) });
        process.stdout.write("{}\n");
      } else if (command === "sample") {
        gcNow();
        const transactions = server.transactions.clientCount + server.transactions.serverCount;
        const heapBytes = process.memoryUsage().heapUsed - baseline;
        process.stdout.write(`${JSON.stringify({ transactions, heapBytes, bytesPerTransaction: transactions > 0 ? Math.round(heapBytes / transactions) : null })}\n`);
      } else if (command === "close") {
        await server.close();
        process.exit(0);
      }
    }
  });
}

const RATES = (process.env.BENCH_RATES ?? "100,200,400,700,1000,1400,2000,2800,4000").split(",").map(Number);
const HOLD_S = Number(process.env.BENCH_HOLD_S ?? 10);
// Kamailio UDP worker processes. With more than one, a 180 and the 200 right behind it can be relayed out
// of order by different workers, which SIPp's UAC counts as a failed call; 1 is its best setting here.
const KAMAILIO_CHILDREN = Number(process.env.KAMAILIO_CHILDREN ?? 1);

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

/** One rate step through a proxy started for it (`proxy.start(uasPort)`); returns pass/fail and counters. */
async function step(proxy, rate) {
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
    target = await proxy.start(uasPort);
  } catch (err) {
    uas.child.kill("SIGTERM");
    throw err;
  }
  const uac = run(
    "sipp",
    ["-sn", "uac", `127.0.0.1:${target.port}`, "-p", String(uacPort), "-r", String(rate), "-m", String(calls), "-l", String(Math.max(200, rate * 4)), "-recv_timeout", "40000", "-timeout", `${HOLD_S + 40}s`, ...common],
    uacDir,
  );
  // Calls stuck after a collapse must not hold the climb forever.
  const guard = setTimeout(() => uac.child.kill("SIGKILL"), (HOLD_S + 90) * 1000);
  await uac.done;
  clearTimeout(guard);
  // Right after the last call: completed transactions still wait out Timers J/K/L; measure what they retain.
  const retained = target.sample ? await target.sample() : undefined;
  await new Promise((r) => setTimeout(r, 1000)); // let the UAS write its final stats
  uas.child.kill("SIGTERM");
  await uas.done;
  await target.release();
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

/** callgate's proxy: one process (`node bench/proxy.mjs --serve`) for the whole climb, pointed at each step's UAS. */
function callgate() {
  let proc;
  const start = async () => {
    const child = spawn(process.execPath, ["--expose-gc", fileURLToPath(import.meta.url), "--serve"], { stdio: ["pipe", "pipe", "pipe"] });
    children.add(child);
    const closed = new Promise((resolve) => child.on("close", resolve));
    child.on("close", () => children.delete(child));
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d.toString()));
    const lines = [];
    const waiters = [];
    let buf = "";
    child.stdout.on("data", (d) => {
      buf += d.toString();
      for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
        const line = JSON.parse(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        const w = waiters.shift();
        if (w) w(line);
        else lines.push(line);
      }
    });
    const next = () =>
      new Promise((resolve, reject) => {
        if (lines.length > 0) resolve(lines.shift());
        else {
          waiters.push(resolve);
          void closed.then(() => reject(new Error(`proxy process ended: ${stderr.slice(-2000)}`)));
        }
      });
    const ask = (command) => {
      child.stdin.write(`${command}\n`);
      return next();
    };
    const { port } = await next();
    return { port, ask, closed };
  };
  return {
    name: "callgate",
    async start(uasPort) {
      proc ??= await start();
      await proc.ask(`hop ${uasPort}`);
      return { port: proc.port, sample: () => proc.ask("sample"), release: async () => {} };
    },
    async end() {
      if (!proc) return;
      proc.ask("close").catch(() => undefined);
      await proc.closed;
    },
  };
}

/** Kamailio for one step: its next hop is in its config, so it is started for each step once the UAS port is known. */
function kamailio() {
  need("kamailio");
  const template = readFileSync(join(here, "kamailio", "kamailio.cfg"), "utf8");
  const runDir = mkdtempSync(join(tmpdir(), "bench-kamailio-"));
  return {
    name: "kamailio",
    async start(uasPort) {
      const port = await freePort();
      const cfg = template
        .replaceAll("__LISTEN__", `udp:127.0.0.1:${port}`)
        .replaceAll("__NEXT_HOP__", `sip:127.0.0.1:${uasPort}`)
        .replaceAll("__CHILDREN__", String(KAMAILIO_CHILDREN));
      const cfgPath = join(runDir, "kamailio.cfg");
      writeFileSync(cfgPath, cfg);
      const proc = run("kamailio", ["-f", cfgPath, "-DD", "-E", "-Y", runDir, "-m", "256", "-M", "16"], runDir);
      await udpBound(port).catch(async (err) => {
        proc.child.kill("SIGTERM");
        const { stderr } = await proc.done;
        throw new Error(`${err.message}; kamailio said: ${stderr.slice(-2000)}`);
      });
      return {
        port,
        release: async () => {
          proc.child.kill("SIGTERM");
          await proc.done;
        },
      };
    },
  };
}

if (process.argv[2] !== "--serve") {
  need("sipp");
  // The climbs take turns: at each rate, each proxy still climbing runs its step; a failed step ends its climb.
  const climbs = [callgate(), kamailio()].map((proxy) => ({ proxy, cps: 0, bestStep: undefined, climbing: true }));
  for (const rate of RATES) {
    for (const c of climbs) {
      if (!c.climbing) continue;
      const r = await step(c.proxy, rate);
      console.log(`${c.proxy.name}: ${JSON.stringify(r)}`);
      if (!r.pass) c.climbing = false;
      else {
        c.cps = rate;
        c.bestStep = r;
      }
    }
    if (!climbs.some((c) => c.climbing)) break;
  }
  for (const c of climbs) await c.proxy.end?.();
  const [oursClimb, kamClimb] = climbs;
  const ratio = kamClimb.cps > 0 ? Math.round((oursClimb.cps / kamClimb.cps) * 100) / 100 : null;
  const retained = oursClimb.bestStep?.retained;
  console.log(
    JSON.stringify({
      ours_cps: oursClimb.cps,
      kamailio_cps: kamClimb.cps,
      ratio,
      kamailio_children: KAMAILIO_CHILDREN,
      hold_seconds: HOLD_S,
      transport: "udp",
      ours_live_transactions_after_best_step: retained?.transactions ?? null,
      ours_heap_bytes_per_transaction: retained?.bytesPerTransaction ?? null,
    }),
  );
}
