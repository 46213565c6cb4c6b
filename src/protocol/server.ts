/**
 * The server side of the protocol (paper §4.1–4.2, Algorithms 3–7; payment note §2.1), as pure handlers
 * over injected Storage, Clock, Random and Transport. One class serves every role: a node signs when it
 * is a member of a quorum clique in its own view, and stores/serves records as a KV node.
 *
 * Durability contract: a signer records what it signed for x before the signature leaves the node, and a
 * KV node stores a record before it acknowledges it — a crash can never make an honest node sign two
 * values for one (x, t) or forget an acknowledged record.
 */
import { setBounded } from '../collections/bounded.js';
import { ByteReader, ByteWriter, bytesEqual, CodecError, toHex } from '../codec/bytes.js';
import type { Clock } from '../env/clock.js';
import { withDeadline } from '../env/clock.js';
import type { Random } from '../env/random.js';
import { SIGNATURE_BYTES, sign, type SigningKey } from '../crypto/ed25519.js';
import { LIMITS, SEALED_TIMESTAMP } from '../limits.js';
import {
  DEFAULT_QUORUM_OPTIONS,
  kvQuorumSize,
  preferenceOrder,
  QuorumCache,
  type QuorumOptions,
} from '../quorum/quorum-system.js';
import { recordKey, recordPrefix, type Storage, type StorageOp } from '../storage/storage.js';
import type { Transport } from '../transport/transport.js';
import { verifySelfSignature, type Certificate, type NodeId } from '../trust/certificate.js';
import type { TrustGraph } from '../trust/graph.js';
import { accusedOf, verifyRevocationProof, type RevocationProof } from '../trust/revocation.js';
import { ackStatement, signerStatement, valueDigest } from '../trust/statements.js';
import { ProtocolError } from './errors.js';
import { KeyedMutex } from './keyed-mutex.js';
import {
  decodeRecord,
  decodeRequest,
  encodeRequest,
  encodeResponse,
  recordEncoding,
  recordHeader,
  type Request,
  type Response,
  type SignedRecord,
} from './messages.js';
import { graphOps, loadGraph, persistGraph } from './node-state.js';
import {
  decodeEnvelope,
  isEnvelope,
  ownerKey,
  PasswordService,
  type PasswordOptions,
  type RoamingEnvelope,
} from './password.js';
import { CaService, type CaOptions } from './ca/ca-server.js';
import { holderRegistry } from './ca/schemes.js';
import {
  checkCollectiveSignature,
  equivocationProofs,
  identityConflict,
  quorumCertificateCount,
  verifyWriter,
} from './verify.js';

export interface ServerOptions {
  readonly quorum: QuorumOptions;
  /** KV peers each gossip round sends new records to (all of them up to this bound, else a random sample). */
  readonly gossipFanout: number;
  /** Records queued for gossip; older ones are dropped first. */
  readonly gossipQueueMax: number;
  /** Deadline of one outgoing gossip message. */
  readonly gossipTimeoutMs: number;
  /** Password authentication (throttling, nonce lifetimes). */
  readonly password?: Partial<PasswordOptions>;
  /** The distributed CA's holder service (replay window, sessions). */
  readonly ca?: Partial<CaOptions>;
}

export const DEFAULT_SERVER_OPTIONS: ServerOptions = {
  quorum: DEFAULT_QUORUM_OPTIONS,
  gossipFanout: 16,
  gossipQueueMax: 1024,
  gossipTimeoutMs: 2000,
};

const OWNER_MARK = new Uint8Array([1]);

/** Refused records kept as equivocation evidence (volatile, oldest evicted first). */
const EVIDENCE_MAX = 1024;

/** What a signer remembers per variable: the latest <x,t,v,s_C> it signed and the owner UID (TOFU). */
interface SignedState {
  readonly t: bigint;
  readonly valueDigest: Uint8Array;
  readonly writer: NodeId;
  readonly writerSignature: Uint8Array;
  readonly ownerUid: string;
}

function encodeSignedState(s: SignedState): Uint8Array {
  return new ByteWriter()
    .u64(s.t)
    .raw(s.valueDigest)
    .string(s.writer)
    .raw(s.writerSignature)
    .string(s.ownerUid)
    .finish();
}

function decodeSignedState(b: Uint8Array): SignedState {
  const r = new ByteReader(b);
  const s = {
    t: r.u64('signed.t'),
    valueDigest: r.raw(32, 'signed.valueDigest'),
    writer: r.string(32, 'signed.writer'),
    writerSignature: r.raw(SIGNATURE_BYTES, 'signed.writerSignature'),
    ownerUid: r.string(LIMITS.uidBytesMax, 'signed.ownerUid'),
  };
  r.finish('signed');
  return s;
}

/** Counters exposed as metrics. */
export interface ServerStats {
  requests: number;
  rejected: number;
  signed: number;
  stored: number;
  revocations: number;
  gossipSent: number;
}

export interface ServerDeps {
  readonly key: SigningKey;
  readonly certificate: Certificate;
  readonly storage: Storage;
  readonly clock: Clock;
  readonly random: Random;
  readonly transport: Transport;
  readonly options?: Partial<ServerOptions>;
  /** Called for every revocation this node performs (simulator checkers, logs, metrics). */
  readonly onRevoke?: (accused: NodeId, proof: RevocationProof) => void;
}

export class BftkvServer {
  readonly id: NodeId;
  readonly options: ServerOptions;
  readonly stats: ServerStats = {
    requests: 0,
    rejected: 0,
    signed: 0,
    stored: 0,
    revocations: 0,
    gossipSent: 0,
  };
  private readonly locks = new KeyedMutex();
  private readonly quorums: QuorumCache;
  private readonly gossipRecords: SignedRecord[] = [];
  private readonly gossipProofs: RevocationProof[] = [];
  /** Refused (insufficiently signed) records by (x, t), bounded: evidence for later equivocation checks. */
  private readonly evidence = new Map<string, SignedRecord>();
  private kvSetCache: { readonly version: number; readonly ids: NodeId[] } | undefined;
  /** Threshold password authentication (password.ts). */
  readonly password: PasswordService;
  /** Holder of distributed CA keys (ca/ca-server.ts). */
  readonly ca: CaService;

  private constructor(
    private readonly deps: ServerDeps,
    readonly graph: TrustGraph,
  ) {
    this.id = deps.certificate.id;
    this.options = { ...DEFAULT_SERVER_OPTIONS, ...deps.options };
    this.quorums = new QuorumCache(graph, this.id, this.options.quorum);
    this.password = new PasswordService({
      id: this.id,
      key: deps.key,
      storage: deps.storage,
      clock: deps.clock,
      random: deps.random,
      graph,
      clique: () => this.quorums.get().cliqueOf(this.id),
      ...(this.options.password === undefined ? {} : { options: this.options.password }),
    });
    this.ca = new CaService({
      id: this.id,
      key: deps.key,
      storage: deps.storage,
      clock: deps.clock,
      random: deps.random,
      graph,
      clique: () => this.quorums.get().cliqueOf(this.id),
      cliques: () => this.quorums.get().cliques,
      holder: holderRegistry(deps.random),
      owner: (x, claimFor) => this.ownerOf(x, claimFor),
      lastSigned: async (x) => {
        const raw = await this.deps.storage.get('signed', x);
        return raw === undefined ? 0n : decodeSignedState(raw).t;
      },
      recordValid: (rec) => checkCollectiveSignature(this.quorums.get(), this.graph, rec, valueDigest(rec.v)),
      ...(this.options.ca === undefined ? {} : { options: this.options.ca }),
    });
  }

  /**
   * The owner UID of variable x at this signer (TOFU, docs/PROTOCOL.md §9). With `claimFor`, an unowned
   * variable is claimed for that UID first: a signer state at t = 0 (no signature) that fixes the owner, so
   * the distributed CA's name and its descriptor variable have one owner (docs/PROTOCOL.md §15).
   */
  private ownerOf(x: Uint8Array, claimFor?: string): Promise<string | undefined> {
    return this.locks.run(toHex(x), async () => {
      const raw = await this.deps.storage.get('signed', x);
      if (raw !== undefined) return decodeSignedState(raw).ownerUid;
      if (claimFor === undefined) return undefined;
      const claim: SignedState = {
        t: 0n,
        valueDigest: new Uint8Array(32),
        writer: this.id,
        writerSignature: new Uint8Array(SIGNATURE_BYTES),
        ownerUid: claimFor,
      };
      await this.deps.storage.write([
        { ns: 'signed', key: x, value: encodeSignedState(claim) },
        { ns: 'password', key: ownerKey(claimFor), value: OWNER_MARK },
      ]);
      return claimFor;
    });
  }

  /** Opens a server over its storage: loads the graph and revocations, adds its own certificate. */
  static async open(deps: ServerDeps): Promise<BftkvServer> {
    const graph = await loadGraph(deps.storage);
    const own = graph.addCertificate(deps.certificate);
    if (!own.accepted) throw new Error(`own certificate not accepted: ${own.rejection ?? 'conflict'}`);
    const server = new BftkvServer(deps, graph);
    await persistGraph(deps.storage, graph);
    return server;
  }

  /** The quorum system as this node currently sees it. */
  quorumSystem() {
    return this.quorums.get();
  }

  /** Handles one request; bad input yields a typed error response, never a throw. */
  async handle(from: NodeId | null, payload: Uint8Array): Promise<Uint8Array> {
    this.stats.requests++;
    let req: Request;
    try {
      if (payload.length > LIMITS.messageBytesMax) throw new ProtocolError('tooLarge', 'request too large');
      req = decodeRequest(payload);
    } catch (e) {
      this.stats.rejected++;
      if (e instanceof CodecError)
        return encodeResponse({ kind: 'error', code: 'malformed', message: e.message, timestamp: 0n });
      if (e instanceof ProtocolError)
        return encodeResponse({ kind: 'error', code: e.code, message: e.message, timestamp: 0n });
      throw e;
    }
    try {
      if (from !== null && this.graph.isRevoked(from))
        throw new ProtocolError('revoked', 'sender is revoked');
      return encodeResponse(await this.dispatch(from, req));
    } catch (e) {
      if (e instanceof ProtocolError) {
        this.stats.rejected++;
        return encodeResponse({
          kind: 'error',
          code: e.code,
          message: e.message,
          timestamp: e.timestamp ?? 0n,
        });
      }
      throw e;
    }
  }

  private async dispatch(from: NodeId | null, req: Request): Promise<Response> {
    switch (req.kind) {
      case 'time':
        return { kind: 'time', t: await this.latestTimestamp(req.x) };
      case 'sign':
        return this.handleSign(from, req);
      case 'write': {
        const ack = await this.store(req.record, true);
        return { kind: 'write', ack: ack! };
      }
      case 'read': {
        const record = await this.latestRecord(req.x);
        // A roaming-encrypted value is served only against a password proof (paper §3.3, data secrecy).
        if (record !== undefined && isEnvelope(record.v)) {
          if (req.proof === undefined)
            throw new ProtocolError('authRequired', 'this value is password-protected: a proof is required');
          const envelope = this.envelopeOf(record.v);
          this.password.verifyProof(from, req.proof, envelope.credential, { kind: 'read', x: req.x });
        }
        return { kind: 'read', record };
      }
      case 'passwordEval':
        return {
          kind: 'passwordEval',
          ...(await this.password.evaluate(from, req.scope, req.name, req.blinded)),
        };
      case 'register':
        return {
          kind: 'register',
          certification: await this.password.register(from, req.certificate, req.enrol, req.proof),
        };
      case 'passwordShare':
        this.password.share(from, req.credential, req.share);
        return { kind: 'ok' };
      case 'passwordConfirm':
        await this.password.confirm(from, req.proof);
        return { kind: 'ok' };
      case 'challenge':
        return { kind: 'challenge', nonce: this.password.challenge(from) };
      case 'ca':
        return { kind: 'ca', body: await this.ca.handle(from, req.call) };
      case 'join':
        return this.handleJoin(from, req.certificate, req.presence);
      case 'leave':
        if (from !== req.presence.id || req.presence.present)
          throw new ProtocolError('permissionDenied', 'a node can only announce its own leave');
        if (this.graph.applyPresence(req.presence)) await persistGraph(this.deps.storage, this.graph);
        return { kind: 'ok' };
      case 'gossip':
        await this.handleGossip(req.records, req.proofs);
        return { kind: 'ok' };
    }
  }

  private async latestTimestamp(x: Uint8Array): Promise<bigint> {
    const signed = await this.deps.storage.get('signed', x);
    const st = signed === undefined ? 0n : decodeSignedState(signed).t;
    const latest = await this.deps.storage.scan('record', {
      prefix: recordPrefix(x),
      reverse: true,
      limit: 1,
    });
    const rt = latest.length === 0 ? 0n : recordHeader(latest[0]![1]).t;
    return st > rt ? st : rt;
  }

  private async latestRecord(x: Uint8Array): Promise<SignedRecord | undefined> {
    const latest = await this.deps.storage.scan('record', {
      prefix: recordPrefix(x),
      reverse: true,
      limit: 1,
    });
    return latest.length === 0 ? undefined : decodeRecord(latest[0]![1]);
  }

  /** A roaming value's envelope; malformed ones are a typed refusal. */
  private envelopeOf(v: Uint8Array): RoamingEnvelope {
    try {
      return decodeEnvelope(v);
    } catch (e) {
      if (e instanceof CodecError) throw new ProtocolError('malformed', `roaming value: ${e.message}`);
      throw e;
    }
  }

  /**
   * Sign request (paper §4.1 "get signature"): verify s_C and the writer's quorum certificate, enforce
   * TOFU, the timestamp step and "never two values for one (x, t)", persist, then sign.
   */
  private async handleSign(from: NodeId | null, req: Extract<Request, { kind: 'sign' }>): Promise<Response> {
    const writer = req.writer;
    if (this.graph.isRevoked(writer.id)) throw new ProtocolError('revoked', 'writer is revoked');
    await this.refuseIdentityConflict(writer);
    const digest = valueDigest(req.v);
    const w = verifyWriter(req, digest);
    if (!w.ok)
      throw new ProtocolError(
        w.reason === 'bad-certificate' ? 'badCertificate' : 'badSignature',
        'writer signature does not verify',
      );
    const qs = this.quorums.get();
    const clique = qs.cliqueOf(this.id);
    if (clique === undefined) throw new ProtocolError('notASigner', 'this node is in no quorum clique');
    const certified = quorumCertificateCount(this.graph, clique, writer, clique.certThreshold);
    if (certified < clique.certThreshold) {
      throw new ProtocolError(
        'invalidQuorumCertificate',
        `writer certified by ${certified} of ${clique.members.length} clique members, need ${clique.certThreshold}`,
      );
    }
    if (req.t === 0n) throw new ProtocolError('invalidTimestamp', 'timestamp 0 is reserved');
    const envelope = isEnvelope(req.v) ? this.envelopeOf(req.v) : undefined;
    return this.locks.run(toHex(req.x), async () => {
      const raw = await this.deps.storage.get('signed', req.x);
      const prev = raw === undefined ? undefined : decodeSignedState(raw);
      if (prev !== undefined) {
        if (prev.ownerUid !== writer.body.uid)
          throw new ProtocolError('permissionDenied', 'variable is owned by another UID');
        if (req.t < prev.t)
          throw new ProtocolError('staleTimestamp', 'a later timestamp was already signed', prev.t);
        if (req.t === prev.t) {
          if (!bytesEqual(prev.valueDigest, digest)) {
            if (prev.writer === writer.id) {
              // The same writer key signed two values for one (x, t): provable writer equivocation.
              const proof: RevocationProof = {
                kind: 'writer-equivocation',
                accusedKey: writer.body.publicKey,
                x: req.x,
                t: req.t,
                a: { valueDigest: prev.valueDigest, signature: prev.writerSignature },
                b: { valueDigest: digest, signature: req.writerSignature },
              };
              await this.revoke([proof]);
              throw new ProtocolError('equivocation', 'writer signed two values for one timestamp; revoked');
            }
            throw new ProtocolError(
              'timestampConflict',
              'another value was signed at this timestamp',
              prev.t,
            );
          }
          if (prev.t === SEALED_TIMESTAMP && prev.writer !== writer.id)
            throw new ProtocolError('sealed', 'variable is sealed');
        }
        if (req.t > prev.t && prev.t === SEALED_TIMESTAMP)
          throw new ProtocolError('sealed', 'variable is sealed');
        if (req.t > prev.t && req.t !== SEALED_TIMESTAMP && req.t - prev.t > LIMITS.timestampStepMax) {
          throw new ProtocolError('timestampTooFar', 'timestamp step too large', prev.t);
        }
      } else if (req.t !== SEALED_TIMESTAMP && req.t > LIMITS.timestampStepMax) {
        throw new ProtocolError('timestampTooFar', 'timestamp step too large', 0n);
      }
      if (prev === undefined || req.t !== prev.t) {
        const state: SignedState = {
          t: req.t,
          valueDigest: digest,
          writer: writer.id,
          writerSignature: req.writerSignature,
          ownerUid: writer.body.uid,
        };
        const ops: StorageOp[] = [{ ns: 'signed', key: req.x, value: encodeSignedState(state) }];
        // The owner marker keeps a UID that owns variables from being enrolled by someone else (password.ts).
        if (prev === undefined)
          ops.push({ ns: 'password', key: ownerKey(writer.body.uid), value: OWNER_MARK });
        // A roaming value is signed only with this member's share of its password key stored alongside.
        if (envelope !== undefined) ops.push(...this.password.signOps(from, req.x, req.t, envelope));
        await this.deps.storage.write(ops);
        if (envelope !== undefined) this.password.consumed(envelope);
      }
      this.stats.signed++;
      return {
        kind: 'sign',
        signature: sign(
          this.deps.key,
          signerStatement(req.x, req.t, digest, writer.id, writer.body.uid, req.writerSignature),
        ),
      };
    });
  }

  /**
   * Store a signed record (paper §4.1 "write", Algorithms 5 and 6). Returns the signed acknowledgement
   * (when `ack`), after the record is durable. Throws ProtocolError on refusal.
   */
  private async store(rec: SignedRecord, ack: boolean): Promise<Uint8Array | undefined> {
    if (rec.t === 0n) throw new ProtocolError('invalidTimestamp', 'timestamp 0 is reserved');
    if (this.graph.isRevoked(rec.writer.id)) throw new ProtocolError('revoked', 'writer is revoked');
    await this.refuseIdentityConflict(rec.writer);
    // The writer's signature is covered by the collective signature checked below (verify.ts verifyRecord).
    if (!verifySelfSignature(rec.writer))
      throw new ProtocolError('badCertificate', 'writer certificate does not verify');
    const digest = valueDigest(rec.v);
    const signAck = () => (ack ? sign(this.deps.key, ackStatement(rec.x, rec.t, digest)) : undefined);
    return this.locks.run(toHex(rec.x), async () => {
      const storage = this.deps.storage;
      const sameRaw = await storage.get('record', recordKey(rec.x, rec.t));
      if (sameRaw !== undefined) {
        const same = decodeRecord(sameRaw);
        if (bytesEqual(valueDigest(same.v), digest)) return signAck();
        // Algorithm 5, before any threshold: every key that validly signed both values is provably guilty,
        // even when the second collective signature is insufficient.
        const proofs = equivocationProofs(this.graph, same, rec);
        await this.revoke(proofs);
        throw new ProtocolError(
          'equivocation',
          `conflicting value at this timestamp; ${proofs.length} signer(s) revoked`,
          rec.t,
        );
      }
      // A refused record may still carry valid member signatures: keep it as evidence so that when the
      // conflicting record for the same (x, t) arrives later (write, write-back, gossip) the double
      // signers are caught even though the refused one never counted.
      const evidenceKey = `${toHex(rec.x)}/${rec.t}`;
      const evidence = this.evidence.get(evidenceKey);
      if (evidence !== undefined && !bytesEqual(valueDigest(evidence.v), digest)) {
        await this.revoke(equivocationProofs(this.graph, evidence, rec));
      }
      if (this.graph.isRevoked(rec.writer.id)) throw new ProtocolError('revoked', 'writer is revoked');
      const qs = this.quorums.get();
      if (!checkCollectiveSignature(qs, this.graph, rec, digest)) {
        this.keepEvidence(evidenceKey, rec);
        // Sent straight by a writer (not gossiped, so it is forwarded once): pass it on to the nodes at the
        // head of x's preference order, which hold the sufficient record if one exists, so that an
        // equivocating writer that split its records between KV nodes meets both at one of them.
        if (ack && rec.signatures.some((s) => qs.cliqueOf(s.signer) !== undefined)) this.enqueueGossip(rec);
        throw new ProtocolError(
          'insufficientSignatures',
          'collective signature is not sufficient for every quorum clique',
        );
      }
      const prefix = recordPrefix(rec.x);
      const latestRaw = await storage.scan('record', { prefix, reverse: true, limit: 1 });
      if (latestRaw.length > 0) {
        // Stored records were verified before they were stored: their headers are all this needs. This is
        // the only place records are stored, and each one is stored only if its owner is the owner of the
        // records already there, so all versions of x share one owner: the latest names it.
        const latest = recordHeader(latestRaw[0]![1]);
        if (latest.t === SEALED_TIMESTAMP) throw new ProtocolError('sealed', 'variable is sealed', latest.t);
        if (latest.writerUid !== rec.writer.body.uid)
          throw new ProtocolError('permissionDenied', 'variable is owned by another UID');
        if (rec.t !== SEALED_TIMESTAMP && rec.t > latest.t && rec.t - latest.t > LIMITS.timestampStepMax) {
          throw new ProtocolError('timestampTooFar', 'timestamp step too large', latest.t);
        }
      } else if (rec.t !== SEALED_TIMESTAMP && rec.t > LIMITS.timestampStepMax) {
        throw new ProtocolError('timestampTooFar', 'timestamp step too large', 0n);
      }
      await storage.write([{ ns: 'record', key: recordKey(rec.x, rec.t), value: recordEncoding(rec) }]);
      this.stats.stored++;
      // Writers and readers send x to the first q nodes of its preference order: a node among them that
      // stored it can assume the others were sent it too. A node outside them (the writer failed over, or
      // wrote back there) passes it on, so the preferred nodes are repaired.
      if (!this.preferredFor(rec.x)) this.enqueueGossip(rec);
      return signAck();
    });
  }

  /** A writer key presenting another body than the one this node knows for it is revoked (identity equivocation). */
  private async refuseIdentityConflict(cert: Certificate): Promise<void> {
    const proof = identityConflict(this.graph, cert);
    if (proof === undefined) return;
    await this.revoke([proof]);
    throw new ProtocolError('revoked', 'writer key presented two conflicting certificates; revoked');
  }

  private keepEvidence(key: string, rec: SignedRecord): void {
    if (rec.signatures.length === 0) return;
    setBounded(this.evidence, key, rec, EVIDENCE_MAX);
  }

  private enqueueGossip(rec: SignedRecord): void {
    this.gossipRecords.push(rec);
    if (this.gossipRecords.length > this.options.gossipQueueMax) this.gossipRecords.shift();
  }

  /** Join (paper §4.2, Algorithm 7 server side): verify and add the certificate, return this node's graph. */
  private async handleJoin(
    from: NodeId | null,
    cert: Certificate,
    presence: { id: NodeId; seq: bigint; present: boolean; signature: Uint8Array },
  ): Promise<Response> {
    if (from !== cert.id || presence.id !== cert.id || !presence.present) {
      throw new ProtocolError('permissionDenied', 'a node can only join with its own certificate');
    }
    const result = this.graph.addCertificate(cert);
    if (result.proof !== undefined) {
      await this.revoke([result.proof]);
      throw new ProtocolError('revoked', 'conflicting certificates for this key');
    }
    if (!result.accepted)
      throw new ProtocolError('badCertificate', `certificate refused: ${result.rejection ?? ''}`);
    this.graph.applyPresence(presence);
    await persistGraph(this.deps.storage, this.graph);
    return this.graphResponse();
  }

  private graphResponse(): Response {
    return {
      kind: 'join',
      certificates: this.graph.certificates().slice(0, LIMITS.certificatesPerMessageMax),
      presences: this.graph.presences().slice(0, LIMITS.certificatesPerMessageMax),
      proofs: this.graph.revocations().slice(0, LIMITS.proofsPerMessageMax),
    };
  }

  private async handleGossip(
    records: readonly SignedRecord[],
    proofs: readonly RevocationProof[],
  ): Promise<void> {
    await this.acceptProofs(proofs);
    for (const rec of records) {
      try {
        await this.store(rec, false);
      } catch (e) {
        if (!(e instanceof ProtocolError)) throw e;
      }
    }
  }

  /** Verifies and applies revocation proofs received from others; returns how many were new. */
  async acceptProofs(proofs: readonly RevocationProof[]): Promise<number> {
    const fresh = proofs.filter((p) => !this.graph.isRevoked(accusedOf(p)) && verifyRevocationProof(p));
    return this.revoke(fresh);
  }

  /** Revokes the accused of verified proofs, persists, and queues the proofs for propagation. */
  private async revoke(proofs: readonly RevocationProof[]): Promise<number> {
    const applied: RevocationProof[] = [];
    for (const p of proofs) {
      if (this.graph.revoke(p)) {
        applied.push(p);
        this.stats.revocations++;
        this.deps.onRevoke?.(accusedOf(p), p);
      }
    }
    if (applied.length > 0) {
      await this.deps.storage.write(graphOps(this.graph, [], applied));
      this.gossipProofs.push(...applied);
      if (this.gossipProofs.length > LIMITS.proofsPerMessageMax)
        this.gossipProofs.splice(0, this.gossipProofs.length - LIMITS.proofsPerMessageMax);
    }
    return applied.length;
  }

  /**
   * One gossip round (payment note §2.1): each queued record goes to the KV nodes at the head of its
   * variable's preference order (quorum-system.ts preferenceOrder: where writers store it and readers look
   * first; at most `gossipFanout`), so a node that missed a write is repaired without every KV node
   * verifying every record; queued revocation proofs go to every known server. Best effort: safety never
   * depends on it.
   */
  async gossipRound(signal?: AbortSignal): Promise<void> {
    if (this.gossipRecords.length === 0 && this.gossipProofs.length === 0) return;
    const records = this.gossipRecords.splice(0, LIMITS.recordsPerGossipMax);
    const proofs = this.gossipProofs.splice(0, LIMITS.proofsPerMessageMax);
    const qs = this.quorums.get();
    const servers = this.graph
      .certificates()
      .filter((c) => c.id !== this.id && c.body.address !== '' && this.graph.isEligible(c.id));
    const kvPeers = new Map(servers.filter((c) => qs.cliqueOf(c.id) === undefined).map((c) => [c.id, c]));
    const sends: Array<Promise<void>> = [];
    const send = (peer: Certificate, payload: Uint8Array) => {
      this.stats.gossipSent++;
      sends.push(
        withDeadline(this.deps.clock, this.options.gossipTimeoutMs, signal, (s) =>
          this.deps.transport.request(peer.id, peer.body.address, payload, s),
        ).then(
          () => undefined,
          () => undefined,
        ),
      );
    };
    if (records.length > 0) {
      const kvSet = this.kvSet();
      const targets = Math.min(this.options.gossipFanout, kvQuorumSize(kvSet.length).q);
      const batches = new Map<NodeId, SignedRecord[]>();
      for (const rec of records) {
        for (const id of preferenceOrder(kvSet, rec.x).slice(0, targets)) {
          if (id === this.id || !kvPeers.has(id)) continue;
          const batch = batches.get(id) ?? [];
          batch.push(rec);
          batches.set(id, batch);
        }
      }
      for (const [id, batch] of batches)
        send(kvPeers.get(id)!, encodeRequest({ kind: 'gossip', records: batch, proofs: [] }));
    }
    if (proofs.length > 0) {
      const payload = encodeRequest({ kind: 'gossip', records: [], proofs });
      for (const peer of servers) send(peer, payload);
    }
    await Promise.all(sends);
  }

  /** The KV set as writers see it: the eligible known servers outside every clique, this node included. */
  private kvSet(): NodeId[] {
    // Recomputed only when the graph changes: store() asks on every record.
    if (this.kvSetCache?.version === this.graph.version) return this.kvSetCache.ids;
    const qs = this.quorums.get();
    const ids = this.graph
      .certificates()
      .filter(
        (c) =>
          c.id !== this.id &&
          c.body.address !== '' &&
          this.graph.isEligible(c.id) &&
          qs.cliqueOf(c.id) === undefined,
      )
      .map((c) => c.id);
    if (qs.cliqueOf(this.id) === undefined) ids.push(this.id);
    this.kvSetCache = { version: this.graph.version, ids };
    return ids;
  }

  /** Whether this node is among the first q of x's preference order. */
  private preferredFor(x: Uint8Array): boolean {
    const kvSet = this.kvSet();
    return preferenceOrder(kvSet, x).slice(0, kvQuorumSize(kvSet.length).q).includes(this.id);
  }

  /** Stored versions of x, newest first (tests and tools). */
  async versions(x: Uint8Array, limit = 16): Promise<SignedRecord[]> {
    const rows = await this.deps.storage.scan('record', { prefix: recordPrefix(x), reverse: true, limit });
    return rows.map(([, v]) => decodeRecord(v));
  }
}
