/**
 * Byzantine behaviours: real node implementations that run in the simulator in place of honest code.
 * Servers wrap an honest BftkvServer (they use its storage and keys like a compromised machine would) and
 * answer some requests maliciously; clients speak the wire protocol directly.
 */
import { ByteWriter, utf8 } from '../../src/codec/bytes.js';
import { withDeadline } from '../../src/env/clock.js';
import { sign } from '../../src/crypto/ed25519.js';
import type { BftkvClient } from '../../src/protocol/client.js';
import {
  decodeRequest,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  type MemberSignature,
  type Request,
  type Response,
  type SignedRecord,
} from '../../src/protocol/messages.js';
import type { BftkvServer } from '../../src/protocol/server.js';
import type { CliqueQuorum } from '../../src/quorum/quorum-system.js';
import type { RequestHandler } from '../../src/transport/transport.js';
import {
  createCertificate,
  writeCertificate,
  type Certificate,
  type NodeId,
} from '../../src/trust/certificate.js';
import { signingKeyFromSeed } from '../../src/crypto/ed25519.js';
import { valueDigest, writerStatement } from '../../src/trust/statements.js';
import { recordStatement } from '../../src/protocol/verify.js';
import type { BehaviourContext, ServerBehaviour, SimCluster } from './cluster.js';
import type { Identity } from './topology.js';

function tryDecode(payload: Uint8Array): Request | undefined {
  try {
    return decodeRequest(payload);
  } catch {
    return undefined;
  }
}

function behaviour(
  name: string,
  wrap: (server: BftkvServer, ctx: BehaviourContext) => RequestHandler,
): ServerBehaviour {
  return { name, wrap };
}

/** A clique member that signs any sign request without a single check (and remembers nothing). */
export const signsAnything = behaviour('signer-signs-anything', (server, ctx) => async (from, payload) => {
  const req = tryDecode(payload);
  if (req?.kind === 'sign') {
    return encodeResponse({ kind: 'sign', signature: sign(ctx.self.key, recordStatement(req)) });
  }
  return server.handle(from, payload);
});

/** A clique member that refuses every sign request (availability attack). */
export const refusesToSign = behaviour('signer-refuses', (server) => async (from, payload) => {
  const req = tryDecode(payload);
  if (req?.kind === 'sign')
    return encodeResponse({ kind: 'error', code: 'permissionDenied', message: 'no', timestamp: 0n });
  return server.handle(from, payload);
});

/** A clique member that answers sign requests with a signature over something else. */
export const signsGarbage = behaviour('signer-bad-signature', (server, ctx) => async (from, payload) => {
  const req = tryDecode(payload);
  if (req?.kind === 'sign')
    return encodeResponse({ kind: 'sign', signature: sign(ctx.self.key, utf8('garbage')) });
  return server.handle(from, payload);
});

/** A node that never answers anything. */
export const mute = behaviour('mute', () => () => new Promise<Uint8Array>(() => undefined));

async function latest(server: BftkvServer, x: Uint8Array): Promise<SignedRecord[]> {
  return server.versions(x, 64);
}

function readAnswer(record: SignedRecord | undefined): Uint8Array {
  return encodeResponse({ kind: 'read', record });
}

/** A KV node that stores honestly but answers reads with the oldest version it has. */
export const kvStale = behaviour('kv-stale', (server) => async (from, payload) => {
  const req = tryDecode(payload);
  if (req?.kind === 'read') {
    const versions = await latest(server, req.x);
    return readAnswer(versions[versions.length - 1]);
  }
  return server.handle(from, payload);
});

/** A KV node that acknowledges writes without storing and claims to have nothing. */
export const kvEmpty = behaviour('kv-empty', (server, ctx) => async (from, payload) => {
  const req = tryDecode(payload);
  if (req?.kind === 'read') return readAnswer(undefined);
  if (req?.kind === 'write') {
    // A well-formed acknowledgement signature for a record it drops.
    const { ackStatement } = await import('../../src/trust/statements.js');
    return encodeResponse({
      kind: 'write',
      ack: sign(ctx.self.key, ackStatement(req.record.x, req.record.t, valueDigest(req.record.v))),
    });
  }
  return server.handle(from, payload);
});

/** A KV node that answers reads with a fabricated record (random value, signatures copied from a real one). */
export const kvFabricate = behaviour('kv-fabricated-record', (server, ctx) => async (from, payload) => {
  const req = tryDecode(payload);
  if (req?.kind === 'read') {
    const [real] = await latest(server, req.x);
    const writer =
      real?.writer ??
      ctx.cluster.identity(
        ctx.random.pick([...ctx.cluster.ids.values()].filter((i) => i.desc.role === 'client')).name,
      ).cert;
    const fake: SignedRecord = {
      x: req.x,
      t: (real?.t ?? 0n) + 1n + BigInt(ctx.random.int(5)),
      v: ctx.random.bytes(12),
      writer,
      writerSignature: real?.writerSignature ?? ctx.random.bytes(64),
      signatures: real?.signatures ?? [],
    };
    return readAnswer(fake);
  }
  return server.handle(from, payload);
});

/** A KV node that answers reads with the real record but a higher timestamp (signatures no longer match). */
export const kvHigherTimestamp = behaviour('kv-higher-timestamp', (server, ctx) => async (from, payload) => {
  const req = tryDecode(payload);
  if (req?.kind === 'read') {
    const [real] = await latest(server, req.x);
    if (real !== undefined) return readAnswer({ ...real, t: real.t + 1n + BigInt(ctx.random.int(1000)) });
  }
  return server.handle(from, payload);
});

function encodeRawRecordResponse(rec: SignedRecord, signatures: readonly MemberSignature[]): Uint8Array {
  // Bypasses the canonical encoder on purpose: duplicated / unsorted signers.
  const w = new ByteWriter().u8(0).bool(true).bytes(rec.x).u64(rec.t).bytes(rec.v);
  writeCertificate(w, rec.writer);
  w.raw(rec.writerSignature).u16(signatures.length);
  for (const s of signatures) w.string(s.signer).raw(s.signature);
  return w.finish();
}

/**
 * A KV node that answers reads with forged collective signatures: duplicated signers (to inflate the
 * count), signatures by non-members (itself and other Byzantine nodes), or the value swapped under the
 * real signatures.
 */
export const kvForgedSignatures = behaviour(
  'kv-forged-signatures',
  (server, ctx) => async (from, payload) => {
    const req = tryDecode(payload);
    if (req?.kind === 'read') {
      const [real] = await latest(server, req.x);
      if (real !== undefined) {
        const mode = ctx.random.int(3);
        if (mode === 0 && real.signatures.length > 0) {
          const first = real.signatures[0]!;
          return encodeRawRecordResponse(real, [...real.signatures, first, first]);
        }
        if (mode === 1) {
          const v = ctx.random.bytes(8);
          const own = sign(ctx.self.key, recordStatement({ ...real, t: real.t + 1n, v }));
          const foreign = [{ signer: ctx.self.id, signature: own }, ...real.signatures.slice(0, 1)].sort(
            (a, b) => (a.signer < b.signer ? -1 : 1),
          );
          return readAnswer({ ...real, t: real.t + 1n, v, signatures: foreign });
        }
        return readAnswer({ ...real, v: utf8('swapped value') });
      }
    }
    return server.handle(from, payload);
  },
);

/**
 * A server that shows different graph views to different peers on join: a random subset of its
 * certificates, certifications stripped or forged, and a made-up node certified by a forged signature.
 */
export const graphLiar = behaviour('graph-liar', (server, ctx) => async (from, payload) => {
  const req = tryDecode(payload);
  if (req?.kind === 'join') {
    const honest = decodeResponse('join', await server.handle(from, payload));
    if (honest.kind !== 'join') return encodeResponse(honest);
    const subset = honest.certificates.filter(() => ctx.random.chance(0.6));
    const mangled: Certificate[] = subset.map((c) => {
      if (c.certifications.length === 0 || !ctx.random.chance(0.5)) return c;
      const forged = c.certifications.map((k) => ({ issuer: k.issuer, signature: ctx.random.bytes(64) }));
      return { ...c, certifications: ctx.random.chance(0.5) ? [] : forged };
    });
    const phantomKey = signingKeyFromSeed(ctx.random.bytes(32));
    const phantom = createCertificate(phantomKey, 'phantom.bftkv.test', 'sim://phantom');
    const victims = honest.certificates.filter(() => ctx.random.chance(0.3));
    const phantomWithCerts: Certificate = {
      ...phantom,
      certifications: victims
        .map((v) => ({ issuer: v.id, signature: ctx.random.bytes(64) }))
        .sort((a, b) => (a.issuer < b.issuer ? -1 : 1)),
    };
    return encodeResponse({
      kind: 'join',
      certificates: [...mangled, phantomWithCerts],
      presences: [],
      proofs: [],
    });
  }
  return server.handle(from, payload);
});

/** Every server behaviour by name. */
export const SERVER_BEHAVIOURS: Record<string, ServerBehaviour> = Object.fromEntries(
  [
    signsAnything,
    refusesToSign,
    signsGarbage,
    mute,
    kvStale,
    kvEmpty,
    kvFabricate,
    kvHigherTimestamp,
    kvForgedSignatures,
    graphLiar,
  ].map((b) => [b.name, b]),
);

// ------------------------------------------------------------------------------------------ clients

/** One request from `self` to `peer` over the simulated network; undefined on any failure or timeout. */
export async function ask(
  cluster: SimCluster,
  self: Identity,
  peer: Certificate,
  req: Request,
  timeoutMs = 2000,
): Promise<Response | undefined> {
  try {
    const bytes = await withDeadline(cluster.sim.clock, timeoutMs, undefined, (s) =>
      cluster.net.transportFor(self.id).request(peer.id, peer.body.address, encodeRequest(req), s),
    );
    return decodeResponse(req.kind, bytes);
  } catch {
    return undefined;
  }
}

/**
 * A client that presents a forged quorum certificate: certifications that claim clique members as
 * issuers but carry random signatures, or valid signatures lifted from another node's certificate.
 */
export async function forgedQuorumCertificateWrite(
  cluster: SimCluster,
  self: Identity,
  donor: Identity,
  x: Uint8Array,
): Promise<{ signedBy: NodeId[]; storedAt: NodeId[] }> {
  const qs = cluster.client(self.name, { byzantine: true }).quorumSystem();
  const members = qs.cliques.flatMap((c) => [...c.members]);
  const forged = members.map((m, i) =>
    i % 2 === 0
      ? { issuer: m, signature: cluster.random.bytes(64) }
      : (donor.cert.certifications.find((c) => c.issuer === m) ?? {
          issuer: m,
          signature: cluster.random.bytes(64),
        }),
  );
  forged.sort((a, b) => (a.issuer < b.issuer ? -1 : 1));
  const writer: Certificate = { ...self.cert, certifications: forged };
  const v = utf8('forged-qc');
  const t = 1n;
  const writerSignature = sign(self.key, writerStatement(x, t, valueDigest(v)));
  const signedBy: NodeId[] = [];
  const signatures: MemberSignature[] = [];
  await Promise.all(
    members.map(async (m) => {
      const peer = cluster.identity(cluster.name(m)).cert;
      const r = await ask(cluster, self, peer, { kind: 'sign', x, t, v, writer, writerSignature });
      if (r?.kind === 'sign') {
        signedBy.push(m);
        signatures.push({ signer: m, signature: r.signature });
      }
    }),
  );
  signatures.sort((a, b) => (a.signer < b.signer ? -1 : 1));
  const record: SignedRecord = { x, t, v, writer, writerSignature, signatures };
  const storedAt: NodeId[] = [];
  await Promise.all(
    qs.kvNodes.map(async (k) => {
      const r = await ask(cluster, self, cluster.identity(cluster.name(k)).cert, { kind: 'write', record });
      if (r?.kind === 'write') storedAt.push(k);
    }),
  );
  return { signedBy, storedAt };
}

/**
 * A client that replays old messages: an older signed record of x (taken from a read) resent as a write
 * to every KV node, and its sign request resent to every signer.
 */
export async function replayOldRecord(
  cluster: SimCluster,
  self: Identity,
  old: SignedRecord,
): Promise<{ signAccepted: number; writesAccepted: number }> {
  const qs = cluster.client(self.name, { byzantine: true }).quorumSystem();
  let signAccepted = 0;
  let writesAccepted = 0;
  await Promise.all([
    ...qs.cliques
      .flatMap((c) => c.members)
      .map(async (m) => {
        const r = await ask(cluster, self, cluster.identity(cluster.name(m)).cert, {
          kind: 'sign',
          x: old.x,
          t: old.t,
          v: old.v,
          writer: old.writer,
          writerSignature: old.writerSignature,
        });
        if (r?.kind === 'sign') signAccepted++;
      }),
    ...qs.kvNodes.map(async (k) => {
      const r = await ask(cluster, self, cluster.identity(cluster.name(k)).cert, {
        kind: 'write',
        record: old,
      });
      if (r?.kind === 'write') writesAccepted++;
    }),
  ]);
  return { signAccepted, writesAccepted };
}

export interface EquivocationAttempt {
  readonly t: bigint;
  /** Keys that signed both values (the guilty, besides the client itself). */
  readonly doubleSigners: readonly NodeId[];
  readonly sufficient: readonly [boolean, boolean];
}

/**
 * The paper §5 attack: a certified client colluding with faulty clique members picks one timestamp,
 * splits every clique's honest members in two halves, asks half 1 + the colluders to sign v1 and half 2 +
 * the colluders to sign v2, and writes each record to a different half of the KV nodes (colluding KV
 * nodes, if any, get both).
 */
export async function equivocate(
  cluster: SimCluster,
  self: Identity,
  client: BftkvClient,
  x: Uint8Array,
  colluders: ReadonlySet<NodeId>,
  v1: Uint8Array,
  v2: Uint8Array,
): Promise<EquivocationAttempt> {
  const qs = client.quorumSystem();
  // Time phase the honest way, so the attack lands on a fresh timestamp.
  let t = 0n;
  await Promise.all(
    qs.cliques
      .flatMap((c) => c.members)
      .map(async (m) => {
        const r = await ask(cluster, self, cluster.identity(cluster.name(m)).cert, { kind: 'time', x });
        if (r?.kind === 'time' && r.t > t && r.t < 1n << 60n) t = r.t;
      }),
  );
  t += 1n;
  const writer = client.certificate();
  const halves: [NodeId[], NodeId[]] = [[], []];
  const colluding: NodeId[] = [];
  for (const c of qs.cliques as CliqueQuorum[]) {
    const honest = c.members.filter((m) => !colluders.has(m));
    honest.forEach((m, i) => halves[i % 2]!.push(m));
    colluding.push(...c.members.filter((m) => colluders.has(m)));
  }
  const records: SignedRecord[] = [];
  const signedBoth = new Map<NodeId, number>();
  for (const [i, v] of [v1, v2].entries()) {
    const writerSignature = sign(self.key, writerStatement(x, t, valueDigest(v)));
    const signatures: MemberSignature[] = [];
    await Promise.all(
      [...halves[i]!, ...colluding].map(async (m) => {
        const r = await ask(cluster, self, cluster.identity(cluster.name(m)).cert, {
          kind: 'sign',
          x,
          t,
          v,
          writer,
          writerSignature,
        });
        if (r?.kind === 'sign') {
          signatures.push({ signer: m, signature: r.signature });
          signedBoth.set(m, (signedBoth.get(m) ?? 0) + 1);
        }
      }),
    );
    signatures.sort((a, b) => (a.signer < b.signer ? -1 : 1));
    records.push({ x, t, v, writer, writerSignature, signatures });
  }
  const sufficient = records.map((r) =>
    qs.cliques.every((c) => r.signatures.filter((s) => c.memberSet.has(s.signer)).length >= c.sufficient),
  );
  const kv = qs.kvNodes;
  await Promise.all(
    kv.map(async (k, i) => {
      const peer = cluster.identity(cluster.name(k)).cert;
      const targets = colluders.has(k) ? records : [records[i % 2]!];
      for (const record of targets) await ask(cluster, self, peer, { kind: 'write', record });
    }),
  );
  const doubleSigners = [...signedBoth.entries()].filter(([, n]) => n === 2).map(([id]) => id);
  return { t, doubleSigners, sufficient: [sufficient[0]!, sufficient[1]!] };
}
