// The ed25519-frost CA scheme (src/protocol/ca/scheme-frost.ts) through the in-process harness, with n = 4
// (k = 3, b = 1) and n = 10 (k = 7, b = 3): DKG and import, signing verified by node:crypto and
// `openssl pkeyutl -verify -rawin`, b holders down, b liars named, b + 1 faults fail with culprits,
// replays, other inputs and expired sessions refused, malformed bodies refused as such and never a crash.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, verify as nodeVerify } from 'node:crypto';
import { secureRandom } from '../../src/env/random.js';
import { CodecError } from '../../src/codec/bytes.js';
import {
  decodeCommitmentAnswer,
  decodeDkgBroadcasts,
  decodeDkgPackages,
  decodeGroupKey,
  decodeImportDeal,
  decodeKeyConfirmations,
  decodeOutcomePayload,
  decodePackagesAnswer,
  decodeRound1Payload,
  decodeSignCommit,
  decodeSignShareRequest,
  decodeSignatureShareAnswer,
  decodeSigned,
  decodeStoredShare,
  encodeComplaintPayload,
  encodeConfirmPayload,
  encodeDkgOpen,
  encodeKeyConfirmations,
  encodeSigned,
} from '../../src/protocol/ca/frost-messages.js';
import {
  FROST_ROUNDS,
  FROST_SESSION_TTL_MS,
  frostCoordinator,
  frostHolder,
  frostSignedMessage,
} from '../../src/protocol/ca/scheme-frost.js';
import {
  SchemeError,
  SchemeFailure,
  type CreatedKey,
  type RoundTrip,
  type SchemeHolder,
  type SchemeRefusal,
  type SignInput,
} from '../../src/protocol/ca/scheme.js';
import { flipBit, makeHarness, type Harness } from './ca-scheme-harness.js';
import { opensslVerifies } from './frost-helpers.js';

const coordinator = frostCoordinator();
const utf8 = (s: string) => new Uint8Array(Buffer.from(s, 'utf8'));
const message = (s: string) => ({ kind: 'message', message: utf8(s) }) as const;
const range = (n: number) => Array.from({ length: n }, (_, k) => k + 1);

interface Refusal {
  readonly index: number;
  readonly refusal: SchemeRefusal;
  readonly culprits: readonly number[];
  readonly message: string;
}

/** A holder that records every refusal it makes (the harness turns refusals into silence). */
function recording(holder: SchemeHolder, log: Refusal[]): SchemeHolder {
  const note = (index: number, e: unknown): never => {
    if (e instanceof SchemeError)
      log.push({ index, refusal: e.refusal, culprits: e.culprits, message: e.message });
    throw e;
  };
  return {
    setup: (identity, sid, body, nowMs) =>
      holder.setup(identity, sid, body, nowMs).catch((e: unknown) => note(identity.index, e)),
    sign: (identity, key, sid, input, body, nowMs) =>
      holder.sign(identity, key, sid, input, body, nowMs).catch((e: unknown) => note(identity.index, e)),
    expire: (nowMs) => holder.expire(nowMs),
  };
}

interface Group {
  readonly h: Harness;
  readonly log: Refusal[];
  readonly b: number;
  readonly k: number;
}

function group(n: number): Group {
  const log: Refusal[] = [];
  const h = makeHarness(n, () => recording(frostHolder(), log));
  return { h, log, b: h.directory.b, k: n - h.directory.b };
}

/** The session id of each group's latest key setup (tamper functions re-sign bodies under it). */
const setupSid = new Map<Group, Uint8Array>();

async function create(g: Group, rt?: (sid: Uint8Array) => RoundTrip): Promise<CreatedKey> {
  const sid = secureRandom.bytes(32);
  setupSid.set(g, sid);
  return coordinator.create(g.h.directory, sid, (rt ?? g.h.setupTrip)(sid), secureRandom);
}

async function sign(g: Group, key: CreatedKey, input: SignInput, rt?: (sid: Uint8Array) => RoundTrip) {
  const sid = secureRandom.bytes(32);
  const trip = rt === undefined ? g.h.signTrip(sid, input) : rt(sid);
  return { sid, ...(await coordinator.sign(g.h.directory, key.publicKey, sid, input, trip, secureRandom)) };
}

/** Whether both node:crypto and the OpenSSL command line accept `signature` under the CA key. */
function verifiesEverywhere(key: CreatedKey, input: SignInput, signature: Uint8Array): boolean {
  assert.equal(input.kind, 'message');
  const pem = coordinator.publicKeyPem(key.publicKey);
  const node = nodeVerify(null, input.message, createPublicKey(pem), signature);
  // OpenSSL 3.0's pkeyutl cannot read an empty -rawin input at all ("Could not allocate 0 bytes"), not
  // even to sign, so the empty message is checked by node:crypto (also OpenSSL, as a library) only.
  if (input.message.length > 0) {
    const openssl = opensslVerifies(pem, input.message, signature);
    assert.equal(node, openssl, 'node:crypto and OpenSSL disagree');
  }
  return node && coordinator.verify(key.publicKey, input, signature);
}

/** A RoundTrip that rewrites the body holder `index` gets in `round`. */
function mutating(
  rt: RoundTrip,
  round: string,
  index: number,
  f: (body: Uint8Array) => Uint8Array,
): RoundTrip {
  return (r, to, body, need) => rt(r, to, (i) => (r === round && i === index ? f(body(i)) : body(i)), need);
}

/** The rounds holder i received in a run, by name. */
function received(h: Harness, i: number, round: string): Uint8Array[] {
  return (h.received.get(i) ?? []).filter((m) => m.round === round).map((m) => m.body);
}

async function refusal(p: Promise<unknown>): Promise<SchemeRefusal> {
  try {
    await p;
  } catch (e) {
    if (e instanceof SchemeError) return e.refusal;
    throw e;
  }
  assert.fail('expected a refusal');
}

function culpritIndices(e: unknown): number[] {
  assert.ok(e instanceof SchemeFailure, `expected SchemeFailure, got ${String(e)}`);
  return e.culprits.map((c) => c.index);
}

const truncate = (b: Uint8Array) => b.slice(0, b.length - 1);
const trailing = (b: Uint8Array) => new Uint8Array([...b, 0]);
const hugeCount =
  (offset: number, width = 2) =>
  (b: Uint8Array) => {
    const c = b.slice();
    c.fill(0xff, offset, offset + width);
    return c;
  };

interface Keyed {
  readonly g: Group;
  readonly key: CreatedKey;
  /** The DKG's session id and the setup bodies holder 2 received in it, by round (replay tests). */
  readonly dkgSid: Uint8Array;
  readonly dkgBodies: ReadonlyMap<string, Uint8Array>;
}

const groups = new Map<number, Keyed>();
/** One DKG per group size, shared by the tests that only sign. */
async function keyed(n: number): Promise<Keyed> {
  let v = groups.get(n);
  if (v === undefined) {
    const g = group(n);
    const key = await create(g);
    const dkgBodies = new Map((g.h.received.get(2) ?? []).map((m) => [m.round, m.body]));
    v = { g, key, dkgSid: setupSid.get(g)!, dkgBodies };
    groups.set(n, v);
  }
  return v;
}

for (const n of [4, 10]) {
  void test(`n = ${n}: DKG, every holder stores the same key, and signatures verify with node:crypto and openssl`, async () => {
    const { g, key } = await keyed(n);
    assert.deepEqual(key.stored, range(n));
    assert.deepEqual(key.culprits, []);
    for (const [k, stored] of g.h.keys.entries()) {
      assert.ok(stored !== undefined, `holder ${k + 1} stored no key`);
      assert.deepEqual(stored.publicKey, key.publicKey);
      const share = decodeStoredShare(stored.share);
      assert.deepEqual([share.index, share.n, share.t], [k + 1, n, g.k]);
    }
    assert.equal(new Set(g.h.keys.map((s) => Buffer.from(s!.share).toString('hex'))).size, n);
    const group = decodeGroupKey(key.publicKey);
    assert.deepEqual([group.threshold, group.participants], [g.k, n]);
    assert.match(coordinator.publicKeyPem(key.publicKey), /^-----BEGIN PUBLIC KEY-----/);
    assert.equal(g.log.length, 0, 'no holder refused anything');
    for (const text of ['', 'hello CA', 'x'.repeat(5000)]) {
      const input = message(text);
      const { signature, culprits } = await sign(g, key, input);
      assert.equal(signature.length, 64);
      assert.deepEqual(culprits, []);
      assert.ok(verifiesEverywhere(key, input, signature), `signature over ${text.length} bytes rejected`);
      // Both verifiers can fail: another message is rejected.
      assert.equal(verifiesEverywhere(key, message(text + '!'), signature), false);
    }
    assert.equal(
      coordinator.verify(key.publicKey, { kind: 'message', message: utf8('m') }, new Uint8Array(64)),
      false,
    );
  });

  void test(`n = ${n}: import of an Ed25519 PEM key keeps its public key; signatures verify under it`, async () => {
    const g = group(n);
    const pair = generateKeyPairSync('ed25519');
    const pem = pair.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const sid = secureRandom.bytes(32);
    const key = await coordinator.import!(g.h.directory, sid, pem, g.h.setupTrip(sid), secureRandom);
    assert.deepEqual(key.stored, range(n));
    assert.equal(
      coordinator.publicKeyPem(key.publicKey),
      pair.publicKey.export({ format: 'pem', type: 'spki' }),
    );
    const input = message('signed by an imported key');
    const { signature } = await sign(g, key, input);
    assert.ok(nodeVerify(null, input.message, pair.publicKey, signature));
    assert.ok(verifiesEverywhere(key, input, signature));
    // A dealt share that was not sealed to its holder does not open: the import fails naming that holder.
    const other = group(n);
    const sid2 = secureRandom.bytes(32);
    await assert.rejects(
      coordinator.import!(
        other.h.directory,
        sid2,
        pem,
        mutating(other.h.setupTrip(sid2), FROST_ROUNDS.importDeal, 2, flipBit),
        secureRandom,
      ),
      (e: unknown) => culpritIndices(e).join() === '2',
    );
    assert.ok(
      other.h.keys.every((s) => s === undefined),
      'no holder stores a share of a failed import',
    );
    // Only Ed25519 keys import; the PEM is a local argument.
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({
      format: 'pem',
      type: 'pkcs8',
    });
    await assert.rejects(
      coordinator.import!(
        other.h.directory,
        secureRandom.bytes(32),
        rsa.toString(),
        other.h.setupTrip(sid2),
        secureRandom,
      ),
      RangeError,
    );
    assert.throws(() => coordinator.publicKeyPem(new Uint8Array(32)), RangeError);
  });

  void test(`n = ${n}: b holders down, signing succeeds and exactly n − b holders are asked for shares`, async () => {
    const { g, key } = await keyed(n);
    const down = range(g.b).map((k) => n + 1 - k);
    for (const i of down) g.h.down.add(i);
    try {
      g.h.received.clear();
      const input = message(`with ${down.join(', ')} down`);
      const { signature, culprits } = await sign(g, key, input);
      assert.ok(verifiesEverywhere(key, input, signature));
      assert.deepEqual(
        culprits,
        [],
        'holders that never answered are not blamed for a signature that succeeded',
      );
      const asked = range(n).filter((i) => received(g.h, i, FROST_ROUNDS.sign).length > 0);
      assert.equal(asked.length, g.k);
      assert.ok(asked.every((i) => !down.includes(i)));
    } finally {
      g.h.down.clear();
    }
  });

  void test(`n = ${n}: b holders sending wrong signature shares are named exactly, and signing still succeeds`, async () => {
    const { g, key } = await keyed(n);
    const liars = n === 4 ? [2] : [2, 5, 7];
    assert.equal(liars.length, g.b);
    for (const i of liars)
      g.h.tamper.set(i, (_i, round, answer) => (round === FROST_ROUNDS.sign ? flipBit(answer) : answer));
    try {
      const input = message('despite liars');
      const { signature, culprits } = await sign(g, key, input);
      assert.ok(verifiesEverywhere(key, input, signature));
      assert.deepEqual(
        culprits.map((c) => c.index),
        liars,
      );
      assert.ok(culprits.every((c) => /invalid signature share/.test(c.reason)));
    } finally {
      g.h.tamper.clear();
    }
    // Liars in the commit round (a commitment that is not a valid element, or one the holder never made).
    for (const i of liars)
      g.h.tamper.set(i, (_i, round, answer) =>
        round === FROST_ROUNDS.commit ? flipBit(answer, answer.length - 3) : answer,
      );
    try {
      const input = message('despite bad commitments');
      const { signature, culprits } = await sign(g, key, input);
      assert.ok(verifiesEverywhere(key, input, signature));
      assert.deepEqual(
        culprits.map((c) => c.index),
        liars,
      );
    } finally {
      g.h.tamper.clear();
    }
  });

  void test(`n = ${n}: b + 1 faulty holders are beyond tolerance, SchemeFailure names them and no signature is returned`, async () => {
    const { g, key } = await keyed(n);
    const liars = range(g.b + 1);
    for (const i of liars)
      g.h.tamper.set(i, (_i, round, answer) => (round === FROST_ROUNDS.sign ? flipBit(answer) : answer));
    try {
      await assert.rejects(sign(g, key, message('too many liars')), (e: unknown) => {
        assert.deepEqual(culpritIndices(e), liars);
        return true;
      });
    } finally {
      g.h.tamper.clear();
    }
    // b down and one liar: also too few; the silent ones are named as such.
    const down = range(g.b).map((k) => n + 1 - k);
    for (const i of down) g.h.down.add(i);
    g.h.tamper.set(1, (_i, round, answer) => (round === FROST_ROUNDS.sign ? flipBit(answer) : answer));
    try {
      await assert.rejects(sign(g, key, message('down and a liar')), (e: unknown) => {
        assert.deepEqual(
          culpritIndices(e),
          [1, ...down].sort((a, b) => a - b),
        );
        assert.ok(
          e instanceof SchemeFailure && /did not answer/.test(e.culprits.find((c) => c.index === n)!.reason),
        );
        return true;
      });
    } finally {
      g.h.tamper.clear();
      g.h.down.clear();
    }
  });

  void test(`n = ${n}: replays, a second open, another input and an expired session are refused`, async () => {
    const { g, key } = await keyed(n);
    const holder = g.h.holders[0]!;
    const identity = g.h.identities[0]!;
    const stored = g.h.keys[0]!;
    const input = message('replay me');
    g.h.received.clear();
    const { sid } = await sign(g, key, input);
    const [commitBody] = received(g.h, 1, FROST_ROUNDS.commit);
    const [signBody] = received(g.h, 1, FROST_ROUNDS.sign);
    assert.ok(commitBody !== undefined && signBody !== undefined);
    // Re-sent bodies of a finished signing run.
    assert.equal(await refusal(holder.sign(identity, stored, sid, input, signBody, g.h.nowMs)), 'session');
    assert.equal(await refusal(holder.sign(identity, stored, sid, input, commitBody, g.h.nowMs)), 'session');

    // A fresh session: the commit binds the message; a second open (same attempt) is refused and ends it.
    const sid2 = secureRandom.bytes(32);
    const commit2 = received(g.h, 1, FROST_ROUNDS.commit)[0]!.slice(); // attempt 0, this key, 'replay me'
    await holder.sign(identity, stored, sid2, input, commit2, g.h.nowMs);
    assert.equal(await refusal(holder.sign(identity, stored, sid2, input, commit2, g.h.nowMs)), 'session');
    assert.equal(await refusal(holder.sign(identity, stored, sid2, input, signBody, g.h.nowMs)), 'session');

    // Another input than the one the session was opened for: refused at commit and at sign.
    const other = message('something else');
    assert.equal(
      await refusal(holder.sign(identity, stored, secureRandom.bytes(32), other, commit2, g.h.nowMs)),
      'refused',
    );
    const sid3 = secureRandom.bytes(32);
    await holder.sign(identity, stored, sid3, input, commit2, g.h.nowMs);
    assert.equal(await refusal(holder.sign(identity, stored, sid3, other, signBody, g.h.nowMs)), 'refused');
    // A coordinator asking for another message than the service authorized: every holder refuses.
    g.log.length = 0;
    const sid4 = secureRandom.bytes(32);
    await assert.rejects(
      coordinator.sign(
        g.h.directory,
        key.publicKey,
        sid4,
        message('authorized'),
        g.h.signTrip(sid4, message('not authorized')),
        secureRandom,
      ),
      (e: unknown) => culpritIndices(e).length === n,
    );
    assert.deepEqual(
      g.log.map((r) => [r.index, r.refusal]),
      range(n).map((i) => [i, 'refused']),
    );

    // An expired session is gone.
    const sid5 = secureRandom.bytes(32);
    await holder.sign(identity, stored, sid5, input, commit2, g.h.nowMs);
    g.h.nowMs += FROST_SESSION_TTL_MS + 1;
    holder.expire(g.h.nowMs);
    assert.equal(await refusal(holder.sign(identity, stored, sid5, input, signBody, g.h.nowMs)), 'session');
    // ... and its id cannot be opened again.
    assert.equal(await refusal(holder.sign(identity, stored, sid5, input, commit2, g.h.nowMs)), 'session');

    // Setup bodies of the finished DKG re-sent to holder 2: a second open with the same sid, and every
    // later round replayed.
    const { dkgSid, dkgBodies } = await keyed(n);
    for (const round of [
      FROST_ROUNDS.dkgOpen,
      FROST_ROUNDS.dkgBroadcasts,
      FROST_ROUNDS.dkgPackages,
      FROST_ROUNDS.keyConfirmations,
    ]) {
      const body = dkgBodies.get(round);
      assert.ok(body !== undefined, round);
      assert.equal(
        await refusal(g.h.holders[1]!.setup(g.h.identities[1]!, dkgSid, body, g.h.nowMs)),
        'session',
        `replayed ${round}`,
      );
    }
    g.log.length = 0;
  });

  void test(`n = ${n}: malformed signing bodies are refused as 'malformed', never a crash`, async () => {
    const { g, key } = await keyed(n);
    const cases: [string, (b: Uint8Array) => Uint8Array][] = [
      [FROST_ROUNDS.commit, truncate],
      [FROST_ROUNDS.commit, trailing],
      [FROST_ROUNDS.commit, hugeCount(1, 1)], // attempt 255
      [FROST_ROUNDS.sign, truncate],
      [FROST_ROUNDS.sign, trailing],
      [FROST_ROUNDS.sign, hugeCount(66)], // commitment count 65535
      [FROST_ROUNDS.sign, (b) => new Uint8Array([0x7f, ...b.subarray(1)])], // unknown tag
    ];
    for (const [round, f] of cases) {
      g.log.length = 0;
      const input = message(`malformed ${round}`);
      const { signature, culprits } = await sign(g, key, input, (sid) =>
        mutating(g.h.signTrip(sid, input), round, 1, f),
      );
      assert.ok(verifiesEverywhere(key, input, signature));
      assert.deepEqual(
        g.log.map((r) => [r.index, r.refusal]),
        [[1, 'malformed']],
        `${round}: ${JSON.stringify(g.log)}`,
      );
      // Silence at commit is not blamed; withholding a share after committing is.
      assert.deepEqual(
        culprits.map((c) => c.index),
        round === FROST_ROUNDS.sign ? [1] : [],
      );
    }
  });
}

void test('n = 4: malformed DKG and import bodies are refused as malformed; the run fails naming the holder and nobody stores', async () => {
  const cases: [string, (b: Uint8Array) => Uint8Array][] = [
    [FROST_ROUNDS.dkgOpen, truncate],
    [FROST_ROUNDS.dkgOpen, trailing],
    [FROST_ROUNDS.dkgOpen, hugeCount(1)], // n = 65535
    [FROST_ROUNDS.dkgBroadcasts, truncate],
    [FROST_ROUNDS.dkgBroadcasts, trailing],
    [FROST_ROUNDS.dkgBroadcasts, hugeCount(1)],
    [FROST_ROUNDS.dkgPackages, truncate],
    [FROST_ROUNDS.dkgPackages, trailing],
    [FROST_ROUNDS.dkgPackages, hugeCount(1)],
    [FROST_ROUNDS.keyConfirmations, truncate],
    [FROST_ROUNDS.keyConfirmations, trailing],
    [FROST_ROUNDS.keyConfirmations, hugeCount(1)],
  ];
  for (const [round, f] of cases) {
    const g = group(4);
    await assert.rejects(
      create(g, (sid) => mutating(g.h.setupTrip(sid), round, 1, f)),
      (e: unknown) => culpritIndices(e).join() === '1',
    );
    assert.deepEqual(
      g.log.map((r) => [r.index, r.refusal]),
      [[1, 'malformed']],
      `${round}: ${JSON.stringify(g.log)}`,
    );
    // Before the last round nobody stores; in it, the others may (they saw all n confirmations).
    if (round !== FROST_ROUNDS.keyConfirmations) assert.ok(g.h.keys.every((k) => k === undefined));
    assert.equal(g.h.keys[0], undefined);
  }
  const pem = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  for (const f of [truncate, trailing, hugeCount(1, 4)]) {
    const g = group(4);
    const sid = secureRandom.bytes(32);
    await assert.rejects(
      coordinator.import!(
        g.h.directory,
        sid,
        pem,
        mutating(g.h.setupTrip(sid), FROST_ROUNDS.importDeal, 1, f),
        secureRandom,
      ),
      (e: unknown) => culpritIndices(e).join() === '1',
    );
    assert.deepEqual(
      g.log.map((r) => [r.index, r.refusal]),
      [[1, 'malformed']],
    );
  }
});

void test('n = 10: a malformed DKG round-2 body for one holder fails the run naming it', async () => {
  const g = group(10);
  await assert.rejects(
    create(g, (sid) => mutating(g.h.setupTrip(sid), FROST_ROUNDS.dkgBroadcasts, 6, hugeCount(1))),
    (e: unknown) => culpritIndices(e).join() === '6',
  );
  assert.deepEqual(
    g.log.map((r) => [r.index, r.refusal]),
    [[6, 'malformed']],
  );
  assert.ok(g.h.keys.every((k) => k === undefined));
});

void test('DKG (n = 4): a cheating, silent or disagreeing holder fails the run, is named, and nobody stores a share', async () => {
  const cheat = async (tamper: (g: Group) => void, expected: number[], reason: RegExp): Promise<Group> => {
    const g = group(4);
    tamper(g);
    await assert.rejects(create(g), (e: unknown) => {
      assert.deepEqual(culpritIndices(e), expected);
      assert.ok(e instanceof SchemeFailure && e.culprits.every((c) => reason.test(c.reason)), String(e));
      return true;
    });
    assert.ok(
      g.h.keys.every((k) => k === undefined),
      'no holder stores a share',
    );
    return g;
  };
  // Round 1: a broadcast altered after signing (or a forged one) does not verify.
  await cheat(
    (g) => g.h.tamper.set(2, (_i, r, a) => (r === FROST_ROUNDS.dkgOpen ? flipBit(a, 20) : a)),
    [2],
    /not signed/,
  );
  // Round 2: a sealed share that does not open; its recipients accuse the sender.
  await cheat(
    (g) => g.h.tamper.set(3, (_i, r, a) => (r === FROST_ROUNDS.dkgBroadcasts ? flipBit(a, a.length - 5) : a)),
    [3],
    /accused by member/,
  );
  // Round 3: a holder confirming (with a valid signature) another group key.
  await cheat(
    (g) =>
      g.h.tamper.set(4, (_i, r, a) => {
        if (r !== FROST_ROUNDS.dkgPackages) return a;
        const sid = setupSid.get(g)!;
        const payload = encodeConfirmPayload({ index: 4, groupKeyDigest: secureRandom.bytes(32) });
        return encodeSigned({
          payload,
          signature: g.h.identities[3]!.sign(frostSignedMessage(sid, payload)),
        });
      }),
    [4],
    /different group key/,
  );
  // A holder that is down.
  await cheat((g) => g.h.down.add(1), [1], /did not answer/);
  // A lying accuser: the accused is named, the reason names the accuser, and still nothing is stored.
  await cheat(
    (g) =>
      g.h.tamper.set(2, (_i, r, a) => {
        if (r !== FROST_ROUNDS.dkgPackages) return a;
        const sid = setupSid.get(g)!;
        const payload = encodeComplaintPayload({ index: 2, accused: [3] });
        return encodeSigned({
          payload,
          signature: g.h.identities[1]!.sign(frostSignedMessage(sid, payload)),
        });
      }),
    [3],
    /accused by member 2/,
  );
  // Round 4: a relay showing holder 1 a (validly signed) confirmation of another key from holder 2 — holder 1
  // itself refuses to store ('peer', naming 2), so the run fails.
  const g = group(4);
  await assert.rejects(
    create(g, (sid) =>
      mutating(g.h.setupTrip(sid), FROST_ROUNDS.keyConfirmations, 1, (body) => {
        const confirmations = decodeKeyConfirmations(body, 4).map(encodeSigned);
        const payload = encodeConfirmPayload({ index: 2, groupKeyDigest: secureRandom.bytes(32) });
        confirmations[1] = encodeSigned({
          payload,
          signature: g.h.identities[1]!.sign(frostSignedMessage(sid, payload)),
        });
        return encodeKeyConfirmations(confirmations);
      }),
    ),
    (e: unknown) => culpritIndices(e).join() === '1',
  );
  assert.deepEqual(
    g.log.map((r) => [r.index, r.refusal, r.culprits.join()]),
    [[1, 'peer', '2']],
  );
  assert.equal(g.h.keys[0], undefined);
});

void test('decoders refuse every mutation of valid bodies with CodecError only (never another error)', async () => {
  const g = group(4);
  const answers = new Map<string, Uint8Array>();
  g.h.tamper.set(2, (_i, round, answer) => {
    answers.set(round, answer);
    return answer;
  });
  const key = await create(g);
  await sign(g, key, message('bodies'));
  const samples: [string, Uint8Array, (b: Uint8Array) => unknown][] = [];
  const bodies = (round: string) => received(g.h, 2, round);
  samples.push([
    FROST_ROUNDS.dkgBroadcasts,
    bodies(FROST_ROUNDS.dkgBroadcasts)[0]!,
    (b) => decodeDkgBroadcasts(b, 4, 3),
  ]);
  samples.push([
    FROST_ROUNDS.dkgPackages,
    bodies(FROST_ROUNDS.dkgPackages)[0]!,
    (b) => decodeDkgPackages(b, 4, 2),
  ]);
  samples.push([
    FROST_ROUNDS.keyConfirmations,
    bodies(FROST_ROUNDS.keyConfirmations)[0]!,
    (b) => decodeKeyConfirmations(b, 4),
  ]);
  samples.push([FROST_ROUNDS.commit, bodies(FROST_ROUNDS.commit)[0]!, (b) => decodeSignCommit(b)]);
  samples.push(['groupKey', key.publicKey, (b) => decodeGroupKey(b)]);
  samples.push(['share', g.h.keys[1]!.share, (b) => decodeStoredShare(b)]);
  const signBodies = (h: Harness) =>
    received(h, 1, FROST_ROUNDS.sign).concat(received(h, 2, FROST_ROUNDS.sign));
  samples.push([FROST_ROUNDS.sign, signBodies(g.h)[0]!, (b) => decodeSignShareRequest(b, 4, 3)]);
  // Answers too (the coordinator decodes them).
  const answer = (round: string) => answers.get(round)!;
  const r1 = decodeSigned(answer(FROST_ROUNDS.dkgOpen), 200, 'round1');
  samples.push(['round1', r1.payload, (b) => decodeRound1Payload(b, 4, 3)]);
  samples.push(['signed', answer(FROST_ROUNDS.dkgOpen), (b) => decodeSigned(b, 200, 'signed')]);
  samples.push(['packagesAnswer', answer(FROST_ROUNDS.dkgBroadcasts), (b) => decodePackagesAnswer(b, 4)]);
  const outcome = decodeSigned(answer(FROST_ROUNDS.dkgPackages), 100, 'outcome').payload;
  samples.push(['outcome', outcome, (b) => decodeOutcomePayload(b, 4)]);
  samples.push([
    'complaint',
    encodeComplaintPayload({ index: 1, accused: [2, 4] }),
    (b) => decodeOutcomePayload(b, 4),
  ]);
  samples.push(['commitmentAnswer', answer(FROST_ROUNDS.commit), (b) => decodeCommitmentAnswer(b, 4)]);
  samples.push(['shareAnswer', answer(FROST_ROUNDS.sign), (b) => decodeSignatureShareAnswer(b, 4)]);
  samples.push([
    'importDeal',
    new Uint8Array([0x05, 0, 0, 0, 0, ...new Uint8Array(80)]),
    (b) => decodeImportDeal(b),
  ]);
  for (const [name, valid, decode] of samples) {
    decode(valid); // the unmutated sample decodes
    for (let k = 0; k < 300; k++) {
      const b = valid.slice(0, secureRandom.int(valid.length + 1));
      const mutated = new Uint8Array([
        ...b,
        ...(secureRandom.int(4) === 0 ? secureRandom.bytes(secureRandom.int(5)) : []),
      ]);
      if (mutated.length > 0 && secureRandom.int(2) === 0)
        mutated[secureRandom.int(mutated.length)]! ^= 1 << secureRandom.int(8);
      try {
        decode(mutated);
      } catch (e) {
        assert.ok(e instanceof CodecError, `${name}: ${String(e)}`);
      }
    }
  }
});

void test('holders enforce the decided parameters: k = n − b, their own n, and only their own stored share', async () => {
  const { g, key } = await keyed(4);
  const holder = g.h.holders[0]!;
  const identity = g.h.identities[0]!;
  for (const [nn, t] of [
    [4, 2], // a 2-of-4 key would let two colluders sign
    [4, 4],
    [5, 4],
  ] as const)
    assert.equal(
      await refusal(holder.setup(identity, secureRandom.bytes(32), encodeDkgOpen({ n: nn, t }), g.h.nowMs)),
      'refused',
      `n = ${nn}, t = ${t}`,
    );
  // Another member's stored share (or a corrupted one) is refused before any nonce is drawn.
  const input = message('whose share');
  g.h.received.clear();
  await sign(g, key, input);
  const commitBody = received(g.h, 1, FROST_ROUNDS.commit)[0]!;
  assert.equal(
    await refusal(holder.sign(identity, g.h.keys[1]!, secureRandom.bytes(32), input, commitBody, g.h.nowMs)),
    'refused',
  );
  const corrupted = { ...g.h.keys[0]!, share: flipBit(g.h.keys[0]!.share, 10) };
  assert.equal(
    await refusal(holder.sign(identity, corrupted, secureRandom.bytes(32), input, commitBody, g.h.nowMs)),
    'refused',
  );
  assert.equal(
    await refusal(holder.sign(identity, g.h.keys[0]!, secureRandom.bytes(31), input, commitBody, g.h.nowMs)),
    'malformed',
  );
});
