/**
 * A single-threaded discrete-event scheduler in virtual milliseconds. Time only moves when the next event
 * is taken off the queue; after each event every pending promise continuation runs before the next one,
 * so async protocol code behaves as if the world paused between events. Nothing in the simulated world may
 * use real timers or real I/O: everything waits on `sim.clock` or on events scheduled here.
 */
import { AbortedError, type Clock } from '../../src/env/clock.js';

export type RunResult = 'stopped' | 'idle' | 'time-limit' | 'event-limit';

export interface RunOptions {
  /** Do not run events scheduled after this virtual time. */
  maxTimeMs: number;
  /** Run at most this many events. */
  maxEvents: number;
}

export interface SimulationOptions {
  /** Record `trace()` lines (off by default). */
  trace?: boolean;
}

interface SimEvent {
  readonly time: number;
  readonly seq: number;
  readonly id: number;
  readonly fn: () => void;
  readonly label: string | undefined;
  cancelled: boolean;
}

/** `a` runs before `b`: earlier time first, then earlier insertion. */
function before(a: SimEvent, b: SimEvent): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}

/** A binary min-heap of events ordered by (time, seq). */
class EventHeap {
  readonly #items: SimEvent[] = [];

  get size(): number {
    return this.#items.length;
  }

  peek(): SimEvent | undefined {
    return this.#items[0];
  }

  push(e: SimEvent): void {
    const a = this.#items;
    a.push(e);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(a[i]!, a[parent]!)) break;
      this.#swap(i, parent);
      i = parent;
    }
  }

  pop(): SimEvent | undefined {
    const a = this.#items;
    const top = a[0];
    const last = a.pop();
    if (top === undefined || last === undefined || a.length === 0) return top;
    a[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < a.length && before(a[l]!, a[m]!)) m = l;
      if (r < a.length && before(a[r]!, a[m]!)) m = r;
      if (m === i) break;
      this.#swap(i, m);
      i = m;
    }
    return top;
  }

  #swap(i: number, j: number): void {
    const a = this.#items;
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
}

/** Lets every queued promise continuation (microtask) run. Real timers are never involved. */
function drainMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export class Simulation {
  readonly clock: Clock;
  readonly #heap = new EventHeap();
  /** Live (scheduled, not yet run or cancelled) events by id. */
  readonly #live = new Map<number, SimEvent>();
  readonly #tracing: boolean;
  readonly #trace: string[] = [];
  #now = 0;
  #seq = 0;
  #nextId = 1;
  #eventsRun = 0;
  #running = false;

  constructor(options: SimulationOptions = {}) {
    this.#tracing = options.trace ?? false;
    this.clock = {
      now: () => this.#now,
      sleep: (ms, signal) => this.#sleep(ms, signal),
    };
  }

  /** Current virtual time in milliseconds (starts at 0, never decreases). */
  get now(): number {
    return this.#now;
  }

  /** Whether `trace()` records lines (lets callers skip building trace strings). */
  get tracing(): boolean {
    return this.#tracing;
  }

  /** Total number of events run so far. */
  get eventsRun(): number {
    return this.#eventsRun;
  }

  /** Schedules `fn` to run `delayMs` (≥ 0) virtual milliseconds from now; returns an id for `cancel`. */
  schedule(delayMs: number, fn: () => void, label?: string): number {
    if (!(delayMs >= 0) || !Number.isFinite(delayMs)) {
      throw new RangeError(`schedule: delay must be finite and ≥ 0, got ${delayMs}`);
    }
    const e: SimEvent = {
      time: this.#now + delayMs,
      seq: this.#seq++,
      id: this.#nextId++,
      fn,
      label,
      cancelled: false,
    };
    this.#heap.push(e);
    this.#live.set(e.id, e);
    return e.id;
  }

  /** Cancels a scheduled event; returns false if it already ran, was cancelled, or never existed. */
  cancel(id: number): boolean {
    const e = this.#live.get(id);
    if (e === undefined) return false;
    e.cancelled = true;
    this.#live.delete(id);
    return true;
  }

  /** Number of scheduled events that have neither run nor been cancelled. */
  pending(): number {
    return this.#live.size;
  }

  /** Virtual time of the next live event, or undefined when the queue is empty. */
  nextEventTime(): number | undefined {
    return this.#peekLive()?.time;
  }

  /**
   * Runs events in (time, insertion) order until `stop()` holds ('stopped'), the queue is empty ('idle'),
   * the next event lies after `maxTimeMs` ('time-limit': the event stays queued and `now` advances to
   * `maxTimeMs`), or `maxEvents` events have run ('event-limit'). All promise continuations are drained
   * before `stop()` is evaluated and after every event. An exception thrown by an event is a bug: it is
   * rethrown from here.
   */
  async runUntil(stop: () => boolean, options: RunOptions): Promise<RunResult> {
    if (this.#running) throw new Error('Simulation.runUntil: already running (re-entrant call)');
    this.#running = true;
    try {
      let ran = 0;
      await drainMicrotasks();
      for (;;) {
        if (stop()) return 'stopped';
        const next = this.#peekLive();
        if (next === undefined) return 'idle';
        if (next.time > options.maxTimeMs) {
          if (options.maxTimeMs > this.#now) this.#now = options.maxTimeMs;
          return 'time-limit';
        }
        if (ran >= options.maxEvents) return 'event-limit';
        this.#heap.pop();
        this.#live.delete(next.id);
        this.#now = next.time;
        ran++;
        this.#eventsRun++;
        next.fn();
        await drainMicrotasks();
      }
    } finally {
      this.#running = false;
    }
  }

  /**
   * Runs all events up to `now + ms`, then leaves `now` at exactly `now + ms` (also when the queue ran dry
   * earlier). Returns how the run ended ('time-limit' or 'idle' in the normal case).
   */
  async runFor(ms: number): Promise<RunResult> {
    const end = this.#now + ms;
    const result = await this.runUntil(() => false, { maxTimeMs: end, maxEvents: Number.MAX_SAFE_INTEGER });
    if (result === 'idle' && end > this.#now) this.#now = end;
    return result;
  }

  /** Appends `[t=<now>] line` to the trace when tracing is enabled. */
  trace(line: string): void {
    if (this.#tracing) this.#trace.push(`[t=${this.#now}] ${line}`);
  }

  /** A copy of the recorded trace lines. */
  traceLines(): string[] {
    return this.#trace.slice();
  }

  #peekLive(): SimEvent | undefined {
    for (;;) {
      const e = this.#heap.peek();
      if (e === undefined || !e.cancelled) return e;
      this.#heap.pop();
    }
  }

  #sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(new AbortedError());
      if (ms === Infinity) {
        // Only the signal can end an infinite sleep.
        signal?.addEventListener('abort', () => reject(new AbortedError()), { once: true });
        return;
      }
      // NaN and negative delays count as 0.
      const id = this.schedule(
        ms > 0 ? ms : 0,
        () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        'sleep',
      );
      const onAbort = () => {
        this.cancel(id);
        reject(new AbortedError());
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
