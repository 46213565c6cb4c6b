/**
 * End to end, the distributed CA on a real multi-process cluster (small topology: one clique of 4) through
 * the CLI: a key of every scheme is created or imported, two are reshared, every server is killed (SIGKILL) and restarted
 * between key distribution and signing, then each key signs a file that OpenSSL's command line and
 * node:crypto verify; a PKCS#10 request becomes a certificate `openssl verify` accepts; a second UID is
 * refused until the owner authorizes it.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import {
  createPublicKey,
  createVerify,
  generateKeyPairSync,
  verify as nodeVerify,
  type KeyObject,
} from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { connect } from '../../src/client/index.js';
import { clusterDown, clusterUp, killNode, restartNode } from '../../src/node/cluster.js';
import { initIdentity } from '../../src/node/identity.js';

const run = promisify(execFile);
const BIN = join(resolve(fileURLToPath(new URL('../..', import.meta.url))), 'bin', 'bftkv.js');

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function bftkv(cwd: string, args: readonly string[]): Promise<Run> {
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString('utf8')));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
    child.once('error', fail);
    child.once('close', (code) => ok({ code, stdout, stderr }));
  });
}

/** `bftkv ARGS --json`, asserting success; the parsed JSON line. */
async function ok(cwd: string, args: readonly string[]): Promise<Record<string, unknown>> {
  const r = await bftkv(cwd, [...args, '--json']);
  assert.equal(r.code, 0, `bftkv ${args.join(' ')} exited ${r.code}: ${r.stdout}${r.stderr}`);
  const out = JSON.parse(r.stdout.trim()) as Record<string, unknown>;
  assert.equal(out.ok, true);
  return out;
}

/** `bftkv ARGS --json`, asserting failure; the error code. */
async function fails(cwd: string, args: readonly string[]): Promise<string> {
  const r = await bftkv(cwd, [...args, '--json']);
  assert.equal(r.code, 1, `bftkv ${args.join(' ')} should fail: ${r.stdout}${r.stderr}`);
  return (JSON.parse(r.stdout.trim()) as { error: { code: string } }).error.code;
}

/** Whether `openssl` accepts the signature (dgst for RSA/DSA/ECDSA over SHA-256, pkeyutl -rawin for Ed25519). */
async function opensslVerifies(
  dir: string,
  ed25519: boolean,
  pub: string,
  data: string,
  sig: string,
): Promise<boolean> {
  const args = ed25519
    ? ['pkeyutl', '-verify', '-pubin', '-inkey', pub, '-rawin', '-in', data, '-sigfile', sig]
    : ['dgst', '-sha256', '-verify', pub, '-signature', sig, data];
  try {
    const r = await run('openssl', args, { cwd: dir });
    return /Verified OK|Signature Verified Successfully/.test(r.stdout);
  } catch {
    return false;
  }
}

void test(
  'every scheme on a real cluster: create or import, restart every server, sign, OpenSSL verifies; X.509 issue; authorization',
  { timeout: 600_000 },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bftkv-e2e-ca-'));
    const C = ['--cluster', dir];
    try {
      await clusterUp(dir, 'small');
      // Keys to import, made by OpenSSL-compatible node:crypto.
      const pem = (k: { privateKey: KeyObject }) => k.privateKey.export({ type: 'pkcs8', format: 'pem' });
      await writeFile(join(dir, 'rsa.pem'), pem(generateKeyPairSync('rsa', { modulusLength: 2048 })));
      await writeFile(join(dir, 'ec.pem'), pem(generateKeyPairSync('ec', { namedCurve: 'P-256' })));

      const cas: { name: string; scheme: string; how: string[] }[] = [
        {
          name: 'shoup',
          scheme: 'rsa-shoup',
          how: ['ca', 'create', 'shoup', '--scheme', 'rsa-shoup', '--bits', '2048'],
        },
        {
          name: 'legacy-rsa',
          scheme: 'rsa-additive',
          how: ['ca', 'import', 'legacy-rsa', '--key', 'rsa.pem'],
        },
        { name: 'p256', scheme: 'ecdsa-p256', how: ['ca', 'create', 'p256', '--scheme', 'ecdsa-p256'] },
        { name: 'legacy-ec', scheme: 'ecdsa-p256', how: ['ca', 'import', 'legacy-ec', '--key', 'ec.pem'] },
        { name: 'k1', scheme: 'ecdsa-secp256k1', how: ['ca', 'create', 'k1', '--scheme', 'ecdsa-secp256k1'] },
        { name: 'dsa', scheme: 'dsa', how: ['ca', 'create', 'dsa', '--scheme', 'dsa'] },
        { name: 'ed', scheme: 'ed25519-frost', how: ['ca', 'create', 'ed', '--scheme', 'ed25519-frost'] },
      ];
      for (const ca of cas) {
        const out = await ok(dir, [...ca.how, ...C]);
        assert.equal(out.scheme, ca.scheme);
        assert.equal((out.holders as string[]).length, 4);
      }

      // Two keys get fresh shares (reshare): same public key, and the restart below must bring back the
      // new shares; an RSA key cannot be reshared and the CLI says so.
      for (const name of ['p256', 'ed']) {
        const before = await ok(dir, ['ca', 'pubkey', name, ...C]);
        const out = await ok(dir, ['ca', 'reshare', name, ...C]);
        assert.equal((out.stored as string[]).length, 4);
        assert.equal((out.committed as string[]).length, 4);
        assert.equal(out.publicKey, before.publicKey);
      }
      assert.equal(await fails(dir, ['ca', 'reshare', 'shoup', ...C]), 'unsupported');

      // Every server is killed and restarted: the shares must come back from disk (encrypted at rest).
      for (const n of ['c01', 'c02', 'c03', 'c04']) {
        await killNode(dir, n);
        await restartNode(dir, n);
      }

      await writeFile(join(dir, 'data.txt'), 'the file the CA signs\n');
      const data = await readFile(join(dir, 'data.txt'));
      for (const ca of cas) {
        await ok(dir, ['ca', 'pubkey', ca.name, '--out', `${ca.name}.pub`, ...C]);
        const signed = await ok(dir, [
          'ca',
          'sign',
          ca.name,
          '--in',
          'data.txt',
          '--out',
          `${ca.name}.sig`,
          ...C,
        ]);
        assert.deepEqual(signed.culprits, []);
        const ed = ca.scheme === 'ed25519-frost';
        assert.ok(
          await opensslVerifies(dir, ed, `${ca.name}.pub`, 'data.txt', `${ca.name}.sig`),
          `openssl rejects the ${ca.name} (${ca.scheme}) signature`,
        );
        const key = createPublicKey(await readFile(join(dir, `${ca.name}.pub`)));
        const sig = await readFile(join(dir, `${ca.name}.sig`));
        assert.ok(
          ed ? nodeVerify(null, data, key, sig) : createVerify('sha256').update(data).verify(key, sig),
          `node:crypto rejects the ${ca.name} signature`,
        );
        // Tampered data does not verify.
        await writeFile(join(dir, 'other.txt'), 'another file\n');
        assert.equal(await opensslVerifies(dir, ed, `${ca.name}.pub`, 'other.txt', `${ca.name}.sig`), false);
      }

      // X.509: a PKCS#10 request from OpenSSL, certified by two of the distributed keys.
      await run(
        'openssl',
        [
          'req',
          '-new',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:P-256',
          '-nodes',
          '-keyout',
          'leaf.key',
          '-subj',
          '/CN=leaf.example.com',
          '-out',
          'leaf.csr',
        ],
        { cwd: dir },
      );
      for (const name of ['shoup', 'p256', 'ed']) {
        await ok(dir, ['ca', 'cert', name, '--out', `${name}-ca.pem`, ...C]);
        await ok(dir, ['ca', 'issue', name, '--csr', 'leaf.csr', '--out', `${name}-leaf.pem`, ...C]);
        const v = await run('openssl', ['verify', '-CAfile', `${name}-ca.pem`, `${name}-leaf.pem`], {
          cwd: dir,
        });
        assert.match(v.stdout, /: OK/);
      }

      // Another UID (certified through password registration) is refused until the owner authorizes it.
      await initIdentity(join(dir, 'bob'), { uid: 'bob@example.org', address: '' });
      const bob = await connect({ cluster: dir, id: join(dir, 'bob') });
      await bob.register('bob password');
      await bob.close();
      const B = ['--cluster', dir, '--id', join(dir, 'bob')];
      assert.equal(
        await fails(dir, ['ca', 'sign', 'p256', '--in', 'data.txt', '--out', 'bob.sig', ...B]),
        'permissionDenied',
      );
      assert.equal(
        await fails(dir, ['ca', 'create', 'p256', '--scheme', 'ecdsa-p256', '--replace', ...B]),
        'permissionDenied',
      );
      await ok(dir, ['ca', 'authorize', 'p256', 'bob@example.org', ...C]);
      await ok(dir, ['ca', 'sign', 'p256', '--in', 'data.txt', '--out', 'bob.sig', ...B]);
      assert.ok(await opensslVerifies(dir, false, 'p256.pub', 'data.txt', 'bob.sig'));
      const log = await ok(dir, ['ca', 'log', 'p256', ...C]);
      const entries = Object.values(log.logs as Record<string, { uid: string }[]>);
      assert.equal(entries.length, 4);
      for (const e of entries) assert.ok(e.some((x) => x.uid === 'bob@example.org'));
    } finally {
      await clusterDown(dir).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    }
  },
);
