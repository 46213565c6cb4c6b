/**
 * Topologies for the simulator: who exists (servers with an address, clients without) and who certified
 * whom. `materialize` turns a description into keys and certificates, all derived from the seed.
 */
import { signingKeyFromSeed, type SigningKey } from '../../src/crypto/ed25519.js';
import {
  certify,
  createCertificate,
  withCertifications,
  type Certificate,
  type NodeId,
} from '../../src/trust/certificate.js';
import {
  buildTopology as buildDesc,
  type ClientSpec,
  type NodeDesc,
  type ServerNaming,
  type TopologyDesc,
} from '../../src/topology/topology.js';
import type { SeededRandom } from './prng.js';

export type { ClientSpec, NodeDesc, TopologyDesc } from '../../src/topology/topology.js';

export interface Identity {
  readonly name: string;
  readonly key: SigningKey;
  readonly cert: Certificate;
  readonly id: NodeId;
  readonly desc: NodeDesc;
}

/** Simulated servers: UID `NAME.bftkv.test`, address `sim://NAME`. */
const SIM_NAMING: ServerNaming = { uid: (n) => `${n}.bftkv.test`, address: (n) => `sim://${n}` };

/** Builds a simulated topology (topology/topology.ts buildTopology with simulator addresses). */
export function buildTopology(
  name: string,
  cliqueSizes: Readonly<Record<string, number>>,
  kvCount: number,
  clients: readonly ClientSpec[],
): TopologyDesc {
  return buildDesc(name, cliqueSizes, kvCount, clients, SIM_NAMING);
}

/** One 4-member clique, four KV nodes; u01, u02 (one UID), u04 (same UID, uncertified), u11 (another UID). */
export function smallTopology(): TopologyDesc {
  const c = ['c01', 'c02', 'c03', 'c04'];
  return buildTopology('small', { c: 4 }, 4, [
    { name: 'u01', uid: 'alice@example.com', certifiedBy: ['c'], trusts: c },
    { name: 'u02', uid: 'alice@example.com', certifiedBy: ['c'], trusts: c },
    { name: 'u04', uid: 'alice@example.com', certifiedBy: [], trusts: c },
    { name: 'u11', uid: 'bob@example.com', certifiedBy: ['c'], trusts: c },
  ]);
}

/**
 * REFERENCE.md §10.1: cliques A and B of 10, six KV nodes; u01–u04 share UID foo@example.com, u04 has no
 * certification; u11 has UID bar@example.com. Departure: the paper's CheckQuorumCert needs more than 2/3
 * of each signing clique, and CheckSigs needs every clique, so certified users are certified by all of A
 * and B (the reference certified them by 4 members of one clique).
 */
export function referenceTopology(): TopologyDesc {
  const a = Array.from({ length: 6 }, (_, i) => `a${String(i + 1).padStart(2, '0')}`);
  const b = Array.from({ length: 6 }, (_, i) => `b${String(i + 1).padStart(2, '0')}`);
  return buildTopology('reference', { a: 10, b: 10 }, 6, [
    { name: 'u01', uid: 'foo@example.com', certifiedBy: ['a', 'b'], trusts: a },
    { name: 'u02', uid: 'foo@example.com', certifiedBy: ['a', 'b'], trusts: a },
    { name: 'u03', uid: 'foo@example.com', certifiedBy: ['a', 'b'], trusts: a },
    { name: 'u04', uid: 'foo@example.com', certifiedBy: [], trusts: a },
    { name: 'u11', uid: 'bar@example.com', certifiedBy: ['a', 'b'], trusts: b },
  ]);
}

/** Keys and certificates (with every certification of the description) derived from `random`. */
export function materialize(desc: TopologyDesc, random: SeededRandom): Map<string, Identity> {
  const keys = new Map<string, SigningKey>();
  const bare = new Map<string, Certificate>();
  for (const n of desc.nodes) {
    const key = signingKeyFromSeed(random.bytes(32));
    keys.set(n.name, key);
    bare.set(n.name, createCertificate(key, n.uid, n.address));
  }
  const certs = new Map(bare);
  for (const [issuer, subject] of desc.edges) {
    const c = certify(keys.get(issuer)!, bare.get(subject)!);
    certs.set(subject, withCertifications(certs.get(subject)!, [c]));
  }
  const out = new Map<string, Identity>();
  for (const n of desc.nodes) {
    const cert = certs.get(n.name)!;
    out.set(n.name, { name: n.name, key: keys.get(n.name)!, cert, id: cert.id, desc: n });
  }
  return out;
}
