/**
 * Scenario tests on the simulator, small topology (one clique c01..c04 with n = 4, b = 1; KV nodes
 * rw01..rw04 with N = 4, f = 1, q = 3; u01, u02 and the uncertified u04 share alice@example.com, u11 is
 * bob@example.com). Every test builds a fresh cluster from a fixed seed and drives real honest and
 * Byzantine node implementations (test/sim/byzantine.ts): paper §4.1 read/write, TOFU and write-once,
 * §4.2 join/leave, §5 collusion, forged quorum certificates and replayed records.
 *
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { utf8 } from '../../src/codec/bytes.js';
import { BftkvClient } from '../../src/protocol/client.js';
import { decodeRequest } from '../../src/protocol/messages.js';
import { verifyRecord } from '../../src/protocol/verify.js';
import type { Transport } from '../../src/transport/transport.js';
import { equivocate, forgedQuorumCertificateWrite, replayOldRecord, signsAnything } from './byzantine.js';
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
import { smallTopology } from './topology.js';

/**
 * Holds the first `n` answers to 'time' requests until all `n` are waiting, then resolves them in one
 * synchronous step; later answers pass through (a write that lost the race retries).
 */
function timeAnswersInOneTick(inner: Transport, n: number): Transport {
  let held: Array<() => void> | undefined = [];
  return {
    request: async (peer, address, payload, signal) => {
      const response = await inner.request(peer, address, payload, signal);
      if (held === undefined || decodeRequest(payload).kind !== 'time') return response;
      const waiting = held;
      return new Promise<Uint8Array>((resolve) => {
        waiting.push(() => resolve(response));
        if (waiting.length < n) return;
        held = undefined;
        for (const release of waiting) release();
      });
    },
  };
}

const SIGNERS = ['c01', 'c02', 'c03', 'c04'];
const KV = ['rw01', 'rw02', 'rw03', 'rw04'];
const HONEST_CLIENTS = ['u01', 'u02', 'u11'];

function start(seed: string, options: Omit<ClusterOptions, 'seed' | 'topology'> = {}): Promise<SimCluster> {
  return SimCluster.start({ seed: `scenarios-small/${seed}`, topology: smallTopology(), ...options });
}

void describe('scenarios on the small topology (n = 4, b = 1, N = 4, f = 1)', () => {
  void test('write/read: u01 writes t = 1 then t = 2; u02 (same UID) and u11 read it with a verifying record', async () => {
    const cluster = await start('write-read');
    const x = utf8('alice@example.com/profile');
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

  void test('concurrent conflicting writers u01 and u02 on one fresh key: one value wins for every reader, nobody is revoked', async () => {
    const cluster = await start('concurrent-writers');
    const x = utf8('alice@example.com/race');
    const writers = ['u01', 'u02'];
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

  void test('one client writing one key concurrently never signs two values at one timestamp, even when the time answers arrive in one tick', async () => {
    // Over TLS the answers of concurrent requests share one connection per peer and can be decoded in one
    // read: both writes' time phases then end in the same tick. The simulator delivers one answer per
    // event, so this transport holds the time answers and hands them over together.
    const cluster = await start('concurrent-same-client');
    const u01 = cluster.identity('u01');
    const writes = 2;
    const client = new BftkvClient({
      key: u01.key,
      certificate: u01.cert,
      clock: cluster.sim.clock,
      random: cluster.random.fork('client/u01/batched'),
      transport: timeAnswersInOneTick(cluster.net.transportFor(u01.id), writes * SIGNERS.length),
    });
    client.graph.addCertificates([...cluster.ids.values()].map((i) => i.cert));
    const x = utf8('alice@example.com/same-client');
    const results = await cluster.run(() =>
      Promise.all(Array.from({ length: writes }, (_, i) => client.write(x, utf8(`value ${i}`)))),
    );
    const ts = results.map((r) => r.t);
    assert.equal(new Set(ts).size, ts.length, `one timestamp per write: ${ts.join(',')}`);
    assert.deepEqual(revocationLog(cluster), [], 'an honest client is never revoked');
    const last = results.reduce((a, b) => (b.t > a.t ? b : a));
    const r = await read(cluster, 'u02', x);
    assert.deepEqual({ t: r.t, v: r.v }, { t: last.t, v: `value ${results.indexOf(last)}` });
  });

  void test('TOFU: the owner UID writes from either certified device; uncertified u04 and other-UID u11 are refused', async () => {
    await tofu(start, utf8('alice@example.com/tofu'), HONEST_CLIENTS);
  });

  void test('write-once: writeOnce seals the variable at t = 2^64−1; later writes are refused as sealed', async (t) => {
    await writeOnce(start, utf8('alice@example.com/once'), HONEST_CLIENTS, t);
  });

  void test('paper §5 collusion with b = 1 colluding signer: exactly u11 and the colluder are revoked; the clique then has 3 < 4 members, so writes fail with an error, never a wrong value', async () => {
    const colluders = ['c02'];
    const behaviours = new Map<string, ServerBehaviour>(colluders.map((n) => [n, signsAnything]));
    const cluster = await start('collusion', { behaviours });
    const before = utf8('alice@example.com/before-attack');
    await cluster.run(() => cluster.client('u01').write(before, utf8('kept')));

    const attacker = cluster.identity('u11');
    const x = utf8('bob@example.com/evil');
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

    // u01 learns the revocations by re-joining: c01, c03, c04 no longer form a clique of ≥ 4.
    await cluster.run(() => cluster.client('u01').join());
    assert.equal(cluster.client('u01').quorumSystem().cliques.length, 0);
    const e = await refused(cluster, () =>
      cluster.client('u01').write(utf8('alice@example.com/new'), utf8('v')),
    );
    assert.equal(e.code, 'insufficientResponses');
    const o = await tryRead(cluster, 'u01', before);
    assert.ok(!o.ok || (o.t === 1n && o.v === 'kept'), `pre-attack key read as ${show(o)}`);
    const evil = await tryRead(cluster, 'u01', x);
    assert.ok(acceptable(evil), `u01 read ${show(evil)}`);
  });

  void test('availability: b signers and f KV nodes down → writes and reads work; b+1 signers down → writes fail, reads work; f+1 KV nodes down → writes fail', async () => {
    const cluster = await start('availability');
    const u01 = cluster.client('u01');
    const qs = u01.quorumSystem();
    assert.deepEqual([qs.cliques[0]!.b, qs.kvNodes.length, qs.kvFaults, qs.kvQuorum], [1, 4, 1, 3]);
    const x = utf8('alice@example.com/available');
    const down = (names: string[], body: () => Promise<void>) => whileDown(cluster, names, body);
    await down(['c01', 'rw01'], async () => {
      assert.equal((await cluster.run(() => u01.write(x, utf8('one')))).t, 1n);
      assert.deepEqual(await tryRead(cluster, 'u01', x), { ok: true, t: 1n, v: 'one' });
    });
    await down(['c01', 'c02'], async () => {
      const start = cluster.sim.now;
      await refused(cluster, () => u01.write(x, utf8('two')), 30_000);
      assert.ok(cluster.sim.now - start <= u01.options.phaseTimeoutMs * 2, 'the write fails fast');
      assert.deepEqual(await tryRead(cluster, 'u01', x), { ok: true, t: 1n, v: 'one' });
    });
    await down(['rw01', 'rw02'], async () => {
      await refused(cluster, () => u01.write(x, utf8('three')), 30_000);
    });
    // Healed: writes work again and readers agree.
    const w = await cluster.run(() => u01.write(x, utf8('four')));
    for (const reader of HONEST_CLIENTS)
      assert.deepEqual(await tryRead(cluster, reader, x), { ok: true, t: w.t, v: 'four' }, reader);
    assert.deepEqual(revocationLog(cluster), []);
  });

  void test('join, leave, re-join: a latecomer KV node becomes known to every server and to u01, is dropped on leave, and re-joining restores every graph fingerprint exactly', async (t) => {
    // The latecomer knows only the signers it certified; Algorithm 7 discovers the rest.
    await joinLeaveRejoin(start, SIGNERS, t);
  });

  void test('join through a graph-lying signer plus honest servers: forged certifications are ignored, the phantom node stays unconnected and unused', async (t) => {
    await joinThroughGraphLiar(start, 'c01', SIGNERS, [SIGNERS], t);
  });

  void test('forged quorum certificate by uncertified u04: no honest signer signs, no honest KV node stores, nobody is revoked', async () => {
    const cluster = await start('forged-quorum-certificate');
    const x = utf8('alice@example.com/forged');
    const out = await cluster.run(() =>
      forgedQuorumCertificateWrite(cluster, cluster.identity('u04'), cluster.identity('u01'), x),
    );
    assert.deepEqual(
      out.signedBy.filter((id) => cluster.isHonest(id)),
      [],
    );
    assert.deepEqual(
      out.storedAt.filter((id) => cluster.isHonest(id)),
      [],
    );
    for (const n of KV) assert.deepEqual(await cluster.server(n)!.versions(x), [], n);
    assert.deepEqual(await tryRead(cluster, 'u01', x), { ok: true, t: 0n, v: undefined });
    await cluster.settle(100);
    assert.deepEqual(revocationLog(cluster), []);
  });

  void test('replay of an older signed record after newer writes: no signer re-signs it and reads still return the latest', async () => {
    const cluster = await start('replay');
    const x = utf8('alice@example.com/replayed');
    await cluster.run(() => cluster.client('u01').write(x, utf8('old')));
    const old = (await read(cluster, 'u02', x)).record;
    assert.ok(old !== undefined);
    await cluster.run(() => cluster.client('u01').write(x, utf8('newer')));
    const latest = await cluster.run(() => cluster.client('u02').write(x, utf8('newest')));
    const replay = await cluster.run(() => replayOldRecord(cluster, cluster.identity('u04'), old));
    assert.equal(replay.signAccepted, 0);
    await cluster.settle(100);
    for (const reader of HONEST_CLIENTS) {
      for (const quorum of ['all', 'sample'] as const) {
        const r = await read(cluster, reader, x, quorum);
        assert.deepEqual({ t: r.t, v: r.v }, { t: latest.t, v: 'newest' }, `${reader} (${quorum})`);
      }
    }
    assert.deepEqual(revocationLog(cluster), []);
  });
});
