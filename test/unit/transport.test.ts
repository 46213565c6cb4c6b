/**
 * Transports: the compliance suite on the simulated network and on TLS over loopback, then what only the
 * TLS transport has (certificates, pinning, challenge-response bound to the session, frame bounds,
 * backpressure, GOAWAY, reconnection with backoff, timeouts).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { after, describe, test } from 'node:test';
import { sha256 } from '../../src/crypto/hash.js';
import { sign, signingKeyFromSeed, type SigningKey } from '../../src/crypto/ed25519.js';
import { nodeIdOf } from '../../src/trust/certificate.js';
import {
  CHALLENGE_BYTES,
  FRAME_BODY_BYTES_MAX,
  FrameDecoder,
  FrameType,
  TlsServer,
  TlsTransport,
  authStatement,
  encodeFrame,
  parseAddress,
  parseCertificateKey,
  selfSignedCertificateDer,
  sessionExporter,
  tlsCredentials,
  type Frame,
} from '../../src/transport/tls.js';
import { TransportError, type RequestHandler } from '../../src/transport/transport.js';
import { Simulation } from '../sim/event-loop.js';
import { SimNetwork } from '../sim/network.js';
import { SeededRandom } from '../sim/prng.js';
import {
  deferred,
  rejection,
  transportComplianceSuite,
  type TransportHarness,
} from './transport-compliance.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);
const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function keyOf(label: string): SigningKey {
  return signingKeyFromSeed(sha256(enc(`bftkv/test/transport/${label}`)));
}

/** Polls `cond` every 5 ms until it holds (fails after `ms`). */
async function eventually(cond: () => boolean, what: string, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for: ${what}`);
    await delay(5);
  }
}

/** An address on loopback where nothing listens (a port just released). */
async function closedAddress(): Promise<string> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return `tcp://127.0.0.1:${port}`;
}

// ---------------------------------------------------------------------------------------------------------
// Harnesses
// ---------------------------------------------------------------------------------------------------------

/**
 * The simulated network on virtual time. While any request is pending, a driver runs the simulation; when
 * the event queue is empty but a request still waits (a handler blocked on a test's gate), it yields to
 * real time for a millisecond so the test can open the gate.
 */
async function simHarness(): Promise<TransportHarness> {
  const sim = new Simulation();
  const network = new SimNetwork(sim, new SeededRandom('transport-compliance'));
  const ids = ['a', 'b', 'c'].map((l) => nodeIdOf(keyOf(l).publicKey));
  let pending = 0;
  let driving = false;
  let stopped = false;
  const drive = async (): Promise<void> => {
    driving = true;
    try {
      while (pending > 0 && !stopped) {
        const how = await sim.runUntil(() => pending === 0, {
          maxTimeMs: Number.MAX_SAFE_INTEGER,
          maxEvents: 10_000,
        });
        if (how === 'idle') await delay(1);
      }
    } finally {
      driving = false;
    }
  };
  const driven = <T>(p: Promise<T>): Promise<T> => {
    pending++;
    const out = p.finally(() => pending--);
    if (!driving) void drive();
    return out;
  };
  return {
    ids,
    unreachableAddress: 'sim://nowhere',
    transportFor: (id) => {
      const t = network.transportFor(id);
      return {
        request: (peer, address, payload, signal) => driven(t.request(peer, address, payload, signal)),
      };
    },
    register: async (id, handler) => {
      network.register(id, handler);
      return `sim://${id}`;
    },
    teardown: async () => {
      stopped = true;
      await eventually(() => !driving, 'simulation driver to stop');
    },
  };
}

/** TLS on 127.0.0.1 with ephemeral ports; every server and transport is closed at teardown. */
async function tlsHarness(): Promise<TransportHarness> {
  const keys = new Map<string, SigningKey>();
  for (const label of ['a', 'b', 'c']) {
    const k = keyOf(label);
    keys.set(nodeIdOf(k.publicKey), k);
  }
  const servers: TlsServer[] = [];
  const transports = new Map<string, TlsTransport>();
  const key = (id: string): SigningKey => {
    const k = keys.get(id);
    if (k === undefined) throw new Error(`unknown id ${id}`);
    return k;
  };
  return {
    ids: [...keys.keys()],
    unreachableAddress: await closedAddress(),
    transportFor: (id) => {
      let t = transports.get(id);
      if (t === undefined) {
        t = new TlsTransport({ key: key(id) });
        transports.set(id, t);
      }
      return t;
    },
    register: async (id, handler) => {
      const server = new TlsServer({ key: key(id), handler });
      servers.push(server);
      return server.listen('tcp://127.0.0.1:0');
    },
    teardown: async () => {
      for (const t of transports.values()) await t.close();
      for (const s of servers) await s.close();
    },
  };
}

transportComplianceSuite('SimNetwork', simHarness);
transportComplianceSuite('TLS over loopback', tlsHarness);

// ---------------------------------------------------------------------------------------------------------
// TLS-specific tests
// ---------------------------------------------------------------------------------------------------------

/** Everything a TLS test opened, closed at the end of the file even when a test fails. */
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function startServer(
  label: string,
  handler: RequestHandler,
  options: Partial<ConstructorParameters<typeof TlsServer>[0]> = {},
  address = 'tcp://127.0.0.1:0',
): Promise<{ server: TlsServer; address: string }> {
  const server = new TlsServer({ key: keyOf(label), handler, ...options });
  cleanups.push(() => server.close());
  return { server, address: await server.listen(address) };
}

function newTransport(label: string, options: Partial<ConstructorParameters<typeof TlsTransport>[0]> = {}) {
  const transport = new TlsTransport({ key: keyOf(label), ...options });
  cleanups.push(() => transport.close());
  return transport;
}

/** A hand-driven TLS client speaking raw frames, to play a misbehaving or replaying peer. */
interface RawClient {
  readonly socket: tls.TLSSocket;
  readonly exporter: Uint8Array;
  readonly serverId: string;
  next(): Promise<Frame>;
  send(type: number, stream: number, payload: Uint8Array): void;
  /** Resolves when the server has closed the connection. */
  readonly closed: Promise<void>;
  isClosed(): boolean;
}

async function rawConnect(address: string, key: SigningKey | null): Promise<RawClient> {
  const target = parseAddress(address)!;
  const creds = key === null ? null : tlsCredentials(key);
  const socket = tls.connect({
    host: target.host,
    port: target.port,
    ...(creds === null ? {} : { key: creds.keyPem, cert: creds.certPem }),
    rejectUnauthorized: false,
    minVersion: 'TLSv1.3',
  });
  cleanups.push(async () => void socket.destroy());
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('error', reject);
  });
  const decoder = new FrameDecoder(FRAME_BODY_BYTES_MAX);
  const frames: Frame[] = [];
  const waiters: (() => void)[] = [];
  let isClosed = false;
  const closed = new Promise<void>((resolve) => {
    socket.on('close', () => {
      isClosed = true;
      for (const w of waiters.splice(0)) w();
      resolve();
    });
  });
  socket.on('error', () => undefined);
  socket.on('data', (chunk: Buffer) => {
    decoder.push(chunk);
    for (let f = decoder.next(); f !== undefined; f = decoder.next()) frames.push(f);
    for (const w of waiters.splice(0)) w();
  });
  const serverKey = parseCertificateKey(socket.getPeerX509Certificate()!.raw)!;
  return {
    socket,
    exporter: sessionExporter(socket),
    serverId: nodeIdOf(serverKey),
    next: async () => {
      while (frames.length === 0) {
        if (isClosed) throw new Error('connection closed');
        await new Promise<void>((r) => waiters.push(r));
      }
      return frames.shift()!;
    },
    send: (type, stream, payload) => void socket.write(encodeFrame(type, stream, payload)),
    closed,
    isClosed: () => isClosed,
  };
}

/** Asserts that the server closes `raw` within `ms` (instead of hanging when it does not). */
async function expectClosed(raw: RawClient, what: string, ms = 3000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'open'>((r) => (timer = setTimeout(() => r('open'), ms)));
  const outcome = await Promise.race([raw.closed.then(() => 'closed' as const), timeout]);
  clearTimeout(timer);
  assert.equal(outcome, 'closed', `the server should close the connection: ${what}`);
}

/** Per-test bound: a regression fails instead of hanging the run. */
const T = { timeout: 15_000 };

/** Runs the challenge-response honestly as `key` on `raw`; returns the AUTH answer sent. */
async function authenticate(raw: RawClient, key: SigningKey): Promise<Uint8Array> {
  const hello = await raw.next();
  assert.equal(hello.type, FrameType.hello);
  raw.send(FrameType.hello, 0, new Uint8Array(CHALLENGE_BYTES).fill(7));
  const answer = sign(key, authStatement(hello.payload, nodeIdOf(key.publicKey), raw.serverId, raw.exporter));
  raw.send(FrameType.auth, 0, answer);
  const serverAuth = await raw.next();
  assert.equal(serverAuth.type, FrameType.auth);
  return answer;
}

const echo: RequestHandler = async (from, payload) => enc(`${from}:${dec(payload)}`);

void describe('TLS identity: self-signed Ed25519 certificates (RFC 5280, RFC 8410)', () => {
  const key = keyOf('cert');
  const id = nodeIdOf(key.publicKey);
  const der = selfSignedCertificateDer(key);

  void test(
    'node:crypto parses it; it is self-issued and its signature verifies under its own key',
    T,
    () => {
      const cert = new X509Certificate(der);
      assert.equal(cert.subject, `CN=${id}`);
      assert.equal(cert.issuer, `CN=${id}`);
      assert.ok(cert.checkIssued(cert));
      assert.ok(cert.verify(cert.publicKey));
      assert.equal(cert.publicKey.asymmetricKeyType, 'ed25519');
      assert.deepEqual(parseCertificateKey(der), key.publicKey);
    },
  );

  void test('is a pure function of the key', T, () => {
    assert.deepEqual(selfSignedCertificateDer(key), der);
    assert.notDeepEqual(selfSignedCertificateDer(keyOf('other')), der);
  });

  void test('rejects a certificate whose signature does not verify', T, () => {
    const tampered = Buffer.from(der);
    tampered[tampered.length - 1]! ^= 1;
    assert.equal(parseCertificateKey(tampered), null);
  });

  void test('OpenSSL reads it', T, (t) => {
    let text: string;
    try {
      text = execFileSync('openssl', ['x509', '-inform', 'DER', '-noout', '-text'], {
        input: der,
      }).toString();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return t.skip('openssl not installed');
      throw e;
    }
    assert.match(text, /Version: 3 \(0x2\)/);
    assert.match(text, /Signature Algorithm: ED25519/);
    assert.match(text, new RegExp(`Subject: CN ?= ?${id}`));
    assert.match(text, new RegExp(`Issuer: CN ?= ?${id}`));
  });

  void test('frames decode across arbitrary chunk boundaries; a bad length is refused', T, () => {
    const frames = [
      encodeFrame(FrameType.request, 1, enc('')),
      encodeFrame(FrameType.request, 2, enc('second')),
      encodeFrame(FrameType.response, 0xffff_ffff, new Uint8Array(70_000).fill(9)),
    ];
    const wire = Buffer.concat(frames);
    const decoder = new FrameDecoder(FRAME_BODY_BYTES_MAX);
    const out: Frame[] = [];
    for (let i = 0; i < wire.length; i += 1 + (i % 7)) {
      decoder.push(wire.subarray(i, Math.min(wire.length, i + 1 + (i % 7))));
      for (let f = decoder.next(); f !== undefined; f = decoder.next()) out.push(f);
    }
    assert.deepEqual(
      out.map((f) => [f.type, f.stream, f.payload.length]),
      [
        [FrameType.request, 1, 0],
        [FrameType.request, 2, 6],
        [FrameType.response, 0xffff_ffff, 70_000],
      ],
    );
    assert.equal(out[2]!.payload.buffer.byteLength, 70_000, 'payload owns an exact buffer');
    assert.equal(decoder.bufferedBytes, 0);
    const small = new FrameDecoder(100);
    small.push(Buffer.from([0, 0, 0, 101]));
    assert.throws(() => small.next(), { name: 'FrameError' });
    const empty = new FrameDecoder(100);
    empty.push(Buffer.from([0, 0, 0, 4, 1, 0, 0, 0]));
    assert.throws(() => empty.next(), { name: 'FrameError' });
    assert.throws(() => encodeFrame(FrameType.request, 1, new Uint8Array(FRAME_BODY_BYTES_MAX)), RangeError);
  });

  void test('parses tcp:// addresses', T, () => {
    assert.deepEqual(parseAddress('tcp://127.0.0.1:5701'), { host: '127.0.0.1', port: 5701 });
    assert.deepEqual(parseAddress('tcp://[::1]:80'), { host: '::1', port: 80 });
    assert.deepEqual(parseAddress('tcp://node-1.example:65535'), { host: 'node-1.example', port: 65535 });
    for (const bad of ['127.0.0.1:5701', 'tcp://127.0.0.1', 'tcp://h:65536', 'tcp://h:1/x', 'udp://h:1'])
      assert.equal(parseAddress(bad), null, bad);
  });
});

void describe('TLS transport: pinning and challenge-response', () => {
  void test('refuses a server presenting another key than the expected peer', T, async () => {
    let calls = 0;
    const { address } = await startServer('pin-server', async () => {
      calls++;
      return enc('ok');
    });
    const transport = newTransport('pin-client');
    const expected = nodeIdOf(keyOf('pin-expected').publicKey);
    const e = await rejection(transport.request(expected, address, enc('x')));
    assert.ok(e instanceof TransportError, String(e));
    assert.match(e.message, /identity mismatch/);
    assert.equal(calls, 0);
    // The right identity at the same address works.
    const actual = nodeIdOf(keyOf('pin-server').publicKey);
    assert.equal(dec(await newTransport('pin-client').request(actual, address, enc('x'))), 'ok');
  });

  void test(
    'refuses a client that answers the challenge with another key than its certificate',
    T,
    async () => {
      let calls = 0;
      const { server, address } = await startServer('claim-server', async () => {
        calls++;
        return enc('ok');
      });
      const raw = await rawConnect(address, keyOf('claim-cert'));
      const hello = await raw.next();
      raw.send(FrameType.hello, 0, new Uint8Array(CHALLENGE_BYTES));
      const impostor = keyOf('claim-impostor');
      const answer = sign(
        impostor,
        authStatement(hello.payload, nodeIdOf(impostor.publicKey), raw.serverId, raw.exporter),
      );
      raw.send(FrameType.auth, 0, answer);
      raw.send(FrameType.request, 1, enc('let me in'));
      await expectClosed(raw, 'answer by another key');
      assert.equal(calls, 0);
      assert.equal(server.stats().authenticated, 0);
      assert.ok(server.stats().refused >= 1);
    },
  );

  void test('refuses a client without a certificate', T, async () => {
    const { server, address } = await startServer('nocert-server', echo);
    const raw = await rawConnect(address, null);
    await expectClosed(raw, 'no certificate');
    assert.equal(server.stats().authenticated, 0);
  });

  void test('an answer recorded on one TLS session is refused on another (replay and relay)', T, async () => {
    const requests: string[] = [];
    const { address } = await startServer('replay-server', async (_from, payload) => {
      requests.push(dec(payload));
      return enc('ok');
    });
    const key = keyOf('replay-client');
    // Session 1: honest, then used.
    const s1 = await rawConnect(address, key);
    const recorded = await authenticate(s1, key);
    s1.send(FrameType.request, 1, enc('session 1'));
    const r1 = await s1.next();
    assert.equal(r1.type, FrameType.response);
    // Session 2: the recorded answer replayed.
    const s2 = await rawConnect(address, key);
    await s2.next();
    s2.send(FrameType.hello, 0, new Uint8Array(CHALLENGE_BYTES));
    s2.send(FrameType.auth, 0, recorded);
    s2.send(FrameType.request, 1, enc('replayed'));
    await expectClosed(s2, 'replayed answer');
    // Session 3: this session's challenge, but another session's exporter (a relay splicing two sessions).
    const s3 = await rawConnect(address, key);
    const hello3 = await s3.next();
    s3.send(FrameType.hello, 0, new Uint8Array(CHALLENGE_BYTES));
    s3.send(
      FrameType.auth,
      0,
      sign(key, authStatement(hello3.payload, nodeIdOf(key.publicKey), s3.serverId, s1.exporter)),
    );
    s3.send(FrameType.request, 1, enc('relayed'));
    await expectClosed(s3, 'answer for another session');
    assert.deepEqual(requests, ['session 1']);
    assert.ok(!s1.isClosed());
  });

  void test('the client refuses a server whose answer is not bound to this session', T, async () => {
    const serverKey = keyOf('fake-server');
    const creds = tlsCredentials(serverKey);
    const fake = tls.createServer(
      {
        key: creds.keyPem,
        cert: creds.certPem,
        requestCert: true,
        rejectUnauthorized: false,
        minVersion: 'TLSv1.3',
      },
      (socket) => {
        socket.on('error', () => undefined);
        const decoder = new FrameDecoder(FRAME_BODY_BYTES_MAX);
        socket.write(encodeFrame(FrameType.hello, 0, new Uint8Array(CHALLENGE_BYTES)));
        socket.on('data', (chunk: Buffer) => {
          decoder.push(chunk);
          const f = decoder.next();
          if (f?.type !== FrameType.hello) return;
          const clientId = nodeIdOf(parseCertificateKey(socket.getPeerX509Certificate()!.raw)!);
          const wrongExporter = new Uint8Array(32).fill(1);
          socket.write(
            encodeFrame(
              FrameType.auth,
              0,
              sign(serverKey, authStatement(f.payload, creds.id, clientId, wrongExporter)),
            ),
          );
        });
      },
    );
    await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => fake.close(() => r())));
    const address = `tcp://127.0.0.1:${(fake.address() as net.AddressInfo).port}`;
    const e = await rejection(newTransport('fake-client').request(creds.id, address, enc('x')));
    assert.ok(e instanceof TransportError, String(e));
    assert.match(e.message, /does not verify/);
  });

  void test('a duplicate or older request sequence number closes the connection', T, async () => {
    const requests: string[] = [];
    const { address } = await startServer('seq-server', async (_from, payload) => {
      requests.push(dec(payload));
      return enc('ok');
    });
    const key = keyOf('seq-client');
    const raw = await rawConnect(address, key);
    await authenticate(raw, key);
    raw.send(FrameType.request, 5, enc('five'));
    assert.equal((await raw.next()).stream, 5);
    raw.send(FrameType.request, 5, enc('five again'));
    await expectClosed(raw, 'duplicate sequence number');
    assert.deepEqual(requests, ['five']);
  });
});

void describe('TLS transport: bounds and backpressure', () => {
  void test('a frame over the bound closes the connection without buffering it', T, async () => {
    const { server, address } = await startServer('bound-server', echo);
    const key = keyOf('bound-client');
    const raw = await rawConnect(address, key);
    await authenticate(raw, key);
    const header = Buffer.alloc(9);
    header.writeUInt32BE(FRAME_BODY_BYTES_MAX + 1, 0);
    header.writeUInt8(FrameType.request, 4);
    header.writeUInt32BE(1, 5);
    raw.socket.write(header);
    raw.socket.write(Buffer.alloc(64 * 1024));
    await expectClosed(raw, 'oversize frame');
    assert.ok(server.stats().bufferedBytesMax < 1024 * 1024);
    assert.equal(server.stats().requests, 0);
  });

  void test('before authentication only handshake-sized frames are accepted', T, async () => {
    const { server, address } = await startServer('preauth-server', echo);
    const raw = await rawConnect(address, keyOf('preauth-client'));
    await raw.next();
    raw.send(FrameType.request, 1, new Uint8Array(1000));
    await expectClosed(raw, 'large frame before authentication');
    assert.equal(server.stats().requests, 0);
  });

  void test('at its concurrency limit the server stops reading; the client waits for drain', T, async () => {
    const limit = 4;
    let running = 0;
    let runningMax = 0;
    const gates: (() => void)[] = [];
    const { server, address } = await startServer(
      'bp-server',
      async (_from, payload) => {
        running++;
        runningMax = Math.max(runningMax, running);
        const gate = deferred();
        gates.push(gate.resolve);
        await gate.promise;
        running--;
        return payload.subarray(0, 8);
      },
      { concurrencyPerConnection: limit },
    );
    const transport = newTransport('bp-client');
    const count = 64;
    const size = 512 * 1024;
    const results = Array.from({ length: count }, (_, i) =>
      transport.request(server.id, address, new Uint8Array(size).fill(i)),
    );
    await eventually(() => gates.length === limit, 'handlers to reach the limit');
    // 32 MiB were offered: kernel buffers fill, the client's socket stops draining, frames queue in the client.
    await eventually(() => transport.stats().unsentFrames > 0, 'client to wait for drain');
    await delay(100);
    assert.equal(gates.length, limit);
    const paused = server.stats();
    assert.ok(paused.pauses >= 1);
    assert.ok(paused.bufferedBytesMax <= 2 * FRAME_BODY_BYTES_MAX, `buffered ${paused.bufferedBytesMax}`);
    // Open the gates one at a time as handlers arrive.
    let released = 0;
    while (released < count) {
      await eventually(() => gates.length > 0, 'next handler');
      gates.shift()!();
      released++;
    }
    const answers = await Promise.all(results);
    answers.forEach((a, i) => assert.deepEqual(a, new Uint8Array(8).fill(i)));
    assert.equal(runningMax, limit);
    assert.equal(server.stats().runningPerConnectionMax, limit);
    assert.equal(server.stats().connections, 1);
  });

  void test('client in-flight bound: a bounded wait queue, then busy', T, async () => {
    const gates: (() => void)[] = [];
    let active = 0;
    let mostActive = 0;
    const { server, address } = await startServer('busy-server', async () => {
      active += 1;
      mostActive = Math.max(mostActive, active);
      const gate = deferred();
      gates.push(gate.resolve);
      await gate.promise;
      active -= 1;
      return enc('done');
    });
    const transport = newTransport('busy-client', { inFlightMax: 2, queueMax: 3 });
    const accepted = Array.from({ length: 5 }, () => transport.request(server.id, address, enc('x')));
    const e = await rejection(transport.request(server.id, address, enc('one too many')));
    assert.ok(e instanceof TransportError);
    assert.match(e.message, /busy/);
    await eventually(() => gates.length === 2, 'two requests in flight');
    assert.deepEqual([transport.stats().inFlight, transport.stats().queued], [2, 3]);
    // Release the five accepted requests one at a time: each release lets exactly one queued request
    // start, so the server never holds more than the client's in-flight bound.
    for (let released = 0; released < accepted.length; released += 1) {
      await eventually(() => gates.length > 0, `handler ${released + 1}`);
      gates.shift()!();
    }
    assert.deepEqual((await Promise.all(accepted)).map(dec), ['done', 'done', 'done', 'done', 'done']);
    assert.equal(mostActive, 2);
    assert.deepEqual([transport.stats().inFlight, transport.stats().queued], [0, 0]);
  });

  void test('connections beyond the server maximum are dropped', T, async () => {
    const { server, address } = await startServer('max-server', echo, { connectionsMax: 1 });
    assert.equal(dec(await newTransport('max-1').request(server.id, address, enc('x'))).endsWith(':x'), true);
    const e = await rejection(
      newTransport('max-2', { connectTimeoutMs: 2000 }).request(server.id, address, enc('y')),
    );
    assert.ok(e instanceof TransportError, String(e));
  });
});

void describe('TLS transport: failures, timeouts and reconnection', () => {
  void test(
    'a handler failure answers with an error, drains the connection, and moves unprocessed requests',
    T,
    async () => {
      const gate = deferred();
      const { server, address } = await startServer('goaway-server', async (_from, payload) => {
        const text = dec(payload);
        if (text === 'fail') throw new Error('disk on fire');
        if (text === 'slow') await gate.promise;
        return enc(`ok:${text}`);
      });
      const transport = newTransport('goaway-client');
      const slow = transport.request(server.id, address, enc('slow'));
      const failing = rejection(transport.request(server.id, address, enc('fail')));
      const e = await failing;
      assert.ok(e instanceof TransportError);
      assert.match(e.message, /peer failed/);
      const later = Array.from({ length: 10 }, (_, i) => transport.request(server.id, address, enc(`n${i}`)));
      gate.resolve();
      assert.equal(dec(await slow), 'ok:slow');
      assert.deepEqual(
        (await Promise.all(later)).map(dec),
        later.map((_, i) => `ok:n${i}`),
      );
    },
  );

  void test(
    'a dropped connection fails its in-flight requests; the client reconnects after a restart',
    T,
    async () => {
      const label = 'restart-server';
      const arrived = deferred();
      const first = await startServer(label, async (_from, payload) => {
        if (dec(payload) === 'hang') {
          arrived.resolve();
          await new Promise(() => undefined);
        }
        return enc('first');
      });
      const peer = first.server.id;
      const transport = newTransport('restart-client', { backoffBaseMs: 500, backoffMaxMs: 1000 });
      assert.equal(dec(await transport.request(peer, first.address, enc('x'))), 'first');
      const hanging = rejection(transport.request(peer, first.address, enc('hang')));
      await arrived.promise;
      await first.server.close();
      const dropped = await hanging;
      assert.ok(dropped instanceof TransportError, String(dropped));
      assert.match(dropped.message, /connection lost/);
      // Down: the attempt fails, and the next request within the backoff (250-500 ms, long enough for a
      // loaded machine) fails without a new attempt.
      const down = await rejection(transport.request(peer, first.address, enc('x')));
      assert.ok(down instanceof TransportError);
      const attempts = transport.stats().connectAttempts;
      const backingOff = await rejection(transport.request(peer, first.address, enc('x')));
      assert.ok(backingOff instanceof TransportError);
      assert.match(backingOff.message, /next attempt in/);
      assert.equal(transport.stats().connectAttempts, attempts);
      // Restart on the same port with the same key.
      await startServer(label, async () => enc('second'), {}, first.address);
      let answer: string | undefined;
      const end = Date.now() + 5000;
      while (answer === undefined && Date.now() < end) {
        try {
          answer = dec(await transport.request(peer, first.address, enc('x')));
        } catch (e) {
          assert.ok(e instanceof TransportError);
          await delay(10);
        }
      }
      assert.equal(answer, 'second');
    },
  );

  void test(
    'an idle connection is closed after the timeout, and the next request reconnects',
    T,
    async () => {
      const { server, address } = await startServer('idle-server', echo);
      const transport = newTransport('idle-client', { idleTimeoutMs: 100 });
      await transport.request(server.id, address, enc('x'));
      assert.equal(server.stats().connections, 1);
      await eventually(
        () => server.stats().connections === 0 && transport.stats().connections === 0,
        'idle close',
      );
      await transport.request(server.id, address, enc('y'));
      assert.equal(transport.stats().connectAttempts, 2);
    },
  );

  void test('the server closes idle connections with GOAWAY; the client moves on', T, async () => {
    const { server, address } = await startServer('sidle-server', echo, { idleTimeoutMs: 100 });
    const transport = newTransport('sidle-client');
    await transport.request(server.id, address, enc('x'));
    await eventually(
      () => server.stats().connections === 0 && transport.stats().connections === 0,
      'idle close',
    );
    assert.match(dec(await transport.request(server.id, address, enc('y'))), /:y$/);
  });

  void test(
    'a peer that never completes the handshake fails with TransportError after the connect timeout',
    T,
    async () => {
      const sockets: net.Socket[] = [];
      const silent = net.createServer((s) => sockets.push(s));
      await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
      cleanups.push(async () => {
        for (const s of sockets) s.destroy();
        await new Promise<void>((r) => silent.close(() => r()));
      });
      const address = `tcp://127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
      const transport = newTransport('timeout-client', { connectTimeoutMs: 200 });
      const started = Date.now();
      const e = await rejection(transport.request(nodeIdOf(keyOf('nobody').publicKey), address, enc('x')));
      assert.ok(e instanceof TransportError, String(e));
      assert.match(e.message, /connect timeout/);
      assert.ok(Date.now() - started < 2000);
    },
  );

  void test('the server refuses a client that does not authenticate in time', T, async () => {
    const { server, address } = await startServer('slow-auth-server', echo, { authTimeoutMs: 200 });
    const raw = await rawConnect(address, keyOf('slow-auth-client'));
    await raw.next();
    await expectClosed(raw, 'no answer to the challenge', 2000);
    assert.equal(server.stats().authenticated, 0);
  });

  void test('a closed transport rejects with TransportError', T, async () => {
    const { server, address } = await startServer('closed-server', echo);
    const transport = newTransport('closed-client');
    await transport.request(server.id, address, enc('x'));
    await transport.close();
    assert.ok((await rejection(transport.request(server.id, address, enc('x')))) instanceof TransportError);
  });
});
