// Checks a run against its scenario's expectations; each failed expectation names the first message where
// the recorded ladder diverges from what was expected.
import type { MessageRecord } from "../drivers/message-record.js";
import type { CallOutcome, RunResult } from "../flow/run-types.js";
import { matchFlow, type FlowMatch } from "./flow-match.js";
import { byeSender, mirrorLadder, recordsByCall, splitCallLadder } from "./ladder-json.js";
import { formatSeconds } from "./ladder-text.js";
import { expandCalls, type CallExpectation, type ExpandedCall, type Scenario } from "./scenario.js";

export interface ExpectationFailure {
  /** Call id, or "scenario" for run-wide expectations. */
  scope: string;
  check: string;
  message: string;
  /** The first message that diverges, with its index in the whole record stream. */
  divergence?: { index: number; record: MessageRecord } | { index: number; record?: undefined; note: string };
}

export interface ExpectationReport {
  ok: boolean;
  checked: number;
  failures: ExpectationFailure[];
}

export interface LadderStep {
  proto: string;
  from: string;
  to: string;
  msg: string;
}

/** "SIP UAC>SIP1 INVITE" → step; MSG may be a bare status code ("403") matching any reason phrase. */
export function parseStep(text: string): LadderStep {
  const m = /^(\S+) ([^>\s]+)>(\S+) (.+)$/.exec(text);
  if (!m) throw new Error(`not a ladder step: '${text}' (expected "PROTO FROM>TO MSG")`);
  return { proto: m[1] as string, from: m[2] as string, to: m[3] as string, msg: m[4] as string };
}

export function stepMatches(step: LadderStep, r: Pick<MessageRecord, "proto" | "from" | "to" | "msg">): boolean {
  return r.proto === step.proto && r.from === step.from && r.to === step.to && (r.msg === step.msg || r.msg.startsWith(`${step.msg} `));
}

/** The method a SIP response answers, from its CSeq (RFC 3261 §8.2.6.2); undefined for anything else. */
export function answeredMethod(r: Pick<MessageRecord, "proto" | "msg" | "bytes">): string | undefined {
  if (r.proto !== "SIP" || !/^\d{3} /.test(r.msg)) return undefined;
  const head = r.bytes.subarray(0, Math.min(r.bytes.length, 4096)).toString("latin1");
  return /^CSeq[ \t]*:[ \t]*\d+[ \t]+([A-Za-z]+)/im.exec(head)?.[1]?.toUpperCase();
}

/** The values of a SIP message's Reason headers (RFC 3326), in order. */
export function reasonHeaders(bytes: Buffer): string[] {
  const text = bytes.toString("latin1");
  const end = text.indexOf("\r\n\r\n");
  // Folded lines (RFC 3261 §7.3.1) joined before the headers are read.
  const head = (end < 0 ? text : text.slice(0, end)).replace(/\r\n[ \t]+/g, " ");
  return head.split("\r\n").flatMap((line) => {
    const m = /^Reason[ \t]*:[ \t]*(.*)$/i.exec(line);
    return m ? [(m[1] as string).trim()] : [];
  });
}

export function describeRecord(index: number, r: MessageRecord): string {
  const method = answeredMethod(r);
  return `#${index} t=${formatSeconds(r.t)}s ${r.proto} ${r.from} → ${r.to} ${r.msg}${method ? ` (to ${method})` : ""}`;
}

export function formatFailure(f: ExpectationFailure): string {
  let text = `${f.scope}: ${f.check}: ${f.message}`;
  if (f.divergence) text += `\n  first diverging message: ${f.divergence.record ? describeRecord(f.divergence.index, f.divergence.record) : `#${f.divergence.index} ${f.divergence.note}`}`;
  return text;
}

export function checkExpectations(scenario: Scenario, result: RunResult): ExpectationReport {
  const failures: ExpectationFailure[] = [];
  let checked = 0;
  const indexOf = new Map(result.records.map((r, i) => [r, i]));
  const byCall = recordsByCall(result.records);
  const outcomes = new Map(result.calls.map((o) => [o.spec.id ?? o.callId, o]));
  const noClearinghouse = scenario.topology?.clearinghouse === "none" || (scenario.topology?.clearinghouse === "in-process" && !result.records.some((r) => r.proto === "OSP"));

  const at = (records: readonly MessageRecord[], k: number, note: string): ExpectationFailure["divergence"] => {
    const record = records[k];
    if (record) return { index: indexOf.get(record) ?? -1, record };
    const last = records[records.length - 1];
    return { index: last ? (indexOf.get(last) ?? -1) + 1 : result.records.length, note };
  };

  for (const call of expandCalls(scenario)) {
    const id = call.spec.id as string;
    const outcome = outcomes.get(id);
    if (!outcome) {
      failures.push({ scope: id, check: "outcome", message: "the runner reported no outcome for this call" });
      continue;
    }
    const records = byCall.get(outcome.callId) ?? [];
    checked += checkCall(call, call.expect, outcome, records, { push: (f) => failures.push({ scope: id, ...f }), at, noClearinghouse, result });
  }

  const top = scenario.expect ?? {};
  const scope = "scenario";
  if (top.noStateLeft) {
    checked++;
    const { classifiers, copsRequestStates, pendingTransactions } = result.leftovers;
    if (classifiers + copsRequestStates + pendingTransactions > 0)
      failures.push({ scope, check: "noStateLeft", message: `state left behind: ${classifiers} classifier(s), ${copsRequestStates} COPS request state(s), ${pendingTransactions} SIP transaction(s)` });
  }
  const established = result.calls.filter((c) => c.established).length;
  if (top.established !== undefined) {
    checked++;
    if (established !== top.established) failures.push({ scope, check: "established", message: `${established} call(s) established, expected ${top.established}` });
  }
  if (top.failed !== undefined) {
    checked++;
    const failed = result.calls.length - established;
    if (failed !== top.failed) failures.push({ scope, check: "failed", message: `${failed} call(s) failed, expected ${top.failed}` });
  }
  if (top.finalStatuses) {
    checked++;
    const counts: Record<string, number> = {};
    for (const c of result.calls) counts[String(c.finalStatusAtCaller ?? "none")] = (counts[String(c.finalStatusAtCaller ?? "none")] ?? 0) + 1;
    for (const [status, expected] of Object.entries(top.finalStatuses))
      if ((counts[status] ?? 0) !== expected) failures.push({ scope, check: "finalStatuses", message: `${counts[status] ?? 0} call(s) ended with ${status}, expected ${expected} (all: ${JSON.stringify(counts)})` });
  }
  if (top.cdrs !== undefined) {
    checked++;
    if (result.cdrs.length !== top.cdrs) failures.push({ scope, check: "cdrs", message: `${result.cdrs.length} CDR(s), expected ${top.cdrs}` });
  }
  return { ok: failures.length === 0, checked, failures };
}

interface CallContext {
  push: (f: Omit<ExpectationFailure, "scope">) => void;
  at: (records: readonly MessageRecord[], k: number, note: string) => ExpectationFailure["divergence"];
  noClearinghouse: boolean;
  result: RunResult;
}

function checkCall(call: ExpandedCall, expect: CallExpectation, outcome: CallOutcome, records: MessageRecord[], ctx: CallContext): number {
  let checked = 0;
  // The caller's final response to its INVITE (not the 200 to its BYE or CANCEL).
  const lastToCaller = (): number => {
    for (let k = records.length - 1; k >= 0; k--) {
      const r = records[k] as MessageRecord;
      if (r.proto === "SIP" && r.to === "UAC" && /^[2-6]\d\d /.test(r.msg) && (answeredMethod(r) ?? "INVITE") === "INVITE") return k;
    }
    return records.length;
  };
  if (expect.finalStatus !== undefined) {
    checked++;
    if (outcome.finalStatusAtCaller !== expect.finalStatus)
      ctx.push({ check: "finalStatus", message: `final status at the caller ${outcome.finalStatusAtCaller ?? "none"}, expected ${expect.finalStatus}`, divergence: ctx.at(records, lastToCaller(), "no final response reached the caller") });
  }
  if (expect.reason !== undefined) {
    checked++;
    const k = lastToCaller();
    const final = records[k];
    const reasons = final ? reasonHeaders(final.bytes) : [];
    if (!reasons.includes(expect.reason))
      ctx.push({ check: "reason", message: `${final ? (reasons.length > 0 ? `Reason ${reasons.map((r) => `'${r}'`).join(", ")}` : "no Reason header") : "no final response"} at the caller, expected '${expect.reason}'`, divergence: ctx.at(records, k, "no final response reached the caller") });
  }
  if (expect.established !== undefined) {
    checked++;
    if (outcome.established !== expect.established)
      ctx.push({ check: "established", message: `call ${outcome.established ? "was" : "was not"} established, expected ${expect.established ? "established" : "not established"}`, divergence: ctx.at(records, lastToCaller(), "no final response reached the caller") });
  }
  if (expect.endedBy !== undefined) {
    checked++;
    if (outcome.endedBy !== expect.endedBy) ctx.push({ check: "endedBy", message: `ended by ${outcome.endedBy ?? "nobody"}, expected ${expect.endedBy}` });
  }
  if (expect.maxSetupLatencyMs !== undefined) {
    checked++;
    if (outcome.setupLatencyMs === undefined || outcome.setupLatencyMs > expect.maxSetupLatencyMs)
      ctx.push({ check: "maxSetupLatencyMs", message: `set-up latency ${outcome.setupLatencyMs ?? "none"} ms, expected at most ${expect.maxSetupLatencyMs} ms` });
  }
  if (expect.flow === "fig5-fig6" || expect.flow === "fig5" || expect.flow === "fig6") {
    const { setup, teardown } = splitCallLadder(records);
    if (expect.flow !== "fig6") {
      checked++;
      reportFlow(matchFlow(setup, "setup", { noClearinghouse: ctx.noClearinghouse }), setup, "setup flow (FIG. 5)", ctx);
    }
    if (expect.flow !== "fig5") {
      checked++;
      const sender = byeSender(teardown);
      const expectedSender = call.spec.hangUp === "callee" ? "UAS" : "UAC";
      if (sender !== expectedSender)
        ctx.push({ check: "teardown flow (FIG. 6)", message: sender ? `BYE sent by ${sender}, expected ${expectedSender}` : "no BYE", divergence: ctx.at(teardown, 0, "the call ended without a BYE") });
      else {
        const ladder = sender === "UAS" ? mirrorLadder(teardown) : teardown;
        reportFlow(matchFlow(ladder, "teardown", { noClearinghouse: ctx.noClearinghouse }), teardown, `teardown flow (FIG. 6${sender === "UAS" ? ", mirrored" : ""})`, ctx);
      }
    }
  }
  if (expect.contains) {
    checked++;
    let from = 0;
    for (const text of expect.contains) {
      const step = parseStep(text);
      const k = records.findIndex((r, i) => i >= from && stepMatches(step, r));
      if (k < 0) {
        ctx.push({ check: "contains", message: `'${text}' not found${from > 0 ? " after the previous expected step" : ""}`, divergence: ctx.at(records, from, "end of the call's messages") });
        break;
      }
      from = k + 1;
    }
  }
  if (expect.absent) {
    checked++;
    for (const text of expect.absent) {
      const step = parseStep(text);
      const k = records.findIndex((r) => stepMatches(step, r));
      if (k >= 0) ctx.push({ check: "absent", message: `'${text}' was sent`, divergence: ctx.at(records, k, "") });
    }
  }
  if (expect.cdrs !== undefined) {
    checked++;
    const cdrs = ctx.result.cdrs.filter((c) => c.callId === outcome.callId);
    // Usage is reported by the first UsageIndication (or, without a clearinghouse, the removal of the policy).
    const usage = records.findIndex((r) => r.msg === "UsageIndication" || r.msg === "DEC Remove");
    const divergence = ctx.at(records, usage < 0 ? records.length : usage, "no usage was reported");
    if (typeof expect.cdrs === "number") {
      if (cdrs.length !== expect.cdrs) ctx.push({ check: "cdrs", message: `${cdrs.length} CDR(s), expected ${expect.cdrs}`, divergence });
    } else {
      const left = [...cdrs];
      for (const want of expect.cdrs) {
        const k = left.findIndex((c) => (want.role === undefined || c.role === want.role) && (want.durationS === undefined || Math.abs(c.durationS - want.durationS) <= (want.toleranceS ?? 1)));
        if (k < 0) {
          ctx.push({ check: "cdrs", message: `no CDR ${JSON.stringify(want)} among ${JSON.stringify(cdrs.map(({ role, durationS }) => ({ role, durationS })))}`, divergence });
          break;
        }
        left.splice(k, 1);
      }
    }
  }
  return checked;
}

function reportFlow(match: FlowMatch, ladder: MessageRecord[], check: string, ctx: CallContext): void {
  if (match.ok) return;
  const first = match.firstDivergence;
  const more = match.problems.length > 1 ? ` (+${match.problems.length - 1} more problem(s))` : "";
  ctx.push({ check, message: `${first?.text ?? "does not match"}${more}`, divergence: ctx.at(ladder, first?.ladderIndex ?? ladder.length, "end of the ladder") });
}
