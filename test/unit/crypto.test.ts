// Ed25519 (RFC 8032 §7.1) and SHA-256 (FIPS 180-2 appendix B) known answers through src/crypto, plus the
// rule that verify() answers false — never throws — on anything malformed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, sign as nodeSign } from 'node:crypto';
import fc from 'fast-check';
import { fromHex, toHex, utf8 } from '../../src/codec/bytes.js';
import {
  PUBLIC_KEY_BYTES,
  SIGNATURE_BYTES,
  sign,
  signingKeyFromSeed,
  verify,
} from '../../src/crypto/ed25519.js';
import { sha256 } from '../../src/crypto/hash.js';

interface Rfc8032Vector {
  readonly name: string;
  readonly secretKey: string;
  readonly publicKey: string;
  readonly message: string;
  readonly signature: string;
}

/** RFC 8032 §7.1, TEST 1–3 (Ed25519). */
const RFC8032_VECTORS: readonly Rfc8032Vector[] = [
  {
    name: 'TEST 1 (empty message)',
    secretKey: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    publicKey: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    message: '',
    signature:
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065' +
      '224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  },
  {
    name: 'TEST 2 (one byte)',
    secretKey: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    publicKey: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    message: '72',
    signature:
      '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da' +
      '085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  },
  {
    name: 'TEST 3 (two bytes)',
    secretKey: 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
    publicKey: 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
    message: 'af82',
    signature:
      '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac' +
      '18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a',
  },
];

for (const v of RFC8032_VECTORS) {
  void test(`derives the public key and deterministic signature of RFC 8032 §7.1 ${v.name}`, () => {
    const key = signingKeyFromSeed(fromHex(v.secretKey));
    assert.equal(toHex(key.publicKey), v.publicKey);
    const message = fromHex(v.message);
    const signature = sign(key, message);
    assert.equal(toHex(signature), v.signature);
    assert.equal(verify(key.publicKey, message, signature), true);
    // The published signature verifies with the published key alone.
    assert.equal(verify(fromHex(v.publicKey), message, fromHex(v.signature)), true);
  });
}

void test('rejects a signature over a modified message, a modified signature or another key', () => {
  const v = RFC8032_VECTORS[2]!;
  const publicKey = fromHex(v.publicKey);
  const message = fromHex(v.message);
  const signature = fromHex(v.signature);
  const otherKey = fromHex(RFC8032_VECTORS[1]!.publicKey);
  assert.equal(verify(publicKey, Uint8Array.of(0xaf, 0x83), signature), false);
  assert.equal(verify(publicKey, Uint8Array.of(0xaf), signature), false);
  assert.equal(verify(publicKey, Uint8Array.of(0xaf, 0x82, 0x00), signature), false);
  assert.equal(verify(otherKey, message, signature), false);
  // Every single-bit flip of the signature or of the key is rejected.
  for (let i = 0; i < SIGNATURE_BYTES * 8; i++) {
    const s = signature.slice();
    s[i >> 3]! ^= 1 << (i & 7);
    assert.equal(verify(publicKey, message, s), false, `signature bit ${i}`);
  }
  for (let i = 0; i < PUBLIC_KEY_BYTES * 8; i++) {
    const k = publicKey.slice();
    k[i >> 3]! ^= 1 << (i & 7);
    assert.equal(verify(k, message, signature), false, `key bit ${i}`);
  }
});

void test('returns false, never throws, on malformed key or signature lengths and non-points', () => {
  const v = RFC8032_VECTORS[0]!;
  const publicKey = fromHex(v.publicKey);
  const signature = fromHex(v.signature);
  const message = new Uint8Array(0);
  for (const n of [0, 1, 31, 33, 64]) assert.equal(verify(new Uint8Array(n), message, signature), false);
  for (const n of [0, 1, 63, 65, 128]) assert.equal(verify(publicKey, message, new Uint8Array(n)), false);
  assert.equal(verify(publicKey, message, new Uint8Array([...signature, 0])), false);
  // 32 bytes that are not a valid encoding of a curve point (y ≥ p), and the all-ones key.
  const notAPoint = fromHex('ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f');
  assert.equal(verify(notAPoint, message, signature), false);
  assert.equal(verify(new Uint8Array(32).fill(0xff), message, signature), false);
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 0, maxLength: 40 }),
      fc.uint8Array({ maxLength: 16 }),
      fc.uint8Array({ minLength: 0, maxLength: 70 }),
      (k, m, s) => {
        assert.equal(verify(k, m, s), false);
      },
    ),
    { numRuns: 200 },
  );
});

void test('rejects a seed that is not 32 bytes with RangeError', () => {
  for (const n of [0, 31, 33, 64]) assert.throws(() => signingKeyFromSeed(new Uint8Array(n)), RangeError);
});

void test('agrees with an independent node:crypto key pair (cross-check)', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const der = privateKey.export({ format: 'der', type: 'pkcs8' });
  const seed = new Uint8Array(der.subarray(der.length - 32));
  const key = signingKeyFromSeed(seed);
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  assert.equal(toHex(key.publicKey), toHex(new Uint8Array(spki.subarray(spki.length - 32))));
  const message = utf8('bftkv cross-check');
  assert.equal(toHex(sign(key, message)), toHex(new Uint8Array(nodeSign(null, message, privateKey))));
});

void test('computes SHA-256 known answers (FIPS 180-2 appendix B) and hashes the concatenation of parts', () => {
  assert.equal(
    toHex(sha256(utf8('abc'))),
    'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
  );
  assert.equal(toHex(sha256()), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  assert.equal(
    toHex(sha256(utf8('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'))),
    '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
  );
  assert.equal(toHex(sha256(utf8('a'), utf8(''), utf8('bc'))), toHex(sha256(utf8('abc'))));
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 5 }), (parts) => {
      const whole = Buffer.concat(parts);
      assert.equal(toHex(sha256(...parts)), createHash('sha256').update(whole).digest('hex'));
    }),
    { numRuns: 100 },
  );
});

void test('is strict: a malleated S (S + L) and a small-order public key are refused', () => {
  const v = RFC8032_VECTORS[1]!;
  const publicKey = fromHex(v.publicKey);
  const message = fromHex(v.message);
  const signature = fromHex(v.signature);
  assert.equal(verify(publicKey, message, signature), true);
  // S is little-endian in the second half; adding the group order L gives the same point equation,
  // which a lax verifier accepts as a second valid signature.
  const L = (1n << 252n) + 27742317777372353535851937790883648493n;
  let s = 0n;
  for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(signature[i]!);
  s += L;
  const malleated = signature.slice();
  for (let i = 32; i < 64; i++) {
    malleated[i] = Number(s & 0xffn);
    s >>= 8n;
  }
  assert.equal(s, 0n, 'S + L still fits 256 bits');
  assert.equal(verify(publicKey, message, malleated), false);
  // The identity point (y = 1) has order 1: with R = identity and S = 0, "SB = R + kA" holds for every message.
  const identity = new Uint8Array(32);
  identity[0] = 1;
  const forged = new Uint8Array(64);
  forged.set(identity, 0);
  assert.equal(verify(identity, utf8('anything'), forged), false);
});
