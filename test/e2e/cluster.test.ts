/**
 * End to end: a real multi-process cluster (small topology) on loopback, driven through TLS by two client
 * connections. Every process the test starts is stopped in `finally`, whatever failed.
 */
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { utf8 } from '../../src/codec/bytes.js';
import { connectCluster, type ClusterConnection } from '../../src/cli/connect.js';
import {
  clusterDown,
  clusterLoopback,
  clusterStatus,
  clusterUp,
  isAlive,
  killNode,
  processGroups,
  readClusterInfo,
  restartNode,
} from '../../src/node/cluster.js';
import { IdentityError, initIdentity, loadIdentity } from '../../src/node/identity.js';
import { ProtocolError } from '../../src/protocol/errors.js';
import { parseAddress } from '../../src/transport/tls.js';

const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString('utf8'));

void test(
  'small cluster: write, read from another connection, write-once, survive a SIGKILLed KV node',
  {
    timeout: 60_000,
  },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bftkv-e2e-'));
    const connections: ClusterConnection[] = [];
    let pids: number[] = [];
    try {
      const info = await clusterUp(dir, 'small');
      pids = info.nodes.map((n) => n.pid);
      assert.equal(info.nodes.length, 8);
      assert.deepEqual(await readClusterInfo(dir), info);

      const a = await connectCluster(dir);
      connections.push(a);
      const b = await connectCluster(dir);
      connections.push(b);
      assert.equal(a.client.quorumSystem().cliques.length, 1);

      const w = await a.client.write(utf8('alice/key'), utf8('v1'));
      assert.ok(w.signers.length >= 3, `signers: ${w.signers.length}`);
      assert.ok(w.acknowledgedBy.length >= 3, `acknowledged by: ${w.acknowledgedBy.length}`);
      const r = await b.client.read(utf8('alice/key'));
      assert.equal(text(r.value), 'v1');
      assert.equal(r.t, w.t);

      await a.client.writeOnce(utf8('tx/1'), utf8('sealed value'));
      assert.equal(text((await b.client.read(utf8('tx/1'))).value), 'sealed value');
      await assert.rejects(
        b.client.write(utf8('tx/1'), utf8('other')),
        (e: unknown) => e instanceof ProtocolError && e.code === 'sealed',
      );

      // kill -9 one KV node: f = 1 of four KV nodes may fail.
      const victim = info.nodes.find((n) => n.name === 'rw02')!;
      process.kill(victim.pid, 'SIGKILL');
      for (let i = 0; i < 100 && isAlive(victim.pid); i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(isAlive(victim.pid), false);

      assert.equal(text((await b.client.read(utf8('alice/key'))).value), 'v1');
      const w2 = await a.client.write(utf8('alice/key'), utf8('v2'));
      assert.ok(w2.t > w.t);
      assert.ok(!w2.acknowledgedBy.includes(victim.id));
      assert.equal(text((await b.client.read(utf8('alice/key'))).value), 'v2');
      await b.client.write(utf8('bob/key'), utf8('b1'));
      assert.equal(text((await a.client.read(utf8('bob/key'))).value), 'b1');

      const down = await clusterDown(dir);
      assert.deepEqual(down.gone, ['rw02']);
      assert.deepEqual(down.killed, [], 'every live node stops on SIGTERM');
      assert.equal(down.stopped.length, 7);
    } finally {
      for (const c of connections) await c.close();
      await clusterDown(dir).catch(() => undefined);
      for (const pid of pids) assert.equal(isAlive(pid), false, `process ${pid} left behind`);
      await rm(dir, { recursive: true, force: true });
    }
  },
);

void test(
  'small cluster in 2 processes: servers share processes, kill and restart act on the whole process, data survives',
  { timeout: 60_000 },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bftkv-e2e-'));
    let conn: ClusterConnection | undefined;
    const pids = new Set<number>();
    try {
      const info = await clusterUp(dir, 'small', { processes: 2 });
      assert.equal(info.processes, 2);
      for (const n of info.nodes) pids.add(n.pid);
      assert.equal(pids.size, 2, 'eight servers in two processes');
      // Round robin: each process hosts signers and KV nodes.
      const groups = processGroups(info);
      assert.deepEqual(
        groups.map((g) => g.length),
        [4, 4],
      );
      for (const g of groups) {
        assert.equal(new Set(g.map((n) => n.pid)).size, 1);
        assert.deepEqual([...new Set(g.map((n) => n.role))].sort(), ['kv', 'signer']);
      }
      conn = await connectCluster(dir);
      const w = await conn.client.write(utf8('shared/key'), utf8('v1'));
      assert.equal(w.signers.length >= 3, true);

      // Killing one server's process takes its co-hosted servers down with it (the cluster tolerates it:
      // each process holds 2 of the 4 signers and 2 of the 4 KV nodes, which is more than b = 1, so
      // writes wait for the restart).
      const victim = groups[1]![0]!;
      await killNode(dir, victim.name);
      const status = await clusterStatus(dir);
      assert.deepEqual(
        status
          .filter((n) => !n.alive)
          .map((n) => n.name)
          .sort(),
        groups[1]!.map((n) => n.name).sort(),
      );
      await restartNode(dir, victim.name);
      const after = await readClusterInfo(dir);
      const restarted = new Set(
        after.nodes.filter((n) => groups[1]!.some((m) => m.name === n.name)).map((n) => n.pid),
      );
      assert.equal(restarted.size, 1, 'the group restarts in one process');
      for (const p of restarted) pids.add(p);
      assert.equal(
        (await clusterStatus(dir)).every((n) => n.alive && n.accepting),
        true,
      );
      assert.equal(text((await conn.client.read(utf8('shared/key'))).value), 'v1');
      await conn.client.write(utf8('shared/key'), utf8('v2'));
      assert.equal(text((await conn.client.read(utf8('shared/key'))).value), 'v2');

      const down = await clusterDown(dir);
      // Servers that share a process all count as stopped: CI once saw 2 of 8, because clusterDown checked
      // each co-hosted server again after signalling its process, which had already exited (now fixed).
      assert.deepEqual(
        { stopped: down.stopped.length, killed: down.killed, gone: down.gone },
        { stopped: 8, killed: [], gone: [] },
        JSON.stringify(down),
      );
    } finally {
      await conn?.close();
      await clusterDown(dir).catch(() => undefined);
      for (const pid of pids) assert.equal(isAlive(pid), false, `process ${pid} left behind`);
      await rm(dir, { recursive: true, force: true });
    }
  },
);

void test(
  'cluster address: one loopback host per cluster (random on Linux); a node that cannot bind is named, with the end of its log',
  { timeout: 60_000 },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bftkv-e2e-'));
    let blocker: Server | undefined;
    try {
      const info = await clusterUp(dir, 'small', { processes: 2 });
      const hosts = new Set(info.nodes.map((n) => parseAddress(n.address)!.host));
      assert.equal(hosts.size, 1, 'every server on one address');
      const [host] = [...hosts] as [string];
      assert.match(host, /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/);
      // Outgoing connections take their ephemeral source port on 127.0.0.1, so on Linux the cluster keeps
      // away from it (the CI failure this guards against: a node's port taken before the node bound it).
      if (process.platform === 'linux') {
        assert.notEqual(host, '127.0.0.1');
        assert.notEqual(clusterLoopback(), clusterLoopback(), 'two clusters, two addresses');
      }

      await clusterDown(dir);
      const victim = info.nodes[0]!;
      const { port } = parseAddress(victim.address)!;
      blocker = createServer();
      await new Promise<void>((resolve) => blocker!.listen(port, host, resolve));
      await assert.rejects(clusterUp(dir, 'small'), (e: unknown) => {
        assert.ok(e instanceof Error);
        assert.match(e.message, new RegExp(`^the process of nodes (\\w+, )*${victim.name}\\b.* exited`));
        assert.match(e.message, /EADDRINUSE/, 'the message carries the end of the log');
        return true;
      });
      assert.equal(
        (await clusterStatus(dir)).some((n) => n.alive),
        false,
        'a failed start stops the others',
      );
    } finally {
      await new Promise<void>((resolve) =>
        blocker === undefined ? resolve() : blocker.close(() => resolve()),
      );
      await clusterDown(dir).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    }
  },
);

void test('identity: create, load, refuse to overwrite, typed errors naming the file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bftkv-id-'));
  try {
    const nodeDir = join(dir, 'n1');
    const created = await initIdentity(nodeDir, { uid: 'n1.bftkv.local', address: 'tcp://127.0.0.1:4001' });
    assert.equal((await stat(join(nodeDir, 'key'))).mode & 0o777, 0o600);
    assert.equal((await stat(nodeDir)).mode & 0o777, 0o700);
    const loaded = await loadIdentity(nodeDir);
    assert.equal(loaded.id, created.id);
    assert.deepEqual(loaded.config, { uid: 'n1.bftkv.local', address: 'tcp://127.0.0.1:4001' });
    assert.deepEqual(loaded.key.publicKey, created.key.publicKey);

    const isIdentityError = (file: string) => (e: unknown) =>
      e instanceof IdentityError && e.file === join(nodeDir, file) && e.message.includes(file);
    await assert.rejects(initIdentity(nodeDir, { uid: 'other' }), isIdentityError('key'));
    assert.equal((await loadIdentity(nodeDir)).id, created.id, 'the key was not replaced');

    await chmod(join(nodeDir, 'key'), 0o644);
    await assert.rejects(loadIdentity(nodeDir), isIdentityError('key'));
    await chmod(join(nodeDir, 'key'), 0o600);
    await writeFile(
      join(nodeDir, 'config.json'),
      '{"uid":"n1.bftkv.local","address":"tcp://127.0.0.1:4002"}',
    );
    await assert.rejects(loadIdentity(nodeDir), isIdentityError('config.json'));
    await writeFile(join(nodeDir, 'cert'), 'garbage');
    await assert.rejects(loadIdentity(nodeDir), isIdentityError('cert'));
    await assert.rejects(loadIdentity(join(dir, 'missing')), (e: unknown) => e instanceof IdentityError);
    await assert.rejects(
      initIdentity(join(dir, 'n2'), { uid: 'n2', address: 'http://x' }),
      (e: unknown) => e instanceof IdentityError,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
