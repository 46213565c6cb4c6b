/**
 * The two RSA schemes of the distributed CA behind the scheme contract (scheme.ts). Both output standard
 * RSASSA-PKCS1-v1_5 signatures with a SHA-256 DigestInfo (RFC 8017 §8.2), byte-for-byte what the whole key
 * would produce, so `openssl dgst -sha256 -verify` and node:crypto accept them unmodified.
 *
 * - `rsa-shoup` (new keys): Shoup, "Practical Threshold Signatures" (EUROCRYPT 2000, `004_…`), with the
 *   client as the trusted dealer (rsa-shoup.ts). create: the coordinator generates two safe primes with
 *   node:crypto, deals one share per holder, seals each share to its holder's X25519 key, and drops the key;
 *   each holder checks its share against the verification keys (v^{s_i} = v_i) and the whole dealing
 *   (checkShoupVerificationKeys), stores it, and acknowledges with its node key. sign: one round; each
 *   holder returns x^{2Δ s_i} with its proof of correctness; any k valid shares combine. No import: Shoup
 *   needs safe primes, which an existing key almost never has.
 * - `rsa-additive` (existing keys): BFTKV paper §3.4 (rsa-additive.ts): d = Σ d_T mod φ(N) over the
 *   recursive compensation tree. import: the coordinator splits the PEM key and deals; create: node:crypto
 *   generates a standard RSA key that is then imported. sign: the AdditiveSigningSession rounds; a holder
 *   that does not answer (or answers wrongly) is compensated by its children's holders in the next round.
 *
 * Thresholds (decided for the CA, docs/PROTOCOL.md §15): both schemes need k = n − b holders to sign
 * (7 of 10, 3 of 4), b = ⌊(n − 1)/3⌋ from the group directory. b holders down or refusing cannot stop
 * signing, and n − b − 1 colluding holders cannot sign (Shoup: a polynomial of degree k − 1; additive:
 * every piece a coalition of fewer than t holders sees is uniform, rsa-additive.ts §Secrecy).
 *
 * Messages. Every body has a canonical, bounded encoding (ByteReader; every field named and bounded;
 * trailing bytes refused). Shares travel sealed (gjkr-seal.ts: X25519 + HKDF + AES-256-GCM) to the
 * holder's static key with the session id, the holder index and the public key's hash as associated
 * data, so the relaying service sees no share and a box cannot be moved to another holder, session or key.
 * Acknowledgements are node-key signatures over (scheme, sid, index, SHA-256 of the public key). Every
 * proof of correctness binds the session id (the proof context), the key, the holder and the digest.
 *
 * Rounds. Setup waits for every holder (a share that misses its holder is lost: the dealer keeps nothing).
 * Shoup signing asks all n holders with `need` = k, counting only shares whose proofs verify, so the round
 * ends once k valid shares are in (plus the service's grace) and wrong shares arriving first cannot end it
 * early; with fewer than k valid shares by the deadline signing fails with the culprits named. Shares are
 * single-use per session id, so there is no
 * second round to ask the late holders. Additive signing passes `need` = the holders asked minus the
 * failures the tree can still absorb; a holder that misses a round is compensated in the next one.
 *
 * Sessions. Setup and Shoup signing are single requests: the holder remembers the session id as used
 * (a bounded set, oldest forgotten first) and keeps no other state. Additive signing keeps, per session, the
 * authorized digest's tree nodes already signed (no secret: the pieces stay in the stored share), for at
 * most `sessionTtlMs`; a replayed or overlapping request, a request after expiry, and a reopened session id
 * are refused with 'session'; any refusal ends the session.
 *
 * Erasure. The dealer drops every reference to p, q, d, φ(N), the polynomial and the shares as soon as the
 * sealed boxes exist, and zeroes the byte buffers it encoded shares into. JavaScript cannot guarantee the
 * erasure of bigints or strings (immutable, garbage-collected, possibly copied): they disappear only when
 * collected. Known limitation, like the timing of holders' exponentiations with their secret exponents:
 * BigInt arithmetic is not constant-time, and modPow and the fixed-base tables (rsa-common.ts) index tables
 * by, and skip zero digits of, the secret exponent. Noted, not solved (node:crypto offers no modexp with a
 * secret exponent modulo an N whose factors it is not given).
 */
import { generateKeyPair, generateKeyPairSync, generatePrimeSync, type RSAKeyPairOptions } from 'node:crypto';
import { ByteReader, ByteWriter, CodecError, bytesEqual, toHex } from '../../codec/bytes.js';
import { secureRandom, type Random } from '../../env/random.js';
import { sha256 } from '../../crypto/hash.js';
import { open, seal } from '../../crypto/threshold/gjkr-seal.js';
import { ThresholdRsaError, type Culprit } from '../../crypto/threshold/rsa-common.js';
import {
  MODULUS_BITS_MAX,
  MODULUS_BITS_MIN,
  bigintToBytes,
  os2ip,
  rsaPrivateKeyFromPem,
  rsaPublicKeyToPem,
  verifyPkcs1Digest,
  type RsaSignMessage,
} from '../../crypto/threshold/rsa-pkcs1.js';
import {
  SHOUP_PLAYERS_MAX,
  checkShoupShare,
  checkShoupVerificationKeys,
  decodeShoupPublicKey,
  decodeShoupShare,
  decodeShoupSignatureShare,
  encodeShoupPublicKey,
  encodeShoupShare,
  encodeShoupSignatureShare,
  backgroundSafePrime,
  generateShoupKey,
  ShoupShareVerifier,
  shoupSignShare,
  type ShoupDealing,
  type ShoupResponse,
  type ShoupShare,
} from '../../crypto/threshold/rsa-shoup.js';
import {
  ADDITIVE_SERVERS_MAX,
  ADDITIVE_TREE_NODES_MAX,
  AdditiveSigningSession,
  additiveRecordId,
  checkAdditiveShare,
  dealAdditive,
  decodeAdditivePartials,
  decodeAdditivePublicRecord,
  decodeAdditiveShare,
  decodeAdditiveSignRequest,
  encodeAdditivePartials,
  encodeAdditivePublicRecord,
  encodeAdditiveShare,
  encodeAdditiveSignRequest,
  heldNodes,
  partialSignAdditive,
  pathKey,
  treeSize,
  type AdditiveDealing,
  type AdditivePublicRecord,
  type AdditiveShare,
} from '../../crypto/threshold/rsa-additive.js';
import {
  CA_SESSION_ID_BYTES,
  SchemeError,
  SchemeFailure,
  type CaScheme,
  type CreatedKey,
  type GroupDirectory,
  type HolderIdentity,
  type RoundTrip,
  type SchemeCoordinator,
  type SchemeCulprit,
  type SchemeHolder,
  type SchemeSignature,
  type SetupReply,
  type SignInput,
  type StoredKey,
} from './scheme.js';
import { addBounded } from '../../collections/bounded.js';

/** Modulus size of keys the coordinators create unless told otherwise (bits). */
export const RSA_MODULUS_BITS_DEFAULT = 2048;
/** How long a holder keeps an additive signing session (ms). */
export const RSA_SESSION_TTL_MS = 60_000;
/**
 * Additive signing sessions a holder keeps open at once. A session holds no secret, only the ≤ 586 node
 * names it signed (a few KB), and cannot be closed by the client, so the bound is set by throughput:
 * 1,024 per minute per holder.
 */
export const RSA_SESSIONS_MAX = 1024;
/** Session ids a holder remembers as used (oldest forgotten first). */
export const RSA_USED_SESSION_IDS_MAX = 65_536;
/** Round names the coordinators use (the service routes and logs them). */
export const RSA_ROUNDS = { deal: 'deal', sign: 'sign' } as const;

/** Options of an RSA holder; every field has a default. */
export interface RsaHolderOptions {
  /** Randomness of the proofs of correctness (default: node:crypto). */
  readonly random?: Random;
  readonly sessionTtlMs?: number;
  readonly sessionsMax?: number;
  readonly usedSessionIdsMax?: number;
}

/** Options of an RSA coordinator. */
export interface RsaCoordinatorOptions {
  /** Modulus size of created keys, even, 512..8192 bits (default 2048; tests use 512 or 1024). */
  readonly modulusBits?: number;
  /** Where new key material comes from (default `backgroundRsaKeys`). */
  readonly rsaKeys?: RsaKeySource;
}

/** Where a coordinator gets new RSA key material (both from OpenSSL through node:crypto). */
export interface RsaKeySource {
  /** A safe prime of `bits` bits (a Shoup modulus is two of them). */
  readonly safePrime: (bits: number) => Promise<bigint>;
  /** A PKCS#8 PEM RSA private key with e = 65537 (the additive scheme's dealer). */
  readonly privateKeyPem: (bits: number) => Promise<string>;
}

/** node:crypto's options for an RSA key of `bits` bits, e = 65537, both halves as PEM. */
const rsaKeyOptions = (bits: number): RSAKeyPairOptions<'pem', 'pem'> => ({
  modulusLength: bits,
  publicExponent: 65537,
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  publicKeyEncoding: { type: 'spki', format: 'pem' },
});

/** Generation in libuv's thread pool: the event loop keeps serving while primes are searched. */
export const backgroundRsaKeys: RsaKeySource = {
  safePrime: backgroundSafePrime,
  privateKeyPem: (bits) =>
    new Promise<string>((resolve, reject) =>
      generateKeyPair('rsa', rsaKeyOptions(bits), (err, _publicKey, privateKey) =>
        err ? reject(err) : resolve(privateKey),
      ),
    ),
};

/**
 * Generation on the calling thread. For the simulator: its virtual clock only moves while the task waits,
 * so work running in the thread pool races simulated time (a slow prime search under load looked like a
 * stalled holder); done inline, the search takes no simulated time at all.
 */
export const inlineRsaKeys: RsaKeySource = {
  safePrime: (bits) => Promise.resolve(generatePrimeSync(bits, { safe: true, bigint: true })),
  privateKeyPem: (bits) => Promise.resolve(generateKeyPairSync('rsa', rsaKeyOptions(bits)).privateKey),
};

/** Holders needed to sign in a group of n tolerating b: k = n − b (7 of 10, 3 of 4). */
export function rsaSigningThreshold(group: Pick<GroupDirectory, 'n' | 'b'>): number {
  const { n, b } = group;
  if (!Number.isInteger(n) || n < 1 || !Number.isInteger(b) || b < 0 || b >= n)
    throw new RangeError(`group: expected integers n ≥ 1 and 0 ≤ b < n, got n = ${n}, b = ${b}`);
  return n - b;
}

// ---- Wire format ----

const VERSION = 1;
const HASH_SHA256 = 1;
const DIGEST_BYTES = 32;
const SIGNATURE_BYTES_MAX = 1024;
const MODULUS_BYTES_MAX = MODULUS_BITS_MAX / 8;
/** A sealed Shoup share: u16 index ‖ u32 length ‖ s_i (< N), plus the box overhead. */
const SHOUP_BOX_BYTES_MAX = 2 + 4 + MODULUS_BYTES_MAX + 64;
/** A Shoup public key: N, e, v and l verification keys, each length-prefixed, plus the header. */
const SHOUP_PUBLIC_KEY_BYTES_MAX = 16 + (SHOUP_PLAYERS_MAX + 3) * (4 + MODULUS_BYTES_MAX);
/** An additive public record: N, e, v and one 32-byte root per server. */
const ADDITIVE_RECORD_BYTES_MAX = 16 + 3 * (4 + MODULUS_BYTES_MAX) + 32 * ADDITIVE_SERVERS_MAX;
const TAG = {
  shoupDeal: 'bftkv/ca/rsa-shoup/deal/v1',
  shoupAck: 'bftkv/ca/rsa-shoup/ack/v1',
  additiveDeal: 'bftkv/ca/rsa-additive/deal/v1',
  additiveAck: 'bftkv/ca/rsa-additive/ack/v1',
} as const;

/** A deal request: the public key (same for everyone) and this holder's sealed share. */
interface DealRequest {
  readonly publicKey: Uint8Array;
  readonly box: Uint8Array;
}

function encodeDeal(request: DealRequest): Uint8Array {
  return new ByteWriter(16 + request.publicKey.length + request.box.length)
    .u8(VERSION)
    .bytes(request.publicKey)
    .bytes(request.box)
    .finish();
}

function decodeDeal(body: Uint8Array, publicKeyBytesMax: number, boxBytesMax: number): DealRequest {
  const r = new ByteReader(body);
  readVersion(r, 'deal.version');
  const publicKey = r.bytes(publicKeyBytesMax, 'deal.publicKey');
  const box = r.bytes(boxBytesMax, 'deal.box');
  r.finish('deal');
  return { publicKey, box };
}

/** Associated data of a sealed share: scheme, session, recipient, and the public key it belongs to. */
function dealAad(tag: string, sid: Uint8Array, index: number, publicKey: Uint8Array): Uint8Array {
  return new ByteWriter(128).string(tag).raw(sid).u16(index).raw(sha256(publicKey)).finish();
}

/** What a holder's node key signs to acknowledge that it stored its share of `publicKey`. */
function ackStatement(tag: string, sid: Uint8Array, index: number, publicKey: Uint8Array): Uint8Array {
  return new ByteWriter(128).string(tag).raw(sid).u16(index).raw(sha256(publicKey)).finish();
}

function encodeAck(signature: Uint8Array): Uint8Array {
  return new ByteWriter(8 + signature.length).u8(VERSION).bytes(signature).finish();
}

function decodeAck(body: Uint8Array): Uint8Array {
  const r = new ByteReader(body);
  readVersion(r, 'ack.version');
  const signature = r.bytes(SIGNATURE_BYTES_MAX, 'ack.signature');
  r.finish('ack');
  return signature;
}

/** A Shoup signing request: the SHA-256 digest to sign (the session id is the proof context). */
function encodeShoupSignRequest(digest: Uint8Array): Uint8Array {
  return new ByteWriter(40).u8(VERSION).u8(HASH_SHA256).raw(digest).finish();
}

function decodeShoupSignRequest(body: Uint8Array): Uint8Array {
  const r = new ByteReader(body);
  readVersion(r, 'shoupSign.version');
  if (r.u8('shoupSign.hash') !== HASH_SHA256) throw new CodecError('shoupSign.hash', 'expected SHA-256');
  const digest = r.raw(DIGEST_BYTES, 'shoupSign.digest');
  r.finish('shoupSign');
  return digest;
}

function readVersion(r: ByteReader, field: string): void {
  const v = r.u8(field);
  if (v !== VERSION) throw new CodecError(field, `unknown version ${v}`);
}

// ---- Shared holder machinery ----

function checkSid(sid: Uint8Array): string {
  if (!(sid instanceof Uint8Array) || sid.length !== CA_SESSION_ID_BYTES)
    throw new SchemeError('malformed', `sid: expected ${CA_SESSION_ID_BYTES} bytes`);
  return toHex(sid);
}

/** The SHA-256 digest of `input`, or a refusal: RSA signs SHA-256 digests only. */
function authorizedDigest(input: SignInput): Uint8Array {
  if (
    input?.kind !== 'digest' ||
    input.hash !== 'sha256' ||
    !(input.digest instanceof Uint8Array) ||
    input.digest.length !== DIGEST_BYTES
  )
    throw new SchemeError('refused', 'RSA signs SHA-256 digests only');
  return input.digest;
}

/** Maps a decoding or crypto failure to a typed refusal; anything else is a bug and propagates. */
function refusalOf(err: unknown, what: string): SchemeError {
  if (err instanceof SchemeError) return err;
  if (err instanceof CodecError) return new SchemeError('malformed', `${what}: ${err.message}`);
  // A share that does not match the public data, a node this holder does not hold: well formed, refused.
  if (err instanceof ThresholdRsaError) return new SchemeError('refused', `${what}: ${err.message}`);
  if (err instanceof RangeError || err instanceof TypeError)
    return new SchemeError('malformed', `${what}: ${err.message}`);
  throw err;
}

/**
 * Session ids and per-session state of one holder. Invariant: a session id opens at most once while it is
 * remembered (open sessions plus the last `usedMax` ended ones); state is dropped when the session ends,
 * on any refusal inside it, and after `ttlMs`.
 */
class SessionBook<S> {
  private readonly sessions = new Map<string, { readonly openedAtMs: number; readonly state: S }>();
  private readonly used = new Set<string>();

  constructor(
    private readonly ttlMs: number,
    private readonly sessionsMax: number,
    private readonly usedMax: number,
  ) {
    for (const [name, value] of [
      ['sessionTtlMs', ttlMs],
      ['sessionsMax', sessionsMax],
      ['usedSessionIdsMax', usedMax],
    ] as const)
      if (!Number.isInteger(value) || value < 1)
        throw new RangeError(`${name}: expected a positive integer, got ${value}`);
  }

  /** Marks `id` used for a single-request exchange; 'session' if it was seen before. */
  claim(id: string): void {
    if (this.used.has(id) || this.sessions.has(id))
      throw new SchemeError('session', 'this session id was used before');
    this.remember(id);
  }

  /** The open session `id` (undefined if none); 'session' if it expired (and it is erased) or ended. */
  get(id: string, nowMs: number): S | undefined {
    const entry = this.sessions.get(id);
    if (entry === undefined) {
      if (this.used.has(id)) throw new SchemeError('session', 'the session has ended');
      return undefined;
    }
    if (nowMs - entry.openedAtMs > this.ttlMs) {
      this.end(id);
      throw new SchemeError('session', 'the session outlived its time to live');
    }
    return entry.state;
  }

  /** Opens session `id` with `state`; 'refused' when too many are open. */
  open(id: string, nowMs: number, state: S): S {
    if (this.sessions.size >= this.sessionsMax) {
      this.expire(nowMs);
      if (this.sessions.size >= this.sessionsMax)
        throw new SchemeError('refused', `${this.sessionsMax} sessions are open`);
    }
    this.sessions.set(id, { openedAtMs: nowMs, state });
    return state;
  }

  /** Ends session `id`: its state is dropped and the id stays used. */
  end(id: string): void {
    this.sessions.delete(id);
    this.remember(id);
  }

  expire(nowMs: number): void {
    for (const [id, entry] of this.sessions) if (nowMs - entry.openedAtMs > this.ttlMs) this.end(id);
  }

  private remember(id: string): void {
    addBounded(this.used, id, this.usedMax);
  }
}

function holderBook<S>(options: RsaHolderOptions): SessionBook<S> {
  return new SessionBook<S>(
    options.sessionTtlMs ?? RSA_SESSION_TTL_MS,
    options.sessionsMax ?? RSA_SESSIONS_MAX,
    options.usedSessionIdsMax ?? RSA_USED_SESSION_IDS_MAX,
  );
}

/** k = n − b for a holder's own group, as a refusal if the directory is unusable. */
function holderThreshold(identity: HolderIdentity): number {
  try {
    return rsaSigningThreshold(identity);
  } catch (err) {
    throw new SchemeError('refused', err instanceof Error ? err.message : String(err));
  }
}

/**
 * Opens this holder's sealed share of a deal request and checks its public part against the group:
 * returns the plaintext share bytes (the caller decodes and checks them, then zeroes the buffer).
 */
function openShare(tag: string, identity: HolderIdentity, sid: Uint8Array, deal: DealRequest): Uint8Array {
  const plaintext = open(identity.encryption, deal.box, dealAad(tag, sid, identity.index, deal.publicKey));
  if (plaintext === undefined)
    throw new SchemeError('malformed', 'deal.box: does not open for this holder, session and key');
  return plaintext;
}

function ackReply(tag: string, identity: HolderIdentity, sid: Uint8Array, key: StoredKey): SetupReply {
  const signature = identity.sign(ackStatement(tag, sid, identity.index, key.publicKey));
  return { response: encodeAck(signature), key };
}

// ---- Shared coordinator machinery ----

function checkGroup(group: GroupDirectory, nMax: number): number {
  const k = rsaSigningThreshold(group);
  if (group.n > nMax) throw new RangeError(`group.n: at most ${nMax} holders, got ${group.n}`);
  return k;
}

function checkCoordinatorSid(sid: Uint8Array): void {
  if (!(sid instanceof Uint8Array) || sid.length !== CA_SESSION_ID_BYTES)
    throw new RangeError(`sid: expected ${CA_SESSION_ID_BYTES} bytes, got ${String(sid?.length)}`);
}

function checkModulusBits(bits: number): number {
  if (!Number.isInteger(bits) || bits % 2 !== 0 || bits < MODULUS_BITS_MIN || bits > MODULUS_BITS_MAX)
    throw new RangeError(
      `modulusBits: expected an even integer in ${MODULUS_BITS_MIN}..${MODULUS_BITS_MAX}, got ${bits}`,
    );
  return bits;
}

function range1(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1);
}

/** A dealing reduced to what leaves the dealer: the public key bytes and one sealed share per holder. */
interface SealedDealing {
  readonly publicKey: Uint8Array;
  readonly boxes: ReadonlyMap<number, Uint8Array>;
}

/**
 * Seals each share's encoding (`encodeShare(i)`, zeroed after sealing) to holder i's X25519 key, bound to
 * the session, the holder and the public key. Holders without an attested key get nothing (and do not
 * store). The caller's dealing goes out of scope when this returns.
 */
function sealShares(
  tag: string,
  group: GroupDirectory,
  sid: Uint8Array,
  publicKey: Uint8Array,
  indices: readonly number[],
  encodeShare: (index: number) => Uint8Array,
  random: Random,
): SealedDealing {
  const boxes = new Map<number, Uint8Array>();
  for (const i of indices) {
    const recipientKey = group.encryptionKey(i);
    if (recipientKey === undefined) continue;
    const plaintext = encodeShare(i);
    boxes.set(i, seal(recipientKey, plaintext, dealAad(tag, sid, i, publicKey), random));
    plaintext.fill(0);
  }
  return { publicKey, boxes };
}

/**
 * Delivers sealed shares and checks the acknowledgements: a holder that answers with anything but its
 * node-key signature over (sid, index, key hash) is a culprit; one that does not answer did not store.
 * Fewer than k stored shares: SchemeFailure (the key could not sign).
 */
async function deliver(
  tag: { deal: string; ack: string },
  group: GroupDirectory,
  sid: Uint8Array,
  { publicKey, boxes }: SealedDealing,
  k: number,
  rt: RoundTrip,
): Promise<CreatedKey> {
  const bodies = new Map<number, Uint8Array>();
  for (const [i, box] of boxes) bodies.set(i, encodeDeal({ publicKey, box }));
  const to = [...bodies.keys()];
  const answers = await rt(RSA_ROUNDS.deal, to, (i) => bodies.get(i)!);
  bodies.clear();
  const stored: number[] = [];
  const culprits: SchemeCulprit[] = [];
  for (const i of to) {
    const answer = answers.get(i);
    if (answer === undefined) continue;
    let signature: Uint8Array;
    try {
      signature = decodeAck(answer);
    } catch (err) {
      if (!(err instanceof CodecError)) throw err;
      culprits.push({ index: i, reason: `undecodable acknowledgement: ${err.message}` });
      continue;
    }
    if (group.verify(i, ackStatement(tag.ack, sid, i, publicKey), signature)) stored.push(i);
    else culprits.push({ index: i, reason: 'acknowledgement not signed by its node key' });
  }
  if (stored.length < k) {
    // Silence is not provable misbehaviour: silent holders are listed in the message, not as culprits.
    const silent = to.filter((i) => answers.get(i) === undefined);
    throw new SchemeFailure(
      `${stored.length} holders stored their shares, ${k} are needed to sign (no answer from: ${silent.join(', ') || 'none'})`,
      culprits,
    );
  }
  return { publicKey, stored, culprits };
}

function culpritsOf(list: readonly Culprit[]): SchemeCulprit[] {
  return list.map((c) => ({ index: c.party, reason: c.reason }));
}

function signMessage(sid: Uint8Array, digest: Uint8Array): RsaSignMessage {
  return { context: sid, hash: 'sha256', digest };
}

function inputDigest(input: SignInput): Uint8Array {
  if (input?.kind !== 'digest' || input.hash !== 'sha256')
    throw new TypeError(`input: RSA signs a SHA-256 digest, got ${String(input?.kind)}`);
  if (!(input.digest instanceof Uint8Array) || input.digest.length !== DIGEST_BYTES)
    throw new RangeError(`input.digest: expected ${DIGEST_BYTES} bytes, got ${String(input.digest?.length)}`);
  return input.digest;
}

/** node:crypto verification of a PKCS#1 v1.5 SHA-256 signature over `input`'s digest; never throws. */
function verifyWith(
  decode: (publicKey: Uint8Array) => { n: bigint; e: bigint },
  publicKey: Uint8Array,
  input: SignInput,
  signature: Uint8Array,
): boolean {
  try {
    if (input?.kind !== 'digest' || input.hash !== 'sha256') return false;
    return verifyPkcs1Digest(decode(publicKey), signMessage(new Uint8Array(), input.digest), signature);
  } catch {
    return false;
  }
}

// ---- rsa-shoup ----

/** Holder side of 'rsa-shoup' (Shoup §3 with the client as dealer). */
export function rsaShoupHolder(options: RsaHolderOptions = {}): SchemeHolder {
  const random = options.random ?? secureRandom;
  const book = holderBook<never>(options);
  return {
    async setup(identity, sid, body, _nowMs) {
      book.claim(checkSid(sid));
      try {
        const deal = decodeDeal(body, SHOUP_PUBLIC_KEY_BYTES_MAX, SHOUP_BOX_BYTES_MAX);
        const publicKey = decodeShoupPublicKey(deal.publicKey);
        const k = holderThreshold(identity);
        if (publicKey.players !== identity.n || publicKey.threshold !== k)
          throw new SchemeError(
            'refused',
            `deal: (k, l) = (${publicKey.threshold}, ${publicKey.players}), this group needs (${k}, ${identity.n})`,
          );
        const plaintext = openShare(TAG.shoupDeal, identity, sid, deal);
        let share: ShoupShare;
        try {
          const r = new ByteReader(plaintext);
          const index = r.u16('shoupBox.index');
          const secretBytes = r.bytes(MODULUS_BYTES_MAX, 'shoupBox.secret');
          if (secretBytes[0] === 0) throw new CodecError('shoupBox.secret', 'leading zero byte');
          const secret = os2ip(secretBytes);
          secretBytes.fill(0);
          r.finish('shoupBox');
          share = { index, secret, publicKey };
        } finally {
          plaintext.fill(0);
        }
        if (share.index !== identity.index)
          throw new SchemeError(
            'refused',
            `deal: share for holder ${share.index}, this is ${identity.index}`,
          );
        checkShoupShare(share);
        checkShoupVerificationKeys(publicKey);
        return ackReply(TAG.shoupAck, identity, sid, {
          share: encodeShoupShare(share),
          publicKey: deal.publicKey,
        });
      } catch (err) {
        throw refusalOf(err, 'rsa-shoup setup');
      }
    },

    async sign(identity, key, sid, input, body, _nowMs) {
      book.claim(checkSid(sid));
      try {
        const digest = decodeShoupSignRequest(body);
        if (!bytesEqual(digest, authorizedDigest(input)))
          throw new SchemeError('refused', 'the request signs another digest than the authorized one');
        const share = storedShoupShare(identity, key);
        const signatureShare = shoupSignShare(share, signMessage(sid, digest), random);
        return encodeShoupSignatureShare(signatureShare);
      } catch (err) {
        throw refusalOf(err, 'rsa-shoup sign');
      }
    },

    expire(nowMs) {
      book.expire(nowMs);
    },
  };
}

function sealShoupDealing(
  dealing: ShoupDealing,
  group: GroupDirectory,
  sid: Uint8Array,
  random: Random,
): SealedDealing {
  const { shares } = dealing;
  const encode = (i: number): Uint8Array =>
    new ByteWriter(8 + MODULUS_BYTES_MAX)
      .u16(i)
      .bytes(bigintToBytes(shares[i - 1]!.secret))
      .finish();
  const publicKey = encodeShoupPublicKey(dealing.publicKey);
  return sealShares(TAG.shoupDeal, group, sid, publicKey, range1(shares.length), encode, random);
}

function storedShoupShare(identity: HolderIdentity, key: StoredKey): ShoupShare {
  let share: ShoupShare;
  try {
    share = decodeShoupShare(key.share);
  } catch (err) {
    throw new SchemeError('refused', `stored share: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (share.index !== identity.index || !bytesEqual(encodeShoupPublicKey(share.publicKey), key.publicKey))
    throw new SchemeError('refused', 'stored share: not this holder’s share of this key');
  return share;
}

/** Client side of 'rsa-shoup': the dealer at creation, the combiner when signing. */
export function rsaShoupCoordinator(options: RsaCoordinatorOptions = {}): SchemeCoordinator {
  const modulusBits = checkModulusBits(options.modulusBits ?? RSA_MODULUS_BITS_DEFAULT);
  const keys = options.rsaKeys ?? backgroundRsaKeys;
  const scheme: CaScheme = 'rsa-shoup';
  return {
    scheme,
    input: 'digest',
    x509Algorithm: 'rsa-sha256',

    async create(group, sid, rt, random) {
      checkCoordinatorSid(sid);
      const k = checkGroup(group, SHOUP_PLAYERS_MAX);
      // Every share is sealed before any message leaves; p, q, d and the shares stay inside this call.
      const sealed = sealShoupDealing(
        await generateShoupKey(
          { modulusBits, players: group.n, threshold: k, safePrime: keys.safePrime },
          random,
        ),
        group,
        sid,
        random,
      );
      return deliver({ deal: TAG.shoupDeal, ack: TAG.shoupAck }, group, sid, sealed, k, rt);
    },

    async sign(group, publicKeyBytes, sid, input, rt, _random) {
      checkCoordinatorSid(sid);
      const digest = inputDigest(input);
      const k = checkGroup(group, SHOUP_PLAYERS_MAX);
      const publicKey = decodeShoupPublicKey(publicKeyBytes);
      if (publicKey.players !== group.n || publicKey.threshold !== k)
        throw new RangeError(
          `publicKey: (k, l) = (${publicKey.threshold}, ${publicKey.players}), the group has (${k}, ${group.n})`,
        );
      const body = encodeShoupSignRequest(digest);
      // Only shares whose proofs verify count towards k: wrong shares arriving first cannot end the round.
      // The verifier remembers each check, so combining does not verify the same shares again.
      const verifier = new ShoupShareVerifier(publicKey, signMessage(sid, digest), group.n);
      const valid = (from: number, answer: Uint8Array) => {
        try {
          return verifier.check(from, decodeShoupSignatureShare(answer, publicKey)).ok;
        } catch {
          return false;
        }
      };
      const answers = await rt(RSA_ROUNDS.sign, range1(group.n), () => body, k, valid);
      const responses: ShoupResponse[] = [];
      const undecodable: SchemeCulprit[] = [];
      for (const [from, answer] of answers) {
        if (answer === undefined) continue;
        try {
          responses.push({ from, share: decodeShoupSignatureShare(answer, publicKey) });
        } catch (err) {
          if (!(err instanceof CodecError)) throw err;
          undecodable.push({ index: from, reason: `undecodable signature share: ${err.message}` });
        }
      }
      let signature: Uint8Array;
      let culprits: SchemeCulprit[];
      try {
        const result = verifier.combine(responses);
        signature = result.signature;
        culprits = [...undecodable, ...culpritsOf(result.culprits)];
      } catch (err) {
        if (!(err instanceof ThresholdRsaError)) throw err;
        throw new SchemeFailure(`rsa-shoup: ${err.message}`, [...undecodable, ...culpritsOf(err.culprits)]);
      }
      if (!verifyWith(decodeShoupPublicKey, publicKeyBytes, input, signature))
        throw new Error('Invariant: a combined Shoup signature that verified once does not verify');
      return { signature, culprits: culprits.sort((a, b) => a.index - b.index) };
    },

    publicKeyPem(publicKey) {
      return rsaPublicKeyToPem(decodeShoupPublicKey(publicKey));
    },

    verify(publicKey, input, signature) {
      return verifyWith(decodeShoupPublicKey, publicKey, input, signature);
    },
  };
}

// ---- rsa-additive ----

/** Per-session state of an additive holder: the tree nodes it signed, and how many requests it answered. */
interface AdditiveHolderSession {
  readonly signed: Set<string>;
  requests: number;
}

/** Holder side of 'rsa-additive' (paper §3.4 with verifiable partial signatures). */
export function rsaAdditiveHolder(options: RsaHolderOptions = {}): SchemeHolder {
  const random = options.random ?? secureRandom;
  const deals = holderBook<never>(options);
  const book = holderBook<AdditiveHolderSession>(options);
  return {
    async setup(identity, sid, body, _nowMs) {
      deals.claim(checkSid(sid));
      try {
        const k = holderThreshold(identity);
        const deal = decodeDeal(body, ADDITIVE_RECORD_BYTES_MAX, additiveBoxBytesMax(identity.n, k));
        const record = decodeAdditivePublicRecord(deal.publicKey);
        if (record.servers !== identity.n || record.threshold !== k)
          throw new SchemeError(
            'refused',
            `deal: (t, n) = (${record.threshold}, ${record.servers}), this group needs (${k}, ${identity.n})`,
          );
        const plaintext = openShare(TAG.additiveDeal, identity, sid, deal);
        let share: AdditiveShare;
        try {
          share = decodeAdditiveShare(plaintext);
        } catch (err) {
          plaintext.fill(0);
          throw err;
        }
        if (share.index !== identity.index) {
          plaintext.fill(0);
          throw new SchemeError(
            'refused',
            `deal: share for holder ${share.index}, this is ${identity.index}`,
          );
        }
        try {
          checkAdditiveShare(share, record);
        } catch (err) {
          plaintext.fill(0);
          throw err;
        }
        return ackReply(TAG.additiveAck, identity, sid, { share: plaintext, publicKey: deal.publicKey });
      } catch (err) {
        throw refusalOf(err, 'rsa-additive setup');
      }
    },

    async sign(identity, key, sid, input, body, nowMs) {
      const id = checkSid(sid);
      const session = book.get(id, nowMs) ?? book.open(id, nowMs, { signed: new Set<string>(), requests: 0 });
      try {
        const { share, record } = storedAdditiveShare(identity, key);
        const request = decodeAdditiveSignRequest(body, share);
        const { message } = request;
        if (message.hash !== 'sha256' || !bytesEqual(message.digest, authorizedDigest(input)))
          throw new SchemeError('refused', 'the request signs another digest than the authorized one');
        if (!bytesEqual(message.context, sid))
          throw new SchemeError('refused', 'the request is bound to another session');
        // Round bound: every later round follows at least one newly failed holder (at most n − t of them).
        if (++session.requests > record.servers - record.threshold + 2)
          throw new SchemeError('session', 'too many requests in this session');
        for (const node of request.nodes)
          if (session.signed.has(pathKey(node)))
            throw new SchemeError('session', `node ${pathKey(node)} was already signed in this session`);
        const partials = partialSignAdditive(share, request, random);
        for (const node of request.nodes) session.signed.add(pathKey(node));
        return encodeAdditivePartials(partials);
      } catch (err) {
        book.end(id);
        throw refusalOf(err, 'rsa-additive sign');
      }
    },

    expire(nowMs) {
      book.expire(nowMs);
      deals.expire(nowMs);
    },
  };
}

/** Largest sealed additive share for (t, n): its pieces and keys at the largest modulus, plus headers. */
function additiveBoxBytesMax(n: number, t: number): number {
  if (!Number.isInteger(n) || n < 1 || n > ADDITIVE_SERVERS_MAX || treeSize(n, t) > ADDITIVE_TREE_NODES_MAX)
    throw new SchemeError('refused', `rsa-additive: no tree for (t, n) = (${t}, ${n})`);
  return 256 + 3 * MODULUS_BYTES_MAX + heldNodes(n, t, 1).length * 2 * MODULUS_BYTES_MAX;
}

function storedAdditiveShare(
  identity: HolderIdentity,
  key: StoredKey,
): { share: AdditiveShare; record: AdditivePublicRecord } {
  let share: AdditiveShare;
  let record: AdditivePublicRecord;
  try {
    share = decodeAdditiveShare(key.share);
    record = decodeAdditivePublicRecord(key.publicKey);
  } catch (err) {
    throw new SchemeError('refused', `stored key: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (share.index !== identity.index || !bytesEqual(additiveRecordId(record), share.verificationId))
    throw new SchemeError('refused', 'stored share: not this holder’s share of this key');
  return { share, record };
}

function sealAdditiveDealing(
  dealing: AdditiveDealing,
  group: GroupDirectory,
  sid: Uint8Array,
  random: Random,
): SealedDealing {
  const { shares } = dealing;
  const publicKey = encodeAdditivePublicRecord(dealing.record);
  const encode = (i: number): Uint8Array => encodeAdditiveShare(shares[i - 1]!);
  return sealShares(TAG.additiveDeal, group, sid, publicKey, range1(shares.length), encode, random);
}

/** Client side of 'rsa-additive': the dealer at import (and create), the session driver when signing. */
export function rsaAdditiveCoordinator(options: RsaCoordinatorOptions = {}): SchemeCoordinator {
  const modulusBits = checkModulusBits(options.modulusBits ?? RSA_MODULUS_BITS_DEFAULT);
  const keys = options.rsaKeys ?? backgroundRsaKeys;
  const importKey = async (
    group: GroupDirectory,
    sid: Uint8Array,
    pem: string,
    rt: RoundTrip,
    random: Random,
  ): Promise<CreatedKey> => {
    checkCoordinatorSid(sid);
    const k = checkGroup(group, ADDITIVE_SERVERS_MAX);
    if (treeSize(group.n, k) > ADDITIVE_TREE_NODES_MAX)
      throw new RangeError(`group: the tree for (t, n) = (${k}, ${group.n}) is too large`);
    // Every share is sealed before any message leaves; the key and the pieces stay inside this call.
    const sealed = sealAdditiveDealing(
      dealAdditive(rsaPrivateKeyFromPem(pem), { servers: group.n, threshold: k }, random),
      group,
      sid,
      random,
    );
    return deliver({ deal: TAG.additiveDeal, ack: TAG.additiveAck }, group, sid, sealed, k, rt);
  };
  return {
    scheme: 'rsa-additive',
    input: 'digest',
    x509Algorithm: 'rsa-sha256',
    import: importKey,

    async create(group, sid, rt, random) {
      checkCoordinatorSid(sid);
      checkGroup(group, ADDITIVE_SERVERS_MAX);
      return importKey(group, sid, await keys.privateKeyPem(modulusBits), rt, random);
    },

    async sign(group, publicKeyBytes, sid, input, rt, _random) {
      checkCoordinatorSid(sid);
      const digest = inputDigest(input);
      const k = checkGroup(group, ADDITIVE_SERVERS_MAX);
      const record = decodeAdditivePublicRecord(publicKeyBytes);
      if (record.servers !== group.n || record.threshold !== k)
        throw new RangeError(
          `publicKey: (t, n) = (${record.threshold}, ${record.servers}), the group has (${k}, ${group.n})`,
        );
      const message = signMessage(sid, digest);
      const session = new AdditiveSigningSession(record, message);
      // Each round either completes, fails, or follows at least one newly failed holder.
      for (let round = 1; round <= group.n - k + 2; round++) {
        const step = session.next();
        if (step.status === 'complete') break;
        if (step.status === 'insufficient')
          throw new SchemeFailure(`rsa-additive: ${step.error.message}`, culpritsOf(session.culprits));
        if (step.status === 'wait') throw new Error('Invariant: every request of a round was settled');
        const bodies = new Map<number, Uint8Array>();
        for (const [server, request] of step.requests) bodies.set(server, encodeAdditiveSignRequest(request));
        const to = [...bodies.keys()];
        // The round may end once all but the holders the tree can still lose have answered.
        const slack = group.n - k - session.failedServers.size;
        const need = Math.max(1, to.length - Math.max(0, slack));
        const answers = await rt(`${RSA_ROUNDS.sign}-${round}`, to, (i) => bodies.get(i)!, need);
        for (const i of to) {
          const answer = answers.get(i);
          if (answer === undefined) {
            session.fail(i);
            continue;
          }
          let partials;
          try {
            partials = decodeAdditivePartials(answer, record);
          } catch (err) {
            if (!(err instanceof CodecError)) throw err;
            session.reject(i, `undecodable answer: ${err.message}`);
            continue;
          }
          session.receive(i, partials);
        }
      }
      let signature: Uint8Array;
      try {
        signature = session.finish().signature;
      } catch (err) {
        if (!(err instanceof ThresholdRsaError)) throw err;
        throw new SchemeFailure(`rsa-additive: ${err.message}`, culpritsOf(err.culprits));
      }
      if (!verifyWith(decodeAdditivePublicRecord, publicKeyBytes, input, signature))
        throw new Error('Invariant: a combined additive signature that verified once does not verify');
      const culprits = culpritsOf(session.culprits).sort((a, b) => a.index - b.index);
      return { signature, culprits } satisfies SchemeSignature;
    },

    publicKeyPem(publicKey) {
      return rsaPublicKeyToPem(decodeAdditivePublicRecord(publicKey));
    },

    verify(publicKey, input, signature) {
      return verifyWith(decodeAdditivePublicRecord, publicKey, input, signature);
    },
  };
}
