// Certificates, the web-of-trust graph and revocation proofs (src/trust): every certification verified
// before it is an edge, order-independent views, presence by sequence number, permanent revocation on
// re-checkable proofs only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { CodecError, toHex, utf8 } from '../../src/codec/bytes.js';
import { sign, signingKeyFromSeed, type SigningKey } from '../../src/crypto/ed25519.js';
import { sha256 } from '../../src/crypto/hash.js';
import {
  bodyStatement,
  certify,
  createCertificate,
  decodeCertificate,
  encodeCertificate,
  nodeIdOf,
  verifyCertification,
  verifySelfSignature,
  withCertifications,
  type Certificate,
  type CertificateBody,
  type Certification,
} from '../../src/trust/certificate.js';
import { TrustGraph, type Presence } from '../../src/trust/graph.js';
import {
  accusedOf,
  decodeRevocationProof,
  encodeRevocationProof,
  verifyRevocationProof,
  type RevocationProof,
} from '../../src/trust/revocation.js';
import {
  presenceStatement,
  signerStatement,
  valueDigest,
  writerStatement,
} from '../../src/trust/statements.js';

const keyCache = new Map<string, SigningKey>();
/** A deterministic key per name. */
function keyOf(name: string): SigningKey {
  let k = keyCache.get(name);
  if (k === undefined) keyCache.set(name, (k = signingKeyFromSeed(sha256(utf8(`trust.test/${name}`)))));
  return k;
}

function server(name: string, serial = 1n, address = `sim://${name}`): Certificate {
  return createCertificate(keyOf(name), `${name}.bftkv.test`, address, serial);
}

/** `subject` with certifications by each issuer name. */
function certifiedBy(subject: Certificate, ...issuers: string[]): Certificate {
  return withCertifications(
    subject,
    issuers.map((i) => certify(keyOf(i), subject)),
  );
}

/** A certification that claims `issuer` but carries a signature nobody made. */
function forged(issuer: string): Certification {
  const junk = new Uint8Array([...sha256(utf8(`forged/${issuer}`)), ...sha256(utf8(`forged2/${issuer}`))]);
  return { issuer: nodeIdOf(keyOf(issuer).publicKey), signature: junk };
}

function presence(name: string, seq: bigint, present: boolean): Presence {
  const id = nodeIdOf(keyOf(name).publicKey);
  return { id, seq, present, signature: sign(keyOf(name), presenceStatement(id, seq, present)) };
}

function idOf(name: string): string {
  return nodeIdOf(keyOf(name).publicKey);
}

function edges(g: TrustGraph): Set<string> {
  const view = g.view();
  const out = new Set<string>();
  for (const a of view.vertices) for (const b of view.out(a)) out.add(`${a}>${b}`);
  return out;
}

function hasEdge(g: TrustGraph, issuer: string, subject: string): boolean {
  return g.view().out(idOf(issuer)).has(idOf(subject));
}

function assertCodecError(fn: () => unknown, message?: string): void {
  assert.throws(fn, (e: unknown) => e instanceof CodecError, message);
}

// ------------------------------------------------------------------------------------------ certificates

void test('round trips a certificate with certifications through encode/decode', () => {
  const cert = certifiedBy(server('a'), 'b', 'c', 'd');
  assert.equal(cert.certifications.length, 3);
  const decoded = decodeCertificate(encodeCertificate(cert));
  assert.deepEqual(decoded, cert);
  assert.equal(verifySelfSignature(decoded), true);
  const client = createCertificate(keyOf('client'), 'alice@example.com');
  assert.deepEqual(decodeCertificate(encodeCertificate(client)), client);
  assert.equal(client.body.address, '');
  assert.equal(client.body.serial, 1n);
});

void test('derives the NodeId from the public key (first 16 bytes of SHA-256 of tag and key)', () => {
  const key = keyOf('a');
  const expected = createHash('sha256')
    .update('bftkv/node-id/v1')
    .update(key.publicKey)
    .digest()
    .subarray(0, 16)
    .toString('hex');
  assert.equal(nodeIdOf(key.publicKey), expected);
  assert.equal(server('a').id, expected);
  assert.match(expected, /^[0-9a-f]{32}$/);
  // The ID is not on the wire: the decoder derives it from the key.
  const claimed = { ...server('a'), id: idOf('b') };
  assert.equal(decodeCertificate(encodeCertificate(claimed)).id, expected);
});

void test('rejects a certificate whose self-signature does not cover its body or whose ID is not its key', () => {
  const cert = server('a');
  assert.equal(verifySelfSignature(cert), true);
  const moved = { ...cert, body: { ...cert.body, address: 'sim://elsewhere' } };
  assert.equal(verifySelfSignature(moved), false);
  const renamed = { ...cert, body: { ...cert.body, uid: 'mallory@example.com' } };
  assert.equal(verifySelfSignature(renamed), false);
  const bumped = { ...cert, body: { ...cert.body, serial: 2n } };
  assert.equal(verifySelfSignature(bumped), false);
  const otherSigner = { ...cert, selfSignature: sign(keyOf('b'), bodyStatement(cert.body)) };
  assert.equal(verifySelfSignature(otherSigner), false);
  const wrongId = { ...cert, id: idOf('b') };
  assert.equal(verifySelfSignature(wrongId), false);
  const g = new TrustGraph();
  assert.equal(g.addCertificate(moved).rejection, 'bad-self-signature');
  assert.equal(g.view().vertices.size, 0);
});

void test('verifies a certification by its issuer and rejects one by another key or over another subject', () => {
  const a = server('a');
  const b = server('b');
  const c = certify(keyOf('b'), a);
  assert.equal(c.issuer, b.id);
  assert.equal(verifyCertification(a, c, keyOf('b').publicKey), true);
  // Claimed issuer b, checked against c's key: the key does not match the issuer ID.
  assert.equal(verifyCertification(a, c, keyOf('c').publicKey), false);
  // Signed by c but claiming issuer b.
  const lying = { issuer: b.id, signature: certify(keyOf('c'), a).signature };
  assert.equal(verifyCertification(a, lying, keyOf('b').publicKey), false);
  // A certification of a presented for d.
  assert.equal(verifyCertification(server('d'), c, keyOf('b').publicKey), false);
  // It covers ID, key and UID — not the address, which may change with the serial.
  assert.equal(verifyCertification(server('a', 2n, 'sim://new'), c, keyOf('b').publicKey), true);
  const otherUid = createCertificate(keyOf('a'), 'other.bftkv.test', 'sim://a', 2n);
  assert.equal(verifyCertification(otherUid, c, keyOf('b').publicKey), false);
});

void test('rejects unsorted or duplicate certification issuers when decoding', () => {
  const a = certifiedBy(server('a'), 'b', 'c');
  const [first, second] = a.certifications as [Certification, Certification];
  assertCodecError(() => decodeCertificate(encodeCertificate({ ...a, certifications: [second, first] })));
  assertCodecError(() => decodeCertificate(encodeCertificate({ ...a, certifications: [first, first] })));
  assertCodecError(() =>
    decodeCertificate(
      encodeCertificate({
        ...a,
        certifications: [{ issuer: 'NOT-A-NODE-ID-0123456789abcdef0', signature: first.signature }],
      }),
    ),
  );
  assertCodecError(() => decodeCertificate(encodeCertificate({ ...a, body: { ...a.body, uid: '' } })));
});

void test('rejects a truncated certificate at every prefix length and trailing bytes', () => {
  const bytes = encodeCertificate(certifiedBy(server('a'), 'b', 'c'));
  for (let n = 0; n < bytes.length; n++)
    assertCodecError(() => decodeCertificate(bytes.subarray(0, n)), `prefix ${n}`);
  assertCodecError(() => decodeCertificate(new Uint8Array([...bytes, 0])));
});

// ------------------------------------------------------------------------------------------ trust graph

void test('turns a certification into an edge only when it verifies', () => {
  const g = new TrustGraph();
  const b = server('b');
  const a = withCertifications(server('a'), [certify(keyOf('b'), server('a')), forged('c')]);
  g.addCertificates([b, a, server('c')]);
  assert.equal(hasEdge(g, 'b', 'a'), true);
  assert.equal(hasEdge(g, 'c', 'a'), false);
  assert.deepEqual(g.certifiers(a.id), [b.id]);
  assert.deepEqual(
    g.certificate(a.id)?.certifications.map((c) => c.issuer),
    [b.id],
  );
  // A certification lifted from another subject does not verify for this one.
  const lifted = { issuer: idOf('b'), signature: certify(keyOf('b'), server('d')).signature };
  assert.equal(g.addCertifications(idOf('c'), [lifted]), false);
  assert.equal(hasEdge(g, 'b', 'c'), false);
});

void test('adds an edge from an issuer learned later once the issuer arrives (pending)', () => {
  const g = new TrustGraph();
  const a = certifiedBy(server('a'), 'b');
  g.addCertificate(a);
  assert.equal(g.view().vertices.has(idOf('b')), false);
  assert.deepEqual(g.certifiers(a.id), []);
  const before = g.version;
  g.addCertificate(server('b'));
  assert.ok(g.version > before);
  assert.equal(hasEdge(g, 'b', 'a'), true);
  assert.deepEqual(g.certifiers(a.id), [idOf('b')]);
});

void test('never turns a forged certification into an edge, pending or not', () => {
  const g = new TrustGraph();
  g.addCertificate(withCertifications(server('a'), [forged('b')]));
  g.addCertificate(server('b'));
  assert.equal(hasEdge(g, 'b', 'a'), false);
  assert.deepEqual(g.certifiers(idOf('a')), []);
  // Self-certification is not an edge either.
  g.addCertifications(idOf('a'), [certify(keyOf('a'), server('a'))]);
  assert.equal(g.view().out(idOf('a')).has(idOf('a')), false);
});

void test('keeps a pending genuine certification when a forged one for the same issuer arrives later', () => {
  const genuineFirst = new TrustGraph();
  genuineFirst.addCertificate(certifiedBy(server('a'), 'b'));
  genuineFirst.addCertificate(withCertifications(server('a'), [forged('b')]));
  genuineFirst.addCertificate(server('b'));
  const forgedFirst = new TrustGraph();
  forgedFirst.addCertificate(withCertifications(server('a'), [forged('b')]));
  forgedFirst.addCertificate(certifiedBy(server('a'), 'b'));
  forgedFirst.addCertificate(server('b'));
  assert.equal(hasEdge(forgedFirst, 'b', 'a'), true);
  assert.equal(genuineFirst.fingerprint(), forgedFirst.fingerprint());
});

void test('builds the same view whatever order a batch arrives in (property)', () => {
  const names = ['n0', 'n1', 'n2', 'n3', 'n4', 'n5'];
  // Per ordered pair: 0 none, 1 genuine, 2 forged; plus certifications by an issuer that never arrives.
  const matrix = fc.array(fc.constantFrom(0, 0, 1, 1, 2), {
    minLength: names.length * names.length,
    maxLength: names.length * names.length,
  });
  fc.assert(
    fc.property(
      matrix,
      fc.array(fc.boolean(), { minLength: names.length, maxLength: names.length }),
      fc.array(fc.nat(), { minLength: names.length, maxLength: names.length }),
      fc.array(fc.nat(), { minLength: names.length, maxLength: names.length }),
      (m, withGhost, order1, order2) => {
        const certs = names.map((subject, s) => {
          const bare = server(subject);
          const cs: Certification[] = [];
          names.forEach((issuer, i) => {
            const kind = m[s * names.length + i]!;
            if (i === s || kind === 0) return;
            cs.push(kind === 1 ? certify(keyOf(issuer), bare) : forged(issuer));
          });
          if (withGhost[s]!) cs.push(certify(keyOf('ghost'), bare));
          return withCertifications(bare, cs);
        });
        const permute = (keys: readonly number[]) =>
          certs
            .map((c, i) => ({ c, k: keys[i]! * 10 + i }))
            .sort((x, y) => x.k - y.k)
            .map((x) => x.c);
        const g1 = new TrustGraph();
        g1.addCertificates(permute(order1));
        const g2 = new TrustGraph();
        g2.addCertificates(permute(order2));
        const g3 = new TrustGraph(); // one at a time: pending certifications cover issuers not yet seen
        for (const c of permute(order2)) g3.addCertificate(c);
        assert.equal(g1.fingerprint(), g2.fingerprint());
        assert.equal(g1.fingerprint(), g3.fingerprint());
        // Reference: exactly the genuine certifications between known vertices are edges.
        const expected = new Set<string>();
        names.forEach((subject, s) =>
          names.forEach((issuer, i) => {
            if (i !== s && m[s * names.length + i] === 1) expected.add(`${idOf(issuer)}>${idOf(subject)}`);
          }),
        );
        assert.deepEqual(edges(g1), expected);
      },
    ),
    { numRuns: 40 },
  );
});

void test('yields a revocation proof for identity equivocation (same key and serial, another address)', () => {
  const g = new TrustGraph();
  const original = certifiedBy(server('a'), 'b');
  g.addCertificates([server('b'), original]);
  const twin = server('a', 1n, 'sim://twin');
  const r = g.addCertificate(twin);
  assert.equal(r.accepted, false);
  assert.ok(r.proof !== undefined);
  assert.equal(r.proof.kind, 'identity-equivocation');
  assert.equal(accusedOf(r.proof), original.id);
  assert.equal(verifyRevocationProof(r.proof), true);
  assert.equal(g.certificate(original.id)?.body.address, 'sim://a'); // the first body stays until revoked
  assert.equal(g.revoke(r.proof), true);
  assert.equal(g.isRevoked(original.id), true);
  assert.equal(g.view().vertices.has(original.id), false);
  // A UID change is equivocation at any serial.
  const h = new TrustGraph();
  h.addCertificate(server('c'));
  const renamed = createCertificate(keyOf('c'), 'someone-else.bftkv.test', 'sim://c', 5n);
  const r2 = h.addCertificate(renamed);
  assert.equal(r2.accepted, false);
  assert.ok(r2.proof !== undefined && verifyRevocationProof(r2.proof));
});

void test('replaces the body on a higher serial and ignores a lower one, keeping verified edges', () => {
  const g = new TrustGraph();
  g.addCertificates([server('b'), certifiedBy(server('a'), 'b')]);
  const fp = g.fingerprint();
  const moved = server('a', 2n, 'sim://a-moved');
  const r = g.addCertificate(moved);
  assert.deepEqual([r.accepted, r.changed], [true, true]);
  assert.equal(g.certificate(moved.id)?.body.address, 'sim://a-moved');
  assert.equal(g.certificate(moved.id)?.body.serial, 2n);
  assert.equal(g.fingerprint(), fp);
  const stale = g.addCertificate(server('a', 1n));
  assert.equal(stale.rejection, 'stale-serial');
  assert.equal(stale.changed, false);
  assert.equal(g.certificate(moved.id)?.body.address, 'sim://a-moved');
  const same = g.addCertificate(moved);
  assert.deepEqual([same.accepted, same.changed], [true, false]);
});

void test('removes a vertex on a leave with a higher seq, ignores a replayed older presence and restores it on re-join', () => {
  const g = new TrustGraph();
  g.addCertificates([
    certifiedBy(server('a'), 'b', 'c'),
    certifiedBy(server('b'), 'a'),
    certifiedBy(server('c'), 'a'),
  ]);
  assert.equal(g.applyPresence(presence('a', 1n, true)), true);
  const joined = g.fingerprint();
  assert.equal(g.isEligible(idOf('a')), true);
  assert.equal(g.applyPresence(presence('a', 2n, false)), true);
  assert.equal(g.view().vertices.has(idOf('a')), false);
  assert.equal(g.view().out(idOf('b')).has(idOf('a')), false);
  assert.notEqual(g.fingerprint(), joined);
  // A recorded older join replayed after the leave changes nothing.
  assert.equal(g.applyPresence(presence('a', 1n, true)), false);
  assert.equal(g.applyPresence(presence('a', 2n, true)), false);
  assert.equal(g.view().vertices.has(idOf('a')), false);
  // A forged re-join (signed by another key) is ignored.
  assert.equal(
    g.applyPresence({ ...presence('a', 3n, true), signature: presence('b', 3n, true).signature }),
    false,
  );
  assert.equal(g.applyPresence(presence('a', 3n, true)), true);
  assert.equal(g.presenceSeq(idOf('a')), 3n);
  assert.equal(g.fingerprint(), joined);
  // A presence for an unknown node does nothing.
  assert.equal(g.applyPresence(presence('zz', 1n, true)), false);
});

function identityProof(name: string): Extract<RevocationProof, { kind: 'identity-equivocation' }> {
  const a = server(name, 7n, 'sim://one');
  const b = server(name, 7n, 'sim://two');
  return {
    kind: 'identity-equivocation',
    accusedKey: keyOf(name).publicKey,
    a: { body: a.body, signature: a.selfSignature },
    b: { body: b.body, signature: b.selfSignature },
  };
}

void test('revokes a node for good: vertex and edges removed, its certificate and certifications refused later', () => {
  const g = new TrustGraph();
  g.addCertificates([
    certifiedBy(server('a'), 'b', 'c'),
    certifiedBy(server('b'), 'a', 'c'),
    certifiedBy(server('c'), 'a', 'b'),
  ]);
  assert.equal(hasEdge(g, 'a', 'b'), true);
  assert.equal(g.revoke(identityProof('a')), true);
  assert.equal(g.view().vertices.has(idOf('a')), false);
  assert.equal(hasEdge(g, 'b', 'c'), true);
  assert.equal(g.certifiers(idOf('b')).includes(idOf('a')), false);
  assert.equal(g.certificate(idOf('a')), undefined);
  assert.equal(g.revocations().length, 1);
  // Permanent: the certificate is refused, its certifications of others ignored, a second proof is a no-op.
  assert.equal(g.addCertificate(server('a')).rejection, 'revoked');
  g.addCertifications(idOf('b'), [certify(keyOf('a'), server('b'))]);
  assert.equal(g.certifiers(idOf('b')).includes(idOf('a')), false);
  assert.equal(g.applyPresence(presence('a', 9n, true)), false);
  assert.equal(g.revoke(identityProof('a')), false);
});

void test('rejects an invalid revocation proof and changes nothing', () => {
  const g = new TrustGraph();
  g.addCertificates([certifiedBy(server('a'), 'b'), certifiedBy(server('b'), 'a')]);
  const fp = g.fingerprint();
  const version = g.version;
  const valid = identityProof('a');
  const bad: RevocationProof = { ...valid, b: { ...valid.b, signature: new Uint8Array(64) } };
  assert.equal(g.revoke(bad), false);
  assert.equal(g.isRevoked(idOf('a')), false);
  assert.equal(g.fingerprint(), fp);
  assert.equal(g.version, version);
});

// ------------------------------------------------------------------------------------------ revocation proofs

const X = utf8('alice/key');
const T = 42n;

function signerProof(): Extract<RevocationProof, { kind: 'signer-equivocation' }> {
  const signer = keyOf('signer');
  const writer = keyOf('writer');
  const writerId = nodeIdOf(writer.publicKey);
  const one = (v: string) => {
    const d = valueDigest(utf8(v));
    const ws = sign(writer, writerStatement(X, T, d));
    return {
      valueDigest: d,
      writer: writerId,
      writerUid: 'writer@example.com',
      writerSignature: ws,
      signature: sign(signer, signerStatement(X, T, d, writerId, 'writer@example.com', ws)),
    };
  };
  return {
    kind: 'signer-equivocation',
    accusedKey: signer.publicKey,
    x: X,
    t: T,
    a: one('v1'),
    b: one('v2'),
  };
}

function writerProof(): Extract<RevocationProof, { kind: 'writer-equivocation' }> {
  const writer = keyOf('writer');
  const one = (v: string) => {
    const d = valueDigest(utf8(v));
    return { valueDigest: d, signature: sign(writer, writerStatement(X, T, d)) };
  };
  return {
    kind: 'writer-equivocation',
    accusedKey: writer.publicKey,
    x: X,
    t: T,
    a: one('v1'),
    b: one('v2'),
  };
}

function roundTrip(p: RevocationProof): void {
  const bytes = encodeRevocationProof(p);
  assert.deepEqual(decodeRevocationProof(bytes), p);
  for (let n = 0; n < bytes.length; n += 7)
    assertCodecError(() => decodeRevocationProof(bytes.subarray(0, n)));
  assertCodecError(() => decodeRevocationProof(new Uint8Array([...bytes, 0])));
}

void test('accepts a real signer-equivocation proof and round trips it', () => {
  const p = signerProof();
  assert.equal(verifyRevocationProof(p), true);
  assert.equal(accusedOf(p), idOf('signer'));
  roundTrip(p);
});

void test('rejects a signer-equivocation proof with equal digests, another key, or tampered x / t', () => {
  const p = signerProof();
  assert.equal(verifyRevocationProof({ ...p, b: p.a }), false);
  // Same value signed twice over two different writer signatures is not equivocation.
  const writer = keyOf('writer2');
  const ws = sign(writer, writerStatement(X, T, p.a.valueDigest));
  const again = {
    valueDigest: p.a.valueDigest,
    writer: nodeIdOf(writer.publicKey),
    writerUid: 'writer2@example.com',
    writerSignature: ws,
    signature: sign(
      keyOf('signer'),
      signerStatement(X, T, p.a.valueDigest, nodeIdOf(writer.publicKey), 'writer2@example.com', ws),
    ),
  };
  assert.equal(verifyRevocationProof({ ...p, b: again }), false);
  const otherSig = sign(
    keyOf('other'),
    signerStatement(X, T, p.b.valueDigest, p.b.writer, p.b.writerUid, p.b.writerSignature),
  );
  assert.equal(verifyRevocationProof({ ...p, b: { ...p.b, signature: otherSig } }), false);
  assert.equal(verifyRevocationProof({ ...p, accusedKey: keyOf('other').publicKey }), false);
  assert.equal(verifyRevocationProof({ ...p, x: utf8('alice/other') }), false);
  assert.equal(verifyRevocationProof({ ...p, t: T + 1n }), false);
  assert.equal(verifyRevocationProof({ ...p, b: { ...p.b, writerSignature: p.a.writerSignature } }), false);
});

void test('accepts a real writer-equivocation proof and round trips it', () => {
  const p = writerProof();
  assert.equal(verifyRevocationProof(p), true);
  assert.equal(accusedOf(p), idOf('writer'));
  roundTrip(p);
});

void test('rejects a writer-equivocation proof with equal digests, another key, or tampered x / t', () => {
  const p = writerProof();
  assert.equal(verifyRevocationProof({ ...p, b: p.a }), false);
  const otherSig = sign(keyOf('other'), writerStatement(X, T, p.b.valueDigest));
  assert.equal(verifyRevocationProof({ ...p, b: { ...p.b, signature: otherSig } }), false);
  assert.equal(verifyRevocationProof({ ...p, accusedKey: keyOf('other').publicKey }), false);
  assert.equal(verifyRevocationProof({ ...p, x: utf8('alice/other') }), false);
  assert.equal(verifyRevocationProof({ ...p, t: T - 1n }), false);
  assert.equal(verifyRevocationProof({ ...p, b: { ...p.b, valueDigest: valueDigest(utf8('v3')) } }), false);
});

void test('accepts a real identity-equivocation proof and round trips it', () => {
  const p = identityProof('a');
  assert.equal(verifyRevocationProof(p), true);
  roundTrip(p);
  // A UID change at another serial is also equivocation (the UID of a key never changes).
  const renamed = createCertificate(keyOf('a'), 'renamed.bftkv.test', 'sim://a', 8n);
  const q: RevocationProof = { ...p, b: { body: renamed.body, signature: renamed.selfSignature } };
  assert.equal(verifyRevocationProof(q), true);
  roundTrip(q);
});

void test('rejects an identity proof with equal bodies, another key, a tampered body, or a higher serial with the same UID', () => {
  const p = identityProof('a');
  assert.equal(verifyRevocationProof({ ...p, b: p.a }), false);
  const foreign = server('b', 7n, 'sim://two');
  assert.equal(
    verifyRevocationProof({ ...p, b: { body: foreign.body, signature: foreign.selfSignature } }),
    false,
  );
  assert.equal(verifyRevocationProof({ ...p, accusedKey: keyOf('b').publicKey }), false);
  const tampered: CertificateBody = { ...p.b.body, address: 'sim://three' };
  assert.equal(verifyRevocationProof({ ...p, b: { body: tampered, signature: p.b.signature } }), false);
  assert.equal(
    verifyRevocationProof({ ...p, b: { ...p.b, signature: sign(keyOf('b'), bodyStatement(p.b.body)) } }),
    false,
  );
  // A republication: a higher serial with the same UID is legitimate.
  const next = server('a', 8n, 'sim://two');
  assert.equal(verifyRevocationProof({ ...p, b: { body: next.body, signature: next.selfSignature } }), false);
});

void test('rejects a proof of unknown kind when decoding', () => {
  const bytes = encodeRevocationProof(writerProof());
  bytes[0] = 9;
  assertCodecError(() => decodeRevocationProof(bytes));
  assert.equal(toHex(encodeRevocationProof(writerProof())).slice(0, 2), '02');
});
