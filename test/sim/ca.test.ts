/**
 * The distributed CA on the simulator (paper §3.4, §6.1; docs/PROTOCOL.md §15): ownership by TOFU, the
 * authorization list as a signed record (and its rollback), signed and replay-protected calls, shares that
 * survive restarts and are bound to their node, the signature log, and malicious share holders (wrong,
 * withheld and replayed answers) up to and beyond each scheme's tolerance.
 */
import assert from 'node:assert/strict';
import { createPublicKey, createVerify, generateKeyPairSync, verify as nodeVerify } from 'node:crypto';
import { describe, test } from 'node:test';
import { utf8 } from '../../src/codec/bytes.js';
import { sign } from '../../src/crypto/ed25519.js';
import { CaClient, type CreateOptions } from '../../src/protocol/ca/ca-client.js';
import type { CaScheme } from '../../src/protocol/ca/scheme.js';
import { inlineRsaKeys } from '../../src/protocol/ca/scheme-rsa.js';
import { callStatement, caVariable, CA_NONCE_BYTES, type CaAction } from '../../src/protocol/ca/wire.js';
import { ProtocolError, type ErrorCode } from '../../src/protocol/errors.js';
import {
  decodeRequest,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  type Request,
  type Response,
} from '../../src/protocol/messages.js';
import { SimCluster, type ServerBehaviour } from './cluster.js';
import { referenceTopology, smallTopology } from './topology.js';

/** The scheme the service tests run on (the service is the same for every scheme). */
const SCHEME: CaScheme = 'ecdsa-p256';

const caClients = new WeakMap<SimCluster, Map<string, CaClient>>();

/** The CA client of identity `name` (one per cluster and name: its seeded randomness must not repeat). */
function caOf(cluster: SimCluster, name: string): CaClient {
  const known = caClients.get(cluster) ?? new Map<string, CaClient>();
  caClients.set(cluster, known);
  let ca = known.get(name);
  if (ca === undefined) {
    ca = makeCa(cluster, name);
    known.set(name, ca);
  }
  return ca;
}

function makeCa(cluster: SimCluster, name: string): CaClient {
  return new CaClient({
    client: cluster.client(name),
    key: cluster.identity(name).key,
    clock: cluster.sim.clock,
    random: cluster.random.fork(`ca/${name}`),
  });
}

async function refusal(p: Promise<unknown>): Promise<ErrorCode> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ProtocolError) return e.code;
    throw e;
  }
  assert.fail('expected a refusal');
}

/** Whether node:crypto accepts `signature` over `data` under the CA's public key (any scheme). */
function verifies(pem: string, scheme: CaScheme, data: Uint8Array, signature: Uint8Array): boolean {
  const key = createPublicKey(pem);
  if (scheme === 'ed25519-frost') return nodeVerify(null, data, key, signature);
  return createVerify('sha256').update(data).verify(key, signature);
}

void describe('distributed CA: ownership, authorization, replay, restart (small topology, n = 4)', () => {
  void test('lifecycle: create, sign from another device, authorize, deauthorize, rollback refused, log', async () => {
    const cluster = await SimCluster.start({ seed: 'ca/lifecycle', topology: smallTopology() });
    const alice = caOf(cluster, 'u01');
    const aliceLaptop = caOf(cluster, 'u02'); // another key of the same UID
    const bob = caOf(cluster, 'u11');
    const info = await cluster.run(() => alice.create('acme', SCHEME));
    assert.equal(info.descriptor.members.length, 4);
    assert.ok(info.descriptor.certificate !== undefined, 'the CA certificate is in the descriptor');

    const data = utf8('release 1.0');
    const s1 = await cluster.run(() => aliceLaptop.signData('acme', data));
    assert.ok(verifies(info.publicKeyPem, SCHEME, data, s1.signature));
    assert.deepEqual(s1.culprits, []);

    // bob is certified but not authorized; he cannot take over the name either.
    assert.equal(await refusal(cluster.run(() => bob.signData('acme', data))), 'permissionDenied');
    assert.equal(
      await refusal(cluster.run(() => bob.create('acme', SCHEME, { replace: true }))),
      'permissionDenied',
    );
    assert.equal(await refusal(cluster.run(() => bob.delete('acme'))), 'permissionDenied');
    assert.equal(
      await refusal(cluster.run(() => bob.authorize('acme', 'bob@example.com'))),
      'permissionDenied',
    );
    // Without --replace even the owner cannot overwrite the key.
    assert.equal(await refusal(cluster.run(() => alice.create('acme', SCHEME))), 'caKeyExists');

    await cluster.run(() => alice.authorize('acme', 'bob@example.com'));
    const old = await cluster.run(() => bob.info('acme'));
    const s2 = await cluster.run(() => bob.signData('acme', utf8('bob was here')));
    assert.ok(verifies(info.publicKeyPem, SCHEME, utf8('bob was here'), s2.signature));

    await cluster.run(() => alice.deauthorize('acme', 'bob@example.com'));
    assert.equal(await refusal(cluster.run(() => bob.signData('acme', data))), 'permissionDenied');
    // Showing the older descriptor that still lists him is refused: holders signed a newer one.
    const rollback = () => bob.signWithInfo(old, bob.inputFor(old, data));
    assert.equal(await refusal(cluster.run(rollback)), 'caDescriptor');

    // Every holder logged every signing session it took part in (the CA certificate, two signatures).
    const logs = await cluster.run(() => alice.log('acme'));
    assert.equal(logs.size, 4);
    for (const entries of logs.values()) {
      assert.ok(entries.length >= 2, `a holder logged ${entries.length} sessions`);
      assert.ok(entries.some((e) => e.uid === 'bob@example.com'));
      assert.deepEqual(
        entries.map((e) => e.seq),
        entries.map((_, i) => entries[0]!.seq + BigInt(i)),
      );
    }
    // Deleting erases the shares: signing is refused afterwards.
    await cluster.run(() => alice.delete('acme'));
    assert.equal(await refusal(cluster.run(() => alice.signData('acme', data))), 'caNoKey');
    cluster.stopGossip();
  });

  void test('shares survive a restart of every holder and are bound to their node', async () => {
    const cluster = await SimCluster.start({ seed: 'ca/restart', topology: smallTopology() });
    const alice = caOf(cluster, 'u01');
    const info = await cluster.run(() => alice.create('durable', SCHEME));
    for (const name of ['c01', 'c02', 'c03', 'c04']) cluster.crash(name);
    for (const name of ['c01', 'c02', 'c03', 'c04']) await cluster.restart(name);
    const data = utf8('after restart');
    const s = await cluster.run(() => caOf(cluster, 'u02').signData('durable', data));
    assert.ok(verifies(info.publicKeyPem, SCHEME, data, s.signature));
    // A share copied to another node's disk does not decrypt there (sealed at rest, bound to its node): with
    // c02 holding c01's sealed share and c03 down, too few holders can sign; with its own share back, it works.
    const key = utf8('key/durable');
    const own = (await cluster.storage('c02').get('ca', key))!;
    const copied = (await cluster.storage('c01').get('ca', key))!;
    await cluster.storage('c02').write([{ ns: 'ca', key, value: copied }]);
    cluster.crash('c03');
    const err = await cluster
      .run(() => caOf(cluster, 'u01').signData('durable', data))
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    assert.ok(err instanceof ProtocolError, `signing must fail, got ${String(err)}`);
    await cluster.storage('c02').write([{ ns: 'ca', key, value: own }]);
    const again = await cluster.run(() => caOf(cluster, 'u01').signData('durable', data));
    assert.ok(verifies(info.publicKeyPem, SCHEME, data, again.signature));
    cluster.stopGossip();
  });

  void test('calls are signed, bound to one holder, and single use', async () => {
    const cluster = await SimCluster.start({ seed: 'ca/replay', topology: smallTopology() });
    const alice = caOf(cluster, 'u01');
    await cluster.run(() => alice.create('replay', SCHEME));
    const u01 = cluster.identity('u01');
    const holders = ['c01', 'c02'].map((n) => cluster.identity(n));
    const net = cluster.net.transportFor(u01.id);
    const send = (to: string, req: Request) =>
      cluster.run(async () =>
        decodeResponse(
          'ca',
          await net.request(to, cluster.identity(cluster.name(to)).cert.body.address, encodeRequest(req)),
        ),
      );
    const call = (holder: string, issuedMs: number, action: CaAction = { op: 'log', limit: 5 }) => {
      const unsigned = {
        name: 'replay',
        sid: new Uint8Array(32).fill(7),
        requester: u01.cert,
        issuedMs: BigInt(issuedMs),
        nonce: cluster.random.bytes(CA_NONCE_BYTES),
        action,
      };
      return { ...unsigned, signature: sign(u01.key, callStatement(holder, unsigned)) };
    };
    const code = (r: Response) => (r.kind === 'error' ? r.code : 'ok');
    const now = () => cluster.sim.now;
    const fresh = call(holders[0]!.id, now());
    assert.equal(code(await send(holders[0]!.id, { kind: 'ca', call: fresh })), 'ok');
    // The same call again: refused (its nonce was seen).
    assert.equal(code(await send(holders[0]!.id, { kind: 'ca', call: fresh })), 'caSession');
    // A call signed for holder 1 sent to holder 2: the signature does not verify there.
    assert.equal(
      code(await send(holders[1]!.id, { kind: 'ca', call: call(holders[0]!.id, now()) })),
      'badSignature',
    );
    // A call from outside the replay window (its time 10 minutes off).
    assert.equal(
      code(await send(holders[0]!.id, { kind: 'ca', call: call(holders[0]!.id, now() + 10 * 60_000) })),
      'invalidTimestamp',
    );
    // A tampered call (limit changed after signing).
    const t = call(holders[0]!.id, now());
    assert.equal(
      code(await send(holders[0]!.id, { kind: 'ca', call: { ...t, action: { op: 'log', limit: 6 } } })),
      'badSignature',
    );
    // Sent by someone else than the requester it names.
    const bob = cluster.net.transportFor(cluster.identity('u11').id);
    const relayed = await cluster.run(async () =>
      decodeResponse(
        'ca',
        await bob.request(
          holders[0]!.id,
          holders[0]!.cert.body.address,
          encodeRequest({ kind: 'ca', call: call(holders[0]!.id, now()) }),
        ),
      ),
    );
    assert.equal(code(relayed), 'permissionDenied');
    cluster.stopGossip();
    void caVariable;
    void decodeRequest;
    void encodeResponse;
  });
});

// ---------------------------------------------------------------------------------------------------------
// Reshare

/** Drops every CA call of operation `op` (a holder that never hears of it). */
function misses(op: CaAction['op']): ServerBehaviour {
  return {
    name: `ca-misses-${op}`,
    wrap: (server) => async (from, payload) => {
      const req = decodeRequest(payload);
      if (req.kind === 'ca' && req.call.action.op === op) return new Promise<Uint8Array>(() => undefined);
      return server.handle(from, payload);
    },
  };
}

/** The public key bytes of the share holder `name` keeps for CA `ca` (its record's public key field). */
async function heldKey(cluster: SimCluster, name: string, ca: string): Promise<string | undefined> {
  const raw = await cluster.storage(name).get('ca', utf8(`key/${ca}`));
  return raw === undefined ? undefined : Buffer.from(raw).toString('hex');
}

for (const scheme of ['ecdsa-p256', 'ed25519-frost'] as const) {
  void describe(`${scheme}: reshare (small topology, n = 4)`, () => {
    void test('same signing key, new shares; old descriptor refused; log continues; survives a restart', async () => {
      const cluster = await SimCluster.start({ seed: `ca/reshare/${scheme}`, topology: smallTopology() });
      const alice = caOf(cluster, 'u01');
      const bob = caOf(cluster, 'u11');
      const info = await cluster.run(() => alice.create('rotate', scheme));
      await cluster.run(() => alice.authorize('rotate', 'bob@example.com'));
      const before = await cluster.run(() => bob.info('rotate'));
      await cluster.run(() => bob.signData('rotate', utf8('before')));
      const held = await Promise.all(['c01', 'c02', 'c03', 'c04'].map((n) => heldKey(cluster, n, 'rotate')));

      // Only the owner may reshare.
      assert.equal(await refusal(cluster.run(() => bob.reshare('rotate'))), 'permissionDenied');
      const out = await cluster.run(() => alice.reshare('rotate'));
      assert.equal(out.stored.length, 4);
      assert.deepEqual(out.culprits, []);
      assert.equal(out.committed.length, 4);
      assert.equal(out.info.publicKeyPem, info.publicKeyPem, 'the signing key is the same');
      assert.deepEqual(
        out.info.descriptor.certificate,
        info.descriptor.certificate,
        'the CA certificate stays',
      );
      assert.deepEqual(out.info.descriptor.authorized, ['bob@example.com']);
      assert.notDeepEqual(
        out.info.descriptor.publicKey,
        info.descriptor.publicKey,
        'new verification shares',
      );
      // Every holder switched to its new share: the old ones are gone.
      for (const [k, n] of ['c01', 'c02', 'c03', 'c04'].entries()) {
        const now = await heldKey(cluster, n, 'rotate');
        assert.notEqual(now, held[k], `${n} still holds its old share`);
        assert.equal(await cluster.storage(n).get('ca', utf8('pending/rotate')), undefined);
      }
      const data = utf8('after');
      const s = await cluster.run(() => bob.signData('rotate', data));
      assert.ok(verifies(info.publicKeyPem, scheme, data, s.signature));
      // The descriptor from before the reshare names a key no holder has any more.
      assert.equal(
        await refusal(cluster.run(() => bob.signWithInfo(before, bob.inputFor(before, data)))),
        'caDescriptor',
      );
      // The signature log goes on where it was (CA certificate, before, after).
      const logs = await cluster.run(() => alice.log('rotate'));
      for (const entries of logs.values())
        assert.deepEqual(
          entries.map((e) => e.seq),
          entries.map((_, i) => BigInt(i)),
        );
      for (const n of ['c01', 'c02', 'c03', 'c04']) cluster.crash(n);
      for (const n of ['c01', 'c02', 'c03', 'c04']) await cluster.restart(n);
      const again = await cluster.run(() => alice.signData('rotate', data));
      assert.ok(verifies(info.publicKeyPem, scheme, data, again.signature));
      cluster.stopGossip();
    });
  });
}

void test('reshare: a holder that missed the commit switches when it is next asked to sign', async () => {
  const cluster = await SimCluster.start({
    seed: 'ca/reshare/missed-commit',
    topology: smallTopology(),
    behaviours: new Map([['c03', misses('commit')]]),
  });
  const alice = caOf(cluster, 'u01');
  const info = await cluster.run(() => alice.create('late', SCHEME));
  const before = await heldKey(cluster, 'c03', 'late');
  const out = await cluster.run(() => alice.reshare('late'));
  assert.equal(out.committed.length, 3);
  assert.ok(!out.committed.includes(cluster.identity('c03').id));
  assert.notEqual(await cluster.storage('c03').get('ca', utf8('pending/late')), undefined);
  // Two holders down: the signature needs c03 (2t + 1 = 3 of 4 GJKR holders), on its new share.
  cluster.crash('c04');
  const data = utf8('late');
  const s = await cluster.run(() => alice.signData('late', data));
  assert.ok(verifies(info.publicKeyPem, SCHEME, data, s.signature));
  assert.equal(await cluster.storage('c03').get('ca', utf8('pending/late')), undefined);
  assert.notEqual(await heldKey(cluster, 'c03', 'late'), before, 'c03 switched to its new share');
  cluster.stopGossip();
});

void test('reshare with a holder down: the others get new shares; the late holder retires its old one', async () => {
  const cluster = await SimCluster.start({ seed: 'ca/reshare/down', topology: smallTopology() });
  const alice = caOf(cluster, 'u01');
  const info = await cluster.run(() => alice.create('down', SCHEME));
  cluster.crash('c04');
  const out = await cluster.run(() => alice.reshare('down'));
  const c04 = cluster.identity('c04').id;
  assert.equal(out.stored.length, 3, 'n − b = 3 new holders suffice');
  assert.deepEqual([...new Set(out.culprits.map((c) => c.id))], [c04]);
  assert.equal(
    out.info.descriptor.members.length,
    4,
    'c04 stays a member (its X25519 key from the descriptor)',
  );
  const data = utf8('three of four');
  const s = await cluster.run(() => alice.signData('down', data));
  assert.ok(verifies(info.publicKeyPem, SCHEME, data, s.signature));
  // c04 comes back with its old share; the first signing call under the newer descriptor retires it.
  await cluster.restart('c04');
  assert.notEqual(await heldKey(cluster, 'c04', 'down'), undefined);
  const again = await cluster.run(() => alice.signData('down', data));
  assert.ok(verifies(info.publicKeyPem, SCHEME, data, again.signature));
  assert.equal(await heldKey(cluster, 'c04', 'down'), undefined, 'the stale share is erased');
  cluster.stopGossip();
});

void test('reshare: RSA keys cannot be reshared; the client says so and holders refuse', async () => {
  const cluster = await SimCluster.start({ seed: 'ca/reshare/rsa', topology: smallTopology() });
  const alice = caOf(cluster, 'u01');
  // An imported key (no prime search: real background work the simulated clock would race).
  const pem = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({
    type: 'pkcs8',
    format: 'pem',
  });
  const info = await cluster.run(() => alice.import('rsa', pem.toString()));
  assert.equal(info.descriptor.scheme, 'rsa-additive');
  await assert.rejects(
    cluster.run(() => alice.reshare('rsa')),
    RangeError,
  );
  // A hand-made reshare call reaches a holder anyway: refused with a typed error.
  const u01 = cluster.identity('u01');
  const holder = cluster.identity('c01');
  const unsigned = {
    name: 'rsa',
    sid: cluster.random.bytes(32),
    requester: u01.cert,
    issuedMs: BigInt(cluster.sim.now),
    nonce: cluster.random.bytes(CA_NONCE_BYTES),
    action: {
      op: 'reshare',
      role: 'dealer',
      descriptor: info.record,
      members: info.descriptor.members,
      body: new Uint8Array([0x50, ...new Uint8Array(32)]),
    } as CaAction,
  };
  const call = { ...unsigned, signature: sign(u01.key, callStatement(holder.id, unsigned)) };
  const net = cluster.net.transportFor(u01.id);
  const res = await cluster.run(async () =>
    decodeResponse(
      'ca',
      await net.request(holder.id, holder.cert.body.address, encodeRequest({ kind: 'ca', call })),
    ),
  );
  assert.equal(res.kind === 'error' ? res.code : 'ok', 'caRefused');
  cluster.stopGossip();
});

// ---------------------------------------------------------------------------------------------------------
// Malicious share holders

/** Answers CA signing steps, but with one bit of the scheme's answer flipped (a wrong share or partial). */
const wrongShare: ServerBehaviour = {
  name: 'ca-wrong-share',
  wrap: (server) => async (from, payload) => {
    const answer = await server.handle(from, payload);
    const req = decodeRequest(payload);
    if (req.kind !== 'ca' || req.call.action.op !== 'sign') return answer;
    const res = decodeResponse('ca', answer);
    if (res.kind !== 'ca' || res.body.length === 0) return answer;
    const body = new Uint8Array(res.body);
    body[body.length - 8]! ^= 0x01;
    return encodeResponse({ kind: 'ca', body });
  },
};

/** Never answers CA signing steps (a withheld share). */
const withholds: ServerBehaviour = {
  name: 'ca-withhold',
  wrap: (server) => async (from, payload) => {
    const req = decodeRequest(payload);
    if (req.kind === 'ca' && req.call.action.op === 'sign') return new Promise<Uint8Array>(() => undefined);
    return server.handle(from, payload);
  },
};

/** Answers each signing step with its answer to the same step of the previous session (a replayed phase). */
function replaysOldAnswers(): ServerBehaviour {
  const previous: Uint8Array[] = [];
  const current: Uint8Array[] = [];
  let sid = '';
  return {
    name: 'ca-replay',
    wrap: (server) => async (from, payload) => {
      const answer = await server.handle(from, payload);
      const req = decodeRequest(payload);
      if (req.kind !== 'ca' || req.call.action.op !== 'sign') return answer;
      const s = Buffer.from(req.call.sid).toString('hex');
      if (s !== sid) {
        if (current.length > 0) previous.splice(0, previous.length, ...current);
        current.length = 0;
        sid = s;
      }
      const step = current.length;
      current.push(answer);
      return previous[step] ?? answer;
    },
  };
}

async function byzantineRun(behaviours: Map<string, ServerBehaviour>, seed: string) {
  const cluster = await SimCluster.start({ seed, topology: referenceTopology(), behaviours });
  const owner = caOf(cluster, 'u01');
  return { cluster, owner };
}

/** Flips a bit of every reshare dealing this holder sends (a wrong dealing; its signature fails). */
const wrongDealing: ServerBehaviour = {
  name: 'ca-wrong-dealing',
  wrap: (server) => async (from, payload) => {
    const answer = await server.handle(from, payload);
    const req = decodeRequest(payload);
    if (req.kind !== 'ca' || req.call.action.op !== 'reshare' || req.call.action.role !== 'dealer')
      return answer;
    const res = decodeResponse('ca', answer);
    if (res.kind !== 'ca' || res.body.length === 0) return answer;
    const body = new Uint8Array(res.body);
    body[body.length - 100]! ^= 0x01;
    return encodeResponse({ kind: 'ca', body });
  },
};

/** Answers each reshare step with its answer to the same step of the previous reshare (a replayed phase). */
function replaysOldDealings(): ServerBehaviour {
  const previous = new Map<string, Uint8Array>();
  return {
    name: 'ca-replay-dealing',
    wrap: (server) => async (from, payload) => {
      const answer = await server.handle(from, payload);
      const req = decodeRequest(payload);
      if (req.kind !== 'ca' || req.call.action.op !== 'reshare') return answer;
      const step = `${req.call.action.role}/${req.call.action.body[0]}`;
      const old = previous.get(step);
      previous.set(step, answer);
      return old ?? answer;
    },
  };
}

for (const scheme of ['ecdsa-p256', 'ed25519-frost'] as const) {
  for (const [label, make] of [
    ['wrong dealings', () => wrongDealing],
    ['withheld dealings', () => misses('reshare')],
    ['replayed dealings', replaysOldDealings],
  ] as const) {
    void test(`${scheme} reshare with ${label} from b = 3 of 10 holders: succeeds, culprits named`, async () => {
      const bad = ['a02', 'a05', 'a09'];
      const { cluster, owner } = await byzantineRun(
        new Map(bad.map((n) => [n, make()])),
        `ca/byz-reshare/${scheme}/${label}`,
      );
      const info = await cluster.run(() => owner.create('corp', scheme));
      // The first reshare teaches the replaying holders an old answer; the second is the one judged.
      let out = await cluster.run(() => owner.reshare('corp'));
      if (label === 'replayed dealings') out = await cluster.run(() => owner.reshare('corp'));
      const named = new Set(out.culprits.map((c) => cluster.name(c.id)));
      assert.deepEqual([...named].sort(), [...bad].sort());
      assert.ok(out.stored.length >= 7);
      const data = utf8('after the reshare');
      const s = await cluster.run(() => owner.signData('corp', data));
      assert.ok(verifies(info.publicKeyPem, scheme, data, s.signature));
      cluster.stopGossip();
    });
  }
}

/**
 * Each scheme with the options that keep it quick here (1024-bit RSA moduli: set-up time, not security).
 * RSA key material is generated inline: in the thread pool, the prime search would race the simulated clock.
 */
const BYZANTINE_SCHEMES: readonly { scheme: CaScheme; options: CreateOptions }[] = [
  { scheme: 'ed25519-frost', options: {} },
  { scheme: 'rsa-shoup', options: { modulusBits: 1024, rsaKeys: inlineRsaKeys } },
  { scheme: 'rsa-additive', options: { modulusBits: 1024, rsaKeys: inlineRsaKeys } },
  { scheme: 'ecdsa-p256', options: {} },
];

for (const { scheme, options } of BYZANTINE_SCHEMES) {
  void describe(`${scheme} with malicious holders (reference topology: 10 holders, b = 3)`, () => {
    for (const [label, make] of [
      ['wrong shares', () => wrongShare],
      ['withheld shares', () => withholds],
      ['replayed phases', replaysOldAnswers],
    ] as const) {
      void test(`${label} from b = 3 holders: signing succeeds, and the culprits are named`, async () => {
        // The CA goes to clique a; the Byzantine holders are three of its members.
        const bad = ['a02', 'a05', 'a09'];
        const { cluster, owner } = await byzantineRun(
          new Map(bad.map((n) => [n, make()])),
          `ca/byz/${scheme}/${label}`,
        );
        const info = await cluster.run(() => owner.create('corp', scheme, options));
        const holders = info.descriptor.members.map((m) => cluster.name(m.id));
        assert.ok(
          bad.every((b) => holders.includes(b)),
          `CA on ${holders.join(' ')}`,
        );
        for (let i = 0; i < 2; i++) {
          const data = utf8(`document ${i}`);
          const s = await cluster.run(() => owner.signData('corp', data));
          assert.ok(verifies(info.publicKeyPem, scheme, data, s.signature));
          const named = new Set(s.culprits.map((c) => cluster.name(c.id)));
          for (const n of named) assert.ok(bad.includes(n), `honest holder ${n} blamed`);
          // Wrong answers are named (the simulator delivers them within the round); a replayed answer is
          // wrong from the second session on. Silent holders are not provably faulty: never required.
          if (label === 'wrong shares' || (label === 'replayed phases' && i === 1))
            assert.deepEqual([...named].sort(), [...bad].sort(), `culprits: ${[...named].join(' ')}`);
        }
        cluster.stopGossip();
      });
    }

    void test('b + 1 = 4 holders with wrong shares: signing fails with an error and outputs nothing', async () => {
      const bad = ['a01', 'a03', 'a06', 'a10'];
      const { cluster, owner } = await byzantineRun(
        new Map(bad.map((n) => [n, wrongShare])),
        `ca/byz/${scheme}/beyond`,
      );
      // The CA certificate (the first signature) already fails; the key itself is in place.
      await cluster.run(() => owner.create('corp', scheme, options)).catch(() => undefined);
      let out: unknown;
      const err = await cluster
        .run(() => owner.signData('corp', utf8('x')))
        .then(
          (s) => {
            out = s;
            return undefined;
          },
          (e: unknown) => e,
        );
      assert.equal(out, undefined);
      assert.ok(err instanceof ProtocolError, String(err));
      // The key and its descriptor are in place: the failure is the threshold's, not a missing key.
      assert.notEqual(err.code, 'caNoKey');
      assert.equal((await cluster.run(() => owner.info('corp'))).descriptor.scheme, scheme);
      cluster.stopGossip();
    });
  });
}
