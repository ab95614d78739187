// Deterministic priority queue for the virtual clock: ordered by time, then by insertion order.
// Events cluster on few distinct instants (whole milliseconds), so items wait in one FIFO bucket per instant
// and only the distinct instants sit in a binary heap: a push to a known instant costs one Map lookup.
export interface QueueHead<T> {
  at: number;
  item: T;
}

interface Bucket<T> {
  items: T[];
  next: number;
}

export class EventQueue<T> {
  private times: number[] = [];
  private buckets = new Map<number, Bucket<T>>();
  private count = 0;
  /** Reused view of the head, valid until the next push or pop. */
  private readonly head: QueueHead<T> = { at: 0, item: undefined as T };

  get size(): number {
    return this.count;
  }

  push(at: number, item: T): void {
    let bucket = this.buckets.get(at);
    if (bucket === undefined) {
      bucket = { items: [], next: 0 };
      this.buckets.set(at, bucket);
      this.siftUp(at);
    }
    bucket.items.push(item);
    this.count++;
  }

  peek(): QueueHead<T> | undefined {
    if (this.count === 0) return undefined;
    const at = this.times[0] as number;
    const bucket = this.buckets.get(at) as Bucket<T>;
    this.head.at = at;
    this.head.item = bucket.items[bucket.next] as T;
    return this.head;
  }

  pop(): QueueHead<T> | undefined {
    const head = this.peek();
    if (head === undefined) return undefined;
    const bucket = this.buckets.get(head.at) as Bucket<T>;
    bucket.items[bucket.next++] = undefined as T;
    this.count--;
    if (bucket.next === bucket.items.length) {
      this.buckets.delete(head.at);
      this.popTime();
    }
    return head;
  }

  /** Drops the items `keep` refuses; the others stay in the same order (a rebuild, linear in the items held). */
  retain(keep: (item: T) => boolean): void {
    const old = this.buckets;
    // Ascending order is a valid heap.
    const times = this.times.sort((a, b) => a - b);
    this.times = [];
    this.buckets = new Map();
    this.count = 0;
    for (const at of times) {
      const bucket = old.get(at) as Bucket<T>;
      const items: T[] = [];
      for (let i = bucket.next; i < bucket.items.length; i++) {
        const item = bucket.items[i] as T;
        if (keep(item)) items.push(item);
      }
      if (items.length === 0) continue;
      this.buckets.set(at, { items, next: 0 });
      this.times.push(at);
      this.count += items.length;
    }
  }

  private siftUp(at: number): void {
    const heap = this.times;
    let i = heap.length;
    heap.push(at);
    while (i > 0) {
      const parentIndex = (i - 1) >> 1;
      const parent = heap[parentIndex] as number;
      if (parent <= at) break;
      heap[i] = parent;
      i = parentIndex;
    }
    heap[i] = at;
  }

  private popTime(): void {
    const heap = this.times;
    const last = heap.pop() as number;
    const n = heap.length;
    if (n === 0) return;
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
  }
}
