/**
 * End to end, threshold password authentication on a real multi-process cluster (small topology) through
 * the client API: enrol, write, lose the key, recover, keep writing the same variables, add a device and
 * read a roaming-encrypted value there; a restart of every signer in between (shares are on disk).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { connect, ProtocolError, type Bftkv } from '../../src/client/index.js';
import { clusterDown, clusterUp, killNode, restartNode } from '../../src/node/cluster.js';
import { initIdentity } from '../../src/node/identity.js';

const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString('utf8'));

void test(
  'password lifecycle on a real cluster: enrol, recover, another device, roaming value',
  { timeout: 120_000 },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bftkv-e2e-pw-'));
    const open: Bftkv[] = [];
    const as = async (id: string) => {
      const kv = await connect({ cluster: dir, id: join(dir, id) });
      open.push(kv);
      return kv;
    };
    try {
      await clusterUp(dir, 'small');
      await initIdentity(join(dir, 'laptop'), { uid: 'ivy@example.org', address: '' });
      const laptop = await as('laptop');
      const enrolled = await laptop.register('ivy password');
      assert.equal(enrolled.enrolled, true);
      assert.equal(enrolled.certifiedBy.length, 4);
      await laptop.put('ivy@example.org/profile', 'v1');
      await laptop.putProtected('ivy@example.org/vault', 'roaming secret', 'vault password');
      await laptop.close();

      // Every signer restarts: the shares must come back from disk.
      for (const n of ['c01', 'c02', 'c03', 'c04']) {
        await killNode(dir, n);
        await restartNode(dir, n);
      }

      // The laptop is lost. A new key for the same UID recovers with the password and writes the same variable.
      await rm(join(dir, 'laptop'), { recursive: true });
      await initIdentity(join(dir, 'phone'), { uid: 'ivy@example.org', address: '' });
      const phone = await as('phone');
      await assert.rejects(
        phone.register('wrong password'),
        (e: unknown) => e instanceof ProtocolError && e.code === 'authFailed',
      );
      const recovered = await phone.register('ivy password');
      assert.equal(recovered.enrolled, false);
      assert.ok(recovered.certifiedBy.length >= 3);
      const w = await phone.put('ivy@example.org/profile', 'v2');
      assert.equal(w.t, 2n);

      // A second device while the phone keeps working; it decrypts the roaming value with the password alone.
      await initIdentity(join(dir, 'tablet'), { uid: 'ivy@example.org', address: '' });
      const tablet = await as('tablet');
      await tablet.register('ivy password');
      assert.equal(
        text(await tablet.getProtected('ivy@example.org/vault', 'vault password')),
        'roaming secret',
      );
      await phone.put('ivy@example.org/profile', 'v3');
      assert.equal(text(await tablet.get('ivy@example.org/profile')), 'v3');
      // Without the proof the value is not served; with a wrong password it does not decrypt.
      await assert.rejects(
        tablet.get('ivy@example.org/vault'),
        (e: unknown) => e instanceof ProtocolError && e.code === 'authRequired',
      );
      await assert.rejects(
        tablet.getProtected('ivy@example.org/vault', 'not it'),
        (e: unknown) => e instanceof ProtocolError && e.code === 'authFailed',
      );
    } finally {
      for (const kv of open) await kv.close().catch(() => undefined);
      await clusterDown(dir).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    }
  },
);
