// Custom policy adapters through runCalls on both drivers: refusing callers, deciding after an asynchronous
// delay (virtual clock in memory, setTimeout on sockets), and a decision that never comes (refused at its timeout).
import { describe, expect, it } from "vitest";
import { MemoryCdrStore } from "../../../lib/adapters/cdr-store-memory.js";
import { NoClearinghouse } from "../../../lib/adapters/clearinghouse-adapter.js";
import {
  DefaultPolicyAdapter,
  type AaaQuery,
  type AaaVerdict,
  type ClassChoice,
  type ClassQuery,
  type PolicyAdapter,
  type PolicyWireAnswer,
  type PolicyWireExchange,
} from "../../../lib/adapters/policy-adapter.js";
import type { MessageRecord } from "../../../lib/drivers/message-record.js";
import type { FlowNode, NodeAction, NodeEvent } from "../../../lib/drivers/node.js";
import { CallEventBus, type CallEvent } from "../../../lib/flow/call-events.js";
import { runCalls, type CallSpec, type RunOptions } from "../../../lib/flow/run-calls.js";
import { RunClock } from "../../../lib/flow/run-clock.js";
import { checkLadder, splitCall } from "./ladder-helpers.js";

const DRIVERS = ["memory", "net"] as const;

const call = (caller: string, startMs: number): CallSpec => ({ caller, callee: "sip:bob@example.net", startMs, answerDelayMs: 200, durationMs: 400, hangUp: "caller" });

/** Refuses the callers whose user part starts with one of `blocked` (calling numbers), with 403 and a reason. */
class BlockedNumbers extends DefaultPolicyAdapter {
  readonly queries: AaaQuery[] = [];
  constructor(private readonly blocked: string[]) {
    super();
  }
  override decideAaa(q: AaaQuery): AaaVerdict {
    this.queries.push(q);
    const user = /^sips?:([^@]+)@/.exec(q.caller)?.[1] ?? "";
    if (this.blocked.some((prefix) => user.startsWith(prefix))) return { allow: false, sipStatus: 403, reason: `calling number ${user} is blocked` };
    return { allow: true };
  }
}

/** Every decision answered after `delay()` resolves; chooseClass too. */
class DelayedPolicy implements PolicyAdapter {
  readonly inner = new DefaultPolicyAdapter();
  constructor(private readonly delay: () => Promise<void>) {}
  async decideAaa(q: AaaQuery): Promise<AaaVerdict> {
    await this.delay();
    return this.inner.decideAaa(q);
  }
  async chooseClass(q: ClassQuery): Promise<ClassChoice> {
    await this.delay();
    return this.inner.chooseClass(q);
  }
  observeUsage(): void {}
}

const at = (records: MessageRecord[], callId: string, msg: string, from: string): number =>
  records.find((r) => r.callId === callId && r.msg === msg && r.from === from)?.t ?? Number.NaN;

describe.each(DRIVERS)("policy adapters through runCalls (%s driver)", (driver) => {
  it("a policy refusing some calling numbers: those callers get its 403, the others are connected and billed", async () => {
    const policy = new BlockedNumbers(["+1900", "mallory"]);
    const events = new CallEventBus();
    const refusals: CallEvent[] = [];
    events.on("decision", (e) => {
      if (!e.allow) refusals.push(e);
    });
    const result = await runCalls({
      driver,
      policy: { originating: policy },
      events,
      topology: { signedTokens: false },
      calls: [call("sip:alice@example.com", 0), call("sip:+19005551234@example.com", 50), call("sip:mallory@example.com", 100)],
    });
    const [alice, premium, mallory] = result.calls;
    expect(alice?.established).toBe(true);
    expect(premium?.finalStatusAtCaller).toBe(403);
    expect(mallory?.finalStatusAtCaller).toBe(403);
    expect(premium?.established).toBe(false);
    // The full query reaches the adapter: side, caller, callee and the call's media flows.
    expect(policy.queries.map((q) => [q.side, q.caller, q.callee])).toEqual([
      ["originating", "sip:alice@example.com", "sip:bob@example.net"],
      ["originating", "sip:+19005551234@example.com", "sip:bob@example.net"],
      ["originating", "sip:mallory@example.com", "sip:bob@example.net"],
    ]);
    expect(policy.queries[0]?.flows.length).toBeGreaterThan(0);
    // The refusals went through the caller's bus with the adapter's reason: POL1's DEC, then SIP1 refusing the
    // INVITE (POL2 was never asked).
    // Per call, in order; the two refused calls overlap on the socket driver, so their events may interleave.
    const refusalsOf = (callId: string | undefined) =>
      refusals.filter((e) => e.callId === callId).map((e) => e.type === "decision" && [e.callId, e.role, e.reason]);
    expect(refusals).toHaveLength(4);
    expect([...refusalsOf(premium?.callId), ...refusalsOf(mallory?.callId)]).toEqual([
      [premium?.callId, "POL1", "calling number +19005551234 is blocked"],
      [premium?.callId, "SIP1", "calling number +19005551234 is blocked"],
      [mallory?.callId, "POL1", "calling number mallory is blocked"],
      [mallory?.callId, "SIP1", "calling number mallory is blocked"],
    ]);
    expect(result.records.some((r) => r.callId === mallory?.callId && r.to === "POL2")).toBe(false);
    expect(result.cdrs.map((c) => c.callId).sort()).toEqual([alice?.callId, alice?.callId]);
    expect(result.leftovers).toEqual({ classifiers: 0, copsRequestStates: 0, pendingTransactions: 0 });
  });

  it("decisions answered after an asynchronous delay: the call completes and both ladders pass check-ladder", async () => {
    const clock = new RunClock();
    const delayMs = 40;
    // In memory the delay is on the run's virtual clock; on sockets a real setTimeout.
    const delay = driver === "memory" ? () => clock.sleep(delayMs) : () => new Promise<void>((resolve) => setTimeout(resolve, delayMs));
    const options: RunOptions = { driver, policy: new DelayedPolicy(delay), calls: [call("sip:alice@example.com", 0)] };
    if (driver === "memory") options.clock = clock;
    const result = await runCalls(options);
    const only = result.calls[0];
    expect(only?.established).toBe(true);
    expect(only?.endedBy).toBe("caller");
    const callId = only?.callId ?? "";
    const { setup, teardown } = splitCall(result.records, callId);
    const s = checkLadder(setup, "setup");
    expect(s.status, s.output).toBe(0);
    const t = checkLadder(teardown, "teardown");
    expect(t.status, t.output).toBe(0);
    expect(result.cdrs).toHaveLength(2);
    expect(result.leftovers).toEqual({ classifiers: 0, copsRequestStates: 0, pendingTransactions: 0 });
    const req = at(result.records, callId, "REQ AAA", "SIP1");
    const authReq = at(result.records, callId, "AuthorisationRequest", "POL1");
    // Virtual time: POL1 asks the clearinghouse exactly one hop plus the delay after SIP1's REQ AAA; on sockets
    // not before the delay (a timer may fire up to a millisecond early).
    if (driver === "memory") expect(authReq - req).toBe(1 + delayMs);
    else expect(authReq - req).toBeGreaterThanOrEqual(delayMs - 1);
  });

  it("a decision that never comes is refused at the policy timeout with 503 (fail-closed)", async () => {
    const never: PolicyAdapter = {
      decideAaa: () => new Promise<AaaVerdict>(() => {}),
      chooseClass: (q) => new DefaultPolicyAdapter().chooseClass(q),
      observeUsage: () => {},
    };
    const errors: string[] = [];
    const events = new CallEventBus();
    events.on("error", (e) => errors.push(`${e.role}: ${e.message}`));
    const result = await runCalls({
      driver,
      policy: { originating: never },
      events,
      topology: { policyTimeoutMs: 300 },
      calls: [call("sip:alice@example.com", 0)],
    });
    const only = result.calls[0];
    expect(only?.established).toBe(false);
    expect(only?.finalStatusAtCaller).toBe(503);
    expect(errors).toEqual(["POL1: policy decision failed: no decision within 300 ms"]);
    expect(result.cdrs).toEqual([]);
    expect(result.leftovers).toEqual({ classifiers: 0, copsRequestStates: 0, pendingTransactions: 0 });
    if (driver === "memory") {
      const callId = only?.callId ?? "";
      expect(at(result.records, callId, "DEC AAA", "POL1") - at(result.records, callId, "REQ AAA", "SIP1")).toBe(1 + 300);
    }
  });
});

describe("policy adapters on the memory driver", () => {
  it("a decision that settles at once (an async function that waits on nothing) gives the same run as a synchronous one", async () => {
    const run = (policy: PolicyAdapter) => runCalls({ driver: "memory", policy, calls: [call("sip:alice@example.com", 0), call("sip:carol@example.com", 30)] });
    const sync = await run(new DefaultPolicyAdapter());
    const async = await run(new DelayedPolicy(() => Promise.resolve()));
    const ladder = (records: MessageRecord[]) => records.map((r) => `${r.t} ${r.proto} ${r.from}>${r.to} ${r.msg}`);
    expect(ladder(async.records)).toEqual(ladder(sync.records));
    expect(async.cdrs).toHaveLength(4);
  });

  it("a rejected decision refuses the call with 503 and names the failure", async () => {
    const failing = new DelayedPolicy(() => Promise.reject(new Error("authoriser unreachable")));
    const errors: string[] = [];
    const events = new CallEventBus();
    events.on("error", (e) => errors.push(`${e.role}: ${e.message}`));
    const result = await runCalls({ driver: "memory", policy: { terminating: failing }, events, calls: [call("sip:alice@example.com", 0)] });
    expect(result.calls[0]?.finalStatusAtCaller).toBe(503);
    expect(errors).toContain("POL2: policy decision failed: authoriser unreachable");
    expect(result.leftovers).toEqual({ classifiers: 0, copsRequestStates: 0, pendingTransactions: 0 });
  });
});

/** A remote authoriser on the memory network: answers an Access-Request after `delayMs` of virtual time, or never. */
class AuthoriserNode implements FlowNode<CallEvent> {
  readonly name = "AUTH";
  readonly asked: string[] = [];
  private readonly waiting = new Map<string, { from: string; callId: string; correlation: string; caller: string }>();
  constructor(private readonly delayMs: number | "never") {}
  handle(ev: NodeEvent): NodeAction<CallEvent>[] {
    if (ev.type === "deliver") {
      const req = JSON.parse(ev.bytes.toString()) as { correlation: string; caller: string };
      this.asked.push(req.caller);
      if (this.delayMs === "never") return [];
      this.waiting.set(req.correlation, { from: ev.from, callId: ev.callId ?? "", ...req });
      return [{ type: "set-timer", key: req.correlation, delayMs: this.delayMs }];
    }
    if (ev.type !== "timer") return [];
    const req = this.waiting.get(ev.key);
    if (req === undefined) return [];
    this.waiting.delete(ev.key);
    const allow = !req.caller.includes("mallory");
    const bytes = Buffer.from(JSON.stringify({ correlation: req.correlation, allow }));
    return [{ type: "send", proto: "RADIUS", to: req.from, bytes, label: allow ? "Access-Accept" : "Access-Reject", callId: req.callId }];
  }
}

/** Asks AUTH in one RADIUS-labelled message per call (a wire exchange); chooses the class at once. */
class WireAuthoriser implements PolicyAdapter {
  private next = 1;
  private readonly defaults = new DefaultPolicyAdapter();
  decideAaa(q: AaaQuery): PolicyWireExchange {
    const correlation = `auth-${this.next++}`;
    return { kind: "wire", proto: "RADIUS", to: "AUTH", label: "Access-Request", correlation, bytes: Buffer.from(JSON.stringify({ correlation, caller: q.caller })) };
  }
  decodeAnswer(bytes: Buffer): PolicyWireAnswer {
    const answer = JSON.parse(bytes.toString()) as { correlation: string; allow: boolean };
    return { correlation: answer.correlation, result: answer.allow ? { allow: true } : { allow: false, sipStatus: 403, reason: "refused by AUTH" } };
  }
  chooseClass(q: ClassQuery): ClassChoice {
    return this.defaults.chooseClass(q);
  }
  observeUsage(): void {}
}

describe("policy decisions asked on the wire (memory driver, a simulated authoriser)", () => {
  it("answered after 25 virtual ms: alice connected (ladders pass check-ladder), mallory refused with the answer's 403", async () => {
    const auth = new AuthoriserNode(25);
    const result = await runCalls({
      driver: "memory",
      policy: { originating: new WireAuthoriser() },
      services: [auth],
      calls: [call("sip:alice@example.com", 0), call("sip:mallory@example.com", 50)],
    });
    const [alice, mallory] = result.calls;
    expect(alice?.established).toBe(true);
    expect(mallory?.finalStatusAtCaller).toBe(403);
    expect(auth.asked).toEqual(["sip:alice@example.com", "sip:mallory@example.com"]);
    const aliceId = alice?.callId ?? "";
    const { setup, teardown } = splitCall(result.records, aliceId);
    const s = checkLadder(setup, "setup");
    expect(s.status, s.output).toBe(0);
    const t = checkLadder(teardown, "teardown");
    expect(t.status, t.output).toBe(0);
    // One hop to AUTH, its 25 ms, one hop back: then POL1 goes on to the clearinghouse.
    expect(at(result.records, aliceId, "AuthorisationRequest", "POL1") - at(result.records, aliceId, "Access-Request", "POL1")).toBe(1 + 25 + 1);
    expect(result.records.filter((r) => r.proto === "RADIUS").map((r) => `${r.from}>${r.to} ${r.msg}`)).toEqual([
      "POL1>AUTH Access-Request", "AUTH>POL1 Access-Accept", "POL1>AUTH Access-Request", "AUTH>POL1 Access-Reject",
    ]);
    expect(result.cdrs.map((c) => c.callId)).toEqual([aliceId, aliceId]);
    expect(result.leftovers).toEqual({ classifiers: 0, copsRequestStates: 0, pendingTransactions: 0 });
  });

  it("an authoriser that never answers: refused with 503 at the policy timeout", async () => {
    const result = await runCalls({
      driver: "memory",
      policy: { originating: new WireAuthoriser() },
      services: [new AuthoriserNode("never")],
      topology: { policyTimeoutMs: 400 },
      calls: [call("sip:alice@example.com", 0)],
    });
    const callId = result.calls[0]?.callId ?? "";
    expect(result.calls[0]?.finalStatusAtCaller).toBe(503);
    expect(at(result.records, callId, "DEC AAA", "POL1") - at(result.records, callId, "Access-Request", "POL1")).toBe(400);
    expect(result.leftovers).toEqual({ classifiers: 0, copsRequestStates: 0, pendingTransactions: 0 });
  });

  it("services are refused on the socket driver, which has no transport to them", async () => {
    await expect(runCalls({ driver: "net", services: [new AuthoriserNode(1)], calls: [] })).rejects.toThrow(/memory driver only/);
  });
});

describe("runCalls' other adapters (memory driver)", () => {
  it("the caller's CDR store receives the clearinghouse's records", async () => {
    const store = new MemoryCdrStore();
    const result = await runCalls({ driver: "memory", cdrStore: store, calls: [call("sip:alice@example.com", 0)] });
    const stored = await store.query();
    expect(stored.map((r) => r.role).sort()).toEqual(["destination", "source"]);
    expect(result.cdrs).toHaveLength(2);
  });

  it("clearinghouse adapters per side: with NoClearinghouse on both, no OSP message is sent and usage is reported locally", async () => {
    const usage: string[] = [];
    const events = new CallEventBus();
    events.on("usage", (e) => usage.push(`${e.role} ${e.reported}`));
    const result = await runCalls({
      driver: "memory",
      clearinghouse: { originating: new NoClearinghouse(), terminating: new NoClearinghouse() },
      events,
      calls: [call("sip:alice@example.com", 0)],
    });
    expect(result.calls[0]?.established).toBe(true);
    expect(result.records.filter((r) => r.proto === "OSP")).toEqual([]);
    expect(usage.sort()).toEqual(["POL1 local", "POL2 local"]);
  });
});
