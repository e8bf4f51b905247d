/**
 * A binary min-heap of timers ordered by (due time, insertion sequence). The sequence breaks ties,
 * so timers due at the same instant come out in the order they were set: FIFO, hence deterministic.
 */
export interface HeapTimer {
  readonly due: number;
  readonly seq: number;
}

function before(a: HeapTimer, b: HeapTimer): boolean {
  return a.due < b.due || (a.due === b.due && a.seq < b.seq);
}

export class TimerHeap<T extends HeapTimer> {
  private items: T[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(t: T): void {
    const items = this.items;
    let i = items.length;
    items.push(t);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = items[parent]!;
      if (!before(t, p)) break;
      items[i] = p;
      i = parent;
    }
    items[i] = t;
  }

  pop(): T | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    this.siftDown(last, 0);
    return top;
  }

  /** Drop every item `keep` rejects and restore heap order in O(n). */
  retain(keep: (t: T) => boolean): void {
    this.items = this.items.filter(keep);
    for (let i = (this.items.length >> 1) - 1; i >= 0; i--) this.siftDown(this.items[i]!, i);
  }

  private siftDown(t: T, start: number): void {
    const items = this.items;
    const n = items.length;
    let i = start;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      if (r < n && before(items[r]!, items[l]!)) c = r;
      const child = items[c]!;
      if (!before(child, t)) break;
      items[i] = child;
      i = c;
    }
    items[i] = t;
  }
}
