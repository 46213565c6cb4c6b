/**
 * Runs the Storage compliance suite against MemoryStorage and LmdbStorage, plus LMDB-only tests: directory
 * permissions, key limits, and durability of acknowledged writes across a real kill -9.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { LmdbStorage, MAX_KEY_BYTES, prefixUpperBound } from '../../src/storage/lmdb.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import { StorageError } from '../../src/storage/storage.js';
import { writerBatchKey, writerKey, writerValue } from './fixtures/lmdb-writer.js';
import { storageComplianceSuite } from './storage-compliance.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WRITER = fileURLToPath(new URL('./fixtures/lmdb-writer.ts', import.meta.url));

const tempDir = (): Promise<string> => mkdtemp(join(tmpdir(), 'bftkv-lmdb-'));

storageComplianceSuite('MemoryStorage', async () => {
  const storage = new MemoryStorage();
  return {
    storage,
    reopen: async () => {
      storage.reopen();
      return storage;
    },
    cleanup: async () => undefined,
  };
});

storageComplianceSuite('LmdbStorage', async () => {
  const dir = await tempDir();
  const path = join(dir, 'node');
  return {
    storage: await LmdbStorage.open(path),
    reopen: () => LmdbStorage.open(path),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

void describe('LmdbStorage specifics', () => {
  void test('prefixUpperBound increments the prefix as a big-endian number', () => {
    const ub = (...b: number[]) => {
      const r = prefixUpperBound(new Uint8Array(b));
      return r === undefined ? undefined : [...r];
    };
    assert.deepEqual(ub(0x61), [0x62]);
    assert.deepEqual(ub(0x61, 0x00), [0x61, 0x01]);
    assert.deepEqual(ub(0x61, 0xff), [0x62]);
    assert.deepEqual(ub(0x01, 0xff, 0xff), [0x02]);
    assert.deepEqual(ub(0x00, 0x00, 0x00, 0x05), [0x00, 0x00, 0x00, 0x06]);
    assert.equal(ub(0xff), undefined);
    assert.equal(ub(0xff, 0xff, 0xff), undefined);
    assert.equal(ub(), undefined);
    const input = new Uint8Array([1, 0xff]);
    prefixUpperBound(input);
    assert.deepEqual([...input], [1, 0xff], 'input not mutated');
  });

  void test('the node directory is 0700 (created nested, dotted name; or tightened)', async () => {
    const dir = await tempDir();
    try {
      const path = join(dir, 'data.d', 'node.v1');
      const s = await LmdbStorage.open(path);
      await s.write([{ ns: 'meta', key: Uint8Array.of(1), value: Uint8Array.of(2) }]);
      await s.close();
      const st = await stat(path);
      assert.ok(st.isDirectory());
      assert.equal(st.mode & 0o777, 0o700);
      assert.ok((await stat(join(path, 'data.mdb'))).isFile(), 'environment files live inside the directory');

      const loose = join(dir, 'loose');
      await mkdir(loose);
      await chmod(loose, 0o755);
      await (await LmdbStorage.open(loose)).close();
      assert.equal((await stat(loose)).mode & 0o777, 0o700);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  void test('open fails with StorageError when the path is not a directory', async () => {
    const dir = await tempDir();
    try {
      const file = join(dir, 'file');
      await writeFile(file, 'not a directory');
      await assert.rejects(LmdbStorage.open(file), StorageError);
      await assert.rejects(LmdbStorage.open(join(file, 'below')), StorageError);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  void test('stats count entries per namespace and the pages in use; refused once closed', async () => {
    const dir = await tempDir();
    const s = await LmdbStorage.open(join(dir, 'node'));
    try {
      const before = s.stats();
      assert.deepEqual(before.entries, {
        record: 0,
        signed: 0,
        cert: 0,
        revoked: 0,
        meta: 0,
        password: 0,
        ca: 0,
      });
      assert.ok(before.usedBytes > 0 && before.usedBytes <= before.mapSizeBytes);
      const value = new Uint8Array(64 * 1024);
      await s.write([
        { ns: 'record', key: Uint8Array.of(1), value },
        { ns: 'record', key: Uint8Array.of(2), value },
        { ns: 'meta', key: Uint8Array.of(1), value: Uint8Array.of(1) },
      ]);
      const after = s.stats();
      assert.deepEqual(after.entries, {
        record: 2,
        signed: 0,
        cert: 0,
        revoked: 0,
        meta: 1,
        password: 0,
        ca: 0,
      });
      assert.ok(after.usedBytes >= before.usedBytes + 2 * value.length, `${after.usedBytes}`);
    } finally {
      await s.close();
      await rm(dir, { recursive: true, force: true });
    }
    assert.throws(() => s.stats(), StorageError);
  });

  void test('keys LMDB cannot hold (empty, longer than MAX_KEY_BYTES) reject the whole batch', async () => {
    const dir = await tempDir();
    const s = await LmdbStorage.open(join(dir, 'node'));
    try {
      const ok = { ns: 'meta', key: Uint8Array.of(1), value: Uint8Array.of(1) } as const;
      await assert.rejects(
        s.write([ok, { ns: 'meta', key: new Uint8Array(0), value: Uint8Array.of(1) }]),
        StorageError,
      );
      await assert.rejects(
        s.write([ok, { ns: 'meta', key: new Uint8Array(MAX_KEY_BYTES + 1), value: undefined }]),
        StorageError,
      );
      assert.equal(await s.get('meta', Uint8Array.of(1)), undefined);
      assert.equal(await s.get('meta', new Uint8Array(0)), undefined);
      assert.equal(await s.get('meta', new Uint8Array(MAX_KEY_BYTES + 1)), undefined);
      assert.deepEqual(await s.scan('meta', { prefix: new Uint8Array(MAX_KEY_BYTES + 1) }), []);

      const longest = new Uint8Array(MAX_KEY_BYTES).fill(7);
      await s.write([{ ns: 'meta', key: longest, value: Uint8Array.of(9) }]);
      assert.deepEqual(await s.get('meta', longest), Uint8Array.of(9));
      assert.deepEqual(await s.scan('meta', { prefix: longest, reverse: true }), [
        [longest, Uint8Array.of(9)],
      ]);
    } finally {
      await s.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  void test('every acknowledged write survives a kill -9 mid-way; batches are all-or-nothing', async (t) => {
    const N = 500;
    const BATCH = 5;
    const KILL_AT = 100; // acknowledged records before the parent kills the writer
    const dir = await tempDir();
    const path = join(dir, 'node');
    try {
      // 4 lanes of 5-record batches, each lane pausing 10 ms between batches: about 250 ms for all 500,
      // so the kill (after ~50 ms) lands mid-way while other batches are in flight.
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', WRITER, path, String(N), String(BATCH), '4', '10'],
        {
          cwd: ROOT,
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      const acked = new Set<number>();
      const issued = new Set<number>(); // batches whose write() was called
      let inFlightAtKill = 0;
      let done = false;
      let killedAt = -1;
      let stderr = '';
      let pending = '';
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        pending += chunk;
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) {
          if (line === 'done') done = true;
          const m = /^(ack|write) (\d+)$/.exec(line);
          if (m?.[1] === 'ack') acked.add(Number(m[2]));
          if (m?.[1] === 'write') issued.add(Number(m[2]));
        }
        if ((acked.size >= KILL_AT || done) && killedAt < 0) {
          killedAt = acked.size;
          inFlightAtKill = [...issued].filter((b) => !acked.has(b * BATCH)).length;
          child.kill('SIGKILL');
        }
      });
      const guard = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
      clearTimeout(guard);
      assert.equal(signal, 'SIGKILL', `writer exited with code ${code}: ${stderr}`);
      assert.ok(killedAt >= KILL_AT, `writer killed before ${KILL_AT} acks (${killedAt}): ${stderr}`);
      assert.ok(!done && acked.size < N, `writer finished before the kill (${acked.size} acks): not mid-way`);

      const s = await LmdbStorage.open(path);
      try {
        for (const i of acked) {
          assert.deepEqual(
            await s.get('record', writerKey(i)),
            writerValue(i),
            `acknowledged record ${i} lost`,
          );
        }
        let present = 0;
        for (let b = 0; b * BATCH < N; b++) {
          const ids = Array.from({ length: BATCH }, (_, j) => b * BATCH + j);
          const values = await Promise.all(ids.map((i) => s.get('record', writerKey(i))));
          const marker = await s.get('meta', writerBatchKey(b));
          const have = values.filter((v) => v !== undefined).length;
          assert.ok(have === 0 || have === BATCH, `batch ${b} partially applied (${have}/${BATCH})`);
          assert.equal(marker !== undefined, have === BATCH, `batch ${b} marker disagrees with its records`);
          values.forEach((v, j) => v !== undefined && assert.deepEqual(v, writerValue(ids[j]!)));
          present += have;
        }
        assert.ok(present >= acked.size);
        t.diagnostic(
          `killed after ${killedAt} acks with ${inFlightAtKill} batches in flight; ` +
            `${acked.size} acknowledged, ${present} present of ${N}`,
        );
        // The reopened store is writable.
        await s.write([{ ns: 'meta', key: Uint8Array.of(0xee), value: Uint8Array.of(1) }]);
      } finally {
        await s.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
