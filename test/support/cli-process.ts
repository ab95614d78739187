// `callgate <command>` (or any peer program) in a child process, for interop tests: its output as it comes,
// its exit, a wait for a line it prints, and one place that kills whatever a test file left running.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";

/** The built CLI (`npm run build`), for tests that run what the package ships. */
export const BUILT_CLI = join(process.cwd(), "dist", "lib", "cli", "main.js");

export interface RunningProcess {
  readonly child: ChildProcess;
  /** stdout and stderr, interleaved as they came. */
  output(): string;
  stdout(): string;
  stderr(): string;
  /** The exit code (null when ended by a signal). */
  readonly exited: Promise<number | null>;
  /** The exit code once stdout and stderr are closed too: all output read. */
  readonly closed: Promise<number | null>;
  /**
   * Resolves once `text` has been printed `times` times (default 1); throws with the output when the process
   * exits first or `ms` (default 60 s) pass. `stream: "stdout"` looks at stdout alone.
   */
  waitFor(text: string, options?: WaitOptions): Promise<void>;
  /** Sends `signal` (default SIGTERM); resolves with the exit code once all output is read. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface WaitOptions {
  /** Names the process in the error (default: the command). */
  what?: string;
  ms?: number;
  times?: number;
  stream?: "output" | "stdout";
}

const started = new Set<ChildProcess>();

/** SIGKILLs every process this module started that is still running (for afterAll). */
export function killStartedProcesses(): void {
  for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  started.clear();
}

/** Tracks a child process started elsewhere (SIPp, openssl) so that killStartedProcesses ends it too. */
export function trackProcess(child: ChildProcess): void {
  started.add(child);
}

/** Starts `command args` in the working directory, its stdin closed. */
export function startProcess(command: string, args: string[], name = command): RunningProcess {
  const child = spawn(command, args, { cwd: process.cwd(), stdio: ["ignore", "pipe", "pipe"] });
  started.add(child);
  let out = "";
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (c: Buffer) => {
    stdout += c.toString();
    out += c.toString();
  });
  child.stderr!.on("data", (c: Buffer) => {
    stderr += c.toString();
    out += c.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const closed = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  const running: RunningProcess = {
    child,
    output: () => out,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    closed,
    async waitFor(text, { what = name, ms = 60_000, times = 1, stream = "output" } = {}) {
      const seen = stream === "stdout" ? running.stdout : running.output;
      const until = Date.now() + ms;
      while (seen().split(text).length - 1 < times) {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited (${child.exitCode ?? child.signalCode}) before '${text}': ${out}`);
        if (Date.now() > until) throw new Error(`${what}: no '${text}' within ${ms} ms: ${out}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    stop(signal = "SIGTERM") {
      child.kill(signal);
      return closed;
    },
  };
  return running;
}

/**
 * `callgate COMMAND ARGS` in its own process: from the TypeScript sources through tsx (what is checked in, no
 * build needed), or with `built` from the built CLI (BUILT_CLI).
 */
export function spawnCli(command: string, args: string[], { built = false }: { built?: boolean } = {}): RunningProcess {
  if (built) return startProcess(process.execPath, [BUILT_CLI, command, ...args], `callgate ${command}`);
  const script = `import('./lib/cli/commands/${command}.ts').then((m) => m.run(process.argv.slice(1))).then((c) => { process.exitCode = c; });`;
  return startProcess(process.execPath, ["--import", "tsx", "-e", script, "--", ...args], `callgate ${command}`);
}

/** A process's resident set size in MB (/proc/PID/status VmRSS). */
export function rssMb(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  if (kb === undefined) throw new Error(`no VmRSS for process ${pid}`);
  return Number(kb) / 1024;
}
