/**
 * The CA's threshold DSA/ECDSA scheme (src/protocol/ca/scheme-dl.ts, GJKR) through the scheme contract and
 * its in-process harness: key generation and import, signatures that node:crypto and `openssl dgst -sha256
 * -verify` accept, b holders down or lying (named), b+1 beyond tolerance (SchemeFailure, no signature),
 * replayed and foreign steps, the REFERENCE.md §8.2 nonce-reuse attack, expiry, and malformed bodies.
 *
 * Sizes: P-256 and secp256k1 with n = 4 (b = 1, t = 1) and P-256 with n = 10 (b = 3, t = 3); DSA with
 * (L, N) = (2048, 256) and n = 4, on the embedded parameters (create) and on FIPS parameters of a fixed test
 * key made by node:crypto (import, fixtures/dsa-2048-256-test-key.pem).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  verify as nodeVerify,
} from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ByteReader, ByteWriter } from '../../src/codec/bytes.js';
import { secureRandom } from '../../src/env/random.js';
import { decodeDerSignature } from '../../src/crypto/threshold/dsa-der.js';
import { dsaGroup, dsaParamsOf, type DlGroup } from '../../src/crypto/threshold/dl-group.js';
import { BFTKV_DSA_PARAMS } from '../../src/crypto/threshold/dsa-params.js';
import { decodePublicKeyInfo } from '../../src/crypto/threshold/gjkr-key.js';
import { REQUEST, signMessage } from '../../src/crypto/threshold/gjkr-messages.js';
import {
  SchemeError,
  SchemeFailure,
  type CreatedKey,
  type HolderIdentity,
  type SchemeRefusal,
  type SignInput,
} from '../../src/protocol/ca/scheme.js';
import {
  IMPORT_TAG,
  dlCoordinator,
  dlHolder,
  dlThreshold,
  type DlScheme,
} from '../../src/protocol/ca/scheme-dl.js';
import { flipBit, makeHarness, type Harness } from './ca-scheme-harness.js';
import { HEADER_BYTES, rewriteDealBoxes, signingCommitments } from './threshold-gjkr-harness.js';

const DSA_TEST_KEY = readFileSync(new URL('fixtures/dsa-2048-256-test-key.pem', import.meta.url), 'utf8');

function digestOf(data: Uint8Array): SignInput {
  return {
    kind: 'digest',
    hash: 'sha256',
    digest: new Uint8Array(createHash('sha256').update(data).digest()),
  };
}

/** `openssl dgst -sha256 -verify pub.pem -signature sig data` in a fresh temporary directory. */
function opensslVerifies(pem: string, signature: Uint8Array, data: Uint8Array): boolean {
  const dir = mkdtempSync(join(tmpdir(), 'ca-dl-'));
  try {
    writeFileSync(join(dir, 'pub.pem'), pem);
    writeFileSync(join(dir, 'sig'), signature);
    writeFileSync(join(dir, 'data'), data);
    const out = execFileSync(
      'openssl',
      ['dgst', '-sha256', '-verify', 'pub.pem', '-signature', 'sig', 'data'],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    return out.toString().trim() === 'Verified OK';
  } catch {
    return false;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Both verifiers accept the signature over `data`, and reject it over other data. */
function assertVerifies(pem: string, signature: Uint8Array, data: Uint8Array): void {
  assert.ok(nodeVerify('sha256', data, { key: pem, dsaEncoding: 'der' }, signature), 'node:crypto verifies');
  assert.ok(opensslVerifies(pem, signature, data), 'openssl dgst -verify says Verified OK');
  const other = flipBit(data, 0);
  assert.equal(nodeVerify('sha256', other, { key: pem, dsaEncoding: 'der' }, signature), false);
}

function sid(): Uint8Array {
  return secureRandom.bytes(32);
}

function named(culprits: readonly { index: number }[]): number[] {
  return [...new Set(culprits.map((c) => c.index))].sort((a, b) => a - b);
}

async function create(h: Harness, scheme: DlScheme): Promise<CreatedKey> {
  const id = sid();
  const key = await dlCoordinator(scheme).create(h.directory, id, h.setupTrip(id), secureRandom);
  // Every holder that stored a share stored the same public key bytes as the coordinator returned.
  for (const i of key.stored) assert.deepEqual(h.keys[i - 1]!.publicKey, key.publicKey);
  return key;
}

async function sign(
  h: Harness,
  scheme: DlScheme,
  publicKey: Uint8Array,
  data: Uint8Array,
): Promise<{ signature: Uint8Array; culprits: readonly { index: number; reason: string }[] }> {
  const id = sid();
  const input = digestOf(data);
  return dlCoordinator(scheme).sign(h.directory, publicKey, id, input, h.signTrip(id, input), secureRandom);
}

/** A signed GJKR message re-signed by its (malicious) sender after `edit` changed its body. */
function resign(identity: HolderIdentity, signed: Uint8Array, edit: (body: Uint8Array) => void): Uint8Array {
  const body = new Uint8Array(new ByteReader(signed).bytes(1 << 24, 'body'));
  edit(body);
  return signMessage(identity, body);
}

function refusedWith(kind: SchemeRefusal): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof SchemeError, `expected a SchemeError, got ${String(e)}`);
    assert.equal(e.refusal, kind, e.message);
    return true;
  };
}

// ---------------------------------------------------------------------------------------------------
// Items 1–4: create → sign → verify; b down; b lying and named; b+1 beyond tolerance.

const CURVES: readonly [DlScheme, number, string][] = [
  ['ecdsa-p256', 4, 'prime256v1'],
  ['ecdsa-secp256k1', 4, 'secp256k1'],
  ['ecdsa-p256', 10, 'prime256v1'],
];

for (const [scheme, n, curve] of CURVES) {
  void test(`${scheme} n=${n}: key generation, signing verified by node:crypto and openssl, b down, b lying named, b+1 fail`, async () => {
    const h = makeHarness(n, () => dlHolder());
    const b = h.directory.b;
    const t = dlThreshold(n, b);
    const coordinator = dlCoordinator(scheme);
    const key = await create(h, scheme);
    assert.deepEqual(
      key.stored,
      Array.from({ length: n }, (_, i) => i + 1),
    );
    assert.deepEqual(key.culprits, []);
    const info = decodePublicKeyInfo(key.publicKey);
    assert.equal(info.t, t);
    const pem = coordinator.publicKeyPem(key.publicKey);
    assert.match(pem, /^-----BEGIN PUBLIC KEY-----/);

    // 1. Signature over a file's SHA-256 digest: node:crypto and the OpenSSL command line accept it.
    const data = secureRandom.bytes(1000);
    const ok = await sign(h, scheme, key.publicKey, data);
    assert.deepEqual(ok.culprits, []);
    assertVerifies(pem, ok.signature, data);
    assert.ok(coordinator.verify(key.publicKey, digestOf(data), ok.signature));
    assert.ok(coordinator.verify(key.publicKey, { kind: 'message', message: data }, ok.signature));
    assert.equal(coordinator.verify(key.publicKey, digestOf(flipBit(data)), ok.signature), false);
    const { s } = decodeDerSignature(ok.signature);
    assert.ok(s <= info.group.q >> 1n, 'low s');

    // 2. b holders down: n − b answers suffice.
    const down = Array.from({ length: b }, (_, k) => n - k);
    for (const i of down) h.down.add(i);
    const withDown = await sign(h, scheme, key.publicKey, data);
    assertVerifies(pem, withDown.signature, data);
    assert.deepEqual(
      named(withDown.culprits),
      down.slice().sort((x, y) => x - y),
    );
    h.down.clear();

    // 3. b holders answer with wrong values (re-encoded, re-signed with their own node keys): named.
    const S = info.group.scalarBytes;
    const E = info.group.elementBytes;
    const liars = [2, 5, 9].slice(0, b);
    const behaviours: ((i: number) => void)[] = [
      // a wrong s_i in phase 2
      (i) =>
        h.tamper.set(i, (_, round, answer) =>
          round === 'phase2'
            ? resign(h.identities[i - 1]!, answer, (body) => void (body[HEADER_BYTES + 32 + 2 * S - 1]! ^= 1))
            : answer,
        ),
      // a wrong v_i = k_i a_i + b_i in phase 1
      (i) =>
        h.tamper.set(i, (_, round, answer) =>
          round === 'phase1'
            ? resign(h.identities[i - 1]!, answer, (body) => void (body[HEADER_BYTES + 32 + E + S - 1]! ^= 1))
            : answer,
        ),
      // wrong sub-shares to t+1 holders in its deal (sealed and signed properly): accused and disqualified
      (i) =>
        h.tamper.set(i, (_, round, answer) =>
          round === 'open'
            ? rewriteDealBoxes(h.identities[i - 1]!, answer, info.group, signingCommitments(t), [1, 3, 4, 6])
            : answer,
        ),
    ];
    liars.forEach((i, k) => behaviours[k]!(i));
    const lied = await sign(h, scheme, key.publicKey, data);
    assertVerifies(pem, lied.signature, data);
    assert.deepEqual(named(lied.culprits), liars);

    // 4. b+1 holders beyond tolerance: SchemeFailure naming them, and no signature.
    h.tamper.clear();
    const tooMany = Array.from({ length: b + 1 }, (_, k) => 1 + k);
    for (const i of tooMany) behaviours[0]!(i);
    await assert.rejects(sign(h, scheme, key.publicKey, data), (e: unknown) => {
      assert.ok(e instanceof SchemeFailure, String(e));
      assert.match(e.message, new RegExp(`only ${n - b - 1} valid phase-2 answers`));
      assert.deepEqual(named(e.culprits), tooMany);
      return true;
    });
    h.tamper.clear();
    for (let i = 1; i <= b + 1; i++) h.down.add(i);
    await assert.rejects(
      sign(h, scheme, key.publicKey, data),
      (e: unknown) => e instanceof SchemeFailure && named(e.culprits).join() === tooMany.join(),
    );
    h.down.clear();

    // Import of an existing key: signatures verify under the key's own public key.
    if (n === 4) {
      const existing = generateKeyPairSync('ec', { namedCurve: curve });
      const id = sid();
      const imported = await coordinator.import!(
        h.directory,
        id,
        existing.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        h.setupTrip(id),
        secureRandom,
      );
      assert.deepEqual(imported.stored, [1, 2, 3, 4]);
      const originalPem = existing.publicKey.export({ type: 'spki', format: 'pem' }).toString();
      assert.equal(coordinator.publicKeyPem(imported.publicKey), originalPem);
      const sig = await sign(h, scheme, imported.publicKey, data);
      assertVerifies(originalPem, sig.signature, data);
    }
  });
}

void test('DSA 2048/256: key generation on the embedded parameters and import of a FIPS key, verified by openssl (n=4)', async () => {
  const h = makeHarness(4, () => dlHolder());
  const coordinator = dlCoordinator('dsa');
  const key = await create(h, 'dsa');
  assert.deepEqual(key.stored, [1, 2, 3, 4]);
  const info = decodePublicKeyInfo(key.publicKey);
  assert.deepEqual(dsaParamsOf(info.group), BFTKV_DSA_PARAMS);
  const pem = coordinator.publicKeyPem(key.publicKey);
  const data = secureRandom.bytes(5000);
  // Holder 2's phase-1 answer with one bit flipped on the way: its signature no longer verifies.
  h.tamper.set(2, (_, round, answer) => (round === 'phase1' ? flipBit(answer) : answer));
  const generated = await sign(h, 'dsa', key.publicKey, data);
  assertVerifies(pem, generated.signature, data);
  assert.deepEqual(named(generated.culprits), [2]);
  h.tamper.clear();

  const id = sid();
  const imported = await coordinator.import!(h.directory, id, DSA_TEST_KEY, h.setupTrip(id), secureRandom);
  assert.deepEqual(imported.stored, [1, 2, 3, 4]);
  // The delivery again (same session id): refused; the import is a one-step session.
  const [delivery] = (h.received.get(1) ?? []).filter((r) => r.round === 'import');
  await assert.rejects(
    h.holders[0]!.setup(h.identities[0]!, id, delivery!.body, h.nowMs),
    refusedWith('session'),
  );
  const originalPem = createPublicKey(createPrivateKey(DSA_TEST_KEY))
    .export({ type: 'spki', format: 'pem' })
    .toString();
  assert.equal(coordinator.publicKeyPem(imported.publicKey), originalPem);
  h.tamper.set(3, (_, round, answer) =>
    round === 'phase2'
      ? resign(h.identities[2]!, answer, (body) => void (body[HEADER_BYTES + 32 + 2 * 32 - 1]! ^= 1))
      : answer,
  );
  const sig = await sign(h, 'dsa', imported.publicKey, data);
  assertVerifies(originalPem, sig.signature, data);
  assert.deepEqual(named(sig.culprits), [3]);
  // A key of another kind is not imported as DSA.
  await assert.rejects(
    coordinator.import!(
      h.directory,
      sid(),
      generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
        .privateKey.export({ type: 'pkcs8', format: 'pem' })
        .toString(),
      h.setupTrip(sid()),
      secureRandom,
    ),
    TypeError,
  );
});

// ---------------------------------------------------------------------------------------------------
// Item 5: replays, reused ids, other inputs, expiry; the REFERENCE.md §8.2 attack.

/** A harness with a generated secp256k1 key (n = 4). */
async function withKey(): Promise<{ h: Harness; key: CreatedKey }> {
  const h = makeHarness(4, () => dlHolder());
  return { h, key: await create(h, 'ecdsa-secp256k1') };
}

function bodies(h: Harness, holder: number, round: string): Uint8Array[] {
  return (h.received.get(holder) ?? []).filter((r) => r.round === round).map((r) => r.body);
}

void test('replayed steps, reused session ids, other digests and expired sessions are refused', async () => {
  const { h, key } = await withKey();
  const holder = h.holders[0]!;
  const me = h.identities[0]!;
  const stored = h.keys[0]!;
  const data = secureRandom.bytes(64);
  const input = digestOf(data);
  // The key generation's steps again: its session is over at every holder.
  for (const round of ['open', 'deals', 'qualify', 'commit']) {
    const [body] = bodies(h, 1, round);
    const dkgId = body!.subarray(1, 33);
    await assert.rejects(holder.setup(me, dkgId, body!, h.nowMs), refusedWith('session'), round);
  }
  h.received.clear();
  const id = sid();
  await dlCoordinator('ecdsa-secp256k1').sign(
    h.directory,
    key.publicKey,
    id,
    input,
    h.signTrip(id, input),
    secureRandom,
  );
  // Every round's body again, after the session finished: 'session'.
  for (const round of ['open', 'deals', 'phase1', 'phase2']) {
    const [body] = bodies(h, 1, round);
    await assert.rejects(holder.sign(me, stored, id, input, body!, h.nowMs), refusedWith('session'), round);
  }
  // An opening for another digest than the authorized one: 'refused' (and the id is used up).
  const other = digestOf(flipBit(data));
  const id2 = sid();
  const trip = h.signTrip(id2, input);
  const captured: Uint8Array[] = [];
  const spy: typeof trip = async (round, to, body, need) => {
    if (round === 'open') captured.push(body(1));
    return trip(round, to, body, need);
  };
  const signing = dlCoordinator('ecdsa-secp256k1').sign(
    h.directory,
    key.publicKey,
    id2,
    input,
    spy,
    secureRandom,
  );
  await signing;
  const id3 = sid();
  const openFor = (sessionId: Uint8Array) => {
    const open = new Uint8Array(captured[0]!);
    open.set(sessionId, 1);
    return open;
  };
  await assert.rejects(holder.sign(me, stored, id3, other, openFor(id3), h.nowMs), refusedWith('refused'));
  await assert.rejects(holder.sign(me, stored, id3, input, openFor(id3), h.nowMs), refusedWith('session'));

  // A session opened for the authorized digest, then a step under another authorized input: refused, and the
  // session is erased (the next step with the right input finds nothing).
  const id4 = sid();
  const deal = await holder.sign(me, stored, id4, input, openFor(id4), h.nowMs);
  assert.ok(deal.length > 0);
  await assert.rejects(holder.sign(me, stored, id4, input, openFor(id4), h.nowMs), refusedWith('session'));
  const id5 = sid();
  await holder.sign(me, stored, id5, input, openFor(id5), h.nowMs);
  const deals = new ByteWriter().u8(REQUEST.deals).raw(id5).u16(0).finish();
  await assert.rejects(holder.sign(me, stored, id5, other, deals, h.nowMs), refusedWith('refused'));
  await assert.rejects(holder.sign(me, stored, id5, input, deals, h.nowMs), refusedWith('session'));

  // Expiry: a session older than its time to live is erased by expire().
  const id6 = sid();
  await holder.sign(me, stored, id6, input, openFor(id6), h.nowMs);
  h.nowMs += 61_000;
  holder.expire(h.nowMs);
  const deals6 = new ByteWriter().u8(REQUEST.deals).raw(id6).u16(0).finish();
  await assert.rejects(holder.sign(me, stored, id6, input, deals6, h.nowMs), refusedWith('session'));

  // The message-mode opening (servers hash a message themselves) is never accepted by a CA holder.
  const id7 = sid();
  const messageMode = openFor(id7);
  messageMode[0] = REQUEST.signOpen;
  await assert.rejects(holder.sign(me, stored, id7, input, messageMode, h.nowMs), refusedWith('refused'));
  // A setup body sent as a signing step, and a signing body sent as a setup step.
  await assert.rejects(holder.setup(me, id7, openFor(id7), h.nowMs), refusedWith('refused'));
});

void test('the REFERENCE.md §8.2 attack through the holder: no second phase 2 for one nonce, in any form', async () => {
  // Two phase-2 answers s = k(m + x r) + c for the same k and different m (or r) give k, then x. A holder
  // answers phase 2 once per session, fixes the digest when the session opens, and never reopens an id.
  const { h, key } = await withKey();
  const me = (i: number) => h.identities[i - 1]!;
  const data = secureRandom.bytes(64);
  const input = digestOf(data);
  const otherInput = digestOf(flipBit(data));
  const id = sid();
  const trip = h.signTrip(id, input);
  let phase2: Uint8Array = new Uint8Array(0);
  const attacker: typeof trip = async (round, to, body, need) => {
    if (round === 'phase2') {
      phase2 = body(1);
      // Holder 1 is first asked for phase 2 under another authorized digest: refused, and its session
      // (with k_1) is erased, so it can never answer this session's phase 2 at all.
      await assert.rejects(
        h.holders[0]!.sign(me(1), h.keys[0]!, id, otherInput, phase2, h.nowMs),
        refusedWith('refused'),
      );
    }
    const answers = await trip(round, to, body, need);
    if (round === 'phase2') {
      assert.equal(answers.get(1), undefined, 'holder 1 no longer answers');
      // Holder 2 answered phase 2 once; the same request again, and again under the other digest: refused.
      assert.ok(answers.get(2) !== undefined);
      await assert.rejects(
        h.holders[1]!.sign(me(2), h.keys[1]!, id, input, phase2, h.nowMs),
        refusedWith('session'),
      );
      await assert.rejects(
        h.holders[1]!.sign(me(2), h.keys[1]!, id, otherInput, phase2, h.nowMs),
        refusedWith('session'),
      );
    }
    return answers;
  };
  const coordinator = dlCoordinator('ecdsa-secp256k1');
  const result = await coordinator.sign(h.directory, key.publicKey, id, input, attacker, secureRandom);
  assert.ok(phase2.length > 0);
  assert.ok(coordinator.verify(key.publicKey, input, result.signature));
  assert.deepEqual(named(result.culprits), [1]);
  // Reopening the id, for the same or another digest: the id is used up at every holder.
  const [open] = bodies(h, 3, 'open').slice(-1);
  await assert.rejects(
    h.holders[2]!.sign(me(3), h.keys[2]!, id, input, open!, h.nowMs),
    refusedWith('session'),
  );
  await assert.rejects(
    h.holders[2]!.sign(me(3), h.keys[2]!, id, otherInput, open!, h.nowMs),
    refusedWith('session'),
  );
});

// ---------------------------------------------------------------------------------------------------
// Item 6: malformed bodies, and setup requests that do not fit the group.

void test('malformed bodies are refused as malformed, never a crash; setup requests must fit the group', async () => {
  const { h, key } = await withKey();
  const holder = h.holders[1]!;
  const me = h.identities[1]!;
  const stored = h.keys[1]!;
  const input = digestOf(secureRandom.bytes(10));
  const id = sid();
  h.received.clear();
  await dlCoordinator('ecdsa-secp256k1').sign(
    h.directory,
    key.publicKey,
    id,
    input,
    h.signTrip(id, input),
    secureRandom,
  );
  const open = bodies(h, 2, 'open')[0]!;
  const deals = bodies(h, 2, 'deals')[0]!;
  const withId = (body: Uint8Array, sessionId: Uint8Array) => {
    const b = new Uint8Array(body);
    b.set(sessionId, 1);
    return b;
  };
  const huge = (body: Uint8Array) => {
    const b = withId(body, sid());
    b[33] = 0xff; // the relayed list's u16 count
    b[34] = 0xff;
    return b;
  };
  const cases: [string, (s: Uint8Array) => Uint8Array][] = [
    ['empty', () => new Uint8Array(0)],
    ['only a tag', () => Uint8Array.of(REQUEST.signOpenDigest)],
    ['truncated open', (s) => withId(open, s).subarray(0, open.length - 3)],
    ['open with trailing bytes', (s) => new Uint8Array([...withId(open, s), 0])],
    ['truncated deals', (s) => withId(deals, s).subarray(0, deals.length - 10)],
    ['deals with trailing bytes', (s) => new Uint8Array([...withId(deals, s), 1, 2])],
    ['deals with a huge count', () => huge(deals)],
    ['unknown tag', (s) => withId(Uint8Array.of(0x7f, ...new Uint8Array(32)), s)],
    ['another session id inside', () => withId(open, sid())],
  ];
  for (const [what, make] of cases) {
    const s = sid();
    await assert.rejects(holder.sign(me, stored, s, input, make(s), h.nowMs), refusedWith('malformed'), what);
  }
  // Setup bodies: truncated or padded key generation openings and import deliveries.
  const dkgOpen = new ByteWriter().u8(REQUEST.dkgOpen).raw(new Uint8Array(32)).u8(3).u16(4).u16(1).finish();
  const importBody = new ByteWriter()
    .u8(IMPORT_TAG)
    .raw(new Uint8Array(32))
    .u32(5)
    .raw(new Uint8Array(5))
    .finish();
  for (const [what, body] of [
    ['truncated key generation', dkgOpen.subarray(0, dkgOpen.length - 1)],
    ['key generation with trailing bytes', new Uint8Array([...dkgOpen, 9])],
    [
      'unknown group',
      withId(new Uint8Array([...dkgOpen.subarray(0, 33), 9, 0, 4, 0, 1]), new Uint8Array(32)),
    ],
    ['import with trailing bytes', new Uint8Array([...importBody, 0])],
    ['import of garbage', importBody],
    [
      'import with a huge length',
      withId(
        new ByteWriter().u8(IMPORT_TAG).raw(new Uint8Array(32)).u32(0xffffffff).finish(),
        new Uint8Array(32),
      ),
    ],
  ] as const) {
    const s = sid();
    await assert.rejects(holder.setup(me, s, withId(body, s), h.nowMs), refusedWith('malformed'), what);
  }
  // Well-formed, but not this group's: n and t must be the group's own.
  for (const [n, t] of [
    [5, 1],
    [4, 2],
  ] as const) {
    const s = sid();
    const body = new ByteWriter().u8(REQUEST.dkgOpen).raw(s).u8(3).u16(n).u16(t).finish();
    await assert.rejects(holder.setup(me, s, body, h.nowMs), refusedWith('refused'), `n=${n} t=${t}`);
  }
  // A stored key of another holder, or public key bytes that do not match the share: refused.
  await assert.rejects(
    holder.sign(me, h.keys[0]!, id, input, withId(open, sid()), h.nowMs),
    refusedWith('malformed'),
  );
  const s2 = sid();
  await assert.rejects(
    holder.sign(me, h.keys[0]!, s2, input, withId(open, s2), h.nowMs),
    refusedWith('refused'),
  );
  const s3 = sid();
  await assert.rejects(
    holder.sign(
      me,
      { ...stored, publicKey: flipBit(stored.publicKey) },
      s3,
      input,
      withId(open, s3),
      h.nowMs,
    ),
    refusedWith('refused'),
  );
});

void test('a coordinator refuses inputs it cannot sign and keys of another scheme', async () => {
  const h = makeHarness(4, () => dlHolder());
  const key = await create(h, 'ecdsa-p256');
  const p256 = dlCoordinator('ecdsa-p256');
  const k1 = dlCoordinator('ecdsa-secp256k1');
  const id = sid();
  await assert.rejects(
    p256.sign(
      h.directory,
      key.publicKey,
      id,
      { kind: 'message', message: Uint8Array.of(1) },
      h.signTrip(id, digestOf(Uint8Array.of(1))),
      secureRandom,
    ),
    TypeError,
  );
  await assert.rejects(
    k1.sign(
      h.directory,
      key.publicKey,
      id,
      digestOf(Uint8Array.of(1)),
      h.signTrip(id, digestOf(Uint8Array.of(1))),
      secureRandom,
    ),
    RangeError,
  );
  assert.equal(k1.verify(key.publicKey, digestOf(Uint8Array.of(1)), new Uint8Array(70)), false);
  assert.equal(p256.verify(Uint8Array.of(1, 2, 3), digestOf(Uint8Array.of(1)), new Uint8Array(70)), false);
  assert.equal(p256.x509Algorithm, 'ecdsa-p256-sha256');
  assert.equal(dlCoordinator('dsa').x509Algorithm, 'dsa-sha256');
  assert.equal(p256.input, 'digest');
  assert.equal(dlThreshold(10, 3), 3);
  assert.equal(dlThreshold(4, 1), 1);
  assert.throws(() => dlThreshold(2, 0), RangeError);
  // The embedded DSA group is the coordinator's default; other parameters can be chosen.
  const group: DlGroup = dsaGroup(BFTKV_DSA_PARAMS);
  assert.equal(group.qBits, 256);
});
