/**
 * The Storage compliance suite: one set of node:test tests that every Storage implementation must pass
 * (see the contract in src/storage/storage.ts). Not a test file itself: a `*.test.ts` file calls
 * `storageComplianceSuite` once per implementation.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  NAMESPACES,
  StorageError,
  recordKey,
  recordKeyTimestamp,
  recordPrefix,
  type Namespace,
  type Storage,
  type StorageOp,
} from '../../src/storage/storage.js';

/** What the suite needs from an implementation: a fresh, empty store per test. */
export interface StorageHarness {
  readonly storage: Storage;
  /** Opens the same store again after `storage.close()` (a process restart), if the store persists. */
  readonly reopen?: () => Promise<Storage>;
  /** Releases everything (files, directories); called after the test closed its stores. */
  readonly cleanup: () => Promise<void>;
}

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const bytes = (...b: number[]): Uint8Array => new Uint8Array(b);
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const entriesHex = (entries: ReadonlyArray<readonly [Uint8Array, Uint8Array]>): string[] =>
  entries.map(([k, v]) => `${hex(k)}=${hex(v)}`);

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

function startsWith(key: Uint8Array, prefix: Uint8Array): boolean {
  return key.length >= prefix.length && prefix.every((b, i) => key[i] === b);
}

const put = (ns: Namespace, key: Uint8Array, value: Uint8Array): StorageOp => ({ ns, key, value });
const del = (ns: Namespace, key: Uint8Array): StorageOp => ({ ns, key, value: undefined });

export function storageComplianceSuite(name: string, open: () => Promise<StorageHarness>): void {
  /** Runs `fn` on a fresh store, then closes whatever it opened and cleans up, even on failure. */
  async function withStore(fn: (h: StorageHarness, track: (s: Storage) => Storage) => Promise<void>) {
    const h = await open();
    const opened: Storage[] = [h.storage];
    try {
      await fn(h, (s) => {
        opened.push(s);
        return s;
      });
    } finally {
      for (const s of opened) await s.close().catch(() => undefined);
      await h.cleanup();
    }
  }

  void describe(`Storage compliance: ${name}`, () => {
    void test('get of a missing key is undefined in every namespace', () =>
      withStore(async ({ storage }) => {
        for (const ns of NAMESPACES) assert.equal(await storage.get(ns, utf8('missing')), undefined);
        assert.deepEqual(await storage.scan('record'), []);
      }));

    void test('write then get returns the value; overwrite replaces it; empty values are values', () =>
      withStore(async ({ storage }) => {
        await storage.write([put('meta', utf8('k'), bytes(1, 2, 3))]);
        assert.deepEqual(await storage.get('meta', utf8('k')), bytes(1, 2, 3));
        await storage.write([put('meta', utf8('k'), bytes(9))]);
        assert.deepEqual(await storage.get('meta', utf8('k')), bytes(9));
        await storage.write([put('meta', utf8('empty'), new Uint8Array(0))]);
        assert.deepEqual(await storage.get('meta', utf8('empty')), new Uint8Array(0));
        const big = new Uint8Array(100_000).map((_, i) => i % 251);
        await storage.write([put('signed', utf8('big'), big)]);
        assert.deepEqual(await storage.get('signed', utf8('big')), big);
      }));

    void test('value undefined deletes; deleting a missing key is a no-op', () =>
      withStore(async ({ storage }) => {
        await storage.write([put('cert', utf8('a'), bytes(1)), put('cert', utf8('b'), bytes(2))]);
        await storage.write([del('cert', utf8('a')), del('cert', utf8('never-written'))]);
        assert.equal(await storage.get('cert', utf8('a')), undefined);
        assert.deepEqual(await storage.get('cert', utf8('b')), bytes(2));
        assert.deepEqual(entriesHex(await storage.scan('cert')), [`${hex(utf8('b'))}=02`]);
      }));

    void test('a batch across namespaces applies atomically and in order', () =>
      withStore(async ({ storage }) => {
        await storage.write([
          put('record', utf8('r'), bytes(1)),
          put('signed', utf8('s'), bytes(2)),
          put('cert', utf8('c'), bytes(3)),
          put('revoked', utf8('v'), bytes(4)),
          put('meta', utf8('m'), bytes(5)),
          put('meta', utf8('gone'), bytes(6)),
          del('meta', utf8('gone')), // later ops in a batch see earlier ones
          put('meta', utf8('twice'), bytes(7)),
          put('meta', utf8('twice'), bytes(8)),
        ]);
        assert.deepEqual(await storage.get('record', utf8('r')), bytes(1));
        assert.deepEqual(await storage.get('signed', utf8('s')), bytes(2));
        assert.deepEqual(await storage.get('cert', utf8('c')), bytes(3));
        assert.deepEqual(await storage.get('revoked', utf8('v')), bytes(4));
        assert.deepEqual(await storage.get('meta', utf8('m')), bytes(5));
        assert.equal(await storage.get('meta', utf8('gone')), undefined);
        assert.deepEqual(await storage.get('meta', utf8('twice')), bytes(8));

        // A batch with an invalid op is rejected whole: its valid ops are not applied either.
        await assert.rejects(
          storage.write([
            put('record', utf8('partial'), bytes(1)),
            del('meta', utf8('m')),
            put('no-such-namespace' as Namespace, utf8('x'), bytes(1)),
          ]),
        );
        assert.equal(await storage.get('record', utf8('partial')), undefined);
        assert.deepEqual(await storage.get('meta', utf8('m')), bytes(5));
      }));

    void test('namespaces are isolated: the same key in two namespaces', () =>
      withStore(async ({ storage }) => {
        const key = utf8('shared-key');
        await storage.write([put('record', key, bytes(1)), put('signed', key, bytes(2))]);
        assert.deepEqual(await storage.get('record', key), bytes(1));
        assert.deepEqual(await storage.get('signed', key), bytes(2));
        assert.equal(await storage.get('cert', key), undefined);
        await storage.write([del('record', key)]);
        assert.equal(await storage.get('record', key), undefined);
        assert.deepEqual(await storage.get('signed', key), bytes(2));
        assert.deepEqual(entriesHex(await storage.scan('signed')), [`${hex(key)}=02`]);
        assert.deepEqual(await storage.scan('record'), []);
      }));

    void test('values are copies: neither the caller nor the store sees the other mutate', () =>
      withStore(async ({ storage }) => {
        const key = utf8('k');
        const value = bytes(1, 2, 3);
        const written = storage.write([put('meta', key, value)]);
        // Mutating the inputs after write() was called, even before it resolved, changes nothing stored.
        value[0] = 99;
        key[0] = 0x7a;
        await written;
        assert.deepEqual(await storage.get('meta', utf8('k')), bytes(1, 2, 3));
        assert.equal(await storage.get('meta', utf8('z')), undefined);

        const got = await storage.get('meta', utf8('k'));
        assert.ok(got !== undefined);
        got[1] = 99;
        assert.deepEqual(await storage.get('meta', utf8('k')), bytes(1, 2, 3));

        const [entry] = await storage.scan('meta');
        assert.ok(entry !== undefined);
        entry[0][0] = 0x7a;
        entry[1][2] = 99;
        assert.deepEqual(entriesHex(await storage.scan('meta')), [`${hex(utf8('k'))}=010203`]);

        // Two reads return distinct buffers.
        const a = await storage.get('meta', utf8('k'));
        const b = await storage.get('meta', utf8('k'));
        assert.ok(a !== undefined && b !== undefined);
        a[0] = 42;
        assert.equal(b[0], 1);
      }));

    void test('scan returns keys in lexicographic byte order, ascending and descending', () =>
      withStore(async ({ storage }) => {
        const keys = [
          bytes(0x00),
          bytes(0x00, 0x00),
          bytes(0x01),
          bytes(0x7f),
          bytes(0x80),
          bytes(0x80, 0x00),
          bytes(0xfe, 0xff),
          bytes(0xff),
          bytes(0xff, 0x00),
          bytes(0xff, 0xff, 0xff),
          utf8('a'),
          utf8('aa'),
          utf8('ab'),
          utf8('b'),
        ];
        // Written in an order that is neither sorted nor reverse-sorted, over several batches.
        const shuffled = keys.map((k, i) => [k, (i * 7) % keys.length] as const).sort((x, y) => x[1] - y[1]);
        for (let i = 0; i < shuffled.length; i += 3) {
          await storage.write(shuffled.slice(i, i + 3).map(([k]) => put('revoked', k, k)));
        }
        const sorted = [...keys].sort(compareBytes);
        const asc = await storage.scan('revoked');
        assert.deepEqual(
          asc.map(([k]) => hex(k)),
          sorted.map(hex),
        );
        for (const [k, v] of asc) assert.deepEqual(v, k);
        const desc = await storage.scan('revoked', { reverse: true });
        assert.deepEqual(
          desc.map(([k]) => hex(k)),
          [...sorted].reverse().map(hex),
        );
      }));

    void test('prefix scan returns exactly the keys with the prefix', () =>
      withStore(async ({ storage }) => {
        const keys = ['app', 'apple', 'apply', 'apq', 'ap', 'a', 'b', 'aoz', 'ap\u00ff'].map(utf8);
        await storage.write(keys.map((k) => put('record', k, bytes(k.length))));
        const scanKeys = async (prefix: string, reverse = false) =>
          (await storage.scan('record', { prefix: utf8(prefix), reverse })).map(([k]) =>
            new TextDecoder().decode(k),
          );
        assert.deepEqual(await scanKeys('app'), ['app', 'apple', 'apply']);
        assert.deepEqual(await scanKeys('app', true), ['apply', 'apple', 'app']);
        assert.deepEqual(await scanKeys('ap'), ['ap', 'app', 'apple', 'apply', 'apq', 'ap\u00ff']);
        assert.deepEqual(await scanKeys('ap', true), ['ap\u00ff', 'apq', 'apply', 'apple', 'app', 'ap']);
        assert.deepEqual(await scanKeys('zz'), []);
        assert.deepEqual(await scanKeys('zz', true), []);
        assert.deepEqual(await scanKeys('apple2'), []);
        assert.equal((await scanKeys('')).length, keys.length);
      }));

    void test('prefix scans with 0x00/0xff edges match a brute-force filter (both directions, limits)', () =>
      withStore(async ({ storage }) => {
        const alphabet = [0x00, 0x01, 0xfe, 0xff];
        const all: Uint8Array[] = [];
        const grow = (prefix: number[], depth: number): void => {
          if (prefix.length > 0) all.push(new Uint8Array(prefix));
          if (depth === 0) return;
          for (const b of alphabet) grow([...prefix, b], depth - 1);
        };
        grow([], 3);
        // Store a subset (every key whose byte sum is not a multiple of 3) so some prefixes and their
        // upper bounds are present as keys and some are not.
        // The extremes [0x00] and [0xff, 0xff, 0xff] are always stored.
        const stored = all.filter(
          (k) => k.reduce((s, b) => s + b, 0) % 3 !== 0 || hex(k) === '00' || hex(k) === 'ffffff',
        );
        await storage.write(stored.map((k) => put('signed', k, k)));
        const prefixes = [new Uint8Array(0), ...all, bytes(0x80), bytes(0xff, 0xff, 0xff, 0xff)];
        for (const prefix of prefixes) {
          const match = stored.filter((k) => startsWith(k, prefix)).sort(compareBytes);
          for (const reverse of [false, true]) {
            const expected = reverse ? [...match].reverse() : match;
            for (const limit of [undefined, 1, 2, 1000]) {
              const got = await storage.scan('signed', {
                prefix,
                reverse,
                ...(limit === undefined ? {} : { limit }),
              });
              assert.deepEqual(
                got.map(([k]) => hex(k)),
                expected.slice(0, limit ?? expected.length).map(hex),
                `prefix=${hex(prefix)} reverse=${reverse} limit=${limit}`,
              );
            }
          }
        }
      }));

    void test('limit bounds a scan (with and without prefix, both directions)', () =>
      withStore(async ({ storage }) => {
        const keys = Array.from({ length: 10 }, (_, i) => bytes(0x10, i));
        await storage.write([...keys.map((k) => put('meta', k, k)), put('meta', bytes(0x20), bytes(0))]);
        const scanHex = async (opts: Parameters<Storage['scan']>[1]) =>
          (await storage.scan('meta', opts)).map(([k]) => hex(k));
        assert.deepEqual(await scanHex({ limit: 3 }), ['1000', '1001', '1002']);
        assert.deepEqual(await scanHex({ limit: 2, reverse: true }), ['20', '1009']);
        assert.deepEqual(await scanHex({ prefix: bytes(0x10), limit: 2, reverse: true }), ['1009', '1008']);
        assert.deepEqual(await scanHex({ prefix: bytes(0x10), limit: 1 }), ['1000']);
        assert.equal((await scanHex({ limit: 100 })).length, 11);
        assert.deepEqual(await scanHex({ limit: 0 }), []);
      }));

    void test('reverse prefix scan over recordKey yields the latest version first', () =>
      withStore(async ({ storage }) => {
        const x = utf8('variable');
        const times = [5n, 1n, 300n, 2n ** 32n, 7n, 256n];
        await storage.write(times.map((t) => put('record', recordKey(x, t), utf8(`v${t}`))));
        // A neighbour variable that sorts right after x's versions must not leak into the scan.
        await storage.write([put('record', recordKey(utf8('variablf'), 1n), utf8('other'))]);
        const [latest] = await storage.scan('record', { prefix: recordPrefix(x), reverse: true, limit: 1 });
        assert.ok(latest !== undefined);
        assert.equal(recordKeyTimestamp(latest[0]), 2n ** 32n);
        assert.deepEqual(latest[1], utf8(`v${2n ** 32n}`));
        const all = await storage.scan('record', { prefix: recordPrefix(x), reverse: true });
        assert.deepEqual(
          all.map(([k]) => recordKeyTimestamp(k)),
          [...times].sort((a, b) => (a < b ? 1 : a > b ? -1 : 0)),
        );
      }));

    void test('no prefix confusion between variables ("a" vs "ab", [0x61] vs [0x61, 0x00])', () =>
      withStore(async ({ storage }) => {
        const vars = [utf8('a'), utf8('ab'), bytes(0x61, 0x00), bytes(0x61, 0x00, 0x00), new Uint8Array(0)];
        const ops: StorageOp[] = [];
        vars.forEach((x, i) => {
          for (const t of [0n, 1n, 2n ** 64n - 1n]) ops.push(put('record', recordKey(x, t), bytes(i)));
        });
        await storage.write(ops);
        for (const [i, x] of vars.entries()) {
          for (const reverse of [false, true]) {
            const got = await storage.scan('record', { prefix: recordPrefix(x), reverse });
            assert.equal(got.length, 3, `variable ${hex(x)}`);
            for (const [k, v] of got) {
              assert.deepEqual(v, bytes(i), `variable ${hex(x)} got a key of another variable: ${hex(k)}`);
              assert.ok(startsWith(k, recordPrefix(x)));
            }
            const [first] = got;
            assert.ok(first !== undefined);
            assert.equal(recordKeyTimestamp(first[0]), reverse ? 2n ** 64n - 1n : 0n);
          }
          for (const other of vars) {
            if (other === x) continue;
            // No key of one variable starts with another's record prefix.
            for (const t of [0n, 1n, 2n ** 64n - 1n]) {
              assert.ok(!startsWith(recordKey(other, t), recordPrefix(x)));
            }
          }
        }
      }));

    void test('u64 timestamps up to 2^64-1 sort numerically', () =>
      withStore(async ({ storage }) => {
        const x = utf8('ts');
        const times = [
          0n,
          1n,
          255n,
          256n,
          65_535n,
          2n ** 32n - 1n,
          2n ** 32n,
          2n ** 53n + 1n,
          2n ** 63n - 1n,
          2n ** 63n,
          2n ** 64n - 2n,
          2n ** 64n - 1n,
        ];
        const reversedInput = [...times].reverse();
        await Promise.all(
          reversedInput.map((t) => storage.write([put('record', recordKey(x, t), bytes(1))])),
        );
        const asc = await storage.scan('record', { prefix: recordPrefix(x) });
        assert.deepEqual(
          asc.map(([k]) => recordKeyTimestamp(k)),
          times,
        );
        const desc = await storage.scan('record', { prefix: recordPrefix(x), reverse: true });
        assert.deepEqual(
          desc.map(([k]) => recordKeyTimestamp(k)),
          reversedInput,
        );
      }));

    void test('200 concurrent write() calls all land, each readable once it resolved', () =>
      withStore(async ({ storage }) => {
        const n = 200;
        const key = (i: number) => utf8(`k${String(i).padStart(4, '0')}`);
        await Promise.all(
          Array.from({ length: n }, async (_, i) => {
            await storage.write([put('record', key(i), utf8(`v${i}`)), put('meta', key(i), bytes(i % 256))]);
            // A read issued after write() resolved sees its effect.
            assert.deepEqual(await storage.get('record', key(i)), utf8(`v${i}`));
          }),
        );
        const records = await storage.scan('record');
        assert.equal(records.length, n);
        records.forEach(([k, v], i) => {
          assert.deepEqual(k, key(i));
          assert.deepEqual(v, utf8(`v${i}`));
        });
        assert.equal((await storage.scan('meta')).length, n);
      }));

    void test('values persist across close and reopen', (t) =>
      withStore(async ({ storage, reopen }, track) => {
        if (reopen === undefined) {
          t.skip('store does not persist');
          return;
        }
        const ops: StorageOp[] = [];
        for (const ns of NAMESPACES) {
          for (let i = 0; i < 20; i++) ops.push(put(ns, utf8(`${ns}-${i}`), utf8(`${ns}=${i}`)));
        }
        await storage.write(ops);
        await storage.write([del('meta', utf8('meta-0'))]);
        await storage.close();

        const again = track(await reopen());
        assert.equal(await again.get('meta', utf8('meta-0')), undefined);
        assert.deepEqual(await again.get('record', utf8('record-7')), utf8('record=7'));
        for (const ns of NAMESPACES) {
          assert.equal((await again.scan(ns)).length, ns === 'meta' ? 19 : 20);
        }
        await again.write([put('cert', utf8('after-reopen'), bytes(1))]);
        assert.deepEqual(await again.get('cert', utf8('after-reopen')), bytes(1));
      }));

    void test('operations after close reject (asynchronously) with StorageError', () =>
      withStore(async ({ storage }) => {
        await storage.write([put('meta', utf8('k'), bytes(1))]);
        await storage.close();
        await storage.close(); // idempotent
        const calls: Array<[string, () => Promise<unknown>]> = [
          ['get', () => storage.get('meta', utf8('k'))],
          ['write', () => storage.write([put('meta', utf8('k'), bytes(2))])],
          ['scan', () => storage.scan('meta')],
          ['scan reverse', () => storage.scan('meta', { reverse: true, prefix: utf8('k') })],
        ];
        for (const [what, call] of calls) {
          let promise: Promise<unknown> | undefined;
          assert.doesNotThrow(() => {
            promise = call();
          }, `${what} must reject, not throw synchronously`);
          assert.ok(promise instanceof Promise, what);
          await assert.rejects(promise, StorageError, what);
        }
      }));
  });
}
