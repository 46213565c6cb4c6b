/**
 * The TPA cryptography (src/crypto/tpa.ts) on its own: threshold OPRF combination, verifiable answers,
 * the offline-guessing bound, proof statements and roaming encryption.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ristretto255, ristretto255_oprf } from '@noble/curves/ed25519.js';
import { bytesEqual, utf8 } from '../../src/codec/bytes.js';
import {
  blindPassword,
  combineEvaluations,
  credentialCoreId,
  decodeCredential,
  deriveKeys,
  encodeCredential,
  encodeScalar,
  evaluateDirect,
  evaluateShare,
  oprfInput,
  openValue,
  passwordThreshold,
  proofStatement,
  sealValue,
  setupPassword,
  TpaError,
  verifyEvaluation,
  verifyShare,
  type Credential,
  type Evaluation,
  type PasswordSetup,
} from '../../src/crypto/tpa.js';
import { secureRandom } from '../../src/env/random.js';
import { lagrangeCoefficients } from '../../src/crypto/threshold/gjkr-vss.js';

const members = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => (prefix + i.toString(16)).padStart(32, '0'));

function setup(password = 'correct horse', groups = [members('a', 10), members('b', 4)]): PasswordSetup {
  return setupPassword(
    'uid',
    utf8('alice@example.org'),
    1n,
    groups.map((m) => ({ members: m })),
    password,
    secureRandom,
  );
}

function answer(s: PasswordSetup, blinded: Uint8Array, pick: (gi: number) => string[]) {
  return s.credential.groups.map((g, gi) => {
    const m = new Map<string, Evaluation>();
    for (const id of pick(gi)) {
      const share = s.shares[gi]!.get(id)!;
      m.set(id, evaluateShare(g, share.index, share.share, blinded, secureRandom));
    }
    return m;
  });
}

void test('t = n − b for the clique sizes of the topologies', () => {
  assert.deepEqual(
    [4, 5, 7, 10, 13].map((n) => passwordThreshold(n)),
    [3, 4, 5, 7, 9],
  );
});

void test('every share passes the Feldman check and no share passes for another index', () => {
  const s = setup();
  for (const [gi, g] of s.credential.groups.entries()) {
    for (const { index, share } of s.shares[gi]!.values()) {
      assert.ok(verifyShare(g, index, share));
      assert.ok(!verifyShare(g, (index % g.members.length) + 1, share));
    }
  }
});

void test('any t answers per clique give the keys of the set-up; a wrong password does not', () => {
  const s = setup();
  for (const offset of [0, 3]) {
    const b = blindPassword('uid', utf8('alice@example.org'), 'correct horse', secureRandom);
    const ans = answer(s, b.blinded, (gi) =>
      s.credential.groups[gi]!.members.slice(offset, offset + s.credential.groups[gi]!.threshold),
    );
    if (ans[1]!.size < 3) continue;
    const c = combineEvaluations(s.credential, b, ans);
    assert.deepEqual(c.keys.auth.publicKey, s.credential.authKey);
    assert.deepEqual(c.keys.encryption, s.keys.encryption);
    assert.deepEqual(c.culprits, []);
  }
  const wrong = blindPassword('uid', utf8('alice@example.org'), 'correct horsf', secureRandom);
  const ans = answer(s, wrong.blinded, (gi) => [...s.credential.groups[gi]!.members]);
  assert.throws(
    () => combineEvaluations(s.credential, wrong, ans),
    (e: unknown) => e instanceof TpaError && e.message === 'wrong password' && e.culprits.length === 0,
  );
});

void test('up to b wrong answers per clique are named and authentication still succeeds', () => {
  const s = setup();
  const b = blindPassword('uid', utf8('alice@example.org'), 'correct horse', secureRandom);
  const ans = answer(s, b.blinded, (gi) => [...s.credential.groups[gi]!.members]);
  const g0 = s.credential.groups[0]!;
  const liars = g0.members.slice(0, 3); // b = 3 of 10, placed first so the optimistic combination uses them
  const other = ristretto255.Point.BASE.multiply(12345n).toBytes();
  const honestProof = ans[0]!.get(g0.members[5]!)!.proof;
  ans[0]!.set(liars[0]!, { evaluated: other, proof: ans[0]!.get(liars[0]!)!.proof }); // wrong value
  ans[0]!.set(liars[1]!, { evaluated: ans[0]!.get(liars[1]!)!.evaluated, proof: honestProof }); // wrong proof
  // Right proof shape, evaluated with a key that is not its share (a consistent lie).
  const forged = ristretto255_oprf.voprf.blindEvaluate(
    encodeScalar(777n),
    ristretto255.Point.BASE.multiply(777n).toBytes(),
    b.blinded,
  );
  ans[0]!.set(liars[2]!, forged);
  const c = combineEvaluations(s.credential, b, ans);
  assert.deepEqual(c.keys.auth.publicKey, s.credential.authKey);
  assert.deepEqual([...c.culprits].sort(), [...liars].sort());
  for (const id of liars) assert.ok(!verifyEvaluation(b, g0, g0.members.indexOf(id) + 1, ans[0]!.get(id)!));
});

void test('b + 1 wrong answers in a clique of 10 leave too few: the culprits are named, no keys', () => {
  const s = setup();
  const b = blindPassword('uid', utf8('alice@example.org'), 'correct horse', secureRandom);
  const ans = answer(s, b.blinded, (gi) => [...s.credential.groups[gi]!.members]);
  const g0 = s.credential.groups[0]!;
  const other = ristretto255.Point.BASE.multiply(99n).toBytes();
  for (const id of g0.members.slice(0, 4))
    ans[0]!.set(id, { evaluated: other, proof: ans[0]!.get(id)!.proof });
  assert.throws(
    () => combineEvaluations(s.credential, b, ans),
    (e: unknown) =>
      e instanceof TpaError && e.culprits.length === 4 && /6 verifiable answers/.test(e.message),
  );
});

/**
 * The offline attacker of the issue: it holds the stored state of `shares` compromised members of every
 * clique (their shares and the credential) and tries a dictionary. With t − 1 shares the best it can do is
 * interpolate what it has; it must find nothing. With t it finds the password: the attack itself works.
 */
function offlineAttack(s: PasswordSetup, compromised: number, dictionary: readonly string[]): string[] {
  const cred: Credential = decodeCredential(encodeCredential(s.credential), 1024);
  const found: string[] = [];
  for (const guess of dictionary) {
    const input = oprfInput('uid', cred.name, guess);
    const outputs = cred.groups.map((g, gi) => {
      const known = g.members.slice(0, compromised).map((m) => s.shares[gi]!.get(m)!);
      const lambdas = lagrangeCoefficients(
        { q: ristretto255.Point.Fn.ORDER },
        known.map((k) => k.index),
      );
      let k = 0n;
      for (const sh of known)
        k = ristretto255.Point.Fn.add(k, ristretto255.Point.Fn.mul(lambdas.get(sh.index)!, sh.share));
      return evaluateDirect(k === 0n ? 1n : k, input, secureRandom);
    });
    if (bytesEqual(deriveKeys(outputs, credentialCoreId(cred)).auth.publicKey, cred.authKey))
      found.push(guess);
  }
  return found;
}

void test('t − 1 compromised members per clique cannot test guesses offline; t can', () => {
  const s = setup('hunter2', [members('a', 10), members('b', 7)]);
  const dictionary = ['123456', 'password', 'hunter2', 'letmein'];
  assert.deepEqual(offlineAttack(s, 6, dictionary), []); // t − 1 = 6 of 10 (and 6 of 7 ≥ t there)
  assert.deepEqual(offlineAttack(s, 7, dictionary), ['hunter2']);
});

void test('the proof statement binds credential, requester, operation and every nonce', () => {
  const base = {
    credentialId: new Uint8Array(32).fill(1),
    requester: 'a'.repeat(32),
    operation: { kind: 'read' as const, x: utf8('x') },
    nonces: [{ server: 'b'.repeat(32), nonce: new Uint8Array(32).fill(2) }],
  };
  const s0 = proofStatement(base);
  const variants = [
    { ...base, credentialId: new Uint8Array(32).fill(3) },
    { ...base, requester: 'c'.repeat(32) },
    { ...base, operation: { kind: 'read' as const, x: utf8('y') } },
    { ...base, operation: { kind: 'confirm' as const } },
    { ...base, nonces: [{ server: 'b'.repeat(32), nonce: new Uint8Array(32).fill(4) }] },
  ];
  for (const v of variants) assert.notDeepEqual(proofStatement(v), s0);
});

void test('roaming encryption: fresh key per set-up, authenticated, bound to the credential', () => {
  const a = setupPassword('variable', utf8('x'), 5n, [{ members: members('a', 4) }], 'pw', secureRandom);
  const b = setupPassword('variable', utf8('x'), 5n, [{ members: members('a', 4) }], 'pw', secureRandom);
  assert.notDeepEqual(a.keys.encryption, b.keys.encryption);
  const sealed = sealValue(a.keys, a.credential, utf8('secret'), secureRandom);
  assert.deepEqual(openValue(a.keys, a.credential, sealed.nonce, sealed.ciphertext), utf8('secret'));
  assert.throws(() => openValue(b.keys, b.credential, sealed.nonce, sealed.ciphertext), TpaError);
  const tampered = sealed.ciphertext.slice();
  tampered[0]! ^= 1;
  assert.throws(() => openValue(a.keys, a.credential, sealed.nonce, tampered), TpaError);
});
