// The failure branches of issue 6, each run on both drivers (in memory and over loopback sockets).
import { expect } from "vitest";
import type { MessageRecord } from "../../../lib/drivers/message-record.js";
import type { CallSpec, RunOptions, RunResult } from "../../../lib/flow/run-calls.js";

export const baseCall: CallSpec = { caller: "sip:alice@example.com", callee: "sip:bob@example.com", startMs: 50, answerDelayMs: 200, durationMs: 400, hangUp: "caller" };
const fast = { signedTokens: false, clearinghouseTimeoutMs: 500, usageRetryMs: 500 } as const;

export interface BranchCase {
  name: string;
  options: Omit<RunOptions, "driver">;
  check(result: RunResult): void;
}

const has = (records: MessageRecord[], from: string, to: string, msg: string): boolean => records.some((r) => r.from === from && r.to === to && r.msg === msg);
const count = (records: MessageRecord[], from: string, to: string, msg: string): number => records.filter((r) => r.from === from && r.to === to && r.msg === msg).length;

function cleanPolicy(result: RunResult): void {
  expect(result.leftovers.classifiers).toBe(0);
  expect(result.leftovers.copsRequestStates).toBe(0);
}

export const BRANCHES: BranchCase[] = [
  {
    name: "clearinghouse denies: 403 with a Reason, the INVITE never leaves SIP1, no usage",
    options: { topology: fast, calls: [baseCall], faults: [{ kind: "deny", role: "CH" }] },
    check(r) {
      expect(r.calls[0]?.finalStatusAtCaller).toBe(403);
      expect(r.calls[0]?.established).toBe(false);
      expect(has(r.records, "CH", "POL1", "AuthorisationResponse")).toBe(true);
      expect(has(r.records, "SIP1", "SIP2", "INVITE")).toBe(false);
      const refusal = r.records.find((m) => m.from === "SIP1" && m.to === "UAC" && m.msg === "403 Forbidden");
      expect(refusal?.bytes.toString("latin1")).toMatch(/\r\nReason: SIP;cause=403;text="/);
      expect(r.cdrs).toEqual([]);
      cleanPolicy(r);
    },
  },
  {
    name: "clearinghouse unreachable, fail closed: 503 after the OSP timeout",
    options: { topology: { ...fast, clearinghouseUnreachable: "fail-closed" }, calls: [baseCall], faults: [{ kind: "down", role: "CH", fromMs: 0, toMs: 60_000 }] },
    check(r) {
      expect(r.calls[0]?.finalStatusAtCaller).toBe(503);
      expect(has(r.records, "POL1", "CH", "AuthorisationRequest")).toBe(false); // dropped: CH is down
      expect(has(r.records, "SIP1", "SIP2", "INVITE")).toBe(false);
      expect(r.cdrs).toEqual([]);
      cleanPolicy(r);
    },
  },
  {
    name: "clearinghouse unreachable, fail open: the call goes through and usage is reconciled when it is back",
    options: {
      topology: { ...fast, clearinghouseUnreachable: "fail-open" },
      calls: [baseCall],
      faults: [{ kind: "down", role: "CH", fromMs: 0, toMs: 3000 }],
    },
    check(r) {
      expect(r.calls[0]?.established).toBe(true);
      expect(r.calls[0]?.finalStatusAtCaller).toBe(200);
      // Both UsageIndications reached the clearinghouse once it came back: one CDR per side.
      expect(r.cdrs.map((c) => c.role).sort()).toEqual(["destination", "source"]);
      expect(count(r.records, "CH", "POL1", "UsageConfirmation")).toBeGreaterThanOrEqual(1);
      cleanPolicy(r);
    },
  },
  {
    name: "terminating policy server denies: SIP2 refuses, SIP1 relays 403; only the originating side reports usage",
    options: { topology: fast, calls: [baseCall], faults: [{ kind: "deny", role: "POL2" }] },
    check(r) {
      expect(r.calls[0]?.finalStatusAtCaller).toBe(403);
      expect(has(r.records, "SIP2", "UAS", "INVITE")).toBe(false);
      expect(has(r.records, "POL2", "CH", "AuthorisationRequest")).toBe(false);
      expect(r.cdrs.map((c) => [c.role, c.durationS])).toEqual([["source", 0]]);
      cleanPolicy(r);
    },
  },
  {
    name: "terminating router fails to install: call refused with 503, the callee's ringing cancelled",
    options: { topology: fast, calls: [baseCall], faults: [{ kind: "deny", role: "R2" }] },
    check(r) {
      expect(r.calls[0]?.finalStatusAtCaller).toBe(503);
      expect(has(r.records, "R2", "POL2", "RPT Failure")).toBe(true);
      expect(has(r.records, "SIP2", "UAS", "CANCEL")).toBe(true);
      expect(has(r.records, "POL1", "R1", "DEC Install")).toBe(false);
      cleanPolicy(r);
    },
  },
  {
    name: "originating router fails: call refused, the policy already installed on R2 is removed",
    options: { topology: fast, calls: [baseCall], faults: [{ kind: "deny", role: "R1" }] },
    check(r) {
      expect(r.calls[0]?.finalStatusAtCaller).toBe(503);
      expect(has(r.records, "R1", "POL1", "RPT Failure")).toBe(true);
      expect(has(r.records, "POL2", "R2", "DEC Install")).toBe(true);
      expect(has(r.records, "POL2", "R2", "DEC Remove")).toBe(true);
      expect(has(r.records, "SIP1", "SIP2", "CANCEL")).toBe(true);
      cleanPolicy(r);
    },
  },
  {
    name: "callee busy: 486 relayed to the caller, policies removed, zero-length usage",
    options: { topology: fast, calls: [{ ...baseCall, outcome: "busy" }] },
    check(r) {
      expect(r.calls[0]?.finalStatusAtCaller).toBe(486);
      expect(has(r.records, "SIP1", "UAC", "486 Busy Here")).toBe(true);
      expect(has(r.records, "SIP1", "UAC", "ACK")).toBe(false);
      expect(r.cdrs.map((c) => c.durationS)).toEqual([0, 0]);
      cleanPolicy(r);
    },
  },
  {
    name: "callee declines: 603",
    options: { topology: fast, calls: [{ ...baseCall, outcome: "decline" }] },
    check(r) {
      expect(r.calls[0]?.finalStatusAtCaller).toBe(603);
      expect(has(r.records, "SIP1", "UAC", "603 Decline")).toBe(true);
      cleanPolicy(r);
    },
  },
  {
    name: "no answer: the caller gives up after its timeout (CANCEL → 487), installed policies removed",
    options: { topology: fast, calls: [{ ...baseCall, outcome: "no-answer", noAnswerTimeoutMs: 1500 }] },
    check(r) {
      expect(r.calls[0]?.finalStatusAtCaller).toBe(487);
      expect(has(r.records, "UAC", "SIP1", "CANCEL")).toBe(true);
      expect(has(r.records, "POL1", "R1", "DEC Remove")).toBe(true);
      expect(has(r.records, "POL2", "R2", "DEC Remove")).toBe(true);
      expect(r.cdrs.map((c) => c.durationS)).toEqual([0, 0]);
      cleanPolicy(r);
    },
  },
  {
    name: "CANCEL before answer: 487 Request Terminated end to end",
    options: { topology: fast, calls: [{ ...baseCall, outcome: "cancel", cancelAfterMs: 300 }] },
    check(r) {
      expect(r.calls[0]?.finalStatusAtCaller).toBe(487);
      expect(has(r.records, "SIP1", "SIP2", "CANCEL")).toBe(true);
      expect(has(r.records, "SIP2", "UAS", "CANCEL")).toBe(true);
      expect(has(r.records, "UAS", "SIP2", "487 Request Terminated")).toBe(true);
      cleanPolicy(r);
    },
  },
  {
    name: "lossy UDP: the first INVITE, 200 OK and BYE are lost; retransmissions complete the call",
    options: {
      topology: fast,
      calls: [baseCall],
      faults: [
        { kind: "drop", proto: "SIP", msg: "INVITE", from: "UAC", nth: 1 },
        { kind: "drop", proto: "SIP", msg: "200 OK", from: "UAS", nth: 1 },
        { kind: "drop", proto: "SIP", msg: "BYE", from: "SIP1", nth: 1 },
      ],
    },
    check(r) {
      expect(r.calls[0]?.established).toBe(true);
      expect(r.calls[0]?.endedBy).toBe("caller");
      // Timer A: the INVITE went again T1 (500 ms) later.
      expect(r.calls[0]?.setupLatencyMs ?? 0).toBeGreaterThanOrEqual(500);
      expect(count(r.records, "UAC", "SIP1", "INVITE")).toBe(1);
      expect(count(r.records, "UAS", "SIP2", "200 OK")).toBeGreaterThanOrEqual(2);
      expect(r.cdrs).toHaveLength(2);
      cleanPolicy(r);
    },
  },
  {
    name: "originating policy server restarts mid-call: PEPs reconnect and resynchronise, teardown still clean",
    options: { topology: fast, calls: [{ ...baseCall, durationMs: 9000 }], faults: [{ kind: "down", role: "POL1", fromMs: 2000, toMs: 3000 }] },
    check(r) {
      expect(r.calls[0]?.established).toBe(true);
      const opens = r.records.filter((m) => m.from === "SIP1" && m.to === "POL1" && m.msg === "OPN");
      expect(opens.length).toBeGreaterThanOrEqual(2);
      const afterRestart = r.records.filter((m) => m.t >= 3000);
      expect(has(afterRestart, "SIP1", "POL1", "REQ noLDP")).toBe(true);
      expect(has(afterRestart, "POL1", "R1", "DEC Remove")).toBe(true);
      expect(r.cdrs.map((c) => c.role).sort()).toEqual(["destination", "source"]);
      // The restarted server still bills the whole 9 s conversation: REQ noLDP carries the proxy's connected time.
      for (const c of r.cdrs) expect(c.durationS).toBe(9);
      cleanPolicy(r);
    },
  },
];
