// Tests for the deterministic quorum-clique finder (BFTKV paper, Algorithms 1 GetQC and 2 FindMaximalClique).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  CliqueLimitError,
  getQuorumCliques,
  maximalCliques,
  type DirectedGraph,
  type QuorumCliqueOptions,
} from '../../src/trust/cliques.js';

type Edge = readonly [string, string];

/** Builds a graph, inserting vertices and edges into the Set/Map structures in exactly the order given. */
function buildGraph(vertices: readonly string[], edges: readonly Edge[]): DirectedGraph {
  const vs = new Set<string>(vertices);
  const out = new Map<string, Set<string>>();
  for (const v of vertices) out.set(v, new Set());
  for (const [a, b] of edges) if (vs.has(a) && vs.has(b)) out.get(a)!.add(b);
  const empty: ReadonlySet<string> = new Set();
  return { vertices: vs, out: (v) => out.get(v) ?? empty };
}

/** Both directions between every pair of `members`. */
function mutualEdges(members: readonly string[]): Edge[] {
  const edges: Edge[] = [];
  for (const a of members) for (const b of members) if (a !== b) edges.push([a, b]);
  return edges;
}

function certifies(from: string, to: readonly string[]): Edge[] {
  return to.map((t): Edge => [from, t]);
}

const opts = (maxDistance: number, minSize = 4, maxCliques = 10_000): QuorumCliqueOptions => ({
  maxDistance,
  minSize,
  maxCliques,
});

// ---------------------------------------------------------------------------------------------------------
// Unit tests
// ---------------------------------------------------------------------------------------------------------

void test('finds a 4-clique of mutual certifications', () => {
  const q = ['a1', 'a2', 'a3', 'a4'];
  const g = buildGraph(['00', ...q], [...mutualEdges(q), ...certifies('00', q)]);
  assert.deepEqual(getQuorumCliques(g, '00', opts(2)), [q]);
  // The start vertex may itself be a member.
  assert.deepEqual(getQuorumCliques(g, 'a3', opts(1)), [q]);
});

void test('rejects a 3-clique as smaller than minSize', () => {
  const q = ['a1', 'a2', 'a3'];
  const g = buildGraph(['00', ...q], [...mutualEdges(q), ...certifies('00', q)]);
  assert.deepEqual(getQuorumCliques(g, '00', opts(3)), []);
  assert.deepEqual(getQuorumCliques(g, '00', opts(3, 3)), [q]);
});

void test('rejects one-directional certifications as clique edges', () => {
  const q = ['a1', 'a2', 'a3', 'a4'];
  const edges = mutualEdges(q).filter(([a, b]) => !(a === 'a4' && b === 'a1')); // a1→a4 stays, a4→a1 gone
  const g = buildGraph(['00', ...q], [...edges, ...certifies('00', q)]);
  assert.deepEqual(getQuorumCliques(g, '00', opts(3)), []);
  assert.deepEqual(
    maximalCliques(q, (a, b) => g.out(a).has(b) && g.out(b).has(a), 3, 100),
    [
      ['a1', 'a2', 'a3'],
      ['a2', 'a3', 'a4'],
    ],
  );
});

void test('rejects self-loops and edges to vertices outside the graph as clique edges', () => {
  const q = ['a1', 'a2', 'a3', 'a4'];
  const out = new Map<string, Set<string>>(
    q.map((v) => [v, new Set([v, 'zz', ...q.filter((u) => u !== v)])]),
  );
  out.get('a4')!.delete('a1');
  const g: DirectedGraph = { vertices: new Set(q), out: (v) => out.get(v) ?? new Set() };
  assert.deepEqual(getQuorumCliques(g, 'a1', opts(5)), []);
  assert.deepEqual(getQuorumCliques(g, 'a1', opts(5, 3)), [['a1', 'a2', 'a3']]);
});

void test('finds two disjoint cliques when both are reachable', () => {
  const a = ['a1', 'a2', 'a3', 'a4'];
  const b = ['b1', 'b2', 'b3', 'b4', 'b5'];
  const g = buildGraph(
    ['00', ...b, ...a],
    [...mutualEdges(a), ...mutualEdges(b), ...certifies('00', ['a1', 'b1'])],
  );
  // Weights tie at 1; the larger clique b goes first.
  assert.deepEqual(getQuorumCliques(g, '00', opts(2)), [b, a]);
});

void test('rejects a clique reachable only at distance >= maxDistance', () => {
  const a = ['a1', 'a2', 'a3', 'a4'];
  const b = ['b1', 'b2', 'b3', 'b4'];
  // 00 → a1; a4 → b1 (one-way), so every b member is at distance >= 3 from 00.
  const g = buildGraph(
    ['00', ...a, ...b],
    [...mutualEdges(a), ...mutualEdges(b), ['00', 'a1'], ['a4', 'b1']],
  );
  assert.deepEqual(getQuorumCliques(g, '00', opts(1)), []); // only 00 itself is processed
  assert.deepEqual(getQuorumCliques(g, '00', opts(2)), [a]); // a1 at d = 1
  assert.deepEqual(getQuorumCliques(g, '00', opts(3)), [a]); // a2..a4 at d = 2, b1 at d = 3
  assert.deepEqual(getQuorumCliques(g, '00', opts(4)), [a, b]);
});

void test('rejects everything when maxDistance is 0 or the start vertex is not in the graph', () => {
  const q = ['a1', 'a2', 'a3', 'a4'];
  const g = buildGraph(q, mutualEdges(q));
  assert.deepEqual(getQuorumCliques(g, 'a1', opts(0)), []);
  assert.deepEqual(getQuorumCliques(g, 'ff', opts(10)), []);
});

void test('ranks candidates by weight (members the start vertex certified) before size', () => {
  // Two overlapping maximal cliques sharing s1: x (size 5) and y (size 4). The start certified 3 of y, 2 of x.
  const x = ['s1', 'x1', 'x2', 'x3', 'x4'];
  const y = ['s1', 'y1', 'y2', 'y3'];
  const g = buildGraph(
    ['00', 's1', 'x1', 'x2', 'x3', 'x4', 'y1', 'y2', 'y3'],
    [...mutualEdges(x), ...mutualEdges(y), ...certifies('00', ['x1', 'x2', 'y1', 'y2', 'y3'])],
  );
  // y wins on weight 3 > 2 and takes s1; x minus s1 is still a 4-clique.
  assert.deepEqual(getQuorumCliques(g, '00', opts(2)), [y, ['x1', 'x2', 'x3', 'x4']]);
  // With equal weight the larger clique x wins and y minus s1 falls below minSize.
  const g2 = buildGraph(
    ['00', 's1', 'x1', 'x2', 'x3', 'x4', 'y1', 'y2', 'y3'],
    [...mutualEdges(x), ...mutualEdges(y), ...certifies('00', ['x1', 'y1'])],
  );
  assert.deepEqual(getQuorumCliques(g2, '00', opts(2)), [x]);
});

void test('breaks weight and size ties by the lexicographically smallest sorted member list', () => {
  const x = ['s1', 'x1', 'x2', 'x3'];
  const y = ['s1', 'a1', 'a2', 'a3'];
  const g = buildGraph(['00', ...x, ...y], [...mutualEdges(x), ...mutualEdges(y), ['00', 's1']]);
  // Both weight 1, size 4; ['a1','a2','a3','s1'] < ['s1','x1','x2','x3'].
  assert.deepEqual(getQuorumCliques(g, '00', opts(2)), [['a1', 'a2', 'a3', 's1']]);
});

void test('counts the start vertex itself as weight 1 when it is a member', () => {
  // x contains the start and three members it certified (weight 1 + 3); the start certified all four
  // members of y one-way (weight 4). Equal weight and size, so the smaller member list goes first.
  const x = ['a0', 'a1', 'a2', 'a3'];
  const y = ['b1', 'b2', 'b3', 'b4'];
  const g = buildGraph([...y, ...x], [...mutualEdges(x), ...mutualEdges(y), ...certifies('a0', y)]);
  assert.deepEqual(getQuorumCliques(g, 'a0', opts(2)), [x, y]); // not counting the start would put y first
  // Same shape with the start sorting last and a self-certification: the start still counts once only.
  const x2 = ['f0', 'f1', 'f2', 'f3'];
  const g2 = buildGraph(
    [...x2, ...y],
    [...mutualEdges(x2), ...mutualEdges(y), ...certifies('f0', y), ['f0', 'f0']],
  );
  assert.deepEqual(getQuorumCliques(g2, 'f0', opts(2)), [y, x2]);
});

// Reference topology: two 10-cliques A and B, 6 KV nodes certifying every A and B member, and a client
// certifying a01..a06 and the 6 KV nodes.
const refA = Array.from({ length: 10 }, (_, i) => `a${String(i + 1).padStart(2, '0')}`);
const refB = Array.from({ length: 10 }, (_, i) => `b${String(i + 1).padStart(2, '0')}`);
const refKv = Array.from({ length: 6 }, (_, i) => `c${i + 1}`);
const refClient = 'e0';
const refGraph = buildGraph(
  [refClient, ...refKv, ...refA, ...refB],
  [
    ...mutualEdges(refA),
    ...mutualEdges(refB),
    ...refKv.flatMap((kv) => certifies(kv, [...refA, ...refB])),
    ...certifies(refClient, [...refA.slice(0, 6), ...refKv]),
  ],
);

void test('finds both reference-topology cliques from the client at maxDistance 3 and puts no KV node in one', () => {
  const cliques = getQuorumCliques(refGraph, refClient, opts(3));
  assert.deepEqual(cliques, [refA, refB]); // A first: the client certified six of its members
  for (const c of cliques) for (const kv of [...refKv, refClient]) assert.ok(!c.includes(kv));
});

void test('finds only clique A from the client at maxDistance 2 (B is first reached at distance 2)', () => {
  assert.deepEqual(getQuorumCliques(refGraph, refClient, opts(2)), [refA]);
});

void test('finds both reference-topology cliques from a KV node', () => {
  for (const kv of refKv) {
    assert.deepEqual(getQuorumCliques(refGraph, kv, opts(2)), [refA, refB]);
    assert.deepEqual(getQuorumCliques(refGraph, kv, opts(3)), [refA, refB]);
  }
});

// Sybil example (payment note, Figure 1): legitimate 5-clique {1..5}; node 5 is compromised and links
// mutually with made-up nodes 6..9, which link mutually among themselves. IDs are chosen so that the Sybil
// clique wins every lexicographic tie: legitimate IDs start with 'f', Sybil IDs with '0'.
const legit = ['f1', 'f2', 'f3', 'f4', 'f5'];
const sybils = ['06', '07', '08', '09'];
const sybilStart = 'e0';
function sybilGraph(extraSybils: readonly string[] = []): DirectedGraph {
  const s = [...sybils, ...extraSybils];
  return buildGraph(
    [...s, 'f5', sybilStart, ...legit],
    [...mutualEdges([...s, 'f5']), ...mutualEdges(legit), ...certifies(sybilStart, legit)],
  );
}

void test('finds the legitimate clique intact against a Sybil clique that wins every lexicographic tie (maxDistance 2)', () => {
  const g = sybilGraph();
  // Both {1..5} and {5..9} are maximal 5-cliques containing processed node 5; weights are 5 and 1.
  const cliques = getQuorumCliques(g, sybilStart, opts(2));
  assert.deepEqual(cliques, [legit]);
  assert.ok(cliques[0]!.includes('f5'));
});

void test('finds the Sybil remainder {6..9} only as a separate 4-clique once it is processed (maxDistance 3)', () => {
  // 6..9 sit at distance 2 (via node 5): processed with maxDistance 3, and after {1..5} is accepted they
  // still form a maximal 4-clique of the remaining graph, so the rules accept it.
  const cliques = getQuorumCliques(sybilGraph(), sybilStart, opts(3));
  assert.deepEqual(cliques, [legit, sybils]);
  assert.ok(!cliques[1]!.includes('f5'));
});

void test('rejects a larger Sybil clique in favour of the clique the start vertex certified', () => {
  // With five made-up nodes the Sybil clique {5, 6..a} has size 6 > 5, but weight still decides.
  const g = sybilGraph(['0a']);
  assert.deepEqual(getQuorumCliques(g, sybilStart, opts(2)), [legit]);
  assert.deepEqual(getQuorumCliques(g, sybilStart, opts(3)), [legit, [...sybils, '0a']]);
});

/** Complete multipartite graph K_{3,3,3,3} (Moon–Moser): exactly 3^4 = 81 maximal cliques, all of size 4. */
function moonMoser(): { vertices: string[]; g: DirectedGraph } {
  const vertices = ['a', 'b', 'c', 'd'].flatMap((p) => [0, 1, 2].map((i) => `${p}${i}`));
  const edges: Edge[] = [];
  for (const u of vertices) for (const v of vertices) if (u[0] !== v[0]) edges.push([u, v]);
  return { vertices, g: buildGraph(vertices, edges) };
}

void test('throws CliqueLimitError when there are more maximal cliques than maxCliques', () => {
  const { vertices, g } = moonMoser();
  const mutual = (a: string, b: string): boolean => g.out(a).has(b) && g.out(b).has(a);
  assert.equal(maximalCliques(vertices, mutual, 4, 81).length, 81);
  assert.throws(() => maximalCliques(vertices, mutual, 4, 80), CliqueLimitError);
  assert.throws(() => maximalCliques(vertices, mutual, 5, 80), CliqueLimitError); // small cliques count too
  const cliques = getQuorumCliques(g, 'a0', opts(3, 4, 81));
  assert.equal(cliques.length, 3);
  assert.throws(
    () => getQuorumCliques(g, 'a0', opts(3, 4, 80)),
    (e: unknown) => {
      assert.ok(e instanceof CliqueLimitError);
      assert.equal(e.name, 'CliqueLimitError');
      return true;
    },
  );
});

void test('rejects invalid minSize and maxCliques options', () => {
  const { g } = moonMoser();
  assert.throws(() => getQuorumCliques(g, 'a0', opts(3, 0)), RangeError);
  assert.throws(() => getQuorumCliques(g, 'a0', opts(3, 4, -1)), RangeError);
  assert.throws(() => maximalCliques(['a'], () => true, 2.5, 10), RangeError);
});

// ---------------------------------------------------------------------------------------------------------
// Property tests against deliberately naive references
// ---------------------------------------------------------------------------------------------------------

interface Spec {
  /** Vertex IDs (distinct hex strings of length 1–2), in "canonical" insertion order. */
  readonly ids: readonly string[];
  /** edge[i][j]: ids[i] certified ids[j] (self-loops included; they must be ignored). */
  readonly edge: readonly (readonly boolean[])[];
  readonly start: number;
  readonly options: QuorumCliqueOptions;
  /** Random sort keys giving a second insertion order for vertices and edges. */
  readonly vertexKeys: readonly number[];
  readonly edgeKeys: readonly number[];
}

// Mostly 6–10 vertices with dense random edges, so that cliques of size >= 4 are common.
const sizeArb = fc.oneof(
  { arbitrary: fc.integer({ min: 1, max: 10 }), weight: 1 },
  { arbitrary: fc.integer({ min: 6, max: 10 }), weight: 3 },
);
const specArb: fc.Arbitrary<Spec> = sizeArb.chain((n) =>
  fc
    .record({
      ids: fc.uniqueArray(fc.stringMatching(/^[0-9a-f]{1,2}$/), { minLength: n, maxLength: n }),
      density: fc.integer({ min: 70, max: 100 }),
      draws: fc.array(fc.integer({ min: 0, max: 99 }), { minLength: n * n, maxLength: n * n }),
      start: fc.nat({ max: n - 1 }),
      maxDistance: fc.integer({ min: 0, max: 4 }),
      minSize: fc.integer({ min: 2, max: 5 }),
      vertexKeys: fc.array(fc.integer(), { minLength: n, maxLength: n }),
      edgeKeys: fc.array(fc.integer(), { minLength: n * n, maxLength: n * n }),
    })
    .map((r): Spec => ({
      ids: r.ids,
      edge: Array.from({ length: n }, (_, i) =>
        Array.from({ length: n }, (_, j) => r.draws[i * n + j]! < r.density),
      ),
      start: r.start,
      options: { maxDistance: r.maxDistance, minSize: r.minSize, maxCliques: 1_000_000 },
      vertexKeys: r.vertexKeys,
      edgeKeys: r.edgeKeys,
    })),
);

const RUNS = 300;

function permutation(keys: readonly number[]): number[] {
  return keys
    .map((k, i) => [k, i] as const)
    .sort((a, b) => a[0] - b[0] || a[1] - b[1])
    .map(([, i]) => i);
}

function specGraph(spec: Spec, shuffled: boolean): DirectedGraph {
  const n = spec.ids.length;
  const vOrder = shuffled ? permutation(spec.vertexKeys) : spec.ids.map((_, i) => i);
  const eOrder = shuffled ? permutation(spec.edgeKeys) : spec.edgeKeys.map((_, i) => i);
  const edges: Edge[] = [];
  for (const k of eOrder) {
    const i = Math.floor(k / n);
    const j = k % n;
    if (spec.edge[i]![j]!) edges.push([spec.ids[i]!, spec.ids[j]!]);
  }
  return buildGraph(
    vOrder.map((i) => spec.ids[i]!),
    edges,
  );
}

// --- naive reference: bitmask subsets over indices into spec.ids -----------------------------------------

const hasEdge = (s: Spec, i: number, j: number): boolean => i !== j && s.edge[i]![j]!;
const isMutual = (s: Spec, i: number, j: number): boolean => hasEdge(s, i, j) && hasEdge(s, j, i);
const popcount = (m: number): number => {
  let c = 0;
  for (let x = m; x !== 0; x &= x - 1) c++;
  return c;
};
const members = (m: number, n: number): number[] =>
  Array.from({ length: n }, (_, i) => i).filter((i) => (m >> i) & 1);

function isCliqueMask(s: Spec, m: number): boolean {
  const ms = members(m, s.ids.length);
  return ms.every((i) => ms.every((j) => i === j || isMutual(s, i, j)));
}

function naiveCompare(a: readonly string[], b: readonly string[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i]! !== b[i]!) return a[i]! < b[i]! ? -1 : 1;
  }
  return a.length - b.length;
}

const sortedIds = (s: Spec, m: number): string[] =>
  members(m, s.ids.length)
    .map((i) => s.ids[i]!)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

/** Non-empty cliques within `within` that no other clique within `within` strictly contains. */
function naiveMaximalMasks(s: Spec, within: number): number[] {
  const cliques: number[] = [];
  for (let m = 1; m < 1 << s.ids.length; m++) if ((m & within) === m && isCliqueMask(s, m)) cliques.push(m);
  return cliques.filter((c) => !cliques.some((d) => d !== c && (c & d) === c));
}

function naiveDistances(s: Spec): number[] {
  const n = s.ids.length;
  const dist = Array.from({ length: n }, (_, i) => (i === s.start ? 0 : Infinity));
  for (let round = 0; round < n; round++) {
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) if (hasEdge(s, i, j)) dist[j] = Math.min(dist[j]!, dist[i]! + 1);
  }
  return dist;
}

function naiveQuorumCliques(s: Spec): string[][] {
  const n = s.ids.length;
  const dist = naiveDistances(s);
  const processed = (i: number): boolean => dist[i]! < s.options.maxDistance;
  const weight = (m: number): number =>
    members(m, n).filter((i) => i === s.start || hasEdge(s, s.start, i)).length;
  let remaining = (1 << n) - 1;
  const out: string[][] = [];
  for (;;) {
    const candidates = naiveMaximalMasks(s, remaining).filter(
      (m) => popcount(m) >= s.options.minSize && members(m, n).some(processed),
    );
    if (candidates.length === 0) return out;
    candidates.sort(
      (a, b) =>
        weight(b) - weight(a) || popcount(b) - popcount(a) || naiveCompare(sortedIds(s, a), sortedIds(s, b)),
    );
    const best = candidates[0]!;
    out.push(sortedIds(s, best));
    remaining &= ~best;
  }
}

const mutualById = (s: Spec) => {
  const index = new Map(s.ids.map((id, i) => [id, i]));
  return (a: string, b: string): boolean => isMutual(s, index.get(a)!, index.get(b)!);
};

void test('finds exactly the maximal cliques a naive subset enumeration finds', () => {
  let withClique = 0;
  fc.assert(
    fc.property(specArb, (s) => {
      const all = (1 << s.ids.length) - 1;
      const expected = naiveMaximalMasks(s, all)
        .filter((m) => popcount(m) >= s.options.minSize)
        .map((m) => sortedIds(s, m))
        .sort(naiveCompare);
      if (expected.length > 0) withClique++;
      const vertices = permutation(s.vertexKeys).map((i) => s.ids[i]!);
      assert.deepEqual(
        maximalCliques(vertices, mutualById(s), s.options.minSize, s.options.maxCliques),
        expected,
      );
    }),
    { numRuns: RUNS },
  );
  // The generator must actually produce cliques, or the comparison above is vacuous.
  assert.ok(withClique >= RUNS * 0.5, `only ${withClique}/${RUNS} graphs had a clique`);
});

void test('finds exactly the quorum cliques a naive subset-based ranking finds', () => {
  let nonEmpty = 0;
  let multiple = 0;
  fc.assert(
    fc.property(specArb, (s) => {
      const expected = naiveQuorumCliques(s);
      if (expected.length > 0) nonEmpty++;
      if (expected.length > 1) multiple++;
      assert.deepEqual(getQuorumCliques(specGraph(s, false), s.ids[s.start]!, s.options), expected);
    }),
    { numRuns: RUNS },
  );
  assert.ok(nonEmpty >= RUNS * 0.4, `only ${nonEmpty}/${RUNS} graphs yielded a quorum clique`);
  assert.ok(multiple >= RUNS * 0.05, `only ${multiple}/${RUNS} graphs yielded several quorum cliques`);
});

void test('is independent of insertion order of vertices and edges', () => {
  fc.assert(
    fc.property(specArb, (s) => {
      const start = s.ids[s.start]!;
      const a = getQuorumCliques(specGraph(s, false), start, s.options);
      const b = getQuorumCliques(specGraph(s, true), start, s.options);
      assert.deepEqual(b, a);
      const mutual = mutualById(s);
      const reversed = [...s.ids].reverse();
      assert.deepEqual(
        maximalCliques(
          permutation(s.vertexKeys).map((i) => s.ids[i]!),
          mutual,
          s.options.minSize,
          s.options.maxCliques,
        ),
        maximalCliques([...reversed, ...reversed], mutual, s.options.minSize, s.options.maxCliques),
      );
    }),
    { numRuns: RUNS },
  );
});

void test('finds only disjoint, sorted, maximal mutual cliques of size >= minSize holding a processed vertex, in non-increasing weight', () => {
  fc.assert(
    fc.property(specArb, (s) => {
      const g = specGraph(s, true);
      const start = s.ids[s.start]!;
      const cliques = getQuorumCliques(g, start, s.options);
      const index = new Map(s.ids.map((id, i) => [id, i]));
      const dist = naiveDistances(s);
      const assigned = new Set<string>();
      let lastWeight = Infinity;
      for (const c of cliques) {
        assert.ok(c.length >= s.options.minSize);
        assert.deepEqual(c, [...c].sort());
        for (const v of c) assert.ok(!assigned.has(v), 'cliques must be disjoint');
        for (const a of c) for (const b of c) if (a !== b) assert.ok(g.out(a).has(b) && g.out(b).has(a));
        assert.ok(
          c.some((v) => dist[index.get(v)!]! < s.options.maxDistance),
          'holds a processed vertex',
        );
        // Maximal among the vertices still unassigned when it was accepted.
        for (const v of s.ids) {
          if (assigned.has(v) || c.includes(v)) continue;
          assert.ok(!c.every((m) => g.out(m).has(v) && g.out(v).has(m)), `${v} extends ${c.join(',')}`);
        }
        const w = c.filter((m) => m === start || g.out(start).has(m)).length;
        assert.ok(w <= lastWeight, 'weights are non-increasing in acceptance order');
        lastWeight = w;
        for (const v of c) assigned.add(v);
      }
    }),
    { numRuns: RUNS },
  );
});

void test('throws CliqueLimitError when the maximal clique count exceeds maxCliques (exactly then for maximalCliques)', () => {
  let threw = 0;
  fc.assert(
    fc.property(specArb, fc.integer({ min: 0, max: 6 }), (s, maxCliques) => {
      const all = naiveMaximalMasks(s, (1 << s.ids.length) - 1);
      // maximalCliques counts every maximal clique, of any size.
      const run = (): string[][] => maximalCliques(s.ids, mutualById(s), s.options.minSize, maxCliques);
      if (all.length > maxCliques) {
        assert.throws(run, CliqueLimitError);
        threw++;
      } else {
        assert.equal(run().length, all.filter((m) => popcount(m) >= s.options.minSize).length);
      }
      // getQuorumCliques only enumerates induced subgraphs of M, which never have more maximal cliques than M.
      const g = specGraph(s, true);
      const start = s.ids[s.start]!;
      const bounded = (): string[][] => getQuorumCliques(g, start, { ...s.options, maxCliques });
      if (all.length <= maxCliques) assert.deepEqual(bounded(), getQuorumCliques(g, start, s.options));
      // ...and its first round enumerates at least every first-round candidate.
      const dist = naiveDistances(s);
      const firstRound = all.filter(
        (m) =>
          popcount(m) >= s.options.minSize &&
          members(m, s.ids.length).some((i) => dist[i]! < s.options.maxDistance),
      );
      if (firstRound.length > maxCliques) assert.throws(bounded, CliqueLimitError);
    }),
    { numRuns: RUNS },
  );
  assert.ok(threw >= RUNS * 0.2, `only ${threw}/${RUNS} runs exceeded the limit`);
});
