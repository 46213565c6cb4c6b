/**
 * The node's operations listener (docs/OPERATIONS.md): plain HTTP on the configured `http` address with
 *
 *   GET /livez    200 "ok" while the process runs
 *   GET /readyz   200 "ready" while `ready()` holds, else 503 "not ready"
 *   GET /metrics  200, Prometheus text exposition 0.0.4
 *
 * and 404 for any other path, 405 for any other method, 413 for a request that declares a body. It is
 * unauthenticated and shows counters only (no keys, no values): bind it to loopback or a management network.
 *
 * Bounds: request headers ≤ 8 KiB and complete within 5 s, a whole request within 10 s, idle keep-alive
 * connections closed after 5 s, at most 64 connections; bodies are never read.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseHttpAddress } from './config.js';
import { PROMETHEUS_CONTENT_TYPE } from './metrics.js';

export const OPS_HTTP_LIMITS = {
  headerBytesMax: 8192,
  headersTimeoutMs: 5000,
  requestTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5000,
  connectionsMax: 64,
} as const;

export interface OpsHttpOptions {
  /** What /readyz reports. */
  ready(): boolean;
  /** What /metrics serves (Prometheus text). */
  metrics(): string;
  /** Called when metrics() throws (a bug): the request is answered 500. */
  onError?(error: unknown): void;
}

export interface OpsHttpServer {
  /** The address actually bound, `host:port` (IPv6 in brackets). */
  readonly address: string;
  /** Stops listening and closes every connection. Idempotent. */
  close(): Promise<void>;
}

function reply(
  res: ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
    'Cache-Control': 'no-store',
    ...headers,
  });
  res.end(body);
}

function handle(options: OpsHttpOptions, req: IncomingMessage, res: ServerResponse): void {
  const length = req.headers['content-length'];
  if (req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0'))
    return reply(res, 413, 'no request body accepted\n', { Connection: 'close' });
  if (req.method !== 'GET') return reply(res, 405, 'method not allowed\n', { Allow: 'GET' });
  const path = (req.url ?? '').split('?', 1)[0];
  switch (path) {
    case '/livez':
      return reply(res, 200, 'ok\n');
    case '/readyz':
      return options.ready() ? reply(res, 200, 'ready\n') : reply(res, 503, 'not ready\n');
    case '/metrics': {
      let text: string;
      try {
        text = options.metrics();
      } catch (error) {
        options.onError?.(error);
        return reply(res, 500, 'metrics failed\n');
      }
      return reply(res, 200, text, { 'Content-Type': PROMETHEUS_CONTENT_TYPE });
    }
    default:
      return reply(res, 404, 'not found\n');
  }
}

/** Listens on `host:port` (port 0: any free port). */
export async function startOpsHttp(address: string, options: OpsHttpOptions): Promise<OpsHttpServer> {
  const target = parseHttpAddress(address);
  if (target === null) throw new TypeError(`http: expected host:port, got ${JSON.stringify(address)}`);
  const server = createServer({ maxHeaderSize: OPS_HTTP_LIMITS.headerBytesMax }, (req, res) =>
    handle(options, req, res),
  );
  server.headersTimeout = OPS_HTTP_LIMITS.headersTimeoutMs;
  server.requestTimeout = OPS_HTTP_LIMITS.requestTimeoutMs;
  server.keepAliveTimeout = OPS_HTTP_LIMITS.keepAliveTimeoutMs;
  server.maxConnections = OPS_HTTP_LIMITS.connectionsMax;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(target.port, target.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  const boundAddress = bound.address.includes(':')
    ? `[${bound.address}]:${bound.port}`
    : `${bound.address}:${bound.port}`;
  let closed: Promise<void> | null = null;
  return {
    address: boundAddress,
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
