// `callgate lab`: SIP1, POL1, R1, CH, SIP2, POL2, R2 and an answering UAS on loopback, until SIGINT/SIGTERM,
// so SIPp or a softphone can call through SIP1. Prints the addresses, and on exit what went through.
import type { MessageRecord } from "../../drivers/message-record.js";
import { LAB_CALLER, startLab } from "../../flow/lab.js";
import { colorWanted, renderLadderText } from "../../replay/ladder-text.js";

const USAGE = `usage: callgate lab [--sip-port N] [--answer-delay MS] [--ladder] [--no-color]
  --sip-port N        UDP port of SIP1 on 127.0.0.1 (default: an ephemeral port)
  --answer-delay MS   the UAS answers (200 OK) this long after its 180 Ringing (default 500)
  --ladder            on exit, print the message ladder of every call that went through
  --no-color          no ANSI colours in the ladder`;

function intOption(args: string[], name: string, min: number, max: number): number | undefined | Error {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const text = args[i + 1] ?? "";
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) return new Error(`${name} wants an integer from ${min} to ${max}, got '${text}'`);
  return n;
}

function summary(records: readonly MessageRecord[]): string[] {
  const calls = new Map<string, string[]>();
  for (const r of records) {
    if (r.proto !== "SIP" || r.to !== LAB_CALLER) continue;
    const finals = calls.get(r.callId) ?? [];
    finals.push(r.msg);
    calls.set(r.callId, finals);
  }
  const invited = new Set(records.filter((r) => r.from === LAB_CALLER && r.msg === "INVITE").map((r) => r.callId));
  const lines = [`${invited.size} call(s) from outside, ${records.length} messages`];
  for (const callId of invited) lines.push(`  ${callId}: ${(calls.get(callId) ?? ["no response"]).join(", ")}`);
  return lines;
}

export async function run(args: string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(USAGE);
    return 0;
  }
  const withValue = new Set(["--sip-port", "--answer-delay"]);
  const flags = new Set(["--ladder", "--no-color"]);
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? "";
    if (withValue.has(a)) i++;
    else if (!flags.has(a)) {
      console.error(`callgate lab: unknown option '${a}'\n${USAGE}`);
      return 2;
    }
  }
  const sipPort = intOption(args, "--sip-port", 1, 65535);
  const answerDelayMs = intOption(args, "--answer-delay", 0, 3_600_000);
  for (const v of [sipPort, answerDelayMs]) {
    if (v instanceof Error) {
      console.error(`callgate lab: ${v.message}`);
      return 2;
    }
  }

  const lab = await startLab({
    ...(typeof sipPort === "number" ? { sipPort } : {}),
    ...(typeof answerDelayMs === "number" ? { answerDelayMs } : {}),
    onError: (where, err) => console.error(`callgate lab: ${where}: ${err instanceof Error ? err.message : String(err)}`),
  });
  const width = Math.max(...Object.keys(lab.endpoints).map((r) => r.length));
  const lines = ["callgate lab: every role on 127.0.0.1 (SIP/UDP, COPS/TCP, OSP/HTTP); calls enter at SIP1"];
  for (const [role, ep] of Object.entries(lab.endpoints)) {
    const parts = [ep.sip ? `sip ${ep.sip}` : "", ep.cops ? `cops ${ep.cops}` : "", ep.osp ? `osp ${ep.osp}` : ""].filter(Boolean);
    lines.push(`  ${role.padEnd(width)}  ${parts.join("  ") || "(COPS client only)"}`);
  }
  const sip1 = lab.endpoints.SIP1?.sip ?? "";
  lines.push(`example: sipp -sn uac -m 5 -r 5 -s 15551234567 ${sip1} -i 127.0.0.1`, "Ctrl-C (SIGINT) or SIGTERM stops the lab.");
  console.log(lines.join("\n"));

  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
  await lab.close();

  const records = lab.records;
  if (args.includes("--ladder")) {
    const color = colorWanted(process.stdout, process.env, args.includes("--no-color"));
    const outside = new Set(records.filter((r) => r.from === LAB_CALLER).map((r) => r.callId));
    console.log(renderLadderText(records.filter((r) => outside.has(r.callId)), { color }));
  }
  console.log(summary(records).join("\n"));
  return 0;
}
