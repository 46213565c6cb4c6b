/**
 * The `bftkv` command in process (no cluster, no network): the shared option parser, help on every command,
 * usage errors (exit 2) and local failures (exit 1), and the identity commands init, cert, trust with the
 * client state they keep. test/e2e/cli.test.ts drives the same commands as processes against a cluster.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { encodeClientState, readClientState } from '../../src/client/state.js';
import { LIMITS } from '../../src/limits.js';
import { readCertificateFile } from '../../src/node/identity.js';
import type { Io } from '../../src/cli/command.js';
import { parseCommand, positiveInteger, UsageError, type CommandSpec } from '../../src/cli/options.js';
import { COMMANDS, runCli } from '../../src/cli/run.js';
import type { CertJson, FailureJson, InitJson, StatusJson, TrustJson } from '../e2e/cli-output.js';

interface Captured {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function cli(cwd: string, argv: readonly string[], stdin = new Uint8Array()): Promise<Captured> {
  let stdout = '';
  let stderr = '';
  const io: Io = {
    cwd,
    write: (t) => (stdout += typeof t === 'string' ? t : Buffer.from(t).toString('utf8')),
    warn: (t) => (stderr += t),
    readStdin: async () => stdin,
  };
  const code = await runCli(argv, io);
  return { code, stdout, stderr };
}

/** Runs with --json, asserts the exit code, returns the JSON line. */
async function cliJson<T>(cwd: string, argv: readonly string[], code: number): Promise<T> {
  const r = await cli(cwd, [...argv, '--json']);
  assert.equal(r.code, code, `bftkv ${argv.join(' ')}: ${r.stdout}${r.stderr}`);
  const lines = r.stdout.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, r.stdout);
  return JSON.parse(lines[0]!) as T;
}

async function withTmp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'bftkv-cli-unit-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const spec = {
  name: 'put',
  summary: 's',
  usage: 'KEY VALUE',
  positionals: [2, 2],
  options: { once: { type: 'boolean', help: 'h' }, cluster: { type: 'string', value: 'DIR', help: 'h' } },
} as const satisfies CommandSpec;

const isUsage = (pattern: RegExp) => (e: unknown) =>
  e instanceof UsageError && e.command === 'put' && pattern.test(e.message);

void test('option parser: typed values, defaults, positional counts, `--`, usage errors naming the command', () => {
  const p = parseCommand(spec, ['--once', 'k', '--cluster', 'C', 'v']);
  assert.deepEqual(p.positionals, ['k', 'v']);
  assert.equal(p.values.once, true);
  assert.equal(p.values.cluster, 'C');
  assert.equal(p.values.json, false);
  assert.equal(p.values.help, false);
  const q = parseCommand(spec, ['k', '--', '-5']);
  assert.equal(q.values.once, false);
  assert.equal(q.values.cluster, undefined);
  assert.deepEqual(q.positionals, ['k', '-5']);
  assert.equal(parseCommand(spec, ['-h']).values.help, true, '--help skips the positional check');
  assert.throws(() => parseCommand(spec, ['--bogus', 'k', 'v']), isUsage(/bogus/));
  assert.throws(() => parseCommand(spec, ['k']), isUsage(/missing arguments/));
  assert.throws(() => parseCommand(spec, ['k', 'v', 'w']), isUsage(/unexpected argument "w"/));
  assert.throws(() => parseCommand(spec, ['--cluster', '', 'k', 'v']), isUsage(/non-empty/));
  assert.throws(() => parseCommand(spec, ['k', 'v', '--cluster']), isUsage(/cluster/));
  assert.equal(positiveInteger('put', 'timeout', '250', 9), 250);
  assert.equal(positiveInteger('put', 'timeout', undefined, 9), 9);
  for (const bad of ['abc', '0', '-1', '1.5', '1e3', ''])
    assert.throws(() => positiveInteger('put', 'timeout', bad, 9), isUsage(/positive integer/));
});

void test('help: the top level explains the concepts; every command has --help (exit 0)', async () => {
  await withTmp(async (cwd) => {
    const top = await cli(cwd, ['--help']);
    assert.equal(top.code, 0);
    for (const concept of ['Web of trust', 'Quorum cliques', 'KV nodes', 'TOFU', 'Write-once', 'Exit codes'])
      assert.ok(top.stdout.includes(concept), concept);
    for (const c of COMMANDS) {
      assert.ok(top.stdout.includes(c.spec.name), `top-level help lists ${c.spec.name}`);
      const r = await cli(cwd, [...c.spec.name.split(' '), '--help']);
      assert.equal(r.code, 0, c.spec.name);
      assert.ok(r.stdout.startsWith(`Usage: bftkv ${c.spec.name} `), r.stdout);
      assert.match(r.stdout, /--json/);
    }
    assert.match((await cli(cwd, ['help', 'put'])).stdout, /^Usage: bftkv put /);
    assert.equal((await cli(cwd, ['cluster', '--help'])).code, 0);
  });
});

void test('usage errors exit 2 (with --json: one {"ok":false} line), before anything is done', async () => {
  await withTmp(async (cwd) => {
    const cases: Array<[readonly string[], RegExp]> = [
      [[], /Usage: bftkv COMMAND/],
      [['frobnicate'], /unknown command "frobnicate"/],
      [['get', '--bogus', 'k'], /bogus/],
      [['cluster'], /cluster up\|down\|status/],
      [['cluster', 'sideways'], /unknown command "cluster sideways"/],
      [['cluster', 'up', '--topology', 'huge'], /expected small or reference/],
      [['put', '--timeout', 'soon', '--cluster', 'C', 'k', 'v'], /--timeout: expected a positive integer/],
      [['init', '--id', 'x'], /missing --uid/],
      [['init', '--uid', 'x'], /missing --id/],
      [['node'], /missing --dir/],
      [['get', '--cluster', 'C', ''], /key: length must be 1\.\.1024/],
      [['get', 'k'], /no cluster: pass --cluster DIR/],
      [['trust', '--out', 'x', 'a.cert', 'b.cert'], /--out takes exactly one CERT/],
    ];
    for (const [argv, pattern] of cases) {
      const r = await cli(cwd, argv);
      assert.equal(r.code, 2, `bftkv ${argv.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, pattern);
      assert.equal(r.stdout, '');
    }
    const big = await cli(cwd, ['put', '--cluster', 'C', 'k', '-'], new Uint8Array(LIMITS.valueBytesMax + 1));
    assert.equal(big.code, 2);
    assert.match(big.stderr, /value: at most/);
    const j = await cliJson<FailureJson>(cwd, ['put', 'k'], 2);
    assert.deepEqual(j, {
      ok: false,
      error: { code: 'usage', message: 'missing arguments: bftkv put [options] KEY VALUE' },
    });
  });
});

void test('init, cert, trust: certifications added, merged back, kept in the client state; local failures exit 1', async () => {
  await withTmp(async (cwd) => {
    const alice = await cliJson<InitJson>(cwd, ['init', '--id', 'alice', '--uid', 'alice@example.com'], 0);
    assert.equal(alice.address, '');
    const node = await cliJson<InitJson>(
      cwd,
      ['init', '--id', 'n1', '--uid', 'n1.example', '--address', 'tcp://127.0.0.1:4999'],
      0,
    );
    assert.equal(node.address, 'tcp://127.0.0.1:4999');
    // a key is never overwritten
    assert.equal(
      (await cliJson<FailureJson>(cwd, ['init', '--id', 'alice', '--uid', 'other'], 1)).error.code,
      'identity',
    );

    const exported = await cliJson<CertJson>(cwd, ['cert', '--id', 'alice', '--out', 'alice.cert'], 0);
    assert.equal(exported.certificate.id, alice.id);
    assert.deepEqual(exported.certificate.certifications, []);

    // n1 certifies alice: the certified copy carries n1's certification, verified by n1 itself
    const t = await cliJson<TrustJson>(cwd, ['trust', 'alice.cert', '--id', 'n1', '--out', 'alice.cert'], 0);
    assert.deepEqual(t.certified, [
      { id: alice.id, uid: 'alice@example.com', file: join(cwd, 'alice.cert') },
    ]);
    const seen = await cliJson<CertJson>(cwd, ['cert', 'alice.cert', '--id', 'n1'], 0);
    assert.deepEqual(seen.certificate.certifications, [{ id: node.id, uid: 'n1.example', verified: true }]);
    // without an identity the file is shown, its certifications not checked
    const bare = await cliJson<CertJson>(cwd, ['cert', 'alice.cert'], 0);
    assert.deepEqual(bare.certificate.certifications, [{ id: node.id, uid: '', verified: false }]);

    // alice merges it back into her identity; she cannot check it until she knows n1
    assert.equal(
      (await cliJson<CertJson>(cwd, ['cert', '--id', 'alice', '--merge', 'alice.cert'], 0)).merged,
      1,
    );
    assert.equal(
      (await cliJson<CertJson>(cwd, ['cert', '--id', 'alice', '--merge', 'alice.cert'], 0)).merged,
      0,
    );
    const mine = await cliJson<CertJson>(cwd, ['cert', '--id', 'alice'], 0);
    assert.deepEqual(mine.certificate.certifications, [{ id: node.id, uid: '', verified: false }]);
    // alice trusts n1: the edge and n1's certificate are kept in alice/client-state for later runs
    await cliJson<TrustJson>(cwd, ['trust', 'n1/cert', '--id', 'alice'], 0);
    const later = await cliJson<CertJson>(cwd, ['cert', '--id', 'alice'], 0);
    assert.deepEqual(later.certificate.certifications, [{ id: node.id, uid: 'n1.example', verified: true }]);
    const status = await cliJson<StatusJson>(cwd, ['status', '--id', 'alice'], 0);
    assert.deepEqual(status.nodes.map((n) => [n.uid, n.certifiedBy]).sort(), [
      ['alice@example.com', [node.id]],
      ['n1.example', [alice.id]],
    ]);
    assert.deepEqual(status.cliques, []);
    assert.equal(status.canWrite, false);

    // a certificate slipped into alice's state file that nobody she trusts certified is not loaded
    await cliJson<InitJson>(
      cwd,
      ['init', '--id', 'mallory', '--uid', 'mallory', '--address', 'tcp://10.0.0.1:1'],
      0,
    );
    const saved = await readClientState(join(cwd, 'alice'));
    const phantom = await readCertificateFile(join(cwd, 'mallory', 'cert'));
    await writeFile(
      join(cwd, 'alice', 'client-state'),
      encodeClientState({ ...saved, certificates: [...saved.certificates, phantom] }),
    );
    const after = await cliJson<StatusJson>(cwd, ['status', '--id', 'alice'], 0);
    assert.deepEqual(after.nodes.map((n) => n.uid).sort(), ['alice@example.com', 'n1.example']);

    // local failures: exit 1 with a code
    assert.equal(
      (await cliJson<FailureJson>(cwd, ['trust', 'alice/cert', '--id', 'alice'], 1)).error.code,
      'invalidArgument',
    );
    assert.equal((await cliJson<FailureJson>(cwd, ['cert', 'missing.cert'], 1)).error.code, 'identity');
    assert.equal(
      (await cliJson<FailureJson>(cwd, ['cluster', 'status', '--dir', 'nowhere'], 1)).error.code,
      'config',
    );
    assert.equal(
      (await cliJson<FailureJson>(cwd, ['put', '--cluster', 'nowhere', 'k', 'v'], 1)).error.code,
      'config',
    );
    assert.equal(
      (await cliJson<FailureJson>(cwd, ['status', '--id', 'alice', '--cluster', 'alice'], 1)).error.code,
      'config',
    );
    await writeFile(join(cwd, 'alice', 'client-state'), 'garbage');
    const tampered = await cliJson<FailureJson>(cwd, ['status', '--id', 'alice'], 1);
    assert.equal(tampered.error.code, 'config');
    assert.match(tampered.error.message, /client-state/);
  });
});
