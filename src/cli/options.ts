/**
 * The one option parser of the `bftkv` command (node:util parseArgs underneath): every command declares a
 * CommandSpec (options, positional count, help text), and `parseCommand` turns argv into typed values or a
 * UsageError (exit code 2). `--json` and `--help` exist on every command; the client commands share
 * `--cluster`, `--id` and `--timeout` from CLIENT_OPTIONS.
 */
import { parseArgs } from 'node:util';

/** A command line the command cannot run with (exit code 2). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  constructor(
    message: string,
    /** The command it concerns ('' for the top level), to point at its --help. */
    readonly command: string,
  ) {
    super(message);
  }
}

export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  /** Placeholder shown in help for a string option ("DIR"). */
  readonly value?: string;
  readonly help: string;
}

export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

export interface CommandSpec<O extends OptionSpecs = OptionSpecs> {
  /** As typed after `bftkv`: 'put', 'cluster up'. */
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** What follows `bftkv NAME` in the usage line. */
  readonly usage: string;
  /** Allowed number of positional arguments, [min, max]. */
  readonly positionals: readonly [number, number];
  readonly options: O;
  /** Paragraphs shown by --help after the summary. */
  readonly details?: string;
  readonly examples?: readonly string[];
}

/** Options every command has. */
export const COMMON_OPTIONS = {
  json: {
    type: 'boolean',
    help: 'print one JSON object on stdout ({"ok":true,…} or {"ok":false,"error":…})',
  },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
} as const satisfies OptionSpecs;

/** The default data directory of `npm start` and of the cluster and client commands. */
export const DEFAULT_DIR = '.bftkv';

/** Options of every command that talks to a cluster as some identity. */
export const CLIENT_OPTIONS = {
  cluster: {
    type: 'string',
    value: 'DIR',
    help: `the cluster directory made by \`bftkv cluster up\` (default: ./${DEFAULT_DIR} if it holds one)`,
  },
  id: {
    type: 'string',
    value: 'DIR',
    help: 'act as the identity in DIR (default: the client identity of the cluster, CLUSTER/client)',
  },
  timeout: { type: 'string', value: 'MS', help: 'give up after MS milliseconds (default 30000)' },
} as const satisfies OptionSpecs;

type Value<S extends OptionSpec> = S['type'] extends 'boolean' ? boolean : string | undefined;

export type Values<O extends OptionSpecs> = { readonly [K in keyof O]: Value<O[K]> } & {
  readonly json: boolean;
  readonly help: boolean;
};

export interface Parsed<O extends OptionSpecs> {
  readonly values: Values<O>;
  readonly positionals: readonly string[];
}

/** Parses `argv` (the words after the command name) against `spec`. Throws UsageError. */
export function parseCommand<O extends OptionSpecs>(
  spec: CommandSpec<O>,
  argv: readonly string[],
): Parsed<O> {
  const all: OptionSpecs = { ...spec.options, ...COMMON_OPTIONS };
  const config: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const [name, o] of Object.entries(all))
    config[name] = o.short === undefined ? { type: o.type } : { type: o.type, short: o.short };
  let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...argv], options: config, strict: true, allowPositionals: true });
  } catch (error) {
    // parseArgs explains unknown options and missing values well; drop its hint about `--`.
    const message = (error instanceof Error ? error.message : String(error)).replace(
      /\. To specify .*$/s,
      '',
    );
    throw new UsageError(message, spec.name);
  }
  const values: Record<string, string | boolean | undefined> = {};
  for (const [name, o] of Object.entries(all)) {
    const v = parsed.values[name];
    if (o.type === 'boolean') values[name] = v === true;
    else {
      if (v === '') throw new UsageError(`option --${name} needs a non-empty value`, spec.name);
      values[name] = v;
    }
  }
  const { positionals } = parsed;
  if (values.help !== true) {
    const [min, max] = spec.positionals;
    if (positionals.length < min)
      throw new UsageError(`missing arguments: bftkv ${spec.name} ${spec.usage}`, spec.name);
    if (positionals.length > max)
      throw new UsageError(
        `unexpected argument ${JSON.stringify(positionals[max])}: bftkv ${spec.name} ${spec.usage}`,
        spec.name,
      );
  }
  return { values: values as Values<O>, positionals };
}

/** A positive integer option (milliseconds, counts); `fallback` when absent. Throws UsageError. */
export function positiveInteger(
  command: string,
  name: string,
  value: string | undefined,
  fallback: number,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n <= 0)
    throw new UsageError(
      `option --${name}: expected a positive integer, got ${JSON.stringify(value)}`,
      command,
    );
  return n;
}

/** The --help text of a command. */
export function renderHelp(spec: CommandSpec): string {
  const lines = [`Usage: bftkv ${spec.name} ${spec.usage}`, '', spec.summary];
  if (spec.details !== undefined) lines.push('', spec.details);
  const all: OptionSpecs = { ...spec.options, ...COMMON_OPTIONS };
  const rows = Object.entries(all).map(([name, o]) => [
    `${o.short === undefined ? '    ' : `-${o.short}, `}--${name}${o.value === undefined ? '' : ` ${o.value}`}`,
    o.help,
  ]);
  const width = Math.max(...rows.map(([left]) => left!.length));
  lines.push('', 'Options:', ...rows.map(([left, help]) => `  ${left!.padEnd(width)}  ${help}`));
  if (spec.examples !== undefined && spec.examples.length > 0)
    lines.push('', 'Examples:', ...spec.examples.map((e) => `  ${e}`));
  return `${lines.join('\n')}\n`;
}
