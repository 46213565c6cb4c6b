/**
 * Bounded memory: insertion-ordered Sets and Maps that forget their oldest entries beyond a bound. Used for
 * "seen" sets (used session ids, finished sessions, distrusted peers) and for caches and per-peer state
 * (decoded keys, rate-limit buckets, backoff, timestamps), so that no peer can make them grow without end.
 */

/** Adds `value` to `set` (a value already there keeps its place), then forgets the oldest beyond `max`. */
export function addBounded<T>(set: Set<T>, value: T, max: number): void {
  set.add(value);
  for (const oldest of set) {
    if (set.size <= max) break;
    set.delete(oldest);
  }
}

/**
 * Sets `key` to `value` in `map` as its newest entry (a key already there moves to the end), then forgets
 * the oldest entries beyond `max`: least-recently-set eviction.
 */
export function setBounded<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key);
  map.set(key, value);
  for (const oldest of map.keys()) {
    if (map.size <= max) break;
    map.delete(oldest);
  }
}
