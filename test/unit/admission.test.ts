/**
 * Admission control (src/node/admission.ts): the per-peer token bucket on an injected clock, the bounded
 * bucket map, the node-wide concurrency cap, and the wrapped handler's typed refusals.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Admission, ConcurrencyLimit, PeerRateLimiter } from '../../src/node/admission.js';
import { decodeResponse, encodeResponse } from '../../src/protocol/messages.js';
import type { ErrorCode } from '../../src/protocol/errors.js';

function manualClock(startMs = 1_000_000) {
  let nowMs = startMs;
  return {
    now: () => nowMs,
    advance: (ms: number) => {
      nowMs += ms;
    },
  };
}

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const OK = encodeResponse({ kind: 'time', t: 1n });
const codeOf = (response: Uint8Array): ErrorCode | 'ok' => {
  const r = decodeResponse('time', response);
  return r.kind === 'error' ? r.code : 'ok';
};

void test('token bucket: a full burst, then the sustained rate, never more than the burst', () => {
  const clock = manualClock();
  const limiter = new PeerRateLimiter({ ratePerSecond: 2, burst: 3, clock });
  assert.deepEqual(
    [1, 2, 3, 4].map(() => limiter.take('p')),
    [true, true, true, false],
  );
  clock.advance(499);
  assert.equal(limiter.take('p'), false, 'less than one token after 499 ms at 2/s');
  clock.advance(1);
  assert.equal(limiter.take('p'), true, 'one token after 500 ms at 2/s');
  assert.equal(limiter.take('p'), false);
  // A refused take consumes nothing: half a token stays half a token.
  clock.advance(250);
  assert.equal(limiter.take('p'), false);
  clock.advance(250);
  assert.equal(limiter.take('p'), true);
  // Idle for a long time: the bucket holds the burst, not more.
  clock.advance(60_000);
  assert.deepEqual(
    [1, 2, 3, 4].map(() => limiter.take('p')),
    [true, true, true, false],
  );
});

void test('token bucket: peers are independent', () => {
  const clock = manualClock();
  const limiter = new PeerRateLimiter({ ratePerSecond: 1, burst: 2, clock });
  assert.equal(limiter.take('a'), true);
  assert.equal(limiter.take('a'), true);
  assert.equal(limiter.take('a'), false);
  assert.equal(limiter.take('b'), true, 'another peer keeps its own burst');
  assert.equal(limiter.take('b'), true);
  assert.equal(limiter.take('b'), false);
});

void test('token bucket: at most peersMax buckets, the least recently seen dropped first', () => {
  const clock = manualClock();
  const limiter = new PeerRateLimiter({ ratePerSecond: 1, burst: 1, clock, peersMax: 2 });
  assert.equal(limiter.take('a'), true);
  assert.equal(limiter.take('b'), true);
  assert.equal(limiter.take('a'), false); // a seen last now: b is the oldest
  assert.equal(limiter.take('c'), true); // drops b
  assert.equal(limiter.peers, 2);
  assert.equal(limiter.take('a'), false, 'a was kept (recently seen) and is still empty');
  assert.equal(limiter.take('b'), true, 'b was dropped and starts over with a full bucket');
  assert.equal(limiter.peers, 2);
  for (let i = 0; i < 100; i++) limiter.take(`peer-${i}`);
  assert.equal(limiter.peers, 2);
});

void test('token bucket: rejects non-positive or fractional settings', () => {
  const clock = manualClock();
  assert.throws(() => new PeerRateLimiter({ ratePerSecond: 0, burst: 1, clock }), RangeError);
  assert.throws(() => new PeerRateLimiter({ ratePerSecond: 1, burst: 1.5, clock }), RangeError);
  assert.throws(() => new PeerRateLimiter({ ratePerSecond: 1, burst: 1, clock, peersMax: 0 }), RangeError);
});

void test('concurrency limit: never more than max at once; release frees a slot; unmatched release is a bug', () => {
  const limit = new ConcurrencyLimit(2);
  assert.equal(limit.tryAcquire(), true);
  assert.equal(limit.tryAcquire(), true);
  assert.equal(limit.tryAcquire(), false);
  assert.equal(limit.running, 2);
  limit.release();
  assert.equal(limit.tryAcquire(), true);
  limit.release();
  limit.release();
  assert.equal(limit.running, 0);
  assert.throws(() => limit.release());
});

void test('admission: over the concurrency cap a request is answered busy at once and not processed', async () => {
  const clock = manualClock();
  const admission = new Admission({ ratePerPeer: 1000, burstPerPeer: 1000, concurrentRequestsMax: 2 }, clock);
  const gates = [deferred<Uint8Array>(), deferred<Uint8Array>(), deferred<Uint8Array>()];
  let calls = 0;
  const handler = admission.wrap(() => gates[calls++]!.promise);
  const first = handler('p', OK);
  const second = handler('q', OK);
  assert.equal(codeOf(await handler('r', OK)), 'busy');
  assert.equal(calls, 2, 'the refused request never reached the handler');
  assert.equal(admission.concurrency.running, 2);
  gates[0]!.resolve(OK);
  assert.equal(await first, OK);
  await Promise.resolve(); // the slot is released when the handler's promise settles
  const third = handler('r', OK);
  assert.equal(calls, 3);
  // A failing handler gives its slot back too, and its rejection reaches the transport unchanged.
  gates[1]!.reject(new Error('storage failed'));
  await assert.rejects(second, /storage failed/);
  gates[2]!.resolve(OK);
  await third;
  await Promise.resolve();
  assert.equal(admission.concurrency.running, 0);
  // So does a handler that throws synchronously.
  const throwing = admission.wrap(() => {
    throw new Error('bug');
  });
  await assert.rejects(throwing('p', OK), /bug/);
  await Promise.resolve();
  assert.equal(admission.concurrency.running, 0);
  assert.deepEqual(admission.stats, { admitted: 4, rateLimited: 0, busy: 1 });
});

void test('admission: a peer over its rate is answered rateLimited while another peer is served', async () => {
  const clock = manualClock();
  const admission = new Admission({ ratePerPeer: 1, burstPerPeer: 2, concurrentRequestsMax: 10 }, clock);
  let calls = 0;
  const handler = admission.wrap(async () => {
    calls++;
    return OK;
  });
  const codes = [];
  for (let i = 0; i < 4; i++) codes.push(codeOf(await handler('flooder', OK)));
  assert.deepEqual(codes, ['ok', 'ok', 'rateLimited', 'rateLimited']);
  assert.equal(codeOf(await handler('other', OK)), 'ok');
  assert.equal(calls, 3);
  clock.advance(1000);
  assert.equal(codeOf(await handler('flooder', OK)), 'ok', 'one more token a second later');
  assert.deepEqual(admission.stats, { admitted: 4, rateLimited: 2, busy: 0 });
});
