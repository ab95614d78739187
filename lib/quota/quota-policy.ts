// The quota PolicyAdapter: at REQ AAA a call is counted under each rule's subject, or refused when a counter
// of its period has reached the rule's limit (the SIP status and Reason the caller sees, RFC 3326); an admitted
// call's remaining seconds become its time limit (DEC AAA TimeLimit: the proxy sends BYE both ways when it
// runs out). Ended calls add their seconds and the routers' octet counts. Class choices go to `inner`.
import {
  DefaultPolicyAdapter,
  isPendingDecision,
  type AaaQuery,
  type AaaVerdict,
  type CallSide,
  type ClassChoice,
  type ClassQuery,
  type Decision,
  type PolicyAdapter,
  type UsageObservation,
} from "../adapters/policy-adapter.js";
import { periodWindow } from "./periods.js";
import { callSubjects, subjectKey, type QuotaConfig } from "./rules.js";
import type { QuotaCheck, QuotaCounterKey, QuotaStore } from "./store.js";

/** Rules, counter store, clock, the sides it counts and the inner adapter of the quota policy adapter. */
export interface QuotaPolicyOptions {
  config: QuotaConfig;
  store: QuotaStore;
  /** Epoch ms now; periods are taken at this instant (default Date.now). */
  clock?: () => number;
  /** Sides whose policy server counts and limits (default the originating side: a call counts once). */
  sides?: CallSide[];
  /** Decides first, and chooses classes (default DefaultPolicyAdapter). */
  inner?: PolicyAdapter;
}

/** The identity a call is counted under on one side: the same call asked again counts once. */
const eventKey = (callId: string, side: CallSide, what: "attempt" | "usage"): string => `${callId}|${side}|${what}`;

export class QuotaPolicyAdapter implements PolicyAdapter {
  private readonly clock: () => number;
  private readonly sides: CallSide[];
  private readonly inner: PolicyAdapter;
  /** Counter rows of the calls admitted and not ended yet, by call and side. */
  private readonly admitted = new Map<string, QuotaCounterKey[]>();
  /** Refusals by rule name, since this adapter was made. */
  readonly refusals = new Map<string, number>();

  constructor(private readonly opts: QuotaPolicyOptions) {
    this.clock = opts.clock ?? Date.now;
    this.sides = opts.sides ?? ["originating"];
    this.inner = opts.inner ?? new DefaultPolicyAdapter();
  }

  decideAaa(q: AaaQuery): Decision<AaaVerdict> {
    if (!this.sides.includes(q.side)) return this.inner.decideAaa(q);
    const first = this.inner.decideAaa(q);
    if (isPendingDecision(first)) return Promise.resolve(first).then((v) => (v.allow ? this.decideQuota(q, v) : v));
    if ("kind" in first) throw new Error("QuotaPolicyAdapter: an inner adapter deciding on the wire is not supported");
    return first.allow ? this.decideQuota(q, first) : first;
  }

  private async decideQuota(q: AaaQuery, innerVerdict: AaaVerdict): Promise<AaaVerdict> {
    const at = this.clock();
    const subjects = callSubjects(q);
    const checks: QuotaCheck[] = [];
    const rules = [];
    for (const rule of this.opts.config.rules) {
      const subject = subjectKey(rule, subjects);
      if (subject === undefined) continue;
      const w = periodWindow(rule.period, at, this.opts.config.timeZone);
      checks.push({ key: { rule: rule.name, subject, period: rule.period, periodKey: w.key }, limits: rule.limits });
      rules.push(rule);
    }
    if (checks.length === 0) return innerVerdict;
    const result = await this.opts.store.admit(eventKey(q.callId, q.side, "attempt"), checks, at);
    if (!result.admitted) {
      const rule = rules[result.check]!;
      this.refusals.set(rule.name, (this.refusals.get(rule.name) ?? 0) + 1);
      return {
        allow: false,
        sipStatus: rule.sipStatus ?? 403,
        reason: rule.reason ?? `quota ${rule.name}: ${result.counter} ${result.used} of ${result.limit} per ${rule.period}`,
      };
    }
    this.admitted.set(`${q.callId}|${q.side}`, checks.map((c) => c.key));
    // The remaining allowance of seconds, the least over the rules that limit them.
    let remaining: number | undefined = innerVerdict.timeLimitS;
    result.counters.forEach((c, i) => {
      const limit = checks[i]!.limits.seconds;
      if (limit === undefined) return;
      const left = Math.max(1, limit - c.seconds);
      if (remaining === undefined || left < remaining) remaining = left;
    });
    return remaining === undefined ? { ...innerVerdict, allow: true } : { ...innerVerdict, allow: true, timeLimitS: remaining };
  }

  chooseClass(q: ClassQuery): Decision<ClassChoice> {
    return this.inner.chooseClass(q);
  }

  /**
   * Adds the ended call's usage to the rows its attempt was counted on. The store is asked before this returns
   * (no await ahead of it), so a driver that runs on without yielding finds the counters already changed.
   */
  observeUsage(u: UsageObservation): void | PromiseLike<void> {
    const innerDone = this.inner.observeUsage(u);
    if (!this.sides.includes(u.side)) return innerDone;
    const id = `${u.callId}|${u.side}`;
    const rows = this.admitted.get(id);
    this.admitted.delete(id);
    const usageKey = eventKey(u.callId, u.side, "usage");
    const delta = { established: u.durationS > 0 ? 1 : 0, seconds: Math.ceil(u.durationS), octets: u.octets };
    const at = this.clock();
    const added = rows
      ? this.opts.store.add(usageKey, rows, delta, at)
      : // admitted before this process restarted: the rows its attempt was counted on, from the store
        this.opts.store.rowsOf(eventKey(u.callId, u.side, "attempt")).then((r) => (r.length > 0 ? this.opts.store.add(usageKey, r, delta, at) : false));
    return Promise.all([innerDone, added]).then(() => undefined);
  }

  /** Calls admitted whose usage has not come yet. */
  get callsInProgress(): number {
    return this.admitted.size;
  }
}
