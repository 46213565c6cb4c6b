// FROST(Ed25519, SHA-512) (RFC 9591): the RFC's known-answer vector through our signer and coordinator, DKG and
// dealer import, signing with any t signers, verification by node:crypto and the OpenSSL command line,
// culprits named for bad shares and bad DKG packages, and one-time nonces.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, verify as nodeVerify } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import {
  checkDkgAgreement,
  checkDkgRound1,
  dealEd25519Key,
  dkgGroupKey,
  frostAggregate,
  frostPublicKeyPem,
  frostSign,
  frostSignRequest,
  FrostProtocolError,
  FrostRequestError,
  FrostSigner,
  FrostThresholdError,
  validateGroupKey,
  x25519PublicKey,
  type DkgRound1Message,
  type DkgRound2Message,
  type FrostGroupKey,
  type FrostSignerEndpoint,
  type FrostSignResponse,
} from '../../src/crypto/threshold/frost-ed25519.js';
import { secureRandom, type Random } from '../../src/env/random.js';
import { dkgParticipants, endpoints, opensslVerifies, runDkg } from './frost-helpers.js';

const fromHex = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const utf8 = (s: string) => new Uint8Array(Buffer.from(s, 'utf8'));

/** A Random that replays scripted byte strings (for the RFC's nonce randomness). */
function scripted(chunks: Uint8Array[]): Random {
  return {
    bytes(n) {
      const c = chunks.shift();
      assert.ok(c !== undefined && c.length === n, `scripted random: unexpected request for ${n} bytes`);
      return c;
    },
    int: () => 0,
  };
}

function nodeVerifies(group: FrostGroupKey, message: Uint8Array, signature: Uint8Array): boolean {
  return nodeVerify(null, message, createPublicKey(frostPublicKeyPem(group)), signature);
}

/** All k-subsets of 1..n (small n only). */
function subsets(n: number, k: number): number[][] {
  const out: number[][] = [];
  const rec = (start: number, acc: number[]) => {
    if (acc.length === k) return void out.push(acc.slice());
    for (let i = start; i <= n; i++) rec(i + 1, [...acc, i]);
  };
  rec(1, []);
  return out;
}

void test('RFC 9591 Appendix E.1 FROST(Ed25519, SHA-512): our signer and coordinator reproduce the vector', () => {
  // Vector values from RFC 9591 Appendix E.1 (t = 2, n = 3, signers 1 and 3, message "test").
  const publicKey = fromHex('15d21ccd7ee42959562fc8aa63224c8851fb3ec85a3faf66040d380fb9738673');
  const coefficient1 = fromHex('178199860edd8c62f5212ee91eff1295d0d670ab4ed4506866bae57e7030b204');
  const a1 = BigInt('0x' + toHex(coefficient1.slice().reverse()));
  const c1 = ed25519.Point.BASE.multiply(a1).toBytes();
  const commitments = [publicKey, c1];
  const verifyingShares = [1, 2, 3].map((i) => {
    const P0 = ed25519.Point.fromBytes(publicKey);
    return P0.add(ed25519.Point.fromBytes(c1).multiply(BigInt(i))).toBytes();
  });
  const group: FrostGroupKey = { threshold: 2, participants: 3, publicKey, commitments, verifyingShares };
  validateGroupKey(group);
  const share1 = fromHex('929dcc590407aae7d388761cddb0c0db6f5627aea8e217f4a033f2ec83d93509');
  const share3 = fromHex('d3cb090a075eb154e82fdb4b3cb507f110040905468bb9c46da8bdea643a9a02');
  const signer1 = new FrostSigner(
    { group, index: 1, signingShare: share1 },
    scripted([
      fromHex('0fd2e39e111cdc266f6c0f4d0fd45c947761f1f5d3cb583dfcb9bbaf8d4c9fec'),
      fromHex('69cd85f631d5f7f2721ed5e40519b1366f340a87c2f6856363dbdcda348a7501'),
    ]),
  );
  const signer3 = new FrostSigner(
    { group, index: 3, signingShare: share3 },
    scripted([
      fromHex('86d64a260059e495d0fb4fcc17ea3da7452391baa494d4b00321098ed2a0062f'),
      fromHex('13e6b25afb2eba51716a9a7d44130c0dbae0004a9ef8d7b5550c8a0e07c61775'),
    ]),
  );
  const sessionId = new Uint8Array(32).fill(7);
  const c1r = signer1.commit({ sessionId });
  const c3r = signer3.commit({ sessionId });
  assert.equal(toHex(c1r.hiding), 'b5aa8ab305882a6fc69cbee9327e5a45e54c08af61ae77cb8207be3d2ce13de3');
  assert.equal(toHex(c1r.binding), '67e98ab55aa310c3120418e5050c9cf76cf387cb20ac9e4b6fdb6f82a469f932');
  assert.equal(toHex(c3r.hiding), 'cfbdb165bd8aad6eb79deb8d287bcc0ab6658ae57fdcc98ed12c0669e90aec91');
  assert.equal(toHex(c3r.binding), '7487bc41a6e712eea2f2af24681b58b1cf1da278ea11fe4e8b78398965f13552');
  const message = utf8('test');
  const request = frostSignRequest(group, sessionId, message, [c3r, c1r]);
  const s1 = signer1.sign(request);
  const s3 = signer3.sign(request);
  assert.equal(toHex(s1.share), '001719ab5a53ee1a12095cd088fd149702c0720ce5fd2f29dbecf24b7281b603');
  assert.equal(toHex(s3.share), 'bd86125de990acc5e1f13781d8e32c03a9bbd4c53539bbc106058bfd14326007');
  const signature = frostAggregate(group, request, [s1, s3]);
  assert.equal(
    toHex(signature),
    '36282629c383bb820a88b71cae937d41f2f2adfcc3d02e55507e2fb9e2dd3cbe' +
      'bd9d2b0844e49ae0f3fa935161e1419aab7b47d21a37ebeae1f17d4987b3160b',
  );
  assert.ok(nodeVerifies(group, message, signature));
});

void test('DKG n = 4, t = 3: every 3-subset signs; node:crypto and OpenSSL verify', async () => {
  const { group, shares } = runDkg(4, 3);
  assert.equal(group.threshold, 3);
  assert.equal(group.participants, 4);
  // Every participant's share is consistent with the agreed group key.
  for (const s of shares) assert.deepEqual(s.group, group);
  const pem = frostPublicKeyPem(group);
  assert.match(pem, /^-----BEGIN PUBLIC KEY-----/);
  for (const set of subsets(4, 3)) {
    const message = utf8(`message signed by ${set.join(',')}`);
    const result = await frostSign({
      group,
      message,
      endpoints: endpoints(shares, set),
      random: secureRandom,
    });
    assert.deepEqual(result.signers, set);
    assert.deepEqual(result.culprits, []);
    assert.ok(
      nodeVerifies(group, message, result.signature),
      `node:crypto rejects the signature of ${set.join(',')}`,
    );
    assert.ok(
      opensslVerifies(pem, message, result.signature),
      `OpenSSL rejects the signature of ${set.join(',')}`,
    );
  }
  // The OpenSSL check can fail: a changed message is rejected.
  const message = utf8('original');
  const { signature } = await frostSign({
    group,
    message,
    endpoints: endpoints(shares),
    random: secureRandom,
  });
  assert.equal(opensslVerifies(pem, utf8('0riginal'), signature), false);
  assert.equal(nodeVerifies(group, utf8('0riginal'), signature), false);
});

void test('DKG n = 10, t = 7: several 7-sets sign; node:crypto and OpenSSL verify', async () => {
  const { group, shares } = runDkg(10, 7);
  const pem = frostPublicKeyPem(group);
  const sets = [
    [1, 2, 3, 4, 5, 6, 7],
    [4, 5, 6, 7, 8, 9, 10],
    [1, 3, 5, 7, 8, 9, 10],
  ];
  for (const set of sets) {
    const message = secureRandom.bytes(200);
    const result = await frostSign({
      group,
      message,
      endpoints: endpoints(shares, set),
      random: secureRandom,
    });
    assert.deepEqual(result.signers, set);
    assert.ok(nodeVerifies(group, message, result.signature));
    assert.ok(opensslVerifies(pem, message, result.signature));
  }
});

void test('dealer import of an existing Ed25519 key: same public key, threshold signatures verify under it', async () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const privateKeyPem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  const publicKeyPem = publicKey.export({ format: 'pem', type: 'spki' }).toString();
  const { group, shares } = dealEd25519Key({
    privateKeyPem,
    threshold: 3,
    participants: 5,
    random: secureRandom,
  });
  assert.equal(frostPublicKeyPem(group), publicKeyPem);
  const message = utf8('imported key, threshold signature');
  const result = await frostSign({
    group,
    message,
    endpoints: endpoints(shares, [2, 4, 5]),
    random: secureRandom,
  });
  assert.ok(nodeVerify(null, message, publicKey, result.signature));
  assert.ok(opensslVerifies(publicKeyPem, message, result.signature));
  assert.throws(
    () =>
      dealEd25519Key({
        privateKeyPem: generateKeyPairSync('x25519')
          .privateKey.export({ format: 'pem', type: 'pkcs8' })
          .toString(),
        threshold: 2,
        participants: 3,
        random: secureRandom,
      }),
    RangeError,
  );
});

void test('a signer sending a bad share is named and signing succeeds with another t-set', async () => {
  const { group, shares } = runDkg(5, 3);
  const eps = endpoints(shares).map((e) =>
    e.index !== 2
      ? e
      : {
          ...e,
          sign: async (r: Parameters<FrostSignerEndpoint['sign']>[0]): Promise<FrostSignResponse> => {
            const good = await e.sign(r);
            const share = good.share.slice();
            share[0]! ^= 1;
            return { ...good, share };
          },
        },
  );
  const message = utf8('sign despite one liar');
  const result = await frostSign({ group, message, endpoints: eps, random: secureRandom });
  assert.deepEqual(result.culprits, [2]);
  assert.ok(!result.signers.includes(2));
  assert.equal(result.signers.length, 3);
  assert.ok(nodeVerifies(group, message, result.signature));

  // The coordinator names the culprit directly too.
  const signers = [1, 2, 3].map((i) => new FrostSigner(shares[i - 1]!, secureRandom));
  const sessionId = secureRandom.bytes(32);
  const request = frostSignRequest(
    group,
    sessionId,
    message,
    signers.map((s) => s.commit({ sessionId })),
  );
  const responses = signers.map((s) => s.sign(request));
  responses[1] = { ...responses[1]!, share: responses[0]!.share };
  assert.throws(
    () => frostAggregate(group, request, responses),
    (e: unknown) => e instanceof FrostProtocolError && e.culprits.join() === '2',
  );
});

void test('fewer than t usable signers: clear error naming culprits, no signature', async () => {
  const { group, shares } = runDkg(4, 3);
  await assert.rejects(
    frostSign({ group, message: utf8('x'), endpoints: endpoints(shares, [1, 4]), random: secureRandom }),
    (e: unknown) => e instanceof FrostThresholdError && /2 usable signers of 3 needed/.test(e.message),
  );
  // Two liars and one unavailable signer out of four: beyond the tolerance of a 3-of-4 key.
  const eps = endpoints(shares).map((e) => {
    if (e.index === 1) return { ...e, commit: async () => Promise.reject(new Error('down')) };
    if (e.index === 2 || e.index === 3)
      return {
        ...e,
        sign: async (r: Parameters<FrostSignerEndpoint['sign']>[0]) => ({
          ...(await e.sign(r)),
          share: new Uint8Array(32).fill(1),
        }),
      };
    return e;
  });
  await assert.rejects(
    frostSign({ group, message: utf8('y'), endpoints: eps, random: secureRandom }),
    (e: unknown) =>
      e instanceof FrostThresholdError && e.culprits.join() === '2,3' && e.unavailable.join() === '1',
  );
});

void test('nonces are single-use: a replayed round-2 request or a reused session identifier is refused', () => {
  const { group, shares } = runDkg(3, 2);
  const signers = shares.slice(0, 2).map((s) => new FrostSigner(s, secureRandom));
  const sessionId = secureRandom.bytes(32);
  const message = utf8('once');
  const request = frostSignRequest(
    group,
    sessionId,
    message,
    signers.map((s) => s.commit({ sessionId })),
  );
  assert.equal(signers[0]!.openSessions, 1);
  const responses = signers.map((s) => s.sign(request));
  assert.equal(signers[0]!.openSessions, 0);
  assert.ok(nodeVerifies(group, message, frostAggregate(group, request, responses)));
  assert.throws(
    () => signers[0]!.sign(request),
    (e: unknown) => e instanceof FrostRequestError && /finished/.test(e.message),
  );
  assert.throws(() => signers[0]!.sign({ ...request, message: utf8('other') }), FrostRequestError);
  assert.throws(() => signers[0]!.commit({ sessionId }), FrostRequestError);
  // A malformed request still ends the session: its nonces never sign anything.
  const sid2 = secureRandom.bytes(32);
  const request2 = frostSignRequest(
    group,
    sid2,
    message,
    signers.map((s) => s.commit({ sessionId: sid2 })),
  );
  assert.throws(
    () =>
      signers[0]!.sign({ ...request2, commitments: [request2.commitments[0]!, request2.commitments[0]!] }),
    FrostRequestError,
  );
  assert.throws(
    () => signers[0]!.sign(request2),
    (e: unknown) => e instanceof FrostRequestError && /finished/.test(e.message),
  );
  assert.throws(
    () => signers[1]!.sign({ sessionId: new Uint8Array(4), message, commitments: [] }),
    FrostRequestError,
  );
});

void test('DKG: a tampered round-2 package, a bad proof of knowledge and relay equivocation name the sender', () => {
  // Tampered sealed share from 2 to 3.
  {
    const parties = dkgParticipants(4, 3);
    const round1 = parties.map((p) => p.round1);
    const round2 = parties.flatMap((p) => p.round2Packages(round1));
    const to3 = round2.filter((m) => m.recipient === 3);
    const k = to3.findIndex((m) => m.sender === 2);
    const ct = to3[k]!.ciphertext.slice();
    ct[5]! ^= 0x80;
    to3[k] = { ...to3[k]!, ciphertext: ct };
    assert.throws(
      () => parties[2]!.finish(to3),
      (e: unknown) => e instanceof FrostProtocolError && e.culprits.join() === '2',
    );
    // The other recipients finish normally.
    const s1 = parties[0]!.finish(round2.filter((m) => m.recipient === 1));
    assert.equal(s1.group.threshold, 3);
  }
  // Bad proof of knowledge from 4.
  {
    const parties = dkgParticipants(4, 3);
    const round1: DkgRound1Message[] = parties.map((p) => p.round1);
    const pok = round1[3]!.proofOfKnowledge.slice();
    pok[40]! ^= 1;
    round1[3] = { ...round1[3]!, proofOfKnowledge: pok };
    assert.throws(
      () => parties[0]!.round2Packages(round1),
      (e: unknown) => e instanceof FrostProtocolError && e.culprits.join() === '4',
    );
  }
  // The relay shows participant 1 a different (well-formed) round-1 broadcast of participant 4: one the
  // relay made itself for this very session (a proof of knowledge shows that its maker knows the secret,
  // not who the maker is), so only the transcript hash sealed into the round-2 packages catches it.
  {
    const sessionId = secureRandom.bytes(32);
    const statics = Array.from({ length: 4 }, () => secureRandom.bytes(32));
    const parties = dkgParticipants(4, 3, sessionId, statics);
    const round1 = parties.map((p) => p.round1);
    const forged = dkgParticipants(4, 3, sessionId, statics)[3]!.round1;
    const packages: DkgRound2Message[] = [
      ...parties[0]!.round2Packages([round1[0]!, round1[1]!, round1[2]!, forged]),
      ...parties.slice(1).flatMap((p) => p.round2Packages(round1)),
    ];
    assert.throws(
      () => parties[1]!.finish(packages.filter((m) => m.recipient === 2)),
      (e: unknown) => e instanceof FrostProtocolError && e.culprits.join() === '1',
    );
  }
});

void test('entry checks: parameters, indices, session identifiers and key shares', () => {
  const { group, shares } = runDkg(3, 2);
  assert.throws(() => new FrostSigner({ ...shares[0]!, index: 4 }, secureRandom), RangeError);
  assert.throws(
    () => new FrostSigner({ ...shares[0]!, signingShare: shares[1]!.signingShare }, secureRandom),
    RangeError,
  );
  assert.throws(() => dkgParticipants(3, 4), RangeError);
  assert.throws(() => dkgParticipants(3, 1), RangeError);
  assert.throws(() => frostSignRequest(group, new Uint8Array(8), utf8('m'), []), RangeError);
  assert.throws(
    () =>
      validateGroupKey({
        ...group,
        verifyingShares: [group.verifyingShares[1]!, group.verifyingShares[0]!, group.verifyingShares[2]!],
      }),
    RangeError,
  );
  const signer = new FrostSigner(shares[0]!, secureRandom);
  signer.destroy();
  assert.throws(() => signer.commit({ sessionId: secureRandom.bytes(32) }), FrostRequestError);
  assert.ok(
    shares[0]!.signingShare.some((b) => b !== 0),
    "destroy() zeroes the signer's own copy only",
  );
});

void test('DKG: a proof of knowledge is bound to its session (Komlo–Goldberg context): a round-1 broadcast replayed from another session is refused, naming its sender', () => {
  // The same group (same static keys) runs two DKG sessions; the relay replays participant 4's round-1
  // broadcast of session B into session A, relabelled with A's identifier.
  const statics = Array.from({ length: 4 }, () => secureRandom.bytes(32));
  const a = dkgParticipants(4, 3, secureRandom.bytes(32), statics);
  const b = dkgParticipants(4, 3, secureRandom.bytes(32), statics);
  const round1 = a.map((p) => p.round1);
  const replayed: DkgRound1Message = { ...b[3]!.round1, sessionId: round1[3]!.sessionId };
  assert.throws(
    () => a[0]!.round2Packages([round1[0]!, round1[1]!, round1[2]!, replayed]),
    (e: unknown) => e instanceof FrostProtocolError && e.culprits.join() === '4',
  );
  const context = {
    sessionId: round1[0]!.sessionId,
    threshold: 3,
    participants: 4,
    staticPublicKeys: statics.map(x25519PublicKey),
  };
  assert.throws(
    () => checkDkgRound1(context, [round1[0]!, round1[1]!, round1[2]!, replayed]),
    (e: unknown) => e instanceof FrostProtocolError && e.culprits.join() === '4',
  );
  // Without the replay the session completes, and the coordinator derives the agreed group key from the
  // round-1 broadcasts alone.
  const sessionId = secureRandom.bytes(32);
  const fresh = dkgParticipants(4, 3, sessionId, statics);
  const r1 = fresh.map((p) => p.round1);
  checkDkgRound1({ ...context, sessionId }, r1);
  const r2 = fresh.flatMap((p) => p.round2Packages(r1));
  const shares = fresh.map((p) => p.finish(r2.filter((m) => m.recipient === p.index)));
  assert.deepEqual(dkgGroupKey({ ...context, sessionId }, r1), checkDkgAgreement(shares));
});

void test('DKG: a dealer whose sealed shares do not lie on its committed polynomial is named by every recipient (VSS check)', () => {
  const parties = dkgParticipants(4, 3);
  // Participant 2 turns malicious after its broadcast: it evaluates a different polynomial than the one it
  // committed to, and seals the resulting shares correctly (they authenticate, only the VSS check fails).
  const secret = (parties[1] as unknown as { secret: { coefficients: bigint[] } }).secret;
  secret.coefficients[1]! += 1n;
  const round1 = parties.map((p) => p.round1);
  const round2 = parties.flatMap((p) => p.round2Packages(round1));
  for (const recipient of [1, 3, 4])
    assert.throws(
      () => parties[recipient - 1]!.finish(round2.filter((m) => m.recipient === recipient)),
      (e: unknown) => e instanceof FrostProtocolError && e.culprits.join() === '2' && /VSS/.test(e.message),
    );
});
