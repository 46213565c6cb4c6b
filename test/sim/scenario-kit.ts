/**
 * Helpers shared by the scenario tests (test/sim/scenarios-*.test.ts): running a task to a typed refusal,
 * reads that report instead of throwing, revocation logs, and graph fingerprints by node name.
 */
import assert from 'node:assert/strict';
import { BftkvClient } from '../../src/protocol/client.js';
import { ProtocolError, type ErrorCode } from '../../src/protocol/errors.js';
import { TrustGraph } from '../../src/trust/graph.js';
import type { SimCluster } from './cluster.js';

export const text = (b: Uint8Array | undefined): string | undefined =>
  b === undefined ? undefined : new TextDecoder().decode(b);

/** Runs `task` in the simulation; it must reject with a ProtocolError within `budgetMs` virtual ms. */
export async function refused(
  cluster: SimCluster,
  task: () => Promise<unknown>,
  budgetMs = 60_000,
): Promise<ProtocolError> {
  const error = await cluster.run(task, budgetMs).then(
    () => 'resolved',
    (e: unknown) => e,
  );
  assert.ok(error instanceof ProtocolError, `expected a ProtocolError, got ${String(error)}`);
  return error;
}

export type ReadOutcome = { ok: true; t: bigint; v: string | undefined } | { ok: false; code: ErrorCode };

/** A read by `client` that reports a ProtocolError as an outcome (any other error fails the test). */
export async function tryRead(
  cluster: SimCluster,
  client: string,
  x: Uint8Array,
  quorum: 'all' | 'sample' = 'all',
): Promise<ReadOutcome> {
  try {
    const r = await cluster.run(() => cluster.client(client).read(x, { quorum }));
    return { ok: true, t: r.t, v: text(r.value) };
  } catch (e) {
    if (e instanceof ProtocolError) return { ok: false, code: e.code };
    throw e;
  }
}

export function show(o: ReadOutcome): string {
  return o.ok ? `t=${o.t} v=${o.v ?? '(none)'}` : `error ${o.code}`;
}

export async function read(
  cluster: SimCluster,
  client: string,
  x: Uint8Array,
  quorum: 'all' | 'sample' = 'all',
) {
  const r = await cluster.run(() => cluster.client(client).read(x, { quorum }));
  return { t: r.t, v: text(r.value), record: r.record };
}

export function revocationLog(cluster: SimCluster): string[] {
  return cluster.revocations.map((e) => `${e.by} revoked ${e.accusedName} (${e.kind})`);
}

/** Names of the nodes `server` has revoked. */
export function revokedAt(cluster: SimCluster, server: string): string[] {
  const graph = cluster.server(server)!.graph;
  return [...cluster.ids.values()]
    .filter((i) => graph.isRevoked(i.id))
    .map((i) => i.name)
    .sort();
}

export function honestServers(cluster: SimCluster): string[] {
  return cluster.serverNames().filter((n) => cluster.isHonest(cluster.identity(n).id));
}

/** Every server's graph fingerprint, with node IDs replaced by names (readable diffs). */
export function fingerprints(cluster: SimCluster, names = cluster.serverNames()): Map<string, string> {
  return new Map(names.map((n) => [n, named(cluster, cluster.server(n)!.graph.fingerprint())]));
}

export function named(cluster: SimCluster, fingerprint: string): string {
  return fingerprint
    .split(';')
    .map((part) => {
      const [v = '', out = ''] = part.split('>');
      const subjects = out === '' ? [] : out.split(',').map((id) => cluster.name(id));
      return `${cluster.name(v)}>${subjects.sort().join(',')}`;
    })
    .sort()
    .join(' ');
}

/** The graph the topology defines: every certificate with every certification (what a complete join yields). */
export function topologyGraph(cluster: SimCluster): TrustGraph {
  const g = new TrustGraph();
  g.addCertificates([...cluster.ids.values()].map((i) => i.cert));
  return g;
}

/**
 * The topology graph as a joiner ends up with it: a joiner keeps only nodes its own trust reaches, so
 * phantoms and clients nobody certified (u04) are dropped.
 */
export function joinerGraph(cluster: SimCluster, name: string): TrustGraph {
  const g = topologyGraph(cluster);
  g.forgetExcept(
    [...cluster.ids.values()].map((i) => i.id),
    g.reachableFrom(cluster.identity(name).id),
  );
  return g;
}

/** Edges ("issuer>subject") of a graph's view. */
export function edges(graph: TrustGraph): Set<string> {
  const view = graph.view();
  const out = new Set<string>();
  for (const v of view.vertices) for (const s of view.out(v)) out.add(`${v}>${s}`);
  return out;
}

/** A client speaking for server `name` that shares the server's graph (how a daemon joins and leaves). */
export function serverSideClient(cluster: SimCluster, name: string): BftkvClient {
  const self = cluster.identity(name);
  const server = cluster.server(name);
  assert.ok(server !== undefined, `${name} is not running`);
  return new BftkvClient({
    key: self.key,
    certificate: self.cert,
    clock: cluster.sim.clock,
    random: cluster.random.fork(`server-side-client/${name}`),
    transport: cluster.net.transportFor(self.id),
    graph: server.graph,
    options: cluster.options.client,
  });
}
