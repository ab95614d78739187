// Every node timer of a real-time driver in one structure: entries wait in one bucket per whole-millisecond
// deadline, the distinct deadlines sit in a binary heap, and a single setTimeout is armed for the earliest one.
// Setting or cancelling a timer is a Map operation; cancelled entries are dropped lazily when their bucket is due.
import { EventQueue } from "./event-queue.js";

interface Entry {
  key: string;
  /** Bucket: the deadline rounded up to a whole millisecond of the clock. */
  at: number;
  seq: number;
}

export class DeadlineTimers {
  private readonly live = new Map<string, Entry>();
  /** Entries by deadline bucket, then in the order they were set. */
  private queue = new EventQueue<Entry>();
  private armed: NodeJS.Timeout | undefined;
  private armedAt = Infinity;
  /** Entries still in a bucket whose key was cancelled or set again. */
  private dead = 0;
  private seq = 0;
  private running = false;

  /**
   * @param clock milliseconds (fractional) on the caller's clock
   * @param fire called for each due timer, in deadline order, then in the order they were set
   */
  constructor(
    private readonly clock: () => number,
    private readonly fire: (key: string) => void,
  ) {}

  /** Timers set and neither fired nor cancelled. */
  get size(): number {
    return this.live.size;
  }

  /** (Re)sets `key` to fire `delayMs` from now; an earlier setting of the same key is forgotten. */
  set(key: string, delayMs: number): void {
    const at = Math.ceil(this.clock() + Math.max(0, delayMs));
    const entry: Entry = { key, at, seq: this.seq++ };
    if (this.live.has(key)) this.dead++;
    this.live.set(key, entry);
    if (this.dead > 4096 && this.dead > this.live.size && !this.running) this.compact();
    this.queue.push(at, entry);
    if (at < this.armedAt) this.arm(at);
  }

  cancel(key: string): void {
    if (this.live.delete(key)) this.dead++;
  }

  clear(): void {
    this.live.clear();
    this.queue = new EventQueue();
    this.dead = 0;
    if (this.armed) clearTimeout(this.armed);
    this.armed = undefined;
    this.armedAt = Infinity;
  }

  private arm(at: number): void {
    if (this.armed) clearTimeout(this.armed);
    this.armedAt = at;
    this.armed = setTimeout(() => this.run(), Math.max(1, at - this.clock()));
  }

  private run(): void {
    this.armed = undefined;
    this.armedAt = Infinity;
    // Only deadlines already passed: a timer never fires before its time (buckets are rounded up).
    const now = this.clock();
    this.running = true;
    try {
      for (let head = this.queue.peek(); head !== undefined && head.at <= now; head = this.queue.peek()) {
        const entry = head.item;
        this.queue.pop();
        if (this.live.get(entry.key) !== entry) {
          this.dead--;
          continue;
        }
        this.live.delete(entry.key);
        this.fire(entry.key);
      }
    } finally {
      this.running = false;
      const next = this.queue.peek()?.at;
      if (next !== undefined && next < this.armedAt) this.arm(next);
    }
  }

  /** Drops forgotten entries (long timers cancelled early, e.g. RFC 3261 Timer B after a response). */
  private compact(): void {
    this.queue = new EventQueue();
    const entries = [...this.live.values()].sort((a, b) => a.at - b.at || a.seq - b.seq);
    for (const entry of entries) this.queue.push(entry.at, entry);
    this.dead = 0;
  }
}
