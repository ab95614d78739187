// Injectable time source for the transaction layer and proxy: the real clock for drivers, a virtual one for tests.

export interface TransactionClock {
  now(): number;
  setTimer(delayMs: number, fire: () => void): unknown;
  clearTimer(handle: unknown): void;
}

export const systemClock: TransactionClock = {
  now: () => performance.now(),
  setTimer: (delayMs, fire) => {
    const t = setTimeout(fire, delayMs);
    t.unref?.();
    return t;
  },
  clearTimer: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
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
