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
 * Time is injected (`nowMs` on every call); this module does no I/O.
 */
import { CodecError, toHex } from '../../codec/bytes.js';
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
export interface GjkrServerOptions {
  readonly identity: PartyIdentity;
  readonly random: Random;
  /** The stored share of a key, by key id (signing). */
  readonly keyShare: (keyId: Uint8Array) => KeyShare | undefined;
  /** Whether to take part in generating a key with these parameters (default: yes). */
  readonly acceptDkg?: (request: DkgOpenRequest) => boolean;
  /** The signing policy: whether to sign this message with this key (default: yes). */
  readonly acceptSigning?: (request: SignOpenRequest, share: KeyShare) => boolean;
  /** Lifetime of a session from its opening (default 60 s). */
  readonly sessionTtlMs?: number;
  /** Concurrent sessions (default 64). */
  readonly sessionsMax?: number;
  /** Finished session ids remembered to refuse reuse (default 65 536). */
  readonly usedSessionIdsMax?: number;
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

interface Entry {
  readonly session: SigningSession | DkgSession;
  readonly openedAtMs: number;
}

/** Routes requests to sessions and keeps them single-use (see the module invariants). */
export class GjkrServer {
  private readonly sessions = new Map<string, Entry>();
  private readonly used = new Set<string>();
  private readonly ttlMs: number;
  private readonly sessionsMax: number;
  private readonly usedMax: number;

  constructor(private readonly options: GjkrServerOptions) {
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
  get activeSessions(): number {
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

  private end(id: string): void {
    this.sessions.get(id)?.session.destroy();
    this.sessions.delete(id);
    this.remember(id);
  }

  /** Remembers a session id as used, forgetting the oldest beyond the bound. */
  private remember(id: string): void {
    this.used.add(id);
    while (this.used.size > this.usedMax) {
      const oldest = this.used.values().next().value;
      if (oldest === undefined) break;
      this.used.delete(oldest);
    }
  }

  /**
   * Handles one request. Throws GjkrSessionError (replay, reuse, unknown, expired), GjkrRequestError
   * (malformed or inconsistent request) or GjkrPeerError (a relayed server message provably wrong); any
   * refusal inside a session erases that session.
   */
  handle(request: Uint8Array, nowMs: number): GjkrReply {
    const h = readRequestHeader(request);
    const id = toHex(h.sid);
    if (h.tag === REQUEST.signOpen || h.tag === REQUEST.dkgOpen) return this.open(id, h, nowMs);
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
    try {
      const reply = this.step(entry.session, h);
      if (reply.done) this.end(id);
      return reply.keyShare === undefined
        ? { response: reply.response }
        : { response: reply.response, keyShare: reply.keyShare };
    } catch (e) {
      this.end(id);
      if (e instanceof CodecError) throw new GjkrRequestError(e.field, e.reason);
      throw e;
    }
  }

  private open(id: string, h: RequestHeader, nowMs: number): GjkrReply {
    if (this.sessions.has(id) || this.used.has(id))
      throw new GjkrSessionError('session-id-reused', 'a session id is single-use');
    if (this.sessions.size >= this.sessionsMax) {
      this.expire(nowMs);
      if (this.sessions.size >= this.sessionsMax)
        throw new GjkrSessionError('too-many-sessions', `${this.sessionsMax} sessions are open`);
    }
    const { identity, random } = this.options;
    let session: SigningSession | DkgSession;
    try {
      if (h.tag === REQUEST.signOpen) {
        const req = decodeSignOpen(h);
        const share = this.options.keyShare(req.keyId);
        if (share === undefined) throw new GjkrRequestError('keyId', 'no share of this key here');
        if (this.options.acceptSigning !== undefined && !this.options.acceptSigning(req, share))
          throw new GjkrRequestError('message', 'refused by the signing policy');
        session = new SigningSession(share, req, identity, random);
      } else {
        const req = decodeDkgOpen(h);
        if (this.options.acceptDkg !== undefined && !this.options.acceptDkg(req))
          throw new GjkrRequestError('dkg', 'refused by the key generation policy');
        if (req.n < identity.index)
          throw new GjkrRequestError('dkg.n', 'this server is not among parties 1..n');
        session = new DkgSession(req, identity, random);
      }
    } catch (e) {
      this.remember(id);
      if (e instanceof CodecError) throw new GjkrRequestError(e.field, e.reason);
      if (e instanceof RangeError) throw new GjkrRequestError('open', e.message);
      throw e;
    }
    this.sessions.set(id, { session, openedAtMs: nowMs });
    return { response: session.dealMessage };
  }

  private step(session: SigningSession | DkgSession, h: RequestHeader): GjkrReply & { done: boolean } {
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
}
