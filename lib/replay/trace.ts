// Binary traces of runs (protobufjs, schema in trace.proto) and their replay against the in-memory driver.
import { readFileSync } from "node:fs";
import protobuf from "protobufjs";
import type { MessageRecord, Protocol } from "../drivers/message-record.js";
import type { RunOptions, RunResult } from "../flow/run-types.js";

export const TRACE_FORMAT_VERSION = 1;

export class TraceError extends Error {
  constructor(
    readonly code: "not-a-trace" | "unsupported-version" | "untraceable",
    message: string,
  ) {
    super(message);
    this.name = "TraceError";
  }
}

export interface TraceCall {
  callId: string;
  specId: string;
  finalStatus: number | undefined;
  established: boolean;
}

export interface Trace {
  formatVersion: number;
  callgateVersion: string;
  scenarioName: string;
  driver: "memory" | "net";
  runOptions: Omit<RunOptions, "onRecord">;
  records: MessageRecord[];
  calls: TraceCall[];
}

let traceType: protobuf.Type | undefined;
function type(): protobuf.Type {
  // trace.proto sits next to this module in the source tree and in dist/ (scripts/copy-assets.mjs).
  traceType ??= protobuf.parse(readFileSync(new URL("./trace.proto", import.meta.url), "utf8")).root.lookupType("callgate.trace.v1.Trace");
  return traceType;
}

/** Run options that are code (adapters, hooks), which a trace cannot keep as data: a replay without them would differ. */
const CODE_OPTIONS = ["policy", "clearinghouse", "cdrStore", "services", "callerChallenge"] as const;

/** The run options set here that a trace cannot keep (e.g. a quota, session-limit or credentials adapter). */
export function untraceableOptions(options: Partial<RunOptions>): string[] {
  return CODE_OPTIONS.filter((k) => options[k] !== undefined);
}

export function traceFromRun(scenarioName: string, options: RunOptions, result: RunResult, callgateVersion: string): Trace {
  const code = untraceableOptions(options);
  if (code.length > 0) throw new TraceError("untraceable", `a run with ${code.join(", ")} cannot be kept as a trace`);
  // The event bus and the clock observe the run; an in-memory replay brings its own.
  const { onRecord: _onRecord, events: _events, clock: _clock, ...runOptions } = options;
  return {
    formatVersion: TRACE_FORMAT_VERSION,
    callgateVersion,
    scenarioName,
    driver: options.driver,
    runOptions,
    records: result.records,
    calls: result.calls.map((c) => ({ callId: c.callId, specId: c.spec.id ?? c.callId, finalStatus: c.finalStatusAtCaller, established: c.established })),
  };
}

export function encodeTrace(trace: Trace): Buffer {
  const message = type().fromObject({
    formatVersion: trace.formatVersion,
    callgateVersion: trace.callgateVersion,
    scenarioName: trace.scenarioName,
    driver: trace.driver,
    runOptionsJson: JSON.stringify(trace.runOptions),
    records: trace.records.map((r) => ({ t: r.t, proto: r.proto, from: r.from, to: r.to, msg: r.msg, callId: r.callId, bytes: r.bytes, transport: r.transport })),
    calls: trace.calls.map((c) => ({ callId: c.callId, specId: c.specId, finalStatus: c.finalStatus ?? 0, established: c.established })),
  });
  return Buffer.from(type().encode(message).finish());
}

interface RawTrace {
  formatVersion?: number;
  callgateVersion?: string;
  scenarioName?: string;
  driver?: string;
  runOptionsJson?: string;
  records?: Array<{ t?: number; proto?: string; from?: string; to?: string; msg?: string; callId?: string; bytes?: Uint8Array; transport?: { kind?: string; src?: string; srcPort?: number; dst?: string; dstPort?: number } }>;
  calls?: Array<{ callId?: string; specId?: string; finalStatus?: number; established?: boolean }>;
}

export function decodeTrace(bytes: Uint8Array): Trace {
  let raw: RawTrace;
  let runOptions: Omit<RunOptions, "onRecord">;
  try {
    raw = type().toObject(type().decode(bytes), { defaults: true }) as RawTrace;
    runOptions = JSON.parse(raw.runOptionsJson ?? "") as Omit<RunOptions, "onRecord">;
  } catch (e) {
    throw new TraceError("not-a-trace", `not a callgate trace: ${e instanceof Error ? e.message : String(e)}`);
  }
  const code = untraceableOptions(runOptions);
  if (code.length > 0) throw new TraceError("untraceable", `the trace holds ${code.join(", ")} as data, which cannot be replayed`);
  if (raw.formatVersion !== TRACE_FORMAT_VERSION) throw new TraceError("unsupported-version", `trace format ${raw.formatVersion ?? "?"} is not supported (expected ${TRACE_FORMAT_VERSION})`);
  return {
    formatVersion: raw.formatVersion,
    callgateVersion: raw.callgateVersion ?? "",
    scenarioName: raw.scenarioName ?? "",
    driver: raw.driver === "net" ? "net" : "memory",
    runOptions,
    records: (raw.records ?? []).map((r) => {
      const record: MessageRecord = { t: r.t ?? 0, proto: (r.proto ?? "SIP") as Protocol, from: r.from ?? "", to: r.to ?? "", msg: r.msg ?? "", callId: r.callId ?? "", bytes: Buffer.from(r.bytes ?? []) };
      if (r.transport && r.transport.kind) {
        const tr = r.transport;
        record.transport = { kind: tr.kind as "udp" | "tcp" | "http", src: tr.src ?? "", srcPort: tr.srcPort ?? 0, dst: tr.dst ?? "", dstPort: tr.dstPort ?? 0 };
      }
      return record;
    }),
    calls: (raw.calls ?? []).map((c) => ({ callId: c.callId ?? "", specId: c.specId ?? "", finalStatus: c.finalStatus ? c.finalStatus : undefined, established: c.established ?? false })),
  };
}

export interface TraceDivergence {
  specId: string;
  /** Position in that call's messages. */
  position: number;
  expected?: MessageRecord;
  actual?: MessageRecord;
  reason: string;
}

export interface CompareOptions {
  /** Also require identical bytes (tags, branches, handles): only for runners that seed every random choice. */
  bytes?: boolean;
}

/**
 * Compares a replay with its trace call by call (calls matched by their scenario id). Labels and order always;
 * send times too when the trace came from the in-memory driver (virtual time), bytes when asked.
 */
export function compareWithTrace(trace: Trace, replay: RunResult, options: CompareOptions = {}): TraceDivergence | undefined {
  const strict = trace.driver === "memory";
  const replayCalls = new Map(replay.calls.map((c) => [c.spec.id ?? c.callId, c]));
  for (const call of trace.calls) {
    const again = replayCalls.get(call.specId);
    if (!again) return { specId: call.specId, position: 0, reason: "call missing from the replay" };
    const expected = trace.records.filter((r) => r.callId === call.callId);
    const actual = replay.records.filter((r) => r.callId === again.callId);
    for (let k = 0; k < Math.max(expected.length, actual.length); k++) {
      const e = expected[k];
      const a = actual[k];
      if (!e || !a) return { specId: call.specId, position: k, expected: e, actual: a, reason: e ? "the replay stops early" : "the replay sends more" };
      if (e.proto !== a.proto || e.from !== a.from || e.to !== a.to || e.msg !== a.msg) return { specId: call.specId, position: k, expected: e, actual: a, reason: "different message" };
      if (strict && e.t !== a.t) return { specId: call.specId, position: k, expected: e, actual: a, reason: `sent at ${a.t} ms instead of ${e.t} ms` };
      if (options.bytes && !e.bytes.equals(a.bytes)) return { specId: call.specId, position: k, expected: e, actual: a, reason: "different bytes" };
    }
    if ((call.finalStatus ?? 0) !== (again.finalStatusAtCaller ?? 0))
      return { specId: call.specId, position: expected.length, reason: `final status ${again.finalStatusAtCaller ?? "none"} instead of ${call.finalStatus ?? "none"}` };
  }
  return undefined;
}
