// Every node timer of a real-time driver in one structure: entries wait in one bucket per whole-millisecond
// deadline, the distinct deadlines sit in a binary heap, and a single setTimeout is armed for the earliest one.
// Setting or cancelling a timer is a Map operation; cancelled entries are dropped lazily when their bucket is due.

interface Entry {
  key: string;
  /** Bucket: the deadline rounded up to a whole millisecond of the clock. */
  at: number;
  seq: number;
}

export class DeadlineTimers {
  private readonly live = new Map<string, Entry>();
  private readonly buckets = new Map<number, Entry[]>();
  private readonly heap: number[] = [];
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
    let bucket = this.buckets.get(at);
    if (bucket === undefined) {
      bucket = [];
      this.buckets.set(at, bucket);
      this.heapPush(at);
    }
    bucket.push(entry);
    if (at < this.armedAt) this.arm(at);
  }

  cancel(key: string): void {
    if (this.live.delete(key)) this.dead++;
  }

  clear(): void {
    this.live.clear();
    this.buckets.clear();
    this.heap.length = 0;
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
      while (this.heap.length > 0 && (this.heap[0] as number) <= now) {
        const at = this.heapPop();
        const bucket = this.buckets.get(at) as Entry[];
        this.buckets.delete(at);
        for (const entry of bucket) {
          if (this.live.get(entry.key) !== entry) {
            this.dead--;
            continue;
          }
          this.live.delete(entry.key);
          this.fire(entry.key);
        }
      }
    } finally {
      this.running = false;
      const next = this.heap[0];
      if (next !== undefined && next < this.armedAt) this.arm(next);
    }
  }

  /** Drops forgotten entries (long timers cancelled early, e.g. RFC 3261 Timer B after a response). */
  private compact(): void {
    this.buckets.clear();
    this.heap.length = 0;
    for (const entry of this.live.values()) {
      let bucket = this.buckets.get(entry.at);
      if (bucket === undefined) {
        bucket = [];
        this.buckets.set(entry.at, bucket);
        this.heapPush(entry.at);
      }
      bucket.push(entry);
    }
    for (const bucket of this.buckets.values()) bucket.sort((a, b) => a.seq - b.seq);
    this.dead = 0;
  }

  private heapPush(at: number): void {
    const heap = this.heap;
    let i = heap.length;
    heap.push(at);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent] as number;
      if (p <= at) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = at;
  }

  private heapPop(): number {
    const heap = this.heap;
    const top = heap[0] as number;
    const last = heap.pop() as number;
    const n = heap.length;
    if (n === 0) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      let child = left;
      if (right < n && (heap[right] as number) < (heap[left] as number)) child = right;
      const c = heap[child] as number;
      if (c >= last) break;
      heap[i] = c;
      i = child;
    }
    heap[i] = last;
    return top;
  }
}
