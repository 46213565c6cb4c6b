/**
 * Prime-order groups for threshold DSA and ECDSA (Gennaro, Jarecki, Krawczyk and Rabin, "Robust Threshold
 * DSS Signatures", §2; FIPS 186-4 §4 and §6; SEC 1 §2.3.3–2.3.4): a DSA subgroup of order q in Z_p^*
 * (bigint arithmetic) or the NIST P-256 / secp256k1 curves (@noble/curves points).
 *
 * The protocol layers above see one interface: scalars are bigints mod q, elements are opaque
 * `GroupElement`s written multiplicatively (`mul`, `exp`). Every element that arrives from another party
 * goes through `decodeElement` (or `ElementBatch`), which rejects anything that is not a non-identity member
 * of the order-q subgroup (EC: an uncompressed point on the curve, cofactor 1; DSA: 1 < y < p and
 * y^q = 1 mod p). EC points travel uncompressed (SEC 1 §2.3.3 without point compression): checking one is a
 * few field multiplications, where decompressing costs a square root, and a signing session decodes a few
 * hundred points per party for a few hundred bytes more on the wire.
 *
 * DSA membership costs a 2048-bit exponentiation per element, which made it most of a threshold DSA
 * signature. For parameters of the Lim–Lee form p = 2qr + 1 with r prime (`dsaGroup` recognises it; the
 * embedded parameters of dsa-params.ts have it) `assertMembers` tests many elements at once: each must be
 * a quadratic residue (Jacobi symbol), then (Π v_i^{δ_i})^q = 1 for 128-bit weights δ_i hashed from the
 * elements — Z_p^* ≅ Z_2 × Z_q × Z_r, the residues have no Z_2 part, and a Z_r part survives the weighted
 * product except with probability ≤ 2^-128 (small-exponent test, Bellare–Garay–Rabin 1998, in a group of
 * prime order r > 2^128). Other parameters (e.g. node:crypto's FIPS 186-4 ones, whose cofactor may have
 * small factors that would defeat the test) are checked one element at a time.
 *
 * `h` is the second Pedersen generator (Pedersen 1991; GJKR §2.3): derived by hashing into the group, so
 * nobody knows log_g h. EC: RFC 9380 hash_to_curve. DSA: RFC 9380 expand_message_xmd to p-sized bytes W,
 * h = W^((p−1)/q) mod p (the FIPS 186-4 §A.2.3 construction with a hash of the domain parameters as seed).
 */
import { checkPrimeSync, createHash, createPublicKey, verify as nodeVerify } from 'node:crypto';
import { p256, p256_hasher } from '@noble/curves/nist.js';
import { secp256k1, secp256k1_hasher } from '@noble/curves/secp256k1.js';
import { invert, mod, pow } from '@noble/curves/abstract/modular.js';
import { expand_message_xmd } from '@noble/curves/abstract/hash-to-curve.js';
import { mulAddUnsafe, pippenger } from '@noble/curves/abstract/curve.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import type { WeierstrassPoint, WeierstrassPointCons } from '@noble/curves/abstract/weierstrass.js';
import { setBounded } from '../../collections/bounded.js';
import { ByteReader, ByteWriter, CodecError, utf8 } from '../../codec/bytes.js';
import type { Random } from '../../env/random.js';
import { decodeDerSignature, encodeDsaSpki, pemEncode } from './dsa-der.js';

declare const elementBrand: unique symbol;
/** An element of the order-q group; only the group that made it can operate on it. */
export type GroupElement = { readonly [elementBrand]: 'GroupElement' };

/** Which family a group belongs to. */
export type DlGroupKind = 'dsa' | 'p256' | 'secp256k1';

/** Wire codes of the group kinds. */
const GROUP_CODES: Record<DlGroupKind, number> = { dsa: 1, p256: 2, secp256k1: 3 };

/** Hash functions a threshold signature may use (FIPS 180-4), with their wire codes. */
export type DlHashName = 'sha256' | 'sha384' | 'sha512';
export const DL_HASH_CODES: Record<DlHashName, number> = { sha256: 1, sha384: 2, sha512: 3 };

/** A prime-order group with the operations the GJKR protocols need. */
export interface DlGroup {
  readonly kind: DlGroupKind;
  /** Order of the group (DSA q, EC n); prime. */
  readonly q: bigint;
  /** Bit length of q. */
  readonly qBits: number;
  /** Fixed byte length of an encoded scalar (⌈qBits/8⌉). */
  readonly scalarBytes: number;
  /** Fixed byte length of an encoded element. */
  readonly elementBytes: number;
  /** The standard generator (DSA g, EC base point). */
  readonly g: GroupElement;
  /** The Pedersen generator with unknown discrete log to base g. */
  readonly h: GroupElement;
  /** The neutral element. */
  readonly identity: GroupElement;
  /** Canonical bytes identifying the group (kind code, and p, q, g for DSA). */
  readonly encoding: Uint8Array;
  /** Group operation a·b. */
  mul(a: GroupElement, b: GroupElement): GroupElement;
  /** a·b^{-1}. */
  div(a: GroupElement, b: GroupElement): GroupElement;
  /** a^k with k taken mod q; constant-time on the curves (secret exponents). */
  exp(a: GroupElement, k: bigint): GroupElement;
  /** a^k for public k (variable time, faster). */
  expPublic(a: GroupElement, k: bigint): GroupElement;
  /**
   * Π bases[i]^{scalars[i]} (scalars taken mod q) for public values only: variable time, one shared
   * squaring chain (Straus) or buckets (Pippenger), and precomputed tables for g and h.
   */
  msm(bases: readonly GroupElement[], scalars: readonly bigint[]): GroupElement;
  /** Equality. */
  equals(a: GroupElement, b: GroupElement): boolean;
  /** Whether a is the neutral element. */
  isIdentity(a: GroupElement): boolean;
  /** Fixed-length encoding of a non-identity element (EC: uncompressed SEC 1; DSA: big-endian, |p| bytes). */
  encodeElement(a: GroupElement): Uint8Array;
  /** Decodes and validates an element received from another party; throws CodecError naming `field`. */
  decodeElement(bytes: Uint8Array, field: string): GroupElement;
  /**
   * Decodes an element's encoding with every check but subgroup membership (DSA: 1 < y < p; EC: the full
   * check, membership is free with cofactor 1). The result must go through `assertMembers` before any use;
   * `ElementBatch` pairs the two.
   */
  decodeCandidate(bytes: Uint8Array, field: string): GroupElement;
  /**
   * Checks that elements from `decodeCandidate` are in the order-q subgroup, all at once where that is
   * sound (see `dsaGroup`); throws CodecError naming the field of one that is not.
   */
  assertMembers(elements: readonly GroupElement[], fields: readonly string[]): void;
  /** The DSA/ECDSA r of a nonce commitment R (DSA: R mod q; ECDSA: x(R) mod n). */
  signatureR(nonceCommitment: GroupElement): bigint;
  /** The public key y = g^x as PEM SubjectPublicKeyInfo, accepted by node:crypto and OpenSSL. */
  publicKeyPem(y: GroupElement): string;
}

// ---------------------------------------------------------------------------------------------------
// Scalars mod q

/** Anything with a prime order q (a DlGroup, or another group's scalars). */
export type PrimeOrder = Pick<DlGroup, 'q'>;

/** a mod q in [0, q). */
export function modQ(group: PrimeOrder, a: bigint): bigint {
  return mod(a, group.q);
}

/** a^{-1} mod q; RangeError for 0. */
export function invQ(group: PrimeOrder, a: bigint): bigint {
  const r = mod(a, group.q);
  if (r === 0n) throw new RangeError('invQ: zero has no inverse mod q');
  return invert(r, group.q);
}

/** A uniform scalar in [0, q): q's byte length plus 128 bits from `random`, reduced (FIPS 186-4 §B.2.1). */
export function randomScalar(group: DlGroup, random: Random): bigint {
  return mod(bytesToBigint(random.bytes(group.scalarBytes + 16)), group.q);
}

/** Big-endian unsigned integer of bytes (0 for empty). */
export function bytesToBigint(b: Uint8Array): bigint {
  return b.length === 0
    ? 0n
    : BigInt('0x' + Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex'));
}

/** Big-endian fixed-length encoding; RangeError if v does not fit. */
export function bigintToBytes(v: bigint, length: number): Uint8Array {
  if (v < 0n) throw new RangeError(`bigintToBytes: negative value`);
  const hex = v.toString(16).padStart(length * 2, '0');
  if (hex.length > length * 2) throw new RangeError(`bigintToBytes: value does not fit in ${length} bytes`);
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

/** Fixed-length encoding of a scalar in [0, q). */
export function encodeScalar(group: DlGroup, v: bigint): Uint8Array {
  if (v < 0n || v >= group.q) throw new RangeError(`encodeScalar: value out of [0, q)`);
  return bigintToBytes(v, group.scalarBytes);
}

/** Decodes a scalar received from another party: exactly scalarBytes, value < q. */
export function decodeScalar(group: DlGroup, bytes: Uint8Array, field: string): bigint {
  if (bytes.length !== group.scalarBytes)
    throw new CodecError(field, `scalar must be ${group.scalarBytes} bytes, got ${bytes.length}`);
  const v = bytesToBigint(bytes);
  if (v >= group.q) throw new CodecError(field, 'scalar not below the group order');
  return v;
}

/**
 * The message representative of FIPS 186-4 §4.6 / SEC 1 §4.1.3 step 5: the leftmost min(N, outlen) bits of
 * the digest as an integer, reduced mod q.
 */
export function digestToScalar(group: DlGroup, digest: Uint8Array): bigint {
  let z = bytesToBigint(digest);
  const excess = digest.length * 8 - group.qBits;
  if (excess > 0) z >>= BigInt(excess);
  return mod(z, group.q);
}

/** Verifies a DER signature over `message` with node:crypto; malformed input verifies as false. */
export function verifyDerSignature(
  group: DlGroup,
  y: GroupElement,
  hash: DlHashName,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  try {
    const key = createPublicKey(group.publicKeyPem(y));
    return nodeVerify(hash, message, { key, dsaEncoding: 'der' }, signature);
  } catch {
    return false;
  }
}

/**
 * Verifies a DER signature over a digest the caller already computed (node:crypto hashes the message
 * itself, so it cannot check a signature over a bare digest). ECDSA: noble's verifier (SEC 1 §4.1.4, no
 * prehashing, high s accepted as OpenSSL does). DSA: FIPS 186-4 §4.7 with this group's arithmetic —
 * w = s^{-1}, v = (g^{zw} y^{rw} mod p) mod q = r. Malformed input verifies as false.
 */
export function verifyDerDigest(
  group: DlGroup,
  y: GroupElement,
  digest: Uint8Array,
  signature: Uint8Array,
): boolean {
  try {
    if (group.kind === 'p256' || group.kind === 'secp256k1') {
      const curve = group.kind === 'p256' ? p256 : secp256k1;
      return curve.verify(signature, digest, group.encodeElement(y), {
        prehash: false,
        lowS: false,
        format: 'der',
      });
    }
    const { r, s } = decodeDerSignature(signature);
    if (r <= 0n || r >= group.q || s <= 0n || s >= group.q || group.isIdentity(y)) return false;
    const w = invQ(group, s);
    const z = digestToScalar(group, digest);
    const v = group.msm([group.g, y], [mod(z * w, group.q), mod(r * w, group.q)]);
    return !group.isIdentity(v) && group.signatureR(v) === r;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------------
// Elliptic curves

type Point = WeierstrassPoint<bigint>;

function ecGroup(kind: 'p256' | 'secp256k1'): DlGroup {
  const P: WeierstrassPointCons<bigint> = kind === 'p256' ? p256.Point : secp256k1.Point;
  const hasher = kind === 'p256' ? p256_hasher : secp256k1_hasher;
  const jwkCurve = kind === 'p256' ? 'P-256' : 'secp256k1';
  const q = P.Fn.ORDER;
  const qBits = q.toString(2).length;
  const fieldBytes = P.Fp.BYTES;
  const pt = (a: GroupElement): Point => a as unknown as Point;
  const el = (p: Point): GroupElement => p as unknown as GroupElement;
  const dst = `BFTKV-GJKR-V01-PEDERSEN-H-${kind === 'p256' ? 'P256_XMD:SHA-256_SSWU_RO_' : 'secp256k1_XMD:SHA-256_SSWU_RO_'}`;
  const h = hasher.hashToCurve(utf8('bftkv gjkr pedersen generator h'), { DST: dst });
  h.assertValidity();
  if (h.is0() || h.equals(P.BASE)) throw new Error(`Invariant: Pedersen h of ${kind} is degenerate`);
  // Fixed-base tables with 8-bit windows for g and h: most exponentiations are g^s h^{s'}. g is a copy of
  // the base point, so noble's own (smaller) table for P.BASE is left as it is.
  h.precompute(8);
  const G = P.fromAffine(P.BASE.toAffine());
  G.precompute(8);
  const b64url = (v: bigint): string => Buffer.from(bigintToBytes(v, fieldBytes)).toString('base64url');
  // Cofactor 1: every point on the curve but the identity is in the group of order q.
  const decodeEc = (bytes: Uint8Array, field: string): GroupElement => {
    if (!(bytes instanceof Uint8Array) || bytes.length !== 2 * fieldBytes + 1 || bytes[0] !== 4)
      throw new CodecError(field, `expected a ${2 * fieldBytes + 1}-byte uncompressed point`);
    let p: Point;
    try {
      p = P.fromBytes(bytes);
      p.assertValidity();
    } catch {
      throw new CodecError(field, 'not a point on the curve');
    }
    if (p.is0()) throw new CodecError(field, 'identity element');
    return el(p);
  };
  return {
    kind,
    q,
    qBits,
    scalarBytes: Math.ceil(qBits / 8),
    elementBytes: 2 * fieldBytes + 1,
    g: el(G),
    h: el(h),
    identity: el(P.ZERO),
    encoding: Uint8Array.of(GROUP_CODES[kind]),
    mul: (a, b) => el(pt(a).add(pt(b))),
    div: (a, b) => el(pt(a).subtract(pt(b))),
    exp: (a, k) => {
      const e = mod(k, q);
      return e === 0n ? el(P.ZERO) : el(pt(a).multiply(e));
    },
    expPublic: (a, k) => el(pt(a).multiplyUnsafe(mod(k, q))),
    msm: (bases, scalars) => {
      if (bases.length !== scalars.length) throw new RangeError('msm: bases and scalars differ in length');
      // g and h have fixed-base tables (noble's for the base point, `precompute(8)` for h): use them.
      let acc = P.ZERO;
      const points: Point[] = [];
      const ks: bigint[] = [];
      bases.forEach((b, i) => {
        const k = mod(scalars[i]!, q);
        const p = pt(b);
        if (k === 0n || p.is0()) return;
        if (p === G || p === h) acc = acc.add(p.multiplyUnsafe(k));
        else {
          points.push(p);
          ks.push(k);
        }
      });
      if (points.length === 0) return el(acc);
      // Straus (shared doublings, wNAF tables per point) wins below ~128 points, Pippenger above.
      return el(acc.add(points.length < 128 ? mulAddUnsafe(P, points, ks) : pippenger(P, points, ks)));
    },
    equals: (a, b) => pt(a).equals(pt(b)),
    isIdentity: (a) => pt(a).is0(),
    encodeElement: (a) => {
      if (pt(a).is0()) throw new RangeError('encodeElement: the identity has no encoding here');
      return pt(a).toBytes(false);
    },
    decodeElement: (bytes, field) => decodeEc(bytes, field),
    decodeCandidate: (bytes, field) => decodeEc(bytes, field),
    assertMembers: () => undefined,
    signatureR: (R) => mod(pt(R).x, q),
    publicKeyPem: (y) => {
      const a = pt(y).toAffine();
      const key = createPublicKey({
        key: { kty: 'EC', crv: jwkCurve, x: b64url(a.x), y: b64url(a.y) },
        format: 'jwk',
      });
      return key.export({ type: 'spki', format: 'pem' }).toString();
    },
  };
}

/** NIST P-256 (FIPS 186-4 §D.1.2.3, SEC 2 secp256r1). */
export const P256_GROUP: DlGroup = ecGroup('p256');
/** secp256k1 (SEC 2 §2.4.1). */
export const SECP256K1_GROUP: DlGroup = ecGroup('secp256k1');

// ---------------------------------------------------------------------------------------------------
// DSA

/** DSA domain parameters (FIPS 186-4 §4.1). */
export interface DsaParams {
  readonly p: bigint;
  readonly q: bigint;
  readonly g: bigint;
}

/** Accepted (L, N) pairs (FIPS 186-4 §4.2, excluding the legacy 1024-bit size). */
const DSA_SIZES: ReadonlyArray<readonly [number, number]> = [
  [2048, 224],
  [2048, 256],
  [3072, 256],
];

const DSA_GROUP_CACHE_MAX = 16;
const dsaGroupCache = new Map<string, DlGroup>();

/**
 * A DSA group after checking its parameters (FIPS 186-4 §4.2 sizes, p and q prime, q | p−1, 1 < g < p,
 * g^q = 1 mod p), and whether (p − 1)/2q is a prime above 2^128 (the Lim–Lee form, which enables batched
 * membership tests). Validated groups are cached, so a party pays the primality tests once per group.
 */
export function dsaGroup(params: DsaParams): DlGroup {
  const { p, q, g } = params;
  if (typeof p !== 'bigint' || typeof q !== 'bigint' || typeof g !== 'bigint')
    throw new TypeError('dsaGroup: p, q and g must be bigints');
  const key = `${p.toString(16)}:${q.toString(16)}:${g.toString(16)}`;
  const cached = dsaGroupCache.get(key);
  if (cached !== undefined) return cached;
  const pBits = p.toString(2).length;
  const qBits = q.toString(2).length;
  if (!DSA_SIZES.some(([l, n]) => l === pBits && n === qBits))
    throw new RangeError(`dsaGroup: (L, N) = (${pBits}, ${qBits}) is not an accepted FIPS 186-4 size`);
  if ((p - 1n) % q !== 0n) throw new RangeError('dsaGroup: q does not divide p − 1');
  if (g <= 1n || g >= p || pow(g, q, p) !== 1n) throw new RangeError('dsaGroup: g is not of order q mod p');
  if (!checkPrimeSync(q)) throw new RangeError('dsaGroup: q is not prime');
  if (!checkPrimeSync(p)) throw new RangeError('dsaGroup: p is not prime');
  // Lim–Lee structure p = 2qr + 1 with r prime: subgroup membership can be tested in batches.
  const r = (p - 1n) / (2n * q);
  const limLee = r > 1n << 128n && r !== q && checkPrimeSync(r) ? r : undefined;
  const group = makeDsaGroup(p, q, g, pBits, qBits, limLee);
  setBounded(dsaGroupCache, key, group, DSA_GROUP_CACHE_MAX);
  return group;
}

function makeDsaGroup(
  p: bigint,
  q: bigint,
  g: bigint,
  pBits: number,
  qBits: number,
  limLee: bigint | undefined,
): DlGroup {
  const pBytes = Math.ceil(pBits / 8);
  const candidate = (bytes: Uint8Array, field: string): bigint => {
    if (!(bytes instanceof Uint8Array) || bytes.length !== pBytes)
      throw new CodecError(field, `expected a ${pBytes}-byte element`);
    const v = bytesToBigint(bytes);
    if (v <= 1n || v >= p) throw new CodecError(field, 'element not in (1, p)');
    return v;
  };
  const n = (a: GroupElement): bigint => a as unknown as bigint;
  const el = (v: bigint): GroupElement => v as unknown as GroupElement;
  const w = new ByteWriter();
  w.u8(GROUP_CODES.dsa);
  w.bytes(bigintToBytes(p, pBytes));
  w.bytes(bigintToBytes(q, Math.ceil(qBits / 8)));
  w.bytes(bigintToBytes(g, pBytes));
  const encoding = w.finish();
  // FIPS 186-4 §A.2.3 shape: W from a hash of (domain, parameters, counter), h = W^((p−1)/q).
  const cofactor = (p - 1n) / q;
  let h = 0n;
  for (let counter = 1; counter < 256 && h <= 1n; counter++) {
    const seed = new ByteWriter()
      .raw(utf8('bftkv gjkr pedersen generator h'))
      .raw(encoding)
      .u8(counter)
      .finish();
    const wide = expand_message_xmd(
      seed,
      'BFTKV-GJKR-V01-PEDERSEN-H-DSA_XMD:SHA-256',
      pBytes + 32,
      nobleSha256,
    );
    h = pow(mod(bytesToBigint(wide), p), cofactor, p);
  }
  if (h <= 1n || h === g) throw new Error('Invariant: no Pedersen generator found for the DSA group');
  const gTable = fixedBaseTable(g, p, qBits);
  const hTable = fixedBaseTable(h, p, qBits);
  const expDsa = (a: bigint, k: bigint): bigint => {
    const e = mod(k, q);
    if (a === g) return fixedBaseExp(gTable, e, p);
    if (a === h) return fixedBaseExp(hTable, e, p);
    return pow(a, e, p);
  };
  return {
    kind: 'dsa',
    q,
    qBits,
    scalarBytes: Math.ceil(qBits / 8),
    elementBytes: pBytes,
    g: el(g),
    h: el(h),
    identity: el(1n),
    encoding,
    mul: (a, b) => el((n(a) * n(b)) % p),
    div: (a, b) => el((n(a) * invert(n(b), p)) % p),
    exp: (a, k) => el(expDsa(n(a), k)),
    expPublic: (a, k) => el(expDsa(n(a), k)),
    msm: (bases, scalars) => {
      if (bases.length !== scalars.length) throw new RangeError('msm: bases and scalars differ in length');
      let acc = 1n;
      const rest: bigint[] = [];
      const exps: bigint[] = [];
      bases.forEach((b, i) => {
        const e = mod(scalars[i]!, q);
        const v = n(b);
        if (e === 0n || v === 1n) return;
        if (v === g || v === h) acc = (acc * expDsa(v, e)) % p;
        else {
          rest.push(v);
          exps.push(e);
        }
      });
      return el(rest.length === 0 ? acc : (acc * multiExp(rest, exps, p)) % p);
    },
    equals: (a, b) => n(a) === n(b),
    isIdentity: (a) => n(a) === 1n,
    encodeElement: (a) => {
      if (n(a) === 1n) throw new RangeError('encodeElement: the identity has no encoding here');
      return bigintToBytes(n(a), pBytes);
    },
    decodeElement: (bytes, field) => {
      const v = candidate(bytes, field);
      if (pow(v, q, p) !== 1n) throw new CodecError(field, 'element not in the order-q subgroup');
      return el(v);
    },
    decodeCandidate: (bytes, field) => el(candidate(bytes, field)),
    assertMembers: (elements, fields) => {
      const values = elements.map(n);
      if (limLee === undefined || values.length < BATCH_MEMBERS_MIN) {
        values.forEach((v, i) => {
          if (pow(v, q, p) !== 1n) throw new CodecError(fields[i]!, 'element not in the order-q subgroup');
        });
        return;
      }
      // p = 2qr + 1 with r prime > 2^128, so Z_p^* ≅ Z_2 × Z_q × Z_r. A quadratic residue has no Z_2 part;
      // then (Π v_i^{δ_i})^q = 1 forces every Z_r part to 1 except with probability ≤ 2^-128 over δ.
      if (
        values.every((v) => jacobi(v, p) === 1) &&
        pow(multiExp(values, batchWeights(encoding, values, pBytes), p), q, p) === 1n
      )
        return;
      values.forEach((v, i) => {
        if (pow(v, q, p) !== 1n) throw new CodecError(fields[i]!, 'element not in the order-q subgroup');
      });
      throw new Error('Invariant: a batch of subgroup members failed the batch test');
    },
    signatureR: (R) => n(R) % q,
    publicKeyPem: (y) => {
      const der = encodeDsaSpki({ p, q, g, y: n(y) });
      // Round-trip through node:crypto so only keys OpenSSL accepts are ever handed out.
      const key = createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' });
      const pem = key.export({ type: 'spki', format: 'pem' }).toString();
      if (pem !== pemEncode('PUBLIC KEY', der))
        throw new Error('Invariant: node:crypto re-encoded the DSA SPKI');
      return pem;
    },
  };
}

/** Window width of the fixed-base tables (4 bits: 16 entries per window). */
const FIXED_BASE_WINDOW = 4;

/** table[i][d] = base^{d·16^i} mod p, for exponents below 2^qBits. */
function fixedBaseTable(base: bigint, p: bigint, qBits: number): bigint[][] {
  const windows = Math.ceil(qBits / FIXED_BASE_WINDOW);
  const table: bigint[][] = [];
  let b = base;
  for (let i = 0; i < windows; i++) {
    const row = [1n];
    for (let d = 1; d < 1 << FIXED_BASE_WINDOW; d++) row.push((row[d - 1]! * b) % p);
    table.push(row);
    b = (row[(1 << FIXED_BASE_WINDOW) - 1]! * b) % p;
  }
  return table;
}

/** base^e mod p from its table: one multiplication per non-zero 4-bit digit of e. */
function fixedBaseExp(table: readonly (readonly bigint[])[], e: bigint, p: bigint): bigint {
  let acc = 1n;
  const mask = BigInt((1 << FIXED_BASE_WINDOW) - 1);
  for (let i = 0; e > 0n; i++, e >>= BigInt(FIXED_BASE_WINDOW)) {
    const d = Number(e & mask);
    if (d !== 0) acc = (acc * table[i]![d]!) % p;
  }
  return acc;
}

/** Fewest elements worth a batch membership test (below it, one exponentiation each is cheaper). */
const BATCH_MEMBERS_MIN = 3;
/** Bytes of a batch weight δ (128 bits). */
const BATCH_WEIGHT_BYTES = 16;

/**
 * Weights δ_i for a batch membership test, from SHA-512 of the group and every element (a party cannot pick
 * them without changing the elements, and each attempt passes a bad batch with probability ≤ 2^-128).
 */
function batchWeights(encoding: Uint8Array, values: readonly bigint[], pBytes: number): bigint[] {
  const seed = createHash('sha512').update('bftkv/dl-group/members/v1').update(encoding);
  for (const v of values) seed.update(bigintToBytes(v, pBytes));
  const s = seed.digest();
  return values.map((_, i) => {
    const d = createHash('sha256').update(s).update(new ByteWriter(4).u32(i).finish()).digest();
    return bytesToBigint(new Uint8Array(d.subarray(0, BATCH_WEIGHT_BYTES)));
  });
}

/** The Jacobi symbol (a/n) for odd n > 0 (Cohen, A Course in Computational Algebraic Number Theory, 1.4.10). */
export function jacobi(a: bigint, n: bigint): -1 | 0 | 1 {
  if (n <= 0n || (n & 1n) === 0n) throw new RangeError('jacobi: n must be odd and positive');
  a %= n;
  if (a < 0n) a += n;
  let t: -1 | 1 = 1;
  while (a !== 0n) {
    // Strip all factors of two at once: (2/n) = −1 iff n ≡ 3, 5 (mod 8).
    const zeros = trailingZeros(a);
    a >>= BigInt(zeros);
    const n8 = n & 7n;
    if ((zeros & 1) === 1 && (n8 === 3n || n8 === 5n)) t = t === 1 ? -1 : 1;
    // Quadratic reciprocity.
    if ((a & 3n) === 3n && (n & 3n) === 3n) t = t === 1 ? -1 : 1;
    [a, n] = [n % a, a];
  }
  return n === 1n ? t : 0;
}

function trailingZeros(a: bigint): number {
  let zeros = 0;
  while ((a & 0xffffffffn) === 0n) {
    a >>= 32n;
    zeros += 32;
  }
  let low = Number(a & 0xffffffffn);
  while ((low & 1) === 0) {
    low >>>= 1;
    zeros++;
  }
  return zeros;
}

/**
 * Π bases[i]^{exps[i]} mod p for public exponents ≥ 0 (Straus's interleaved exponentiation with
 * left-to-right sliding windows; Möller, "Algorithms for multi-exponentiation", SAC 2001, §3): one squaring
 * per bit of the longest exponent for all bases together, and one multiplication per window per base.
 */
export function multiExp(bases: readonly bigint[], exps: readonly bigint[], p: bigint): bigint {
  if (bases.length !== exps.length) throw new RangeError('multiExp: bases and exponents differ in length');
  // Window width: a table of 2^(w−1) odd powers per base against one multiplication per w+1 bits.
  let longest = 0;
  for (const e of exps) longest = Math.max(longest, e.toString(2).length);
  const w = longest <= 160 ? 4 : 5;
  const half = 1 << (w - 1);
  let top = 0;
  // events[bit] lists (base, odd digit) multiplications to do after squaring down to `bit`.
  const events: [number, number][][] = [];
  exps.forEach((e, i) => {
    if (e < 0n) throw new RangeError('multiExp: negative exponent');
    const bits = e.toString(2);
    const len = bits.length;
    top = Math.max(top, len);
    let at = 0;
    while (at < len) {
      if (bits[at] === '0') {
        at++;
        continue;
      }
      let end = Math.min(at + w, len);
      while (bits[end - 1] === '0') end--;
      const digit = parseInt(bits.slice(at, end), 2);
      const bit = len - end;
      (events[bit] ??= []).push([i, digit]);
      at = end;
    }
  });
  const tables = bases.map((b) => {
    const b2 = (b * b) % p;
    const t = [b % p];
    for (let d = 1; d < half; d++) t.push((t[d - 1]! * b2) % p);
    return t;
  });
  let acc = 1n;
  for (let bit = top - 1; bit >= 0; bit--) {
    if (acc !== 1n) acc = (acc * acc) % p;
    for (const [i, digit] of events[bit] ?? []) acc = (acc * tables[i]![digit >> 1]!) % p;
  }
  return acc;
}

// ---------------------------------------------------------------------------------------------------
// Group identification on the wire

/** Writes the group's identifying encoding. */
export function writeGroup(w: ByteWriter, group: DlGroup): void {
  w.raw(group.encoding);
}

/** Reads and validates a group written by `writeGroup` (DSA parameters are checked, then cached). */
export function readGroup(r: ByteReader, field: string): DlGroup {
  const code = r.u8(field);
  if (code === GROUP_CODES.p256) return P256_GROUP;
  if (code === GROUP_CODES.secp256k1) return SECP256K1_GROUP;
  if (code !== GROUP_CODES.dsa) throw new CodecError(field, `unknown group code ${code}`);
  const pBytes = r.bytes(384, `${field}.p`);
  const qBytes = r.bytes(32, `${field}.q`);
  const gBytes = r.bytes(384, `${field}.g`);
  // Canonical form only (what writeGroup produces): no leading zero bytes, g as long as p.
  if (pBytes[0] === 0 || qBytes[0] === 0 || gBytes.length !== pBytes.length)
    throw new CodecError(field, 'non-canonical DSA parameters');
  try {
    return dsaGroup({ p: bytesToBigint(pBytes), q: bytesToBigint(qBytes), g: bytesToBigint(gBytes) });
  } catch (e) {
    throw new CodecError(field, e instanceof Error ? e.message : 'invalid DSA parameters');
  }
}

/** The group of an existing key (node:crypto naming: 'prime256v1' / 'secp256k1'); undefined if unsupported. */
export function groupOfCurve(namedCurve: string): DlGroup | undefined {
  if (namedCurve === 'prime256v1' || namedCurve === 'P-256') return P256_GROUP;
  if (namedCurve === 'secp256k1') return SECP256K1_GROUP;
  return undefined;
}

/** Interprets a group as DSA parameters (for tests and import); undefined for curves. */
export function dsaParamsOf(group: DlGroup): DsaParams | undefined {
  if (group.kind !== 'dsa') return undefined;
  const r = new ByteReader(group.encoding);
  r.u8('code');
  const p = bytesToBigint(r.bytes(384, 'p'));
  const q = bytesToBigint(r.bytes(32, 'q'));
  const g = bytesToBigint(r.bytes(384, 'g'));
  return { p, q, g };
}

/**
 * Reads the elements of one message and validates them together: `read` decodes each (all checks but
 * subgroup membership), `check` then tests membership of all of them at once (DlGroup.assertMembers).
 * Invariant: a decoder calls `check` before it returns any element it read.
 */
export class ElementBatch {
  private readonly elements: GroupElement[] = [];
  private readonly fields: string[] = [];

  constructor(readonly group: DlGroup) {}

  /** Reads and decodes the next element. */
  read(r: ByteReader, field: string): GroupElement {
    const e = this.group.decodeCandidate(r.raw(this.group.elementBytes, field), field);
    this.elements.push(e);
    this.fields.push(field);
    return e;
  }

  /** Checks every element read so far; throws CodecError naming one that is not in the group. */
  check(): void {
    this.group.assertMembers(this.elements, this.fields);
  }

  /**
   * Checks several batches of one group in one test (cheaper than one each); returns the indices of the
   * batches holding an element outside the group, empty when every element is a member.
   */
  static failing(batches: readonly ElementBatch[]): number[] {
    if (batches.length === 0) return [];
    const group = batches[0]!.group;
    if (batches.some((b) => b.group !== group)) throw new RangeError('ElementBatch.failing: mixed groups');
    try {
      group.assertMembers(
        batches.flatMap((b) => b.elements),
        batches.flatMap((b) => b.fields),
      );
      return [];
    } catch (e) {
      if (!(e instanceof CodecError)) throw e;
    }
    return batches.flatMap((b, i) => {
      try {
        b.check();
        return [];
      } catch (e) {
        if (!(e instanceof CodecError)) throw e;
        return [i];
      }
    });
  }
}

/** Reads one scalar of fixed length from a reader and validates it. */
export function readScalar(r: ByteReader, group: DlGroup, field: string): bigint {
  return decodeScalar(group, r.raw(group.scalarBytes, field), field);
}
