/**
 * The cluster benchmark: a real multi-process cluster on loopback (src/node/cluster.ts: one process per
 * server, LMDB, TLS), driven by C concurrent clients in this process: by default one user over one shared
 * TLS transport; with --identities per-client, C users with their own keys and connections.
 *
 *   npm run bench -- [--topology small|reference] [--clients 1,16] [--seconds S] [--keys K] [--json]
 *                    [--phases kv,password,ca] [--ca-schemes rsa-shoup,…] [--ca-signatures N] [--processes P]
 *                    [--identities shared|per-client]
 *
 * For each client count: a write phase (each client rewrites its own K keys in turn; they were written
 * once before measuring, so a write is the steady-state update: sign + store, the time phase skipped for a
 * variable the client knows), then a read phase over the same keys, then a write phase on fresh keys
 * (time + sign + store). Each phase runs for S seconds after a one-second warm-up. One JSON line per
 * measurement: throughput, latency p50/p99, and CPU milliseconds per operation summed over every process
 * (all node processes from /proc/PID/stat, plus this one), i.e. what the operation costs the machine.
 * The `ca` phase (issue 5) creates one distributed CA key per scheme on the first quorum clique (10 members
 * in the reference topology) and signs N files one after another: latency p50/p99 and CPU per signature,
 * plus the key set-up time (`ca-create-SCHEME`).
 * Bounded: the number of clients, the duration of each phase, the number of signatures, every deadline.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { utf8 } from '../src/codec/bytes.js';
import { systemClock } from '../src/env/clock.js';
import { secureRandom } from '../src/env/random.js';
import { loadIdentity, readCertificateFile } from '../src/node/identity.js';
import { certificateFiles, clusterDown, clusterUp, type ClusterInfo } from '../src/node/cluster.js';
import { PasswordClient } from '../src/protocol/password-client.js';
import { BftkvClient } from '../src/protocol/client.js';
import { TlsTransport } from '../src/transport/tls.js';
import { signingKeyFromSeed, type SigningKey } from '../src/crypto/ed25519.js';
import {
  certify,
  createCertificate,
  withCertifications,
  type Certificate,
} from '../src/trust/certificate.js';
import { CaClient } from '../src/protocol/ca/ca-client.js';
import { CA_SCHEMES, type CaScheme } from '../src/protocol/ca/scheme.js';
import { coordinatorFor } from '../src/protocol/ca/schemes.js';
import { isTopologyName } from '../src/topology/topology.js';

const { values } = parseArgs({
  options: {
    topology: { type: 'string', default: 'reference' },
    clients: { type: 'string', default: '1,16' },
    seconds: { type: 'string', default: '5' },
    keys: { type: 'string', default: '20' },
    json: { type: 'boolean', default: false },
    phases: { type: 'string', default: 'kv,password,ca' },
    'ca-schemes': { type: 'string', default: CA_SCHEMES.join(',') },
    'ca-signatures': { type: 'string', default: '10' },
    processes: { type: 'string' },
    identities: { type: 'string', default: 'shared' },
  },
  strict: true,
});
const topology = values.topology;
if (!isTopologyName(topology)) throw new RangeError(`--topology: small or reference, got ${topology}`);
const clientCounts = values.clients.split(',').map((s) => Number.parseInt(s, 10));
if (clientCounts.some((n) => !Number.isInteger(n) || n < 1 || n > 64))
  throw new RangeError('--clients: a comma-separated list of integers in 1..64');
const seconds = Number(values.seconds);
if (!(seconds > 0 && seconds <= 120)) throw new RangeError('--seconds: in (0, 120]');
const processes = values.processes === undefined ? undefined : Number.parseInt(values.processes, 10);
if (processes !== undefined && !(processes >= 1 && processes <= 64))
  throw new RangeError('--processes: in 1..64 (default: one per server)');
const identities = values.identities;
if (identities !== 'shared' && identities !== 'per-client')
  throw new RangeError(`--identities: shared or per-client, got ${identities}`);
const keys = Number.parseInt(values.keys, 10);
if (!(keys >= 1 && keys <= 10_000)) throw new RangeError('--keys: in 1..10000');

const phases = new Set(values.phases.split(','));
for (const p of phases)
  if (!['kv', 'password', 'ca'].includes(p)) throw new RangeError(`--phases: kv, password, ca; got ${p}`);
const caSchemes = values['ca-schemes'].split(',') as CaScheme[];
for (const s of caSchemes)
  if (!(CA_SCHEMES as readonly string[]).includes(s)) throw new RangeError(`--ca-schemes: unknown ${s}`);
const caSignatures = Number.parseInt(values['ca-signatures'], 10);
if (!(caSignatures >= 1 && caSignatures <= 1000)) throw new RangeError('--ca-signatures: in 1..1000');

const TICKS_PER_SECOND = 100; // Linux USER_HZ

interface Cpu {
  user: number;
  system: number;
}

/** User and system CPU time of a process, in milliseconds (Linux /proc/PID/stat utime, stime). */
function processCpu(pid: number): Cpu {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return {
    user: (Number(fields[11]) * 1000) / TICKS_PER_SECOND,
    system: (Number(fields[12]) * 1000) / TICKS_PER_SECOND,
  };
}

/** CPU time of every node process and of this one (the clients), with the signers' and KV nodes' shares. */
function clusterCpu(info: ClusterInfo): Cpu & { signer: number; kv: number } {
  const own = process.cpuUsage();
  const total = { user: own.user / 1000, system: own.system / 1000, signer: 0, kv: 0 };
  const seen = new Set<number>();
  for (const n of info.nodes) {
    if (seen.has(n.pid)) continue; // servers sharing a process (--processes) are counted once
    seen.add(n.pid);
    const c = processCpu(n.pid);
    total.user += c.user;
    total.system += c.system;
    total[n.role] += c.user + c.system;
  }
  return total;
}

function emit(line: Record<string, string | number | null>): void {
  const f = (k: string) => String(line[k]);
  if (values.json)
    process.stdout.write(
      `${JSON.stringify({ ...line, processes: processes ?? 'one per server', identities })}\n`,
    );
  else
    process.stdout.write(
      `${f('op').padEnd(10)} clients ${f('clients').padStart(2)}: ${f('opsPerSec').padStart(6)} ops/s  p50 ${f('p50Ms')} ms  p99 ${f('p99Ms')} ms  CPU ${f('cpuMsPerOp')} ms/op  (${f('ops')} ops, ${f('errors')} errors)\n`,
    );
}

async function phase(
  info: ClusterInfo,
  op: string,
  clients: readonly BftkvClient[],
  run: (client: BftkvClient, c: number, i: number) => Promise<unknown>,
): Promise<void> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: unknown;
  const loop = async (client: BftkvClient, c: number, until: number, record: boolean) => {
    for (let i = 0; performance.now() < until; i++) {
      const s = performance.now();
      try {
        await run(client, c, i);
        if (record) latencies.push(performance.now() - s);
      } catch (error) {
        if (record) errors++;
        firstError ??= error;
      }
    }
  };
  await Promise.all(clients.map((cl, c) => loop(cl, c, performance.now() + 1000, false)));
  const cpu0 = clusterCpu(info);
  const own0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(clients.map((cl, c) => loop(cl, c, t0 + seconds * 1000, true)));
  const wallMs = performance.now() - t0;
  const cpu1 = clusterCpu(info);
  const own = process.cpuUsage(own0);
  const cpuMs = cpu1.user + cpu1.system - cpu0.user - cpu0.system;
  const perOp = (ms: number) => (latencies.length === 0 ? null : Number((ms / latencies.length).toFixed(2)));
  latencies.sort((a, b) => a - b);
  const pct = (p: number) =>
    latencies.length === 0
      ? null
      : Number(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!.toFixed(2));
  emit({
    bench: 'cluster',
    topology,
    op,
    clients: clients.length,
    ops: latencies.length,
    errors,
    opsPerSec: Math.round((latencies.length / wallMs) * 1000),
    p50Ms: pct(0.5),
    p99Ms: pct(0.99),
    cpuMsPerOp: perOp(cpuMs),
    systemCpuMsPerOp: perOp(cpu1.system - cpu0.system),
    clientCpuMsPerOp: perOp((own.user + own.system) / 1000),
    // Per role only when every server has its own process.
    signersCpuMsPerOp: processes === undefined ? perOp(cpu1.signer - cpu0.signer) : null,
    kvCpuMsPerOp: processes === undefined ? perOp(cpu1.kv - cpu0.kv) : null,
    cpuUtilization: Number((cpuMs / wallMs).toFixed(2)),
    ...(firstError === undefined
      ? {}
      : { firstError: firstError instanceof Error ? firstError.message : JSON.stringify(firstError) }),
  });
}

/** One CA key of `scheme`, then `caSignatures` sequential signatures (count-bounded: a DSA one takes seconds). */
async function caPhase(info: ClusterInfo, ca: CaClient, scheme: CaScheme): Promise<void> {
  const name = `bench-${scheme}`;
  const cpu0 = clusterCpu(info);
  const t0 = performance.now();
  const created = await ca.create(name, scheme, { replace: true });
  const createMs = performance.now() - t0;
  const cpu1 = clusterCpu(info);
  const latencies: number[] = [];
  let errors = 0;
  let firstError: unknown;
  for (let i = 0; i < caSignatures; i++) {
    const s = performance.now();
    try {
      await ca.signWithInfo(created, ca.inputFor(created, utf8(`bench document ${i}`)));
      latencies.push(performance.now() - s);
    } catch (error) {
      errors++;
      firstError ??= error;
    }
  }
  const cpu2 = clusterCpu(info);
  latencies.sort((a, b) => a - b);
  const pct = (p: number) =>
    latencies.length === 0
      ? null
      : Number(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!.toFixed(1));
  const members = created.descriptor.members.length;
  emit({
    bench: 'cluster',
    topology,
    op: `ca-create-${scheme}`,
    clients: 1,
    ops: 1,
    errors: 0,
    holders: members,
    opsPerSec: null,
    p50Ms: Number(createMs.toFixed(1)),
    p99Ms: Number(createMs.toFixed(1)),
    cpuMsPerOp: Number((cpu1.user + cpu1.system - cpu0.user - cpu0.system).toFixed(1)),
  });
  emit({
    bench: 'cluster',
    topology,
    op: `ca-sign-${scheme}`,
    clients: 1,
    ops: latencies.length,
    errors,
    holders: members,
    opsPerSec: null,
    p50Ms: pct(0.5),
    p99Ms: pct(0.99),
    cpuMsPerOp:
      latencies.length === 0
        ? null
        : Number(((cpu2.user + cpu2.system - cpu1.user - cpu1.system) / latencies.length).toFixed(1)),
    ...(firstError === undefined
      ? {}
      : { firstError: firstError instanceof Error ? firstError.message : JSON.stringify(firstError) }),
  });
  // The Shamir schemes can be reshared (same key, fresh shares): one reshare, then one signature with it.
  if (coordinatorFor(scheme).reshare === undefined) return;
  const cpu3 = clusterCpu(info);
  const r0 = performance.now();
  let reshareError: unknown;
  try {
    const out = await ca.reshare(name);
    await ca.signWithInfo(out.info, ca.inputFor(out.info, utf8('after the reshare')));
  } catch (error) {
    reshareError = error;
  }
  const reshareMs = performance.now() - r0;
  const cpu4 = clusterCpu(info);
  emit({
    bench: 'cluster',
    topology,
    op: `ca-reshare-${scheme}`,
    clients: 1,
    ops: 1,
    errors: reshareError === undefined ? 0 : 1,
    holders: members,
    opsPerSec: null,
    p50Ms: Number(reshareMs.toFixed(1)),
    p99Ms: Number(reshareMs.toFixed(1)),
    cpuMsPerOp: Number((cpu4.user + cpu4.system - cpu3.user - cpu3.system).toFixed(1)),
    note: 'one reshare (deal, verify, finish, descriptor write, commit) and one signature with the new shares',
    ...(reshareError === undefined
      ? {}
      : { firstError: reshareError instanceof Error ? reshareError.message : JSON.stringify(reshareError) }),
  });
}

/** A benchmark user: its key, its certificate, and its certifications of the servers it trusts. */
interface User {
  readonly key: SigningKey;
  readonly certificate: Certificate;
  readonly trusted: readonly Certificate[];
}

const dir = await mkdtemp(join(tmpdir(), 'bftkv-bench-'));
let closeTransports: () => Promise<unknown> = () => Promise.resolve();
// The node processes are detached daemons: if the bench ends early (Ctrl-C, a kill, or a reader that closed
// its pipe, as in `npm run bench | head -1`), stop them and remove their data before exiting.
let abandoning = false;
const abandon = (why: string, code: number) => {
  if (abandoning) return;
  abandoning = true;
  process.stderr.write(`bench: ${why}; stopping the cluster\n`);
  // The measurement still running fails as its nodes go away: only the cleanup matters now.
  process.on('uncaughtException', () => undefined);
  process.on('unhandledRejection', () => undefined);
  void clusterDown(dir)
    .catch(() => undefined)
    .then(() => rm(dir, { recursive: true, force: true }))
    .finally(() => process.exit(code));
};
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
  process.once(signal, () => abandon(signal, 128 + constants.signals[signal]));
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') abandon('standard output closed', 0);
  else throw e;
});
try {
  const started = performance.now();
  const info = await clusterUp(dir, topology, processes === undefined ? {} : { processes });
  if (!values.json)
    process.stdout.write(
      `${topology}: ${info.nodes.length} nodes in ${processes ?? info.nodes.length} processes up in ${Math.round(performance.now() - started)} ms\n`,
    );
  const identity = await loadIdentity(info.client.dir);
  const certs = await Promise.all((await certificateFiles(dir)).map((f) => readCertificateFile(f)));
  const transports: TlsTransport[] = [];
  const newTransport = (key: SigningKey) => {
    const transport = new TlsTransport({ key, clock: systemClock, random: secureRandom });
    transports.push(transport);
    return transport;
  };
  closeTransports = () => Promise.all(transports.map((t) => t.close()));
  const makeClient = (user: User = { ...identity, trusted: [] }, transport = newTransport(user.key)) => {
    const client = new BftkvClient({
      key: user.key,
      certificate: user.certificate,
      clock: systemClock,
      random: secureRandom,
      transport,
    });
    client.graph.addCertificates([...certs, ...user.trusted]);
    return client;
  };
  // --identities shared (the default): the clients are one user behind one TLS transport, as in an
  // application server; their requests to a node share one connection. --identities per-client: every client
  // is its own user (its own key, certified by every clique member, its own connections), as independent
  // users are. Nodes limit requests per peer (docs/OPERATIONS.md): a shared identity is one peer.
  const signerKeys =
    identities === 'per-client'
      ? await Promise.all(
          info.nodes.filter((n) => n.role === 'signer').map(async (n) => (await loadIdentity(n.dir)).key),
        )
      : [];
  const servers = certs.filter((c) => c.body.address !== '');
  let users = 0;
  const newUser = (): User => {
    const key = signingKeyFromSeed(secureRandom.bytes(32));
    const bare = createCertificate(key, `bench-${users++}@bftkv.local`);
    return {
      key,
      certificate: withCertifications(
        bare,
        signerKeys.map((k) => certify(k, bare)),
      ),
      // Its own trust: it certifies every server, as the cluster's client does.
      trusted: servers.map((c) => withCertifications(c, [certify(key, c)])),
    };
  };
  let fresh = 0;
  for (const count of clientCounts) {
    const shared = identities === 'shared' ? newTransport(identity.key) : undefined;
    const clients = Array.from({ length: count }, () =>
      shared === undefined ? makeClient(newUser()) : makeClient(undefined, shared),
    );
    const key = (c: number, i: number) => utf8(`bench/${count}/${c}/${i % keys}`);
    if (phases.has('kv')) {
      // Every key exists (and each client knows its timestamp) before the update phase.
      await Promise.all(
        clients.map(async (cl, c) => {
          for (let i = 0; i < keys; i++) await cl.write(key(c, i), utf8('initial'));
        }),
      );
      await phase(info, 'write', clients, (cl, c, i) => cl.write(key(c, i), utf8(`value-${c}-${i}`)));
      await phase(info, 'read', clients, (cl, c, i) => cl.read(key(c, i)));
      await phase(info, 'write-new', clients, (cl, c) =>
        cl.write(utf8(`bench/new/${count}/${c}/${fresh++}`), utf8('fresh')),
      );
    }
    if (phases.has('password')) {
      // Password authentication (issue 4): each client has its own roaming value (throttling is per
      // variable); `auth` = evaluation at every clique member + the proof shown to them, `read-password` = the
      // whole protected read (authentication, KV challenges, read with the proof, decryption).
      const pws = clients.map(
        (cl) => new PasswordClient({ client: cl, clock: systemClock, random: secureRandom }),
      );
      const vault = (c: number) => utf8(`bench/vault/${count}/${c}`);
      await Promise.all(pws.map((pw, c) => pw.writeProtected(vault(c), utf8('secret'), 'bench password')));
      await phase(info, 'auth', clients, async (cl, c) => {
        const pw = pws[c]!;
        const auth = await pw.authenticate('variable', vault(c), 'bench password');
        const proof = pw.proof(auth, { kind: 'confirm' });
        const ids = new Set(auth.nonces.map((n) => n.server));
        const peers = certs.filter((k) => ids.has(k.id));
        await cl.exchange(peers, () => ({ kind: 'passwordConfirm', proof }), undefined);
      });
      await phase(info, 'read-password', clients, (_cl, c) =>
        pws[c]!.readProtected(vault(c), 'bench password'),
      );
    }
  }
  if (phases.has('ca')) {
    const ca = new CaClient({
      client: makeClient(),
      key: identity.key,
      clock: systemClock,
      random: secureRandom,
    });
    for (const scheme of caSchemes) await caPhase(info, ca, scheme);
  }
} finally {
  await closeTransports();
  await clusterDown(dir).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
}
