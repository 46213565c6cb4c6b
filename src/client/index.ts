/**
 * The public TypeScript client API of bftkv (the `bftkv` CLI is written on it).
 *
 * ```ts
 * import { connect, ProtocolError } from './src/client/index.js';
 *
 * const kv = await connect({ cluster: '.bftkv' });          // the client identity `cluster up` made
 * try {
 *   const w = await kv.put('alice/pgp-key', keyBytes);     // collective signature + KV quorum
 *   const v = await kv.get('alice/pgp-key');               // Uint8Array | undefined
 *   await kv.putOnce('tx/8f3a', txBytes, { signal: AbortSignal.timeout(5000) });
 * } catch (e) {
 *   if (e instanceof ProtocolError && e.code === 'sealed') console.log('already written once');
 *   else throw e;
 * } finally {
 *   await kv.close();
 * }
 * ```
 *
 * A connection is an identity (a directory made by `bftkv init` or `cluster up`) plus the trust graph it
 * knows: the certificates of the cluster directory (when given) and what the identity learned before, kept in
 * `ID/client-state` (state.ts; persisted on `join`, `trust` and `close` when it changed). Connecting touches
 * no network; operations do, and each takes an AbortSignal. Strings are UTF-8 encoded.
 */
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { utf8 } from '../codec/bytes.js';
import { AbortedError, systemClock } from '../env/clock.js';
import { secureRandom } from '../env/random.js';
import { LIMITS, SEALED_TIMESTAMP } from '../limits.js';
import { certificateFiles, CLIENT_NAME, CLUSTER_FILE } from '../node/cluster.js';
import { loadIdentity, readCertificateFile, saveCertificate, type Identity } from '../node/identity.js';
import { BftkvClient, type ClientOptions, type WriteResult } from '../protocol/client.js';
import { PasswordClient, type PasswordClientOptions } from '../protocol/password-client.js';
import { CaClient } from '../protocol/ca/ca-client.js';
import { TlsTransport } from '../transport/tls.js';
import { certify, withCertifications, type Certificate, type NodeId } from '../trust/certificate.js';
import { TrustGraph } from '../trust/graph.js';
import { accusedOf } from '../trust/revocation.js';
import { ConfigError } from './errors.js';
import { applyClientState, readClientState, saveClientState, STATE_FILE, type ClientState } from './state.js';
import {
  certificateView,
  nodeRef,
  statusView,
  type CertificateView,
  type NodeRef,
  type StatusView,
} from './view.js';

export * from './errors.js';
export type * from './view.js';
export type { Certificate, NodeId } from '../trust/certificate.js';
export type { CaInfo, CaSignature, CreateOptions } from '../protocol/ca/ca-client.js';
export { CA_SCHEMES, type CaScheme } from '../protocol/ca/scheme.js';

/** Keys and values: bytes, or strings (UTF-8). */
export type Bytes = string | Uint8Array;

export interface ConnectOptions {
  /** A cluster directory made by `bftkv cluster up`: its certificates bootstrap the trust graph. */
  readonly cluster?: string;
  /** The identity directory to act as; default: the cluster's client identity (CLUSTER/client). */
  readonly id?: string;
  /** Keep what this identity learns in ID/client-state (default true). */
  readonly persist?: boolean;
  /** Protocol client tuning (phase deadlines, retries); defaults are the protocol's. */
  readonly clientOptions?: Partial<ClientOptions>;
  /** Password authentication tuning (how long to sit out throttling). */
  readonly passwordOptions?: Partial<PasswordClientOptions>;
  readonly signal?: AbortSignal;
}

export interface OperationOptions {
  readonly signal?: AbortSignal;
}

export interface PutResult {
  /** The timestamp written (2^64−1 for a write-once value). */
  readonly t: bigint;
  readonly sealed: boolean;
  /** Clique members whose signatures the stored record carries. */
  readonly signers: readonly NodeRef[];
  /** KV nodes that acknowledged storing the record. */
  readonly storedOn: readonly NodeRef[];
}

export interface GetResult {
  /** Undefined when no valid value exists. */
  readonly value: Uint8Array | undefined;
  /** 0 when there is no value. */
  readonly t: bigint;
  readonly sealed: boolean;
  /** The writer of the value returned. */
  readonly writer: NodeRef | undefined;
  /** KV nodes whose (verified) answers the read used. */
  readonly answeredBy: readonly NodeRef[];
  /** KV nodes the read wrote the latest value back to. */
  readonly writtenBackTo: readonly NodeRef[];
  /** Nodes this read caught equivocating and revoked. */
  readonly revoked: readonly NodeId[];
}

export interface JoinResult {
  /** Servers asked. */
  readonly contacted: number;
  /** Servers that answered with their graph. */
  readonly answered: number;
}

function bytesOf(field: string, x: Bytes): Uint8Array {
  if (typeof x === 'string') return utf8(x);
  if (x instanceof Uint8Array) return x;
  throw new TypeError(`${field}: expected a string or a Uint8Array, got ${typeof x}`);
}

/** The bytes of a key, checked (1..1024 bytes). Throws RangeError/TypeError naming `key`. */
export function keyBytes(key: Bytes): Uint8Array {
  const b = bytesOf('key', key);
  if (b.length === 0 || b.length > LIMITS.keyBytesMax)
    throw new RangeError(`key: length must be 1..${LIMITS.keyBytesMax} bytes, got ${b.length}`);
  return b;
}

/** The bytes of a value, checked (at most 1 MiB). Throws RangeError/TypeError naming `value`. */
export function valueBytes(value: Bytes): Uint8Array {
  const b = bytesOf('value', value);
  if (b.length > LIMITS.valueBytesMax)
    throw new RangeError(`value: at most ${LIMITS.valueBytesMax} bytes, got ${b.length}`);
  return b;
}

function checkSignal(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortedError();
}

/** Opens a connection: loads the identity and its known graph (no network traffic). */
export async function connect(options: ConnectOptions): Promise<Bftkv> {
  const { cluster, signal } = options;
  if (cluster === undefined && options.id === undefined)
    throw new TypeError('connect: give `cluster` (a cluster directory) or `id` (an identity directory)');
  checkSignal(signal);
  const certs = cluster === undefined ? [] : await clusterCertificates(cluster);
  const identity = await loadIdentity(options.id ?? join(cluster!, CLIENT_NAME));
  const graph = new TrustGraph();
  const persist = options.persist ?? true;
  let state: ClientState = { certificates: [], revocations: [] };
  if (persist) {
    try {
      state = await readClientState(identity.dir);
    } catch (error) {
      throw new ConfigError(`cannot load: ${String(error)}`, join(identity.dir, STATE_FILE), {
        cause: error,
      });
    }
  }
  applyClientState(graph, state);
  graph.addCertificates(certs);
  checkSignal(signal);
  const transport = new TlsTransport({ key: identity.key, clock: systemClock, random: secureRandom });
  const client = new BftkvClient({
    key: identity.key,
    certificate: identity.certificate,
    clock: systemClock,
    random: secureRandom,
    transport,
    graph,
    ...(options.clientOptions === undefined ? {} : { options: options.clientOptions }),
  });
  // Like a join (BftkvClient.mergeGraph), keep saved nodes only if this identity's trust reaches them: a
  // doctored state file can then not add phantoms or make the client contact addresses of its choosing.
  const bootstrap = new Set(certs.map((c) => c.id));
  graph.forgetExcept(
    state.certificates.map((c) => c.id).filter((id) => !bootstrap.has(id) && id !== identity.id),
    graph.reachableFrom(identity.id),
  );
  const password = new PasswordClient({
    client,
    clock: systemClock,
    random: secureRandom,
    ...(options.passwordOptions === undefined ? {} : { options: options.passwordOptions }),
  });
  const ca = new CaClient({ client, key: identity.key, clock: systemClock, random: secureRandom });
  return new Bftkv(identity, client, transport, persist, password, ca);
}

export interface RegisterResult {
  /** True when this registration set the UID's password (its enrolment). */
  readonly enrolled: boolean;
  /** Clique members that certified this identity's key. */
  readonly certifiedBy: readonly NodeRef[];
  /** Members whose password answers were proven wrong. */
  readonly culprits: readonly NodeId[];
}

/** Every certificate of CLUSTER/certs (what `cluster up` wrote, with all certifications). */
async function clusterCertificates(cluster: string): Promise<Certificate[]> {
  const marker = join(cluster, CLUSTER_FILE);
  try {
    await access(marker);
  } catch (error) {
    throw new ConfigError('no cluster here (create one with `bftkv cluster up --dir DIR`)', marker, {
      cause: error,
    });
  }
  return Promise.all((await certificateFiles(cluster)).map((f) => readCertificateFile(f)));
}

/** A connection to bftkv as one identity. Close it when done (open TLS connections keep a process alive). */
export class Bftkv {
  private savedVersion: number;
  private closed: Promise<void> | undefined;

  /** @internal use connect() */
  constructor(
    private readonly identity: Identity,
    /** The protocol client underneath (for tools and tests). */
    readonly protocol: BftkvClient,
    /** The transport underneath (for its statistics). */
    readonly transport: TlsTransport,
    private readonly persist: boolean,
    /** Threshold password authentication underneath. */
    readonly password: PasswordClient,
    /**
     * The distributed CA (docs/PROTOCOL.md §15): `create`, `import`, `info`, `signData`, `authorize`,
     * `deauthorize`, `issue`, `caCertificatePem`, `delete`, `log`.
     */
    readonly ca: CaClient,
  ) {
    this.savedVersion = protocol.graph.version;
  }

  /** This identity's NodeId. */
  get id(): NodeId {
    return this.identity.id;
  }

  get uid(): string {
    return this.identity.config.uid;
  }

  /** The identity directory. */
  get dir(): string {
    return this.identity.dir;
  }

  private ref(id: NodeId): NodeRef {
    return nodeRef(this.protocol.graph, id);
  }

  /** Writes `value` under `key` (paper §4.1): collective signature from every quorum clique, KV quorum. */
  async put(key: Bytes, value: Bytes, options: OperationOptions = {}): Promise<PutResult> {
    const w = await this.protocol.write(keyBytes(key), valueBytes(value), options.signal);
    return this.putResult(w);
  }

  /** Writes `value` under `key` with the write-once timestamp: nobody can change it afterwards (`sealed`). */
  async putOnce(key: Bytes, value: Bytes, options: OperationOptions = {}): Promise<PutResult> {
    const w = await this.protocol.writeOnce(keyBytes(key), valueBytes(value), options.signal);
    return this.putResult(w);
  }

  private putResult(w: WriteResult): PutResult {
    return {
      t: w.t,
      sealed: w.t === SEALED_TIMESTAMP,
      signers: w.signers.map((id) => this.ref(id)),
      storedOn: w.acknowledgedBy.map((id) => this.ref(id)),
    };
  }

  /** The latest value of `key`, or undefined. */
  async get(key: Bytes, options: OperationOptions = {}): Promise<Uint8Array | undefined> {
    return (await this.read(key, options)).value;
  }

  /** Reads `key` with the details: timestamp, writer, which KV nodes answered, write-back, revocations. */
  async read(key: Bytes, options: OperationOptions = {}): Promise<GetResult> {
    const r = await this.protocol.read(
      keyBytes(key),
      options.signal === undefined ? {} : { signal: options.signal },
    );
    return {
      value: r.value,
      t: r.t,
      sealed: r.t === SEALED_TIMESTAMP,
      writer: r.record === undefined ? undefined : { id: r.record.writer.id, uid: r.record.writer.body.uid },
      answeredBy: r.answeredBy.map((id) => this.ref(id)),
      writtenBackTo: r.writtenBackTo.map((id) => this.ref(id)),
      revoked: r.equivocations.map(accusedOf),
    };
  }

  /**
   * Join (paper §4.2): sends this identity's certificate to every server it can reach through its trust, and
   * merges the graphs they return (every certification verified). Saves what it learned.
   */
  async join(options: OperationOptions = {}): Promise<JoinResult> {
    const r = await this.protocol.join([], options.signal);
    await this.save();
    return r;
  }

  /** What this identity knows: graph, quorum cliques, KV quorum, its quorum certificate, revocations. */
  status(): StatusView {
    return statusView(this.protocol.graph, this.protocol.quorumSystem(), this.protocol.certificate());
  }

  /** This identity's certificate (with every certification it holds). */
  certificate(): Certificate {
    return this.protocol.certificate();
  }

  /** A certificate with its certifications named and verified against this identity's graph. */
  describe(cert: Certificate): CertificateView {
    return certificateView(cert, this.protocol.graph);
  }

  /**
   * This identity certifies `subject` (a trust edge identity → subject, paper §2.2): returns the certificate
   * with the new certification (give it back to its owner), and remembers the edge.
   */
  trust(subject: Certificate): Certificate {
    if (subject.id === this.id) throw new RangeError('subject: an identity cannot certify itself');
    const certified = withCertifications(subject, [certify(this.identity.key, subject)]);
    this.protocol.graph.addCertificate(certified);
    return certified;
  }

  /**
   * Adds the certifications others made on this identity's certificate (a copy they sent back after `trust`)
   * to ID/cert; returns how many were new.
   */
  async adoptCertifications(copy: Certificate): Promise<number> {
    if (copy.id !== this.id)
      throw new RangeError(`certificate: it is ${copy.id}'s, not this identity's (${this.id})`);
    const mine = await readCertificateFile(join(this.dir, 'cert'));
    const merged = withCertifications(mine, copy.certifications);
    const added = merged.certifications.length - mine.certifications.length;
    if (added > 0) await saveCertificate(this.dir, merged);
    this.protocol.graph.addCertifications(this.id, copy.certifications);
    return added;
  }

  /**
   * Registers this identity's key under its UID with `password` (paper §3.3 TPA, §4.3): the first key of a
   * UID enrols it (sets the password); later keys (key recovery, another device) prove the password. The
   * identity first certifies every server it knows (its trust), then keeps the cliques' certifications in
   * ID/cert, so it can write the UID's variables.
   */
  async register(password: string, options: OperationOptions = {}): Promise<RegisterResult> {
    const graph = this.protocol.graph;
    for (const c of graph.certificates()) {
      if (c.id === this.id || c.body.address === '') continue;
      if (!c.certifications.some((k) => k.issuer === this.id)) this.trust(c);
    }
    const r = await this.password.register(this.protocol.certificate(), password, options.signal);
    const mine = await readCertificateFile(join(this.dir, 'cert'));
    await saveCertificate(this.dir, withCertifications(mine, r.certifications));
    graph.addCertifications(this.id, r.certifications);
    await this.save();
    return {
      enrolled: r.enrolled,
      certifiedBy: r.certifications.map((c) => this.ref(c.issuer)),
      culprits: r.culprits,
    };
  }

  /**
   * Writes `value` under `key` encrypted under a fresh key only `password` and t members of every clique can
   * re-derive (roaming encryption, paper §3.3); readable with `getProtected` on any device.
   */
  async putProtected(
    key: Bytes,
    value: Bytes,
    password: string,
    options: OperationOptions = {},
  ): Promise<PutResult> {
    const w = await this.password.writeProtected(keyBytes(key), valueBytes(value), password, options.signal);
    return this.putResult(w);
  }

  /** Reads and decrypts a password-protected value (a proof of the password goes with the read). */
  async getProtected(
    key: Bytes,
    password: string,
    options: OperationOptions = {},
  ): Promise<Uint8Array | undefined> {
    return (await this.password.readProtected(keyBytes(key), password, options.signal)).plaintext;
  }

  /** Saves the known graph to ID/client-state if it changed (when persisting). */
  async save(): Promise<void> {
    if (!this.persist || this.protocol.graph.version === this.savedVersion) return;
    await saveClientState(this.dir, this.protocol.graph);
    this.savedVersion = this.protocol.graph.version;
  }

  /** Saves what changed and closes every connection. Idempotent. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      try {
        await this.save();
      } finally {
        await this.transport.close();
      }
    })();
    return this.closed;
  }
}
