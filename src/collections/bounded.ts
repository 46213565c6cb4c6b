/**
 * Bounded memory for "seen" sets (used session ids, finished sessions, distrusted peers): an
 * insertion-ordered Set that forgets its oldest entries beyond a bound.
 */

/** Adds `value` to `set` (a value already there keeps its place), then forgets the oldest beyond `max`. */
export function addBounded<T>(set: Set<T>, value: T, max: number): void {
  set.add(value);
  for (const oldest of set) {
    if (set.size <= max) break;
    set.delete(oldest);
  }
}
