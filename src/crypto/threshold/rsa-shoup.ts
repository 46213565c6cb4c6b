/**
 * Threshold RSA for NEW keys: Shoup, "Practical Threshold Signatures" (EUROCRYPT 2000), §3 (the protocol
 * with a trusted dealer, k-out-of-l, robust). Signatures are standard RSA PKCS#1 v1.5 (RFC 8017 §8.2), so
 * verifiers are unmodified.
 *
 * Dealer (§3 "The dealer"): safe primes p = 2p'+1, q = 2q'+1 (node:crypto generatePrime, safe: true),
 * N = pq, m = p'q', e prime with e > l (default 65537), d = e^{−1} mod m, a random polynomial
 * f(X) = d + a_1 X + … + a_{k−1} X^{k−1} over Z_m, shares s_i = f(i) mod m for i = 1..l, a random square v
 * that generates Q_N (checked: v ≢ 1 mod p and mod q), verification keys v_i = v^{s_i} mod N. p, q, m, d and
 * the coefficients exist only inside the dealing call.
 *
 * Signing (§3 "Valid signature shares"): x = OS2IP(EMSA-PKCS1-v1_5(H(M))) takes the place of Shoup's H(M);
 * Δ = l!; share x_i = x^{2Δ s_i} mod N with the proof of correctness of rsa-common.ts: equal logs of v_i to
 * base v and of x_i² to base x̃ = x^{4Δ}, L1 = 128, H' = SHA-256 truncated, the transcript binding the key
 * (SHA-256 of its encoding), the share index, the hash, the digest and the caller's session context.
 *
 * Combining (§3 "Combining shares"): for a set S of k valid shares, λ_{0,j} = Δ·Π_{j'∈S∖{j}} j' /
 * Π_{j'∈S∖{j}} (j' − j) (an integer), w = Π_{j∈S} x_j^{2λ_{0,j}} = x^{4Δ²d}, so w^e = x^{e'} with e' = 4Δ²;
 * extended Euclid gives a·e' + b·e = 1 (gcd = 1 since e is a prime > l), and y = w^a·x^b satisfies y^e = x.
 * RSA signatures are unique, so y is the PKCS#1 v1.5 signature any implementation computes with the whole
 * key. The combiner verifies y with node:crypto before returning it.
 *
 * Deviation: Shoup's security proof models H as a random oracle onto Z_N^*; PKCS#1 v1.5 is not a full-domain
 * hash. Shoup's share simulation (given y, the corrupted shares and x) does not depend on how x is chosen, so
 * the threshold layer adds no weakness beyond that of RSA PKCS#1 v1.5 signatures themselves.
 *
 * Robustness: with l players, any k valid shares combine, and every invalid share (bad proof, wrong index,
 * a share for another message or session, a value outside Z_N^*) is rejected and its sender named. With
 * fewer than k valid shares, combining fails with ThresholdRsaError('insufficientShares'); it never
 * outputs an unverified signature. Senders are the caller's authenticated transport identities (`from`).
 */
import { checkPrimeSync, generatePrime } from 'node:crypto';
import type { Random } from '../../env/random.js';
import { ByteReader, ByteWriter, CodecError } from '../../codec/bytes.js';
import {
  type Culprit,
  type EqualLogProof,
  type PartialCheck,
  ThresholdRsaError,
  L1,
  egcd,
  gcd,
  isList,
  equalLogPowers,
  isUnit,
  jacobi,
  mod,
  modInverse,
  modPow,
  proofResponseBitsMax,
  proveEqualLogs,
  randomBelow,
  randomUnit,
  verifyEqualLogs,
  cachedId,
  readBig,
  readVersion,
  writeBig,
} from './rsa-common.js';
import {
  HASH_IDS,
  MODULUS_BITS_MAX,
  MODULUS_BITS_MIN,
  type RsaPublicKey,
  type RsaSignMessage,
  bitLength,
  checkRsaPublicKey,
  checkSignMessage,
  i2osp,
  modulusBytes,
  pkcs1Representative,
  verifyPkcs1Digest,
} from './rsa-pkcs1.js';

/** Most players (l) a Shoup dealing supports. */
export const SHOUP_PLAYERS_MAX = 255;
/** Default public exponent (a prime larger than any supported l, as Shoup §3 requires). */
export const SHOUP_DEFAULT_EXPONENT = 65537n;

/** Public data of a Shoup dealing: the RSA public key plus verification base and keys. */
export interface ShoupPublicKey extends RsaPublicKey {
  /** l, the number of players (servers). */
  readonly players: number;
  /** k, the number of valid signature shares that make a signature. */
  readonly threshold: number;
  /** v, a generator of the squares Q_N. */
  readonly v: bigint;
  /** v_i = v^{s_i} mod N for i = 1..l (array position i − 1). */
  readonly verificationKeys: readonly bigint[];
}

/** Player i's secret share s_i = f(i) mod m, with the public key it belongs to. */
export interface ShoupShare {
  readonly index: number;
  readonly secret: bigint;
  readonly publicKey: ShoupPublicKey;
}

/** A signature share x_i = x^{2Δ s_i} mod N with its proof of correctness. */
export interface ShoupSignatureShare {
  readonly index: number;
  readonly value: bigint;
  readonly proof: EqualLogProof;
}

/** A signature share as received from an authenticated sender (its index in the dealing). */
export interface ShoupResponse {
  readonly from: number;
  readonly share: ShoupSignatureShare;
}

/** A combined, verified signature and what the combiner learned on the way. */
export interface ShoupSignature {
  /** The PKCS#1 v1.5 signature, k = ⌈bits(N)/8⌉ bytes. */
  readonly signature: Uint8Array;
  /** The indices whose shares were combined (k of them, ascending). */
  readonly signers: readonly number[];
  /** Senders of invalid shares. */
  readonly culprits: readonly Culprit[];
}

/** Δ = l! (Shoup §3). */
export function factorial(l: number): bigint {
  let f = 1n;
  for (let i = 2n; i <= BigInt(l); i++) f *= i;
  return f;
}

function checkPlayers(players: number, threshold: number): void {
  if (!Number.isInteger(players) || players < 1 || players > SHOUP_PLAYERS_MAX)
    throw new RangeError(`players: expected an integer in 1..${SHOUP_PLAYERS_MAX}, got ${players}`);
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > players)
    throw new RangeError(`threshold: expected an integer in 1..${players}, got ${threshold}`);
}

function isSafePrime(p: bigint): boolean {
  return p > 5n && (p & 1n) === 1n && checkPrimeSync(p) && checkPrimeSync((p - 1n) / 2n);
}

/** Options of a Shoup dealing. */
export interface ShoupDealOptions {
  /** l, the number of servers that receive a share. */
  readonly players: number;
  /** k, the number of valid shares needed to sign (1 ≤ k ≤ l). */
  readonly threshold: number;
  /** Public exponent, a prime > l; default 65537. */
  readonly e?: bigint;
}

/** What a dealing produces: the public data and one share per player (index i at array position i − 1). */
export interface ShoupDealing {
  readonly publicKey: ShoupPublicKey;
  readonly shares: readonly ShoupShare[];
}

/**
 * Deals a Shoup key from two given safe primes (Shoup §3 "The dealer"). Throws RangeError naming the field
 * if p or q is not a safe prime, if they are equal, or if e is not a prime > l coprime to m.
 */
export function dealShoup(
  primes: { p: bigint; q: bigint },
  options: ShoupDealOptions,
  random: Random,
): ShoupDealing {
  const { p, q } = primes;
  const { players, threshold } = options;
  const e = options.e ?? SHOUP_DEFAULT_EXPONENT;
  checkPlayers(players, threshold);
  if (typeof p !== 'bigint' || !isSafePrime(p)) throw new RangeError('primes.p: not a safe prime');
  if (typeof q !== 'bigint' || !isSafePrime(q)) throw new RangeError('primes.q: not a safe prime');
  if (p === q) throw new RangeError('primes: p and q must differ');
  const n = p * q;
  const bits = bitLength(n);
  if (bits < MODULUS_BITS_MIN || bits > MODULUS_BITS_MAX)
    throw new RangeError(`primes: N has ${bits} bits, expected ${MODULUS_BITS_MIN}..${MODULUS_BITS_MAX}`);
  if (typeof e !== 'bigint' || e <= BigInt(players) || !checkPrimeSync(e))
    throw new RangeError(`options.e: expected a prime larger than players (${players}), got ${String(e)}`);
  const pPrime = (p - 1n) / 2n;
  const qPrime = (q - 1n) / 2n;
  const m = pPrime * qPrime;
  if (gcd(e, m) !== 1n) throw new RangeError('options.e: divides p′q′');
  const d = modInverse(e, m);
  // f(X) = d + a_1 X + … + a_{k−1} X^{k−1} over Z_m.
  const coefficients = [d];
  for (let j = 1; j < threshold; j++) coefficients.push(randomBelow(random, m));
  const secrets: bigint[] = [];
  for (let i = 1; i <= players; i++) {
    let acc = 0n;
    for (let j = coefficients.length - 1; j >= 0; j--) acc = mod(acc * BigInt(i) + coefficients[j]!, m);
    secrets.push(acc);
  }
  // v: a random square that generates Q_N ≅ Z_{p'} × Z_{q'}, i.e. v ≢ 1 modulo p and modulo q.
  let v = 0n;
  for (let attempt = 0; ; attempt++) {
    if (attempt >= 100) throw new Error('Invariant: no generator of Q_N found in 100 draws');
    const r = randomUnit(random, n);
    v = (r * r) % n;
    if (gcd(v - 1n, n) === 1n) break;
  }
  const publicKey: ShoupPublicKey = {
    n,
    e,
    players,
    threshold,
    v,
    verificationKeys: secrets.map((s) => modPow(v, s, n)),
  };
  const shares = secrets.map((secret, i) => ({ index: i + 1, secret, publicKey }));
  return { publicKey, shares };
}

/** A safe prime of `bits` bits from node:crypto's generatePrime, in libuv's thread pool. */
export function backgroundSafePrime(bits: number): Promise<bigint> {
  return new Promise((resolve, reject) =>
    generatePrime(bits, { safe: true, bigint: true }, (err, prime) => (err ? reject(err) : resolve(prime))),
  );
}

/**
 * Generates a fresh Shoup key of `modulusBits` bits: two safe primes from `safePrime` (default: node:crypto's
 * generatePrime with OpenSSL's randomness, in the thread pool), then `dealShoup` with the injected Random
 * for the polynomial and v.
 */
export async function generateShoupKey(
  options: ShoupDealOptions & {
    readonly modulusBits: number;
    readonly safePrime?: (bits: number) => Promise<bigint>;
  },
  random: Random,
): Promise<ShoupDealing> {
  const { modulusBits } = options;
  if (
    !Number.isInteger(modulusBits) ||
    modulusBits % 2 !== 0 ||
    modulusBits < MODULUS_BITS_MIN ||
    modulusBits > MODULUS_BITS_MAX
  )
    throw new RangeError(
      `modulusBits: expected an even integer in ${MODULUS_BITS_MIN}..${MODULUS_BITS_MAX}, got ${modulusBits}`,
    );
  checkPlayers(options.players, options.threshold);
  const source = options.safePrime ?? backgroundSafePrime;
  const safePrime = () => source(modulusBits / 2);
  for (let attempt = 0; attempt < 16; attempt++) {
    // In the thread pool, the two searches (variable-time) overlap on two cores.
    const [p, q] = await Promise.all([safePrime(), safePrime()]);
    if (p !== q && bitLength(p * q) === modulusBits) return dealShoup({ p, q }, options, random);
  }
  throw new Error(`Invariant: no ${modulusBits}-bit modulus from 16 pairs of safe primes`);
}

/** Checks a public key's structure (RangeError/TypeError naming the field). */
export function checkShoupPublicKey(publicKey: ShoupPublicKey): void {
  checkRsaPublicKey(publicKey);
  checkPlayers(publicKey.players, publicKey.threshold);
  // Shoup §3: e is a prime > l, so gcd(e, 4Δ²) = 1 and combining finds a·4Δ² + b·e = 1. An odd e > l with
  // a factor ≤ l (e.g. 9 for l = 4) would decode, verify shares, then leave the combiner without a Bézout pair.
  if (publicKey.e <= BigInt(publicKey.players) || !checkPrimeSync(publicKey.e))
    throw new RangeError(
      `publicKey.e: expected a prime larger than players (${publicKey.players}), got ${String(publicKey.e)}`,
    );
  // v must generate Q_N (Shoup §3). Without p and q only necessary conditions can be checked: v is a unit
  // with Jacobi symbol 1 (every square has it) and v ≢ ±1 modulo p and modulo q (a generator never is;
  // v ≡ 1 mod p alone would even give p = gcd(v − 1, N) away). v = 1 would make every proof vacuous.
  const { n, v } = publicKey;
  if (!isUnit(v, n) || jacobi(v, n) !== 1 || gcd(v - 1n, n) !== 1n || gcd(v + 1n, n) !== 1n)
    throw new RangeError('publicKey.v: not a generator of the squares Q_N');
  if (!isList(publicKey.verificationKeys) || publicKey.verificationKeys.length !== publicKey.players)
    throw new RangeError(`publicKey.verificationKeys: expected ${publicKey.players} keys`);
  publicKey.verificationKeys.forEach((vi, i) => {
    if (!isUnit(vi, publicKey.n)) throw new RangeError(`publicKey.verificationKeys[${i}]: not in Z_N^*`);
  });
}

/** Checks that a share matches its verification key: v^{s_i} = v_i (a server runs this on receipt). */
export function checkShoupShare(share: ShoupShare): void {
  checkShoupPublicKey(share.publicKey);
  const { index, secret, publicKey } = share;
  if (!Number.isInteger(index) || index < 1 || index > publicKey.players)
    throw new RangeError(`share.index: expected 1..${publicKey.players}, got ${index}`);
  if (typeof secret !== 'bigint' || secret < 0n || secret >= publicKey.n)
    throw new RangeError('share.secret: out of range [0, N)');
  if (modPow(publicKey.v, secret, publicKey.n) !== publicKey.verificationKeys[index - 1])
    throw new ThresholdRsaError('badDealing', `share ${index} does not match its verification key`);
}

/** SHA-256 identity of a Shoup public key (its canonical encoding), bound into every proof. */
export const shoupKeyId: (publicKey: ShoupPublicKey) => Uint8Array = cachedId(
  'bftkv/threshold-rsa/shoup-key/v1',
  (publicKey: ShoupPublicKey) => encodeShoupPublicKey(publicKey),
);

function transcript(publicKey: ShoupPublicKey, index: number, message: RsaSignMessage): Uint8Array {
  return new ByteWriter()
    .string('bftkv/threshold-rsa/shoup/v1')
    .raw(shoupKeyId(publicKey))
    .u16(index)
    .bytes(message.context)
    .u8(HASH_IDS[message.hash])
    .bytes(message.digest)
    .finish();
}

function representative(publicKey: ShoupPublicKey, message: RsaSignMessage): bigint {
  const x = pkcs1Representative(publicKey.n, message.hash, message.digest);
  // A non-unit x would be a factor of N; it cannot occur for a real key except with negligible probability.
  if (gcd(x, publicKey.n) !== 1n)
    throw new ThresholdRsaError('badDealing', 'message representative shares a factor with N');
  return x;
}

/** Server side: the signature share x_i = x^{2Δ s_i} with its proof of correctness (Shoup §3). */
export function shoupSignShare(
  share: ShoupShare,
  message: RsaSignMessage,
  random: Random,
): ShoupSignatureShare {
  checkSignMessage(message);
  const { publicKey, index, secret } = share;
  if (!Number.isInteger(index) || index < 1 || index > publicKey.players)
    throw new RangeError(`share.index: expected 1..${publicKey.players}, got ${index}`);
  const n = publicKey.n;
  const delta = factorial(publicKey.players);
  const x = representative(publicKey, message);
  const value = modPow(x, 2n * delta * secret, n);
  const proof = proveEqualLogs(
    {
      n,
      v: publicKey.v,
      vShare: publicKey.verificationKeys[index - 1]!,
      xTilde: modPow(x, 4n * delta, n),
      xHat: (value * value) % n,
      transcript: transcript(publicKey, index, message),
    },
    secret,
    random,
  );
  return { index, value, proof };
}

/**
 * Combiner side: checks one signature share from authenticated sender `from`: index equal to `from` and in
 * 1..l, value in Z_N^*, proof valid for this key, message and context. Never throws on peer data.
 */
export function verifyShoupShare(
  publicKey: ShoupPublicKey,
  message: RsaSignMessage,
  from: number,
  share: ShoupSignatureShare,
): PartialCheck {
  checkSignMessage(message);
  return checkShare(verifierContext(publicKey, message, 1), from, share);
}

/** What verifying shares of one message needs once: x, x̃ = x^{4Δ}, and powers of v and x̃. */
interface VerifierContext {
  readonly publicKey: ShoupPublicKey;
  readonly message: RsaSignMessage;
  readonly x: bigint;
  readonly xTilde: bigint;
  readonly powV: (exp: bigint) => bigint;
  readonly powXTilde: (exp: bigint) => bigint;
}

/** The context for `uses` share verifications (fixed-base tables for v and x̃ when they pay off). */
function verifierContext(publicKey: ShoupPublicKey, message: RsaSignMessage, uses: number): VerifierContext {
  const { n, v, players } = publicKey;
  const x = representative(publicKey, message);
  const xTilde = modPow(x, 4n * factorial(players), n);
  return {
    publicKey,
    message,
    x,
    xTilde,
    powV: equalLogPowers(v, n, uses),
    powXTilde: equalLogPowers(xTilde, n, uses),
  };
}

function checkShare(ctx: VerifierContext, from: number, share: ShoupSignatureShare): PartialCheck {
  const { publicKey, message } = ctx;
  const { n, players } = publicKey;
  if (typeof share !== 'object' || share === null) return { ok: false, reason: 'not a signature share' };
  if (share.index !== from) return { ok: false, reason: `claims index ${String(share.index)}` };
  if (!Number.isInteger(from) || from < 1 || from > players)
    return { ok: false, reason: 'index out of range' };
  if (typeof share.value !== 'bigint' || !isUnit(share.value, n))
    return { ok: false, reason: 'value not in Z_N^*' };
  const valid = verifyEqualLogs(
    {
      n,
      v: publicKey.v,
      vShare: publicKey.verificationKeys[from - 1]!,
      xTilde: ctx.xTilde,
      xHat: (share.value * share.value) % n,
      transcript: transcript(publicKey, from, message),
      powV: ctx.powV,
      powXTilde: ctx.powXTilde,
    },
    share.proof,
  );
  return valid ? { ok: true } : { ok: false, reason: 'proof of correctness does not verify' };
}

/**
 * λ^S_{i,j} = Δ·Π_{j'∈S∖{j}} (i − j') / Π_{j'∈S∖{j}} (j − j'), an integer for j ∈ S ⊆ {1..l} and any i
 * (Shoup §3, Lemma 2), so Δ·f(i) = Σ_{j∈S} λ^S_{i,j}·f(j) for every polynomial f of degree < |S|.
 */
export function lagrangeCoefficient(set: readonly number[], i: number, j: number, delta: bigint): bigint {
  let num = delta;
  let den = 1n;
  for (const other of set) {
    if (other === j) continue;
    num *= BigInt(i - other);
    den *= BigInt(j - other);
  }
  if (num % den !== 0n) throw new Error('Invariant: Δ·λ must be an integer');
  return num / den;
}

/** λ^S_{0,j} = Δ·Π_{j'∈S∖{j}} j' / Π_{j'∈S∖{j}} (j' − j), an integer (Shoup §3, Lemma 2). */
export function lagrangeAtZero(set: readonly number[], j: number, delta: bigint): bigint {
  return lagrangeCoefficient(set, 0, j, delta);
}

/**
 * Checks that a dealing's verification keys are consistent, as far as anyone without p and q can: they lie
 * on one polynomial of degree < k in the exponent (v_i^Δ = Π_{j≤k} v_j^{λ_{i,j}} for every i > k, with
 * S = {1..k}), and its constant term is an RSA exponent for e ((Π_{j≤k} v_j^{λ_{0,j}})^e = v^Δ, i.e.
 * v^{Δ·d·e} = v^Δ). Then any k valid signature shares combine to the same signature, which y^e = x checks.
 * A holder runs this on its dealing with checkShoupShare; it costs about (l − k + 2)·k exponentiations
 * with exponents of a few dozen bits. Throws ThresholdRsaError 'badDealing'.
 */
export function checkShoupVerificationKeys(publicKey: ShoupPublicKey): void {
  checkShoupPublicKey(publicKey);
  const { n, e, v, players, threshold, verificationKeys } = publicKey;
  const delta = factorial(players);
  const base = Array.from({ length: threshold }, (_, j) => j + 1);
  const interpolate = (i: number): bigint =>
    base.reduce(
      (acc, j) => (acc * modPow(verificationKeys[j - 1]!, lagrangeCoefficient(base, i, j, delta), n)) % n,
      1n,
    );
  for (let i = threshold + 1; i <= players; i++)
    if (modPow(verificationKeys[i - 1]!, delta, n) !== interpolate(i))
      throw new ThresholdRsaError('badDealing', `verification key ${i} is not on the dealing polynomial`);
  if (modPow(interpolate(0), e, n) !== modPow(v, delta, n))
    throw new ThresholdRsaError('badDealing', 'the shared exponent is not an RSA exponent for e');
}

/**
 * Checks the signature shares of one message under one key, each distinct share once, and combines them.
 * A coordinator checks shares as they arrive (to stop at k valid ones) and then combines the same shares
 * with `combine` without paying for their proofs again.
 */
export class ShoupShareVerifier {
  readonly #ctx: VerifierContext;
  readonly #checked = new Map<string, PartialCheck>();

  /** `uses`: about how many shares will be checked (sizes the fixed-base tables). */
  constructor(
    readonly publicKey: ShoupPublicKey,
    readonly message: RsaSignMessage,
    uses: number,
  ) {
    checkSignMessage(message);
    checkShoupPublicKey(publicKey);
    this.#ctx = verifierContext(publicKey, message, uses);
  }

  /** `verifyShoupShare` for this key and message, remembered per (sender, value, proof). */
  check(from: number, share: ShoupSignatureShare): PartialCheck {
    const id = shareId(from, share);
    const known = id === undefined ? undefined : this.#checked.get(id);
    if (known !== undefined) return known;
    const result = checkShare(this.#ctx, from, share);
    if (id !== undefined && this.#checked.size < 4 * this.publicKey.players) this.#checked.set(id, result);
    return result;
  }

  /**
   * Combines signature shares (Shoup §3 "Combining shares"): checks every response, names the senders of
   * invalid ones, combines the k valid shares with the smallest indices, and verifies the result with
   * node:crypto. Throws ThresholdRsaError 'insufficientShares' (with culprits) when fewer than k are valid.
   */
  combine(responses: readonly ShoupResponse[]): ShoupSignature {
    const { publicKey, message } = this;
    const { n, e, players, threshold } = publicKey;
    if (responses.length > 4 * players)
      throw new RangeError(`responses: at most ${4 * players} expected, got ${responses.length}`);
    const culprits: Culprit[] = [];
    const valid = new Map<number, bigint>();
    const seen = new Map<number, ShoupSignatureShare>();
    const blamed = new Set<number>();
    const blame = (party: number, reason: string): void => {
      if (blamed.has(party)) return;
      blamed.add(party);
      culprits.push({ party, reason });
      valid.delete(party);
    };
    for (const { from, share } of responses) {
      if (!Number.isInteger(from) || from < 1 || from > players)
        throw new RangeError(`responses[].from: expected 1..${players}, got ${from}`);
      const earlier = seen.get(from);
      if (earlier !== undefined) {
        if (earlier.value !== share?.value) blame(from, 'sent two different signature shares');
        continue;
      }
      seen.set(from, share);
      const check = this.check(from, share);
      if (check.ok) valid.set(from, share.value);
      else blame(from, check.reason);
    }
    if (valid.size < threshold)
      throw new ThresholdRsaError(
        'insufficientShares',
        `${valid.size} valid signature shares, ${threshold} needed`,
        culprits,
      );
    const signers = [...valid.keys()].sort((a, b) => a - b).slice(0, threshold);
    const delta = factorial(players);
    const x = this.#ctx.x;
    // w = Π x_j^{2λ_{0,j}} = x^{4Δ²d}; then y = w^a x^b with a·4Δ² + b·e = 1.
    let w = 1n;
    for (const j of signers) w = (w * modPow(valid.get(j)!, 2n * lagrangeAtZero(signers, j, delta), n)) % n;
    const [g, a, b] = egcd(4n * delta * delta, e);
    if (g !== 1n) throw new Error('Invariant: gcd(4Δ², e) = 1 for a prime e > l');
    const y = (modPow(w, a, n) * modPow(x, b, n)) % n;
    const signature = i2osp(y, modulusBytes(n));
    if (!verifyPkcs1Digest(publicKey, message, signature))
      throw new ThresholdRsaError('invalidSignature', 'combined signature does not verify', culprits);
    return { signature, signers, culprits };
  }
}

/** The memo key of a share from `from`, or undefined when the share is not even shaped like one. */
function shareId(from: number, share: ShoupSignatureShare): string | undefined {
  if (typeof share !== 'object' || share === null || typeof share.proof !== 'object' || share.proof === null)
    return undefined;
  const { value, proof } = share;
  if (typeof value !== 'bigint' || typeof proof.c !== 'bigint' || typeof proof.z !== 'bigint')
    return undefined;
  return `${from}:${share.index}:${value.toString(16)}:${proof.c.toString(16)}:${proof.z.toString(16)}`;
}

/**
 * Combines signature shares (see `ShoupShareVerifier.combine`): verifies every response, names the senders
 * of invalid ones, combines the k valid shares with the smallest indices, and verifies the result with
 * node:crypto. Throws ThresholdRsaError 'insufficientShares' (with culprits) when fewer than k are valid.
 */
export function combineShoup(
  publicKey: ShoupPublicKey,
  message: RsaSignMessage,
  responses: readonly ShoupResponse[],
): ShoupSignature {
  return new ShoupShareVerifier(publicKey, message, responses.length).combine(responses);
}

// ---- Encodings (canonical, bounded; decoders throw CodecError naming the field). ----

const MODULUS_BYTES_MAX = MODULUS_BITS_MAX / 8;
const SHOUP_PUBLIC_KEY_VERSION = 1;
const SHOUP_SHARE_VERSION = 1;
const SHOUP_SIGNATURE_SHARE_VERSION = 1;

/** Canonical encoding of a Shoup public key. */
export function encodeShoupPublicKey(publicKey: ShoupPublicKey): Uint8Array {
  const w = new ByteWriter();
  w.u8(SHOUP_PUBLIC_KEY_VERSION);
  writeBig(w, publicKey.n);
  writeBig(w, publicKey.e);
  w.u16(publicKey.players).u16(publicKey.threshold);
  writeBig(w, publicKey.v);
  for (const vi of publicKey.verificationKeys) writeBig(w, vi);
  return w.finish();
}

function readShoupPublicKey(r: ByteReader): ShoupPublicKey {
  readVersion(r, SHOUP_PUBLIC_KEY_VERSION, 'shoupPublicKey.version');
  const n = readBig(r, MODULUS_BYTES_MAX, 'shoupPublicKey.n');
  const e = readBig(r, 8, 'shoupPublicKey.e');
  const players = r.u16('shoupPublicKey.players');
  const threshold = r.u16('shoupPublicKey.threshold');
  if (players < 1 || players > SHOUP_PLAYERS_MAX || threshold < 1 || threshold > players)
    throw new CodecError('shoupPublicKey.players', `bad (threshold, players) = (${threshold}, ${players})`);
  const v = readBig(r, MODULUS_BYTES_MAX, 'shoupPublicKey.v');
  const verificationKeys: bigint[] = [];
  for (let i = 0; i < players; i++)
    verificationKeys.push(readBig(r, MODULUS_BYTES_MAX, 'shoupPublicKey.verificationKeys'));
  const publicKey = { n, e, players, threshold, v, verificationKeys };
  try {
    checkShoupPublicKey(publicKey);
  } catch (err) {
    throw new CodecError('shoupPublicKey', err instanceof Error ? err.message : String(err));
  }
  return publicKey;
}

/** Decodes a Shoup public key (bounded; validates ranges). */
export function decodeShoupPublicKey(bytes: Uint8Array): ShoupPublicKey {
  const r = new ByteReader(bytes);
  const publicKey = readShoupPublicKey(r);
  r.finish('shoupPublicKey');
  return publicKey;
}

/** Encoding of a player's share (secret: store it encrypted at rest). */
export function encodeShoupShare(share: ShoupShare): Uint8Array {
  const w = new ByteWriter();
  w.u8(SHOUP_SHARE_VERSION).u16(share.index);
  writeBig(w, share.secret);
  w.raw(encodeShoupPublicKey(share.publicKey));
  return w.finish();
}

/** Decodes a player's share (bounded; validates ranges, not the verification key — see checkShoupShare). */
export function decodeShoupShare(bytes: Uint8Array): ShoupShare {
  const r = new ByteReader(bytes);
  readVersion(r, SHOUP_SHARE_VERSION, 'shoupShare.version');
  const index = r.u16('shoupShare.index');
  const secret = readBig(r, MODULUS_BYTES_MAX, 'shoupShare.secret');
  const publicKey = readShoupPublicKey(r);
  r.finish('shoupShare');
  if (index < 1 || index > publicKey.players)
    throw new CodecError('shoupShare.index', `out of range: ${index}`);
  if (secret >= publicKey.n) throw new CodecError('shoupShare.secret', 'not below N');
  return { index, secret, publicKey };
}

/** Encoding of a signature share (what a server sends back). */
export function encodeShoupSignatureShare(share: ShoupSignatureShare): Uint8Array {
  const w = new ByteWriter();
  w.u8(SHOUP_SIGNATURE_SHARE_VERSION).u16(share.index);
  writeBig(w, share.value);
  writeBig(w, share.proof.c);
  writeBig(w, share.proof.z);
  return w.finish();
}

/**
 * Decodes a signature share. Bounds come from the public key (value below N, c below 2^L1, z at most
 * L(N) + 2·L1 + 1 bits); the proof itself is checked by verifyShoupShare.
 */
export function decodeShoupSignatureShare(bytes: Uint8Array, publicKey: ShoupPublicKey): ShoupSignatureShare {
  const r = new ByteReader(bytes);
  readVersion(r, SHOUP_SIGNATURE_SHARE_VERSION, 'shoupSignatureShare.version');
  const index = r.u16('shoupSignatureShare.index');
  const k = modulusBytes(publicKey.n);
  const value = readBig(r, k, 'shoupSignatureShare.value');
  const c = readBig(r, L1 / 8, 'shoupSignatureShare.c');
  const z = readBig(r, Math.ceil(proofResponseBitsMax(publicKey.n) / 8), 'shoupSignatureShare.z');
  r.finish('shoupSignatureShare');
  return { index, value, proof: { c, z } };
}
