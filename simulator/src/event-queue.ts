/**
 * The virtual clock's agenda: a binary min-heap of events ordered by time, then by insertion
 * order, so two events at the same virtual millisecond always run in the order they were
 * scheduled (determinism does not depend on the heap's internal layout).
 */
export interface Scheduled<E> {
  t: number;
  seq: number;
  event: E;
}

export class EventQueue<E> {
  private heap: Array<Scheduled<E>> = [];
  private seq = 0;
  /** The current virtual time in ms: the time of the last event taken. */
  now = 0;

  get size(): number {
    return this.heap.length;
  }

  schedule(t: number, event: E): void {
    if (t < this.now) t = this.now; // never in the past
    const e: Scheduled<E> = { t, seq: this.seq++, event };
    const h = this.heap;
    let i = h.length;
    h.push(e);
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = h[p]!;
      if (parent.t < e.t || (parent.t === e.t && parent.seq < e.seq)) break;
      h[i] = parent;
      i = p;
    }
    h[i] = e;
  }

  /** Takes the earliest event and advances the clock to it. */
  pop(): Scheduled<E> | undefined {
    const h = this.heap;
    if (h.length === 0) return undefined;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      let i = 0;
      const n = h.length;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        let c = l;
        if (r < n && (h[r]!.t < h[l]!.t || (h[r]!.t === h[l]!.t && h[r]!.seq < h[l]!.seq))) c = r;
        const child = h[c]!;
        if (last.t < child.t || (last.t === child.t && last.seq < child.seq)) break;
        h[i] = child;
        i = c;
      }
      h[i] = last;
    }
    this.now = top.t;
    return top;
  }

  peekTime(): number | undefined {
    return this.heap[0]?.t;
  }
}
