// `callgate demo`: one call replayed through FIG. 5 (setup) and FIG. 6 (teardown) with every role embedded
// in this process on loopback sockets (SIP/UDP, COPS/TCP, OSP/HTTP). Prints the ladder and a summary, checks
// both halves against the reference flows, and writes out/ladder.html, out/call.pcap, out/ladder.jsonl.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { MessageRecord } from "../../drivers/message-record.js";
import { runCalls, type RunResult, type TopologyOptions } from "../../flow/run-calls.js";
import { matchFlow } from "../../replay/flow-match.js";
import { renderLadderHtml } from "../../replay/html-ladder.js";
import { toJsonLines } from "../../replay/ladder-json.js";
import { legendLines } from "../../replay/legend.js";
import { colorWanted, renderLadderText } from "../../replay/ladder-text.js";
import { writePcap } from "../../replay/pcap-writer.js";
import { mirrorRole } from "../../replay/roles.js";

const USAGE = `usage: callgate demo [--memory] [--no-clearinghouse] [--tcp] [--callee-hangs-up] [--all] [--out DIR] [--no-color] [--no-legend]
  --memory            in-memory driver with a virtual clock instead of loopback sockets
  --no-clearinghouse  the policy servers decide alone (no OSP on the wire)
  --tcp               SIP over TCP instead of UDP
  --callee-hangs-up   the callee sends the BYE (FIG. 6 mirrored)
  --all               also show connection messages (COPS OPN/CAT/KA, the routers' configuration)
  --out DIR           where ladder.html, call.pcap and ladder.jsonl go (default: out)
  --no-color          no ANSI colours in the ladder
  --no-legend         do not print what the roles and message labels mean`;

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

export async function run(args: string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(USAGE);
    return 0;
  }
  const known = new Set(["--memory", "--no-clearinghouse", "--tcp", "--callee-hangs-up", "--all", "--out", "--no-color", "--no-legend"]);
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? "";
    if (!known.has(a)) {
      console.error(`callgate demo: unknown option '${a}'\n${USAGE}`);
      return 2;
    }
    if (a === "--out") {
      if (args[i + 1] === undefined || args[i + 1]!.startsWith("-")) {
        console.error(`callgate demo: --out wants a directory\n${USAGE}`);
        return 2;
      }
      i++;
    }
  }
  const noClearinghouse = args.includes("--no-clearinghouse");
  const driver = args.includes("--memory") ? "memory" : "net";
  const topology: Partial<TopologyOptions> = { clearinghouse: noClearinghouse ? "none" : "osp-http", sipTransport: args.includes("--tcp") ? "tcp" : "udp" };
  const callee = args.includes("--callee-hangs-up");
  const outDir = option(args, "--out") ?? "out";

  const started = performance.now();
  const result: RunResult = await runCalls({
    driver,
    topology,
    calls: [{ id: "fig5-fig6@callgate.example.com", caller: "sip:alice@example.com", callee: "sip:bob@example.com", startMs: 100, answerDelayMs: 1000, durationMs: 2000, hangUp: callee ? "callee" : "caller" }],
  });
  const wallMs = performance.now() - started;
  const call = result.calls[0];
  const callId = call?.callId ?? "";
  const shown: MessageRecord[] = args.includes("--all") ? result.records : result.records.filter((r) => r.callId === callId);

  const color = colorWanted(process.stdout, process.env, args.includes("--no-color"));
  console.log(renderLadderText(shown, { color }));
  if (!args.includes("--no-legend")) console.log(`${legendLines(shown).join("\n")}\n`);

  const mine = result.records.filter((r) => r.callId === callId);
  const bye = mine.findIndex((r) => r.proto === "SIP" && r.msg === "BYE");
  const setup = bye < 0 ? mine : mine.slice(0, bye);
  const teardown = bye < 0 ? [] : mine.slice(bye);
  const mirror = (r: MessageRecord): MessageRecord => ({ ...r, from: mirrorRole(r.from), to: mirrorRole(r.to) });
  const setupMatch = matchFlow(setup, "setup", { noClearinghouse });
  const teardownMatch = matchFlow(callee ? teardown.map(mirror) : teardown, "teardown", { noClearinghouse });

  const lines = [
    `driver: ${driver === "net" ? `loopback sockets (SIP/${topology.sipTransport?.toUpperCase()}, COPS/TCP${noClearinghouse ? "" : ", OSP/HTTP"})` : "in-memory, virtual clock"}`,
    `call: ${callId} ${call?.established ? "established" : "not established"}, final status at caller ${call?.finalStatusAtCaller ?? "none"}, setup ${call?.setupLatencyMs ?? "?"} ms, ended by ${call?.endedBy ?? "?"}`,
    `FIG. 5 setup: ${setupMatch.ok ? `all ${28 - (noClearinghouse ? 4 : 0)} steps in causal order` : setupMatch.problems.map((p) => p.text).join("; ")} (${setupMatch.extraMessages} other messages)`,
    `FIG. 6 teardown${callee ? " (mirrored: the callee hung up)" : ""}: ${teardownMatch.ok ? `all ${18 - (noClearinghouse ? 4 : 0)} steps in causal order` : teardownMatch.problems.map((p) => p.text).join("; ")}`,
    `usage: ${result.cdrs.map((c) => `${c.role} ${c.durationS} s`).join(", ") || "none"}${noClearinghouse ? " (kept by the policy servers)" : " (CDRs at the clearinghouse)"}`,
    `left behind: ${result.leftovers.classifiers} classifiers, ${result.leftovers.copsRequestStates} COPS request states`,
    `${result.records.length} messages in ${Math.round(wallMs)} ms`,
  ];
  console.log(lines.join("\n"));

  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, "ladder.jsonl"), toJsonLines(result.records));
  writeFileSync(join(outDir, "ladder.html"), renderLadderHtml(shown, { title: "callgate demo: WO 01/35294 FIG. 5 and FIG. 6", summary: lines }));
  writeFileSync(join(outDir, "call.pcap"), writePcap(result.records, { addressing: "loopback", sipTransport: topology.sipTransport === "udp" || topology.sipTransport === undefined ? "udp" : "tcp" }));
  console.log(`wrote ${join(outDir, "ladder.html")}, ${join(outDir, "call.pcap")}, ${join(outDir, "ladder.jsonl")}`);
  return setupMatch.ok && teardownMatch.ok && call?.established ? 0 : 1;
}
