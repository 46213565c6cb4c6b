/**
 * TLS transport over loopback: request/response latency (p50/p99) and throughput with 1 and 16 concurrent
 * requesters, plus the cost of opening a connection (TCP + TLS 1.3 + challenge-response). The server runs
 * in a child process (its own event loop), answering each request with its payload. Prints JSON lines.
 *
 *   node --import tsx bench/transport.ts [--seconds 5] [--payload 64,16384] [--concurrency 1,16]
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { sha256 } from '../src/crypto/hash.js';
import { signingKeyFromSeed } from '../src/crypto/ed25519.js';
import { TlsServer, TlsTransport } from '../src/transport/tls.js';

const keyOf = (label: string) => signingKeyFromSeed(sha256(new TextEncoder().encode(`bftkv/bench/${label}`)));

async function serve(): Promise<void> {
  const server = new TlsServer({ key: keyOf('server'), handler: async (_from, payload) => payload });
  const address = await server.listen('tcp://127.0.0.1:0');
  process.send?.({ address, id: server.id });
  process.once('disconnect', () => void server.close());
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

const round = (x: number) => Math.round(x * 10) / 10;

async function measure(
  transport: TlsTransport,
  peer: string,
  address: string,
  concurrency: number,
  payloadBytes: number,
  seconds: number,
): Promise<Record<string, unknown>> {
  const payload = new Uint8Array(payloadBytes).fill(7);
  const latenciesUs: number[] = [];
  const started = performance.now();
  const end = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        const response = await transport.request(peer, address, payload);
        latenciesUs.push((performance.now() - t0) * 1000);
        if (response.length !== payloadBytes) throw new Error('bad echo');
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const sorted = Float64Array.from(latenciesUs).sort();
  return {
    bench: 'transport/tls-loopback',
    concurrency,
    payloadBytes,
    seconds: round(elapsed),
    requests: sorted.length,
    requestsPerSec: Math.round(sorted.length / elapsed),
    mibPerSec: round((sorted.length * payloadBytes * 2) / elapsed / (1 << 20)),
    p50Us: round(percentile(sorted, 0.5)),
    p99Us: round(percentile(sorted, 0.99)),
    maxUs: round(sorted[sorted.length - 1] ?? NaN),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '5' },
      payload: { type: 'string', default: '64,16384' },
      concurrency: { type: 'string', default: '1,16' },
    },
  });
  const seconds = Number(values.seconds);
  const payloads = values.payload.split(',').map(Number);
  const concurrencies = values.concurrency.split(',').map(Number);
  const child = fork(fileURLToPath(import.meta.url), ['--serve'], { execArgv: ['--import', 'tsx'] });
  try {
    const [ready] = (await once(child, 'message')) as [{ address: string; id: string }];
    const { address, id } = ready;

    // Opening a connection: a fresh transport per sample, so each pays TCP + TLS + challenge-response.
    const setupUs: number[] = [];
    for (let i = 0; i < 50; i++) {
      const fresh = new TlsTransport({ key: keyOf(`client-${i}`) });
      const t0 = performance.now();
      await fresh.request(id, address, new Uint8Array(1));
      setupUs.push((performance.now() - t0) * 1000);
      await fresh.close();
    }
    const setup = Float64Array.from(setupUs).sort();
    console.log(
      JSON.stringify({
        bench: 'transport/tls-connect',
        samples: setup.length,
        p50Us: round(percentile(setup, 0.5)),
        p99Us: round(percentile(setup, 0.99)),
      }),
    );

    const transport = new TlsTransport({ key: keyOf('client') });
    await measure(transport, id, address, 16, 64, 0.5); // warm-up (JIT, connection)
    for (const payloadBytes of payloads)
      for (const concurrency of concurrencies)
        console.log(
          JSON.stringify(await measure(transport, id, address, concurrency, payloadBytes, seconds)),
        );
    await transport.close();
  } finally {
    child.disconnect();
    await once(child, 'exit');
  }
}

if (process.argv.includes('--serve')) await serve();
else await main();
