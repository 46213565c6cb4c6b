/**
 * Admission control in front of the protocol server (docs/OPERATIONS.md): a token bucket per authenticated
 * peer and a node-wide cap on handlers running at once.
 *
 * A request over either limit is answered at once with a typed error response (`rateLimited` or `busy`,
 * protocol/errors.ts) and is not processed: nothing is queued, nothing throws. A client counts such an
 * answer as a failed answer from this node and its quorum logic carries on with the others, exactly as for
 * any other refusal. The rate is checked first, so a peer over its rate never takes a handler slot.
 */
import { setBounded } from '../collections/bounded.js';
import type { Clock } from '../env/clock.js';
import { encodeResponse } from '../protocol/messages.js';
import type { RequestHandler } from '../transport/transport.js';
import { PEER_BUCKETS_MAX, type NodeLimits } from './config.js';

function checkLimit(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name}: expected a positive integer, got ${v}`);
  return v;
}

interface Bucket {
  tokens: number;
  atMs: number;
}

/**
 * One token bucket per peer (refilled at `ratePerSecond`, holding at most `burst` tokens), created full on a
 * peer's first request. At most `peersMax` buckets exist: the least recently seen is dropped for a new peer.
 * A bucket idle for burst / ratePerSecond seconds is full again, so dropping it changes nothing; dropping a
 * busier one hands that peer a fresh burst, which needs `peersMax` other peers (each an authenticated key,
 * each holding a connection) to be active at once.
 */
export class PeerRateLimiter {
  readonly ratePerSecond: number;
  readonly burst: number;
  readonly peersMax: number;
  readonly #clock: Pick<Clock, 'now'>;
  /** Least recently seen first (a Map keeps insertion order; a peer is re-inserted on every request). */
  readonly #buckets = new Map<string, Bucket>();

  constructor(options: {
    ratePerSecond: number;
    burst: number;
    clock: Pick<Clock, 'now'>;
    peersMax?: number;
  }) {
    this.ratePerSecond = checkLimit('ratePerSecond', options.ratePerSecond);
    this.burst = checkLimit('burst', options.burst);
    this.peersMax = checkLimit('peersMax', options.peersMax ?? PEER_BUCKETS_MAX);
    this.#clock = options.clock;
  }

  /** Takes one token from `peer`'s bucket; false (and nothing taken) when it holds less than one. */
  take(peer: string): boolean {
    const now = this.#clock.now();
    let bucket = this.#buckets.get(peer);
    if (bucket === undefined) bucket = { tokens: this.burst, atMs: now };
    else {
      const elapsedMs = Math.max(0, now - bucket.atMs);
      bucket.tokens = Math.min(this.burst, bucket.tokens + (elapsedMs * this.ratePerSecond) / 1000);
      bucket.atMs = now;
    }
    setBounded(this.#buckets, peer, bucket, this.peersMax);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  /** Peers holding a bucket now (≤ peersMax). */
  get peers(): number {
    return this.#buckets.size;
  }
}

/** A counting limit on work running at once; `tryAcquire` never waits. */
export class ConcurrencyLimit {
  readonly max: number;
  #running = 0;

  constructor(max: number) {
    this.max = checkLimit('max', max);
  }

  /** Takes a slot if one is free. */
  tryAcquire(): boolean {
    if (this.#running >= this.max) return false;
    this.#running++;
    return true;
  }

  /** Gives back a slot taken by tryAcquire. */
  release(): void {
    // Invariant: every release matches one successful tryAcquire.
    if (this.#running <= 0) throw new Error('ConcurrencyLimit.release without a matching tryAcquire');
    this.#running--;
  }

  get running(): number {
    return this.#running;
  }
}

export interface AdmissionStats {
  /** Requests handed to the wrapped handler. */
  admitted: number;
  /** Requests answered `rateLimited`. */
  rateLimited: number;
  /** Requests answered `busy`. */
  busy: number;
}

/** The per-peer rate and the node-wide concurrency cap of NodeLimits, applied to a RequestHandler. */
export class Admission {
  readonly rate: PeerRateLimiter;
  readonly concurrency: ConcurrencyLimit;
  readonly stats: AdmissionStats = { admitted: 0, rateLimited: 0, busy: 0 };
  readonly #rateLimitedResponse: Uint8Array;
  readonly #busyResponse: Uint8Array;

  constructor(
    limits: Pick<NodeLimits, 'ratePerPeer' | 'burstPerPeer' | 'concurrentRequestsMax'>,
    clock: Pick<Clock, 'now'>,
    peersMax?: number,
  ) {
    this.rate = new PeerRateLimiter({
      ratePerSecond: limits.ratePerPeer,
      burst: limits.burstPerPeer,
      clock,
      ...(peersMax === undefined ? {} : { peersMax }),
    });
    this.concurrency = new ConcurrencyLimit(limits.concurrentRequestsMax);
    this.#rateLimitedResponse = encodeResponse({
      kind: 'error',
      code: 'rateLimited',
      message: `over ${limits.ratePerPeer} requests/s (burst ${limits.burstPerPeer}) from this peer`,
      timestamp: 0n,
    });
    this.#busyResponse = encodeResponse({
      kind: 'error',
      code: 'busy',
      message: `${limits.concurrentRequestsMax} requests already running at this node`,
      timestamp: 0n,
    });
  }

  /**
   * `handler` behind the limits. Requests from no proved identity (`from` null) share one bucket. The
   * handler's slot is held until its promise settles, whichever way.
   */
  wrap(handler: RequestHandler): RequestHandler {
    return (from, payload) => {
      if (!this.rate.take(from ?? '')) {
        this.stats.rateLimited++;
        return Promise.resolve(this.#rateLimitedResponse);
      }
      if (!this.concurrency.tryAcquire()) {
        this.stats.busy++;
        return Promise.resolve(this.#busyResponse);
      }
      this.stats.admitted++;
      let result: Promise<Uint8Array>;
      try {
        result = handler(from, payload);
      } catch (error) {
        result = Promise.reject(error instanceof Error ? error : new Error(String(error)));
      }
      const release = () => this.concurrency.release();
      result.then(release, release);
      return result;
    };
  }
}
