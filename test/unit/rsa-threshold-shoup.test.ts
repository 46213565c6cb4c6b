/**
 * Shoup's threshold RSA (src/crypto/threshold/rsa-shoup.ts). Small keys for speed: 512-bit moduli from
 * 256-bit safe primes (named in each test), one 1024-bit modulus from 512-bit safe primes. Every signature is
 * checked against node:crypto's whole-key signature, node:crypto verify and `openssl dgst -verify`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkPrimeSync, createPrivateKey, generatePrime, sign } from 'node:crypto';
import fc from 'fast-check';
import { secureRandom } from '../../src/env/random.js';
import { CodecError } from '../../src/codec/bytes.js';
import {
  ThresholdRsaError,
  jacobi,
  mod,
  modInverse,
  modPow,
  powerOf,
} from '../../src/crypto/threshold/rsa-common.js';
import {
  bigintToBytes,
  pkcs1Representative,
  rsaPublicKeyToPem,
  signMessageFor,
  type RsaHash,
  type RsaSignMessage,
} from '../../src/crypto/threshold/rsa-pkcs1.js';
import {
  checkShoupShare,
  checkShoupVerificationKeys,
  combineShoup,
  dealShoup,
  decodeShoupPublicKey,
  decodeShoupShare,
  decodeShoupSignatureShare,
  encodeShoupPublicKey,
  encodeShoupShare,
  encodeShoupSignatureShare,
  factorial,
  generateShoupKey,
  lagrangeAtZero,
  shoupSignShare,
  verifyShoupShare,
  ShoupShareVerifier,
  type ShoupDealing,
  type ShoupResponse,
} from '../../src/crypto/threshold/rsa-shoup.js';
import { nodeVerifies, opensslVerifies, range1, subsets } from './rsa-threshold-helpers.js';

function prime(bits: number, safe: boolean): Promise<bigint> {
  return new Promise((resolve, reject) =>
    generatePrime(bits, { safe, bigint: true }, (err, p) => (err ? reject(err) : resolve(p))),
  );
}
const safePrime = (bits: number): Promise<bigint> => prime(bits, true);

const DATA = new TextEncoder().encode('certificate signing request: CN=bob, O=example');
const CONTEXT = new TextEncoder().encode('session 7 / ca example');

interface Keyed {
  readonly dealing: ShoupDealing;
  readonly p: bigint;
  readonly q: bigint;
  readonly publicPem: string;
}

async function shoupKey(primeBits: number, threshold: number, players: number): Promise<Keyed> {
  for (;;) {
    const p = await safePrime(primeBits);
    const q = await safePrime(primeBits);
    if (p === q) continue;
    const dealing = dealShoup({ p, q }, { players, threshold }, secureRandom);
    return { dealing, p, q, publicPem: rsaPublicKeyToPem(dealing.publicKey) };
  }
}

/** The whole-key signature, from the dealer's primes, through node:crypto (the reference to match). */
function wholeKeySignature(k: Keyed, hash: RsaHash, data: Uint8Array): Buffer {
  const { p, q } = k;
  const { n, e } = k.dealing.publicKey;
  const d = modInverse(e, ((p - 1n) * (q - 1n)) / 2n); // λ(N) = 2p'q' for safe primes
  const b64 = (x: bigint): string => Buffer.from(bigintToBytes(x)).toString('base64url');
  const key = createPrivateKey({
    key: {
      kty: 'RSA',
      n: b64(n),
      e: b64(e),
      d: b64(d),
      p: b64(p),
      q: b64(q),
      dp: b64(mod(d, p - 1n)),
      dq: b64(mod(d, q - 1n)),
      qi: b64(modInverse(q, p)),
    },
    format: 'jwk',
  });
  return sign(hash, data, key);
}

function assertStandardSignature(
  k: Keyed,
  signature: Uint8Array,
  hash: RsaHash = 'sha256',
  data = DATA,
): void {
  assert.deepEqual(
    Buffer.from(signature),
    wholeKeySignature(k, hash, data),
    'equals the whole-key signature',
  );
  assert.ok(nodeVerifies(k.publicPem, hash, data, signature), 'node:crypto verifies');
  assert.ok(opensslVerifies(k.publicPem, hash, data, signature), 'openssl dgst -verify accepts');
}

function responsesFrom(k: Keyed, signers: readonly number[], message: RsaSignMessage): ShoupResponse[] {
  return signers.map((i) => ({
    from: i,
    share: shoupSignShare(k.dealing.shares[i - 1]!, message, secureRandom),
  }));
}

void test('Shoup (7, 10), 512-bit N from 256-bit safe primes: chosen 7-subsets sign; node and openssl verify', async () => {
  const k = await shoupKey(256, 7, 10);
  for (const share of k.dealing.shares) checkShoupShare(share);
  const message = signMessageFor(DATA, CONTEXT);
  const all = responsesFrom(k, range1(10), message);
  const sets = subsets(range1(10), 7);
  for (const signers of [sets[0]!, sets.at(-1)!, sets[17]!, sets[60]!, sets[99]!]) {
    const result = combineShoup(
      k.dealing.publicKey,
      message,
      all.filter((r) => signers.includes(r.from)),
    );
    assert.deepEqual(result.signers, signers);
    assert.deepEqual(result.culprits, []);
    assertStandardSignature(k, result.signature);
  }
});

void test('Shoup (3, 4), (2, 3), (4, 7), 512-bit N from 256-bit safe primes: every t-subset signs and verifies', async () => {
  const message = signMessageFor(DATA, CONTEXT);
  for (const [t, n] of [
    [3, 4],
    [2, 3],
    [4, 7],
  ] as const) {
    const k = await shoupKey(256, t, n);
    const all = responsesFrom(k, range1(n), message);
    for (const signers of subsets(range1(n), t)) {
      const result = combineShoup(
        k.dealing.publicKey,
        message,
        all.filter((r) => signers.includes(r.from)),
      );
      assert.deepEqual(result.signers, signers);
      assertStandardSignature(k, result.signature);
    }
  }
});

void test('Shoup (3, 5), 1024-bit N from 512-bit safe primes via generateShoupKey: SHA-256/384/512 verify', async () => {
  const dealing = await generateShoupKey({ modulusBits: 1024, players: 5, threshold: 3 }, secureRandom);
  const publicPem = rsaPublicKeyToPem(dealing.publicKey);
  assert.equal(dealing.publicKey.n.toString(2).length, 1024);
  for (const hash of ['sha256', 'sha384', 'sha512'] as const) {
    const message = signMessageFor(DATA, CONTEXT, hash);
    const responses = [5, 1, 3].map((i) => ({
      from: i,
      share: shoupSignShare(dealing.shares[i - 1]!, message, secureRandom),
    }));
    const { signature } = combineShoup(dealing.publicKey, message, responses);
    assert.ok(nodeVerifies(publicPem, hash, DATA, signature));
    assert.ok(opensslVerifies(publicPem, hash, DATA, signature));
  }
});

void test('Shoup (2, 3), 2048-bit N from 1024-bit safe primes via generateShoupKey: signs and verifies', async () => {
  const dealing = await generateShoupKey({ modulusBits: 2048, players: 3, threshold: 2 }, secureRandom);
  assert.equal(dealing.publicKey.n.toString(2).length, 2048);
  const publicPem = rsaPublicKeyToPem(dealing.publicKey);
  const message = signMessageFor(DATA, CONTEXT);
  const responses = [3, 2].map((i) => ({
    from: i,
    share: shoupSignShare(dealing.shares[i - 1]!, message, secureRandom),
  }));
  const { signature, signers } = combineShoup(dealing.publicKey, message, responses);
  assert.deepEqual(signers, [2, 3]);
  assert.ok(nodeVerifies(publicPem, 'sha256', DATA, signature));
  assert.ok(opensslVerifies(publicPem, 'sha256', DATA, signature));
});

void test('ShoupShareVerifier: checks are remembered per (sender, share), never per value; combining checked shares gives the standard signature', async () => {
  const k = await shoupKey(256, 3, 5);
  const { publicKey } = k.dealing;
  const message = signMessageFor(DATA, CONTEXT);
  const honest = responsesFrom(k, range1(5), message);
  const verifier = new ShoupShareVerifier(publicKey, message, 5);
  const two = honest[1]!.share;
  const badProof = { ...two, proof: { c: two.proof.c, z: two.proof.z + 1n } };
  assert.deepEqual(verifier.check(2, two), { ok: true });
  // The same value with a forged proof, or the same share from another sender, is checked on its own.
  assert.equal(verifier.check(2, badProof).ok, false);
  assert.equal(verifier.check(3, two).ok, false);
  assert.deepEqual(verifier.check(2, two), { ok: true });
  assert.equal(verifier.check(2, badProof).ok, false);
  // Malformed input is refused, not remembered, never thrown.
  assert.equal(verifier.check(2, { ...two, proof: null } as never).ok, false);
  assert.equal(verifier.check(2, null as never).ok, false);
  // Combining what was checked: the forger is named, the honest rest sign.
  const one = honest[0]!.share;
  const forged = { from: 1, share: { ...one, proof: { c: one.proof.c, z: one.proof.z + 1n } } };
  const result = verifier.combine([forged, ...honest.slice(2)]);
  assert.deepEqual(
    result.culprits.map((c) => c.party),
    [1],
  );
  assert.deepEqual(result.signers, [3, 4, 5]);
  assertStandardSignature(k, result.signature);
  // A verifier is bound to its message: another message's shares do not verify under it.
  const other = signMessageFor(new TextEncoder().encode('another request'), CONTEXT);
  const otherShare = shoupSignShare(k.dealing.shares[0]!, other, secureRandom);
  assert.equal(verifier.check(1, otherShare).ok, false);
});

void test('Shoup (4, 7), 512-bit N: malicious shares are rejected with their senders named; the honest rest sign', async () => {
  const k = await shoupKey(256, 4, 7);
  const { publicKey } = k.dealing;
  const message = signMessageFor(DATA, CONTEXT);
  const other = signMessageFor(new TextEncoder().encode('another request'), CONTEXT);
  const honest = responsesFrom(k, range1(7), message);
  const share = (i: number) => honest[i - 1]!.share;
  const forgeries: Record<string, ShoupResponse> = {
    wrongValue: { from: 2, share: { ...share(2), value: (share(2).value * 4n) % publicKey.n } },
    badProof: { from: 2, share: { ...share(2), proof: { c: share(2).proof.c, z: share(2).proof.z + 1n } } },
    wrongIndex: { from: 2, share: share(3) },
    replayOtherMessage: { from: 2, share: shoupSignShare(k.dealing.shares[1]!, other, secureRandom) },
    otherContext: {
      from: 2,
      share: shoupSignShare(k.dealing.shares[1]!, { ...message, context: new Uint8Array([1]) }, secureRandom),
    },
    valueZero: { from: 2, share: { ...share(2), value: 0n } },
    valueN: { from: 2, share: { ...share(2), value: publicKey.n } },
    valueFactor: { from: 2, share: { ...share(2), value: k.p } },
  };
  for (const [name, forged] of Object.entries(forgeries)) {
    assert.equal(verifyShoupShare(publicKey, message, forged.from, forged.share).ok, false, name);
    // The forger comes first, so with a naive "first k" combiner it would be used.
    const result = combineShoup(publicKey, message, [
      forged,
      ...honest.filter((r) => [1, 4, 6, 7].includes(r.from)),
    ]);
    assert.deepEqual(
      result.culprits.map((c) => c.party),
      [2],
      name,
    );
    assert.deepEqual(result.signers, [1, 4, 6, 7], name);
    assertStandardSignature(k, result.signature);
  }
  // The same share with −1 folded in passes the proof (it checks x_i²) and still combines exactly.
  const negated = { from: 2, share: { ...share(2), value: publicKey.n - share(2).value } };
  const result = combineShoup(publicKey, message, [
    negated,
    ...honest.filter((r) => [4, 6, 7].includes(r.from)),
  ]);
  assert.deepEqual(result.culprits, []);
  assertStandardSignature(k, result.signature);
  // Two different shares from one sender: equivocation, named; its first share is dropped too.
  const twice = combineShoup(publicKey, message, [
    honest[0]!,
    { from: 1, share: share(2) },
    ...honest.slice(2, 6),
  ]);
  assert.deepEqual(
    twice.culprits.map((c) => c.party),
    [1],
  );
  assert.deepEqual(twice.signers, [3, 4, 5, 6]);
});

void test('Shoup (4, 7), 512-bit N: three cheaters (tolerance) sign; fewer than t valid shares fail naming them', async () => {
  const k = await shoupKey(256, 4, 7);
  const { publicKey } = k.dealing;
  const message = signMessageFor(DATA, CONTEXT);
  const honest = responsesFrom(k, range1(7), message);
  const cheat = (r: ShoupResponse): ShoupResponse => ({
    from: r.from,
    share: { ...r.share, value: (r.share.value * 9n) % publicKey.n },
  });
  const mixed = honest.map((r) => ([2, 5, 7].includes(r.from) ? cheat(r) : r));
  const ok = combineShoup(publicKey, message, mixed);
  assert.deepEqual(
    ok.culprits.map((c) => c.party),
    [2, 5, 7],
  );
  assert.deepEqual(ok.signers, [1, 3, 4, 6]);
  assertStandardSignature(k, ok.signature);
  const tooMany = honest.map((r) => ([2, 5, 6, 7].includes(r.from) ? cheat(r) : r));
  assert.throws(
    () => combineShoup(publicKey, message, tooMany),
    (err: unknown) =>
      err instanceof ThresholdRsaError &&
      err.code === 'insufficientShares' &&
      err.culprits.map((c) => c.party).join() === '2,5,6,7',
  );
  assert.throws(
    () => combineShoup(publicKey, message, honest.slice(0, 3)),
    (err: unknown) =>
      err instanceof ThresholdRsaError && err.code === 'insufficientShares' && err.culprits.length === 0,
  );
});

void test('Shoup dealing refuses primes that are not safe, equal primes, and e ≤ players', async () => {
  const p = await safePrime(256);
  const q = await safePrime(256);
  const notSafe = await prime(256, false);
  assert.ok(!checkPrimeSync((notSafe - 1n) / 2n), 'a random prime is not a safe prime');
  assert.throws(() => dealShoup({ p: notSafe, q }, { players: 3, threshold: 2 }, secureRandom), /primes\.p/);
  assert.throws(() => dealShoup({ p, q: p }, { players: 3, threshold: 2 }, secureRandom), /differ/);
  assert.throws(() => dealShoup({ p, q }, { players: 3, threshold: 2, e: 3n }, secureRandom), /options\.e/);
  assert.throws(() => dealShoup({ p, q }, { players: 3, threshold: 4 }, secureRandom), /threshold/);
  const { shares } = dealShoup({ p, q }, { players: 3, threshold: 2 }, secureRandom);
  assert.throws(() => checkShoupShare({ ...shares[0]!, secret: shares[0]!.secret + 1n }), ThresholdRsaError);
});

void test('property: Δ·λ are integers and Σ λ_{0,j}·f(j) = Δ·f(0) for any k-subset (Shoup Lemma 2)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 12 }).chain((l) =>
        fc.tuple(
          fc.constant(l),
          fc
            .integer({ min: 1, max: l })
            .chain((k) =>
              fc.tuple(
                fc.array(fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n }), { minLength: k, maxLength: k }),
                fc.shuffledSubarray(range1(l), { minLength: k, maxLength: k }),
              ),
            ),
        ),
      ),
      ([l, [coefficients, set]]) => {
        const f = (x: bigint): bigint => coefficients.reduceRight((acc, a) => acc * x + a, 0n);
        const delta = factorial(l);
        const sum = set.reduce((acc, j) => acc + lagrangeAtZero(set, j, delta) * f(BigInt(j)), 0n);
        assert.equal(sum, delta * coefficients[0]!);
      },
    ),
    { numRuns: 300 },
  );
});

void test('Shoup encodings round-trip; decoders reject truncation, trailing bytes and out-of-range fields', async () => {
  const k = await shoupKey(256, 2, 3);
  const { publicKey, shares } = k.dealing;
  const message = signMessageFor(DATA, CONTEXT);
  const pk = encodeShoupPublicKey(publicKey);
  assert.deepEqual(decodeShoupPublicKey(pk), publicKey);
  for (const share of shares) assert.deepEqual(decodeShoupShare(encodeShoupShare(share)), share);
  const sigShare = shoupSignShare(shares[2]!, message, secureRandom);
  const decoded = decodeShoupSignatureShare(encodeShoupSignatureShare(sigShare), publicKey);
  assert.deepEqual(decoded, sigShare);
  assert.equal(verifyShoupShare(publicKey, message, 3, decoded).ok, true);
  assert.throws(() => decodeShoupPublicKey(pk.subarray(0, pk.length - 1)), CodecError);
  assert.throws(() => decodeShoupPublicKey(new Uint8Array([...pk, 0])), CodecError);
  assert.throws(() => decodeShoupPublicKey(new Uint8Array([2, ...pk.subarray(1)])), CodecError);
  const bigZ = encodeShoupSignatureShare({ ...sigShare, proof: { c: sigShare.proof.c, z: 1n << 2000n } });
  assert.throws(() => decodeShoupSignatureShare(bigZ, publicKey), CodecError);
  const bigValue = encodeShoupSignatureShare({ ...sigShare, value: publicKey.n << 8n });
  assert.throws(() => decodeShoupSignatureShare(bigValue, publicKey), CodecError);
});

void test('a public key whose e shares a factor with 4Δ² is refused when decoded (combining would have no Bézout pair)', async () => {
  const k = await shoupKey(256, 3, 4);
  const { publicKey, shares } = k.dealing;
  // e = 9 > players = 4 and odd, but 3 divides Δ = 4! = 24: gcd(4Δ², e) = 9, so y = w^a·x^b does not exist.
  const bad = { ...publicKey, e: 9n };
  assert.throws(() => decodeShoupPublicKey(encodeShoupPublicKey(bad)), CodecError);
  // Fed directly to the combiner, it is a bad argument (RangeError), never a crash of another kind.
  const message = signMessageFor(DATA, CONTEXT);
  const responses = shares.slice(0, 3).map((s) => ({
    from: s.index,
    share: shoupSignShare({ ...s, publicKey: bad }, message, secureRandom),
  }));
  assert.throws(() => combineShoup(bad, message, responses), RangeError);
});

void test('jacobi(a | pq) equals the product of Euler criteria mod p and mod q', async () => {
  const p = await prime(64, false);
  const q = await prime(64, false);
  const n = p * q;
  const legendre = (a: bigint, r: bigint): number => {
    const e = modPow(a, (r - 1n) / 2n, r);
    return e === 0n ? 0 : e === 1n ? 1 : -1;
  };
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: n - 1n }), (a) => {
      assert.equal(jacobi(a, n), legendre(a, p) * legendre(a, q));
    }),
    { numRuns: 300 },
  );
  assert.equal(jacobi(p, n), 0);
  assert.throws(() => jacobi(3n, 10n), RangeError);
});

void test('a public key whose v is not a generator of Q_N is refused: with v = 1 any wrong share would prove', async () => {
  const k = await shoupKey(256, 3, 4);
  const { publicKey } = k.dealing;
  const { n } = publicKey;
  const ones = publicKey.verificationKeys.map(() => 1n);
  const vacuous = { ...publicKey, v: 1n, verificationKeys: ones };
  // Why it matters: with v = v_i = 1 the statement log_v v_i = log_x̃ x_i² holds for every exponent, so a
  // share for a made-up secret a comes with a valid proof.
  const message = signMessageFor(DATA, CONTEXT);
  const forged = shoupSignShare({ index: 2, secret: 12345n, publicKey: vacuous }, message, secureRandom);
  assert.equal(verifyShoupShare(vacuous, message, 2, forged).ok, true);
  // Such keys no longer decode, nor does v = N − 1 (order 2) or a v with Jacobi symbol −1.
  let nonSquare = 2n;
  while (jacobi(nonSquare, n) !== -1) nonSquare++;
  for (const v of [1n, n - 1n, nonSquare]) {
    const bad = { ...publicKey, v, verificationKeys: ones };
    assert.throws(() => decodeShoupPublicKey(encodeShoupPublicKey(bad)), CodecError, `v = ${String(v)}`);
  }
  assert.deepEqual(decodeShoupPublicKey(encodeShoupPublicKey(publicKey)), publicKey);
});

void test('Shoup (3, 4): representatives that are not squares (Jacobi −1) and squares both combine to y^e = x', async () => {
  const k = await shoupKey(256, 3, 4);
  const n = k.dealing.publicKey.n;
  const seen = new Set<number>();
  for (let i = 0; seen.size < 2 && i < 64; i++) {
    const data = new TextEncoder().encode(`document ${i}`);
    const message = signMessageFor(data, CONTEXT);
    const symbol = jacobi(pkcs1Representative(n, 'sha256', message.digest), n);
    if (seen.has(symbol)) continue;
    seen.add(symbol);
    const result = combineShoup(k.dealing.publicKey, message, responsesFrom(k, [1, 3, 4], message));
    assertStandardSignature(k, result.signature, 'sha256', data);
  }
  assert.deepEqual([...seen].sort(), [-1, 1]);
});

void test('holders can check a dealing: verification keys on one polynomial in the exponent whose constant term inverts e', async () => {
  for (const [t, l] of [
    [3, 4],
    [7, 10],
    [1, 1],
    [4, 4],
  ] as const) {
    const k = await shoupKey(256, t, l);
    const { publicKey } = k.dealing;
    checkShoupVerificationKeys(publicKey);
    if (t === l) continue; // every set of keys is consistent when k = l; only the e check bites
    const keys = [...publicKey.verificationKeys];
    keys[l - 1] = (keys[l - 1]! * publicKey.v) % publicKey.n; // v_l = v^{s_l + 1}: off the polynomial
    assert.throws(
      () => checkShoupVerificationKeys({ ...publicKey, verificationKeys: keys }),
      (err: unknown) => err instanceof ThresholdRsaError && /verification key/.test(err.message),
    );
  }
  // A consistent polynomial whose constant term is not d (every key squared: 2d) fails the e check.
  const k = await shoupKey(256, 3, 4);
  const { publicKey } = k.dealing;
  const squared = publicKey.verificationKeys.map((vi) => (vi * vi) % publicKey.n);
  assert.throws(
    () => checkShoupVerificationKeys({ ...publicKey, verificationKeys: squared }),
    (err: unknown) => err instanceof ThresholdRsaError && /RSA exponent/.test(err.message),
  );
});

void test('property: powerOf (a fixed-base table when uses ≥ 4) equals modPow for every exponent in range', () => {
  fc.assert(
    fc.property(
      fc.bigInt({ min: 3n, max: (1n << 200n) - 1n }),
      fc.bigInt({ min: 0n, max: (1n << 200n) - 1n }),
      fc.array(fc.bigInt({ min: 0n, max: (1n << 230n) - 1n }), { minLength: 1, maxLength: 6 }),
      fc.integer({ min: 1, max: 8 }),
      (m, base, exponents, uses) => {
        const pow = powerOf(base, m, 230, uses);
        for (const e of exponents) assert.equal(pow(e), modPow(base, e, m));
      },
    ),
    { numRuns: 200 },
  );
});
