/**
 * A local multi-process cluster on loopback.
 *
 *   DIR/nodes/NAME/   identity (key, cert, config.json), db/ (LMDB), log (the process's stdout and stderr)
 *   DIR/client/       the client identity (uid client@bftkv.local), certified by every clique member
 *   DIR/certs/NAME.cert  every certificate with all its certifications (what a client loads)
 *   DIR/cluster.json  names, ids, addresses, pids
 *
 * Topology 'small' (the edges of smallTopology() in test/sim/topology.ts, with one client): the 4-clique
 * c01..c04 (every member certifies every other), KV nodes rw01..rw04 each certifying every signer, and
 * `client`, certified by every clique member and certifying every signer and every KV node.
 */
import { spawn } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { createServer, connect, type AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { persistGraph } from '../protocol/node-state.js';
import { LmdbStorage } from '../storage/lmdb.js';
import { certify, encodeCertificate, withCertifications, type Certificate } from '../trust/certificate.js';
import { TrustGraph } from '../trust/graph.js';
import { initIdentity, saveCertificate, type Identity } from './identity.js';

export type TopologyName = 'small';

export interface ClusterNodeInfo {
  readonly name: string;
  readonly id: string;
  readonly uid: string;
  readonly role: 'signer' | 'kv';
  readonly address: string;
  readonly dir: string;
  readonly pid: number;
}

export interface ClusterInfo {
  readonly topology: TopologyName;
  readonly client: { readonly name: string; readonly id: string; readonly uid: string; readonly dir: string };
  readonly nodes: readonly ClusterNodeInfo[];
}

export interface ClusterUpOptions {
  /** How long to wait for every node to accept connections, default 30000 ms. */
  readonly readyTimeoutMs?: number;
}

export const CLUSTER_FILE = 'cluster.json';
export const CLIENT_NAME = 'client';
export const CLIENT_UID = 'client@bftkv.local';

/** The repository root (where node_modules holds tsx) and the node entry point. */
const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));

interface Desc {
  readonly servers: ReadonlyArray<{ name: string; role: 'signer' | 'kv' }>;
  /** [issuer, subject] */
  readonly edges: ReadonlyArray<readonly [string, string]>;
}

function smallDesc(): Desc {
  const signers = ['c01', 'c02', 'c03', 'c04'];
  const kvs = ['rw01', 'rw02', 'rw03', 'rw04'];
  const edges: Array<readonly [string, string]> = [];
  for (const a of signers) for (const b of signers) if (a !== b) edges.push([a, b]);
  for (const k of kvs) for (const s of signers) edges.push([k, s]);
  for (const s of signers) edges.push([CLIENT_NAME, s]);
  for (const k of kvs) edges.push([CLIENT_NAME, k]);
  for (const s of signers) edges.push([s, CLIENT_NAME]);
  return {
    servers: [
      ...signers.map((name) => ({ name, role: 'signer' as const })),
      ...kvs.map((name) => ({ name, role: 'kv' as const })),
    ],
    edges,
  };
}

/** A free loopback port (bound then released: another process could take it in between, rarely). */
async function freePort(): Promise<number> {
  return new Promise<number>((resolvePort, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolvePort(port));
    });
  });
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolveAccepts) => {
    const socket = connect({ host: '127.0.0.1', port });
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

/** Creates every identity and certification, starts one process per server, waits until all accept. */
export async function clusterUp(
  dir: string,
  topology: TopologyName,
  options: ClusterUpOptions = {},
): Promise<ClusterInfo> {
  if (topology !== 'small')
    throw new RangeError(`topology: only 'small' is supported, got ${String(topology)}`);
  if (await exists(join(dir, CLUSTER_FILE)))
    throw new Error(`${join(dir, CLUSTER_FILE)}: a cluster already exists here (run cluster down first)`);
  const desc = smallDesc();
  await mkdir(join(dir, 'nodes'), { recursive: true });
  await mkdir(join(dir, 'certs'), { recursive: true });

  // Identities: servers with a fixed loopback port each (the address is part of the certificate).
  const identities = new Map<string, Identity>();
  for (const s of desc.servers) {
    const address = `tcp://127.0.0.1:${await freePort()}`;
    identities.set(
      s.name,
      await initIdentity(join(dir, 'nodes', s.name), { uid: `${s.name}.bftkv.local`, address }),
    );
  }
  identities.set(CLIENT_NAME, await initIdentity(join(dir, CLIENT_NAME), { uid: CLIENT_UID }));

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
  for (const s of desc.servers) {
    const storage = await LmdbStorage.open(join(dir, 'nodes', s.name, 'db'));
    try {
      const graph = new TrustGraph();
      graph.addCertificates(all);
      await persistGraph(storage, graph);
    } finally {
      await storage.close();
    }
  }

  // Processes. cluster.json is written as soon as they exist, so clusterDown can always stop them.
  const nodes: ClusterNodeInfo[] = [];
  const exited = new Map<string, number | null>();
  try {
    for (const s of desc.servers) await spawnNode(s, identities.get(s.name)!, nodes, exited);
  } catch (error) {
    // Not recorded anywhere yet: stop what was started before giving up.
    for (const n of nodes) if (isAlive(n.pid)) process.kill(n.pid, 'SIGKILL');
    throw error;
  }
  const client = identities.get(CLIENT_NAME)!;
  const info: ClusterInfo = {
    topology,
    client: { name: CLIENT_NAME, id: client.id, uid: CLIENT_UID, dir: client.dir },
    nodes,
  };
  await writeFile(join(dir, CLUSTER_FILE), `${JSON.stringify(info, null, 2)}\n`);

  try {
    await waitReady(info, exited, options.readyTimeoutMs ?? 30_000);
  } catch (error) {
    await clusterDown(dir);
    throw error;
  }
  return info;
}

/** Starts the process of one server (log to its directory) and records it in `nodes`. */
async function spawnNode(
  s: { name: string; role: 'signer' | 'kv' },
  identity: Identity,
  nodes: ClusterNodeInfo[],
  exited: Map<string, number | null>,
): Promise<void> {
  const logFd = openSync(join(identity.dir, 'log'), 'a', 0o600);
  try {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, '--dir', identity.dir], {
      cwd: REPO_ROOT,
      detached: true,
      stdio: ['ignore', logFd, logFd],
    });
    if (child.pid === undefined) throw new Error(`could not start the process of ${s.name}`);
    child.once('exit', (code) => exited.set(s.name, code));
    child.unref();
    nodes.push({
      name: s.name,
      id: identity.id,
      uid: identity.config.uid,
      role: s.role,
      address: identity.config.address,
      dir: identity.dir,
      pid: child.pid,
    });
  } finally {
    closeSync(logFd);
  }
}

async function waitReady(
  info: ClusterInfo,
  exited: ReadonlyMap<string, number | null>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const pending = new Set(info.nodes);
  while (pending.size > 0) {
    for (const n of [...pending]) {
      if (exited.has(n.name))
        throw new Error(
          `node ${n.name} exited (code ${String(exited.get(n.name))}); see ${join(n.dir, 'log')}`,
        );
      const port = Number(new URL(n.address.replace(/^tcp:/, 'http:')).port);
      if (await accepts(port)) pending.delete(n);
    }
    if (pending.size === 0) return;
    if (Date.now() > deadline)
      throw new Error(
        `nodes not accepting after ${timeoutMs} ms: ${[...pending].map((n) => n.name).join(', ')}`,
      );
    await sleep(50);
  }
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
  for (const n of info.nodes) {
    if (!isAlive(n.pid)) {
      gone.push(n.name);
      continue;
    }
    try {
      process.kill(n.pid, 'SIGTERM');
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
  for (const [name, pid] of signalled) {
    try {
      process.kill(pid, 'SIGKILL');
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
