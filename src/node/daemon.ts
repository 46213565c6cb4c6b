/**
 * The node daemon: one BftkvServer over LmdbStorage (DIR/db), reachable through a TlsServer on the
 * configured address, sending its own requests (gossip) through a TlsTransport, with a gossip timer, and
 * an operations HTTP listener (/livez, /readyz, /metrics) when config.json names one (docs/OPERATIONS.md).
 *
 * Every request goes through admission control (node/admission.ts: a token bucket per peer, a node-wide
 * cap on running handlers; over a limit the answer is a typed `rateLimited` or `busy` error), then is
 * measured (node/node-metrics.ts), then handled by the protocol server.
 *
 * Graceful stop: /readyz turns 503 at once; after `unreadyDelayMs` new requests are refused (the transport
 * answers with GOAWAY, so clients move them elsewhere), requests already running finish (up to
 * `drainTimeoutMs`), then the listener and every connection close, the gossip timer stops, the HTTP
 * listener closes and storage closes.
 */
import { join } from 'node:path';
import { systemClock, type Clock } from '../env/clock.js';
import { secureRandom, type Random } from '../env/random.js';
import { BftkvServer } from '../protocol/server.js';
import { LmdbStorage } from '../storage/lmdb.js';
import { TlsServer, TlsTransport } from '../transport/tls.js';
import type { NodeId } from '../trust/certificate.js';
import { Admission } from './admission.js';
import { resolveNodeLimits, type NodeLimits } from './config.js';
import { CONFIG_FILE, loadIdentity } from './identity.js';
import { RequestMetrics, renderNodeMetrics } from './node-metrics.js';
import { startOpsHttp, type OpsHttpServer } from './ops-http.js';

export interface NodeOptions {
  /** Milliseconds between gossip rounds, default 50. */
  readonly gossipIntervalMs?: number;
  /** How long stop() waits for running requests, default 5000 ms. */
  readonly drainTimeoutMs?: number;
  /** Listen here instead of the configured address (tests: port 0). */
  readonly listenAddress?: string;
  /** One structured log object per call; default: one JSON line on stderr. */
  readonly log?: (entry: Record<string, unknown>) => void;
  readonly clock?: Clock;
  readonly random?: Random;
  /** The operations HTTP listener's `host:port` instead of config.json's `http`; "" for none (tests: port 0). */
  readonly httpAddress?: string;
  /** Overrides of config.json's `limits`, key by key. */
  readonly limits?: Partial<NodeLimits>;
  /**
   * How long stop() keeps serving after /readyz turns 503, so that health checkers and load balancers take
   * the node out before it refuses requests; default 0.
   */
  readonly unreadyDelayMs?: number;
}

export interface RunningNode {
  readonly id: NodeId;
  /** The address actually bound. */
  readonly address: string;
  readonly server: BftkvServer;
  /** The operations HTTP listener actually bound (`host:port`), or null when there is none. */
  readonly httpAddress: string | null;
  /** The limits in force: DEFAULT_NODE_LIMITS ← config.json ← options. */
  readonly limits: NodeLimits;
  /** What /readyz reports: true from listening until stop() begins. */
  ready(): boolean;
  /** What /metrics serves: this node's Prometheus text exposition. */
  metrics(): string;
  /** Graceful stop; idempotent. */
  stop(): Promise<void>;
}

/** Writes one JSON object per line to stderr. */
export function jsonLog(entry: Record<string, unknown>): void {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`);
}

/** Refused while stopping: the transport turns a rejected handler into GOAWAY for that connection. */
class StoppingError extends Error {
  override readonly name = 'StoppingError';
}

/** Starts the node whose identity is in `dir`. */
export async function startNode(dir: string, options: NodeOptions = {}): Promise<RunningNode> {
  const log = options.log ?? jsonLog;
  const clock = options.clock ?? systemClock;
  const random = options.random ?? secureRandom;
  const gossipIntervalMs = options.gossipIntervalMs ?? 50;
  const drainTimeoutMs = options.drainTimeoutMs ?? 5000;
  const unreadyDelayMs = options.unreadyDelayMs ?? 0;
  const identity = await loadIdentity(dir);
  if (identity.config.address === '' && options.listenAddress === undefined)
    throw new TypeError(`${join(dir, CONFIG_FILE)}: a node needs a listen address`);
  const limits = resolveNodeLimits(identity.config.limits, options.limits);
  const httpAddress = options.httpAddress ?? identity.config.http ?? '';

  // Readiness: `listening` once the TLS listener is bound; `unready` from the moment stop() begins; new
  // requests are refused once `stopping` (after unreadyDelayMs).
  let listening = false;
  let unready = false;
  let stopping = false;
  const ready = () => listening && !unready;
  const requests = new RequestMetrics();
  const admission = new Admission(limits, clock);
  // Filled in as the node comes up: /metrics (served from the start) shows what exists so far.
  const parts: {
    server?: BftkvServer;
    storage?: LmdbStorage;
    tlsServer?: TlsServer;
    transport?: TlsTransport;
  } = {};
  const metrics = () =>
    renderNodeMetrics({
      id: identity.id,
      uid: identity.config.uid,
      limits,
      ready: ready(),
      requests,
      admission,
      ...parts,
    });

  // The operations listener comes first, so /livez answers (and /readyz says 503) while storage opens.
  const http: OpsHttpServer | null =
    httpAddress === ''
      ? null
      : await startOpsHttp(httpAddress, {
          ready,
          metrics,
          onError: (error) =>
            log({ level: 'error', event: 'metrics-failed', id: identity.id, error: String(error) }),
        });

  const running = new Set<Promise<unknown>>();
  let address: string;
  let storage: LmdbStorage;
  let transport: TlsTransport;
  let server: BftkvServer;
  let tlsServer: TlsServer;
  try {
    storage = parts.storage = await LmdbStorage.open(join(dir, 'db'));
    transport = parts.transport = new TlsTransport({ key: identity.key, clock, random });
    server = parts.server = await BftkvServer.open({
      key: identity.key,
      certificate: identity.certificate,
      storage,
      clock,
      random,
      transport,
      onRevoke: (accused) => log({ level: 'warn', event: 'revoke', id: identity.id, accused }),
    });
    const handle = admission.wrap(requests.wrap((from, payload) => server.handle(from, payload)));
    tlsServer = parts.tlsServer = new TlsServer({
      key: identity.key,
      random,
      concurrencyPerConnection: limits.concurrencyPerConnection,
      connectionsMax: limits.connectionsMax,
      handler: (from, payload) => {
        if (stopping) return Promise.reject(new StoppingError('node is stopping'));
        const p = handle(from, payload);
        running.add(p);
        const done = () => running.delete(p);
        p.then(done, done);
        return p;
      },
    });
    address = await tlsServer.listen(options.listenAddress ?? identity.config.address);
  } catch (error) {
    await parts.transport?.close();
    await parts.storage?.close().catch(() => undefined);
    await http?.close();
    throw error;
  }
  listening = true;

  const gossipAbort = new AbortController();
  let gossiping: Promise<void> | null = null;
  const timer = setInterval(() => {
    if (gossiping !== null || stopping) return;
    gossiping = server
      .gossipRound(gossipAbort.signal)
      .catch((error: unknown) =>
        log({ level: 'warn', event: 'gossip-failed', id: identity.id, error: String(error) }),
      )
      .finally(() => {
        gossiping = null;
      });
  }, gossipIntervalMs);

  log({
    level: 'info',
    event: 'start',
    id: identity.id,
    uid: identity.config.uid,
    address,
    http: http?.address ?? null,
    limits,
    pid: process.pid,
  });

  let stopped: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      unready = true;
      const started = clock.now();
      if (unreadyDelayMs > 0) await clock.sleep(unreadyDelayMs);
      stopping = true;
      clearInterval(timer);
      // Finish what is running (bounded), then close everything.
      const drain = Promise.allSettled([...running]).then(() => undefined);
      // The deadline's timer is cancelled once the drain wins, so it does not keep the process alive.
      const drainDeadline = new AbortController();
      await Promise.race([drain, clock.sleep(drainTimeoutMs, drainDeadline.signal).catch(() => undefined)]);
      drainDeadline.abort();
      const unfinished = running.size;
      gossipAbort.abort();
      await tlsServer.close();
      await (gossiping ?? Promise.resolve());
      await transport.close();
      await Promise.allSettled([...running]);
      await http?.close();
      await storage.close();
      log({
        level: 'info',
        event: 'stop',
        id: identity.id,
        address,
        drainMs: clock.now() - started,
        unfinished,
        stats: server.stats,
        admission: admission.stats,
      });
    })();
    return stopped;
  };

  return {
    id: identity.id,
    address,
    server,
    httpAddress: http?.address ?? null,
    limits,
    ready,
    metrics,
    stop,
  };
}
