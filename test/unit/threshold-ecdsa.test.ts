/**
 * Threshold ECDSA (GJKR "Robust Threshold DSS Signatures") on P-256 and secp256k1: distributed key
 * generation and import of an existing key, signing with (n, t) = (10, 3) and (4, 1), every signature
 * checked by node:crypto and by the OpenSSL command line against the PEM public key.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, verify as nodeVerify } from 'node:crypto';
import { P256_GROUP, SECP256K1_GROUP, type DlGroup } from '../../src/crypto/threshold/dl-group.js';
import { decodeDerSignature } from '../../src/crypto/threshold/dsa-der.js';
import {
  DkgCoordinator,
  acceptImportedShare,
  importPrivateKey,
  type DkgResult,
  type DlPublicKeyInfo,
} from '../../src/crypto/threshold/gjkr-key.js';
import { SigningCoordinator, type SigningResult } from '../../src/crypto/threshold/gjkr-sign.js';
import { secureRandom } from '../../src/env/random.js';
import { Cluster, makeParties, opensslVerify } from './threshold-gjkr-harness.js';

const CURVES: readonly [string, DlGroup, string][] = [
  ['P-256', P256_GROUP, 'prime256v1'],
  ['secp256k1', SECP256K1_GROUP, 'secp256k1'],
];

function signAndCheck(
  cluster: Cluster,
  info: DlPublicKeyInfo,
  pem: string,
  directory: ReturnType<typeof makeParties>['directory'],
): SigningResult {
  const message = secureRandom.bytes(200);
  const result = cluster.run<SigningResult>(
    new SigningCoordinator({ info, message, sid: secureRandom.bytes(32), directory }),
  );
  assert.equal(result.culprits.length, 0, JSON.stringify(result.culprits));
  assert.ok(
    nodeVerify('sha256', message, { key: pem, dsaEncoding: 'der' }, result.signature),
    'node:crypto verifies',
  );
  assert.ok(opensslVerify(pem, result.signature, message), 'openssl dgst -verify says Verified OK');
  // Negative control: the same check fails for another message, so the checks above can fail.
  const other = new Uint8Array(message);
  other[0] = other[0]! ^ 1;
  assert.equal(opensslVerify(pem, result.signature, other), false);
  const { r, s } = decodeDerSignature(result.signature);
  assert.equal(r, result.r);
  assert.equal(s, result.s);
  assert.ok(r > 0n && r < info.group.q && s > 0n && s < info.group.q);
  // Low s (BIP 62/146, libsecp256k1's verifier): (r, q − s) is the same signature, and some verifiers
  // accept only the lower half.
  assert.ok(s <= info.group.q >> 1n, 'ECDSA signatures come out with low s');
  return result;
}

for (const [name, group, curve] of CURVES) {
  for (const [n, t] of [
    [10, 3],
    [4, 1],
  ] as const) {
    void test(`${name}: distributed key generation n=${n} t=${t}, then threshold signing verified by node:crypto and openssl`, () => {
      const { identities, directory } = makeParties(n);
      const cluster = new Cluster(identities);
      const key = cluster.run<DkgResult>(
        new DkgCoordinator({ sid: secureRandom.bytes(32), group, n, t }, directory),
      );
      assert.deepEqual(
        key.stored,
        Array.from({ length: n }, (_, i) => i + 1),
      );
      assert.equal(key.culprits.length, 0);
      assert.match(key.publicKeyPem, /^-----BEGIN PUBLIC KEY-----/);
      for (let j = 1; j <= n; j++)
        assert.equal(cluster.shares.get(j)?.length, 1, `server ${j} stored its share`);
      signAndCheck(cluster, key.info, key.publicKeyPem, directory);
      assert.equal(
        [...cluster.servers.values()].reduce((a, s) => a + s.activeSessions, 0),
        0,
        'no session state survives',
      );
    });

    void test(`${name}: import of an existing key n=${n} t=${t}; signatures verify under the original public key`, () => {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve });
      const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      const { identities, directory } = makeParties(n);
      const cluster = new Cluster(identities);
      const imported = importPrivateKey(pem, {
        n,
        t,
        encryptionKey: directory.encryptionKey,
        random: secureRandom,
      });
      assert.equal(imported.publicKeyPem, publicKey.export({ type: 'spki', format: 'pem' }).toString());
      for (const [j, delivery] of imported.deliveries)
        cluster.store(j, acceptImportedShare(delivery, identities.get(j)!));
      signAndCheck(
        cluster,
        imported.info,
        publicKey.export({ type: 'spki', format: 'pem' }).toString(),
        directory,
      );
    });
  }
}

void test('SHA-384 and SHA-512 digests are truncated to the curve order as verifiers expect (P-256, n=4, t=1)', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const { identities, directory } = makeParties(4);
  const cluster = new Cluster(identities);
  const imported = importPrivateKey(privateKey, {
    n: 4,
    t: 1,
    encryptionKey: directory.encryptionKey,
    random: secureRandom,
  });
  for (const [j, d] of imported.deliveries) cluster.store(j, acceptImportedShare(d, identities.get(j)!));
  for (const hash of ['sha384', 'sha512'] as const) {
    const message = secureRandom.bytes(50);
    const result = cluster.run<SigningResult>(
      new SigningCoordinator({ info: imported.info, message, hash, sid: secureRandom.bytes(32), directory }),
    );
    assert.ok(nodeVerify(hash, message, { key: pem, dsaEncoding: 'der' }, result.signature));
    assert.ok(opensslVerify(pem, result.signature, message, hash));
    assert.equal(opensslVerify(pem, result.signature, message, 'sha256'), false);
  }
});

void test('a delivery opens only at its own server', () => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const { identities, directory } = makeParties(4);
  const imported = importPrivateKey(privateKey, {
    n: 4,
    t: 1,
    encryptionKey: directory.encryptionKey,
    random: secureRandom,
  });
  assert.throws(() => acceptImportedShare(imported.deliveries.get(1)!, identities.get(2)!), /does not open/);
});

void test('import refuses n < 2t+1 and unsupported keys', () => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const { directory } = makeParties(4);
  assert.throws(
    () =>
      importPrivateKey(privateKey, {
        n: 4,
        t: 2,
        encryptionKey: directory.encryptionKey,
        random: secureRandom,
      }),
    RangeError,
  );
  const ed = generateKeyPairSync('ed25519').privateKey;
  assert.throws(
    () => importPrivateKey(ed, { n: 4, t: 1, encryptionKey: directory.encryptionKey, random: secureRandom }),
    RangeError,
  );
  const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey;
  assert.throws(
    () =>
      importPrivateKey(p384, { n: 4, t: 1, encryptionKey: directory.encryptionKey, random: secureRandom }),
    /unsupported curve/,
  );
});
