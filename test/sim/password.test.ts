/**
 * Threshold password authentication on the simulator (paper §3.3, §4.3; docs/PROTOCOL.md §Password):
 * enrolment, key recovery and a second device, roaming encryption, replay and ownership refusals,
 * Byzantine members answering wrongly, and throttling of online guessing.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { bytesEqual, utf8 } from '../../src/codec/bytes.js';
import { signingKeyFromSeed } from '../../src/crypto/ed25519.js';
import { ristretto255 } from '@noble/curves/ed25519.js';
import { BftkvClient } from '../../src/protocol/client.js';
import { ProtocolError, type ErrorCode } from '../../src/protocol/errors.js';
import {
  decodeRequest,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  type Request,
} from '../../src/protocol/messages.js';
import { PasswordClient } from '../../src/protocol/password-client.js';
import {
  certify,
  createCertificate,
  withCertifications,
  type Certificate,
} from '../../src/trust/certificate.js';
import { SimCluster, type ServerBehaviour } from './cluster.js';
import { referenceTopology, smallTopology } from './topology.js';

interface Device {
  readonly client: BftkvClient;
  readonly password: PasswordClient;
  cert: Certificate;
}

/** A new key for `uid` that trusts every server (it certifies them), not certified by anyone yet. */
function device(cluster: SimCluster, name: string, uid: string): Device {
  const random = cluster.random.fork(`device/${name}`);
  const key = signingKeyFromSeed(random.bytes(32));
  const cert = createCertificate(key, uid);
  const servers = cluster.serverNames().map((n) => cluster.identity(n).cert);
  const client = new BftkvClient({
    key,
    certificate: cert,
    clock: cluster.sim.clock,
    random,
    transport: cluster.net.transportFor(cert.id),
  });
  client.graph.addCertificates(servers.map((s) => withCertifications(s, [certify(key, s)])));
  const password = new PasswordClient({ client, clock: cluster.sim.clock, random });
  return { client, password, cert };
}

/** Registers the device and adopts the certifications (what the CLI does), returning the result. */
async function register(cluster: SimCluster, d: Device, pw: string) {
  const r = await cluster.run(() => d.password.register(d.cert, pw));
  d.cert = withCertifications(d.cert, r.certifications);
  d.client.graph.addCertifications(d.cert.id, r.certifications);
  return r;
}

async function code(cluster: SimCluster, task: () => Promise<unknown>): Promise<ErrorCode | 'ok'> {
  try {
    await cluster.run(task);
    return 'ok';
  } catch (e) {
    if (e instanceof ProtocolError) return e.code;
    throw e;
  }
}

/** One raw request from `from`'s transport to server `to`. */
async function raw(cluster: SimCluster, from: Device, to: string, req: Request) {
  const peer = cluster.identity(to).cert;
  const bytes = await cluster.run(() =>
    cluster.net.transportFor(from.cert.id).request(peer.id, peer.body.address, encodeRequest(req)),
  );
  return decodeResponse(req.kind, bytes);
}

void describe('password authentication (small topology: one 4-member clique, t = 3)', () => {
  void test('enrol, lose the key, recover, add a device: every key writes the UID’s variables', async () => {
    const cluster = await SimCluster.start({ seed: 'password/lifecycle', topology: smallTopology() });
    const d1 = device(cluster, 'd1', 'carol@example.org');
    const enrolled = await register(cluster, d1, 'correct horse battery');
    assert.equal(enrolled.enrolled, true);
    assert.equal(enrolled.certifications.length, 4);
    const x = utf8('carol@example.org/key');
    await cluster.run(() => d1.client.write(x, utf8('v1')));
    // The key is lost: a brand-new key for the same UID proves the password and keeps writing x (TOFU by UID).
    const d2 = device(cluster, 'd2', 'carol@example.org');
    assert.equal(
      await code(cluster, () => d2.client.write(x, utf8('unregistered'))),
      'invalidQuorumCertificate',
    );
    const recovered = await register(cluster, d2, 'correct horse battery');
    assert.equal(recovered.enrolled, false);
    assert.ok(recovered.certifications.length >= 3);
    await cluster.run(() => d2.client.write(x, utf8('v2')));
    // A third device joins while the second keeps working.
    const d3 = device(cluster, 'd3', 'carol@example.org');
    await register(cluster, d3, 'correct horse battery');
    await cluster.run(() => d3.client.write(x, utf8('v3')));
    await cluster.run(() => d2.client.write(x, utf8('v4')));
    const r = await cluster.run(() => cluster.client('u02').read(x));
    assert.deepEqual(r.value, utf8('v4'));
    // A wrong password certifies nothing.
    const d4 = device(cluster, 'd4', 'carol@example.org');
    assert.equal(
      await code(cluster, () => d4.password.register(d4.cert, 'correct horse battery!')),
      'authFailed',
    );
  });

  void test('nobody sets or overwrites the password of someone else’s UID', async () => {
    const cluster = await SimCluster.start({ seed: 'password/ownership', topology: smallTopology() });
    const owner = device(cluster, 'owner', 'dave@example.org');
    await register(cluster, owner, 'owner password');
    // An attacker enrolling the same UID with its own password: every member already holds dave's set-up.
    const attacker = device(cluster, 'attacker', 'dave@example.org');
    const qs = attacker.client.quorumSystem();
    const members = [...qs.cliques[0]!.members].sort();
    const { setupPassword, encodeScalar } = await import('../../src/crypto/tpa.js');
    const forged = setupPassword(
      'uid',
      utf8('dave@example.org'),
      1n,
      [{ members }],
      'attacker password',
      cluster.random.fork('forge'),
    );
    for (const m of members) {
      const name = cluster.serverNames().find((n) => cluster.identity(n).id === m)!;
      const share = forged.shares[0]!.get(m)!;
      const res = await raw(cluster, attacker, name, {
        kind: 'register',
        certificate: attacker.cert,
        enrol: { credential: forged.credential, share: encodeScalar(share.share) },
      });
      assert.equal(res.kind === 'error' && res.code, 'authRequired');
    }
    // The owner's password still works, the attacker's does not.
    assert.equal(
      await code(cluster, () => attacker.password.register(attacker.cert, 'attacker password')),
      'authFailed',
    );
    const again = device(cluster, 'owner2', 'dave@example.org');
    assert.equal((await register(cluster, again, 'owner password')).enrolled, false);
    // A UID that already owns variables here (alice, provisioned without a password) cannot be enrolled.
    const squatter = device(cluster, 'squatter', 'alice@example.com');
    await cluster.run(() => cluster.client('u01').write(utf8('alice@example.com/x'), utf8('mine')));
    assert.equal(
      await code(cluster, () => squatter.password.register(squatter.cert, 'pw')),
      'permissionDenied',
    );
  });

  void test('a proof is bound to its session, its key and its operation', async () => {
    const cluster = await SimCluster.start({ seed: 'password/replay', topology: smallTopology() });
    const d1 = device(cluster, 'd1', 'erin@example.org');
    await register(cluster, d1, 'pw-erin');
    const d2 = device(cluster, 'd2', 'erin@example.org');
    const auth = await cluster.run(() =>
      d2.password.authenticate('uid', utf8('erin@example.org'), 'pw-erin'),
    );
    const { registerOperation } = await import('../../src/protocol/password.js');
    const proof = d2.password.proof(auth, registerOperation(d2.cert));
    const member = cluster.serverNames().find((n) => n.startsWith('c'))!;
    // Another key replays d2's proof for itself, and for d2's certificate: both refused.
    const eve = device(cluster, 'eve', 'erin@example.org');
    let res = await raw(cluster, eve, member, { kind: 'register', certificate: eve.cert, proof });
    assert.equal(res.kind === 'error' && res.code, 'authFailed');
    res = await raw(cluster, eve, member, { kind: 'register', certificate: d2.cert, proof });
    assert.equal(res.kind === 'error' && res.code, 'permissionDenied');
    // A proof for another operation (a read) does not register.
    const readProof = d2.password.proof(auth, { kind: 'read', x: utf8('erin@example.org') });
    res = await raw(cluster, d2, member, { kind: 'register', certificate: d2.cert, proof: readProof });
    assert.equal(res.kind === 'error' && res.code, 'authFailed');
    // The genuine one works once; the same proof again (a replay of the session) is refused.
    res = await raw(cluster, d2, member, { kind: 'register', certificate: d2.cert, proof });
    assert.equal(res.kind, 'register');
    res = await raw(cluster, d2, member, { kind: 'register', certificate: d2.cert, proof });
    assert.equal(res.kind === 'error' && res.code, 'authFailed');
  });

  void test('roaming encryption: any device of the UID decrypts with the password alone; no proof, no value', async () => {
    const cluster = await SimCluster.start({ seed: 'password/roaming', topology: smallTopology() });
    const d1 = device(cluster, 'd1', 'frank@example.org');
    await register(cluster, d1, 'frank-pw');
    const x = utf8('frank@example.org/vault');
    await cluster.run(() => d1.password.writeProtected(x, utf8('the secret'), 'vault-pw'));
    const first = await cluster.run(() =>
      cluster
        .client('u02')
        .read(x)
        .catch((e: unknown) => e),
    );
    assert.ok(first instanceof ProtocolError && first.code === 'authRequired', String(first));
    const d2 = device(cluster, 'd2', 'frank@example.org');
    await register(cluster, d2, 'frank-pw');
    const r = await cluster.run(() => d2.password.readProtected(x, 'vault-pw'));
    assert.deepEqual(r.plaintext, utf8('the secret'));
    assert.equal(await code(cluster, () => d2.password.readProtected(x, 'wrong-pw')), 'authFailed');
    // A fresh password key for every encryption (paper §3.3): the second write's set-up differs.
    const before = r.value!;
    await cluster.run(() => d2.password.writeProtected(x, utf8('the secret'), 'vault-pw'));
    const r2 = await cluster.run(() => d1.password.readProtected(x, 'vault-pw'));
    assert.deepEqual(r2.plaintext, utf8('the secret'));
    assert.ok(!bytesEqual(before, r2.value!));
    // Another UID cannot put a password on frank's variable (TOFU: the sign requests are refused).
    const mallory = device(cluster, 'mallory', 'mallory@example.org');
    await register(cluster, mallory, 'm-pw');
    assert.equal(
      await code(cluster, () => mallory.password.writeProtected(x, utf8('pwned'), 'm-pw')),
      'permissionDenied',
    );
  });

  void test('online guessing is throttled with growing delays; the owner gets in after the burst', async () => {
    const cluster = await SimCluster.start({
      seed: 'password/throttle',
      topology: smallTopology(),
      server: { password: { freeAttempts: 3, baseDelayMs: 1000, maxDelayMs: 8000 } },
    });
    const owner = device(cluster, 'owner', 'gina@example.org');
    await register(cluster, owner, 'gina-pw');
    const guesser = device(cluster, 'guesser', 'gina@example.org');
    const impatient = new PasswordClient({
      client: guesser.client,
      clock: cluster.sim.clock,
      random: cluster.random.fork('guesser'),
      options: { throttleWaitMaxMs: 0 },
    });
    const outcomes: string[] = [];
    for (let i = 0; i < 12; i++)
      outcomes.push(
        await code(cluster, () => impatient.authenticate('uid', utf8('gina@example.org'), `guess${i}`)),
      );
    assert.deepEqual(outcomes.slice(0, 3), ['authFailed', 'authFailed', 'authFailed']);
    assert.ok(
      outcomes.slice(3).every((o) => o === 'throttled'),
      outcomes.join(','),
    );
    const throttled = cluster
      .serverNames()
      .reduce((n, s) => n + cluster.server(s)!.password.stats.throttled, 0);
    assert.ok(throttled >= 9 * 3, `throttled answers counted in the metrics: ${throttled}`);
    // The owner's client waits out the (capped) delay and authenticates; a valid proof ends the throttling.
    const start = cluster.sim.now;
    const second = device(cluster, 'second', 'gina@example.org');
    const r = await register(cluster, second, 'gina-pw');
    assert.ok(r.certifications.length >= 3);
    assert.ok(cluster.sim.now - start <= 8000 + 2000, `waited ${cluster.sim.now - start} ms`);
    const pending = cluster
      .serverNames()
      .reduce((n, s) => n + cluster.server(s)!.password.pendingFailures(), 0);
    assert.equal(pending, 0);
  });
});

/** A clique member answering password evaluations with a wrong element (a valid-looking lie). */
const wrongEvaluation: ServerBehaviour = {
  name: 'password-wrong-evaluation',
  wrap: (server) => async (from, payload) => {
    const answer = await server.handle(from, payload);
    const req = decodeRequest(payload);
    if (req.kind !== 'passwordEval') return answer;
    const res = decodeResponse('passwordEval', answer);
    if (res.kind !== 'passwordEval') return answer;
    return encodeResponse({ ...res, evaluated: ristretto255.Point.BASE.multiply(4242n).toBytes() });
  },
};

void describe('password authentication with Byzantine members (reference topology: 2 × 10, t = 7)', () => {
  void test('b = 3 members of a clique answering wrongly: authentication succeeds and names them', async () => {
    const liars = ['a01', 'a02', 'a03'];
    const cluster = await SimCluster.start({
      seed: 'password/byzantine',
      topology: referenceTopology(),
      behaviours: new Map(liars.map((n) => [n, wrongEvaluation])),
    });
    const d1 = device(cluster, 'd1', 'hank@example.org');
    await register(cluster, d1, 'hank-pw');
    const d2 = device(cluster, 'd2', 'hank@example.org');
    const auth = await cluster.run(() =>
      d2.password.authenticate('uid', utf8('hank@example.org'), 'hank-pw'),
    );
    assert.deepEqual([...auth.culprits].map((id) => cluster.name(id)).sort(), [...liars].sort());
    const r = await register(cluster, d2, 'hank-pw');
    assert.ok(r.certifications.length >= 14);
    await cluster.run(() => d2.client.write(utf8('hank@example.org/k'), utf8('v')));
  });
});
