/**
 * Scenario tests of threshold ECDSA signing with malicious share holders (GJKR "Robust Threshold DSS
 * Signatures" with verifiable answers): wrong sub-shares, wrong phase answers, withheld answers, replayed
 * phases and reused session ids, concurrent sessions, and a check that the key never appears at the client.
 * Misbehaving servers are real servers whose messages are altered and re-signed with their own keys.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, verify as nodeVerify } from 'node:crypto';
import {
  P256_GROUP,
  SECP256K1_GROUP,
  encodeScalar,
  type DlGroup,
} from '../../src/crypto/threshold/dl-group.js';
import {
  DkgCoordinator,
  acceptImportedShare,
  decodeKeyShare,
  encodeKeyShare,
  importPrivateKey,
  keyIdOf,
  type DkgResult,
  type DlPublicKeyInfo,
} from '../../src/crypto/threshold/gjkr-key.js';
import {
  GjkrFailure,
  GjkrRequestError,
  GjkrSessionError,
  REQUEST,
  decodeRelay,
  encodeComplaint,
  encodeRelay,
  readRequestHeader,
  signContext,
  signMessage,
  type Culprit,
  type SendStep,
} from '../../src/crypto/threshold/gjkr-messages.js';
import { sha256 } from '../../src/crypto/hash.js';
import { SigningCoordinator, type SigningResult } from '../../src/crypto/threshold/gjkr-sign.js';
import { interpolate } from '../../src/crypto/threshold/gjkr-vss.js';
import { secureRandom } from '../../src/env/random.js';
import {
  Cluster,
  HEADER_BYTES,
  cheatingDealer,
  containsSecret,
  flipBodyByte,
  makeParties,
  opensslVerify,
  rewriteDealBoxes,
  signingCommitments,
  splitSigned,
  tamper,
} from './threshold-gjkr-harness.js';

type Parties = ReturnType<typeof makeParties>;

/** A cluster holding an imported key (fast: no DKG), with the client's view of it. */
function importedCluster(
  group: DlGroup,
  n: number,
  t: number,
): { cluster: Cluster; parties: Parties; info: DlPublicKeyInfo; pem: string } {
  const curve = group === P256_GROUP ? 'prime256v1' : 'secp256k1';
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: curve });
  const parties = makeParties(n);
  const cluster = new Cluster(parties.identities);
  const imported = importPrivateKey(privateKey, {
    n,
    t,
    encryptionKey: parties.directory.encryptionKey,
    random: secureRandom,
  });
  for (const [j, d] of imported.deliveries)
    cluster.store(j, acceptImportedShare(d, parties.identities.get(j)!));
  return { cluster, parties, info: imported.info, pem: imported.publicKeyPem };
}

function coordinator(info: DlPublicKeyInfo, parties: Parties, message: Uint8Array): SigningCoordinator {
  return new SigningCoordinator({ info, message, sid: secureRandom.bytes(32), directory: parties.directory });
}

function blamed(culprits: readonly Culprit[]): number[] {
  return [...new Set(culprits.map((c) => c.party))].sort((a, b) => a - b);
}

function assertValid(pem: string, message: Uint8Array, result: SigningResult): void {
  assert.ok(nodeVerify('sha256', message, { key: pem, dsaEncoding: 'der' }, result.signature));
  assert.ok(opensslVerify(pem, result.signature, message));
}

void test('wrong sub-shares: the dealers are named and disqualified, signing succeeds with the others (n=10, t=3)', () => {
  const group = P256_GROUP;
  const { cluster, parties, info, pem } = importedCluster(group, 10, 3);
  const id = (j: number) => parties.identities.get(j)!;
  const commitments = signingCommitments(3);
  // Server 2: wrong sub-shares to 4 > t servers (disqualified by the complaint count).
  cluster.behaviours.set(
    2,
    cheatingDealer((deal) => rewriteDealBoxes(id(2), deal, group, commitments, [1, 3, 4, 6])),
  );
  // Server 5: a wrong sub-share to server 1, then refuses to reveal it.
  cluster.behaviours.set(
    5,
    cheatingDealer(
      (deal) => rewriteDealBoxes(id(5), deal, group, commitments, [1]),
      (honest) => (req, round) => {
        if (round === 'reveal') throw new Error('withholding the reveal');
        return honest(req, round);
      },
    ),
  );
  // Server 7: wrong sub-shares to servers 8 and 9, then reveals wrong values.
  cluster.behaviours.set(
    7,
    cheatingDealer(
      (deal) => rewriteDealBoxes(id(7), deal, group, commitments, [8, 9]),
      (honest) => (req, round) => {
        const out = honest(req, round);
        return round === 'reveal'
          ? flipBodyByte(id(7), out, HEADER_BYTES + 32 + 2 + 2 + group.scalarBytes - 1)
          : out;
      },
    ),
  );
  const message = secureRandom.bytes(64);
  const result = cluster.run<SigningResult>(coordinator(info, parties, message));
  assertValid(pem, message, result);
  assert.deepEqual(blamed(result.culprits), [2, 5, 7]);
  assert.ok(result.culprits.some((c) => c.party === 2 && /accused by 4 > t/.test(c.reason)));
  assert.ok(result.culprits.some((c) => c.party === 5 && /withheld its reveal/.test(c.reason)));
  assert.ok(result.culprits.some((c) => c.party === 7 && /do not match its commitments/.test(c.reason)));
});

void test('a complaint answered by a valid reveal keeps the dealer, and nobody is blamed (n=4, t=1)', () => {
  const group = SECP256K1_GROUP;
  const { cluster, parties, info, pem } = importedCluster(group, 4, 1);
  // Server 3 seals a wrong sub-share to server 4 but reveals the right one when accused.
  cluster.behaviours.set(
    3,
    cheatingDealer((deal) =>
      rewriteDealBoxes(parties.identities.get(3)!, deal, group, signingCommitments(1), [4]),
    ),
  );
  const message = secureRandom.bytes(64);
  const c = coordinator(info, parties, message);
  const rounds: string[] = [];
  let step: SendStep | SigningResult = c.start();
  while (step.kind === 'send') {
    rounds.push(step.round);
    step = c.next(cluster.deliver(step));
  }
  assert.deepEqual(rounds, ['open', 'deals', 'reveal', 'phase1', 'phase2']);
  assertValid(pem, message, step);
  assert.deepEqual(step.culprits, []);
  assert.deepEqual(cluster.refusals, []);
});

void test('wrong phase answers are detected by their proofs and named; signing succeeds (n=10, t=3)', () => {
  const group = P256_GROUP;
  const { cluster, parties, info, pem } = importedCluster(group, 10, 3);
  const id = (j: number) => parties.identities.get(j)!;
  const E = group.elementBytes;
  const S = group.scalarBytes;
  // Server 3: wrong v_3 = k_3 a_3 + b_3 in phase 1.
  cluster.behaviours.set(3, (honest) => (req, round) => {
    const out = honest(req, round);
    return round === 'phase1' ? flipBodyByte(id(3), out, HEADER_BYTES + 32 + E + S - 1) : out;
  });
  // Server 9: A_9 replaced by g (a valid group element, but not g^{a_9}).
  cluster.behaviours.set(9, (honest) => (req, round) => {
    const out = honest(req, round);
    if (round !== 'phase1') return out;
    return tamper(id(9), out, (body) => body.set(group.encodeElement(group.g), HEADER_BYTES + 32));
  });
  // Server 6: wrong s_6 in phase 2.
  cluster.behaviours.set(6, (honest) => (req, round) => {
    const out = honest(req, round);
    return round === 'phase2' ? flipBodyByte(id(6), out, HEADER_BYTES + 32 + 2 * S - 1) : out;
  });
  const message = secureRandom.bytes(64);
  const result = cluster.run<SigningResult>(coordinator(info, parties, message));
  assertValid(pem, message, result);
  assert.deepEqual(blamed(result.culprits), [3, 6, 9]);
  assert.ok(result.culprits.some((c) => c.party === 3 && /phase-1 answer fails its proof/.test(c.reason)));
  assert.ok(result.culprits.some((c) => c.party === 9 && /phase-1 answer fails its proof/.test(c.reason)));
  assert.ok(result.culprits.some((c) => c.party === 6 && /phase-2 answer fails its proof/.test(c.reason)));
});

void test('withheld answers are named; signing succeeds with 2t+1 of n (n=10, t=3)', () => {
  const { cluster, parties, info, pem } = importedCluster(P256_GROUP, 10, 3);
  const silentIn =
    (round: string) =>
    (honest: (r: Uint8Array, round: string) => Uint8Array) =>
    (req: Uint8Array, r: string) => {
      if (r === round) throw new Error('silent');
      return honest(req, r);
    };
  cluster.behaviours.set(10, silentIn('open'));
  cluster.behaviours.set(8, silentIn('phase1'));
  cluster.behaviours.set(4, silentIn('phase2'));
  const message = secureRandom.bytes(64);
  const result = cluster.run<SigningResult>(coordinator(info, parties, message));
  assertValid(pem, message, result);
  assert.deepEqual(blamed(result.culprits), [4, 8, 10]);
  assert.ok(result.culprits.every((c) => /withheld/.test(c.reason)));
});

void test('beyond the tolerance signing fails with a clear error naming the culprits, and outputs nothing', () => {
  const group = P256_GROUP;
  const { cluster, parties, info } = importedCluster(group, 10, 3);
  for (const j of [1, 4, 7, 10])
    cluster.behaviours.set(j, (honest) => (req, round) => {
      const out = honest(req, round);
      return round === 'phase2'
        ? flipBodyByte(parties.identities.get(j)!, out, HEADER_BYTES + 32 + 2 * group.scalarBytes - 1)
        : out;
    });
  let output: unknown;
  assert.throws(
    () => {
      output = cluster.run<SigningResult>(coordinator(info, parties, secureRandom.bytes(64)));
    },
    (e: unknown) => {
      assert.ok(e instanceof GjkrFailure);
      assert.match(e.message, /only 6 valid phase-2 answers, 2t\+1 = 7 needed/);
      assert.deepEqual(blamed(e.culprits), [1, 4, 7, 10]);
      return true;
    },
  );
  assert.equal(output, undefined);

  const small = importedCluster(SECP256K1_GROUP, 4, 1);
  for (const j of [2, 3])
    small.cluster.behaviours.set(j, () => () => {
      throw new Error('down');
    });
  assert.throws(
    () => small.cluster.run<SigningResult>(coordinator(small.info, small.parties, secureRandom.bytes(8))),
    (e: unknown) =>
      e instanceof GjkrFailure &&
      /only 2 valid deals, 3 needed/.test(e.message) &&
      blamed(e.culprits).join() === '2,3',
  );
});

void test('distributed key generation with a cheating dealer: it is disqualified and named, the key works (n=4, t=1)', () => {
  const group = P256_GROUP;
  const parties = makeParties(4);
  const cluster = new Cluster(parties.identities);
  cluster.behaviours.set(
    3,
    cheatingDealer((deal) => rewriteDealBoxes(parties.identities.get(3)!, deal, group, 2, [1, 2])),
  );
  const key = cluster.run<DkgResult>(
    new DkgCoordinator({ sid: secureRandom.bytes(32), group, n: 4, t: 1 }, parties.directory),
  );
  assert.deepEqual(blamed(key.culprits), [3]);
  assert.deepEqual(key.stored, [1, 2, 4]);
  assert.deepEqual([...key.info.verificationShares.keys()], [1, 2, 4]);
  assert.ok(key.culprits.some((c) => c.party === 3 && /accused by 2 > t/.test(c.reason)));
  assert.equal(cluster.shares.get(3), undefined, 'the disqualified dealer gets no share');
  cluster.behaviours.clear();
  const message = secureRandom.bytes(32);
  const result = cluster.run<SigningResult>(coordinator(key.info, parties, message));
  assertValid(key.publicKeyPem, message, result);
});

/** Runs a session step by step, keeping every request. */
function runKeeping(
  cluster: Cluster,
  c: SigningCoordinator,
): { requests: Map<string, SendStep>; result: SigningResult } {
  const requests = new Map<string, SendStep>();
  let step: SendStep | SigningResult = c.start();
  while (step.kind === 'send') {
    requests.set(step.round, step);
    step = c.next(cluster.deliver(step));
  }
  return { requests, result: step };
}

function refusal(e: unknown, kind: GjkrSessionError['refusal']): boolean {
  return e instanceof GjkrSessionError && e.refusal === kind;
}

void test('replays: phase 2 of a finished session, a reused session id, a repeated phase 1, phase 2 out of order', () => {
  const { cluster, parties, info } = importedCluster(P256_GROUP, 4, 1);
  const server = (j: number) => cluster.servers.get(j)!;
  const { requests } = runKeeping(cluster, coordinator(info, parties, secureRandom.bytes(32)));
  // The session is erased at every server after phase 2; replaying phase 2 (or anything) is refused.
  assert.throws(
    () => server(1).handle(requests.get('phase2')!.request, cluster.nowMs),
    (e) => refusal(e, 'finished'),
  );
  assert.throws(
    () => server(2).handle(requests.get('phase1')!.request, cluster.nowMs),
    (e) => refusal(e, 'finished'),
  );
  // Reopening the same session id is refused.
  assert.throws(
    () => server(3).handle(requests.get('open')!.request, cluster.nowMs),
    (e) => refusal(e, 'session-id-reused'),
  );

  // A fresh session: phase 1 twice is refused as a replay, and the refusal erases the session.
  const c = coordinator(info, parties, secureRandom.bytes(32));
  let step = c.start();
  step = c.next(cluster.deliver(step)) as SendStep; // deals
  const deals = step;
  step = c.next(cluster.deliver(step)) as SendStep; // phase 1
  assert.equal(step.round, 'phase1');
  const before = server(2).activeSessions;
  // Server 2 first gets phase 2 before phase 1: out of order; the session is erased.
  const early = new Uint8Array(step.request);
  early[0] = 0x06; // the phase-2 tag with phase-1 content: rejected by the round check before parsing
  assert.throws(
    () => server(2).handle(early, cluster.nowMs),
    (e) => refusal(e, 'out-of-order'),
  );
  assert.equal(server(2).activeSessions, before - 1);
  // Server 3 answers phase 1 once; the same request again is a replay.
  server(3).handle(step.request, cluster.nowMs);
  assert.throws(
    () => server(3).handle(step.request, cluster.nowMs),
    (e) => refusal(e, 'replayed'),
  );
  assert.throws(
    () => server(3).handle(deals.request, cluster.nowMs),
    (e) => refusal(e, 'finished'),
  );
});

void test('a server never answers phase 2 twice: the reference implementation’s key-recovery attack is refused', () => {
  // REFERENCE.md §8.2: two phase-2 answers for one k_i give k and then x. Here the client tries to get a
  // second s_1 for the same session by relaying a different subset of phase-1 answers.
  const { cluster, parties, info, pem } = importedCluster(P256_GROUP, 4, 1);
  const message = secureRandom.bytes(32);
  const c = coordinator(info, parties, message);
  let step = c.start();
  step = c.next(cluster.deliver(step)) as SendStep;
  step = c.next(cluster.deliver(step)) as SendStep;
  const phase1Answers = cluster.deliver(step);
  const phase2 = c.next(phase1Answers) as SendStep;
  assert.equal(phase2.round, 'phase2');
  const first = cluster.servers.get(1)!.handle(phase2.request, cluster.nowMs);
  assert.ok(first.response.length > 0);
  assert.throws(
    () => cluster.servers.get(1)!.handle(phase2.request, cluster.nowMs),
    (e) => refusal(e, 'finished'),
  );
  // Other servers still answer once each; the client gets a valid signature from 2t+1 of them.
  const rest = cluster.deliver({ ...phase2, to: [2, 3, 4] });
  rest.set(1, first.response);
  const result = c.next(rest) as SigningResult;
  assert.equal(result.kind, 'signature');
  assertValid(pem, message, result);
});

void test('messages of one session are useless in another; expired sessions are erased', () => {
  const { cluster, parties, info } = importedCluster(SECP256K1_GROUP, 4, 1);
  const a = coordinator(info, parties, secureRandom.bytes(16));
  const b = coordinator(info, parties, secureRandom.bytes(16));
  const openA = cluster.deliver(a.start());
  const openB = cluster.deliver(b.start());
  // The client of session B is handed server 2's deal from session A: server 2 is named, B goes on.
  const mixed = new Map(openB);
  mixed.set(2, openA.get(2));
  const stepB = b.next(mixed) as SendStep;
  assert.ok(b.culprits.some((c) => c.party === 2 && /another session/.test(c.reason)));
  assert.deepEqual([...stepB.to], [1, 3, 4]);
  // A relay that smuggles session A's deal into session B's deals request is refused by the server.
  const stepA = a.next(openA) as SendStep;
  assert.throws(
    () =>
      cluster.servers
        .get(3)!
        .handle(
          new Uint8Array([
            ...stepA.request.subarray(0, 1),
            ...stepB.request.subarray(1, 33),
            ...stepA.request.subarray(33),
          ]),
          cluster.nowMs,
        ),
    (e) => e instanceof GjkrRequestError && /another session/.test(e.message),
  );
  // Expiry: session A is erased after its time to live.
  cluster.nowMs += 120_000;
  assert.throws(
    () => cluster.servers.get(1)!.handle(stepA.request, cluster.nowMs),
    (e) => refusal(e, 'expired'),
  );
  assert.equal(cluster.servers.get(1)!.activeSessions, 1);
  assert.equal(cluster.servers.get(4)!.expire(cluster.nowMs), 2);
  assert.equal(cluster.servers.get(4)!.activeSessions, 0);
  assert.throws(
    () => cluster.servers.get(4)!.handle(stepA.request, cluster.nowMs),
    (e) => refusal(e, 'finished'),
  );
});

void test('two concurrent sessions on the same servers do not interfere', () => {
  const { cluster, parties, info, pem } = importedCluster(P256_GROUP, 4, 1);
  const m1 = secureRandom.bytes(40);
  const m2 = secureRandom.bytes(40);
  const c1 = coordinator(info, parties, m1);
  const c2 = coordinator(info, parties, m2);
  let s1: SendStep | SigningResult = c1.start();
  let s2: SendStep | SigningResult = c2.start();
  while (s1.kind === 'send' || s2.kind === 'send') {
    if (s1.kind === 'send') s1 = c1.next(cluster.deliver(s1));
    if (s2.kind === 'send') s2 = c2.next(cluster.deliver(s2));
  }
  assertValid(pem, m1, s1);
  assertValid(pem, m2, s2);
  assert.notEqual(s1.r, s2.r);
  assert.equal(cluster.refusals.length, 0);
});

void test('the key never appears: after DKG and signing neither the client nor any server holds x', () => {
  const group = P256_GROUP;
  const parties = makeParties(4);
  const cluster = new Cluster(parties.identities);
  const dkg = new DkgCoordinator({ sid: secureRandom.bytes(32), group, n: 4, t: 1 }, parties.directory);
  const key = cluster.run<DkgResult>(dkg);
  const message = secureRandom.bytes(32);
  const signer = coordinator(key.info, parties, message);
  const result = cluster.run<SigningResult>(signer);
  assertValid(key.publicKeyPem, message, result);
  // Only the test can compute x, from t+1 = 2 shares.
  const x = interpolate(group, new Map([1, 2].map((j) => [j, cluster.shares.get(j)![0]!.x])));
  assert.ok(group.equals(group.exp(group.g, x), key.info.y), 'x reconstructed by the test is the key');
  const xBytes = encodeScalar(group, x);
  assert.equal(
    containsSecret({ dkg, key, signer, result }, x, xBytes),
    false,
    'client state never contains x',
  );
  for (const [j, server] of cluster.servers) {
    assert.equal(containsSecret(server, x, xBytes), false, `server ${j} session state never contains x`);
    assert.notEqual(cluster.shares.get(j)![0]!.x, x);
  }
  // The scan does find secrets that are there (so the assertions above can fail).
  const share1 = cluster.shares.get(1)![0]!;
  assert.equal(containsSecret({ share1 }, share1.x, encodeScalar(group, share1.x)), true);
});

void test('a dealer reveals nothing to a complainer that does not take part in the session', () => {
  // Servers 1, 2, 3, 4, 6 sign (n = 7, t = 2), server 5 does not. Server 5 signs a complaint with the session's
  // (public) context accusing dealer 1; a relay that hands it to dealer 1 must not obtain f_1(5) in clear.
  const group = P256_GROUP;
  const { cluster, parties, info } = importedCluster(group, 7, 2);
  const participants = [1, 2, 3, 4, 6];
  const message = secureRandom.bytes(32);
  const sid = secureRandom.bytes(32);
  const c = new SigningCoordinator({ info, message, sid, participants, directory: parties.directory });
  const open = c.start();
  const deals = c.next(cluster.deliver(open)) as SendStep;
  const complaints = cluster.deliver(deals);
  const digest = splitSigned(complaints.get(1)!).body.subarray(HEADER_BYTES, HEADER_BYTES + 32);
  const context = signContext(sid, keyIdOf(info), 'sha256', sha256(message), participants);
  const forged = signMessage(
    parties.identities.get(5)!,
    encodeComplaint(context, { complainer: 5, dealSetDigest: digest, accused: [1] }),
  );
  assert.throws(
    () => cluster.servers.get(1)!.handle(encodeRelay(REQUEST.reveal, sid, [[forged]]), cluster.nowMs),
    (e) => e instanceof GjkrRequestError && /does not take part/.test(e.message),
  );
});

void test('a server does not store a generated key whose public information leaves out its own verification share', () => {
  // A relay that drops server 1's verification share from the commit request would make server 1 store
  // (and acknowledge) a share it can never load back or sign with.
  const group = SECP256K1_GROUP;
  const parties = makeParties(4);
  const cluster = new Cluster(parties.identities);
  const dkg = new DkgCoordinator({ sid: secureRandom.bytes(32), group, n: 4, t: 1 }, parties.directory);
  let step = dkg.start();
  while (step.round !== 'commit') step = dkg.next(cluster.deliver(step)) as SendStep;
  const [finals] = decodeRelay(readRequestHeader(step.request), 1, 'commit');
  const sender = (m: Uint8Array) => {
    const { body } = splitSigned(m);
    return (body[HEADER_BYTES - 2]! << 8) | body[HEADER_BYTES - 1]!;
  };
  const others = finals!.filter((m) => sender(m) !== 1);
  assert.equal(others.length, 3);
  const request = encodeRelay(REQUEST.dkgCommit, step.request.subarray(1, 33), [others]);
  assert.throws(
    () => cluster.servers.get(1)!.handle(request, cluster.nowMs),
    (e) => e instanceof GjkrRequestError && /own verification share/.test(e.message),
  );
  // The honest relay still works for the others, and every stored share loads back.
  const answers = cluster.deliver({ ...step, to: [2, 3, 4] });
  const key = dkg.next(answers) as DkgResult;
  assert.deepEqual(key.stored, [2, 3, 4]);
  for (const j of [2, 3, 4]) decodeKeyShare(encodeKeyShare(cluster.shares.get(j)![0]!));
});
