/**
 * `bftkv demo`, which `npm start` runs: starts (or restarts) a local cluster, writes and reads through the
 * real protocol over TLS, shows who signed, who stored, the quorum cliques and the timings, then keeps the
 * cluster running until Ctrl-C (or stops it at once with --once). With --json it prints one summary line.
 */
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  AbortedError,
  connect,
  ProtocolError,
  type Bftkv,
  type NodeRef,
  type StatusView,
} from '../client/index.js';
import { clusterDown, type ClusterDownResult } from '../node/cluster.js';
import { chooseTopology, startCluster } from './cluster-commands.js';
import { CliFailure, command, nodeName, toJson, type Io } from './command.js';
import { DEFAULT_DIR } from './options.js';
import { quorumLines, table } from './render.js';

const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString('utf8'));
const shortNames = (nodes: readonly NodeRef[]) => nodes.map(nodeName).sort();
const elapsed = (start: number) => Math.round(performance.now() - start);

/** Resolves when the process gets SIGINT or SIGTERM (and aborts `controller`); `dispose` removes the handlers. */
function interruption(controller: AbortController): {
  interrupted: Promise<NodeJS.Signals>;
  dispose: () => void;
} {
  let onSignal: (s: NodeJS.Signals) => void = () => undefined;
  const interrupted = new Promise<NodeJS.Signals>((resolveSignal) => {
    onSignal = (s) => {
      controller.abort();
      resolveSignal(s);
    };
  });
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    interrupted,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

interface WriteSummary {
  readonly key: string;
  readonly value: string;
  readonly t: bigint;
  readonly sealed: boolean;
  readonly signers: string[];
  readonly storedOn: string[];
  readonly ms: number;
}

interface ReadSummary {
  readonly key: string;
  readonly value: string | null;
  readonly t: bigint;
  readonly answeredBy: string[];
  readonly writtenBackTo: string[];
  readonly ms: number;
}

/** The writes and reads of the tour; `say` prints a line in text mode. */
async function tour(kv: Bftkv, status: StatusView, signal: AbortSignal, say: (line: string) => void) {
  const writes: WriteSummary[] = [];
  const reads: ReadSummary[] = [];
  const get = async (key: string) => {
    const start = performance.now();
    const r = await kv.read(key, { signal });
    const summary: ReadSummary = {
      key,
      value: text(r.value) ?? null,
      t: r.t,
      answeredBy: shortNames(r.answeredBy),
      writtenBackTo: shortNames(r.writtenBackTo),
      ms: elapsed(start),
    };
    reads.push(summary);
    return summary;
  };
  const put = async (key: string, value: string, once: boolean) => {
    const start = performance.now();
    const w = once ? await kv.putOnce(key, value, { signal }) : await kv.put(key, value, { signal });
    const summary: WriteSummary = {
      key,
      value,
      t: w.t,
      sealed: w.sealed,
      signers: shortNames(w.signers),
      storedOn: shortNames(w.storedOn),
      ms: elapsed(start),
    };
    writes.push(summary);
    return summary;
  };
  // Per clique: how many of its members signed, and how many a sufficient collective signature needs.
  const signed = (w: WriteSummary) =>
    `   signed by  ${w.signers.join(' ')}   (` +
    status.cliques
      .map((c, i) => {
        const members = new Set(c.members.map(nodeName));
        const count = w.signers.filter((n) => members.has(n)).length;
        const which = status.cliques.length === 1 ? '' : `clique #${i + 1}: `;
        return `${which}${count} of ${c.members.length}, ${c.sufficient} needed`;
      })
      .join('; ') +
    ')';
  const stored = (w: WriteSummary) =>
    `   stored on  ${w.storedOn.join(' ')}   (${w.storedOn.length} signed acknowledgements; q=${status.kv.quorum} needed)`;

  const before = await get('hello');
  const hello = await put('hello', `Hello from bftkv! (written ${new Date().toISOString()})`, false);
  say(`3. put hello ${JSON.stringify(hello.value)}   ${hello.ms} ms`);
  say(
    `   timestamp t=${hello.t}` +
      (before.value === null
        ? ' (first write of this key)'
        : ` (replaces ${JSON.stringify(before.value)}, t=${before.t})`),
  );
  say(signed(hello));
  say(stored(hello));
  const after = await get('hello');
  say(`4. get hello   ${after.ms} ms`);
  say(`   -> ${JSON.stringify(after.value)} at t=${after.t}`);
  say(
    `   verified answers from ${after.answeredBy.join(' ')}; written back to ` +
      `${after.writtenBackTo.length === 0 ? 'nobody (a quorum already held it)' : after.writtenBackTo.join(' ')}`,
  );
  if (after.value !== hello.value)
    throw new CliFailure(
      'demoMismatch',
      `read ${JSON.stringify(after.value)}, expected ${JSON.stringify(hello.value)}`,
    );

  const receipt = `demo/receipt-${new Date().toISOString()}`;
  const sealed = await put(receipt, 'alice paid bob 5 coins', true);
  say(`5. put --once ${receipt} ${JSON.stringify(sealed.value)}   ${sealed.ms} ms`);
  say(`   sealed: written at the largest timestamp, it can never change`);
  say(signed(sealed));
  say(stored(sealed));
  const start = performance.now();
  let refusal: { key: string; code: string; ms: number };
  try {
    await kv.put(receipt, 'alice paid bob 500 coins', { signal });
    throw new CliFailure('demoMismatch', `overwriting the write-once key ${receipt} was not refused`);
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    refusal = { key: receipt, code: error.code, ms: elapsed(start) };
  }
  say(`6. put ${receipt} "alice paid bob 500 coins"   ${refusal.ms} ms`);
  say(`   -> refused by the signers: ${refusal.code}`);
  const check = await get(receipt);
  if (check.value !== sealed.value)
    throw new CliFailure(
      'demoMismatch',
      `read ${JSON.stringify(check.value)} from the sealed key ${receipt}`,
    );
  say(`   get ${receipt} -> ${JSON.stringify(check.value)}   ${check.ms} ms`);
  return { writes, reads, refusals: [refusal] };
}

export const demoCommand = command(
  {
    name: 'demo',
    summary: 'What `npm start` runs: start a local cluster, write and read through it, show what happened.',
    usage: '[--once] [--dir DIR] [--topology small|reference] [options]',
    positionals: [0, 0],
    options: {
      once: { type: 'boolean', help: 'stop the cluster after the tour instead of waiting for Ctrl-C' },
      dir: { type: 'string', value: 'DIR', help: `where the cluster lives (default ./${DEFAULT_DIR})` },
      topology: {
        type: 'string',
        value: 'NAME',
        help: "small or reference (default: the existing cluster's, else small)",
      },
    },
    details: [
      'If DIR already holds a cluster it is restarted (same keys and data) instead of created. Without --once the',
      'cluster keeps running for you to try the `bftkv` commands until Ctrl-C stops it; --once stops it (even',
      'if it was already running before). With --json the tour prints one JSON summary line on stdout.',
    ].join('\n'),
    examples: ['npm start', 'npm start --silent -- --once --json'],
  },
  async ({ values }, io: Io) => {
    const dir = resolve(io.cwd, values.dir ?? DEFAULT_DIR);
    const topology = await chooseTopology('demo', dir, values.topology);
    const say = (line: string) => {
      if (!values.json) io.write(`${line}\n`);
    };
    const controller = new AbortController();
    const { interrupted, dispose } = interruption(controller);
    let up: Awaited<ReturnType<typeof startCluster>> | undefined;
    try {
      say(`bftkv demo: a ${topology} cluster on this machine, data in ${dir}`);
      say('');
      say(`1. Starting the node processes (one per server, TLS on loopback) ...`);
      up = await startCluster(dir, topology);
      if (controller.signal.aborted) throw new AbortedError('interrupted');
      const { info } = up;
      say(
        `   ${info.nodes.length} nodes ready in ${(up.ms / 1000).toFixed(1)} s` +
          (up.restarted
            ? ` (existing cluster: ${up.started} restarted, ${info.nodes.length - up.started} already running)`
            : ''),
      );
      say('');
      const kv = await connect({ cluster: dir });
      let result: Awaited<ReturnType<typeof tour>>;
      let status: StatusView;
      try {
        status = kv.status();
        say(`2. The quorum system, as the client (${kv.uid}) derives it from its web of trust:`);
        for (const line of quorumLines(status, '   ')) say(line);
        say(`   the client is certified by every signer, so its writes can be signed`);
        say('');
        result = await tour(kv, status, controller.signal, say);
      } finally {
        await kv.close();
      }
      const summary = {
        dir,
        topology,
        restarted: up.restarted,
        started: up.started,
        clusterUpMs: up.ms,
        nodes: info.nodes.length,
        signers: info.nodes.filter((n) => n.role === 'signer').map((n) => n.name),
        kvNodes: info.nodes.filter((n) => n.role === 'kv').map((n) => n.name),
        cliques: status.cliques.map((c) => ({
          members: shortNames(c.members),
          b: c.b,
          sufficient: c.sufficient,
        })),
        kvQuorum: { nodes: status.kv.nodes.length, faults: status.kv.faults, quorum: status.kv.quorum },
        ...result,
      };
      if (values.once) {
        say('');
        const down = await clusterDown(dir);
        say(stoppedLine(down));
        return { text: '', json: { ...summary, running: false, stopped: down } };
      }
      const hint = dir === resolve(io.cwd, DEFAULT_DIR) ? '' : ` --cluster ${dir}`;
      say('');
      say('The cluster keeps running. Try it from another terminal in this directory:');
      const tries = table(
        [
          [`npx bftkv get${hint} hello`, '# prints the value written above'],
          [`npx bftkv put${hint} mykey myvalue`, '# your own write'],
          [`npx bftkv status${hint}`, '# graph, quorum cliques, KV quorum, revocations'],
          [`npx bftkv cluster status${hint === '' ? '' : ` --dir ${dir}`}`, '# the node processes'],
          ['npx bftkv --help', '# the commands and the concepts behind them'],
        ],
        '   ',
      );
      for (const line of tries) say(line);
      say('Press Ctrl-C to stop the cluster.');
      if (values.json) io.write(`${toJson({ ok: true, ...summary, running: true })}\n`);
      // Signal handlers do not keep the event loop alive: a timer does, until the signal comes.
      const keepAlive = setInterval(() => undefined, 1 << 30);
      const signal = await interrupted.finally(() => clearInterval(keepAlive));
      say('');
      say(`${signal}: stopping the cluster ...`);
      const down = await clusterDown(dir);
      say(stoppedLine(down));
      return undefined;
    } catch (error) {
      // Whatever failed, leave no process behind.
      if (up !== undefined) await clusterDown(dir).catch(() => undefined);
      if (error instanceof AbortedError && controller.signal.aborted)
        throw new CliFailure('interrupted', 'interrupted; the cluster was stopped');
      throw error;
    } finally {
      dispose();
    }
  },
);

function stoppedLine(down: ClusterDownResult): string {
  return (
    `stopped: ${down.stopped.length} nodes cleanly` +
    (down.killed.length === 0 ? '' : `, ${down.killed.length} killed after the grace period`) +
    (down.gone.length === 0 ? '' : `, ${down.gone.length} were not running`)
  );
}
