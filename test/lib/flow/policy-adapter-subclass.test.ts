// A consumer's subclass of DefaultPolicyAdapter whose decisions are async methods (imported as a user imports
// them, from the package's entry point): it refuses a suspended caller after asking for a while, lets the
// others through with the defaults, and the connected call's ladder passes check-ladder on both drivers.
import { describe, expect, it } from "vitest";
import {
  CallEventBus,
  DefaultPolicyAdapter,
  RunClock,
  runCalls,
  type AaaQuery,
  type AaaVerdict,
  type CallEvent,
  type CallSpec,
  type ClassChoice,
  type ClassQuery,
  type RunOptions,
} from "../../../lib/index.js";
import { checkLadder, splitCall } from "./ladder-helpers.js";

const DELAY_MS = 30;

/** Asks a (simulated) remote account service for `DELAY_MS` before each decision; suspended callers get 403. */
class SuspendedAccounts extends DefaultPolicyAdapter {
  readonly aaaAsked: string[] = [];
  readonly classAsked: string[] = [];
  constructor(
    private readonly suspended: ReadonlySet<string>,
    private readonly wait: () => Promise<void>,
  ) {
    super();
  }

  override async decideAaa(q: AaaQuery): Promise<AaaVerdict> {
    this.aaaAsked.push(q.caller);
    await this.wait();
    if (this.suspended.has(q.caller)) return { allow: false, sipStatus: 403, reason: `account of ${q.caller} is suspended` };
    return this.defaultVerdict(q);
  }

  override async chooseClass(q: ClassQuery): Promise<ClassChoice> {
    this.classAsked.push(q.router);
    await this.wait();
    return this.defaultClass(q);
  }
}

const call = (caller: string, startMs: number): CallSpec => ({ caller, callee: "sip:bob@example.net", startMs, answerDelayMs: 200, durationMs: 400, hangUp: "caller" });

describe.each(["memory", "net"] as const)("a DefaultPolicyAdapter subclass with async decisions (%s driver)", (driver) => {
  it("refuses the suspended caller with its 403 and reason; the other call connects, is billed, and its ladder passes check-ladder", async () => {
    const clock = new RunClock();
    // In memory the wait is on the run's virtual clock; on sockets a real timer.
    const wait = driver === "memory" ? () => clock.sleep(DELAY_MS) : () => new Promise<void>((resolve) => setTimeout(resolve, DELAY_MS));
    const policy = new SuspendedAccounts(new Set(["sip:mallory@example.com"]), wait);
    const events = new CallEventBus();
    const refusals: CallEvent[] = [];
    events.on("decision", (e) => {
      if (!e.allow) refusals.push(e);
    });
    const options: RunOptions = { driver, policy: { originating: policy }, events, calls: [call("sip:alice@example.com", 0), call("sip:mallory@example.com", 100)] };
    if (driver === "memory") options.clock = clock;
    const result = await runCalls(options);

    const [alice, mallory] = result.calls;
    expect(alice?.established).toBe(true);
    expect(alice?.endedBy).toBe("caller");
    expect(mallory?.established).toBe(false);
    expect(mallory?.finalStatusAtCaller).toBe(403);
    expect(policy.aaaAsked).toEqual(["sip:alice@example.com", "sip:mallory@example.com"]);
    // Only the connected call reached LDP at POL1's router.
    expect(policy.classAsked).toEqual(["R1"]);
    expect(refusals.filter((e) => e.type === "decision" && e.role === "POL1").map((e) => e.type === "decision" && [e.callId, e.reason])).toEqual([
      [mallory?.callId, "account of sip:mallory@example.com is suspended"],
    ]);
    // The refused call never reached the callee's side.
    expect(result.records.some((r) => r.callId === mallory?.callId && r.to === "POL2")).toBe(false);

    const { setup, teardown } = splitCall(result.records, alice?.callId ?? "");
    const s = checkLadder(setup, "setup");
    expect(s.status, s.output).toBe(0);
    const t = checkLadder(teardown, "teardown");
    expect(t.status, t.output).toBe(0);
    expect(result.cdrs.map((c) => c.callId)).toEqual([alice?.callId, alice?.callId]);
    expect(result.leftovers).toEqual({ classifiers: 0, copsRequestStates: 0, pendingTransactions: 0 });
  });
});
