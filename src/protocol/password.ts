/**
 * The server side of threshold password authentication (paper §3.3 TPA, §4.3 Register, Algorithm 8;
 * docs/PROTOCOL.md §Password; the cryptography is src/crypto/tpa.ts).
 *
 * A clique member keeps, per UID and per password-protected variable, the public credential and its own
 * share of the OPRF key. It answers evaluations (each with a fresh single-use nonce bound to the requesting
 * key), verifies proofs (a signature by the credential's authentication key over the credential, the
 * requesting key, the operation and this node's nonce), certifies new keys of a UID only with such a proof
 * (or, the first time, as the UID's enrolment), and throttles evaluations per UID/variable with growing,
 * capped delays that a valid proof resets. Any node issues challenge nonces for reads of protected values.
 */
import { ByteReader, ByteWriter, bytesEqual, toHex, utf8 } from '../codec/bytes.js';
import type { Clock } from '../env/clock.js';
import type { Random } from '../env/random.js';
import { sha256 } from '../crypto/hash.js';
import { verify, type SigningKey } from '../crypto/ed25519.js';
import {
  credentialId,
  decodeScalar,
  encodeScalar,
  evaluateShare,
  NONCE_BYTES,
  proofStatement,
  readCredential,
  TpaError,
  verifyShare,
  writeCredential,
  type Credential,
  type CredentialGroup,
  type CredentialScope,
  type PasswordProof,
  type ProofOperation,
} from '../crypto/tpa.js';
import { LIMITS } from '../limits.js';
import type { CliqueQuorum } from '../quorum/quorum-system.js';
import type { Namespace, Storage, StorageOp } from '../storage/storage.js';
import { bodyStatement, certify, type Certificate, type NodeId } from '../trust/certificate.js';
import type { TrustGraph } from '../trust/graph.js';
import { ProtocolError } from './errors.js';
import { KeyedMutex } from './keyed-mutex.js';

export interface PasswordOptions {
  /** Evaluations per UID/variable before delays start (a user mistyping a few times is not slowed). */
  readonly freeAttempts: number;
  /** First delay after the free attempts; it doubles with every further unconfirmed evaluation. */
  readonly baseDelayMs: number;
  /** The delay never exceeds this: an attacker's burst slows the owner down but never locks them out. */
  readonly maxDelayMs: number;
  /** Unconfirmed attempts are forgotten after this long without any. */
  readonly forgetAfterMs: number;
  /** Lifetime of an evaluation or challenge nonce. */
  readonly nonceTtlMs: number;
  /** Outstanding nonces kept (beyond it new sessions are refused with `busy`). */
  readonly noncesMax: number;
  /** UIDs/variables whose attempts are tracked. */
  readonly throttleEntriesMax: number;
  /** Shares of roaming values received and not yet signed. */
  readonly pendingSharesMax: number;
}

export const DEFAULT_PASSWORD_OPTIONS: PasswordOptions = {
  freeAttempts: 5,
  baseDelayMs: 1000,
  maxDelayMs: 60_000,
  forgetAfterMs: 15 * 60_000,
  nonceTtlMs: 60_000,
  noncesMax: 65_536,
  throttleEntriesMax: 65_536,
  pendingSharesMax: 4096,
};

/** Password counters exposed as metrics. */
export interface PasswordStats {
  evaluations: number;
  throttled: number;
  proofsAccepted: number;
  proofsRejected: number;
  enrolments: number;
  registrations: number;
}

/** A member's stored part of a password set-up. */
interface StoredShare {
  readonly credential: Credential;
  readonly index: number;
  readonly share: bigint;
}

interface Session {
  readonly requester: NodeId;
  /** The evaluation this nonce answers (undefined for a bare challenge). */
  readonly evaluated:
    | { readonly scope: CredentialScope; readonly name: Uint8Array; readonly credential: Uint8Array }
    | undefined;
  readonly expiresAt: number;
}

/** The throttling key of a UID or variable. */
function attemptsKey(scope: CredentialScope, name: Uint8Array): string {
  return `${scope}/${toHex(name)}`;
}

interface Attempts {
  failures: number;
  lastAt: number;
}

/** Magic prefix of a roaming-encrypted value (docs/PROTOCOL.md §Password: the value format). */
export const ROAMING_MAGIC = utf8('bftkv/roaming/v1\u0000');

/** A roaming-encrypted value: the credential of its fresh password key, the AES-GCM nonce and ciphertext. */
export interface RoamingEnvelope {
  readonly credential: Credential;
  readonly nonce: Uint8Array;
  readonly ciphertext: Uint8Array;
}

export function encodeEnvelope(e: RoamingEnvelope): Uint8Array {
  const w = new ByteWriter().raw(ROAMING_MAGIC);
  writeCredential(w, e.credential);
  return w.raw(e.nonce).bytes(e.ciphertext).finish();
}

/** Whether v claims to be a roaming envelope. */
export function isEnvelope(v: Uint8Array): boolean {
  return v.length >= ROAMING_MAGIC.length && bytesEqual(v.subarray(0, ROAMING_MAGIC.length), ROAMING_MAGIC);
}

/** Decodes an envelope; throws CodecError on anything malformed. */
export function decodeEnvelope(v: Uint8Array): RoamingEnvelope {
  const r = new ByteReader(v.subarray(ROAMING_MAGIC.length));
  const credential = readCredential(r, LIMITS.keyBytesMax);
  const nonce = r.raw(12, 'envelope.nonce');
  const ciphertext = r.bytes(LIMITS.valueBytesMax, 'envelope.ciphertext');
  r.finish('envelope');
  return { credential, nonce, ciphertext };
}

function encodeStored(s: StoredShare): Uint8Array {
  const w = new ByteWriter();
  writeCredential(w, s.credential);
  return w.u16(s.index).raw(encodeScalar(s.share)).finish();
}

function decodeStored(b: Uint8Array): StoredShare {
  const r = new ByteReader(b);
  const credential = readCredential(r, LIMITS.keyBytesMax);
  const index = r.u16('stored.index');
  const share = decodeScalar(r.raw(32, 'stored.share'), 'stored.share');
  r.finish('stored');
  return { credential, index, share };
}

const NS: Namespace = 'password';

function storeKey(scope: CredentialScope, name: Uint8Array): Uint8Array {
  return new ByteWriter().string(scope).raw(name).finish();
}

/** The key of the marker "this UID owns variables here" (enrolment must not take over such a UID). */
export function ownerKey(uid: string): Uint8Array {
  return new ByteWriter().string('owner').raw(utf8(uid)).finish();
}

export interface PasswordDeps {
  readonly id: NodeId;
  readonly key: SigningKey;
  readonly storage: Storage;
  readonly clock: Clock;
  readonly random: Random;
  readonly graph: TrustGraph;
  /** This node's quorum clique as it sees it now (undefined when it is no signer). */
  readonly clique: () => CliqueQuorum | undefined;
  readonly options?: Partial<PasswordOptions>;
}

export class PasswordService {
  readonly options: PasswordOptions;
  readonly stats: PasswordStats = {
    evaluations: 0,
    throttled: 0,
    proofsAccepted: 0,
    proofsRejected: 0,
    enrolments: 0,
    registrations: 0,
  };
  private readonly sessions = new Map<string, Session>();
  private readonly attempts = new Map<string, Attempts>();
  private readonly pending = new Map<string, StoredShare & { requester: NodeId; expiresAt: number }>();
  private readonly locks = new KeyedMutex();

  constructor(private readonly deps: PasswordDeps) {
    this.options = { ...DEFAULT_PASSWORD_OPTIONS, ...deps.options };
  }

  /** Unconfirmed attempts over every tracked UID/variable (a gauge). */
  pendingFailures(): number {
    let n = 0;
    for (const a of this.attempts.values()) n += a.failures;
    return n;
  }

  private now(): number {
    return this.deps.clock.now();
  }

  private group(credential: Credential): { group: CredentialGroup; index: number } | undefined {
    for (const group of credential.groups) {
      const pos = group.members.indexOf(this.deps.id);
      if (pos >= 0) return { group, index: pos + 1 };
    }
    return undefined;
  }

  private async stored(scope: CredentialScope, name: Uint8Array): Promise<StoredShare | undefined> {
    const raw = await this.deps.storage.get(NS, storeKey(scope, name));
    return raw === undefined ? undefined : decodeStored(raw);
  }

  /** The storage op that keeps a share (the caller commits it with whatever else makes it count). */
  shareOp(scope: CredentialScope, name: Uint8Array, s: StoredShare): StorageOp {
    return { ns: NS, key: storeKey(scope, name), value: encodeStored(s) };
  }

  // ------------------------------------------------------------------ throttling and nonces

  private throttle(key: string): void {
    const now = this.now();
    let a = this.attempts.get(key);
    if (a !== undefined && now - a.lastAt > this.options.forgetAfterMs) {
      this.attempts.delete(key);
      a = undefined;
    }
    if (a === undefined) {
      if (this.attempts.size >= this.options.throttleEntriesMax) {
        // Evict an entry with nothing to remember; with none, fail closed rather than forget failures.
        let evicted = false;
        for (const [k, v] of this.attempts) {
          if (v.failures === 0 || now - v.lastAt > this.options.forgetAfterMs) {
            this.attempts.delete(k);
            evicted = true;
            break;
          }
        }
        if (!evicted) throw new ProtocolError('busy', 'too many password attempts tracked');
      }
      a = { failures: 0, lastAt: now };
      this.attempts.set(key, a);
    }
    if (a.failures >= this.options.freeAttempts) {
      const exponent = Math.min(a.failures - this.options.freeAttempts, 30);
      const delay = Math.min(this.options.baseDelayMs * 2 ** exponent, this.options.maxDelayMs);
      const wait = a.lastAt + delay - now;
      if (wait > 0) {
        this.stats.throttled++;
        throw new ProtocolError(
          'throttled',
          `too many password attempts: retry in ${Math.ceil(wait)} ms`,
          BigInt(Math.ceil(wait)),
        );
      }
    }
    a.failures++;
    a.lastAt = now;
  }

  private newNonce(session: Session): Uint8Array {
    const now = this.now();
    if (this.sessions.size >= this.options.noncesMax) {
      for (const [k, s] of this.sessions) if (s.expiresAt <= now) this.sessions.delete(k);
      if (this.sessions.size >= this.options.noncesMax)
        throw new ProtocolError('busy', 'too many password sessions open');
    }
    const nonce = this.deps.random.bytes(NONCE_BYTES);
    this.sessions.set(toHex(nonce), session);
    return nonce;
  }

  /** A fresh challenge for `from` (any node; KV nodes use it for protected reads). */
  challenge(from: NodeId | null): Uint8Array {
    if (from === null) throw new ProtocolError('permissionDenied', 'an authenticated peer is required');
    return this.newNonce({
      requester: from,
      evaluated: undefined,
      expiresAt: this.now() + this.options.nonceTtlMs,
    });
  }

  /**
   * Verifies a proof for `operation` under `credential`, sent by `from`, and consumes this node's nonce in
   * it (single use). Throws ProtocolError('authFailed') on any mismatch. A valid proof resets throttling.
   */
  verifyProof(
    from: NodeId | null,
    proof: PasswordProof,
    credential: Credential,
    operation: ProofOperation,
  ): void {
    const fail = (why: string): never => {
      this.stats.proofsRejected++;
      throw new ProtocolError('authFailed', `password proof refused: ${why}`);
    };
    if (from === null || proof.requester !== from) fail('made for another key');
    const id = credentialId(credential);
    if (!bytesEqual(proof.credentialId, id)) fail('made for another password set-up');
    if (!sameOperation(proof.operation, operation)) fail('made for another operation');
    const mine = proof.nonces.find((n) => n.server === this.deps.id);
    if (mine === undefined) fail('carries no nonce of this node');
    const key = toHex(mine!.nonce);
    const session = this.sessions.get(key);
    if (session === undefined || session.expiresAt <= this.now()) fail('nonce unknown, used or expired');
    if (session!.requester !== from) fail('nonce issued to another key');
    const evaluated = session!.evaluated;
    if (evaluated !== undefined && !bytesEqual(evaluated.credential, id))
      fail('nonce issued for another password set-up');
    if (!verify(credential.authKey, proofStatement(proof), proof.signature))
      fail('signature does not verify');
    this.sessions.delete(key);
    if (evaluated !== undefined) this.attempts.delete(attemptsKey(evaluated.scope, evaluated.name));
    this.stats.proofsAccepted++;
  }

  // ------------------------------------------------------------------ requests

  /** passwordEval: this member's OPRF answer for the UID or variable, with a nonce bound to `from`. */
  async evaluate(
    from: NodeId | null,
    scope: CredentialScope,
    name: Uint8Array,
    blinded: Uint8Array,
  ): Promise<{ credential: Credential; evaluated: Uint8Array; proof: Uint8Array; nonce: Uint8Array }> {
    if (from === null) throw new ProtocolError('permissionDenied', 'an authenticated peer is required');
    const s = await this.stored(scope, name);
    if (s === undefined) throw new ProtocolError('noCredential', `no password is set up for this ${scope}`);
    this.throttle(attemptsKey(scope, name));
    const mine = this.group(s.credential);
    if (mine === undefined) throw new ProtocolError('noCredential', 'this node holds no share');
    let evaluation;
    try {
      evaluation = evaluateShare(mine.group, s.index, s.share, blinded, this.deps.random);
    } catch (e) {
      if (e instanceof TpaError) throw new ProtocolError('malformed', e.message);
      throw e;
    }
    this.stats.evaluations++;
    const nonce = this.newNonce({
      requester: from,
      evaluated: { scope, name, credential: credentialId(s.credential) },
      expiresAt: this.now() + this.options.nonceTtlMs,
    });
    return { credential: s.credential, evaluated: evaluation.evaluated, proof: evaluation.proof, nonce };
  }

  /**
   * passwordConfirm: a proof shown to the members that evaluated, after a successful authentication for
   * another operation (a protected read): it uses their nonces and ends their throttling of the name.
   */
  async confirm(from: NodeId | null, proof: PasswordProof): Promise<void> {
    const mine = proof.nonces.find((n) => n.server === this.deps.id);
    const session = mine === undefined ? undefined : this.sessions.get(toHex(mine.nonce));
    const evaluated = session?.evaluated;
    if (evaluated === undefined || proof.operation.kind === 'register') {
      this.stats.proofsRejected++;
      throw new ProtocolError('authFailed', 'password proof refused: nonce unknown, used or expired');
    }
    const s = await this.stored(evaluated.scope, evaluated.name);
    if (s === undefined)
      throw new ProtocolError('noCredential', `no password is set up for this ${evaluated.scope}`);
    this.verifyProof(from, proof, s.credential, proof.operation);
  }

  /**
   * register (paper §4.3, Algorithm 8): certify `cert` for its UID. The first time a UID is seen this is
   * its enrolment (the credential and this member's share, checked against the commitments); afterwards
   * only with a password proof bound to this certificate (key recovery, another device).
   */
  async register(
    from: NodeId | null,
    cert: Certificate,
    enrol: { credential: Credential; share: Uint8Array } | undefined,
    proof: PasswordProof | undefined,
  ): Promise<Uint8Array> {
    if (from === null || from !== cert.id)
      throw new ProtocolError('permissionDenied', 'a key can only register itself');
    const clique = this.deps.clique();
    if (clique === undefined) throw new ProtocolError('notASigner', 'this node is in no quorum clique');
    const uid = cert.body.uid;
    const name = utf8(uid);
    return this.locks.run(uid, async () => {
      const existing = await this.stored('uid', name);
      if (existing !== undefined) {
        const sameEnrolment =
          enrol !== undefined &&
          bytesEqual(credentialId(enrol.credential), credentialId(existing.credential)) &&
          safeScalar(enrol.share) === existing.share;
        if (!sameEnrolment) {
          if (proof === undefined)
            throw new ProtocolError('authRequired', 'this UID has a password: a proof is required');
          this.verifyProof(from, proof, existing.credential, registerOperation(cert));
        }
      } else {
        if (enrol === undefined)
          throw new ProtocolError('noCredential', 'this UID is not enrolled: send its password set-up');
        const c = enrol.credential;
        if (c.scope !== 'uid' || !bytesEqual(c.name, name) || c.version !== 1n)
          throw new ProtocolError('malformed', 'the set-up is not for this UID');
        const mine = this.group(c);
        if (mine === undefined)
          throw new ProtocolError('malformed', 'the set-up names no share for this node');
        const members = new Set(mine.group.members);
        if (members.size !== clique.members.length || clique.members.some((m) => !members.has(m)))
          throw new ProtocolError('malformed', "the set-up's group is not this node's quorum clique");
        const share = safeScalar(enrol.share);
        if (share === undefined || !verifyShare(mine.group, mine.index, share))
          throw new ProtocolError('badSignature', 'the share does not match the commitments');
        if (this.uidTaken(uid) || (await this.deps.storage.get(NS, ownerKey(uid))) !== undefined)
          throw new ProtocolError('permissionDenied', 'this UID is already in use here');
        await this.deps.storage.write([
          this.shareOp('uid', name, { credential: c, index: mine.index, share }),
        ]);
        this.stats.enrolments++;
      }
      this.stats.registrations++;
      return certify(this.deps.key, cert).signature;
    });
  }

  /** A key of this UID that this node certified before (an identity provisioned without a password). */
  private uidTaken(uid: string): boolean {
    return this.deps.graph
      .certificates()
      .some((c) => c.body.uid === uid && c.certifications.some((k) => k.issuer === this.deps.id));
  }

  /** passwordShare: keep this member's share of a roaming value's key until the owner's sign request. */
  share(from: NodeId | null, credential: Credential, share: Uint8Array): void {
    if (from === null) throw new ProtocolError('permissionDenied', 'an authenticated peer is required');
    if (credential.scope !== 'variable') throw new ProtocolError('malformed', 'not a variable set-up');
    const mine = this.group(credential);
    if (mine === undefined) throw new ProtocolError('malformed', 'the set-up names no share for this node');
    const s = safeScalar(share);
    if (s === undefined || !verifyShare(mine.group, mine.index, s))
      throw new ProtocolError('badSignature', 'the share does not match the commitments');
    const now = this.now();
    for (const [k, p] of this.pending) if (p.expiresAt <= now) this.pending.delete(k);
    if (this.pending.size >= this.options.pendingSharesMax)
      throw new ProtocolError('busy', 'too many password shares waiting for their sign request');
    this.pending.set(toHex(credentialId(credential)), {
      credential,
      index: mine.index,
      share: s,
      requester: from,
      expiresAt: now + this.options.nonceTtlMs,
    });
  }

  /**
   * For a sign request of a roaming value: the op that stores this member's share with the signed state,
   * or a refusal when the share never came (a record only counts when its signers can decrypt-enable it).
   */
  signOps(from: NodeId | null, x: Uint8Array, t: bigint, envelope: RoamingEnvelope): StorageOp[] {
    const c = envelope.credential;
    if (c.scope !== 'variable' || !bytesEqual(c.name, x) || c.version !== t)
      throw new ProtocolError('malformed', 'the roaming value is set up for another variable or timestamp');
    const key = toHex(credentialId(c));
    const p = this.pending.get(key);
    if (p === undefined || p.expiresAt <= this.now() || p.requester !== from)
      throw new ProtocolError('noCredential', 'no password share of this value was received');
    return [this.shareOp('variable', x, p)];
  }

  /** Forget a pending share once its signature is out (called after the commit). */
  consumed(envelope: RoamingEnvelope): void {
    this.pending.delete(toHex(credentialId(envelope.credential)));
  }
}

function safeScalar(b: Uint8Array): bigint | undefined {
  try {
    return decodeScalar(b, 'share');
  } catch {
    return undefined;
  }
}

/** The operation a registration proof must name: this exact certificate body. */
export function registerOperation(cert: Certificate): ProofOperation {
  return { kind: 'register', certificateDigest: sha256(bodyStatement(cert.body)) };
}

function sameOperation(a: ProofOperation, b: ProofOperation): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === 'register' && b.kind === 'register')
    return bytesEqual(a.certificateDigest, b.certificateDigest);
  if (a.kind === 'read' && b.kind === 'read') return bytesEqual(a.x, b.x);
  return true;
}
