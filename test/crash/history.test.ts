// The crash test's checkers (test/crash/history.ts) on hand-made histories: one test per rule, so a
// checker that stops flagging a violation fails here rather than letting a crash run pass.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkAcknowledgedOrder, checkRead, History, type ReadObservation } from './history.js';

const ack = { acknowledgedBy: ['k1', 'k2', 'k3'], signers: ['c1', 'c2', 'c3'] };

/** Writes of key `k`: v1 acked t=1 [0,10], v2 failed [20,30], v3 acked t=3 [40,50], v4 failed [45,60]. */
function sample(): History {
  const h = new History();
  h.acked(h.begin('k', 'v1', 0, 0), { t: 1n, ...ack }, 10);
  h.failed(h.begin('k', 'v2', 0, 20), 'TimeoutError', 30);
  h.acked(h.begin('k', 'v3', 0, 40), { t: 3n, ...ack }, 50);
  h.failed(h.begin('k', 'v4', 1, 45), 'TransportError', 60);
  return h;
}

const read = (value: string | undefined, t: bigint, startMs = 100): ReadObservation => ({
  key: 'k',
  value,
  t,
  startMs,
});
const kinds = (h: History, r: ReadObservation) => checkRead(h, r).map((v) => v.kind);

void test('accepts the last acknowledged write', () => {
  assert.deepEqual(kinds(sample(), read('v3', 3n)), []);
});

void test('accepts a failed write that was still running when the last acknowledged one began', () => {
  assert.deepEqual(kinds(sample(), read('v4', 4n)), []);
});

void test('flags a lost acknowledged write: nothing read', () => {
  assert.deepEqual(kinds(sample(), read(undefined, 0n)), ['lost']);
});

void test('flags a lost acknowledged write: an older acknowledged value read', () => {
  assert.deepEqual(kinds(sample(), read('v1', 1n)), ['lost']);
});

void test('flags a failed write that had ended before the last acknowledged one began', () => {
  assert.deepEqual(kinds(sample(), read('v2', 4n)), ['stale-failed-write']);
});

void test('flags a value never written to the key', () => {
  assert.deepEqual(kinds(sample(), read('other', 9n)), ['unknown-value']);
});

void test('flags an acknowledged value read under another timestamp', () => {
  assert.deepEqual(kinds(sample(), read('v3', 5n)), ['timestamp']);
});

void test('flags another value at the acknowledged timestamp', () => {
  assert.deepEqual(kinds(sample(), read('v4', 3n)), ['order']);
});

void test('only acknowledgements finished before the read started are required', () => {
  // At 45 the read overlaps v3 (acked at 50): v1 is still a valid answer, nothing is invalid.
  assert.deepEqual(kinds(sample(), read('v1', 1n, 45)), []);
  assert.deepEqual(kinds(sample(), read(undefined, 0n, 5)), []);
});

void test('acknowledged order: flags a later write with a lower timestamp, and a shared timestamp', () => {
  assert.deepEqual(checkAcknowledgedOrder(sample()), []);
  const h = sample();
  h.acked(h.begin('k', 'v5', 0, 70), { t: 2n, ...ack }, 80);
  assert.deepEqual(
    checkAcknowledgedOrder(h).map((v) => v.kind),
    ['order'],
  );
  const same = sample();
  same.acked(same.begin('k', 'v5', 1, 41), { t: 3n, ...ack }, 49);
  assert.deepEqual(
    checkAcknowledgedOrder(same).map((v) => v.kind),
    ['order'],
  );
});

void test('values are unique per run', () => {
  const h = sample();
  assert.throws(() => h.begin('other', 'v1', 0, 90), RangeError);
});
