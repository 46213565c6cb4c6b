/**
 * The client side of the namespace test, started by test/netns/netns.ts inside the client's namespace:
 *
 *   node --import tsx test/netns/scenario.ts RUN.json
 *
 * RUN.json names the lab (test/netns/lab.ts), an empty cluster directory and where to write the result.
 * This process provisions the small cluster with the lab's addresses, starts each server in its own
 * namespace (`ip netns exec`), turns the impairment on, then runs the phases below; it cuts and heals
 * links itself (`ip -n SWITCH link set PORT down|up`). Every step is a named check; the result (checks
 * and measurements) goes to the result file, progress to stderr. Whatever fails, the cluster is stopped;
 * netns.ts removes the namespaces and anything left running in them.
 *
 * Phases (small topology: signers c01..c04 with b = 1, KV nodes rw01..rw04 with f = 1, 16 keys):
 *   0 delay    TCP connect RTT to every server and a write round, without then with the impairment
 *   1 healthy  a write round and a read round across namespaces
 *   2 kv-cut   rw02 cut off: writes and reads go on, no acknowledgement from rw02
 *   3 +signer  c02 cut off too: writes and reads go on, no signature from c02
 *   4 heal     rw02 and c02 back; time until each answers again
 *   5 needed   rw01 and c01 cut off, so the healed nodes are needed for every quorum: reads return the
 *              latest values; rw02 serves them itself (direct read); writes need rw02's acknowledgement and
 *              c02's signature
 *   6 healed   everything healed: a write round, a read round, and every KV node serves the latest value of
 *              every key itself
 */
import { readFile, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { utf8 } from '../../src/codec/bytes.js';
import { connectCluster, type ClusterConnection } from '../../src/cli/connect.js';
import {
  clusterDown,
  provisionCluster,
  startCluster,
  type ClusterDownResult,
  type ClusterNodeInfo,
} from '../../src/node/cluster.js';
import { decodeResponse, encodeRequest, type SignedRecord } from '../../src/protocol/messages.js';
import { verifyRecord } from '../../src/protocol/verify.js';
import { preferenceOrder } from '../../src/quorum/quorum-system.js';
import { parseAddress } from '../../src/transport/tls.js';
import { impair, setLink, startRelay, type Lab, type RelayHandle, type RelayStats } from './lab.js';

export interface RunFile {
  readonly lab: Lab;
  readonly clusterDir: string;
  readonly resultFile: string;
  readonly seed: string;
}

export interface Check {
  readonly phase: string;
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface ScenarioResult {
  readonly checks: Check[];
  readonly measurements: Record<string, unknown>;
  readonly durationMs: number;
  readonly clusterDown: ClusterDownResult | null;
  readonly relay: RelayStats | null;
}

/** Every server listens on this port, each at its own address. */
const NODE_PORT = 7000;
const KEY_COUNT = 16;
const CONCURRENCY = 4;
/** A cut node's requests stay pending until this deadline; quorums never wait for it. */
const PHASE_TIMEOUT_MS = 4000;
const DIRECT_TIMEOUT_MS = 1000;
/** How long a healed node may take to answer again (TCP retransmission backoff after the cut). */
const HEAL_DEADLINE_MS = 20_000;
/** How long every KV node may take to hold the last write round (its store requests, then gossip). */
const CONVERGE_DEADLINE_MS = 15_000;
const CONNECT_SAMPLES = 5;

const KEYS = Array.from({ length: KEY_COUNT }, (_, i) => `netns/key-${String(i).padStart(2, '0')}`);

const log = (message: string) => process.stderr.write(`[netns] ${message}\n`);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString('utf8'));

function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

const round1 = (x: number) => Math.round(x * 10) / 10;

function latencySummary(values: readonly number[]) {
  return {
    n: values.length,
    minMs: round1(Math.min(...values)),
    p50Ms: round1(quantile(values, 0.5)),
    p95Ms: round1(quantile(values, 0.95)),
    maxMs: round1(Math.max(...values)),
  };
}

async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

/** Time to open a TCP connection (SYN, SYN-ACK: one round trip), or null after 3 s. */
function connectMs(address: string): Promise<number | null> {
  const target = parseAddress(address)!;
  return new Promise((resolve) => {
    const start = performance.now();
    const socket = connect(target);
    socket.setTimeout(3000, () => {
      socket.destroy();
      resolve(null);
    });
    socket.once('connect', () => {
      const ms = performance.now() - start;
      socket.destroy();
      resolve(ms);
    });
    socket.once('error', () => resolve(null));
  });
}

async function connectRtts(nodes: readonly ClusterNodeInfo[]): Promise<number[]> {
  const rtts: number[] = [];
  for (let i = 0; i < CONNECT_SAMPLES; i++)
    for (const n of nodes) {
      const ms = await connectMs(n.address);
      if (ms !== null) rtts.push(ms);
    }
  return rtts;
}

/** What the client was told: the acknowledged (value, t) per key, and writes whose outcome is unknown. */
class Ledger {
  readonly acked = new Map<string, { value: string; t: bigint }>();
  readonly unknown = new Map<string, Set<string>>();

  /** Why `value` at `t` is not an acceptable answer for `key`, or null when it is. */
  judge(key: string, value: string | undefined, t: bigint): string | null {
    const a = this.acked.get(key);
    if (a !== undefined && value === a.value && t === a.t) return null;
    // A write that failed may still have reached a quorum: its value is acceptable, if newer.
    if (value !== undefined && this.unknown.get(key)?.has(value) === true && t > (a?.t ?? 0n)) return null;
    return `${key}: got ${JSON.stringify(value)} at t=${t}, expected ${JSON.stringify(a?.value)} at t=${String(a?.t)}`;
  }
}

async function main(): Promise<void> {
  const runFile = process.argv[2];
  if (runFile === undefined) throw new TypeError('usage: scenario.ts RUN.json');
  const run = JSON.parse(await readFile(runFile, 'utf8')) as RunFile;
  const { lab, clusterDir } = run;
  const began = performance.now();
  const checks: Check[] = [];
  const measurements: Record<string, unknown> = { mode: lab.mode, impairment: lab.impairment };
  let phase = 'setup';
  const check = (name: string, ok: boolean, detail = '') => {
    checks.push({ phase, name, ok, detail });
    log(`${ok ? 'ok  ' : 'FAIL'} [${phase}] ${name}${detail === '' ? '' : ` — ${detail}`}`);
  };

  let relay: RelayHandle | null = null;
  let connection: ClusterConnection | null = null;
  let provisioned = false;
  let down: ClusterDownResult | null = null;
  let relayStats: RelayStats | null = null;
  // Interrupted: stop the cluster and leave at once (netns.ts then removes the namespaces).
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    log(`${signal}: stopping the cluster`);
    const stop = provisioned ? clusterDown(clusterDir).then(() => undefined) : Promise.resolve();
    void stop.finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await provisionCluster(clusterDir, 'small', {
      address: (name) => `tcp://${lab.hosts[name]!.ip}:${NODE_PORT}`,
    });
    provisioned = true;
    if (lab.mode === 'relay') relay = await startRelay(lab, run.seed);
    const startedAt = performance.now();
    const info = await startCluster(clusterDir, {
      commandPrefix: (n) => ['ip', 'netns', 'exec', lab.hosts[n.name]!.ns],
      readyTimeoutMs: 30_000,
    });
    measurements.clusterStartMs = Math.round(performance.now() - startedAt);
    const node = (name: string) => info.nodes.find((n) => n.name === name)!;
    const nameOf = new Map(info.nodes.map((n) => [n.id, n.name]));
    const names = (ids: readonly string[]) => ids.map((id) => nameOf.get(id) ?? id);
    check(
      'every server runs in its own namespace at its own address',
      new Set(info.nodes.map((n) => lab.hosts[n.name]!.ns)).size === info.nodes.length &&
        new Set(info.nodes.map((n) => n.address)).size === info.nodes.length,
      info.nodes.map((n) => `${n.name}=${n.address}`).join(' '),
    );
    connection = await connectCluster(clusterDir, { clientOptions: { phaseTimeoutMs: PHASE_TIMEOUT_MS } });
    const { client, transport } = connection;
    const ledger = new Ledger();
    const kvNodes = info.nodes.filter((n) => n.role === 'kv').map((n) => n.name);
    const cut = new Set<string>();
    const setCut = async (host: string, isCut: boolean) => {
      await setLink(lab, host, !isCut);
      if (isCut) cut.add(host);
      else cut.delete(host);
      log(`link of ${host} ${isCut ? 'cut' : 'healed'} (cut now: ${[...cut].join(', ') || 'none'})`);
    };

    const writeLatencies: number[] = [];
    const readLatencies: number[] = [];
    /** Writes `KEY@round` to every key; returns per write who acknowledged and who signed. */
    const writeRound = async (round: number | 'warm-up') => {
      const failed: string[] = [];
      const writes: Array<{ key: string; ackedBy: string[]; signers: string[] }> = [];
      await forEachLimit(KEYS, CONCURRENCY, async (key) => {
        const value = `${key}@${round}`;
        const start = performance.now();
        try {
          const w = await client.write(utf8(key), utf8(value));
          writeLatencies.push(performance.now() - start);
          ledger.acked.set(key, { value, t: w.t });
          ledger.unknown.delete(key);
          writes.push({ key, ackedBy: names(w.acknowledgedBy), signers: names(w.signers) });
        } catch (error) {
          failed.push(`${key}: ${String(error)}`);
          ledger.unknown.set(key, (ledger.unknown.get(key) ?? new Set()).add(value));
        }
      });
      check(
        `write round ${round}: every write acknowledged`,
        failed.length === 0,
        failed.length === 0 ? `${writes.length} writes` : failed.slice(0, 3).join('; '),
      );
      return writes;
    };
    /** Reads every key through the client and judges each answer against the ledger. */
    const readRound = async (label: string) => {
      const wrong: string[] = [];
      await forEachLimit(KEYS, CONCURRENCY, async (key) => {
        const start = performance.now();
        try {
          const r = await client.read(utf8(key));
          readLatencies.push(performance.now() - start);
          const why = ledger.judge(key, text(r.value), r.t);
          if (why !== null) wrong.push(why);
        } catch (error) {
          wrong.push(`${key}: ${String(error)}`);
        }
      });
      check(
        `reads ${label}: every key returns its latest acknowledged value`,
        wrong.length === 0,
        wrong.length === 0 ? `${KEYS.length} reads` : wrong.slice(0, 3).join('; '),
      );
    };
    /** One request to one node only, bypassing quorums. */
    const direct = async (name: string, kind: 'read' | 'time', key: string) => {
      const n = node(name);
      const bytes = await transport.request(
        n.id,
        n.address,
        encodeRequest({ kind, x: utf8(key) }),
        AbortSignal.timeout(DIRECT_TIMEOUT_MS),
      );
      return decodeResponse(kind, bytes);
    };
    /** Keys that KV node `name` does not itself serve with the acknowledged latest, valid record. */
    const staleOn = async (name: string, keys: readonly string[] = KEYS): Promise<string[]> => {
      const stale: string[] = [];
      for (const key of keys) {
        let rec: SignedRecord | undefined;
        try {
          const res = await direct(name, 'read', key);
          rec = res.kind === 'read' ? res.record : undefined;
        } catch (error) {
          stale.push(`${key}: ${String(error)}`);
          continue;
        }
        const why = ledger.judge(key, text(rec?.v), rec?.t ?? 0n);
        if (why !== null) stale.push(why);
        else if (!verifyRecord(client.quorumSystem(), client.graph, rec!).ok)
          stale.push(`${key}: record does not verify`);
      }
      return stale;
    };
    /** Polls until `name` answers a direct request; milliseconds waited, or null at the deadline. */
    const untilAnswers = async (name: string, kind: 'read' | 'time') => {
      const start = performance.now();
      while (performance.now() - start < HEAL_DEADLINE_MS) {
        try {
          await direct(name, kind, KEYS[0]!);
          return Math.round(performance.now() - start);
        } catch {
          await sleep(100);
        }
      }
      return null;
    };

    // ------------------------------------------------------------------ 0: the impairment is in effect
    phase = '0-delay';
    const { delayMs, jitterMs } = lab.impairment;
    const servers = info.nodes;
    const baseline = await connectRtts(servers);
    // The first writes open connections and warm the JIT: not a baseline.
    await writeRound('warm-up');
    writeLatencies.splice(0);
    await writeRound(0);
    measurements.writeLatencyWithoutImpairment = latencySummary(writeLatencies.splice(0));
    await impair(lab, relay, lab.impairment);
    const impaired = await connectRtts(servers);
    measurements.connectRttWithoutImpairment = latencySummary(baseline);
    measurements.connectRttWithImpairment = latencySummary(impaired);
    // Each direction is delayed at least delay − jitter (uniform jitter): a round trip at least twice that,
    // and half of them at least 2·delay − jitter (the median of the sum of two uniform delays is 2·delay).
    check(
      `connect RTT to every server ≥ 2·(delay − jitter) = ${2 * (delayMs - jitterMs)} ms, median ≥ 2·delay − jitter`,
      impaired.length >= servers.length &&
        Math.min(...impaired) >= 2 * (delayMs - jitterMs) - 1 &&
        quantile(impaired, 0.5) >= 2 * delayMs - jitterMs &&
        quantile(impaired, 0.5) > quantile(baseline, 0.5) + delayMs,
      `without: p50 ${round1(quantile(baseline, 0.5))} ms; with: min ${round1(Math.min(...impaired))} ms, p50 ${round1(quantile(impaired, 0.5))} ms (${impaired.length} samples)`,
    );

    // ------------------------------------------------------------------ 1: healthy
    phase = '1-healthy';
    await writeRound(1);
    await readRound('with every node up');

    // ------------------------------------------------------------------ 2: one KV node cut off
    phase = '2-kv-cut';
    await setCut('rw02', true);
    let writes = await writeRound(2);
    check(
      'no write acknowledged by the cut rw02',
      writes.every((w) => !w.ackedBy.includes('rw02')),
    );
    await readRound('with rw02 cut');

    // ------------------------------------------------------------------ 3: and one signer
    phase = '3-signer-cut';
    await setCut('c02', true);
    writes = await writeRound(3);
    check(
      'no write signed by the cut c02, none acknowledged by rw02',
      writes.every((w) => !w.signers.includes('c02') && !w.ackedBy.includes('rw02')),
    );
    await readRound('with rw02 and c02 cut');

    // ------------------------------------------------------------------ 4: heal
    phase = '4-heal';
    await setCut('rw02', false);
    await setCut('c02', false);
    const [rw02Ms, c02Ms] = await Promise.all([untilAnswers('rw02', 'read'), untilAnswers('c02', 'time')]);
    measurements.healToAnswerMs = { rw02: rw02Ms, c02: c02Ms };
    check(
      'healed rw02 and c02 answer again',
      rw02Ms !== null && c02Ms !== null,
      `rw02 after ${rw02Ms} ms, c02 after ${c02Ms} ms`,
    );
    // Informational: what rw02 holds before any read needs it (late retransmissions of the requests sent
    // during the cut, and gossip of later writes, may already have brought it up to date).
    await sleep(500);
    measurements.rw02StaleKeysRightAfterHeal = (await staleOn('rw02')).length;

    // ------------------------------------------------------------------ 5: the healed nodes are needed
    phase = '5-healed-needed';
    await setCut('rw01', true);
    await setCut('c01', true);
    await readRound('with rw01 and c01 cut (rw02 needed)');
    const staleRw02 = await staleOn('rw02');
    check(
      'rw02 itself serves the latest value of every key',
      staleRw02.length === 0,
      staleRw02.slice(0, 3).join('; '),
    );
    writes = await writeRound(4);
    check(
      'every write acknowledged by rw02 and signed by c02',
      writes.length > 0 && writes.every((w) => w.ackedBy.includes('rw02') && w.signers.includes('c02')),
    );
    await readRound('after round 4');
    await setCut('rw01', false);
    await setCut('c01', false);

    // ------------------------------------------------------------------ 6: everything healed
    phase = '6-all-healed';
    await writeRound(5);
    await readRound('with every node back');
    const convergeStart = performance.now();
    let stale = new Map<string, string[]>();
    while (performance.now() - convergeStart < CONVERGE_DEADLINE_MS) {
      stale = new Map();
      for (const name of kvNodes) {
        // Writes, reads and gossip put x on the first q KV nodes of its preference order
        // (docs/PROTOCOL.md §6): those must converge; the others may keep an older valid version.
        const qs = client.quorumSystem();
        const preferred = KEYS.filter((key) =>
          preferenceOrder(qs.kvNodes, utf8(key)).slice(0, qs.kvQuorum).includes(node(name).id),
        );
        const s = await staleOn(name, preferred);
        if (s.length > 0) stale.set(name, s);
      }
      if (stale.size === 0) break;
      await sleep(250);
    }
    measurements.allKvNodesConvergedMs =
      stale.size === 0 ? Math.round(performance.now() - convergeStart) : null;
    check(
      'every KV node itself serves the latest value of every key it is preferred for',
      stale.size === 0,
      stale.size === 0
        ? `after ${String(measurements.allKvNodesConvergedMs)} ms`
        : [...stale].map(([n, s]) => `${n}: ${s.length} stale, e.g. ${s[0]}`).join('; '),
    );
    measurements.writeLatencyWithImpairment = latencySummary(writeLatencies);
    measurements.readLatency = latencySummary(readLatencies);
  } catch (error) {
    check(
      'scenario ran to the end',
      false,
      error instanceof Error ? (error.stack ?? error.message) : String(error),
    );
  } finally {
    phase = 'teardown';
    if (relay !== null) relayStats = await relay.stats().catch(() => null);
    await connection?.close();
    if (provisioned) {
      down = await clusterDown(clusterDir).catch(() => null);
      check(
        'every node stopped on SIGTERM',
        down !== null && down.killed.length === 0 && down.gone.length === 0,
        JSON.stringify(down),
      );
    }
    await relay?.stop();
  }
  const result: ScenarioResult = {
    checks,
    measurements,
    durationMs: Math.round(performance.now() - began),
    clusterDown: down,
    relay: relayStats,
  };
  await writeFile(run.resultFile, `${JSON.stringify(result)}\n`);
}

await main();
