/**
 * Operations of one real node (startNode over LMDB, TLS on loopback, the operations HTTP listener): /livez,
 * /readyz through a graceful stop, /metrics as strict Prometheus text whose counters follow the traffic, and
 * a peer over its configured rate answered `rateLimited` while another peer is still served.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { utf8 } from '../../src/codec/bytes.js';
import { sha256 } from '../../src/crypto/hash.js';
import { signingKeyFromSeed } from '../../src/crypto/ed25519.js';
import { DEFAULT_NODE_LIMITS } from '../../src/node/config.js';
import { startNode, type RunningNode } from '../../src/node/daemon.js';
import { initIdentity } from '../../src/node/identity.js';
import { decodeResponse, encodeRequest } from '../../src/protocol/messages.js';
import { TlsTransport } from '../../src/transport/tls.js';
import { parsePrometheusText, sampleValue } from '../unit/prometheus-parse.js';

const peerKey = (label: string) => signingKeyFromSeed(sha256(utf8(`bftkv/test/node-ops/${label}`)));

async function get(
  url: string,
  init: RequestInit = {},
): Promise<{ status: number; type: string; body: string }> {
  const res = await fetch(url, init);
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.text() };
}

void test(
  'a node: /livez, /readyz through stop, /metrics follows traffic, per-peer rate limit',
  { timeout: 20_000 },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bftkv-ops-'));
    const nodeDir = join(dir, 'node');
    const logs: Array<Record<string, unknown>> = [];
    const transports: TlsTransport[] = [];
    let node: RunningNode | undefined;
    try {
      // The limits come from config.json; the addresses are overridden to free ports.
      await initIdentity(nodeDir, {
        uid: 'ops.bftkv.local',
        address: 'tcp://127.0.0.1:4999',
        http: '127.0.0.1:9999',
        limits: { ratePerPeer: 1, burstPerPeer: 5 },
      });
      node = await startNode(nodeDir, {
        listenAddress: 'tcp://127.0.0.1:0',
        httpAddress: '127.0.0.1:0',
        unreadyDelayMs: 500,
        log: (entry) => logs.push(entry),
      });
      assert.deepEqual(node.limits, { ...DEFAULT_NODE_LIMITS, ratePerPeer: 1, burstPerPeer: 5 });
      assert.match(node.httpAddress ?? '', /^127\.0\.0\.1:\d+$/);
      assert.notEqual(node.httpAddress, '127.0.0.1:0');
      assert.equal(logs.find((l) => l.event === 'start')?.http, node.httpAddress);
      const base = `http://${node.httpAddress}`;

      assert.deepEqual(await get(`${base}/livez`), {
        status: 200,
        type: 'text/plain; charset=utf-8',
        body: 'ok\n',
      });
      assert.equal((await get(`${base}/readyz`)).status, 200);
      assert.equal((await get(`${base}/nothing-here`)).status, 404);
      assert.equal((await get(`${base}/livez`, { method: 'POST' })).status, 405);
      assert.equal((await get(`${base}/metrics`, { method: 'POST', body: 'x' })).status, 413);

      const first = await get(`${base}/metrics?ignored=1`);
      assert.equal(first.status, 200);
      assert.equal(first.type, 'text/plain; version=0.0.4; charset=utf-8');
      const before = parsePrometheusText(first.body);
      for (const [name, family] of before)
        if (family.type === 'counter') assert.match(name, /_total$/, `counter ${name} ends in _total`);
      assert.equal(sampleValue(before, 'bftkv_ready'), 1);
      assert.equal(sampleValue(before, 'bftkv_requests_total', { kind: 'time' }), 0);
      assert.equal(sampleValue(before, 'bftkv_limit', { limit: 'ratePerPeer' }), 1);
      assert.equal(sampleValue(before, 'bftkv_node_info', { id: node.id, uid: 'ops.bftkv.local' }), 1);
      assert.ok(
        sampleValue(before, 'bftkv_storage_entries', { namespace: 'cert' })! >= 1,
        'own certificate stored',
      );
      assert.ok(sampleValue(before, 'process_resident_memory_bytes')! > 0);
      assert.ok(sampleValue(before, 'process_cpu_seconds_total')! > 0);

      // Peer A sends 8 requests one after another: its burst of 5 passes, the rest are refused (1/s refill).
      const request = encodeRequest({ kind: 'time', x: utf8('ops/key') });
      const ask = async (transport: TlsTransport) => {
        const response = decodeResponse('time', await transport.request(node!.id, node!.address, request));
        return response.kind === 'error' ? response.code : response.kind;
      };
      const a = new TlsTransport({ key: peerKey('a') });
      const b = new TlsTransport({ key: peerKey('b') });
      transports.push(a, b);
      const started = Date.now();
      const answersA: string[] = [];
      for (let i = 0; i < 8; i++) answersA.push(await ask(a));
      const elapsedS = (Date.now() - started) / 1000;
      const served = answersA.filter((c) => c === 'time').length;
      const limited = answersA.filter((c) => c === 'rateLimited').length;
      assert.equal(served + limited, 8, answersA.join(','));
      assert.deepEqual(answersA.slice(0, 5), ['time', 'time', 'time', 'time', 'time']);
      assert.ok(served <= 5 + Math.ceil(elapsedS), `served ${served} in ${elapsedS} s`);
      assert.ok(limited >= 2, answersA.join(','));
      // Peer B has its own bucket.
      assert.equal(await ask(b), 'time');
      assert.equal(await ask(b), 'time');

      const after = parsePrometheusText((await get(`${base}/metrics`)).body);
      assert.equal(sampleValue(after, 'bftkv_requests_total', { kind: 'time' }), served + 2);
      assert.equal(sampleValue(after, 'bftkv_request_duration_seconds_count', { kind: 'time' }), served + 2);
      assert.equal(sampleValue(after, 'bftkv_requests_rejected_total', { reason: 'rateLimited' }), limited);
      assert.equal(sampleValue(after, 'bftkv_requests_rejected_total', { reason: 'busy' }), 0);
      assert.equal(
        sampleValue(after, 'bftkv_tls_server_requests_total')! -
          sampleValue(before, 'bftkv_tls_server_requests_total')!,
        10,
      );
      assert.equal(sampleValue(after, 'bftkv_tls_server_connections_authenticated_total'), 2);
      assert.equal(sampleValue(after, 'bftkv_server_requests_total'), served + 2);
      assert.equal(sampleValue(after, 'bftkv_rate_limiter_peers'), 2);
      // Each connection's challenge-response verified the peer's Ed25519 signature.
      assert.ok(
        sampleValue(after, 'bftkv_signatures_verified_total')! >=
          sampleValue(before, 'bftkv_signatures_verified_total')! + 2,
      );

      // Stop: /readyz answers 503 at once, /livez still 200, until the listener closes.
      const stopping = node.stop();
      assert.equal(node.ready(), false);
      const readyz = await get(`${base}/readyz`);
      assert.deepEqual([readyz.status, readyz.body], [503, 'not ready\n']);
      assert.equal((await get(`${base}/livez`)).status, 200);
      assert.equal(sampleValue(parsePrometheusText((await get(`${base}/metrics`)).body), 'bftkv_ready'), 0);
      await stopping;
      await assert.rejects(fetch(`${base}/livez`));
      const stopLog = logs.find((l) => l.event === 'stop');
      assert.deepEqual(stopLog?.admission, { admitted: served + 2, rateLimited: limited, busy: 0 });
    } finally {
      for (const t of transports) await t.close();
      await node?.stop();
      await rm(dir, { recursive: true, force: true });
    }
  },
);
