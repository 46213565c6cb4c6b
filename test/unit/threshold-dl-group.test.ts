/**
 * Building blocks of threshold DSA/ECDSA: group element validation (SEC 1 §2.3.4, FIPS 186-4 §4), DER
 * signatures and keys (X.690, RFC 3279), the sealed boxes that carry sub-shares, the Fiat–Shamir proofs
 * that make answers checkable, Shamir/Pedersen sharing, public key information, and the server's session
 * rules that do not need a full protocol run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  checkPrimeSync,
  createHash,
  createPublicKey,
  generateKeyPairSync,
  sign as nodeSign,
  type KeyObject,
} from 'node:crypto';
import { ByteReader, ByteWriter, CodecError } from '../../src/codec/bytes.js';
import {
  P256_GROUP,
  SECP256K1_GROUP,
  bigintToBytes,
  digestToScalar,
  dsaGroup,
  dsaParamsOf,
  ElementBatch,
  jacobi,
  multiExp,
  randomScalar,
  readGroup,
  verifyDerDigest,
  writeGroup,
  type DlGroup,
} from '../../src/crypto/threshold/dl-group.js';
import {
  BFTKV_DSA_PARAMS,
  DSA_PARAMS_COUNTERS,
  DSA_PARAMS_SEED,
  dsaCandidate,
} from '../../src/crypto/threshold/dsa-params.js';
import { decodeDerSignature, encodeDerSignature, parseDsaPkcs8 } from '../../src/crypto/threshold/dsa-der.js';
import {
  decodeKeyShare,
  decodePublicKeyInfo,
  encodeKeyShare,
  encodePublicKeyInfo,
  importPrivateKey,
  acceptImportedShare,
  readPrivateKey,
  validatePublicKeyInfo,
} from '../../src/crypto/threshold/gjkr-key.js';
import {
  BODY,
  GjkrRequestError,
  GjkrSessionError,
  REQUEST,
  bodyHeader,
  decodeSignOpen,
  encodeSignOpen,
  openSigned,
  readRequestHeader,
  signMessage,
} from '../../src/crypto/threshold/gjkr-messages.js';
import {
  openingRelations,
  productRelations,
  proveRelations,
  verifyEach,
  verifyRelations,
  type ProofClaim,
} from '../../src/crypto/threshold/gjkr-proofs.js';
import { subSharesValid, type JvssParams } from '../../src/crypto/threshold/gjkr-jvss.js';
import { open, seal, x25519KeyPair } from '../../src/crypto/threshold/gjkr-seal.js';
import { GjkrServer } from '../../src/crypto/threshold/gjkr-server.js';
import {
  commitmentAt,
  evaluate,
  interpolate,
  interpolateInExponent,
  pedersenCommit,
  pedersenValue,
  randomPolynomial,
} from '../../src/crypto/threshold/gjkr-vss.js';
import { secureRandom } from '../../src/env/random.js';
import { makeParties } from './threshold-gjkr-harness.js';

const dsa = generateKeyPairSync('dsa', { modulusLength: 2048, divisorLength: 256 });
const DSA_GROUP = readPrivateKey(dsa.privateKey).group;
/** The embedded parameters (p = 2qr + 1, r prime): subgroup membership is tested in batches. */
const LIM_LEE_GROUP = dsaGroup(BFTKV_DSA_PARAMS);
const GROUPS: readonly [string, DlGroup][] = [
  ['P-256', P256_GROUP],
  ['secp256k1', SECP256K1_GROUP],
  ['DSA-2048-256', DSA_GROUP],
  ['DSA-2048-256 (embedded)', LIM_LEE_GROUP],
];

function rejects(group: DlGroup, bytes: Uint8Array, why: RegExp): void {
  assert.throws(
    () => group.decodeElement(bytes, 'x'),
    (e: unknown) => e instanceof CodecError && e.field === 'x' && why.test(e.reason),
  );
}

void test('elliptic-curve elements: uncompressed points on the curve only, never the identity', () => {
  for (const group of [P256_GROUP, SECP256K1_GROUP]) {
    const e = group.exp(group.g, 12345n);
    const enc = group.encodeElement(e);
    assert.equal(enc.length, 65);
    assert.equal(enc[0], 4);
    assert.ok(group.equals(group.decodeElement(enc, 'x'), e));
    rejects(group, enc.subarray(1), /uncompressed point/);
    rejects(group, new Uint8Array(65), /uncompressed point/); // 0x00 prefix (and the SEC 1 identity is 0x00)
    const compressed = (e as unknown as { toBytes(c: boolean): Uint8Array }).toBytes(true);
    rejects(group, compressed, /uncompressed point/);
    // (x, y + 1) is not on the curve.
    const off = new Uint8Array(enc);
    off[64] = off[64]! ^ 1;
    rejects(group, off, /not a point/);
    // Coordinates at or above the field prime are not field elements.
    const big = new Uint8Array(enc);
    big.fill(0xff, 1, 33);
    rejects(group, big, /not a point/);
    assert.ok(group.equals(group.decodeCandidate(enc, 'x'), e));
    assert.throws(() => group.encodeElement(group.identity), RangeError);
  }
});

void test('DSA elements: 1 < y < p and y^q = 1 mod p', () => {
  const group = DSA_GROUP;
  const { p } = dsaParamsOf(group)!;
  const y = group.exp(group.g, 987654321n);
  assert.ok(group.equals(group.decodeElement(group.encodeElement(y), 'x'), y));
  rejects(group, bigintToBytes(0n, 256), /not in \(1, p\)/);
  rejects(group, bigintToBytes(1n, 256), /not in \(1, p\)/);
  rejects(group, bigintToBytes(p, 256), /not in \(1, p\)/);
  rejects(group, bigintToBytes(p - 1n, 256), /order-q subgroup/); // order 2
  rejects(group, bigintToBytes(2n, 256), /order-q subgroup/);
  rejects(group, bigintToBytes(4n, 255), /256-byte element/);
});

void test('DSA parameters are validated: sizes, primality, q | p−1, order of g; canonical encoding', () => {
  const { p, q, g } = dsaParamsOf(DSA_GROUP)!;
  assert.equal(dsaGroup({ p, q, g }), DSA_GROUP, 'validated groups are cached');
  assert.throws(() => dsaGroup({ p, q, g: 2n }), /g is not of order q/);
  assert.throws(() => dsaGroup({ p, q: q + 2n, g }), /q does not divide p − 1|not an accepted/);
  assert.throws(() => dsaGroup({ p: p + 2n, q, g }), /q does not divide|g is not of order q|not prime/);
  assert.throws(() => dsaGroup({ p: p >> 1000n, q, g }), /not an accepted FIPS 186-4 size/);
  for (const [, group] of GROUPS) {
    const w = new ByteWriter();
    writeGroup(w, group);
    const r = new ByteReader(w.finish());
    assert.equal(readGroup(r, 'g'), group);
    r.finish('g');
  }
  // Non-canonical: p with a leading zero byte.
  const w = new ByteWriter()
    .u8(1)
    .bytes(bigintToBytes(p, 257))
    .bytes(bigintToBytes(q, 32))
    .bytes(bigintToBytes(g, 256));
  assert.throws(() => readGroup(new ByteReader(w.finish()), 'g'), /non-canonical/);
  assert.throws(() => readGroup(new ByteReader(Uint8Array.of(9)), 'g'), /unknown group code/);
});

void test('Pedersen generator h differs from g and is in the group', () => {
  for (const [, group] of GROUPS) {
    assert.ok(!group.equals(group.g, group.h));
    assert.ok(group.equals(group.decodeElement(group.encodeElement(group.h), 'h'), group.h));
  }
});

void test('the message representative takes the leftmost q-bits of the digest (FIPS 186-4 §4.6)', () => {
  const digest = new Uint8Array(64).fill(0xff);
  digest[0] = 0x80;
  const z = digestToScalar(P256_GROUP, digest);
  assert.equal(z, BigInt('0x80' + 'ff'.repeat(31)) % P256_GROUP.q);
  assert.equal(digestToScalar(P256_GROUP, Uint8Array.of(5)), 5n);
});

void test('DER signatures: minimal INTEGERs, strict parsing, and agreement with node:crypto’s encoding', () => {
  const der = encodeDerSignature(0x80n, 1n);
  assert.equal(Buffer.from(der).toString('hex'), '3007020200800201' + '01');
  assert.deepEqual(decodeDerSignature(der), { r: 0x80n, s: 1n });
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  for (let i = 0; i < 20; i++) {
    const sig = new Uint8Array(nodeSign('sha256', Buffer.from([i]), { key: privateKey, dsaEncoding: 'der' }));
    const { r, s } = decodeDerSignature(sig);
    assert.deepEqual(encodeDerSignature(r, s), sig);
  }
  const bad: [string, string][] = [
    ['30080203000080020101', 'non-minimal INTEGER'],
    ['3006020180020101', 'negative INTEGER'],
    ['300602010102010100', 'trailing bytes'],
    ['3080020101020101' + '0000', 'indefinite length'],
    ['30060201010201', 'exceeds'],
    ['3009020101020101020101', 'expected 2 INTEGERs'],
  ];
  for (const [hex, why] of bad)
    assert.throws(
      () => decodeDerSignature(new Uint8Array(Buffer.from(hex, 'hex'))),
      (e: unknown) => e instanceof CodecError && e.message.includes(why),
      hex,
    );
  assert.throws(() => encodeDerSignature(0n, 1n), RangeError);
});

void test('DSA PKCS#8 reader: p, q, g, x of a node:crypto key; other keys are refused', () => {
  const der = new Uint8Array(dsa.privateKey.export({ format: 'der', type: 'pkcs8' }));
  const parts = parseDsaPkcs8(der);
  const { p, q, g } = dsaParamsOf(DSA_GROUP)!;
  assert.deepEqual({ p: parts.p, q: parts.q, g: parts.g }, { p, q, g });
  assert.ok(parts.x > 0n && parts.x < q);
  const ec = new Uint8Array(
    generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({
      format: 'der',
      type: 'pkcs8',
    }),
  );
  assert.throws(() => parseDsaPkcs8(ec), /not id-dsa|expected/);
  assert.throws(() => parseDsaPkcs8(der.subarray(0, der.length - 1)), CodecError);
});

void test('sealed boxes open only for their recipient and their associated data', () => {
  const alice = x25519KeyPair(secureRandom.bytes(32));
  const bob = x25519KeyPair(secureRandom.bytes(32));
  const aad = new Uint8Array([1, 2, 3]);
  const box = seal(alice.publicKey, new Uint8Array([9, 9, 9]), aad, secureRandom);
  assert.deepEqual(open(alice, box, aad), new Uint8Array([9, 9, 9]));
  assert.equal(open(bob, box, aad), undefined);
  assert.equal(open(alice, box, new Uint8Array([1, 2, 4])), undefined);
  const flipped = new Uint8Array(box);
  flipped[40] = flipped[40]! ^ 1;
  assert.equal(open(alice, flipped, aad), undefined);
  assert.equal(open(alice, box.subarray(0, 20), aad), undefined);
});

void test('Shamir sharing: any t+1 shares give the secret, Pedersen commitments check every share (property)', () => {
  const group = P256_GROUP;
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 5 }),
      fc.bigInt({ min: 0n, max: group.q - 1n }),
      fc.integer({ min: 0, max: 1000 }),
      (t, secret, seed) => {
        const f = randomPolynomial(group, t, secret, secureRandom);
        const blind = randomPolynomial(group, t, undefined, secureRandom);
        const n = 2 * t + 1;
        const indices = Array.from({ length: n }, (_, i) => i + 1);
        const start = seed % (n - t);
        const subset = indices.slice(start, start + t + 1);
        assert.equal(
          interpolate(group, new Map(subset.map((j) => [j, evaluate(group, f, BigInt(j))]))),
          secret,
        );
        const c = pedersenCommit(group, f, blind);
        const j = subset[0]!;
        assert.ok(
          group.equals(
            pedersenValue(group, evaluate(group, f, BigInt(j)), evaluate(group, blind, BigInt(j))),
            commitmentAt(group, c, j),
          ),
        );
        assert.ok(
          !group.equals(
            pedersenValue(group, evaluate(group, f, BigInt(j)) + 1n, evaluate(group, blind, BigInt(j))),
            commitmentAt(group, c, j),
          ),
        );
        const inExponent = new Map(subset.map((k) => [k, group.exp(group.g, evaluate(group, f, BigInt(k)))]));
        assert.ok(group.equals(interpolateInExponent(group, inExponent), group.exp(group.g, secret)));
      },
    ),
    { numRuns: 15 },
  );
});

void test('product proofs: a true statement verifies; a wrong value, context, label or binding does not', () => {
  for (const [, group] of GROUPS) {
    const [k, kb, u, ub, z, zb] = Array.from({ length: 6 }, () => randomScalar(group, secureRandom));
    const K = pedersenValue(group, k!, kb!);
    const Z = pedersenValue(group, z!, zb!);
    const U = group.exp(group.g, u!);
    const T = group.exp(K, u!);
    const v = (k! * u! + z!) % group.q;
    const statement = { u: U, k: K, z: Z, t: T, v, binding: pedersenValue(group, u!, ub!) };
    const ctx = new Uint8Array([7]);
    const proof = proveRelations(
      group,
      'p',
      ctx,
      productRelations(group, statement),
      [u!, (kb! * u! + zb!) % group.q, ub!],
      secureRandom,
    );
    assert.ok(verifyRelations(group, 'p', ctx, productRelations(group, statement), proof));
    assert.ok(
      !verifyRelations(
        group,
        'p',
        ctx,
        productRelations(group, { ...statement, v: (v + 1n) % group.q }),
        proof,
      ),
    );
    assert.ok(!verifyRelations(group, 'p', new Uint8Array([8]), productRelations(group, statement), proof));
    assert.ok(!verifyRelations(group, 'q', ctx, productRelations(group, statement), proof));
    assert.ok(
      !verifyRelations(
        group,
        'p',
        ctx,
        productRelations(group, { ...statement, binding: group.mul(statement.binding, group.g) }),
        proof,
      ),
    );
    // The prover refuses to prove a false statement (local bug, not a peer fault).
    assert.throws(
      () =>
        proveRelations(
          group,
          'p',
          ctx,
          productRelations(group, { ...statement, v: (v + 1n) % group.q }),
          [u!, 0n, ub!],
          secureRandom,
        ),
      /false statement/,
    );
    const x = randomScalar(group, secureRandom);
    const xb = randomScalar(group, secureRandom);
    const C = pedersenValue(group, x, xb);
    const X = group.exp(group.g, x);
    const p2 = proveRelations(group, 'o', ctx, openingRelations(group, C, X), [xb], secureRandom);
    assert.ok(verifyRelations(group, 'o', ctx, openingRelations(group, C, X), p2));
    assert.ok(!verifyRelations(group, 'o', ctx, openingRelations(group, C, group.mul(X, group.g)), p2));
  }
});

void test('public key information: encodes canonically; shares off the degree-t polynomial are rejected', () => {
  const { identities, directory } = makeParties(4);
  const imported = importPrivateKey(generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey, {
    n: 4,
    t: 1,
    encryptionKey: directory.encryptionKey,
    random: secureRandom,
  });
  const info = decodePublicKeyInfo(encodePublicKeyInfo(imported.info));
  assert.deepEqual(encodePublicKeyInfo(info), encodePublicKeyInfo(imported.info));
  const bad = new Map(info.verificationShares);
  bad.set(4, info.group.mul(bad.get(4)!, info.group.g));
  assert.throws(
    () => validatePublicKeyInfo({ ...info, verificationShares: bad }),
    /share 4 is not on the degree-t polynomial/,
  );
  assert.throws(() => validatePublicKeyInfo({ ...info, y: info.group.g }), /do not interpolate to y/);
  const few = new Map([...info.verificationShares].slice(0, 2));
  assert.throws(() => validatePublicKeyInfo({ ...info, verificationShares: few }), /at least 2t\+1/);
  const share = acceptImportedShare(imported.deliveries.get(3)!, identities.get(3)!);
  assert.equal(decodeKeyShare(encodeKeyShare(share)).x, share.x);
  assert.throws(
    () => decodeKeyShare(encodeKeyShare({ ...share, x: (share.x + 1n) % info.group.q })),
    /does not match/,
  );
});

void test('signed messages: wrong tag, other session or forged signature are told apart', () => {
  const { identities, directory } = makeParties(2);
  const ctx = new Uint8Array(32).fill(1);
  const msg = signMessage(identities.get(1)!, bodyHeader(BODY.complaint, ctx, 1).finish());
  assert.equal(openSigned(msg, directory, { tag: BODY.complaint, context: ctx }, 'm')?.from, 1);
  assert.throws(() => openSigned(msg, directory, { tag: BODY.reveal, context: ctx }, 'm'), /expected 0x83/);
  assert.throws(
    () => openSigned(msg, directory, { tag: BODY.complaint, context: new Uint8Array(32) }, 'm'),
    /another session/,
  );
  // Party 2 claims to be party 1: its signature does not verify as party 1's.
  const forged = signMessage(identities.get(2)!, bodyHeader(BODY.complaint, ctx, 1).finish());
  assert.equal(openSigned(forged, directory, { tag: BODY.complaint, context: ctx }, 'm'), undefined);
});

void test('server sessions: unknown ids, signing policy, session limit and malformed requests', () => {
  const { identities, directory } = makeParties(4);
  const imported = importPrivateKey(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey, {
    n: 4,
    t: 1,
    encryptionKey: directory.encryptionKey,
    random: secureRandom,
  });
  const share = acceptImportedShare(imported.deliveries.get(1)!, identities.get(1)!);
  const server = new GjkrServer({
    identity: identities.get(1)!,
    random: secureRandom,
    keyShare: () => share,
    acceptSigning: (req) => req.message.length < 100,
    sessionsMax: 2,
  });
  const open = (message: Uint8Array, sid = secureRandom.bytes(32)) =>
    encodeSignOpen({ sid, keyId: share.keyId, hash: 'sha256', message, participants: [1, 2, 3, 4] });
  const sid = secureRandom.bytes(32);
  assert.throws(
    () => server.handle(open(new Uint8Array(200), sid), 0),
    (e) => e instanceof GjkrRequestError && /signing policy/.test(e.message),
  );
  assert.throws(
    () => server.handle(open(new Uint8Array(1), sid), 0),
    (e) => e instanceof GjkrSessionError && e.refusal === 'session-id-reused',
  );
  const unknown = new Uint8Array(open(new Uint8Array(1)));
  unknown[0] = 0x03;
  assert.throws(
    () => server.handle(unknown, 0),
    (e) => e instanceof GjkrSessionError && e.refusal === 'unknown-session',
  );
  server.handle(open(new Uint8Array(1)), 0);
  server.handle(open(new Uint8Array(1)), 0);
  assert.throws(
    () => server.handle(open(new Uint8Array(1)), 0),
    (e) => e instanceof GjkrSessionError && e.refusal === 'too-many-sessions',
  );
  assert.equal(server.activeSessions, 2);
  assert.throws(() => server.handle(new Uint8Array(5), 0), GjkrRequestError);
  const tooFew = encodeSignOpen({
    sid: secureRandom.bytes(32),
    keyId: share.keyId,
    hash: 'sha256',
    message: new Uint8Array(1),
    participants: [1, 2],
  });
  server.expire(10 ** 9);
  assert.throws(
    () => server.handle(tooFew, 10 ** 9),
    (e) => e instanceof GjkrRequestError && /at least 2t\+1/.test(e.message),
  );
});

void test('the embedded DSA parameters are the ones derived from the public seed, in Lim–Lee form', () => {
  const { p, q, g } = BFTKV_DSA_PARAMS;
  const r = dsaCandidate(DSA_PARAMS_SEED, 'r', DSA_PARAMS_COUNTERS.r, 1791);
  assert.equal(q, dsaCandidate(DSA_PARAMS_SEED, 'q', DSA_PARAMS_COUNTERS.q, 256));
  assert.equal(p, 2n * q * r + 1n);
  assert.equal(p.toString(2).length, 2048);
  assert.equal(q.toString(2).length, 256);
  assert.ok(checkPrimeSync(r) && checkPrimeSync(q) && checkPrimeSync(p));
  assert.equal(g, modPow(2n, 2n * r, p));
  // dsaGroup accepted them (order of g, sizes, primality) and the SPKI is one node:crypto reads.
  const y = LIM_LEE_GROUP.exp(LIM_LEE_GROUP.g, 424242n);
  assert.equal(createPublicKey(LIM_LEE_GROUP.publicKeyPem(y)).asymmetricKeyType, 'dsa');
});

function modPow(b: bigint, e: bigint, m: bigint): bigint {
  let acc = 1n;
  for (b %= m; e > 0n; e >>= 1n, b = (b * b) % m) if (e & 1n) acc = (acc * b) % m;
  return acc;
}

void test('the Jacobi symbol agrees with Euler’s criterion (property)', () => {
  const primes = [3n, 7n, 1000003n, BFTKV_DSA_PARAMS.q];
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: 1n << 300n }), fc.integer({ min: 0, max: 3 }), (a, i) => {
      const p = primes[i]!;
      const euler = modPow(a, (p - 1n) / 2n, p);
      assert.equal(jacobi(a, p), euler === p - 1n ? -1 : Number(euler));
    }),
    { numRuns: 200 },
  );
  assert.equal(jacobi(BFTKV_DSA_PARAMS.p - 1n, BFTKV_DSA_PARAMS.p), -1); // p ≡ 3 mod 4: −1 is no square
  assert.throws(() => jacobi(3n, 8n), RangeError);
});

void test('multi-exponentiation agrees with one exponentiation per base (property)', () => {
  for (const [, group] of GROUPS) {
    const bases = [
      group.g,
      group.h,
      group.identity,
      ...[1n, 2n, 3n].map((k) => group.exp(group.g, k * 7919n)),
    ];
    fc.assert(
      fc.property(
        fc.array(fc.bigInt({ min: -(1n << 260n), max: 1n << 260n }), { minLength: 6, maxLength: 6 }),
        (ks) => {
          let naive = group.identity;
          bases.forEach((b, i) => (naive = group.mul(naive, group.expPublic(b, ks[i]!))));
          assert.ok(group.equals(group.msm(bases, ks), naive));
        },
      ),
      { numRuns: 4 },
    );
    assert.ok(group.isIdentity(group.msm([], [])));
  }
  const { p } = BFTKV_DSA_PARAMS;
  assert.equal(multiExp([3n, 5n], [0n, 1n << 200n], p), modPow(5n, 1n << 200n, p));
  assert.equal(multiExp([3n, 5n], [12345n, 678n], p), (modPow(3n, 12345n, p) * modPow(5n, 678n, p)) % p);
});

void test('subgroup membership in batches: every element checked, the one outside the group named', () => {
  const group = LIM_LEE_GROUP;
  const { p, q } = BFTKV_DSA_PARAMS;
  const r = (p - 1n) / (2n * q);
  const members = Array.from({ length: 6 }, (_, i) =>
    group.encodeElement(group.exp(group.g, BigInt(i + 2) * 1009n)),
  );
  const outsiders: [string, bigint][] = [
    ['order 2', p - 1n],
    ['a non-residue', p - modPow(group.g as unknown as bigint, 5n, p)],
    ['order r', modPow(3n, 2n * q, p)],
    ['order qr', modPow(3n, 2n, p)],
  ];
  const read = (list: Uint8Array[]) => {
    const batch = new ElementBatch(group);
    const reader = new ByteReader(new Uint8Array(Buffer.concat(list)));
    list.forEach((_, i) => batch.read(reader, `e[${i}]`));
    return batch;
  };
  read(members).check();
  for (const [what, v] of outsiders) {
    assert.notEqual(modPow(v, q, p), 1n, what);
    const list = [...members];
    list.splice(3, 0, bigintToBytes(v, 256));
    assert.throws(
      () => read(list).check(),
      (e: unknown) => e instanceof CodecError && e.field === 'e[3]' && /order-q subgroup/.test(e.reason),
      what,
    );
    assert.deepEqual(ElementBatch.failing([read(members), read(list), read(members)]), [1], what);
  }
  assert.ok(r > 1n << 128n);
  // FIPS parameters from node:crypto (unknown cofactor) are checked one element at a time, same answers.
  const fips = [DSA_GROUP.encodeElement(DSA_GROUP.exp(DSA_GROUP.g, 5n)), bigintToBytes(2n, 256)];
  const batch = new ElementBatch(DSA_GROUP);
  const reader = new ByteReader(new Uint8Array(Buffer.concat(fips)));
  batch.read(reader, 'a');
  batch.read(reader, 'b');
  assert.throws(
    () => batch.check(),
    (e: unknown) => e instanceof CodecError && e.field === 'b',
  );
});

void test('batched proof checks name exactly the false claims', () => {
  for (const [, group] of GROUPS) {
    const claims: ProofClaim[] = Array.from({ length: 5 }, (_, i) => {
      const x = randomScalar(group, secureRandom);
      const xb = randomScalar(group, secureRandom);
      const C = pedersenValue(group, x, xb);
      const X = group.exp(group.g, x);
      const context = Uint8Array.of(i);
      const relations = openingRelations(group, C, X);
      return {
        label: 'o',
        context,
        relations,
        proof: proveRelations(group, 'o', context, relations, [xb], secureRandom),
      };
    });
    assert.deepEqual(verifyEach(group, claims), [true, true, true, true, true]);
    const wrong = [...claims];
    wrong[1] = { ...claims[1]!, context: Uint8Array.of(9) };
    wrong[4] = {
      ...claims[4]!,
      proof: { ...claims[4]!.proof, responses: [(claims[4]!.proof.responses[0]! + 1n) % group.q] },
    };
    assert.deepEqual(verifyEach(group, wrong), [true, false, true, true, false]);
  }
});

void test('batched sub-share checks name exactly the dealers whose sub-share is wrong', () => {
  for (const [, group] of GROUPS) {
    const params: JvssParams = {
      group,
      specs: [
        { degree: 2, zeroConstant: false },
        { degree: 4, zeroConstant: true },
      ],
      t: 2,
      context: new Uint8Array(32),
      participants: [1, 2, 3, 4, 5],
      minParties: 5,
    };
    const j = 3;
    const received = [1, 2, 4, 5].map((dealer) => {
      const polys = params.specs.map((spec) => {
        const f = randomPolynomial(group, spec.degree, spec.zeroConstant ? 0n : undefined, secureRandom);
        const b = randomPolynomial(group, spec.degree, spec.zeroConstant ? 0n : undefined, secureRandom);
        return { f, b, c: pedersenCommit(group, f, b) };
      });
      const scalars = polys.flatMap(({ f, b }) => [
        evaluate(group, f, BigInt(j)),
        evaluate(group, b, BigInt(j)),
      ]);
      const deal = {
        dealer,
        commitmentBytes: new Uint8Array(0),
        commitments: polys.map((x) => x.c),
        boxes: new Map<number, Uint8Array>(),
      };
      return { deal, scalars };
    });
    assert.deepEqual(subSharesValid(params, j, received, secureRandom), [true, true, true, true]);
    const bad = received.map((x) => ({ ...x, scalars: [...x.scalars] }));
    bad[1]!.scalars[3] = (bad[1]!.scalars[3]! + 1n) % group.q; // a wrong blinding value
    bad[2]!.scalars[0] = (bad[2]!.scalars[0]! + 1n) % group.q;
    assert.deepEqual(subSharesValid(params, j, bad, secureRandom), [true, false, false, true]);
  }
});

void test('signatures over a bare digest: node:crypto’s signatures verify, others do not (ECDSA and DSA)', () => {
  const cases: [DlGroup, KeyObject][] = [
    [P256_GROUP, generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey],
    [SECP256K1_GROUP, generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey],
    [DSA_GROUP, dsa.privateKey],
  ];
  for (const [group, privateKey] of cases) {
    const { x } = readPrivateKey(privateKey);
    const y = group.exp(group.g, x);
    for (let i = 0; i < 4; i++) {
      const data = secureRandom.bytes(50);
      const digest = new Uint8Array(createHash('sha256').update(data).digest());
      const sig = new Uint8Array(nodeSign('sha256', data, { key: privateKey, dsaEncoding: 'der' }));
      assert.ok(verifyDerDigest(group, y, digest, sig), `${group.kind} verifies`);
      assert.equal(
        verifyDerDigest(
          group,
          y,
          digest.map((b, k) => (k === 0 ? b ^ 1 : b)),
          sig,
        ),
        false,
      );
      assert.equal(verifyDerDigest(group, group.g, digest, sig), false, 'another key');
      const { r, s } = decodeDerSignature(sig);
      // ECDSA: (r, q − s) is the same signature; DSA: it is not.
      assert.equal(
        verifyDerDigest(group, y, digest, encodeDerSignature(r, group.q - s)),
        group.kind !== 'dsa',
      );
      assert.equal(verifyDerDigest(group, y, digest, sig.subarray(0, sig.length - 1)), false);
      assert.equal(verifyDerDigest(group, y, digest, encodeDerSignature(r + group.q, s)), false);
    }
  }
});

void test('a digest-mode opening carries exactly a digest of the named hash', () => {
  const base = { sid: new Uint8Array(32), keyId: new Uint8Array(32), participants: [1, 2, 3] };
  const ok = encodeSignOpen({ ...base, hash: 'sha256', message: new Uint8Array(32), prehashed: true });
  assert.equal(ok[0], REQUEST.signOpenDigest);
  const decoded = decodeSignOpen(readRequestHeader(ok));
  assert.equal(decoded.prehashed, true);
  assert.throws(
    () => encodeSignOpen({ ...base, hash: 'sha256', message: new Uint8Array(31), prehashed: true }),
    RangeError,
  );
  // A 48-byte "digest" under SHA-256 is refused by the decoder.
  const bad = new Uint8Array(
    encodeSignOpen({ ...base, hash: 'sha384', message: new Uint8Array(48), prehashed: true }),
  );
  bad[1 + 32 + 32] = 1; // the hash code: sha256
  assert.throws(() => decodeSignOpen(readRequestHeader(bad)), CodecError);
  // The message mode keeps its own tag and no flag.
  const message = encodeSignOpen({ ...base, hash: 'sha256', message: new Uint8Array(5) });
  assert.equal(message[0], REQUEST.signOpen);
  assert.equal(decodeSignOpen(readRequestHeader(message)).prehashed, undefined);
});
