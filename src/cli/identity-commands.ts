/**
 * Identity and web-of-trust commands: init, cert, trust. None of them talks to the network.
 */
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { connect, IdentityError } from '../client/index.js';
import { initIdentity, readCertificateFile } from '../node/identity.js';
import { certificateView } from '../client/view.js';
import { encodeCertificate, withCertifications, type Certificate } from '../trust/certificate.js';
import { command, nodeName, optionalClientTarget, withClient } from './command.js';
import { CLIENT_OPTIONS, UsageError } from './options.js';
import { certificateText } from './render.js';

/** --cluster and --id without --timeout: these commands do not use the network. */
const LOCAL_OPTIONS = { cluster: CLIENT_OPTIONS.cluster, id: CLIENT_OPTIONS.id };

async function writeCertificate(file: string, cert: Certificate): Promise<void> {
  try {
    await writeFile(file, encodeCertificate(cert));
  } catch (error) {
    throw new IdentityError(`cannot write: ${(error as Error).message}`, file, { cause: error });
  }
}

export const initCommand = command(
  {
    name: 'init',
    summary: 'Create an identity: an Ed25519 key pair and a self-signed certificate binding it to a UID.',
    usage: '--id DIR --uid UID [--address tcp://HOST:PORT] [options]',
    positionals: [0, 0],
    options: {
      id: { type: 'string', value: 'DIR', help: 'create the identity in DIR (DIR/key is mode 600)' },
      uid: {
        type: 'string',
        value: 'UID',
        help: 'the account it speaks for: an e-mail for a user, a name for a server',
      },
      address: {
        type: 'string',
        value: 'URL',
        help: 'tcp://HOST:PORT a node listens on (omit for a user, who is never contacted)',
      },
    },
    details: [
      'A user identity (no --address) can read and write once enough members of every quorum clique certified',
      'it; a node identity (with --address) can run with `bftkv node --dir DIR`. Never overwrites a key.',
      'Next steps for a user in a local cluster C:',
      '  bftkv trust DIR/cert --id C/nodes/c01 --out DIR/cert    (repeat for c02, c03, c04: certify the user)',
      '  bftkv trust --id DIR C/certs/*.cert                     (the user trusts the servers)',
      '  bftkv join --id DIR --cluster C                         (announce it, learn the graph)',
    ].join('\n'),
    examples: ['bftkv init --id alice --uid alice@example.com'],
  },
  async ({ values }, io) => {
    if (values.id === undefined)
      throw new UsageError('missing --id DIR (where to create the identity)', 'init');
    if (values.uid === undefined) throw new UsageError('missing --uid UID', 'init');
    const dir = resolve(io.cwd, values.id);
    const identity = await initIdentity(dir, { uid: values.uid, address: values.address ?? '' });
    const { id, config } = identity;
    return {
      text: [
        `created identity ${id} for ${config.uid} in ${dir}`,
        `  key   ${join(dir, 'key')} (private, mode 600)`,
        `  cert  ${join(dir, 'cert')} (self-signed, no certifications yet)`,
        config.address === '' ? '  a user: no address' : `  a node listening on ${config.address}`,
        '',
      ].join('\n'),
      json: { id, uid: config.uid, address: config.address, dir },
    };
  },
);

export const certCommand = command(
  {
    name: 'cert',
    summary: "Print or export a certificate: this identity's, or the one in FILE.",
    usage: '[options] [FILE]',
    positionals: [0, 1],
    options: {
      out: {
        type: 'string',
        value: 'FILE',
        help: 'write the certificate (binary) to FILE to hand it to others',
      },
      merge: {
        type: 'string',
        value: 'FILE',
        help: "add the certifications in FILE (this identity's certificate, certified by others) to ID/cert",
      },
      ...LOCAL_OPTIONS,
    },
    details: [
      'Certifications are listed with their issuer and whether they verify against the issuer key this identity',
      'knows. The usual exchange: `bftkv cert --out me.cert`, someone runs `bftkv trust me.cert --out me.cert`',
      'and sends it back, and `bftkv cert --merge me.cert` keeps their certification.',
    ].join('\n'),
    examples: ['bftkv cert --id alice --out alice.cert', 'bftkv cert --cluster C C/certs/c01.cert'],
  },
  async ({ values, positionals }, io) => {
    const file = positionals[0] === undefined ? undefined : resolve(io.cwd, positionals[0]);
    const out = values.out === undefined ? undefined : resolve(io.cwd, values.out);
    if (file !== undefined && values.merge !== undefined)
      throw new UsageError('--merge adds to an identity; it takes no FILE', 'cert');
    const show = async (cert: Certificate, view: ReturnType<typeof certificateView>, merged?: number) => {
      if (out !== undefined) await writeCertificate(out, cert);
      const notes = [
        ...(merged === undefined ? [] : [`merged ${merged} new certification(s) into the identity`]),
        ...(out === undefined ? [] : [`wrote ${out}`]),
      ];
      return {
        text: certificateText(view) + notes.map((n) => `${n}\n`).join(''),
        json: {
          certificate: view,
          encodedBase64: Buffer.from(encodeCertificate(cert)).toString('base64'),
          ...(out === undefined ? {} : { out }),
          ...(merged === undefined ? {} : { merged }),
        },
      };
    };
    if (file !== undefined) {
      const cert = await readCertificateFile(file);
      const target = await optionalClientTarget(values, io);
      if (target === undefined) return show(cert, certificateView(cert));
      const kv = await connect(target);
      try {
        return await show(cert, kv.describe(cert));
      } finally {
        await kv.close();
      }
    }
    return withClient('cert', values, io, async (kv) => {
      let merged: number | undefined;
      if (values.merge !== undefined)
        merged = await kv.adoptCertifications(await readCertificateFile(resolve(io.cwd, values.merge)));
      // The file's certifications (some perhaps not verifiable by this identity yet) and the graph's.
      const cert = withCertifications(
        await readCertificateFile(join(kv.dir, 'cert')),
        kv.certificate().certifications,
      );
      return show(cert, kv.describe(cert), merged);
    });
  },
);

export const trustCommand = command(
  {
    name: 'trust',
    summary:
      'Certify the nodes whose certificates are in CERT...: adds web-of-trust edges from this identity.',
    usage: '[options] CERT...',
    positionals: [1, Number.MAX_SAFE_INTEGER],
    options: {
      out: {
        type: 'string',
        value: 'FILE',
        help: 'write the certified certificate to FILE (one CERT only), to give it back to its owner',
      },
      ...LOCAL_OPTIONS,
    },
    details: [
      'A certification says "I vouch that this key speaks for this UID". This identity remembers the edges in',
      'ID/client-state: they decide which quorum cliques and KV nodes it uses. Servers that certify each other',
      'form quorum cliques; a user needs certifications from more than 2/3 of every clique to write.',
    ].join('\n'),
    examples: [
      'bftkv trust alice/cert --id C/nodes/c01 --out alice/cert   # node c01 certifies alice',
      'bftkv trust --id alice C/certs/*.cert                      # alice trusts every server',
    ],
  },
  async ({ values, positionals }, io) => {
    const files = positionals.map((p) => resolve(io.cwd, p));
    const out = values.out === undefined ? undefined : resolve(io.cwd, values.out);
    if (out !== undefined && files.length !== 1)
      throw new UsageError('--out takes exactly one CERT', 'trust');
    const subjects = await Promise.all(files.map((f) => readCertificateFile(f)));
    return withClient('trust', values, io, async (kv) => {
      const certified = subjects.map((s) => kv.trust(s));
      if (out !== undefined) await writeCertificate(out, certified[0]!);
      const refs = certified.map((c, i) => ({ id: c.id, uid: c.body.uid, file: files[i]! }));
      return {
        text: [
          `${kv.uid} (${kv.id}) now certifies:`,
          ...refs.map((r) => `  ${nodeName(r)}  ${r.id}`),
          ...(out === undefined ? [] : [`wrote the certified certificate to ${out}`]),
          '',
        ].join('\n'),
        json: { issuer: { id: kv.id, uid: kv.uid }, certified: refs, ...(out === undefined ? {} : { out }) },
      };
    });
  },
);
