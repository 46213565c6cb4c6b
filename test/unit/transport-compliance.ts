/**
 * The Transport compliance suite: one set of node:test tests that every Transport implementation must pass
 * (the contract in src/transport/transport.ts). Not a test file itself: a `*.test.ts` file calls
 * `transportComplianceSuite` once per implementation.
 *
 * Handlers here never use real timers: they wait on gates the test opens, so the same tests run on the
 * simulator's virtual time (whose harness drives the event loop while requests are pending) and on sockets.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AbortedError } from '../../src/env/clock.js';
import { LIMITS } from '../../src/limits.js';
import { TransportError, type RequestHandler, type Transport } from '../../src/transport/transport.js';

/** What the suite needs from an implementation: a fresh network per test. */
export interface TransportHarness {
  /** The transport node `id` sends through (its requests must arrive with `from = id`). */
  transportFor(id: string): Transport;
  /** Starts node `id` answering with `handler`; resolves with the address to reach it. */
  register(id: string, handler: RequestHandler): Promise<string>;
  /** At least three NodeIds the harness can send from and register. */
  ids: string[];
  /** An address where no node answers (for the unreachable-peer test). */
  unreachableAddress: string;
  /** Releases everything (sockets, timers); called after each test, also on failure. */
  teardown(): Promise<void>;
}

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

/** A promise with its resolve function. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Awaits `p` and returns its rejection (fails when it resolves). */
export async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  assert.fail('expected a rejection');
}

/** Deterministic bytes of length `n` (a different pattern per `tag`). */
function pattern(n: number, tag: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + tag * 7 + (i >> 8)) & 0xff;
  return b;
}

const TEST_TIMEOUT_MS = 30_000;

export function transportComplianceSuite(name: string, setup: () => Promise<TransportHarness>): void {
  /** Runs `fn` on a fresh harness and always tears it down. */
  async function withNetwork(fn: (h: TransportHarness) => Promise<void>): Promise<void> {
    const h = await setup();
    assert.ok(h.ids.length >= 3, 'harness must provide at least three ids');
    try {
      await fn(h);
    } finally {
      await h.teardown();
    }
  }

  const options = { timeout: TEST_TIMEOUT_MS };

  void describe(`Transport compliance: ${name}`, () => {
    void test('request/response round trip', options, () =>
      withNetwork(async (h) => {
        const [a, b] = h.ids as [string, string];
        const address = await h.register(b, async (_from, payload) => enc(`echo:${dec(payload)}`));
        const response = await h.transportFor(a).request(b, address, enc('hello'));
        assert.equal(dec(response), 'echo:hello');
        assert.ok(response instanceof Uint8Array);
      }),
    );

    void test('the handler sees the authenticated sender id', options, () =>
      withNetwork(async (h) => {
        const [a, b, c] = h.ids as [string, string, string];
        const address = await h.register(b, async (from) => enc(from ?? 'null'));
        assert.equal(dec(await h.transportFor(a).request(b, address, enc('x'))), a);
        assert.equal(dec(await h.transportFor(c).request(b, address, enc('x'))), c);
      }),
    );

    void test('concurrent requests to one peer each get their own answer', options, () =>
      withNetwork(async (h) => {
        const [a, b] = h.ids as [string, string];
        // Answers leave out of order: requests are held in batches and released last-in first-out.
        const batch = 8;
        let held: (() => void)[] = [];
        const address = await h.register(b, async (_from, payload) => {
          const gate = deferred();
          held.push(gate.resolve);
          if (held.length === batch) {
            const release = held.reverse();
            held = [];
            for (const r of release) r();
          }
          await gate.promise;
          return enc(`answer:${dec(payload)}`);
        });
        const transport = h.transportFor(a);
        const count = batch * 25;
        const responses = await Promise.all(
          Array.from({ length: count }, (_, i) => transport.request(b, address, enc(`q${i}`))),
        );
        responses.forEach((r, i) => assert.equal(dec(r), `answer:q${i}`));
      }),
    );

    void test('abort rejects with AbortedError and the late answer is ignored', options, () =>
      withNetwork(async (h) => {
        const [a, b] = h.ids as [string, string];
        const arrived = deferred();
        const release = deferred();
        let calls = 0;
        const address = await h.register(b, async (_from, payload) => {
          calls++;
          if (dec(payload) === 'slow') {
            arrived.resolve();
            await release.promise;
            return enc('late answer');
          }
          return enc(`fresh:${dec(payload)}`);
        });
        const transport = h.transportFor(a);
        const ctl = new AbortController();
        const slow = transport.request(b, address, enc('slow'), ctl.signal);
        const slowOutcome = rejection(slow);
        await arrived.promise;
        ctl.abort();
        assert.ok((await slowOutcome) instanceof AbortedError);
        release.resolve();
        // The late answer must not be delivered to anyone else.
        for (let i = 0; i < 5; i++)
          assert.equal(dec(await transport.request(b, address, enc(`n${i}`))), `fresh:n${i}`);
        assert.equal(calls, 6);
        // An already aborted signal rejects at once.
        const done = new AbortController();
        done.abort();
        assert.ok(
          (await rejection(transport.request(b, address, enc('never'), done.signal))) instanceof AbortedError,
        );
      }),
    );

    void test('an unreachable peer rejects with TransportError', options, () =>
      withNetwork(async (h) => {
        const [a, , c] = h.ids as [string, string, string];
        const e = await rejection(h.transportFor(a).request(c, h.unreachableAddress, enc('anyone?')));
        assert.ok(e instanceof TransportError, `got ${String(e)}`);
        assert.equal(e.peer, c);
      }),
    );

    void test('a handler rejection gives TransportError', options, () =>
      withNetwork(async (h) => {
        const [a, b] = h.ids as [string, string];
        const address = await h.register(b, async (_from, payload) => {
          if (dec(payload) === 'fail') throw new Error('storage failure');
          return enc('ok');
        });
        const transport = h.transportFor(a);
        const e = await rejection(transport.request(b, address, enc('fail')));
        assert.ok(e instanceof TransportError, `got ${String(e)}`);
        // The peer stays reachable afterwards (a transport may reconnect).
        assert.equal(dec(await transport.request(b, address, enc('again'))), 'ok');
      }),
    );

    void test('an oversize payload is rejected before sending', options, () =>
      withNetwork(async (h) => {
        const [a, b] = h.ids as [string, string];
        let calls = 0;
        const address = await h.register(b, async () => {
          calls++;
          return enc('ok');
        });
        const transport = h.transportFor(a);
        const e = await rejection(transport.request(b, address, new Uint8Array(LIMITS.messageBytesMax + 1)));
        assert.ok(e instanceof TransportError, `got ${String(e)}`);
        assert.equal(dec(await transport.request(b, address, enc('small'))), 'ok');
        assert.equal(calls, 1);
      }),
    );

    void test('a 1 MiB payload and a 1 MiB answer round trip intact', options, () =>
      withNetwork(async (h) => {
        const [a, b] = h.ids as [string, string];
        const address = await h.register(b, async (_from, payload) => payload.slice().reverse());
        const payload = pattern(1 << 20, 1);
        const response = await h.transportFor(a).request(b, address, payload);
        assert.equal(response.length, payload.length);
        assert.ok(Buffer.from(response).equals(Buffer.from(payload.slice().reverse())));
      }),
    );
  });
}
