/**
 * Deterministic quorum-clique discovery over a web of trust: BFTKV paper, Algorithm 1 (GetQC) and
 * Algorithm 2 (FindMaximalClique).
 *
 * The web of trust is a directed graph; an edge S→N means S certified N. A quorum clique is a set of at
 * least `minSize` (paper: 4) vertices that are pairwise linked in both directions; quorum cliques are
 * disjoint. The paper's greedy search depends on iteration order, so this version pins every choice down and
 * every honest node holding the same graph and the same start vertex computes exactly the same cliques,
 * whatever order the vertices and edges were inserted in:
 *
 * 1. The mutual graph M has the undirected edge {a, b} iff a→b and b→a (a ≠ b, both in `g.vertices`; out-edges
 *    to vertices outside `g.vertices` and self-loops are ignored).
 * 2. The processed set P holds the vertices at directed BFS distance d < `maxDistance` from `start` (start has
 *    d = 0, so P is empty when maxDistance ≤ 0). If start is not a vertex the result is [].
 * 3. Repeat: the candidates are the maximal cliques of M restricted to the vertices not yet in an accepted
 *    clique that have at least `minSize` members and contain at least one vertex of P. If there are none,
 *    stop. Otherwise rank them by weight descending (weight = members the start vertex certified, i.e. members
 *    m with start→m; start itself counts 1 if it is a member), then size descending, then the ascending member
 *    list compared element by element as strings, shorter first, ascending. Accept the first candidate and
 *    remove its members from M.
 * 4. Return the accepted cliques, each sorted ascending, in acceptance order.
 *
 * The weight rule is what defeats the Sybil example of the payment note (Figure 1): a compromised member of a
 * legitimate clique that links up with made-up nodes forms a second maximal clique, but the start vertex
 * certified the legitimate members and none of the made-up ones, so the legitimate clique wins however the
 * attacker picks IDs to win the lexicographic tie-break.
 *
 * Maximal cliques are enumerated with Bron–Kerbosch with pivoting over sorted index arrays (never iterating a
 * Set), so the work done is a function of the graph alone. Each round only hands Bron–Kerbosch the part of M
 * that can hold a candidate: the unassigned vertices of P plus their unassigned mutual neighbours, pruned to
 * the (minSize − 1)-core (a vertex with fewer than minSize − 1 mutual neighbours left cannot be in a clique of
 * minSize); this leaves the candidate set unchanged. Every maximal clique found there, of any size, counts
 * against `maxCliques`; going over it in any round throws CliqueLimitError and callers must fail closed.
 */

/** A directed graph restricted to eligible vertices (certified, present, not revoked). */
export interface DirectedGraph {
  readonly vertices: ReadonlySet<string>;
  /** Out-neighbours of v (v certified them), restricted to eligible vertices. */
  out(v: string): ReadonlySet<string>;
}

/** Parameters of the quorum-clique search. */
export interface QuorumCliqueOptions {
  /** Paper Algorithm 1's L: vertices at BFS distance d < maxDistance from start (start itself has d = 0) are "processed". */
  readonly maxDistance: number;
  /** Minimum clique size (paper: 4). */
  readonly minSize: number;
  /** Bound on maximal cliques enumerated in one call; exceeding it throws CliqueLimitError (callers fail closed). */
  readonly maxCliques: number;
}

/** More maximal cliques than the caller's bound; the search was abandoned and the caller must fail closed. */
export class CliqueLimitError extends Error {
  override readonly name = 'CliqueLimitError';
  constructor(readonly maxCliques: number) {
    super(`more than ${maxCliques} maximal cliques`);
  }
}

/** Plain code-unit order on strings (the same order as `<`). */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Canonical order on sorted member lists: element by element, then the shorter list first. */
function compareMemberLists(a: readonly string[], b: readonly string[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = compareStrings(a[i]!, b[i]!);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

function checkOptions(minSize: number, maxCliques: number): void {
  if (!Number.isInteger(minSize) || minSize < 1) throw new RangeError(`minSize must be an integer >= 1`);
  if (!(Number.isInteger(maxCliques) || maxCliques === Infinity) || maxCliques < 0) {
    throw new RangeError(`maxCliques must be a non-negative integer or Infinity`);
  }
}

/**
 * Bron–Kerbosch with pivoting over vertices 0..n-1, with `adj[i]` the neighbour set of i (symmetric, no
 * self-loops). Only membership tests are made on the sets; iteration is always over ascending index arrays.
 * Returns the maximal cliques of size >= minSize as ascending index arrays; every maximal clique (of any size)
 * counts against maxCliques.
 */
function bronKerbosch(
  n: number,
  adj: readonly ReadonlySet<number>[],
  minSize: number,
  maxCliques: number,
): number[][] {
  const result: number[][] = [];
  if (n === 0) return result; // the empty graph has no (non-empty) cliques
  let found = 0;
  const r: number[] = [];

  const expand = (p: readonly number[], x: readonly number[]): void => {
    if (p.length === 0) {
      if (x.length === 0) {
        found++;
        if (found > maxCliques) throw new CliqueLimitError(maxCliques);
        if (r.length >= minSize) result.push([...r].sort((a, b) => a - b));
      }
      return;
    }
    // Pivot: the vertex of P ∪ X with the most neighbours in P, smallest index on ties.
    let pivot = -1;
    let best = -1;
    for (const u of [...p, ...x]) {
      const nu = adj[u]!;
      let count = 0;
      for (const v of p) if (nu.has(v)) count++;
      if (count > best || (count === best && u < pivot)) {
        best = count;
        pivot = u;
      }
    }
    const np = adj[pivot]!;
    let pRest: readonly number[] = p;
    let xRest: readonly number[] = x;
    for (const v of p) {
      if (np.has(v)) continue;
      const nv = adj[v]!;
      r.push(v);
      expand(
        pRest.filter((w) => nv.has(w)),
        xRest.filter((w) => nv.has(w)),
      );
      r.pop();
      pRest = pRest.filter((w) => w !== v);
      xRest = [...xRest, v].sort((a, b) => a - b);
    }
  };

  expand(
    Array.from({ length: n }, (_, i) => i),
    [],
  );
  return result;
}

/** Maximal cliques (size >= minSize) over ascending, duplicate-free vertices with the given neighbour lists. */
function cliquesOfSorted(
  sorted: readonly string[],
  neighbours: (v: string) => Iterable<string>,
  minSize: number,
  maxCliques: number,
): string[][] {
  const index = new Map<string, number>();
  sorted.forEach((v, i) => index.set(v, i));
  const adj = sorted.map((v) => {
    const s = new Set<number>();
    for (const u of neighbours(v)) {
      const j = index.get(u);
      if (j !== undefined && u !== v) s.add(j);
    }
    return s;
  });
  return bronKerbosch(sorted.length, adj, minSize, maxCliques)
    .map((c) => c.map((i) => sorted[i]!))
    .sort(compareMemberLists);
}

/** All maximal cliques of size >= minSize of the undirected graph given by `mutual`, each sorted ascending, the list sorted canonically. */
export function maximalCliques(
  vertices: readonly string[],
  mutual: (a: string, b: string) => boolean,
  minSize: number,
  maxCliques: number,
): string[][] {
  checkOptions(minSize, maxCliques);
  // `mutual` is consulted once per unordered pair, as mutual(a, b) with a < b.
  const sorted = [...new Set(vertices)].sort(compareStrings);
  const nbrs = new Map<string, string[]>(sorted.map((v) => [v, []]));
  for (let i = 0; i < sorted.length; i++) {
    for (let j = i + 1; j < sorted.length; j++) {
      const a = sorted[i]!;
      const b = sorted[j]!;
      if (mutual(a, b)) {
        nbrs.get(a)!.push(b);
        nbrs.get(b)!.push(a);
      }
    }
  }
  return cliquesOfSorted(sorted, (v) => nbrs.get(v)!, minSize, maxCliques);
}

/** Vertices at directed BFS distance d < maxDistance from start (start must be a vertex). */
function processedSet(g: DirectedGraph, start: string, maxDistance: number): Set<string> {
  const seen = new Set<string>();
  if (!(maxDistance > 0)) return seen;
  seen.add(start);
  let frontier = [start];
  for (let d = 0; frontier.length > 0 && d + 1 < maxDistance; d++) {
    const next: string[] = [];
    for (const v of frontier) {
      for (const u of g.out(v)) {
        if (g.vertices.has(u) && !seen.has(u)) {
          seen.add(u);
          next.push(u);
        }
      }
    }
    frontier = next;
  }
  return seen;
}

/** Paper Algorithm 1 (GetQC) made deterministic; returns disjoint cliques, each sorted ascending. */
export function getQuorumCliques(g: DirectedGraph, start: string, options: QuorumCliqueOptions): string[][] {
  const { maxDistance, minSize, maxCliques } = options;
  checkOptions(minSize, maxCliques);
  if (Number.isNaN(maxDistance)) throw new RangeError('maxDistance must be a number');
  if (!g.vertices.has(start)) return [];

  const processed = processedSet(g, start, maxDistance);
  const processedSorted = [...processed].sort(compareStrings);

  // Mutual neighbours of v in M, ascending; computed on demand since only the neighbourhood of P matters.
  const mutualCache = new Map<string, readonly string[]>();
  const mutualOf = (v: string): readonly string[] => {
    let m = mutualCache.get(v);
    if (m === undefined) {
      m = [...g.out(v)].filter((u) => u !== v && g.vertices.has(u) && g.out(u).has(v)).sort(compareStrings);
      mutualCache.set(v, m);
    }
    return m;
  };

  const startOut = g.out(start);
  const weight = (clique: readonly string[]): number =>
    clique.reduce((w, m) => w + (m === start || (g.vertices.has(m) && startOut.has(m)) ? 1 : 0), 0);

  const assigned = new Set<string>();
  const accepted: string[][] = [];
  while (true) {
    // Every candidate contains an unassigned processed vertex p, so lies within p's unassigned mutual
    // neighbourhood; a clique of size >= minSize lies within the (minSize - 1)-core of that region.
    const region = new Set<string>();
    for (const p of processedSorted) {
      if (assigned.has(p)) continue;
      region.add(p);
      for (const u of mutualOf(p)) if (!assigned.has(u)) region.add(u);
    }
    const live = (v: string): string[] => mutualOf(v).filter((u) => region.has(u));
    const degree = new Map<string, number>();
    const doomed: string[] = [];
    // Peel to the core in a fixed order (the core itself does not depend on the order).
    for (const v of [...region].sort(compareStrings)) {
      const d = live(v).length;
      degree.set(v, d);
      if (d < minSize - 1) doomed.push(v);
    }
    for (let v = doomed.pop(); v !== undefined; v = doomed.pop()) {
      if (!region.delete(v)) continue;
      for (const u of mutualOf(v)) {
        if (!region.has(u)) continue;
        const d = degree.get(u)! - 1;
        degree.set(u, d);
        if (d === minSize - 2) doomed.push(u);
      }
    }

    const sorted = [...region].sort(compareStrings);
    const candidates = cliquesOfSorted(sorted, live, minSize, maxCliques).filter((c) =>
      c.some((v) => processed.has(v)),
    );
    let best: { clique: string[]; weight: number } | undefined;
    for (const clique of candidates) {
      const w = weight(clique);
      if (
        best === undefined ||
        w > best.weight ||
        (w === best.weight &&
          (clique.length > best.clique.length ||
            (clique.length === best.clique.length && compareMemberLists(clique, best.clique) < 0)))
      ) {
        best = { clique, weight: w };
      }
    }
    if (best === undefined) return accepted;
    accepted.push(best.clique);
    for (const m of best.clique) assigned.add(m);
  }
}
