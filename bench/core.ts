/**
 * CPU cost of the protocol core, without a network: every node of a topology runs in this process over
 * the simulator's zero-delay network, so wall time here is the sum of all nodes' CPU time per operation.
 * Usage: node --import tsx bench/core.ts [--topology small|reference] [--ops N] — one JSON line per measurement.
 */
import { performance } from 'node:perf_hooks';
import { utf8 } from '../src/codec/bytes.js';
import { verificationCount } from '../src/crypto/ed25519.js';
import { SimCluster } from '../test/sim/cluster.js';
import { referenceTopology, smallTopology } from '../test/sim/topology.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

const topologyName = arg('topology', 'reference');
const ops = Number.parseInt(arg('ops', '300'), 10);
const topology = topologyName === 'small' ? smallTopology() : referenceTopology();
const cluster = await SimCluster.start({
  seed: 'bench',
  topology,
  faults: { delayMinMs: 0, delayMaxMs: 0, lossRate: 0, duplicateRate: 0 },
  client: { signGraceMs: 0 },
  gossipIntervalMs: 1e9,
});
const client = cluster.client('u01');

async function measure(kind: 'write' | 'read', run: (i: number) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < 20; i++) await cluster.run(() => run(i)); // warm-up
  const latencies: number[] = [];
  const verifies0 = verificationCount();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < ops; i++) {
    const s = performance.now();
    await cluster.run(() => run(i));
    latencies.push(performance.now() - s);
  }
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  latencies.sort((a, b) => a - b);
  const pct = (p: number) =>
    Number(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!.toFixed(3));
  process.stdout.write(
    `${JSON.stringify({
      bench: 'core-cpu',
      topology: topologyName,
      op: kind,
      ops,
      opsPerSec: Math.round((ops / wallMs) * 1000),
      p50Ms: pct(0.5),
      p99Ms: pct(0.99),
      cpuMsPerOp: Number(((cpu.user + cpu.system) / 1000 / ops).toFixed(3)),
      verifiesPerOp: Number(((verificationCount() - verifies0) / ops).toFixed(1)),
    })}\n`,
  );
}

await measure('write', (i) => client.write(utf8(`bench/${i % 50}`), utf8(`value-${i}`)));
await measure('read', (i) => client.read(utf8(`bench/${i % 50}`)));
