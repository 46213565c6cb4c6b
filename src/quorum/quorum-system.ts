/**
 * The b-masking quorum system over the trust graph, as seen from one node (paper §3.1, §4.1, §5;
 * docs/PROTOCOL.md §Quorums).
 *
 * - Quorum cliques (the "auth quorum"): GetQC from this node. A clique of n members tolerates
 *   b = ⌊(n−1)/3⌋ Byzantine members. A collective signature is sufficient for a clique when it holds
 *   more than b + (n−b)/2 distinct verified member signatures (paper §5, CheckSigs), i.e.
 *   b + ⌊(n−b)/2⌋ + 1; timestamps are collected from 2b+1 members; a quorum certificate needs more than
 *   2n/3 verified certifications by the signer's clique (paper Algorithm 4).
 * - KV nodes: servers (nodes with an address) reachable within kvDistance that are in no clique.
 *   With N KV nodes tolerating f = ⌊(N−1)/3⌋ faulty ones, reads and writes wait for
 *   q = ⌈(N+f+1)/2⌉ nodes, so any two quorums intersect in at least 2q − N ≥ f+1 nodes (one honest),
 *   and q ≤ N − f keeps the system available with f nodes down (dissemination quorums: records are
 *   self-verifying, so one honest node in the intersection suffices).
 */
import { utf8 } from '../codec/bytes.js';
import { sha256 } from '../crypto/hash.js';
import { LIMITS } from '../limits.js';
import type { NodeId } from '../trust/certificate.js';
import { CliqueLimitError, getQuorumCliques, type DirectedGraph } from '../trust/cliques.js';
import type { TrustGraph } from '../trust/graph.js';

/** One quorum clique with its thresholds. */
export interface CliqueQuorum {
  readonly members: readonly NodeId[];
  readonly memberSet: ReadonlySet<NodeId>;
  /** Byzantine members tolerated: ⌊(n−1)/3⌋. */
  readonly b: number;
  /** Distinct valid member signatures that make a collective signature sufficient. */
  readonly sufficient: number;
  /** Timestamp answers to collect (2b+1). */
  readonly timestampQuorum: number;
  /** Verified certifications by members needed for a quorum certificate (> 2n/3). */
  readonly certThreshold: number;
}

export interface QuorumSystem {
  readonly self: NodeId;
  readonly cliques: readonly CliqueQuorum[];
  readonly kvNodes: readonly NodeId[];
  /** Faulty KV nodes tolerated. */
  readonly kvFaults: number;
  /** KV nodes a read or write waits for. */
  readonly kvQuorum: number;
  /** The clique `id` belongs to, if any. */
  cliqueOf(id: NodeId): CliqueQuorum | undefined;
}

export interface QuorumOptions {
  /** GetQC distance L: cliques containing a vertex at distance < L are found (paper Algorithm 1). */
  readonly cliqueDistance: number;
  /** KV nodes are servers within this many hops. */
  readonly kvDistance: number;
  /** Minimum clique size (paper: 4). */
  readonly minCliqueSize: number;
}

export const DEFAULT_QUORUM_OPTIONS: QuorumOptions = { cliqueDistance: 3, kvDistance: 2, minCliqueSize: 4 };

/** b = ⌊(n−1)/3⌋. */
export function byzantineTolerance(n: number): number {
  return Math.floor((n - 1) / 3);
}

/** More than b + (n−b)/2: the smallest count two different values can never both reach with ≤ b faulty. */
export function sufficientSignatures(n: number): number {
  const b = byzantineTolerance(n);
  return b + Math.floor((n - b) / 2) + 1;
}

/**
 * Signatures a writer collects from a clique so that its record stays sufficient when up to b of those
 * signers are revoked later (the clique then shrinks to n−b members with its own sufficient count):
 * 8 of 10 members.
 */
export function robustSignatures(c: CliqueQuorum): number {
  return Math.min(c.members.length, sufficientSignatures(c.members.length - c.b) + c.b);
}

/** KV fault tolerance and quorum size for N KV nodes. */
export function kvQuorumSize(n: number): { f: number; q: number } {
  if (n <= 0) return { f: 0, q: 1 };
  const f = Math.floor((n - 1) / 3);
  return { f, q: Math.ceil((n + f + 1) / 2) };
}

function cliqueQuorum(members: readonly NodeId[]): CliqueQuorum {
  const n = members.length;
  const b = byzantineTolerance(n);
  return {
    members,
    memberSet: new Set(members),
    b,
    sufficient: sufficientSignatures(n),
    timestampQuorum: 2 * b + 1,
    certThreshold: Math.floor((2 * n) / 3) + 1,
  };
}

function bfsWithin(g: DirectedGraph, start: NodeId, maxDistance: number): Set<NodeId> {
  const seen = new Set<NodeId>([start]);
  let frontier = [start];
  for (let d = 0; d < maxDistance && frontier.length > 0; d++) {
    const next: NodeId[] = [];
    for (const v of frontier) {
      for (const u of [...g.out(v)].sort()) {
        if (!seen.has(u)) {
          seen.add(u);
          next.push(u);
        }
      }
    }
    frontier = next;
  }
  return seen;
}

/**
 * Builds the quorum system seen from `self`. Fails closed: if clique enumeration exceeds its bound the
 * system has no cliques (nothing can be written) rather than a guessed one.
 */
export function buildQuorumSystem(
  graph: TrustGraph,
  self: NodeId,
  options: QuorumOptions = DEFAULT_QUORUM_OPTIONS,
): QuorumSystem {
  const view = graph.view();
  // Only servers (nodes with an address) can sign, so only servers are clique members: a client that
  // certified part of a clique must not form a smaller clique with that part in its own view. Edges into
  // clients are dropped for clique finding; a client's own out-edges still start the search.
  const isServer = (id: NodeId) => (graph.body(id)?.address ?? '') !== '';
  const serverOut = new Map<NodeId, ReadonlySet<NodeId>>();
  const cliqueView: DirectedGraph = {
    vertices: view.vertices,
    out: (v) => {
      let s = serverOut.get(v);
      if (s === undefined) serverOut.set(v, (s = new Set([...view.out(v)].filter(isServer))));
      return s;
    },
  };
  let cliqueLists: string[][] = [];
  if (view.vertices.has(self)) {
    try {
      cliqueLists = getQuorumCliques(cliqueView, self, {
        maxDistance: options.cliqueDistance,
        minSize: options.minCliqueSize,
        maxCliques: LIMITS.maximalCliquesMax,
      });
    } catch (e) {
      if (!(e instanceof CliqueLimitError)) throw e;
      cliqueLists = [];
    }
  }
  const cliques = cliqueLists.map(cliqueQuorum);
  const inClique = new Map<NodeId, CliqueQuorum>();
  for (const c of cliques) for (const m of c.members) inClique.set(m, c);
  const reachable = view.vertices.has(self) ? bfsWithin(view, self, options.kvDistance) : new Set<NodeId>();
  const kvNodes = [...reachable]
    .filter((id) => id !== self && !inClique.has(id) && (graph.body(id)?.address ?? '') !== '')
    .sort();
  const { f, q } = kvQuorumSize(kvNodes.length);
  return { self, cliques, kvNodes, kvFaults: f, kvQuorum: q, cliqueOf: (id) => inClique.get(id) };
}

/** Caches the quorum system per graph version. */
export class QuorumCache {
  private cached: { version: number; qs: QuorumSystem } | undefined;
  constructor(
    private readonly graph: TrustGraph,
    private readonly self: NodeId,
    private readonly options: QuorumOptions = DEFAULT_QUORUM_OPTIONS,
  ) {}

  /** The current quorum system. */
  get(): QuorumSystem {
    if (this.cached === undefined || this.cached.version !== this.graph.version) {
      this.cached = {
        version: this.graph.version,
        qs: buildQuorumSystem(this.graph, this.self, this.options),
      };
    }
    return this.cached.qs;
  }
}

const PREFERENCE_TAG = utf8('bftkv/kv-preference/v1');

/**
 * Rendezvous (highest-random-weight) order of `nodes` for variable `x`: sorted by SHA-256(x ‖ id), so every
 * node that sees the same KV set agrees on it without coordination. Writers store x on the first q nodes of
 * this order, readers ask the same ones first and gossip repairs them, so in the fault-free case each
 * record is verified and stored by q KV nodes, not all N (any q nodes still intersect the writer's in f+1).
 */
export function preferenceOrder(nodes: readonly NodeId[], x: Uint8Array): NodeId[] {
  const weighted = nodes.map((id) => {
    const h = sha256(PREFERENCE_TAG, x, utf8(id));
    return { id, w: new DataView(h.buffer, h.byteOffset, 8).getBigUint64(0) };
  });
  weighted.sort((a, b) => (a.w > b.w ? -1 : a.w < b.w ? 1 : a.id < b.id ? -1 : 1));
  return weighted.map((e) => e.id);
}
