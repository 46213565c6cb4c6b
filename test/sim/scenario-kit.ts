/**
 * Helpers shared by the scenario tests (test/sim/scenarios-*.test.ts): running a task to a typed refusal,
 * reads that report instead of throwing, revocation logs, graph fingerprints by node name, and the
 * scenarios that run unchanged on every topology (TOFU, write-once, join/leave). Every topology has the
 * clients u01 and u02 (devices of one UID), the uncertified u04 of that UID and u11 of another UID.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { BftkvClient } from '../../src/protocol/client.js';
import { utf8 } from '../../src/codec/bytes.js';
import { SEALED_TIMESTAMP } from '../../src/limits.js';
import { ProtocolError, type ErrorCode } from '../../src/protocol/errors.js';
import type { NodeId } from '../../src/trust/certificate.js';
import { TrustGraph } from '../../src/trust/graph.js';
import { graphLiar } from './byzantine.js';
import type { ClusterOptions, ServerBehaviour, SimCluster } from './cluster.js';

/** Starts a fresh cluster of one topology for the scenario named `seed`. */
export type StartCluster = (
  seed: string,
  options?: Omit<ClusterOptions, 'seed' | 'topology'>,
) => Promise<SimCluster>;

export const text = (b: Uint8Array | undefined): string | undefined =>
  b === undefined ? undefined : new TextDecoder().decode(b);

/** Runs `task` in the simulation; it must reject with a ProtocolError within `budgetMs` virtual ms. */
export async function refused(
  cluster: SimCluster,
  task: () => Promise<unknown>,
  budgetMs = 60_000,
): Promise<ProtocolError> {
  const error = await cluster.run(task, budgetMs).then(
    () => 'resolved',
    (e: unknown) => e,
  );
  assert.ok(error instanceof ProtocolError, `expected a ProtocolError, got ${String(error)}`);
  return error;
}

export type ReadOutcome = { ok: true; t: bigint; v: string | undefined } | { ok: false; code: ErrorCode };

/** A read by `client` that reports a ProtocolError as an outcome (any other error fails the test). */
export async function tryRead(
  cluster: SimCluster,
  client: string,
  x: Uint8Array,
  quorum: 'all' | 'sample' = 'all',
): Promise<ReadOutcome> {
  try {
    const r = await cluster.run(() => cluster.client(client).read(x, { quorum }));
    return { ok: true, t: r.t, v: text(r.value) };
  } catch (e) {
    if (e instanceof ProtocolError) return { ok: false, code: e.code };
    throw e;
  }
}

export function show(o: ReadOutcome): string {
  return o.ok ? `t=${o.t} v=${o.v ?? '(none)'}` : `error ${o.code}`;
}

export async function read(
  cluster: SimCluster,
  client: string,
  x: Uint8Array,
  quorum: 'all' | 'sample' = 'all',
) {
  const r = await cluster.run(() => cluster.client(client).read(x, { quorum }));
  return { t: r.t, v: text(r.value), record: r.record };
}

export function revocationLog(cluster: SimCluster): string[] {
  return cluster.revocations.map((e) => `${e.by} revoked ${e.accusedName} (${e.kind})`);
}

/** Names of the nodes `server` has revoked. */
export function revokedAt(cluster: SimCluster, server: string): string[] {
  const graph = cluster.server(server)!.graph;
  return [...cluster.ids.values()]
    .filter((i) => graph.isRevoked(i.id))
    .map((i) => i.name)
    .sort();
}

export function honestServers(cluster: SimCluster): string[] {
  return cluster.serverNames().filter((n) => cluster.isHonest(cluster.identity(n).id));
}

/** Every server's graph fingerprint, with node IDs replaced by names (readable diffs). */
export function fingerprints(cluster: SimCluster, names = cluster.serverNames()): Map<string, string> {
  return new Map(names.map((n) => [n, named(cluster, cluster.server(n)!.graph.fingerprint())]));
}

export function named(cluster: SimCluster, fingerprint: string): string {
  return fingerprint
    .split(';')
    .map((part) => {
      const [v = '', out = ''] = part.split('>');
      const subjects = out === '' ? [] : out.split(',').map((id) => cluster.name(id));
      return `${cluster.name(v)}>${subjects.sort().join(',')}`;
    })
    .sort()
    .join(' ');
}

/** The graph the topology defines: every certificate with every certification (what a complete join yields). */
export function topologyGraph(cluster: SimCluster): TrustGraph {
  const g = new TrustGraph();
  g.addCertificates([...cluster.ids.values()].map((i) => i.cert));
  return g;
}

/**
 * The topology graph as a joiner ends up with it: a joiner keeps only nodes its own trust reaches, so
 * phantoms and clients nobody certified (u04) are dropped.
 */
export function joinerGraph(cluster: SimCluster, name: string): TrustGraph {
  const g = topologyGraph(cluster);
  g.forgetExcept(
    [...cluster.ids.values()].map((i) => i.id),
    g.reachableFrom(cluster.identity(name).id),
  );
  return g;
}

/** Edges ("issuer>subject") of a graph's view. */
export function edges(graph: TrustGraph): Set<string> {
  const view = graph.view();
  const out = new Set<string>();
  for (const v of view.vertices) for (const s of view.out(v)) out.add(`${v}>${s}`);
  return out;
}

/** A client speaking for server `name` that shares the server's graph (how a daemon joins and leaves). */
export function serverSideClient(cluster: SimCluster, name: string): BftkvClient {
  const self = cluster.identity(name);
  const server = cluster.server(name);
  assert.ok(server !== undefined, `${name} is not running`);
  return new BftkvClient({
    key: self.key,
    certificate: self.cert,
    clock: cluster.sim.clock,
    random: cluster.random.fork(`server-side-client/${name}`),
    transport: cluster.net.transportFor(self.id),
    graph: server.graph,
    options: cluster.options.client,
  });
}

/** Crashes `names`, runs `body` while they are down, then restarts them. */
export async function whileDown(
  cluster: SimCluster,
  names: string[],
  body: () => Promise<void>,
): Promise<void> {
  for (const n of names) cluster.crash(n);
  await body();
  await cluster.run(async () => {
    for (const n of names) await cluster.restart(n);
  });
}

/**
 * Paper §4.2 join and leave: the latecomer rw04 joins knowing only the certificates of `introducers`
 * (Algorithm 7 discovers the rest), becomes known to every server and, after u01 re-joins, is one of its
 * KV nodes; it is dropped everywhere on leave, and re-joining restores every graph fingerprint exactly.
 */
export async function joinLeaveRejoin(
  start: StartCluster,
  introducers: string[],
  t: TestContext,
): Promise<void> {
  const cluster = await start('join-leave', { latecomers: ['rw04'] });
  const late = cluster.identity('rw04');
  const others = cluster.serverNames().filter((n) => n !== 'rw04');
  assert.ok(others.every((n) => !cluster.server(n)!.graph.view().vertices.has(late.id)));
  const joiner = serverSideClient(cluster, 'rw04');
  const joined = await cluster.run(() => joiner.join(cluster.certs(introducers)));
  assert.equal(joined.answered, others.length);
  assert.equal(
    named(cluster, joiner.graph.fingerprint()),
    named(cluster, joinerGraph(cluster, 'rw04').fingerprint()),
  );
  for (const n of others) {
    assert.ok(cluster.server(n)!.graph.view().vertices.has(late.id), `${n} knows rw04`);
    assert.ok(cluster.server(n)!.graph.fingerprint().includes(late.id));
  }

  await t.test('after the join every server has the complete graph', () => {
    const all = named(cluster, topologyGraph(cluster).fingerprint());
    const joiner = named(cluster, joinerGraph(cluster, 'rw04').fingerprint());
    for (const [n, fp] of fingerprints(cluster)) assert.equal(fp, n === 'rw04' ? joiner : all, n);
  });

  const u01 = cluster.client('u01');
  assert.ok(!u01.quorumSystem().kvNodes.includes(late.id));
  await cluster.run(() => u01.join());
  assert.ok(u01.quorumSystem().kvNodes.includes(late.id), 'u01 uses rw04 as a KV node after re-joining');

  // Joining again changes nothing (the join is idempotent), so the graphs have converged before the leave.
  await cluster.run(() => joiner.join());
  const beforeLeave = fingerprints(cluster);

  const acks = await cluster.run(() => joiner.leave());
  assert.equal(acks, others.length);
  for (const n of others) {
    const s = cluster.server(n)!;
    assert.ok(!s.graph.view().vertices.has(late.id), `${n} dropped rw04 from its view`);
    assert.ok(!s.quorumSystem().kvNodes.includes(late.id), `${n} dropped rw04 from its KV nodes`);
  }
  await cluster.run(() => u01.join());
  assert.ok(!u01.quorumSystem().kvNodes.includes(late.id), 'u01 dropped rw04 from its KV nodes');

  await cluster.run(() => joiner.join());
  assert.deepEqual(fingerprints(cluster), beforeLeave);
  await cluster.run(() => u01.join());
  assert.ok(u01.quorumSystem().kvNodes.includes(late.id));
  assert.deepEqual(revocationLog(cluster), []);
}

/**
 * A join through the graph-lying signer `liar` plus honest servers: the forged certifications are
 * ignored, so the joiner rw04 ends with exactly the honest edges, its phantom nodes belong to no clique
 * and are no KV nodes, and the cliques are exactly `cliques` (member names).
 */
export async function joinThroughGraphLiar(
  start: StartCluster,
  liar: string,
  introducers: string[],
  cliques: string[][],
  t: TestContext,
): Promise<void> {
  const cluster = await start('join-liar', {
    latecomers: ['rw04'],
    behaviours: new Map<string, ServerBehaviour>([[liar, graphLiar]]),
  });
  const joiner = serverSideClient(cluster, 'rw04');
  await cluster.run(() => joiner.join(cluster.certs(introducers)));
  const expected = joinerGraph(cluster, 'rw04');
  assert.deepEqual(edges(joiner.graph), edges(expected), 'exactly the honest edges');
  const known = new Set<NodeId>([...cluster.ids.values()].map((i) => i.id));
  const phantoms = [...joiner.graph.view().vertices].filter((id) => !known.has(id));
  const qs = joiner.quorumSystem();
  for (const p of phantoms) {
    assert.equal(qs.cliqueOf(p), undefined);
    assert.ok(!qs.kvNodes.includes(p));
  }
  assert.deepEqual(
    qs.cliques.map((c) => c.members.map((m) => cluster.name(m)).sort()).sort(),
    cliques.map((c) => [...c].sort()).sort(),
  );

  await t.test('the joiner ends with exactly the honest graph fingerprint', () => {
    assert.equal(named(cluster, joiner.graph.fingerprint()), named(cluster, expected.fingerprint()));
  });
}

/**
 * Trust on first use (paper §4.1): the owner UID writes from either certified device; the uncertified u04
 * of the same UID and u11 of another UID are refused. `x` is a key of the owner UID; every client in
 * `readers` reads the last write.
 */
export async function tofu(start: StartCluster, x: Uint8Array, readers: string[]): Promise<void> {
  const cluster = await start('tofu');
  await cluster.run(() => cluster.client('u01').write(x, utf8('u01 #1')));
  await cluster.run(() => cluster.client('u01').write(x, utf8('u01 #2')));
  const w = await cluster.run(() => cluster.client('u02').write(x, utf8('u02')));
  assert.equal(w.t, 3n);
  const e04 = await refused(cluster, () => cluster.client('u04').write(x, utf8('u04')));
  assert.equal(e04.code, 'invalidQuorumCertificate');
  const e11 = await refused(cluster, () => cluster.client('u11').write(x, utf8('u11')));
  assert.equal(e11.code, 'permissionDenied');
  for (const reader of readers) {
    const r = await read(cluster, reader, x);
    assert.deepEqual({ t: r.t, v: r.v }, { t: 3n, v: 'u02' }, reader);
  }
  assert.deepEqual(revocationLog(cluster), []);
}

/**
 * Write-once: writeOnce seals `x` (a key of the owner UID) at t = 2^64−1; later writes, and another
 * device's writeOnce of a different value, are refused; every client in `readers` reads the sealed value,
 * and the honest writer is never revoked.
 */
export async function writeOnce(
  start: StartCluster,
  x: Uint8Array,
  readers: string[],
  t: TestContext,
): Promise<void> {
  const cluster = await start('write-once');
  const sealed = await cluster.run(() => cluster.client('u01').writeOnce(x, utf8('forever')));
  assert.equal(sealed.t, SEALED_TIMESTAMP);
  const e1 = await refused(cluster, () => cluster.client('u01').write(x, utf8('later')));
  assert.equal(e1.code, 'sealed');
  // Another device's writeOnce of a different value is refused as sealed too (its time phase sees 2^64−1).
  const e2 = await refused(cluster, () => cluster.client('u02').writeOnce(x, utf8('another')));
  assert.equal(e2.code, 'sealed');
  for (const reader of readers) {
    const r = await read(cluster, reader, x);
    assert.deepEqual({ t: r.t, v: r.v }, { t: SEALED_TIMESTAMP, v: 'forever' }, reader);
  }
  assert.deepEqual(revocationLog(cluster), []);

  await t.test(
    'the same client writeOnce-ing a different value is refused as sealed, and the honest writer is not revoked',
    async () => {
      const e = await refused(cluster, () => cluster.client('u01').writeOnce(x, utf8('another')));
      assert.deepEqual(revocationLog(cluster), []);
      assert.equal(e.code, 'sealed');
    },
  );
}
