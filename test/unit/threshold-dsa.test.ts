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
import { bigintToBytes, dsaGroup } from '../../src/crypto/threshold/dl-group.js';
import { BFTKV_DSA_PARAMS } from '../../src/crypto/threshold/dsa-params.js';
import {
  Cluster,
  HEADER_BYTES,
  flipBodyByte,
  makeParties,
  opensslVerify,
  tamper,
} from './threshold-gjkr-harness.js';

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

void test('DSA on the embedded Lim–Lee parameters: elements outside the order-q subgroup are named (n=4, t=1)', () => {
  // Membership is tested in batches there (Jacobi symbols and one q-th power): a deal commitment or a
  // phase-1 element outside the subgroup must still be found and its sender named.
  const lim = dsaGroup(BFTKV_DSA_PARAMS);
  const { p, q } = BFTKV_DSA_PARAMS;
  const parties = makeParties(4);
  const cluster = new Cluster(parties.identities);
  const key = cluster.run<DkgResult>(
    new DkgCoordinator({ sid: secureRandom.bytes(32), group: lim, n: 4, t: 1 }, parties.directory),
  );
  const id = (j: number) => parties.identities.get(j)!;
  const outsider = (v: bigint) => bigintToBytes(v, lim.elementBytes);
  const orderR = outsider(modPow(3n, 2n * q, p)); // a square of order r: only the batched q-th power finds it
  // Server 3 publishes an element of order 2 as A_3 in phase 1.
  cluster.behaviours.set(3, (honest) => (req, round) => {
    const out = honest(req, round);
    return round === 'phase1'
      ? tamper(id(3), out, (body) => body.set(outsider(p - 1n), HEADER_BYTES + 32))
      : out;
  });
  const message = secureRandom.bytes(40);
  const first = cluster.run<SigningResult>(
    new SigningCoordinator({
      info: key.info,
      message,
      sid: secureRandom.bytes(32),
      directory: parties.directory,
    }),
  );
  assert.ok(nodeVerify('sha256', message, { key: key.publicKeyPem, dsaEncoding: 'der' }, first.signature));
  assert.deepEqual(
    first.culprits.map((c) => [c.party, /not in the group/.test(c.reason)]),
    [[3, true]],
  );
  // Server 2 deals a commitment of order r.
  cluster.behaviours.clear();
  cluster.behaviours.set(2, (honest) => (req, round) => {
    const out = honest(req, round);
    return round === 'open' ? tamper(id(2), out, (body) => body.set(orderR, HEADER_BYTES)) : out;
  });
  const second = cluster.run<SigningResult>(
    new SigningCoordinator({
      info: key.info,
      message,
      sid: secureRandom.bytes(32),
      directory: parties.directory,
    }),
  );
  assert.ok(nodeVerify('sha256', message, { key: key.publicKeyPem, dsaEncoding: 'der' }, second.signature));
  assert.ok(second.culprits.some((c) => c.party === 2 && /not in the group/.test(c.reason)));
  assert.deepEqual([...new Set(second.culprits.map((c) => c.party))], [2]);
});

function modPow(b: bigint, e: bigint, m: bigint): bigint {
  let acc = 1n;
  for (b %= m; e > 0n; e >>= 1n, b = (b * b) % m) if (e & 1n) acc = (acc * b) % m;
  return acc;
}
