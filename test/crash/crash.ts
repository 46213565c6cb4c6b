/**
 * The kill test (issue 3, Storage): a real multi-process cluster under write load, nodes killed with
 * SIGKILL and restarted, again and again; afterwards nothing acknowledged may be missing.
 *
 *   npm run test:crash [-- --cycles N --topology small|reference --writers W --seed S --json --dir DIR]
 *
 * What it checks, and why:
 * - The protocol acknowledges a write only after q KV nodes stored it durably and signed an
 *   acknowledgement (server.ts: "a KV node stores a record before it acknowledges it"), and a signer
 *   persists what it signed before its signature leaves the node. SIGKILL gives a node no chance to flush
 *   or close anything, so whatever it acknowledged must already be on disk.
 * - Load: W writer loops share one client (one writer identity: the client never reuses a timestamp)
 *   and write unique values to their own keys and to a few shared keys. Every write is recorded with
 *   its real-time interval and outcome (test/crash/history.ts): acknowledged writes must never be lost;
 *   failed writes (timeouts at a kill, ...) may or may not have landed, so their values are allowed but
 *   never required. Writers also read their own keys now and then (without write-back, which could
 *   repair a node that lost a record and hide it) and check each read against the history.
 * - Each cycle kills a victim set chosen by a seeded PRNG within the fault model — at most f KV nodes
 *   and at most b members of each clique, sometimes KV nodes only, sometimes signers only, sometimes
 *   both — keeps writing while they are down (writes issued then must be acknowledged: the cluster
 *   tolerates these failures, so a cycle with none is a violation; failures are counted and reported),
 *   restarts them, waits until the client reaches every restarted node again, and keeps writing. Some
 *   cycles also SIGKILL one victim again while it restarts, and restart it once more.
 * - Durability, node by node, on disk — on each victim right after its SIGKILL (its store is read while
 *   it is down, before later writes can mask anything) and on every node once the load stopped and the
 *   cluster was stopped: for every acknowledged write, every KV node that signed its acknowledgement
 *   still holds exactly that (key, t) record with its value, and every signer whose signature the record
 *   carries still remembers having signed t or later for the key (a signer keeps only its latest t per
 *   key, so only the check at the kill catches a forgotten last signature). This is "durable before
 *   acknowledged" checked directly: a node that acknowledged and then lost the record on SIGKILL is
 *   caught even though the other q − 1 nodes keep the value readable. (Nodes keep every version of a
 *   key, so a later version does not excuse a missing one: a node that lost its last records and then
 *   stored newer versions of the same keys is precisely what a kill produces. If old versions are ever
 *   pruned, this rule must follow the pruning rule.)
 * - Then the cluster is started again and a fresh client reads every key: the value must be the last
 *   acknowledged write of that key or a write that may legitimately be newer (history.ts), and the
 *   acknowledged writes of each key must be in real-time order with distinct timestamps.
 *
 * The seed fixes the schedule (victims, kill/restart timings, keys); process timing is real, so a
 * replay repeats the schedule, not the interleaving. Exit 0 only without violations. The cluster is
 * always stopped (also on SIGINT/SIGTERM); the directory (node logs in DIR/nodes/NAME/log) is removed
 * on success and kept on failure.
 */
import { randomInt } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { ByteReader, utf8 } from '../../src/codec/bytes.js';
import { connectCluster, type ClusterConnection } from '../../src/cli/connect.js';
import {
  clusterDown,
  clusterStatus,
  clusterUp,
  killNode,
  nodeRuns,
  readClusterInfo,
  restartNode,
  type ClusterInfo,
  type ClusterNodeInfo,
  type TopologyName,
} from '../../src/node/cluster.js';
import { ProtocolError } from '../../src/protocol/errors.js';
import { decodeRecord, encodeRequest } from '../../src/protocol/messages.js';
import { LmdbStorage } from '../../src/storage/lmdb.js';
import { recordKey, recordKeyTimestamp, recordPrefix } from '../../src/storage/storage.js';
import { isTopologyName } from '../../src/topology/topology.js';
import { SeededRandom } from '../sim/prng.js';
import {
  checkAcknowledgedOrder,
  checkRead,
  History,
  lastAcknowledged,
  type Violation,
  type WriteOp,
} from './history.js';

// ---------------------------------------------------------------------------------------------- options

interface Options {
  readonly cycles: number;
  readonly topology: TopologyName;
  readonly writers: number;
  readonly seed: string;
  readonly json: boolean;
  /** Undefined: a fresh temporary directory. */
  readonly dir: string | undefined;
}

const USAGE = `usage: npm run test:crash -- [--cycles N] [--topology small|reference] [--writers W] [--seed S] [--json] [--dir DIR]
  --cycles N      kill/restart cycles (default 3, or $BFTKV_CRASH_CYCLES)
  --topology T    small (default) or reference
  --writers W     concurrent writer loops (default 4)
  --seed S        seed of the schedule (default random, or $BFTKV_CRASH_SEED); printed
  --json          one JSON summary line on stdout instead of the human report
  --dir DIR       cluster directory (must not hold a cluster); default a temporary one, removed on success
`;

function positiveInteger(name: string, text: string, max: number): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1 || n > max)
    throw new RangeError(`${name}: expected an integer in 1..${max}, got ${JSON.stringify(text)}`);
  return n;
}

function parseOptions(argv: readonly string[], env: NodeJS.ProcessEnv): Options {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      cycles: { type: 'string' },
      topology: { type: 'string' },
      writers: { type: 'string' },
      seed: { type: 'string' },
      json: { type: 'boolean' },
      dir: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const topology = values.topology ?? 'small';
  if (!isTopologyName(topology))
    throw new RangeError(`--topology: expected small or reference, got ${JSON.stringify(topology)}`);
  const seed = values.seed ?? env.BFTKV_CRASH_SEED ?? String(randomInt(1_000_000_000));
  if (seed === '') throw new RangeError('--seed: empty');
  return {
    cycles: positiveInteger('--cycles', values.cycles ?? env.BFTKV_CRASH_CYCLES ?? '3', 100_000),
    topology,
    writers: positiveInteger('--writers', values.writers ?? '4', 64),
    seed,
    json: values.json === true,
    dir: values.dir,
  };
}

// ---------------------------------------------------------------------------------------------- bounds

/** Own keys per writer and keys shared by all writers. */
const OWN_KEYS = 8;
const SHARED_KEYS = 3;
/** Probability that a write goes to a shared key, and that a writer reads one of its keys after a write. */
const SHARED_WRITE_CHANCE = 0.25;
const READ_CHANCE = 0.1;
/** Pause of a writer after a failed write (a dead quorum must not turn the loop into a busy spin). */
const FAILED_WRITE_PAUSE_MS = 20;
/** Phases of a cycle, drawn uniformly from [min, max] ms. */
const BEFORE_KILL_MS = [300, 1000] as const;
const DOWN_MS = [1000, 2500] as const;
const AFTER_HEAL_MS = [500, 1500] as const;
/** Chance that a cycle SIGKILLs one victim again while it restarts, and how long after the spawn. */
const RESTART_KILL_CHANCE = 0.35;
const RESTART_KILL_DELAY_MS = [0, 1200] as const;
/** How long a restarted node may take to be reachable from the client (its backoff is at most 5 s). */
const HEAL_TIMEOUT_MS = 20_000;
/** How long the writers may take to finish their last write once told to stop, before being aborted. */
const STOP_GRACE_MS = 15_000;
/** Concurrent reads in the final check. */
const FINAL_READS_IN_FLIGHT = 8;
/** Violations listed in the report (all are counted). */
const VIOLATIONS_SHOWN = 20;

// ---------------------------------------------------------------------------------------------- run state

interface CycleReport {
  readonly cycle: number;
  readonly victims: readonly string[];
  /** The victim killed a second time while restarting, if any, and when. */
  readonly restartKilled: string | undefined;
  readonly downMs: number;
  /** Writes issued while the victims were down: acknowledged, failed, and failures by reason. */
  readonly whileDown: { acked: number; failed: number; reasons: Record<string, number> };
  /** Writes issued during the whole cycle. */
  readonly acked: number;
  readonly failed: number;
  /** From the start of the restart until every victim is reachable from the client again. */
  readonly healMs: number;
}

interface Report {
  ok: boolean;
  seed: string;
  topology: TopologyName;
  writers: number;
  cycles: number;
  kills: number;
  restartKills: number;
  acknowledged: number;
  failed: number;
  failedByReason: Record<string, number>;
  lost: number;
  reads: { during: number; failedDuring: number; final: number };
  /** Acknowledgements and signatures checked on disk: at the end (per kind), and on victims at each kill. */
  durability: { kvRecords: number; signerStates: number; atKill: number };
  keys: number;
  violations: number;
  violationList: Violation[];
  durationMs: number;
  interrupted: boolean;
  error: string | undefined;
  dir: string | undefined;
  perCycle: CycleReport[];
}

const now = () => performance.now();

function uniform(rng: SeededRandom, [min, max]: readonly [number, number]): number {
  return min + rng.int(max - min + 1);
}

function reasonOf(error: unknown): string {
  if (error instanceof ProtocolError) return `ProtocolError:${error.code}`;
  if (error instanceof Error) return error.name;
  return 'unknown';
}

function count(into: Record<string, number>, key: string): void {
  into[key] = (into[key] ?? 0) + 1;
}

const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString('utf8'));

/** What the run found; violations are collected, never thrown, so a run reports all of them. */
class Findings {
  readonly violations: Violation[] = [];
  /** Acknowledged writes found missing by any check (counted once each). */
  readonly lost = new Set<WriteOp>();

  private readonly seen = new Set<string>();

  add(v: Violation, lost?: WriteOp): void {
    this.violations.push(v);
    if (lost !== undefined) this.lost.add(lost);
  }

  /** Adds `v` unless a violation with the same `id` was added before (one loss found by several checks). */
  once(id: string, v: Violation, lost?: WriteOp): void {
    if (this.seen.has(id)) return;
    this.seen.add(id);
    this.add(v, lost);
  }
}

// ---------------------------------------------------------------------------------------------- victims

/** The fault model as the client's quorum system states it, by node name. */
interface Tolerance {
  readonly kv: readonly string[];
  /** KV nodes that may be down at once. */
  readonly f: number;
  readonly cliques: ReadonlyArray<{ readonly members: readonly string[]; readonly b: number }>;
}

function toleranceOf(info: ClusterInfo, connection: ClusterConnection): Tolerance {
  const qs = connection.client.quorumSystem();
  const nameOf = new Map(info.nodes.map((n) => [n.id, n.name]));
  const names = (ids: readonly string[]) => ids.map((id) => nameOf.get(id)!).sort();
  const tolerance = {
    kv: names(qs.kvNodes),
    f: qs.kvFaults,
    cliques: qs.cliques
      .map((c) => ({ members: names(c.members), b: c.b }))
      .sort((a, b) => (a.members[0]! < b.members[0]! ? -1 : 1)),
  };
  const servers = info.nodes.length;
  const seen = tolerance.kv.length + tolerance.cliques.reduce((n, c) => n + c.members.length, 0);
  if (seen !== servers || tolerance.cliques.length === 0)
    throw new Error(`the client sees ${seen} of ${servers} servers in its quorum system`);
  return tolerance;
}

/** A victim set within the fault model: KV nodes only, signers only, or both (each a third of the time). */
function pickVictims(rng: SeededRandom, tolerance: Tolerance): string[] {
  const kind = rng.int(3); // 0: KV, 1: signers, 2: both
  const victims: string[] = [];
  if (kind !== 1 && tolerance.f > 0)
    victims.push(...rng.shuffle(tolerance.kv).slice(0, 1 + rng.int(tolerance.f)));
  if (kind !== 0 || victims.length === 0) {
    // One clique for sure, each other one with probability 1/2; 1..b members of each.
    const first = rng.int(tolerance.cliques.length);
    for (const [i, c] of tolerance.cliques.entries()) {
      const chosen = i === first || rng.chance(0.5);
      if (chosen && c.b > 0) victims.push(...rng.shuffle(c.members).slice(0, 1 + rng.int(c.b)));
    }
  }
  return victims.sort();
}

// ---------------------------------------------------------------------------------------------- load

interface Load {
  stop(): Promise<void>;
  readonly reads: { ok: number; failed: number };
}

/**
 * W writer loops on one client. Writer i writes `w{i}-{seq}` to its own keys `w{i}/{j}` and to the
 * shared keys `shared/{j}`, and sometimes reads one of its own keys: only writer i writes those, one write
 * at a time, so the history is complete for that key when the read starts.
 */
function startLoad(
  connection: ClusterConnection,
  writers: number,
  rng: SeededRandom,
  history: History,
  findings: Findings,
  hardStop: AbortSignal,
): Load {
  let stopping = false;
  const reads = { ok: 0, failed: 0 };
  const shared = Array.from({ length: SHARED_KEYS }, (_, j) => `shared/${j}`);
  const loop = async (i: number): Promise<void> => {
    const r = rng.fork(`writer-${i}`);
    const own = Array.from({ length: OWN_KEYS }, (_, j) => `w${i}/${j}`);
    for (let seq = 0; !stopping && !hardStop.aborted; seq++) {
      const key = r.chance(SHARED_WRITE_CHANCE) ? r.pick(shared) : r.pick(own);
      const op = history.begin(key, `w${i}-${seq}`, i, now());
      try {
        const result = await connection.client.write(utf8(key), utf8(op.value), hardStop);
        history.acked(op, result, now());
      } catch (error) {
        history.failed(op, reasonOf(error), now());
        await delay(FAILED_WRITE_PAUSE_MS);
      }
      if (r.chance(READ_CHANCE) && !hardStop.aborted) {
        const k = r.pick(own);
        const startMs = now();
        try {
          // No write-back: it would repair a node that lost an acknowledged record and hide the loss
          // from the durability check.
          const got = await connection.client.read(utf8(k), { skipWriteBack: true, signal: hardStop });
          reads.ok++;
          for (const v of checkRead(history, { key: k, value: text(got.value), t: got.t, startMs })) {
            const last = v.kind === 'lost' ? lastAcknowledged(history, k, startMs) : undefined;
            findings.add({ ...v, message: `read during load: ${v.message}` }, last);
          }
        } catch {
          reads.failed++;
        }
      }
    }
  };
  const running = Promise.all(Array.from({ length: writers }, (_, i) => loop(i)));
  return {
    reads,
    stop: async () => {
      stopping = true;
      await running;
    },
  };
}

// ---------------------------------------------------------------------------------------------- cluster

/** Waits until the client reaches each of `names` (a read request answered), or records a violation. */
async function heal(
  connection: ClusterConnection,
  info: ClusterInfo,
  names: readonly string[],
  findings: Findings,
  signal: AbortSignal,
): Promise<void> {
  const probe = encodeRequest({ kind: 'read', x: utf8('crash/probe') });
  await Promise.all(
    names.map(async (name) => {
      const n = info.nodes.find((m) => m.name === name)!;
      const deadline = now() + HEAL_TIMEOUT_MS;
      let lastError = '';
      while (now() < deadline) {
        signal.throwIfAborted();
        try {
          await connection.transport.request(n.id, n.address, probe, AbortSignal.timeout(1000));
          return;
        } catch (error) {
          lastError = error instanceof Error ? error.message : String(error);
          await delay(50, undefined, { signal });
        }
      }
      findings.add({
        kind: 'not-healed',
        message: `${name} not reachable from the client ${HEAL_TIMEOUT_MS} ms after its restart: ${lastError}`,
      });
    }),
  );
}

/** Every node not in `down` must be running: a node that died by itself is a bug. */
async function checkAlive(dir: string, down: ReadonlySet<string>, findings: Findings): Promise<void> {
  for (const s of await clusterStatus(dir))
    if (!s.alive && !down.has(s.name))
      findings.add({
        kind: 'node-died',
        message: `${s.name} (pid ${s.pid}) stopped running without being killed; see ${join(dir, 'nodes', s.name, 'log')}`,
      });
}

type RestartKill = 'during start-up' | 'just after start-up' | 'not killed';

/**
 * Restarts `name` and SIGKILLs it again `delayMs` after its process exists (during its start-up, or just
 * after if it was faster); it is down again afterwards.
 */
async function killWhileRestarting(dir: string, name: string, delayMs: number): Promise<RestartKill> {
  const before = (await readClusterInfo(dir)).nodes.find((n) => n.name === name)!.pid;
  const restarting = restartNode(dir, name).then(
    () => 'ready' as const,
    () => 'failed' as const,
  );
  // restartNode records the new pid before it waits for the node to accept connections.
  for (let i = 0; i < 400; i++) {
    const n = (await readClusterInfo(dir)).nodes.find((m) => m.name === name)!;
    if (n.pid !== before && nodeRuns(n)) break;
    await delay(5);
  }
  await delay(delayMs);
  const n = (await readClusterInfo(dir)).nodes.find((m) => m.name === name)!;
  if (!nodeRuns(n)) {
    await restarting;
    return 'not killed'; // it never came up (its restart failed): clusterUp tries again and reports
  }
  await killNode(dir, name);
  // restartNode rejects when the kill came before the node accepted connections.
  return (await restarting) === 'failed' ? 'during start-up' : 'just after start-up';
}

// ---------------------------------------------------------------------------------------------- checks

/**
 * The on-disk durability check of one stopped or killed node (its store is opened here, so the process
 * must not run): as a KV node, it still holds exactly the (key, t) record, with its value, of every
 * settled write it acknowledged; as a signer, it still remembers signing t or later for the key of every
 * settled write whose record carries its signature. Run on each victim right after its SIGKILL, before
 * anything can mask a loss (a signer's state for a key is overwritten by later signings), and on every
 * node at the end.
 */
async function checkDisk(
  node: ClusterNodeInfo,
  history: History,
  findings: Findings,
  when: string,
): Promise<{ kvRecords: number; signerStates: number }> {
  const stats = { kvRecords: 0, signerStates: 0 };
  const storage = await LmdbStorage.open(join(node.dir, 'db'));
  try {
    for (const w of history.acknowledged()) {
      const x = utf8(w.key);
      if (w.acknowledgedBy!.includes(node.id)) {
        stats.kvRecords++;
        const raw = await storage.get('record', recordKey(x, w.t!));
        if (raw !== undefined) {
          const held = text(decodeRecord(raw).v);
          if (held !== w.value)
            findings.once(`${node.name}/${w.value}`, {
              kind: 'order',
              message: `${when}: ${node.name} holds ${JSON.stringify(held)} for ${w.key} at t=${w.t}, but acknowledged ${JSON.stringify(w.value)}`,
            });
        } else {
          // Nodes keep every version of a key (nothing deletes from 'record'), so the exact (key, t) must
          // be there: a later version does not excuse a missing one — a node that loses its last records
          // on SIGKILL and then stores newer versions of the same keys is exactly the failure looked for.
          const latest = await storage.scan('record', { prefix: recordPrefix(x), reverse: true, limit: 1 });
          const latestT = latest.length > 0 ? `t=${recordKeyTimestamp(latest[0]![0])}` : 'none';
          findings.once(
            `${node.name}/${w.value}`,
            {
              kind: 'lost',
              message: `${when}: ${node.name} acknowledged ${w.key}=${JSON.stringify(w.value)} at t=${w.t} but no longer holds it (its latest version: ${latestT})`,
            },
            w,
          );
        }
      }
      if (w.signers!.includes(node.id)) {
        stats.signerStates++;
        const raw = await storage.get('signed', x);
        // The signer's SignedState (server.ts) starts with the u64 timestamp it last signed for x.
        const t = raw === undefined ? 0n : new ByteReader(raw).u64('signed.t');
        if (t < w.t!)
          findings.once(`${node.name}/${w.value}`, {
            kind: 'lost',
            message: `${when}: ${node.name} signed ${w.key}=${JSON.stringify(w.value)} at t=${w.t} but remembers only t=${t}`,
          });
      }
    }
  } finally {
    await storage.close();
  }
  return stats;
}

/** A fresh client reads every key; each value is checked against the history. */
async function checkFinalReads(
  connection: ClusterConnection,
  history: History,
  findings: Findings,
  signal: AbortSignal,
): Promise<number> {
  const keys = history.keys();
  let next = 0;
  let reads = 0;
  const reader = async () => {
    while (next < keys.length) {
      const key = keys[next++]!;
      const startMs = now();
      const got = await connection.client.read(utf8(key), { signal });
      reads++;
      for (const v of checkRead(history, { key, value: text(got.value), t: got.t, startMs })) {
        const last = v.kind === 'lost' ? lastAcknowledged(history, key, startMs) : undefined;
        findings.add({ ...v, message: `final read: ${v.message}` }, last);
      }
    }
  };
  await Promise.all(Array.from({ length: FINAL_READS_IN_FLIGHT }, reader));
  for (const v of checkAcknowledgedOrder(history)) findings.add(v);
  return reads;
}

// ---------------------------------------------------------------------------------------------- the run

function summarize(writes: readonly WriteOp[]): {
  acked: number;
  failed: number;
  reasons: Record<string, number>;
} {
  const reasons: Record<string, number> = {};
  let acked = 0;
  let failed = 0;
  for (const w of writes) {
    if (w.outcome === 'acked') acked++;
    else if (w.outcome === 'failed') {
      failed++;
      count(reasons, w.error ?? 'unknown');
    }
  }
  return { acked, failed, reasons };
}

async function run(options: Options, signal: AbortSignal, say: (line: string) => void): Promise<Report> {
  const startedMs = now();
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'bftkv-crash-')));
  if (options.dir !== undefined && (await readdir(dir).catch((): string[] => [])).includes('cluster.json'))
    throw new RangeError(`--dir: ${dir} already holds a cluster; the test needs a fresh one`);
  const rng = new SeededRandom(options.seed);
  const schedule = rng.fork('schedule');
  const history = new History();
  const findings = new Findings();
  const report: Report = {
    ok: false,
    seed: options.seed,
    topology: options.topology,
    writers: options.writers,
    cycles: 0,
    kills: 0,
    restartKills: 0,
    acknowledged: 0,
    failed: 0,
    failedByReason: {},
    lost: 0,
    reads: { during: 0, failedDuring: 0, final: 0 },
    durability: { kvRecords: 0, signerStates: 0, atKill: 0 },
    keys: 0,
    violations: 0,
    violationList: [],
    durationMs: 0,
    interrupted: false,
    error: undefined,
    dir,
    perCycle: [],
  };
  const hardStop = new AbortController();
  // Every write and read in flight listens on it.
  setMaxListeners(0, hardStop.signal, signal);
  const onAbort = () => hardStop.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  let connection: ClusterConnection | undefined;
  let load: Load | undefined;
  let clusterStarted = false;
  const stopLoad = async () => {
    if (load === undefined) return;
    const l = load;
    load = undefined;
    const timer = setTimeout(() => hardStop.abort(), STOP_GRACE_MS);
    try {
      await l.stop();
    } finally {
      clearTimeout(timer);
    }
    report.reads.during = l.reads.ok;
    report.reads.failedDuring = l.reads.failed;
  };
  try {
    say(
      `crash test: seed ${options.seed}, ${options.topology} topology, ${options.cycles} cycles, ${options.writers} writers`,
    );
    say(`  cluster in ${dir}`);
    clusterStarted = true;
    const info = await clusterUp(dir, options.topology);
    connection = await connectCluster(dir);
    const tolerance = toleranceOf(info, connection);
    say(
      `  ${info.nodes.length} nodes; tolerates ${tolerance.f} of ${tolerance.kv.length} KV nodes and ${tolerance.cliques
        .map((c) => `${c.b} of ${c.members.length} signers`)
        .join(' + ')} down`,
    );
    load = startLoad(connection, options.writers, rng, history, findings, hardStop.signal);
    /** The disk check of killed nodes, on the writes settled so far. */
    const checkVictims = async (names: readonly string[], when: string) => {
      for (const name of names) {
        const d = await checkDisk(
          info.nodes.find((n) => n.name === name)!,
          history,
          findings,
          when,
        );
        report.durability.atKill += d.kvRecords + d.signerStates;
      }
    };

    for (let cycle = 1; cycle <= options.cycles && !signal.aborted; cycle++) {
      const cycleStartMs = now();
      const victims = pickVictims(schedule, tolerance);
      const restartKilled = schedule.chance(RESTART_KILL_CHANCE) ? schedule.pick(victims) : undefined;
      const restartKillDelayMs = uniform(schedule, RESTART_KILL_DELAY_MS);
      const beforeKillMs = uniform(schedule, BEFORE_KILL_MS);
      const downMs = uniform(schedule, DOWN_MS);
      const afterHealMs = uniform(schedule, AFTER_HEAL_MS);

      await delay(beforeKillMs, undefined, { signal });
      await checkAlive(dir, new Set(), findings);
      await Promise.all(victims.map((v) => killNode(dir, v)));
      report.kills += victims.length;
      const killedMs = now();
      await checkVictims(victims, `cycle ${cycle}, after the kill`);
      await delay(Math.max(0, downMs - (now() - killedMs)), undefined, { signal });
      await checkAlive(dir, new Set(victims), findings);
      const restartMs = now();
      let restartKill: RestartKill | undefined;
      if (restartKilled !== undefined) {
        restartKill = await killWhileRestarting(dir, restartKilled, restartKillDelayMs);
        if (restartKill !== 'not killed') {
          report.kills++;
          report.restartKills++;
          await checkVictims([restartKilled], `cycle ${cycle}, after the kill during the restart`);
        }
      }
      // clusterUp restarts every node that is not running, in parallel, and records all pids at once.
      await clusterUp(dir, options.topology);
      await heal(connection, info, victims, findings, signal);
      const healedMs = now();
      await delay(afterHealMs, undefined, { signal });

      const issued = (from: number, to: number) =>
        history.writes().filter((w) => w.startMs >= from && w.startMs < to);
      const whileDown = summarize(issued(killedMs, restartMs));
      const all = summarize(issued(cycleStartMs, now()));
      const c: CycleReport = {
        cycle,
        victims,
        restartKilled: restartKill === undefined ? undefined : `${restartKilled!} (${restartKill})`,
        downMs: Math.round(restartMs - killedMs),
        whileDown,
        acked: all.acked,
        failed: all.failed,
        healMs: Math.round(healedMs - restartMs),
      };
      report.perCycle.push(c);
      report.cycles = cycle;
      if (whileDown.acked === 0)
        findings.add({
          kind: 'no-progress',
          message: `cycle ${cycle}: no write issued while ${victims.join(', ')} were down was acknowledged (${whileDown.failed} failed: ${JSON.stringify(whileDown.reasons)})`,
        });
      say(
        `  cycle ${cycle}: killed ${victims.join(', ')}${c.restartKilled === undefined ? '' : `, then ${c.restartKilled} again while restarting`}; ` +
          `while down ${c.downMs} ms: ${whileDown.acked} acknowledged, ${whileDown.failed} failed` +
          `${whileDown.failed > 0 ? ` ${JSON.stringify(whileDown.reasons)}` : ''}; healed in ${c.healMs} ms; cycle ${c.acked} acknowledged, ${c.failed} failed`,
      );
    }

    await stopLoad();
    await connection.close();
    connection = undefined;
    if (!signal.aborted) {
      await checkAlive(dir, new Set(), findings);
      // Stop everything (gracefully: the durability check reads the stores, which must be closed), then
      // look at each node's disk.
      await clusterDown(dir);
      say('  load stopped, cluster stopped; checking every acknowledgement against the nodes’ disks');
      for (const n of info.nodes) {
        const d = await checkDisk(n, history, findings, 'after the run');
        report.durability.kvRecords += d.kvRecords;
        report.durability.signerStates += d.signerStates;
      }
      say('  cluster restarted; reading every key with a fresh client');
      await clusterUp(dir, options.topology);
      connection = await connectCluster(dir);
      await heal(
        connection,
        info,
        info.nodes.map((n) => n.name),
        findings,
        signal,
      );
      report.reads.final = await checkFinalReads(connection, history, findings, signal);
    }
  } catch (error) {
    if (signal.aborted) report.interrupted = true;
    else report.error = error instanceof Error ? (error.stack ?? error.message) : String(error);
  } finally {
    signal.removeEventListener('abort', onAbort);
    await stopLoad().catch(() => undefined);
    await connection?.close().catch(() => undefined);
    if (clusterStarted) await clusterDown(dir).catch(() => undefined);
  }
  if (signal.aborted) report.interrupted = true;
  const totals = summarize(history.writes());
  report.acknowledged = totals.acked;
  report.failed = totals.failed;
  report.failedByReason = totals.reasons;
  report.keys = history.keys().length;
  report.lost = findings.lost.size;
  report.violations = findings.violations.length;
  report.violationList = findings.violations.slice(0, VIOLATIONS_SHOWN);
  report.ok =
    findings.violations.length === 0 &&
    report.error === undefined &&
    !report.interrupted &&
    report.cycles === options.cycles;
  report.durationMs = Math.round(now() - startedMs);
  if (report.ok && options.dir === undefined) {
    await rm(dir, { recursive: true, force: true });
    report.dir = undefined;
  }
  return report;
}

function humanReport(r: Report, options: Options): string {
  const lines = [
    `${r.ok ? 'PASS' : 'FAIL'}: ${r.cycles} cycles, ${r.kills} SIGKILLs (${r.restartKills} during a restart), ` +
      `${r.acknowledged} acknowledged writes, ${r.failed} failed${r.failed > 0 ? ` ${JSON.stringify(r.failedByReason)}` : ''}, ` +
      `${r.keys} keys, ${(r.durationMs / 1000).toFixed(1)} s`,
    `  reads: ${r.reads.during} during the load (${r.reads.failedDuring} failed), ${r.reads.final} final; ` +
      `on disk: ${r.durability.kvRecords} KV acknowledgements, ` +
      `${r.durability.signerStates} signer states; ${r.durability.atKill} checked on victims right after their kill`,
    `  lost acknowledged writes: ${r.lost}; violations: ${r.violations}`,
  ];
  for (const v of r.violationList) lines.push(`  VIOLATION [${v.kind}] ${v.message}`);
  if (r.violations > r.violationList.length)
    lines.push(`  ... and ${r.violations - r.violationList.length} more`);
  if (r.error !== undefined) lines.push(`  ERROR ${r.error}`);
  if (r.interrupted) lines.push('  interrupted');
  if (r.dir !== undefined) lines.push(`  cluster directory kept: ${r.dir} (node logs in nodes/NAME/log)`);
  if (!r.ok)
    lines.push(
      `  replay the schedule: npm run test:crash -- --seed ${options.seed} --cycles ${options.cycles} --topology ${options.topology} --writers ${options.writers}`,
    );
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<number> {
  let options: Options;
  try {
    options = parseOptions(process.argv.slice(2), process.env);
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
    return 2;
  }
  const interrupt = new AbortController();
  const onSignal = (name: NodeJS.Signals) => {
    if (!options.json) process.stdout.write(`\n${name}: stopping the load and the cluster\n`);
    interrupt.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const say = options.json ? () => undefined : (line: string) => void process.stdout.write(`${line}\n`);
  const report = await run(options, interrupt.signal, say);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  if (options.json) {
    const { perCycle: _perCycle, ...summary } = report;
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  } else process.stdout.write(humanReport(report, options));
  return report.interrupted ? 130 : report.ok ? 0 : 1;
}

process.exitCode = await main();
