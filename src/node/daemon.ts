/**
 * The node daemon: one BftkvServer over LmdbStorage (DIR/db), reachable through a TlsServer on the
 * configured address, sending its own requests (gossip) through a TlsTransport, with a gossip timer.
 *
 * Graceful stop: new requests are refused (the transport answers with GOAWAY, so clients move them
 * elsewhere), requests already running finish (up to `drainTimeoutMs`), then the listener and every
 * connection close, the gossip timer stops and storage closes.
 */
import { join } from 'node:path';
import { systemClock, type Clock } from '../env/clock.js';
import { secureRandom, type Random } from '../env/random.js';
import { BftkvServer } from '../protocol/server.js';
import { LmdbStorage } from '../storage/lmdb.js';
import { TlsServer, TlsTransport } from '../transport/tls.js';
import type { NodeId } from '../trust/certificate.js';
import { loadIdentity } from './identity.js';

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
}

export interface RunningNode {
  readonly id: NodeId;
  /** The address actually bound. */
  readonly address: string;
  readonly server: BftkvServer;
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
  const identity = await loadIdentity(dir);
  if (identity.config.address === '' && options.listenAddress === undefined)
    throw new TypeError(`${join(dir, 'config.json')}: a node needs a listen address`);
  const storage = await LmdbStorage.open(join(dir, 'db'));
  const transport = new TlsTransport({ key: identity.key, clock, random });
  let server: BftkvServer;
  try {
    server = await BftkvServer.open({
      key: identity.key,
      certificate: identity.certificate,
      storage,
      clock,
      random,
      transport,
      onRevoke: (accused) => log({ level: 'warn', event: 'revoke', id: identity.id, accused }),
    });
  } catch (error) {
    await transport.close();
    await storage.close().catch(() => undefined);
    throw error;
  }

  let stopping = false;
  const running = new Set<Promise<unknown>>();
  const tlsServer = new TlsServer({
    key: identity.key,
    random,
    handler: (from, payload) => {
      if (stopping) return Promise.reject(new StoppingError('node is stopping'));
      const p = server.handle(from, payload);
      running.add(p);
      const done = () => running.delete(p);
      p.then(done, done);
      return p;
    },
  });
  let address: string;
  try {
    address = await tlsServer.listen(options.listenAddress ?? identity.config.address);
  } catch (error) {
    await transport.close();
    await storage.close().catch(() => undefined);
    throw error;
  }

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
    pid: process.pid,
  });

  let stopped: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      stopping = true;
      clearInterval(timer);
      const started = clock.now();
      // Finish what is running (bounded), then close everything.
      const drain = Promise.allSettled([...running]).then(() => undefined);
      await Promise.race([drain, clock.sleep(drainTimeoutMs)]);
      const unfinished = running.size;
      gossipAbort.abort();
      await tlsServer.close();
      await (gossiping ?? Promise.resolve());
      await transport.close();
      await Promise.allSettled([...running]);
      await storage.close();
      log({
        level: 'info',
        event: 'stop',
        id: identity.id,
        address,
        drainMs: clock.now() - started,
        unfinished,
        stats: server.stats,
      });
    })();
    return stopped;
  };

  return { id: identity.id, address, server, stop };
}
