/**
 * One simulator run, fully determined by its seed: the seed picks the topology, the Byzantine nodes and
 * their behaviours, the network faults, crash/restarts and the client workload. Checkers run after every
 * operation and every revocation; a run ends with a healing phase in which every honest operation must
 * complete and every honest reader must agree.
 */
import { utf8 } from '../../src/codec/bytes.js';
import { ProtocolError } from '../../src/protocol/errors.js';
import type { NodeId } from '../../src/trust/certificate.js';
import {
  equivocate,
  forgedQuorumCertificateWrite,
  graphLiar,
  kvEmpty,
  kvFabricate,
  kvForgedSignatures,
  kvHigherTimestamp,
  kvStale,
  mute,
  refusesToSign,
  replayOldRecord,
  signsAnything,
  signsGarbage,
} from './byzantine.js';
import { SimCluster, type ServerBehaviour } from './cluster.js';
import type { NetworkFaults } from './network.js';
import { SeededRandom } from './prng.js';
import { buildTopology, referenceTopology, smallTopology, type TopologyDesc } from './topology.js';

export interface Violation {
  readonly at: number;
  readonly checker: string;
  readonly detail: string;
}

export interface SeedReport {
  readonly seed: string;
  readonly topology: string;
  readonly behaviours: string[];
  readonly faults: string;
  readonly violations: Violation[];
  readonly revocations: number;
  readonly falseRevocations: number;
  readonly ops: { attempted: number; ok: number; failed: number };
  readonly virtualMs: number;
  readonly trace: string[];
}

export function mediumTopology(): TopologyDesc {
  const c = Array.from({ length: 7 }, (_, i) => `c${String(i + 1).padStart(2, '0')}`);
  return buildTopology('medium', { c: 7 }, 5, [
    { name: 'u01', uid: 'alice@example.com', certifiedBy: ['c'], trusts: c },
    { name: 'u02', uid: 'alice@example.com', certifiedBy: ['c'], trusts: c },
    { name: 'u04', uid: 'alice@example.com', certifiedBy: [], trusts: c },
    { name: 'u11', uid: 'bob@example.com', certifiedBy: ['c'], trusts: c },
  ]);
}

type ClientScenario = 'none' | 'forged-quorum-certificate' | 'replay' | 'equivocating-client';

interface Plan {
  readonly topology: TopologyDesc;
  readonly faults: Partial<NetworkFaults>;
  readonly faultName: string;
  readonly behaviours: Map<string, ServerBehaviour>;
  readonly scenario: ClientScenario;
  readonly crashes: number;
  readonly opsPerClient: number;
}

const SIGNER_BEHAVIOURS = [signsAnything, refusesToSign, signsGarbage, mute];
const KV_BEHAVIOURS = [kvStale, kvEmpty, kvFabricate, kvHigherTimestamp, kvForgedSignatures, graphLiar, mute];

function plan(seed: string): Plan {
  const r = new SeededRandom(`plan/${seed}`);
  const roll = r.float();
  const topology = roll < 0.45 ? smallTopology() : roll < 0.9 ? mediumTopology() : referenceTopology();
  let scenario: ClientScenario = r.pick([
    'none',
    'none',
    'forged-quorum-certificate',
    'replay',
    'equivocating-client',
  ] as const);
  if (scenario === 'equivocating-client' && topology.name === 'small') scenario = 'replay';
  const behaviours = new Map<string, ServerBehaviour>();
  for (const members of Object.values(topology.cliques)) {
    const b = Math.floor((members.length - 1) / 3);
    const k = scenario === 'equivocating-client' ? b : r.int(b + 1);
    for (const m of r.shuffle(members).slice(0, k)) {
      behaviours.set(m, scenario === 'equivocating-client' ? signsAnything : r.pick(SIGNER_BEHAVIOURS));
    }
  }
  const kvs = topology.nodes.filter((n) => n.role === 'kv').map((n) => n.name);
  const f = Math.floor((kvs.length - 1) / 3);
  for (const k of r.shuffle(kvs).slice(0, r.int(f + 1))) behaviours.set(k, r.pick(KV_BEHAVIOURS));
  let faults: Partial<NetworkFaults>;
  let faultName: string;
  const fr = r.float();
  if (scenario === 'equivocating-client' || fr < 0.3) {
    faults = { delayMinMs: 1, delayMaxMs: 5, lossRate: 0, duplicateRate: 0 };
    faultName = 'clean';
  } else if (fr < 0.7) {
    faults = {
      delayMinMs: 1,
      delayMaxMs: 8,
      lossRate: 0.01 + r.float() * 0.04,
      duplicateRate: r.float() * 0.05,
    };
    faultName = 'lossy';
  } else {
    faults = { delayMinMs: 1, delayMaxMs: 30, lossRate: 0.01, duplicateRate: 0.02 };
    faultName = 'slow-reordering';
  }
  const crashes = scenario === 'equivocating-client' ? 0 : r.int(3);
  return { topology, faults, faultName, behaviours, scenario, crashes, opsPerClient: 4 + r.int(5) };
}

interface KeyHistory {
  attemptedValues: Set<string>;
  acked: Array<{ t: bigint; v: string; end: number }>;
  reads: Array<{ start: number; end: number; t: bigint }>;
  valueAt: Map<bigint, string>;
}

/** Runs one seed and returns its report (violations empty when every checker held). */
export async function runSeed(
  seedInput: string | number,
  options: { trace?: boolean } = {},
): Promise<SeedReport> {
  const seed = String(seedInput);
  const p = plan(seed);
  const cluster = await SimCluster.start({
    seed: `cluster/${seed}`,
    topology: p.topology,
    faults: p.faults,
    behaviours: p.behaviours,
    trace: options.trace ?? false,
    client: { signGraceMs: 40, phaseTimeoutMs: 400 },
  });
  const sim = cluster.sim;
  if (sim.tracing) {
    const byz = [...p.behaviours.entries()].map(([n, b]) => `${n}=${b.name}`).join(', ') || 'none';
    sim.trace(
      `plan: topology ${p.topology.name}, network ${p.faultName}, byzantine servers [${byz}], client scenario ${p.scenario}, ${p.crashes} crash(es)`,
    );
    for (const [name, identity] of cluster.ids)
      sim.trace(`node ${name} = ${identity.id.slice(0, 8)} (${identity.desc.role}, ${identity.desc.uid})`);
  }
  const rnd = new SeededRandom(`workload/${seed}`);
  const violations: Violation[] = [];
  const violate = (checker: string, detail: string) => {
    violations.push({ at: sim.now, checker, detail });
    if (sim.tracing) sim.trace(`VIOLATION ${checker}: ${detail}`);
  };
  const behaviourNames = new Set<string>([...p.behaviours.values()].map((b) => b.name));
  if (p.scenario !== 'none') behaviourNames.add(p.scenario);
  if (p.crashes > 0) behaviourNames.add('crash-restart');
  if (p.faultName !== 'clean') behaviourNames.add(`network-${p.faultName}`);

  // Checker: no honest node is ever revoked (by an honest node), checked at every revocation.
  let checkedRevocations = 0;
  const checkRevocations = () => {
    for (; checkedRevocations < cluster.revocations.length; checkedRevocations++) {
      const e = cluster.revocations[checkedRevocations]!;
      if (e.byHonest && cluster.isHonest(e.accused))
        violate('no-false-revocation', `${e.by} revoked honest ${e.accusedName} (${e.kind})`);
    }
  };

  const honestClients = p.topology.nodes
    .filter((n) => n.role === 'client' && n.name !== 'u04')
    .map((n) => n.name);
  const uidOf = new Map(p.topology.nodes.map((n) => [n.name, n.uid]));
  const keysOf = (client: string) => [0, 1, 2].map((i) => `${uidOf.get(client)!}/k${i}`);
  const history = new Map<string, KeyHistory>();
  const hist = (k: string) => {
    let h = history.get(k);
    if (h === undefined)
      history.set(k, (h = { attemptedValues: new Set(), acked: [], reads: [], valueAt: new Map() }));
    return h;
  };
  const ops = { attempted: 0, ok: 0, failed: 0 };

  const checkValueAt = (key: string, t: bigint, v: string) => {
    const h = hist(key);
    const known = h.valueAt.get(t);
    if (known !== undefined && known !== v)
      violate('one-value-per-timestamp', `${key}@${t}: "${known}" and "${v}"`);
    h.valueAt.set(t, v);
  };

  const doWrite = async (client: string, key: string, v: string, mustSucceed: boolean) => {
    ops.attempted++;
    hist(key).attemptedValues.add(v);
    try {
      const res = await cluster.client(client).write(utf8(key), utf8(v));
      ops.ok++;
      checkValueAt(key, res.t, v);
      hist(key).acked.push({ t: res.t, v, end: sim.now });
      if (sim.tracing) sim.trace(`op ${client} write ${key}=${v} -> t=${res.t}`);
    } catch (e) {
      ops.failed++;
      if (sim.tracing) sim.trace(`op ${client} write ${key}=${v} failed: ${(e as Error).message}`);
      if (mustSucceed) violate('liveness-after-heal', `${client} write ${key}: ${(e as Error).message}`);
      if (!(e instanceof ProtocolError) && !(e instanceof Error && e.name === 'AbortedError')) throw e;
    }
    checkRevocations();
  };

  const doRead = async (
    client: string,
    key: string,
    mustSucceed: boolean,
    sampleQuorum = false,
  ): Promise<{ t: bigint; v: string } | undefined> => {
    ops.attempted++;
    const start = sim.now;
    try {
      const res = await cluster.client(client).read(utf8(key), { quorum: sampleQuorum ? 'sample' : 'all' });
      ops.ok++;
      const h = hist(key);
      const v = res.value === undefined ? '' : Buffer.from(res.value).toString();
      if (sim.tracing) sim.trace(`op ${client} read ${key} -> t=${res.t} "${v}"`);
      if (res.t > 0n) {
        if (!h.attemptedValues.has(v)) violate('validity', `${client} read ${key}: "${v}" was never written`);
        checkValueAt(key, res.t, v);
      }
      const mustSee = h.acked.filter((w) => w.end < start).reduce((m, w) => (w.t > m ? w.t : m), 0n);
      if (res.t < mustSee)
        violate(
          'no-lost-write',
          `${client} read ${key} at t=${res.t}, but t=${mustSee} was acknowledged before the read began`,
        );
      const seen = h.reads.filter((r) => r.end < start).reduce((m, r) => (r.t > m ? r.t : m), 0n);
      if (res.t < seen)
        violate(
          'read-monotonic',
          `${client} read ${key} t=${res.t} after an earlier read returned t=${seen}`,
        );
      h.reads.push({ start, end: sim.now, t: res.t });
      checkRevocations();
      return { t: res.t, v };
    } catch (e) {
      ops.failed++;
      if (sim.tracing) sim.trace(`op ${client} read ${key} failed: ${(e as Error).message}`);
      if (mustSucceed) violate('liveness-after-heal', `${client} read ${key}: ${(e as Error).message}`);
      if (!(e instanceof ProtocolError) && !(e instanceof Error && e.name === 'AbortedError')) throw e;
      checkRevocations();
      return undefined;
    }
  };

  // ---- phase 1: workload under faults
  const serverNames = cluster.serverNames().filter((n) => !p.behaviours.has(n));
  const crashed = new Set<string>();
  for (let i = 0; i < p.crashes; i++) {
    const victim = rnd.pick(serverNames);
    const at = 20 + rnd.int(300);
    const downFor = 50 + rnd.int(300);
    sim.schedule(
      at,
      () => {
        if (!cluster.isUp(victim)) return;
        cluster.crash(victim);
        crashed.add(victim);
        sim.schedule(
          downFor,
          () => void cluster.restart(victim).then(() => crashed.delete(victim)),
          'restart',
        );
      },
      'crash',
    );
  }
  let partitionedNode: string | undefined;
  if (p.faultName !== 'clean' && rnd.chance(0.4)) {
    partitionedNode = rnd.pick(serverNames);
    const node = cluster.identity(partitionedNode).id;
    sim.schedule(10 + rnd.int(100), () => cluster.net.isolate(node), 'isolate');
    behaviourNames.add('partition');
  }

  let equivocation: { guilty: Set<NodeId>; detectable: boolean } | undefined;
  const byzantineClientTask = async () => {
    if (p.scenario === 'none') return;
    await sim.clock.sleep(30 + rnd.int(60));
    if (p.scenario === 'forged-quorum-certificate') {
      // An uncertified identity of another UID forges a quorum certificate from a certified one.
      // An uncertified identity forges a quorum certificate (random signatures, and certifications lifted
      // from a certified user): no honest signer may sign and no honest KV node may store.
      const forger = cluster.identity('u04');
      cluster.byzantine.add(forger.id);
      const out = await forgedQuorumCertificateWrite(
        cluster,
        forger,
        cluster.identity('u01'),
        utf8('forged/k'),
      );
      const honestSigners = out.signedBy.filter((id) => cluster.isHonest(id)).map((id) => cluster.name(id));
      if (honestSigners.length > 0)
        violate(
          'quorum-certificate',
          `honest signers signed a forged certificate: ${honestSigners.join(',')}`,
        );
      if (out.storedAt.some((id) => cluster.isHonest(id)))
        violate('quorum-certificate', 'an honest KV node stored a record with a forged certificate');
    } else if (p.scenario === 'replay') {
      // Replays an old signed record of an honest key after newer writes.
      const key = keysOf(honestClients[0]!)[0]!;
      const old = await cluster
        .client(honestClients[0]!)
        .read(utf8(key))
        .catch(() => undefined);
      await sim.clock.sleep(150);
      if (old?.record !== undefined) {
        const attacker = cluster.identity('u04');
        cluster.byzantine.add(attacker.id);
        await replayOldRecord(cluster, attacker, old.record);
      }
    } else if (p.scenario === 'equivocating-client') {
      const attacker = cluster.identity('u11');
      cluster.byzantine.add(attacker.id);
      const colluders = new Set(
        [...p.behaviours.entries()]
          .filter(([, b]) => b === signsAnything)
          .map(([n]) => cluster.identity(n).id),
      );
      const kvColluders = new Set([...p.behaviours.keys()].map((n) => cluster.identity(n).id));
      const attempt = await equivocate(
        cluster,
        attacker,
        cluster.client('u11', { byzantine: true }),
        utf8('bob@example.com/evil'),
        new Set([...colluders, ...kvColluders]),
        utf8('pay alice'),
        utf8('pay carol'),
      );
      const guilty = new Set<NodeId>([attacker.id, ...attempt.doubleSigners]);
      equivocation = { guilty, detectable: attempt.sufficient[0] || attempt.sufficient[1] };
      if (sim.tracing)
        sim.trace(
          `equivocation attempt at t=${attempt.t}: sufficient=${attempt.sufficient.join('/')}, double signers ${attempt.doubleSigners.map((i) => cluster.name(i)).join(',')}`,
        );
    }
  };

  const clientTask = async (client: string) => {
    const crng = rnd.fork(`client/${client}`);
    for (let i = 0; i < p.opsPerClient; i++) {
      await sim.clock.sleep(crng.int(40));
      const key = crng.pick(keysOf(client));
      if (crng.chance(0.6)) {
        await doWrite(client, key, `${client}#${i}`, false);
        // Another device of the same UID reads right away: the read must not miss the acknowledged write.
        const peers = honestWorkers.filter((c) => c !== client && uidOf.get(c) === uidOf.get(client));
        if (peers.length > 0 && crng.chance(0.5))
          await doRead(crng.pick(peers), key, false, crng.chance(0.5));
      } else await doRead(client, key, false);
    }
  };
  const honestWorkers = honestClients.filter((c) => !(p.scenario === 'equivocating-client' && c === 'u11'));
  await cluster.run(() => Promise.all([...honestWorkers.map(clientTask), byzantineClientTask()]));

  // ---- join round: every honest client re-joins (Algorithm 7) through whatever servers answer, Byzantine
  // graph liars included; whatever it merged must be a verified part of the real topology.
  const knownIds = new Set([...cluster.ids.values()].map((i) => i.id));
  const realEdges = new Set(
    p.topology.edges.map(([a, b]) => `${cluster.identity(a).id}>${cluster.identity(b).id}`),
  );
  if ([...p.behaviours.values()].includes(graphLiar)) behaviourNames.add(graphLiar.name);
  const quorumShape = (client: string) => {
    const qs = cluster.client(client).quorumSystem();
    return JSON.stringify([qs.cliques.map((c) => [...c.members].sort()), [...qs.kvNodes].sort()]);
  };
  for (const client of honestWorkers) {
    const before = quorumShape(client);
    const revocationsBefore = cluster.revocations.length;
    await cluster.run(() => cluster.client(client).join());
    const view = cluster.client(client).graph.view();
    for (const v of view.vertices) {
      // Anyone may join with a self-signed certificate (paper §4.2), but no certification may be forged in
      // the name of a real node, and the joiner's quorums must not change.
      if (!knownIds.has(v)) continue;
      for (const u of view.out(v)) {
        if (!realEdges.has(`${v}>${u}`))
          violate('verified-graph', `${client} accepted a forged edge ${cluster.name(v)}→${cluster.name(u)}`);
      }
    }
    if (cluster.revocations.length === revocationsBefore && quorumShape(client) !== before) {
      violate('verified-graph', `${client}'s quorum system changed on join`);
    }
  }

  // ---- phase 2: heal, then every honest operation must complete and every reader must agree
  cluster.net.heal();
  cluster.net.setFaults({ lossRate: 0, duplicateRate: 0, delayMinMs: 1, delayMaxMs: 5 });
  await cluster.run(async () => {
    for (const n of cluster.serverNames()) if (!cluster.isUp(n)) await cluster.restart(n);
  });
  await cluster.settle(300);
  const quorumIntact = honestWorkers.every((c) => cluster.client(c).quorumSystem().cliques.length > 0);
  for (const client of honestWorkers) {
    for (const key of keysOf(client)) {
      await cluster.run(() => doWrite(client, key, `${client}#final#${key}`, quorumIntact));
      await cluster.run(() => doRead(client, key, quorumIntact));
    }
  }
  await cluster.settle(300);
  // READ(Q1, x) = READ(Q2, x): every honest reader, on a random quorum each, returns the same record.
  const keys = new Set(honestWorkers.flatMap(keysOf));
  for (const key of keys) {
    const results: Array<{ client: string; t: bigint; v: string }> = [];
    for (const client of honestWorkers) {
      for (let i = 0; i < 2; i++) {
        const r = await cluster.run(() => doRead(client, key, quorumIntact, true));
        if (r !== undefined) results.push({ client, ...r });
      }
    }
    const first = results[0];
    for (const r of results) {
      if (first !== undefined && (r.t !== first.t || r.v !== first.v)) {
        violate(
          'read-agreement',
          `${key}: ${first.client} read t=${first.t} "${first.v}", ${r.client} read t=${r.t} "${r.v}"`,
        );
      }
    }
    const maxAcked = hist(key).acked.reduce((m, w) => (w.t > m ? w.t : m), 0n);
    if (first !== undefined && first.t < maxAcked)
      violate('no-lost-write', `${key}: final t=${first.t} < acknowledged t=${maxAcked}`);
  }
  cluster.stopGossip();
  await cluster.settle(200);
  checkRevocations();

  // Equivocation: with at most b faulty per clique, exactly the guilty are revoked, by every honest server.
  if (equivocation !== undefined && equivocation.detectable) {
    for (const g of equivocation.guilty) {
      for (const n of cluster.serverNames()) {
        if (!cluster.isHonest(cluster.identity(n).id)) continue;
        if (!cluster.server(n)!.graph.isRevoked(g))
          violate('equivocation-detected', `${n} did not revoke guilty ${cluster.name(g)}`);
      }
    }
    for (const e of cluster.revocations) {
      if (e.byHonest && !equivocation.guilty.has(e.accused))
        violate('exactly-the-guilty', `${e.by} revoked ${e.accusedName}, who did not equivocate`);
    }
  }

  const falseRevocations = cluster.revocations.filter(
    (e) => e.byHonest && cluster.isHonest(e.accused),
  ).length;
  return {
    seed,
    topology: p.topology.name,
    behaviours: [...behaviourNames].sort(),
    faults: p.faultName,
    violations,
    revocations: cluster.revocations.filter((e) => e.byHonest).length,
    falseRevocations,
    ops,
    virtualMs: sim.now,
    trace: sim.traceLines(),
  };
}
