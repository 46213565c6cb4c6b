/**
 * Prime-order groups for threshold DSA and ECDSA (Gennaro, Jarecki, Krawczyk and Rabin, "Robust Threshold
 * DSS Signatures", §2; FIPS 186-4 §4 and §6; SEC 1 §2.3.3–2.3.4): a DSA subgroup of order q in Z_p^*
 * (bigint arithmetic) or the NIST P-256 / secp256k1 curves (@noble/curves points).
 *
 * The protocol layers above see one interface: scalars are bigints mod q, elements are opaque
 * `GroupElement`s written multiplicatively (`mul`, `exp`). Every element that arrives from another party
 * goes through `decodeElement`, which rejects anything that is not a non-identity member of the order-q
 * subgroup (EC: a compressed point on the curve, cofactor 1; DSA: 1 < y < p and y^q = 1 mod p).
 *
 * `h` is the second Pedersen generator (Pedersen 1991; GJKR §2.3): derived by hashing into the group, so
 * nobody knows log_g h. EC: RFC 9380 hash_to_curve. DSA: RFC 9380 expand_message_xmd to p-sized bytes W,
 * h = W^((p−1)/q) mod p (the FIPS 186-4 §A.2.3 construction with a hash of the domain parameters as seed).
 */
import { checkPrimeSync, createPublicKey, verify as nodeVerify } from 'node:crypto';
import { p256, p256_hasher } from '@noble/curves/nist.js';
import { secp256k1, secp256k1_hasher } from '@noble/curves/secp256k1.js';
import { invert, mod, pow } from '@noble/curves/abstract/modular.js';
import { expand_message_xmd } from '@noble/curves/abstract/hash-to-curve.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import type { WeierstrassPoint, WeierstrassPointCons } from '@noble/curves/abstract/weierstrass.js';
import { ByteReader, ByteWriter, CodecError, utf8 } from '../../codec/bytes.js';
import type { Random } from '../../env/random.js';
import { encodeDsaSpki, pemEncode } from './dsa-der.js';

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
  /** Equality. */
  equals(a: GroupElement, b: GroupElement): boolean;
  /** Whether a is the neutral element. */
  isIdentity(a: GroupElement): boolean;
  /** Fixed-length encoding of a non-identity element (EC: compressed SEC 1; DSA: big-endian, |p| bytes). */
  encodeElement(a: GroupElement): Uint8Array;
  /** Decodes and validates an element received from another party; throws CodecError naming `field`. */
  decodeElement(bytes: Uint8Array, field: string): GroupElement;
  /** The DSA/ECDSA r of a nonce commitment R (DSA: R mod q; ECDSA: x(R) mod n). */
  signatureR(nonceCommitment: GroupElement): bigint;
  /** The public key y = g^x as PEM SubjectPublicKeyInfo, accepted by node:crypto and OpenSSL. */
  publicKeyPem(y: GroupElement): string;
}

// ---------------------------------------------------------------------------------------------------
// Scalars mod q

/** a mod q in [0, q). */
export function modQ(group: DlGroup, a: bigint): bigint {
  return mod(a, group.q);
}

/** a^{-1} mod q; RangeError for 0. */
export function invQ(group: DlGroup, a: bigint): bigint {
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
  // Fixed-base tables for h, as noble keeps for the base point: most exponentiations are g^s h^{s'}.
  h.precompute(8);
  const b64url = (v: bigint): string => Buffer.from(bigintToBytes(v, fieldBytes)).toString('base64url');
  return {
    kind,
    q,
    qBits,
    scalarBytes: Math.ceil(qBits / 8),
    elementBytes: fieldBytes + 1,
    g: el(P.BASE),
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
    equals: (a, b) => pt(a).equals(pt(b)),
    isIdentity: (a) => pt(a).is0(),
    encodeElement: (a) => {
      if (pt(a).is0()) throw new RangeError('encodeElement: the identity has no encoding here');
      return pt(a).toBytes(true);
    },
    decodeElement: (bytes, field) => {
      if (
        !(bytes instanceof Uint8Array) ||
        bytes.length !== fieldBytes + 1 ||
        (bytes[0] !== 2 && bytes[0] !== 3)
      )
        throw new CodecError(field, `expected a ${fieldBytes + 1}-byte compressed point`);
      let p: Point;
      try {
        p = P.fromBytes(bytes);
        p.assertValidity();
      } catch {
        throw new CodecError(field, 'not a point on the curve');
      }
      if (p.is0()) throw new CodecError(field, 'identity element');
      return el(p);
    },
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
 * g^q = 1 mod p). Validated groups are cached, so a party pays the primality tests once per group.
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
  const group = makeDsaGroup(p, q, g, pBits, qBits);
  if (dsaGroupCache.size >= DSA_GROUP_CACHE_MAX) {
    const oldest = dsaGroupCache.keys().next().value;
    if (oldest !== undefined) dsaGroupCache.delete(oldest);
  }
  dsaGroupCache.set(key, group);
  return group;
}

function makeDsaGroup(p: bigint, q: bigint, g: bigint, pBits: number, qBits: number): DlGroup {
  const pBytes = Math.ceil(pBits / 8);
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
    equals: (a, b) => n(a) === n(b),
    isIdentity: (a) => n(a) === 1n,
    encodeElement: (a) => {
      if (n(a) === 1n) throw new RangeError('encodeElement: the identity has no encoding here');
      return bigintToBytes(n(a), pBytes);
    },
    decodeElement: (bytes, field) => {
      if (!(bytes instanceof Uint8Array) || bytes.length !== pBytes)
        throw new CodecError(field, `expected a ${pBytes}-byte element`);
      const v = bytesToBigint(bytes);
      if (v <= 1n || v >= p) throw new CodecError(field, 'element not in (1, p)');
      if (pow(v, q, p) !== 1n) throw new CodecError(field, 'element not in the order-q subgroup');
      return el(v);
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

/** Reads one element of fixed length from a reader and validates it. */
export function readElement(r: ByteReader, group: DlGroup, field: string): GroupElement {
  return group.decodeElement(r.raw(group.elementBytes, field), field);
}

/** Reads one scalar of fixed length from a reader and validates it. */
export function readScalar(r: ByteReader, group: DlGroup, field: string): bigint {
  return decodeScalar(group, r.raw(group.scalarBytes, field), field);
}
