// `callgate replay FILE [--net] [--ladder] [--ladder-json OUT] [--html OUT] [--pcap OUT] [--record OUT]`
// and `callgate replay --trace FILE [--exact]`: runs a scenario (or a recorded trace) through the flow runner, writes the
// requested views of the record stream and checks the expectations. Exit 0 only when every one holds.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { MessageRecord } from "../drivers/message-record.js";
import type { RunOptions, RunResult } from "../flow/run-types.js";
import { REPLAY_ACCOUNTING_USAGE, replayAccounting, type ReplayAccounting } from "../accounting/replay-export.js";
import { REPLAY_QUOTA_USAGE, ReplayQuota } from "../quota/replay-quota.js";
import { ReplayAuth } from "../auth/replay-auth.js";
import { replaySessionLimits, type ReplaySessionLimits } from "../dsc/replay-session-limits.js";
import { checkExpectations, describeRecord, formatFailure } from "./expectations.js";
import { renderLadderHtml } from "./html-ladder.js";
import { InputFileError, readInputFile } from "./input-file.js";
import { recordsByCall, splitCallLadder, writeJsonLines } from "./ladder-json.js";
import { colorWanted, renderLadderText } from "./ladder-text.js";
import { writePcap } from "./pcap-writer.js";
import { loadScenarioFile, ScenarioError, toRunOptions, type Scenario } from "./scenario.js";
import { compareWithTrace, decodeTrace, encodeTrace, TraceError, traceFromRun, untraceableOptions } from "./trace.js";

export type Runner = (options: RunOptions) => Promise<RunResult>;

export interface CommandIo {
  stdout: { write(text: string): unknown; isTTY?: boolean };
  stderr: { write(text: string): unknown; isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  runner: Runner;
  version: string;
}

export const REPLAY_USAGE = `usage: callgate replay SCENARIO.yaml [options]
       callgate replay --trace TRACE [options]
options:
  --net               real sockets on loopback instead of the in-memory driver (virtual time)
  --ladder            print the message ladder
  --ladder-json OUT   write the records as JSON lines (and OUT's .challenge/.setup/.prack/.midcall/.teardown split for a one-call run)
  --html OUT          write a self-contained HTML sequence diagram
  --pcap OUT          write a pcap capture (Wireshark, tshark)
  --record OUT        write a binary trace of the run
  --trace FILE        replay a recorded trace on the in-memory driver and report any divergence
  --exact             with --trace: the bytes must be identical too, not only messages, order and times
  --call ID           show only this call's messages in --ladder and --html (a call id of the scenario)
  --no-color          no ANSI colours in the ladder (also NO_COLOR, or when stdout is not a terminal)
${REPLAY_ACCOUNTING_USAGE}
${REPLAY_QUOTA_USAGE}`;

const write = (path: string, data: string | Buffer): void => {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, data);
};

export async function replayMain(args: string[], io: CommandIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        net: { type: "boolean" },
        ladder: { type: "boolean" },
        "ladder-json": { type: "string" },
        html: { type: "string" },
        pcap: { type: "string" },
        record: { type: "string" },
        trace: { type: "string" },
        exact: { type: "boolean" },
        "no-color": { type: "boolean" },
        call: { type: "string" },
        "radius-acct": { type: "string", multiple: true },
        "radius-secret": { type: "string" },
        "radius-spool": { type: "string" },
        "radius-interim": { type: "string" },
        "radius-wait": { type: "string" },
        quota: { type: "string" },
        "quota-db": { type: "string" },
        "quota-start": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    io.stderr.write(`callgate replay: ${e instanceof Error ? e.message : String(e)}\n${REPLAY_USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout.write(`${REPLAY_USAGE}\n`);
    return 0;
  }
  const tracePath = values.trace;
  if ((tracePath === undefined) === (positionals.length !== 1) || positionals.length > 1) {
    const reason =
      positionals.length > 1
        ? `one scenario file at a time (given: ${positionals.join(", ")})`
        : tracePath !== undefined
          ? "a scenario file and --trace exclude each other"
          : "no scenario file given (or --trace TRACE)";
    io.stderr.write(`callgate replay: ${reason}\n${REPLAY_USAGE}\n`);
    return 2;
  }

  let scenario: Scenario | undefined;
  let options: RunOptions;
  let trace;
  try {
    if (tracePath !== undefined) {
      trace = decodeTrace(readInputFile(tracePath));
      options = { ...trace.runOptions, driver: "memory" };
    } else {
      scenario = loadScenarioFile(positionals[0] as string);
      options = toRunOptions(scenario, values.net ? { driver: "net" } : {});
    }
  } catch (e) {
    if (e instanceof ScenarioError) {
      io.stderr.write(`${e.message}\n`);
      return 2;
    }
    if (e instanceof TraceError) {
      io.stderr.write(`callgate replay: ${tracePath}: ${e.message}\n`);
      return 2;
    }
    if (e instanceof InputFileError) {
      io.stderr.write(`callgate replay: ${e.message}\n`);
      return 2;
    }
    io.stderr.write(`callgate replay: ${e instanceof Error ? e.message : String(e)}\n`);
    return 2;
  }

  let accounting: ReplayAccounting | undefined;
  try {
    accounting = replayAccounting({ servers: values["radius-acct"] ?? [], secret: values["radius-secret"], spool: values["radius-spool"], interimS: values["radius-interim"], waitS: values["radius-wait"] });
  } catch (e) {
    io.stderr.write(`callgate replay: ${(e as Error).message}\n`);
    return 2;
  }
  let quota: ReplayQuota | undefined;
  try {
    // the scenario's own quota section, unless the command line names rules
    const own = values.quota === undefined && scenario?.quota ? scenario.quota : undefined;
    const rules = own ? resolve(dirname(positionals[0] as string), own.rules) : values.quota;
    quota = ReplayQuota.open({ rules, db: values["quota-db"], start: values["quota-start"] ?? own?.start });
    if (quota) options = quota.prepare(options);
  } catch (e) {
    io.stderr.write(`callgate replay: ${(e as Error).message}\n`);
    return 2;
  }
  let sessionLimits: ReplaySessionLimits | undefined;
  if (scenario?.sessionLimits) {
    try {
      if (options.policy !== undefined) throw new Error("sessionLimits: the run already has a policy adapter (--quota or the scenario's quota)");
      sessionLimits = replaySessionLimits(scenario.sessionLimits);
      options = { ...options, policy: sessionLimits.policy };
    } catch (e) {
      io.stderr.write(`callgate replay: ${positionals[0] as string}: ${(e as Error).message}\n`);
      return 2;
    }
  }
  let callerAuth: ReplayAuth | undefined;
  try {
    // the scenario's auth and realms sections: SIP1 challenges, POL1 checks credentials and realm capacity
    if (scenario) callerAuth = ReplayAuth.open(scenario, positionals[0] as string, options.seed ?? 1);
    if (callerAuth) options = callerAuth.prepare(options);
  } catch (e) {
    io.stderr.write(`callgate replay: ${positionals[0] as string}: ${(e as Error).message}\n`);
    return 2;
  }
  // A trace keeps the run's options as data: adapters (quota, sessionLimits, auth, realms) cannot be kept.
  const code = values.record !== undefined ? untraceableOptions(options) : [];
  if (code.length > 0) {
    io.stderr.write(`callgate replay: --record: this run's ${code.join(", ")} come from the scenario's quota, sessionLimits, auth or realms, which a trace cannot keep\n`);
    sessionLimits?.close();
    await quota?.close();
    return 2;
  }
  if (accounting) options = await accounting.prepare(options);

  const result = await io.runner(options);
  sessionLimits?.close();
  await quota?.close();
  const name = scenario?.name ?? trace?.scenarioName ?? "trace";
  const established = result.calls.filter((c) => c.established).length;
  const out = io.stdout;

  // --call: one call's messages for the views people read
  let shown = result.records;
  if (values.call !== undefined) {
    const outcome = result.calls.find((c) => (c.spec.id ?? c.callId) === values.call);
    if (!outcome) {
      io.stderr.write(`callgate replay: no call '${values.call}' in this run (calls: ${result.calls.map((c) => c.spec.id ?? c.callId).slice(0, 10).join(", ")})\n`);
      return 2;
    }
    shown = result.records.filter((r) => r.callId === outcome.callId);
  }
  if (values.ladder) {
    const color = colorWanted(out, io.env, values["no-color"] === true);
    out.write(renderLadderText(shown, { color }));
  }
  const written: string[] = [];
  const ladderJson = values["ladder-json"];
  if (ladderJson !== undefined) {
    writeJsonLines(ladderJson, result.records);
    written.push(ladderJson);
    // Connection-level messages (OPN, CAT, KA, router configuration) carry no call id and belong to no call.
    const calls = [...recordsByCall(result.records)].filter(([callId]) => callId !== "");
    if (calls.length === 1) {
      const { challenge, setup, prack, midCall, teardown } = splitCallLadder((calls[0] as [string, MessageRecord[]])[1]);
      const base = ladderJson.replace(/\.jsonl?$/, "");
      // The caller's challenge exchange comes before FIG. 5's step 1 (the INVITE with credentials).
      if (challenge.length > 0) {
        writeJsonLines(`${base}.challenge.jsonl`, challenge);
        written.push(`${base}.challenge.jsonl`);
      }
      writeJsonLines(`${base}.setup.jsonl`, setup);
      written.push(`${base}.setup.jsonl`);
      // RFC 3262's PRACK exchanges: FIG. 5 draws no PRACK, and their 200s would repeat steps 23-25.
      if (prack.length > 0) {
        writeJsonLines(`${base}.prack.jsonl`, prack);
        written.push(`${base}.prack.jsonl`);
      }
      if (midCall.length > 0) {
        writeJsonLines(`${base}.midcall.jsonl`, midCall);
        written.push(`${base}.midcall.jsonl`);
      }
      writeJsonLines(`${base}.teardown.jsonl`, teardown);
      written.push(`${base}.teardown.jsonl`);
    }
  }
  if (values.pcap !== undefined) {
    write(values.pcap, writePcap(result.records, { sipTransport: options.topology?.sipTransport === "tls" ? "tcp" : (options.topology?.sipTransport ?? "udp") }));
    written.push(values.pcap);
  }
  if (values.record !== undefined) {
    write(values.record, encodeTrace(traceFromRun(name, options, result, io.version)));
    written.push(values.record);
  }

  const verdicts: string[] = [];
  let ok = true;
  if (trace) {
    const divergence = compareWithTrace(trace, result, { bytes: values.exact === true });
    if (divergence) {
      ok = false;
      verdicts.push(`trace: replay diverges in call ${divergence.specId} at its message ${divergence.position}: ${divergence.reason}`);
      if (divergence.expected) verdicts.push(`  recorded: ${describeRecord(divergence.position, divergence.expected)}`);
      if (divergence.actual) verdicts.push(`  replayed: ${describeRecord(divergence.position, divergence.actual)}`);
    } else verdicts.push(`trace: the replay matches all ${trace.records.length} recorded messages of ${trace.calls.length} call(s)`);
  }
  if (scenario) {
    const report = checkExpectations(scenario, result);
    if (report.ok) verdicts.push(`expectations: all ${report.checked} hold`);
    else {
      ok = false;
      verdicts.push(`expectations: ${report.failures.length} of ${report.checked} failed`);
      for (const f of report.failures) verdicts.push(formatFailure(f));
    }
  }
  if (accounting) {
    const exported = await accounting.export(result);
    if (!exported.ok) ok = false;
    verdicts.push(exported.line);
  }
  const realmAccounting = callerAuth?.verdict();
  if (realmAccounting) {
    if (!realmAccounting.ok) ok = false;
    verdicts.push(realmAccounting.line);
  }
  const summary = [
    `${name}: ${result.calls.length} call(s) on the ${options.driver === "net" ? "loopback network" : "in-memory"} driver, ${established} established, ${result.records.length} messages`,
    ...verdicts,
  ];
  if (values.html !== undefined) {
    write(values.html, renderLadderHtml(shown, { title: `callgate replay: ${name}${values.call !== undefined ? `, call ${values.call}` : ""}`, summary }));
    written.push(values.html);
  }
  out.write(`${summary.join("\n")}\n`);
  for (const path of written) out.write(`wrote ${path}\n`);
  return ok ? 0 : 1;
}
