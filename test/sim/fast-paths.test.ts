/**
 * The client's fast paths (docs/PROTOCOL.md §6): in a healthy reference cluster a write asks only the nodes
 * it needs; with mute or refusing nodes it hedges to the others and still completes; a node that stalled a
 * fast path is left out of the next one; and a signer lying about timestamps cannot stall a variable.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { utf8 } from '../../src/codec/bytes.js';
import { verify } from '../../src/crypto/ed25519.js';
import { decodeRequest, encodeResponse, type SignedRecord } from '../../src/protocol/messages.js';
import { recordStatement } from '../../src/protocol/verify.js';
import { mute, refusesToSign, signsGarbage } from './byzantine.js';
import { SimCluster, type ServerBehaviour } from './cluster.js';
import { read } from './scenario-kit.js';
import { referenceTopology } from './topology.js';

const SIGNERS = [...Array.from({ length: 10 }, (_, i) => `a${String(i + 1).padStart(2, '0')}`)].concat(
  Array.from({ length: 10 }, (_, i) => `b${String(i + 1).padStart(2, '0')}`),
);
const KV = ['rw01', 'rw02', 'rw03', 'rw04', 'rw05', 'rw06'];

function start(seed: string, behaviours?: Map<string, ServerBehaviour>): Promise<SimCluster> {
  return SimCluster.start({
    seed: `fast-paths/${seed}`,
    topology: referenceTopology(),
    ...(behaviours === undefined ? {} : { behaviours }),
  });
}

/** Requests each named server handled so far. */
function requests(cluster: SimCluster, names: readonly string[]): number {
  return names.reduce((n, name) => n + cluster.server(name)!.stats.requests, 0);
}

/** A signer that refuses every sign request as stale, claiming a timestamp near the top of the range. */
const staleLiar: ServerBehaviour = {
  name: 'signer-stale-liar',
  wrap: (server) => async (from, payload) => {
    if (decodeRequest(payload).kind === 'sign')
      return encodeResponse({
        kind: 'error',
        code: 'staleTimestamp',
        message: 'later timestamp signed',
        timestamp: 1n << 62n,
      });
    return server.handle(from, payload);
  },
};

void describe('client fast paths on the reference topology (2 × 10 signers, 6 KV nodes, q = 4)', () => {
  void test('a healthy rewrite asks 8 signers per clique and the first 4 KV nodes of the key, with no time phase', async () => {
    const cluster = await start('healthy');
    const u01 = cluster.client('u01');
    const x = utf8('foo@example.com/fast');
    await cluster.run(() => u01.write(x, utf8('v1')));
    await cluster.settle(500); // gossip of the first write
    const signers0 = requests(cluster, SIGNERS);
    const kv0 = requests(cluster, KV);
    const w = await cluster.run(() => u01.write(x, utf8('v2')));
    assert.equal(w.t, 2n);
    assert.equal(requests(cluster, SIGNERS) - signers0, 16, 'sign requests only: 8 per clique');
    assert.equal(w.signers.length, 16);
    assert.equal(requests(cluster, KV) - kv0, 4, 'write requests to q KV nodes');
    assert.equal(w.acknowledgedBy.length, 4);
    await cluster.settle(500);
    // Gossip goes to the same preferred nodes, which already hold the record: no other KV node stores it.
    const holders = KV.filter((n) => cluster.server(n)!.stats.stored > 0);
    assert.equal(holders.length, 4, `holders: ${holders.join(',')}`);
    const kv1 = requests(cluster, KV);
    assert.deepEqual((await read(cluster, 'u02', x)).v, 'v2');
    assert.equal(requests(cluster, KV) - kv1, 4, 'a read asks q KV nodes');
  });

  void test('mute and refusing nodes inside the fast path: writes and reads complete, the mute ones are avoided next time', async () => {
    const behaviours = new Map<string, ServerBehaviour>([
      ['a01', mute],
      ['a02', refusesToSign],
      ['b03', mute],
      ['rw01', mute],
    ]);
    const cluster = await start('faulty', behaviours);
    const u01 = cluster.client('u01');
    for (let i = 0; i < 4; i++) {
      const x = utf8(`foo@example.com/k${i}`);
      const started = cluster.sim.clock.now();
      const w = await cluster.run(() => u01.write(x, utf8(`v${i}`)));
      const elapsed = cluster.sim.clock.now() - started;
      for (const bad of ['a01', 'a02', 'b03', 'rw01'])
        assert.ok(
          !w.signers.includes(cluster.identity(bad).id) &&
            !w.acknowledgedBy.includes(cluster.identity(bad).id),
        );
      // After the first write the mute nodes are suspected, so later writes do not wait for the hedge.
      if (i > 0) assert.ok(elapsed < u01.options.hedgeMs, `write ${i} took ${elapsed} virtual ms`);
      assert.equal((await read(cluster, 'u02', x)).v, `v${i}`);
    }
  });

  void test('a signer that reports a huge timestamp in its refusals cannot push the writer past the step bound', async () => {
    const cluster = await start('stale-liar', new Map([['a04', staleLiar]]));
    const u01 = cluster.client('u01');
    const x = utf8('foo@example.com/liar');
    for (let i = 1; i <= 3; i++) {
      const w = await cluster.run(() => u01.write(x, utf8(`v${i}`)));
      assert.equal(w.t, BigInt(i), 'timestamps stay dense');
    }
    assert.equal((await read(cluster, 'u02', x)).v, 'v3');
  });
  void test('optimistic signature checks: b = 3 signers of a clique send garbage; the KV nodes refuse, the writer distrusts exactly them, retries, and every record it stores is robust', async () => {
    const garbage = ['a01', 'a02', 'a03'];
    const cluster = await start('garbage', new Map(garbage.map((n) => [n, signsGarbage])));
    const u01 = cluster.client('u01');
    const garbageIds = new Set(garbage.map((n) => cluster.identity(n).id));
    /** Per clique (a/b): how many of the record's signatures verify, and how many come from garbage signers. */
    const census = (rec: SignedRecord) => {
      const statement = recordStatement(rec);
      const out = { a: 0, b: 0, garbage: 0 };
      for (const s of rec.signatures) {
        const name = cluster.name(s.signer);
        if (garbageIds.has(s.signer)) out.garbage++;
        else if (verify(cluster.identity(name).key.publicKey, statement, s.signature))
          out[name.startsWith('a') ? 'a' : 'b']++;
      }
      return out;
    };
    let refusedOnce = false;
    for (let i = 0; i < 8; i++) {
      const x = utf8(`garbage/${i}`);
      const before = requests(cluster, KV);
      const distrustedBefore = new Set(u01.distrustedSigners());
      const w = await cluster.run(() => u01.write(x, utf8(`v${i}`)));
      // A first store of 4 requests, plus 4 more when the KV nodes refused the first record.
      if (requests(cluster, KV) - before > 4) refusedOnce = true;
      const r = await cluster.run(() => cluster.client('u02').read(x));
      assert.equal(r.t, w.t);
      const c = census(r.record!);
      // Sufficient in both cliques; at most one garbage signature taken unverified (two would leave clique a
      // short of 7, and the KV nodes refuse); robust: a garbage signer is one of the b that could ever be
      // revoked, so 8 − g valid signatures still survive b − g revocations.
      assert.ok(c.a >= 7 && c.b >= 7, `valid per clique: ${JSON.stringify(c)}`);
      assert.ok(c.garbage <= 1, JSON.stringify(c));
      for (const s of r.record!.signatures)
        assert.ok(
          !distrustedBefore.has(s.signer),
          'a distrusted signer is verified on arrival, never stored',
        );
    }
    assert.ok(
      refusedOnce,
      'some fast path picked two or three garbage signers, so the KV nodes refused once',
    );
    const distrusted = u01.distrustedSigners();
    assert.ok(distrusted.length >= 2, `distrusted: ${distrusted.length}`);
    for (const id of distrusted) assert.ok(garbageIds.has(id), 'only garbage signers are distrusted');
  });
});
