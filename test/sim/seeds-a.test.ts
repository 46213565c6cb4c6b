/**
 * Seeds 0–99 of the deterministic simulator (half of the 200 that npm test runs; the
 * other half is in seeds-b.test.ts so the two run in parallel). A failure names the seed and the replay command.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runSeed } from './run-seed.js';

void test('simulator seeds 0..99 hold every checker (safety, liveness after heal, no false revocation)', async () => {
  const failures: string[] = [];
  const behaviours = new Set<string>();
  for (let seed = 0; seed < 100; seed++) {
    const r = await runSeed(seed);
    r.behaviours.forEach((b) => behaviours.add(b));
    assert.equal(r.falseRevocations, 0, `seed ${seed}: honest node revoked`);
    if (r.violations.length > 0) {
      failures.push(
        `seed ${seed}: ${r.violations.map((v) => `[${v.checker}] ${v.detail}`).join('; ')} — replay: npm run sim -- --seed ${seed}`,
      );
    }
  }
  assert.deepEqual(failures, []);
  // The run must actually exercise the Byzantine library, not only honest runs.
  assert.ok(
    behaviours.size >= 8,
    `only ${behaviours.size} behaviours exercised: ${[...behaviours].join(', ')}`,
  );
});
