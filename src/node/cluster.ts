/**
 * A local multi-process cluster on loopback.
 *
 *   DIR/nodes/NAME/   identity (key, cert, config.json), db/ (LMDB), log (the process's stdout and stderr)
 *   DIR/client/       the client identity (uid client@bftkv.local), certified by every clique member
 *   DIR/certs/NAME.cert  every certificate with all its certifications (what a client loads)
 *   DIR/cluster.json  names, ids, addresses, pids
 *
 * Topologies (topology/topology.ts): 'small' is one 4-member clique c01..c04 and KV nodes rw01..rw04;
 * 'reference' is REFERENCE.md §10.1, cliques a01..a10 and b01..b10 and KV nodes rw01..rw06. In both, every
 * clique member certifies every other, every KV node certifies every signer, and `client` is certified by
 * every clique member and certifies every signer and every KV node.
 *
 * `clusterUp` on a directory that already holds a cluster restarts the nodes that are not running, with
 * their identities and data; `restartNode` and `killNode` act on one node (the crash test).
 *
 * `provisionCluster` and `startCluster` are the two halves of `clusterUp` for clusters that do not live on
 * loopback: the caller chooses every server's address, and a command prefix that starts each process
 * elsewhere (test/netns: `ip netns exec NS`, one network namespace per server).
 */
import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { mkdir, readFile, readdir, rename, stat, writeFile } from 'node:fs/promises';
import { createServer, connect, type AddressInfo, type Server } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { persistGraph } from '../protocol/node-state.js';
import { LmdbStorage } from '../storage/lmdb.js';
import { parseAddress } from '../transport/tls.js';
import { certify, encodeCertificate, withCertifications, type Certificate } from '../trust/certificate.js';
import { TrustGraph } from '../trust/graph.js';
import {
  clusterTopology,
  isTopologyName,
  type TopologyDesc,
  type TopologyName,
} from '../topology/topology.js';
import { initIdentity, saveCertificate, type Identity } from './identity.js';

export type { TopologyName } from '../topology/topology.js';

export interface ClusterNodeInfo {
  readonly name: string;
  readonly id: string;
  readonly uid: string;
  readonly role: 'signer' | 'kv';
  readonly address: string;
  readonly dir: string;
  readonly pid: number;
  /** host:port of the node's /livez, /readyz and /metrics listener (docs/OPERATIONS.md). */
  readonly http?: string;
}

export interface ClusterInfo {
  readonly topology: TopologyName;
  readonly client: { readonly name: string; readonly id: string; readonly uid: string; readonly dir: string };
  readonly nodes: readonly ClusterNodeInfo[];
  /**
   * How many processes host the servers (absent: one per server). With fewer, server i runs in process
   * i mod P, so each process holds a mix of signers and KV nodes (see `processGroups`).
   */
  readonly processes?: number;
}

export interface ClusterUpOptions {
  /** How long to wait for every node to accept connections, default 30000 ms. */
  readonly readyTimeoutMs?: number;
  /**
   * Creating a cluster: how many processes host its servers (default one per server). On a machine with
   * fewer cores than servers, one process per core saves the cost of many cold processes (PERFORMANCE.md).
   * A restart keeps the number the cluster was created with.
   */
  readonly processes?: number;
}

export interface ClusterStartOptions extends ClusterUpOptions {
  /** Words run before `node …` for a server, e.g. `['ip', 'netns', 'exec', ns]`; must exec, not fork. */
  readonly commandPrefix?: (node: ClusterNodeInfo) => readonly string[];
}

/** Where the servers of a provisioned cluster listen (the address is part of each certificate). */
export interface ClusterAddressing {
  /** `tcp://host:port` of a server from its name and role. */
  readonly address: (name: string, role: 'signer' | 'kv') => string;
  /** `host:port` of a server's health and metrics listener (none when absent). */
  readonly http?: (name: string) => string;
}

export const CLUSTER_FILE = 'cluster.json';
export const CLIENT_NAME = 'client';
export const CLIENT_UID = 'client@bftkv.local';

/** The repository root (where node_modules holds tsx) and the node entry point. */
const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));

/** The cluster's servers (UID `NAME.bftkv.local`) and its one client. */
function localTopology(topology: TopologyName, addressing: ClusterAddressing): TopologyDesc {
  return clusterTopology(topology, [{ name: CLIENT_NAME, uid: CLIENT_UID }], {
    uid: (n) => `${n}.bftkv.local`,
    address: addressing.address,
  });
}

/**
 * The loopback address a new local cluster listens on. On Linux every 127.0.0.0/8 address is local, and a
 * random one keeps the cluster's ports out of everyone else's way: outgoing connections on this machine take
 * their ephemeral source port on 127.0.0.1, so they can never occupy a port the cluster chose (on 127.0.0.1
 * they can, between choosing the port and the node binding it, or while a node is restarting). Elsewhere
 * only 127.0.0.1 is sure to exist.
 */
export function clusterLoopback(): string {
  if (process.platform !== 'linux') return '127.0.0.1';
  return `127.${randomInt(1, 255)}.${randomInt(0, 256)}.${randomInt(1, 255)}`;
}

/**
 * `count` distinct free ports on `host`: all are bound at once and released together, so none is handed
 * out twice.
 */
async function freePorts(host: string, count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Server>((resolveServer, reject) => {
          const s = createServer();
          s.once('error', reject);
          s.listen(0, host, () => resolveServer(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  return ports;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Whether a TCP connection to `tcp://host:port` succeeds within a second. */
function accepts(address: string): Promise<boolean> {
  const target = parseAddress(address);
  if (target === null) return Promise.resolve(false);
  return new Promise((resolveAccepts) => {
    const socket = connect(target);
    // Off loopback a lost SYN is not refused at once: give up rather than wait for the kernel.
    socket.setTimeout(1000, () => {
      socket.destroy();
      resolveAccepts(false);
    });
    socket.once('connect', () => {
      socket.destroy();
      resolveAccepts(true);
    });
    socket.once('error', () => resolveAccepts(false));
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Reads DIR/cluster.json. */
export async function readClusterInfo(dir: string): Promise<ClusterInfo> {
  return JSON.parse(await readFile(join(dir, CLUSTER_FILE), 'utf8')) as ClusterInfo;
}

/** Whether process `pid` exists (signal 0). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether the process recorded for node `n` still runs and is that node (its command line names the node's
 * directory), so a recycled pid never gets a signal meant for a node.
 */
export function nodeRuns(n: Pick<ClusterNodeInfo, 'pid' | 'dir'>): boolean {
  if (!(n.pid > 0) || !isAlive(n.pid)) return false;
  try {
    const args = readFileSync(`/proc/${n.pid}/cmdline`, 'utf8').split('\0');
    return args.includes(n.dir);
  } catch {
    return process.platform !== 'linux'; // no /proc: trust the pid
  }
}

/**
 * Creates every identity and certification of `topology` in `dir`, starts one process per server and waits
 * until all accept connections. When `dir` already holds a cluster, its nodes that are not running are
 * restarted instead (same identities and data; `topology` must match).
 */
export async function clusterUp(
  dir: string,
  topology: TopologyName,
  options: ClusterUpOptions = {},
): Promise<ClusterInfo> {
  if (!isTopologyName(topology))
    throw new RangeError(`topology: expected small or reference, got ${JSON.stringify(topology)}`);
  if (await exists(join(dir, CLUSTER_FILE))) {
    const info = await readClusterInfo(dir);
    if (info.topology !== topology)
      throw new Error(`${join(dir, CLUSTER_FILE)}: holds a ${info.topology} cluster, not ${topology}`);
    return restartCluster(dir, info, options);
  }
  // A fixed loopback address and port per server (the address is part of the certificate).
  const host = clusterLoopback();
  const ports = new Map<string, number>();
  const httpPorts = new Map<string, number>();
  const servers = localTopology(topology, { address: () => '' }).nodes.filter((n) => n.role !== 'client');
  const free = await freePorts(host, 2 * servers.length);
  servers.forEach((n, i) => {
    ports.set(n.name, free[2 * i]!);
    httpPorts.set(n.name, free[2 * i + 1]!);
  });
  const processes = options.processes;
  if (processes !== undefined && !(Number.isInteger(processes) && processes >= 1))
    throw new RangeError(`processes: a positive integer, got ${processes}`);
  const provisioned = await provisionCluster(dir, topology, {
    address: (n) => `tcp://${host}:${ports.get(n) ?? 0}`,
    http: (n) => `${host}:${httpPorts.get(n) ?? 0}`,
  });
  const info: ClusterInfo =
    processes === undefined || processes >= provisioned.nodes.length
      ? provisioned
      : { ...provisioned, processes };
  if (info !== provisioned) await writeClusterInfo(dir, info);
  // Processes. cluster.json is written as soon as they exist, so clusterDown can always stop them.
  return restartCluster(dir, info, options);
}

/**
 * Creates in `dir` (empty) every identity, certification and certificate file of `topology`, each server's
 * initial trust graph, and cluster.json (no processes yet: pid 0). Servers listen at `addressing.address`.
 */
export async function provisionCluster(
  dir: string,
  topology: TopologyName,
  addressing: ClusterAddressing,
): Promise<ClusterInfo> {
  if (!isTopologyName(topology))
    throw new RangeError(`topology: expected small or reference, got ${JSON.stringify(topology)}`);
  if (await exists(join(dir, CLUSTER_FILE)))
    throw new Error(`${join(dir, CLUSTER_FILE)}: a cluster is already provisioned there`);
  await mkdir(join(dir, 'nodes'), { recursive: true });
  await mkdir(join(dir, 'certs'), { recursive: true });
  const desc = localTopology(topology, addressing);

  const identities = new Map<string, Identity>();
  for (const n of desc.nodes) {
    const home = n.role === 'client' ? join(dir, n.name) : join(dir, 'nodes', n.name);
    const http =
      n.role === 'client' || addressing.http === undefined ? {} : { http: addressing.http(n.name) };
    identities.set(n.name, await initIdentity(home, { uid: n.uid, address: n.address, ...http }));
  }
  // Certifications (every one over the bare certificate; the statement covers id, key and uid).
  const certs = new Map<string, Certificate>();
  for (const [name, identity] of identities) certs.set(name, identity.certificate);
  for (const [issuer, subject] of desc.edges) {
    const c = certify(identities.get(issuer)!.key, identities.get(subject)!.certificate);
    certs.set(subject, withCertifications(certs.get(subject)!, [c]));
  }
  const all = [...certs.values()];
  for (const [name, cert] of certs) {
    await saveCertificate(identities.get(name)!.dir, cert);
    await writeFile(join(dir, 'certs', `${name}.cert`), encodeCertificate(cert));
  }
  const graph = new TrustGraph();
  graph.addCertificates(all);
  const servers = desc.nodes.filter((n) => n.role !== 'client');
  for (const n of servers) {
    const storage = await LmdbStorage.open(join(identities.get(n.name)!.dir, 'db'));
    try {
      await persistGraph(storage, graph);
    } finally {
      await storage.close();
    }
  }
  const client = identities.get(CLIENT_NAME)!;
  const info: ClusterInfo = {
    topology,
    client: { name: CLIENT_NAME, id: client.id, uid: CLIENT_UID, dir: client.dir },
    nodes: servers.map((n) => {
      const identity = identities.get(n.name)!;
      return {
        name: n.name,
        id: identity.id,
        uid: n.uid,
        role: n.role as 'signer' | 'kv',
        address: n.address,
        dir: identity.dir,
        pid: 0,
        ...(identity.config.http === undefined ? {} : { http: identity.config.http }),
      };
    }),
  };
  await writeClusterInfo(dir, info);
  return info;
}

/**
 * Starts every node of the cluster provisioned in `dir` that is not running (each command prefixed by
 * `options.commandPrefix`), records the pids, and waits until all accept connections (from this process's
 * network: with a prefix that moves the node elsewhere, the caller must be able to reach that address).
 */
export async function startCluster(dir: string, options: ClusterStartOptions = {}): Promise<ClusterInfo> {
  return restartCluster(dir, await readClusterInfo(dir), options);
}

async function writeClusterInfo(dir: string, info: ClusterInfo): Promise<void> {
  const file = join(dir, CLUSTER_FILE);
  await writeFile(`${file}.tmp`, `${JSON.stringify(info, null, 2)}\n`);
  await rename(`${file}.tmp`, file);
}

/**
 * The servers of `info` by hosting process: one group per server, or with `info.processes` = P, server i
 * in group i mod P (the topology lists signers first, so each process gets its share of both roles).
 */
export function processGroups(info: ClusterInfo): ClusterNodeInfo[][] {
  const p = info.processes ?? info.nodes.length;
  const groups: ClusterNodeInfo[][] = Array.from({ length: Math.min(p, info.nodes.length) }, () => []);
  info.nodes.forEach((n, i) => groups[i % groups.length]!.push(n));
  return groups;
}

/** The servers that share `name`'s process (itself included). */
function groupOf(info: ClusterInfo, name: string): ClusterNodeInfo[] {
  return processGroups(info).find((g) => g.some((n) => n.name === name))!;
}

/** Starts every process of `info` whose servers are not running, records the pids, waits until all accept. */
async function restartCluster(
  dir: string,
  info: ClusterInfo,
  options: ClusterStartOptions,
): Promise<ClusterInfo> {
  const exited = new Map<string, Exit>();
  const pids = new Map<string, number>();
  let failure: Error | null = null;
  if (options.commandPrefix !== undefined && info.processes !== undefined)
    failure = new Error('a command prefix needs one process per server');
  for (const group of processGroups(info)) {
    if (failure !== null) break;
    if (group.some(nodeRuns)) continue; // a process hosts its servers together: none runs without the others
    try {
      const pid = spawnNodes(group, exited, options.commandPrefix?.(group[0]!) ?? []);
      for (const n of group) pids.set(n.name, pid);
    } catch (error) {
      failure = error instanceof Error ? error : new Error(String(error));
    }
  }
  const nodes = info.nodes.map((n) => {
    const pid = pids.get(n.name);
    return pid === undefined ? n : { ...n, pid };
  });
  const updated: ClusterInfo = { ...info, nodes };
  // Recorded before waiting, so clusterDown can always stop what was started.
  await writeClusterInfo(dir, updated);
  if (failure !== null) {
    await clusterDown(dir);
    throw failure;
  }
  try {
    await waitReady(updated.nodes, exited, options.readyTimeoutMs ?? 60_000);
  } catch (error) {
    await clusterDown(dir);
    throw error;
  }
  return updated;
}

/**
 * Starts the process hosting `group` (one server, or several sharing a process), its output appended to
 * the first server's DIR/log; returns the pid. A `prefix` must exec node in the same process (as `ip netns
 * exec` does), so the pid is the node's.
 */
function spawnNodes(
  group: readonly ClusterNodeInfo[],
  exited: Map<string, Exit>,
  prefix: readonly string[],
): number {
  const log = join(group[0]!.dir, 'log');
  const logFd = openSync(log, 'a', 0o600);
  try {
    // BFTKV_NODE_ARGS: extra Node.js options for every node process (profiling: --cpu-prof …).
    const extra = (process.env.BFTKV_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
    const argv: string[] = [
      ...prefix,
      process.execPath,
      ...extra,
      '--import',
      'tsx',
      MAIN,
      ...group.flatMap((n) => ['--dir', n.dir]),
    ];
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: REPO_ROOT,
      detached: true,
      stdio: ['ignore', logFd, logFd],
    });
    if (child.pid === undefined)
      throw new Error(`could not start the process of ${group.map((n) => n.name).join(', ')}`);
    child.once('exit', (code) => {
      const names = group.map((n) => n.name);
      for (const n of group) exited.set(n.name, { code, log, names });
    });
    child.unref();
    return child.pid;
  } finally {
    closeSync(logFd);
  }
}

/** How a node process ended, and where its output went. */
interface Exit {
  readonly code: number | null;
  readonly log: string;
  /** The servers the process hosted. */
  readonly names: readonly string[];
}

/** The last lines of a log (at most 2 KiB), for an error message; empty when it cannot be read. */
function logTail(path: string): string {
  const limit = 2048;
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const buffer = Buffer.alloc(limit);
    const size = fstatSync(fd).size;
    const read = readSync(fd, buffer, 0, limit, Math.max(0, size - limit));
    const text = buffer.subarray(0, read).toString('utf8');
    return (size > limit ? text.slice(text.indexOf('\n') + 1) : text).trimEnd();
  } catch {
    return '';
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

async function waitReady(
  nodes: readonly ClusterNodeInfo[],
  exited: ReadonlyMap<string, Exit>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const pending = new Set(nodes);
  while (pending.size > 0) {
    for (const n of [...pending]) {
      const exit = exited.get(n.name);
      if (exit !== undefined) {
        const what =
          exit.names.length === 1 ? `node ${n.name}` : `the process of nodes ${exit.names.join(', ')}`;
        throw new Error(
          `${what} exited (code ${String(exit.code)}); see ${exit.log}, which ends:\n${logTail(exit.log)}`,
        );
      }
      if (await accepts(n.address)) pending.delete(n);
    }
    if (pending.size === 0) return;
    if (Date.now() > deadline)
      throw new Error(
        `nodes not accepting after ${timeoutMs} ms: ${[...pending].map((n) => n.name).join(', ')}`,
      );
    await sleep(50);
  }
}

/**
 * SIGKILLs one node of the cluster in `dir` and waits until the process is gone (with shared processes,
 * the servers it hosts go with it).
 */
export async function killNode(dir: string, name: string): Promise<void> {
  const n = nodeNamed(await readClusterInfo(dir), name);
  if (nodeRuns(n)) {
    process.kill(n.pid, 'SIGKILL');
    const deadline = Date.now() + 5000;
    while (isAlive(n.pid) && Date.now() < deadline) await sleep(5);
  }
}

/**
 * Starts one node again (it must not be running) and waits until it accepts connections; with shared
 * processes, the servers of its process start with it.
 */
export async function restartNode(dir: string, name: string, options: ClusterUpOptions = {}): Promise<void> {
  const info = await readClusterInfo(dir);
  const n = nodeNamed(info, name);
  if (nodeRuns(n)) throw new Error(`node ${name} is running (pid ${n.pid})`);
  const group = groupOf(info, name);
  const exited = new Map<string, Exit>();
  const pid = spawnNodes(group, exited, []);
  const names = new Set(group.map((m) => m.name));
  const nodes = info.nodes.map((m) => (names.has(m.name) ? { ...m, pid } : m));
  await writeClusterInfo(dir, { ...info, nodes });
  await waitReady(
    nodes.filter((m) => names.has(m.name)),
    exited,
    options.readyTimeoutMs ?? 30_000,
  );
}

function nodeNamed(info: ClusterInfo, name: string): ClusterNodeInfo {
  const n = info.nodes.find((m) => m.name === name);
  if (n === undefined) throw new RangeError(`no node named ${JSON.stringify(name)} in this cluster`);
  return n;
}

export interface NodeStatus {
  readonly name: string;
  readonly role: 'signer' | 'kv';
  readonly id: string;
  readonly address: string;
  readonly pid: number;
  readonly alive: boolean;
  readonly accepting: boolean;
}

/** Which nodes of the cluster in `dir` run and accept connections. */
export async function clusterStatus(dir: string): Promise<NodeStatus[]> {
  const info = await readClusterInfo(dir);
  return Promise.all(
    info.nodes.map(async (n) => {
      const alive = nodeRuns(n);
      return {
        name: n.name,
        role: n.role,
        id: n.id,
        address: n.address,
        pid: n.pid,
        alive,
        accepting: alive && (await accepts(n.address)),
      };
    }),
  );
}

export interface ClusterDownResult {
  /** Processes that exited after SIGTERM. */
  readonly stopped: readonly string[];
  /** Processes that needed SIGKILL. */
  readonly killed: readonly string[];
  /** Processes already gone. */
  readonly gone: readonly string[];
}

/** Stops the processes recorded in DIR/cluster.json: SIGTERM, then SIGKILL after `timeoutMs` (default 5000). */
export async function clusterDown(
  dir: string,
  options: { timeoutMs?: number } = {},
): Promise<ClusterDownResult> {
  const info = await readClusterInfo(dir);
  const timeoutMs = options.timeoutMs ?? 5000;
  const stopped: string[] = [];
  const killed: string[] = [];
  const gone: string[] = [];
  const signalled = new Map<string, number>();
  const sent = new Set<number>();
  for (const n of info.nodes) {
    // Servers sharing a process get one signal between them, and count as signalled with the first: by the
    // time the loop reaches the others, their process may already have stopped (CI saw 2 of 8 "stopped").
    if (sent.has(n.pid)) {
      signalled.set(n.name, n.pid);
      continue;
    }
    if (!nodeRuns(n)) {
      gone.push(n.name);
      continue;
    }
    try {
      process.kill(n.pid, 'SIGTERM');
      sent.add(n.pid);
      signalled.set(n.name, n.pid);
    } catch {
      gone.push(n.name);
    }
  }
  const deadline = Date.now() + timeoutMs;
  while (signalled.size > 0 && Date.now() < deadline) {
    for (const [name, pid] of signalled)
      if (!isAlive(pid)) {
        signalled.delete(name);
        stopped.push(name);
      }
    if (signalled.size > 0) await sleep(25);
  }
  const killedPids = new Set<number>();
  for (const [name, pid] of signalled) {
    try {
      if (!killedPids.has(pid)) process.kill(pid, 'SIGKILL');
      killedPids.add(pid);
    } catch {
      // exited in between
    }
    killed.push(name);
  }
  // SIGKILL is asynchronous: wait (briefly) until the killed processes are gone.
  const killDeadline = Date.now() + 2000;
  while ([...signalled.values()].some(isAlive) && Date.now() < killDeadline) await sleep(10);
  return { stopped, killed, gone };
}

/** The certificates in DIR/certs (file names, for tools). */
export async function certificateFiles(dir: string): Promise<string[]> {
  return (await readdir(join(dir, 'certs')))
    .filter((f) => f.endsWith('.cert'))
    .sort()
    .map((f) => join(dir, 'certs', f));
}
