/**
 * The local web-of-trust graph (paper §2.2, §3.1, §4.2; payment note §2 "Revocation").
 *
 * Invariant: the graph's view (vertices and edges) is a pure function of the certificates, presence
 * announcements and revocation proofs this node has accepted — not of the order they arrived in. Edges
 * are kept on the subject's certificate ("S signs N" is stored in N's certificate), so when a node leaves
 * and later re-joins, every edge it had (in and out) comes back.
 *
 * Every certification is verified against its issuer's key before it becomes an edge; certifications
 * whose issuer is not known yet wait in a bounded pending set and are verified when the issuer arrives.
 * A revoked node is removed for good: its certificate, edges and later announcements are ignored.
 */
import { bytesEqual } from '../codec/bytes.js';
import { verify } from '../crypto/ed25519.js';
import { LIMITS } from '../limits.js';
import type { DirectedGraph } from './cliques.js';
import {
  sameBody,
  verifyCertification,
  verifySelfSignature,
  type Certificate,
  type CertificateBody,
  type Certification,
  type NodeId,
} from './certificate.js';
import { accusedOf, verifyRevocationProof, type RevocationProof } from './revocation.js';
import { presenceStatement } from './statements.js';

/** A signed join (present) or leave (not present) announcement. */
export interface Presence {
  readonly id: NodeId;
  readonly seq: bigint;
  readonly present: boolean;
  readonly signature: Uint8Array;
}

/** Why a certificate was not accepted. */
export type CertificateRejection = 'revoked' | 'bad-self-signature' | 'graph-full' | 'stale-serial';

export interface AddCertificateResult {
  readonly accepted: boolean;
  readonly changed: boolean;
  readonly rejection?: CertificateRejection;
  /** The certificate's key signed two conflicting bodies: proof to revoke it. */
  readonly proof?: RevocationProof;
}

const PENDING_PER_SUBJECT_MAX = 64;

interface Vertex {
  cert: Certificate;
  /** Verified certifications by issuer. */
  verified: Map<NodeId, Certification>;
  /** The certificate `certificate()` built, valid while the graph's version is `version`. */
  built?: { readonly version: number; readonly cert: Certificate };
}

export class TrustGraph {
  private readonly vertices = new Map<NodeId, Vertex>();
  /**
   * subject → issuer → candidate certifications whose issuer is unknown. Several candidates per issuer are
   * kept (bounded per subject) so a forged one cannot displace the genuine one before the issuer arrives.
   */
  private readonly pending = new Map<NodeId, Map<NodeId, Certification[]>>();
  private readonly presence = new Map<NodeId, Presence>();
  private readonly revoked = new Map<NodeId, RevocationProof>();
  private versionCounter = 0;
  private viewCache: { version: number; view: DirectedGraph } | undefined;

  /** Increases whenever the view may have changed (callers cache derived quorum systems on it). */
  get version(): number {
    return this.versionCounter;
  }

  private bump(): void {
    this.versionCounter++;
    this.viewCache = undefined;
  }

  /** The certificate known for `id` (with its verified certifications only), if not revoked. */
  certificate(id: NodeId): Certificate | undefined {
    const v = this.vertices.get(id);
    if (v === undefined) return undefined;
    // Built once per graph version: clients look their servers' certificates up on every request.
    if (v.built?.version !== this.versionCounter)
      v.built = {
        version: this.versionCounter,
        cert: { ...v.cert, certifications: sortedCertifications(v.verified) },
      };
    return v.built.cert;
  }

  /**
   * The body known for `id` (its key, UID and address), without building the certificate: the per-request
   * checks (signer keys, certifier keys) need only this.
   */
  body(id: NodeId): CertificateBody | undefined {
    return this.vertices.get(id)?.cert.body;
  }

  /** The self-signed part of `id`'s certificate (body and self-signature; no certifications). */
  selfSigned(id: NodeId): Certificate | undefined {
    return this.vertices.get(id)?.cert;
  }

  /** All known certificates (verified certifications only), sorted by ID. */
  certificates(): Certificate[] {
    return [...this.vertices.keys()].sort().map((id) => this.certificate(id)!);
  }

  /** All presence announcements, sorted by ID. */
  presences(): Presence[] {
    return [...this.presence.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** All revocation proofs, sorted by accused ID. */
  revocations(): RevocationProof[] {
    return [...this.revoked.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, p]) => p);
  }

  isRevoked(id: NodeId): boolean {
    return this.revoked.has(id);
  }

  /** Known, not revoked, and not announced as gone. */
  isEligible(id: NodeId): boolean {
    return this.vertices.has(id) && this.presence.get(id)?.present !== false;
  }

  /** Verified issuers that certified `id`. */
  certifiers(id: NodeId): NodeId[] {
    const v = this.vertices.get(id);
    return v === undefined ? [] : [...v.verified.keys()];
  }

  /**
   * Adds a batch of certificates (a join response, a gossip message): bodies first, then certifications,
   * so certifications between members of the batch verify whatever their order.
   */
  addCertificates(certs: readonly Certificate[]): AddCertificateResult[] {
    const results = certs.map((c) => this.addBody(c));
    certs.forEach((c, i) => {
      if (results[i]!.accepted && this.mergeCertifications(c.id, c.certifications)) {
        results[i] = { ...results[i]!, changed: true };
      }
    });
    return results;
  }

  /** Adds one certificate (see addCertificates). */
  addCertificate(cert: Certificate): AddCertificateResult {
    return this.addCertificates([cert])[0]!;
  }

  /** Adds certifications of `subject` (e.g. returned by signers at registration); returns whether any was new. */
  addCertifications(subject: NodeId, certifications: readonly Certification[]): boolean {
    return this.vertices.has(subject) && this.mergeCertifications(subject, certifications);
  }

  private addBody(cert: Certificate): AddCertificateResult {
    if (this.revoked.has(cert.id)) return { accepted: false, changed: false, rejection: 'revoked' };
    if (!verifySelfSignature(cert))
      return { accepted: false, changed: false, rejection: 'bad-self-signature' };
    const existing = this.vertices.get(cert.id);
    if (existing === undefined) {
      if (this.vertices.size >= LIMITS.graphVerticesMax)
        return { accepted: false, changed: false, rejection: 'graph-full' };
      this.vertices.set(cert.id, { cert: { ...cert, certifications: [] }, verified: new Map() });
      this.bump();
      this.verifyPendingFrom(cert.id);
      return { accepted: true, changed: true };
    }
    const old = existing.cert.body;
    if (sameBody(old, cert.body)) return { accepted: true, changed: false };
    if (old.serial === cert.body.serial || old.uid !== cert.body.uid) {
      // The same key self-signed two incompatible bodies: provable identity equivocation.
      const proof: RevocationProof = {
        kind: 'identity-equivocation',
        accusedKey: cert.body.publicKey,
        a: { body: old, signature: existing.cert.selfSignature },
        b: { body: cert.body, signature: cert.selfSignature },
      };
      return { accepted: false, changed: false, proof };
    }
    if (cert.body.serial < old.serial) return { accepted: true, changed: false, rejection: 'stale-serial' };
    existing.cert = { ...cert, certifications: [] };
    this.bump();
    return { accepted: true, changed: true };
  }

  private mergeCertifications(subject: NodeId, certifications: readonly Certification[]): boolean {
    const v = this.vertices.get(subject);
    if (v === undefined) return false;
    let changed = false;
    for (const c of certifications.slice(0, LIMITS.certificationsMax)) {
      if (c.issuer === subject || v.verified.has(c.issuer) || this.revoked.has(c.issuer)) continue;
      const issuer = this.vertices.get(c.issuer);
      if (issuer === undefined) {
        let p = this.pending.get(subject);
        if (p === undefined) this.pending.set(subject, (p = new Map<NodeId, Certification[]>()));
        let total = 0;
        for (const list of p.values()) total += list.length;
        const list = p.get(c.issuer) ?? [];
        if (total < PENDING_PER_SUBJECT_MAX && !list.some((k) => bytesEqual(k.signature, c.signature))) {
          list.push(c);
          p.set(c.issuer, list);
        }
        continue;
      }
      if (verifyCertification(v.cert, c, issuer.cert.body.publicKey)) {
        v.verified.set(c.issuer, c);
        changed = true;
      }
    }
    if (changed) this.bump();
    return changed;
  }

  private verifyPendingFrom(issuerId: NodeId): void {
    const issuer = this.vertices.get(issuerId)!;
    for (const [subject, p] of this.pending) {
      const candidates = p.get(issuerId);
      if (candidates === undefined) continue;
      p.delete(issuerId);
      if (p.size === 0) this.pending.delete(subject);
      const v = this.vertices.get(subject);
      const genuine =
        v === undefined
          ? undefined
          : candidates.find((k) => verifyCertification(v.cert, k, issuer.cert.body.publicKey));
      if (v !== undefined && genuine !== undefined) {
        v.verified.set(issuerId, genuine);
        this.bump();
      }
    }
  }

  /**
   * Applies a signed presence announcement (join/leave). Only a higher sequence number than the one
   * known counts, so a recorded old "leave" cannot undo a later re-join. Returns whether it changed state.
   */
  applyPresence(p: Presence): boolean {
    if (this.revoked.has(p.id)) return false;
    const v = this.vertices.get(p.id);
    if (v === undefined) return false;
    const current = this.presence.get(p.id);
    if (current !== undefined && current.seq >= p.seq) return false;
    if (!verify(v.cert.body.publicKey, presenceStatement(p.id, p.seq, p.present), p.signature)) return false;
    this.presence.set(p.id, p);
    this.bump();
    return true;
  }

  /** The sequence number of the latest announcement known for `id` (0 if none). */
  presenceSeq(id: NodeId): bigint {
    return this.presence.get(id)?.seq ?? 0n;
  }

  /**
   * Revokes the accused of a verified proof. Returns false (and changes nothing) if the proof does not
   * verify or the node is already revoked. Invariant: revocation is permanent.
   */
  revoke(proof: RevocationProof): boolean {
    const id = accusedOf(proof);
    if (this.revoked.has(id)) return false;
    if (!verifyRevocationProof(proof)) return false;
    this.revoked.set(id, proof);
    this.vertices.delete(id);
    this.pending.delete(id);
    for (const p of this.pending.values()) p.delete(id);
    for (const v of this.vertices.values()) v.verified.delete(id);
    this.presence.delete(id);
    this.bump();
    return true;
  }

  /** Restores a revocation loaded from durable storage (proof verified again). */
  restoreRevocation(proof: RevocationProof): boolean {
    return this.revoke(proof);
  }

  /** Certifications still waiting for their issuer, per subject (persisted so a restart keeps them). */
  pendingCertifications(): Array<[NodeId, Certification[]]> {
    return [...this.pending.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([subject, byIssuer]) => [subject, [...byIssuer.values()].flat()]);
  }

  /** Nodes reachable from `from` over verified edges between known nodes (any distance). */
  reachableFrom(from: NodeId): Set<NodeId> {
    const seen = new Set<NodeId>();
    if (!this.vertices.has(from)) return seen;
    const out = new Map<NodeId, NodeId[]>();
    for (const [subject, v] of this.vertices) {
      for (const issuer of v.verified.keys()) {
        let list = out.get(issuer);
        if (list === undefined) out.set(issuer, (list = []));
        list.push(subject);
      }
    }
    const stack = [from];
    seen.add(from);
    while (stack.length > 0) {
      for (const next of out.get(stack.pop()!) ?? []) {
        if (!seen.has(next) && this.vertices.has(next)) {
          seen.add(next);
          stack.push(next);
        }
      }
    }
    return seen;
  }

  /**
   * Drops known (not revoked) nodes outside `keep` — a joiner discards what a peer sent that nobody it trusts
   * vouches for, so a lying peer cannot fill the graph with phantoms or make it contact attacker addresses.
   */
  forgetExcept(candidates: Iterable<NodeId>, keep: ReadonlySet<NodeId>): number {
    let n = 0;
    for (const id of candidates) {
      if (keep.has(id) || !this.vertices.has(id)) continue;
      this.vertices.delete(id);
      this.presence.delete(id);
      n++;
    }
    if (n > 0) this.bump();
    return n;
  }

  /** The eligible subgraph: vertices known, present and not revoked; edges from verified certifications. */
  view(): DirectedGraph {
    if (this.viewCache !== undefined && this.viewCache.version === this.versionCounter)
      return this.viewCache.view;
    const vertices = new Set<NodeId>();
    for (const id of this.vertices.keys()) if (this.isEligible(id)) vertices.add(id);
    const out = new Map<NodeId, Set<NodeId>>();
    for (const id of vertices) out.set(id, new Set());
    for (const [subject, v] of this.vertices) {
      if (!vertices.has(subject)) continue;
      for (const issuer of v.verified.keys()) if (vertices.has(issuer)) out.get(issuer)!.add(subject);
    }
    const empty = new Set<NodeId>();
    const view: DirectedGraph = { vertices, out: (id) => out.get(id) ?? empty };
    this.viewCache = { version: this.versionCounter, view };
    return view;
  }

  /** A stable fingerprint of the view (tests compare graphs across nodes with it). */
  fingerprint(): string {
    const view = this.view();
    const parts: string[] = [];
    for (const id of [...view.vertices].sort()) parts.push(`${id}>${[...view.out(id)].sort().join(',')}`);
    return parts.join(';');
  }
}

function sortedCertifications(m: Map<NodeId, Certification>): Certification[] {
  return [...m.values()].sort((a, b) => (a.issuer < b.issuer ? -1 : a.issuer > b.issuer ? 1 : 0));
}
