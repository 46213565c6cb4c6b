/**
 * Threshold password authentication (paper §3.3 "TPA", §4.3; docs/SECURITY.md §Password authentication):
 * the elliptic-curve form of the paper's SRP-with-Shamir scheme, as a threshold OPRF in ristretto255
 * (RFC 9496 group, RFC 9497 OPRF "ristretto255-SHA512" through @noble/curves).
 *
 * - Set-up (client): a fresh OPRF key k per quorum clique, Shamir-shared over the clique's n members with
 *   threshold t = n − b (paper §2.3: a degree t−1 polynomial over Z_ℓ), with Feldman commitments
 *   C_j = a_j·G so every member's share k_i and its public share K_i = k_i·G are checkable by anyone.
 * - Evaluation (server i): on a blinded element M = r·H(input) it answers k_i·M with an RFC 9497 DLEQ proof
 *   against K_i (verifiable responses: a wrong answer names its sender).
 * - Combination (client): t answers per clique give k·M by Lagrange interpolation in the exponent; the
 *   unblinded OPRF outputs of every clique are the input keying material of `rwd`, from which an Ed25519
 *   authentication key and, for roaming encryption, an AES-256-GCM key are derived (HKDF-SHA256).
 *
 * What a server stores is its share and the public credential (commitments and the authentication public
 * key). Fewer than t shares of a clique's key are independent of it, so they, the credential and every
 * transcript give no way to evaluate a password guess offline: each guess needs t servers of every clique.
 */
import { createCipheriv, createDecipheriv, hkdfSync } from 'node:crypto';
import { ristretto255, ristretto255_oprf } from '@noble/curves/ed25519.js';
import { ByteReader, ByteWriter, bytesEqual, CodecError, utf8, writeList } from '../codec/bytes.js';
import type { Random } from '../env/random.js';
import { sha256 } from './hash.js';
import { lagrangeCoefficients } from './threshold/gjkr-vss.js';
import { SEED_BYTES, signingKeyFromSeed, type SigningKey } from './ed25519.js';

const Point = ristretto255.Point;
const Fn = ristretto255.Point.Fn;
type RistrettoPoint = InstanceType<typeof Point>;

export const POINT_BYTES = 32;
export const SCALAR_BYTES = 32;
/** RFC 9497 DLEQ proof: two scalars. */
export const PROOF_BYTES = 64;
/** Members of one clique a credential can name (a clique bigger than this cannot hold a password). */
export const GROUP_MEMBERS_MAX = 64;
/** Cliques one credential spans. */
export const GROUPS_MAX = 16;

const INPUT_TAG = utf8('bftkv/tpa/input/v1');
const CORE_TAG = utf8('bftkv/tpa/credential/v1');
const RWD_INFO = utf8('bftkv/tpa/rwd/v1');
const AUTH_INFO = utf8('bftkv/tpa/auth-key/v1');
const ENC_INFO = utf8('bftkv/tpa/enc-key/v1');
const PROOF_TAG = utf8('bftkv/tpa/proof/v1');
const SEAL_TAG = utf8('bftkv/tpa/roaming/v1');

/** What a password protects: a UID (registration, recovery, devices) or one variable (roaming encryption). */
export type CredentialScope = 'uid' | 'variable';

/** One clique's sharing of its OPRF key: members in share order (member i holds f(i+1)). */
export interface CredentialGroup {
  readonly members: readonly string[];
  readonly threshold: number;
  /** Feldman commitments C_0..C_{t−1} of the polynomial, encoded points. */
  readonly commitments: readonly Uint8Array[];
}

/** The public part of a password set-up, stored by every member (and, for variables, in the record). */
export interface Credential {
  readonly scope: CredentialScope;
  readonly name: Uint8Array;
  /** Distinguishes set-ups of one name (a variable's timestamp; 1 for a UID). */
  readonly version: bigint;
  readonly groups: readonly CredentialGroup[];
  /** The Ed25519 public key derived from the password: proofs are signatures by it. */
  readonly authKey: Uint8Array;
}

/** A typed failure of the TPA cryptography (bad input or bad answers); `culprits` name servers. */
export class TpaError extends Error {
  override readonly name = 'TpaError';
  constructor(
    message: string,
    readonly culprits: readonly string[] = [],
  ) {
    super(message);
  }
}

/** t = n − b with b = ⌊(n−1)/3⌋ (paper §3.3: the clique answers with all its honest members). */
export function passwordThreshold(n: number): number {
  return n - Math.floor((n - 1) / 3);
}

function littleEndian(b: Uint8Array): bigint {
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
  return v;
}

function scalarOf(random: Random): bigint {
  // 64 random bytes reduced mod ℓ: statistically uniform (bias < 2^-250), never zero in practice.
  for (;;) {
    const s = Fn.create(littleEndian(random.bytes(64)));
    if (s !== 0n) return s;
  }
}

function rngOf(random: Random): (n?: number) => Uint8Array {
  return (n = 32) => random.bytes(n);
}

function decodePoint(b: Uint8Array, field: string): RistrettoPoint {
  if (b.length !== POINT_BYTES)
    throw new TpaError(`${field}: expected ${POINT_BYTES} bytes, got ${b.length}`);
  let p: RistrettoPoint;
  try {
    p = Point.fromBytes(b);
  } catch {
    throw new TpaError(`${field}: not a ristretto255 encoding`);
  }
  if (p.equals(Point.ZERO)) throw new TpaError(`${field}: the identity element`);
  return p;
}

/** Encodes a scalar (little-endian, RFC 9496). */
export function encodeScalar(s: bigint): Uint8Array {
  return Fn.toBytes(s);
}

/** Decodes a canonical non-zero scalar. */
export function decodeScalar(b: Uint8Array, field: string): bigint {
  if (b.length !== SCALAR_BYTES)
    throw new TpaError(`${field}: expected ${SCALAR_BYTES} bytes, got ${b.length}`);
  const v = littleEndian(b);
  if (v === 0n || v >= Fn.ORDER) throw new TpaError(`${field}: not a canonical non-zero scalar`);
  return v;
}

/** K_i = Σ_j C_j · i^j: member i's public share from the Feldman commitments (1-based i). */
export function publicShare(group: CredentialGroup, index: number): Uint8Array {
  let acc = Point.ZERO;
  let power = 1n;
  for (const [j, c] of group.commitments.entries()) {
    acc = acc.add(decodePoint(c, `commitments[${j}]`).multiply(power));
    power = Fn.mul(power, BigInt(index));
  }
  return acc.toBytes();
}

/** Whether `share` is member `index`'s share under the group's commitments (Feldman check). */
export function verifyShare(group: CredentialGroup, index: number, share: bigint): boolean {
  if (share === 0n || share >= Fn.ORDER) return false;
  return bytesEqual(Point.BASE.multiply(share).toBytes(), publicShare(group, index));
}

/** The OPRF input for a password in its context (scope and name bind a guess to one target). */
export function oprfInput(scope: CredentialScope, name: Uint8Array, password: string): Uint8Array {
  return new ByteWriter().raw(INPUT_TAG).string(scope).bytes(name).bytes(utf8(password)).finish();
}

function writeGroup(w: ByteWriter, g: CredentialGroup): void {
  writeList(w, g.members, (w2, m) => w2.string(m));
  w.u16(g.threshold);
  writeList(w, g.commitments, (w2, c) => w2.raw(c));
}

function writeCore(w: ByteWriter, c: Omit<Credential, 'authKey'>): void {
  w.string(c.scope).bytes(c.name).u64(c.version);
  writeList(w, c.groups, writeGroup);
}

/** The digest of everything but the authentication key: the salt of the password-derived keys. */
export function credentialCoreId(c: Omit<Credential, 'authKey'>): Uint8Array {
  const w = new ByteWriter().raw(CORE_TAG);
  writeCore(w, c);
  return sha256(w.finish());
}

/** Canonical encoding of a credential. */
export function writeCredential(w: ByteWriter, c: Credential): void {
  writeCore(w, c);
  w.raw(c.authKey);
}

/** Bounded decoding with the structural checks (threshold, sizes, member IDs); points are checked on use. */
export function readCredential(r: ByteReader, nameBytesMax: number): Credential {
  const scope = r.string(16, 'credential.scope');
  if (scope !== 'uid' && scope !== 'variable') throw new CodecError('credential.scope', `unknown ${scope}`);
  const name = r.bytes(nameBytesMax, 'credential.name');
  if (name.length === 0) throw new CodecError('credential.name', 'empty');
  const version = r.u64('credential.version');
  const groups = r.list(GROUPS_MAX, 'credential.groups', (rg) => {
    const members = rg.list(GROUP_MEMBERS_MAX, 'credential.members', (rm) => {
      const id = rm.string(32, 'credential.member');
      if (!/^[0-9a-f]{32}$/.test(id)) throw new CodecError('credential.member', 'not a node id');
      return id;
    });
    if (new Set(members).size !== members.length || members.length < 1)
      throw new CodecError('credential.members', 'empty or duplicate member');
    const threshold = rg.u16('credential.threshold');
    if (threshold !== passwordThreshold(members.length))
      throw new CodecError('credential.threshold', `must be n − b = ${passwordThreshold(members.length)}`);
    const commitments = rg.list(GROUP_MEMBERS_MAX, 'credential.commitments', (rc) =>
      rc.raw(POINT_BYTES, 'credential.commitment'),
    );
    if (commitments.length !== threshold)
      throw new CodecError('credential.commitments', `expected ${threshold}, got ${commitments.length}`);
    return { members, threshold, commitments };
  });
  if (groups.length === 0) throw new CodecError('credential.groups', 'empty');
  const authKey = r.raw(32, 'credential.authKey');
  return { scope, name, version, groups, authKey };
}

export function encodeCredential(c: Credential): Uint8Array {
  const w = new ByteWriter();
  writeCredential(w, c);
  return w.finish();
}

export function decodeCredential(b: Uint8Array, nameBytesMax: number): Credential {
  const r = new ByteReader(b);
  const c = readCredential(r, nameBytesMax);
  r.finish('credential');
  return c;
}

/** The credential's identifier (hash of its canonical bytes). */
export function credentialId(c: Credential): Uint8Array {
  return sha256(CORE_TAG, encodeCredential(c));
}

/** Keys derived from the OPRF outputs of every clique (HKDF-SHA256, salted with the credential core). */
export interface PasswordKeys {
  readonly auth: SigningKey;
  /** 32-byte AES-256-GCM key for roaming encryption. */
  readonly encryption: Uint8Array;
}

/** The keys derived from the per-clique OPRF outputs (in credential group order) and the core id. */
export function deriveKeys(outputs: readonly Uint8Array[], coreId: Uint8Array): PasswordKeys {
  const ikm = new ByteWriter();
  for (const o of outputs) ikm.bytes(o);
  const rwd = new Uint8Array(hkdfSync('sha256', ikm.finish(), coreId, RWD_INFO, 32));
  const seed = new Uint8Array(hkdfSync('sha256', rwd, coreId, AUTH_INFO, SEED_BYTES));
  const encryption = new Uint8Array(hkdfSync('sha256', rwd, coreId, ENC_INFO, 32));
  return { auth: signingKeyFromSeed(seed), encryption };
}

/** One clique to share a key over: its member IDs in share order. */
export interface GroupSpec {
  readonly members: readonly string[];
}

/** The result of a set-up: the credential, each member's share, and the keys it derives. */
export interface PasswordSetup {
  readonly credential: Credential;
  /** shares[g].get(member) = that member's share of clique g's key (index = position + 1). */
  readonly shares: ReadonlyArray<ReadonlyMap<string, { index: number; share: bigint }>>;
  readonly keys: PasswordKeys;
}

/**
 * Client set-up (paper §3.3 "To set up the shares"): fresh OPRF keys, Shamir shares with t = n − b per
 * clique, Feldman commitments, and the derived keys (the client holds every k here, so it evaluates the
 * OPRF itself; the keys are forgotten when the set-up is dropped).
 */
export function setupPassword(
  scope: CredentialScope,
  name: Uint8Array,
  version: bigint,
  groups: readonly GroupSpec[],
  password: string,
  random: Random,
): PasswordSetup {
  if (groups.length === 0 || groups.length > GROUPS_MAX)
    throw new TpaError(`groups: expected 1..${GROUPS_MAX}, got ${groups.length}`);
  const built: CredentialGroup[] = [];
  const shares: Array<Map<string, { index: number; share: bigint }>> = [];
  const outputs: Uint8Array[] = [];
  const input = oprfInput(scope, name, password);
  for (const [gi, g] of groups.entries()) {
    const n = g.members.length;
    if (n < 1 || n > GROUP_MEMBERS_MAX || new Set(g.members).size !== n)
      throw new TpaError(`groups[${gi}]: 1..${GROUP_MEMBERS_MAX} distinct members expected`);
    const t = passwordThreshold(n);
    const coefficients = Array.from({ length: t }, () => scalarOf(random));
    const commitments = coefficients.map((a) => Point.BASE.multiply(a).toBytes());
    const byMember = new Map<string, { index: number; share: bigint }>();
    for (const [pos, member] of g.members.entries()) {
      const x = BigInt(pos + 1);
      let y = 0n;
      for (let j = coefficients.length - 1; j >= 0; j--) y = Fn.add(Fn.mul(y, x), coefficients[j]!);
      byMember.set(member, { index: pos + 1, share: y });
    }
    built.push({ members: [...g.members], threshold: t, commitments });
    shares.push(byMember);
    outputs.push(evaluateDirect(coefficients[0]!, input, random));
  }
  const core = { scope, name, version, groups: built };
  const keys = deriveKeys(outputs, credentialCoreId(core));
  return { credential: { ...core, authKey: keys.auth.publicKey }, shares, keys };
}

/** F(k, input) computed by the holder of k (RFC 9497 Evaluate, through blind/evaluate/finalize). */
export function evaluateDirect(k: bigint, input: Uint8Array, random: Random): Uint8Array {
  const o = ristretto255_oprf.oprf;
  const b = o.blind(input, rngOf(random));
  return o.finalize(input, b.blind, o.blindEvaluate(encodeScalar(k), b.blinded));
}

/** The client's secret state between blinding and combining. */
export interface Blinded {
  readonly input: Uint8Array;
  readonly blind: Uint8Array;
  /** The element sent to the servers. */
  readonly blinded: Uint8Array;
}

/** Blinds the password input (RFC 9497 Blind). */
export function blindPassword(
  scope: CredentialScope,
  name: Uint8Array,
  password: string,
  random: Random,
): Blinded {
  const input = oprfInput(scope, name, password);
  const b = ristretto255_oprf.oprf.blind(input, rngOf(random));
  return { input, blind: b.blind, blinded: b.blinded };
}

/** A member's answer: its evaluation of the blinded element and the DLEQ proof against K_i. */
export interface Evaluation {
  readonly evaluated: Uint8Array;
  readonly proof: Uint8Array;
}

/** Server side: k_i·M with a proof that the same k_i is behind the committed K_i (RFC 9497 §2.2.1). */
export function evaluateShare(
  group: CredentialGroup,
  index: number,
  share: bigint,
  blinded: Uint8Array,
  random: Random,
): Evaluation {
  decodePoint(blinded, 'blinded');
  const r = ristretto255_oprf.voprf.blindEvaluate(
    encodeScalar(share),
    publicShare(group, index),
    blinded,
    rngOf(random),
  );
  return { evaluated: r.evaluated, proof: r.proof };
}

/** Whether member `index`'s evaluation carries a valid proof for `blinded`. */
export function verifyEvaluation(b: Blinded, group: CredentialGroup, index: number, e: Evaluation): boolean {
  try {
    decodePoint(e.evaluated, 'evaluated');
    if (e.proof.length !== PROOF_BYTES) return false;
    ristretto255_oprf.voprf.finalize(
      b.input,
      b.blind,
      e.evaluated,
      b.blinded,
      publicShare(group, index),
      e.proof,
    );
    return true;
  } catch {
    return false;
  }
}

/** The evaluations gathered for one clique of the credential, by member. */
export type GroupAnswers = ReadonlyMap<string, Evaluation>;

function combineGroup(b: Blinded, group: CredentialGroup, members: readonly string[], answers: GroupAnswers) {
  const xs = members.map((m) => group.members.indexOf(m) + 1);
  const lambdas = lagrangeCoefficients({ q: Fn.ORDER }, xs);
  let acc = Point.ZERO;
  for (const [i, m] of members.entries())
    acc = acc.add(
      decodePoint(answers.get(m)!.evaluated, `evaluation of ${m}`).multiply(lambdas.get(xs[i]!)!),
    );
  return ristretto255_oprf.oprf.finalize(b.input, b.blind, acc.toBytes());
}

/** The outcome of combining: the keys, and the members whose answers were proven wrong. */
export interface Combined {
  readonly keys: PasswordKeys;
  readonly culprits: readonly string[];
}

/**
 * Client: combine t answers per clique into the password keys and check them against the credential's
 * authentication key. Optimistic: proofs are only checked when the first t answers per clique do not give
 * the expected key; then every answer is checked, the ones with bad proofs are named, and the valid ones
 * are combined. Throws TpaError('wrong password') when every used answer is proven correct and the key
 * still differs, or TpaError naming culprits when fewer than t valid answers remain in a clique.
 */
export function combineEvaluations(
  credential: Credential,
  b: Blinded,
  answers: readonly GroupAnswers[],
): Combined {
  if (answers.length !== credential.groups.length)
    throw new TpaError(`answers: expected ${credential.groups.length} groups, got ${answers.length}`);
  const coreId = credentialCoreId(credential);
  const attempt = (chosen: ReadonlyArray<readonly string[]>) =>
    deriveKeys(
      credential.groups.map((g, gi) => combineGroup(b, g, chosen[gi]!, answers[gi]!)),
      coreId,
    );
  const usable = credential.groups.map((g, gi) =>
    [...answers[gi]!.keys()].filter((m) => g.members.includes(m)),
  );
  for (const [gi, g] of credential.groups.entries()) {
    if (usable[gi]!.length < g.threshold)
      throw new TpaError(`group ${gi}: ${usable[gi]!.length} answers, ${g.threshold} needed`);
  }
  const first = credential.groups.map((g, gi) => usable[gi]!.slice(0, g.threshold));
  try {
    const keys = attempt(first);
    if (bytesEqual(keys.auth.publicKey, credential.authKey)) return { keys, culprits: [] };
  } catch {
    // A malformed evaluation among the first t: fall through to the verified path.
  }
  const culprits: string[] = [];
  const verified = credential.groups.map((g, gi) =>
    usable[gi]!.filter((m) => {
      const good = verifyEvaluation(b, g, g.members.indexOf(m) + 1, answers[gi]!.get(m)!);
      if (!good) culprits.push(m);
      return good;
    }),
  );
  for (const [gi, g] of credential.groups.entries()) {
    if (verified[gi]!.length < g.threshold)
      throw new TpaError(
        `group ${gi}: ${verified[gi]!.length} verifiable answers, ${g.threshold} needed`,
        culprits,
      );
  }
  const keys = attempt(credential.groups.map((g, gi) => verified[gi]!.slice(0, g.threshold)));
  if (!bytesEqual(keys.auth.publicKey, credential.authKey)) throw new TpaError('wrong password', culprits);
  return { keys, culprits };
}

/** One server's challenge the proof answers. */
export interface ProofNonce {
  readonly server: string;
  readonly nonce: Uint8Array;
}

/** The operation a proof authorises: register a certificate, read a variable, or confirm a session. */
export type ProofOperation =
  | { readonly kind: 'register'; readonly certificateDigest: Uint8Array }
  | { readonly kind: 'read'; readonly x: Uint8Array }
  | { readonly kind: 'confirm' };

/** A proof of password: a signature by the credential's authentication key over its whole context. */
export interface PasswordProof {
  readonly credentialId: Uint8Array;
  readonly requester: string;
  readonly operation: ProofOperation;
  /** Sorted by server, one per server. */
  readonly nonces: readonly ProofNonce[];
  readonly signature: Uint8Array;
}

function writeOperation(w: ByteWriter, op: ProofOperation): void {
  w.string(op.kind);
  if (op.kind === 'register') w.raw(op.certificateDigest);
  else if (op.kind === 'read') w.bytes(op.x);
}

/** The bytes the authentication key signs: credential, requester key, operation, every server nonce. */
export function proofStatement(p: Omit<PasswordProof, 'signature'>): Uint8Array {
  const w = new ByteWriter().raw(PROOF_TAG).raw(p.credentialId).string(p.requester);
  writeOperation(w, p.operation);
  writeList(w, p.nonces, (w2, n) => w2.string(n.server).raw(n.nonce));
  return w.finish();
}

/** Encodes a proof. */
export function writeProof(w: ByteWriter, p: PasswordProof): void {
  w.raw(p.credentialId).string(p.requester);
  writeOperation(w, p.operation);
  writeList(w, p.nonces, (w2, n) => w2.string(n.server).raw(n.nonce));
  w.raw(p.signature);
}

/** Bounded decoding of a proof (the signature is checked by the server against the credential). */
export function readProof(r: ByteReader, keyBytesMax: number): PasswordProof {
  const credentialId = r.raw(32, 'proof.credentialId');
  const requester = r.string(32, 'proof.requester');
  const kind = r.string(16, 'proof.operation');
  let operation: ProofOperation;
  if (kind === 'register') operation = { kind, certificateDigest: r.raw(32, 'proof.certificateDigest') };
  else if (kind === 'read') operation = { kind, x: r.bytes(keyBytesMax, 'proof.x') };
  else if (kind === 'confirm') operation = { kind };
  else throw new CodecError('proof.operation', `unknown ${kind}`);
  let previous = '';
  const nonces = r.list(GROUPS_MAX * GROUP_MEMBERS_MAX + 64, 'proof.nonces', (rn) => {
    const server = rn.string(32, 'proof.server');
    if (server <= previous) throw new CodecError('proof.nonces', 'unsorted or duplicate server');
    previous = server;
    return { server, nonce: rn.raw(NONCE_BYTES, 'proof.nonce') };
  });
  return { credentialId, requester, operation, nonces, signature: r.raw(64, 'proof.signature') };
}

/** Server nonce length. */
export const NONCE_BYTES = 32;

/** Sorts and de-duplicates nonces for a proof. */
export function sortNonces(nonces: readonly ProofNonce[]): ProofNonce[] {
  const byServer = new Map<string, ProofNonce>();
  for (const n of nonces) byServer.set(n.server, n);
  return [...byServer.values()].sort((a, b) => (a.server < b.server ? -1 : a.server > b.server ? 1 : 0));
}

/** Roaming encryption (paper §3.3 "TPA for Data Secrecy"): AES-256-GCM under the fresh set-up's key. */
export function sealValue(
  keys: PasswordKeys,
  credential: Credential,
  plaintext: Uint8Array,
  random: Random,
): { nonce: Uint8Array; ciphertext: Uint8Array } {
  const nonce = random.bytes(12);
  const cipher = createCipheriv('aes-256-gcm', keys.encryption, nonce);
  cipher.setAAD(sealAad(credential));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  return { nonce, ciphertext: new Uint8Array(body) };
}

/** Opens a roaming-encrypted value; throws TpaError when it does not authenticate. */
export function openValue(
  keys: PasswordKeys,
  credential: Credential,
  nonce: Uint8Array,
  ciphertext: Uint8Array,
): Uint8Array {
  if (nonce.length !== 12 || ciphertext.length < 16) throw new TpaError('roaming value: malformed');
  try {
    const decipher = createDecipheriv('aes-256-gcm', keys.encryption, nonce);
    decipher.setAAD(sealAad(credential));
    decipher.setAuthTag(ciphertext.subarray(ciphertext.length - 16));
    return new Uint8Array(
      Buffer.concat([decipher.update(ciphertext.subarray(0, ciphertext.length - 16)), decipher.final()]),
    );
  } catch {
    throw new TpaError('roaming value: does not authenticate under this password');
  }
}

function sealAad(credential: Credential): Uint8Array {
  return new ByteWriter().raw(SEAL_TAG).bytes(credential.name).raw(credentialId(credential)).finish();
}
