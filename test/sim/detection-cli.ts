/**
 * The paper §5 detection-rate experiment from the command line:
 *
 *   node --import tsx test/sim/detection-cli.ts --seeds 200 [--json] [--jobs J] [--per-cluster K]
 *     [--faulty nothing|v1]
 *
 * Prints the Markdown table (or one JSON line per row with --json) and, on stderr, the wall time and any
 * anomaly (BftkvClient.read disagreeing with the direct read, or a verdict that contradicts the roles of
 * the read quorum's members). Exits 1 when there was an anomaly.
 *
 * Configurations are spread over J child processes (default: up to 2, one per core); every trial's seed
 * depends only on its configuration and index, so the table is the same for any J.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import {
  DEFAULT_DETECTION_CONFIGS,
  DEFAULT_TRIALS_PER_CLUSTER,
  formatDetectionTable,
  runDetectionExperiment,
  type DetectionConfig,
  type DetectionRow,
  type FaultyAnswer,
} from './detection.js';

interface Args {
  seeds: number;
  json: boolean;
  jobs: number;
  perCluster: number;
  faulty: FaultyAnswer;
}

/** One configuration for a child process to run. */
interface Job {
  readonly index: number;
  readonly config: DetectionConfig;
  readonly seeds: number;
  readonly perCluster: number;
  readonly faulty: FaultyAnswer;
}

interface JobResult {
  readonly index: number;
  readonly row: DetectionRow;
  readonly anomalies: string[];
}

const WORKER_FLAG = '--detection-worker';

async function runJob(job: Job): Promise<JobResult> {
  const anomalies: string[] = [];
  const [row] = await runDetectionExperiment({
    seeds: job.seeds,
    configs: [job.config],
    trialsPerCluster: job.perCluster,
    faultyAnswer: job.faulty,
    onAnomaly: (m) => anomalies.push(m),
  });
  return { index: job.index, row: row!, anomalies };
}

/** Child process: runs the jobs it is sent, one at a time, until the parent disconnects. */
function worker(): void {
  process.on('message', (job: Job) => {
    runJob(job).then(
      (result) => process.send!(result),
      (e: unknown) => {
        process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
        process.exit(2);
      },
    );
  });
}

/** Runs `jobs` over `parallel` child processes, each taking the next job when it is free. */
function runParallel(jobs: readonly Job[], parallel: number): Promise<JobResult[]> {
  return new Promise((resolve, reject) => {
    const results: JobResult[] = [];
    let next = 0;
    let running = 0;
    const children: ChildProcess[] = [];
    const feed = (child: ChildProcess) => {
      const job = jobs[next++];
      if (job === undefined) {
        child.disconnect();
        if (--running === 0) resolve(results.sort((a, b) => a.index - b.index));
        return;
      }
      child.send(job);
    };
    for (let i = 0; i < Math.min(parallel, jobs.length); i++) {
      const child = fork(fileURLToPath(import.meta.url), [WORKER_FLAG], { execArgv: ['--import', 'tsx'] });
      children.push(child);
      running++;
      child.on('message', (r: JobResult) => {
        results.push(r);
        feed(child);
      });
      child.on('exit', (code) => {
        if (code !== 0) {
          for (const c of children) if (c !== child && c.connected) c.kill();
          reject(new Error(`detection worker exited with code ${code}`));
        }
      });
      feed(child);
    }
  });
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = {
    seeds: 200,
    json: false,
    jobs: Math.min(2, availableParallelism()),
    perCluster: DEFAULT_TRIALS_PER_CLUSTER,
    faulty: 'nothing',
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new RangeError(`${a} needs a value`);
      return v;
    };
    if (a === '--seeds') args.seeds = Number.parseInt(next(), 10);
    else if (a === '--json') args.json = true;
    else if (a === '--jobs') args.jobs = Number.parseInt(next(), 10);
    else if (a === '--per-cluster') args.perCluster = Number.parseInt(next(), 10);
    else if (a === '--faulty') {
      const v = next();
      if (v !== 'nothing' && v !== 'v1') throw new RangeError('--faulty must be nothing or v1');
      args.faulty = v;
    } else if (a === '--help' || a === '-h') {
      process.stdout.write(
        'usage: node --import tsx test/sim/detection-cli.ts [--seeds N] [--json] [--jobs J] [--per-cluster K] [--faulty nothing|v1]\n',
      );
      process.exit(0);
    } else throw new RangeError(`unknown argument ${a}`);
  }
  if (!Number.isInteger(args.seeds) || args.seeds < 1)
    throw new RangeError('--seeds must be a positive integer');
  if (!Number.isInteger(args.jobs) || args.jobs < 1)
    throw new RangeError('--jobs must be a positive integer');
  if (!Number.isInteger(args.perCluster) || args.perCluster < 1)
    throw new RangeError('--per-cluster must be a positive integer');
  return args;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const started = performance.now();
  const jobs: Job[] = DEFAULT_DETECTION_CONFIGS.map((config, index) => ({
    index,
    config,
    seeds: args.seeds,
    perCluster: args.perCluster,
    faulty: args.faulty,
  }));
  const results: JobResult[] = [];
  if (args.jobs === 1) for (const job of jobs) results.push(await runJob(job));
  else results.push(...(await runParallel(jobs, args.jobs)));
  const seconds = (performance.now() - started) / 1000;
  const rows = results.map((r) => r.row);
  const anomalies = results.flatMap((r) => r.anomalies);
  if (args.json) for (const r of rows) process.stdout.write(`${JSON.stringify(r)}\n`);
  else process.stdout.write(`${formatDetectionTable(rows)}\n`);
  const trials = rows.reduce((n, r) => n + r.trials, 0);
  process.stderr.write(
    `${trials} trials (${args.seeds} per configuration, ${args.perCluster} per cluster, ${args.jobs} job(s), faulty KV nodes answer ${args.faulty}) in ${seconds.toFixed(1)} s\n`,
  );
  for (const m of anomalies) process.stderr.write(`ANOMALY ${m}\n`);
  return anomalies.length === 0 ? 0 : 1;
}

if (process.argv[2] === WORKER_FLAG) worker();
else
  main().then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(2);
    },
  );
