/**
 * A virtual network on the simulation's event queue: request/response byte messages between nodes named by
 * NodeId strings, with random delays (hence reordering), loss, duplication, partitions and crashed nodes.
 * Senders are authenticated: a request sent through `transportFor(id)` always arrives with `from = id`.
 * Every random choice is drawn from the SeededRandom given to the constructor, in event order, so one seed
 * always produces the same run.
 */
import { AbortedError } from '../../src/env/clock.js';
import { LIMITS } from '../../src/limits.js';
import { TransportError, type RequestHandler, type Transport } from '../../src/transport/transport.js';
import type { Simulation } from './event-loop.js';
import type { SeededRandom } from './prng.js';

export interface NetworkFaults {
  /** Smallest one-way delay of a message, in virtual ms. */
  delayMinMs: number;
  /** Largest one-way delay (inclusive). Integer bounds give integer delays. */
  delayMaxMs: number;
  /** Probability that a message (request or response) silently disappears. */
  lossRate: number;
  /** Probability that a request is delivered a second time (with its own delay and loss). */
  duplicateRate: number;
}

export interface NetworkStats {
  /** Messages put on the wire (requests and responses; duplicate copies are counted in `duplicated`). */
  sent: number;
  /** Copies that reached a handler, or a waiting caller. */
  delivered: number;
  /** Copies lost, cut by a partition, or arriving for a caller that no longer waits (aborted, answered). */
  dropped: number;
  /** Extra request copies injected by duplication. */
  duplicated: number;
  /** Request copies that arrived at a node that is not registered. */
  refused: number;
}

export const DEFAULT_FAULTS: Readonly<NetworkFaults> = Object.freeze({
  delayMinMs: 1,
  delayMaxMs: 5,
  lossRate: 0,
  duplicateRate: 0,
});

interface Registration {
  readonly handler: RequestHandler;
}

interface PendingRequest {
  readonly resolve: (response: Uint8Array) => void;
  readonly reject: (error: Error) => void;
  readonly cleanup: () => void;
}

type Outcome = { ok: true; payload: Uint8Array } | { ok: false; error: TransportError };

function short(id: string): string {
  return id.slice(0, 8);
}

function validateFaults(f: NetworkFaults): void {
  const { delayMinMs: min, delayMaxMs: max, lossRate, duplicateRate } = f;
  if (!Number.isFinite(min) || !Number.isFinite(max) || min < 0 || max < min) {
    throw new RangeError(`network faults: need 0 ≤ delayMinMs ≤ delayMaxMs, got [${min}, ${max}]`);
  }
  for (const [name, p] of [
    ['lossRate', lossRate],
    ['duplicateRate', duplicateRate],
  ] as const) {
    if (!(p >= 0 && p <= 1)) throw new RangeError(`network faults: ${name} must be in [0, 1], got ${p}`);
  }
}

export class SimNetwork {
  readonly #sim: Simulation;
  readonly #random: SeededRandom;
  #faults: NetworkFaults;
  readonly #nodes = new Map<string, Registration>();
  /** Partition group index of each node listed in the current partition. */
  #groups = new Map<string, number>();
  readonly #isolated = new Set<string>();
  readonly #pending = new Map<number, PendingRequest>();
  #nextRequestId = 1;
  readonly #stats: NetworkStats = { sent: 0, delivered: 0, dropped: 0, duplicated: 0, refused: 0 };

  constructor(sim: Simulation, random: SeededRandom, faults?: Partial<NetworkFaults>) {
    this.#sim = sim;
    this.#random = random;
    const f = { ...DEFAULT_FAULTS, ...faults };
    validateFaults(f);
    this.#faults = f;
  }

  /** Changes some fault parameters from now on (messages already in flight keep their fate). */
  setFaults(partial: Partial<NetworkFaults>): void {
    const f = { ...this.#faults, ...partial };
    validateFaults(f);
    this.#faults = f;
  }

  /** The current fault parameters (a copy). */
  faults(): NetworkFaults {
    return { ...this.#faults };
  }

  /** Attaches node `id`'s request handler. Throws if `id` is already registered. */
  register(id: string, handler: RequestHandler): void {
    if (this.#nodes.has(id)) throw new Error(`SimNetwork.register: ${id} is already registered`);
    this.#nodes.set(id, { handler });
    this.#sim.trace(`net up ${short(id)}`);
  }

  /**
   * Detaches node `id` (a crash): later requests to it are refused, and responses its handler produces
   * for requests it received before are never sent. Returns false if it was not registered.
   */
  unregister(id: string): boolean {
    const had = this.#nodes.delete(id);
    if (had) this.#sim.trace(`net down ${short(id)}`);
    return had;
  }

  isRegistered(id: string): boolean {
    return this.#nodes.has(id);
  }

  /** The transport node `id` sends through; its requests carry `from = id`. */
  transportFor(id: string): Transport {
    return {
      request: (peer, _address, payload, signal) => this.#request(id, peer, payload, signal),
    };
  }

  /**
   * Splits the network: nodes in different groups cannot exchange messages; nodes listed in no group can
   * still talk to everyone. Replaces any previous partition (isolations stay).
   */
  partition(groups: string[][]): void {
    const map = new Map<string, number>();
    groups.forEach((group, index) => {
      for (const id of group) {
        if (map.has(id)) throw new Error(`SimNetwork.partition: ${id} is listed in two groups`);
        map.set(id, index);
      }
    });
    this.#groups = map;
    this.#sim.trace(`net partition ${groups.map((g) => `[${g.map(short).join(',')}]`).join(' ')}`);
  }

  /** Cuts node `id` off from every other node (until `heal()`). */
  isolate(id: string): void {
    this.#isolated.add(id);
    this.#sim.trace(`net isolate ${short(id)}`);
  }

  /** Removes all partitions and isolations. */
  heal(): void {
    this.#groups = new Map();
    this.#isolated.clear();
    this.#sim.trace('net heal');
  }

  /** Whether a message from `a` to `b` would currently get through the partitions (a node reaches itself). */
  canCommunicate(a: string, b: string): boolean {
    if (a === b) return true;
    if (this.#isolated.has(a) || this.#isolated.has(b)) return false;
    const ga = this.#groups.get(a);
    const gb = this.#groups.get(b);
    return ga === undefined || gb === undefined || ga === gb;
  }

  /** Message counters (a copy). */
  stats(): NetworkStats {
    return { ...this.#stats };
  }

  /** Requests whose caller is still waiting for an answer. */
  pendingRequests(): number {
    return this.#pending.size;
  }

  #request(from: string, peer: string, payload: Uint8Array, signal?: AbortSignal): Promise<Uint8Array> {
    return new Promise<Uint8Array>((resolve, reject) => {
      if (signal?.aborted) return reject(new AbortedError());
      if (payload.length > LIMITS.messageBytesMax) {
        return reject(new TransportError(`payload too large (${payload.length} bytes)`, peer));
      }
      const rid = this.#nextRequestId++;
      const onAbort = () => {
        if (this.#pending.delete(rid)) {
          this.#sim.trace(`net abort req#${rid} ${short(from)}→${short(peer)}`);
          reject(new AbortedError());
        }
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#pending.set(rid, {
        resolve,
        reject,
        cleanup: () => signal?.removeEventListener('abort', onAbort),
      });
      this.#sendRequest(rid, from, peer, new Uint8Array(payload));
    });
  }

  /** Draws a one-way delay: uniform in [min, max], an integer when both bounds are. */
  #drawDelay(): number {
    const { delayMinMs: min, delayMaxMs: max } = this.#faults;
    if (Number.isInteger(min) && Number.isInteger(max)) return min + this.#random.int(max - min + 1);
    return min + this.#random.float() * (max - min);
  }

  #sendRequest(rid: number, from: string, peer: string, payload: Uint8Array): void {
    // Fixed draw order: delay, loss, duplicate, then (duplicate only) its delay and loss.
    const delay = this.#drawDelay();
    const lost = this.#random.chance(this.#faults.lossRate);
    const dup = this.#random.chance(this.#faults.duplicateRate);
    this.#stats.sent++;
    const tag = `req#${rid} ${short(from)}→${short(peer)}`;
    this.#sim.trace(`net send ${tag} ${payload.length}B +${delay}ms${lost ? ' (will be lost)' : ''}`);
    this.#scheduleRequestCopy(rid, from, peer, payload, delay, lost, tag);
    if (dup) {
      const dupDelay = this.#drawDelay();
      const dupLost = this.#random.chance(this.#faults.lossRate);
      this.#stats.duplicated++;
      this.#sim.trace(`net dup ${tag} +${dupDelay}ms${dupLost ? ' (will be lost)' : ''}`);
      this.#scheduleRequestCopy(rid, from, peer, payload, dupDelay, dupLost, `${tag} (dup)`);
    }
  }

  #scheduleRequestCopy(
    rid: number,
    from: string,
    peer: string,
    payload: Uint8Array,
    delay: number,
    lost: boolean,
    tag: string,
  ): void {
    // A message sent into a cut link is lost, even if the link heals before it would have arrived.
    const cutAtSend = !this.canCommunicate(from, peer);
    this.#sim.schedule(
      delay,
      () => {
        if (lost || cutAtSend || !this.canCommunicate(from, peer)) {
          this.#stats.dropped++;
          this.#sim.trace(`net drop ${tag} (${lost ? 'loss' : 'partition'})`);
          return;
        }
        const reg = this.#nodes.get(peer);
        if (reg === undefined) {
          this.#stats.refused++;
          this.#sim.trace(`net refused ${tag}`);
          this.#settle(rid, { ok: false, error: new TransportError('connection refused', peer) });
          return;
        }
        this.#stats.delivered++;
        this.#sim.trace(`net deliver ${tag}`);
        let result: Promise<Uint8Array>;
        try {
          result = reg.handler(from, new Uint8Array(payload));
        } catch (e) {
          result = Promise.reject(e instanceof Error ? e : new Error(String(e)));
        }
        result.then(
          (response) => this.#sendResponse(rid, peer, from, reg, response),
          () => this.#sendResponse(rid, peer, from, reg, undefined),
        );
      },
      'net-request',
    );
  }

  /** Sends the answer to request `rid` from `peer` back to `to`; `response` undefined means the handler failed. */
  #sendResponse(
    rid: number,
    peer: string,
    to: string,
    reg: Registration,
    response: Uint8Array | undefined,
  ): void {
    const tag = `resp#${rid} ${short(peer)}→${short(to)}`;
    if (this.#nodes.get(peer) !== reg) {
      // The node crashed (or restarted) while handling the request: its answer is never sent.
      this.#sim.trace(`net discard ${tag} (node down)`);
      return;
    }
    let outcome: Outcome;
    if (response === undefined) {
      outcome = { ok: false, error: new TransportError('peer failed', peer) };
    } else if (response.length > LIMITS.messageBytesMax) {
      outcome = {
        ok: false,
        error: new TransportError(`response too large (${response.length} bytes)`, peer),
      };
    } else {
      outcome = { ok: true, payload: new Uint8Array(response) };
    }
    const delay = this.#drawDelay();
    const lost = this.#random.chance(this.#faults.lossRate);
    this.#stats.sent++;
    const what = outcome.ok ? `${outcome.payload.length}B` : 'failure';
    this.#sim.trace(`net send ${tag} ${what} +${delay}ms${lost ? ' (will be lost)' : ''}`);
    const cutAtSend = !this.canCommunicate(peer, to);
    this.#sim.schedule(
      delay,
      () => {
        if (lost || cutAtSend || !this.canCommunicate(peer, to)) {
          this.#stats.dropped++;
          this.#sim.trace(`net drop ${tag} (${lost ? 'loss' : 'partition'})`);
          return;
        }
        if (!this.#pending.has(rid)) {
          this.#stats.dropped++;
          this.#sim.trace(`net drop ${tag} (no caller waiting)`);
          return;
        }
        this.#stats.delivered++;
        this.#sim.trace(`net deliver ${tag}`);
        this.#settle(rid, outcome);
      },
      'net-response',
    );
  }

  /** Completes request `rid` once; later outcomes for it are ignored. */
  #settle(rid: number, outcome: Outcome): void {
    const p = this.#pending.get(rid);
    if (p === undefined) return;
    this.#pending.delete(rid);
    p.cleanup();
    if (outcome.ok) p.resolve(outcome.payload);
    else p.reject(outcome.error);
  }
}
