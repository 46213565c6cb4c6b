// Wire messages (src/protocol/messages.ts, docs/PROTOCOL.md §Messages): round trips for every request and
// response kind, fuzzing that only ever yields a decoded message or a CodecError, the frame bound, and
// canonical collective signatures (sorted, one per signer).
import { blindPassword, credentialId, encodeScalar, setupPassword } from '../../src/crypto/tpa.js';
import { secureRandom } from '../../src/env/random.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ByteWriter, CodecError, utf8 } from '../../src/codec/bytes.js';
import { sign, signingKeyFromSeed, type SigningKey } from '../../src/crypto/ed25519.js';
import { sha256 } from '../../src/crypto/hash.js';
import { LIMITS, SEALED_TIMESTAMP } from '../../src/limits.js';
import { ERROR_CODES, type ErrorCode } from '../../src/protocol/errors.js';
import {
  decodeRecord,
  decodeRequest,
  decodeResponse,
  encodeRecord,
  encodeRequest,
  encodeResponse,
  recordHeader,
  requestKindOf,
  responseErrorCodeOf,
  type MemberSignature,
  type Request,
  type Response,
  type SignedRecord,
} from '../../src/protocol/messages.js';
import {
  certify,
  createCertificate,
  nodeIdOf,
  withCertifications,
  writeCertificate,
  type Certificate,
} from '../../src/trust/certificate.js';
import type { Presence } from '../../src/trust/graph.js';
import type { RevocationProof } from '../../src/trust/revocation.js';
import {
  ackStatement,
  presenceStatement,
  signerStatement,
  valueDigest,
  writerStatement,
} from '../../src/trust/statements.js';

const keyOf = (name: string): SigningKey => signingKeyFromSeed(sha256(utf8(`messages.test/${name}`)));

const signerKeys = ['s1', 's2', 's3', 's4'].map(keyOf);
const signerCerts = ['s1', 's2', 's3', 's4'].map((n, i) =>
  createCertificate(signerKeys[i]!, `${n}.bftkv.test`, `sim://${n}`),
);
const writerKey = keyOf('alice');
const writerCert: Certificate = (() => {
  const bare = createCertificate(writerKey, 'alice@example.com');
  return withCertifications(
    bare,
    signerKeys.map((k) => certify(k, bare)),
  );
})();

function record(x: string, t: bigint, v: Uint8Array, signers = signerKeys.slice(0, 3)): SignedRecord {
  const xb = utf8(x);
  const d = valueDigest(v);
  const writerSignature = sign(writerKey, writerStatement(xb, t, d));
  const signatures: MemberSignature[] = signers
    .map((k) => ({
      signer: nodeIdOf(k.publicKey),
      signature: sign(k, signerStatement(xb, t, d, writerCert.id, writerCert.body.uid, writerSignature)),
    }))
    .sort((a, b) => (a.signer < b.signer ? -1 : 1));
  return { x: xb, t, v, writer: writerCert, writerSignature, signatures };
}

function presence(key: SigningKey, id: string, seq: bigint, present: boolean): Presence {
  return { id, seq, present, signature: sign(key, presenceStatement(id, seq, present)) };
}

const rec1 = record('alice/profile', 7n, utf8('{"name":"Alice"}'));
const rec2 = record('alice/profile', 7n, utf8('{"name":"Mallory"}'), signerKeys.slice(2));
const sealed = record('alice/genesis', SEALED_TIMESTAMP, new Uint8Array(1000).fill(0xab), signerKeys);

const proofs: RevocationProof[] = [
  {
    kind: 'signer-equivocation',
    accusedKey: signerKeys[2]!.publicKey,
    x: rec1.x,
    t: rec1.t,
    a: {
      valueDigest: valueDigest(rec1.v),
      writer: rec1.writer.id,
      writerUid: rec1.writer.body.uid,
      writerSignature: rec1.writerSignature,
      signature: rec1.signatures[0]!.signature,
    },
    b: {
      valueDigest: valueDigest(rec2.v),
      writer: rec2.writer.id,
      writerUid: rec2.writer.body.uid,
      writerSignature: rec2.writerSignature,
      signature: rec2.signatures[0]!.signature,
    },
  },
  {
    kind: 'writer-equivocation',
    accusedKey: writerKey.publicKey,
    x: rec1.x,
    t: rec1.t,
    a: { valueDigest: valueDigest(rec1.v), signature: rec1.writerSignature },
    b: { valueDigest: valueDigest(rec2.v), signature: rec2.writerSignature },
  },
  (() => {
    const a = createCertificate(signerKeys[3]!, 's4.bftkv.test', 'sim://s4', 3n);
    const b = createCertificate(signerKeys[3]!, 's4.bftkv.test', 'sim://s4-twin', 3n);
    return {
      kind: 'identity-equivocation' as const,
      accusedKey: signerKeys[3]!.publicKey,
      a: { body: a.body, signature: a.selfSignature },
      b: { body: b.body, signature: b.selfSignature },
    };
  })(),
];

const s1 = signerCerts[0]!;
const pwSetup = setupPassword(
  'uid',
  utf8('a@b'),
  1n,
  [{ members: [s1.id, '0'.repeat(31) + '1', '0'.repeat(31) + '2', '0'.repeat(31) + '3'].sort() }],
  'pw',
  secureRandom,
);
const pwShare = encodeScalar([...pwSetup.shares[0]!.values()][0]!.share);
const pwBlinded = blindPassword('uid', utf8('a@b'), 'pw', secureRandom).blinded;
const pwProof = {
  credentialId: credentialId(pwSetup.credential),
  requester: s1.id,
  operation: { kind: 'read' as const, x: utf8('x') },
  nonces: [{ server: s1.id, nonce: new Uint8Array(32).fill(9) }],
  signature: new Uint8Array(64).fill(3),
};
const labelled: Array<[string, Request]> = [
  ['time', { kind: 'time', x: utf8('alice/profile') }],
  [
    'sign',
    {
      kind: 'sign',
      x: rec1.x,
      t: rec1.t,
      v: rec1.v,
      writer: writerCert,
      writerSignature: rec1.writerSignature,
    },
  ],
  ['write', { kind: 'write', record: rec1 }],
  ['write of a sealed record signed by every member', { kind: 'write', record: sealed }],
  ['write with no signatures', { kind: 'write', record: { ...rec1, signatures: [] } }],
  ['read of a maximal key', { kind: 'read', x: new Uint8Array(LIMITS.keyBytesMax).fill(0x78) }],
  ['join', { kind: 'join', certificate: s1, presence: presence(signerKeys[0]!, s1.id, 1n, true) }],
  ['leave', { kind: 'leave', presence: presence(signerKeys[0]!, s1.id, 2n, false) }],
  ['gossip with records and every kind of proof', { kind: 'gossip', records: [rec1, sealed], proofs }],
  ['empty gossip', { kind: 'gossip', records: [], proofs: [] }],
  ['password evaluation', { kind: 'passwordEval', scope: 'uid', name: utf8('a@b'), blinded: pwBlinded }],
  [
    'register with an enrolment',
    { kind: 'register', certificate: s1, enrol: { credential: pwSetup.credential, share: pwShare } },
  ],
  ['register with a proof', { kind: 'register', certificate: s1, proof: pwProof }],
  ['read with a proof', { kind: 'read', x: utf8('x'), proof: pwProof }],
  ['password share', { kind: 'passwordShare', credential: pwSetup.credential, share: pwShare }],
  ['password confirmation', { kind: 'passwordConfirm', proof: pwProof }],
  ['challenge', { kind: 'challenge' }],
];
const requests = labelled.map(([, r]) => r);

const responses: Array<[Request['kind'], Response]> = [
  ['time', { kind: 'time', t: 41n }],
  ['time', { kind: 'time', t: SEALED_TIMESTAMP }],
  ['sign', { kind: 'sign', signature: rec1.signatures[0]!.signature }],
  ['write', { kind: 'write', ack: sign(signerKeys[0]!, ackStatement(rec1.x, rec1.t, valueDigest(rec1.v))) }],
  ['read', { kind: 'read', record: rec1 }],
  ['read', { kind: 'read', record: undefined }],
  [
    'join',
    {
      kind: 'join',
      certificates: [...signerCerts, writerCert],
      presences: [
        presence(signerKeys[0]!, s1.id, 1n, true),
        presence(signerKeys[1]!, signerCerts[1]!.id, 4n, false),
      ],
      proofs,
    },
  ],
  ['join', { kind: 'join', certificates: [], presences: [], proofs: [] }],
  ['leave', { kind: 'ok' }],
  ['gossip', { kind: 'ok' }],
  ['passwordShare', { kind: 'ok' }],
  ['passwordConfirm', { kind: 'ok' }],
  [
    'passwordEval',
    {
      kind: 'passwordEval',
      credential: pwSetup.credential,
      evaluated: pwBlinded,
      proof: new Uint8Array(64).fill(5),
      nonce: new Uint8Array(32).fill(6),
    },
  ],
  ['register', { kind: 'register', certification: new Uint8Array(64).fill(7) }],
  ['challenge', { kind: 'challenge', nonce: new Uint8Array(32).fill(8) }],
  [
    'write',
    {
      kind: 'error',
      code: 'insufficientSignatures',
      message: 'collective signature is not sufficient',
      timestamp: 0n,
    },
  ],
  [
    'sign',
    { kind: 'error', code: 'staleTimestamp', message: 'a later timestamp was already signed', timestamp: 9n },
  ],
];

const KINDS: ReadonlyArray<Request['kind']> = ['time', 'sign', 'write', 'read', 'join', 'leave', 'gossip'];

function decodesOrCodecError(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof CodecError)) throw new Error(`not a CodecError: ${String(e)}`, { cause: e });
  }
}

for (const [label, req] of labelled) {
  void test(`round trips a ${label} request`, () => {
    const bytes = encodeRequest(req);
    assert.deepEqual(decodeRequest(bytes), req);
    assert.deepEqual(encodeRequest(decodeRequest(bytes)), bytes);
  });
}

void test('round trips every response kind', () => {
  for (const [expect, res] of responses) {
    const bytes = encodeResponse(res);
    assert.deepEqual(decodeResponse(expect, bytes), res, `${expect}/${res.kind}`);
  }
});

void test('round trips every error code', () => {
  for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
    const res: Response = { kind: 'error', code, message: `refused: ${code}`, timestamp: 3n };
    for (const expect of KINDS) assert.deepEqual(decodeResponse(expect, encodeResponse(res)), res);
  }
  // An unknown error number is read as 'malformed', not thrown.
  const unknown = new ByteWriter().u8(0xff).u16(999).string('?').u64(0n).finish();
  assert.equal((decodeResponse('time', unknown) as { code: ErrorCode }).code, 'malformed');
});

void test('peeks the request kind and the response error code without decoding (metrics)', () => {
  assert.deepEqual(
    requests.map((r) => requestKindOf(encodeRequest(r))),
    requests.map((r) => r.kind),
  );
  assert.equal(requestKindOf(new Uint8Array(0)), undefined);
  assert.equal(requestKindOf(Uint8Array.of(99)), undefined);
  for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
    const res: Response = { kind: 'error', code, message: code, timestamp: 0n };
    assert.equal(responseErrorCodeOf(encodeResponse(res)), code);
  }
  for (const [, res] of responses)
    if (res.kind !== 'error') assert.equal(responseErrorCodeOf(encodeResponse(res)), undefined);
  assert.equal(responseErrorCodeOf(Uint8Array.of(0xff)), undefined);
});

void test('encodes every error message so that it decodes (text bounded in UTF-8 bytes)', () => {
  const res: Response = { kind: 'error', code: 'malformed', message: '€'.repeat(300), timestamp: 0n };
  const decoded = decodeResponse('time', encodeResponse(res));
  assert.equal(decoded.kind, 'error');
});

void test('rejects unknown commands and statuses, empty keys and trailing bytes', () => {
  assert.throws(() => decodeRequest(Uint8Array.of(0)), CodecError);
  assert.throws(() => decodeRequest(Uint8Array.of(99)), CodecError);
  assert.throws(() => decodeRequest(new Uint8Array(0)), CodecError);
  assert.throws(() => decodeRequest(encodeRequest({ kind: 'read', x: new Uint8Array(0) })), CodecError);
  assert.throws(
    () => decodeRequest(encodeRequest({ kind: 'read', x: new Uint8Array(LIMITS.keyBytesMax + 1) })),
    CodecError,
  );
  assert.throws(() => decodeResponse('time', Uint8Array.of(7, 0, 0, 0, 0, 0, 0, 0, 1)), CodecError);
  for (const req of requests)
    assert.throws(() => decodeRequest(new Uint8Array([...encodeRequest(req), 0])), CodecError);
  for (const [expect, res] of responses)
    assert.throws(() => decodeResponse(expect, new Uint8Array([...encodeResponse(res), 0])), CodecError);
});

void test('rejects a request or response larger than messageBytesMax', () => {
  const oversize = new Uint8Array(LIMITS.messageBytesMax + 1);
  oversize[0] = 1;
  assert.throws(
    () => decodeRequest(oversize),
    (e: unknown) => e instanceof CodecError && /larger than/.test(e.message),
  );
  assert.throws(
    () => decodeResponse('read', oversize),
    (e: unknown) => e instanceof CodecError && /larger than/.test(e.message),
  );
  // A maximal value with its certificate fits in one frame.
  const max = record('alice/big', 1n, new Uint8Array(LIMITS.valueBytesMax).fill(1), signerKeys);
  const bytes = encodeRequest({ kind: 'write', record: max });
  assert.ok(bytes.length <= LIMITS.messageBytesMax);
  assert.equal((decodeRequest(bytes) as { record: SignedRecord }).record.v.length, LIMITS.valueBytesMax);
  assert.throws(
    () => decodeRecord(encodeRecord({ ...max, v: new Uint8Array(LIMITS.valueBytesMax + 1) })),
    CodecError,
  );
});

void test('rejects a record with duplicated or unsorted signers', () => {
  const [a, b, c] = rec1.signatures as [MemberSignature, MemberSignature, MemberSignature];
  assert.deepEqual(decodeRecord(encodeRecord(rec1)), rec1);
  assert.throws(() => decodeRecord(encodeRecord({ ...rec1, signatures: [a, a, b] })), CodecError);
  assert.throws(() => decodeRecord(encodeRecord({ ...rec1, signatures: [a, b, b] })), CodecError);
  assert.throws(() => decodeRecord(encodeRecord({ ...rec1, signatures: [b, a, c] })), CodecError);
  assert.throws(
    () => decodeRecord(encodeRecord({ ...rec1, signatures: [{ signer: 'ZZ', signature: a.signature }] })),
    CodecError,
  );
  // Through a write request and a read response too (the encoder is bypassed the way a liar would).
  assert.throws(
    () => decodeRequest(encodeRequest({ kind: 'write', record: { ...rec1, signatures: [c, b, a] } })),
    CodecError,
  );
  const w = new ByteWriter().u8(0).bool(true).bytes(rec1.x).u64(rec1.t).bytes(rec1.v);
  writeCertificate(w, rec1.writer);
  w.raw(rec1.writerSignature).u16(2).string(a.signer).raw(a.signature).string(a.signer).raw(a.signature);
  assert.throws(() => decodeResponse('read', w.finish()), CodecError);
});

const valid: Uint8Array[] = [...requests.map(encodeRequest), ...responses.map(([, r]) => encodeResponse(r))];

type Mutation =
  | { readonly op: 'flip'; readonly at: number; readonly bit: number }
  | { readonly op: 'truncate'; readonly at: number }
  | { readonly op: 'insert'; readonly at: number; readonly bytes: Uint8Array }
  | { readonly op: 'delete'; readonly at: number; readonly n: number }
  | { readonly op: 'set'; readonly at: number; readonly byte: number };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({
    op: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
  }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ op: fc.constant('set' as const), at: fc.nat(), byte: fc.constantFrom(0, 1, 0x7f, 0x80, 0xff) }),
);

function mutate(b: Uint8Array, m: Mutation): Uint8Array {
  const at = b.length === 0 ? 0 : m.at % (b.length + 1);
  switch (m.op) {
    case 'flip': {
      const out = b.slice();
      if (out.length > 0) out[at % out.length]! ^= 1 << m.bit;
      return out;
    }
    case 'truncate':
      return b.subarray(0, at);
    case 'insert':
      return new Uint8Array([...b.subarray(0, at), ...m.bytes, ...b.subarray(at)]);
    case 'delete':
      return new Uint8Array([...b.subarray(0, at), ...b.subarray(at + m.n)]);
    case 'set': {
      const out = b.slice();
      if (out.length > 0) out[at % out.length] = m.byte;
      return out;
    }
  }
}

void test(
  'decodes or throws CodecError on random bytes — never another exception (fuzz)',
  { timeout: 20_000 },
  () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.constantFrom(...KINDS), (b, expect) => {
        decodesOrCodecError(() => decodeRequest(b));
        decodesOrCodecError(() => decodeResponse(expect, b));
        // Steer past the first byte: a valid command / status followed by garbage.
        for (const first of [1, 2, 3, 4, 5, 6, 7])
          decodesOrCodecError(() => decodeRequest(new Uint8Array([first, ...b])));
        decodesOrCodecError(() => decodeResponse(expect, new Uint8Array([0, ...b])));
        decodesOrCodecError(() => decodeResponse(expect, new Uint8Array([0xff, ...b])));
      }),
      { numRuns: 500 },
    );
  },
);

void test(
  'decodes or throws CodecError on mutated valid encodings — never another exception (fuzz)',
  { timeout: 20_000 },
  () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: valid.length - 1 }),
        fc.array(mutationArb, { minLength: 1, maxLength: 4 }),
        fc.constantFrom(...KINDS),
        (i, mutations, expect) => {
          const b = mutations.reduce(mutate, valid[i]!);
          decodesOrCodecError(() => decodeRequest(b));
          decodesOrCodecError(() => decodeResponse(expect, b));
        },
      ),
      { numRuns: 500 },
    );
  },
);

void test('a decoded record is encoded again as the bytes it came from, which are its canonical encoding', () => {
  for (const rec of [rec1, rec2, sealed]) {
    const bytes = encodeRecord(rec);
    const decoded = decodeRecord(bytes);
    // A fresh object (no remembered bytes) encodes to the same bytes: the encoding is canonical.
    assert.deepEqual(encodeRecord({ ...decoded }), bytes);
    assert.deepEqual(encodeRecord(decoded), bytes);
    // Inside a response, the remembered bytes are copied as they are.
    const response = encodeResponse({ kind: 'read', record: decoded });
    assert.deepEqual(decodeResponse('read', response), { kind: 'read', record: decoded });
    assert.deepEqual(response, encodeResponse({ kind: 'read', record: { ...rec } }));
    assert.deepEqual(recordHeader(bytes), { t: rec.t, writerUid: rec.writer.body.uid });
  }
  // Canonical for every input the decoder accepts, not only for encoder output (fuzzed mutations).
  const base = encodeRecord(rec1);
  fc.assert(
    fc.property(fc.array(mutationArb, { minLength: 1, maxLength: 3 }), (mutations) => {
      const b = mutations.reduce(mutate, base);
      let decoded: SignedRecord;
      try {
        decoded = decodeRecord(b);
      } catch (e) {
        if (e instanceof CodecError) return;
        throw e;
      }
      assert.deepEqual(encodeRecord({ ...decoded }), b);
    }),
    { numRuns: 1000 },
  );
});
