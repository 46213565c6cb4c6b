/**
 * What a client identity learned, kept in its directory between runs: `ID/client-state`.
 *
 * It holds the certificates of the client's trust graph with their verified certifications (among them the
 * certifications this identity issued with `trust`, which exist nowhere else) and every revocation proof the
 * client accepted, so a revoked node stays revoked for this client after a restart. Presence announcements and
 * certifications still waiting for their issuer are not kept: a join gets them again.
 *
 * Loading verifies everything again (TrustGraph checks every self-signature, certification and proof), and
 * `connect` keeps only the nodes this identity's trust reaches, as a join does: a tampered file can make the
 * client forget, but not trust a key nobody it trusts certified.
 * Saving re-reads the file and merges it first, then replaces it atomically (temporary file + rename): two
 * processes saving at the same moment can still lose what one of them learned in between (the last rename
 * wins), which a later join repairs except for certifications issued by the loser; `trust` runs alone.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ByteReader, ByteWriter, bytesEqual, utf8, writeList } from '../codec/bytes.js';
import { LIMITS } from '../limits.js';
import { readCertificate, writeCertificate, type Certificate } from '../trust/certificate.js';
import { TrustGraph } from '../trust/graph.js';
import { readRevocationProof, writeRevocationProof, type RevocationProof } from '../trust/revocation.js';

export const STATE_FILE = 'client-state';
const TAG = utf8('bftkv/client-state/v1');

export interface ClientState {
  readonly certificates: readonly Certificate[];
  readonly revocations: readonly RevocationProof[];
}

/** Canonical bytes of a state snapshot. */
export function encodeClientState(state: ClientState): Uint8Array {
  const w = new ByteWriter().raw(TAG);
  writeList(w, state.certificates, writeCertificate);
  writeList(w, state.revocations, writeRevocationProof);
  return w.finish();
}

/** Decodes a state snapshot (shape only: the graph verifies the contents). Throws CodecError. */
export function decodeClientState(bytes: Uint8Array): ClientState {
  const r = new ByteReader(bytes);
  if (!bytesEqual(r.raw(TAG.length, 'state.tag'), TAG)) throw new RangeError('not a bftkv client state file');
  const certificates = r.list(LIMITS.graphVerticesMax, 'state.certificates', readCertificate);
  const revocations = r.list(LIMITS.graphVerticesMax, 'state.revocations', readRevocationProof);
  r.finish('state');
  return { certificates, revocations };
}

/** Reads ID/client-state; an absent file is an empty state. */
export async function readClientState(dir: string): Promise<ClientState> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(join(dir, STATE_FILE)));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { certificates: [], revocations: [] };
    throw error;
  }
  return decodeClientState(bytes);
}

/** Adds a state snapshot to `graph`: revocations first, so a revoked node's certificate is refused. */
export function applyClientState(graph: TrustGraph, state: ClientState): void {
  for (const p of state.revocations) graph.restoreRevocation(p);
  graph.addCertificates(state.certificates);
}

/**
 * Writes `graph` to ID/client-state, merged with what the file holds now (another process may have saved
 * since this one loaded it). `graph` itself is not changed.
 */
export async function saveClientState(dir: string, graph: TrustGraph): Promise<void> {
  const merged = new TrustGraph();
  applyClientState(merged, await readClientState(dir));
  applyClientState(merged, { certificates: graph.certificates(), revocations: graph.revocations() });
  const file = join(dir, STATE_FILE);
  const bytes = encodeClientState({
    certificates: merged.certificates().slice(0, LIMITS.graphVerticesMax),
    revocations: merged.revocations().slice(0, LIMITS.graphVerticesMax),
  });
  await writeFile(`${file}.tmp`, bytes, { mode: 0o600 });
  await rename(`${file}.tmp`, file);
}
