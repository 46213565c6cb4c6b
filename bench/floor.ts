/**
 * The hardware floor of a write on this machine: what the protocol's unavoidable work (Ed25519 signatures and
 * verifications, one durable commit per signer and per KV node) costs here, measured, then combined into
 *   - a lower bound on the one-client write latency (every message, encoding, TLS record and scheduling
 *     decision taken as free, the work spread perfectly over the cores), and
 *   - an upper bound on write throughput (the same work per write, commits grouped as under load).
 * The counts come from the quorum system of the topology (the same code the client uses).
 * Usage: node --import tsx bench/floor.ts [--topology small|reference] [--cores N] — one JSON line.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { sign, signingKeyFromSeed, verify } from '../src/crypto/ed25519.js';
import { robustSignatures } from '../src/quorum/quorum-system.js';
import { LmdbStorage } from '../src/storage/lmdb.js';
import { SimCluster } from '../test/sim/cluster.js';
import { referenceTopology, smallTopology } from '../test/sim/topology.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

const topologyName = arg('topology', 'reference');
const cores = Number.parseInt(arg('cores', String(availableParallelism())), 10);
const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

// What one write asks of the topology (the steady state: a rewrite, no time phase).
const cluster = await SimCluster.start({
  seed: 'floor',
  topology: topologyName === 'small' ? smallTopology() : referenceTopology(),
  gossipIntervalMs: 1e9,
});
const qs = cluster.client('u01').quorumSystem();
const signersAsked = qs.cliques.reduce((n, c) => n + robustSignatures(c), 0);
const kvVerifies = qs.cliques.reduce((n, c) => n + c.sufficient, 0);
const kvAsked = qs.kvQuorum;
cluster.stopGossip();

// Ed25519 (libsodium, as the nodes use it): median of batches.
const key = signingKeyFromSeed(new Uint8Array(32).fill(7));
const message = new Uint8Array(120).fill(1);
const signature = sign(key, message);
const timeUs = (f: () => void, n = 2000): number => {
  const batches: number[] = [];
  for (let b = 0; b < 7; b++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) f();
    batches.push(((performance.now() - t0) * 1000) / n);
  }
  return median(batches);
};
const signUs = timeUs(() => sign(key, message));
const verifyUs = timeUs(() => {
  if (!verify(key.publicKey, message, signature)) throw new Error('verify failed');
});

// Durable commits (LmdbStorage as the nodes open it): `envs` environments committing at once, `perEnv`
// writes each per round; CPU of this process (main thread, LMDB's write threads, the kernel) per commit.
async function commits(
  envs: number,
  perEnv: number,
  rounds: number,
): Promise<{ cpuUs: number; roundMs: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'bftkv-floor-'));
  try {
    const stores = await Promise.all(
      Array.from({ length: envs }, (_, i) => LmdbStorage.open(join(dir, `e${i}`))),
    );
    const value = new Uint8Array(300).fill(3);
    const round = (r: number) =>
      Promise.all(
        stores.flatMap((s) =>
          Array.from({ length: perEnv }, (_, k) =>
            s.write([{ ns: 'signed', key: Buffer.from(`k${r}/${k}`), value }]),
          ),
        ),
      );
    for (let r = 0; r < 20; r++) await round(r); // warm-up
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let r = 0; r < rounds; r++) await round(r);
    const wall = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    await Promise.all(stores.map((s) => s.close()));
    return { cpuUs: (cpu.user + cpu.system) / (rounds * envs * perEnv), roundMs: wall / rounds };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
// One client: every signer asked commits at once (one write each, no grouping possible; one disk), then the
// KV nodes asked. Under load several writes share a commit (what 16 clients produce, ≈ 4 per commit).
const signCommits = await commits(signersAsked, 1, 100);
const storeCommits = await commits(kvAsked, 1, 100);
const loaded = await commits(Math.ceil(signersAsked / cores), 4, 50);

// Each phase takes at least its CPU work spread over the cores, and at least its commits' wall time.
const signCpuUs = (signersAsked * (verifyUs + signUs + signCommits.cpuUs)) / cores;
const storeCpuUs = (kvAsked * (kvVerifies * verifyUs + signUs + storeCommits.cpuUs)) / cores;
const signPhaseUs = Math.max(signCpuUs, signCommits.roundMs * 1000);
const storePhaseUs = Math.max(storeCpuUs, storeCommits.roundMs * 1000);
const clientUs = signUs + kvAsked * verifyUs;
const cryptoPerWriteUs =
  signersAsked * (verifyUs + signUs) +
  kvAsked * (kvVerifies * verifyUs + signUs) +
  signUs +
  kvAsked * verifyUs;
const perWriteLoadedUs = cryptoPerWriteUs + (signersAsked + kvAsked) * loaded.cpuUs;
const fixed = (x: number, d = 2) => Number(x.toFixed(d));
process.stdout.write(
  `${JSON.stringify({
    bench: 'floor',
    topology: topologyName,
    cores,
    signersAsked,
    kvAsked,
    kvVerifiesEach: kvVerifies,
    verificationsPerWrite: signersAsked + kvAsked * kvVerifies + kvAsked,
    signUs: fixed(signUs),
    verifyUs: fixed(verifyUs),
    commitCpuUsIdle: fixed(signCommits.cpuUs),
    signersCommitWallMs: fixed(signCommits.roundMs, 3),
    kvCommitWallMs: fixed(storeCommits.roundMs, 3),
    commitCpuUsGrouped: fixed(loaded.cpuUs),
    oneClientWriteFloorMs: fixed((signPhaseUs + storePhaseUs + clientUs) / 1000, 3),
    oneClientFloorParts: {
      signPhaseCpuMs: fixed(signCpuUs / 1000, 3),
      storePhaseCpuMs: fixed(storeCpuUs / 1000, 3),
      clientMs: fixed(clientUs / 1000, 3),
    },
    cryptoMsPerWrite: fixed(cryptoPerWriteUs / 1000, 3),
    writesPerSecCeiling: Math.round((cores * 1e6) / perWriteLoadedUs),
    note: 'messages, encoding, TLS and scheduling counted as free: a lower bound on latency, an upper bound on throughput',
  })}\n`,
);
