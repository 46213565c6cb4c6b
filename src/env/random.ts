/**
 * Randomness, injected. Key generation, nonces, backoff jitter and quorum sampling all draw from a Random
 * so the simulator can replay a run from one seed; the daemon uses node:crypto.
 */
import { randomBytes, randomInt } from 'node:crypto';

/** Contract: `bytes(n)` returns n fresh bytes; `int(max)` a uniform integer in [0, max). */
export interface Random {
  bytes(n: number): Uint8Array;
  int(maxExclusive: number): number;
}

/** Cryptographically secure randomness from node:crypto. */
export const secureRandom: Random = {
  bytes: (n) => new Uint8Array(randomBytes(n)),
  int: (max) => randomInt(max),
};

/** A uniformly random sample of `k` distinct items of `items` (Fisher–Yates prefix). */
export function sample<T>(random: Random, items: readonly T[], k: number): T[] {
  const a = items.slice();
  const n = Math.min(k, a.length);
  for (let i = 0; i < n; i++) {
    const j = i + random.int(a.length - i);
    const tmp = a[i]!;
    a[i] = a[j]!;
    a[j] = tmp;
  }
  return a.slice(0, n);
}
