// Every node timer of a real-time driver in one structure: entries wait in one bucket per whole-millisecond
// deadline, the distinct deadlines sit in a binary heap, and a single setTimeout is armed for the earliest one.
// Setting or cancelling a timer is a Map operation; cancelled entries are dropped lazily when their bucket is due.
import { EventQueue } from "./event-queue.js";

interface Entry {
  /** Whose timer it is (a node of the driver), and its key there. */
  owner: string;
  key: string;
  /** Bucket: the deadline rounded up to a whole millisecond of the clock. */
  at: number;
  seq: number;
}

export class DeadlineTimers {
  /** Live entries by owner, then key: no key string made per set or cancel. */
  private readonly live = new Map<string, Map<string, Entry>>();
  private liveCount = 0;
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
    private readonly fire: (key: string, owner: string) => void,
  ) {}

  /** Timers set and neither fired nor cancelled. */
  get size(): number {
    return this.liveCount;
  }

  /** (Re)sets `owner`'s `key` to fire `delayMs` from now; an earlier setting of the same key is forgotten. */
  set(key: string, delayMs: number, owner = ""): void {
    const at = Math.ceil(this.clock() + Math.max(0, delayMs));
    const entry: Entry = { owner, key, at, seq: this.seq++ };
    let mine = this.live.get(owner);
    if (mine === undefined) this.live.set(owner, (mine = new Map()));
    if (mine.has(key)) this.dead++;
    else this.liveCount++;
    mine.set(key, entry);
    if (this.dead > 4096 && this.dead > this.liveCount && !this.running) this.compact();
    this.queue.push(at, entry);
    if (at < this.armedAt) this.arm(at);
  }

  cancel(key: string, owner = ""): void {
    if (this.live.get(owner)?.delete(key)) {
      this.dead++;
      this.liveCount--;
    }
  }

  clear(): void {
    this.live.clear();
    this.liveCount = 0;
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
        const mine = this.live.get(entry.owner);
        if (mine === undefined || mine.get(entry.key) !== entry) {
          this.dead--;
          continue;
        }
        mine.delete(entry.key);
        this.liveCount--;
        this.fire(entry.key, entry.owner);
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
    const entries: Entry[] = [];
    for (const mine of this.live.values()) for (const entry of mine.values()) entries.push(entry);
    entries.sort((a, b) => a.at - b.at || a.seq - b.seq);
    for (const entry of entries) this.queue.push(entry.at, entry);
    this.dead = 0;
  }
}
