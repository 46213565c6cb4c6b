/**
 * Threshold DSA (FIPS 186-4, (L, N) = (2048, 256), SHA-256) after GJKR "Robust Threshold DSS Signatures":
 * distributed key generation and import of an existing key made by node:crypto, signing with (n, t) =
 * (10, 3) and (4, 1), every signature checked by node:crypto and by `openssl dgst -sha256 -verify`, and
 * wrong or missing answers named. One 2048-bit DSA key is generated for the whole file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, verify as nodeVerify } from 'node:crypto';
import { decodeDerSignature } from '../../src/crypto/threshold/dsa-der.js';
import {
  DkgCoordinator,
  acceptImportedShare,
  importPrivateKey,
  readPrivateKey,
  type DkgResult,
  type DlPublicKeyInfo,
} from '../../src/crypto/threshold/gjkr-key.js';
import { GjkrFailure } from '../../src/crypto/threshold/gjkr-messages.js';
import { SigningCoordinator, type SigningResult } from '../../src/crypto/threshold/gjkr-sign.js';
import { secureRandom } from '../../src/env/random.js';
import { Cluster, HEADER_BYTES, flipBodyByte, makeParties, opensslVerify } from './threshold-gjkr-harness.js';

const dsaKey = generateKeyPairSync('dsa', { modulusLength: 2048, divisorLength: 256 });
const originalPem = dsaKey.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const group = readPrivateKey(dsaKey.privateKey).group;

function signAndCheck(
  cluster: Cluster,
  parties: ReturnType<typeof makeParties>,
  info: DlPublicKeyInfo,
  pem: string,
): SigningResult {
  const message = secureRandom.bytes(300);
  const result = cluster.run<SigningResult>(
    new SigningCoordinator({ info, message, sid: secureRandom.bytes(32), directory: parties.directory }),
  );
  assert.ok(
    nodeVerify('sha256', message, { key: pem, dsaEncoding: 'der' }, result.signature),
    'node:crypto verifies',
  );
  assert.ok(opensslVerify(pem, result.signature, message), 'openssl verifies');
  const { r, s } = decodeDerSignature(result.signature);
  assert.ok(r > 0n && r < group.q && s > 0n && s < group.q);
  const other = new Uint8Array(message);
  other[5] = other[5]! ^ 0x80;
  assert.equal(opensslVerify(pem, result.signature, other), false, 'negative control');
  return result;
}

void test('DSA group from node:crypto: q is 256 bits, p 2048 bits', () => {
  assert.equal(group.kind, 'dsa');
  assert.equal(group.qBits, 256);
  assert.equal(group.elementBytes, 256);
});

for (const [n, t] of [
  [10, 3],
  [4, 1],
] as const) {
  void test(`DSA: distributed key generation n=${n} t=${t}, then threshold signing verified by node:crypto and openssl`, () => {
    const parties = makeParties(n);
    const cluster = new Cluster(parties.identities);
    const key = cluster.run<DkgResult>(
      new DkgCoordinator({ sid: secureRandom.bytes(32), group, n, t }, parties.directory),
    );
    assert.equal(key.stored.length, n);
    assert.match(key.publicKeyPem, /^-----BEGIN PUBLIC KEY-----\n/);
    const result = signAndCheck(cluster, parties, key.info, key.publicKeyPem);
    assert.deepEqual(result.culprits, []);
  });

  void test(`DSA: import of a node:crypto key n=${n} t=${t}; signatures verify under the original public key`, () => {
    const parties = makeParties(n);
    const cluster = new Cluster(parties.identities);
    const pem = dsaKey.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const imported = importPrivateKey(pem, {
      n,
      t,
      encryptionKey: parties.directory.encryptionKey,
      random: secureRandom,
    });
    assert.equal(
      imported.publicKeyPem,
      originalPem,
      'hand-built DSA SubjectPublicKeyInfo equals node:crypto’s',
    );
    for (const [j, d] of imported.deliveries)
      cluster.store(j, acceptImportedShare(d, parties.identities.get(j)!));
    signAndCheck(cluster, parties, imported.info, originalPem);
  });
}

void test('DSA: a wrong phase-2 answer is named and signing succeeds; two wrong answers of four fail (n=4, t=1)', () => {
  const parties = makeParties(4);
  const cluster = new Cluster(parties.identities);
  const imported = importPrivateKey(dsaKey.privateKey, {
    n: 4,
    t: 1,
    encryptionKey: parties.directory.encryptionKey,
    random: secureRandom,
  });
  for (const [j, d] of imported.deliveries)
    cluster.store(j, acceptImportedShare(d, parties.identities.get(j)!));
  const wrongS =
    (j: number) =>
    (honest: (r: Uint8Array, round: string) => Uint8Array) =>
    (req: Uint8Array, round: string) => {
      const out = honest(req, round);
      return round === 'phase2'
        ? flipBodyByte(parties.identities.get(j)!, out, HEADER_BYTES + 32 + 2 * group.scalarBytes - 1)
        : out;
    };
  cluster.behaviours.set(2, wrongS(2));
  const result = signAndCheck(cluster, parties, imported.info, originalPem);
  assert.deepEqual(
    result.culprits.map((c) => c.party),
    [2],
  );
  assert.match(result.culprits[0]!.reason, /phase-2 answer fails its proof/);

  cluster.behaviours.set(4, wrongS(4));
  assert.throws(
    () =>
      cluster.run<SigningResult>(
        new SigningCoordinator({
          info: imported.info,
          message: new Uint8Array(3),
          sid: secureRandom.bytes(32),
          directory: parties.directory,
        }),
      ),
    (e: unknown) =>
      e instanceof GjkrFailure &&
      /only 2 valid phase-2 answers, 2t\+1 = 3 needed/.test(e.message) &&
      e.culprits.map((c) => c.party).join() === '2,4',
  );
});
