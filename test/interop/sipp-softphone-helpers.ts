// SIPp playing a softphone (scenarios in test/interop/sipp/) against our user agent, with tshark capturing the
// SIP on loopback: every message must dissect cleanly and every SDP line must be well-formed.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { findFile, readSippStats, startSipp, workDir } from "./sip-sipp-helpers.js";

export const SCENARIO_DIR = join(fileURLToPath(new URL(".", import.meta.url)), "sipp");

export interface ScenarioRun {
  code: number | null;
  successful: number;
  failed: number;
  stdout: string;
  errors: string;
}

/** Run one scenario file once (one call) from a fresh SIPp on `localPort` to `target` ("127.0.0.1:port"). */
export async function runScenario(file: string, target: string, localPort: number, callIdPrefix: string): Promise<ScenarioRun> {
  const dir = workDir("callgate-softphone-");
  const sipp = startSipp(
    ["-sf", join(SCENARIO_DIR, file), "-m", "1", "-i", "127.0.0.1", "-p", String(localPort), "-cid_str", `${callIdPrefix}-%u-%p@%s`, "-nostdin", "-timeout", "25", "-trace_stat", "-trace_err", "-fd", "1", target],
    dir,
  );
  const run = await sipp.done;
  const stats = readSippStats(findFile(dir, ".csv"));
  let errors = "";
  try {
    errors = spawnSync("sh", ["-c", `cat ${dir}/*_errors.log 2>/dev/null`], { encoding: "utf8" }).stdout;
  } catch {
    errors = "";
  }
  return { code: run.code, successful: Number(stats["SuccessfulCall(C)"]), failed: Number(stats["FailedCall(C)"]), stdout: run.stdout, errors };
}

export interface Capture {
  child: ChildProcess;
  file: string;
  stop(): Promise<void>;
}

/** tshark on lo for the given UDP ports, started and capturing before this resolves. */
export async function startCapture(ports: number[]): Promise<Capture> {
  const file = join(workDir("callgate-softphone-pcap-"), "sip.pcap");
  const child = spawn("tshark", ["-i", "lo", "-f", ports.map((p) => `udp port ${p}`).join(" or "), "-w", file, "-q"], { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const until = Date.now() + 15_000;
  while (!/Capturing on/.test(err)) {
    if (child.exitCode !== null || Date.now() > until) throw new Error(`tshark did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    child,
    file,
    stop: async () => {
      if (child.exitCode !== null) return;
      await new Promise((r) => setTimeout(r, 300));
      child.kill("SIGINT");
      await new Promise((r) => child.once("exit", r));
    },
  };
}

export interface Dissected {
  /** "method" or "status" per SIP message, in capture order, with its Call-ID and CSeq method. */
  messages: Array<{ label: string; callId: string; cseqMethod: string; sdp: boolean }>;
  /** Frames tshark marks malformed or with an expert warning or error. */
  flagged: string[];
}

/** Read a capture with tshark, decoding `sipPorts` as SIP. */
export function dissect(file: string, sipPorts: number[]): Dissected {
  const decode = sipPorts.flatMap((p) => ["-d", `udp.port==${p},sip`]);
  const fields = spawnSync("tshark", ["-r", file, ...decode, "-Y", "sip", "-T", "fields", "-E", "separator=|", "-e", "sip.Method", "-e", "sip.Status-Code", "-e", "sip.Call-ID", "-e", "sip.CSeq.method", "-e", "sdp.version"], { encoding: "utf8" });
  if (fields.status !== 0) throw new Error(`tshark -r: ${fields.stderr}`);
  const messages = fields.stdout.trim().split("\n").filter(Boolean).map((line) => {
    const [method, status, callId, cseqMethod, sdp] = line.split("|");
    return { label: method || status || "?", callId: callId ?? "", cseqMethod: cseqMethod ?? "", sdp: (sdp ?? "") !== "" };
  });
  // Malformed packets and expert notes of warning or error severity (an SDP line tshark cannot read is one).
  const bad = spawnSync("tshark", ["-r", file, ...decode, "-Y", "_ws.malformed || _ws.expert.severity >= warning", "-T", "fields", "-e", "frame.number", "-e", "_ws.expert.message"], { encoding: "utf8" });
  if (bad.status !== 0) throw new Error(`tshark -r: ${bad.stderr}`);
  return { messages, flagged: bad.stdout.trim().split("\n").filter(Boolean) };
}
