// Deterministic priority queue for the virtual clock: ordered by time, then by insertion sequence.
export interface QueueEntry<T> {
  at: number;
  seq: number;
  item: T;
}

export class EventQueue<T> {
  private readonly heap: QueueEntry<T>[] = [];
  private nextSeq = 0;

  get size(): number {
    return this.heap.length;
  }

  push(at: number, item: T): QueueEntry<T> {
    const entry = { at, seq: this.nextSeq++, item };
    this.heap.push(entry);
    this.siftUp(this.heap.length - 1);
    return entry;
  }

  peek(): QueueEntry<T> | undefined {
    return this.heap[0];
  }

  pop(): QueueEntry<T> | undefined {
    const top = this.heap[0];
    const last = this.heap.pop();
    if (top === undefined || last === undefined) return undefined;
    if (this.heap.length > 0) {
      this.heap[0] = last;
      this.siftDown(0);
    }
    return top;
  }

  private less(a: QueueEntry<T>, b: QueueEntry<T>): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private siftUp(i: number): void {
    const heap = this.heap;
    const entry = heap[i] as QueueEntry<T>;
    while (i > 0) {
      const parentIndex = (i - 1) >> 1;
      const parent = heap[parentIndex] as QueueEntry<T>;
      if (!this.less(entry, parent)) break;
      heap[i] = parent;
      i = parentIndex;
    }
    heap[i] = entry;
  }

  private siftDown(i: number): void {
    const heap = this.heap;
    const n = heap.length;
    const entry = heap[i] as QueueEntry<T>;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      let child = left;
      if (right < n && this.less(heap[right] as QueueEntry<T>, heap[left] as QueueEntry<T>)) child = right;
      const c = heap[child] as QueueEntry<T>;
      if (!this.less(c, entry)) break;
      heap[i] = c;
      i = child;
    }
    heap[i] = entry;
  }
}
