/**
 * Topology descriptions: who exists (servers with an address, clients without) and who certified whom.
 * Pure data, shared by the simulator (addresses `sim://NAME`) and the local cluster launcher (loopback
 * TCP addresses); keys and certificates are made from a description elsewhere.
 */

export type Role = 'signer' | 'kv' | 'client';

export interface NodeDesc {
  readonly name: string;
  readonly uid: string;
  /** Empty for clients. */
  readonly address: string;
  readonly role: Role;
}

export interface TopologyDesc {
  readonly name: string;
  readonly nodes: readonly NodeDesc[];
  /** [issuer, subject]: issuer certified subject. */
  readonly edges: ReadonlyArray<readonly [string, string]>;
  /** Clique name → member names (for checkers and tools; the protocol derives cliques itself). */
  readonly cliques: Readonly<Record<string, readonly string[]>>;
}

export interface ClientSpec {
  readonly name: string;
  readonly uid: string;
  /** Cliques whose every member certifies this client (its quorum certificate). */
  readonly certifiedBy: readonly string[];
  /** Clique members this client certifies (its own trust in the signers). */
  readonly trusts: readonly string[];
}

export interface ServerNaming {
  /** UID of a server from its name. */
  readonly uid: (name: string) => string;
  /** Address of a server from its name and role. */
  readonly address: (name: string, role: 'signer' | 'kv') => string;
}

function mutual(members: readonly string[]): Array<[string, string]> {
  const e: Array<[string, string]> = [];
  for (const a of members) for (const b of members) if (a !== b) e.push([a, b]);
  return e;
}

const numbered = (prefix: string, count: number): string[] =>
  Array.from({ length: count }, (_, i) => `${prefix}${String(i + 1).padStart(2, '0')}`);

/**
 * Cliques (every member certifies every other), KV nodes `rw01…` (each certifies every signer) and
 * clients (each certifies the signers it trusts and every KV node, and is certified by every member of
 * the cliques in `certifiedBy`).
 */
export function buildTopology(
  name: string,
  cliqueSizes: Readonly<Record<string, number>>,
  kvCount: number,
  clients: readonly ClientSpec[],
  naming: ServerNaming,
): TopologyDesc {
  const nodes: NodeDesc[] = [];
  const edges: Array<readonly [string, string]> = [];
  const cliques: Record<string, string[]> = {};
  const server = (n: string, role: 'signer' | 'kv'): NodeDesc => ({
    name: n,
    uid: naming.uid(n),
    address: naming.address(n, role),
    role,
  });
  for (const [cname, size] of Object.entries(cliqueSizes)) {
    const members = numbered(cname, size);
    cliques[cname] = members;
    for (const m of members) nodes.push(server(m, 'signer'));
    edges.push(...mutual(members));
  }
  const signers = Object.values(cliques).flat();
  const kvs = numbered('rw', kvCount);
  for (const k of kvs) {
    nodes.push(server(k, 'kv'));
    for (const s of signers) edges.push([k, s]);
  }
  for (const c of clients) {
    nodes.push({ name: c.name, uid: c.uid, address: '', role: 'client' });
    for (const s of c.trusts) edges.push([c.name, s]);
    for (const k of kvs) edges.push([c.name, k]);
    for (const cl of c.certifiedBy) for (const m of cliques[cl] ?? []) edges.push([m, c.name]);
  }
  return { name, nodes, edges, cliques };
}

/** The shapes every tool knows: clique sizes and the number of KV nodes. */
export const TOPOLOGY_SHAPES = {
  /** One 4-member clique and four KV nodes. */
  small: { cliques: { c: 4 }, kv: 4 },
  /** REFERENCE.md §10.1: cliques A and B of ten members each and six KV nodes (26 servers). */
  reference: { cliques: { a: 10, b: 10 }, kv: 6 },
} as const satisfies Record<string, { cliques: Record<string, number>; kv: number }>;

export type TopologyName = keyof typeof TOPOLOGY_SHAPES;

export function isTopologyName(name: string): name is TopologyName {
  return Object.hasOwn(TOPOLOGY_SHAPES, name);
}

/**
 * A shape with one or more clients that trust every signer and are certified by every clique (what a
 * local cluster hands to its users).
 */
export function clusterTopology(
  name: TopologyName,
  clients: ReadonlyArray<{ name: string; uid: string }>,
  naming: ServerNaming,
): TopologyDesc {
  const shape = TOPOLOGY_SHAPES[name];
  const cliqueNames = Object.keys(shape.cliques);
  const signers = Object.entries(shape.cliques).flatMap(([c, n]) => numbered(c, n));
  return buildTopology(
    name,
    shape.cliques,
    shape.kv,
    clients.map((c) => ({ ...c, certifiedBy: cliqueNames, trusts: signers })),
    naming,
  );
}
