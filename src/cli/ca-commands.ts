/**
 * The distributed CA commands (paper §3.4, §6.1; docs/PROTOCOL.md §15): a CA key split among the members
 * of a quorum clique that signs certificates and files without ever existing in one place.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { CA_SCHEMES, type CaScheme } from '../protocol/ca/scheme.js';
import type { NameAttribute } from '../crypto/threshold/x509.js';
import { CliFailure, command, withClient, type Io } from './command.js';
import { CLIENT_OPTIONS, UsageError } from './options.js';

const CA_TIMEOUT_MS = '300000';

const CA_DETAILS = [
  'A CA key is split among the members of one quorum clique (the first in your view): the full private key',
  'never exists on any server or client after it is distributed. Its public record ("descriptor": scheme,',
  'members, public key, who may ask for signatures, the CA certificate) is the BFTKV variable bftkv/ca/NAME;',
  'whoever creates NAME first owns it (trust on first use, by UID). Only the owner may create, import,',
  'replace, reshare or delete the key and change who may request signatures; every signing request is signed,',
  'replay-protected and logged by every holder. Schemes: rsa-shoup (new RSA key, Shoup), rsa-additive (an',
  'imported RSA key, the paper’s additive scheme), ecdsa-p256, ecdsa-secp256k1, dsa (Gennaro et al.),',
  'ed25519-frost (RFC 9591). Up to the scheme’s tolerance, faulty holders are named and signing goes on.',
].join('\n');

const COMMON = { ...CLIENT_OPTIONS } as const;

function caName(positionals: readonly string[]): string {
  return positionals[0]!;
}

async function readInput(name: string, what: string, file: string | undefined, io: Io): Promise<Uint8Array> {
  if (file === undefined) throw new UsageError(`missing --${what} FILE`, name);
  return readFile(resolve(io.cwd, file)).then(
    (b) => new Uint8Array(b),
    (e: unknown) => {
      throw new UsageError(`--${what}: ${(e as Error).message}`, name);
    },
  );
}

async function writeOutput(
  io: Io,
  file: string | undefined,
  data: string | Uint8Array,
): Promise<string | undefined> {
  if (file === undefined) return undefined;
  const path = resolve(io.cwd, file);
  await writeFile(path, data);
  return path;
}

function timeoutOf(values: { timeout?: string | undefined }) {
  return { ...values, timeout: values.timeout ?? CA_TIMEOUT_MS };
}

/** "CN=Example CA,O=Example" → name attributes. */
function parseSubject(name: string, text: string | undefined, fallback: string): NameAttribute[] {
  if (text === undefined) return [{ type: 'CN', value: fallback }];
  const types = new Set(['CN', 'O', 'OU', 'C', 'L', 'ST']);
  return text.split(',').map((part) => {
    const eq = part.indexOf('=');
    const type = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (eq < 0 || !types.has(type) || value === '')
      throw new UsageError(
        `--subject: expected TYPE=VALUE[,…] with TYPE in CN O OU C L ST, got ${part}`,
        name,
      );
    return { type: type as NameAttribute['type'], value };
  });
}

const SETUP_OPTIONS = {
  replace: { type: 'boolean', help: 'replace an existing key of this name (owner only)' },
  subject: {
    type: 'string',
    value: 'DN',
    help: 'subject of the self-signed CA certificate, e.g. "CN=Example CA,O=Example" (default CN=NAME)',
  },
} as const;

export const caCreateCommand = command(
  {
    name: 'ca create',
    summary:
      'Create a CA key among the clique (distributed key generation; a dealer that erases it for RSA).',
    usage: 'NAME --scheme SCHEME [options]',
    positionals: [1, 1],
    options: {
      scheme: { type: 'string', value: 'SCHEME', help: `one of ${CA_SCHEMES.join(', ')}` },
      bits: { type: 'string', value: 'N', help: 'RSA modulus size (default 2048)' },
      ...SETUP_OPTIONS,
      ...COMMON,
    },
    details: CA_DETAILS,
    examples: [
      'bftkv ca create --cluster C myca --scheme ecdsa-p256',
      'bftkv ca create --cluster C rootca --scheme rsa-shoup --bits 3072 --subject "CN=Root CA,O=Example"',
    ],
  },
  async ({ values, positionals }, io) => {
    const name = caName(positionals);
    const scheme = values.scheme as CaScheme | undefined;
    if (scheme === undefined || !(CA_SCHEMES as readonly string[]).includes(scheme))
      throw new UsageError(`--scheme must be one of ${CA_SCHEMES.join(', ')}`, 'ca create');
    const bits = values.bits === undefined ? undefined : Number(values.bits);
    if (bits !== undefined && (!Number.isInteger(bits) || bits < 1024 || bits > 8192))
      throw new UsageError('--bits must be an integer in 1024..8192', 'ca create');
    const subject = parseSubject('ca create', values.subject, name);
    return withClient('ca create', timeoutOf(values), io, async (kv, signal) => {
      const start = performance.now();
      const info = await kv.ca.create(name, scheme, {
        replace: values.replace,
        subject,
        signal,
        ...(bits === undefined ? {} : { modulusBits: bits }),
      });
      const ms = Math.round(performance.now() - start);
      return {
        text: `created CA ${name} (${scheme}) on ${info.descriptor.members.length} holders in ${ms} ms\n${info.publicKeyPem}`,
        json: {
          name,
          scheme,
          holders: info.descriptor.members.map((m) => m.id),
          publicKey: info.publicKeyPem,
          ms,
        },
      };
    });
  },
);

export const caImportCommand = command(
  {
    name: 'ca import',
    summary: 'Split an existing private key (PEM: RSA, DSA, ECDSA P-256/secp256k1) among the clique.',
    usage: 'NAME --key FILE [options]',
    positionals: [1, 1],
    options: {
      key: { type: 'string', value: 'FILE', help: 'the PEM private key to import (delete it afterwards)' },
      ...SETUP_OPTIONS,
      ...COMMON,
    },
    details: `${CA_DETAILS}\nRSA keys use the paper's additive scheme (the key as it is); DSA and ECDSA keys are Shamir-shared.`,
    examples: ['bftkv ca import --cluster C legacy --key key.pem && shred -u key.pem'],
  },
  async ({ values, positionals }, io) => {
    const name = caName(positionals);
    const pem = Buffer.from(await readInput('ca import', 'key', values.key, io)).toString('utf8');
    const subject = parseSubject('ca import', values.subject, name);
    return withClient('ca import', timeoutOf(values), io, async (kv, signal) => {
      const info = await kv.ca.import(name, pem, { replace: values.replace, subject, signal });
      return {
        text: `imported CA ${name} (${info.descriptor.scheme}) on ${info.descriptor.members.length} holders\n${info.publicKeyPem}`,
        json: {
          name,
          scheme: info.descriptor.scheme,
          holders: info.descriptor.members.map((m) => m.id),
          publicKey: info.publicKeyPem,
        },
      };
    });
  },
);

const OUT = {
  out: { type: 'string', value: 'FILE', help: 'write to FILE instead of standard output' },
} as const;

export const caPubkeyCommand = command(
  {
    name: 'ca pubkey',
    summary: 'Print the CA public key (PEM) from its descriptor.',
    usage: 'NAME [options]',
    positionals: [1, 1],
    options: { ...OUT, ...COMMON },
    examples: ['bftkv ca pubkey --cluster C myca > pub.pem'],
  },
  async ({ values, positionals }, io) => {
    const name = caName(positionals);
    return withClient('ca pubkey', timeoutOf(values), io, async (kv, signal) => {
      const info = await kv.ca.info(name, signal);
      const path = await writeOutput(io, values.out, info.publicKeyPem);
      return {
        text: path === undefined ? info.publicKeyPem : `wrote ${path}\n`,
        json: {
          name,
          scheme: info.descriptor.scheme,
          publicKey: info.publicKeyPem,
          authorized: info.descriptor.authorized,
        },
      };
    });
  },
);

export const caCertCommand = command(
  {
    name: 'ca cert',
    summary: 'Print the self-signed CA certificate (PEM), the trust anchor of certificates it issues.',
    usage: 'NAME [options]',
    positionals: [1, 1],
    options: { ...OUT, ...COMMON },
    examples: ['bftkv ca cert --cluster C myca --out ca.pem'],
  },
  async ({ values, positionals }, io) => {
    const name = caName(positionals);
    return withClient('ca cert', timeoutOf(values), io, async (kv, signal) => {
      const pem = await kv.ca.caCertificatePem(name, signal);
      const path = await writeOutput(io, values.out, pem);
      return { text: path === undefined ? pem : `wrote ${path}\n`, json: { name, certificate: pem } };
    });
  },
);

export const caSignCommand = command(
  {
    name: 'ca sign',
    summary: 'Sign a file with the CA key (SHA-256; Ed25519 signs the file itself, at most 64 KiB).',
    usage: 'NAME --in FILE --out SIG [options]',
    positionals: [1, 1],
    options: {
      in: { type: 'string', value: 'FILE', help: 'the file to sign' },
      out: { type: 'string', value: 'SIG', help: 'where to write the signature (binary)' },
      ...COMMON,
    },
    details: [
      'RSA signatures are PKCS#1 v1.5 and DSA/ECDSA signatures DER, over SHA-256 of the file:',
      '  openssl dgst -sha256 -verify pub.pem -signature SIG FILE',
      'Ed25519 signatures are 64 bytes over the file itself:',
      '  openssl pkeyutl -verify -pubin -inkey pub.pem -rawin -in FILE -sigfile SIG',
    ].join('\n'),
    examples: ['bftkv ca sign --cluster C myca --in release.tar.gz --out release.sig'],
  },
  async ({ values, positionals }, io) => {
    const name = caName(positionals);
    const data = await readInput('ca sign', 'in', values.in, io);
    if (values.out === undefined) throw new UsageError('missing --out SIG', 'ca sign');
    return withClient('ca sign', timeoutOf(values), io, async (kv, signal) => {
      const start = performance.now();
      const s = await kv.ca.signData(name, data, signal);
      const ms = Math.round(performance.now() - start);
      const path = (await writeOutput(io, values.out, s.signature))!;
      const culprits = s.culprits.map((c) => `${c.id} (${c.reason})`);
      return {
        text:
          `signed ${values.in} with ${name} (${s.scheme}) in ${ms} ms: ${path}\n` +
          (culprits.length > 0 ? `holders with wrong or missing answers: ${culprits.join(', ')}\n` : ''),
        json: {
          name,
          scheme: s.scheme,
          signature: Buffer.from(s.signature).toString('base64'),
          out: path,
          culprits: s.culprits,
          ms,
        },
      };
    });
  },
);

function authCommand(name: 'ca authorize' | 'ca deauthorize', summary: string) {
  return command(
    {
      name,
      summary,
      usage: 'NAME UID [options]',
      positionals: [2, 2],
      options: { ...COMMON },
      details:
        'The list is part of the descriptor record; only the owner can write it. The owner may always sign.',
      examples: [`bftkv ${name} --cluster C myca bob@example.com`],
    },
    async ({ values, positionals }, io) => {
      const [ca, uid] = positionals as [string, string];
      return withClient(name, timeoutOf(values), io, async (kv, signal) => {
        const list =
          name === 'ca authorize'
            ? await kv.ca.authorize(ca, uid, signal)
            : await kv.ca.deauthorize(ca, uid, signal);
        return {
          text: `${ca}: authorized ${list.length === 0 ? '(owner only)' : list.join(' ')}\n`,
          json: { name: ca, authorized: list },
        };
      });
    },
  );
}

export const caAuthorizeCommand = authCommand('ca authorize', 'Allow UID to request signatures from the CA.');
export const caDeauthorizeCommand = authCommand(
  'ca deauthorize',
  'Withdraw UID’s permission to request signatures.',
);

export const caIssueCommand = command(
  {
    name: 'ca issue',
    summary: 'Turn a PKCS#10 request into an X.509 certificate signed by the distributed CA key.',
    usage: 'NAME --csr FILE [options]',
    positionals: [1, 1],
    options: {
      csr: { type: 'string', value: 'FILE', help: 'the certificate signing request (PEM or DER)' },
      ...OUT,
      days: { type: 'string', value: 'N', help: 'validity in days (default 365)' },
      ...COMMON,
    },
    details: 'Check it with: bftkv ca cert NAME --out ca.pem && openssl verify -CAfile ca.pem cert.pem',
    examples: ['bftkv ca issue --cluster C myca --csr req.pem --out cert.pem'],
  },
  async ({ values, positionals }, io) => {
    const name = caName(positionals);
    const csr = await readInput('ca issue', 'csr', values.csr, io);
    const days = values.days === undefined ? 365 : Number(values.days);
    if (!Number.isInteger(days) || days < 1 || days > 7300)
      throw new UsageError('--days must be an integer in 1..7300', 'ca issue');
    return withClient('ca issue', timeoutOf(values), io, async (kv, signal) => {
      const cert = await kv.ca.issue(name, csr, { validitySeconds: days * 86400, signal });
      const path = await writeOutput(io, values.out, cert.pem);
      return {
        text: path === undefined ? cert.pem : `wrote ${path}\n`,
        json: { name, certificate: cert.pem },
      };
    });
  },
);

export const caDeleteCommand = command(
  {
    name: 'ca delete',
    summary: 'Erase every holder’s share of the CA key (owner only; irreversible).',
    usage: 'NAME [options]',
    positionals: [1, 1],
    options: { ...COMMON },
  },
  async ({ values, positionals }, io) => {
    const name = caName(positionals);
    return withClient('ca delete', timeoutOf(values), io, async (kv, signal) => {
      const holders = await kv.ca.delete(name, signal);
      return { text: `deleted ${name} on ${holders.length} holders\n`, json: { name, holders } };
    });
  },
);

export const caReshareCommand = command(
  {
    name: 'ca reshare',
    summary: 'Give the key fresh shares, on the current quorum clique, without changing it (owner only).',
    usage: 'NAME [options]',
    positionals: [1, 1],
    options: { ...COMMON },
    details: [
      'The holders deal their shares to the members of your first quorum clique (the same clique for a',
      'refresh, or the clique the key should move to) without the key ever being put together: the public',
      'key and the CA certificate stay the same, every share is new, and old holders erase theirs. Shares',
      'stolen before a reshare are useless with shares stolen after it. Schemes ecdsa-p256, ecdsa-secp256k1,',
      'dsa and ed25519-frost; an RSA key cannot be reshared (replace it with ca create --replace).',
    ].join('\n'),
    examples: ['bftkv ca reshare --cluster C myca'],
  },
  async ({ values, positionals }, io) => {
    const name = caName(positionals);
    return withClient('ca reshare', timeoutOf(values), io, async (kv, signal) => {
      const out = await kv.ca.reshare(name, signal).catch((e: unknown) => {
        if (e instanceof RangeError)
          throw new CliFailure(
            'unsupported',
            e.message,
            'an RSA key cannot be reshared: `bftkv ca create --replace`',
          );
        throw e;
      });
      const culprits = out.culprits.map((c) => `  ${c.id}: ${c.reason}\n`).join('');
      return {
        text:
          `reshared ${name} to ${out.stored.length} of ${out.info.descriptor.members.length} holders; ` +
          `${out.committed.length} switched; public key unchanged\n${culprits}`,
        json: {
          name,
          holders: out.info.descriptor.members.map((m) => m.id),
          stored: out.stored,
          committed: out.committed,
          culprits: out.culprits,
          publicKey: out.info.publicKeyPem,
        },
      };
    });
  },
);

export const caLogCommand = command(
  {
    name: 'ca log',
    summary: 'Show each holder’s log of signing sessions for the CA (owner only).',
    usage: 'NAME [options]',
    positionals: [1, 1],
    options: {
      limit: { type: 'string', value: 'N', help: 'latest N entries per holder (default 20)' },
      ...COMMON,
    },
  },
  async ({ values, positionals }, io) => {
    const name = caName(positionals);
    const limit = values.limit === undefined ? 20 : Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
      throw new UsageError('--limit must be an integer in 1..1000', 'ca log');
    return withClient('ca log', timeoutOf(values), io, async (kv, signal) => {
      const logs = await kv.ca.log(name, limit, signal);
      const json: Record<string, unknown> = {};
      let text = '';
      for (const [holder, entries] of logs) {
        json[holder] = entries.map((e) => ({
          seq: e.seq,
          atMs: e.atMs,
          requester: e.requester,
          uid: e.uid,
          inputSha256: Buffer.from(e.inputDigest).toString('hex'),
        }));
        text += `${holder}: ${entries.length} entries\n`;
        for (const e of entries)
          text += `  #${e.seq} ${new Date(Number(e.atMs)).toISOString()} ${e.uid} ${Buffer.from(e.inputDigest).toString('hex').slice(0, 16)}…\n`;
      }
      return { text, json: { name, logs: json } };
    });
  },
);

export const CA_COMMANDS = [
  caCreateCommand,
  caImportCommand,
  caPubkeyCommand,
  caCertCommand,
  caSignCommand,
  caAuthorizeCommand,
  caDeauthorizeCommand,
  caIssueCommand,
  caDeleteCommand,
  caReshareCommand,
  caLogCommand,
];
