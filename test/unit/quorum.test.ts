// The b-masking quorum system (src/quorum/quorum-system.ts; paper §3.1, §5): clique thresholds against the
// paper's table, intersection and liveness laws, KV dissemination quorums, and the quorum system built from
// a trust graph of real certificates.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { utf8 } from '../../src/codec/bytes.js';
import { signingKeyFromSeed, type SigningKey } from '../../src/crypto/ed25519.js';
import { sha256 } from '../../src/crypto/hash.js';
import {
  buildQuorumSystem,
  byzantineTolerance,
  kvQuorumSize,
  sufficientSignatures,
} from '../../src/quorum/quorum-system.js';
import {
  certify,
  createCertificate,
  withCertifications,
  type Certificate,
  type NodeId,
} from '../../src/trust/certificate.js';
import { TrustGraph } from '../../src/trust/graph.js';

void test('matches the clique threshold table n:b:sufficient', () => {
  const table: ReadonlyArray<readonly [number, number, number]> = [
    [4, 1, 3],
    [5, 1, 4],
    [6, 1, 4],
    [7, 2, 5],
    [9, 2, 6],
    [10, 3, 7],
    [13, 4, 9],
  ];
  for (const [n, b, sufficient] of table) {
    assert.equal(byzantineTolerance(n), b, `b(${n})`);
    assert.equal(sufficientSignatures(n), sufficient, `sufficient(${n})`);
  }
  // Every n in 4..13 against the definition spelled out: the least integer above b + (n − b)/2.
  for (let n = 4; n <= 13; n++) {
    const b = Math.floor((n - 1) / 3);
    let s = 0;
    while (!(2 * s > 2 * b + (n - b))) s++;
    assert.equal(sufficientSignatures(n), s, `n=${n}`);
  }
});

void test('two sufficient sets intersect in more than b members, and sufficient ≤ n − b (property)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 4, max: 64 }), (n) => {
      const b = byzantineTolerance(n);
      const s = sufficientSignatures(n);
      assert.ok(3 * b < n, 'b < n/3');
      assert.ok(2 * s - n > b, `safety: 2·${s} − ${n} > ${b}`);
      assert.ok(s <= n - b, `liveness: ${s} ≤ ${n} − ${b}`);
    }),
    { numRuns: 200 },
  );
  for (let n = 4; n <= 64; n++) {
    const b = byzantineTolerance(n);
    const s = sufficientSignatures(n);
    assert.ok(2 * s - n > b && s <= n - b, `n=${n}`);
  }
});

void test('KV quorums intersect in at least f + 1 nodes and stay available with f down (N in 1..100)', () => {
  for (let n = 1; n <= 100; n++) {
    const { f, q } = kvQuorumSize(n);
    assert.equal(f, Math.floor((n - 1) / 3), `f(${n})`);
    assert.ok(2 * q - n >= f + 1, `intersection at N=${n}`);
    assert.ok(q <= n - f, `availability at N=${n}`);
    assert.ok(q <= n && q >= 1, `bounds at N=${n}`);
  }
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 100 }), (n) => {
      const { f, q } = kvQuorumSize(n);
      assert.ok(2 * q - n >= f + 1 && q <= n - f && q <= n);
    }),
  );
  assert.deepEqual(kvQuorumSize(4), { f: 1, q: 3 });
  assert.deepEqual(kvQuorumSize(0), { f: 0, q: 1 });
});

interface Node {
  readonly name: string;
  readonly key: SigningKey;
  readonly bare: Certificate;
}

function node(name: string, address: string, uid = `${name}.bftkv.test`): Node {
  const key = signingKeyFromSeed(sha256(utf8(`quorum.test/${name}`)));
  return { name, key, bare: createCertificate(key, uid, address) };
}

/** Certificates of `nodes` with every [issuer, subject] certification of `edges`. */
function certificates(
  nodes: readonly Node[],
  edges: ReadonlyArray<readonly [string, string]>,
): Certificate[] {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  return nodes.map((subject) =>
    withCertifications(
      subject.bare,
      edges.filter(([, s]) => s === subject.name).map(([i]) => certify(byName.get(i)!.key, subject.bare)),
    ),
  );
}

function mutual(names: readonly string[]): Array<[string, string]> {
  return names.flatMap((a) => names.filter((b) => b !== a).map((b): [string, string] => [a, b]));
}

const ids = (ns: readonly Node[]): NodeId[] => ns.map((n) => n.bare.id).sort();

void test('finds the 4-clique of servers and the 4 KV nodes with q = 3 from a client', () => {
  const members = ['s1', 's2', 's3', 's4'].map((n) => node(n, `sim://${n}`));
  const kvs = ['k1', 'k2', 'k3', 'k4'].map((n) => node(n, `sim://${n}`));
  const client = node('client', '', 'alice@example.com');
  const all = [...members, ...kvs, client];
  const names = (ns: readonly Node[]) => ns.map((n) => n.name);
  const edges = [
    ...mutual(names(members)),
    ...kvs.flatMap((k) => members.map((m): [string, string] => [k.name, m.name])),
    ...members.map((m): [string, string] => [client.name, m.name]),
    ...kvs.map((k): [string, string] => [client.name, k.name]),
    ...members.map((m): [string, string] => [m.name, client.name]),
  ];
  const graph = new TrustGraph();
  graph.addCertificates(certificates(all, edges));
  for (const self of [client, members[0]!, kvs[0]!]) {
    const qs = buildQuorumSystem(graph, self.bare.id);
    assert.equal(qs.cliques.length, 1, self.name);
    const clique = qs.cliques[0]!;
    assert.deepEqual([...clique.members], ids(members), self.name);
    assert.equal(clique.b, 1);
    assert.equal(clique.sufficient, 3);
    assert.equal(clique.timestampQuorum, 3);
    assert.equal(clique.certThreshold, 3);
    for (const m of members) assert.equal(qs.cliqueOf(m.bare.id), clique);
    assert.equal(qs.cliqueOf(client.bare.id), undefined);
  }
  const qs = buildQuorumSystem(graph, client.bare.id);
  assert.deepEqual([...qs.kvNodes], ids(kvs));
  assert.equal(qs.kvFaults, 1);
  assert.equal(qs.kvQuorum, 3);
  // A node outside the graph sees nothing (fails closed).
  const stranger = buildQuorumSystem(graph, node('stranger', '').bare.id);
  assert.deepEqual([stranger.cliques.length, stranger.kvNodes.length], [0, 0]);
});

void test('never makes a client a clique member: a client and 3 members of a 4-clique form no clique', () => {
  const members = ['s1', 's2', 's3', 's4'].map((n) => node(n, `sim://${n}`));
  const client = node('client', '', 'alice@example.com');
  const three = members.slice(0, 3).map((m) => m.name);
  const edges = [
    ...mutual(members.map((m) => m.name)),
    ...three.map((m): [string, string] => [client.name, m]),
    ...three.map((m): [string, string] => [m, client.name]), // mutual with the client: a 4-clique in M
  ];
  const graph = new TrustGraph();
  graph.addCertificates(certificates([...members, client], edges));
  for (const self of [client, members[0]!, members[3]!]) {
    const qs = buildQuorumSystem(graph, self.bare.id);
    assert.deepEqual(
      qs.cliques.map((c) => [...c.members]),
      [ids(members)],
      self.name,
    );
    assert.equal(qs.cliqueOf(client.bare.id), undefined);
  }
  // Contrast: the same certifications with an address on the client's certificate would let it displace
  // the real clique in its own view (its clique weighs 4, the real one 3) — which is what must not happen.
  const serverClient = node('client', 'sim://client', 'alice@example.com');
  const g1 = new TrustGraph();
  g1.addCertificates(certificates([...members, serverClient], edges));
  assert.deepEqual(
    buildQuorumSystem(g1, serverClient.bare.id).cliques.map((c) => [...c.members]),
    [ids([serverClient, ...members.slice(0, 3)])],
  );
  // Without the fourth member the three servers and the client form no clique at all.
  const g2 = new TrustGraph();
  g2.addCertificates(
    certificates(
      [...members.slice(0, 3), client],
      edges.filter(([a, b]) => a !== 's4' && b !== 's4'),
    ),
  );
  assert.deepEqual(buildQuorumSystem(g2, client.bare.id).cliques, []);
});
