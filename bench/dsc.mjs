// Distributed session counters: authorisations per second on the local path (one DSC granting on its view,
// each grant reported in an encoded Update), on the authoritative path between two DSCs over loopback TCP and
// TLS (every session asked of the other DSC), and on Redis (RedisSessionCounter, one EVALSHA per session of
// three entities) beside redis-benchmark running the same script on the same redis-server in the same run.
// Run after `npm run build`: node bench/dsc.mjs   (DSC_BENCH_SESSIONS to size it)
// Last line: {"local_per_s":…, "remote_per_s":…, "remote_tls_per_s":…, "redis_per_s":…,
// "redis_benchmark_evalsha_per_s":…, "redis_vs_benchmark":…, "remote_vs_redis_benchmark":…}
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DscCore, DscNode } from "../dist/protocols/dsc/index.js";
import { RedisSessionCounter } from "../dist/lib/dsc/redis-counter.js";
import { freePort } from "./free-port.mjs";

const SESSIONS = Number(process.env.DSC_BENCH_SESSIONS ?? 20_000);
const IN_FLIGHT = 256;
const ENTITIES = ["user alice@example.net", "group sales", "realm example.net"];
const UNLIMITED = { global: 1e9, local: 1e9 };

function local() {
  const core = new DscCore({ id: "dsc-a", peers: ["dsc-b"], threshold: () => UNLIMITED, authority: new Map(ENTITIES.map((e) => [e, "dsc-b"])) });
  core.peerUp("dsc-b");
  // A view of each entity (as after a first answer from its authority), so that grants are local from here on.
  for (const frame of authorityBroadcasts()) core.receive("dsc-b", frame);
  const n = SESSIONS * 10;
  let granted = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    for (const a of core.authorise({ sessionId: `s${i}`, entities: ENTITIES, server: "pol-1", port: 3288 })) if (a.type === "decided" && a.granted && a.local) granted++;
  }
  const perS = n / ((performance.now() - t0) / 1000);
  if (granted !== n) throw new Error(`local path granted ${granted} of ${n}`);
  return perS;
}

function authorityBroadcasts() {
  // What dsc-b sends after answering a first Request (its Response carries the counts): a view of each entity.
  const probe = new DscCore({ id: "dsc-b", peers: ["dsc-a"], threshold: () => UNLIMITED, authority: new Map(ENTITIES.map((e) => [e, "dsc-b"])) });
  probe.peerUp("dsc-a");
  const frames = probe.receive("dsc-a", encodeRequestFrom("dsc-a")).filter((a) => a.type === "send");
  return frames.map((a) => a.frame.subarray(4));
}

function encodeRequestFrom(from) {
  const a = new DscCore({ id: from, peers: ["dsc-b"], threshold: () => UNLIMITED, authority: new Map(ENTITIES.map((e) => [e, "dsc-b"])) });
  a.peerUp("dsc-b");
  const req = a.authorise({ sessionId: "probe", entities: ENTITIES, server: "p", port: 1 }).find((x) => x.type === "send" && x.kind === "request");
  return req.frame.subarray(4);
}

async function remote(tls) {
  const pki = tls ? makePki() : undefined;
  const threshold = () => ({ global: 1e9, local: 0 });
  const authority = new Map(ENTITIES.map((e) => [e, "dsc-b"]));
  const mk = (id, port, peer, peerPort) =>
    new DscNode({
      id, threshold, authority, listen: { host: "127.0.0.1", port }, peers: [{ id: peer, host: "127.0.0.1", port: peerPort }],
      tls: pki && { key: pki[id].key, cert: pki[id].cert, ca: pki.ca }, reconnectMs: 50,
    });
  const [pa, pb] = [await freePort(), await freePort()];
  const a = mk("dsc-a", pa, "dsc-b", pb);
  const b = mk("dsc-b", pb, "dsc-a", pa);
  await a.start();
  await b.start();
  while (!a.connected("dsc-b") || !b.connected("dsc-a")) await new Promise((r) => setTimeout(r, 10));
  let next = 0;
  let granted = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (next < SESSIONS) {
      const id = `r${next++}`;
      const d = await a.authorise({ sessionId: id, entities: ENTITIES, server: "pol-1", port: 3288 });
      if (d.granted && !d.local) granted++;
      a.terminate(id);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  const perS = SESSIONS / ((performance.now() - t0) / 1000);
  await a.close();
  await b.close();
  if (pki) rmSync(pki.dir, { recursive: true, force: true });
  if (granted !== SESSIONS) throw new Error(`remote path granted ${granted} of ${SESSIONS}`);
  return perS;
}

function makePki() {
  const dir = mkdtempSync(join(tmpdir(), "dsc-bench-pki-"));
  const ossl = (args) => execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  ossl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", "/CN=bench CA"]);
  const out = { dir, ca: readFileSync(join(dir, "ca.pem"), "utf8") };
  for (const id of ["dsc-a", "dsc-b"]) {
    ossl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${id}.key`, "-out", `${id}.csr`, "-subj", `/CN=${id}`, "-addext", `subjectAltName=DNS:${id}`]);
    ossl(["x509", "-req", "-in", `${id}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${id}.pem`, "-days", "1", "-copy_extensions", "copy"]);
    out[id] = { key: readFileSync(join(dir, `${id}.key`), "utf8"), cert: readFileSync(join(dir, `${id}.pem`), "utf8") };
  }
  return out;
}

async function redis() {
  const port = await freePort();
  const server = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: ["ignore", "pipe", "inherit"] });
  try {
    await new Promise((resolve, reject) => {
      let out = "";
      server.stdout.on("data", (c) => {
        out += c;
        if (out.includes("Ready to accept connections")) resolve();
      });
      server.once("exit", (code) => reject(new Error(`redis-server exited ${code}`)));
    });
    const counter = new RedisSessionCounter({ threshold: () => UNLIMITED, redis: { host: "127.0.0.1", port } });
    let next = 0;
    let granted = 0;
    const t0 = performance.now();
    const worker = async () => {
      while (next < SESSIONS) {
        const d = await counter.authorise({ sessionId: `x${next++}`, entities: ENTITIES, server: "pol-1", port: 3288 });
        if (d.granted) granted++;
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    const perS = SESSIONS / ((performance.now() - t0) / 1000);
    if (granted !== SESSIONS) throw new Error(`redis granted ${granted} of ${SESSIONS}`);
    // redis-benchmark: the same script (loaded by the counter), the same seven keys (three entities' and the owner's
    // session record), a random session id each time.
    const keys = [...ENTITIES.flatMap((e) => counter.keysOf(e)), counter.ownerKeys().sessions];
    const scriptSha = counter.scriptSha();
    const text = execFileSync(
      "redis-benchmark",
      ["-h", "127.0.0.1", "-p", String(port), "-n", String(SESSIONS * 2), "-c", "50", "-P", "1", "-r", "100000000", "-q", "EVALSHA", scriptSha, String(keys.length), ...keys, "b:__rand_int__", "pol-1:3288", ENTITIES.join("\n"), "1000000000", "1000000000", "1000000000"],
      { encoding: "utf8" },
    );
    const m = /([\d.]+) requests per second/.exec(text);
    if (!m) throw new Error(`redis-benchmark said: ${text}`);
    await counter.close();
    return { perS, benchmark: Number(m[1]) };
  } finally {
    server.kill("SIGKILL");
  }
}

const localPerS = local();
const remotePerS = await remote(false);
const remoteTlsPerS = await remote(true);
const r = await redis();
console.log(`local (grant on the view, Update encoded)   ${Math.round(localPerS).toLocaleString("en")} authorisations/s`);
console.log(`remote over loopback TCP (${IN_FLIGHT} in flight)   ${Math.round(remotePerS).toLocaleString("en")} authorisations/s`);
console.log(`remote over loopback TLS                    ${Math.round(remoteTlsPerS).toLocaleString("en")} authorisations/s`);
console.log(`Redis (EVALSHA, 3 entities)                 ${Math.round(r.perS).toLocaleString("en")} authorisations/s`);
console.log(`redis-benchmark EVALSHA, same script        ${Math.round(r.benchmark).toLocaleString("en")} calls/s`);
console.log(
  JSON.stringify({
    local_per_s: Math.round(localPerS),
    remote_per_s: Math.round(remotePerS),
    remote_tls_per_s: Math.round(remoteTlsPerS),
    redis_per_s: Math.round(r.perS),
    redis_benchmark_evalsha_per_s: Math.round(r.benchmark),
    redis_vs_benchmark: Number((r.perS / r.benchmark).toFixed(3)),
    remote_vs_redis_benchmark: Number((remotePerS / r.benchmark).toFixed(3)),
  }),
);
