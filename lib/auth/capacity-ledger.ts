// Capacity a master provider rents to each client provider: concurrent sessions ("ports"), connection time
// per period, credit, and suspension. Sans-I/O: time comes from the caller. Sessions open and close from the
// accounting records the proxy relays (RFC 2866 Acct-Status-Type Start/Stop); each change is returned as a
// journal event the driver makes durable before the record is confirmed, and `apply` replays the journal
// after a restart (a journal that keeps only what is still in use carries the rest over as `carry`).

/** Capacity a client provider rents: ports, seconds per period, credit and price, suspension. Absent: unbounded. */
export interface RentedCapacity {
  /** Concurrent sessions allowed (authorised and not yet stopped). */
  ports?: number;
  /** Connection seconds allowed per period. */
  secondsPerPeriod?: number;
  /** Length of a period in seconds (default 30 days); periods start at the Unix epoch. */
  periodSeconds?: number;
  /** Credit left, in the provider's currency unit; sessions are charged `pricePerMinute` per started minute. */
  credit?: number;
  pricePerMinute?: number;
  /** A suspended provider gets no new session. */
  suspended?: boolean;
}

/** Why capacity was refused: provider suspended, all ports busy, period's time used up, or no credit left. */
export type CapacityRefusal = "suspended" | "ports" | "time" | "credit";

/** A reservation granted (with the seconds left, when bounded) or refused with its cause. */
export type CapacityVerdict =
  | { ok: true; reservation: number; /** Seconds left of time or credit, when either is bounded. */ sessionTimeout?: number }
  | { ok: false; cause: CapacityRefusal };

/**
 * A session start (with the subscriber, when known) or stop (with its charged seconds) to make durable before the
 * record is confirmed, or what earlier stops left (`carry`: seconds of the period of `t`, credit charged); `t` in ms.
 */
export type JournalEvent =
  | { t: number; kind: "start"; provider: string; session: string; subscriber?: string }
  | { t: number; kind: "stop"; provider: string; session: string; seconds: number }
  | { t: number; kind: "carry"; provider: string; seconds: number; charged: number };

/** A session's stop as the journal keeps it. */
export type StopEvent = Extract<JournalEvent, { kind: "stop" }>;

/** A session holding a port: when it started and, when known, whose it is. */
export interface OpenSession {
  session: string;
  startMs: number;
  subscriber?: string;
}

/** A provider's current use: open and reserved sessions, seconds this period, credit left. */
export interface CapacityUsage {
  sessions: number;
  reserved: number;
  secondsThisPeriod: number;
  creditLeft: number | undefined;
}

interface ProviderState {
  capacity: RentedCapacity;
  open: Map<string, { t: number; subscriber: string | undefined }>;
  /** Reservation id → when it lapses (authorisation in progress, or accepted and waiting for its Start). */
  reservations: Map<number, number>;
  period: number;
  secondsThisPeriod: number;
  charged: number;
  /** Sessions stopped lately, so a retransmitted Stop is not counted twice (bounded). */
  stopped: Set<string>;
}

const DEFAULT_PERIOD_SECONDS = 30 * 24 * 3600;
const MAX_REMEMBERED_STOPS = 10_000;

/** Sans-I/O account of the capacity each client provider rents: reservations, open sessions, time and credit used. */
export class CapacityLedger {
  private readonly providers = new Map<string, ProviderState>();
  private nextReservation = 1;
  private readonly reservationOwner = new Map<number, string>();

  /**
   * @param holdMs how long an accepted session holds its port while no Accounting Start arrives (default 60 s).
   */
  constructor(capacities: Record<string, RentedCapacity>, private readonly holdMs = 60_000) {
    for (const [name, capacity] of Object.entries(capacities))
      this.providers.set(name, { capacity, open: new Map(), reservations: new Map(), period: -1, secondsThisPeriod: 0, charged: 0, stopped: new Set() });
  }

  private state(provider: string): ProviderState {
    const s = this.providers.get(provider);
    if (!s) throw new Error(`no rented capacity for client provider '${provider}'`);
    return s;
  }

  private roll(s: ProviderState, now: number): void {
    const period = Math.floor(now / 1000 / (s.capacity.periodSeconds ?? DEFAULT_PERIOD_SECONDS));
    // Forward only: a session start replayed from an earlier period (a journal's open session) keeps the period.
    if (period > s.period) {
      s.period = period;
      s.secondsThisPeriod = 0;
    }
    // Reservations are kept in order of lapse (confirm moves one to the back).
    for (const [id, until] of s.reservations) {
      if (until > now) break;
      this.dropReservation(s, id);
    }
  }

  private dropReservation(s: ProviderState, id: number): void {
    s.reservations.delete(id);
    this.reservationOwner.delete(id);
  }

  /** A provider's usage at `now` (ms), in its current period. */
  usage(now: number, provider: string): CapacityUsage {
    const s = this.state(provider);
    this.roll(s, now);
    return {
      sessions: s.open.size,
      reserved: s.reservations.size,
      secondsThisPeriod: s.secondsThisPeriod,
      creditLeft: s.capacity.credit === undefined ? undefined : s.capacity.credit - s.charged,
    };
  }

  /** May one more session of `provider` start? If so a port is reserved until `confirm`ed or `release`d. */
  admit(now: number, provider: string): CapacityVerdict {
    const s = this.state(provider);
    this.roll(s, now);
    const c = s.capacity;
    if (c.suspended) return { ok: false, cause: "suspended" };
    if (c.ports !== undefined && s.open.size + s.reservations.size >= c.ports) return { ok: false, cause: "ports" };
    let left = Infinity;
    if (c.secondsPerPeriod !== undefined) {
      const seconds = c.secondsPerPeriod - s.secondsThisPeriod;
      if (seconds <= 0) return { ok: false, cause: "time" };
      left = Math.min(left, seconds);
    }
    if (c.credit !== undefined) {
      const credit = c.credit - s.charged;
      if (credit <= 0) return { ok: false, cause: "credit" };
      if (c.pricePerMinute) left = Math.min(left, Math.floor((credit / c.pricePerMinute) * 60));
    }
    const reservation = this.nextReservation++;
    s.reservations.set(reservation, now + this.holdMs);
    this.reservationOwner.set(reservation, provider);
    return Number.isFinite(left) ? { ok: true, reservation, sessionTimeout: left } : { ok: true, reservation };
  }

  /** The session was accepted: its port stays held until its Start, or `holdMs` from now. */
  confirm(now: number, reservation: number): void {
    const provider = this.reservationOwner.get(reservation);
    if (provider === undefined) return;
    const s = this.state(provider);
    if (!s.reservations.delete(reservation)) return;
    s.reservations.set(reservation, now + this.holdMs);
  }

  /** The session was refused or its authorisation failed: the port is free again. */
  release(reservation: number): void {
    const provider = this.reservationOwner.get(reservation);
    if (provider !== undefined) this.dropReservation(this.state(provider), reservation);
  }

  /** Whether `session` of `provider` holds a port now (started, not stopped). */
  isOpen(provider: string, session: string): boolean {
    return this.providers.get(provider)?.open.has(session) ?? false;
  }

  /** The sessions of `provider` holding a port, oldest first. */
  openSessions(provider: string): OpenSession[] {
    return [...this.state(provider).open].map(([session, o]) => ({ session, startMs: o.t, ...(o.subscriber !== undefined ? { subscriber: o.subscriber } : {}) }));
  }

  /** Accounting Start: the session holds a port (the oldest reservation becomes it). Undefined if already open. */
  start(now: number, provider: string, session: string, subscriber?: string): JournalEvent | undefined {
    const s = this.state(provider);
    this.roll(s, now);
    if (s.open.has(session)) return undefined;
    const event: JournalEvent = subscriber === undefined ? { t: now, kind: "start", provider, session } : { t: now, kind: "start", provider, session, subscriber };
    this.apply(event);
    return event;
  }

  /** Accounting Stop: the port is freed, its seconds count against the period and the credit. Undefined if seen. */
  stop(now: number, provider: string, session: string, seconds: number): StopEvent | undefined {
    const s = this.state(provider);
    this.roll(s, now);
    if (s.stopped.has(session)) return undefined;
    const event: StopEvent = { t: now, kind: "stop", provider, session, seconds: Math.max(0, Math.floor(seconds)) };
    this.apply(event);
    return event;
  }

  /**
   * Accounting-On/Off from a NAS (RFC 2866 §5.1: it restarted, or is going down): every session it held, of every
   * provider, is over. Its duration is not known, so none is charged.
   */
  closeNas(now: number, nas: string): StopEvent[] {
    return this.closeWhere(now, (session) => session.startsWith(`${nas}|`));
  }

  /** Every open session of every provider is over, uncharged (what held them all went away with their ends). */
  closeAll(now: number): StopEvent[] {
    return this.closeWhere(now, () => true);
  }

  private closeWhere(now: number, over: (session: string) => boolean): StopEvent[] {
    const events: StopEvent[] = [];
    for (const [provider, s] of this.providers) {
      this.roll(s, now);
      for (const session of s.open.keys()) if (over(session)) events.push({ t: now, kind: "stop", provider, session, seconds: 0 });
    }
    for (const e of events) this.apply(e);
    return events;
  }

  /** Sessions of `provider` open longer than `maxAgeMs` are closed, charged for their age (a Stop that never came). */
  expire(now: number, provider: string, maxAgeMs: number): StopEvent[] {
    const s = this.state(provider);
    this.roll(s, now);
    const events: StopEvent[] = [];
    for (const [session, { t }] of s.open) if (now - t > maxAgeMs) events.push({ t: now, kind: "stop", provider, session, seconds: Math.floor((now - t) / 1000) });
    for (const e of events) this.apply(e);
    return events;
  }

  /** What `provider` has used at `now`: its period's seconds and the credit charged (what a `carry` restores). */
  used(now: number, provider: string): { t: number; seconds: number; charged: number } {
    const s = this.state(provider);
    this.roll(s, now);
    return { t: now, seconds: s.secondsThisPeriod, charged: s.charged };
  }

  /** Apply a journal event (live, or replayed after a restart). Events of unknown providers are ignored. */
  apply(event: JournalEvent): void {
    const s = this.providers.get(event.provider);
    if (!s) return;
    this.roll(s, event.t);
    if (event.kind === "carry") {
      s.secondsThisPeriod = event.seconds;
      s.charged = event.charged;
      return;
    }
    if (event.kind === "start") {
      s.open.set(event.session, { t: event.t, subscriber: event.subscriber });
      const oldest = s.reservations.keys().next();
      if (!oldest.done) this.dropReservation(s, oldest.value);
      return;
    }
    s.open.delete(event.session);
    s.stopped.add(event.session);
    if (s.stopped.size > MAX_REMEMBERED_STOPS) s.stopped.delete(s.stopped.values().next().value as string);
    s.secondsThisPeriod += event.seconds;
    if (s.capacity.pricePerMinute) s.charged += Math.ceil(event.seconds / 60) * s.capacity.pricePerMinute;
  }
}
