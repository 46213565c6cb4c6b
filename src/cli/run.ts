/**
 * The `bftkv` command: finds the command, parses its options (options.ts), runs it, prints its result as
 * text or as one JSON line (--json), and maps failures to exit codes: 0 ok, 1 the operation failed (the
 * error's code is printed), 2 usage error.
 */
import { errorInfo } from '../client/index.js';
import {
  clusterDownCommand,
  clusterStatusCommand,
  clusterUpCommand,
  nodeCommand,
} from './cluster-commands.js';
import { CliFailure, toJson, type Command, type Io } from './command.js';
import { CA_COMMANDS } from './ca-commands.js';
import { demoCommand } from './demo.js';
import { certCommand, initCommand, trustCommand } from './identity-commands.js';
import { getCommand, joinCommand, putCommand, statusCommand } from './kv-commands.js';
import { deviceAddCommand, recoverCommand, registerCommand } from './password-commands.js';
import { parseCommand, renderHelp, UsageError } from './options.js';

export const COMMANDS: readonly Command[] = [
  putCommand,
  getCommand,
  statusCommand,
  joinCommand,
  initCommand,
  registerCommand,
  recoverCommand,
  deviceAddCommand,
  ...CA_COMMANDS,
  certCommand,
  trustCommand,
  clusterUpCommand,
  clusterDownCommand,
  clusterStatusCommand,
  nodeCommand,
  demoCommand,
];

const summaries = (prefix: string) =>
  COMMANDS.filter((c) => c.spec.name.startsWith(prefix)).map(
    (c) => `  ${c.spec.name.padEnd(15)} ${c.spec.summary}`,
  );

/** `bftkv --help`: the commands and the concepts behind them. */
export function topLevelHelp(): string {
  return `bftkv: a Byzantine fault-tolerant key-value store built on a web of trust

Usage: bftkv COMMAND [options] [arguments]     bftkv COMMAND --help for details

Data:
${summaries('put').join('\n')}
${summaries('get').join('\n')}

Identity and trust:
${[...summaries('init'), ...summaries('register'), ...summaries('recover'), ...summaries('device '), ...summaries('cert'), ...summaries('trust'), ...summaries('join'), ...summaries('status')].join('\n')}

Distributed CA (a signing key that never exists in one place):
${summaries('ca ').join('\n')}

Local cluster:
${[...summaries('cluster '), ...summaries('node'), ...summaries('demo')].join('\n')}

Every command takes --json (one JSON object on stdout: {"ok":true,...} or {"ok":false,"error":{"code",
"message"}}) and --help. Exit codes: 0 ok, 1 the operation failed, 2 usage error.

Concepts
  Web of trust    Every participant (server or user) has an Ed25519 key and a self-signed certificate binding
                  it to a UID. When A certifies B (\`bftkv trust\`), A's graph gets the edge A -> B. There is no
                  central authority: each node derives everything below from the graph it knows.
  Quorum cliques  Servers that all certified each other, at least 4, form a quorum clique. A clique of n
                  members tolerates b = floor((n-1)/3) liars. A write needs signatures from more than
                  b + (n-b)/2 members of every clique, and the writer needs certifications from more than 2n/3
                  of them (its quorum certificate).
  KV nodes        Trusted servers in no clique store the signed records. Of N of them f = floor((N-1)/3) may
                  fail or lie; reads and writes wait for q = ceil((N+f+1)/2), so any two quorums share an
                  honest node. A read verifies every answer and writes the latest value back.
  TOFU            Trust on first use: the first UID to write a key owns it; writes by other UIDs are refused.
  Write-once      \`put --once\` writes with the largest timestamp: the value is sealed and never changes.
  Passwords       \`bftkv register\` certifies a key under its UID with a password split over each clique
                  (threshold t = n - b): fewer than t servers learn nothing to test guesses with. A lost key
                  is replaced (\`recover\`), a device added (\`device add\`), and \`put/get --password\` store a
                  value only the password can decrypt, from any device.
  Distributed CA  \`bftkv ca create\` splits a CA key (RSA, DSA, ECDSA, Ed25519) among a clique; signing needs
                  a threshold of members, faulty ones are named, and the owner decides who may ask.
  Revocation      A node caught signing two values for one key and timestamp is revoked, with a proof that
                  anyone can check; it is never trusted again.

Example (a local cluster in directory C):
  bftkv cluster up --topology small --dir C
  bftkv put --cluster C mykey myvalue
  bftkv get --cluster C mykey                    # prints myvalue
  bftkv status --cluster C                       # graph, cliques, quorums, revocations
  bftkv cluster down --dir C
`;
}

function clusterHelp(): string {
  return `Usage: bftkv cluster up|down|status [options]

A local multi-process cluster on a loopback address, for trying bftkv and for tests.

${summaries('cluster ').join('\n')}
`;
}

/** Runs the `bftkv` command line `argv` (without `node` and the script); resolves with the exit code. */
export async function runCli(argv: readonly string[], io: Io): Promise<number> {
  const json = argv.includes('--json');
  const usage = (message: string, command: string): number => {
    if (json) io.write(`${toJson({ ok: false, error: { code: 'usage', message } })}\n`);
    io.warn(`bftkv${command === '' ? '' : ` ${command}`}: ${message}\n`);
    io.warn(`Try 'bftkv${command === '' ? '' : ` ${command}`} --help'.\n`);
    return 2;
  };
  const [first, second] = argv;
  if (first === undefined) {
    io.warn(topLevelHelp());
    return 2;
  }
  if (first === '--help' || first === '-h' || first === 'help') {
    if (second === undefined) {
      io.write(topLevelHelp());
      return 0;
    }
    return runCli([...argv.slice(1), '--help'], io);
  }
  let name = first;
  let rest = argv.slice(1);
  if (first === 'cluster') {
    if (second === undefined || second === '--help' || second === '-h') {
      if (second === undefined) {
        io.warn(clusterHelp());
        return 2;
      }
      io.write(clusterHelp());
      return 0;
    }
    name = `cluster ${second}`;
    rest = argv.slice(2);
  } else if (first === 'ca' && (second === undefined || second === '--help' || second === '-h')) {
    const text = `bftkv ca: a CA key split among a quorum clique (docs/PROTOCOL.md §15)\n\n${summaries('ca ').join('\n')}\n\nbftkv ca COMMAND --help for details\n`;
    if (second === undefined) {
      io.warn(text);
      return 2;
    }
    io.write(text);
    return 0;
  } else if ((first === 'device' || first === 'ca') && second !== undefined && !second.startsWith('-')) {
    name = `${first} ${second}`;
    rest = argv.slice(2);
  }
  const cmd = COMMANDS.find((c) => c.spec.name === name);
  if (cmd === undefined) return usage(`unknown command ${JSON.stringify(name)}`, '');
  try {
    const args = parseCommand(cmd.spec, rest);
    if (args.values.help) {
      io.write(renderHelp(cmd.spec));
      return 0;
    }
    const out = await cmd.run(args, io);
    if (out !== undefined) io.write(json ? `${toJson({ ok: true, ...out.json })}\n` : out.text);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) return usage(error.message, error.command);
    const info =
      error instanceof CliFailure ? { code: error.code, message: error.message } : errorInfo(error);
    if (json) io.write(`${toJson({ ok: false, error: info })}\n`);
    else io.warn(`bftkv ${name}: ${info.code}: ${info.message}\n`);
    const hint = error instanceof CliFailure ? error.hint : hintFor(info.code, info.message);
    if (hint !== undefined && !json) io.warn(`hint: ${hint}\n`);
    return 1;
  }
}

function hintFor(code: string, message: string): string | undefined {
  if (/no quorum clique|no KV node/.test(message))
    return 'this identity trusts no servers yet: `bftkv trust --id ID CLUSTER/certs/*.cert`, then `bftkv status`';
  switch (code) {
    case 'insufficientResponses':
    case 'unreachable':
    case 'timeout':
      return 'are the servers running? `bftkv cluster status --dir DIR` shows a local cluster';
    case 'invalidQuorumCertificate':
      return 'this identity is not certified by enough clique members: see `bftkv status` and `bftkv trust --help`';
    case 'permissionDenied':
      return 'another UID owns this key (trust on first use)';
    case 'sealed':
      return 'the key was written with `put --once` and can never change';
    default:
      return undefined;
  }
}

async function readStdin(maxBytes: number): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    total += chunk.length;
    if (total > maxBytes) break;
  }
  return new Uint8Array(Buffer.concat(chunks));
}

/** Runs `argv` in this process (stdout, stderr, stdin, working directory) and sets the exit code. */
export async function runProcess(argv: readonly string[]): Promise<void> {
  process.exitCode = await runCli(argv, {
    cwd: process.cwd(),
    write: (text) => process.stdout.write(text),
    warn: (text) => process.stderr.write(text),
    readStdin,
  });
  // Everything is closed by now; if some handle still keeps the process alive, do not hang a script.
  setTimeout(() => process.exit(), 2000).unref();
}
