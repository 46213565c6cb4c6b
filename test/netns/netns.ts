/**
 * `npm run test:netns [-- --json] [--impair auto|netem|relay] [--delay MS] [--jitter MS] [--loss PERCENT]`
 *
 * Issue 3, "Across machines": the small cluster (signers c01..c04, b = 1; KV nodes rw01..rw04, f = 1) runs
 * across ten Linux network namespaces, one per server and one for the client, each with its own address
 * and a veth link to a bridge in a dedicated switch namespace. Every link is impaired (default 5 ms ± 2 ms
 * one-way delay, 1 % loss); nodes are cut off and healed; reads and writes must stay correct, and once
 * healed complete (test/netns/scenario.ts lists the phases and checks). Needs root; exits 1 otherwise.
 *
 *   8 server namespaces PREFIX-c01 .. PREFIX-rw04           client namespace PREFIX-client
 *   +---------------------------+                           +---------------------------+
 *   | node src/node/main.ts     |  H = 10..17               | scenario.ts (the client)  |
 *   | eth0 10.N.1.H, port 7000  |  (c01..c04, rw01..rw04)   | eth0 10.N.1.18            |
 *   +-------------+-------------+                           +-------------+-------------+
 *                 | veth  (netem on each eth0's egress)                     | veth
 *   +-------------+---------------------------------------------------------+-------------+
 *   | switch namespace PREFIX-sw: bridge br0 with p-c01 .. p-rw04, p-client                |
 *   | cut a host off: `ip -n PREFIX-sw link set p-NAME down` (its eth0 loses carrier)      |
 *   +-------------------------------------------------------------------------------------+
 *   PREFIX = bftkv-XXXXXX (random); N = the first of 213..216 that the root namespace does not use.
 *
 * Without sch_netem in the kernel (--impair auto picks it when present), each eth0 carries 10.N.0.H only,
 * as the underlay of a VXLAN overlay vx0 that holds the cluster address 10.N.1.H, and test/netns/relay.ts
 * (in the switch namespace, 10.N.0.254) switches the overlay's frames with the same delay and loss.
 * The test prints which mode it used.
 *
 * Checked (one named line each in the output; test/netns/scenario.ts has the phases): the impairment is in
 * effect (TCP connect RTT to every server ≥ 2·(delay − jitter), median ≥ 2·delay − jitter); with rw02 cut,
 * then rw02 and c02 cut, every write is acknowledged (without them) and every read returns the latest
 * acknowledged value; once healed, both answer again; with rw01 and c01 cut the healed nodes carry every
 * quorum: reads are correct, rw02 itself serves every latest value, every write is acknowledged by rw02 and
 * signed by c02; after the last heal, writes work and every KV node itself serves the latest value of every
 * key; every node stops on SIGTERM; no namespace is left behind. Exit 0 only if all of that holds.
 *
 * Nothing is made outside the namespaces. Whatever happens (failure, SIGINT, SIGTERM), this process stops
 * the cluster, kills what still runs in its namespaces and deletes them; on failure it keeps the cluster
 * directory (node logs) and prints its path.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CLIENT_NAME, CLUSTER_FILE, clusterDown } from '../../src/node/cluster.js';
import { clusterTopology } from '../../src/topology/topology.js';
import { createLab, destroyNamespaces, freeSecondOctet, type ImpairMode, type Impairment } from './lab.js';
import type { RunFile, ScenarioResult } from './scenario.js';

const SCENARIO = fileURLToPath(new URL('./scenario.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The whole scenario must end within this; then it is killed and the test fails. */
const SCENARIO_TIMEOUT_MS = 150_000;
const SECOND_OCTETS = [213, 214, 215, 216];

const log = (message: string) => process.stderr.write(`[netns] ${message}\n`);

function parse() {
  const { values } = parseArgs({
    options: {
      json: { type: 'boolean', default: false },
      impair: { type: 'string', default: 'auto' },
      delay: { type: 'string', default: '5' },
      jitter: { type: 'string', default: '2' },
      loss: { type: 'string', default: '1' },
    },
    strict: true,
  });
  const mode = values.impair;
  const isMode = (m: string): m is ImpairMode | 'auto' => m === 'auto' || m === 'netem' || m === 'relay';
  if (!isMode(mode)) throw new RangeError(`--impair: expected auto, netem or relay, got ${mode}`);
  const impairment: Impairment = {
    delayMs: Number(values.delay),
    jitterMs: Number(values.jitter),
    lossPercent: Number(values.loss),
  };
  for (const [field, v] of Object.entries(impairment))
    if (!Number.isFinite(v) || v < 0) throw new RangeError(`--${field}: expected a number ≥ 0, got ${v}`);
  if (impairment.delayMs < 1) throw new RangeError('--delay: at least 1 ms (the test measures it)');
  if (impairment.jitterMs > impairment.delayMs) throw new RangeError('--jitter: larger than --delay');
  if (impairment.lossPercent > 5) throw new RangeError('--loss: at most 5 (the checks assume progress)');
  return { json: values.json, mode, impairment };
}

function missingCommand(): string | null {
  for (const [command, flag] of [
    ['ip', '-V'],
    ['tc', '-V'],
  ] as const) {
    const r = spawnSync(command, [flag], { stdio: 'ignore' });
    if (r.error !== undefined || r.status !== 0) return command;
  }
  return null;
}

async function main(): Promise<number> {
  const args = parse();
  if (process.platform !== 'linux' || process.getuid?.() !== 0) {
    process.stderr.write(
      'test:netns needs root on Linux: it creates network namespaces, veth links and a bridge ' +
        '(run it as root, e.g. `sudo npm run test:netns`). NOT RUN: failing.\n',
    );
    return 1;
  }
  const missing = missingCommand();
  if (missing !== null) {
    process.stderr.write(
      `test:netns needs \`${missing}\` (iproute2: apt-get install -y iproute2). NOT RUN: failing.\n`,
    );
    return 1;
  }

  const began = Date.now();
  const prefix = `bftkv-${randomBytes(3).toString('hex')}`;
  const seed = randomBytes(8).toString('hex');
  const dir = await mkdtemp(join(tmpdir(), `${prefix}-`));
  const clusterDir = join(dir, 'cluster');
  const created: string[] = [];
  let agent: ReturnType<typeof spawn> | null = null;
  let interrupted: NodeJS.Signals | null = null;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupted = signal;
    log(`${signal}: stopping, then cleaning up`);
    if (agent !== null && agent.exitCode === null) {
      agent.kill('SIGTERM');
      // The scenario stops its cluster (up to 5 s for SIGTERM, then SIGKILL) and exits; never wait longer.
      setTimeout(() => agent?.kill('SIGKILL'), 8000).unref();
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let result: ScenarioResult | null = null;
  let failure: string | null = null;
  let mode: ImpairMode | null = null;
  let leftovers: string[] = [];
  try {
    const servers = clusterTopology('small', [], { uid: (n) => n, address: () => '' }).nodes.map(
      (n) => n.name,
    );
    const secondOctet = await freeSecondOctet(SECOND_OCTETS);
    const lab = await createLab({
      prefix,
      secondOctet,
      hostNames: [...servers, CLIENT_NAME],
      mode: args.mode,
      impairment: args.impairment,
      onNamespace: (ns) => created.push(ns),
    });
    mode = lab.mode;
    log(
      `lab ${prefix}: ${created.length} namespaces, subnet ${lab.subnet}, impairment by ${lab.mode}, seed ${seed}`,
    );
    if (interrupted !== null) throw new Error(`interrupted (${String(interrupted)})`);
    const runFile = join(dir, 'run.json');
    const resultFile = join(dir, 'result.json');
    const run: RunFile = { lab, clusterDir, resultFile, seed };
    await writeFile(runFile, JSON.stringify(run));
    // The scenario runs in the client's namespace: it reaches the servers only through the lab's links.
    const child = spawn(
      'ip',
      ['netns', 'exec', lab.hosts[CLIENT_NAME]!.ns, process.execPath, '--import', 'tsx', SCENARIO, runFile],
      { cwd: REPO_ROOT, stdio: ['ignore', 2, 2] },
    );
    agent = child;
    const timer = setTimeout(() => child.kill('SIGKILL'), SCENARIO_TIMEOUT_MS);
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    clearTimeout(timer);
    if (existsSync(resultFile)) result = JSON.parse(await readFile(resultFile, 'utf8')) as ScenarioResult;
    if (code !== 0) failure = `the scenario process exited with code ${String(code)}`;
    else if (result === null) failure = 'the scenario wrote no result';
  } catch (error) {
    failure = error instanceof Error ? error.message : String(error);
  } finally {
    if (agent !== null && agent.exitCode === null) {
      agent.kill('SIGKILL');
      await new Promise((r) => agent!.once('exit', r));
    }
    // The scenario stops the cluster itself; this covers a scenario that died first.
    if (existsSync(join(clusterDir, CLUSTER_FILE))) await clusterDown(clusterDir).catch(() => undefined);
    leftovers = await destroyNamespaces(created);
  }

  const checks = result?.checks ?? [];
  const ok =
    failure === null &&
    interrupted === null &&
    leftovers.length === 0 &&
    checks.length > 0 &&
    checks.every((c) => c.ok);
  const keep = !ok && existsSync(clusterDir);
  if (!keep) await rm(dir, { recursive: true, force: true });
  const summary = {
    ok,
    mode,
    namespaces: created.length,
    prefix,
    seed,
    checks: { passed: checks.filter((c) => c.ok).length, failed: checks.filter((c) => !c.ok) },
    measurements: result?.measurements ?? {},
    relay: result?.relay ?? null,
    failure: interrupted === null ? failure : `interrupted by ${String(interrupted)}`,
    leftovers,
    kept: keep ? dir : null,
    durationMs: Date.now() - began,
  };
  if (args.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else {
    const lines = [
      `test:netns ${ok ? 'PASSED' : 'FAILED'} in ${(summary.durationMs / 1000).toFixed(1)} s — ${created.length} namespaces, impairment by ${String(mode)}`,
      ...checks.map(
        (c) => `  ${c.ok ? 'ok  ' : 'FAIL'} [${c.phase}] ${c.name}${c.ok ? '' : ` — ${c.detail}`}`,
      ),
      `  measurements: ${JSON.stringify(summary.measurements)}`,
    ];
    if (summary.failure !== null) lines.push(`  failure: ${summary.failure}`);
    if (leftovers.length > 0) lines.push(`  NOT CLEANED UP: ${leftovers.join('; ')}`);
    if (keep) lines.push(`  cluster directory (node logs) kept: ${dir}`);
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  return ok ? 0 : 1;
}

process.exitCode = await main();
