// `callgate serve ROLE --config FILE`: one role of FIG. 5 / FIG. 6 in this process, on the loopback addresses
// the deployment file gives it, talking to the other roles' processes at theirs. Records what it sends.
import { createWriteStream, type WriteStream } from "node:fs";
import { parseArgs } from "node:util";
import { recordToJsonLine } from "../../drivers/message-record.js";
import { DeployConfigError, loadDeployConfig } from "../../flow/deploy-config.js";
import { mergeRecordFiles } from "../../flow/serve-records.js";
import { splitCallLadder, toJsonLines, writeJsonLines } from "../../replay/ladder-json.js";
import { checkReadableFile, InputFileError } from "../../replay/input-file.js";
import { serveRole, type ServedCall } from "../../flow/serve.js";
import { checkLogLevel, parseHostPort, startOperations, type Operations } from "../../flow/operations.js";
import type { Role } from "../../flow/run-types.js";

const USAGE = `usage: callgate serve ROLE --config FILE [--record OUT.jsonl] [--calls N] [--log-level L] [--metrics H:P]
       callgate serve merge [--call ID [--split OUT]] FILE.jsonl...
  merge            print the roles' record files as one ladder (JSON lines, by time); --call ID: that call only;
                   --split OUT: also write OUT.setup.jsonl and OUT.teardown.jsonl (split at its first BYE), and
                   OUT.challenge.jsonl / OUT.prack.jsonl / OUT.midcall.jsonl for its challenge exchange, PRACK
                   exchanges and media changes
  ROLE             UAC, SIP1, POL1, R1, CH, SIP2, POL2, R2 or UAS
  --config FILE    deployment file (YAML): every role's loopback addresses, topology, calls
  --record FILE    append each message this role sends as a JSON line {t, proto, from, to, msg, callId, bytes}
                   (t: ms on the host's monotonic clock, so several processes' files merge by t)
  --calls N        UAC: place N calls instead of the file's calls.count
  --log-level L    trace, debug, info, warn, error, fatal or silent (default: the file's roles.ROLE.log, else info);
                   JSON lines on stderr
  --metrics H:P    serve Prometheus metrics at http://H:P/metrics (default: roles.ROLE.metrics on the role's host)
The UAC exits when its calls have ended (0 when every call was answered and ended, 1 otherwise);
the other roles run until SIGINT or SIGTERM.`;

function fail(message: string): number {
  process.stderr.write(`callgate serve: ${message}\n${USAGE}\n`);
  return 2;
}

function summary(calls: ServedCall[]): { lines: string[]; failed: number } {
  const failed = calls.filter((c) => !c.established || !c.ended).length;
  const lines = [`UAC: ${calls.length} call(s), ${calls.length - failed} answered and ended, ${failed} failed`];
  for (const c of calls) {
    const how = c.established ? `answered${c.setupLatencyMs !== undefined ? ` in ${c.setupLatencyMs} ms` : ""}, ${c.ended ? `ended by ${c.endedBy ?? "?"}` : "not ended"}` : `not answered (${c.finalStatusAtCaller ?? "no final response"})`;
    lines.push(`  ${c.callId}: ${how}`);
  }
  return { lines, failed };
}

function merge(files: string[], call: string | undefined, split: string | undefined): number {
  if (files.length === 0) return fail("merge wants the record files");
  if (split !== undefined && call === undefined) return fail("--split wants --call ID");
  try {
    for (const file of files) checkReadableFile(file);
    const records = mergeRecordFiles(files).filter((r) => call === undefined || r.callId === call);
    process.stdout.write(toJsonLines(records));
    if (split !== undefined) {
      const { challenge, setup, prack, midCall, teardown } = splitCallLadder(records);
      if (challenge.length > 0) writeJsonLines(`${split}.challenge.jsonl`, challenge);
      writeJsonLines(`${split}.setup.jsonl`, setup);
      if (prack.length > 0) writeJsonLines(`${split}.prack.jsonl`, prack);
      if (midCall.length > 0) writeJsonLines(`${split}.midcall.jsonl`, midCall);
      writeJsonLines(`${split}.teardown.jsonl`, teardown);
    }
  } catch (err) {
    process.stderr.write(`callgate serve merge: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  return 0;
}

/** A one-entry gauge sample, or none when the role holds no such state. */
function only(label: string, value: number | undefined): Record<string, number> {
  return value === undefined ? {} : { [label]: value };
}

function closeStream(out: WriteStream | undefined): Promise<void> {
  return new Promise((resolve) => (out ? out.end(() => resolve()) : resolve()));
}

export async function run(args: string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(USAGE);
    return 0;
  }
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, strict: true, options: { config: { type: "string" }, record: { type: "string" }, calls: { type: "string" }, call: { type: "string" }, split: { type: "string" }, "log-level": { type: "string" }, metrics: { type: "string" } } });
  } catch (err) {
    return fail(err instanceof Error ? err.message : String(err));
  }
  const { values, positionals } = parsed;
  if (positionals[0] === "merge") return merge(positionals.slice(1), values.call, values.split);
  if (values.call !== undefined || values.split !== undefined) return fail("--call and --split are for merge");
  if (positionals.length !== 1) return fail("give exactly one ROLE");
  if (values.config === undefined) return fail("--config FILE is required");
  const role = positionals[0] ?? "";
  let calls: number | undefined;
  if (values.calls !== undefined) {
    if (!/^\d+$/.test(values.calls) || Number(values.calls) > 100000) return fail(`--calls wants an integer from 0 to 100000, got '${values.calls}'`);
    if (role !== "UAC") return fail("--calls is for the UAC");
    calls = Number(values.calls);
  }

  const levelProblem = checkLogLevel(values["log-level"]);
  if (levelProblem) return fail(levelProblem.message);
  const metricsOption = values.metrics !== undefined ? parseHostPort(values.metrics, "--metrics") : undefined;
  if (metricsOption instanceof Error) return fail(metricsOption.message);

  let out: WriteStream | undefined;
  let served;
  let ops: Operations | undefined;
  try {
    checkReadableFile(values.config);
    const config = loadDeployConfig(values.config);
    const entry = config.roles[role as Role];
    // --metrics, else the file's roles.<ROLE>.metrics on the role's host; never on one of the role's own listeners.
    const metricsAt = metricsOption ?? (entry?.metrics !== undefined ? { host: entry.host, port: entry.metrics } : undefined);
    if (metricsOption && entry && metricsOption.host === entry.host && metricsOption.port !== 0 && [entry.sip?.udp, entry.sip?.tcp, entry.sip?.ws, entry.cops, entry.osp].includes(metricsOption.port))
      return fail(`--metrics ${values.metrics ?? ""} is one of ${role}'s own addresses in ${values.config}: give the metrics their own port`);
    const logLevel = values["log-level"] ?? entry?.log;
    ops = await startOperations({ name: role, ...(logLevel !== undefined ? { logLevel } : {}), ...(metricsAt ? { metrics: metricsAt } : {}), callRoles: [role] });
    const operations = ops;
    out = values.record !== undefined ? createWriteStream(values.record, { flags: "a" }) : undefined;
    const sink = out;
    served = await serveRole({
      config,
      role,
      ...(calls !== undefined ? { calls } : {}),
      ...(sink ? { onRecord: (r) => sink.write(`${recordToJsonLine(r)}\n`) } : {}),
      onEvent: (e) => operations.onEvent(e),
      onError: (where, err) => operations.onError(where, err),
      onDrop: (proto, cause, detail) => operations.drops.drop(`${proto}:${cause}`, { detail }),
      onCdrWritten: () => operations.metrics.cdrsWritten.inc(),
      metrics: operations.metrics,
    });
  } catch (err) {
    await closeStream(out);
    await ops?.close();
    if (err instanceof DeployConfigError || err instanceof InputFileError) {
      process.stderr.write(`callgate serve: ${err.message}\n`);
      return 2;
    }
    process.stderr.write(`callgate serve ${role}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  const a = served.addresses;
  const parts = [a.sip ? `sip ${a.sip}` : "", a.ws ? `ws ${a.ws}` : "", a.cops ? `cops ${a.cops}` : "", a.osp ? `osp ${a.osp}` : ""].filter(Boolean);
  const operations = ops as Operations;
  const servedRole = served;
  operations.watch({
    requestStates: () => only(role, servedRole.state().copsRequestStates),
    queues: () => only(`${role} usage backlog`, servedRole.state().usageBacklog),
    connections: () => servedRole.connections(),
  });
  operations.logger.info({ addresses: a, ...(operations.metricsAddress ? { metrics: operations.metricsAddress } : {}), record: values.record ?? null }, `${served.role} started`);
  console.log(`${served.role} ready ${parts.join("  ") || "(connects out only)"}${operations.metricsAddress ? `  metrics http://${operations.metricsAddress}/metrics` : ""}`);

  let signalled = false;
  const signal = new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      signalled = true;
      resolve();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
  let code = 0;
  if (served.calls) {
    const outcome = await Promise.race([served.calls, signal]);
    if (outcome) {
      // A last response of ours (200 to the callee's BYE) may still be in flight, or be asked for again: linger briefly.
      await new Promise((r) => setTimeout(r, 500));
      const { lines, failed } = summary(outcome);
      console.log(lines.join("\n"));
      code = failed > 0 ? 1 : 0;
    } else code = 1;
  } else {
    await signal;
  }
  const held = served.state();
  await served.close();
  await closeStream(out);
  if (Object.keys(held).length > 0) console.log(`${served.role} holds ${JSON.stringify(held)}`);
  operations.logger.info({ held, drops: operations.drops.counts(), exitCode: code }, `${served.role} stopped`);
  await operations.close();
  if (signalled) console.log(`${served.role} stopped`);
  return code;
}
