/**
 * The Storage contract: a durable, ordered key-value store with namespaces, implemented in memory (tests,
 * simulator) and on disk (daemon). Keys are byte strings compared lexicographically.
 */

/** Namespaces keep unrelated state apart: a key in one never collides with a key in another. */
export type Namespace = 'record' | 'signed' | 'cert' | 'revoked' | 'meta' | 'password' | 'ca';

export const NAMESPACES: readonly Namespace[] = [
  'record',
  'signed',
  'cert',
  'revoked',
  'meta',
  'password',
  'ca',
];

/** One write in an atomic batch; `value: undefined` deletes. */
export interface StorageOp {
  readonly ns: Namespace;
  readonly key: Uint8Array;
  readonly value: Uint8Array | undefined;
}

/** Options for an ordered scan. */
export interface ScanOptions {
  /** Only keys that start with these bytes. */
  readonly prefix?: Uint8Array;
  /** Descending order. */
  readonly reverse?: boolean;
  /** At most this many entries. */
  readonly limit?: number;
}

/** A storage failure (I/O, corruption). Callers stop the node: they must not guess. */
export class StorageError extends Error {
  override readonly name = 'StorageError';
}

/**
 * Contract:
 * - `write(ops)` applies all ops atomically; when its promise resolves they are durable (they survive a
 *   crash or kill -9 of the process). Concurrent writes may share one commit (group commit).
 * - A read issued after `write` resolved sees its effect.
 * - `scan` returns entries in lexicographic key order (descending with `reverse`), bounded by `limit`.
 * - Values returned are owned by the caller (never mutated by the store afterwards).
 * - Any failure rejects with StorageError.
 */
export interface Storage {
  get(ns: Namespace, key: Uint8Array): Promise<Uint8Array | undefined>;
  write(ops: readonly StorageOp[]): Promise<void>;
  scan(ns: Namespace, options?: ScanOptions): Promise<Array<[Uint8Array, Uint8Array]>>;
  close(): Promise<void>;
}

/**
 * The key of version `t` of variable `x` in the 'record' namespace: u32 length of x, x, u64 t, all big-endian.
 * The length prefix means no variable's versions sort inside another's (no prefix confusion), and the
 * big-endian timestamp makes a reverse prefix scan yield the latest version first.
 */
export function recordKey(x: Uint8Array, t: bigint): Uint8Array {
  const out = new Uint8Array(4 + x.length + 8);
  const view = new DataView(out.buffer);
  view.setUint32(0, x.length);
  out.set(x, 4);
  view.setBigUint64(4 + x.length, t);
  return out;
}

/** The prefix shared by all versions of variable `x` in the 'record' namespace. */
export function recordPrefix(x: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + x.length);
  new DataView(out.buffer).setUint32(0, x.length);
  out.set(x, 4);
  return out;
}

/** The timestamp encoded at the end of a record key. */
export function recordKeyTimestamp(key: Uint8Array): bigint {
  return new DataView(key.buffer, key.byteOffset, key.byteLength).getBigUint64(key.length - 8);
}
