/**
 * Shared pieces of the threshold RSA schemes (rsa-additive.ts, rsa-shoup.ts): modular arithmetic on
 * bigints, uniform sampling from an injected Random, the typed error that names culprits, and the
 * non-interactive proof that two discrete logarithms are equal in Z_N^* — the "proof of correctness" of
 * Shoup, "Practical Threshold Signatures" (EUROCRYPT 2000), §3:
 *
 *   statement  v, ṽ = v^s, x̃, x̂ = x̃^s   (Shoup: v_i = v^{s_i} and x_i² = x̃^{s_i}, x̃ = x^{4Δ})
 *   prover     r ←$ [0, 2^{L(N)+2·L1}),  v' = v^r,  x' = x̃^r,
 *              c = H'(v, x̃, ṽ, x̂, v', x'),  z = s·c + r   (an integer: the group order is unknown)
 *   verifier   c = H'(v, x̃, ṽ, x̂, v^z·ṽ^{−c}, x̃^z·x̂^{−c})
 *
 * with L1 = 128 and H' = the first 128 bits of SHA-256 over a domain-separated encoding that also binds
 * N and a caller-supplied transcript prefix (scheme, session context, key identity, share index, digest),
 * so a proof made for one message, share or session does not verify for another. z hides s statistically
 * (s·c < 2^{L(N)+L1}, so the distance from uniform is below 2^{−L1}).
 *
 * Modular exponentiation here is BigInt arithmetic, which is not constant-time: a server's share exponent
 * could leak through fine-grained timing of its signing (modPow and the fixed-base tables also look up
 * table entries by the exponent's digits and skip zero digits). node:crypto exposes no modexp with a secret
 * exponent for a modulus whose factors it is not given. Known limitation (for docs/SECURITY.md).
 */
import type { Random } from '../../env/random.js';
import { ByteWriter, CodecError, type ByteReader } from '../../codec/bytes.js';
import { sha256 } from '../hash.js';
import { bigintToBytes, bitLength, i2osp, modulusBytes, os2ip } from './rsa-pkcs1.js';

/** Shoup's secondary security parameter L1 (bits of the challenge). */
export const L1 = 128;

/** A party that sent something invalid, and what was wrong with it. */
export interface Culprit {
  /** Server index (1-based position in the dealing). */
  readonly party: number;
  readonly reason: string;
}

/** Codes of ThresholdRsaError; callers match on the class and the code, never on the message. */
export type ThresholdRsaErrorCode =
  /** Fewer valid partial signatures than the scheme needs; `culprits` names who sent invalid ones. */
  | 'insufficientShares'
  /** The combined signature did not verify (cannot happen with an honest dealer; nothing is output). */
  | 'invalidSignature'
  /** A signing request a server received is malformed or asks for something it does not hold. */
  | 'badRequest'
  /** A share or verification record is inconsistent with itself or with the public key. */
  | 'badDealing';

/** A threshold RSA failure; `culprits` lists the parties proven to have misbehaved. */
export class ThresholdRsaError extends Error {
  override readonly name = 'ThresholdRsaError';
  constructor(
    readonly code: ThresholdRsaErrorCode,
    message: string,
    readonly culprits: readonly Culprit[] = [],
  ) {
    super(
      culprits.length === 0
        ? `${code}: ${message}`
        : `${code}: ${message}; culprits: ${culprits.map((c) => `${c.party} (${c.reason})`).join(', ')}`,
    );
  }
}

/** Outcome of checking one partial signature: accepted, or rejected with the reason. */
export type PartialCheck = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** Array check that keeps the element type (Array.isArray narrows readonly arrays to any[]). */
export function isList<T>(x: readonly T[]): boolean {
  return Array.isArray(x);
}

/** x mod m in [0, m). */
export function mod(x: bigint, m: bigint): bigint {
  const r = x % m;
  return r < 0n ? r + m : r;
}

/** Greatest common divisor of |a| and |b|. */
export function gcd(a: bigint, b: bigint): bigint {
  a = a < 0n ? -a : a;
  b = b < 0n ? -b : b;
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

/** Extended Euclid: [g, x, y] with a·x + b·y = g = gcd(a, b), for a, b ≥ 0. */
export function egcd(a: bigint, b: bigint): [bigint, bigint, bigint] {
  if (a < 0n || b < 0n) throw new RangeError('egcd: expected non-negative inputs');
  let [oldR, r] = [a, b];
  let [oldS, s] = [1n, 0n];
  let [oldT, t] = [0n, 1n];
  while (r !== 0n) {
    const q = oldR / r;
    [oldR, r] = [r, oldR - q * r];
    [oldS, s] = [s, oldS - q * s];
    [oldT, t] = [t, oldT - q * t];
  }
  return [oldR, oldS, oldT];
}

/** a^{−1} mod m; RangeError if gcd(a, m) ≠ 1. */
export function modInverse(a: bigint, m: bigint): bigint {
  const [g, x] = egcd(mod(a, m), m);
  if (g !== 1n) throw new RangeError('modInverse: not invertible');
  return mod(x, m);
}

/** base^exp mod m for exp ≥ 0 (left-to-right, 4-bit fixed window); negative exponents invert first. */
export function modPow(base: bigint, exp: bigint, m: bigint): bigint {
  if (m <= 0n) throw new RangeError('modPow: modulus must be positive');
  if (m === 1n) return 0n;
  if (exp < 0n) return modPow(modInverse(base, m), -exp, m);
  const b = mod(base, m);
  if (exp === 0n) return 1n;
  const table: bigint[] = [1n, b];
  for (let i = 2; i < 16; i++) table.push((table[i - 1]! * b) % m);
  const hex = exp.toString(16);
  let r = table[parseInt(hex[0]!, 16)]!;
  for (let i = 1; i < hex.length; i++) {
    r = (r * r) % m;
    r = (r * r) % m;
    r = (r * r) % m;
    r = (r * r) % m;
    const digit = parseInt(hex[i]!, 16);
    if (digit !== 0) r = (r * table[digit]!) % m;
  }
  return r;
}

/** Precomputed powers base^{j·16^i} mod m for exponents below 2^bits (fixed-base exponentiation). */
export interface FixedBaseTable {
  readonly m: bigint;
  readonly bits: number;
  /** rows[i][j] = base^{j·16^i} mod m, j = 0..15. */
  readonly rows: readonly (readonly bigint[])[];
}

/** Builds a fixed-base table for exponents below 2^bits (used by dealers that raise one base many times). */
export function fixedBaseTable(base: bigint, m: bigint, bits: number): FixedBaseTable {
  const rows: bigint[][] = [];
  let b = mod(base, m);
  for (let i = 0; i < Math.ceil(bits / 4); i++) {
    const row = [1n, b];
    for (let j = 2; j < 16; j++) row.push((row[j - 1]! * b) % m);
    rows.push(row);
    b = (row[15]! * b) % m;
  }
  return { m, bits, rows };
}

/** base^exp mod m from a fixed-base table; exp must be in [0, 2^bits). */
export function fixedBasePow(table: FixedBaseTable, exp: bigint): bigint {
  if (exp < 0n || bitLength(exp) > table.bits) throw new RangeError('fixedBasePow: exponent out of range');
  const hex = exp.toString(16);
  let r = 1n;
  for (let i = 0; i < hex.length; i++) {
    const digit = parseInt(hex[hex.length - 1 - i]!, 16);
    if (digit !== 0) r = (r * table.rows[i]![digit]!) % table.m;
  }
  return r % table.m;
}

/**
 * exp ↦ base^exp mod m for exponents in [0, 2^bits): a fixed-base table when `uses` exponentiations amortize
 * it (building costs about 3.75·bits multiplications, each use then about bits/4 instead of 1.25·bits),
 * plain modPow otherwise. Same results either way.
 */
export function powerOf(base: bigint, m: bigint, bits: number, uses: number): (exp: bigint) => bigint {
  if (uses >= 4) {
    const table = fixedBaseTable(base, m, bits);
    return (exp) => fixedBasePow(table, exp);
  }
  return (exp) => modPow(base, exp, m);
}

/** A uniform integer in [0, 2^bits). */
export function randomBits(random: Random, bits: number): bigint {
  if (!Number.isInteger(bits) || bits < 1)
    throw new RangeError(`bits: expected a positive integer, got ${bits}`);
  const bytes = random.bytes(Math.ceil(bits / 8));
  const excess = bytes.length * 8 - bits;
  bytes[0] = bytes[0]! & (0xff >> excess);
  return bytes.length === 0 ? 0n : BigInt('0x' + Buffer.from(bytes).toString('hex'));
}

/** A uniform integer in [0, bound) by rejection sampling (exactly uniform). */
export function randomBelow(random: Random, bound: bigint): bigint {
  if (bound <= 0n) throw new RangeError('randomBelow: bound must be positive');
  if (bound === 1n) return 0n;
  const bits = bitLength(bound - 1n);
  for (let attempt = 0; attempt < 1000; attempt++) {
    const x = randomBits(random, bits);
    if (x < bound) return x;
  }
  // Each attempt succeeds with probability > 1/2; 1000 failures means the Random is broken.
  throw new Error('Invariant: randomBelow drew 1000 out-of-range values');
}

/** A uniform element of Z_N^* (rejection sampling on gcd). */
export function randomUnit(random: Random, n: bigint): bigint {
  for (let attempt = 0; attempt < 1000; attempt++) {
    const x = randomBelow(random, n);
    if (x > 1n && gcd(x, n) === 1n) return x;
  }
  throw new Error('Invariant: randomUnit found no unit in 1000 draws');
}

/**
 * The Jacobi symbol (a | n) for odd n > 0: 1, −1, or 0 when gcd(a, n) > 1. A square mod N has symbol 1;
 * the converse fails (symbol 1 also for non-squares mod both primes), so this is a necessary check only.
 */
export function jacobi(a: bigint, n: bigint): number {
  if (n <= 0n || (n & 1n) === 0n) throw new RangeError('jacobi: n must be odd and positive');
  let x = mod(a, n);
  let m = n;
  let t = 1;
  while (x !== 0n) {
    while ((x & 1n) === 0n) {
      x >>= 1n;
      const r = m & 7n;
      if (r === 3n || r === 5n) t = -t;
    }
    [x, m] = [m, x];
    if ((x & 3n) === 3n && (m & 3n) === 3n) t = -t;
    x %= m;
  }
  return m === 1n ? t : 0;
}

/** True if 0 < x < n and gcd(x, n) = 1 (x is in Z_N^*). */
export function isUnit(x: bigint, n: bigint): boolean {
  return typeof x === 'bigint' && x > 0n && x < n && gcd(x, n) === 1n;
}

/** The non-interactive proof of Shoup §3: a 128-bit challenge and an integer response. */
export interface EqualLogProof {
  readonly c: bigint;
  readonly z: bigint;
}

/** Statement of an equal-log proof: log_v(vShare) = log_{xTilde}(xHat) in Z_N^*. */
export interface EqualLogStatement {
  readonly n: bigint;
  readonly v: bigint;
  readonly vShare: bigint;
  readonly xTilde: bigint;
  readonly xHat: bigint;
  /** Domain-separated transcript prefix (scheme tag, context, key id, index, digest), length-prefixed. */
  readonly transcript: Uint8Array;
  /**
   * Optional faster exp ↦ v^exp mod N and exp ↦ x̃^exp mod N (fixed-base tables, equalLogPowers) for
   * callers that prove or verify many statements with the same bases. Must equal modPow exactly for
   * exponents below 2^proofResponseBitsMax(N).
   */
  readonly powV?: (exp: bigint) => bigint;
  readonly powXTilde?: (exp: bigint) => bigint;
}

/**
 * exp ↦ base^exp mod N for every exponent a proof uses (below 2^proofResponseBitsMax(N)); a fixed-base
 * table when `uses` amortize it (powerOf).
 */
export function equalLogPowers(base: bigint, n: bigint, uses: number): (exp: bigint) => bigint {
  return powerOf(base, n, proofResponseBitsMax(n), uses);
}

/** Largest response z a verifier accepts: bit length L(N) + 2·L1 + 1 (bounds the verifier's work). */
export function proofResponseBitsMax(n: bigint): number {
  return bitLength(n) + 2 * L1 + 1;
}

function challenge(s: EqualLogStatement, vCommit: bigint, xCommit: bigint): bigint {
  const k = modulusBytes(s.n);
  const w = new ByteWriter(64 + 7 * k + s.transcript.length);
  w.string('bftkv/threshold-rsa/equal-log/v1');
  w.bytes(s.transcript);
  w.u32(k).raw(i2osp(s.n, k));
  for (const x of [s.v, s.xTilde, s.vShare, s.xHat, vCommit, xCommit]) w.raw(i2osp(x, k));
  return BigInt('0x' + Buffer.from(sha256(w.finish()).subarray(0, L1 / 8)).toString('hex'));
}

/** Proves knowledge of `secret` with vShare = v^secret and xHat = xTilde^secret (Shoup §3). */
export function proveEqualLogs(statement: EqualLogStatement, secret: bigint, random: Random): EqualLogProof {
  if (secret < 0n) throw new RangeError('secret: must be non-negative');
  const { n, v, xTilde } = statement;
  const powV = statement.powV ?? ((e: bigint) => modPow(v, e, n));
  const powXTilde = statement.powXTilde ?? ((e: bigint) => modPow(xTilde, e, n));
  const r = randomBits(random, bitLength(n) + 2 * L1);
  const c = challenge(statement, powV(r), powXTilde(r));
  return { c, z: secret * c + r };
}

/**
 * Verifies an equal-log proof. Every group element must be a unit mod N; z and c must be in range. Returns
 * false (never throws) on anything malformed, so a peer's garbage is just an invalid proof.
 */
export function verifyEqualLogs(statement: EqualLogStatement, proof: EqualLogProof): boolean {
  const { n, v, vShare, xTilde, xHat } = statement;
  if (typeof proof?.c !== 'bigint' || typeof proof.z !== 'bigint') return false;
  if (proof.c < 0n || proof.c >= 1n << BigInt(L1)) return false;
  if (proof.z < 0n || bitLength(proof.z) > proofResponseBitsMax(n)) return false;
  for (const x of [v, vShare, xTilde, xHat]) if (!isUnit(x, n)) return false;
  const powV = statement.powV ?? ((e: bigint) => modPow(v, e, n));
  const powXTilde = statement.powXTilde ?? ((e: bigint) => modPow(xTilde, e, n));
  const vCommit = (powV(proof.z) * modPow(modInverse(vShare, n), proof.c, n)) % n;
  const xCommit = (powXTilde(proof.z) * modPow(modInverse(xHat, n), proof.c, n)) % n;
  return challenge(statement, vCommit, xCommit) === proof.c;
}

/**
 * A function giving `SHA-256(label ‖ encode(value))` as the identity of a public object (a key, a record),
 * cached per object: ids are bound into every share and proof, so they are asked for often.
 */
export function cachedId<T extends object>(
  label: string,
  encode: (value: T) => Uint8Array,
): (value: T) => Uint8Array {
  const ids = new WeakMap<T, Uint8Array>();
  const tag = new TextEncoder().encode(label);
  return (value) => {
    let id = ids.get(value);
    if (id === undefined) {
      id = sha256(tag, encode(value));
      ids.set(value, id);
    }
    return id;
  };
}

// ---- Encodings shared by the RSA schemes (canonical, bounded; decoders throw CodecError naming the field).

/** A non-negative integer as length-prefixed minimal big-endian bytes. */
export function writeBig(w: ByteWriter, x: bigint): void {
  w.bytes(bigintToBytes(x));
}

/** The inverse of writeBig: at most `maxBytes`, no leading zero byte. */
export function readBig(r: ByteReader, maxBytes: number, field: string): bigint {
  const b = r.bytes(maxBytes, field);
  if (b.length > 0 && b[0] === 0) throw new CodecError(field, 'non-canonical integer (leading zero byte)');
  return os2ip(b);
}

/** A one-byte format version that must be `expected`. */
export function readVersion(r: ByteReader, expected: number, field: string): void {
  const v = r.u8(field);
  if (v !== expected) throw new CodecError(field, `unknown version ${v}`);
}
