/**
 * Scenario tests on the simulator, reference topology (REFERENCE.md §10.1: cliques a01..a10 and b01..b10,
 * n = 10, b = 3 each; KV nodes rw01..rw06 with N = 6, f = 1, q = 4; u01..u03 and the uncertified u04 share
 * foo@example.com, u11 is bar@example.com). Every test builds a fresh cluster from a fixed seed and drives
 * real honest and Byzantine node implementations (test/sim/byzantine.ts): paper §4.1 read/write, TOFU and
 * write-once, §4.2 join/leave, §5 collusion. The forged-certificate and replay scenarios run on the small
 * topology only (scenarios-small.test.ts).
 *
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { utf8 } from '../../src/codec/bytes.js';
import { verifyRecord } from '../../src/protocol/verify.js';
import { equivocate, signsAnything } from './byzantine.js';
import { SimCluster, type ClusterOptions, type ServerBehaviour } from './cluster.js';
import {
  refused,
  type ReadOutcome,
  tryRead,
  show,
  read,
  revocationLog,
  revokedAt,
  honestServers,
  joinLeaveRejoin,
  joinThroughGraphLiar,
  whileDown,
  tofu,
  writeOnce,
} from './scenario-kit.js';
import { referenceTopology } from './topology.js';

const members = (clique: string) =>
  Array.from({ length: 10 }, (_, i) => `${clique}${String(i + 1).padStart(2, '0')}`);
const CLIQUE_A = members('a');
const CLIQUE_B = members('b');
const HONEST_CLIENTS = ['u01', 'u02', 'u03', 'u11'];

function start(seed: string, options: Omit<ClusterOptions, 'seed' | 'topology'> = {}): Promise<SimCluster> {
  return SimCluster.start({ seed: `scenarios-reference/${seed}`, topology: referenceTopology(), ...options });
}

void describe('scenarios on the reference topology (two cliques of n = 10, b = 3; N = 6, f = 1, q = 4)', () => {
  void test('write/read: u01 writes t = 1 then t = 2; u02 (same UID) and u11 read it with a verifying record', async () => {
    const cluster = await start('write-read');
    const x = utf8('foo@example.com/profile');
    const u01 = cluster.client('u01');
    for (const [i, v] of ['first', 'second'].entries()) {
      const w = await cluster.run(() => u01.write(x, utf8(v)));
      assert.equal(w.t, BigInt(i + 1));
      assert.ok(w.acknowledgedBy.length >= u01.quorumSystem().kvQuorum);
      for (const reader of ['u02', 'u11']) {
        const r = await read(cluster, reader, x);
        assert.deepEqual({ t: r.t, v: r.v }, { t: BigInt(i + 1), v }, `${reader} after write #${i + 1}`);
        assert.ok(r.record !== undefined);
        assert.equal(r.record.writer.id, u01.id);
        const c = cluster.client(reader);
        assert.deepEqual(verifyRecord(c.quorumSystem(), c.graph, r.record), { ok: true });
      }
    }
    assert.deepEqual(revocationLog(cluster), []);
  });

  void test('concurrent conflicting writers u01, u02 and u03 on one fresh key: one value wins for every reader, nobody is revoked', async () => {
    const cluster = await start('concurrent-writers');
    const x = utf8('foo@example.com/race');
    const writers = ['u01', 'u02', 'u03'];
    const results = await cluster.run(() =>
      Promise.all(writers.map((w) => cluster.client(w).write(x, utf8(`value of ${w}`)))),
    );
    const ts = results.map((r) => r.t);
    assert.equal(new Set(ts).size, ts.length, `one timestamp per acknowledged write: ${ts.join(',')}`);
    const last = results.reduce((a, b) => (b.t > a.t ? b : a));
    const winner = { t: last.t, v: `value of ${writers[results.indexOf(last)]!}` };
    for (let round = 0; round < 3; round++) {
      for (const reader of HONEST_CLIENTS) {
        const r = await read(cluster, reader, x, round === 0 ? 'all' : 'sample');
        assert.deepEqual({ t: r.t, v: r.v }, winner, `${reader}, round ${round}`);
      }
    }
    assert.deepEqual(revocationLog(cluster), [], 'honest writers are never revoked');
  });

  void test('TOFU: the owner UID writes from either certified device; uncertified u04 and other-UID u11 are refused', async () => {
    await tofu(start, utf8('foo@example.com/tofu'), HONEST_CLIENTS);
  });

  void test('write-once: writeOnce seals the variable at t = 2^64−1; later writes are refused as sealed', async (t) => {
    await writeOnce(start, utf8('foo@example.com/once'), HONEST_CLIENTS, t);
  });

  void test('paper §5 collusion with b = 3 colluding signers in each clique: exactly u11 and the colluders are revoked; honest writes and reads still work', async () => {
    const colluders = ['a02', 'a05', 'a09', 'b01', 'b04', 'b10'];
    const behaviours = new Map<string, ServerBehaviour>(colluders.map((n) => [n, signsAnything]));
    const cluster = await start('collusion', { behaviours });
    const before = utf8('foo@example.com/before-attack');
    await cluster.run(() => cluster.client('u01').write(before, utf8('kept')));

    const attacker = cluster.identity('u11');
    const x = utf8('bar@example.com/evil');
    const attempt = await cluster.run(() =>
      equivocate(
        cluster,
        attacker,
        cluster.client('u11', { byzantine: true }),
        x,
        new Set(colluders.map((n) => cluster.identity(n).id)),
        utf8('pay alice'),
        utf8('pay carol'),
      ),
    );
    assert.ok(attempt.sufficient[0] || attempt.sufficient[1], 'the attack produced a valid record');
    assert.deepEqual(attempt.doubleSigners.map((id) => cluster.name(id)).sort(), colluders);
    await cluster.settle(300);

    const guilty = ['u11', ...colluders].sort();
    for (const s of honestServers(cluster)) assert.deepEqual(revokedAt(cluster, s), guilty, s);
    const wrong = cluster.revocations.filter((e) => e.byHonest && !guilty.includes(e.accusedName));
    assert.deepEqual(wrong, [], 'honest nodes revoke only the guilty');

    // The only value with a sufficient collective signature is v1; a reader sees it, nothing, or an error.
    const acceptable = (o: ReadOutcome) => !o.ok || o.v === undefined || o.v === 'pay alice';
    for (const quorum of ['all', 'sample'] as const) {
      const o = await tryRead(cluster, 'u01', x, quorum);
      assert.ok(acceptable(o), `u01 (${quorum}) read ${show(o)}`);
    }

    // u01 learns the revocations by re-joining: two cliques of 7 honest members remain (b = 2).
    const u01 = cluster.client('u01');
    await cluster.run(() => u01.join());
    assert.deepEqual(
      u01.quorumSystem().cliques.map((c) => c.members.length),
      [7, 7],
    );
    const evil = await tryRead(cluster, 'u01', x);
    assert.ok(acceptable(evil), `u01 read ${show(evil)}`);
    assert.deepEqual(await tryRead(cluster, 'u01', before), { ok: true, t: 1n, v: 'kept' });
    const fresh = utf8('foo@example.com/after-attack');
    const w = await cluster.run(() => u01.write(fresh, utf8('still works')));
    assert.equal(w.t, 1n);
    // Readers that learned the revocations (a reader that has not still demands the old clique's threshold).
    for (const reader of ['u02', 'u03']) await cluster.run(() => cluster.client(reader).join());
    for (const reader of ['u01', 'u02', 'u03'])
      assert.deepEqual(await tryRead(cluster, reader, fresh), { ok: true, t: 1n, v: 'still works' }, reader);
    const wrongAfter = cluster.revocations.filter((e) => e.byHonest && !guilty.includes(e.accusedName));
    assert.deepEqual(wrongAfter, []);
  });

  void test('availability: b signers per clique and f KV nodes down → writes and reads work; b+1 signers of one clique down → writes fail, reads work; f+1 KV nodes down → writes still work (q = 4 leaves N−q = 2 > f), N−q+1 down → writes fail', async () => {
    const cluster = await start('availability');
    const u01 = cluster.client('u01');
    const qs = u01.quorumSystem();
    assert.deepEqual(
      [qs.cliques.map((c) => c.b), qs.kvNodes.length, qs.kvFaults, qs.kvQuorum],
      [[3, 3], 6, 1, 4],
    );
    const x = utf8('foo@example.com/available');
    const down = (names: string[], body: () => Promise<void>) => whileDown(cluster, names, body);
    await down(['a01', 'a02', 'a03', 'b01', 'b02', 'b03', 'rw01'], async () => {
      assert.equal((await cluster.run(() => u01.write(x, utf8('one')))).t, 1n);
      assert.deepEqual(await tryRead(cluster, 'u01', x), { ok: true, t: 1n, v: 'one' });
    });
    await down(['a01', 'a02', 'a03', 'a04'], async () => {
      const start = cluster.sim.now;
      await refused(cluster, () => u01.write(x, utf8('two')), 30_000);
      assert.ok(cluster.sim.now - start <= u01.options.phaseTimeoutMs * 2, 'the write fails fast');
      assert.deepEqual(await tryRead(cluster, 'u01', x), { ok: true, t: 1n, v: 'one' });
    });
    await down(['rw01', 'rw02'], async () => {
      const w = await cluster.run(() => u01.write(x, utf8('three')));
      assert.deepEqual(await tryRead(cluster, 'u02', x), { ok: true, t: w.t, v: 'three' });
    });
    await down(['rw01', 'rw02', 'rw03'], async () => {
      await refused(cluster, () => u01.write(x, utf8('four')), 30_000);
    });
    // Healed: writes work again and readers agree.
    const w = await cluster.run(() => u01.write(x, utf8('five')));
    for (const reader of HONEST_CLIENTS)
      assert.deepEqual(await tryRead(cluster, reader, x), { ok: true, t: w.t, v: 'five' }, reader);
    assert.deepEqual(revocationLog(cluster), []);
  });

  void test('join, leave, re-join: a latecomer KV node becomes known to every server and to u01, is dropped on leave, and re-joining restores every graph fingerprint exactly', async (t) => {
    // The latecomer knows only the members of clique a; Algorithm 7 discovers the rest.
    await joinLeaveRejoin(start, CLIQUE_A, t);
  });

  void test('join through a graph-lying signer plus honest servers: forged certifications are ignored, the phantom node stays unconnected and unused', async (t) => {
    await joinThroughGraphLiar(start, 'a01', CLIQUE_A, [CLIQUE_A, CLIQUE_B], t);
  });
});
