// Injectable time source for the transaction layer and proxy: the real clock for drivers, a virtual one for tests.

/** The time and timers a transaction layer uses: the system's, or a virtual clock. */
export interface TransactionClock {
  /** Milliseconds on this clock. */
  now(): number;
  /** Calls `fire` after `delayMs`; returns a handle for clearTimer. */
  setTimer(delayMs: number, fire: () => void): unknown;
  /** Cancels a timer set by setTimer. */
  clearTimer(handle: unknown): void;
}

interface SystemTimer {
  due: number;
  /** Undefined once fired or cleared. */
  fire: (() => void) | undefined;
  /** Neighbours in its queue; `queue` is undefined once it left it (taken out to fire, or cleared). */
  prev: SystemTimer | undefined;
  next: SystemTimer | undefined;
  queue: DelayQueue | undefined;
}

/** The timers of one delay: set in time order, so due in that order (a FIFO list), behind one Node timeout. */
interface DelayQueue {
  delay: number;
  first: SystemTimer | undefined;
  last: SystemTimer | undefined;
  timeout: ReturnType<typeof setTimeout> | undefined;
}

// Node's bound for setTimeout; other delays are taken as 1 ms, as setTimeout takes them.
const TIMEOUT_MAX = 2 ** 31 - 1;
const delayQueues = new Map<number, DelayQueue>();

function unlink(t: SystemTimer, q: DelayQueue): void {
  if (t.prev === undefined) q.first = t.next;
  else t.prev.next = t.next;
  if (t.next === undefined) q.last = t.prev;
  else t.next.prev = t.prev;
  t.prev = undefined;
  t.next = undefined;
  t.queue = undefined;
}

function armQueue(q: DelayQueue, now: number): void {
  const head = q.first;
  if (head === undefined) {
    // Empty: dropped (a later timer of this delay makes a new queue).
    if (delayQueues.get(q.delay) === q) delayQueues.delete(q.delay);
    return;
  }
  q.timeout = setTimeout(onQueueTimeout, Math.max(1, Math.ceil(head.due - now)), q);
  q.timeout.unref?.();
}

function onQueueTimeout(q: DelayQueue): void {
  q.timeout = undefined;
  const now = performance.now();
  let due: SystemTimer[] | undefined;
  for (let t = q.first; t !== undefined && t.due <= now; t = q.first) {
    unlink(t, q);
    (due ??= []).push(t);
  }
  if (due !== undefined) setImmediate(fireDue, due, 0);
  armQueue(q, now);
}

function fireDue(due: SystemTimer[], from: number): void {
  for (let i = from; i < due.length; i++) {
    const t = due[i]!;
    const fire = t.fire;
    if (fire === undefined) continue; // cleared after it fell due
    t.fire = undefined;
    try {
      fire();
    } catch (err) {
      // The others still fire, as each would have on its own.
      if (i + 1 < due.length) setImmediate(fireDue, due, i + 1);
      throw err;
    }
  }
}

/**
 * Real time. A due timer is delivered from setImmediate, i.e. after the I/O already waiting in the event loop:
 * when the loop was stalled, a response sitting in the socket (say the 180 that stops Timer A) is processed
 * before the retransmission timer, as it would have been had the process kept up. Timers of one delay (the
 * transaction timers use a handful: T1, 64·T1, T4, ...) wait in one queue behind one Node timeout, which spares a
 * Node timer, two closures and its unref per transaction timer.
 */
export const systemClock: TransactionClock = {
  now: () => performance.now(),
  setTimer: (delayMs, fire) => {
    const delay = delayMs >= 1 && delayMs <= TIMEOUT_MAX ? delayMs : 1;
    let q = delayQueues.get(delay);
    if (q === undefined) {
      q = { delay, first: undefined, last: undefined, timeout: undefined };
      delayQueues.set(delay, q);
    }
    const now = performance.now();
    const timer: SystemTimer = { due: now + delay, fire, prev: q.last, next: undefined, queue: q };
    if (q.last === undefined) q.first = timer;
    else q.last.next = timer;
    q.last = timer;
    if (q.timeout === undefined) armQueue(q, now);
    return timer;
  },
  clearTimer: (handle) => {
    const timer = handle as SystemTimer;
    timer.fire = undefined;
    // Out of its queue at once; the queue's timeout, if it was for this one, finds the next (or nothing) when due.
    if (timer.queue !== undefined) unlink(timer, timer.queue);
  },
};

interface VirtualTimer {
  id: number;
  due: number;
  fire: () => void;
}

/** A clock that only moves when told to; timers fire in due order (ties in creation order). */
export class VirtualClock implements TransactionClock {
  private time: number;
  private nextId = 1;
  private readonly timers = new Map<number, VirtualTimer>();

  constructor(start = 0) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimer(delayMs: number, fire: () => void): unknown {
    const id = this.nextId++;
    this.timers.set(id, { id, due: this.time + Math.max(0, delayMs), fire });
    return id;
  }

  clearTimer(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  get pendingTimers(): number {
    return this.timers.size;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way (including ones set meanwhile). */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      let next: VirtualTimer | undefined;
      for (const t of this.timers.values()) {
        if (t.due <= end && (!next || t.due < next.due || (t.due === next.due && t.id < next.id))) next = t;
      }
      if (!next) break;
      this.timers.delete(next.id);
      this.time = Math.max(this.time, next.due);
      next.fire();
    }
    this.time = end;
  }
}
