/**
 * What a node exposes on /metrics (the list with meanings is in docs/OPERATIONS.md): requests by kind with
 * their latency, error answers by code, admission refusals, the protocol server's counters, Ed25519
 * verifications, the TLS server and client, storage, and the process.
 *
 * Label values come from fixed sets only (request kinds, error codes, storage namespaces, limit names): no
 * label ever carries a peer, a key or anything else a peer chooses.
 */
import { performance } from 'node:perf_hooks';
import { verificationCount } from '../crypto/ed25519.js';
import type { ErrorCode } from '../protocol/errors.js';
import { requestKindOf, responseErrorCodeOf, type Request } from '../protocol/messages.js';
import type { BftkvServer } from '../protocol/server.js';
import type { LmdbStorage } from '../storage/lmdb.js';
import type { TlsServer, TlsTransport } from '../transport/tls.js';
import type { RequestHandler } from '../transport/transport.js';
import type { Admission } from './admission.js';
import type { NodeLimits } from './config.js';
import { Histogram, MetricsText, type Sample } from './metrics.js';

export type RequestKindLabel = Request['kind'] | 'unknown';

/** Every request kind, checked by the compiler: a new kind without a label would crash the handler wrap. */
const KINDS: Record<Request['kind'], true> = {
  time: true,
  sign: true,
  write: true,
  read: true,
  join: true,
  leave: true,
  gossip: true,
  passwordEval: true,
  register: true,
  passwordShare: true,
  passwordConfirm: true,
  challenge: true,
  ca: true,
};

export const REQUEST_KIND_LABELS: readonly RequestKindLabel[] = [
  ...(Object.keys(KINDS) as Array<Request['kind']>),
  'unknown',
];

/** Per-kind request counts and latencies, and error answers by code, of the requests a handler served. */
export class RequestMetrics {
  readonly requests = new Map<RequestKindLabel, number>(REQUEST_KIND_LABELS.map((k) => [k, 0]));
  readonly latency = new Map<RequestKindLabel, Histogram>(
    REQUEST_KIND_LABELS.map((k) => [k, new Histogram()]),
  );
  /** Error answers by code (at most one entry per ErrorCode). */
  readonly errors = new Map<ErrorCode, number>();
  /** Handlers that rejected (an operational failure: the transport closes that connection). */
  failures = 0;

  constructor(private readonly nowMs: () => number = () => performance.now()) {}

  /** `handler`, measured from the call until its promise settles. */
  wrap(handler: RequestHandler): RequestHandler {
    return (from, payload) => {
      const kind = requestKindOf(payload) ?? 'unknown';
      this.requests.set(kind, this.requests.get(kind)! + 1);
      const started = this.nowMs();
      const observe = () => this.latency.get(kind)!.observe((this.nowMs() - started) / 1000);
      let result: Promise<Uint8Array>;
      try {
        result = handler(from, payload);
      } catch (error) {
        result = Promise.reject(error instanceof Error ? error : new Error(String(error)));
      }
      result.then(
        (response) => {
          observe();
          const code = responseErrorCodeOf(response);
          if (code !== undefined) this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
        },
        () => {
          observe();
          this.failures++;
        },
      );
      return result;
    };
  }
}

/** The parts of a node, each present once it has been created (metrics are served during startup too). */
export interface NodeMetricsSources {
  readonly id: string;
  readonly uid: string;
  readonly limits: NodeLimits;
  readonly ready: boolean;
  readonly requests: RequestMetrics;
  readonly admission: Admission;
  readonly server?: BftkvServer;
  readonly storage?: LmdbStorage;
  readonly tlsServer?: TlsServer;
  readonly transport?: TlsTransport;
}

const labelled = <K extends string>(label: string, entries: Iterable<[K, number]>): Sample[] =>
  [...entries].map(([value, n]) => ({ labels: { [label]: value }, value: n }));

/** The Prometheus text exposition of one node. */
export function renderNodeMetrics(s: NodeMetricsSources): string {
  const m = new MetricsText();
  m.gauge('bftkv_node_info', 'This node (constant 1; the labels identify it).', [
    { labels: { id: s.id, uid: s.uid }, value: 1 },
  ]);
  m.gauge('bftkv_ready', '1 while the node serves requests and is not stopping (what /readyz reports).', [
    { value: s.ready ? 1 : 0 },
  ]);
  m.gauge(
    'bftkv_limit',
    'Configured admission limits (docs/OPERATIONS.md).',
    labelled('limit', Object.entries(s.limits) as Array<[string, number]>),
  );

  // Requests that passed admission, as the protocol server saw them.
  m.counter('bftkv_requests_total', 'Requests handled, by kind.', labelled('kind', s.requests.requests));
  m.histogram(
    'bftkv_request_duration_seconds',
    'Time from receiving a request to its answer, by kind.',
    REQUEST_KIND_LABELS.map((kind) => ({ labels: { kind }, histogram: s.requests.latency.get(kind)! })),
  );
  m.counter(
    'bftkv_request_errors_total',
    'Error answers (typed protocol refusals) of handled requests, by code.',
    labelled(
      'code',
      [...s.requests.errors].sort(([a], [b]) => (a < b ? -1 : 1)),
    ),
  );
  m.counter(
    'bftkv_request_failures_total',
    'Handlers that failed (an operational failure such as storage; the connection is closed).',
    s.requests.failures,
  );

  // Admission (node/admission.ts).
  m.counter('bftkv_requests_rejected_total', 'Requests refused before handling, by reason.', [
    { labels: { reason: 'rateLimited' }, value: s.admission.stats.rateLimited },
    { labels: { reason: 'busy' }, value: s.admission.stats.busy },
  ]);
  m.gauge('bftkv_requests_running', 'Requests being handled now.', s.admission.concurrency.running);
  m.gauge('bftkv_rate_limiter_peers', 'Peers holding a token bucket.', s.admission.rate.peers);

  // The protocol server (ServerStats) and the trust graph.
  if (s.server !== undefined) {
    const st = s.server.stats;
    m.counter(
      'bftkv_server_requests_total',
      'Requests the protocol server decoded or tried to.',
      st.requests,
    );
    m.counter('bftkv_server_rejected_total', 'Requests the protocol server refused.', st.rejected);
    m.counter('bftkv_signatures_issued_total', 'Signer statements signed (paper §4.1).', st.signed);
    m.counter('bftkv_records_stored_total', 'Records stored by this KV node.', st.stored);
    m.counter('bftkv_revocations_total', 'Keys this node revoked on a verified proof.', st.revocations);
    m.counter('bftkv_gossip_messages_sent_total', 'Gossip messages sent.', st.gossipSent);
    m.gauge(
      'bftkv_revoked_keys',
      'Keys revoked in this node’s trust graph.',
      s.server.graph.revocations().length,
    );
    const pw = s.server.password.stats;
    m.counter(
      'bftkv_password_evaluations_total',
      'Password evaluations answered (paper §3.3).',
      pw.evaluations,
    );
    m.counter(
      'bftkv_password_throttled_total',
      'Password evaluations refused because the UID or variable had too many recent attempts.',
      pw.throttled,
    );
    m.gauge(
      'bftkv_password_pending_failures',
      'Password evaluations not followed by a valid proof yet (possible guesses), over all UIDs/variables.',
      s.server.password.pendingFailures(),
    );
    m.counter('bftkv_password_proofs_accepted_total', 'Valid password proofs.', pw.proofsAccepted);
    m.counter('bftkv_password_proofs_rejected_total', 'Refused password proofs.', pw.proofsRejected);
    m.counter('bftkv_password_enrolments_total', 'UIDs enrolled (first registration).', pw.enrolments);
    m.counter('bftkv_registrations_total', 'Keys certified through registration.', pw.registrations);
    const ca = s.server.ca.stats;
    m.counter(
      'bftkv_ca_calls_total',
      'Calls to this distributed-CA holder (docs/PROTOCOL.md §15).',
      ca.calls,
    );
    m.counter('bftkv_ca_refused_total', 'Distributed-CA calls refused (any reason).', ca.refused);
    m.counter(
      'bftkv_ca_keys_stored_total',
      'CA key shares stored (created, imported, replaced).',
      ca.keysStored,
    );
    m.counter(
      'bftkv_ca_signing_sessions_total',
      'Signing sessions authorized and logged by this holder.',
      ca.signingSessions,
    );
  }
  m.counter(
    'bftkv_signatures_verified_total',
    'Ed25519 signature verifications in this process.',
    verificationCount(),
  );

  if (s.tlsServer !== undefined) {
    const t = s.tlsServer.stats();
    m.gauge('bftkv_tls_server_connections', 'Incoming connections open.', t.connections);
    m.counter(
      'bftkv_tls_server_connections_authenticated_total',
      'Incoming connections that completed the challenge-response.',
      t.authenticated,
    );
    m.counter(
      'bftkv_tls_server_connections_refused_total',
      'Incoming connections closed for a protocol or authentication failure.',
      t.refused,
    );
    m.counter('bftkv_tls_server_requests_total', 'Request frames received.', t.requests);
    m.gauge('bftkv_tls_server_handlers_running', 'Handlers running over all connections.', t.running);
    m.gauge(
      'bftkv_tls_server_handlers_per_connection_max',
      'Most handlers seen running at once on one connection.',
      t.runningPerConnectionMax,
    );
    m.counter(
      'bftkv_tls_server_read_pauses_total',
      'Times a connection stopped reading at its handler limit.',
      t.pauses,
    );
    m.gauge(
      'bftkv_tls_server_buffered_bytes_max',
      'Most received-but-undecoded bytes held for one connection.',
      t.bufferedBytesMax,
    );
  }
  if (s.transport !== undefined) {
    const t = s.transport.stats();
    m.gauge('bftkv_tls_client_connections', 'Outgoing connections open or opening.', t.connections);
    m.counter('bftkv_tls_client_connect_attempts_total', 'Outgoing connection attempts.', t.connectAttempts);
    m.counter(
      'bftkv_tls_client_connect_failures_total',
      'Outgoing connection attempts that failed.',
      t.connectFailures,
    );
    m.gauge('bftkv_tls_client_requests_in_flight', 'Outgoing requests sent and not answered.', t.inFlight);
    m.gauge('bftkv_tls_client_requests_queued', 'Outgoing requests waiting for a slot.', t.queued);
    m.gauge('bftkv_tls_client_unsent_frames', 'Outgoing frames waiting for the socket.', t.unsentFrames);
  }

  if (s.storage !== undefined) {
    let st: ReturnType<LmdbStorage['stats']> | undefined;
    try {
      st = s.storage.stats();
    } catch {
      st = undefined; // closed while stopping: no storage series in this scrape
    }
    if (st !== undefined) {
      m.gauge(
        'bftkv_storage_entries',
        'Entries stored, by namespace.',
        labelled('namespace', Object.entries(st.entries)),
      );
      m.gauge('bftkv_storage_used_bytes', 'Bytes of the LMDB map in use.', st.usedBytes);
      m.gauge('bftkv_storage_map_size_bytes', 'Size of the LMDB map.', st.mapSizeBytes);
    }
  }

  const cpu = process.cpuUsage();
  const memory = process.memoryUsage();
  m.counter('process_cpu_user_seconds_total', 'User CPU time.', cpu.user / 1e6);
  m.counter('process_cpu_system_seconds_total', 'System CPU time.', cpu.system / 1e6);
  m.counter('process_cpu_seconds_total', 'User and system CPU time.', (cpu.user + cpu.system) / 1e6);
  m.gauge('process_resident_memory_bytes', 'Resident set size.', memory.rss);
  m.gauge(
    'process_start_time_seconds',
    'Process start, seconds since the Unix epoch.',
    performance.timeOrigin / 1000,
  );
  m.gauge('nodejs_heap_size_total_bytes', 'V8 heap size.', memory.heapTotal);
  m.gauge('nodejs_heap_size_used_bytes', 'V8 heap in use.', memory.heapUsed);
  m.gauge('nodejs_external_memory_bytes', 'Memory of C++ objects bound to JavaScript.', memory.external);
  return m.toString();
}
