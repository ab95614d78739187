// Helpers to run SIPp (Debian sip-tester) against our proxy on loopback and read its verdict.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createSocket } from "node:dgram";
import { createConnection, createServer } from "node:net";
import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnCli } from "../support/cli-process.js";

export function sippPath(): string | undefined {
  try {
    return execFileSync("sh", ["-c", "command -v sipp"], { encoding: "utf8" }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** A loopback port free for both UDP and TCP right now. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer();
      srv.once("error", reject);
      srv.listen(0, "127.0.0.1", () => {
        const a = srv.address();
        srv.close(() => resolve(typeof a === "object" && a ? a.port : 0));
      });
    });
    const udpFree = await new Promise<boolean>((resolve) => {
      const s = createSocket("udp4");
      s.once("error", () => resolve(false));
      s.bind(port, "127.0.0.1", () => s.close(() => resolve(true)));
    });
    if (udpFree) return port;
  }
  throw new Error("no free loopback port");
}

/** Resolves once something is bound to the loopback port (UDP: our bind fails; TCP: a connect succeeds). */
export async function waitForListener(port: number, protocol: "udp" | "tcp", timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const bound =
      protocol === "udp"
        ? await new Promise<boolean>((resolve) => {
            const s = createSocket("udp4");
            s.once("error", () => resolve(true));
            s.bind(port, "127.0.0.1", () => s.close(() => resolve(false)));
          })
        : await new Promise<boolean>((resolve) => {
            const c = createConnection({ host: "127.0.0.1", port });
            c.once("connect", () => {
              c.destroy();
              resolve(true);
            });
            c.once("error", () => resolve(false));
          });
    if (bound) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listens on ${protocol} 127.0.0.1:${port} after ${timeoutMs} ms`);
}

export function workDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface SippRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function startSipp(args: string[], cwd: string): { child: ChildProcess; done: Promise<SippRun> } {
  const child = spawn("sipp", args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<SippRun>((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
  return { child, done };
}

/** Last row of a SIPp -trace_stat CSV as name → value. */
export function readSippStats(file: string): Record<string, string> {
  const lines = readFileSync(file, "utf8").trim().split(/\r?\n/);
  const head = lines[0]!.split(";");
  const last = lines[lines.length - 1]!.split(";");
  const out: Record<string, string> = {};
  head.forEach((h, i) => (out[h] = last[i] ?? ""));
  return out;
}

export interface ScreenCounts {
  unexpected: number;
  retransmissions: number;
  timeouts: number;
  deadCallMsgs: number;
  outOfCallMsgs: number;
}

/** Sums the Retrans / Timeout / Unexpected-Msg columns of the final SIPp scenario screen. */
export function readSippScreen(file: string): ScreenCounts {
  const text = readFileSync(file, "utf8");
  const counts: ScreenCounts = { unexpected: 0, retransmissions: 0, timeouts: 0, deadCallMsgs: 0, outOfCallMsgs: 0 };
  const last = text.lastIndexOf("Scenario Screen");
  const screen = last >= 0 ? text.slice(last) : text;
  for (const line of screen.split(/\r?\n/)) {
    const dead = /(\d+) dead call msg \(discarded\)\s+(\d+) out-of-call msg/.exec(line);
    if (dead) {
      counts.deadCallMsgs = Number(dead[1]);
      counts.outOfCallMsgs = Number(dead[2]);
    }
    // Message rows: "INVITE ---------->  2000  0  0" / "200 <----------  E-RTD1 2000 0 0 0"
    const row = /(?:-{4,}>|<-{4,})\s+(?:E-RTD\d\s+|B-RTD\d\s+)?(\d+)\s+(\d+)\s+(\d+)(?:\s+(\d+))?/.exec(line);
    if (row) {
      counts.retransmissions += Number(row[2]);
      counts.timeouts += Number(row[3]);
      counts.unexpected += Number(row[4] ?? 0);
    }
  }
  return counts;
}

export function findFile(dir: string, suffix: string): string {
  const f = readdirSync(dir).find((n) => n.endsWith(suffix));
  if (!f) throw new Error(`no *${suffix} in ${dir}`);
  return join(dir, f);
}

export interface CliProxy {
  child: ChildProcess;
  /** Sends SIGTERM and resolves with the transport counters the CLI prints on exit. */
  stop(): Promise<Record<string, number>>;
}

/**
 * Runs `callgate proxy ARGS` as its own process, from the TypeScript sources (tsx), so the interop tests
 * do not depend on a prior build; resolves once it reports it is listening.
 */
export async function startCliProxy(args: string[]): Promise<CliProxy> {
  const proxy = spawnCli("proxy", args);
  try {
    await proxy.waitFor("listening on", { stream: "stdout", ms: 30_000 });
  } catch (err) {
    proxy.child.kill("SIGKILL");
    throw err;
  }
  return {
    child: proxy.child,
    async stop() {
      const code = await proxy.stop();
      if (code !== 0) throw new Error(`callgate proxy exited with ${code}: ${proxy.stderr()}`);
      const line = proxy.stdout().trim().split("\n").reverse().find((l) => l.startsWith('{"stats"'));
      if (!line) throw new Error(`callgate proxy printed no stats: ${proxy.stdout()}`);
      return (JSON.parse(line) as { stats: Record<string, number> }).stats;
    },
  };
}
