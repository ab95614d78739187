// The quota PolicyAdapter: at REQ AAA a call is counted under each rule's subject, or refused when a counter
// of its period has reached the rule's limit (the SIP status and Reason the caller sees, RFC 3326); an admitted
// call's remaining seconds become its time limit (DEC AAA TimeLimit: the proxy sends BYE both ways when it
// runs out). Ended calls add their seconds and the routers' octet counts. An octet limit also ends calls in
// progress: the routers' accounting reports (every `progressIntervalS`) are added to what the subject's ended
// calls used, and a subject at its limit has its calls ended as a time limit ends them. Class choices go to `inner`.
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
  type ProgressObservation,
  type ProgressVerdict,
  type UsageObservation,
} from "../adapters/policy-adapter.js";
import { periodWindow } from "./periods.js";
import { callSubjects, subjectKey, type QuotaConfig, type QuotaRule } from "./rules.js";
import { rowKey, type QuotaCheck, type QuotaCounterKey, type QuotaStore } from "./store.js";

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
  /**
   * Seconds between the routers' counts of the calls in progress, when a rule limits octets (default the rules
   * file's `progressIntervalS`, else 5): how late past an octet limit a call may be ended.
   */
  progressIntervalS?: number;
}

/** A call admitted and not ended: the rows it is counted on, its rules, and the octets the router counted so far. */
interface AdmittedCall {
  rows: QuotaCounterKey[];
  rules: QuotaRule[];
  octets: number;
}

const hasOctetLimit = (call: AdmittedCall): boolean => call.rules.some((r) => r.limits.octets !== undefined);

/** The identity a call is counted under on one side: the same call asked again counts once. */
const eventKey = (callId: string, side: CallSide, what: "attempt" | "usage"): string => `${callId}|${side}|${what}`;

export class QuotaPolicyAdapter implements PolicyAdapter {
  private readonly clock: () => number;
  private readonly sides: CallSide[];
  private readonly inner: PolicyAdapter;
  /** The calls admitted and not ended yet, by call and side. */
  private readonly admitted = new Map<string, AdmittedCall>();
  /** The calls in progress on each row an octet limit applies to (by rowKey), for their counts so far. */
  private readonly liveByRow = new Map<string, Set<AdmittedCall>>();
  /** Seconds between the routers' counts of calls in progress; set when a rule limits octets. */
  readonly progressIntervalS: number | undefined;
  /** Whether a rule limits octets. */
  private readonly octetRules: boolean;
  /** Calls in progress found under no rule (not admitted by this process, no attempt in the store), until they end. */
  private readonly notCounted = new Set<string>();
  /** Refusals by rule name, since this adapter was made. */
  readonly refusals = new Map<string, number>();

  constructor(private readonly opts: QuotaPolicyOptions) {
    this.clock = opts.clock ?? Date.now;
    this.sides = opts.sides ?? ["originating"];
    this.inner = opts.inner ?? new DefaultPolicyAdapter();
    this.octetRules = opts.config.rules.some((r) => r.limits.octets !== undefined);
    this.progressIntervalS = this.octetRules ? (opts.progressIntervalS ?? opts.config.progressIntervalS ?? 5) : opts.inner?.progressIntervalS;
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
    const call: AdmittedCall = { rows: checks.map((c) => c.key), rules, octets: 0 };
    this.admitted.set(`${q.callId}|${q.side}`, call);
    this.joinRows(call);
    // Octets a second at the bandwidth the offer's flows ask for (both ways): an octet allowance as time.
    let bytesPerS = 0;
    for (const f of q.flows) bytesPerS += (f.bandwidthKbps * 1000) / 8;
    // The remaining allowance as time, the least over the rules: seconds left, and octets left at that bandwidth.
    let remaining: number | undefined = innerVerdict.timeLimitS;
    result.counters.forEach((c, i) => {
      const { seconds, octets } = checks[i]!.limits;
      const lefts: number[] = [];
      if (seconds !== undefined) lefts.push(Math.max(1, seconds - c.seconds));
      if (octets !== undefined && bytesPerS > 0) lefts.push(Math.max(1, Math.floor((octets - c.octets) / bytesPerS)));
      for (const left of lefts) if (remaining === undefined || left < remaining) remaining = left;
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
    const call = this.admitted.get(id);
    this.admitted.delete(id);
    this.notCounted.delete(id);
    if (call) this.leaveRows(call);
    const rows = call?.rows;
    const usageKey = eventKey(u.callId, u.side, "usage");
    const delta = { established: u.durationS > 0 ? 1 : 0, seconds: Math.ceil(u.durationS), octets: u.octets };
    const at = this.clock();
    const added = rows
      ? this.opts.store.add(usageKey, rows, delta, at)
      : // admitted before this process restarted: the rows its attempt was counted on, from the store
        this.opts.store.rowsOf(eventKey(u.callId, u.side, "attempt")).then((r) => (r.length > 0 ? this.opts.store.add(usageKey, r, delta, at) : false));
    return Promise.all([innerDone, added]).then(() => undefined);
  }

  private leaveRows(call: AdmittedCall): void {
    for (const row of call.rows) {
      const k = rowKey(row);
      const live = this.liveByRow.get(k);
      if (live?.delete(call) && live.size === 0) this.liveByRow.delete(k);
    }
  }

  /**
   * A call in progress as the router counts it: ended (the verdict `end`) when a row it is counted on has reached
   * its octet limit with what the subject's ended calls used and what its calls in progress have used so far. A
   * call admitted before this process restarted is found by the rows its attempt was counted on.
   */
  observeProgress(p: ProgressObservation): ProgressVerdict | Promise<ProgressVerdict> {
    const inner = this.inner.observeProgress?.(p);
    const id = `${p.callId}|${p.side}`;
    const known = this.sides.includes(p.side) ? this.admitted.get(id) : undefined;
    const mayAdopt = known === undefined && this.sides.includes(p.side) && this.octetRules && !this.notCounted.has(id);
    if ((known === undefined || !hasOctetLimit(known)) && !mayAdopt) return isPendingDecision(inner) ? Promise.resolve(inner).then((v) => v ?? { end: false }) : (inner ?? { end: false });
    return (async () => {
      const first = await inner;
      if (first?.end) return first;
      const call = known ?? (await this.adopt(p.callId, p.side));
      if (call === undefined) return { end: false };
      call.octets = p.octets;
      for (let i = 0; i < call.rows.length; i++) {
        const row = call.rows[i]!;
        const rule = call.rules[i]!;
        const limit = rule.limits.octets;
        if (limit === undefined) continue;
        const [stored] = await this.opts.store.list(row);
        let used = stored?.octets ?? 0;
        for (const live of this.liveByRow.get(rowKey(row)) ?? []) used += live.octets;
        if (used >= limit) return { end: true, reason: rule.reason ?? `quota ${rule.name}: octets ${used} of ${limit} per ${rule.period}` };
      }
      return { end: false };
    })();
  }

  /** A call in progress this adapter did not admit (it restarted): the rows of its attempt, from the store. */
  private async adopt(callId: string, side: CallSide): Promise<AdmittedCall | undefined> {
    const id = `${callId}|${side}`;
    const rows = await this.opts.store.rowsOf(eventKey(callId, side, "attempt"));
    const again = this.admitted.get(id);
    if (again !== undefined) return again;
    const kept: QuotaCounterKey[] = [];
    const rules: QuotaRule[] = [];
    for (const row of rows) {
      const rule = this.opts.config.rules.find((r) => r.name === row.rule);
      if (rule === undefined) continue; // a rule no longer in the file
      kept.push(row);
      rules.push(rule);
    }
    if (kept.length === 0) {
      this.notCounted.add(id);
      return undefined;
    }
    const call: AdmittedCall = { rows: kept, rules, octets: 0 };
    this.admitted.set(id, call);
    this.joinRows(call);
    return call;
  }

  private joinRows(call: AdmittedCall): void {
    call.rows.forEach((row, i) => {
      if (call.rules[i]!.limits.octets === undefined) return;
      const k = rowKey(row);
      let live = this.liveByRow.get(k);
      if (live === undefined) this.liveByRow.set(k, (live = new Set()));
      live.add(call);
    });
  }

  /** Calls admitted whose usage has not come yet. */
  get callsInProgress(): number {
    return this.admitted.size;
  }
}
