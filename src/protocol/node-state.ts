/**
 * Durable node state shared by servers and clients: the trust graph (certificates, presence, revocation
 * proofs) loaded from and written through to Storage, so a restarted node comes back with the same graph
 * and revocations.
 */
import { ByteReader, ByteWriter, utf8, writeList } from '../codec/bytes.js';
import { LIMITS } from '../limits.js';
import { SIGNATURE_BYTES } from '../crypto/ed25519.js';
import type { Storage, StorageOp } from '../storage/storage.js';
import {
  decodeCertificate,
  encodeCertificate,
  type Certificate,
  type Certification,
  type NodeId,
} from '../trust/certificate.js';
import { TrustGraph, type Presence } from '../trust/graph.js';
import {
  decodeRevocationProof,
  encodeRevocationProof,
  accusedOf,
  type RevocationProof,
} from '../trust/revocation.js';

function encodePresence(p: Presence): Uint8Array {
  return new ByteWriter().string(p.id).u64(p.seq).bool(p.present).raw(p.signature).finish();
}

function decodePresence(b: Uint8Array): Presence {
  const r = new ByteReader(b);
  const p = {
    id: r.string(64, 'presence.id'),
    seq: r.u64('presence.seq'),
    present: r.bool('presence.present'),
    signature: r.raw(SIGNATURE_BYTES, 'presence.signature'),
  };
  r.finish('presence');
  return p;
}

const PRESENCE_PREFIX = 'presence/';
const PENDING_PREFIX = 'pending/';

function encodePending(list: readonly Certification[]): Uint8Array {
  const w = new ByteWriter();
  writeList(w, list, (w2, c) => w2.string(c.issuer).raw(c.signature));
  return w.finish();
}

function decodePending(b: Uint8Array): Certification[] {
  const r = new ByteReader(b);
  const list = r.list(LIMITS.certificationsMax, 'pending', (rr) => ({
    issuer: rr.string(64, 'pending.issuer'),
    signature: rr.raw(SIGNATURE_BYTES, 'pending.signature'),
  }));
  r.finish('pending');
  return list;
}

/** Loads the graph from storage (every certificate, certification and proof is verified again). */
export async function loadGraph(storage: Storage): Promise<TrustGraph> {
  const graph = new TrustGraph();
  for (const [, v] of await storage.scan('revoked')) graph.restoreRevocation(decodeRevocationProof(v));
  const certs = (await storage.scan('cert')).map(([, v]) => decodeCertificate(v));
  graph.addCertificates(certs);
  for (const [k, v] of await storage.scan('meta', { prefix: utf8(PENDING_PREFIX) })) {
    graph.addCertifications(Buffer.from(k).toString('utf8').slice(PENDING_PREFIX.length), decodePending(v));
  }
  for (const [, v] of await storage.scan('meta', { prefix: utf8(PRESENCE_PREFIX) }))
    graph.applyPresence(decodePresence(v));
  return graph;
}

/** Storage ops that persist the current state of the given vertices and proofs. */
export function graphOps(
  graph: TrustGraph,
  ids: Iterable<NodeId>,
  proofs: Iterable<RevocationProof> = [],
): StorageOp[] {
  const ops: StorageOp[] = [];
  for (const id of ids) {
    const cert: Certificate | undefined = graph.certificate(id);
    ops.push({ ns: 'cert', key: utf8(id), value: cert === undefined ? undefined : encodeCertificate(cert) });
  }
  for (const p of graph.presences())
    ops.push({ ns: 'meta', key: utf8(PRESENCE_PREFIX + p.id), value: encodePresence(p) });
  for (const [subject, list] of graph.pendingCertifications()) {
    const value = encodePending(list.slice(0, LIMITS.certificationsMax));
    ops.push({ ns: 'meta', key: utf8(PENDING_PREFIX + subject), value });
  }
  for (const p of proofs) {
    const id = accusedOf(p);
    ops.push({ ns: 'revoked', key: utf8(id), value: encodeRevocationProof(p) });
    ops.push({ ns: 'cert', key: utf8(id), value: undefined });
    ops.push({ ns: 'meta', key: utf8(PRESENCE_PREFIX + id), value: undefined });
  }
  return ops;
}

/** Persists the whole graph (used after bulk changes such as a join). */
export async function persistGraph(storage: Storage, graph: TrustGraph): Promise<void> {
  const ids = graph.certificates().map((c) => c.id);
  await storage.write(graphOps(graph, ids, graph.revocations()));
}
