/**
 * Threshold RSA for an existing key (paper §3.4, src/crypto/threshold/rsa-additive.ts) and the PKCS#1 /
 * PEM helpers it stands on. Every signature is checked three ways: byte-equal to node:crypto's signature
 * with the whole key, node:crypto verify, and `openssl dgst -verify`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import fc from 'fast-check';
import { secureRandom } from '../../src/env/random.js';
import { CodecError } from '../../src/codec/bytes.js';
import {
  emsaPkcs1v15,
  i2osp,
  modulusBytes,
  pkcs1Representative,
  rsaPrivateKeyFromPem,
  rsaPublicKeyFromPem,
  rsaPublicKeyToPem,
  signMessageFor,
  verifyPkcs1Digest,
  type RsaHash,
  type RsaPrivateKey,
  type RsaSignMessage,
} from '../../src/crypto/threshold/rsa-pkcs1.js';
import { ThresholdRsaError, jacobi, modPow, mod } from '../../src/crypto/threshold/rsa-common.js';
import {
  AdditiveSigningSession,
  additiveCover,
  additiveKeyPath,
  additiveKeyPathValid,
  additiveKeysRoot,
  checkAdditiveShare,
  checkAdditiveVerification,
  combineAdditive,
  dealAdditive,
  decodeAdditivePartials,
  decodeAdditiveShare,
  decodeAdditiveSignRequest,
  decodeAdditivePublicRecord,
  decodeAdditiveVerification,
  encodeAdditivePartials,
  encodeAdditivePublicRecord,
  encodeAdditiveShare,
  encodeAdditiveSignRequest,
  encodeAdditiveVerification,
  heldNodes,
  partialSignAdditive,
  pathKey,
  planAdditiveRequests,
  treeNodes,
  treeSize,
  verifyAdditivePartial,
  type AdditiveDealing,
  type AdditivePartial,
  type AdditiveSignRequest,
  type AdditiveSignature,
  type AdditiveVerifier,
} from '../../src/crypto/threshold/rsa-additive.js';
import { nodeVerifies, opensslVerifies, range1, subsets } from './rsa-threshold-helpers.js';

function rsaKey(bits: number): { privateKey: KeyObject; pem: string; key: RsaPrivateKey; publicPem: string } {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const publicPem = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
  return { privateKey, pem, key: rsaPrivateKeyFromPem(pem), publicPem };
}

const key1024 = rsaKey(1024);
const key512 = rsaKey(512);
const dealings = new Map<string, AdditiveDealing>();
function dealt(threshold: number, servers: number): AdditiveDealing {
  const k = `${threshold}/${servers}`;
  let d = dealings.get(k);
  if (d === undefined) {
    d = dealAdditive(key1024.key, { servers, threshold }, secureRandom);
    dealings.set(k, d);
  }
  return d;
}

const DATA = new TextEncoder().encode('certificate signing request: CN=alice, O=example');
const CONTEXT = new TextEncoder().encode('session 42 / ca example');

type Behaviour = (
  server: number,
  request: AdditiveSignRequest,
  honest: () => AdditivePartial[],
) => AdditivePartial[] | 'silent';

const honestServer: Behaviour = (_s, _r, honest) => honest();

/** Runs the client session against servers whose behaviour is given; returns the result or the error. */
function runSession(
  dealing: AdditiveDealing,
  message: RsaSignMessage,
  behaviour: Behaviour,
  verifier: AdditiveVerifier = dealing.verification,
): {
  result?: AdditiveSignature;
  error?: ThresholdRsaError;
  session: AdditiveSigningSession;
  rounds: number;
} {
  const session = new AdditiveSigningSession(verifier, message);
  for (let rounds = 1; rounds <= 20; rounds++) {
    const step = session.next();
    if (step.status === 'complete') return { result: session.finish(), session, rounds };
    if (step.status === 'insufficient') return { error: step.error, session, rounds };
    assert.equal(step.status, 'send', 'with synchronous servers nothing is ever outstanding');
    if (step.status !== 'send') break;
    for (const [server, request] of step.requests) {
      const answer = behaviour(server, request, () =>
        partialSignAdditive(dealing.shares[server - 1]!, request, secureRandom),
      );
      if (answer === 'silent') session.fail(server);
      else session.receive(server, answer);
    }
  }
  throw new Error('session did not terminate in 20 rounds');
}

function down(set: readonly number[]): Behaviour {
  return (server, request, honest) =>
    set.includes(server) ? 'silent' : honestServer(server, request, honest);
}

function assertStandardSignature(
  signature: Uint8Array,
  hash: RsaHash = 'sha256',
  data: Uint8Array = DATA,
  key = key1024,
): void {
  assert.deepEqual(
    Buffer.from(signature),
    sign(hash, data, key.privateKey),
    'equals the whole-key signature',
  );
  assert.ok(nodeVerifies(key.publicPem, hash, data, signature), 'node:crypto verifies');
  assert.ok(opensslVerifies(key.publicPem, hash, data, signature), 'openssl dgst -verify accepts');
}

// ---- PKCS#1 v1.5 and PEM ----

void test('EMSA-PKCS1-v1_5: m^d mod n equals node:crypto signatures for SHA-256/384/512', () => {
  const { n, d } = key1024.key;
  for (const hash of ['sha256', 'sha384', 'sha512'] as const) {
    const message = signMessageFor(DATA, CONTEXT, hash);
    const y = modPow(pkcs1Representative(n, hash, message.digest), d, n);
    assert.deepEqual(Buffer.from(i2osp(y, modulusBytes(n))), sign(hash, DATA, key1024.privateKey));
    assert.ok(verifyPkcs1Digest(key1024.key, message, i2osp(y, modulusBytes(n))));
    assert.ok(!verifyPkcs1Digest(key1024.key, message, i2osp(mod(y + 1n, n), modulusBytes(n))));
  }
});

void test('EMSA-PKCS1-v1_5 uses at least 8 bytes of 0xff padding and refuses shorter encodings', () => {
  const digest = new Uint8Array(32).fill(7);
  const tLen = 19 + 32;
  const em = emsaPkcs1v15('sha256', digest, tLen + 11);
  assert.deepEqual([...em.subarray(0, 11)], [0, 1, 255, 255, 255, 255, 255, 255, 255, 255, 0]);
  assert.throws(() => emsaPkcs1v15('sha256', digest, tLen + 10), RangeError);
  assert.throws(() => emsaPkcs1v15('sha256', new Uint8Array(31), 128), /digest/);
});

void test('PEM: a private key imports to {n, e, d, p, q}; the public key round-trips through SPKI PEM', () => {
  const { key, privateKey, publicPem } = key1024;
  const jwk = privateKey.export({ format: 'jwk' });
  assert.equal(key.n.toString(16), Buffer.from(jwk.n!, 'base64url').toString('hex').replace(/^0+/, ''));
  assert.equal(key.p * key.q, key.n);
  assert.equal(rsaPublicKeyToPem(key), publicPem);
  assert.deepEqual(rsaPublicKeyFromPem(publicPem), { n: key.n, e: key.e });
  const pkcs1 = privateKey.export({ type: 'pkcs1', format: 'pem' });
  assert.deepEqual(rsaPrivateKeyFromPem(pkcs1.toString()), key);
  const buffer = new Uint8Array(Buffer.from(key1024.pem));
  assert.deepEqual(rsaPrivateKeyFromPem(buffer, true), key);
  assert.ok(
    buffer.every((b) => b === 0),
    'the PEM buffer is zeroed after import',
  );
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  assert.throws(
    () => rsaPrivateKeyFromPem(ec.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()),
    TypeError,
  );
});

// ---- The tree ----

void test('tree for (7, 10): 5,860 nodes, 586 per server, every node held by exactly the last position of its path', () => {
  assert.equal(treeSize(10, 7), 10 + 90 + 720 + 5040);
  const all = treeNodes(10, 7);
  assert.equal(all.length, 5860);
  const seen = new Set<string>();
  for (const i of range1(10)) {
    const mine = heldNodes(10, 7, i);
    assert.equal(mine.length, 586);
    for (const node of mine) {
      assert.equal(node[node.length - 1], i);
      seen.add(pathKey(node));
    }
  }
  assert.equal(seen.size, 5860);
  assert.equal(treeSize(12, 8), Infinity, '(8, 12) would need 108,396 nodes');
  assert.throws(() => heldNodes(12, 8, 1), RangeError);
});

void test('property: the tree completes iff at most n − t servers fail (plan and cover agree)', () => {
  fc.assert(
    fc.property(
      fc
        .integer({ min: 1, max: 6 })
        .chain((n) => fc.tuple(fc.constant(n), fc.integer({ min: 1, max: n }), fc.subarray(range1(n)))),
      ([n, t, failedList]) => {
        const failed = new Set(failedList);
        const plan = planAdditiveRequests(n, t, failed, new Set());
        if (failed.size > n - t) {
          assert.equal(plan.status, 'insufficient');
          return;
        }
        assert.equal(plan.status, 'request');
        if (plan.status !== 'request') return;
        // Everything requested is held by a responder; answering it completes the root.
        const have = new Set<string>();
        for (const [server, nodes] of plan.requests) {
          assert.ok(!failed.has(server));
          for (const node of nodes) {
            assert.equal(node[node.length - 1], server);
            have.add(pathKey(node));
          }
        }
        assert.equal(planAdditiveRequests(n, t, failed, have).status, 'complete');
        const cover = additiveCover(n, t, have);
        assert.ok(cover !== undefined);
        for (const node of cover) assert.ok(!failed.has(node[node.length - 1]!));
      },
    ),
    { numRuns: 300 },
  );
});

void test('property: pieces are below φ(N), children sum to their parent mod φ(N), any cover sums to d', () => {
  const { key } = key512;
  const phi = (key.p - 1n) * (key.q - 1n);
  fc.assert(
    fc.property(
      fc
        .integer({ min: 2, max: 5 })
        .chain((n) => fc.tuple(fc.constant(n), fc.integer({ min: 2, max: n }), fc.subarray(range1(n)))),
      ([n, t, failedList]) => {
        const dealing = dealAdditive(key, { servers: n, threshold: t }, secureRandom);
        const piece = new Map<string, bigint>();
        for (const share of dealing.shares)
          heldNodes(n, t, share.index).forEach((node, k) => piece.set(pathKey(node), share.pieces[k]!));
        for (const value of piece.values()) assert.ok(value >= 0n && value < phi);
        const sumChildren = (path: readonly number[]): bigint =>
          range1(n)
            .filter((j) => !path.includes(j))
            .reduce((acc, j) => acc + piece.get(pathKey([...path, j]))!, 0n);
        assert.equal(mod(sumChildren([]), phi), mod(key.d, phi));
        for (const node of treeNodes(n, t))
          if (node.length <= n - t) assert.equal(mod(sumChildren(node), phi), piece.get(pathKey(node)));
        // Responders R = all but the failed ones: the cover from R's nodes sums to d mod φ(N).
        const failed = new Set(failedList.slice(0, n - t));
        const have = new Set([...piece.keys()].filter((k) => !failed.has(Number(k.split('.').at(-1)))));
        const cover = additiveCover(n, t, have)!;
        assert.equal(
          mod(
            cover.reduce((acc, node) => acc + piece.get(pathKey(node))!, 0n),
            phi,
          ),
          mod(key.d, phi),
        );
      },
    ),
    { numRuns: 25 },
  );
});

// ---- Signing ----

void test('additive (7, 10), 1024-bit key: chosen 7-subsets sign; equal to the whole-key signature; node and openssl verify', () => {
  const dealing = dealt(7, 10);
  checkAdditiveVerification(dealing.verification);
  const message = signMessageFor(DATA, CONTEXT);
  for (const downSet of [[], [8, 9, 10], [1, 2, 3], [2, 5, 9], [4]]) {
    const { result, error } = runSession(dealing, message, down(downSet));
    assert.equal(error, undefined, `down ${downSet.join(',')}`);
    assertStandardSignature(result!.signature);
    for (const node of result!.cover) assert.ok(!downSet.includes(node[node.length - 1]!));
  }
});

void test('additive (3, 4), (2, 3), (4, 7), 1024-bit key: every tried t-subset signs and verifies', () => {
  const message = signMessageFor(DATA, CONTEXT);
  for (const [t, n, tries] of [
    [3, 4, Infinity],
    [2, 3, Infinity],
    [4, 7, 4],
  ] as const) {
    const dealing = dealt(t, n);
    checkAdditiveVerification(dealing.verification);
    const responderSets = subsets(range1(n), t);
    const chosen =
      tries === Infinity
        ? responderSets
        : [responderSets[0]!, responderSets.at(-1)!, responderSets[7]!, responderSets[20]!];
    for (const responders of chosen) {
      const { result, error } = runSession(
        dealing,
        message,
        down(range1(n).filter((i) => !responders.includes(i))),
      );
      assert.equal(error, undefined, `(${t}, ${n}) responders ${responders.join(',')}`);
      assertStandardSignature(result!.signature);
    }
  }
});

void test('additive (2, 3) signs SHA-384 and SHA-512 digests; openssl verifies them', () => {
  const dealing = dealt(2, 3);
  for (const hash of ['sha384', 'sha512'] as const) {
    const { result } = runSession(dealing, signMessageFor(DATA, CONTEXT, hash), down([2]));
    assertStandardSignature(result!.signature, hash);
  }
});

void test('additive (3, 4), 2048-bit imported PEM key: signs and verifies', () => {
  const key2048 = rsaKey(2048);
  const imported = rsaPrivateKeyFromPem(key2048.pem);
  const dealing = dealAdditive(imported, { servers: 4, threshold: 3 }, secureRandom);
  assert.equal(rsaPublicKeyToPem(dealing.publicKey), key2048.publicPem);
  const { result } = runSession(dealing, signMessageFor(DATA, CONTEXT), down([3]));
  assertStandardSignature(result!.signature, 'sha256', DATA, key2048);
});

void test('fewer than t responders: insufficientShares, no signature', () => {
  const message = signMessageFor(DATA, CONTEXT);
  const { result, error } = runSession(dealt(7, 10), message, down([1, 5, 6, 10]));
  assert.equal(result, undefined);
  assert.ok(error instanceof ThresholdRsaError);
  assert.equal(error.code, 'insufficientShares');
  assert.deepEqual(error.culprits, [], 'silence is not misbehaviour');
  const small = dealt(3, 4);
  const { error: e2 } = runSession(small, message, down([1, 2]));
  assert.equal(e2?.code, 'insufficientShares');
  // One-shot combining with the depth-1 partials of only 2 servers of (3, 4).
  const responses = [1, 2].map((i) => ({
    from: i,
    partials: partialSignAdditive(small.shares[i - 1]!, { message, nodes: [[i]] }, secureRandom),
  }));
  assert.throws(
    () => combineAdditive(small.verification, message, responses),
    (err: unknown) => err instanceof ThresholdRsaError && err.code === 'insufficientShares',
  );
});

// Byzantine servers (real misbehaviour on real partials, not mocks).
const other = signMessageFor(new TextEncoder().encode('another request'), CONTEXT);
const attacks: Record<string, Behaviour> = {
  wrongValue: (_s, _r, honest) => honest().map((p) => ({ ...p, value: (p.value * 2n) % key1024.key.n })),
  badProof: (_s, _r, honest) => honest().map((p) => ({ ...p, proof: { c: p.proof.c ^ 1n, z: p.proof.z } })),
  wrongIndex: (server, _r, honest) =>
    honest().map((p) => ({ ...p, node: [...p.node.slice(0, -1), (server % 10) + 1] })),
  replayOtherMessage: (server, request, _honest) =>
    partialSignAdditive(dealt(7, 10).shares[server - 1]!, { ...request, message: other }, secureRandom),
  otherContext: (server, request) =>
    partialSignAdditive(
      dealt(7, 10).shares[server - 1]!,
      { ...request, message: { ...request.message, context: new Uint8Array([9]) } },
      secureRandom,
    ),
};

void test('additive (7, 10): three malicious servers (wrong value, bad proof, wrong index) are named; the 7 honest sign', () => {
  const dealing = dealt(7, 10);
  const message = signMessageFor(DATA, CONTEXT);
  const cheaters: Record<number, Behaviour> = {
    2: attacks.wrongValue!,
    6: attacks.badProof!,
    9: attacks.wrongIndex!,
  };
  const { result, error } = runSession(dealing, message, (s, r, h) => (cheaters[s] ?? honestServer)(s, r, h));
  assert.equal(error, undefined);
  assertStandardSignature(result!.signature);
  assert.deepEqual(
    result!.culprits.map((c) => c.party).sort((a, b) => a - b),
    [2, 6, 9],
  );
});

void test('additive (7, 10): a fourth malicious server exceeds the tolerance: insufficientShares naming all four', () => {
  const dealing = dealt(7, 10);
  const message = signMessageFor(DATA, CONTEXT);
  const cheaters: Record<number, Behaviour> = {
    1: attacks.wrongValue!,
    3: attacks.replayOtherMessage!,
    7: attacks.otherContext!,
    10: attacks.badProof!,
  };
  const { result, error } = runSession(dealing, message, (s, r, h) => (cheaters[s] ?? honestServer)(s, r, h));
  assert.equal(result, undefined);
  assert.equal(error?.code, 'insufficientShares');
  assert.deepEqual(
    error.culprits.map((c) => c.party).sort((a, b) => a - b),
    [1, 3, 7, 10],
  );
});

void test('additive (4, 7): each attack alone is rejected with its sender named, and the others still sign', () => {
  const dealing = dealt(4, 7);
  const message = signMessageFor(DATA, CONTEXT);
  const local: Record<string, Behaviour> = {
    ...attacks,
    wrongIndex: (server, _r, honest) =>
      honest().map((p) => ({ ...p, node: [...p.node.slice(0, -1), (server % 7) + 1] })),
    replayOtherMessage: (server, request) =>
      partialSignAdditive(dealing.shares[server - 1]!, { ...request, message: other }, secureRandom),
    otherContext: (server, request) =>
      partialSignAdditive(
        dealing.shares[server - 1]!,
        { ...request, message: { ...request.message, context: new Uint8Array([9]) } },
        secureRandom,
      ),
    omitsNodes: () => [],
    unrequestedNode: (server, request) =>
      partialSignAdditive(
        dealing.shares[server - 1]!,
        {
          ...request,
          nodes: heldNodes(7, 4, server)
            .filter((n) => !request.nodes.some((m) => pathKey(m) === pathKey(n)))
            .slice(0, 1),
        },
        secureRandom,
      ),
  };
  for (const [name, attack] of Object.entries(local)) {
    const { result, error } = runSession(dealing, message, (s, r, h) => (s === 5 ? attack(s, r, h) : h()));
    assert.equal(error, undefined, name);
    assert.deepEqual(
      result!.culprits.map((c) => c.party),
      [5],
      name,
    );
    assert.deepEqual(Buffer.from(result!.signature), sign('sha256', DATA, key1024.privateKey), name);
  }
});

void test('additive: a partial multiplied by −1 passes (only X² is used) and the signature is still exact', () => {
  const dealing = dealt(3, 4);
  const message = signMessageFor(DATA, CONTEXT);
  const n = key1024.key.n;
  const { result } = runSession(dealing, message, (s, _r, honest) =>
    s === 2 ? honest().map((p) => ({ ...p, value: n - p.value })) : honest(),
  );
  assert.deepEqual(result!.culprits, []);
  assertStandardSignature(result!.signature);
});

void test('session: waits while a request is outstanding; a late answer after fail() is ignored, not blamed', () => {
  const dealing = dealt(3, 4);
  const message = signMessageFor(DATA, CONTEXT);
  const session = new AdditiveSigningSession(dealing.verification, message);
  const answer = (server: number, request: AdditiveSignRequest): AdditivePartial[] =>
    partialSignAdditive(dealing.shares[server - 1]!, request, secureRandom);
  const first = session.next();
  assert.equal(first.status, 'send');
  if (first.status !== 'send') return;
  assert.deepEqual([...first.requests.keys()], [1, 2, 3, 4]);
  for (const server of [1, 2, 3]) session.receive(server, answer(server, first.requests.get(server)!));
  assert.equal(session.next().status, 'wait', 'server 4 has not answered yet');
  session.fail(4);
  const second = session.next();
  assert.equal(second.status, 'send');
  if (second.status !== 'send') return;
  assert.deepEqual(
    [...second.requests].map(([server, r]) => [server, r.nodes.map(pathKey)]),
    [
      [1, ['4.1']],
      [2, ['4.2']],
      [3, ['4.3']],
    ],
  );
  session.receive(4, answer(4, first.requests.get(4)!));
  for (const [server, request] of second.requests) session.receive(server, answer(server, request));
  assert.equal(session.next().status, 'complete');
  const result = session.finish();
  assert.deepEqual(result.culprits, []);
  assert.deepEqual(result.cover.map(pathKey), ['1', '2', '3', '4.1', '4.2', '4.3']);
  assertStandardSignature(result.signature);
});

void test('combineAdditive (one-shot) names the sender of a replayed partial and signs with the rest', () => {
  const dealing = dealt(3, 4);
  const message = signMessageFor(DATA, CONTEXT);
  const responses = range1(4).map((i) => ({
    from: i,
    partials: partialSignAdditive(
      dealing.shares[i - 1]!,
      { message: i === 4 ? other : message, nodes: [[i]] },
      secureRandom,
    ),
  }));
  // Server 4's partial is for another message: rejected; node [4] is then missing, so ask 1..3 for [4, j].
  assert.throws(
    () => combineAdditive(dealing.verification, message, responses),
    (err: unknown) =>
      err instanceof ThresholdRsaError && err.code === 'insufficientShares' && err.culprits[0]?.party === 4,
  );
  const compensation = [1, 2, 3].map((j) => ({
    from: j,
    partials: partialSignAdditive(dealing.shares[j - 1]!, { message, nodes: [[4, j]] }, secureRandom),
  }));
  const result = combineAdditive(dealing.verification, message, [...responses, ...compensation]);
  assert.deepEqual(result.culprits, [{ party: 4, reason: 'proof for node 4 does not verify' }]);
  assertStandardSignature(result.signature);
  assert.equal(verifyAdditivePartial(dealing.verification, message, 4, responses[3]!.partials[0]!).ok, false);
  assert.equal(verifyAdditivePartial(dealing.verification, other, 4, responses[3]!.partials[0]!).ok, true);
  assert.equal(verifyAdditivePartial(dealing.verification, message, 3, responses[3]!.partials[0]!).ok, false);
});

void test('partialSignAdditive refuses nodes the server does not hold, repeats and malformed messages (badRequest)', () => {
  const dealing = dealt(3, 4);
  const share = dealing.shares[0]!;
  const message = signMessageFor(DATA, CONTEXT);
  const bad = (request: AdditiveSignRequest): void =>
    assert.throws(
      () => partialSignAdditive(share, request, secureRandom),
      (err: unknown) => err instanceof ThresholdRsaError && err.code === 'badRequest',
    );
  bad({ message, nodes: [[2]] });
  bad({ message, nodes: [[1], [1]] });
  bad({ message, nodes: [[2, 1, 3]] });
  bad({ message, nodes: [[0]] });
  bad({ message, nodes: [] });
  bad({ message: { ...message, digest: new Uint8Array(31) }, nodes: [[1]] });
});

// ---- Shares, records, encodings ----

void test('shares and records: checks pass for an honest dealing and catch tampering', () => {
  const dealing = dealt(3, 4);
  for (const share of dealing.shares) checkAdditiveShare(share, dealing.verification);
  const share = dealing.shares[1]!;
  const tampered = { ...share, pieces: share.pieces.map((p, i) => (i === 3 ? p + 1n : p)) };
  assert.throws(() => checkAdditiveShare(tampered), ThresholdRsaError);
  const keys = [...dealing.verification.nodeKeys];
  keys[5] = (keys[5]! * 4n) % key1024.key.n;
  assert.throws(
    () => checkAdditiveVerification({ ...dealing.verification, nodeKeys: keys }),
    ThresholdRsaError,
  );
  const otherDealing = dealAdditive(key1024.key, { servers: 4, threshold: 3 }, secureRandom);
  assert.throws(() => checkAdditiveShare(otherDealing.shares[1]!, dealing.verification), ThresholdRsaError);
  // A consistent tree whose root is not v^d for the claimed public exponent fails (Π v_[j])^e = v.
  const ver = dealing.verification;
  assert.throws(() => checkAdditiveVerification({ ...ver, e: ver.e + 2n }), ThresholdRsaError);
});

void test('encodings round-trip and the decoders reject truncation, garbage and oversize counts', () => {
  const dealing = dealt(3, 4);
  const message = signMessageFor(DATA, CONTEXT);
  const v = encodeAdditiveVerification(dealing.verification);
  assert.deepEqual(decodeAdditiveVerification(v), dealing.verification);
  for (const share of dealing.shares)
    assert.deepEqual(decodeAdditiveShare(encodeAdditiveShare(share)), share);
  const request: AdditiveSignRequest = { message, nodes: heldNodes(4, 3, 2) };
  assert.deepEqual(
    decodeAdditiveSignRequest(encodeAdditiveSignRequest(request), dealing.shares[1]!),
    request,
  );
  const partials = partialSignAdditive(dealing.shares[1]!, request, secureRandom);
  const decoded = decodeAdditivePartials(encodeAdditivePartials(partials), dealing.verification);
  assert.deepEqual(decoded, partials);
  assert.equal(verifyAdditivePartial(dealing.verification, message, 2, decoded[1]!).ok, true);

  const shareBytes = encodeAdditiveShare(dealing.shares[0]!);
  for (const bytes of [
    v.subarray(0, v.length - 1),
    shareBytes.subarray(0, 40),
    new Uint8Array([1, 2, 3]),
    new Uint8Array(),
  ])
    assert.throws(() => decodeAdditiveShare(bytes), CodecError);
  assert.throws(() => decodeAdditiveVerification(new Uint8Array([...v, 0])), CodecError);
  const many = encodeAdditivePartials(Array.from({ length: 20 }, () => partials[0]!));
  assert.throws(() => decodeAdditivePartials(many, dealing.verification), /exceeds/);
  const tooMany = encodeAdditiveSignRequest({ message, nodes: Array.from({ length: 5 }, () => [2]) });
  assert.throws(() => decodeAdditiveSignRequest(tooMany, dealing.shares[1]!), CodecError);
});

void test('additive (3, 4): representatives that are not squares (Jacobi −1) and squares both sign exactly', () => {
  const dealing = dealt(3, 4);
  const n = dealing.publicKey.n;
  const seen = new Set<number>();
  for (let i = 0; seen.size < 2 && i < 64; i++) {
    const data = new TextEncoder().encode(`document ${i}`);
    const message = signMessageFor(data, CONTEXT);
    const symbol = jacobi(pkcs1Representative(n, 'sha256', message.digest), n);
    if (seen.has(symbol)) continue;
    seen.add(symbol);
    const { result } = runSession(dealing, message, down([2]));
    assert.ok(result !== undefined, `Jacobi ${symbol}: signs`);
    assertStandardSignature(result.signature, 'sha256', data);
  }
  assert.deepEqual([...seen].sort(), [-1, 1]);
});

void test('compact public record: round-trips, is small, and a combiner holding only it checks every v_T by its Merkle path', () => {
  for (const [t, n] of [
    [2, 3],
    [3, 4],
    [7, 10],
  ] as const) {
    const dealing = dealt(t, n);
    const bytes = encodeAdditivePublicRecord(dealing.record);
    assert.ok(bytes.length < 2 * 128 + 32 * n + 64, `(${t}, ${n}): ${bytes.length} bytes`);
    const record = decodeAdditivePublicRecord(bytes);
    assert.deepEqual(record, dealing.record);
    for (const share of dealing.shares) checkAdditiveShare(share, record);
    // Nodes of the first and last server, first and last positions: key proofs lead to their roots.
    const message = signMessageFor(DATA, CONTEXT);
    for (const server of [1, n]) {
      const share = dealing.shares[server - 1]!;
      const held = heldNodes(n, t, server);
      const nodes = [held[0]!, held[held.length - 1]!];
      const partials = partialSignAdditive(share, { message, nodes }, secureRandom);
      for (const partial of partials)
        assert.equal(verifyAdditivePartial(record, message, server, partial).ok, true, pathKey(partial.node));
    }
  }
  const dealing = dealt(3, 4);
  const record = decodeAdditivePublicRecord(encodeAdditivePublicRecord(dealing.record));
  const message = signMessageFor(DATA, CONTEXT);
  const [a, b] = partialSignAdditive(
    dealing.shares[1]!,
    { message, nodes: heldNodes(4, 3, 2).slice(0, 2) },
    secureRandom,
  );
  const reject = (partial: AdditivePartial, why: string): void => {
    const check = verifyAdditivePartial(record, message, 2, partial);
    assert.ok(!check.ok && /key proof/.test(check.reason), why);
  };
  reject({ ...a!, keyProof: undefined }, 'no key proof');
  reject({ ...a!, keyProof: b!.keyProof }, "another node's key and path");
  reject({ ...a!, keyProof: { key: a!.keyProof!.key, path: a!.keyProof!.path.slice(1) } }, 'short path');
  reject({ ...a!, keyProof: { key: a!.keyProof!.key + 1n, path: a!.keyProof!.path } }, 'wrong key');
  assert.equal(verifyAdditivePartial(record, message, 2, a!).ok, true);
  // Signing through the session with the compact record: 1 server down, 1 sending a wrong key proof.
  const liar: Behaviour = (server, request, honest) => {
    const partials = honest();
    if (server !== 3) return partials;
    return partials.map((p) => ({ ...p, keyProof: { key: p.keyProof!.key, path: [] } }));
  };
  const { result } = runSession(dealing, message, (s, r, h) => (s === 1 ? 'silent' : liar(s, r, h)), record);
  assert.equal(result, undefined, '(3, 4) cannot lose two servers');
  const twoOk = runSession(dealing, message, liar, record);
  assert.ok(twoOk.result !== undefined);
  assert.deepEqual(
    twoOk.result.culprits.map((c) => c.party),
    [3],
  );
  assertStandardSignature(twoOk.result.signature);
  // A share whose keys are not the record's is refused.
  const share = dealing.shares[0]!;
  const other = dealAdditive(key1024.key, { servers: 4, threshold: 3 }, secureRandom);
  assert.throws(() => checkAdditiveShare(share, other.record), ThresholdRsaError);
  assert.throws(
    () => decodeAdditivePublicRecord(encodeAdditivePublicRecord({ ...record, v: 1n })),
    CodecError,
  );
});

void test('property: Merkle paths of node keys verify at their position only, for any leaf count', () => {
  const k = 16;
  fc.assert(
    fc.property(
      fc.array(fc.bigInt({ min: 1n, max: (1n << 128n) - 1n }), { minLength: 1, maxLength: 40 }),
      fc.nat(),
      (keys, pick) => {
        const root = additiveKeysRoot(keys, k);
        const position = pick % keys.length;
        const path = additiveKeyPath(keys, k, position);
        assert.ok(path.length <= Math.ceil(Math.log2(keys.length)));
        assert.ok(additiveKeyPathValid(keys[position]!, position, keys.length, path, k, root));
        assert.ok(!additiveKeyPathValid(keys[position]! + 1n, position, keys.length, path, k, root));
        if (keys.length > 1) {
          const elsewhere = (position + 1) % keys.length;
          assert.ok(!additiveKeyPathValid(keys[position]!, elsewhere, keys.length, path, k, root));
        }
        if (path.length > 0) {
          assert.ok(!additiveKeyPathValid(keys[position]!, position, keys.length, path.slice(1), k, root));
          assert.ok(
            !additiveKeyPathValid(keys[position]!, position, keys.length, [...path, path[0]!], k, root),
          );
        }
      },
    ),
    { numRuns: 300 },
  );
  // 586 leaves, the (7, 10) count: every position.
  const keys = Array.from({ length: 586 }, (_, i) => BigInt(i) * 7919n + 1n);
  const root = additiveKeysRoot(keys, k);
  for (let i = 0; i < keys.length; i++)
    assert.ok(additiveKeyPathValid(keys[i]!, i, keys.length, additiveKeyPath(keys, k, i), k, root));
});
