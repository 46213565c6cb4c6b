/**
 * FROST(Ed25519, SHA-512) threshold signatures (RFC 9591) for bftkv's distributed signing (issue 5): a thin,
 * strict layer over @noble/curves' FROST (`createFROST`, configured as its `ed25519_FROST`).
 *
 * - Key generation: the Pedersen DKG with proofs of knowledge of Komlo–Goldberg FROST (SAC 2020, Figure 1),
 *   as split into rounds by noble / frost-rs (RFC 9591 leaves DKG out of scope), with the paper's context
 *   string Φ (session, t, n, members' keys) in every proof, so no proof carries over to another session;
 *   or a trusted-dealer split of an existing Ed25519 key (RFC 9591 Appendix C) for importing a key from PEM.
 * - Signing: RFC 9591 §5 two rounds — commit (§5.1) and sign (§5.2) on each signer, share verification
 *   (§5.4) and aggregation (§5.3) on the coordinator, then an RFC 8032 verification with node:crypto.
 *
 * bftkv has no server-to-server channel: the client relays every round message. So the secret DKG round-2
 * packages are sealed to their recipient (X25519 ephemeral-static + static-static, HKDF-SHA256, AES-256-GCM,
 * in the manner of HPKE's Auth mode, RFC 9180 §5.1.3), and their associated data binds the session, the
 * sender, the recipient and a hash of the whole round-1 transcript: a relay that alters or equivocates on
 * any round-1 broadcast makes round 3 fail at an honest recipient, which names the sender whose package did
 * not authenticate.
 *
 * Nonces (RFC 9591 §4.1, §5.1) live in a per-session object on the signer and are usable exactly once:
 * the first sign request for a session consumes and zeroes them whatever its outcome, and a session
 * identifier is never accepted twice. Unlike the reference's DSA scheme (REFERENCE.md §8.2), no per-session
 * secret survives the session, so a replayed or altered round-2 request cannot reveal the key.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  hkdfSync,
  verify as nodeVerify,
  type KeyObject,
} from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { createFROST } from '@noble/curves/abstract/frost.js';
import { sha512 } from '@noble/hashes/sha2.js';
import type {
  FROST,
  DKG_Round1,
  DKG_Round2,
  DKG_Secret,
  FrostPublic,
  FrostSecret,
  NonceCommitments,
  Nonces,
} from '@noble/curves/abstract/frost.js';
import { addBounded } from '../../collections/bounded.js';
import type { Random } from '../../env/random.js';

/** Largest number of participants n (indices are 1..n). */
export const PARTICIPANTS_MAX = 255;
/** Shortest session identifier (chosen by the coordinator, fresh per session). */
export const SESSION_ID_BYTES_MIN = 16;
/** Longest session identifier. */
export const SESSION_ID_BYTES_MAX = 64;
/** Largest message a signer accepts to sign (an X.509 TBSCertificate fits easily). */
export const MESSAGE_BYTES_MAX = 65536;
/** Open signing sessions a signer keeps; the oldest is destroyed when a new one would exceed this. */
export const OPEN_SESSIONS_MAX = 256;
/** Finished session identifiers a signer remembers so a replay is refused as such. */
export const FINISHED_SESSIONS_REMEMBERED = 4096;

/** Bytes of a scalar, an encoded point, an Ed25519 public key and signature. */
const SCALAR_BYTES = 32;
const POINT_BYTES = 32;
const SIGNATURE_BYTES = 64;
const X25519_KEY_BYTES = 32;
const GCM_IV_BYTES = 12;
const GCM_TAG_BYTES = 16;

/** A participant's message was invalid; `culprits` are the participant indices (1..n) it came from. */
export class FrostProtocolError extends Error {
  override name = 'FrostProtocolError';
  constructor(
    message: string,
    readonly culprits: readonly number[],
  ) {
    super(`${message} (culprits: ${culprits.join(', ')})`);
  }
}

/** A signer refused a coordinator's request: malformed, unknown or finished session, or a replay. */
export class FrostRequestError extends Error {
  override name = 'FrostRequestError';
}

/** Fewer than t signers could take part: signing failed and no signature was produced. */
export class FrostThresholdError extends Error {
  override name = 'FrostThresholdError';
  constructor(
    message: string,
    readonly culprits: readonly number[],
    readonly unavailable: readonly number[],
  ) {
    super(message);
  }
}

/** The public side of a FROST key: threshold t of n, group key, VSS commitment, verifying shares. */
export interface FrostGroupKey {
  readonly threshold: number;
  readonly participants: number;
  /** The 32-byte Ed25519 public key (RFC 8032 encoding); equal to commitments[0]. */
  readonly publicKey: Uint8Array;
  /** The t VSS commitment points (RFC 9591 Appendix C.2). */
  readonly commitments: readonly Uint8Array[];
  /** verifyingShares[i-1] = signing share of participant i times the base point. */
  readonly verifyingShares: readonly Uint8Array[];
}

/** One participant's share of a FROST key. */
export interface FrostKeyShare {
  readonly group: FrostGroupKey;
  readonly index: number;
  /** The 32-byte little-endian signing share scalar (secret). */
  readonly signingShare: Uint8Array;
}

/** DKG round 1 broadcast of participant `sender`: VSS commitment and proof of knowledge of its secret. */
export interface DkgRound1Message {
  readonly sessionId: Uint8Array;
  readonly sender: number;
  readonly commitment: readonly Uint8Array[];
  readonly proofOfKnowledge: Uint8Array;
}

/** DKG round 2 package from `sender` to `recipient`: its secret share, sealed to the recipient. */
export interface DkgRound2Message {
  readonly sessionId: Uint8Array;
  readonly sender: number;
  readonly recipient: number;
  readonly ephemeralPublicKey: Uint8Array;
  readonly iv: Uint8Array;
  /** AES-256-GCM ciphertext of the 32-byte share followed by the 16-byte tag. */
  readonly ciphertext: Uint8Array;
}

/** Signing round 1 request: open a session with fresh nonces. */
export interface FrostCommitRequest {
  readonly sessionId: Uint8Array;
}

/** Signing round 1 response: the signer's nonce commitments (hiding, binding) for the session. */
export interface FrostCommitResponse {
  readonly sessionId: Uint8Array;
  readonly index: number;
  readonly hiding: Uint8Array;
  readonly binding: Uint8Array;
}

/** One signer's commitment as listed in a sign request. */
export interface FrostCommitment {
  readonly index: number;
  readonly hiding: Uint8Array;
  readonly binding: Uint8Array;
}

/** Signing round 2 request: the message and the commitment list of every signer in this session. */
export interface FrostSignRequest {
  readonly sessionId: Uint8Array;
  readonly message: Uint8Array;
  readonly commitments: readonly FrostCommitment[];
}

/** Signing round 2 response: the signer's signature share. */
export interface FrostSignResponse {
  readonly sessionId: Uint8Array;
  readonly index: number;
  readonly share: Uint8Array;
}

// ---------------------------------------------------------------------------------------------------------
// Entry checks

const Point = ed25519.Point;

/** RFC 9591's ciphersuite name for FROST(Ed25519, SHA-512); noble derives every hash prefix from it. */
const SUITE_NAME = 'FROST-ED25519-SHA512-v1';

/**
 * noble's FROST(Ed25519, SHA-512) (RFC 9591 §6.1), configured exactly as its `ed25519_FROST` — suite name,
 * SHA-512, undecorated H2 — minus that export's extra point hook: noble's generic DeserializeElement already
 * refuses off-curve, identity and non-prime-order points (RFC 9591 §3.1), and the hook repeated the
 * subgroup check, the costliest step (a 253-bit scalar multiplication per point). The RFC 9591 Appendix E.1
 * vector test pins this suite to the RFC. `hdkg` replaces the prefix of the DKG proof-of-knowledge hash.
 */
function frostSuite(hdkg?: string): FROST {
  return createFROST({
    name: SUITE_NAME,
    Point,
    hash: sha512,
    H2: '',
    ...(hdkg === undefined ? {} : { HDKG: hdkg }),
  });
}

/** The signing suite. */
const suite = frostSuite();
const Fn = suite.utils.Fn;

/** Array check that keeps the declared element type (Array.isArray would widen it to any[]). */
function isList(x: unknown): boolean {
  return Array.isArray(x);
}

function isBytes(x: unknown, length?: number): x is Uint8Array {
  return x instanceof Uint8Array && (length === undefined || x.length === length);
}

function describe(x: unknown): string {
  if (x instanceof Uint8Array) return `${x.length} bytes`;
  if (Array.isArray(x)) return `an array of ${x.length}`;
  if (typeof x === 'number') return String(x);
  return typeof x;
}

function checkBytes(field: string, x: unknown, length: number): Uint8Array {
  if (!(x instanceof Uint8Array)) throw new TypeError(`${field}: expected Uint8Array, got ${describe(x)}`);
  if (x.length !== length) throw new RangeError(`${field}: expected ${length} bytes, got ${x.length}`);
  return x;
}

function checkSessionId(field: string, x: unknown): Uint8Array {
  if (!(x instanceof Uint8Array)) throw new TypeError(`${field}: expected Uint8Array, got ${describe(x)}`);
  if (x.length < SESSION_ID_BYTES_MIN || x.length > SESSION_ID_BYTES_MAX)
    throw new RangeError(
      `${field}: expected ${SESSION_ID_BYTES_MIN}..${SESSION_ID_BYTES_MAX} bytes, got ${x.length}`,
    );
  return x;
}

function checkParameters(threshold: unknown, participants: unknown): void {
  if (typeof participants !== 'number' || !Number.isInteger(participants) || participants < 2)
    throw new RangeError(
      `participants: expected an integer 2..${PARTICIPANTS_MAX}, got ${describe(participants)}`,
    );
  if (participants > PARTICIPANTS_MAX)
    throw new RangeError(`participants: expected at most ${PARTICIPANTS_MAX}, got ${participants}`);
  // noble (like frost-rs) requires t ≥ 2: a 1-of-n key would be an ordinary key handed to everyone.
  if (
    typeof threshold !== 'number' ||
    !Number.isInteger(threshold) ||
    threshold < 2 ||
    threshold > participants
  )
    throw new RangeError(`threshold: expected an integer 2..${participants}, got ${describe(threshold)}`);
}

function checkIndex(field: string, x: unknown, participants: number): number {
  if (typeof x !== 'number' || !Number.isInteger(x) || x < 1 || x > participants)
    throw new RangeError(`${field}: expected an integer 1..${participants}, got ${describe(x)}`);
  return x;
}

function isIndex(x: unknown, participants: number): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 1 && x <= participants;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

const identifierCache: string[] = [];
/** noble's identifier (canonical hex scalar) of participant index i. */
function identifier(index: number): string {
  let id = identifierCache[index];
  if (id === undefined) {
    id = suite.Identifier.fromNumber(index);
    identifierCache[index] = id;
  }
  return id;
}

/** noble's RNG signature over the injected Random. */
function rngOf(random: Random): (n?: number) => Uint8Array<ArrayBuffer> {
  return (n = 32) => {
    const out = new Uint8Array(n);
    out.set(random.bytes(n));
    return out;
  };
}

type EdPoint = InstanceType<typeof Point>;

/**
 * Decodes a public group element per RFC 9591 §3.1 DeserializeElement: canonical RFC 8032 encoding, on the
 * curve, not the identity, in the prime-order subgroup. Returns undefined when any check fails.
 */
function decodeElement(bytes: unknown): EdPoint | undefined {
  if (!isBytes(bytes, POINT_BYTES)) return undefined;
  try {
    const p = Point.fromBytes(bytes);
    p.assertValidity();
    if (p.is0() || !p.isTorsionFree()) return undefined;
    if (!equalBytes(p.toBytes(), bytes)) return undefined;
    return p;
  } catch {
    return undefined;
  }
}

/** Decodes a canonical scalar (little-endian, < L); undefined otherwise. */
function decodeScalar(bytes: unknown): bigint | undefined {
  if (!isBytes(bytes, SCALAR_BYTES)) return undefined;
  try {
    return Fn.fromBytes(bytes);
  } catch {
    return undefined;
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

function be16(n: number): Uint8Array {
  return Uint8Array.of(n >>> 8, n & 0xff);
}

function lengthPrefixed(b: Uint8Array): Uint8Array {
  return concat(be16(b.length), b);
}

function utf8(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'utf8'));
}

// ---------------------------------------------------------------------------------------------------------
// Keys: group key checks, PEM, conversion to noble's packages

/** SPKI DER prefix for an Ed25519 public key (RFC 8410 §4). */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** The Ed25519 public key in PEM SubjectPublicKeyInfo form (RFC 8410). */
export function ed25519PublicKeyPem(publicKey: Uint8Array): string {
  checkBytes('publicKey', publicKey, POINT_BYTES);
  const key = createPublicKey({
    key: Buffer.concat([ED25519_SPKI_PREFIX, publicKey]),
    format: 'der',
    type: 'spki',
  });
  return key.export({ format: 'pem', type: 'spki' }).toString();
}

/** The group's Ed25519 public key in PEM SubjectPublicKeyInfo form. */
export function frostPublicKeyPem(group: FrostGroupKey): string {
  return ed25519PublicKeyPem(group.publicKey);
}

function ed25519KeyObject(publicKey: Uint8Array): KeyObject {
  return createPublicKey({
    key: Buffer.concat([ED25519_SPKI_PREFIX, publicKey]),
    format: 'der',
    type: 'spki',
  });
}

/** Σ_j C_j · i^j: participant i's verifying share from a VSS commitment (RFC 9591 Appendix C.2). */
function vssEvaluate(commitment: readonly EdPoint[], index: number): EdPoint {
  const x = BigInt(index);
  // Horner's rule over public points: variable-time arithmetic is fine here.
  let acc = Point.ZERO;
  for (let j = commitment.length - 1; j >= 0; j--) acc = acc.multiplyUnsafe(x).add(commitment[j]!);
  return acc;
}

/**
 * Checks a group key: parameters in range, every point a valid element, publicKey = commitments[0], and
 * every verifying share consistent with the commitment. Throws RangeError/TypeError naming the field.
 */
export function validateGroupKey(group: FrostGroupKey): void {
  if (typeof group !== 'object' || group === null)
    throw new TypeError(`group: expected an object, got ${describe(group)}`);
  checkParameters(group.threshold, group.participants);
  checkBytes('group.publicKey', group.publicKey, POINT_BYTES);
  if (!isList(group.commitments) || group.commitments.length !== group.threshold)
    throw new RangeError(
      `group.commitments: expected ${group.threshold} points, got ${describe(group.commitments)}`,
    );
  if (!isList(group.verifyingShares) || group.verifyingShares.length !== group.participants)
    throw new RangeError(
      `group.verifyingShares: expected ${group.participants} points, got ${describe(group.verifyingShares)}`,
    );
  const commitment = group.commitments.map((c, j) => {
    const p = decodeElement(c);
    if (p === undefined) throw new RangeError(`group.commitments[${j}]: not a valid Ed25519 group element`);
    return p;
  });
  if (!equalBytes(group.publicKey, group.commitments[0]!))
    throw new RangeError('group.publicKey: differs from group.commitments[0]');
  for (let i = 1; i <= group.participants; i++) {
    const y = decodeElement(group.verifyingShares[i - 1]);
    if (y === undefined || !y.equals(vssEvaluate(commitment, i)))
      throw new RangeError(`group.verifyingShares[${i - 1}]: inconsistent with the VSS commitment`);
  }
}

function noblePublic(group: FrostGroupKey): FrostPublic {
  const verifyingShares: Record<string, Uint8Array> = {};
  for (let i = 1; i <= group.participants; i++)
    verifyingShares[identifier(i)] = group.verifyingShares[i - 1]!;
  return {
    signers: { min: group.threshold, max: group.participants },
    commitments: group.commitments.slice() as Uint8Array<ArrayBuffer>[],
    verifyingShares: verifyingShares as Record<string, Uint8Array<ArrayBuffer>>,
  };
}

function groupFromNoble(pub: FrostPublic): FrostGroupKey {
  const participants = pub.signers.max;
  const verifyingShares: Uint8Array[] = [];
  for (let i = 1; i <= participants; i++) {
    const y = pub.verifyingShares[identifier(i)];
    if (y === undefined) throw new Error(`Invariant: verifying share of participant ${i} is missing`);
    verifyingShares.push(new Uint8Array(y));
  }
  const commitments = pub.commitments.map((c) => new Uint8Array(c));
  return {
    threshold: pub.signers.min,
    participants,
    publicKey: new Uint8Array(commitments[0]!),
    commitments,
    verifyingShares,
  };
}

function nobleSecret(share: FrostKeyShare): FrostSecret {
  return { identifier: identifier(share.index), signingShare: share.signingShare as Uint8Array<ArrayBuffer> };
}

/** Checks a key share: its group key, its index, and that its signing share matches its verifying share. */
export function validateKeyShare(share: FrostKeyShare): void {
  if (typeof share !== 'object' || share === null)
    throw new TypeError(`share: expected an object, got ${describe(share)}`);
  validateGroupKey(share.group);
  validateSigningShare(share);
}

/**
 * Checks a key share whose group key was already checked (validateGroupKey): its index, and that its
 * signing share s_i satisfies s_i·G = Y_i. As validateGroupKey checked Y_i = Σ_j C_j·i^j, this is RFC 9591
 * Appendix C.2 vss_verify at the cost of one base-point multiplication.
 */
export function validateSigningShare(share: FrostKeyShare): void {
  if (typeof share !== 'object' || share === null)
    throw new TypeError(`share: expected an object, got ${describe(share)}`);
  checkIndex('share.index', share.index, share.group.participants);
  checkBytes('share.signingShare', share.signingShare, SCALAR_BYTES);
  const s = decodeScalar(share.signingShare);
  const y = share.group.verifyingShares[share.index - 1];
  if (s === undefined || s === 0n || y === undefined || !equalBytes(Point.BASE.multiply(s).toBytes(), y))
    throw new RangeError(
      `share.signingShare: does not match the VSS commitment for participant ${share.index}`,
    );
}

/** Whether `bytes` is a valid public group element (RFC 9591 §3.1 DeserializeElement for Ed25519). */
export function isFrostElement(bytes: Uint8Array): boolean {
  return decodeElement(bytes) !== undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Trusted dealer: import an existing Ed25519 key (RFC 9591 Appendix C)

/** Result of a trusted-dealer split: the group key and one share per participant (shares[i-1] for i). */
export interface DealtKey {
  readonly group: FrostGroupKey;
  readonly shares: readonly FrostKeyShare[];
}

/**
 * Splits an existing Ed25519 private key (PKCS#8 PEM) into t-of-n FROST shares (RFC 9591 Appendix C).
 * The group public key equals the key's RFC 8032 public key, so existing signatures and certificates
 * stay valid. The dealer sees the whole key: use it for import only, then erase the PEM.
 */
export function dealEd25519Key(options: {
  privateKeyPem: string;
  threshold: number;
  participants: number;
  random: Random;
}): DealtKey {
  const { privateKeyPem, threshold, participants, random } = options;
  checkParameters(threshold, participants);
  if (typeof privateKeyPem !== 'string' || privateKeyPem.length > 16384)
    throw new TypeError(
      `privateKeyPem: expected a PEM string of at most 16384 characters, got ${describe(privateKeyPem)}`,
    );
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: privateKeyPem, format: 'pem' });
  } catch {
    throw new RangeError('privateKeyPem: not a parsable PEM private key');
  }
  if (key.asymmetricKeyType !== 'ed25519')
    throw new RangeError(`privateKeyPem: expected an Ed25519 key, got ${String(key.asymmetricKeyType)}`);
  const jwk = key.export({ format: 'jwk' });
  if (typeof jwk.d !== 'string' || typeof jwk.x !== 'string')
    throw new Error('Invariant: Ed25519 JWK has d and x');
  const seed = new Uint8Array(Buffer.from(jwk.d, 'base64url'));
  const expectedPublic = new Uint8Array(Buffer.from(jwk.x, 'base64url'));
  // RFC 8032 §5.1.5: the secret scalar is the clamped first half of SHA-512(seed), reduced mod L.
  const extended = ed25519.utils.getExtendedPublicKey(seed);
  seed.fill(0);
  const secret = Fn.toBytes(extended.scalar);
  let dealt;
  try {
    const ids: string[] = [];
    for (let i = 1; i <= participants; i++) ids.push(identifier(i));
    dealt = suite.trustedDealer({ min: threshold, max: participants }, ids, secret, rngOf(random));
  } finally {
    secret.fill(0);
    extended.head.fill(0);
    extended.prefix.fill(0);
  }
  const group = groupFromNoble(dealt.public);
  if (!equalBytes(group.publicKey, expectedPublic))
    throw new Error('Invariant: dealt group key equals the imported RFC 8032 public key');
  const shares: FrostKeyShare[] = [];
  for (let i = 1; i <= participants; i++) {
    const s = dealt.secretShares[identifier(i)];
    if (s === undefined) throw new Error(`Invariant: dealer produced a share for participant ${i}`);
    shares.push({ group, index: i, signingShare: new Uint8Array(s.signingShare) });
    s.signingShare.fill(0);
  }
  return { group, shares };
}

// ---------------------------------------------------------------------------------------------------------
// Sealing DKG round-2 packages (X25519 + HKDF-SHA256 + AES-256-GCM)

const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const X25519_SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');
const SEAL_LABEL = utf8('bftkv/frost-ed25519/dkg-round2/v1');
const TRANSCRIPT_LABEL = utf8('bftkv/frost-ed25519/dkg-round1-transcript/v1');

function x25519Private(raw: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, raw]), format: 'der', type: 'pkcs8' });
}

function x25519Public(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([X25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

/** The raw 32-byte X25519 public key (RFC 7748) of a raw 32-byte X25519 private key. */
export function x25519PublicKey(privateKey: Uint8Array): Uint8Array {
  checkBytes('privateKey', privateKey, X25519_KEY_BYTES);
  const spki = createPublicKey(x25519Private(privateKey)).export({ format: 'der', type: 'spki' });
  return new Uint8Array(spki.subarray(X25519_SPKI_PREFIX.length));
}

interface SealContext {
  readonly sessionId: Uint8Array;
  readonly sender: number;
  readonly recipient: number;
  readonly transcriptHash: Uint8Array;
  readonly senderStatic: Uint8Array;
  readonly recipientStatic: Uint8Array;
}

function sealInfo(c: SealContext, ephemeralPublicKey: Uint8Array): Uint8Array {
  return concat(
    SEAL_LABEL,
    lengthPrefixed(c.sessionId),
    be16(c.sender),
    be16(c.recipient),
    c.transcriptHash,
    ephemeralPublicKey,
    c.senderStatic,
    c.recipientStatic,
  );
}

function sealKey(dh1: Uint8Array, dh2: Uint8Array, info: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', concat(dh1, dh2), new Uint8Array(0), info, 32));
}

function seal(
  c: SealContext,
  senderStaticPrivate: KeyObject,
  plaintext: Uint8Array,
  random: Random,
): DkgRound2Message {
  const ephemeralRaw = random.bytes(X25519_KEY_BYTES);
  const ephemeral = x25519Private(ephemeralRaw);
  ephemeralRaw.fill(0);
  const ephemeralPublicKey = new Uint8Array(
    createPublicKey(ephemeral).export({ format: 'der', type: 'spki' }).subarray(X25519_SPKI_PREFIX.length),
  );
  const recipientKey = x25519Public(c.recipientStatic);
  const dh1 = diffieHellman({ privateKey: ephemeral, publicKey: recipientKey });
  const dh2 = diffieHellman({ privateKey: senderStaticPrivate, publicKey: recipientKey });
  const info = sealInfo(c, ephemeralPublicKey);
  const key = sealKey(dh1, dh2, info);
  dh1.fill(0);
  dh2.fill(0);
  const iv = random.bytes(GCM_IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(info);
  const ciphertext = concat(cipher.update(plaintext), cipher.final(), cipher.getAuthTag());
  key.fill(0);
  return {
    sessionId: new Uint8Array(c.sessionId),
    sender: c.sender,
    recipient: c.recipient,
    ephemeralPublicKey,
    iv: new Uint8Array(iv),
    ciphertext,
  };
}

/** Opens a sealed package; undefined when it does not authenticate (tampered, wrong context or keys). */
function open(
  c: SealContext,
  recipientStaticPrivate: KeyObject,
  m: DkgRound2Message,
): Uint8Array | undefined {
  try {
    const info = sealInfo(c, m.ephemeralPublicKey);
    // X25519 in OpenSSL refuses an all-zero shared secret (low-order points), which lands in the catch.
    const dh1 = diffieHellman({
      privateKey: recipientStaticPrivate,
      publicKey: x25519Public(m.ephemeralPublicKey),
    });
    const dh2 = diffieHellman({
      privateKey: recipientStaticPrivate,
      publicKey: x25519Public(c.senderStatic),
    });
    const key = sealKey(dh1, dh2, info);
    dh1.fill(0);
    dh2.fill(0);
    const decipher = createDecipheriv('aes-256-gcm', key, m.iv);
    decipher.setAAD(info);
    decipher.setAuthTag(m.ciphertext.subarray(SCALAR_BYTES));
    const plaintext = concat(decipher.update(m.ciphertext.subarray(0, SCALAR_BYTES)), decipher.final());
    key.fill(0);
    return plaintext;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Distributed key generation

const DKG_CONTEXT_LABEL = utf8('bftkv/frost-ed25519/dkg-context/v1');

/** What every participant of one DKG session agrees on before it starts (the coordinator too). */
export interface DkgContext {
  /** Fresh per DKG run, the same for every participant (chosen by the coordinator). */
  readonly sessionId: Uint8Array;
  readonly threshold: number;
  readonly participants: number;
  /** Every participant's raw static X25519 public key; staticPublicKeys[i-1] is participant i's. */
  readonly staticPublicKeys: readonly Uint8Array[];
}

/** A checked copy of a DkgContext with its proof-of-knowledge hash prefix and ciphersuite. */
interface CheckedDkgContext extends DkgContext {
  /** Komlo–Goldberg's context string Φ, folded into the hash prefix of the proof-of-knowledge challenge. */
  readonly dst: Uint8Array;
  readonly suite: FROST;
}

function checkDkgContext(context: DkgContext): CheckedDkgContext {
  if (typeof context !== 'object' || context === null)
    throw new TypeError(`context: expected an object, got ${describe(context)}`);
  const { threshold, participants, staticPublicKeys } = context;
  checkParameters(threshold, participants);
  const sessionId = new Uint8Array(checkSessionId('sessionId', context.sessionId));
  if (!isList(staticPublicKeys) || staticPublicKeys.length !== participants)
    throw new RangeError(
      `staticPublicKeys: expected ${participants} keys, got ${describe(staticPublicKeys)}`,
    );
  staticPublicKeys.forEach((k, i) => checkBytes(`staticPublicKeys[${i}]`, k, X25519_KEY_BYTES));
  if (new Set(staticPublicKeys.map(hex)).size !== participants)
    throw new RangeError('staticPublicKeys: keys must be distinct');
  const keys = staticPublicKeys.map((k) => new Uint8Array(k));
  const h = createHash('sha256').update(DKG_CONTEXT_LABEL).update(lengthPrefixed(sessionId));
  h.update(be16(threshold)).update(be16(participants));
  for (const k of keys) h.update(k);
  // Komlo–Goldberg FROST, Figure 1, round 1 step 2: c_i = H(i, Φ, g^{a_i0}, R_i) with a context string Φ
  // that "prevents replay attacks". noble's challenge is H(prefix ‖ i ‖ φ_i0 ‖ R_i) with a fixed prefix,
  // so the context goes into the prefix: a proof made for one session (or another group) fails in any other.
  const dstString = `${SUITE_NAME}dkg/bftkv-context/${hex(new Uint8Array(h.digest()))}`;
  return {
    sessionId,
    threshold,
    participants,
    staticPublicKeys: keys,
    dst: utf8(dstString),
    suite: frostSuite(dstString),
  };
}

function proofOfKnowledgeValid(
  dst: Uint8Array,
  index: number,
  commitment: readonly EdPoint[],
  proof: Uint8Array,
): boolean {
  // Komlo–Goldberg FROST, Figure 1, round 1 step 5: σ = (R, μ) is valid iff R = μ·G − c·φ₀ with
  // c = H(Φ, i, φ₀, R). noble checks this too but cannot say whose proof failed, so we check it first.
  if (proof.length !== SIGNATURE_BYTES) return false;
  const R = decodeElement(proof.subarray(0, POINT_BYTES));
  const mu = decodeScalar(proof.subarray(POINT_BYTES));
  const phi0 = commitment[0];
  if (R === undefined || mu === undefined || phi0 === undefined) return false;
  const digest = createHash('sha512')
    .update(dst)
    .update(Fn.toBytes(BigInt(index)))
    .update(phi0.toBytes())
    .update(R.toBytes())
    .digest();
  const c = Fn.create(BigInt('0x' + Buffer.from(digest).reverse().toString('hex')));
  return R.equals(Point.BASE.multiplyUnsafe(mu).subtract(phi0.multiplyUnsafe(c)));
}

/**
 * Checks the n round-1 broadcasts of a DKG session, one per sender: session identifier, t valid commitment
 * points and a valid proof of knowledge bound to the session (FROST Fig. 1 round 1 step 5). Names the
 * senders whose broadcast is invalid; a list that is not one broadcast per participant names no one
 * (the relay built it). `own`, when given, must appear unchanged. Returns the decoded commitments.
 * With `deep` false only the shapes are checked (no points decoded): for a caller that hands the
 * broadcasts to noble, which checks points and proofs itself, and calls this again deeply to name the
 * culprits only when noble refuses.
 */
function checkRound1Messages(
  c: CheckedDkgContext,
  round1: readonly DkgRound1Message[],
  own: DkgRound1Message | undefined,
  deep: boolean,
): Map<number, { message: DkgRound1Message; points: EdPoint[] }> {
  const self = own?.sender ?? 0;
  if (!isList(round1) || round1.length !== c.participants)
    throw new FrostProtocolError(
      `DKG round 1: expected ${c.participants} broadcasts, got ${describe(round1)}`,
      missingSenders(round1, c.participants, self),
    );
  const bySender = new Map<number, { message: DkgRound1Message; points: EdPoint[] }>();
  const culprits = new Set<number>();
  for (const m of round1) {
    const sender = (m as { sender?: unknown } | null)?.sender;
    if (!isIndex(sender, c.participants) || bySender.has(sender))
      throw new FrostProtocolError('DKG round 1: broadcast with a bad or duplicate sender', []);
    if (!isBytes(m.sessionId) || !equalBytes(m.sessionId, c.sessionId)) {
      culprits.add(sender);
      bySender.set(sender, { message: m, points: [] });
      continue;
    }
    if (own !== undefined && sender === own.sender) {
      if (!sameRound1(m, own))
        throw new FrostProtocolError(
          "DKG round 1: this participant's own broadcast was altered by the relay",
          [],
        );
      bySender.set(sender, { message: m, points: own.commitment.map((p) => Point.fromBytes(p)) });
      continue;
    }
    const shaped =
      isList(m.commitment) &&
      m.commitment.length === c.threshold &&
      m.commitment.every((p: unknown) => isBytes(p, POINT_BYTES)) &&
      isBytes(m.proofOfKnowledge, SIGNATURE_BYTES);
    if (!shaped || !deep) {
      bySender.set(sender, { message: m, points: [] });
      if (!shaped) culprits.add(sender);
      continue;
    }
    const points = m.commitment.map((p: unknown) => decodeElement(p));
    bySender.set(sender, { message: m, points: points as EdPoint[] });
    if (
      points.some((p) => p === undefined) ||
      !proofOfKnowledgeValid(c.dst, sender, points as EdPoint[], m.proofOfKnowledge)
    )
      culprits.add(sender);
  }
  if (culprits.size > 0)
    throw new FrostProtocolError(
      'DKG round 1: invalid commitment or proof of knowledge',
      [...culprits].sort((a, b) => a - b),
    );
  return bySender;
}

/**
 * Coordinator side of DKG round 1: checks every broadcast as a participant would (culprits named) without
 * taking part, so a relay can refuse to forward an invalid one and blame its sender itself.
 */
export function checkDkgRound1(context: DkgContext, round1: readonly DkgRound1Message[]): void {
  checkRound1Messages(checkDkgContext(context), round1, undefined, true);
}

/**
 * The group key a DKG ends with, computed from its round-1 broadcasts alone (public data): commitments
 * C_k = Σ_j φ_jk, public key C_0, verifying shares Y_i = Σ_k C_k·i^k (FROST Fig. 1 round 2 steps 3–4).
 * Every honest participant derives the same key from the same broadcasts; the coordinator uses this to
 * check their confirmations without trusting any of them.
 */
export function dkgGroupKey(context: DkgContext, round1: readonly DkgRound1Message[]): FrostGroupKey {
  const c = checkDkgContext(context);
  const bySender = checkRound1Messages(c, round1, undefined, true);
  const merged: EdPoint[] = [];
  for (let k = 0; k < c.threshold; k++) {
    let acc = Point.ZERO;
    for (let j = 1; j <= c.participants; j++) acc = acc.add(bySender.get(j)!.points[k]!);
    merged.push(acc);
  }
  if (merged.some((p) => p.is0()))
    throw new FrostProtocolError('DKG: the summed commitment has an identity element', []);
  const verifyingShares: Uint8Array[] = [];
  for (let i = 1; i <= c.participants; i++) verifyingShares.push(vssEvaluate(merged, i).toBytes());
  const commitments = merged.map((p) => p.toBytes());
  return {
    threshold: c.threshold,
    participants: c.participants,
    publicKey: new Uint8Array(commitments[0]!),
    commitments,
    verifyingShares,
  };
}

/** Options of one participant's DKG session. */
export interface DkgOptions extends DkgContext {
  /** This participant's index, 1..participants. */
  readonly index: number;
  /** This participant's raw 32-byte static X25519 private key. */
  readonly staticPrivateKey: Uint8Array;
  readonly random: Random;
}

type DkgStep = 'round1' | 'round2' | 'done' | 'failed';

/**
 * One participant of a FROST DKG session. Each round is called once, in order; any failure destroys the
 * secret state and the session cannot continue (start a new session with a fresh identifier).
 */
export class FrostDkgParticipant {
  readonly sessionId: Uint8Array;
  readonly index: number;
  readonly threshold: number;
  readonly participants: number;
  /** This participant's round-1 broadcast, to be relayed to every other participant. */
  readonly round1: DkgRound1Message;
  private readonly context: CheckedDkgContext;
  private readonly staticPublicKeys: readonly Uint8Array[];
  private readonly staticPrivate: KeyObject;
  private readonly random: Random;
  private secret: DKG_Secret | undefined;
  private step: DkgStep = 'round1';
  private transcriptHash: Uint8Array | undefined;
  private round1Others: DKG_Round1[] | undefined;
  private commitmentsBySender = new Map<number, readonly Uint8Array[]>();

  constructor(options: DkgOptions) {
    const { index, staticPrivateKey, random } = options;
    this.context = checkDkgContext(options);
    const { threshold, participants, staticPublicKeys } = this.context;
    this.sessionId = this.context.sessionId;
    this.index = checkIndex('index', index, participants);
    this.threshold = threshold;
    this.participants = participants;
    checkBytes('staticPrivateKey', staticPrivateKey, X25519_KEY_BYTES);
    if (!equalBytes(x25519PublicKey(staticPrivateKey), staticPublicKeys[index - 1]!))
      throw new RangeError(`staticPrivateKey: does not match staticPublicKeys[${index - 1}]`);
    this.staticPublicKeys = staticPublicKeys;
    this.staticPrivate = x25519Private(staticPrivateKey);
    this.random = random;
    const r1 = this.context.suite.DKG.round1(
      identifier(index),
      { min: threshold, max: participants },
      undefined,
      rngOf(random),
    );
    this.secret = r1.secret;
    this.round1 = {
      sessionId: new Uint8Array(this.sessionId),
      sender: index,
      commitment: r1.public.commitment.map((c) => new Uint8Array(c)),
      proofOfKnowledge: new Uint8Array(r1.public.proofOfKnowledge),
    };
  }

  /**
   * Round 2: given the round-1 broadcasts of all n participants (this one's included, unchanged), checks
   * each (culprits named) and returns one sealed share package per other participant.
   */
  round2Packages(round1: readonly DkgRound1Message[]): DkgRound2Message[] {
    this.expectStep('round1', 'round2Packages');
    try {
      const bySender = new Map(
        [...checkRound1Messages(this.context, round1, this.round1, false)].map(([j, v]) => [j, v.message]),
      );
      this.transcriptHash = this.hashTranscript(bySender);
      const others: DKG_Round1[] = [];
      for (let j = 1; j <= this.participants; j++) {
        if (j === this.index) continue;
        const m = bySender.get(j)!;
        others.push({
          identifier: identifier(j),
          commitment: m.commitment.map((c) => new Uint8Array(c)),
          proofOfKnowledge: new Uint8Array(m.proofOfKnowledge),
        });
        this.commitmentsBySender.set(
          j,
          m.commitment.map((c) => new Uint8Array(c)),
        );
      }
      this.round1Others = others;
      let packages: ReturnType<FROST['DKG']['round2']>;
      try {
        // noble checks every commitment point and proof of knowledge (FROST Fig. 1 round 1 step 5).
        packages = this.context.suite.DKG.round2(this.secret!, others);
      } catch (e) {
        // Refused: the same checks again, one broadcast at a time, to name whose broadcast it was.
        checkRound1Messages(this.context, round1, this.round1, true);
        throw new FrostProtocolError(
          `DKG round 1: refused (${e instanceof Error ? e.message : String(e)})`,
          [],
        );
      }
      const out: DkgRound2Message[] = [];
      for (let j = 1; j <= this.participants; j++) {
        if (j === this.index) continue;
        const p = packages[identifier(j)];
        if (p === undefined) throw new Error(`Invariant: noble produced a round-2 package for ${j}`);
        out.push(seal(this.sealContext(this.index, j), this.staticPrivate, p.signingShare, this.random));
        p.signingShare.fill(0);
      }
      this.step = 'round2';
      return out;
    } catch (e) {
      this.fail();
      throw e;
    }
  }

  /**
   * Round 3: given the n−1 packages addressed to this participant, opens and checks each against its
   * sender's commitment (culprits named) and returns this participant's key share. The group key is the
   * same at every honest participant; the coordinator compares them with `checkDkgAgreement`.
   */
  finish(round2: readonly DkgRound2Message[]): FrostKeyShare {
    this.expectStep('round2', 'finish');
    const opened: DKG_Round2[] = [];
    const openedFrom: number[] = [];
    try {
      if (!isList(round2) || round2.length !== this.participants - 1)
        throw new FrostProtocolError(
          `DKG round 2: expected ${this.participants - 1} packages, got ${describe(round2)}`,
          missingSenders(round2, this.participants, this.index),
        );
      const seen = new Set<number>();
      const culprits = new Set<number>();
      for (const m of round2) {
        const sender = (m as { sender?: unknown } | null)?.sender;
        if (!isIndex(sender, this.participants) || sender === this.index || seen.has(sender)) {
          // An out-of-range or duplicated sender cannot be attributed; the relay is at fault.
          throw new FrostProtocolError('DKG round 2: package with a bad or duplicate sender', []);
        }
        seen.add(sender);
        if (
          !isBytes(m.sessionId) ||
          !equalBytes(m.sessionId, this.sessionId) ||
          m.recipient !== this.index ||
          !isBytes(m.ephemeralPublicKey, X25519_KEY_BYTES) ||
          !isBytes(m.iv, GCM_IV_BYTES) ||
          !isBytes(m.ciphertext, SCALAR_BYTES + GCM_TAG_BYTES)
        ) {
          culprits.add(sender);
          continue;
        }
        const share = open(this.sealContext(sender, this.index), this.staticPrivate, m);
        if (share === undefined) {
          culprits.add(sender);
          continue;
        }
        opened.push({ identifier: identifier(sender), signingShare: share as Uint8Array<ArrayBuffer> });
        openedFrom.push(sender);
      }
      if (culprits.size > 0)
        throw new FrostProtocolError(
          'DKG round 2: packages that do not authenticate (tampered, or the sender saw a different round-1 transcript)',
          [...culprits].sort((a, b) => a - b),
        );
      let key: ReturnType<FROST['DKG']['round3']>;
      try {
        // noble checks each share against its sender's commitment (RFC 9591 Appendix C.2 vss_verify).
        key = this.context.suite.DKG.round3(this.secret!, this.round1Others!, opened);
      } catch (e) {
        // Refused: check each share alone to name the senders whose share fails the VSS check.
        const failed = opened
          .map((o, k) => ({ share: o.signingShare, sender: openedFrom[k]! }))
          .filter((o) => !this.shareMatchesCommitment(o.sender, o.share))
          .map((o) => o.sender)
          .sort((a, b) => a - b);
        throw new FrostProtocolError(
          failed.length > 0
            ? 'DKG round 2: shares that fail the VSS check against their sender’s commitment'
            : `DKG round 2: refused (${e instanceof Error ? e.message : String(e)})`,
          failed,
        );
      }
      const group = groupFromNoble(key.public);
      const share: FrostKeyShare = {
        group,
        index: this.index,
        signingShare: new Uint8Array(key.secret.signingShare),
      };
      key.secret.signingShare.fill(0);
      this.step = 'done';
      this.secret = undefined;
      return share;
    } catch (e) {
      this.fail();
      throw e;
    } finally {
      for (const o of opened) o.signingShare.fill(0);
    }
  }

  /** RFC 9591 Appendix C.2 vss_verify of one received share against its sender's own commitment. */
  private shareMatchesCommitment(sender: number, share: Uint8Array): boolean {
    try {
      suite.validateSecret(
        { identifier: identifier(this.index), signingShare: share as Uint8Array<ArrayBuffer> },
        {
          signers: { min: this.threshold, max: this.participants },
          commitments: this.commitmentsBySender.get(sender)!.slice() as Uint8Array<ArrayBuffer>[],
          verifyingShares: {},
        },
      );
      return true;
    } catch {
      return false;
    }
  }

  /** Destroys the secret state (best effort for bigints); the session cannot continue. */
  destroy(): void {
    if (this.step !== 'done') this.fail();
  }

  private fail(): void {
    if (this.secret !== undefined) this.context.suite.DKG.clean(this.secret);
    this.secret = undefined;
    this.step = 'failed';
  }

  private expectStep(step: DkgStep, call: string): void {
    if (this.step !== step)
      throw new FrostRequestError(`DKG ${call}: session is at step ${this.step}, expected ${step}`);
  }

  private sealContext(sender: number, recipient: number): SealContext {
    return {
      sessionId: this.sessionId,
      sender,
      recipient,
      transcriptHash: this.transcriptHash!,
      senderStatic: this.staticPublicKeys[sender - 1]!,
      recipientStatic: this.staticPublicKeys[recipient - 1]!,
    };
  }

  private hashTranscript(bySender: Map<number, DkgRound1Message>): Uint8Array {
    const h = createHash('sha256');
    h.update(TRANSCRIPT_LABEL).update(lengthPrefixed(this.sessionId));
    h.update(be16(this.threshold)).update(be16(this.participants));
    for (let j = 1; j <= this.participants; j++) {
      const m = bySender.get(j)!;
      h.update(be16(j)).update(this.staticPublicKeys[j - 1]!);
      for (const c of m.commitment) h.update(c);
      h.update(m.proofOfKnowledge);
    }
    return new Uint8Array(h.digest());
  }
}

function sameRound1(a: DkgRound1Message, b: DkgRound1Message): boolean {
  return (
    isList(a.commitment) &&
    a.commitment.length === b.commitment.length &&
    a.commitment.every((c, j) => isBytes(c) && equalBytes(c, b.commitment[j]!)) &&
    isBytes(a.proofOfKnowledge) &&
    equalBytes(a.proofOfKnowledge, b.proofOfKnowledge)
  );
}

function missingSenders(messages: unknown, participants: number, self: number): number[] {
  const present = new Set<unknown>(
    isList(messages)
      ? (messages as readonly unknown[]).map((m) => (m as { sender?: unknown } | null)?.sender)
      : [],
  );
  const missing: number[] = [];
  for (let j = 1; j <= participants; j++) if (j !== self && !present.has(j)) missing.push(j);
  return missing;
}

/**
 * Coordinator check after a DKG: every participant reported the same group key (encoded as its
 * publicKey, commitments and verifying shares). Returns that key; names the disagreeing participants.
 */
export function checkDkgAgreement(
  results: readonly { index: number; group: FrostGroupKey }[],
): FrostGroupKey {
  if (!isList(results) || results.length < 2)
    throw new RangeError(`results: expected at least 2 group keys, got ${describe(results)}`);
  const encode = (g: FrostGroupKey) =>
    [
      g.threshold,
      g.participants,
      hex(g.publicKey),
      ...g.commitments.map(hex),
      ...g.verifyingShares.map(hex),
    ].join('|');
  const counts = new Map<string, number>();
  for (const r of results) counts.set(encode(r.group), (counts.get(encode(r.group)) ?? 0) + 1);
  let majority = '';
  let best = 0;
  for (const [k, c] of counts) if (c > best) [majority, best] = [k, c];
  const disagree = results.filter((r) => encode(r.group) !== majority).map((r) => r.index);
  if (disagree.length > 0)
    throw new FrostProtocolError('DKG: participants disagree on the group key', disagree);
  const group = results[0]!.group;
  validateGroupKey(group);
  return group;
}

// ---------------------------------------------------------------------------------------------------------
// Signing: the signer (server side)

/**
 * One signer's round-1 state for one session (RFC 9591 §5.1): the secret nonces and their public
 * commitments. Invariant: the nonces sign at most once (`frostSignShare` zeroes them, whatever happens).
 */
export interface FrostNonces {
  /** Secret nonce scalars (hiding d, binding e); zeroed once used or erased. */
  readonly secret: Nonces;
  /** The commitments D = d·G and E = e·G published in round 1. */
  readonly hiding: Uint8Array;
  readonly binding: Uint8Array;
}

/**
 * RFC 9591 §5.1 commit: fresh hedged nonces (§4.1 nonce_generate: H3(32 random bytes ‖ signing share)) and
 * their commitments. The share must have been checked (validateKeyShare) by the caller.
 */
export function frostCommit(share: FrostKeyShare, random: Random): FrostNonces {
  const g = suite.commit(nobleSecret(share), rngOf(random));
  return {
    secret: g.nonces,
    hiding: new Uint8Array(g.commitments.hiding),
    binding: new Uint8Array(g.commitments.binding),
  };
}

/** Zeroes the secret nonces (best effort: noble's transient bigints are out of reach). */
export function eraseNonces(nonces: FrostNonces): void {
  nonces.secret.hiding.fill(0);
  nonces.secret.binding.fill(0);
}

/**
 * RFC 9591 §5.2 sign: this signer's share over `message` with the session's nonces, given the commitment
 * list of every signer (t..n entries, distinct indices, valid points, this signer's own commitment
 * unchanged). The nonces are consumed whatever the outcome. Throws FrostRequestError on a bad list.
 */
export function frostSignShare(
  share: FrostKeyShare,
  nonces: FrostNonces,
  message: Uint8Array,
  commitments: readonly FrostCommitment[],
): Uint8Array {
  try {
    if (!isBytes(message) || message.length > MESSAGE_BYTES_MAX)
      throw new FrostRequestError(
        `sign: message must be at most ${MESSAGE_BYTES_MAX} bytes, got ${describe(message)}`,
      );
    const list = checkCommitmentList(commitments, share.group);
    const own = list.find((c) => c.index === share.index);
    if (
      own === undefined ||
      !equalBytes(own.hiding, nonces.hiding) ||
      !equalBytes(own.binding, nonces.binding)
    )
      throw new FrostRequestError(
        "sign: the commitment list does not carry this signer's commitment for the session",
      );
    let signatureShare: Uint8Array;
    try {
      // noble refuses all-zero (used) nonces and a commitment that does not match them.
      signatureShare = suite.signShare(
        nobleSecret(share),
        noblePublic(share.group),
        nonces.secret,
        nobleCommitments(list),
        message,
      );
    } catch (e) {
      throw new FrostRequestError(`sign: ${e instanceof Error ? e.message : String(e)}`);
    }
    return new Uint8Array(signatureShare);
  } finally {
    eraseNonces(nonces);
  }
}

/**
 * A participant's signing endpoint (RFC 9591 §5.1–5.2). Holds one key share and the open sessions'
 * nonces. Invariant: a session's nonces sign at most once; they are zeroed when the session ends.
 */
export class FrostSigner {
  readonly index: number;
  readonly group: FrostGroupKey;
  private readonly share: FrostKeyShare;
  private readonly random: Random;
  private readonly open = new Map<string, FrostNonces>();
  private readonly finished = new Set<string>();
  private destroyed = false;

  constructor(share: FrostKeyShare, random: Random) {
    validateKeyShare(share);
    this.share = { group: share.group, index: share.index, signingShare: new Uint8Array(share.signingShare) };
    this.index = share.index;
    this.group = share.group;
    this.random = random;
  }

  /** Number of sessions whose nonces are still held. */
  get openSessions(): number {
    return this.open.size;
  }

  /** Round 1 (RFC 9591 §5.1): opens the session with fresh nonces; refuses a session identifier seen before. */
  commit(request: FrostCommitRequest): FrostCommitResponse {
    this.expectAlive();
    const sessionId = requestSessionId(request);
    const key = hex(sessionId);
    if (this.open.has(key) || this.finished.has(key))
      throw new FrostRequestError(
        `commit: session ${key} was already used; every session needs a fresh identifier`,
      );
    if (this.open.size >= OPEN_SESSIONS_MAX) {
      const oldest = this.open.keys().next().value!;
      this.endSession(oldest);
    }
    const session = frostCommit(this.share, this.random);
    this.open.set(key, session);
    return {
      sessionId: new Uint8Array(sessionId),
      index: this.index,
      hiding: new Uint8Array(session.hiding),
      binding: new Uint8Array(session.binding),
    };
  }

  /**
   * Round 2 (RFC 9591 §5.2): signs with the session's nonces and ends the session, whatever the outcome;
   * a second request for the same session is refused.
   */
  sign(request: FrostSignRequest): FrostSignResponse {
    this.expectAlive();
    const sessionId = requestSessionId(request);
    const key = hex(sessionId);
    const session = this.open.get(key);
    if (session === undefined) {
      if (this.finished.has(key))
        throw new FrostRequestError(`sign: session ${key} is finished; its nonces are gone`);
      throw new FrostRequestError(`sign: unknown session ${key}`);
    }
    // The session ends here, before anything can fail: its nonces are never used for a second message.
    this.open.delete(key);
    this.rememberFinished(key);
    const share = frostSignShare(this.share, session, request.message, request.commitments);
    return { sessionId: new Uint8Array(sessionId), index: this.index, share };
  }

  /** Ends a session without signing (its nonces are zeroed); unknown sessions are ignored. */
  abort(sessionId: Uint8Array): void {
    checkSessionId('sessionId', sessionId);
    this.endSession(hex(sessionId));
  }

  /** Zeroes the signing share and every open session's nonces; the signer refuses all later requests. */
  destroy(): void {
    for (const key of [...this.open.keys()]) this.endSession(key);
    this.share.signingShare.fill(0);
    this.destroyed = true;
  }

  private endSession(key: string): void {
    const s = this.open.get(key);
    if (s === undefined) return;
    eraseNonces(s);
    this.open.delete(key);
    this.rememberFinished(key);
  }

  private rememberFinished(key: string): void {
    addBounded(this.finished, key, FINISHED_SESSIONS_REMEMBERED);
  }

  private expectAlive(): void {
    if (this.destroyed) throw new FrostRequestError('signer was destroyed');
  }
}

function requestSessionId(request: unknown): Uint8Array {
  if (typeof request !== 'object' || request === null)
    throw new FrostRequestError(`request: expected an object, got ${describe(request)}`);
  const sessionId = (request as { sessionId?: unknown }).sessionId;
  if (
    !isBytes(sessionId) ||
    sessionId.length < SESSION_ID_BYTES_MIN ||
    sessionId.length > SESSION_ID_BYTES_MAX
  )
    throw new FrostRequestError(
      `request.sessionId: expected ${SESSION_ID_BYTES_MIN}..${SESSION_ID_BYTES_MAX} bytes, got ${describe(sessionId)}`,
    );
  return sessionId;
}

/** Checks a commitment list sent by a coordinator: t..n entries, distinct indices in range, 32-byte points. */
function checkCommitmentList(list: unknown, group: FrostGroupKey): FrostCommitment[] {
  if (!Array.isArray(list) || list.length < group.threshold || list.length > group.participants)
    throw new FrostRequestError(
      `commitments: expected ${group.threshold}..${group.participants} entries, got ${describe(list)}`,
    );
  const seen = new Set<number>();
  return list.map((c: unknown, k) => {
    const e = c as Partial<FrostCommitment> | null;
    if (typeof e !== 'object' || e === null || !isIndex(e.index, group.participants) || seen.has(e.index))
      throw new FrostRequestError(`commitments[${k}]: bad or duplicate index`);
    seen.add(e.index);
    // Lengths only: noble's signShare deserializes every point (RFC 9591 §3.1) and refuses an invalid one,
    // so checking them here too would double the costliest step (the subgroup check).
    if (!isBytes(e.hiding, POINT_BYTES) || !isBytes(e.binding, POINT_BYTES))
      throw new FrostRequestError(`commitments[${k}]: expected two ${POINT_BYTES}-byte points`);
    return { index: e.index, hiding: e.hiding, binding: e.binding };
  });
}

function nobleCommitments(list: readonly FrostCommitment[]): NonceCommitments[] {
  return list.map((c) => ({
    identifier: identifier(c.index),
    hiding: c.hiding as Uint8Array<ArrayBuffer>,
    binding: c.binding as Uint8Array<ArrayBuffer>,
  }));
}

// ---------------------------------------------------------------------------------------------------------
// Signing: the coordinator (client side)

/**
 * Builds the round-2 request from the signers' round-1 responses, checking each (session, index, points)
 * and naming the signers whose response is invalid.
 */
export function frostSignRequest(
  group: FrostGroupKey,
  sessionId: Uint8Array,
  message: Uint8Array,
  responses: readonly FrostCommitResponse[],
): FrostSignRequest {
  checkSessionId('sessionId', sessionId);
  if (!isBytes(message) || message.length > MESSAGE_BYTES_MAX)
    throw new RangeError(`message: expected at most ${MESSAGE_BYTES_MAX} bytes, got ${describe(message)}`);
  if (!isList(responses) || responses.length < group.threshold || responses.length > group.participants)
    throw new RangeError(
      `responses: expected ${group.threshold}..${group.participants} commitments, got ${describe(responses)}`,
    );
  const seen = new Set<number>();
  const culprits: number[] = [];
  const commitments: FrostCommitment[] = [];
  for (const r of responses) {
    if (!isIndex(r?.index, group.participants) || seen.has(r.index))
      throw new RangeError(
        'responses: each needs a distinct index in range (the caller pairs responses with signers)',
      );
    seen.add(r.index);
    if (
      !isBytes(r.sessionId) ||
      !equalBytes(r.sessionId, sessionId) ||
      decodeElement(r.hiding) === undefined ||
      decodeElement(r.binding) === undefined
    ) {
      culprits.push(r.index);
      continue;
    }
    commitments.push({
      index: r.index,
      hiding: new Uint8Array(r.hiding),
      binding: new Uint8Array(r.binding),
    });
  }
  if (culprits.length > 0) throw new FrostProtocolError('signing round 1: invalid commitment', culprits);
  commitments.sort((a, b) => a.index - b.index);
  return { sessionId: new Uint8Array(sessionId), message: new Uint8Array(message), commitments };
}

/**
 * RFC 9591 §5.4 share verification: the signers among `responses` whose signature share is invalid (wrong
 * session, non-canonical scalar, or z_i·G ≠ D_i + ρ_i·E_i + c·λ_i·Y_i), in increasing order. `responses`
 * may cover only some of the request's signers (others withheld theirs); each must be a distinct one.
 */
export function frostInvalidShares(
  group: FrostGroupKey,
  request: FrostSignRequest,
  responses: readonly FrostSignResponse[],
): number[] {
  const expected = new Set(request.commitments.map((c) => c.index));
  if (!isList(responses)) throw new TypeError(`responses: expected an array, got ${describe(responses)}`);
  const seen = new Set<number>();
  const culprits: number[] = [];
  const publicPackage = noblePublic(group);
  const list = nobleCommitments(request.commitments);
  for (const r of responses) {
    if (!isIndex(r?.index, group.participants) || !expected.has(r.index) || seen.has(r.index))
      throw new RangeError('responses: each needs a distinct index of a signer in the request');
    seen.add(r.index);
    const ok =
      isBytes(r.sessionId) &&
      equalBytes(r.sessionId, request.sessionId) &&
      decodeScalar(r.share) !== undefined &&
      suite.verifyShare(publicPackage, list, request.message, identifier(r.index), r.share);
    if (!ok) culprits.push(r.index);
  }
  return culprits.sort((a, b) => a - b);
}

/**
 * Verifies every signature share (RFC 9591 §5.4), naming the signers whose share is invalid, aggregates
 * them (§5.3) and verifies the result with node:crypto's Ed25519 (RFC 8032) before returning it.
 */
export function frostAggregate(
  group: FrostGroupKey,
  request: FrostSignRequest,
  responses: readonly FrostSignResponse[],
): Uint8Array {
  const culprits = frostInvalidShares(group, request, responses);
  if (culprits.length > 0) throw new FrostProtocolError('signing round 2: invalid signature share', culprits);
  const expected = new Set(request.commitments.map((c) => c.index));
  const seen = new Set(responses.map((r) => r.index));
  const shares: Record<string, Uint8Array<ArrayBuffer>> = {};
  for (const r of responses) shares[identifier(r.index)] = new Uint8Array(r.share);
  const publicPackage = noblePublic(group);
  const list = nobleCommitments(request.commitments);
  const missing = [...expected].filter((i) => !seen.has(i));
  if (missing.length > 0)
    throw new RangeError(`responses: missing the shares of signers ${missing.join(', ')}`);
  const signature = new Uint8Array(suite.aggregate(publicPackage, list, request.message, shares));
  // Invariant: valid shares aggregate to a valid RFC 8032 signature; never hand out one that is not.
  if (!nodeVerify(null, request.message, ed25519KeyObject(group.publicKey), signature))
    throw new Error('Invariant: the aggregated FROST signature verifies under the group key');
  return signature;
}

/** One signer as the coordinator reaches it (through the BFTKV client's transport). */
export interface FrostSignerEndpoint {
  readonly index: number;
  commit(request: FrostCommitRequest, signal?: AbortSignal): Promise<FrostCommitResponse>;
  sign(request: FrostSignRequest, signal?: AbortSignal): Promise<FrostSignResponse>;
}

/** A finished threshold signature with the signers that produced it and the culprits met on the way. */
export interface FrostSignResult {
  readonly signature: Uint8Array;
  readonly signers: readonly number[];
  readonly culprits: readonly number[];
  readonly unavailable: readonly number[];
}

/**
 * Drives a whole signing: picks t signers, runs both rounds under a fresh session identifier and, when a
 * signer fails or misbehaves, drops it and starts again with a fresh session and another t-set. Succeeds
 * while t well-behaved signers answer; otherwise throws FrostThresholdError naming the culprits. At most
 * n − t + 1 attempts (each failed attempt removes at least one signer).
 */
export async function frostSign(options: {
  group: FrostGroupKey;
  message: Uint8Array;
  endpoints: readonly FrostSignerEndpoint[];
  random: Random;
  signal?: AbortSignal;
}): Promise<FrostSignResult> {
  const { group, message, endpoints, random, signal } = options;
  validateGroupKey(group);
  if (!isBytes(message) || message.length > MESSAGE_BYTES_MAX)
    throw new RangeError(`message: expected at most ${MESSAGE_BYTES_MAX} bytes, got ${describe(message)}`);
  if (!isList(endpoints) || endpoints.length > group.participants)
    throw new RangeError(`endpoints: expected at most ${group.participants}, got ${describe(endpoints)}`);
  const byIndex = new Map<number, FrostSignerEndpoint>();
  for (const e of endpoints) {
    checkIndex('endpoints[].index', e.index, group.participants);
    if (byIndex.has(e.index)) throw new RangeError(`endpoints: index ${e.index} appears twice`);
    byIndex.set(e.index, e);
  }
  const culprits = new Set<number>();
  const unavailable = new Set<number>();
  const usable = () =>
    [...byIndex.keys()].filter((i) => !culprits.has(i) && !unavailable.has(i)).sort((a, b) => a - b);
  const fail = (why: string): never => {
    const c = [...culprits].sort((a, b) => a - b);
    const u = [...unavailable].sort((a, b) => a - b);
    throw new FrostThresholdError(
      `FROST signing failed: ${why}; ${usable().length} usable signers of ${group.threshold} needed ` +
        `(culprits: ${c.join(', ') || 'none'}; unavailable: ${u.join(', ') || 'none'})`,
      c,
      u,
    );
  };
  let usableBefore = Number.POSITIVE_INFINITY;
  while (true) {
    signal?.throwIfAborted();
    const candidates = usable();
    // Invariant: every failed attempt drops at least one signer, so there are at most n − t + 1 attempts.
    if (candidates.length >= usableBefore)
      throw new Error('Invariant: a failed FROST attempt drops a signer');
    usableBefore = candidates.length;
    if (candidates.length < group.threshold) return fail('too few signers');
    const chosen = candidates.slice(0, group.threshold);
    const sessionId = random.bytes(32);
    // Round 1.
    const commits = await Promise.allSettled(
      chosen.map((i) => byIndex.get(i)!.commit({ sessionId }, signal)),
    );
    const commitResponses: FrostCommitResponse[] = [];
    commits.forEach((r, k) => {
      const i = chosen[k]!;
      if (r.status === 'rejected') unavailable.add(i);
      else if (r.value?.index !== i) culprits.add(i);
      else commitResponses.push(r.value);
    });
    if (commitResponses.length < chosen.length) continue;
    let request: FrostSignRequest;
    try {
      request = frostSignRequest(group, sessionId, message, commitResponses);
    } catch (e) {
      if (!(e instanceof FrostProtocolError)) throw e;
      for (const c of e.culprits) culprits.add(c);
      continue;
    }
    // Round 2.
    signal?.throwIfAborted();
    const signs = await Promise.allSettled(chosen.map((i) => byIndex.get(i)!.sign(request, signal)));
    const signResponses: FrostSignResponse[] = [];
    signs.forEach((r, k) => {
      const i = chosen[k]!;
      if (r.status === 'rejected') unavailable.add(i);
      else if (r.value?.index !== i) culprits.add(i);
      else signResponses.push(r.value);
    });
    if (signResponses.length < chosen.length) continue;
    try {
      const signature = frostAggregate(group, request, signResponses);
      return {
        signature,
        signers: chosen,
        culprits: [...culprits].sort((a, b) => a - b),
        unavailable: [...unavailable].sort((a, b) => a - b),
      };
    } catch (e) {
      if (!(e instanceof FrostProtocolError)) throw e;
      for (const c of e.culprits) culprits.add(c);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// The Ed25519 prime-order group for share redistribution (src/protocol/ca/reshare.ts)

/** An Ed25519 group element (prime-order subgroup) as resharing handles it. */
export type Ed25519Element = EdPoint;

/** The prime-order subgroup of edwards25519 and its scalars (little-endian, RFC 9591 encodings). */
export const ED25519_RESHARE_GROUP = {
  id: utf8('edwards25519'),
  q: Fn.ORDER,
  scalarBytes: SCALAR_BYTES,
  encodeScalar: (s: bigint): Uint8Array => Fn.toBytes(Fn.create(s)),
  decodeScalar: (bytes: Uint8Array): bigint | undefined => decodeScalar(bytes),
  encodeElement: (e: EdPoint): Uint8Array => e.toBytes(),
  decodeElement: (bytes: Uint8Array): EdPoint | undefined => decodeElement(bytes),
  // Secret scalars use the constant-time ladder; zero (probability 2^-252) has no ladder in noble.
  base: (s: bigint): EdPoint => (Fn.create(s) === 0n ? Point.ZERO : Point.BASE.multiply(Fn.create(s))),
  msm: (points: readonly EdPoint[], scalars: readonly bigint[]): EdPoint =>
    points.reduce((acc, p, i) => acc.add(p.multiplyUnsafe(Fn.create(scalars[i]!))), Point.ZERO),
  equals: (a: EdPoint, b: EdPoint): boolean => a.equals(b),
  randomScalar: (random: Random): bigint => Fn.create(bytesToNumberLE(random.bytes(SCALAR_BYTES + 16))),
};

function bytesToNumberLE(b: Uint8Array): bigint {
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
  return v;
}
