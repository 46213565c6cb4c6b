import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addBounded, setBounded } from '../../src/collections/bounded.js';

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

void test('setBounded: keeps at most max entries, forgetting the least recently set; setting a key again moves it to the end', () => {
  const m = new Map<string, number>();
  for (const [i, k] of ['a', 'b', 'c', 'd'].entries()) setBounded(m, k, i, 3);
  assert.deepEqual(
    [...m],
    [
      ['b', 1],
      ['c', 2],
      ['d', 3],
    ],
  );
  setBounded(m, 'b', 10, 3); // set again: new value, newest entry, nothing forgotten
  assert.deepEqual(
    [...m],
    [
      ['c', 2],
      ['d', 3],
      ['b', 10],
    ],
  );
  setBounded(m, 'e', 4, 3); // 'c' is now the least recently set
  assert.deepEqual([...m.keys()], ['d', 'b', 'e']);
  const big = new Map([1, 2, 3, 4, 5].map((i) => [i, i]));
  setBounded(big, 9, 9, 2); // a map over the bound shrinks to it
  assert.deepEqual([...big.keys()], [5, 9]);
});
