/**
 * Node configuration (src/node/config.ts, src/node/identity.ts): limits and the HTTP listener address are
 * validated strictly, defaults fill what config.json leaves out, and old config files still load.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  DEFAULT_NODE_LIMITS,
  NODE_LIMIT_VALUE_MAX,
  checkHttpSetting,
  parseHttpAddress,
  parseNodeLimits,
  resolveNodeLimits,
} from '../../src/node/config.js';
import { IdentityError, initIdentity, loadIdentity } from '../../src/node/identity.js';

void test('limits: known keys with positive integer values are accepted as given', () => {
  assert.deepEqual(parseNodeLimits({}), {});
  assert.deepEqual(parseNodeLimits({ ratePerPeer: 5, burstPerPeer: 10 }), {
    ratePerPeer: 5,
    burstPerPeer: 10,
  });
  assert.deepEqual(parseNodeLimits({ connectionsMax: NODE_LIMIT_VALUE_MAX }), {
    connectionsMax: NODE_LIMIT_VALUE_MAX,
  });
});

void test('limits: rejects unknown keys, non-integers, zero, negatives and huge values, naming the field', () => {
  const rejects = (value: unknown, field: string) =>
    assert.throws(
      () => parseNodeLimits(value),
      (e: unknown) => e instanceof Error && e.message.includes(field),
      JSON.stringify(value),
    );
  rejects({ ratePerPer: 5 }, 'ratePerPer');
  rejects({ ratePerPeer: 0 }, 'limits.ratePerPeer');
  rejects({ burstPerPeer: -1 }, 'limits.burstPerPeer');
  rejects({ concurrentRequestsMax: 1.5 }, 'limits.concurrentRequestsMax');
  rejects({ connectionsMax: '10' }, 'limits.connectionsMax');
  rejects({ concurrencyPerConnection: null }, 'limits.concurrencyPerConnection');
  rejects({ connectionsMax: NODE_LIMIT_VALUE_MAX + 1 }, 'limits.connectionsMax');
  rejects([], 'limits');
  rejects(null, 'limits');
  rejects(7, 'limits');
});

void test('limits: defaults, then each layer in turn', () => {
  assert.deepEqual(resolveNodeLimits(), DEFAULT_NODE_LIMITS);
  assert.deepEqual(resolveNodeLimits(undefined, { ratePerPeer: 7 }, { ratePerPeer: 9, burstPerPeer: 3 }), {
    ...DEFAULT_NODE_LIMITS,
    ratePerPeer: 9,
    burstPerPeer: 3,
  });
  assert.throws(() => resolveNodeLimits({ ratePerPeer: 0 }), RangeError);
  // Every default is itself a valid limit.
  assert.deepEqual(parseNodeLimits(DEFAULT_NODE_LIMITS), DEFAULT_NODE_LIMITS);
});

void test('http address: host:port, IPv6 in brackets; the configured one needs a fixed port', () => {
  assert.deepEqual(parseHttpAddress('127.0.0.1:9100'), { host: '127.0.0.1', port: 9100 });
  assert.deepEqual(parseHttpAddress('[::1]:0'), { host: '::1', port: 0 });
  assert.deepEqual(parseHttpAddress('localhost:80'), { host: 'localhost', port: 80 });
  for (const bad of ['', '127.0.0.1', ':9100', 'tcp://127.0.0.1:9100', '127.0.0.1:65536', 'a b:1', '::1:80'])
    assert.equal(parseHttpAddress(bad), null, bad);
  assert.equal(checkHttpSetting(''), '');
  assert.equal(checkHttpSetting('0.0.0.0:9100'), '0.0.0.0:9100');
  assert.throws(() => checkHttpSetting('127.0.0.1:0'), RangeError);
  assert.throws(() => checkHttpSetting(9100), TypeError);
});

void test('config.json: old files load; http and limits round trip; bad ones name config.json', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bftkv-config-'));
  try {
    const old = join(dir, 'old');
    await initIdentity(old, { uid: 'old.bftkv.local', address: 'tcp://127.0.0.1:4001' });
    const configFile = join(old, 'config.json');
    assert.deepEqual(JSON.parse(await readFile(configFile, 'utf8')), {
      uid: 'old.bftkv.local',
      address: 'tcp://127.0.0.1:4001',
    });
    assert.deepEqual((await loadIdentity(old)).config, {
      uid: 'old.bftkv.local',
      address: 'tcp://127.0.0.1:4001',
    });

    const full = join(dir, 'full');
    const created = await initIdentity(full, {
      uid: 'full.bftkv.local',
      address: 'tcp://127.0.0.1:4002',
      http: '127.0.0.1:9102',
      limits: { ratePerPeer: 100, connectionsMax: 32 },
    });
    const expected = {
      uid: 'full.bftkv.local',
      address: 'tcp://127.0.0.1:4002',
      http: '127.0.0.1:9102',
      limits: { ratePerPeer: 100, connectionsMax: 32 },
    };
    assert.deepEqual(created.config, expected);
    assert.deepEqual((await loadIdentity(full)).config, expected);

    const isConfigError = (what: string) => (e: unknown) =>
      e instanceof IdentityError &&
      e.file === configFile &&
      e.message.includes('config.json') &&
      e.message.includes(what);
    const withConfig = async (extra: Record<string, unknown>, what: string) => {
      await writeFile(
        configFile,
        JSON.stringify({ uid: 'old.bftkv.local', address: 'tcp://127.0.0.1:4001', ...extra }),
      );
      await assert.rejects(loadIdentity(old), isConfigError(what), JSON.stringify(extra));
    };
    await withConfig({ peers: [] }, 'peers');
    await withConfig({ http: 'nonsense' }, 'http');
    await withConfig({ http: '127.0.0.1:0' }, 'http');
    await withConfig({ http: 9100 }, 'http');
    await withConfig({ limits: { ratePerPeer: 0 } }, 'limits.ratePerPeer');
    await withConfig({ limits: { rate: 10 } }, 'rate');
    await withConfig({ limits: [1] }, 'limits');
    await writeFile(configFile, '[]');
    await assert.rejects(loadIdentity(old), isConfigError('JSON object'));
    await writeFile(
      configFile,
      JSON.stringify({ uid: 'old.bftkv.local', address: 'tcp://127.0.0.1:4001', http: '' }),
    );
    assert.equal((await loadIdentity(old)).config.http, '');

    // initIdentity refuses bad settings before creating anything.
    const refused = join(dir, 'refused');
    await assert.rejects(
      initIdentity(refused, { uid: 'r', address: 'tcp://127.0.0.1:4003', limits: { burstPerPeer: 0 } }),
      (e: unknown) => e instanceof IdentityError && e.file === join(refused, 'config.json'),
    );
    await assert.rejects(stat(refused), { code: 'ENOENT' });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
