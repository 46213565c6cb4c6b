import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { AbortedError, TimeoutError, withDeadline } from '../../src/env/clock.js';
import { TransportError, type RequestHandler } from '../../src/transport/transport.js';
import { SeededRandom } from '../sim/prng.js';
import { Simulation } from '../sim/event-loop.js';
import { SimNetwork } from '../sim/network.js';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** Runs the simulation until `p` settles (or the queue empties), and returns how it settled. */
async function settle<T>(sim: Simulation, p: Promise<T>, maxTimeMs = 1_000_000): Promise<Settled<T>> {
  let result: Settled<T> | undefined;
  p.then(
    (value) => (result = { ok: true, value }),
    (error: unknown) => (result = { ok: false, error }),
  );
  const how = await sim.runUntil(() => result !== undefined, { maxTimeMs, maxEvents: 1_000_000 });
  assert.ok(result !== undefined, `promise did not settle (run ended: ${how})`);
  return result;
}

async function expectValue<T>(sim: Simulation, p: Promise<T>): Promise<T> {
  const r = await settle(sim, p);
  if (!r.ok) throw r.error;
  return r.value;
}

async function expectError(sim: Simulation, p: Promise<unknown>): Promise<unknown> {
  const r = await settle(sim, p);
  assert.ok(!r.ok, 'expected a rejection');
  return r.error;
}

const echo: RequestHandler = async (from, payload) => enc(`${from ?? '?'}:${dec(payload)}`);

void describe('SeededRandom', () => {
  void test('same seed gives the same sequence; different seeds differ', () => {
    const draw = (r: SeededRandom) => [
      Buffer.from(r.bytes(16)).toString('hex'),
      r.int(1000),
      r.int(2 ** 40),
      r.float(),
      r.chance(0.5),
    ];
    assert.deepEqual(draw(new SeededRandom(42)), draw(new SeededRandom(42)));
    assert.deepEqual(draw(new SeededRandom('abc')), draw(new SeededRandom('abc')));
    assert.deepEqual(draw(new SeededRandom(7n)), draw(new SeededRandom(7)), 'integer seeds: bigint = number');
    assert.notDeepEqual(draw(new SeededRandom(42)), draw(new SeededRandom(43)));
    assert.notDeepEqual(draw(new SeededRandom(42)), draw(new SeededRandom('42')));
    assert.notDeepEqual(draw(new SeededRandom(1.5)), draw(new SeededRandom(1)));
  });

  void test('the byte stream does not depend on how it is cut into draws (chunk boundaries)', () => {
    const a = new SeededRandom('stream');
    const b = new SeededRandom('stream');
    const whole = b.bytes(3 + 5000 + 9000);
    const parts = Buffer.concat([a.bytes(3), a.bytes(5000), a.bytes(9000)]);
    assert.deepEqual(new Uint8Array(parts), whole);
    assert.equal(a.bytes(0).length, 0);
  });

  void test('fork: deterministic, independent of parent draws, distinct per label', () => {
    const p1 = new SeededRandom(1);
    const p2 = new SeededRandom(1);
    p2.bytes(12345); // draws on the parent do not move the child
    const c1 = p1.fork('net');
    const c2 = p2.fork('net');
    assert.deepEqual(c1.bytes(64), c2.bytes(64));
    assert.notDeepEqual(p1.fork('net').bytes(32), p1.fork('nodes').bytes(32));
    assert.notDeepEqual(p1.fork('net').bytes(32), new SeededRandom(2).fork('net').bytes(32));
    assert.notDeepEqual(p1.fork('x').bytes(32), p1.fork('x').fork('x').bytes(32));

    // Drawing from a child does not perturb the parent or a sibling.
    const q1 = new SeededRandom(9);
    const q2 = new SeededRandom(9);
    const sib1 = q1.fork('b');
    q1.fork('a').bytes(1000);
    const sib2 = q2.fork('b');
    assert.deepEqual(q1.bytes(32), q2.bytes(32));
    assert.deepEqual(sib1.bytes(32), sib2.bytes(32));
  });

  void test('int(): range, validation, rough uniformity', () => {
    const r = new SeededRandom('int');
    for (let i = 0; i < 100; i++) assert.equal(r.int(1), 0);
    for (const max of [2, 3, 7, 1000, 2 ** 31 + 1, 2 ** 32, 2 ** 32 + 5, 2 ** 53]) {
      for (let i = 0; i < 200; i++) {
        const x = r.int(max);
        assert.ok(Number.isInteger(x) && x >= 0 && x < max, `${x} not in [0, ${max})`);
      }
    }
    for (const bad of [0, -1, 1.5, NaN, Infinity, 2 ** 53 + 2]) assert.throws(() => r.int(bad), RangeError);

    const buckets = 7;
    const n = 70_000;
    const counts = new Array<number>(buckets).fill(0);
    for (let i = 0; i < n; i++) counts[r.int(buckets)]!++;
    const expected = n / buckets;
    const chi2 = counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
    assert.ok(chi2 < 30, `chi-square ${chi2} too large for ${JSON.stringify(counts)}`); // df = 6

    // A range that is not a power of two and close to 2^32 would be badly biased without rejection.
    const big = 3 * 2 ** 30; // 3/4 of 2^32
    let low = 0;
    for (let i = 0; i < 20_000; i++) if (r.int(big) < 2 ** 30) low++;
    assert.ok(Math.abs(low / 20_000 - 1 / 3) < 0.02, `low third frequency ${low / 20_000}`);
  });

  void test('float, chance, pick, shuffle', () => {
    const r = new SeededRandom('misc');
    let sum = 0;
    for (let i = 0; i < 10_000; i++) {
      const f = r.float();
      assert.ok(f >= 0 && f < 1);
      sum += f;
    }
    assert.ok(Math.abs(sum / 10_000 - 0.5) < 0.02);
    for (let i = 0; i < 100; i++) {
      assert.equal(r.chance(0), false);
      assert.equal(r.chance(1), true);
    }
    let hits = 0;
    for (let i = 0; i < 10_000; i++) if (r.chance(0.3)) hits++;
    assert.ok(Math.abs(hits / 10_000 - 0.3) < 0.03);

    const arr = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'] as const;
    assert.ok(arr.includes(r.pick(arr)));
    assert.throws(() => r.pick([]), RangeError);
    const shuffled = r.shuffle(arr);
    assert.deepEqual([...shuffled].sort(), [...arr]);
    assert.deepEqual(arr, ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'], 'input untouched');
    const orders = new Set<string>();
    for (let i = 0; i < 50; i++) orders.add(r.shuffle(arr).join(''));
    assert.ok(orders.size > 40);
  });
});

void describe('Simulation', () => {
  void test('events run in time order, ties in insertion order', async () => {
    const sim = new Simulation();
    const log: string[] = [];
    sim.schedule(5, () => log.push(`a@${sim.now}`));
    sim.schedule(1, () => log.push(`b@${sim.now}`));
    sim.schedule(5, () => log.push(`c@${sim.now}`));
    sim.schedule(0, () => log.push(`d@${sim.now}`));
    sim.schedule(1, () => {
      log.push(`e@${sim.now}`);
      sim.schedule(0, () => log.push(`f@${sim.now}`)); // same time, inserted last: runs after e
      sim.schedule(4, () => log.push(`g@${sim.now}`)); // t=5, after a and c
    });
    assert.equal(sim.pending(), 5);
    assert.equal(await sim.runUntil(() => false, { maxTimeMs: 100, maxEvents: 100 }), 'idle');
    assert.deepEqual(log, ['d@0', 'b@1', 'e@1', 'f@1', 'a@5', 'c@5', 'g@5']);
    assert.equal(sim.now, 5);
    assert.equal(sim.pending(), 0);
  });

  void test('heap keeps order for many random events', async () => {
    const sim = new Simulation();
    const r = new SeededRandom('heap');
    const seen: [number, number][] = [];
    for (let i = 0; i < 2000; i++) {
      const t = r.int(100);
      sim.schedule(t, () => seen.push([sim.now, i]));
    }
    await sim.runFor(1000);
    assert.equal(seen.length, 2000);
    for (let k = 1; k < seen.length; k++) {
      const [t0, i0] = seen[k - 1]!;
      const [t1, i1] = seen[k]!;
      assert.ok(t0 < t1 || (t0 === t1 && i0 < i1), `out of order at ${k}`);
    }
  });

  void test('cancel', async () => {
    const sim = new Simulation();
    const log: number[] = [];
    const a = sim.schedule(1, () => log.push(1));
    const b = sim.schedule(2, () => log.push(2));
    sim.schedule(3, () => log.push(3));
    assert.equal(sim.cancel(b), true);
    assert.equal(sim.cancel(b), false);
    assert.equal(sim.pending(), 2);
    await sim.runFor(10);
    assert.deepEqual(log, [1, 3]);
    assert.equal(sim.cancel(a), false, 'already ran');
    assert.throws(() => sim.schedule(-1, () => undefined), RangeError);
    assert.throws(() => sim.schedule(NaN, () => undefined), RangeError);
  });

  void test('clock.sleep resolves at the virtual deadline; abort rejects and cancels', async () => {
    const sim = new Simulation();
    const times: number[] = [];
    const sleeper = async () => {
      await sim.clock.sleep(10);
      times.push(sim.clock.now());
      await sim.clock.sleep(5);
      times.push(sim.clock.now());
    };
    await expectValue(sim, sleeper());
    assert.deepEqual(times, [10, 15]);

    const ctl = new AbortController();
    const p = sim.clock.sleep(100, ctl.signal);
    sim.schedule(3, () => ctl.abort());
    const err = await expectError(sim, p);
    assert.ok(err instanceof AbortedError);
    assert.equal(sim.now, 18);
    assert.equal(sim.pending(), 0, 'the sleep event was cancelled');

    const done = new AbortController();
    done.abort();
    await assert.rejects(sim.clock.sleep(1, done.signal), AbortedError);
    assert.equal(sim.pending(), 0);

    const forever = new AbortController();
    const inf = sim.clock.sleep(Infinity, forever.signal);
    assert.equal(sim.pending(), 0, 'an infinite sleep schedules nothing');
    sim.schedule(1000, () => forever.abort());
    assert.ok((await expectError(sim, inf)) instanceof AbortedError);
  });

  void test('withDeadline on the virtual clock times out in virtual time', async () => {
    const sim = new Simulation();
    const p = withDeadline(sim.clock, 50, undefined, (signal) => sim.clock.sleep(1000, signal));
    const err = await expectError(sim, p);
    assert.ok(err instanceof TimeoutError);
    assert.equal(sim.now, 50);
    assert.equal(sim.pending(), 0);
  });

  void test('runUntil limits', async () => {
    const sim = new Simulation();
    let count = 0;
    for (let t = 1; t <= 10; t++) sim.schedule(t * 10, () => count++);

    assert.equal(await sim.runUntil(() => count >= 3, { maxTimeMs: 1000, maxEvents: 1000 }), 'stopped');
    assert.equal(count, 3);
    assert.equal(sim.now, 30);

    assert.equal(await sim.runUntil(() => false, { maxTimeMs: 1000, maxEvents: 2 }), 'event-limit');
    assert.equal(count, 5);
    assert.equal(sim.now, 50);

    assert.equal(await sim.runUntil(() => false, { maxTimeMs: 75, maxEvents: 1000 }), 'time-limit');
    assert.equal(count, 7);
    assert.equal(sim.now, 75, 'time advances to the limit');
    assert.equal(sim.pending(), 3, 'the next event stays queued');

    assert.equal(await sim.runUntil(() => false, { maxTimeMs: 1000, maxEvents: 1000 }), 'idle');
    assert.equal(count, 10);
    assert.equal(sim.now, 100);

    assert.equal(await sim.runFor(25), 'idle');
    assert.equal(sim.now, 125, 'runFor moves time forward even when idle');
  });

  void test('an exception thrown by an event propagates out of runUntil', async () => {
    const sim = new Simulation();
    sim.schedule(1, () => {
      throw new Error('boom');
    });
    sim.schedule(2, () => undefined);
    await assert.rejects(sim.runFor(10), /boom/);
    assert.equal(sim.now, 1);
    assert.equal(await sim.runFor(10), 'idle', 'the simulation can continue');
  });

  void test('a chain of 1000 awaited promises completes within one event', async () => {
    const sim = new Simulation();
    let steps = 0;
    let done = false;
    const nested = async (depth: number): Promise<number> => {
      if (depth === 0) return 0;
      await Promise.resolve();
      return 1 + (await nested(depth - 1));
    };
    sim.schedule(1, () => {
      void (async () => {
        for (let i = 0; i < 1000; i++) {
          await Promise.resolve();
          steps++;
        }
        steps += await nested(1000);
        await new Promise<void>((resolve) => queueMicrotask(resolve));
        await new Promise<void>((resolve) => process.nextTick(resolve));
        done = true;
      })();
    });
    sim.schedule(2, () => undefined);
    assert.equal(await sim.runUntil(() => false, { maxTimeMs: 100, maxEvents: 1 }), 'event-limit');
    assert.equal(steps, 2000);
    assert.equal(done, true);
    assert.equal(sim.now, 1);
  });

  void test('trace lines carry the virtual time, only when enabled', async () => {
    const on = new Simulation({ trace: true });
    on.trace('start');
    on.schedule(7, () => on.trace('tick'));
    await on.runFor(10);
    assert.deepEqual(on.traceLines(), ['[t=0] start', '[t=7] tick']);
    const off = new Simulation();
    off.trace('x');
    assert.deepEqual(off.traceLines(), []);
  });
});

void describe('SimNetwork', () => {
  const A = 'aaaaaaaaaaaaaaaa01';
  const B = 'bbbbbbbbbbbbbbbb02';
  const C = 'cccccccccccccccc03';

  function setup(faults: ConstructorParameters<typeof SimNetwork>[2] = {}, seed: string | number = 'net') {
    const sim = new Simulation({ trace: true });
    const net = new SimNetwork(sim, new SeededRandom(seed), faults);
    return { sim, net };
  }

  void test('round trip in virtual time, authenticated sender, payloads copied', async () => {
    const { sim, net } = setup({ delayMinMs: 3, delayMaxMs: 3 });
    const arrivals: number[] = [];
    let seen: Uint8Array | undefined;
    net.register(B, async (from, payload) => {
      arrivals.push(sim.now);
      seen = payload;
      await sim.clock.sleep(10);
      return enc(`${from}:${dec(payload)}`);
    });
    const buf = enc('hello');
    const p = net.transportFor(A).request(B, 'b.example:1', buf);
    buf.fill(0); // the network copied the payload at send time
    const resp = await expectValue(sim, p);
    assert.equal(dec(resp), `${A}:hello`);
    assert.deepEqual(arrivals, [3]);
    assert.equal(sim.now, 3 + 10 + 3);
    assert.equal(dec(seen!), 'hello');
    assert.deepEqual(net.stats(), { sent: 2, delivered: 2, dropped: 0, duplicated: 0, refused: 0 });
  });

  void test('delays are uniform in [min, max] and reorder messages', async () => {
    const { sim, net } = setup({ delayMinMs: 1, delayMaxMs: 50 });
    const order: number[] = [];
    const times: number[] = [];
    net.register(B, async (_from, payload) => {
      order.push(payload[0]!);
      times.push(sim.now);
      return payload;
    });
    const t = net.transportFor(A);
    const all = Promise.all(Array.from({ length: 30 }, (_, i) => t.request(B, 'b', Uint8Array.of(i))));
    const responses = await expectValue(sim, all);
    assert.deepEqual(
      responses.map((r) => r[0]),
      Array.from({ length: 30 }, (_, i) => i),
    );
    assert.equal(order.length, 30);
    assert.ok(
      times.every((x) => x >= 1 && x <= 50 && Number.isInteger(x)),
      'delays within bounds',
    );
    assert.notDeepEqual(
      order,
      [...order].sort((x, y) => x - y),
      'messages were reordered',
    );
  });

  void test('loss makes the caller time out via withDeadline; lost responses too', async () => {
    const { sim, net } = setup({ lossRate: 1 });
    let calls = 0;
    net.register(B, async (f, p) => {
      calls++;
      return echo(f, p);
    });
    const t = net.transportFor(A);
    const err = await expectError(
      sim,
      withDeadline(sim.clock, 100, undefined, (signal) => t.request(B, 'b', enc('x'), signal)),
    );
    assert.ok(err instanceof TimeoutError);
    assert.equal(sim.now, 100);
    assert.equal(calls, 0);
    assert.equal(net.stats().dropped, 1);
    assert.equal(net.pendingRequests(), 0);
  });

  void test('connection refused when the destination is not registered; peer failed when the handler rejects', async () => {
    const { sim, net } = setup({ delayMinMs: 4, delayMaxMs: 4 });
    const t = net.transportFor(A);
    const err = await expectError(sim, t.request(B, 'b', enc('x')));
    assert.ok(err instanceof TransportError);
    assert.equal(err.message, 'connection refused');
    assert.equal(err.peer, B);
    assert.equal(sim.now, 4);
    assert.equal(net.stats().refused, 1);

    net.register(B, async () => {
      throw new Error('disk on fire');
    });
    const err2 = await expectError(sim, t.request(B, 'b', enc('x')));
    assert.ok(err2 instanceof TransportError);
    assert.equal(err2.message, 'peer failed');
    assert.equal(sim.now, 12);

    assert.equal(net.isRegistered(B), true);
    assert.equal(net.unregister(B), true);
    assert.equal(net.isRegistered(B), false);
    assert.equal(net.unregister(B), false);
  });

  void test('a node that crashes while handling a request never answers', async () => {
    const { sim, net } = setup({ delayMinMs: 1, delayMaxMs: 1 });
    net.register(B, async (f, p) => {
      await sim.clock.sleep(10);
      return echo(f, p);
    });
    sim.schedule(5, () => net.unregister(B));
    const t = net.transportFor(A);
    const err = await expectError(
      sim,
      withDeadline(sim.clock, 50, undefined, (signal) => t.request(B, 'b', enc('x'), signal)),
    );
    assert.ok(err instanceof TimeoutError);
  });

  void test('partition blocks, unlisted nodes reach everyone, isolate cuts off, heal restores', async () => {
    const { sim, net } = setup();
    for (const id of [A, B, C]) net.register(id, echo);
    const ask = (from: string, to: string) =>
      settle(
        sim,
        withDeadline(sim.clock, 100, undefined, (signal) =>
          net.transportFor(from).request(to, 'addr', enc('ping'), signal),
        ),
      );

    net.partition([[A], [B]]);
    assert.equal(net.canCommunicate(A, B), false);
    const blocked = await ask(A, B);
    assert.ok(!blocked.ok && blocked.error instanceof TimeoutError);
    assert.ok((await ask(A, C)).ok, 'C is in no group');
    assert.ok((await ask(C, B)).ok);

    net.heal();
    const healed = await ask(A, B);
    assert.ok(healed.ok);
    assert.equal(dec(healed.value), `${A}:ping`);

    net.isolate(C);
    assert.ok(!(await ask(A, C)).ok);
    assert.ok(!(await ask(C, B)).ok);
    assert.ok((await ask(A, B)).ok);
    net.heal();
    assert.ok((await ask(C, A)).ok);
  });

  void test('messages in flight are dropped if a partition cuts their link before delivery', async () => {
    const { sim, net } = setup({ delayMinMs: 5, delayMaxMs: 5 });
    let calls = 0;
    net.register(B, async (f, p) => {
      calls++;
      return echo(f, p);
    });
    sim.schedule(2, () => net.partition([[A], [B]]));
    sim.schedule(20, () => net.heal());
    const t = net.transportFor(A);
    const r = await settle(
      sim,
      withDeadline(sim.clock, 50, undefined, (signal) => t.request(B, 'b', enc('x'), signal)),
    );
    assert.ok(!r.ok && r.error instanceof TimeoutError);
    assert.equal(calls, 0);
    assert.equal(net.stats().dropped, 1);
  });

  void test('duplicates invoke the handler twice but the caller resolves once', async () => {
    const { sim, net } = setup({ duplicateRate: 1 });
    let calls = 0;
    net.register(B, async (_from, payload) => enc(`${dec(payload)}#${++calls}`));
    let resolutions = 0;
    const p = net
      .transportFor(A)
      .request(B, 'b', enc('x'))
      .then((r) => {
        resolutions++;
        return r;
      });
    const first = await expectValue(sim, p);
    assert.match(dec(first), /^x#[12]$/);
    assert.equal(await sim.runFor(1000), 'idle');
    assert.equal(calls, 2);
    assert.equal(resolutions, 1);
    assert.deepEqual(net.stats(), { sent: 3, delivered: 3, dropped: 1, duplicated: 1, refused: 0 });
  });

  void test('abort rejects once; the late response is ignored', async () => {
    const { sim, net } = setup({ delayMinMs: 5, delayMaxMs: 5 });
    net.register(B, echo);
    const ctl = new AbortController();
    sim.schedule(7, () => ctl.abort());
    const err = await expectError(sim, net.transportFor(A).request(B, 'b', enc('x'), ctl.signal));
    assert.ok(err instanceof AbortedError);
    assert.equal(sim.now, 7);
    await sim.runFor(100);
    assert.equal(net.stats().dropped, 1, 'response arrived at t=10 with nobody waiting');

    const pre = new AbortController();
    pre.abort();
    await assert.rejects(net.transportFor(A).request(B, 'b', enc('x'), pre.signal), AbortedError);
    assert.equal(net.stats().sent, 2, 'nothing sent for an already aborted request');
  });

  void test('fault settings are validated and can change at runtime', async () => {
    const { sim, net } = setup();
    assert.throws(() => net.setFaults({ delayMinMs: 10, delayMaxMs: 5 }), RangeError);
    assert.throws(() => net.setFaults({ lossRate: 1.5 }), RangeError);
    assert.throws(() => new SimNetwork(sim, new SeededRandom(1), { duplicateRate: -1 }), RangeError);
    net.setFaults({ delayMinMs: 20, delayMaxMs: 20 });
    net.register(B, echo);
    await expectValue(sim, net.transportFor(A).request(B, 'b', enc('x')));
    assert.equal(sim.now, 40);
    assert.deepEqual(net.faults(), { delayMinMs: 20, delayMaxMs: 20, lossRate: 0, duplicateRate: 0 });
  });

  /** A scripted scenario with every fault enabled; returns everything observable about the run. */
  async function scenario(seed: string) {
    const root = new SeededRandom(seed);
    const sim = new Simulation({ trace: true });
    const net = new SimNetwork(sim, root.fork('net'), {
      delayMinMs: 1,
      delayMaxMs: 20,
      lossRate: 0.1,
      duplicateRate: 0.2,
    });
    const ids = Array.from({ length: 5 }, (_, i) => `node${i}`.padEnd(16, String(i)));
    const results: string[] = [];
    for (const id of ids) {
      const r = root.fork(`handler:${id}`);
      net.register(id, async (from, payload) => {
        await sim.clock.sleep(r.int(10));
        sim.trace(`${id.slice(0, 8)} handles ${dec(payload)} from ${from?.slice(0, 8)}`);
        return enc(`${id}<${dec(payload)}`);
      });
    }
    const driver = root.fork('driver');
    const clients = ids.map(async (id, k) => {
      const t = net.transportFor(id);
      for (let i = 0; i < 10; i++) {
        const peer = driver.pick(ids.filter((x) => x !== id));
        try {
          const resp = await withDeadline(sim.clock, 60, undefined, (signal) =>
            t.request(peer, 'addr', enc(`${k}.${i}`), signal),
          );
          results.push(`${sim.now} ${id.slice(0, 5)} ok ${dec(resp)}`);
        } catch (e) {
          results.push(`${sim.now} ${id.slice(0, 5)} ${(e as Error).name}`);
        }
        await sim.clock.sleep(driver.int(15));
      }
    });
    sim.schedule(100, () => net.partition([ids.slice(0, 2), ids.slice(2)]));
    sim.schedule(250, () => net.isolate(ids[4]!));
    sim.schedule(300, () => net.unregister(ids[3]!));
    sim.schedule(400, () => net.heal());
    const all = Promise.all(clients);
    const r = await settle(sim, all);
    assert.ok(r.ok);
    await sim.runFor(1000);
    return { trace: sim.traceLines(), results, stats: net.stats(), end: sim.now };
  }

  void test('a whole scenario replays identically from the same seed, differently from another', async () => {
    const a = await scenario('seed-1');
    const b = await scenario('seed-1');
    const c = await scenario('seed-2');
    assert.ok(a.trace.length > 100);
    assert.ok(a.stats.dropped > 0 && a.stats.duplicated > 0 && a.stats.refused > 0, JSON.stringify(a.stats));
    assert.deepEqual(a, b);
    assert.notDeepEqual(a.trace, c.trace);
  });
});
