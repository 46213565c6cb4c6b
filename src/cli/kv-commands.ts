/**
 * Commands that talk to the cluster as an identity: put, get, join, status.
 */
import { performance } from 'node:perf_hooks';
import { keyBytes, valueBytes } from '../client/index.js';
import { LIMITS } from '../limits.js';
import { CliFailure, command, names, withClient } from './command.js';
import { CLIENT_OPTIONS, UsageError } from './options.js';
import { quorumLines, statusText } from './render.js';
import { PASSWORD_OPTIONS, readPassword } from './password-commands.js';

/** Checks a key given on the command line (a usage error, not a failed operation). */
function checkedKey(name: string, key: string): Uint8Array {
  try {
    return keyBytes(key);
  } catch (error) {
    throw new UsageError((error as Error).message, name);
  }
}

function text(bytes: Uint8Array): string | null {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
}

const ms = (start: number) => Math.round(performance.now() - start);

export const putCommand = command(
  {
    name: 'put',
    summary: 'Write VALUE under KEY: signed by every quorum clique, stored on a KV quorum.',
    usage: '[options] KEY VALUE',
    positionals: [2, 2],
    options: {
      once: {
        type: 'boolean',
        help: 'write-once: seal the value with the largest timestamp; nobody can change it afterwards',
      },
      password: {
        type: 'boolean',
        help: 'encrypt the value under a fresh key only the password (and t servers per clique) can re-derive',
      },
      ...PASSWORD_OPTIONS,
      ...CLIENT_OPTIONS,
    },
    details: [
      'VALUE "-" reads the value from standard input (at most 1 MiB). The first UID that writes KEY owns it',
      '(TOFU): writes by other identities are refused with permissionDenied; a sealed key refuses every',
      'write with sealed. With --password the value is roaming-encrypted (paper §3.3): any device that knows',
      'the password reads it with `get --password`; a read without the password proof is refused.',
    ].join('\n'),
    examples: [
      'bftkv put --cluster C mykey myvalue',
      'bftkv put --cluster C --id alice --password --password-file pw.txt vault "s3cret"',
      'bftkv put --once --cluster C tx/1f3a "pay bob 5"',
      'bftkv put --cluster C photo - < photo.jpg',
    ],
  },
  async ({ values, positionals }, io) => {
    const [key, raw] = positionals as [string, string];
    const x = checkedKey('put', key);
    let v: Uint8Array;
    try {
      v = valueBytes(raw === '-' ? await io.readStdin(LIMITS.valueBytesMax + 1) : raw);
    } catch (error) {
      if (error instanceof RangeError) throw new UsageError(error.message, 'put');
      throw error;
    }
    if (values.password && values.once)
      throw new UsageError('--password and --once cannot be combined', 'put');
    const pw = values.password ? await readPassword('put', values['password-file'], io) : undefined;
    return withClient('put', values, io, async (kv, signal) => {
      const start = performance.now();
      const w =
        pw !== undefined
          ? await kv.putProtected(x, v, pw, { signal })
          : values.once
            ? await kv.putOnce(x, v, { signal })
            : await kv.put(x, v, { signal });
      const took = ms(start);
      return {
        text:
          `put${values.once ? ' --once' : ''} ${key}: ${w.sealed ? 'sealed' : `t=${w.t}`}, ` +
          `signed by ${names(w.signers)}, stored on ${names(w.storedOn)} (${took} ms)\n`,
        json: { key, t: w.t, sealed: w.sealed, signers: w.signers, storedOn: w.storedOn, ms: took },
      };
    });
  },
);

export const getCommand = command(
  {
    name: 'get',
    summary: 'Read the latest value of KEY and print it (exit 1 with code notFound if there is none).',
    usage: '[options] KEY',
    positionals: [1, 1],
    options: {
      raw: { type: 'boolean', help: 'print the value bytes exactly, without a newline' },
      password: {
        type: 'boolean',
        help: 'the value is password-protected: prove the password and decrypt it',
      },
      ...PASSWORD_OPTIONS,
      ...CLIENT_OPTIONS,
    },
    details: [
      'The read asks every KV node, verifies each answer (writer and clique signatures), waits for a quorum,',
      'checks for equivocation, and writes the latest value back to nodes that lack it. With --json the value',
      'is "value" when it is UTF-8 text and always "valueBase64".',
    ].join('\n'),
    examples: [
      'bftkv get --cluster C mykey',
      'bftkv get --raw --cluster C photo > photo.jpg',
      'bftkv get --cluster C --id alice-laptop --password --password-file pw.txt vault',
    ],
  },
  async ({ values, positionals }, io) => {
    const key = positionals[0]!;
    const x = checkedKey('get', key);
    if (values.password) {
      const pw = await readPassword('get', values['password-file'], io);
      return withClient('get', values, io, async (kv, signal) => {
        const start = performance.now();
        const value = await kv.getProtected(x, pw, { signal });
        const took = ms(start);
        if (value === undefined) throw new CliFailure('notFound', `no value for key ${JSON.stringify(key)}`);
        return {
          text: values.raw ? value : `${Buffer.from(value).toString('utf8')}\n`,
          json: { key, value: text(value), valueBase64: Buffer.from(value).toString('base64'), ms: took },
        };
      });
    }
    return withClient('get', values, io, async (kv, signal) => {
      const start = performance.now();
      const r = await kv.read(x, { signal });
      const took = ms(start);
      if (r.value === undefined) throw new CliFailure('notFound', `no value for key ${JSON.stringify(key)}`);
      return {
        text: values.raw ? r.value : `${Buffer.from(r.value).toString('utf8')}\n`,
        json: {
          key,
          value: text(r.value),
          valueBase64: Buffer.from(r.value).toString('base64'),
          t: r.t,
          sealed: r.sealed,
          writer: r.writer,
          answeredBy: r.answeredBy,
          writtenBackTo: r.writtenBackTo,
          revoked: r.revoked,
          ms: took,
        },
      };
    });
  },
);

export const joinCommand = command(
  {
    name: 'join',
    summary: 'Announce this identity to the servers and learn their trust graph (paper §4.2).',
    usage: '[options]',
    positionals: [0, 0],
    options: CLIENT_OPTIONS,
    details: [
      "Sends this identity's certificate (with the certifications it holds) to every server its trust reaches,",
      'verifies and merges the graphs they answer with, and repeats with servers learned on the way. Nodes',
      'that nothing this identity trusts vouches for are dropped. What it learned is kept in ID/client-state.',
    ].join('\n'),
    examples: ['bftkv join --cluster C --id alice'],
  },
  async ({ values }, io) =>
    withClient('join', values, io, async (kv, signal) => {
      const r = await kv.join({ signal });
      const s = kv.status();
      return {
        text: [
          `joined as ${kv.uid}: ${r.contacted} servers contacted, ${r.answered} answered`,
          `graph: ${s.nodes.length} nodes, ${s.edges} verified trust edges, ${s.revocations.length} revoked`,
          ...quorumLines(s),
          '',
        ].join('\n'),
        json: { contacted: r.contacted, answered: r.answered, status: s },
      };
    }),
);

export const statusCommand = command(
  {
    name: 'status',
    summary: 'Show the trust graph, quorum cliques, KV quorum and revocations as this identity sees them.',
    usage: '[options]',
    positionals: [0, 0],
    options: CLIENT_OPTIONS,
    details: [
      'Local: computed from the certificates this identity knows (the cluster directory and ID/client-state),',
      'without asking any server. Run `bftkv join` first to refresh it from the servers.',
    ].join('\n'),
    examples: ['bftkv status --cluster C', 'bftkv status --json --id alice'],
  },
  async ({ values }, io) =>
    withClient('status', values, io, async (kv) => {
      const s = kv.status();
      return { text: statusText(s), json: { ...s } };
    }),
);
