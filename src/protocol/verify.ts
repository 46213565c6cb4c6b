/**
 * Record and certificate checks shared by signers, KV nodes and clients:
 * CheckSigs (paper Algorithm 3), CheckQuorumCert (Algorithm 4) and the equivocation check (Algorithm 5).
 * Every signature is verified before it counts; only distinct signers that are members count.
 */
import { bytesEqual, toHex } from '../codec/bytes.js';
import { sha256 } from '../crypto/hash.js';
import { verify } from '../crypto/ed25519.js';
import type { CliqueQuorum, QuorumSystem } from '../quorum/quorum-system.js';
import {
  sameBody,
  verifyCertification,
  verifySelfSignature,
  type Certificate,
  type NodeId,
} from '../trust/certificate.js';
import type { TrustGraph } from '../trust/graph.js';
import type { RevocationProof } from '../trust/revocation.js';
import { signerStatement, valueDigest, writerStatement } from '../trust/statements.js';
import { recordEncoding, type SignedRecord } from './messages.js';

export type RecordVerdict =
  | { readonly ok: true }
  | {
      readonly ok: false;
      readonly reason: 'bad-certificate' | 'bad-signature' | 'no-cliques' | 'insufficient-signatures';
    };

/** The writer's certificate and signature over <x,t,v> are valid; `digest` when already computed. */
export function verifyWriter(
  rec: {
    x: Uint8Array;
    t: bigint;
    v: Uint8Array;
    writer: Certificate;
    writerSignature: Uint8Array;
  },
  digest: Uint8Array = valueDigest(rec.v),
): RecordVerdict {
  if (!verifySelfSignature(rec.writer)) return { ok: false, reason: 'bad-certificate' };
  if (!verify(rec.writer.body.publicKey, writerStatement(rec.x, rec.t, digest), rec.writerSignature)) {
    return { ok: false, reason: 'bad-signature' };
  }
  return { ok: true };
}

/** What every signer of a record (or of a sign request for it) signed; `digest` when already computed. */
export function recordStatement(
  rec: Pick<SignedRecord, 'x' | 't' | 'v' | 'writer' | 'writerSignature'>,
  digest: Uint8Array = valueDigest(rec.v),
): Uint8Array {
  return signerStatement(rec.x, rec.t, digest, rec.writer.id, rec.writer.body.uid, rec.writerSignature);
}

/**
 * CheckSigs: for every quorum clique, more than b + (n−b)/2 distinct members validly signed the
 * record (paper §5). Signatures of non-members, unknown or revoked nodes are ignored. Verification of a
 * clique stops as soon as it is sufficient.
 */
export function checkCollectiveSignature(
  qs: QuorumSystem,
  graph: TrustGraph,
  rec: SignedRecord,
  digest: Uint8Array,
): boolean {
  if (qs.cliques.length === 0) return false;
  const counts = new Map<CliqueQuorum, number>();
  const statement = recordStatement(rec, digest);
  for (const s of rec.signatures) {
    const clique = qs.cliqueOf(s.signer);
    if (clique === undefined) continue;
    const have = counts.get(clique) ?? 0;
    if (have >= clique.sufficient) continue;
    const key = graph.body(s.signer)?.publicKey;
    if (key === undefined || !verify(key, statement, s.signature)) continue;
    counts.set(clique, have + 1);
  }
  return qs.cliques.every((c) => (counts.get(c) ?? 0) >= c.sufficient);
}

/**
 * Verifies a whole record against a quorum system: the writer's certificate, then the collective signature.
 * The writer's signature itself is not checked again: every signer statement covers it, and a sufficient
 * set holds more than b members, so at least one honest signer verified it before signing (paper §4.1).
 * That saves one verification per record at every KV node and reader.
 */
export function verifyRecord(qs: QuorumSystem, graph: TrustGraph, rec: SignedRecord): RecordVerdict {
  if (!verifySelfSignature(rec.writer)) return { ok: false, reason: 'bad-certificate' };
  if (qs.cliques.length === 0) return { ok: false, reason: 'no-cliques' };
  if (!checkCollectiveSignature(qs, graph, rec, valueDigest(rec.v)))
    return { ok: false, reason: 'insufficient-signatures' };
  return { ok: true };
}

/** Memoises record verdicts per (record bytes, graph version): readers see the same record many times. */
export class RecordVerifier {
  private readonly cache = new Map<string, RecordVerdict>();
  constructor(
    private readonly graph: TrustGraph,
    private readonly maxEntries = 4096,
  ) {}

  verify(qs: QuorumSystem, rec: SignedRecord): RecordVerdict {
    const key = `${this.graph.version}:${toHex(sha256(recordEncoding(rec)))}`;
    const hit = this.cache.get(key);
    if (hit !== undefined) return hit;
    const verdict = verifyRecord(qs, this.graph, rec);
    if (this.cache.size >= this.maxEntries) this.cache.clear();
    this.cache.set(key, verdict);
    return verdict;
  }
}

/**
 * CheckQuorumCert (paper Algorithm 4): the number of distinct members of `clique` whose certification of
 * `cert` verifies. Certifications come from the local graph (already verified) and from the presented
 * certificate; counting stops at `enough`, so a writer the graph already knows as certified costs no
 * verification and no hashing of the certifications it presents.
 */
export function quorumCertificateCount(
  graph: TrustGraph,
  clique: CliqueQuorum,
  cert: Certificate,
  enough = Number.POSITIVE_INFINITY,
): number {
  const counted = new Set<NodeId>();
  // A certification covers (ID, key, UID): the graph's certifiers vouch only for the UID they certified.
  if (graph.body(cert.id)?.uid === cert.body.uid) {
    for (const issuer of graph.certifiers(cert.id)) if (clique.memberSet.has(issuer)) counted.add(issuer);
  }
  for (const c of cert.certifications) {
    if (counted.size >= enough) break;
    if (counted.has(c.issuer) || !clique.memberSet.has(c.issuer)) continue;
    const key = graph.body(c.issuer)?.publicKey;
    if (key !== undefined && verifyCertification(cert, c, key)) counted.add(c.issuer);
  }
  return counted.size;
}

/**
 * The equivocation check (paper Algorithm 5) made provable: given two records for the same (x, t) with
 * different values, returns a proof for every key that validly signed both — clique members (signer
 * equivocation) and the writer, if the same key wrote both (writer equivocation).
 */
export function equivocationProofs(graph: TrustGraph, a: SignedRecord, b: SignedRecord): RevocationProof[] {
  if (!bytesEqual(a.x, b.x) || a.t !== b.t || bytesEqual(a.v, b.v)) return [];
  const da = valueDigest(a.v);
  const db = valueDigest(b.v);
  if (bytesEqual(da, db)) return [];
  const proofs: RevocationProof[] = [];
  const sa = recordStatement(a, da);
  const sb = recordStatement(b, db);
  const bySigner = new Map(b.signatures.map((s) => [s.signer, s.signature]));
  for (const s of a.signatures) {
    const other = bySigner.get(s.signer);
    if (other === undefined) continue;
    const key = graph.body(s.signer)?.publicKey;
    if (key === undefined) continue;
    if (verify(key, sa, s.signature) && verify(key, sb, other)) {
      proofs.push({
        kind: 'signer-equivocation',
        accusedKey: key,
        x: a.x,
        t: a.t,
        a: {
          valueDigest: da,
          writer: a.writer.id,
          writerUid: a.writer.body.uid,
          writerSignature: a.writerSignature,
          signature: s.signature,
        },
        b: {
          valueDigest: db,
          writer: b.writer.id,
          writerUid: b.writer.body.uid,
          writerSignature: b.writerSignature,
          signature: other,
        },
      });
    }
  }
  if (a.writer.id === b.writer.id && verifyWriter(a).ok && verifyWriter(b).ok) {
    proofs.push({
      kind: 'writer-equivocation',
      accusedKey: a.writer.body.publicKey,
      x: a.x,
      t: a.t,
      a: { valueDigest: da, signature: a.writerSignature },
      b: { valueDigest: db, signature: b.writerSignature },
    });
  }
  return proofs;
}

/**
 * A presented certificate whose key this node knows under another UID (or another body at the same serial)
 * is an identity equivocation: the key self-signed both bodies. Returns the proof, if any.
 */
export function identityConflict(graph: TrustGraph, cert: Certificate): RevocationProof | undefined {
  const known = graph.selfSigned(cert.id);
  if (known === undefined || !verifySelfSignature(cert)) return undefined;
  const a = known.body;
  const b = cert.body;
  if (a.uid === b.uid && (a.serial !== b.serial || sameBody(a, b))) return undefined;
  return {
    kind: 'identity-equivocation',
    accusedKey: cert.body.publicKey,
    a: { body: a, signature: known.selfSignature },
    b: { body: b, signature: cert.selfSignature },
  };
}
