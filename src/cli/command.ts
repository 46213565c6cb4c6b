/**
 * What every `bftkv` command is: a spec (options, help) and a `run` that returns what to print, as text and
 * as JSON. `run.ts` parses, runs, prints and maps errors to exit codes, so commands never print errors or
 * exit themselves.
 */
import { access } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { CLUSTER_FILE } from '../node/cluster.js';
import { AbortedError, connect, type Bftkv, type NodeRef } from '../client/index.js';
import {
  DEFAULT_DIR,
  positiveInteger,
  UsageError,
  type CommandSpec,
  type OptionSpecs,
  type Parsed,
} from './options.js';

/** The process around a command (tests pass their own). */
export interface Io {
  readonly cwd: string;
  write(text: string | Uint8Array): void;
  /** Human-oriented messages (progress, hints); never JSON. */
  warn(text: string): void;
  /** All of standard input (for `put KEY -`), at most `maxBytes`. */
  readStdin(maxBytes: number): Promise<Uint8Array>;
}

/** What a command prints on success: `text` (or raw bytes) normally, `{"ok":true,...json}` with --json. */
export interface Output {
  readonly text: string | Uint8Array;
  readonly json: Record<string, unknown>;
}

export interface Command<O extends OptionSpecs = OptionSpecs> {
  readonly spec: CommandSpec<O>;
  /** Returns what to print, or undefined when the command printed everything itself. */
  run(args: Parsed<O>, io: Io): Promise<Output | undefined>;
}

/** Defines a command (keeps the option types of its spec for `run`). */
export function command<O extends OptionSpecs>(
  spec: CommandSpec<O>,
  run: (args: Parsed<O>, io: Io) => Promise<Output | undefined>,
): Command {
  return { spec, run };
}

/** An operation that failed for a reason the CLI decides (exit code 1), with a code for --json. */
export class CliFailure extends Error {
  override readonly name = 'CliFailure';
  constructor(
    readonly code: string,
    message: string,
    /** A line suggesting what to do next (text mode only). */
    readonly hint?: string,
  ) {
    super(message);
  }
}

/** JSON with bigints as decimal strings. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

/** A node as people read it: its UID (server UIDs are NAME.bftkv.local in a local cluster) or short ID. */
export function nodeName(n: NodeRef): string {
  return n.uid === '' ? n.id.slice(0, 12) : n.uid.replace(/\.bftkv\.local$/, '');
}

export function names(nodes: readonly NodeRef[]): string {
  return nodes.length === 0 ? '(none)' : nodes.map(nodeName).sort().join(' ');
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

export interface ClientTarget {
  readonly cluster?: string;
  readonly id?: string;
}

/**
 * The cluster and identity a client command acts on: --cluster and --id as given (relative to the working
 * directory), or ./.bftkv when it holds a cluster. Throws UsageError when there is neither.
 */
export async function clientTarget(
  commandName: string,
  values: { cluster?: string | undefined; id?: string | undefined },
  io: Io,
): Promise<ClientTarget> {
  const target = await optionalClientTarget(values, io);
  if (target !== undefined) return target;
  throw new UsageError(
    `no cluster: pass --cluster DIR (a directory made by \`bftkv cluster up\`) or --id DIR (an identity)`,
    commandName,
  );
}

/** clientTarget, or undefined when there is neither a --cluster, an --id nor a ./.bftkv cluster. */
export async function optionalClientTarget(
  values: { cluster?: string | undefined; id?: string | undefined },
  io: Io,
): Promise<ClientTarget | undefined> {
  const cluster = values.cluster === undefined ? undefined : resolve(io.cwd, values.cluster);
  const id = values.id === undefined ? undefined : resolve(io.cwd, values.id);
  if (cluster !== undefined || id !== undefined)
    return { ...(cluster === undefined ? {} : { cluster }), ...(id === undefined ? {} : { id }) };
  const fallback = resolve(io.cwd, DEFAULT_DIR);
  return (await exists(join(fallback, CLUSTER_FILE))) ? { cluster: fallback } : undefined;
}

const TIMEOUT_DEFAULT_MS = 30_000;

/**
 * Connects as the identity the options name, runs `fn` with a deadline signal (--timeout), and closes the
 * connection (saving what the identity learned) whatever happens.
 */
export async function withClient<T>(
  name: string,
  values: { cluster?: string | undefined; id?: string | undefined; timeout?: string | undefined },
  io: Io,
  fn: (kv: Bftkv, signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const timeoutMs = positiveInteger(name, 'timeout', values.timeout, TIMEOUT_DEFAULT_MS);
  const target = await clientTarget(name, values, io);
  const signal = AbortSignal.timeout(timeoutMs);
  const kv = await connect({ ...target, signal });
  try {
    return await fn(kv, signal);
  } catch (error) {
    if (error instanceof AbortedError && signal.aborted)
      throw new CliFailure('timeout', `gave up after ${timeoutMs} ms (--timeout)`);
    throw error;
  } finally {
    await kv.close();
  }
}
