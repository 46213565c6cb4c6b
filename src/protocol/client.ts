/**
 * Client algorithms (paper §4.1 read/write, §4.2 join/leave, Algorithm 7), written against the Transport,
 * Clock and Random interfaces only. Every answer is verified before it counts: signer signatures, KV
 * acknowledgements, and every record a read returns (writer signature and collective signature), and
 * answers are counted per distinct node.
 */
import { bytesEqual, toHex } from '../codec/bytes.js';
import { addBounded, setBounded } from '../collections/bounded.js';
import { AbortedError, abortedError, RELEASED, withDeadline, type Clock } from '../env/clock.js';
import { sample, type Random } from '../env/random.js';
import { sign, verify, type SigningKey } from '../crypto/ed25519.js';
import { LIMITS, SEALED_TIMESTAMP } from '../limits.js';
import {
  DEFAULT_QUORUM_OPTIONS,
  preferenceOrder,
  QuorumCache,
  robustSignatures,
  type CliqueQuorum,
  type QuorumOptions,
  type QuorumSystem,
} from '../quorum/quorum-system.js';
import type { Transport } from '../transport/transport.js';
import { withCertifications, type Certificate, type NodeId } from '../trust/certificate.js';
import { TrustGraph, type Presence } from '../trust/graph.js';
import { accusedOf, type RevocationProof } from '../trust/revocation.js';
import { ackStatement, presenceStatement, valueDigest, writerStatement } from '../trust/statements.js';
import { ProtocolError, type ErrorCode } from './errors.js';
import {
  decodeResponse,
  encodeRequest,
  type MemberSignature,
  type Request,
  type Response,
  type SignedRecord,
} from './messages.js';
import { equivocationProofs, RecordVerifier, recordStatement } from './verify.js';
import type { PasswordProof } from '../crypto/tpa.js';

export interface ClientOptions {
  readonly quorum: QuorumOptions;
  /** Deadline of one protocol phase (time, sign, store, read, write-back). */
  readonly phaseTimeoutMs: number;
  /** Attempts of a write that lost a timestamp race to a concurrent writer. */
  readonly writeAttempts: number;
  /** Random backoff between such attempts, in [min, max] ms. */
  readonly backoffMinMs: number;
  readonly backoffMaxMs: number;
  /**
   * After every clique has a sufficient collective signature, keep collecting late signatures for this
   * long: a record signed by more members stays valid if some of them are revoked later.
   */
  readonly signGraceMs: number;
  /**
   * Fast paths ask only the nodes a phase needs (2b+1 per clique for timestamps, a sufficient set per
   * clique for signatures, the first q KV nodes of the variable's preference order for stores and reads);
   * the others are asked on the first failure or after this many milliseconds.
   */
  readonly hedgeMs: number;
  /** A peer whose request failed at the transport is left out of fast paths for this long. */
  readonly suspectMs: number;
  /**
   * 'optimistic' (default): signer signatures are not verified as they arrive; every KV node verifies the
   * record anyway, and only when they refuse it does this client verify, distrust the signers whose
   * signatures are invalid (verified eagerly from then on) and retry. 'eager': verify every signature on
   * arrival. See docs/PROTOCOL.md §6 for why the record stays as robust either way.
   */
  readonly signatureChecks: 'optimistic' | 'eager';
}

export const DEFAULT_CLIENT_OPTIONS: ClientOptions = {
  quorum: DEFAULT_QUORUM_OPTIONS,
  phaseTimeoutMs: 2000,
  writeAttempts: 6,
  backoffMinMs: 2,
  backoffMaxMs: 40,
  signGraceMs: 5,
  hedgeMs: 100,
  suspectMs: 5000,
  signatureChecks: 'optimistic',
};

export interface ClientDeps {
  readonly key: SigningKey;
  readonly certificate: Certificate;
  readonly clock: Clock;
  readonly random: Random;
  readonly transport: Transport;
  /** The trust graph to use (a daemon shares its server's); a fresh one otherwise. */
  readonly graph?: TrustGraph;
  readonly options?: Partial<ClientOptions>;
  /** Called for every revocation this client performs. */
  readonly onRevoke?: (accused: NodeId, proof: RevocationProof) => void;
}

export interface WriteResult {
  readonly t: bigint;
  /** Distinct clique members whose signatures the record carries. */
  readonly signers: readonly NodeId[];
  /** KV nodes that acknowledged with a valid signature. */
  readonly acknowledgedBy: readonly NodeId[];
}

export interface ReadResult {
  /** Undefined when no valid record exists. */
  readonly record: SignedRecord | undefined;
  readonly value: Uint8Array | undefined;
  readonly t: bigint;
  /** Nodes that answered with a valid (or no) record. */
  readonly answeredBy: readonly NodeId[];
  /** Nodes whose answers were invalid (bad signatures, wrong variable, malformed). */
  readonly invalidFrom: readonly NodeId[];
  /** Nodes the latest record was written back to. */
  readonly writtenBackTo: readonly NodeId[];
  /** Proofs found by the equivocation check during this read. */
  readonly equivocations: readonly RevocationProof[];
}

export interface ReadOptions {
  readonly signal?: AbortSignal;
  /**
   * Which KV nodes to ask: 'all' (default: every KV node, the first q valid answers decide), 'sample' (a
   * random q of them, then the others only if some of those fail), or 'sample-exact' (a random q and no
   * others: the detection experiment of paper §5).
   */
  readonly quorum?: 'all' | 'sample' | 'sample-exact';
  /** Skip the write-back phase (the detection experiment measures detection only). */
  readonly skipWriteBack?: boolean;
  /** A password proof for a protected value (docs/PROTOCOL.md §Password). */
  readonly proof?: PasswordProof;
}

export type Outcome = { peer: Certificate; response: Response } | { peer: Certificate; error: unknown };

const LAST_USED_MAX = 65536;
/** Signers remembered as having sent an invalid signature (their signatures are verified on arrival). */
const DISTRUSTED_MAX = 4096;
const SUSPECTS_MAX = 4096;

export class BftkvClient {
  readonly id: NodeId;
  readonly graph: TrustGraph;
  readonly options: ClientOptions;
  private readonly quorums: QuorumCache;
  private readonly verifier: RecordVerifier;
  /** Highest timestamp this client signed per variable: an honest writer never reuses one (never equivocates). */
  private readonly lastUsed = new Map<string, bigint>();
  /** Values this client signed at the write-once timestamp, per variable (never two different ones). */
  private readonly sealedDigests = new Map<string, Uint8Array>();
  private presenceSeq = 0n;
  /** Peers whose last request failed at the transport, with the time until which they are suspected. */
  private readonly suspects = new Map<NodeId, number>();
  /** Signers that sent this client an invalid signature: verified on arrival from then on. */
  private readonly distrusted = new Set<NodeId>();

  constructor(private readonly deps: ClientDeps) {
    this.id = deps.certificate.id;
    this.graph = deps.graph ?? new TrustGraph();
    this.graph.addCertificate(deps.certificate);
    this.options = { ...DEFAULT_CLIENT_OPTIONS, ...deps.options };
    this.quorums = new QuorumCache(this.graph, this.id, this.options.quorum);
    this.verifier = new RecordVerifier(this.graph);
  }

  /** The quorum system this client currently sees. */
  quorumSystem(): QuorumSystem {
    return this.quorums.get();
  }

  /** This client's certificate as currently known (with the certifications its graph verified). */
  certificate(): Certificate {
    // Our own certificate as given (with every certification we hold, verified or not yet verifiable by
    // us) plus the ones our graph verified: the receivers verify each certification themselves.
    const known = this.graph.certificate(this.id);
    return known === undefined
      ? this.deps.certificate
      : withCertifications(this.deps.certificate, known.certifications);
  }

  private server(id: NodeId): Certificate | undefined {
    const c = this.graph.certificate(id);
    return c !== undefined && c.body.address !== '' ? c : undefined;
  }

  private servers(ids: readonly NodeId[]): Certificate[] {
    return ids.map((id) => this.server(id)).filter((c): c is Certificate => c !== undefined);
  }

  /**
   * Sends `req` to `peers` and feeds outcomes, in arrival order, to `onOutcome` until it returns true or
   * every peer answered. Resolves true when stopped by `onOutcome`. Requests still outstanding keep
   * running until the phase deadline; their outcomes go to `onLate` if given.
   *
   * With `first`, only those peers are asked at once (the fast path: exactly the nodes a phase needs);
   * the others are asked as soon as one outcome fails (a transport error, an error answer, or `onOutcome`
   * returning 'failed' for an invalid answer), when every first peer answered without finishing, or after
   * `hedgeMs`. Peers whose requests failed at the transport, or that had not answered when the hedge
   * delay expired, are suspected for a while and left out of later fast paths (an answer clears that).
   */
  private gather(
    peers: readonly Certificate[],
    req: Request,
    signal: AbortSignal | undefined,
    onOutcome: (o: Outcome) => boolean | 'failed',
    onLate?: (o: Outcome) => void,
    first?: readonly Certificate[],
  ): Promise<boolean> {
    const payload = encodeRequest(req);
    const firstIds = new Set((first ?? peers).map((p) => p.id));
    const initial = peers.filter((p) => firstIds.has(p.id));
    const reserve = peers.filter((p) => !firstIds.has(p.id));
    return new Promise<boolean>((resolve, reject) => {
      let settled = false;
      let escalated = reserve.length === 0;
      let outstanding = 0;
      if (peers.length === 0) return resolve(false);
      const deadline = withDeadline(this.deps.clock, this.options.phaseTimeoutMs, signal, (s) => {
        let finish: () => void = () => undefined;
        const finished = new Promise<void>((r) => (finish = r));
        const pending = new Set<NodeId>();
        const escalate = () => {
          if (escalated || settled) return;
          escalated = true;
          for (const peer of reserve) ask(peer);
        };
        const settle = (value: boolean | Error) => {
          if (settled) return;
          settled = true;
          if (value instanceof Error) reject(value);
          else resolve(value);
        };
        const ask = (peer: Certificate) => {
          outstanding++;
          pending.add(peer.id);
          void this.requestOutcome(peer, req.kind, payload, s).then((o) => {
            outstanding--;
            pending.delete(peer.id);
            if (settled) {
              if (onLate !== undefined && !('error' in o && o.error instanceof AbortedError)) onLate(o);
            } else {
              let verdict: boolean | 'failed';
              try {
                verdict = onOutcome(o);
              } catch (e) {
                verdict = false;
                settle(e instanceof Error ? e : new Error(String(e)));
              }
              if (verdict === true) settle(true);
              else if (verdict === 'failed' || 'error' in o || o.response.kind === 'error') escalate();
              if (!settled && outstanding === 0) {
                if (escalated) settle(false);
                else escalate();
              }
            }
            if (outstanding === 0 && (settled || escalated)) finish();
          });
        };
        for (const peer of initial) ask(peer);
        if (initial.length === 0) escalate();
        if (!escalated)
          this.deps.clock.sleep(this.options.hedgeMs, s).then(
            () => {
              if (escalated || settled) return;
              for (const id of pending) this.suspect(id);
              escalate();
            },
            () => undefined,
          );
        return finished;
      });
      deadline.then(
        () => undefined,
        (e: unknown) => {
          if (!settled) {
            settled = true;
            if (signal?.aborted) reject(new AbortedError());
            else resolve(false);
          }
          void e;
        },
      );
    });
  }

  /**
   * Sends `requestFor(peer)` to every peer at once and collects the outcomes until `enough(outcomes)` holds
   * (then waits `graceMs` more for stragglers), every peer answered, or the deadline (`timeoutMs`, default
   * the phase deadline) passed.
   */
  async exchange(
    peers: readonly Certificate[],
    requestFor: (peer: Certificate) => Request,
    signal: AbortSignal | undefined,
    enough: (outcomes: readonly Outcome[]) => boolean = () => false,
    graceMs = 0,
    timeoutMs = this.options.phaseTimeoutMs,
  ): Promise<Outcome[]> {
    const outcomes: Outcome[] = [];
    if (peers.length === 0) return outcomes;
    const ctl = new AbortController();
    const onAbort = () => ctl.abort(abortedError(signal));
    signal?.addEventListener('abort', onAbort, { once: true });
    let graceStarted = false;
    try {
      await withDeadline(this.deps.clock, timeoutMs, ctl.signal, (s) => {
        return new Promise<void>((resolve) => {
          let left = peers.length;
          for (const peer of peers) {
            const req = requestFor(peer);
            void this.requestOutcome(peer, req.kind, encodeRequest(req), s).then((o) => {
              outcomes.push(o);
              left--;
              if (left === 0) return resolve();
              if (!graceStarted && enough(outcomes)) {
                graceStarted = true;
                if (graceMs <= 0) return resolve();
                this.deps.clock.sleep(graceMs, s).then(resolve, resolve);
              }
            });
          }
        });
      });
    } catch (e) {
      if (signal?.aborted) throw new AbortedError();
      void e;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      ctl.abort(RELEASED);
    }
    return outcomes.slice();
  }

  /** The certificate of a server this client knows (with an address), if any. */
  serverCertificate(id: NodeId): Certificate | undefined {
    return this.server(id);
  }

  /** One request as an outcome; a transport failure marks the peer as suspected. */
  private async requestOutcome(
    peer: Certificate,
    kind: Request['kind'],
    payload: Uint8Array,
    signal: AbortSignal,
  ): Promise<Outcome> {
    try {
      const bytes = await this.deps.transport.request(peer.id, peer.body.address, payload, signal);
      this.suspects.delete(peer.id);
      return { peer, response: decodeResponse(kind, bytes) };
    } catch (error) {
      if (!(error instanceof AbortedError)) this.suspect(peer.id);
      return { peer, error };
    }
  }

  private suspect(id: NodeId): void {
    setBounded(this.suspects, id, this.deps.clock.now() + this.options.suspectMs, SUSPECTS_MAX);
  }

  private suspected(id: NodeId): boolean {
    const until = this.suspects.get(id);
    if (until === undefined) return false;
    if (until > this.deps.clock.now()) return true;
    this.suspects.delete(id);
    return false;
  }

  /** The first `count` of `ordered` that are not suspected (suspected ones only if too few are left). */
  private pick(ordered: readonly Certificate[], count: number): Certificate[] {
    const healthy = ordered.filter((c) => !this.suspected(c.id));
    const rest = ordered.filter((c) => this.suspected(c.id));
    return [...healthy, ...rest].slice(0, count);
  }

  /** Per clique, `count(clique)` members picked at random among the unsuspected (fast-path signers). */
  private pickPerClique(qs: QuorumSystem, count: (c: CliqueQuorum) => number): Certificate[] {
    return qs.cliques.flatMap((c) =>
      this.pick(sample(this.deps.random, this.servers(c.members), c.members.length), count(c)),
    );
  }

  /** The KV nodes in x's preference order (quorum-system.ts preferenceOrder). */
  private kvOrder(qs: QuorumSystem, x: Uint8Array): Certificate[] {
    return this.servers(preferenceOrder(qs.kvNodes, x));
  }

  // ---------------------------------------------------------------- join / leave (paper §4.2)

  private nextPresence(present: boolean): Presence {
    const now = BigInt(Math.max(0, Math.floor(this.deps.clock.now())));
    let seq = this.graph.presenceSeq(this.id) + 1n;
    if (seq <= this.presenceSeq) seq = this.presenceSeq + 1n;
    if (now > seq) seq = now;
    this.presenceSeq = seq;
    const signature = sign(this.deps.key, presenceStatement(this.id, seq, present));
    const p: Presence = { id: this.id, seq, present, signature };
    this.graph.applyPresence(p);
    return p;
  }

  /**
   * Join (Algorithm 7): send this node's certificate to every known server, verify and merge the graphs
   * they return, and repeat with servers learned on the way until no new server appears.
   */
  async join(
    bootstrap: readonly Certificate[] = [],
    signal?: AbortSignal,
  ): Promise<{ contacted: number; answered: number }> {
    this.graph.addCertificates(bootstrap);
    const presence = this.nextPresence(true);
    const contacted = new Set<NodeId>([this.id]);
    let answered = 0;
    for (let round = 0; round < LIMITS.graphVerticesMax; round++) {
      const reachable = this.graph.reachableFrom(this.id);
      const peers = this.graph
        .certificates()
        .filter(
          (c) =>
            !contacted.has(c.id) &&
            c.body.address !== '' &&
            this.graph.isEligible(c.id) &&
            reachable.has(c.id),
        );
      if (peers.length === 0) break;
      for (const p of peers) contacted.add(p.id);
      const req: Request = { kind: 'join', certificate: this.certificate(), presence };
      const responses: Array<Extract<Response, { kind: 'join' }>> = [];
      await this.gather(peers, req, signal, (o) => {
        if ('response' in o && o.response.kind === 'join') responses.push(o.response);
        return false;
      });
      answered += responses.length;
      for (const r of responses) this.mergeGraph(r.certificates, r.presences, r.proofs);
    }
    return { contacted: contacted.size - 1, answered };
  }

  /** Verifies and merges a received graph (certificates, presence, revocation proofs). */
  mergeGraph(
    certs: readonly Certificate[],
    presences: readonly Presence[],
    proofs: readonly RevocationProof[],
  ): void {
    for (const p of proofs) this.applyRevocation(p);
    const fresh = certs.filter((c) => this.graph.certificate(c.id) === undefined).map((c) => c.id);
    const results = this.graph.addCertificates(certs);
    for (const r of results) if (r.proof !== undefined) this.applyRevocation(r.proof);
    // Keep new nodes only if our own trust reaches them (paper §2.2: trust flows along certifications), so
    // a lying peer can neither fill the graph with phantoms nor make us contact addresses it chose.
    this.graph.forgetExcept(fresh, this.graph.reachableFrom(this.id));
    for (const p of presences) if (p.id !== this.id) this.graph.applyPresence(p);
  }

  /** Leave (paper §4.2): announce to every known server that this node is gone. */
  async leave(signal?: AbortSignal): Promise<number> {
    const presence = this.nextPresence(false);
    const peers = this.graph.certificates().filter((c) => c.id !== this.id && c.body.address !== '');
    let acks = 0;
    await this.gather(peers, { kind: 'leave', presence }, signal, (o) => {
      if ('response' in o && o.response.kind === 'ok') acks++;
      return false;
    });
    return acks;
  }

  private applyRevocation(p: RevocationProof): boolean {
    if (!this.graph.revoke(p)) return false;
    this.deps.onRevoke?.(accusedOf(p), p);
    return true;
  }

  // ---------------------------------------------------------------- write (paper §4.1)

  /** Writes v to x: timestamps, collective signature from every quorum clique, store on a KV quorum. */
  async write(x: Uint8Array, v: Uint8Array, signal?: AbortSignal): Promise<WriteResult> {
    return this.writeWith(x, v, false, signal);
  }

  /**
   * Writes the value `prepare(t, qs)` builds for the timestamp chosen (a roaming value is set up per
   * timestamp), asking every clique member for its signature.
   */
  async writePrepared(
    x: Uint8Array,
    prepare: (t: bigint, qs: QuorumSystem, signal?: AbortSignal) => Promise<Uint8Array>,
    signal?: AbortSignal,
  ): Promise<WriteResult> {
    return this.writeWith(x, prepare, false, signal);
  }

  /** Writes v to x with the write-once timestamp 2^64−1: the variable is sealed afterwards. */
  async writeOnce(x: Uint8Array, v: Uint8Array, signal?: AbortSignal): Promise<WriteResult> {
    return this.writeWith(x, v, true, signal);
  }

  private checkArgs(x: Uint8Array, v?: Uint8Array): void {
    if (x.length === 0 || x.length > LIMITS.keyBytesMax)
      throw new RangeError(`x: length must be 1..${LIMITS.keyBytesMax}, got ${x.length}`);
    if (v !== undefined && v.length > LIMITS.valueBytesMax)
      throw new RangeError(`v: longer than ${LIMITS.valueBytesMax}`);
  }

  private async writeWith(
    x: Uint8Array,
    value: Uint8Array | ((t: bigint, qs: QuorumSystem, signal?: AbortSignal) => Promise<Uint8Array>),
    once: boolean,
    signal?: AbortSignal,
  ): Promise<WriteResult> {
    this.checkArgs(x, value instanceof Uint8Array ? value : undefined);
    let lastError: ProtocolError | undefined;
    for (let attempt = 0; attempt < this.options.writeAttempts; attempt++) {
      if (attempt > 0) {
        const span = this.options.backoffMaxMs - this.options.backoffMinMs;
        await this.deps.clock.sleep(
          this.options.backoffMinMs + (this.deps.random.int(span + 1) * Math.min(attempt, 4)) / 4,
          signal,
        );
      }
      const qs = this.quorums.get();
      if (qs.cliques.length === 0)
        throw new ProtocolError('insufficientResponses', "no quorum clique in this node's trust graph");
      if (qs.kvNodes.length === 0)
        throw new ProtocolError('insufficientResponses', "no KV node in this node's trust graph");
      // Fast path: a variable this client wrote or read before gets the next timestamp without a time
      // phase (safety never depends on the time phase: signers refuse stale timestamps, and the retry
      // runs it). The time phase also runs for write-once: it reports a variable that is already sealed.
      const known = this.lastUsed.get(toHex(x));
      let t: bigint;
      if (!once && attempt === 0 && known !== undefined && known + 1n < SEALED_TIMESTAMP) t = known + 1n;
      else {
        const fresh = await this.collectTimestamp(qs, x, signal);
        t = once ? SEALED_TIMESTAMP : fresh;
      }
      // Reserved at once, so a concurrent write of this client to x never picks the same timestamp (the
      // time phase reserves its answer itself, in the same synchronous step that computes it).
      this.rememberTimestamp(x, t);
      const prepared = !(value instanceof Uint8Array);
      const v = prepared ? await value(t, qs, signal) : value;
      if (prepared) this.checkArgs(x, v);
      const signed = await this.collectSignatures(qs, x, t, v, signal, prepared);
      if ('retry' in signed) {
        lastError = signed.retry;
        continue;
      }
      try {
        return await this.storeRecord(qs, signed.record, signal);
      } catch (e) {
        // The KV nodes refused the collective signature: if some signatures this client took unverified are
        // invalid, their signers are distrusted and the write runs again (they are verified on arrival now).
        if (!(e instanceof ProtocolError) || e.code !== 'insufficientSignatures') throw e;
        const invalid = this.invalidSigners(qs, signed.record);
        if (invalid.length === 0) throw e;
        for (const id of invalid) this.distrust(id);
        lastError = new ProtocolError(
          'insufficientSignatures',
          `the KV nodes refused the collective signature: ${invalid.length} signer(s) sent invalid signatures`,
          undefined,
          invalid,
        );
      }
    }
    throw lastError ?? new ProtocolError('insufficientResponses', 'write failed');
  }

  /**
   * Time phase: 2b+1 answers from every clique. Per clique the answers are sorted and only those within
   * the timestamp step of the (b+1)-th largest count, so b lying members can neither push t beyond what
   * honest signers accept nor seal the variable; at least one honest member among any 2b+1 answers holds
   * the latest signed timestamp (sufficient sets and timestamp quorums intersect in b+1).
   */
  private async collectTimestamp(qs: QuorumSystem, x: Uint8Array, signal?: AbortSignal): Promise<bigint> {
    const answers = new Map<CliqueQuorum, bigint[]>();
    const failures = new Map<CliqueQuorum, NodeId[]>();
    for (const c of qs.cliques) {
      answers.set(c, []);
      failures.set(c, []);
    }
    const done = () => qs.cliques.every((c) => answers.get(c)!.length >= c.timestampQuorum);
    const hopeless = () =>
      qs.cliques.some((c) => c.members.length - failures.get(c)!.length < c.timestampQuorum);
    const peers = this.servers(qs.cliques.flatMap((c) => c.members));
    await this.gather(
      peers,
      { kind: 'time', x },
      signal,
      (o) => {
        const c = qs.cliqueOf(o.peer.id)!;
        if ('response' in o && o.response.kind === 'time') answers.get(c)!.push(o.response.t);
        else failures.get(c)!.push(o.peer.id);
        return done() || hopeless();
      },
      undefined,
      this.pickPerClique(qs, (c) => c.timestampQuorum),
    );
    if (!done()) {
      throw new ProtocolError(
        'insufficientResponses',
        'too few timestamp answers',
        undefined,
        qs.cliques.flatMap((c) => failures.get(c)!),
      );
    }
    let t = this.lastUsed.get(toHex(x)) ?? 0n;
    for (const c of qs.cliques) {
      const sorted = answers
        .get(c)!
        .slice()
        .sort((a, b) => (a > b ? -1 : a < b ? 1 : 0));
      const reference = sorted[c.b]!;
      if (reference === SEALED_TIMESTAMP) throw new ProtocolError('sealed', 'variable is sealed');
      for (const a of sorted)
        if (a <= reference + LIMITS.timestampStepMax && a !== SEALED_TIMESTAMP && a > t) t = a;
    }
    if (t + 1n >= SEALED_TIMESTAMP) throw new ProtocolError('invalidTimestamp', 'timestamp space exhausted');
    // Reserved in the same synchronous step that read `lastUsed`: another write of x by this client whose
    // time phase ends in the same tick (answers multiplexed on one connection) must not pick this t too,
    // or the two signings would be writer equivocation and get this client revoked.
    this.rememberTimestamp(x, t + 1n);
    return t + 1n;
  }

  private rememberTimestamp(x: Uint8Array, t: bigint): void {
    if (t === SEALED_TIMESTAMP) return; // write-once attempts are remembered by value in `sealedDigests`
    const k = toHex(x);
    if ((this.lastUsed.get(k) ?? 0n) >= t) return;
    setBounded(this.lastUsed, k, t, LAST_USED_MAX);
  }

  /**
   * Sign phase: ask every member of every clique; verify each signature; finish when every clique has a
   * sufficient set (plus a short grace for late signers). A lost timestamp race is reported as `retry`.
   */
  private async collectSignatures(
    qs: QuorumSystem,
    x: Uint8Array,
    t: bigint,
    v: Uint8Array,
    signal?: AbortSignal,
    askEveryone = false,
  ): Promise<{ record: SignedRecord } | { retry: ProtocolError }> {
    const digest = valueDigest(v);
    if (t === SEALED_TIMESTAMP) {
      // Write-once always uses the same timestamp: signing a second value for it would be equivocation.
      const k = toHex(x);
      const earlier = this.sealedDigests.get(k);
      if (earlier !== undefined && !bytesEqual(earlier, digest)) {
        throw new ProtocolError(
          'sealed',
          'this client already signed another write-once value for this variable',
        );
      }
      setBounded(this.sealedDigests, k, digest, LAST_USED_MAX);
    }
    const writer = this.certificate();
    const writerSignature = sign(this.deps.key, writerStatement(x, t, digest));
    const statement = recordStatement({ x, t, v, writer, writerSignature }, digest);
    const valid = new Map<CliqueQuorum, Map<NodeId, Uint8Array>>();
    const failed = new Map<CliqueQuorum, number>();
    for (const c of qs.cliques) {
      valid.set(c, new Map());
      failed.set(c, 0);
    }
    const errors = new Map<ErrorCode, number>();
    const culprits: NodeId[] = [];
    let conflict: ProtocolError | undefined;
    const sufficient = () => qs.cliques.every((c) => valid.get(c)!.size >= c.sufficient);
    const hopeless = () => qs.cliques.some((c) => c.members.length - failed.get(c)! < c.sufficient);
    const eager = this.options.signatureChecks === 'eager';
    const accept = (o: Outcome): boolean => {
      const c = qs.cliqueOf(o.peer.id)!;
      if ('response' in o && o.response.kind === 'sign') {
        if (!eager && !this.distrusted.has(o.peer.id)) {
          // Optimistic: the KV nodes verify the record (see signatureChecks).
          valid.get(c)!.set(o.peer.id, o.response.signature);
          return true;
        }
        if (verify(o.peer.body.publicKey, statement, o.response.signature)) {
          valid.get(c)!.set(o.peer.id, o.response.signature);
          return true;
        }
        culprits.push(o.peer.id);
      } else if ('response' in o && o.response.kind === 'error') {
        const raceLost = o.response.code === 'timestampConflict' || o.response.code === 'staleTimestamp';
        // A lost race against the write-once timestamp means the variable is sealed: no retry can help.
        const code = raceLost && o.response.timestamp === SEALED_TIMESTAMP ? 'sealed' : o.response.code;
        errors.set(code, (errors.get(code) ?? 0) + 1);
        // The timestamp in the refusal is not remembered: one lying signer could push this client's
        // timestamps beyond what honest signers accept. The retry runs the (Byzantine-tolerant) time phase.
        if (code === 'timestampConflict' || code === 'staleTimestamp')
          conflict = new ProtocolError(code, o.response.message, o.response.timestamp);
      }
      failed.set(c, failed.get(c)! + 1);
      return false;
    };
    const peers = this.servers(qs.cliques.flatMap((c) => c.members));
    // A record must stay valid when up to b of its signers are revoked later: other writes ask
    // robustSignatures(c) members per clique (8 of 10, more only on failure) and stop when they all signed.
    // Write-once records, which can never be refreshed by a later write, ask every member. Once every clique
    // is sufficient, late signatures get a grace period of signGraceMs.
    const everyone = askEveryone || t === SEALED_TIMESTAMP;
    const robustDone = () => qs.cliques.every((c) => valid.get(c)!.size >= robustSignatures(c));
    let graceStarted = false;
    const graceCtl = new AbortController();
    const onAbort = () => graceCtl.abort(abortedError(signal));
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await this.gather(
        peers,
        { kind: 'sign', x, t, v, writer, writerSignature },
        graceCtl.signal,
        (o) => {
          const ok = accept(o);
          if (!everyone && robustDone()) return true;
          if (sufficient() && !graceStarted) {
            graceStarted = true;
            if (this.options.signGraceMs <= 0) return true;
            this.deps.clock.sleep(this.options.signGraceMs, graceCtl.signal).then(
              () => graceCtl.abort(RELEASED),
              () => undefined,
            );
          }
          if (!sufficient() && hopeless()) return true;
          return ok ? false : 'failed';
        },
        undefined,
        everyone ? undefined : this.pickPerClique(qs, robustSignatures),
      );
    } catch (e) {
      if (!(e instanceof AbortedError) || signal?.aborted) throw e;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      graceCtl.abort(RELEASED);
    }
    if (!sufficient()) {
      if (conflict !== undefined && (errors.get('sealed') ?? 0) === 0) return { retry: conflict };
      throw mostFrequentError(
        errors,
        'insufficientSignatures',
        'could not collect a sufficient collective signature',
        culprits,
      );
    }
    const signatures: MemberSignature[] = [];
    for (const c of qs.cliques)
      for (const [signer, signature] of valid.get(c)!) signatures.push({ signer, signature });
    signatures.sort((a, b) => (a.signer < b.signer ? -1 : a.signer > b.signer ? 1 : 0));
    return { record: { x, t, v, writer, writerSignature, signatures } };
  }

  /** The signers whose signatures in `record` do not verify (checked only after the KV nodes refused it). */
  private invalidSigners(qs: QuorumSystem, record: SignedRecord): NodeId[] {
    const statement = recordStatement(record);
    return record.signatures
      .filter((s) => {
        const key = this.graph.body(s.signer)?.publicKey;
        return (
          qs.cliqueOf(s.signer) !== undefined && key !== undefined && !verify(key, statement, s.signature)
        );
      })
      .map((s) => s.signer);
  }

  /** Signers that sent this client an invalid signature (their signatures are now verified on arrival). */
  distrustedSigners(): NodeId[] {
    return [...this.distrusted];
  }

  private distrust(id: NodeId): void {
    addBounded(this.distrusted, id, DISTRUSTED_MAX);
  }

  /** Store phase: send the record to every KV node, count distinct valid signed acknowledgements. */
  private async storeRecord(
    qs: QuorumSystem,
    record: SignedRecord,
    signal?: AbortSignal,
  ): Promise<WriteResult> {
    const order = this.kvOrder(qs, record.x);
    const acked = await this.sendRecord(order, record, qs.kvQuorum, signal, this.pick(order, qs.kvQuorum));
    if (acked.acks.length < qs.kvQuorum) {
      throw mostFrequentError(
        acked.errors,
        'insufficientResponses',
        `only ${acked.acks.length} of ${qs.kvQuorum} KV acknowledgements`,
        acked.culprits,
      );
    }
    return { t: record.t, signers: record.signatures.map((s) => s.signer), acknowledgedBy: acked.acks };
  }

  private async sendRecord(
    peers: readonly Certificate[],
    record: SignedRecord,
    needed: number,
    signal?: AbortSignal,
    first?: readonly Certificate[],
  ): Promise<{ acks: NodeId[]; errors: Map<ErrorCode, number>; culprits: NodeId[] }> {
    const statement = ackStatement(record.x, record.t, valueDigest(record.v));
    const acks: NodeId[] = [];
    const errors = new Map<ErrorCode, number>();
    const culprits: NodeId[] = [];
    let failures = 0;
    await this.gather(
      peers,
      { kind: 'write', record },
      signal,
      (o) => {
        let ok = false;
        if (
          'response' in o &&
          o.response.kind === 'write' &&
          verify(o.peer.body.publicKey, statement, o.response.ack)
        ) {
          acks.push(o.peer.id);
          ok = true;
        } else {
          failures++;
          if ('response' in o && o.response.kind === 'error')
            errors.set(o.response.code, (errors.get(o.response.code) ?? 0) + 1);
          else if ('response' in o) culprits.push(o.peer.id);
        }
        if (acks.length >= needed || peers.length - failures < needed) return true;
        return ok ? false : 'failed';
      },
      undefined,
      first,
    );
    return { acks, errors, culprits };
  }

  // ---------------------------------------------------------------- read (paper §4.1)

  /**
   * Read: q verified answers from KV nodes, the equivocation check across them, the latest valid record,
   * and write-back until q nodes hold it (so a later read cannot return an older value).
   */
  async read(x: Uint8Array, options: ReadOptions = {}): Promise<ReadResult> {
    this.checkArgs(x);
    const { signal } = options;
    const qs = this.quorums.get();
    // Without a quorum clique no record can be verified (and former signers would pass for KV nodes).
    if (qs.cliques.length === 0)
      throw new ProtocolError('insufficientResponses', "no quorum clique in this node's trust graph");
    if (qs.kvNodes.length === 0)
      throw new ProtocolError('insufficientResponses', "no KV node in this node's trust graph");
    const mode = options.quorum ?? 'all';
    // 'all': every KV node, the first q of x's preference order at once (where writes and gossip put x).
    const all = mode === 'all' ? this.kvOrder(qs, x) : this.servers(qs.kvNodes);
    const first = mode === 'all' ? all : sample(this.deps.random, all, qs.kvQuorum);
    const firstIds = new Set(first.map((c) => c.id));
    const rounds = mode === 'sample' ? [first, all.filter((c) => !firstIds.has(c.id))] : [first];
    const fastPath = mode === 'all' ? this.pick(all, qs.kvQuorum) : undefined;
    const answers = new Map<NodeId, SignedRecord | undefined>();
    const invalid: NodeId[] = [];
    const errors = new Map<ErrorCode, number>();
    let failures = 0;
    const classify = (o: Outcome): 'valid' | 'invalid' | 'failed' => {
      if (!('response' in o)) return 'failed';
      const r = o.response;
      if (r.kind === 'error') {
        errors.set(r.code, (errors.get(r.code) ?? 0) + 1);
        return 'failed';
      }
      if (r.kind !== 'read') return 'invalid';
      if (r.record === undefined) {
        answers.set(o.peer.id, undefined);
        return 'valid';
      }
      if (!bytesEqual(r.record.x, x) || !this.verifier.verify(qs, r.record).ok) return 'invalid';
      answers.set(o.peer.id, r.record);
      return 'valid';
    };
    const equivocations: RevocationProof[] = [];
    const checkAgainst = (rec: SignedRecord) => {
      for (const other of answers.values()) {
        if (other === undefined || other.t !== rec.t) continue;
        for (const p of equivocationProofs(this.graph, other, rec))
          if (this.applyRevocation(p)) equivocations.push(p);
      }
    };
    for (const [round, peers] of rounds.entries()) {
      if (answers.size >= qs.kvQuorum || peers.length === 0) break;
      failures = 0;
      // Nodes of later rounds can still make up for failures in this one.
      const needed = qs.kvQuorum - answers.size - rounds.slice(round + 1).reduce((n, r) => n + r.length, 0);
      await this.gather(
        peers,
        { kind: 'read', x, proof: options.proof },
        signal,
        (o) => {
          const before = 'response' in o && o.response.kind === 'read' ? o.response.record : undefined;
          const c = classify(o);
          if (c === 'invalid') invalid.push(o.peer.id);
          if (c !== 'valid') failures++;
          if (c === 'valid' && before !== undefined) checkAgainst(before);
          if (answers.size >= qs.kvQuorum || peers.length - failures < needed) return true;
          return c === 'valid' ? false : 'failed';
        },
        (o) => {
          // Late answers still feed the equivocation check.
          if ('response' in o && o.response.kind === 'read' && o.response.record !== undefined) {
            const rec = o.response.record;
            if (bytesEqual(rec.x, x) && this.verifier.verify(this.quorums.get(), rec).ok) {
              const found: RevocationProof[] = [];
              for (const other of answers.values()) {
                if (other !== undefined && other.t === rec.t)
                  for (const p of equivocationProofs(this.graph, other, rec))
                    if (this.applyRevocation(p)) found.push(p);
              }
              if (found.length > 0) void this.publishProofs(found);
            }
          }
        },
        round === 0 ? fastPath : undefined,
      );
    }
    // Proofs found during the read are published whatever the outcome: the revocation must spread even
    // when it leaves this read short of answers (the revoked signers' records stop verifying).
    if (equivocations.length > 0) await this.publishProofs(equivocations, signal);
    if (answers.size < qs.kvQuorum) {
      if (equivocations.length > 0) {
        throw new ProtocolError(
          'equivocation',
          `equivocation detected; ${equivocations.length} key(s) revoked`,
          undefined,
          equivocations.map(accusedOf),
        );
      }
      throw mostFrequentError(
        errors,
        'insufficientResponses',
        `only ${answers.size} of ${qs.kvQuorum} valid read answers`,
        invalid,
      );
    }
    // Latest record that is still valid (an equivocation just revoked signers, which may invalidate both).
    const current = this.quorums.get();
    let latest: SignedRecord | undefined;
    for (const rec of answers.values()) {
      if (rec === undefined || (latest !== undefined && rec.t <= latest.t)) continue;
      if (this.verifier.verify(current, rec).ok) latest = rec;
    }
    if (equivocations.length > 0 && latest !== undefined) {
      const conflicting = [...answers.values()].some(
        (r) => r !== undefined && r.t === latest.t && !bytesEqual(r.v, latest.v),
      );
      if (conflicting)
        throw new ProtocolError('equivocation', 'conflicting records at the latest timestamp', latest.t);
    }
    if (latest !== undefined) this.rememberTimestamp(x, latest.t);
    const answeredBy = [...answers.keys()];
    let writtenBackTo: NodeId[] = [];
    if (latest !== undefined && options.skipWriteBack !== true) {
      writtenBackTo = await this.writeBack(current, latest, answers, signal);
    }
    return {
      record: latest,
      value: latest?.v,
      t: latest?.t ?? 0n,
      answeredBy,
      invalidFrom: invalid,
      writtenBackTo,
      equivocations,
    };
  }

  /** Write-back: send the latest record to nodes that did not show it, until q nodes hold it. */
  private async writeBack(
    qs: QuorumSystem,
    latest: SignedRecord,
    answers: Map<NodeId, SignedRecord | undefined>,
    signal?: AbortSignal,
  ): Promise<NodeId[]> {
    const digest = valueDigest(latest.v);
    const holders = [...answers.entries()]
      .filter(([, r]) => r !== undefined && r.t === latest.t && bytesEqual(valueDigest(r.v), digest))
      .map(([id]) => id);
    const holderSet = new Set(holders);
    if (holders.length >= qs.kvQuorum) return [];
    const stale = this.servers(qs.kvNodes.filter((id) => !holderSet.has(id)));
    // Answered-but-stale nodes first, then the rest.
    stale.sort((a, b) => Number(answers.has(b.id)) - Number(answers.has(a.id)));
    const needed = qs.kvQuorum - holders.length;
    const result = await this.sendRecord(stale, latest, needed, signal);
    if (result.acks.length < needed) {
      throw new ProtocolError(
        'insufficientResponses',
        `write-back reached ${holders.length + result.acks.length} of ${qs.kvQuorum} KV nodes`,
        latest.t,
      );
    }
    return result.acks;
  }

  /** Sends revocation proofs to every known server (they verify and propagate them). */
  async publishProofs(proofs: readonly RevocationProof[], signal?: AbortSignal): Promise<void> {
    const peers = this.graph.certificates().filter((c) => c.id !== this.id && c.body.address !== '');
    await this.gather(peers, { kind: 'gossip', records: [], proofs }, signal, () => false);
  }
}

/** The refusal most peers gave, as the error of a failed phase (REFERENCE.md §4.10); `fallback` if none. */
export function mostFrequentError(
  errors: Map<ErrorCode, number>,
  fallback: ErrorCode,
  message: string,
  culprits: readonly NodeId[],
): ProtocolError {
  let best: ErrorCode = fallback;
  let count = 0;
  for (const [code, n] of errors) {
    if (n > count) {
      best = code;
      count = n;
    }
  }
  return new ProtocolError(
    best,
    count > 0 ? `${message} (most frequent refusal: ${best} ×${count})` : message,
    undefined,
    culprits,
  );
}
