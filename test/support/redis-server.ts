// A real redis-server for one test file: started on a free loopback port before its tests, SIGKILLed after.
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
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
    port = await freePort();
    server = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: ["ignore", "pipe", "pipe"] });
    await new Promise<void>((resolve, reject) => {
      let out = "";
      server?.stdout?.on("data", (c: Buffer) => {
        out += c.toString();
        if (out.includes("Ready to accept connections")) resolve();
      });
      server?.once("exit", (code) => reject(new Error(`redis-server exited (${code}): ${out}`)));
    });
  });
  afterAll(() => {
    server?.kill("SIGKILL");
  });
  return { port: () => port };
}
