import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addBounded } from '../../src/collections/bounded.js';

void test('addBounded: keeps at most max entries, forgetting the oldest; a value already there keeps its place', () => {
  const s = new Set<number>();
  for (let i = 1; i <= 5; i++) addBounded(s, i, 3);
  assert.deepEqual([...s], [3, 4, 5]);
  addBounded(s, 3, 3); // already there: nothing moves, nothing is forgotten
  assert.deepEqual([...s], [3, 4, 5]);
  addBounded(s, 6, 3);
  assert.deepEqual([...s], [4, 5, 6]);
  const big = new Set([1, 2, 3, 4, 5]);
  addBounded(big, 9, 2); // a set over the bound shrinks to it
  assert.deepEqual([...big], [5, 9]);
});
