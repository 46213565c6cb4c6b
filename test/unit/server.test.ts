// The server handlers (src/protocol/server.ts; paper §4.1–4.2, Algorithms 3–6) driven directly with wire
// payloads: one negative test per rule a signer or a KV node enforces.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteWriter, utf8 } from '../../src/codec/bytes.js';
import { sign, signingKeyFromSeed, verify, type SigningKey } from '../../src/crypto/ed25519.js';
import { sha256 } from '../../src/crypto/hash.js';
import type { Clock } from '../../src/env/clock.js';
import { secureRandom } from '../../src/env/random.js';
import { LIMITS, SEALED_TIMESTAMP } from '../../src/limits.js';
import type { ErrorCode } from '../../src/protocol/errors.js';
import {
  decodeResponse,
  encodeRequest,
  type MemberSignature,
  type Request,
  type Response,
  type SignedRecord,
} from '../../src/protocol/messages.js';
import { persistGraph } from '../../src/protocol/node-state.js';
import { BftkvServer } from '../../src/protocol/server.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import type { Storage } from '../../src/storage/storage.js';
import { TransportError, type Transport } from '../../src/transport/transport.js';
import {
  certify,
  createCertificate,
  withCertifications,
  writeCertificate,
  type Certificate,
  type Certification,
  type NodeId,
} from '../../src/trust/certificate.js';
import { TrustGraph } from '../../src/trust/graph.js';
import { verifyRevocationProof, type RevocationProof } from '../../src/trust/revocation.js';
import { ackStatement, signerStatement, valueDigest, writerStatement } from '../../src/trust/statements.js';

// ------------------------------------------------------------------------------------------ topology

interface Identity {
  readonly name: string;
  readonly key: SigningKey;
  readonly cert: Certificate;
  readonly id: NodeId;
}

const keyOf = (name: string): SigningKey => signingKeyFromSeed(sha256(utf8(`server.test/${name}`)));

const SIGNERS = ['c1', 'c2', 'c3', 'c4'] as const;
const KVS = ['k1', 'k2', 'k3', 'k4'] as const;

/**
 * A 4-clique of signers c1..c4 (mutual certifications), KV nodes k1..k4 certifying every signer, and clients:
 * u01 and u02 (alice, certified by the whole clique), u04 (alice, uncertified), u11 (bob, certified).
 */
const topology: ReadonlyMap<string, Identity> = (() => {
  const desc: Array<[string, string, string]> = [
    ...SIGNERS.map((n): [string, string, string] => [n, `${n}.bftkv.test`, `sim://${n}`]),
    ...KVS.map((n): [string, string, string] => [n, `${n}.bftkv.test`, `sim://${n}`]),
    ['u01', 'alice@example.com', ''],
    ['u02', 'alice@example.com', ''],
    ['u04', 'alice@example.com', ''],
    ['u11', 'bob@example.com', ''],
  ];
  const edges: Array<[string, string]> = [];
  for (const a of SIGNERS) for (const b of SIGNERS) if (a !== b) edges.push([a, b]);
  for (const k of KVS) for (const s of SIGNERS) edges.push([k, s]);
  for (const u of ['u01', 'u02', 'u04', 'u11']) {
    for (const s of SIGNERS) edges.push([u, s]);
    for (const k of KVS) edges.push([u, k]);
  }
  for (const u of ['u01', 'u02', 'u11']) for (const s of SIGNERS) edges.push([s, u]);
  const bare = new Map(desc.map(([n, uid, addr]) => [n, createCertificate(keyOf(n), uid, addr)]));
  const out = new Map<string, Identity>();
  for (const [n] of desc) {
    const subject = bare.get(n)!;
    const cert = withCertifications(
      subject,
      edges.filter(([, s]) => s === n).map(([i]) => certify(keyOf(i), subject)),
    );
    out.set(n, { name: n, key: keyOf(n), cert, id: cert.id });
  }
  return out;
})();

const who = (name: string): Identity => topology.get(name)!;
const c = (i: 1 | 2 | 3 | 4): Identity => who(`c${i}`);
const u01 = who('u01');
const u02 = who('u02');
const u04 = who('u04');
const u11 = who('u11');

/** A client outside every server's graph, certified by the given signers. */
function outsider(name: string, uid: string, certifiedBy: readonly Identity[]): Identity {
  const key = keyOf(name);
  const bare = createCertificate(key, uid);
  const cert = withCertifications(
    bare,
    certifiedBy.map((s) => certify(s.key, bare)),
  );
  return { name, key, cert, id: cert.id };
}

// ------------------------------------------------------------------------------------------ harness

/** Time never moves and timers never fire: the handlers must not need either. */
const frozenClock: Clock = { now: () => 0, sleep: () => new Promise<void>(() => undefined) };
const offline: Transport = {
  request: (peer) => Promise.reject(new TransportError('offline', peer)),
};

interface Harness {
  readonly server: BftkvServer;
  readonly storage: Storage;
  readonly revoked: NodeId[];
  readonly proofs: RevocationProof[];
}

/** Storage holding the whole topology's graph, as a node that has seen every certificate. */
async function seededStorage(): Promise<MemoryStorage> {
  const storage = new MemoryStorage();
  const graph = new TrustGraph();
  graph.addCertificates([...topology.values()].map((i) => i.cert));
  await persistGraph(storage, graph);
  return storage;
}

async function open(name: string, storage?: Storage): Promise<Harness> {
  const self = who(name);
  const disk = storage ?? (await seededStorage());
  const revoked: NodeId[] = [];
  const proofs: RevocationProof[] = [];
  const server = await BftkvServer.open({
    key: self.key,
    certificate: self.cert,
    storage: disk,
    clock: frozenClock,
    random: secureRandom,
    transport: offline,
    onRevoke: (accused, proof) => {
      revoked.push(accused);
      proofs.push(proof);
    },
  });
  return { server, storage: disk, revoked, proofs };
}

async function ask(h: Harness, from: Identity | null, req: Request): Promise<Response> {
  return decodeResponse(req.kind, await h.server.handle(from?.id ?? null, encodeRequest(req)));
}

function assertRefused(res: Response, code: ErrorCode, timestamp?: bigint): void {
  assert.equal(res.kind, 'error', `expected ${code}, got ${res.kind}`);
  assert.ok(res.kind === 'error');
  assert.equal(res.code, code, res.message);
  if (timestamp !== undefined) assert.equal(res.timestamp, timestamp);
}

function writerSignature(w: Identity, x: Uint8Array, t: bigint, v: Uint8Array): Uint8Array {
  return sign(w.key, writerStatement(x, t, valueDigest(v)));
}

function signRequest(w: Identity, x: Uint8Array, t: bigint, v: Uint8Array, writer = w.cert): Request {
  return { kind: 'sign', x, t, v, writer, writerSignature: writerSignature(w, x, t, v) };
}

/** A record written by `w` and signed by `signers` (each signature real). */
function recordOf(
  w: Identity,
  x: Uint8Array,
  t: bigint,
  v: Uint8Array,
  signers: readonly Identity[],
): SignedRecord {
  const ws = writerSignature(w, x, t, v);
  const d = valueDigest(v);
  const signatures: MemberSignature[] = signers
    .map((s) => ({
      signer: s.id,
      signature: sign(s.key, signerStatement(x, t, d, w.id, w.cert.body.uid, ws)),
    }))
    .sort((a, b) => (a.signer < b.signer ? -1 : a.signer > b.signer ? 1 : 0));
  return { x, t, v, writer: w.cert, writerSignature: ws, signatures };
}

const sufficient = [c(1), c(2), c(3)];
let counter = 0;
/** A fresh variable name per use, so tests sharing a server never interfere. */
const freshX = (label: string): Uint8Array => utf8(`${label}/${counter++}`);

// ------------------------------------------------------------------------------------------ signer

void test('signs a certified writer at a fresh timestamp (baseline)', async () => {
  const h = await open('c1');
  const x = freshX('alice');
  const v = utf8('v1');
  const res = await ask(h, u01, signRequest(u01, x, 1n, v));
  assert.equal(res.kind, 'sign');
  assert.ok(res.kind === 'sign');
  const ws = writerSignature(u01, x, 1n, v);
  assert.equal(
    verify(
      c(1).key.publicKey,
      signerStatement(x, 1n, valueDigest(v), u01.id, u01.cert.body.uid, ws),
      res.signature,
    ),
    true,
  );
  const time = await ask(h, u01, { kind: 'time', x });
  assert.deepEqual(time, { kind: 'time', t: 1n });
});

void test('refuses a writer whose quorum certificate has fewer than > 2n/3 verified certifications', async () => {
  const h = await open('c1');
  assertRefused(
    await ask(h, u04, signRequest(u04, freshX('alice'), 1n, utf8('v'))),
    'invalidQuorumCertificate',
  );
  const two = outsider('carol-2', 'carol@example.com', [c(1), c(2)]);
  assertRefused(
    await ask(h, two, signRequest(two, freshX('carol'), 1n, utf8('v'))),
    'invalidQuorumCertificate',
  );
  // 3 of 4 is more than 2n/3: the boundary signs.
  const three = outsider('carol-3', 'carol@example.com', [c(2), c(3), c(4)]);
  assert.equal((await ask(h, three, signRequest(three, freshX('carol'), 1n, utf8('v')))).kind, 'sign');
  // Certifications by non-members (KV nodes) do not count.
  const kvOnly = outsider('carol-kv', 'carol@example.com', [c(1), c(2), who('k1'), who('k2')]);
  assertRefused(
    await ask(h, kvOnly, signRequest(kvOnly, freshX('carol'), 1n, utf8('v'))),
    'invalidQuorumCertificate',
  );
});

void test('refuses a forged certification', async () => {
  const h = await open('c1');
  const junk = (s: Identity): Certification => ({
    issuer: s.id,
    signature: new Uint8Array([...sha256(utf8(`junk/${s.name}`)), ...sha256(utf8(`junk2/${s.name}`))]),
  });
  const sortByIssuer = (cs: Certification[]) => cs.sort((a, b) => (a.issuer < b.issuer ? -1 : 1));
  // Random signatures claiming every member as issuer.
  const forged = { ...u04.cert, certifications: sortByIssuer(SIGNERS.map((n) => junk(who(n)))) };
  assertRefused(
    await ask(h, u04, signRequest(u04, freshX('alice'), 1n, utf8('v'), forged)),
    'invalidQuorumCertificate',
  );
  // Valid certifications lifted from another writer's certificate.
  const lifted = { ...u04.cert, certifications: u01.cert.certifications };
  assertRefused(
    await ask(h, u04, signRequest(u04, freshX('alice'), 1n, utf8('v'), lifted)),
    'invalidQuorumCertificate',
  );
  // Two genuine and two forged are still two.
  const carol = outsider('carol-mixed', 'carol@example.com', [c(1), c(2)]);
  const mixed = {
    ...carol.cert,
    certifications: sortByIssuer([...carol.cert.certifications, junk(c(3)), junk(c(4))]),
  };
  assertRefused(
    await ask(h, carol, signRequest(carol, freshX('carol'), 1n, utf8('v'), mixed)),
    'invalidQuorumCertificate',
  );
  // A writer signature by another key.
  const x = freshX('alice');
  const bad: Request = {
    kind: 'sign',
    x,
    t: 1n,
    v: utf8('v'),
    writer: u01.cert,
    writerSignature: writerSignature(u02, x, 1n, utf8('v')),
  };
  assertRefused(await ask(h, u01, bad), 'badSignature');
  assert.deepEqual(h.revoked, []);
});

void test('refuses a writer presenting a body with a UID its certifiers never certified', async () => {
  const h = await open('c1');
  const x = freshX('bob');
  assert.equal((await ask(h, u11, signRequest(u11, x, 1n, utf8('bob v1')))).kind, 'sign');
  // u01 (alice) self-signs a body claiming bob's UID: its own key, so the self-signature is valid.
  const impostor = createCertificate(u01.key, 'bob@example.com', '', 2n);
  const res = await ask(h, u01, signRequest(u01, x, 2n, utf8('alice was here'), impostor));
  assert.equal(res.kind, 'error', 'signed a write to a variable of another UID');
});

void test('refuses a record whose writer body claims another UID than its key is known under', async () => {
  const h = await open('k1');
  const x = freshX('bob');
  assert.equal(
    (await ask(h, u11, { kind: 'write', record: recordOf(u11, x, 1n, utf8('bob'), sufficient) })).kind,
    'write',
  );
  const impostor = createCertificate(u01.key, 'bob@example.com', '', 2n);
  const forged = { ...recordOf(u01, x, 2n, utf8('alice was here'), sufficient), writer: impostor };
  const res = await ask(h, u01, { kind: 'write', record: forged });
  assert.equal(res.kind, 'error', 'stored a record of another UID');
});

void test('never signs two values for one (x, t) and revokes the writer who asks with a proof', async () => {
  const h = await open('c1');
  const x = freshX('alice');
  assert.equal((await ask(h, u01, signRequest(u01, x, 1n, utf8('v1')))).kind, 'sign');
  // The same value again is the same statement: signing it again is harmless.
  assert.equal((await ask(h, u01, signRequest(u01, x, 1n, utf8('v1')))).kind, 'sign');
  assertRefused(await ask(h, u01, signRequest(u01, x, 1n, utf8('v2'))), 'equivocation');
  assert.deepEqual(h.revoked, [u01.id]);
  const proof = h.proofs[0]!;
  assert.equal(proof.kind, 'writer-equivocation');
  assert.equal(verifyRevocationProof(proof), true);
  assert.equal(h.server.graph.isRevoked(u01.id), true);
  // The revoked writer is refused from now on.
  assertRefused(await ask(h, u01, signRequest(u01, freshX('alice'), 1n, utf8('v'))), 'revoked');
});

void test('refuses a different writer at a taken timestamp without revoking', async () => {
  const h = await open('c1');
  const x = freshX('alice');
  assert.equal((await ask(h, u01, signRequest(u01, x, 1n, utf8('v1')))).kind, 'sign');
  assertRefused(await ask(h, u02, signRequest(u02, x, 1n, utf8('v2'))), 'timestampConflict', 1n);
  assert.deepEqual(h.revoked, []);
  assert.equal((await ask(h, u02, signRequest(u02, x, 2n, utf8('v2')))).kind, 'sign');
});

void test('refuses a timestamp beyond the step bound', async () => {
  const h = await open('c1');
  const step = LIMITS.timestampStepMax;
  const x = freshX('alice');
  assertRefused(await ask(h, u01, signRequest(u01, x, step + 1n, utf8('v'))), 'timestampTooFar', 0n);
  assert.equal((await ask(h, u01, signRequest(u01, x, step, utf8('v')))).kind, 'sign');
  assertRefused(await ask(h, u01, signRequest(u01, x, 2n * step + 1n, utf8('v'))), 'timestampTooFar', step);
  assert.equal((await ask(h, u01, signRequest(u01, x, 2n * step, utf8('v')))).kind, 'sign');
  // Write-once is exempt from the step bound; timestamp 0 is reserved.
  assert.equal(
    (await ask(h, u01, signRequest(u01, freshX('alice'), SEALED_TIMESTAMP, utf8('v')))).kind,
    'sign',
  );
  assertRefused(await ask(h, u01, signRequest(u01, freshX('alice'), 0n, utf8('v'))), 'invalidTimestamp');
});

void test('refuses a stale timestamp and reports the latest', async () => {
  const h = await open('c1');
  const x = freshX('alice');
  assert.equal((await ask(h, u01, signRequest(u01, x, 5n, utf8('v5')))).kind, 'sign');
  assertRefused(await ask(h, u01, signRequest(u01, x, 3n, utf8('v3'))), 'staleTimestamp', 5n);
  assertRefused(await ask(h, u02, signRequest(u02, x, 4n, utf8('v4'))), 'staleTimestamp', 5n);
  assert.deepEqual(await ask(h, null, { kind: 'time', x }), { kind: 'time', t: 5n });
  assert.deepEqual(h.revoked, []);
});

void test('refuses another UID (TOFU at signers)', async () => {
  const h = await open('c1');
  const x = freshX('alice');
  assert.equal((await ask(h, u01, signRequest(u01, x, 1n, utf8('v1')))).kind, 'sign');
  assertRefused(await ask(h, u11, signRequest(u11, x, 2n, utf8('bob'))), 'permissionDenied');
  // Another key of the same UID may write.
  assert.equal((await ask(h, u02, signRequest(u02, x, 2n, utf8('v2')))).kind, 'sign');
});

void test('refuses to sign when it is in no quorum clique', async () => {
  const h = await open('k1');
  assertRefused(await ask(h, u01, signRequest(u01, freshX('alice'), 1n, utf8('v'))), 'notASigner');
});

void test('persists what it signed before answering (restart keeps the refusal)', async () => {
  const storage = await seededStorage();
  const first = await open('c1', storage);
  const x = freshX('alice');
  assert.equal((await ask(first, u01, signRequest(u01, x, 3n, utf8('v1')))).kind, 'sign');
  // A fresh server object over the same disk: the volatile state is gone, the refusal is not.
  const second = await open('c1', storage);
  assertRefused(await ask(second, u02, signRequest(u02, x, 3n, utf8('v2'))), 'timestampConflict', 3n);
  assertRefused(await ask(second, u01, signRequest(u01, x, 2n, utf8('v0'))), 'staleTimestamp', 3n);
  assertRefused(await ask(second, u01, signRequest(u01, x, 3n, utf8('v2'))), 'equivocation');
  assert.deepEqual(second.revoked, [u01.id]);
  // ... and the revocation itself survives the next restart.
  const third = await open('c1', storage);
  assert.equal(third.server.graph.isRevoked(u01.id), true);
});

void test('does not answer a sign request until what it signed is durable', async () => {
  const disk = await seededStorage();
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const held: Storage = {
    get: (ns, key) => disk.get(ns, key),
    scan: (ns, options) => disk.scan(ns, options),
    close: () => disk.close(),
    write: async (ops) => {
      if (ops.some((op) => op.ns === 'signed')) await gate;
      return disk.write(ops);
    },
  };
  const h = await open('c1', held);
  let answered = false;
  const pending = h.server
    .handle(u01.id, encodeRequest(signRequest(u01, freshX('alice'), 1n, utf8('v'))))
    .then((b) => {
      answered = true;
      return b;
    });
  for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
  assert.equal(answered, false, 'a signature left before the signed state was written');
  release();
  assert.equal(decodeResponse('sign', await pending).kind, 'sign');
});

// ------------------------------------------------------------------------------------------ KV node

void test('refuses an insufficient collective signature', async () => {
  const h = await open('k1');
  const x = freshX('alice');
  const two = recordOf(u01, x, 1n, utf8('v'), [c(1), c(2)]);
  assertRefused(await ask(h, u01, { kind: 'write', record: two }), 'insufficientSignatures');
  assertRefused(
    await ask(h, u01, { kind: 'write', record: { ...two, signatures: [] } }),
    'insufficientSignatures',
  );
  // A member signature over another value does not count for this one.
  const other = recordOf(u01, x, 1n, utf8('other'), [c(3)]).signatures;
  const swapped = {
    ...two,
    signatures: [...two.signatures, ...other].sort((a, b) => (a.signer < b.signer ? -1 : 1)),
  };
  assertRefused(await ask(h, u01, { kind: 'write', record: swapped }), 'insufficientSignatures');
  assert.deepEqual(await h.server.versions(x), []);
  assert.equal(
    (await ask(h, u01, { kind: 'write', record: recordOf(u01, x, 1n, utf8('v'), sufficient) })).kind,
    'write',
  );
});

void test('rejects duplicate signer in collective signature', async () => {
  const h = await open('k1');
  const x = freshX('alice');
  const rec = recordOf(u01, x, 1n, utf8('v'), [c(1)]);
  const only = rec.signatures[0]!;
  // Raw-encoded write request (command 3): the canonical encoder would never produce this.
  const w = new ByteWriter().u8(3).bytes(rec.x).u64(rec.t).bytes(rec.v);
  writeCertificate(w, rec.writer);
  w.raw(rec.writerSignature).u16(3);
  for (let i = 0; i < 3; i++) w.string(only.signer).raw(only.signature);
  const res = decodeResponse('write', await h.server.handle(u01.id, w.finish()));
  assertRefused(res, 'malformed');
  assert.deepEqual(await h.server.versions(x), []);
});

void test('ignores signatures by non-members', async () => {
  const h = await open('k1');
  const x = freshX('alice');
  // Two members plus valid signatures by KV nodes, a client and a stranger: still two member signatures.
  const strangers = [who('k2'), who('k3'), u02, outsider('stranger', 'eve@example.com', [])];
  const rec = recordOf(u01, x, 1n, utf8('v'), [c(1), c(2), ...strangers]);
  assert.equal(rec.signatures.length, 6);
  assertRefused(await ask(h, u01, { kind: 'write', record: rec }), 'insufficientSignatures');
  const enough = recordOf(u01, x, 1n, utf8('v'), [...sufficient, ...strangers]);
  assert.equal((await ask(h, u01, { kind: 'write', record: enough })).kind, 'write');
});

void test('refuses a record of another UID (TOFU)', async () => {
  const h = await open('k1');
  const x = freshX('alice');
  assert.equal(
    (await ask(h, u01, { kind: 'write', record: recordOf(u01, x, 1n, utf8('a'), sufficient) })).kind,
    'write',
  );
  assertRefused(
    await ask(h, u11, { kind: 'write', record: recordOf(u11, x, 2n, utf8('b'), sufficient) }),
    'permissionDenied',
  );
  assert.equal(
    (await ask(h, u02, { kind: 'write', record: recordOf(u02, x, 2n, utf8('a2'), sufficient) })).kind,
    'write',
  );
  // After another device of the owner wrote the latest version, the owner is unchanged: later and earlier
  // versions by another UID are refused alike.
  assertRefused(
    await ask(h, u11, { kind: 'write', record: recordOf(u11, x, 3n, utf8('b'), sufficient) }),
    'permissionDenied',
  );
  const y = freshX('alice');
  assert.equal(
    (await ask(h, u01, { kind: 'write', record: recordOf(u01, y, 5n, utf8('a'), sufficient) })).kind,
    'write',
  );
  assertRefused(
    await ask(h, u11, { kind: 'write', record: recordOf(u11, y, 2n, utf8('b'), sufficient) }),
    'permissionDenied',
  );
  assert.deepEqual(
    (await h.server.versions(x)).map((r) => r.t),
    [2n, 1n],
  );
});

void test('refuses writes after write-once', async () => {
  const h = await open('k1');
  const x = freshX('alice');
  const sealed = recordOf(u01, x, SEALED_TIMESTAMP, utf8('final'), sufficient);
  assert.equal((await ask(h, u01, { kind: 'write', record: sealed })).kind, 'write');
  assertRefused(
    await ask(h, u01, { kind: 'write', record: recordOf(u01, x, 2n, utf8('later'), sufficient) }),
    'sealed',
    SEALED_TIMESTAMP,
  );
  assert.deepEqual(
    (await h.server.versions(x)).map((r) => r.t),
    [SEALED_TIMESTAMP],
  );
});

void test('accepts an identical rewrite of a sealed record', async () => {
  const h = await open('k1');
  const x = freshX('alice');
  const sealed = recordOf(u01, x, SEALED_TIMESTAMP, utf8('final'), sufficient);
  const first = await ask(h, u01, { kind: 'write', record: sealed });
  const again = await ask(h, u02, { kind: 'write', record: sealed });
  assert.equal(again.kind, 'write');
  assert.deepEqual(again, first);
  assert.equal((await h.server.versions(x)).length, 1);
  assert.deepEqual(h.revoked, []);
});

void test('revokes exactly the signers that signed both values at one (x, t)', async () => {
  // A: v1 by u01, signed by c1 c2 c3 (sufficient). B: v2 by u02 (same UID, another key), signed by c3 c4
  // (insufficient, but c3's signature is valid). Only c3 signed both; the writers are different keys.
  for (const order of ['sufficient first', 'insufficient first'] as const) {
    const h = await open('k1');
    const x = freshX('alice');
    const a = recordOf(u01, x, 4n, utf8('v1'), sufficient);
    const b = recordOf(u02, x, 4n, utf8('v2'), [c(3), c(4)]);
    if (order === 'sufficient first') {
      assert.equal((await ask(h, u01, { kind: 'write', record: a })).kind, 'write', order);
      assertRefused(await ask(h, u02, { kind: 'write', record: b }), 'equivocation', 4n);
    } else {
      assertRefused(await ask(h, u02, { kind: 'write', record: b }), 'insufficientSignatures');
      // Refused: once c3 is out, the three remaining members are no clique, and the node fails closed.
      assertRefused(await ask(h, u01, { kind: 'write', record: a }), 'insufficientSignatures');
    }
    assert.deepEqual(h.revoked, [c(3).id], order);
    assert.ok(
      h.proofs.every((p) => p.kind === 'signer-equivocation' && verifyRevocationProof(p)),
      order,
    );
    for (const innocent of [c(1), c(2), c(4), u01, u02])
      assert.equal(h.server.graph.isRevoked(innocent.id), false, order);
  }
});

void test('revokes the writer too when one writer key wrote both values at one (x, t)', async () => {
  const h = await open('k1');
  const x = freshX('alice');
  assert.equal(
    (await ask(h, u01, { kind: 'write', record: recordOf(u01, x, 1n, utf8('v1'), sufficient) })).kind,
    'write',
  );
  assertRefused(
    await ask(h, u01, { kind: 'write', record: recordOf(u01, x, 1n, utf8('v2'), [c(4)]) }),
    'equivocation',
  );
  assert.deepEqual(h.revoked, [u01.id]);
  assert.equal(h.proofs[0]!.kind, 'writer-equivocation');
});

void test('acknowledgement is signed over the stored record', async () => {
  const h = await open('k1');
  const x = freshX('alice');
  const rec = recordOf(u01, x, 1n, utf8('hello'), sufficient);
  const res = await ask(h, u01, { kind: 'write', record: rec });
  assert.ok(res.kind === 'write');
  assert.equal(verify(who('k1').key.publicKey, ackStatement(x, 1n, valueDigest(rec.v)), res.ack), true);
  assert.equal(verify(who('k1').key.publicKey, ackStatement(x, 2n, valueDigest(rec.v)), res.ack), false);
  assert.deepEqual(await h.server.versions(x), [rec]);
  assert.deepEqual(await ask(h, null, { kind: 'read', x }), { kind: 'read', record: rec });
  // Durable: a restart over the same disk still serves it.
  const again = await open('k1', h.storage);
  assert.deepEqual(await ask(again, null, { kind: 'read', x }), { kind: 'read', record: rec });
});

void test('a malformed request gets a typed malformed error, not a throw', async () => {
  const h = await open('k1');
  const valid = encodeRequest({
    kind: 'write',
    record: recordOf(u01, freshX('alice'), 1n, utf8('v'), sufficient),
  });
  const garbage: Uint8Array[] = [
    new Uint8Array(0),
    Uint8Array.of(0),
    Uint8Array.of(42, 1, 2, 3),
    valid.subarray(0, valid.length - 1),
    new Uint8Array([...valid, 0]),
    encodeRequest({ kind: 'read', x: new Uint8Array(0) }),
  ];
  for (const payload of garbage) {
    const res = decodeResponse('write', await h.server.handle(u01.id, payload));
    assertRefused(res, 'malformed');
  }
  const oversize = new Uint8Array(LIMITS.messageBytesMax + 1);
  assertRefused(decodeResponse('write', await h.server.handle(null, oversize)), 'tooLarge');
});

void test('requests from a revoked sender are refused', async () => {
  const h = await open('k1');
  const x = freshX('alice');
  // A signer-equivocation proof against c4, delivered by gossip; a forged one changes nothing.
  const a = recordOf(u01, x, 1n, utf8('v1'), [c(4)]);
  const b = recordOf(u02, x, 1n, utf8('v2'), [c(4)]);
  const proof: RevocationProof = {
    kind: 'signer-equivocation',
    accusedKey: c(4).key.publicKey,
    x,
    t: 1n,
    a: {
      valueDigest: valueDigest(a.v),
      writer: u01.id,
      writerUid: u01.cert.body.uid,
      writerSignature: a.writerSignature,
      signature: a.signatures[0]!.signature,
    },
    b: {
      valueDigest: valueDigest(b.v),
      writer: u02.id,
      writerUid: u02.cert.body.uid,
      writerSignature: b.writerSignature,
      signature: b.signatures[0]!.signature,
    },
  };
  const forgedProof: RevocationProof = { ...proof, accusedKey: c(1).key.publicKey };
  assert.deepEqual(await ask(h, c(2), { kind: 'gossip', records: [], proofs: [forgedProof] }), {
    kind: 'ok',
  });
  assert.deepEqual(h.revoked, []);
  assert.deepEqual(await ask(h, c(2), { kind: 'gossip', records: [], proofs: [proof] }), { kind: 'ok' });
  assert.deepEqual(h.revoked, [c(4).id]);
  for (const req of [
    { kind: 'time', x },
    { kind: 'read', x },
  ] as const)
    assertRefused(await ask(h, c(4), req), 'revoked');
  assert.equal((await ask(h, c(1), { kind: 'time', x })).kind, 'time');
});
