/**
 * The crash test's record of what the client was told, and the checkers that compare reads against it.
 *
 * Every write issued during the run is recorded with its real-time interval [startMs, endMs] and its
 * outcome: 'acked' (the client returned a WriteResult: q KV nodes acknowledged it, so it must never be
 * lost) or 'failed' (the client threw: the write may or may not have landed, so its value is allowed
 * but never required). Values are unique per write, so a value read back names exactly one write.
 *
 * The rules (paper §4.1; crash faults only, every node honest):
 * - A read must return the acknowledged write with the highest timestamp among those that finished
 *   before the read started, or a write with a higher timestamp: an acknowledged one with its own t, or
 *   a failed one that was still running when that last acknowledged write began (one that had already
 *   failed got its timestamp from signers that a later write's time phase also asks, so it cannot be
 *   newer). Anything else is a lost or invented write.
 * - Acknowledged writes of one key in real-time order (one ended before the other started) have
 *   increasing timestamps, and no two acknowledged writes of one key share a timestamp.
 */

/** One write as the client saw it. */
export interface WriteOp {
  readonly key: string;
  readonly value: string;
  readonly writer: number;
  readonly startMs: number;
  /** NaN while the write runs. */
  endMs: number;
  outcome: 'pending' | 'acked' | 'failed';
  /** The timestamp (acknowledged writes only). */
  t?: bigint;
  /** KV nodes that acknowledged it (NodeIds, acknowledged writes only). */
  acknowledgedBy?: readonly string[];
  /** Clique members whose signatures the record carries (NodeIds, acknowledged writes only). */
  signers?: readonly string[];
  /** Error class and code of a failed write. */
  error?: string;
}

/** A read as the client saw it. */
export interface ReadObservation {
  readonly key: string;
  /** Undefined when the read found no record. */
  readonly value: string | undefined;
  readonly t: bigint;
  readonly startMs: number;
}

export type ViolationKind =
  | 'lost' // an acknowledged write is gone (from a read, or from the disk of a node that acknowledged it)
  | 'unknown-value' // a read returned a value never written to that key
  | 'stale-failed-write' // a read returned a write that had failed before the last acknowledged one began
  | 'timestamp' // a value read back under another timestamp than the one acknowledged
  | 'order' // acknowledged writes out of real-time order, or two at one timestamp
  | 'no-progress' // a cycle in which no write issued while nodes were down was acknowledged
  | 'node-died' // a node that was not a victim stopped running
  | 'not-healed'; // a restarted node never became reachable again

export interface Violation {
  readonly kind: ViolationKind;
  readonly message: string;
}

export class History {
  private readonly byKey = new Map<string, WriteOp[]>();
  private readonly values = new Map<string, WriteOp>();

  /** Records the start of a write; `value` must be unique in the run. */
  begin(key: string, value: string, writer: number, nowMs: number): WriteOp {
    if (this.values.has(value)) throw new RangeError(`value: ${JSON.stringify(value)} was already written`);
    const op: WriteOp = { key, value, writer, startMs: nowMs, endMs: Number.NaN, outcome: 'pending' };
    this.values.set(value, op);
    let list = this.byKey.get(key);
    if (list === undefined) this.byKey.set(key, (list = []));
    list.push(op);
    return op;
  }

  acked(
    op: WriteOp,
    result: { t: bigint; acknowledgedBy: readonly string[]; signers: readonly string[] },
    nowMs: number,
  ): void {
    op.endMs = nowMs;
    op.outcome = 'acked';
    op.t = result.t;
    op.acknowledgedBy = [...result.acknowledgedBy];
    op.signers = [...result.signers];
  }

  failed(op: WriteOp, error: string, nowMs: number): void {
    op.endMs = nowMs;
    op.outcome = 'failed';
    op.error = error;
  }

  keys(): string[] {
    return [...this.byKey.keys()].sort();
  }

  writes(key?: string): readonly WriteOp[] {
    if (key !== undefined) return this.byKey.get(key) ?? [];
    return [...this.values.values()];
  }

  acknowledged(): WriteOp[] {
    return this.writes().filter((w) => w.outcome === 'acked');
  }
}

/** The acknowledged write of `key` with the highest timestamp among those finished before `beforeMs`. */
export function lastAcknowledged(history: History, key: string, beforeMs: number): WriteOp | undefined {
  let last: WriteOp | undefined;
  for (const w of history.writes(key))
    if (w.outcome === 'acked' && w.endMs < beforeMs && (last === undefined || w.t! > last.t!)) last = w;
  return last;
}

/** Checks one read against the history (see the rules in the header). */
export function checkRead(history: History, read: ReadObservation): Violation[] {
  const last = lastAcknowledged(history, read.key, read.startMs);
  const at = `${read.key}: read returned ${read.value === undefined ? 'nothing' : JSON.stringify(read.value)} at t=${read.t}`;
  if (read.value === undefined) {
    return last === undefined
      ? []
      : [
          {
            kind: 'lost',
            message: `${at}, but ${JSON.stringify(last.value)} was acknowledged at t=${last.t}`,
          },
        ];
  }
  const w = history.writes(read.key).find((o) => o.value === read.value);
  if (w === undefined) return [{ kind: 'unknown-value', message: `${at}: never written to this key` }];
  if (w.outcome === 'acked' && w.t !== read.t)
    return [{ kind: 'timestamp', message: `${at}, but that write was acknowledged at t=${w.t}` }];
  if (last === undefined) return [];
  if (read.t < last.t!)
    return [
      {
        kind: 'lost',
        message: `${at}, older than ${JSON.stringify(last.value)} acknowledged at t=${last.t}`,
      },
    ];
  if (w !== last && read.t === last.t)
    return [
      {
        kind: 'order',
        message: `${at}: another value than ${JSON.stringify(last.value)} acknowledged there`,
      },
    ];
  if (w.outcome !== 'acked' && w !== last && w.endMs < last.startMs)
    return [
      {
        kind: 'stale-failed-write',
        message: `${at}: that write failed before ${JSON.stringify(last.value)} (acknowledged at t=${last.t}) began`,
      },
    ];
  return [];
}

/**
 * Acknowledged writes of every key: no shared timestamp, and real-time order implies timestamp order
 * (if A ended before B started, A.t < B.t).
 */
export function checkAcknowledgedOrder(history: History): Violation[] {
  const out: Violation[] = [];
  for (const key of history.keys()) {
    const acked = history.writes(key).filter((w) => w.outcome === 'acked');
    const byT = new Map<bigint, WriteOp>();
    for (const w of acked) {
      const other = byT.get(w.t!);
      if (other !== undefined)
        out.push({
          kind: 'order',
          message: `${key}: ${JSON.stringify(other.value)} and ${JSON.stringify(w.value)} both acknowledged at t=${w.t}`,
        });
      byT.set(w.t!, w);
    }
    // Sweep by start time, keeping the acknowledged write with the highest t among those already ended.
    const byEnd = [...acked].sort((a, b) => a.endMs - b.endMs);
    const byStart = [...acked].sort((a, b) => a.startMs - b.startMs);
    let i = 0;
    let highest: WriteOp | undefined;
    for (const b of byStart) {
      while (i < byEnd.length && byEnd[i]!.endMs < b.startMs) {
        const a = byEnd[i++]!;
        if (highest === undefined || a.t! > highest.t!) highest = a;
      }
      if (highest !== undefined && highest.t! >= b.t!)
        out.push({
          kind: 'order',
          message: `${key}: ${JSON.stringify(b.value)} (t=${b.t}) began after ${JSON.stringify(highest.value)} (t=${highest.t}) was acknowledged, with no higher timestamp`,
        });
    }
  }
  return out;
}
