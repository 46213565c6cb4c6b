/**
 * `npm run sim -- --seeds N [--start S] [--json]`: runs N seeded simulations and ends with one JSON
 * summary line (with --json); exits non-zero on any violation and prints how to replay it.
 * `npm run sim -- --seed S`: replays one seed with a readable trace.
 * `npm run sim -- --experiment detection [--seeds N] [--json]`: the paper §5 detection-rate experiment.
 */
import { randomInt } from 'node:crypto';
import { runSeed, type SeedReport } from './run-seed.js';

interface Args {
  seeds: number;
  start: number;
  json: boolean;
  seed: string | undefined;
  experiment: string | undefined;
  verbose: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = {
    seeds: 100,
    start: -1,
    json: false,
    seed: undefined,
    experiment: undefined,
    verbose: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new RangeError(`${a} needs a value`);
      return v;
    };
    if (a === '--seeds') args.seeds = Number.parseInt(next(), 10);
    else if (a === '--start') args.start = Number.parseInt(next(), 10);
    else if (a === '--seed') args.seed = next();
    else if (a === '--json') args.json = true;
    else if (a === '--experiment') args.experiment = next();
    else if (a === '--verbose' || a === '-v') args.verbose = true;
    else if (a === '--help' || a === '-h') {
      process.stdout.write(
        'usage: npm run sim -- [--seeds N] [--start S] [--json] | --seed S [--verbose] | --experiment detection [--seeds N] [--json]\n',
      );
      process.exit(0);
    } else throw new RangeError(`unknown argument ${a}`);
  }
  if (!Number.isInteger(args.seeds) || args.seeds < 1)
    throw new RangeError('--seeds must be a positive integer');
  return args;
}

function describe(r: SeedReport): string {
  return `seed ${r.seed}: ${r.topology}, ${r.faults}, [${r.behaviours.join(', ')}], ops ${r.ops.ok}/${r.ops.attempted} ok, revocations ${r.revocations}, ${r.virtualMs} virtual ms`;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (args.experiment !== undefined) {
    if (args.experiment !== 'detection') throw new RangeError(`unknown experiment ${args.experiment}`);
    const { runDetectionExperiment, formatDetectionTable } = await import('./detection.js');
    const rows = await runDetectionExperiment({ seeds: args.seeds });
    if (args.json) for (const r of rows) process.stdout.write(`${JSON.stringify(r)}\n`);
    else process.stdout.write(`${formatDetectionTable(rows)}\n`);
    return 0;
  }
  if (args.seed !== undefined) {
    const r = await runSeed(args.seed, { trace: true });
    const lines = args.verbose
      ? r.trace
      : r.trace.filter((l) => !/ net (send|deliver|recv|dup|abort|drop|refused)/.test(l));
    process.stdout.write(`${lines.join('\n')}\n\n${describe(r)}\n`);
    for (const v of r.violations) process.stdout.write(`VIOLATION at t=${v.at} [${v.checker}] ${v.detail}\n`);
    process.stdout.write(
      r.violations.length === 0 ? 'no violations\n' : `${r.violations.length} violation(s)\n`,
    );
    return r.violations.length === 0 ? 0 : 1;
  }
  const start = args.start >= 0 ? args.start : randomInt(1_000_000_000);
  if (!args.json) process.stdout.write(`running ${args.seeds} seeds from ${start}\n`);
  const behaviours = new Set<string>();
  let violations = 0;
  let revocations = 0;
  let falseRevocations = 0;
  const failed: string[] = [];
  for (let s = start; s < start + args.seeds; s++) {
    const r = await runSeed(s);
    for (const b of r.behaviours) behaviours.add(b);
    violations += r.violations.length;
    revocations += r.revocations;
    falseRevocations += r.falseRevocations;
    if (r.violations.length > 0) {
      failed.push(r.seed);
      process.stderr.write(`${describe(r)}\n`);
      for (const v of r.violations.slice(0, 5))
        process.stderr.write(`  VIOLATION at t=${v.at} [${v.checker}] ${v.detail}\n`);
      process.stderr.write(`  replay: npm run sim -- --seed ${r.seed}\n`);
    } else if (!args.json) {
      process.stdout.write(`${describe(r)}\n`);
    }
  }
  const summary = {
    seeds: args.seeds,
    violations,
    behaviours: [...behaviours].sort(),
    revocations,
    falseRevocations,
  };
  if (args.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else
    process.stdout.write(
      `\n${JSON.stringify(summary)}\n${failed.length === 0 ? 'all seeds passed' : `failing seeds: ${failed.join(' ')}`}\n`,
    );
  return violations === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(2);
  },
);
