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
  timeout: ReturnType<typeof setTimeout> | undefined;
  cancelled: boolean;
}

/**
 * Real time. A due timer is delivered from setImmediate, i.e. after the I/O already waiting in the event loop:
 * when the loop was stalled, a response sitting in the socket (say the 180 that stops Timer A) is processed
 * before the retransmission timer, as it would have been had the process kept up.
 */
export const systemClock: TransactionClock = {
  now: () => performance.now(),
  setTimer: (delayMs, fire) => {
    const timer: SystemTimer = { timeout: undefined, cancelled: false };
    timer.timeout = setTimeout(() => {
      setImmediate(() => {
        if (!timer.cancelled) fire();
      });
    }, delayMs);
    timer.timeout.unref?.();
    return timer;
  },
  clearTimer: (handle) => {
    const timer = handle as SystemTimer;
    timer.cancelled = true;
    if (timer.timeout !== undefined) clearTimeout(timer.timeout);
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
