/**
 * Runs a range of simulator seeds as one node:test test: every checker must hold on every seed, no honest
 * node may be revoked, and the range must exercise the Byzantine library. A failure names each failing seed
 * with the command that replays it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runSeed } from './run-seed.js';

/** Registers the test for seeds [start, start + count). */
export function seedRangeTest(start: number, count: number): void {
  const end = start + count - 1;
  void test(`simulator seeds ${start}..${end} hold every checker (safety, liveness after heal, no false revocation)`, async () => {
    const failures: string[] = [];
    const behaviours = new Set<string>();
    for (let seed = start; seed <= end; seed++) {
      const r = await runSeed(seed);
      r.behaviours.forEach((b) => behaviours.add(b));
      assert.equal(r.falseRevocations, 0, `seed ${seed}: honest node revoked`);
      if (r.violations.length > 0) {
        const detail = r.violations.map((v) => `[${v.checker}] ${v.detail}`).join('; ');
        failures.push(`seed ${seed}: ${detail} — replay: npm run sim -- --seed ${seed}`);
      }
    }
    assert.deepEqual(failures, []);
    // The run must actually exercise the Byzantine library, not only honest runs.
    assert.ok(
      behaviours.size >= 8,
      `only ${behaviours.size} behaviours exercised: ${[...behaviours].join(', ')}`,
    );
  });
}
