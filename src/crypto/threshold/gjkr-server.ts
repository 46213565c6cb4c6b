/**
 * A server's sessions of the GJKR threshold DSA/ECDSA protocols (gjkr-key.ts, gjkr-sign.ts): routes each
 * request to its session by session id, and enforces the rules that keep per-session secrets single-use.
 *
 * Invariant: a session id opens at most one session in this server's memory (active sessions plus the
 *   last `usedSessionIdsMax` finished ones); a second opening is refused.
 * Invariant: a session is erased when it finishes (phase 2 answered, key committed), when any request to it
 *   is refused, and when it outlives `sessionTtlMs`; a request to an erased session is refused.
 * Beyond the remembered window a reused id opens a new session with fresh randomness: nonce reuse is
 * impossible either way, because no per-session secret survives its session.
 *
 * `SessionTable` keeps these rules and `stepSession` routes one step; the CA's holder
 * (src/protocol/ca/scheme-dl.ts) uses both with its own opening checks.
 *
 * Time is injected (`nowMs` on every call); this module does no I/O.
 */
import { CodecError, toHex } from '../../codec/bytes.js';
import { addBounded } from '../../collections/bounded.js';
import type { Random } from '../../env/random.js';
import {
  GjkrRequestError,
  GjkrSessionError,
  REQUEST,
  decodeDkgOpen,
  decodeRelay,
  decodeSignOpen,
  readRequestHeader,
  type DkgOpenRequest,
  type PartyIdentity,
  type RequestHeader,
  type SignOpenRequest,
} from './gjkr-messages.js';
import { DkgSession, type KeyShare } from './gjkr-key.js';
import { SigningSession } from './gjkr-sign.js';

/** Configuration of a server's GJKR sessions. */
export interface GjkrServerOptions extends SessionTableOptions {
  readonly identity: PartyIdentity;
  readonly random: Random;
  /** The stored share of a key, by key id (signing). */
  readonly keyShare: (keyId: Uint8Array) => KeyShare | undefined;
  /** Whether to take part in generating a key with these parameters (default: yes). */
  readonly acceptDkg?: (request: DkgOpenRequest) => boolean;
  /** The signing policy: whether to sign this message with this key (default: yes). */
  readonly acceptSigning?: (request: SignOpenRequest, share: KeyShare) => boolean;
}

/** A server's answer: the response bytes, and the new key share when a key generation committed. */
export interface GjkrReply {
  readonly response: Uint8Array;
  readonly keyShare?: KeyShare;
}

/** Order of the rounds of both session kinds. */
const ROUND_RANK: Record<SigningSession['round'] | DkgSession['round'], number> = {
  dealt: 0,
  verified: 1,
  revealed: 2,
  phase1: 3,
  finalized: 3,
  finished: 4,
  committed: 4,
  destroyed: 5,
};

/** Bounds of a session table. */
export interface SessionTableOptions {
  /** Lifetime of a session from its opening (default 60 s). */
  readonly sessionTtlMs?: number;
  /** Concurrent sessions (default 64). */
  readonly sessionsMax?: number;
  /** Finished session ids remembered to refuse reuse (default 65 536). */
  readonly usedSessionIdsMax?: number;
}

/**
 * Single-use sessions by id (the module invariants): an id opens at most once while remembered, a session
 * ends (and is destroyed) on `end`, on expiry, and never comes back. Shared by GjkrServer and the CA
 * service's holder (src/protocol/ca/scheme-dl.ts).
 */
export class SessionTable<S extends { destroy(): void }> {
  private readonly sessions = new Map<string, { session: S; openedAtMs: number }>();
  private readonly used = new Set<string>();
  private readonly ttlMs: number;
  private readonly sessionsMax: number;
  private readonly usedMax: number;

  constructor(options: SessionTableOptions = {}) {
    this.ttlMs = options.sessionTtlMs ?? 60_000;
    this.sessionsMax = options.sessionsMax ?? 64;
    this.usedMax = options.usedSessionIdsMax ?? 65_536;
    for (const [name, v] of [
      ['sessionTtlMs', this.ttlMs],
      ['sessionsMax', this.sessionsMax],
      ['usedSessionIdsMax', this.usedMax],
    ] as const)
      if (!Number.isInteger(v) || v < 1)
        throw new RangeError(`${name} must be a positive integer, got ${String(v)}`);
  }

  /** Sessions currently holding secrets. */
  get size(): number {
    return this.sessions.size;
  }

  /** Erases sessions older than the time to live; returns how many. */
  expire(nowMs: number): number {
    let n = 0;
    for (const [id, e] of this.sessions)
      if (nowMs - e.openedAtMs > this.ttlMs) {
        this.end(id);
        n++;
      }
    return n;
  }

  /** Ends a session (if open): destroys it and remembers its id as used. */
  end(id: string): void {
    this.sessions.get(id)?.session.destroy();
    this.sessions.delete(id);
    this.remember(id);
  }

  /** Ends session `id` if it is open (a refusal inside it); an id never opened stays unused. */
  abort(id: string): void {
    if (this.sessions.has(id)) this.end(id);
  }

  /** Uses up `id` for a session of a single step: refused like `open` when open or used before. */
  claim(id: string): void {
    if (this.sessions.has(id) || this.used.has(id))
      throw new GjkrSessionError('session-id-reused', 'a session id is single-use');
    this.remember(id);
  }

  /** Remembers a session id as used, forgetting the oldest beyond the bound. */
  private remember(id: string): void {
    addBounded(this.used, id, this.usedMax);
  }

  /**
   * Opens session `id` with `make()`: refuses an id open or used before, and a full table (after expiring
   * old sessions). The id counts as used even when `make` throws, so a refused opening cannot be retried.
   */
  open(id: string, nowMs: number, make: () => S): S {
    if (this.sessions.has(id) || this.used.has(id))
      throw new GjkrSessionError('session-id-reused', 'a session id is single-use');
    if (this.sessions.size >= this.sessionsMax) {
      this.expire(nowMs);
      if (this.sessions.size >= this.sessionsMax)
        throw new GjkrSessionError('too-many-sessions', `${this.sessionsMax} sessions are open`);
    }
    let session: S;
    try {
      session = make();
    } catch (e) {
      this.remember(id);
      throw e;
    }
    this.sessions.set(id, { session, openedAtMs: nowMs });
    return session;
  }

  /** The open session `id`; GjkrSessionError when it is unknown, finished or expired (then erased). */
  get(id: string, nowMs: number): S {
    const entry = this.sessions.get(id);
    if (entry === undefined) {
      if (this.used.has(id))
        throw new GjkrSessionError('finished', 'the session has ended and its secrets are erased');
      throw new GjkrSessionError('unknown-session', 'no such session');
    }
    if (nowMs - entry.openedAtMs > this.ttlMs) {
      this.end(id);
      throw new GjkrSessionError('expired', 'the session outlived its time to live and was erased');
    }
    return entry.session;
  }
}

/** Routes requests to sessions and keeps them single-use (see the module invariants). */
export class GjkrServer {
  private readonly table: SessionTable<SigningSession | DkgSession>;

  constructor(private readonly options: GjkrServerOptions) {
    this.table = new SessionTable(options);
  }

  /** Sessions currently holding secrets. */
  get activeSessions(): number {
    return this.table.size;
  }

  /** Erases sessions older than the time to live; returns how many. */
  expire(nowMs: number): number {
    return this.table.expire(nowMs);
  }

  /**
   * Handles one request. Throws GjkrSessionError (replay, reuse, unknown, expired), GjkrRequestError
   * (malformed or inconsistent request) or GjkrPeerError (a relayed server message provably wrong); any
   * refusal inside a session erases that session.
   */
  handle(request: Uint8Array, nowMs: number): GjkrReply {
    const h = readRequestHeader(request);
    const id = toHex(h.sid);
    if (h.tag === REQUEST.signOpen || h.tag === REQUEST.signOpenDigest || h.tag === REQUEST.dkgOpen)
      return this.open(id, h, nowMs);
    const session = this.table.get(id, nowMs);
    try {
      const reply = stepSession(session, h);
      if (reply.done) this.table.end(id);
      return reply.keyShare === undefined
        ? { response: reply.response }
        : { response: reply.response, keyShare: reply.keyShare };
    } catch (e) {
      this.table.end(id);
      if (e instanceof CodecError) throw new GjkrRequestError(e.field, e.reason);
      throw e;
    }
  }

  private open(id: string, h: RequestHeader, nowMs: number): GjkrReply {
    const { identity, random } = this.options;
    const session = this.table.open(id, nowMs, () => {
      try {
        if (h.tag !== REQUEST.dkgOpen) {
          const req = decodeSignOpen(h);
          const share = this.options.keyShare(req.keyId);
          if (share === undefined) throw new GjkrRequestError('keyId', 'no share of this key here');
          if (this.options.acceptSigning !== undefined && !this.options.acceptSigning(req, share))
            throw new GjkrRequestError('message', 'refused by the signing policy');
          return new SigningSession(share, req, identity, random);
        }
        const req = decodeDkgOpen(h);
        if (this.options.acceptDkg !== undefined && !this.options.acceptDkg(req))
          throw new GjkrRequestError('dkg', 'refused by the key generation policy');
        if (req.n < identity.index)
          throw new GjkrRequestError('dkg.n', 'this server is not among parties 1..n');
        return new DkgSession(req, identity, random);
      } catch (e) {
        if (e instanceof CodecError) throw new GjkrRequestError(e.field, e.reason);
        if (e instanceof RangeError) throw new GjkrRequestError('open', e.message);
        throw e;
      }
    });
    return { response: session.dealMessage };
  }
}

/**
 * One request to an open session, after the opening: a round already passed is refused as a replay, one
 * not reached yet as out of order (GjkrSessionError); the relayed lists are decoded (CodecError) and the
 * session's round runs. `done` says the session has finished and must be ended.
 */
export function stepSession(
  session: SigningSession | DkgSession,
  h: RequestHeader,
): GjkrReply & { done: boolean } {
  // A request for a round already passed is a replay; one for a round not yet reached is out of order.
  const refuse = (what: string, latestRank: number): never => {
    throw new GjkrSessionError(
      ROUND_RANK[session.round] > latestRank ? 'replayed' : 'out-of-order',
      `${what} not allowed in round ${session.round}`,
    );
  };
  switch (h.tag) {
    case REQUEST.deals: {
      if (session.round !== 'dealt') refuse('deals', 0);
      const [deals] = decodeRelay(h, 1, 'deals');
      return { response: session.verifyDeals(deals!), done: false };
    }
    case REQUEST.reveal: {
      if (session.round !== 'verified') refuse('reveal', 1);
      const [complaints] = decodeRelay(h, 1, 'reveal');
      return { response: session.reveal(complaints!), done: false };
    }
    case REQUEST.qualify: {
      if (session.round !== 'verified' && session.round !== 'revealed') refuse('qualify', 2);
      const [complaints, reveals] = decodeRelay(h, 2, 'qualify');
      const response =
        session instanceof SigningSession
          ? session.phase1(complaints!, reveals!)
          : session.finalize(complaints!, reveals!);
      return { response, done: false };
    }
    case REQUEST.signPhase2: {
      if (!(session instanceof SigningSession))
        throw new GjkrRequestError('request', 'phase 2 of a key generation');
      if (session.round !== 'phase1') refuse('phase 2', 3);
      const [answers] = decodeRelay(h, 1, 'phase2');
      return { response: session.phase2(answers!), done: true };
    }
    case REQUEST.dkgCommit: {
      if (!(session instanceof DkgSession))
        throw new GjkrRequestError('request', 'commit of a signing session');
      if (session.round !== 'finalized') refuse('commit', 3);
      const [finals] = decodeRelay(h, 1, 'commit');
      const { ack, share } = session.commit(finals!);
      return { response: ack, keyShare: share, done: true };
    }
    default:
      throw new GjkrRequestError('request.tag', `unknown request 0x${h.tag.toString(16)}`);
  }
}
