// A policy adapter that limits concurrent sessions per entity (the caller, its groups, its realm) through a
// session counter: REQ AAA asks the counter, the call's end (or a refused or failed setup) releases the session.
// A refusal names the entity at its limit in the SIP Reason the caller gets.
import { Gauge } from "prom-client";
import { DefaultPolicyAdapter, isPendingDecision, isWireDecision } from "../adapters/policy-adapter.js";
import type { AaaQuery, AaaVerdict, CallSide, ClassChoice, ClassQuery, Decision, PolicyAdapter, ProgressObservation, ProgressVerdict, UsageObservation } from "../adapters/policy-adapter.js";
import type { RoleMetrics } from "../observability/metrics.js";
import type { CounterDecision, EntityStats, SessionCounter } from "./session-counter.js";

/** Which entities a party counts against, besides itself (`user <address>`). */
export interface MembershipRules {
  /** Groups by user address (`alice@example.net` → `["gold"]`), as `group <name>`. */
  groups?: Readonly<Record<string, readonly string[]>>;
  /** Count the host part as `realm <host>` (default true). */
  realms?: boolean;
}

/** The counter, inner adapter, sides, membership rules, identity and refusal statuses of a SessionLimitPolicy. */
export interface SessionLimitPolicyOptions {
  counter: SessionCounter;
  /** Decides everything else, and AAA once the counter granted (default: DefaultPolicyAdapter). */
  inner?: PolicyAdapter;
  /** The sides whose calls are counted: the caller's entities on the originating side, the callee's on the terminating (default originating). */
  sides?: readonly CallSide[];
  membership?: MembershipRules;
  /** This policy server's identity and port, kept with each session (connection identity). */
  server: string;
  port: number;
  /** SIP status of a refusal at a limit (default 403) and when the counter cannot decide (default 503). */
  limitStatus?: number;
  unreachableStatus?: number;
}

/** `sip:alice@example.net:5061;transport=tcp`, `"Alice" <sips:alice@example.net>` → `alice@example.net`. */
export function addressOf(uri: string): string {
  const inAngles = /<([^>]*)>/.exec(uri);
  let a = (inAngles ? inAngles[1] : uri) as string;
  a = a.trim().replace(/^sips?:/i, "");
  const cut = a.search(/[;?]/);
  if (cut >= 0) a = a.slice(0, cut);
  return a.replace(/:\d+$/, "").toLowerCase();
}

/** The entities a party counts against: `user <address>`, `group <name>` for each group, `realm <host>`. */
export function entitiesOf(uri: string, rules: MembershipRules = {}): string[] {
  const address = addressOf(uri);
  const out = [`user ${address}`];
  for (const g of rules.groups?.[address] ?? []) out.push(`group ${g}`);
  const at = address.lastIndexOf("@");
  if ((rules.realms ?? true) && at >= 0) out.push(`realm ${address.slice(at + 1)}`);
  return out;
}

const CAUSE_TEXT: Record<string, string> = {
  limit: "at its session limit",
  unreachable: "session counter unreachable",
  timeout: "session counter did not answer",
  ended: "call ended before its session was granted",
};

interface Counted {
  entities: string[];
  /** granted: counting; pending: asked; ended: the call ended while asked (released once granted). */
  state: "pending" | "granted" | "ended";
}

export class SessionLimitPolicy implements PolicyAdapter {
  private readonly inner: PolicyAdapter;
  private readonly sides: readonly CallSide[];
  private readonly sessions = new Map<string, Counted>();

  constructor(private readonly opts: SessionLimitPolicyOptions) {
    this.inner = opts.inner ?? new DefaultPolicyAdapter();
    this.sides = opts.sides ?? ["originating"];
  }

  /** Sessions this policy server counts now (granted, not yet released). */
  get counting(): number {
    let n = 0;
    for (const s of this.sessions.values()) if (s.state === "granted") n++;
    return n;
  }

  decideAaa(q: AaaQuery): Decision<AaaVerdict> {
    if (!this.sides.includes(q.side)) return this.inner.decideAaa(q);
    const sessionId = `${q.callId}/${q.side}`;
    const entities = entitiesOf(q.side === "originating" ? q.caller : q.callee, this.opts.membership);
    const counted: Counted = { entities, state: "pending" };
    this.sessions.set(sessionId, counted);
    const decided = this.opts.counter.authorise({ sessionId, entities, server: this.opts.server, port: this.opts.port });
    if (isPendingDecision(decided)) return Promise.resolve(decided).then((d) => this.afterCounter(sessionId, counted, d, q));
    return this.afterCounter(sessionId, counted, decided, q);
  }

  chooseClass(q: ClassQuery): Decision<ClassChoice> {
    return this.inner.chooseClass(q);
  }

  observeUsage(u: UsageObservation): void | PromiseLike<void> {
    return this.inner.observeUsage(u);
  }

  /** The inner adapter's watch of calls in progress (an octet quota), passed through. */
  get progressIntervalS(): number | undefined {
    return this.inner.progressIntervalS;
  }

  observeProgress(p: ProgressObservation): ProgressVerdict | PromiseLike<ProgressVerdict> | void {
    return this.inner.observeProgress?.(p);
  }

  callEnded(c: { callId: string; side: CallSide; now: number }): void {
    this.inner.callEnded?.(c);
    const sessionId = `${c.callId}/${c.side}`;
    const counted = this.sessions.get(sessionId);
    if (counted === undefined) {
      if (!this.sides.includes(c.side)) return;
      // Granted before this process restarted: a DSC rebuilt it from its authorities' records and releases it by id.
      const r = this.opts.counter.release(sessionId, []);
      if (isPendingDecision(r)) r.then(undefined, () => undefined);
      return;
    }
    if (counted.state === "pending") {
      counted.state = "ended";
      return;
    }
    this.release(sessionId, counted);
  }

  /** Registers per-entity gauges (active, granted, refused, over-subscribed) on a role's metrics registry. */
  registerMetrics(metrics: RoleMetrics): void {
    registerSessionCounterMetrics(metrics, () => this.opts.counter.entityStats());
  }

  private afterCounter(sessionId: string, counted: Counted, d: CounterDecision, q: AaaQuery): AaaVerdict | PromiseLike<AaaVerdict> {
    if (!d.granted) {
      // Undecided is not uncounted: a counter that failed to answer may have counted it (released, idempotent).
      if (d.cause !== "limit") this.release(sessionId, counted);
      this.sessions.delete(sessionId);
      const status = d.cause === "limit" ? (this.opts.limitStatus ?? 403) : (this.opts.unreachableStatus ?? 503);
      return { allow: false, sipStatus: status, reason: `${d.entity} ${CAUSE_TEXT[d.cause] ?? d.cause}` };
    }
    if (counted.state === "ended") {
      // The call was gone before the grant came: nothing to hold.
      this.release(sessionId, counted);
      return { allow: false, sipStatus: this.opts.unreachableStatus ?? 503, reason: CAUSE_TEXT.ended };
    }
    counted.state = "granted";
    // The inner policy has the last word; its refusal releases the session at once.
    const inner = this.inner.decideAaa(q);
    if (isWireDecision(inner)) throw new Error("SessionLimitPolicy cannot wrap a policy that decides on the wire");
    const refuseReleases = (v: AaaVerdict): AaaVerdict => {
      if (!v.allow) this.release(sessionId, counted);
      return v;
    };
    if (isPendingDecision(inner)) return Promise.resolve(inner).then(refuseReleases);
    return refuseReleases(inner);
  }

  private release(sessionId: string, counted: Counted): void {
    this.sessions.delete(sessionId);
    const r = this.opts.counter.release(sessionId, counted.entities);
    if (isPendingDecision(r)) r.then(undefined, () => undefined);
  }
}

/** Gauges by entity, sampled from `source` at each scrape. */
export function registerSessionCounterMetrics(metrics: RoleMetrics, source: () => Iterable<[string, EntityStats]> | PromiseLike<Iterable<[string, EntityStats]>>): void {
  const registers = [metrics.registry];
  const fields: [keyof EntityStats, string, string][] = [
    ["active", "callgate_session_entity_active", "Sessions active per entity (the authoritative count, or this counter's view of it)"],
    ["granted", "callgate_session_entity_granted", "Sessions granted per entity by this counter"],
    ["refused", "callgate_session_entity_refused", "Sessions refused per entity by this counter"],
    ["overSubscribed", "callgate_session_entity_over_subscribed", "Times an entity was found above its global threshold"],
  ];
  for (const [field, name, help] of fields) {
    new Gauge({
      name,
      help,
      labelNames: ["entity"],
      registers,
      async collect() {
        this.reset();
        for (const [entity, stats] of await source()) this.set({ entity }, stats[field]);
      },
    });
  }
}
