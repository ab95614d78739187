// A real redis-server (or a Redis Cluster of several) for one test file: started on free loopback ports before its
// tests, SIGKILLed after.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";

/** A loopback TCP port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", () => resolve()));
  const p = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return p;
}

/** Registers the server's start and kill with the file's hooks; `port()` is its port once started. */
export function useRedisServer(): { port(): number } {
  let server: ChildProcess | undefined;
  let port = 0;
  beforeAll(async () => {
    ({ server, port } = await startRedisServer(undefined));
  });
  afterAll(() => {
    server?.kill("SIGKILL");
  });
  return { port: () => port };
}

/** A redis-server on a free port, in cluster mode when asked (its bus on another free port), ready to accept connections. */
async function startRedisServer(dir: string | undefined): Promise<{ server: ChildProcess; port: number }> {
  const port = await freePort();
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];
  if (dir !== undefined) args.push("--cluster-enabled", "yes", "--cluster-port", String(await freePort()), "--cluster-config-file", join(dir, `nodes-${port}.conf`), "--dir", dir);
  const server = spawn("redis-server", args, { stdio: ["ignore", "pipe", "pipe"] });
  await new Promise<void>((resolve, reject) => {
    let out = "";
    server.stdout?.on("data", (c: Buffer) => {
      out += c.toString();
      if (out.includes("Ready to accept connections")) resolve();
    });
    server.once("exit", (code) => reject(new Error(`redis-server exited (${code}): ${out}`)));
  });
  return { server, port };
}

/**
 * A Redis Cluster of `masters` redis-servers (no replicas) for one test file, made by `redis-cli --cluster create`,
 * every node reporting cluster_state:ok before the tests; SIGKILLed after. `ports()` are the masters' ports.
 */
export function useRedisCluster(masters = 3): { ports(): number[] } {
  const servers: ChildProcess[] = [];
  const ports: number[] = [];
  let dir: string | undefined;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "callgate-redis-cluster-"));
    for (let i = 0; i < masters; i++) {
      const s = await startRedisServer(dir);
      servers.push(s.server);
      ports.push(s.port);
    }
    const made = spawnSync("redis-cli", ["--cluster", "create", ...ports.map((p) => `127.0.0.1:${p}`), "--cluster-replicas", "0", "--cluster-yes"], { encoding: "utf8", timeout: 60_000 });
    if (made.status !== 0) throw new Error(`redis-cli --cluster create failed: ${made.stdout}${made.stderr}`);
    const deadline = Date.now() + 60_000;
    for (const p of ports) {
      for (;;) {
        const info = spawnSync("redis-cli", ["-p", String(p), "cluster", "info"], { encoding: "utf8" }).stdout ?? "";
        if (info.includes("cluster_state:ok")) break;
        if (Date.now() > deadline) throw new Error(`redis cluster node ${p} never reported cluster_state:ok: ${info}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }, 120_000);
  afterAll(() => {
    for (const s of servers) s.kill("SIGKILL");
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });
  return { ports: () => ports };
}
