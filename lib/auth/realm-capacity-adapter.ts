// Realm capacity sharing for calls: the adapter form of what `callgate radius-proxy` does for NAS clients. The
// caller's realm (From, sip:user@realm) names its provider: the master's own realms go straight to the wrapped
// policy; a client provider's call must fit the capacity rented to it (concurrent calls as ports, connection time
// per period, credit, suspension) before the wrapped policy decides; an unknown realm is refused. Accounting is
// kept twice: the master's records under the provider's virtual identity, the provider's under the subscriber's,
// each through its own sink (e.g. lib/accounting's AccountingExporter, which spools them durably first).
import type { AaaQuery, AaaVerdict, CallSide, ClassChoice, ClassQuery, Decision, PolicyAdapter, PolicyWireAnswer, UsageObservation } from "../adapters/policy-adapter.js";
import { isPendingDecision, isWireDecision } from "../adapters/policy-adapter.js";
import type { AccountingRecord } from "../accounting/records.js";
import { CapacityLedger, type JournalEvent, type RentedCapacity, type StopEvent } from "./capacity-ledger.js";
import { splitUserRealm } from "./realm-table.js";

/** Where accounting records go (e.g. an AccountingExporter). */
export interface AccountingSink {
  /** Takes records to export. */
  submit(records: AccountingRecord[]): unknown;
}

/** A client provider in the policy server's view: realms, virtual identity, rented capacity, accounting. */
export interface CallProvider {
  name: string;
  realms: string[];
  virtualIdentity: { user: string };
  capacity: RentedCapacity;
  /** The provider's own accounting (records per subscriber). */
  accounting?: AccountingSink;
}

/** Master realms, client providers and accounting of a RealmCapacityPolicyAdapter. */
export interface RealmCapacityPolicyOptions {
  masterRealms: string[];
  clients: CallProvider[];
  /** The master's accounting (records per client provider, under its virtual identity). */
  masterAccounting?: AccountingSink;
  /**
   * Made durable by the caller before it returns, or before the promise it returns resolves (a CapacityJournal,
   * replayed into the `ledger` given here when the process starts again: the calls it holds open are this adapter's
   * again, their ends free their ports). A call's verdict waits for its start; a rejection refuses the call (503).
   */
  onJournal?: (event: JournalEvent) => void | PromiseLike<void>;
  /** A call allowed whose usage never came is closed this long after it started (default 4 h). */
  maxCallMs?: number;
  ledger?: CapacityLedger;
}

const REFUSAL_STATUS = { ports: 503, time: 403, credit: 403, suspended: 403 } as const;

/** The realm of a SIP URI's user part ("sip:alice@isp-b.example;x" → alice, isp-b.example). */
function userRealmOf(uri: string): { user: string; realm: string } | undefined {
  const m = /^sips?:([^;?>]+)/i.exec(uri.replace(/^.*</, ""));
  return m ? splitUserRealm(m[1]!) : undefined;
}

export class RealmCapacityPolicyAdapter implements PolicyAdapter {
  readonly ledger: CapacityLedger;
  readonly decodeAnswer?: (bytes: Buffer, from: string) => PolicyWireAnswer;
  private readonly masterRealms: Set<string>;
  private readonly byRealm = new Map<string, CallProvider>();
  /** Calls admitted for a client provider: call id → provider, subscriber (unknown for a journal without it), start. */
  private readonly calls = new Map<string, { provider: CallProvider; subscriber: string | undefined; startMs: number }>();

  constructor(
    private readonly inner: PolicyAdapter,
    private readonly options: RealmCapacityPolicyOptions,
  ) {
    this.masterRealms = new Set(options.masterRealms.map((r) => r.toLowerCase()));
    for (const c of options.clients) for (const r of c.realms) this.byRealm.set(r.toLowerCase(), c);
    this.ledger = options.ledger ?? new CapacityLedger(Object.fromEntries(options.clients.map((c) => [c.name, c.capacity])));
    if (inner.decodeAnswer) this.decodeAnswer = inner.decodeAnswer.bind(inner);
    // A ledger replayed from a journal: the calls it holds open were admitted by an earlier run of this server.
    for (const provider of options.clients)
      for (const open of this.ledger.openSessions(provider.name)) this.calls.set(open.session, { provider, subscriber: open.subscriber, startMs: open.startMs });
  }

  decideAaa(q: AaaQuery): Decision<AaaVerdict> {
    if (q.side !== "originating") return this.inner.decideAaa(q);
    const parts = userRealmOf(q.caller);
    if (parts && this.masterRealms.has(parts.realm)) return this.inner.decideAaa(q);
    const provider = parts ? this.byRealm.get(parts.realm) : undefined;
    if (!parts || !provider) return { allow: false, sipStatus: 403, reason: "unknown realm" };
    // Calls whose usage never came are closed (journaled like any stop; a journal that fails refuses the next start).
    for (const e of this.ledger.expire(q.now, provider.name, this.options.maxCallMs ?? 4 * 3600_000)) void Promise.resolve(this.closed(e, q.now)).catch(() => undefined);
    // The same call asked again (its PEP resynchronising after this server restarted, RFC 2748 §2.5): it holds its
    // port already and is not counted twice.
    if (this.ledger.isOpen(provider.name, q.callId)) return this.inner.decideAaa(q);
    const verdict = this.ledger.admit(q.now, provider.name);
    if (!verdict.ok) return { allow: false, sipStatus: REFUSAL_STATUS[verdict.cause], reason: `capacity of ${provider.name}: ${verdict.cause}` };
    const settle = (v: AaaVerdict): AaaVerdict | Promise<AaaVerdict> => {
      if (!v.allow) {
        this.ledger.release(verdict.reservation);
        return v;
      }
      // The call may not outlast the time or credit left (DEC AAA's time limit).
      const allowed = verdict.sessionTimeout !== undefined && (v.timeLimitS === undefined || v.timeLimitS > verdict.sessionTimeout) ? { ...v, timeLimitS: verdict.sessionTimeout } : v;
      const subscriber = `${parts.user}@${parts.realm}`;
      const event = this.ledger.start(q.now, provider.name, q.callId, subscriber);
      if (!event) return allowed;
      this.calls.set(q.callId, { provider, subscriber, startMs: q.now });
      const started = (): AaaVerdict => {
        this.account(provider, subscriber, q.callId, "Start", q.now, undefined);
        return allowed;
      };
      const durable = this.journal(event);
      if (durable === undefined) return started();
      return Promise.resolve(durable).then(started, () => {
        // Not on disk: the call is not admitted, and its port is free again.
        this.calls.delete(q.callId);
        this.ledger.stop(q.now, provider.name, q.callId, 0);
        return { allow: false, sipStatus: 503, reason: `capacity of ${provider.name}: journal not written` };
      });
    };
    const inner = this.inner.decideAaa(q);
    if (isWireDecision(inner)) {
      this.ledger.release(verdict.reservation);
      return { allow: false, sipStatus: 500, reason: "the policy behind realm capacity must not decide on the wire" };
    }
    if (isPendingDecision<AaaVerdict>(inner)) return Promise.resolve(inner).then(settle, (err: unknown) => {
      this.ledger.release(verdict.reservation);
      throw err;
    });
    return settle(inner);
  }

  chooseClass(q: ClassQuery): Decision<ClassChoice> {
    return this.inner.chooseClass(q);
  }

  observeUsage(u: UsageObservation): void | PromiseLike<void> {
    const call = u.side === "originating" ? this.calls.get(u.callId) : undefined;
    const event = call ? this.ledger.stop(u.endMs, call.provider.name, u.callId, u.durationS) : undefined;
    const durable = event ? this.closed(event, u.endMs, u.durationS) : undefined;
    const observed = this.inner.observeUsage(u);
    return durable === undefined ? observed : Promise.all([durable, observed]).then(() => undefined);
  }

  /**
   * The call's request state ended. One this adapter still holds open had no usage (refused after its capacity was
   * granted, e.g. by the clearinghouse, or refused by its PEP's local decision while this server was away): it is
   * over, uncharged.
   */
  callEnded(c: { callId: string; side: CallSide; now: number }): void {
    const call = c.side === "originating" ? this.calls.get(c.callId) : undefined;
    const event = call ? this.ledger.stop(c.now, call.provider.name, c.callId, 0) : undefined;
    if (event) void Promise.resolve(this.closed(event, c.now, 0)).catch(() => undefined);
    this.inner.callEnded?.(c);
  }

  /**
   * Every call this adapter holds open is over, uncharged (journaled, Stop to both sides): for a server whose restart
   * ended its calls too (the lab: SIP1, POL1 and the callee in one process). Returns how many.
   */
  endOpenCalls(now: number): number {
    const events = this.ledger.closeAll(now);
    for (const e of events) void Promise.resolve(this.closed(e, now, 0)).catch(() => undefined);
    return events.length;
  }

  /** The journal's promise for `event`, or undefined when it was written at once (or there is no journal). */
  private journal(event: JournalEvent): PromiseLike<void> | undefined {
    const durable: unknown = this.options.onJournal?.(event);
    return typeof (durable as PromiseLike<void> | undefined)?.then === "function" ? (durable as PromiseLike<void>) : undefined;
  }

  private closed(event: StopEvent, now: number, seconds = event.seconds): PromiseLike<void> | undefined {
    const durable = this.journal(event);
    const call = this.calls.get(event.session);
    if (call) {
      this.calls.delete(event.session);
      this.account(call.provider, call.subscriber, event.session, "Stop", now, seconds);
    }
    return durable;
  }

  /** Start or Stop to the master (virtual identity) and to the provider (subscriber), RFC 2866 §5. */
  private account(provider: CallProvider, subscriber: string | undefined, callId: string, status: "Start" | "Stop", now: number, seconds: number | undefined): void {
    const record = (user: string): AccountingRecord => ({
      key: `${callId};${user};${status}`,
      sessionId: callId,
      status,
      eventMs: now,
      attributes: [
        ["Acct-Status-Type", status],
        ["Acct-Session-Id", callId],
        ["User-Name", user],
        ...(seconds !== undefined ? ([["Acct-Session-Time", seconds]] as [string, number][]) : []),
      ],
    });
    this.options.masterAccounting?.submit([record(provider.virtualIdentity.user)]);
    if (subscriber !== undefined) provider.accounting?.submit([record(subscriber)]);
  }
}
