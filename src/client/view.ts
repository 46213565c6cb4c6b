/**
 * Plain-data views of what a client knows (for `bftkv status`, `bftkv cert` and tools): its trust graph,
 * the quorum system it derives from it (paper §3.1: cliques and KV quorums depend only on the graph), its
 * own quorum certificate and the revocations it holds. Nothing here talks to the network.
 */
import type { QuorumSystem } from '../quorum/quorum-system.js';
import { quorumCertificateCount } from '../protocol/verify.js';
import { verifyCertification, type Certificate, type NodeId } from '../trust/certificate.js';
import type { TrustGraph } from '../trust/graph.js';
import { accusedOf, type RevocationProof } from '../trust/revocation.js';

/** A node named by ID and, when known, UID. */
export interface NodeRef {
  readonly id: NodeId;
  /** Empty when the certificate is not known (e.g. a revoked node). */
  readonly uid: string;
}

/** The role a node plays in this client's quorum system. */
export type NodeRole = 'signer' | 'kv' | 'client' | 'server';

export interface NodeView extends NodeRef {
  readonly address: string;
  readonly role: NodeRole;
  /** Index into `cliques` for signers. */
  readonly clique: number | undefined;
  /** Nodes whose certification of this one this client verified (trust edges into it). */
  readonly certifiedBy: readonly NodeId[];
  /** Not announced as gone (paper §4.2 leave). */
  readonly present: boolean;
  readonly self: boolean;
}

export interface CliqueView {
  readonly members: readonly NodeRef[];
  /** Byzantine members tolerated, ⌊(n−1)/3⌋. */
  readonly b: number;
  /** Member signatures a write needs from this clique. */
  readonly sufficient: number;
  /** Timestamp answers a write collects from this clique (2b+1). */
  readonly timestampQuorum: number;
  /** Members that must certify a writer (its quorum certificate, > 2n/3). */
  readonly certThreshold: number;
  /** Members that certified this client, as far as it can verify. */
  readonly certifiedSelf: number;
}

export interface RevocationView {
  readonly id: NodeId;
  readonly kind: RevocationProof['kind'];
}

export interface StatusView {
  readonly self: NodeRef & { readonly address: string };
  readonly nodes: readonly NodeView[];
  /** Verified trust edges between known nodes. */
  readonly edges: number;
  readonly cliques: readonly CliqueView[];
  readonly kv: {
    readonly nodes: readonly NodeRef[];
    /** KV nodes that may fail (f). */
    readonly faults: number;
    /** KV nodes a read or write waits for (q). */
    readonly quorum: number;
  };
  /** Whether every clique certified this client enough for its writes to be signed. */
  readonly canWrite: boolean;
  readonly revocations: readonly RevocationView[];
}

export interface CertificationView extends NodeRef {
  /** The issuer is known and its signature over this certificate verifies. */
  readonly verified: boolean;
}

export interface CertificateView extends NodeRef {
  readonly address: string;
  readonly serial: bigint;
  readonly certifications: readonly CertificationView[];
}

/** The node `id` as this graph names it. */
export function nodeRef(graph: TrustGraph, id: NodeId): NodeRef {
  return { id, uid: graph.body(id)?.uid ?? '' };
}

/** The status of the client `self` (its certificate as it presents it) over `graph` and `qs`. */
export function statusView(graph: TrustGraph, qs: QuorumSystem, self: Certificate): StatusView {
  const cliqueIndex = new Map<NodeId, number>();
  qs.cliques.forEach((c, i) => {
    for (const m of c.members) cliqueIndex.set(m, i);
  });
  const kv = new Set(qs.kvNodes);
  let edges = 0;
  const nodes = graph.certificates().map((c): NodeView => {
    const certifiedBy = graph.certifiers(c.id).sort();
    edges += certifiedBy.length;
    const clique = cliqueIndex.get(c.id);
    return {
      id: c.id,
      uid: c.body.uid,
      address: c.body.address,
      role:
        clique !== undefined ? 'signer' : kv.has(c.id) ? 'kv' : c.body.address === '' ? 'client' : 'server',
      clique,
      certifiedBy,
      present: graph.isEligible(c.id),
      self: c.id === self.id,
    };
  });
  const cliques = qs.cliques.map((c): CliqueView => ({
    members: c.members.map((m) => nodeRef(graph, m)),
    b: c.b,
    sufficient: c.sufficient,
    timestampQuorum: c.timestampQuorum,
    certThreshold: c.certThreshold,
    certifiedSelf: quorumCertificateCount(graph, c, self),
  }));
  return {
    self: { id: self.id, uid: self.body.uid, address: self.body.address },
    nodes,
    edges,
    cliques,
    kv: { nodes: qs.kvNodes.map((id) => nodeRef(graph, id)), faults: qs.kvFaults, quorum: qs.kvQuorum },
    canWrite: cliques.length > 0 && cliques.every((c) => c.certifiedSelf >= c.certThreshold),
    revocations: graph.revocations().map((p) => ({ id: accusedOf(p), kind: p.kind })),
  };
}

/** A certificate with its certifications named and checked against `graph` (when given). */
export function certificateView(cert: Certificate, graph?: TrustGraph): CertificateView {
  return {
    id: cert.id,
    uid: cert.body.uid,
    address: cert.body.address,
    serial: cert.body.serial,
    certifications: cert.certifications.map((k) => {
      const issuer = graph?.certificate(k.issuer);
      return {
        id: k.issuer,
        uid: issuer?.body.uid ?? '',
        verified: issuer !== undefined && verifyCertification(cert, k, issuer.body.publicKey),
      };
    }),
  };
}
