// Access requests per second through `callgate radius-proxy` (the built CLI, its own process) beside FreeRADIUS
// answering radclient directly, in the same run: radclient sends the same PAP Access-Requests (with
// Message-Authenticator), 256 in parallel, (1) straight to the master's FreeRADIUS, (2) through the proxy for a
// master subscriber (one upstream exchange), (3) through the proxy for a client provider's subscriber (two: the
// virtual identity at the master's server, then the subscriber at the client provider's). Every answer must be an
// Access-Accept.
// Run: npm run bench:radius-proxy   (RADIUS_PROXY_BENCH_REQUESTS, default 5,000 per leg)
// The proxy's own CPU time per request (user + system, /proc) is reported too: on a loaded machine the rates
// depend on the CPU the proxy gets, its cost per request does not.
// Then accounting (RADIUS_PROXY_BENCH_RECORDS, default 2,000 Starts, 256 in parallel): straight to the client
// provider's FreeRADIUS, then through the proxy for a client subscriber, where each record is fsynced into two
// spools (master, client provider) before the NAS's answer and reaches both servers afterwards; the NAS's rate and
// the rate at which both detail files held every record are reported.
// Last line: {"direct_per_s":…, "proxy_master_per_s":…, "proxy_client_per_s":…, "master_ratio":…, "client_ratio":…,
//             "proxy_cpu_us_master":…, "proxy_cpu_us_client":…, "requests":…, "acct_direct_per_s":…,
//             "acct_proxy_answered_per_s":…, "acct_proxy_delivered_per_s":…, "acct_answered_ratio":…,
//             "acct_delivered_ratio":…, "proxy_cpu_us_acct":…, "acct_records":…}
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freeUdpPort, startFreeradiusLab } from "../test/support/freeradius-lab.mjs";

const requests = Number(process.env.RADIUS_PROXY_BENCH_REQUESTS ?? 5000);
const acctRecords = Number(process.env.RADIUS_PROXY_BENCH_RECORDS ?? 2000);
const dir = mkdtempSync(join(tmpdir(), "radius-proxy-bench-"));
const ports = { mAuth: await freeUdpPort(), mAcct: await freeUdpPort(), cAuth: await freeUdpPort(), cAcct: await freeUdpPort(), auth: await freeUdpPort(), acct: await freeUdpPort() };

function radclient(port, secret, user, password) {
  const file = join(dir, `${user}.txt`);
  const entry = `User-Name = "${user}", User-Password = "${password}", NAS-IP-Address = 127.0.0.1, Message-Authenticator = 0x00\n`;
  writeFileSync(file, Array.from({ length: requests }, () => entry).join("\n"));
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn("radclient", ["-s", "-p", "256", "-r", "3", "-t", "3", "-f", file, `127.0.0.1:${port}`, "auth", secret], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d.toString()));
    child.on("error", reject);
    child.on("exit", () => {
      const perS = requests / ((performance.now() - t0) / 1000);
      const accepted = Number(/Accepted\s*:\s*(\d+)/.exec(out)?.[1] ?? NaN);
      if (accepted !== requests) reject(new Error(`${user}: ${accepted} of ${requests} accepted:\n${out}`));
      else {
        if (process.env.RADIUS_PROXY_BENCH_VERBOSE) console.error(out);
        resolve(perS);
      }
    });
  });
}

/** radclient sending `acctRecords` Starts of sessions PREFIX-i; resolves with records answered per second. */
function acctClient(port, secret, user, prefix) {
  const file = join(dir, `${prefix}.txt`);
  const entries = Array.from({ length: acctRecords }, (_, i) => `User-Name = "${user}", Acct-Status-Type = Start, Acct-Session-Id = "${prefix}-${i}", NAS-IP-Address = 127.0.0.1, Event-Timestamp = ${Math.floor(Date.now() / 1000)}\n`);
  writeFileSync(file, entries.join("\n"));
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn("radclient", ["-s", "-p", "256", "-r", "3", "-t", "3", "-f", file, `127.0.0.1:${port}`, "acct", secret], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d.toString()));
    child.on("error", reject);
    child.on("exit", () => {
      const seconds = (performance.now() - t0) / 1000;
      const answered = Number(/Accepted\s*:\s*(\d+)/.exec(out)?.[1] ?? NaN);
      if (answered !== acctRecords) reject(new Error(`${prefix}: ${answered} of ${acctRecords} answered:\n${out}`));
      else resolve({ perS: acctRecords / seconds, t0 });
    });
  });
}

/** Records of sessions PREFIX-… in a detail file. */
const detailCount = (file, prefix) => (existsSync(file) ? readFileSync(file, "utf8").split(`Acct-Session-Id = "${prefix}-`).length - 1 : 0);

const [master, client] = await Promise.all([
  startFreeradiusLab({ dir: mkdtempSync(join(dir, "m-")), secret: "master-secret", authPort: ports.mAuth, acctPort: ports.mAcct, users: `alice@master.example Cleartext-Password := "alice-pw"\nisp-b-virtual Cleartext-Password := "virtual-pw"\n` }),
  startFreeradiusLab({ dir: mkdtempSync(join(dir, "c-")), secret: "client-secret", authPort: ports.cAuth, acctPort: ports.cAcct, users: `bob@isp-b.example Cleartext-Password := "bob-pw"\n` }),
]);
const config = join(dir, "radius-proxy.yaml");
writeFileSync(
  config,
  `listen: { address: 127.0.0.1, authPort: ${ports.auth}, acctPort: ${ports.acct} }
nas: [{ address: 127.0.0.1, secret: nas-secret }]
journal: ${join(dir, "capacity.jsonl")}
master:
  realms: [master.example]
  radius: { address: 127.0.0.1, authPort: ${ports.mAuth}, acctPort: ${ports.mAcct}, secret: master-secret }
clients:
  - name: isp-b
    realms: [isp-b.example]
    virtualIdentity: { user: isp-b-virtual, password: virtual-pw }
    capacity: { ports: 1000000 }
    radius: { address: 127.0.0.1, authPort: ${ports.cAuth}, acctPort: ${ports.cAcct}, secret: client-secret }
`,
);
const proxy = spawn(process.execPath, ["dist/lib/cli/main.js", "radius-proxy", "--config", config, "--log-level", process.env.RADIUS_PROXY_BENCH_LOG ?? "warn"], { stdio: ["ignore", "pipe", "inherit"] });
try {
  await new Promise((resolve, reject) => {
    proxy.stdout.on("data", (d) => /listening/.test(d.toString()) && resolve());
    proxy.on("exit", (c) => reject(new Error(`radius-proxy exited ${c}`)));
  });
  // utime + stime of the proxy process, in clock ticks (fields 14 and 15 of /proc/PID/stat; 100 per second).
  const cpuTicks = () => {
    const fields = readFileSync(`/proc/${proxy.pid}/stat`, "utf8").split(") ")[1].split(" ");
    return Number(fields[11]) + Number(fields[12]);
  };
  const direct = await radclient(ports.mAuth, "master-secret", "alice@master.example", "alice-pw");
  const c0 = cpuTicks();
  const viaMaster = await radclient(ports.auth, "nas-secret", "alice@master.example", "alice-pw");
  const c1 = cpuTicks();
  const viaClient = await radclient(ports.auth, "nas-secret", "bob@isp-b.example", "bob-pw");
  const c2 = cpuTicks();
  const cpuUs = (ticks) => Math.round((ticks * 10_000) / requests);
  const r = (x) => Math.round(x);
  const acctDirect = (await acctClient(ports.cAcct, "client-secret", "bob@isp-b.example", "d")).perS;
  const c3 = cpuTicks();
  const viaProxy = await acctClient(ports.acct, "nas-secret", "bob@isp-b.example", "p");
  // Delivered: both servers hold every record the NAS was answered for.
  const deadline = Date.now() + 300_000;
  while (detailCount(master.detailFile, "p") < acctRecords || detailCount(client.detailFile, "p") < acctRecords) {
    if (Date.now() > deadline) throw new Error(`records delivered: master ${detailCount(master.detailFile, "p")}, client ${detailCount(client.detailFile, "p")} of ${acctRecords}`);
    await new Promise((res) => setTimeout(res, 20));
  }
  const delivered = acctRecords / ((performance.now() - viaProxy.t0) / 1000);
  const acctCpuUs = Math.round(((cpuTicks() - c3) * 10_000) / acctRecords);
  console.log(`FreeRADIUS direct            ${r(direct).toLocaleString("en")} access requests/s`);
  console.log(`via proxy, master realm      ${r(viaMaster).toLocaleString("en")} /s (${(viaMaster / direct).toFixed(2)}× direct)`);
  console.log(`via proxy, client realm      ${r(viaClient).toLocaleString("en")} /s (${(viaClient / direct).toFixed(2)}× direct; two upstream exchanges each)`);
  console.log(`proxy CPU per request        master realm ${cpuUs(c1 - c0)} µs, client realm ${cpuUs(c2 - c1)} µs`);
  console.log(`accounting, FreeRADIUS direct ${r(acctDirect).toLocaleString("en")} records/s`);
  console.log(`accounting via proxy         ${r(viaProxy.perS).toLocaleString("en")} /s answered (${(viaProxy.perS / acctDirect).toFixed(2)}× direct; two fsynced spools each), ${r(delivered).toLocaleString("en")} /s at both servers (${(delivered / acctDirect).toFixed(2)}×); proxy CPU ${acctCpuUs} µs per record`);
  console.log(JSON.stringify({
    direct_per_s: r(direct), proxy_master_per_s: r(viaMaster), proxy_client_per_s: r(viaClient), master_ratio: Number((viaMaster / direct).toFixed(3)), client_ratio: Number((viaClient / direct).toFixed(3)),
    proxy_cpu_us_master: cpuUs(c1 - c0), proxy_cpu_us_client: cpuUs(c2 - c1), requests,
    acct_direct_per_s: r(acctDirect), acct_proxy_answered_per_s: r(viaProxy.perS), acct_proxy_delivered_per_s: r(delivered),
    acct_answered_ratio: Number((viaProxy.perS / acctDirect).toFixed(3)), acct_delivered_ratio: Number((delivered / acctDirect).toFixed(3)), proxy_cpu_us_acct: acctCpuUs, acct_records: acctRecords,
  }));
} finally {
  proxy.kill("SIGTERM");
  await Promise.all([master.stop(), client.stop()]);
  rmSync(dir, { recursive: true, force: true });
}
