/**
 * The simulator's pending events: a binary min-heap ordered by (virtual time, insertion order), so
 * two events due at the same millisecond always run in the order they were scheduled. Cancelled
 * timers stay in the heap and are skipped when they reach the top (cheaper than removing them).
 */

export interface SimTimer {
  readonly atMs: number
  /** Insertion order: the tie-breaker that keeps same-time events deterministic. */
  readonly seq: number
  readonly label: string
  readonly action: () => void
  cancelled: boolean
}

export class SimTimerQueue {
  readonly #heap: SimTimer[] = []

  get size(): number {
    return this.#heap.length
  }

  push(timer: SimTimer): void {
    const heap = this.#heap
    heap.push(timer)
    let index = heap.length - 1
    while (index > 0) {
      const parent = (index - 1) >> 1
      if (!before(heap[index] as SimTimer, heap[parent] as SimTimer)) break
      swap(heap, index, parent)
      index = parent
    }
  }

  /** The earliest live timer, without removing it. */
  peek(): SimTimer | undefined {
    while (this.#heap[0]?.cancelled) this.#removeTop()
    return this.#heap[0]
  }

  /** Remove and return the earliest live timer. */
  pop(): SimTimer | undefined {
    const top = this.peek()
    if (top) this.#removeTop()
    return top
  }

  #removeTop(): void {
    const heap = this.#heap
    const last = heap.pop()
    if (last === undefined || heap.length === 0) return
    heap[0] = last
    let index = 0
    for (;;) {
      const left = 2 * index + 1
      const right = left + 1
      let smallest = index
      if (left < heap.length && before(heap[left] as SimTimer, heap[smallest] as SimTimer)) smallest = left
      if (right < heap.length && before(heap[right] as SimTimer, heap[smallest] as SimTimer)) smallest = right
      if (smallest === index) return
      swap(heap, index, smallest)
      index = smallest
    }
  }
}

function before(a: SimTimer, b: SimTimer): boolean {
  return a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq)
}

function swap(heap: SimTimer[], i: number, j: number): void {
  const held = heap[i] as SimTimer
  heap[i] = heap[j] as SimTimer
  heap[j] = held
}
