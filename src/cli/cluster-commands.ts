/**
 * Local cluster commands (cluster up, down, status) over src/node/cluster.ts, and `bftkv node`, which runs
 * one node in the foreground (src/node/run.ts, shared with the process entry the cluster spawns).
 */
import { access } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ConfigError } from '../client/index.js';
import {
  CLUSTER_FILE,
  clusterDown,
  clusterStatus,
  clusterUp,
  readClusterInfo,
  type ClusterInfo,
  type TopologyName,
} from '../node/cluster.js';
import { runNodeUntilSignal } from '../node/run.js';
import { isTopologyName, TOPOLOGY_SHAPES } from '../topology/topology.js';
import { CliFailure, command, toJson, type Io } from './command.js';
import { DEFAULT_DIR, UsageError } from './options.js';
import { table } from './render.js';

const DIR_OPTION = {
  dir: {
    type: 'string',
    value: 'DIR',
    help: `the cluster directory (default ./${DEFAULT_DIR})`,
  },
} as const;

async function hasCluster(dir: string): Promise<boolean> {
  return access(join(dir, CLUSTER_FILE)).then(
    () => true,
    () => false,
  );
}

/** The cluster in `dir`, or a ConfigError saying there is none. */
async function existingCluster(dir: string): Promise<ClusterInfo> {
  if (!(await hasCluster(dir)))
    throw new ConfigError(
      'no cluster here (create one with `bftkv cluster up --dir DIR`)',
      join(dir, CLUSTER_FILE),
    );
  return readClusterInfo(dir);
}

/**
 * The topology to start in `dir`: --topology if given (checked), else the existing cluster's, else small.
 */
export async function chooseTopology(
  commandName: string,
  dir: string,
  given: string | undefined,
): Promise<TopologyName> {
  if (given !== undefined) {
    if (!isTopologyName(given))
      throw new UsageError(
        `option --topology: expected ${Object.keys(TOPOLOGY_SHAPES).join(' or ')}, got ${JSON.stringify(given)}`,
        commandName,
      );
    return given;
  }
  return (await hasCluster(dir)) ? (await readClusterInfo(dir)).topology : 'small';
}

/** Starts (or restarts) the cluster in `dir`; how many processes were started and how long it took. */
export async function startCluster(
  dir: string,
  topology: TopologyName,
  processes?: number,
): Promise<{ info: ClusterInfo; started: number; restarted: boolean; ms: number }> {
  const restarted = await hasCluster(dir);
  const runningBefore = restarted ? (await clusterStatus(dir)).filter((n) => n.alive).length : 0;
  const start = performance.now();
  const info = await clusterUp(dir, topology, processes === undefined ? {} : { processes });
  return {
    info,
    started: info.nodes.length - runningBefore,
    restarted,
    ms: Math.round(performance.now() - start),
  };
}

const nodesJson = (info: ClusterInfo) =>
  info.nodes.map((n) => ({
    name: n.name,
    role: n.role,
    id: n.id,
    uid: n.uid,
    address: n.address,
    pid: n.pid,
  }));

export const clusterUpCommand = command(
  {
    name: 'cluster up',
    summary: 'Start a local multi-process cluster, with every key, certification and clique set up.',
    usage: '[--topology small|reference] [--dir DIR] [options]',
    positionals: [0, 0],
    options: {
      topology: {
        type: 'string',
        value: 'NAME',
        help: 'small: one 4-member clique + 4 KV nodes; reference: two 10-member cliques + 6 KV nodes (default small)',
      },
      processes: {
        type: 'string',
        value: 'P',
        help: 'host the servers in P processes instead of one each (e.g. one per core); kept on restart',
      },
      ...DIR_OPTION,
    },
    details: [
      "Creates DIR/nodes/NAME (each server's identity, data and log), DIR/certs (every certificate with its",
      'certifications) and DIR/client (a user identity certified by every clique member, which client commands',
      'use by default), then starts one process per server on a loopback address (on Linux a random one in',
      "127.0.0.0/8, so no other program's connection can take its ports) and waits until all accept connections.",
      'With --processes P, server i runs in process i mod P: every server keeps its own identity, data, TLS',
      'listener and health endpoint, but a machine with few cores saves the cost of many idle processes.',
      'On a directory that already holds a cluster, it restarts the nodes that are not running.',
    ].join('\n'),
    examples: [
      'bftkv cluster up --topology small --dir C',
      'bftkv cluster up --topology reference --processes 2 --dir R',
    ],
  },
  async ({ values }, io) => {
    const dir = resolve(io.cwd, values.dir ?? DEFAULT_DIR);
    const topology = await chooseTopology('cluster up', dir, values.topology);
    let processes: number | undefined;
    if (values.processes !== undefined) {
      processes = Number(values.processes);
      if (!Number.isInteger(processes) || processes < 1 || processes > 1024)
        throw new UsageError(
          `option --processes: a whole number in 1..1024, got ${JSON.stringify(values.processes)}`,
          'cluster up',
        );
    }
    const { info, started, restarted, ms } = await startCluster(dir, topology, processes);
    return {
      text: [
        `${topology} cluster ${restarted ? 'restarted' : 'created'} in ${dir}: ${info.nodes.length} nodes running ` +
          `(${started} started, ${(ms / 1000).toFixed(1)} s)`,
        ...table(info.nodes.map((n) => [n.name, n.role, `pid ${n.pid}`, n.address])),
        `client identity: ${info.client.dir} (${info.client.uid}), certified by every clique member`,
        `try: bftkv put --cluster ${values.dir ?? DEFAULT_DIR} mykey myvalue`,
        '',
      ].join('\n'),
      json: { dir, topology, restarted, started, ms, nodes: nodesJson(info), client: info.client },
    };
  },
);

export const clusterDownCommand = command(
  {
    name: 'cluster down',
    summary: 'Stop every node of a local cluster (SIGTERM, then SIGKILL after 5 s). Keys and data stay.',
    usage: '[--dir DIR] [options]',
    positionals: [0, 0],
    options: DIR_OPTION,
    examples: ['bftkv cluster down --dir C'],
  },
  async ({ values }, io) => {
    const dir = resolve(io.cwd, values.dir ?? DEFAULT_DIR);
    await existingCluster(dir);
    const r = await clusterDown(dir);
    return {
      text:
        `stopped the cluster in ${dir}: ${r.stopped.length} stopped cleanly, ${r.killed.length} killed, ` +
        `${r.gone.length} already stopped\n`,
      json: { dir, stopped: r.stopped, killed: r.killed, gone: r.gone },
    };
  },
);

export const clusterStatusCommand = command(
  {
    name: 'cluster status',
    summary: 'Show which nodes of a local cluster run and accept connections.',
    usage: '[--dir DIR] [options]',
    positionals: [0, 0],
    options: DIR_OPTION,
    examples: ['bftkv cluster status --dir C'],
  },
  async ({ values }, io) => {
    const dir = resolve(io.cwd, values.dir ?? DEFAULT_DIR);
    const info = await existingCluster(dir);
    const nodes = await clusterStatus(dir);
    const running = nodes.filter((n) => n.alive).length;
    return {
      text: [
        `${info.topology} cluster in ${dir}: ${running} of ${nodes.length} nodes running`,
        ...table(
          nodes.map((n) => [
            n.name,
            n.role,
            n.alive ? `pid ${n.pid}` : '-',
            n.accepting ? 'accepting' : n.alive ? 'not accepting' : 'stopped',
            n.address,
          ]),
        ),
        '',
      ].join('\n'),
      json: { dir, topology: info.topology, running, total: nodes.length, nodes },
    };
  },
);

export const nodeCommand = command(
  {
    name: 'node',
    summary: 'Run one node (a server) in the foreground until Ctrl-C or SIGTERM, then stop it gracefully.',
    usage: '--dir DIR [options]',
    positionals: [0, 0],
    options: {
      dir: {
        type: 'string',
        value: 'DIR',
        help: 'the node identity and data directory (made by `bftkv init --address`)',
      },
    },
    details: [
      'Serves the protocol on the address in DIR/config.json over TLS, stores records in DIR/db (LMDB) and',
      'gossips. Logs are JSON lines on stderr. A graceful stop finishes the requests in flight first.',
    ].join('\n'),
    examples: ['bftkv node --dir C/nodes/c01'],
  },
  async ({ values }, io: Io) => {
    if (values.dir === undefined) throw new UsageError('missing --dir DIR', 'node');
    const dir = resolve(io.cwd, values.dir);
    const code = await runNodeUntilSignal(dir, (node) => {
      const started = { id: node.id, address: node.address, pid: process.pid };
      io.write(
        values.json
          ? `${toJson({ ok: true, ...started })}\n`
          : `node ${node.id} listening on ${node.address} (pid ${process.pid}); Ctrl-C stops it\n`,
      );
    });
    if (code !== 0)
      throw new CliFailure('stopFailed', 'the node did not stop cleanly (see the log on stderr)');
    return undefined;
  },
);
