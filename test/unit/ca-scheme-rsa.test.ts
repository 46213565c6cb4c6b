/**
 * The RSA schemes of the distributed CA (src/protocol/ca/scheme-rsa.ts) through the scheme harness: n
 * in-process holders with real node and X25519 keys. Sizes: 512-bit moduli (Shoup: from 256-bit safe primes;
 * additive: node:crypto keys) unless a test names 1024 bits. Groups: n = 4 (b = 1, k = 3) and n = 10
 * (b = 3, k = 7). One key per (scheme, n) is created once and reused by the signing tests, which each use a
 * fresh session id and reset the down and malicious holders; tests about setup create their own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { ByteReader, ByteWriter } from '../../src/codec/bytes.js';
import { secureRandom } from '../../src/env/random.js';
import { sha256 } from '../../src/crypto/hash.js';
import { seal } from '../../src/crypto/threshold/gjkr-seal.js';
import { bigintToBytes } from '../../src/crypto/threshold/rsa-pkcs1.js';
import {
  decodeShoupPublicKey,
  decodeShoupSignatureShare,
  encodeShoupPublicKey,
  encodeShoupSignatureShare,
  generateShoupKey,
} from '../../src/crypto/threshold/rsa-shoup.js';
import {
  decodeAdditivePartials,
  decodeAdditivePublicRecord,
  encodeAdditivePartials,
  encodeAdditiveSignRequest,
} from '../../src/crypto/threshold/rsa-additive.js';
import {
  SchemeError,
  SchemeFailure,
  type CreatedKey,
  type SchemeCoordinator,
  type SchemeHolder,
  type SchemeRefusal,
  type SignInput,
} from '../../src/protocol/ca/scheme.js';
import {
  RSA_SESSION_TTL_MS,
  rsaAdditiveCoordinator,
  rsaAdditiveHolder,
  rsaShoupCoordinator,
  rsaShoupHolder,
  rsaSigningThreshold,
} from '../../src/protocol/ca/scheme-rsa.js';
import { flipBit, makeHarness, type Harness, type Tamper } from './ca-scheme-harness.js';
import { nodeVerifies, opensslVerifies } from './rsa-threshold-helpers.js';

type Kind = 'rsa-shoup' | 'rsa-additive';

const SCHEMES: Record<
  Kind,
  { holder: () => SchemeHolder; coordinator: (bits: number) => SchemeCoordinator; signRound: string }
> = {
  'rsa-shoup': {
    holder: () => rsaShoupHolder(),
    coordinator: (bits) => rsaShoupCoordinator({ modulusBits: bits }),
    signRound: 'sign',
  },
  'rsa-additive': {
    holder: () => rsaAdditiveHolder(),
    coordinator: (bits) => rsaAdditiveCoordinator({ modulusBits: bits }),
    signRound: 'sign-1',
  },
};

const sid = (): Uint8Array => secureRandom.bytes(32);
const DATA = new TextEncoder().encode('tbsCertificate: CN=carol, O=example');

function digestInput(data: Uint8Array): SignInput & { kind: 'digest' } {
  return {
    kind: 'digest',
    hash: 'sha256',
    digest: new Uint8Array(createHash('sha256').update(data).digest()),
  };
}

interface Setup {
  readonly h: Harness;
  readonly coordinator: SchemeCoordinator;
  readonly created: CreatedKey;
}

async function setUp(kind: Kind, n: number, bits = 512): Promise<Setup> {
  const h = makeHarness(n, SCHEMES[kind].holder);
  const coordinator = SCHEMES[kind].coordinator(bits);
  const s = sid();
  const created = await coordinator.create(h.directory, s, h.setupTrip(s), secureRandom);
  return { h, coordinator, created };
}

const shared = new Map<string, Promise<Setup>>();
/** One key per (scheme, n), created on first use; down and malicious holders reset for every test. */
async function key(kind: Kind, n: number): Promise<Setup> {
  const id = `${kind}/${n}`;
  if (!shared.has(id)) shared.set(id, setUp(kind, n));
  const setup = await shared.get(id)!;
  setup.h.down.clear();
  setup.h.tamper.clear();
  setup.h.received.clear();
  return setup;
}

async function signWith(
  { h, coordinator, created }: Setup,
  data = DATA,
): Promise<{ signature: Uint8Array; culprits: number[]; s: Uint8Array }> {
  const s = sid();
  const input = digestInput(data);
  const result = await coordinator.sign(
    h.directory,
    created.publicKey,
    s,
    input,
    h.signTrip(s, input),
    secureRandom,
  );
  return { signature: result.signature, culprits: result.culprits.map((c) => c.index), s };
}

function assertVerifies(
  coordinator: SchemeCoordinator,
  publicKey: Uint8Array,
  signature: Uint8Array,
  data = DATA,
): void {
  const pem = coordinator.publicKeyPem(publicKey);
  assert.ok(coordinator.verify(publicKey, digestInput(data), signature), 'the coordinator verifies');
  assert.ok(nodeVerifies(pem, 'sha256', data, signature), 'node:crypto verifies');
  assert.ok(opensslVerifies(pem, 'sha256', data, signature), 'openssl dgst -sha256 -verify accepts');
}

async function refusal(call: () => Promise<unknown>): Promise<SchemeRefusal> {
  try {
    await call();
  } catch (err) {
    assert.ok(err instanceof SchemeError, `a SchemeError, got ${String(err)}`);
    return err.refusal;
  }
  assert.fail('the holder accepted');
}

async function failure(call: () => Promise<unknown>): Promise<SchemeFailure> {
  try {
    await call();
  } catch (err) {
    assert.ok(err instanceof SchemeFailure, `a SchemeFailure, got ${String(err)}`);
    return err;
  }
  assert.fail('signing succeeded');
}

/** A wrong answer that still decodes: the value of one signature share / partial doubled. */
const wrongValue =
  (kind: Kind, publicKey: Uint8Array): Tamper =>
  (_i, _round, answer) => {
    if (kind === 'rsa-shoup') {
      const shoupKey = decodeShoupPublicKey(publicKey);
      const share = decodeShoupSignatureShare(answer, shoupKey);
      return encodeShoupSignatureShare({ ...share, value: (share.value * 2n) % shoupKey.n });
    }
    const record = decodeAdditivePublicRecord(publicKey);
    const partials = decodeAdditivePartials(answer, record);
    return encodeAdditivePartials(partials.map((p) => ({ ...p, value: (p.value * 2n) % record.n })));
  };

// ---- 1. create / import → sign → node:crypto and openssl ----

for (const kind of ['rsa-shoup', 'rsa-additive'] as const) {
  void test(`${kind}, n = 4 and n = 10, 512-bit: create stores a share at every holder; the signature verifies with node:crypto and openssl`, async () => {
    for (const n of [4, 10]) {
      const setup = await key(kind, n);
      const { h, created, coordinator } = setup;
      assert.deepEqual(
        created.stored,
        Array.from({ length: n }, (_, i) => i + 1),
      );
      assert.deepEqual(created.culprits, []);
      for (const stored of h.keys)
        assert.deepEqual(stored?.publicKey, created.publicKey, 'same public key bytes everywhere');
      assert.equal(rsaSigningThreshold(h.directory), n - h.directory.b);
      const { signature, culprits } = await signWith(setup);
      assert.deepEqual(culprits, []);
      assertVerifies(coordinator, created.publicKey, signature);
      const spki = createPublicKey(coordinator.publicKeyPem(created.publicKey));
      assert.equal(spki.asymmetricKeyDetails?.modulusLength, 512);
    }
  });
}

void test('rsa-shoup, n = 4, 1024-bit modulus from 512-bit safe primes: create and sign; node:crypto and openssl verify', async () => {
  const setup = await setUp('rsa-shoup', 4, 1024);
  const { signature } = await signWith(setup);
  assertVerifies(setup.coordinator, setup.created.publicKey, signature);
  assert.equal(
    createPublicKey(setup.coordinator.publicKeyPem(setup.created.publicKey)).asymmetricKeyDetails
      ?.modulusLength,
    1024,
  );
});

void test('rsa-additive, n = 10: import of an existing PEM key; the signature is the whole key’s, byte for byte', async () => {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 512 });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const h = makeHarness(10, rsaAdditiveHolder);
  const coordinator = rsaAdditiveCoordinator();
  assert.ok(coordinator.import !== undefined);
  assert.equal(rsaShoupCoordinator().import, undefined, 'Shoup has no import');
  const s = sid();
  const created = await coordinator.import(h.directory, s, pem, h.setupTrip(s), secureRandom);
  assert.equal(created.stored.length, 10);
  assert.equal(
    coordinator.publicKeyPem(created.publicKey),
    createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString(),
  );
  h.down.add(4);
  const { signature } = await signWith({ h, coordinator, created });
  const { sign } = await import('node:crypto');
  assert.deepEqual(
    Buffer.from(signature),
    sign('sha256', DATA, privateKey),
    'equals the whole-key signature',
  );
  assertVerifies(coordinator, created.publicKey, signature);
});

// ---- 2. b holders down; exactly n − b answering ----

for (const kind of ['rsa-shoup', 'rsa-additive'] as const) {
  void test(`${kind}: b holders down (n = 4: 1, n = 10: 3), the n − b others sign exactly; nobody is blamed`, async () => {
    for (const [n, down] of [
      [4, [2]],
      [10, [1, 5, 9]],
      [10, [8, 9, 10]],
    ] as const) {
      const setup = await key(kind, n);
      for (const i of down) setup.h.down.add(i);
      const { signature, culprits, s } = await signWith(setup);
      assert.deepEqual(culprits, []);
      assertVerifies(setup.coordinator, setup.created.publicKey, signature);
      // The n − b answering holders are exactly the ones that were not down.
      const answered = [...setup.h.received.keys()].filter((i) => !setup.h.down.has(i));
      assert.equal(answered.length, n - down.length);
      assert.equal(s.length, 32);
    }
  });
}

// ---- 3. b malicious holders are named, signing succeeds ----

for (const kind of ['rsa-shoup', 'rsa-additive'] as const) {
  void test(`${kind}: b malicious holders (flipped bit, or a wrong value that decodes) are named exactly; the signature verifies`, async () => {
    for (const [n, bad, how] of [
      [4, [3], 'flip'],
      [10, [2, 6, 7], 'flip'],
      [10, [1, 4, 10], 'value'],
    ] as const) {
      const setup = await key(kind, n);
      for (const i of bad)
        setup.h.tamper.set(
          i,
          how === 'flip' ? (_i, _r, answer) => flipBit(answer) : wrongValue(kind, setup.created.publicKey),
        );
      const { signature, culprits } = await signWith(setup);
      assert.deepEqual(culprits, [...bad], `${how} at n = ${n}`);
      assertVerifies(setup.coordinator, setup.created.publicKey, signature);
    }
  });
}

// ---- 4. beyond tolerance: SchemeFailure naming the culprits, no signature ----

for (const kind of ['rsa-shoup', 'rsa-additive'] as const) {
  void test(`${kind}: b + 1 malicious holders, or b + 1 down, fail with SchemeFailure naming the malicious`, async () => {
    const four = await key(kind, 4);
    for (const i of [1, 2]) four.h.tamper.set(i, wrongValue(kind, four.created.publicKey));
    const err = await failure(() => signWith(four));
    assert.deepEqual(err.culprits.map((c) => c.index).sort(), [1, 2]);

    const ten = await key(kind, 10);
    for (const i of [3, 5, 8, 9]) ten.h.tamper.set(i, (_i, _r, answer) => flipBit(answer));
    const err10 = await failure(() => signWith(ten));
    assert.deepEqual(
      err10.culprits.map((c) => c.index).sort((a, b) => a - b),
      [3, 5, 8, 9],
    );

    const down = await key(kind, 10);
    for (const i of [1, 2, 3, 4]) down.h.down.add(i);
    const errDown = await failure(() => signWith(down));
    assert.deepEqual(errDown.culprits, [], 'silent holders are not culprits');
    // Two malicious plus two down is also beyond tolerance; the two malicious are named.
    const mixed = await key(kind, 10);
    mixed.h.down.add(1).add(2);
    for (const i of [7, 8]) mixed.h.tamper.set(i, wrongValue(kind, mixed.created.publicKey));
    const errMixed = await failure(() => signWith(mixed));
    assert.deepEqual(errMixed.culprits.map((c) => c.index).sort(), [7, 8]);
  });
}

// ---- 5. replays, reused session ids, other inputs, expiry ----

for (const kind of ['rsa-shoup', 'rsa-additive'] as const) {
  void test(`${kind}: a replayed round is refused ('session'), so is a second setup or sign with a used id`, async () => {
    for (const n of [4, 10]) {
      const setup = await key(kind, n);
      const { h } = setup;
      h.down.add(n); // so the additive run has a second round to replay as well
      const { s } = await signWith(setup);
      const input = digestInput(DATA);
      const rounds = h.received.get(2)!;
      assert.equal(rounds.length, kind === 'rsa-additive' ? 2 : 1, 'rounds holder 2 answered');
      for (const { round, body } of rounds)
        assert.equal(
          await refusal(() => h.holders[1]!.sign(h.identities[1]!, h.keys[1]!, s, input, body, h.nowMs)),
          'session',
          `n = ${n}, ${round} replayed`,
        );
      // The whole signing run again with the same session id: every holder refuses, no signature.
      h.down.clear();
      const again = await failure(() =>
        setup.coordinator.sign(
          h.directory,
          setup.created.publicKey,
          s,
          input,
          h.signTrip(s, input),
          secureRandom,
        ),
      );
      assert.deepEqual(again.culprits, []);
    }

    // Setup: replaying a holder's deal body is refused, and so is a fresh deal under a used id.
    const fresh = makeHarness(4, SCHEMES[kind].holder);
    const setupSid = sid();
    await SCHEMES[kind]
      .coordinator(512)
      .create(fresh.directory, setupSid, fresh.setupTrip(setupSid), secureRandom);
    const deal = fresh.received.get(3)!.find((r) => r.round === 'deal')!.body;
    assert.equal(
      await refusal(() => fresh.holders[2]!.setup(fresh.identities[2]!, setupSid, deal, fresh.nowMs)),
      'session',
    );
    const second = await failure(() =>
      SCHEMES[kind]
        .coordinator(512)
        .create(fresh.directory, setupSid, fresh.setupTrip(setupSid), secureRandom),
    );
    assert.ok(second.message.includes('0 holders stored'));
  });

  void test(`${kind}: a body that signs another digest than the authorized input is refused ('refused')`, async () => {
    const { h, created } = await key(kind, 4);
    const authorized = digestInput(DATA);
    const other = digestInput(new TextEncoder().encode('something else'));
    const s = sid();
    const body =
      kind === 'rsa-shoup'
        ? new ByteWriter().u8(1).u8(1).raw(other.digest).finish()
        : encodeAdditiveSignRequest({
            message: { context: s, hash: 'sha256', digest: other.digest },
            nodes: [[1]],
          });
    assert.equal(
      await refusal(() => h.holders[0]!.sign(h.identities[0]!, h.keys[0]!, s, authorized, body, h.nowMs)),
      'refused',
    );
    // The refusal used up the session id: the right body under it is now refused too.
    const good =
      kind === 'rsa-shoup'
        ? new ByteWriter().u8(1).u8(1).raw(authorized.digest).finish()
        : encodeAdditiveSignRequest({
            message: { context: s, hash: 'sha256', digest: authorized.digest },
            nodes: [[1]],
          });
    assert.equal(
      await refusal(() => h.holders[0]!.sign(h.identities[0]!, h.keys[0]!, s, authorized, good, h.nowMs)),
      'session',
    );
    // Ed25519-style message input: RSA signs digests only.
    const s2 = sid();
    const message: SignInput = { kind: 'message', message: DATA };
    assert.equal(
      await refusal(() => h.holders[0]!.sign(h.identities[0]!, h.keys[0]!, s2, message, good, h.nowMs)),
      'refused',
    );
    if (kind === 'rsa-additive') {
      // A request bound (as proof context) to another session than the one it is sent under.
      const s3 = sid();
      const elsewhere = encodeAdditiveSignRequest({
        message: { context: sid(), hash: 'sha256', digest: authorized.digest },
        nodes: [[1]],
      });
      assert.equal(
        await refusal(() =>
          h.holders[0]!.sign(h.identities[0]!, h.keys[0]!, s3, authorized, elsewhere, h.nowMs),
        ),
        'refused',
      );
    }
    void created;
  });
}

void test('rsa-additive: an expired session is refused; a live one accepts new nodes but not a node twice', async () => {
  const { h } = await key('rsa-additive', 4);
  const input = digestInput(DATA);
  const holder = h.holders[1]!;
  const me = h.identities[1]!;
  const s = sid();
  const request = (nodes: number[][]): Uint8Array =>
    encodeAdditiveSignRequest({ message: { context: s, hash: 'sha256', digest: input.digest }, nodes });
  await holder.sign(me, h.keys[1]!, s, input, request([[2]]), h.nowMs);
  // Compensation for a failed holder 1: holder 2 signs node [1, 2] in a later round of the same session.
  await holder.sign(me, h.keys[1]!, s, input, request([[1, 2]]), h.nowMs + 1000);
  assert.equal(
    await refusal(() =>
      holder.sign(
        me,
        h.keys[1]!,
        s,
        input,
        request([
          [3, 2],
          [1, 2],
        ]),
        h.nowMs,
      ),
    ),
    'session',
  );
  // After the time to live, expire() erases a session; a later round of it is refused.
  const s2 = sid();
  const request2 = (nodes: number[][]): Uint8Array =>
    encodeAdditiveSignRequest({ message: { context: s2, hash: 'sha256', digest: input.digest }, nodes });
  await holder.sign(me, h.keys[1]!, s2, input, request2([[2]]), h.nowMs);
  h.nowMs += RSA_SESSION_TTL_MS + 1;
  holder.expire(h.nowMs);
  assert.equal(
    await refusal(() => holder.sign(me, h.keys[1]!, s2, input, request2([[1, 2]]), h.nowMs)),
    'session',
  );
  // Without expire(), a request after the time to live is refused as well.
  const s3 = sid();
  const request3 = encodeAdditiveSignRequest({
    message: { context: s3, hash: 'sha256', digest: input.digest },
    nodes: [[2]],
  });
  await holder.sign(me, h.keys[1]!, s3, input, request3, h.nowMs);
  const late = encodeAdditiveSignRequest({
    message: { context: s3, hash: 'sha256', digest: input.digest },
    nodes: [[1, 2]],
  });
  assert.equal(
    await refusal(() => holder.sign(me, h.keys[1]!, s3, input, late, h.nowMs + RSA_SESSION_TTL_MS + 1)),
    'session',
  );
});

void test('rsa-shoup: single-request sessions; expire() forgets nothing a replay could use', async () => {
  const setup = await key('rsa-shoup', 4);
  const { h } = setup;
  const { s } = await signWith(setup);
  const input = digestInput(DATA);
  const body = h.received.get(1)!.find((r) => r.round === 'sign')!.body;
  h.nowMs += 10 * RSA_SESSION_TTL_MS;
  for (const holder of h.holders) holder.expire(h.nowMs);
  assert.equal(
    await refusal(() => h.holders[0]!.sign(h.identities[0]!, h.keys[0]!, s, input, body, h.nowMs)),
    'session',
  );
});

// ---- 6. malformed bodies ----

function variants(body: Uint8Array): Uint8Array[] {
  const huge = new Uint8Array(body);
  // Second field of every body is a u32 length or count at offset 1 (deal: publicKey; additive: context).
  new DataView(huge.buffer).setUint32(1, 0xffffffff);
  return [
    body.subarray(0, body.length - 1),
    body.subarray(0, 1),
    new Uint8Array(),
    new Uint8Array([...body, 0]),
    huge,
    new Uint8Array([9, ...body.subarray(1)]),
  ];
}

for (const kind of ['rsa-shoup', 'rsa-additive'] as const) {
  void test(`${kind}: truncated, trailing, huge-count and wrong-version bodies are 'malformed', never a crash`, async () => {
    const { h } = await key(kind, 10);
    const input = digestInput(DATA);
    const s = sid();
    const good =
      kind === 'rsa-shoup'
        ? new ByteWriter().u8(1).u8(1).raw(input.digest).finish()
        : encodeAdditiveSignRequest({
            message: { context: s, hash: 'sha256', digest: input.digest },
            nodes: [[1]],
          });
    for (const body of variants(good))
      assert.equal(
        await refusal(() => h.holders[0]!.sign(h.identities[0]!, h.keys[0]!, sid(), input, body, h.nowMs)),
        'malformed',
      );
    if (kind === 'rsa-additive') {
      // A node count far beyond what the holder holds.
      const w = new ByteWriter().u8(1).bytes(s).u8(1).bytes(input.digest).u32(0x7fffffff);
      assert.equal(
        await refusal(() =>
          h.holders[0]!.sign(h.identities[0]!, h.keys[0]!, sid(), input, w.finish(), h.nowMs),
        ),
        'malformed',
      );
    }
    assert.equal(
      await refusal(() =>
        h.holders[0]!.sign(h.identities[0]!, h.keys[0]!, new Uint8Array(31), input, good, h.nowMs),
      ),
      'malformed',
    );

    // Setup bodies: a real deal body, mangled.
    const fresh = makeHarness(4, SCHEMES[kind].holder);
    const setupSid = sid();
    await SCHEMES[kind]
      .coordinator(512)
      .create(fresh.directory, setupSid, fresh.setupTrip(setupSid), secureRandom);
    const deal = fresh.received.get(1)!.find((r) => r.round === 'deal')!.body;
    for (const body of [...variants(deal), flipBit(deal, deal.length - 20)])
      assert.equal(
        await refusal(() => fresh.holders[0]!.setup(fresh.identities[0]!, sid(), body, fresh.nowMs)),
        'malformed',
      );
  });
}

// ---- Setup: holders check what they are dealt; acknowledgements are checked ----

void test('rsa-shoup setup: a holder refuses a share that does not match its verification key, and (k, l) other than (n − b, n)', async () => {
  const h = makeHarness(4, rsaShoupHolder);
  const dealing = await generateShoupKey({ modulusBits: 512, players: 4, threshold: 3 }, secureRandom);
  const publicKey = encodeShoupPublicKey(dealing.publicKey);
  const body = (index: number, secret: bigint, s: Uint8Array, pk = publicKey): Uint8Array => {
    const plaintext = new ByteWriter().u16(index).bytes(bigintToBytes(secret)).finish();
    const aad = new ByteWriter()
      .string('bftkv/ca/rsa-shoup/deal/v1')
      .raw(s)
      .u16(index)
      .raw(sha256(pk))
      .finish();
    const box = seal(h.directory.encryptionKey(index)!, plaintext, aad, secureRandom);
    return new ByteWriter().u8(1).bytes(pk).bytes(box).finish();
  };
  const share = dealing.shares[0]!;
  const s1 = sid();
  const ok = await h.holders[0]!.setup(h.identities[0]!, s1, body(1, share.secret, s1), h.nowMs);
  assert.ok(ok.key !== undefined);
  assert.deepEqual(ok.key.publicKey, publicKey);
  // The acknowledgement is holder 1's node-key signature (checked by the coordinator through verify).
  const r = new ByteReader(ok.response);
  assert.equal(r.u8('v'), 1);
  const signature = r.bytes(1024, 'sig');
  const statement = new ByteWriter()
    .string('bftkv/ca/rsa-shoup/ack/v1')
    .raw(s1)
    .u16(1)
    .raw(sha256(publicKey))
    .finish();
  assert.ok(h.directory.verify(1, statement, signature));
  const s2 = sid();
  assert.equal(
    await refusal(() => h.holders[0]!.setup(h.identities[0]!, s2, body(1, share.secret + 1n, s2), h.nowMs)),
    'refused',
  );
  const s3 = sid();
  assert.equal(
    await refusal(() => h.holders[1]!.setup(h.identities[1]!, s3, body(1, share.secret, s3), h.nowMs)),
    'malformed',
    'a box for holder 1 does not open for holder 2',
  );
  const wrongK = await generateShoupKey({ modulusBits: 512, players: 4, threshold: 2 }, secureRandom);
  const pk2 = encodeShoupPublicKey(wrongK.publicKey);
  const s4 = sid();
  assert.equal(
    await refusal(() =>
      h.holders[0]!.setup(h.identities[0]!, s4, body(1, wrongK.shares[0]!.secret, s4, pk2), h.nowMs),
    ),
    'refused',
  );
});

for (const kind of ['rsa-shoup', 'rsa-additive'] as const) {
  void test(`${kind} setup: a holder that answers with a bad acknowledgement is a culprit; a silent one did not store`, async () => {
    const h = makeHarness(4, SCHEMES[kind].holder);
    h.tamper.set(2, (_i, _round, answer) => flipBit(answer, answer.length - 3));
    const s = sid();
    const created = await SCHEMES[kind].coordinator(512).create(h.directory, s, h.setupTrip(s), secureRandom);
    assert.deepEqual(created.stored, [1, 3, 4]);
    assert.deepEqual(
      created.culprits.map((c) => c.index),
      [2],
    );
    // Two stored of k = 3 (one down, one with a bad acknowledgement): creation fails rather than leave a
    // key that cannot sign, naming both.
    const h2 = makeHarness(4, SCHEMES[kind].holder);
    h2.down.add(1);
    h2.tamper.set(2, (_i, _round, answer) => flipBit(answer, answer.length - 3));
    const s2 = sid();
    const err = await failure(() =>
      SCHEMES[kind].coordinator(512).create(h2.directory, s2, h2.setupTrip(s2), secureRandom),
    );
    assert.deepEqual(
      err.culprits.map((c) => c.index),
      [2],
    );
    assert.match(err.message, /no answer from: 1\)/);
  });
}

void test('rsa-additive holder: open sessions are bounded (refused when full, room again after the time to live)', async () => {
  const { h } = await key('rsa-additive', 4);
  const holder = rsaAdditiveHolder({ sessionsMax: 2 });
  const me = h.identities[0]!;
  const input = digestInput(DATA);
  const open = (s: Uint8Array, nowMs: number): Promise<Uint8Array> =>
    holder.sign(
      me,
      h.keys[0]!,
      s,
      input,
      encodeAdditiveSignRequest({
        message: { context: s, hash: 'sha256', digest: input.digest },
        nodes: [[1]],
      }),
      nowMs,
    );
  await open(sid(), h.nowMs);
  await open(sid(), h.nowMs + 10);
  assert.equal(await refusal(() => open(sid(), h.nowMs + 20)), 'refused');
  await open(sid(), h.nowMs + RSA_SESSION_TTL_MS + 1); // the first has expired: its place is free
  assert.throws(() => rsaAdditiveHolder({ sessionsMax: 0 }), RangeError);
});
