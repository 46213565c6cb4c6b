/**
 * Resharing a CA key to a new group (src/protocol/ca/reshare.ts) for the Shamir schemes, GJKR ECDSA/DSA and
 * FROST Ed25519, through the scheme contract and the in-process harness: the same public key signs after a
 * refresh and after moving to a larger or smaller group; old and new shares do not mix; malicious dealers
 * (a wrong sub-share with an honest, a lying or no justification; a wrong constant; a replayed dealing) and
 * a falsely accusing new holder are handled with exactly the culprits named; beyond the tolerance the
 * reshare fails and no new share is produced.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ByteReader, ByteWriter, writeList } from '../../src/codec/bytes.js';
import { secureRandom } from '../../src/env/random.js';
import { bodyHeader, signMessage } from '../../src/crypto/threshold/gjkr-messages.js';
import { seal } from '../../src/crypto/threshold/gjkr-seal.js';
import {
  RESHARE_REQUEST,
  RESHARE_SIGNED,
  reshareBoxAad,
  reshareContext,
  type ReshareAdapter,
  type ReshareHolder,
} from '../../src/protocol/ca/reshare.js';
import {
  SchemeError,
  SchemeFailure,
  type CreatedKey,
  type SchemeCoordinator,
  type SchemeHolder,
  type SignInput,
} from '../../src/protocol/ca/scheme.js';
import { dlCoordinator, dlHolder, dlReshareAdapter } from '../../src/protocol/ca/scheme-dl.js';
import { frostCoordinator, frostHolder, frostReshareAdapter } from '../../src/protocol/ca/scheme-frost.js';
import { makeHarness, type Harness } from './ca-scheme-harness.js';

interface Kind {
  readonly name: string;
  readonly coordinator: SchemeCoordinator;
  readonly holder: () => SchemeHolder;
  readonly adapter: ReshareAdapter<unknown>;
}

const P256: Kind = {
  name: 'ecdsa-p256',
  coordinator: dlCoordinator('ecdsa-p256'),
  holder: () => dlHolder(),
  adapter: dlReshareAdapter,
};
const DSA: Kind = {
  name: 'dsa',
  coordinator: dlCoordinator('dsa'),
  holder: () => dlHolder(),
  adapter: dlReshareAdapter,
};
const FROST: Kind = {
  name: 'ed25519-frost',
  coordinator: frostCoordinator(),
  holder: () => frostHolder(),
  adapter: frostReshareAdapter,
};

const sid = () => secureRandom.bytes(32);

function inputFor(kind: Kind, data: Uint8Array): SignInput {
  return kind.coordinator.input === 'digest'
    ? { kind: 'digest', hash: 'sha256', digest: new Uint8Array(createHash('sha256').update(data).digest()) }
    : { kind: 'message', message: data };
}

async function created(kind: Kind, n: number): Promise<{ h: Harness; key: CreatedKey }> {
  const h = makeHarness(n, kind.holder);
  const s = sid();
  const key = await kind.coordinator.create(h.directory, s, h.setupTrip(s), secureRandom);
  return { h, key };
}

async function reshare(kind: Kind, from: Harness, to: Harness, publicKey: Uint8Array): Promise<CreatedKey> {
  const s = sid();
  return kind.coordinator.reshare!(
    from.directory,
    to.directory,
    publicKey,
    s,
    from.dealTrip(s, to.directory),
    to.receiveTrip(s, from.directory, publicKey),
  );
}

/** The owner's commit: pending shares become the keys. */
function commit(h: Harness): void {
  h.pending.forEach((k, i) => {
    if (k !== undefined) h.keys[i] = k;
    h.pending[i] = undefined;
  });
}

async function signs(
  kind: Kind,
  h: Harness,
  publicKey: Uint8Array,
  text = 'after the reshare',
): Promise<void> {
  const input = inputFor(kind, new TextEncoder().encode(text));
  const s = sid();
  const out = await kind.coordinator.sign(
    h.directory,
    publicKey,
    s,
    input,
    h.signTrip(s, input),
    secureRandom,
  );
  assert.ok(kind.coordinator.verify(publicKey, input, out.signature));
}

for (const kind of [P256, FROST]) {
  void test(`${kind.name}: a refresh keeps the public key, changes every share, and signs`, async () => {
    const { h, key } = await created(kind, 4);
    const before = h.keys.map((k) => k!.share);
    const out = await reshare(kind, h, h, key.publicKey);
    assert.deepEqual(out.stored, [1, 2, 3, 4]);
    assert.deepEqual(out.culprits, []);
    assert.equal(kind.coordinator.publicKeyPem(out.publicKey), kind.coordinator.publicKeyPem(key.publicKey));
    assert.notDeepEqual(out.publicKey, key.publicKey, 'new verification shares');
    commit(h);
    h.keys.forEach((k, i) => assert.notDeepEqual(k!.share, before[i]));
    await signs(kind, h, out.publicKey);
  });

  void test(`${kind.name}: moves the key from 4 holders to 7 and back to 4 other holders`, async () => {
    const { h, key } = await created(kind, 4);
    const seven = makeHarness(7, kind.holder);
    const out7 = await reshare(kind, h, seven, key.publicKey);
    assert.equal(out7.stored.length, 7);
    commit(seven);
    await signs(kind, seven, out7.publicKey);
    const four = makeHarness(4, kind.holder);
    const out4 = await reshare(kind, seven, four, out7.publicKey);
    commit(four);
    await signs(kind, four, out4.publicKey);
    assert.equal(kind.coordinator.publicKeyPem(out4.publicKey), kind.coordinator.publicKeyPem(key.publicKey));
    // Old shares do not sign under the new public key: the holders refuse a key that is not theirs.
    const input = inputFor(kind, new Uint8Array([1]));
    const s = sid();
    await assert.rejects(
      kind.coordinator.sign(h.directory, out4.publicKey, s, input, h.signTrip(s, input), secureRandom),
      (e: unknown) => e instanceof SchemeFailure,
    );
  });

  void test(`${kind.name}: a dealer down and a dealer dealing a wrong constant are named; the reshare succeeds`, async () => {
    const { h, key } = await created(kind, 7);
    const next = makeHarness(7, kind.holder);
    h.down.add(2);
    installDealer(h, 5, kind.adapter, { constant: true });
    const out = await reshare(kind, h, next, key.publicKey);
    assert.deepEqual(
      out.culprits.filter((c) => c.old).map((c) => c.index),
      [2, 5],
    );
    assert.equal(out.stored.length, 7);
    commit(next);
    await signs(kind, next, out.publicKey);
  });

  for (const justify of ['honest', 'lie', 'silent'] as const) {
    const how = { honest: 'justifying itself honestly', lie: 'revealing a lie', silent: 'revealing nothing' };
    void test(`${kind.name}: a dealer sending one holder a wrong share, ${how[justify]}`, async () => {
      const { h, key } = await created(kind, 4);
      const next = makeHarness(4, kind.holder);
      installDealer(h, 3, kind.adapter, { victim: 2, justify });
      const out = await reshare(kind, h, next, key.publicKey);
      const blamed = out.culprits.filter((c) => c.old).map((c) => c.index);
      assert.deepEqual(blamed, justify === 'honest' ? [] : [3]);
      assert.deepEqual(
        out.stored,
        [1, 2, 3, 4],
        'the victim gets its share from the reveal or without the dealer',
      );
      commit(next);
      await signs(kind, next, out.publicKey);
    });
  }

  void test(`${kind.name}: a holder accusing an honest dealer only makes it reveal that holder's share`, async () => {
    const { h, key } = await created(kind, 4);
    const next = makeHarness(4, kind.holder);
    installAccuser(next, 4, 1);
    const out = await reshare(kind, h, next, key.publicKey);
    assert.deepEqual(out.culprits, []);
    assert.deepEqual(out.stored, [1, 2, 3, 4]);
    const justified = h.received.get(1)!.filter((r) => r.round === 'reshare-justify');
    assert.equal(justified.length, 1, 'dealer 1 was asked to justify itself once');
    commit(next);
    await signs(kind, next, out.publicKey);
  });

  void test(`${kind.name}: beyond tolerance the reshare fails and nothing is pending`, async () => {
    const { h, key } = await created(kind, 4);
    const next = makeHarness(4, kind.holder);
    // The old key needs d+1 dealers: GJKR t = 1 (2 of 4), FROST k = 3 (3 of 4).
    const bad = kind.name === 'ed25519-frost' ? [1, 2] : [1, 2, 3];
    for (const i of bad) installDealer(h, i, kind.adapter, { victim: 1, justify: 'silent' });
    await assert.rejects(reshare(kind, h, next, key.publicKey), (e: unknown) => {
      assert.ok(e instanceof SchemeFailure);
      assert.deepEqual(
        e.culprits.filter((c) => c.old).map((c) => c.index),
        bad,
      );
      return true;
    });
    assert.deepEqual(next.pending, [undefined, undefined, undefined, undefined]);
  });

  void test(`${kind.name}: replayed and foreign steps are refused`, async () => {
    const { h, key } = await created(kind, 4);
    const next = makeHarness(4, kind.holder);
    await reshare(kind, h, next, key.publicKey);
    // Every step a holder answered, sent again, is refused (single-use session ids).
    for (const [i, log] of [...h.received, ...next.received]) {
      for (const { round, body } of log.filter((r) => r.round.startsWith('reshare'))) {
        const s = body.subarray(1, 33);
        const again =
          round === 'reshare-deal' || round === 'reshare-justify'
            ? () =>
                h.holders[i - 1]!.reshare!.deal(
                  h.identities[i - 1]!,
                  h.keys[i - 1]!,
                  next.directory,
                  s,
                  body,
                  h.nowMs,
                )
            : () =>
                next.holders[i - 1]!.reshare!.receive(
                  next.identities[i - 1]!,
                  h.directory,
                  key.publicKey,
                  s,
                  body,
                  h.nowMs,
                );
        assert.throws(again, (e: unknown) => e instanceof SchemeError, `${round} to ${i} again`);
      }
    }
    // A dealing of another session relayed into a new one is refused by the receiver.
    const dealt = h.received.get(1)!.find((r) => r.round === 'reshare-deal')!;
    assert.ok(dealt);
    const s2 = sid();
    const other = makeHarness(4, kind.holder);
    const replayedDealing = await h.dealTrip(sid(), other.directory)('reshare-deal', [1, 2], () =>
      new ByteWriter().u8(RESHARE_REQUEST.deal).raw(s2).finish(),
    );
    const verify = new ByteWriter().u8(RESHARE_REQUEST.verify).raw(sid());
    writeList(
      verify,
      [...replayedDealing.values()].filter((x) => x !== undefined),
      (w, b) => w.bytes(b),
    );
    const body = verify.finish();
    assert.throws(
      () =>
        other.holders[0]!.reshare!.receive(
          other.identities[0]!,
          h.directory,
          key.publicKey,
          body.subarray(1, 33),
          body,
          h.nowMs,
        ),
      (e: unknown) => e instanceof SchemeError && e.refusal === 'refused',
    );
    // Malformed bodies are typed refusals, never crashes.
    for (const garbage of [
      new Uint8Array(0),
      new Uint8Array([RESHARE_REQUEST.verify]),
      secureRandom.bytes(200),
    ])
      assert.throws(
        () =>
          next.holders[1]!.reshare!.receive(
            next.identities[1]!,
            h.directory,
            key.publicKey,
            sid(),
            garbage,
            h.nowMs,
          ),
        (e: unknown) => e instanceof SchemeError,
      );
  });
}

void test('dsa: a refresh of a 4-holder key signs with the same public key', async () => {
  const { h, key } = await created(DSA, 4);
  const out = await reshare(DSA, h, h, key.publicKey);
  assert.deepEqual(out.culprits, []);
  commit(h);
  await signs(DSA, h, out.publicKey);
  assert.equal(DSA.coordinator.publicKeyPem(out.publicKey), DSA.coordinator.publicKeyPem(key.publicKey));
});

// ---------------------------------------------------------------------------------------------------------
// Malicious implementations

interface DealerFault {
  /** Deal a constant other than the own share (C_0 ≠ X_i). */
  readonly constant?: boolean;
  /** Send this new holder a wrong sub-share. */
  readonly victim?: number;
  /** On accusation: reveal the right value, a wrong one, or nothing. */
  readonly justify?: 'honest' | 'lie' | 'silent';
}

/** Replaces holder i's dealer with a malicious one that signs what it deals (a real Byzantine dealer). */
function installDealer(h: Harness, i: number, adapter: ReshareAdapter<unknown>, fault: DealerFault): void {
  const honest = h.holders[i - 1]!;
  let polynomial: bigint[] = [];
  let context: Uint8Array = new Uint8Array(0);
  let q = 0n;
  const at = (j: number) => {
    let v = 0n;
    for (let k = polynomial.length - 1; k >= 0; k--) v = (v * BigInt(j) + polynomial[k]!) % q;
    return v;
  };
  const reshare: ReshareHolder = {
    ...honest.reshare!,
    deal(identity, key, target, s, body) {
      const old = adapter.publicKey(key.publicKey);
      const group = old.group as {
        q: bigint;
        randomScalar: (r: typeof secureRandom) => bigint;
        base: (x: bigint) => unknown;
        encodeElement: (e: unknown) => Uint8Array;
        encodeScalar: (x: bigint) => Uint8Array;
      };
      q = group.q;
      if (body[0] === RESHARE_REQUEST.deal) {
        const degree = adapter.degree(target.n, target.b);
        context = reshareContext(adapter.label, old.group, s, key.publicKey, target, degree);
        const x = adapter.secret(key, identity.index);
        polynomial = [fault.constant ? (x + 1n) % q : x];
        for (let k = 1; k <= degree; k++) polynomial.push(group.randomScalar(secureRandom));
        const w = bodyHeader(RESHARE_SIGNED.dealing, context, identity.index);
        writeList(w, polynomial, (ww, a) => ww.bytes(group.encodeElement(group.base(a))));
        const boxes = Array.from({ length: target.n }, (_, k) => {
          const j = k + 1;
          const v = j === fault.victim ? (at(j) + 1n) % q : at(j);
          return seal(
            target.encryptionKey(j)!,
            group.encodeScalar(v),
            reshareBoxAad(context, identity.index, j),
            secureRandom,
          );
        });
        writeList(w, boxes, (ww, b) => ww.bytes(b));
        return signMessage(identity, w.finish());
      }
      if (fault.justify === 'silent' || fault.victim === undefined) throw new SchemeError('refused', 'no');
      const v = fault.justify === 'honest' ? at(fault.victim) : (at(fault.victim) + 2n) % q;
      const w = bodyHeader(RESHARE_SIGNED.reveal, context, identity.index);
      writeList(w, [fault.victim], (ww, j) => ww.u16(j).raw(group.encodeScalar(v)));
      return signMessage(identity, w.finish());
    },
  };
  (h.holders as SchemeHolder[])[i - 1] = { ...honest, reshare };
}

/** Replaces new holder j's receiver with one that falsely accuses dealer `accused` in its signed verdict. */
function installAccuser(h: Harness, j: number, accused: number): void {
  const honest = h.holders[j - 1]!;
  const reshare: ReshareHolder = {
    ...honest.reshare!,
    receive(identity, dealers, oldPublicKey, s, body, nowMs) {
      const reply = honest.reshare!.receive(identity, dealers, oldPublicKey, s, body, nowMs);
      if (body[0] !== RESHARE_REQUEST.verify) return reply;
      const r = new ByteReader(new ByteReader(reply.response).bytes(1 << 20, 'body'));
      r.u8('tag');
      const context = r.raw(32, 'context');
      r.u16('from');
      const digest = r.raw(32, 'digest');
      const w = bodyHeader(RESHARE_SIGNED.verdict, context, identity.index).raw(digest);
      writeList(w, [accused], (ww, i) => ww.u16(i));
      return { response: signMessage(identity, w.finish()) };
    },
  };
  (h.holders as SchemeHolder[])[j - 1] = { ...honest, reshare };
}
