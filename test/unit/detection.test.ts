import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  binomial,
  exactDetection,
  honestHalves,
  paperFormula,
  quorumDetects,
  runDetectionExperiment,
  formatDetectionTable,
  type FaultyAnswer,
} from '../sim/detection.js';

/** Every k-subset of {0, …, n−1}. */
function* subsets(n: number, k: number, from = 0, acc: number[] = []): Generator<number[]> {
  if (acc.length === k) {
    yield acc.slice();
    return;
  }
  for (let i = from; i <= n - (k - acc.length); i++) {
    acc.push(i);
    yield* subsets(n, k, i + 1, acc);
    acc.pop();
  }
}

/** Detection probability by enumerating every read quorum: nodes 0..f−1 faulty, then H1, then H2. */
function bruteForce(n: number, f: number, q: number, faulty: FaultyAnswer): number {
  const [h1] = honestHalves(n, f);
  const role = (i: number) => (i < f ? 'F' : i < f + h1 ? 'H1' : 'H2');
  let all = 0;
  let detected = 0;
  for (const s of subsets(n, q)) {
    all++;
    if (quorumDetects(s.map(role), faulty)) detected++;
  }
  return detected / all;
}

void describe('detection formulas', () => {
  void test('binomial coefficients, with C(a, k) = 0 when a < k', () => {
    assert.equal(binomial(9, 4), 126);
    assert.equal(binomial(13, 10), 286);
    assert.equal(binomial(5, 0), 1);
    assert.equal(binomial(3, 4), 0);
    assert.equal(binomial(0, 0), 1);
    for (let a = 0; a <= 14; a++)
      for (let k = 0; k <= a; k++) assert.equal(binomial(a, k), [...subsets(a, k)].length);
  });

  void test('the exact formula matches a brute-force enumeration of all q-subsets', () => {
    for (const faulty of ['nothing', 'v1'] as const) {
      for (let n = 1; n <= 11; n++) {
        for (let f = 0; f <= n; f++) {
          for (let q = 1; q <= n; q++) {
            const want = bruteForce(n, f, q, faulty);
            const got = exactDetection(n, f, q, faulty);
            assert.ok(Math.abs(got - want) < 1e-12, `n=${n} f=${f} q=${q} ${faulty}: ${got} vs ${want}`);
          }
        }
      }
    }
  });

  void test('the paper formula is one-sided sampling with replacement from F ∪ H1', () => {
    for (const [n, f, q] of [
      [9, 3, 4],
      [9, 5, 7],
      [13, 3, 10],
      [7, 3, 3],
    ] as const) {
      const [h1] = honestHalves(n, f);
      assert.ok(Math.abs(paperFormula(n, f, q) - (1 - ((f + h1) / n) ** q)) < 1e-12);
    }
  });

  void test('paper example n = 4b+1, |Q| = 3b+1: 100% up to f = 2b−1 only; at f = 2b the odd split leaves 1/C(4b+1, b)', () => {
    for (let b = 1; b <= 4; b++) {
      const n = 4 * b + 1;
      const q = 3 * b + 1;
      for (let f = b + 1; f < 2 * b; f++) assert.equal(exactDetection(n, f, q), 1, `b=${b} f=${f}`);
      const atTwoB = exactDetection(n, 2 * b, q);
      assert.ok(Math.abs(atTwoB - (1 - 1 / binomial(n, b))) < 1e-12, `b=${b}: ${atTwoB}`);
      assert.ok(atTwoB < 1);
    }
  });
});

void describe('detection experiment (simulator)', () => {
  void test('|Q| > f + ⌈(n−f)/2⌉ always detects; small quorums detect at about the exact rate', async () => {
    const anomalies: string[] = [];
    const rows = await runDetectionExperiment({
      seeds: 40,
      configs: [
        { n: 9, f: 3, q: 7 },
        { n: 9, f: 4, q: 7 },
        { n: 9, f: 5, q: 4 },
      ],
      seedPrefix: 'unit',
      onAnomaly: (m) => anomalies.push(m),
    });
    assert.deepEqual(anomalies, []);
    const [full, oddSplit, small] = rows;
    assert.ok(full !== undefined && oddSplit !== undefined && small !== undefined);
    // n=9, f=3: H1 = H2 = 3, so no 7 nodes avoid either half.
    assert.equal(full.exact, 1);
    assert.equal(full.detected, 40, formatDetectionTable(rows));
    // n=9, f=4: |Q| = 7 > (n+f)/2 = 6.5, but H1 has 3 nodes, so Q = F ∪ H1 (1 in 36) escapes detection.
    assert.ok(Math.abs(oddSplit.exact - 35 / 36) < 1e-12);
    assert.ok(oddSplit.detected >= 36, formatDetectionTable(rows));
    // n=9, |Q|=4, f=5: exact 61/126.
    assert.ok(Math.abs(small.exact - 61 / 126) < 1e-12);
    assert.ok(Math.abs(small.measured - small.exact) < 0.2, formatDetectionTable(rows));
    assert.ok(small.detected > 0 && small.detected < 40, formatDetectionTable(rows));
    for (const r of rows) {
      assert.equal(r.trials, 40);
      assert.equal(r.modelMismatches, 0);
      assert.equal(r.clientChecked, 0, '|Q| differs from the derived read quorum: no client cross-check');
    }
  });

  void test('BftkvClient.read (sample-exact) reads the same Q and agrees with the direct read', async () => {
    const anomalies: string[] = [];
    const [row] = await runDetectionExperiment({
      seeds: 20,
      configs: [{ n: 9, f: 5 }], // |Q| = derived read quorum 6
      seedPrefix: 'unit-client',
      onAnomaly: (m) => anomalies.push(m),
    });
    assert.ok(row !== undefined);
    assert.deepEqual(anomalies, []);
    assert.equal(row.q, 6);
    assert.equal(row.clientChecked, 20);
    assert.equal(row.clientDisagreements, 0);
    assert.ok(row.detected > 0, 'some reads must detect at an 83% rate');
  });

  void test('faulty KV nodes that side with v1: detection iff Q meets H2 and F ∪ H1', async () => {
    const anomalies: string[] = [];
    const [row] = await runDetectionExperiment({
      seeds: 40,
      configs: [{ n: 7, f: 3, q: 3 }],
      faultyAnswer: 'v1',
      seedPrefix: 'unit-v1',
      onAnomaly: (m) => anomalies.push(m),
    });
    assert.ok(row !== undefined);
    assert.deepEqual(anomalies, []);
    assert.ok(Math.abs(row.exact - (1 - 10 / 35)) < 1e-12);
    assert.ok(Math.abs(row.measured - row.exact) < 0.2, `measured ${row.measured}, exact ${row.exact}`);
  });
});
