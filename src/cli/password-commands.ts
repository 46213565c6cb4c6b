/**
 * Password commands (paper §3.3 TPA, §4.3 Register): register, recover, device add; and the password
 * source shared with `put --password` / `get --password`.
 */
import { access, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { initIdentity, loadIdentity } from '../node/identity.js';
import { command, names, withClient, type Io } from './command.js';
import { CLIENT_OPTIONS, UsageError } from './options.js';

/** --password-file, shared by every command that takes a password. */
export const PASSWORD_OPTIONS = {
  'password-file': {
    type: 'string',
    value: 'FILE',
    help: 'read the password from the first line of FILE (default: prompt on the terminal)',
  },
} as const;

const PASSWORD_BYTES_MAX = 1024;

/** The password: from --password-file, else prompted on the terminal without echo. */
export async function readPassword(name: string, file: string | undefined, io: Io): Promise<string> {
  let pw: string;
  if (file !== undefined) {
    const text = await readFile(resolve(io.cwd, file), 'utf8').catch((e: unknown) => {
      throw new UsageError(`--password-file: ${(e as Error).message}`, name);
    });
    pw = text.split(/\r?\n/)[0] ?? '';
  } else {
    if (!process.stdin.isTTY)
      throw new UsageError('no terminal to prompt for the password: give --password-file FILE', name);
    pw = await prompt('password: ');
  }
  if (pw.length === 0) throw new UsageError('the password is empty', name);
  if (Buffer.byteLength(pw) > PASSWORD_BYTES_MAX)
    throw new UsageError(`the password is longer than ${PASSWORD_BYTES_MAX} bytes`, name);
  return pw;
}

async function prompt(question: string): Promise<string> {
  process.stderr.write(question);
  const muted = new Writable({ write: (_chunk, _enc, done) => done() });
  const rl = createInterface({ input: process.stdin, output: muted, terminal: true });
  try {
    return await new Promise<string>((ok) => rl.question('', ok));
  } finally {
    rl.close();
    process.stderr.write('\n');
  }
}

const REGISTER_DETAILS = [
  "Registration gets this identity's key certified by the quorum cliques under its UID. The first key of a",
  'UID enrols it: the password is split over each clique (threshold t = n − b) so no fewer than t servers',
  'can test a guess. Later keys of the same UID (a lost key, another device) must prove the password;',
  "wrong guesses are slowed down per UID. The identity then writes the UID's variables like the first key.",
].join('\n');

export const registerCommand = command(
  {
    name: 'register',
    summary: "Certify this identity's key under its UID with a password (enrols the UID the first time).",
    usage: '[options]',
    positionals: [0, 0],
    options: { ...PASSWORD_OPTIONS, ...CLIENT_OPTIONS },
    details: REGISTER_DETAILS,
    examples: [
      'bftkv init --id alice --uid alice@example.com',
      'bftkv register --cluster C --id alice --password-file pw.txt',
    ],
  },
  async ({ values }, io) => {
    const pw = await readPassword('register', values['password-file'], io);
    return registerAs('register', values, pw, io);
  },
);

async function registerAs(
  name: string,
  values: { cluster?: string | undefined; id?: string | undefined; timeout?: string | undefined },
  pw: string,
  io: Io,
) {
  return withClient(name, values, io, async (kv, signal) => {
    const r = await kv.register(pw, { signal });
    return {
      text:
        `${r.enrolled ? 'enrolled' : 'registered'} ${kv.uid} (key ${kv.id}): certified by ${names(r.certifiedBy)}\n` +
        (r.culprits.length > 0 ? `members with wrong password answers: ${r.culprits.join(', ')}\n` : ''),
      json: {
        id: kv.id,
        uid: kv.uid,
        enrolled: r.enrolled,
        certifiedBy: r.certifiedBy,
        culprits: r.culprits,
      },
    };
  });
}

/** `recover` and `device add`: a new identity for an existing UID, registered with the password. */
function newKeyCommand(name: string, summary: string, details: string, example: string) {
  return command(
    {
      name,
      summary,
      usage: '--id DIR --uid UID [options]',
      positionals: [0, 0],
      options: {
        uid: { type: 'string', value: 'UID', help: 'the UID the new key speaks for' },
        ...PASSWORD_OPTIONS,
        ...CLIENT_OPTIONS,
      },
      details: `${details}\n${REGISTER_DETAILS}`,
      examples: [example],
    },
    async ({ values }, io) => {
      if (values.id === undefined) throw new UsageError('missing --id DIR (the new key)', name);
      if (values.uid === undefined) throw new UsageError('missing --uid UID', name);
      const dir = resolve(io.cwd, values.id);
      const exists = await access(join(dir, 'key')).then(
        () => true,
        () => false,
      );
      if (exists) {
        const identity = await loadIdentity(dir);
        if (identity.config.uid !== values.uid)
          throw new UsageError(`${dir} is an identity of ${identity.config.uid}, not ${values.uid}`, name);
      } else {
        await initIdentity(dir, { uid: values.uid, address: '' });
      }
      const pw = await readPassword(name, values['password-file'], io);
      return registerAs(name, values, pw, io);
    },
  );
}

export const recoverCommand = newKeyCommand(
  'recover',
  'After losing a key: make a new key for UID and get it certified with the password.',
  'Creates the identity in --id DIR if it does not exist, then registers it (the password proof).',
  'bftkv recover --cluster C --id alice2 --uid alice@example.com --password-file pw.txt',
);

export const deviceAddCommand = newKeyCommand(
  'device add',
  'Add another device (key) to UID with the password; the other devices keep working.',
  'Creates the identity in --id DIR if it does not exist, then registers it (the password proof).',
  'bftkv device add --cluster C --id alice-laptop --uid alice@example.com --password-file pw.txt',
);
