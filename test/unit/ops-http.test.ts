/**
 * The operations HTTP listener (src/node/ops-http.ts) on its own: readiness follows the callback, a failing
 * metrics callback is a 500 (and reported), and the request bounds hold.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { OPS_HTTP_LIMITS, startOpsHttp } from '../../src/node/ops-http.js';

/** Sends raw bytes and returns what the server wrote before closing (or within 2 s). */
function raw(address: string, bytes: string): Promise<string> {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.split(':').at(-1))];
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    let received = '';
    const timer = setTimeout(() => socket.destroy(), 2000);
    socket.on('data', (d) => (received += d.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(received);
    });
    socket.end(bytes);
  });
}

void test('ops http: readiness follows the callback; metrics failures answer 500; bounds hold', async () => {
  let ready = false;
  let fail = false;
  const errors: unknown[] = [];
  const http = await startOpsHttp('127.0.0.1:0', {
    ready: () => ready,
    metrics: () => {
      if (fail) throw new Error('bug');
      return '# TYPE x gauge\nx 1\n';
    },
    onError: (e) => errors.push(e),
  });
  const base = `http://${http.address}`;
  try {
    assert.equal((await fetch(`${base}/readyz`)).status, 503, 'not ready before the node is');
    ready = true;
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    assert.equal(await (await fetch(`${base}/metrics`)).text(), '# TYPE x gauge\nx 1\n');
    fail = true;
    assert.equal((await fetch(`${base}/metrics`)).status, 500);
    assert.equal(errors.length, 1);
    assert.equal((await fetch(`${base}/livez`, { method: 'HEAD' })).status, 405);
    assert.equal((await fetch(`${base}/livez`, { method: 'DELETE' })).headers.get('allow'), 'GET');

    const chunked = await raw(
      http.address,
      'GET /livez HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n',
    );
    assert.match(chunked, /^HTTP\/1\.1 413 /);
    const huge = await raw(
      http.address,
      `GET /livez HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(OPS_HTTP_LIMITS.headerBytesMax)}\r\n\r\n`,
    );
    assert.match(huge, /^HTTP\/1\.1 431 /);
    const garbage = await raw(http.address, 'NOT HTTP AT ALL\r\n\r\n');
    assert.match(garbage, /^HTTP\/1\.1 400 /);
  } finally {
    await http.close();
    await http.close(); // idempotent
  }
  await assert.rejects(fetch(`${base}/livez`));
});

void test('ops http: refuses a malformed listen address', async () => {
  await assert.rejects(
    startOpsHttp('tcp://127.0.0.1:0', { ready: () => true, metrics: () => '' }),
    TypeError,
  );
});
