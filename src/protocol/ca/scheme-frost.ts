/**
 * The FROST(Ed25519, SHA-512) scheme of the distributed CA (issue 5; RFC 9591, with the Komlo–Goldberg
 * DKG of FROST, SAC 2020, Fig. 1), plugged into the CA service through `scheme.ts`. The cryptography is
 * `crypto/threshold/frost-ed25519.ts` (over noble's `ed25519_FROST`); this file is the protocol around it:
 * who sends what in which round, what each holder checks and keeps, and the bodies' encodings
 * (`frost-messages.ts`).
 *
 * Threshold (decided for the CA service): k = n − b signers, n members, b = ⌊(n − 1)/3⌋ (3 of 4, 7 of 10).
 * b members down or refusing cannot stop signing, and n − b − 1 colluding members cannot sign. noble's
 * FROST needs k ≥ 2, so a group needs n ≥ 2.
 *
 * Key creation (distributed, no party ever holds the key), four rounds relayed by the coordinator:
 *  1. open: each member makes its polynomial and sends its round-1 broadcast (VSS commitment and a proof of
 *     knowledge bound to the session), signed with its node key. The coordinator checks every broadcast.
 *  2. broadcasts: each member gets all n signed broadcasts, checks them, and answers with its n − 1 shares,
 *     each sealed to its recipient and bound to the session and the whole round-1 transcript.
 *  3. packages: each member gets the n − 1 packages addressed to it, opens them and checks each against its
 *     sender's commitment (VSS), then answers with a signed confirmation of (session, group key digest) —
 *     or a signed complaint naming the senders whose package failed. The coordinator derives the group key
 *     itself from the round-1 broadcasts and checks every confirmation against it.
 *  4. confirmations: each member gets all n signed confirmations; only when every member confirmed the
 *     same key does it hand its share to the service to persist (`SetupReply.key`).
 * So a DKG never completes with a disagreeing or disqualified member: RFC 9591 leaves key generation out
 * (its Appendix C is a trusted dealer, with no complaint round) and FROST's DKG aborts on any misbehaviour.
 * We do the same: any member that does not answer, answers wrongly, accuses or is accused makes `create`
 * fail with the culprits named, and no member stores anything (round 4 is never sent). We do not go on
 * with a qualified subset: the members left out would hold no share, silently cutting the number of
 * faults signing tolerates below b. A complaint cannot be checked by the coordinator (only the recipient
 * can open its package), so a lying accuser can make `create` fail — naming the member it accused, with
 * the accuser in the reason — but it cannot make a bad key complete. The owner retries with a new session
 * once the member is repaired or removed from the group.
 *
 * Import (`dealEd25519Key`): the client deals the PEM key's scalar with a fresh polynomial, seals each share
 * to its member (gjkr-seal), erases its copy; members check their share against the dealt commitments and
 * confirm; then the same round 4 as a DKG.
 *
 * Signing, two rounds per attempt (RFC 9591 §5.1–5.3), all under the service's session id `sid`:
 *  commit: the coordinator asks every usable member for commitments (attempt a, digests of the key and of
 *     the authorized message); the first member to open `sid` binds it to that message, and a member never
 *     signs anything else within it. It takes the first k that answer.
 *  sign: the k chosen get the commitment list; each signs with the attempt's nonces, which are then gone.
 * The coordinator checks every share (§5.4). A member that sends an invalid answer or withholds its share
 * is excluded and the coordinator starts attempt a + 1 with fresh nonces, until k correct members remain
 * (at most b + 1 attempts); then it aggregates and verifies the signature with node:crypto.
 *
 * Bounds: 64 open sessions per holder, 60 s per session, 4096 used session ids remembered, 16 attempts.
 */
import { createPublicKey, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { CodecError, bytesEqual, toHex, utf8 } from '../../codec/bytes.js';
import { sha256 } from '../../crypto/hash.js';
import { open as openBox, seal as sealBox } from '../../crypto/threshold/gjkr-seal.js';
import {
  ED25519_RESHARE_GROUP,
  dealEd25519Key,
  dkgGroupKey,
  ed25519PublicKeyPem,
  eraseNonces,
  frostAggregate,
  frostCommit,
  frostInvalidShares,
  frostSignRequest,
  frostSignShare,
  FrostDkgParticipant,
  FrostProtocolError,
  FrostRequestError,
  isFrostElement,
  validateGroupKey,
  validateSigningShare,
  type DkgContext,
  type DkgRound1Message,
  type DkgRound2Message,
  type Ed25519Element,
  type FrostCommitResponse,
  type FrostGroupKey,
  type FrostKeyShare,
  type FrostNonces,
  type FrostSignResponse,
} from '../../crypto/threshold/frost-ed25519.js';
import { secureRandom, type Random } from '../../env/random.js';
import {
  IMPORT_BOX_BYTES,
  decodeCommitmentAnswer,
  decodeConfirmPayload,
  decodeDkgBroadcasts,
  decodeDkgOpen,
  decodeDkgPackages,
  decodeGroupKey,
  decodeImportDeal,
  decodeKeyConfirmations,
  decodeOutcomePayload,
  decodePackagesAnswer,
  decodeRound1Payload,
  decodeSignCommit,
  decodeSignShareRequest,
  decodeSignatureShareAnswer,
  decodeSigned,
  decodeStoredPayload,
  decodeStoredShare,
  encodeCommitmentAnswer,
  encodeComplaintPayload,
  encodeConfirmPayload,
  encodeDkgBroadcasts,
  encodeDkgOpen,
  encodeDkgPackages,
  encodeGroupKey,
  encodeImportDeal,
  encodeKeyConfirmations,
  encodePackagesAnswer,
  encodeRound1Payload,
  encodeSignCommit,
  encodeSignShareRequest,
  encodeSignatureShareAnswer,
  encodeSigned,
  encodeStoredPayload,
  encodeStoredShare,
  outcomePayloadBytesMax,
  round1PayloadBytes,
  FROST_ATTEMPTS_MAX,
  FROST_PARTICIPANTS_MAX,
  TAG,
  type SealedPackage,
} from './frost-messages.js';
import {
  CA_MESSAGE_BYTES_MAX,
  CA_SESSION_ID_BYTES,
  SchemeError,
  SchemeFailure,
  type CreatedKey,
  type GroupDirectory,
  type HolderIdentity,
  type RoundTrip,
  type SchemeCoordinator,
  type SchemeCulprit,
  type SchemeHolder,
  type SetupReply,
  type SignInput,
  type StoredKey,
} from './scheme.js';
import { coordinateReshare, reshareHolder, type ReshareAdapter, type SharedPublicKey } from './reshare.js';
import { addBounded, setBounded } from '../../collections/bounded.js';

/** A session's time to live at a holder, from its first step. */
export const FROST_SESSION_TTL_MS = 60_000;
/** Sessions a holder keeps open at once; a new one beyond this is refused until some end or expire. */
export const FROST_OPEN_SESSIONS_MAX = 64;
/** Session ids a holder remembers as used (oldest forgotten first). */
export const FROST_USED_SESSIONS_REMEMBERED = 4096;
/** Validated group keys a holder or coordinator keeps decoded (public data). */
const GROUP_KEY_CACHE_MAX = 64;

/** RoundTrip round names. */
export const FROST_ROUNDS = {
  dkgOpen: 'frost-dkg-open',
  dkgBroadcasts: 'frost-dkg-broadcasts',
  dkgPackages: 'frost-dkg-packages',
  keyConfirmations: 'frost-key-confirmations',
  importDeal: 'frost-import-deal',
  commit: 'frost-commit',
  sign: 'frost-sign',
} as const;

const SIGNED_DOMAIN = utf8('bftkv/ca/ed25519-frost/v1/signed');
const IMPORT_DOMAIN = utf8('bftkv/ca/ed25519-frost/v1/import');

/** The threshold of a group: k = n − b. */
export function frostThreshold(n: number, b: number): number {
  return n - b;
}

/** What a member's node key signs: domain ‖ sid ‖ payload (the payload's first byte names its kind). */
export function frostSignedMessage(sid: Uint8Array, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(SIGNED_DOMAIN.length + sid.length + payload.length);
  out.set(SIGNED_DOMAIN);
  out.set(sid, SIGNED_DOMAIN.length);
  out.set(payload, SIGNED_DOMAIN.length + sid.length);
  return out;
}

/** Associated data of member i's sealed import share: session, index and group key digest. */
function importAad(sid: Uint8Array, index: number, groupKeyDigest: Uint8Array): Uint8Array {
  const out = new Uint8Array(IMPORT_DOMAIN.length + sid.length + 2 + groupKeyDigest.length);
  out.set(IMPORT_DOMAIN);
  out.set(sid, IMPORT_DOMAIN.length);
  out[IMPORT_DOMAIN.length + sid.length] = index >>> 8;
  out[IMPORT_DOMAIN.length + sid.length + 1] = index & 0xff;
  out.set(groupKeyDigest, IMPORT_DOMAIN.length + sid.length + 2);
  return out;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, k) => k + 1);
}

/** Validated group keys by encoding (bounded; public data only). */
class GroupKeyCache {
  private readonly keys = new Map<string, FrostGroupKey>();

  /** The decoded and validated group key, or a RangeError/TypeError/CodecError. */
  get(bytes: Uint8Array): FrostGroupKey {
    const id = toHex(bytes);
    const cached = this.keys.get(id);
    if (cached !== undefined) return cached;
    const group = decodeGroupKey(bytes);
    validateGroupKey(group);
    setBounded(this.keys, id, group, GROUP_KEY_CACHE_MAX);
    return group;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Holder

interface SetupResult {
  readonly share: FrostKeyShare;
  readonly groupKey: Uint8Array;
  readonly digest: Uint8Array;
}

interface SetupSession {
  readonly kind: 'setup';
  readonly openedMs: number;
  readonly n: number;
  readonly t: number;
  step: 'round1' | 'round2' | 'confirmed';
  participant?: FrostDkgParticipant;
  /** This member's own round-1 payload, to recognise it unchanged in the relayed list. */
  ownRound1?: Uint8Array;
  result?: SetupResult;
}

interface SignSession {
  readonly kind: 'sign';
  readonly openedMs: number;
  readonly keyDigest: Uint8Array;
  readonly messageDigest: Uint8Array;
  /** The latest attempt committed to; attempts only go up. */
  attempt: number;
  /** The latest attempt's nonces until its share is made (then undefined: they signed once). */
  nonces?: FrostNonces;
}

type Session = SetupSession | SignSession;

/** Maps an error from decoding or the crypto layer to a refusal; anything else is a bug and propagates. */
function refusalOf(e: unknown): SchemeError {
  if (e instanceof SchemeError) return e;
  if (e instanceof CodecError) return new SchemeError('malformed', e.message);
  if (e instanceof FrostProtocolError)
    return e.culprits.length > 0
      ? new SchemeError('peer', e.message, e.culprits)
      : new SchemeError('malformed', e.message);
  if (e instanceof FrostRequestError) return new SchemeError('malformed', e.message);
  throw e;
}

/** Runs `f`, turning a CodecError or a RangeError/TypeError from a check into `refusal`. */
function checked<T>(refusal: 'malformed' | 'refused', what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof CodecError || e instanceof RangeError || e instanceof TypeError)
      throw new SchemeError(refusal, `${what}: ${e.message}`);
    throw e;
  }
}

/** The group parameters a holder accepts, from its identity (n members, k = n − b). */
function groupParameters(identity: HolderIdentity): { n: number; t: number; index: number } {
  const { n, b, index } = identity;
  if (!Number.isInteger(n) || n < 2 || n > FROST_PARTICIPANTS_MAX)
    throw new SchemeError('refused', `FROST needs a group of 2..${FROST_PARTICIPANTS_MAX} members, got ${n}`);
  const t = frostThreshold(n, b);
  if (!Number.isInteger(b) || b < 0 || t < 2)
    throw new SchemeError('refused', `FROST needs k = n − b ≥ 2, got n = ${n}, b = ${b}`);
  if (!Number.isInteger(index) || index < 1 || index > n)
    throw new SchemeError('refused', `holder index ${index} is not in 1..${n}`);
  return { n, t, index };
}

class FrostHolder implements SchemeHolder {
  private readonly sessions = new Map<string, Session>();
  private readonly used = new Set<string>();
  private readonly groups = new GroupKeyCache();

  constructor(
    private readonly random: Random,
    private readonly ttlMs: number,
  ) {}

  async setup(
    identity: HolderIdentity,
    sid: Uint8Array,
    body: Uint8Array,
    nowMs: number,
  ): Promise<SetupReply> {
    const key = this.sessionKey(sid, body, nowMs);
    // Any refusal ends the session under `sid`, if one is open (a replayed open included).
    return this.inSession(key, () => {
      switch (body[0]) {
        case TAG.dkgOpen:
          return this.dkgOpen(identity, sid, key, body, nowMs);
        case TAG.importDeal:
          return this.importDeal(identity, sid, key, body, nowMs);
        case TAG.dkgBroadcasts:
          return this.dkgBroadcasts(identity, sid, this.setupAt(key, 'round1'), body);
        case TAG.dkgPackages:
          return this.dkgPackages(identity, sid, key, this.setupAt(key, 'round2'), body);
        case TAG.keyConfirmations:
          return this.keyConfirmations(identity, sid, key, this.setupAt(key, 'confirmed'), body);
        default:
          throw new SchemeError('malformed', `setup: unknown body tag ${String(body[0])}`);
      }
    });
  }

  async sign(
    identity: HolderIdentity,
    key: StoredKey,
    sid: Uint8Array,
    input: SignInput,
    body: Uint8Array,
    nowMs: number,
  ): Promise<Uint8Array> {
    const id = this.sessionKey(sid, body, nowMs);
    if (
      input?.kind !== 'message' ||
      !(input.message instanceof Uint8Array) ||
      input.message.length > CA_MESSAGE_BYTES_MAX
    )
      return this.inSession(id, () => {
        throw new SchemeError(
          'refused',
          `ed25519-frost signs a message of at most ${CA_MESSAGE_BYTES_MAX} bytes`,
        );
      });
    switch (body[0]) {
      case TAG.signCommit:
        return this.inSession(id, () => this.commit(identity, key, id, input.message, body, nowMs));
      case TAG.signShare:
        return this.inSession(id, () => this.signShare(identity, key, id, input.message, body));
      default:
        return this.inSession(id, () => {
          throw new SchemeError('malformed', `sign: unknown body tag ${String(body[0])}`);
        });
    }
  }

  expire(nowMs: number): void {
    for (const [key, s] of [...this.sessions]) if (nowMs - s.openedMs >= this.ttlMs) this.end(key);
  }

  // --- sessions

  private sessionKey(sid: Uint8Array, body: Uint8Array, nowMs: number): string {
    if (!(sid instanceof Uint8Array) || sid.length !== CA_SESSION_ID_BYTES)
      throw new SchemeError(
        'malformed',
        `sid: expected ${CA_SESSION_ID_BYTES} bytes, got ${String(sid?.length)}`,
      );
    if (!(body instanceof Uint8Array) || body.length === 0)
      throw new SchemeError('malformed', 'body: expected a non-empty byte string');
    if (!Number.isFinite(nowMs)) throw new SchemeError('malformed', `nowMs: expected a time, got ${nowMs}`);
    this.expire(nowMs);
    return toHex(sid);
  }

  /** Opens a new session under `key`: refused when the id was used before or too many are open. */
  private openSession(key: string, session: Session): void {
    if (this.sessions.has(key) || this.used.has(key))
      throw new SchemeError('session', 'session id already used; every run needs a fresh one');
    if (this.sessions.size >= FROST_OPEN_SESSIONS_MAX)
      throw new SchemeError('session', `too many open sessions (${FROST_OPEN_SESSIONS_MAX})`);
    addBounded(this.used, key, FROST_USED_SESSIONS_REMEMBERED);
    this.sessions.set(key, session);
  }

  /** Runs one step of the session under `key`; any refusal ends the session and erases its secrets. */
  private inSession<T>(key: string, f: () => T): T {
    try {
      return f();
    } catch (e) {
      const refusal = refusalOf(e);
      this.end(key);
      throw refusal;
    }
  }

  /** Erases the session's secrets and forgets it (its id stays used). */
  private end(key: string): void {
    const s = this.sessions.get(key);
    if (s === undefined) return;
    this.sessions.delete(key);
    if (s.kind === 'sign') {
      if (s.nonces !== undefined) eraseNonces(s.nonces);
      s.nonces = undefined;
    } else {
      s.participant?.destroy();
      s.result?.share.signingShare.fill(0);
      s.participant = undefined;
      s.result = undefined;
    }
  }

  private setupAt(key: string, step: SetupSession['step']): SetupSession {
    const s = this.sessions.get(key);
    if (s?.kind !== 'setup' || s.step !== step)
      throw new SchemeError(
        'session',
        s === undefined
          ? 'unknown, finished or expired setup session'
          : `setup session is not at step ${step} (replayed or out of order)`,
      );
    return s;
  }

  // --- key setup

  private dkgOpen(
    identity: HolderIdentity,
    sid: Uint8Array,
    key: string,
    body: Uint8Array,
    nowMs: number,
  ): SetupReply {
    const m = checked('malformed', 'dkgOpen', () => decodeDkgOpen(body));
    const { n, t, index } = groupParameters(identity);
    if (m.n !== n || m.t !== t)
      throw new SchemeError('refused', `dkgOpen: expected n = ${n}, k = ${t}, got n = ${m.n}, k = ${m.t}`);
    const staticPublicKeys = this.encryptionKeys(identity, n);
    const session: SetupSession = { kind: 'setup', openedMs: nowMs, n, t, step: 'round1' };
    this.openSession(key, session);
    const participant = checked(
      'refused',
      'dkgOpen',
      () =>
        new FrostDkgParticipant({
          sessionId: sid,
          index,
          threshold: t,
          participants: n,
          staticPrivateKey: identity.encryption.secretKey,
          staticPublicKeys,
          random: this.random,
        }),
    );
    session.participant = participant;
    const payload = encodeRound1Payload({
      sender: index,
      commitment: participant.round1.commitment,
      proofOfKnowledge: participant.round1.proofOfKnowledge,
    });
    session.ownRound1 = payload;
    return { response: this.signed(identity, sid, payload) };
  }

  private dkgBroadcasts(
    identity: HolderIdentity,
    sid: Uint8Array,
    s: SetupSession,
    body: Uint8Array,
  ): SetupReply {
    const signed = decodeDkgBroadcasts(body, s.n, s.t);
    const round1: DkgRound1Message[] = signed.map((m, k) => {
      const j = k + 1;
      const p = decodeRound1Payload(m.payload, s.n, s.t);
      if (p.sender !== j)
        throw new SchemeError('malformed', `broadcasts[${k}]: from ${p.sender}, expected ${j}`);
      if (j === identity.index) {
        if (!bytesEqual(m.payload, s.ownRound1!))
          throw new SchemeError('malformed', "broadcasts: this member's own broadcast was altered");
      } else if (!identity.verify(j, frostSignedMessage(sid, m.payload), m.signature)) {
        throw new SchemeError(
          'malformed',
          `broadcasts[${k}]: not signed by member ${j}'s node key (altered in relay)`,
        );
      }
      return { sessionId: sid, sender: j, commitment: p.commitment, proofOfKnowledge: p.proofOfKnowledge };
    });
    // A validly signed but invalid broadcast is its sender's provable fault: 'peer' names it.
    const packages = s.participant!.round2Packages(round1);
    s.step = 'round2';
    return {
      response: encodePackagesAnswer({
        sender: identity.index,
        packages: packages.map((p) => ({
          peer: p.recipient,
          ephemeralPublicKey: p.ephemeralPublicKey,
          iv: p.iv,
          ciphertext: p.ciphertext,
        })),
      }),
    };
  }

  private dkgPackages(
    identity: HolderIdentity,
    sid: Uint8Array,
    key: string,
    s: SetupSession,
    body: Uint8Array,
  ): SetupReply {
    const packages = decodeDkgPackages(body, s.n, identity.index);
    const round2: DkgRound2Message[] = packages.map((p) => ({
      sessionId: sid,
      sender: p.peer,
      recipient: identity.index,
      ephemeralPublicKey: p.ephemeralPublicKey,
      iv: p.iv,
      ciphertext: p.ciphertext,
    }));
    let share: FrostKeyShare;
    try {
      share = s.participant!.finish(round2);
    } catch (e) {
      if (!(e instanceof FrostProtocolError) || e.culprits.length === 0) throw e;
      // A complaint is an answer, not a refusal, so that the coordinator learns whom this member accuses.
      this.end(key);
      return {
        response: this.signed(
          identity,
          sid,
          encodeComplaintPayload({ index: identity.index, accused: e.culprits }),
        ),
      };
    }
    s.participant = undefined;
    if (share.group.threshold !== s.t || share.group.participants !== s.n)
      throw new Error('Invariant: the DKG ends with the parameters it was opened with');
    const groupKey = encodeGroupKey(share.group);
    const digest = sha256(groupKey);
    s.result = { share, groupKey, digest };
    s.step = 'confirmed';
    return {
      response: this.signed(
        identity,
        sid,
        encodeConfirmPayload({ index: identity.index, groupKeyDigest: digest }),
      ),
    };
  }

  private importDeal(
    identity: HolderIdentity,
    sid: Uint8Array,
    key: string,
    body: Uint8Array,
    nowMs: number,
  ): SetupReply {
    const m = checked('malformed', 'importDeal', () => decodeImportDeal(body));
    const { n, t, index } = groupParameters(identity);
    const session: SetupSession = { kind: 'setup', openedMs: nowMs, n, t, step: 'confirmed' };
    this.openSession(key, session);
    const group = checked('malformed', 'importDeal.groupKey', () => this.groups.get(m.groupKey));
    if (group.participants !== n || group.threshold !== t)
      throw new SchemeError(
        'refused',
        `importDeal: expected n = ${n}, k = ${t}, got n = ${group.participants}, k = ${group.threshold}`,
      );
    const digest = sha256(m.groupKey);
    const signingShare = openBox(identity.encryption, m.box, importAad(sid, index, digest));
    if (signingShare === undefined || m.box.length !== IMPORT_BOX_BYTES)
      throw new SchemeError('malformed', 'importDeal.box: does not open with this member key and session');
    const share: FrostKeyShare = { group, index, signingShare };
    try {
      // The group key was checked (cache); this is RFC 9591 Appendix C.2 vss_verify of the dealt share.
      checked('refused', 'importDeal: the dealt share does not match the dealt group key', () =>
        validateSigningShare(share),
      );
    } catch (e) {
      signingShare.fill(0);
      throw e;
    }
    session.result = { share, groupKey: new Uint8Array(m.groupKey), digest };
    return {
      response: this.signed(identity, sid, encodeConfirmPayload({ index, groupKeyDigest: digest })),
    };
  }

  private keyConfirmations(
    identity: HolderIdentity,
    sid: Uint8Array,
    key: string,
    s: SetupSession,
    body: Uint8Array,
  ): SetupReply {
    const own = s.result!;
    const signed = decodeKeyConfirmations(body, s.n);
    const disagree: number[] = [];
    signed.forEach((m, k) => {
      const j = k + 1;
      const p = decodeConfirmPayload(m.payload, s.n);
      if (p.index !== j)
        throw new SchemeError('malformed', `confirmations[${k}]: from ${p.index}, expected ${j}`);
      if (j !== identity.index && !identity.verify(j, frostSignedMessage(sid, m.payload), m.signature))
        throw new SchemeError('malformed', `confirmations[${k}]: not signed by member ${j}'s node key`);
      if (!bytesEqual(p.groupKeyDigest, own.digest)) disagree.push(j);
    });
    // A signed confirmation of another key is its signer's provable disagreement: no share is stored.
    if (disagree.length > 0)
      throw new SchemeError('peer', `members ${disagree.join(', ')} confirmed another group key`, disagree);
    const stored: StoredKey = {
      share: encodeStoredShare({
        index: identity.index,
        n: s.n,
        t: s.t,
        signingShare: own.share.signingShare,
        groupKeyDigest: own.digest,
      }),
      publicKey: new Uint8Array(own.groupKey),
    };
    const response = this.signed(identity, sid, encodeStoredPayload(identity.index, own.digest));
    this.end(key);
    return { response, key: stored };
  }

  // --- signing

  /** The stored key as a checked FROST share; refused when it does not belong to this member and group. */
  private storedShare(
    identity: HolderIdentity,
    key: StoredKey,
  ): { share: FrostKeyShare; keyDigest: Uint8Array } {
    const { n, t, index } = groupParameters(identity);
    if (!(key?.publicKey instanceof Uint8Array) || !(key.share instanceof Uint8Array))
      throw new SchemeError('refused', 'stored key: expected share and publicKey bytes');
    const group = checked('refused', 'stored key: public key', () => this.groups.get(key.publicKey));
    const s = checked('refused', 'stored key: share', () => decodeStoredShare(key.share));
    const keyDigest = sha256(key.publicKey);
    if (
      s.index !== index ||
      s.n !== n ||
      s.t !== t ||
      group.participants !== n ||
      group.threshold !== t ||
      !bytesEqual(s.groupKeyDigest, keyDigest)
    )
      throw new SchemeError('refused', `stored key: not member ${index}'s share of this ${t}-of-${n} key`);
    const share: FrostKeyShare = { group, index, signingShare: s.signingShare };
    checked('refused', 'stored key', () => validateSigningShare(share));
    return { share, keyDigest };
  }

  private commit(
    identity: HolderIdentity,
    key: StoredKey,
    id: string,
    message: Uint8Array,
    body: Uint8Array,
    nowMs: number,
  ): Uint8Array {
    const m = decodeSignCommit(body);
    const { share, keyDigest } = this.storedShare(identity, key);
    try {
      const messageDigest = sha256(message);
      if (!bytesEqual(m.keyDigest, keyDigest) || !bytesEqual(m.messageDigest, messageDigest))
        throw new SchemeError(
          'refused',
          'commit: the body names another key or message than the authorized one',
        );
      let s = this.sessions.get(id);
      if (s === undefined) {
        s = { kind: 'sign', openedMs: nowMs, keyDigest, messageDigest, attempt: -1 };
        this.openSession(id, s);
      } else if (s.kind !== 'sign') {
        throw new SchemeError('session', 'commit: the session id belongs to a key setup');
      } else if (!bytesEqual(s.keyDigest, keyDigest) || !bytesEqual(s.messageDigest, messageDigest)) {
        throw new SchemeError('refused', 'commit: the session was opened for another key or message');
      }
      if (m.attempt <= s.attempt)
        throw new SchemeError(
          'session',
          `commit: attempt ${m.attempt} after ${s.attempt} (replayed or out of order)`,
        );
      // An earlier attempt's nonces are never used once a later one starts.
      if (s.nonces !== undefined) eraseNonces(s.nonces);
      s.attempt = m.attempt;
      s.nonces = frostCommit(share, this.random);
      return encodeCommitmentAnswer({
        attempt: m.attempt,
        index: identity.index,
        hiding: s.nonces.hiding,
        binding: s.nonces.binding,
      });
    } finally {
      share.signingShare.fill(0);
    }
  }

  private signShare(
    identity: HolderIdentity,
    key: StoredKey,
    id: string,
    message: Uint8Array,
    body: Uint8Array,
  ): Uint8Array {
    const s = this.sessions.get(id);
    if (s?.kind !== 'sign')
      throw new SchemeError('session', 'sign: unknown, finished or expired signing session');
    const { share, keyDigest } = this.storedShare(identity, key);
    try {
      const m = decodeSignShareRequest(body, share.group.participants, share.group.threshold);
      if (
        !bytesEqual(m.keyDigest, keyDigest) ||
        !bytesEqual(s.keyDigest, keyDigest) ||
        !bytesEqual(m.messageDigest, s.messageDigest) ||
        !bytesEqual(sha256(message), s.messageDigest)
      )
        throw new SchemeError('refused', 'sign: the session was opened for another key or message');
      const nonces = s.nonces;
      if (m.attempt !== s.attempt || nonces === undefined)
        throw new SchemeError(
          'session',
          `sign: no open nonces for attempt ${m.attempt} (used, replayed or out of order)`,
        );
      s.nonces = undefined; // consumed, whatever happens next
      const own = m.commitments.find((c) => c.index === identity.index);
      if (
        own === undefined ||
        !bytesEqual(own.hiding, nonces.hiding) ||
        !bytesEqual(own.binding, nonces.binding)
      ) {
        eraseNonces(nonces);
        throw new SchemeError('refused', "sign: the commitment list does not carry this member's commitment");
      }
      const z = frostSignShare(share, nonces, message, m.commitments);
      return encodeSignatureShareAnswer({ attempt: m.attempt, index: identity.index, share: z });
    } finally {
      share.signingShare.fill(0);
    }
  }

  // --- helpers

  private signed(identity: HolderIdentity, sid: Uint8Array, payload: Uint8Array): Uint8Array {
    return encodeSigned({ payload, signature: identity.sign(frostSignedMessage(sid, payload)) });
  }

  private encryptionKeys(identity: HolderIdentity, n: number): Uint8Array[] {
    return range(n).map((j) => {
      const k = identity.encryptionKey(j);
      if (!(k instanceof Uint8Array) || k.length !== 32)
        throw new SchemeError('refused', `member ${j} has no X25519 key in the directory`);
      return k;
    });
  }
}

/** Options of a FROST holder. */
export interface FrostHolderOptions {
  /** Nonces, DKG polynomials and seals draw from it (default: node:crypto). */
  readonly random?: Random;
  /** Session time to live (default FROST_SESSION_TTL_MS). */
  readonly sessionTtlMs?: number;
}

/** A server's side of the ed25519-frost scheme (one per server; sessions in memory). */
export function frostHolder(options: FrostHolderOptions = {}): SchemeHolder {
  const ttl = options.sessionTtlMs ?? FROST_SESSION_TTL_MS;
  if (!Number.isFinite(ttl) || ttl <= 0) throw new RangeError(`sessionTtlMs: expected > 0, got ${ttl}`);
  const random = options.random ?? secureRandom;
  const holder = new FrostHolder(random, ttl);
  const reshare = reshareHolder(frostReshareAdapter, { random, sessionTtlMs: ttl });
  return {
    setup: (identity, sid, body, nowMs) => holder.setup(identity, sid, body, nowMs),
    sign: (identity, key, sid, input, body, nowMs) => holder.sign(identity, key, sid, input, body, nowMs),
    expire: (nowMs) => {
      holder.expire(nowMs);
      reshare.expire(nowMs);
    },
    reshare,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Resharing (reshare.ts): degree k − 1 with k = n − b, the group key's commitments and verifying shares

const reshareGroupKeys = new GroupKeyCache();

/** FROST keys for reshare.ts. */
export const frostReshareAdapter: ReshareAdapter<Ed25519Element> = {
  label: 'ed25519-frost',
  publicKey(bytes): SharedPublicKey<Ed25519Element> {
    const g = reshareGroupKeys.get(bytes);
    const G = ED25519_RESHARE_GROUP;
    const shares = g.verifyingShares.map((v) => G.decodeElement(v));
    const y = G.decodeElement(g.publicKey);
    if (y === undefined) throw new RangeError('the group key is not a valid element');
    return {
      group: G,
      n: g.participants,
      degree: g.threshold - 1,
      y,
      verificationShare: (i) =>
        Number.isInteger(i) && i >= 1 && i <= g.participants ? shares[i - 1] : undefined,
    };
  },
  secret(key, index) {
    const group = reshareGroupKeys.get(key.publicKey);
    const s = decodeStoredShare(key.share);
    if (s.index !== index || !bytesEqual(s.groupKeyDigest, sha256(key.publicKey)))
      throw new RangeError(`the stored share is not member ${index}'s share of this key`);
    validateSigningShare({ group, index, signingShare: s.signingShare });
    const x = ED25519_RESHARE_GROUP.decodeScalar(s.signingShare);
    if (x === undefined) throw new RangeError('the stored signing share is not a scalar');
    return x;
  },
  degree(n, b) {
    const k = frostThreshold(n, b);
    if (!Number.isInteger(k) || k < 2 || n > FROST_PARTICIPANTS_MAX)
      throw new RangeError(
        `FROST needs 2 ≤ k = n − b and n ≤ ${FROST_PARTICIPANTS_MAX}, got n = ${n}, b = ${b}`,
      );
    return k - 1;
  },
  build(old, commitments, shares) {
    const encoded = commitments.map((c) => old.group.encodeElement(c));
    const group: FrostGroupKey = {
      threshold: commitments.length,
      participants: shares.length,
      publicKey: encoded[0]!,
      commitments: encoded,
      verifyingShares: shares.map((X) => old.group.encodeElement(X)),
    };
    validateGroupKey(group);
    return encodeGroupKey(group);
  },
  storedShare(publicKey, index, x) {
    const group = reshareGroupKeys.get(publicKey);
    return encodeStoredShare({
      index,
      n: group.participants,
      t: group.threshold,
      signingShare: ED25519_RESHARE_GROUP.encodeScalar(x),
      groupKeyDigest: sha256(publicKey),
    });
  },
};

// ---------------------------------------------------------------------------------------------------------
// Coordinator

/** Culprits by index, reasons merged. */
class Blame {
  private readonly reasons = new Map<number, string[]>();

  add(index: number, reason: string): void {
    const r = this.reasons.get(index) ?? [];
    r.push(reason);
    this.reasons.set(index, r);
  }

  has(index: number): boolean {
    return this.reasons.has(index);
  }

  get size(): number {
    return this.reasons.size;
  }

  list(): SchemeCulprit[] {
    return [...this.reasons]
      .sort(([a], [b]) => a - b)
      .map(([index, reasons]) => ({ index, reason: reasons.join('; ') }));
  }
}

function fail(message: string, ...blames: Blame[]): never {
  const byIndex = new Map<number, string[]>();
  for (const b of blames)
    for (const c of b.list()) byIndex.set(c.index, [...(byIndex.get(c.index) ?? []), c.reason]);
  const culprits = [...byIndex]
    .sort(([a], [b]) => a - b)
    .map(([index, reasons]) => ({ index, reason: reasons.join('; ') }));
  const named = culprits.map((c) => `${c.index} (${c.reason})`).join(', ');
  throw new SchemeFailure(`${message}; culprits: ${named || 'none'}`, culprits);
}

function groupOf(group: GroupDirectory): { n: number; t: number; staticPublicKeys: Uint8Array[] } {
  const { n, b } = group;
  if (!Number.isInteger(n) || n < 2 || n > FROST_PARTICIPANTS_MAX)
    throw new RangeError(`group.n: expected 2..${FROST_PARTICIPANTS_MAX}, got ${n}`);
  const t = frostThreshold(n, b);
  if (!Number.isInteger(b) || b < 0 || t < 2)
    throw new RangeError(`group.b: k = n − b must be ≥ 2, got b = ${b}`);
  const staticPublicKeys = range(n).map((i) => {
    const k = group.encryptionKey(i);
    if (!(k instanceof Uint8Array) || k.length !== 32)
      throw new RangeError(`group.encryptionKey(${i}): expected a 32-byte X25519 key`);
    return k;
  });
  return { n, t, staticPublicKeys };
}

function checkSid(sid: Uint8Array): void {
  if (!(sid instanceof Uint8Array) || sid.length !== CA_SESSION_ID_BYTES)
    throw new RangeError(`sid: expected ${CA_SESSION_ID_BYTES} bytes, got ${String(sid?.length)}`);
}

function messageOf(input: SignInput): Uint8Array {
  if (input?.kind !== 'message' || !(input.message instanceof Uint8Array))
    throw new TypeError(`input: ed25519-frost signs a message, got ${String(input?.kind)}`);
  if (input.message.length > CA_MESSAGE_BYTES_MAX)
    throw new RangeError(`input.message: at most ${CA_MESSAGE_BYTES_MAX} bytes, got ${input.message.length}`);
  return input.message;
}

const coordinatorGroups = new GroupKeyCache();

/** The scheme's public key bytes as a checked group key; a RangeError naming `publicKey` otherwise. */
function groupKeyArgument(publicKey: Uint8Array): FrostGroupKey {
  if (!(publicKey instanceof Uint8Array)) throw new TypeError('publicKey: expected bytes');
  try {
    return coordinatorGroups.get(publicKey);
  } catch (e) {
    if (e instanceof CodecError || e instanceof RangeError || e instanceof TypeError)
      throw new RangeError(`publicKey: not an ed25519-frost group key (${e.message})`);
    throw e;
  }
}

function ed25519Key(publicKey: Uint8Array): KeyObject {
  return createPublicKey(ed25519PublicKeyPem(publicKey));
}

/**
 * Round 4 of a DKG or an import: every member gets all n signed confirmations and stores its share.
 * Succeeds only when all n confirm storing the key with `digest`.
 */
async function confirmAndStore(
  sid: Uint8Array,
  group: GroupDirectory,
  n: number,
  confirmations: readonly Uint8Array[],
  digest: Uint8Array,
  groupKey: Uint8Array,
  rt: RoundTrip,
): Promise<CreatedKey> {
  const blame = new Blame();
  const body = encodeKeyConfirmations(confirmations);
  const answers = await rt(FROST_ROUNDS.keyConfirmations, range(n), () => body);
  const stored: number[] = [];
  for (const i of range(n)) {
    const a = answers.get(i);
    if (a === undefined) {
      blame.add(i, 'did not confirm storing its share');
      continue;
    }
    try {
      const m = decodeSigned(a, 3 + 32, 'stored');
      const p = decodeStoredPayload(m.payload, n);
      if (p.index !== i || !group.verify(i, frostSignedMessage(sid, m.payload), m.signature))
        blame.add(i, 'its storage confirmation is not signed by its node key');
      else if (!bytesEqual(p.groupKeyDigest, digest)) blame.add(i, 'confirmed storing another key');
      else stored.push(i);
    } catch (e) {
      if (!(e instanceof CodecError)) throw e;
      blame.add(i, `malformed storage confirmation (${e.message})`);
    }
  }
  if (blame.size > 0)
    fail(`FROST key setup: ${stored.length} of ${n} members stored their share; all ${n} are needed`, blame);
  return { publicKey: groupKey, stored, culprits: [] };
}

/**
 * Every member's signed confirmation of the group key (DKG round 3 or import), in member order; fails with
 * `failure`, naming every member in `blame`, unless all n confirmed.
 */
function readConfirmations(
  sid: Uint8Array,
  group: GroupDirectory,
  n: number,
  answers: ReadonlyMap<number, Uint8Array | undefined>,
  digest: Uint8Array,
  blame: Blame,
  failure: string,
): Uint8Array[] {
  const confirmations: Uint8Array[] = [];
  for (const i of range(n)) {
    const c = readConfirmation(sid, group, n, i, answers.get(i), digest, blame);
    if (c !== undefined) confirmations.push(c);
  }
  if (blame.size > 0) fail(`${failure}: no member stores a share`, blame);
  return confirmations;
}

/** Checks a member's signed confirmation (DKG round 3 or import) and names it when it is wrong. */
function readConfirmation(
  sid: Uint8Array,
  group: GroupDirectory,
  n: number,
  i: number,
  answer: Uint8Array | undefined,
  digest: Uint8Array,
  blame: Blame,
): Uint8Array | undefined {
  if (answer === undefined) {
    blame.add(i, 'did not confirm the group key (down or refused)');
    return undefined;
  }
  try {
    const m = decodeSigned(answer, outcomePayloadBytesMax(n), 'outcome');
    const p = decodeOutcomePayload(m.payload, n);
    if (p.index !== i || !group.verify(i, frostSignedMessage(sid, m.payload), m.signature)) {
      blame.add(i, 'its confirmation is not signed by its node key');
      return undefined;
    }
    if (p.kind === 'complaint') {
      for (const j of p.accused)
        blame.add(j, `accused by member ${i}: its round-2 package did not open or failed the VSS check`);
      return undefined;
    }
    if (!bytesEqual(p.groupKeyDigest, digest)) {
      blame.add(i, 'confirmed a different group key');
      return undefined;
    }
    return answer;
  } catch (e) {
    if (!(e instanceof CodecError)) throw e;
    blame.add(i, `malformed confirmation (${e.message})`);
    return undefined;
  }
}

async function create(
  group: GroupDirectory,
  sid: Uint8Array,
  rt: RoundTrip,
  random: Random,
): Promise<CreatedKey> {
  void random; // members draw their own randomness; the coordinator holds no secret in a DKG
  checkSid(sid);
  const { n, t, staticPublicKeys } = groupOf(group);
  const context: DkgContext = { sessionId: sid, threshold: t, participants: n, staticPublicKeys };
  const all = range(n);
  const blame = new Blame();

  // Round 1: signed broadcasts, each checked here (proof of knowledge, points) before it is relayed.
  const openBody = encodeDkgOpen({ n, t });
  const r1 = await rt(FROST_ROUNDS.dkgOpen, all, () => openBody);
  const signedRound1: Uint8Array[] = [];
  const round1: DkgRound1Message[] = [];
  for (const i of all) {
    const a = r1.get(i);
    if (a === undefined) {
      blame.add(i, 'did not answer DKG round 1');
      continue;
    }
    try {
      const m = decodeSigned(a, round1PayloadBytes(t), 'round1');
      const p = decodeRound1Payload(m.payload, n, t);
      if (p.sender !== i || !group.verify(i, frostSignedMessage(sid, m.payload), m.signature)) {
        blame.add(i, 'its round-1 broadcast is not signed by its node key');
        continue;
      }
      signedRound1.push(a);
      round1.push({
        sessionId: sid,
        sender: i,
        commitment: p.commitment,
        proofOfKnowledge: p.proofOfKnowledge,
      });
    } catch (e) {
      if (!(e instanceof CodecError)) throw e;
      blame.add(i, `malformed round-1 broadcast (${e.message})`);
    }
  }
  if (blame.size > 0) fail('FROST DKG round 1 failed', blame);
  // The group key follows from the broadcasts alone; deriving it checks every one (culprits named).
  let groupKeyValue: FrostGroupKey;
  try {
    groupKeyValue = dkgGroupKey(context, round1);
  } catch (e) {
    if (!(e instanceof FrostProtocolError)) throw e;
    for (const j of e.culprits) blame.add(j, 'invalid VSS commitment or proof of knowledge in round 1');
    fail('FROST DKG round 1 failed', blame);
  }
  const groupKey = encodeGroupKey(groupKeyValue);
  const digest = sha256(groupKey);

  // Round 2: every member gets every signed broadcast and answers with its sealed packages.
  const broadcasts = encodeDkgBroadcasts(signedRound1);
  const r2 = await rt(FROST_ROUNDS.dkgBroadcasts, all, () => broadcasts);
  const toRecipient = new Map<number, SealedPackage[]>(all.map((i) => [i, []]));
  for (const i of all) {
    const a = r2.get(i);
    if (a === undefined) {
      blame.add(i, 'did not answer DKG round 2 (down, or refused the relayed broadcasts)');
      continue;
    }
    try {
      const m = decodePackagesAnswer(a, n);
      if (m.sender !== i) {
        blame.add(i, `its round-2 answer claims to be from ${m.sender}`);
        continue;
      }
      for (const p of m.packages) toRecipient.get(p.peer)!.push({ ...p, peer: i });
    } catch (e) {
      if (!(e instanceof CodecError)) throw e;
      blame.add(i, `malformed round-2 packages (${e.message})`);
    }
  }
  if (blame.size > 0) fail('FROST DKG round 2 failed', blame);

  // Round 3: each member gets its packages (senders in increasing order) and confirms the group key.
  const r3 = await rt(FROST_ROUNDS.dkgPackages, all, (i) => encodeDkgPackages(toRecipient.get(i)!));
  const confirmations = readConfirmations(sid, group, n, r3, digest, blame, 'FROST DKG round 3 failed');

  // Round 4: all n confirmations to everyone; each stores its share.
  return confirmAndStore(sid, group, n, confirmations, digest, groupKey, rt);
}

async function importKey(
  group: GroupDirectory,
  sid: Uint8Array,
  pem: string,
  rt: RoundTrip,
  random: Random,
): Promise<CreatedKey> {
  checkSid(sid);
  const { n, t, staticPublicKeys } = groupOf(group);
  const dealt = dealEd25519Key({ privateKeyPem: pem, threshold: t, participants: n, random });
  const groupKey = encodeGroupKey(dealt.group);
  const digest = sha256(groupKey);
  let bodies: Map<number, Uint8Array>;
  try {
    bodies = new Map(
      range(n).map((i) => [
        i,
        encodeImportDeal({
          groupKey,
          box: sealBox(
            staticPublicKeys[i - 1]!,
            dealt.shares[i - 1]!.signingShare,
            importAad(sid, i, digest),
            random,
          ),
        }),
      ]),
    );
  } finally {
    // The dealer keeps nothing: only the sealed boxes leave.
    for (const s of dealt.shares) s.signingShare.fill(0);
  }
  const answers = await rt(FROST_ROUNDS.importDeal, range(n), (i) => bodies.get(i)!);
  const confirmations = readConfirmations(sid, group, n, answers, digest, new Blame(), 'FROST import failed');
  return confirmAndStore(sid, group, n, confirmations, digest, groupKey, rt);
}

async function sign(
  group: GroupDirectory,
  publicKey: Uint8Array,
  sid: Uint8Array,
  input: SignInput,
  rt: RoundTrip,
  random: Random,
): Promise<{ signature: Uint8Array; culprits: SchemeCulprit[] }> {
  void random; // nonces are the signers'; the coordinator draws nothing
  checkSid(sid);
  const message = messageOf(input);
  const g = groupKeyArgument(publicKey);
  const n = group.n;
  const k = frostThreshold(n, group.b);
  if (g.participants !== n || g.threshold !== k)
    throw new RangeError(
      `publicKey: a ${g.threshold}-of-${g.participants} key, the group needs ${k}-of-${n}`,
    );
  const keyDigest = sha256(publicKey);
  const messageDigest = sha256(message);
  const blamed = new Blame(); // provably wrong answers, or withholding a share after committing
  const silent = new Blame(); // never answered a commit request
  let usableBefore = Number.POSITIVE_INFINITY;
  for (let attempt = 0; ; attempt++) {
    const candidates = range(n).filter((i) => !blamed.has(i) && !silent.has(i));
    // Invariant: every failed attempt excludes at least one member, so there are at most n − k + 1.
    if (candidates.length >= usableBefore)
      throw new Error('Invariant: a failed FROST attempt excludes a member');
    usableBefore = candidates.length;
    if (candidates.length < k || attempt >= FROST_ATTEMPTS_MAX)
      fail(`FROST signing failed: ${candidates.length} usable members of the ${k} needed`, blamed, silent);

    // Commit: the first k valid answers, in the order they arrived.
    const commitBody = encodeSignCommit({ attempt, keyDigest, messageDigest });
    const commits = await rt(FROST_ROUNDS.commit, candidates, () => commitBody, k);
    const committed: FrostCommitResponse[] = [];
    for (const [i, a] of commits) {
      if (!candidates.includes(i)) continue;
      if (a === undefined) continue;
      try {
        const c = decodeCommitmentAnswer(a, n);
        if (c.index !== i || c.attempt !== attempt) blamed.add(i, 'commitment for another member or attempt');
        else if (!isFrostElement(c.hiding) || !isFrostElement(c.binding))
          blamed.add(i, 'commitment is not a valid Ed25519 group element');
        else if (committed.length < k)
          committed.push({ sessionId: sid, index: i, hiding: c.hiding, binding: c.binding });
      } catch (e) {
        if (!(e instanceof CodecError)) throw e;
        blamed.add(i, `malformed commitment (${e.message})`);
      }
    }
    for (const i of candidates)
      if (commits.get(i) === undefined && !committed.some((c) => c.index === i))
        silent.add(i, 'did not answer the commit round');
    if (committed.length < k) continue;

    // Sign: the chosen k get the commitment list; every share is checked (RFC 9591 §5.4).
    const request = frostSignRequest(g, sid, message, committed);
    const chosen = request.commitments.map((c) => c.index);
    const signBody = encodeSignShareRequest({
      attempt,
      keyDigest,
      messageDigest,
      commitments: request.commitments,
    });
    const shares = await rt(FROST_ROUNDS.sign, chosen, () => signBody);
    const responses: FrostSignResponse[] = [];
    for (const i of chosen) {
      const a = shares.get(i);
      if (a === undefined) {
        blamed.add(i, 'withheld its signature share after committing');
        continue;
      }
      try {
        const z = decodeSignatureShareAnswer(a, n);
        if (z.index !== i || z.attempt !== attempt)
          blamed.add(i, 'signature share for another member or attempt');
        else responses.push({ sessionId: sid, index: i, share: z.share });
      } catch (e) {
        if (!(e instanceof CodecError)) throw e;
        blamed.add(i, `malformed signature share (${e.message})`);
      }
    }
    if (responses.length < chosen.length) {
      for (const i of frostInvalidShares(g, request, responses))
        blamed.add(i, 'invalid signature share (RFC 9591 §5.4)');
      continue;
    }
    let signature: Uint8Array;
    try {
      signature = frostAggregate(g, request, responses);
    } catch (e) {
      if (!(e instanceof FrostProtocolError)) throw e;
      for (const i of e.culprits) blamed.add(i, 'invalid signature share (RFC 9591 §5.4)');
      continue;
    }
    // Never hand out a signature node:crypto does not accept under the group's Ed25519 key.
    if (!nodeVerify(null, message, ed25519Key(g.publicKey), signature))
      throw new Error('Invariant: an aggregate of verified FROST shares verifies under the group key');
    return { signature, culprits: blamed.list() };
  }
}

/** The client's side of the ed25519-frost scheme. */
export function frostCoordinator(): SchemeCoordinator {
  return {
    scheme: 'ed25519-frost',
    input: 'message',
    x509Algorithm: 'ed25519',
    create,
    import: importKey,
    sign,
    reshare: async (oldGroup, newGroup, publicKey, sid, rtOld, rtNew) => {
      groupKeyArgument(publicKey);
      return coordinateReshare(frostReshareAdapter, oldGroup, newGroup, publicKey, sid, rtOld, rtNew);
    },
    publicKeyPem: (publicKey) => ed25519PublicKeyPem(groupKeyArgument(publicKey).publicKey),
    verify: (publicKey, input, signature) => {
      try {
        if (input?.kind !== 'message' || !(signature instanceof Uint8Array) || signature.length !== 64)
          return false;
        return nodeVerify(null, input.message, ed25519Key(decodeGroupKey(publicKey).publicKey), signature);
      } catch {
        return false;
      }
    },
  };
}
