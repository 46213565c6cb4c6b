/**
 * End to end: the `bftkv` command (bin/bftkv.js) driven as child processes against a small cluster it starts
 * itself with `bftkv cluster up` in a temporary directory, and `npm start`'s script (src/cli/start.ts) with
 * --once --json and with Ctrl-C. Every process is stopped in `finally`, whatever failed.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AbortedError, connect, ProtocolError } from '../../src/client/index.js';
import { utf8 } from '../../src/codec/bytes.js';
import { clusterDown, isAlive, readClusterInfo } from '../../src/node/cluster.js';
import type {
  CertJson,
  ClusterDownJson,
  ClusterStatusJson,
  ClusterUpJson,
  DemoJson,
  FailureJson,
  GetJson,
  InitJson,
  JoinJson,
  PutJson,
  StatusJson,
  TrustJson,
} from './cli-output.js';

const REPO = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const BIN = join(REPO, 'bin', 'bftkv.js');
const START = join(REPO, 'src', 'cli', 'start.ts');

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `node ARGV` in `cwd`; `onLine` sees each stdout line as it comes. */
function node(
  argv: readonly string[],
  cwd: string,
  onLine: (line: string, child: ChildProcess) => void = () => undefined,
): Promise<Run> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, argv, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => {
      const complete = stdout.split('\n').length - 1;
      stdout += b.toString('utf8');
      for (const line of stdout.split('\n').slice(complete, -1)) onLine(line, child);
    });
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
    child.once('error', reject);
    child.once('close', (code) => resolveRun({ code, stdout, stderr }));
  });
}

/** Runs `bftkv ARGS` in `cwd` (a directory without ./.bftkv, so nothing is picked up by default). */
function bftkv(
  cwd: string,
  args: readonly string[],
  onLine?: (line: string, child: ChildProcess) => void,
): Promise<Run> {
  return node([BIN, ...args], cwd, onLine);
}

/** Runs start.ts (what `npm start` runs) with `args`. */
function start(args: readonly string[], onLine?: (line: string, child: ChildProcess) => void): Promise<Run> {
  return node(['--import', 'tsx', START, ...args], REPO, onLine);
}

/** The one JSON line a --json command prints. */
function json<T>(r: Run): T & { ok: boolean } {
  const lines = r.stdout.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `one JSON line expected, got: ${r.stdout}\nstderr: ${r.stderr}`);
  return JSON.parse(lines[0]!) as T & { ok: boolean };
}

/** Asserts exit code 0 and returns the JSON result. */
async function ok<T>(cwd: string, args: readonly string[]): Promise<T> {
  const r = await bftkv(cwd, [...args, '--json']);
  assert.equal(r.code, 0, `bftkv ${args.join(' ')} exited ${r.code}: ${r.stdout}${r.stderr}`);
  const out = json<T>(r);
  assert.equal(out.ok, true);
  return out;
}

/** Asserts exit code 1 with error code `code` (--json). */
async function fails(cwd: string, args: readonly string[], code: string): Promise<void> {
  const r = await bftkv(cwd, [...args, '--json']);
  assert.equal(r.code, 1, `bftkv ${args.join(' ')} exited ${r.code}: ${r.stdout}${r.stderr}`);
  assert.equal(json<FailureJson>(r).error.code, code, r.stdout);
}

async function alivePids(dir: string): Promise<number[]> {
  return (await readClusterInfo(dir)).nodes.map((n) => n.pid).filter((pid) => pid > 0 && isAlive(pid));
}

void test(
  'bftkv CLI against a small cluster: put/get, write-once, status, a fresh identity, usage errors, cluster down',
  { timeout: 120_000 },
  async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'bftkv-cli-'));
    const C = join(cwd, 'C');
    let pids: number[] = [];
    try {
      const up = await ok<ClusterUpJson>(cwd, ['cluster', 'up', '--topology', 'small', '--dir', 'C']);
      assert.equal(up.topology, 'small');
      assert.equal(up.nodes.length, 8);
      pids = up.nodes.map((n) => n.pid);

      // put / get with the cluster's client identity; the text output of get is the value.
      const put = await ok<PutJson>(cwd, ['put', '--cluster', 'C', 'mykey', 'myvalue']);
      assert.ok(put.signers.length >= 3, 'a sufficient collective signature (3 of 4)');
      assert.ok(put.storedOn.length >= 3, 'stored on a KV quorum (3 of 4)');
      const get = await bftkv(cwd, ['get', '--cluster', 'C', 'mykey']);
      assert.equal(get.code, 0, get.stderr);
      assert.equal(get.stdout, 'myvalue\n');

      // write-once, then an overwrite is refused with `sealed`; the value stays.
      const once = await ok<PutJson>(cwd, ['put', '--once', '--cluster', 'C', 'tx/1', 'sealed value']);
      assert.equal(once.sealed, true);
      await fails(cwd, ['put', '--cluster', 'C', 'tx/1', 'other'], 'sealed');
      const sealed = await ok<GetJson>(cwd, ['get', '--cluster', 'C', 'tx/1']);
      assert.equal(sealed.value, 'sealed value');
      assert.equal(sealed.sealed, true);

      // a missing key: exit 1, code notFound (text mode says so on stderr)
      await fails(cwd, ['get', '--cluster', 'C', 'no/such/key'], 'notFound');
      const missing = await bftkv(cwd, ['get', '--cluster', 'C', 'no/such/key']);
      assert.equal(missing.code, 1);
      assert.equal(missing.stdout, '');
      assert.match(missing.stderr, /notFound/);

      // status: the graph, one clique of four, a KV quorum of 3 of 4, no revocation
      const status = await ok<StatusJson>(cwd, ['status', '--cluster', 'C']);
      assert.equal(status.cliques.length, 1);
      assert.equal(status.cliques[0]!.members.length, 4);
      assert.equal(status.cliques[0]!.b, 1);
      assert.equal(status.kv.nodes.length, 4);
      assert.equal(status.kv.quorum, 3);
      assert.equal(status.canWrite, true);
      assert.deepEqual(status.revocations, []);
      assert.equal(status.nodes.length, 9, '8 servers and the client');

      // The client API the CLI is built on, in this process.
      const kv = await connect({ cluster: C });
      try {
        const w = await kv.put('api/key', 'v1');
        assert.ok(w.t > 0n && !w.sealed && w.signers.length >= 3 && w.storedOn.length >= 3);
        assert.equal(Buffer.from((await kv.get('api/key'))!).toString(), 'v1');
        assert.equal(await kv.get('api/missing'), undefined);
        const r = await kv.read(utf8('tx/1'));
        assert.equal(r.sealed, true);
        assert.equal(r.writer?.uid, 'client@bftkv.local');
        await assert.rejects(
          kv.put('tx/1', 'x'),
          (e: unknown) => e instanceof ProtocolError && e.code === 'sealed',
        );
        await assert.rejects(kv.get('api/key', { signal: AbortSignal.abort() }), AbortedError);
        await assert.rejects(kv.put('', 'v'), RangeError);
      } finally {
        await kv.close();
      }

      const cstatus = await ok<ClusterStatusJson>(cwd, ['cluster', 'status', '--dir', 'C']);
      assert.equal(cstatus.running, 8);
      assert.ok(cstatus.nodes.every((n) => n.accepting));

      // A fresh user identity: certified by three of the four clique members (more than 2n/3), it trusts
      // the servers, joins, writes; the cluster's client reads it; TOFU refuses the client's overwrite.
      const alice = await ok<InitJson>(cwd, ['init', '--id', 'alice', '--uid', 'alice@example.com']);
      assert.equal((await ok<CertJson>(cwd, ['cert', '--id', 'alice'])).certificate.certifications.length, 0);
      const c01 = up.nodes.find((n) => n.name === 'c01')!;
      await ok(cwd, ['trust', 'alice/cert', '--id', 'C/nodes/c01', '--out', 'alice/cert']);
      const certified = await ok<CertJson>(cwd, ['cert', '--id', 'alice', '--cluster', 'C']);
      assert.deepEqual(certified.certificate.certifications, [
        { id: c01.id, uid: 'c01.bftkv.local', verified: true },
      ]);
      assert.equal(
        (await ok<StatusJson>(cwd, ['status', '--id', 'alice', '--cluster', 'C'])).canWrite,
        false,
      );
      for (const n of ['c02', 'c03'])
        await ok(cwd, ['trust', 'alice/cert', '--id', `C/nodes/${n}`, '--out', 'alice/cert']);
      const certs = (await readdir(join(C, 'certs'))).map((f) => join('C', 'certs', f));
      const trusted = await ok<TrustJson>(cwd, ['trust', '--id', 'alice', ...certs]);
      assert.equal(trusted.certified.length, 9);
      const aliceStatus = await ok<StatusJson>(cwd, ['status', '--id', 'alice']);
      assert.equal(aliceStatus.canWrite, true, 'the trust edges were kept in alice/client-state');
      assert.equal(aliceStatus.cliques[0]!.certifiedSelf, 3);
      const joined = await ok<JoinJson>(cwd, ['join', '--id', 'alice', '--cluster', 'C']);
      assert.equal(joined.answered, 8);
      await ok(cwd, ['put', '--id', 'alice', 'alice/key', 'from alice']);
      const read = await ok<GetJson>(cwd, ['get', '--cluster', 'C', 'alice/key']);
      assert.equal(read.value, 'from alice');
      assert.deepEqual(read.writer, { id: alice.id, uid: 'alice@example.com' });
      await fails(cwd, ['put', '--cluster', 'C', 'alice/key', 'mine now'], 'permissionDenied');

      // usage errors: exit 2 (the parser's cases are tested in process, test/unit/cli.test.ts)
      const usage = await Promise.all([
        bftkv(cwd, ['put', '--cluster', 'C', 'only-a-key']),
        bftkv(cwd, ['get', 'k']),
        bftkv(cwd, ['put', '--json']),
      ]);
      for (const r of usage) assert.equal(r.code, 2, `${r.stdout}${r.stderr}`);
      assert.match(usage[0].stderr, /missing arguments/);
      assert.match(usage[1].stderr, /no cluster/);
      assert.equal(json<FailureJson>(usage[2]).error.code, 'usage');

      // cluster down stops every process; client commands then fail with exit 1
      const down = await ok<ClusterDownJson>(cwd, ['cluster', 'down', '--dir', 'C']);
      assert.equal(down.stopped.length, 8);
      assert.deepEqual(down.killed, []);
      for (const pid of pids) assert.equal(isAlive(pid), false, `process ${pid} still running`);
      assert.equal((await ok<ClusterStatusJson>(cwd, ['cluster', 'status', '--dir', 'C'])).running, 0);
      const after = await bftkv(cwd, ['get', '--cluster', 'C', 'mykey', '--timeout', '10000']);
      assert.equal(after.code, 1, `${after.stdout}${after.stderr}`);

      // `bftkv node` runs one node in the foreground until SIGTERM, then stops cleanly (exit 0).
      let started: { ok: boolean; id: string; pid: number } | undefined;
      const single = await bftkv(cwd, ['node', '--dir', 'C/nodes/c01', '--json'], (line, child) => {
        started = JSON.parse(line) as typeof started;
        pids.push(started!.pid);
        child.kill('SIGTERM');
      });
      assert.equal(single.code, 0, single.stderr);
      assert.equal(started?.id, c01.id);
      assert.match(single.stderr, /"event":"stop"/);
    } finally {
      await clusterDown(C).catch(() => undefined);
      for (const pid of pids) assert.equal(isAlive(pid), false, `process ${pid} left behind`);
      await rm(cwd, { recursive: true, force: true });
    }
  },
);

void test(
  'npm start: --once --json prints one summary line and stops the cluster; then a restart, stopped by Ctrl-C',
  { timeout: 120_000 },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bftkv-start-'));
    try {
      const once = await start(['--once', '--json', '--dir', dir]);
      assert.equal(once.code, 0, once.stderr);
      const summary = json<DemoJson>(once);
      assert.equal(summary.ok, true);
      assert.equal(summary.nodes, 8);
      assert.equal(summary.restarted, false);
      assert.equal(summary.running, false);
      assert.deepEqual(summary.cliques[0]!.members, ['c01', 'c02', 'c03', 'c04']);
      assert.equal(summary.writes.length, 2);
      assert.ok(summary.writes.every((w) => w.signers.length >= 3 && w.storedOn.length >= 3));
      assert.equal(summary.writes[1]!.sealed, true);
      assert.equal(summary.reads.at(-1)!.value, summary.writes[1]!.value);
      assert.equal(summary.refusals[0]!.code, 'sealed');
      assert.equal(summary.stopped?.stopped.length, 8);
      assert.deepEqual(await alivePids(dir), []);

      // The same directory again: the cluster is restarted, not re-created; Ctrl-C stops it cleanly.
      let ready: DemoJson | undefined;
      const interactive = await start(['--json', '--dir', dir], (line, child) => {
        ready = JSON.parse(line) as DemoJson;
        child.kill('SIGINT');
      });
      assert.equal(interactive.code, 0, interactive.stderr);
      assert.equal(ready?.ok, true);
      assert.equal(ready?.running, true);
      assert.equal(ready?.restarted, true);
      assert.equal(ready?.started, 8);
      assert.equal(ready?.reads[0]!.value, summary.writes[0]!.value, 'the data survived the restart');
      assert.deepEqual(await alivePids(dir), []);
    } finally {
      await clusterDown(dir).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    }
  },
);
