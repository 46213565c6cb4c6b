/**
 * Threshold DSA and ECDSA (P-256, secp256k1) for the distributed CA (src/protocol/ca/scheme.ts), after
 * Gennaro, Jarecki, Krawczyk and Rabin, "Robust Threshold DSS Signatures" (BFTKV paper §3.4; the protocol
 * modules are src/crypto/threshold/gjkr-*.ts).
 *
 * Thresholds (decided for the CA; REFERENCE.md §8.2's t = ⌊n/2⌋ needed every holder to answer): the key is
 * shared with a polynomial of degree t = ⌊(n − b − 1)/2⌋ (t = 3 for n = 10, b = 3; t = 1 for n = 4, b = 1).
 * Every round needs 2t + 1 ≤ n − b correct holders, so b holders down or lying cannot stop a signature, and
 * n ≥ 2t + 1 holds. A collusion of t + 1 holders (4 of 10, 2 of 4) can pool its shares and learn the key:
 * with t = b that is one more than the Byzantine holders the clique tolerates, the price of GJKR's
 * n ≥ 2t + 1 (RSA and FROST need n − b holders to sign, and n − b colluders to learn anything).
 *
 * - create: distributed key generation (gjkr-key.ts `DkgCoordinator`); no party ever holds the key.
 * - import: the importing client deals Shamir shares of an existing PEM key (P-256, secp256k1 or DSA), one
 *   sealed delivery per holder, and drops its copy. JavaScript cannot wipe a string or a bigint: the PEM
 *   text and x stay in the importer's heap until the garbage collector reuses the memory; byte buffers
 *   are zeroed. Import once, from a short-lived process.
 * - sign: a GJKR signing session over the SHA-256 digest the service authorized (`SignInput` of kind
 *   'digest'). The session is opened in digest mode: holders sign exactly those 32 bytes, refuse an
 *   opening for any other digest and any later step whose authorized input differs, and run every step of
 *   a session at most once (the REFERENCE.md §8.2 key extraction needs two phase-2 answers for one nonce).
 *   Output: DER `SEQUENCE { r, s }` (ECDSA with low s), checked before it is returned.
 *
 * DSA keys generated here use the embedded 2048/256 parameters of dsa-params.ts (why fixed, and why those:
 * see there); imported DSA keys keep theirs. `dlCoordinator(…, { dsaParams })` picks other parameters.
 *
 * Rounds are sent without `need`: the set of holders in a session shrinks with every round (a holder that
 * misses one cannot come back), so leaving a slow holder behind early would turn one more fault later into
 * a failure; the service's round timeout bounds the wait.
 *
 * Wire: setup bodies are GJKR requests (tag ‖ sid ‖ payload, gjkr-messages.ts) or an import delivery
 * (`IMPORT_TAG` ‖ sid ‖ bytes(delivery)); signing bodies are GJKR requests. The sid inside must equal the
 * service's. Answers are the GJKR messages, signed by the holder's node key.
 */
import { createPrivateKey } from 'node:crypto';
import { ByteReader, ByteWriter, CodecError, bytesEqual, toHex, utf8 } from '../../codec/bytes.js';
import { sha256 } from '../../crypto/hash.js';
import { secureRandom, type Random } from '../../env/random.js';
import {
  P256_GROUP,
  SECP256K1_GROUP,
  decodeScalar as decodeDlScalar,
  dsaGroup,
  encodeScalar as encodeDlScalar,
  randomScalar,
  type GroupElement,
  verifyDerDigest,
  verifyDerSignature,
  type DlGroup,
  type DsaParams,
} from '../../crypto/threshold/dl-group.js';
import { BFTKV_DSA_PARAMS } from '../../crypto/threshold/dsa-params.js';
import {
  DkgCoordinator,
  DkgSession,
  PublicKeyInfoCache,
  acceptImportedShare,
  decodeKeyShare,
  decodePublicKeyInfo,
  encodeKeyShare,
  encodePublicKeyInfo,
  importPrivateKey,
  keyIdOf,
  readPrivateKey,
  validatePublicKeyInfo,
  type DkgResult,
  type DlPublicKeyInfo,
  type KeyShare,
} from '../../crypto/threshold/gjkr-key.js';
import {
  BODY,
  GjkrFailure,
  GjkrPeerError,
  GjkrRequestError,
  GjkrSessionError,
  REQUEST,
  SESSION_ID_BYTES,
  bodyHeader,
  bodyReader,
  decodeDkgOpen,
  decodeRelay,
  decodeSignOpen,
  openSigned,
  signMessage,
  type Culprit,
  type RequestHeader,
  type SendStep,
} from '../../crypto/threshold/gjkr-messages.js';
import { SessionTable, stepSession } from '../../crypto/threshold/gjkr-server.js';
import { SigningCoordinator, SigningSession, type SigningResult } from '../../crypto/threshold/gjkr-sign.js';
import {
  coordinateReshare,
  reshareHolder,
  type ReshareAdapter,
  type ReshareGroup,
  type SharedPublicKey,
} from './reshare.js';
import {
  SchemeError,
  SchemeFailure,
  type CreatedKey,
  type GroupDirectory,
  type HolderIdentity,
  type RoundTrip,
  type SchemeCoordinator,
  type SchemeCulprit,
  type SchemeHolder,
  type SchemeSignature,
  type SetupReply,
  type SignInput,
  type StoredKey,
} from './scheme.js';

/** The CA schemes this module serves. */
export type DlScheme = 'ecdsa-p256' | 'ecdsa-secp256k1' | 'dsa';

/** Request tag of an import delivery (distinct from the GJKR request tags). */
export const IMPORT_TAG = 0x40;
/** Largest import delivery (public key information of up to 64 holders with 3072-bit DSA elements). */
const IMPORT_DELIVERY_BYTES_MAX = 64 * 1024;
/** Largest setup or signing body a holder reads (a relayed round of 64 holders stays far below). */
export const DL_BODY_BYTES_MAX = 8 << 20;
/** Length of the SHA-256 digest a signing session signs. */
const DIGEST_BYTES = 32;
/** Request tags a setup call accepts (`IMPORT_TAG` and `dkgOpen` open a session, the others continue one). */
const SETUP_STEPS: ReadonlySet<number> = new Set([
  IMPORT_TAG,
  REQUEST.dkgOpen,
  REQUEST.deals,
  REQUEST.reveal,
  REQUEST.qualify,
  REQUEST.dkgCommit,
]);
/** Request tags a signing call accepts (`signOpen`, message mode, only to refuse it). */
const SIGN_STEPS: ReadonlySet<number> = new Set([
  REQUEST.signOpen,
  REQUEST.signOpenDigest,
  REQUEST.deals,
  REQUEST.reveal,
  REQUEST.qualify,
  REQUEST.signPhase2,
]);

/** The polynomial degree for n holders of which b may be Byzantine: t = ⌊(n − b − 1)/2⌋ (≥ 1). */
export function dlThreshold(n: number, b: number): number {
  if (!Number.isInteger(n) || !Number.isInteger(b) || b < 0 || n < 3 * b + 1)
    throw new RangeError(`dlThreshold: need integers n ≥ 3b + 1, got n=${String(n)} b=${String(b)}`);
  const t = Math.floor((n - b - 1) / 2);
  if (t < 1) throw new RangeError(`dlThreshold: n=${n} holders are too few for a threshold (t = ${t})`);
  return t;
}

/** The group a scheme signs in (DSA: `dsaParams`, default the embedded parameters). */
function schemeGroup(scheme: DlScheme, dsaParams: DsaParams = BFTKV_DSA_PARAMS): DlGroup {
  if (scheme === 'ecdsa-p256') return P256_GROUP;
  if (scheme === 'ecdsa-secp256k1') return SECP256K1_GROUP;
  if (scheme === 'dsa') return dsaGroup(dsaParams);
  throw new TypeError(`scheme: expected ecdsa-p256, ecdsa-secp256k1 or dsa, got ${String(scheme)}`);
}

function schemeOfGroup(group: DlGroup): DlScheme {
  return group.kind === 'p256' ? 'ecdsa-p256' : group.kind === 'secp256k1' ? 'ecdsa-secp256k1' : 'dsa';
}

/** The context an import acknowledgement is signed under: the session and the key. */
function importContext(sid: Uint8Array, keyId: Uint8Array): Uint8Array {
  return sha256(utf8('bftkv/ca/dl/import-ack/v1'), sid, keyId);
}

/** An import request: IMPORT_TAG ‖ sid ‖ bytes(delivery). */
export function encodeImportRequest(sid: Uint8Array, delivery: Uint8Array): Uint8Array {
  return new ByteWriter(delivery.length + 48).u8(IMPORT_TAG).raw(sid).bytes(delivery).finish();
}

// ---------------------------------------------------------------------------------------------------
// Holder

/** Options of a holder (defaults as in the contract). */
export interface DlHolderOptions {
  /** Randomness for dealing and proofs (default node:crypto). */
  readonly random?: Random;
  /** Lifetime of a session from its opening (default 60 s). */
  readonly sessionTtlMs?: number;
  /** Concurrent sessions (default 64). */
  readonly sessionsMax?: number;
  /** Finished session ids remembered (default 65 536). */
  readonly usedSessionIdsMax?: number;
}

/** One open session of a holder; the authorized digest and key are fixed when a signing session opens. */
type HolderSession =
  | { readonly kind: 'dkg'; readonly index: number; readonly session: DkgSession; destroy(): void }
  | {
      readonly kind: 'sign';
      readonly index: number;
      readonly session: SigningSession;
      readonly digest: Uint8Array;
      readonly keyId: Uint8Array;
      destroy(): void;
    };

function refuse(refusal: 'malformed' | 'session' | 'refused', message: string): never {
  throw new SchemeError(refusal, message);
}

/** The header (tag, sid) of a body; the sid must be the service's. */
function readBody(sid: Uint8Array, body: Uint8Array): RequestHeader {
  if (!(sid instanceof Uint8Array) || sid.length !== SESSION_ID_BYTES)
    refuse('malformed', `sid: expected ${SESSION_ID_BYTES} bytes`);
  if (!(body instanceof Uint8Array)) refuse('malformed', 'body: expected bytes');
  if (body.length > DL_BODY_BYTES_MAX)
    refuse('malformed', `body: ${body.length} bytes exceed the bound ${DL_BODY_BYTES_MAX}`);
  const reader = new ByteReader(body);
  const tag = reader.u8('body.tag');
  const inner = reader.raw(SESSION_ID_BYTES, 'body.sid');
  if (!bytesEqual(inner, sid)) refuse('malformed', 'body.sid: not the session’s id');
  return { tag, sid, reader };
}

/** Relayed lists per step request (gjkr-server.ts `stepSession` reads them the same way). */
const RELAY_LISTS: ReadonlyMap<number, number> = new Map([
  [REQUEST.deals, 1],
  [REQUEST.reveal, 1],
  [REQUEST.qualify, 2],
  [REQUEST.signPhase2, 1],
  [REQUEST.dkgCommit, 1],
]);

/** Checks a step body's framing before any session is looked up, so a malformed body is always 'malformed'. */
function checkFraming(h: RequestHeader, body: Uint8Array): void {
  const lists = RELAY_LISTS.get(h.tag);
  if (lists === undefined) return;
  const copy = new ByteReader(body);
  copy.raw(1 + SESSION_ID_BYTES, 'body.header');
  decodeRelay({ ...h, reader: copy }, lists, 'body');
}

/** Runs a holder step and turns every protocol error into the contract's SchemeError. */
function asSchemeError<T>(step: () => T): T {
  try {
    return step();
  } catch (e) {
    if (e instanceof SchemeError) throw e;
    if (e instanceof CodecError) throw new SchemeError('malformed', e.message);
    if (e instanceof GjkrSessionError) throw new SchemeError('session', e.message);
    if (e instanceof GjkrPeerError) throw new SchemeError('peer', e.message, e.culprits);
    if (e instanceof GjkrRequestError || e instanceof RangeError || e instanceof TypeError)
      throw new SchemeError('refused', e.message);
    throw e;
  }
}

/**
 * A holder of threshold DSA/ECDSA shares, for every group at once (the group travels in the requests and
 * in the stored key). Sessions are single-use and erased when they end, on any refusal inside them, and on
 * `expire` after their time to live.
 */
export function dlHolder(options: DlHolderOptions = {}): SchemeHolder {
  const random = options.random ?? secureRandom;
  const table = new SessionTable<HolderSession>(options);
  const infoCache = new PublicKeyInfoCache();

  /**
   * Runs one step for `sid` with every error as the contract's SchemeError; any refusal ends the session
   * of that id if one is open, so its secrets are erased.
   */
  const guarded = <T>(sid: Uint8Array, step: () => T): T => {
    try {
      return asSchemeError(step);
    } catch (e) {
      if (sid instanceof Uint8Array && sid.length === SESSION_ID_BYTES) table.abort(toHex(sid));
      throw e;
    }
  };

  const setup = (identity: HolderIdentity, sid: Uint8Array, body: Uint8Array, nowMs: number): SetupReply => {
    const h = readBody(sid, body);
    const id = toHex(sid);
    if (h.tag === IMPORT_TAG) return importStep(identity, id, h);
    if (h.tag === REQUEST.dkgOpen) {
      // Inside `open`: a refused opening uses the id up as well.
      const session = table.open(id, nowMs, () => {
        const req = decodeDkgOpen(h);
        if (req.n !== identity.n)
          refuse('refused', `dkg.n: ${req.n}, but the group has ${identity.n} members`);
        const t = dlThreshold(identity.n, identity.b);
        if (req.t !== t) refuse('refused', `dkg.t: ${req.t}, but this group uses t = ${t}`);
        const s = new DkgSession(req, identity, random);
        return { kind: 'dkg', index: identity.index, session: s, destroy: () => s.destroy() };
      });
      return { response: session.session.dealMessage };
    }
    if (!SETUP_STEPS.has(h.tag))
      refuse(SIGN_STEPS.has(h.tag) ? 'refused' : 'malformed', `setup: no step 0x${h.tag.toString(16)}`);
    checkFraming(h, body);
    const entry = table.get(id, nowMs);
    if (entry.kind !== 'dkg') refuse('refused', 'a signing session is not a setup step');
    if (entry.index !== identity.index) refuse('refused', 'the session was opened by another member');
    const reply = stepSession(entry.session, h);
    if (reply.done) table.end(id);
    if (reply.keyShare === undefined) return { response: reply.response };
    return { response: reply.response, key: storedKey(reply.keyShare) };
  };

  const importStep = (identity: HolderIdentity, id: string, h: RequestHeader): SetupReply => {
    // One step: the id is used up (and refused a second time) whether or not the share is accepted.
    table.claim(id);
    const delivery = h.reader.bytes(IMPORT_DELIVERY_BYTES_MAX, 'import.delivery');
    h.reader.finish('import');
    const share = acceptImportedShare(delivery, identity);
    const { n, t } = share.info;
    if (n !== identity.n) refuse('refused', `import: key for ${n} holders, but the group has ${identity.n}`);
    const expected = dlThreshold(identity.n, identity.b);
    if (t !== expected) refuse('refused', `import: t = ${t}, but this group uses t = ${expected}`);
    const ack = signMessage(
      identity,
      bodyHeader(BODY.dkgAck, importContext(h.sid, share.keyId), identity.index).raw(share.keyId).finish(),
    );
    return { response: ack, key: storedKey(share) };
  };

  const sign = (
    identity: HolderIdentity,
    key: StoredKey,
    sid: Uint8Array,
    input: SignInput,
    body: Uint8Array,
    nowMs: number,
  ): Uint8Array => {
    const h = readBody(sid, body);
    if (input.kind !== 'digest' || input.hash !== 'sha256' || input.digest.length !== DIGEST_BYTES)
      refuse('refused', 'this scheme signs SHA-256 digests only');
    const share = loadShare(key, identity);
    const id = toHex(sid);
    if (h.tag === REQUEST.signOpen)
      refuse('refused', 'a signing session must be opened for the authorized digest (digest mode)');
    if (h.tag === REQUEST.signOpenDigest) {
      // Inside `open`: a refused opening uses the id up as well.
      const entry = table.open(id, nowMs, () => {
        const req = decodeSignOpen(h);
        if (req.hash !== 'sha256' || !bytesEqual(req.message, input.digest))
          refuse('refused', 'the session is opened for another digest than the authorized one');
        if (!bytesEqual(req.keyId, share.keyId)) refuse('refused', 'the session is opened for another key');
        const s = new SigningSession(share, req, identity, random);
        return {
          kind: 'sign',
          index: identity.index,
          session: s,
          digest: new Uint8Array(input.digest),
          keyId: share.keyId,
          destroy: () => s.destroy(),
        };
      });
      return entry.session.dealMessage;
    }
    if (!SIGN_STEPS.has(h.tag))
      refuse(SETUP_STEPS.has(h.tag) ? 'refused' : 'malformed', `sign: no step 0x${h.tag.toString(16)}`);
    checkFraming(h, body);
    const entry = table.get(id, nowMs);
    if (entry.kind !== 'sign') refuse('refused', 'a key generation is not a signing session');
    if (entry.index !== identity.index) refuse('refused', 'the session was opened by another member');
    if (!bytesEqual(entry.digest, input.digest))
      refuse('refused', 'the session was opened for another digest than the authorized one');
    if (!bytesEqual(entry.keyId, share.keyId)) refuse('refused', 'the session was opened for another key');
    const reply = stepSession(entry.session, h);
    if (reply.done) table.end(id);
    return reply.response;
  };

  /** The stored share, checked against the identity and the stored public key bytes. */
  const loadShare = (key: StoredKey, identity: HolderIdentity): KeyShare => {
    let share: KeyShare;
    try {
      // The share's bytes start with the public key information (encodeKeyShare).
      const infoBytes = new ByteReader(key.share).bytes(key.share.length, 'keyShare.info');
      if (!bytesEqual(infoBytes, key.publicKey))
        refuse('refused', 'stored key: the share does not belong to the stored public key');
      share = decodeKeyShare(key.share, infoCache);
    } catch (e) {
      if (e instanceof SchemeError) throw e;
      refuse('refused', `stored key: ${e instanceof Error ? e.message : 'unreadable'}`);
    }
    if (share.index !== identity.index)
      refuse('refused', `stored key: share ${share.index}, but this holder is ${identity.index}`);
    return share;
  };

  const reshare = reshareHolder(dlReshareAdapter, {
    random,
    ...(options.sessionTtlMs === undefined ? {} : { sessionTtlMs: options.sessionTtlMs }),
  });
  return {
    setup: async (identity, sid, body, nowMs) => guarded(sid, () => setup(identity, sid, body, nowMs)),
    sign: async (identity, key, sid, input, body, nowMs) =>
      guarded(sid, () => sign(identity, key, sid, input, body, nowMs)),
    expire: (nowMs) => {
      table.expire(nowMs);
      reshare.expire(nowMs);
    },
    reshare,
  };
}

// ---------------------------------------------------------------------------------------------------
// Resharing (reshare.ts): the key's Shamir sharing over Z_q, verification shares X_j in the public key

const reshareGroups = new WeakMap<DlGroup, ReshareGroup<GroupElement>>();

/** A DSA or EC group in the form reshare.ts works with. */
function dlReshareGroup(group: DlGroup): ReshareGroup<GroupElement> {
  let g = reshareGroups.get(group);
  if (g === undefined) {
    g = {
      id: group.encoding,
      q: group.q,
      scalarBytes: group.scalarBytes,
      encodeScalar: (v) => encodeDlScalar(group, v),
      decodeScalar: (bytes) => {
        try {
          return decodeDlScalar(group, bytes, 'scalar');
        } catch {
          return undefined;
        }
      },
      encodeElement: (e) => group.encodeElement(e),
      decodeElement: (bytes) => {
        try {
          const e = group.decodeElement(bytes, 'element');
          return group.isIdentity(e) ? undefined : e;
        } catch {
          return undefined;
        }
      },
      base: (v) => group.exp(group.g, v),
      msm: (points, scalars) => group.msm(points, scalars),
      equals: (a, b) => group.equals(a, b),
      randomScalar: (random) => randomScalar(group, random),
    };
    reshareGroups.set(group, g);
  }
  return g;
}

const reshareInfos = new PublicKeyInfoCache(64);
const groupsOfReshare = new WeakMap<ReshareGroup<GroupElement>, DlGroup>();

/** GJKR keys for reshare.ts: degree t = dlThreshold(n, b), the public key information re-derived. */
export const dlReshareAdapter: ReshareAdapter<GroupElement> = {
  label: 'gjkr',
  publicKey(bytes): SharedPublicKey<GroupElement> {
    const info = reshareInfos.decode(bytes);
    const group = dlReshareGroup(info.group);
    groupsOfReshare.set(group, info.group);
    return {
      group,
      n: info.n,
      degree: info.t,
      y: info.y,
      verificationShare: (i) => info.verificationShares.get(i),
    };
  },
  secret(key, index) {
    const infoBytes = new ByteReader(key.share).bytes(key.share.length, 'keyShare.info');
    if (!bytesEqual(infoBytes, key.publicKey))
      throw new RangeError('the share belongs to another public key');
    const share = decodeKeyShare(key.share, reshareInfos);
    if (share.index !== index) throw new RangeError(`share ${share.index}, but this holder is ${index}`);
    return share.x;
  },
  degree: dlThreshold,
  build(old, commitments, shares) {
    const group = groupsOfReshare.get(old.group);
    if (group === undefined) throw new Error('Invariant: the old key was decoded by this adapter');
    const info: DlPublicKeyInfo = {
      group,
      n: shares.length,
      t: commitments.length - 1,
      y: commitments[0]!,
      verificationShares: new Map(shares.map((X, k) => [k + 1, X])),
    };
    validatePublicKeyInfo(info);
    return encodePublicKeyInfo(info);
  },
  storedShare(publicKey, index, x) {
    const info = reshareInfos.decode(publicKey);
    return encodeKeyShare({ info, keyId: keyIdOf(info), index, x });
  },
};

/** What the service stores for a holder: the share bytes and the public key information (same everywhere). */
function storedKey(share: KeyShare): StoredKey {
  return { share: encodeKeyShare(share), publicKey: encodePublicKeyInfo(share.info) };
}

// ---------------------------------------------------------------------------------------------------
// Coordinator

/** Options of a coordinator. */
export interface DlCoordinatorOptions {
  /** DSA domain parameters of generated keys (default: the embedded BFTKV_DSA_PARAMS). */
  readonly dsaParams?: DsaParams;
}

function culpritsOf(culprits: readonly Culprit[]): SchemeCulprit[] {
  return culprits.map((c) => ({ index: c.party, reason: c.reason }));
}

/** Drives a GJKR coordinator through the round trip; a GjkrFailure becomes a SchemeFailure. */
async function drive<R>(
  coordinator: {
    start(): SendStep;
    next(answers: ReadonlyMap<number, Uint8Array | undefined>): SendStep | R;
  },
  rt: RoundTrip,
): Promise<R> {
  try {
    let step: SendStep | R = coordinator.start();
    while (isSend(step)) {
      const request = step.request;
      step = coordinator.next(await rt(step.round, step.to, () => request));
    }
    return step;
  } catch (e) {
    if (e instanceof GjkrFailure) throw new SchemeFailure(e.message, culpritsOf(e.culprits));
    throw e;
  }
}

function isSend(x: unknown): x is SendStep {
  return typeof x === 'object' && x !== null && (x as { kind?: unknown }).kind === 'send';
}

/** The public key information of a stored public key, checked to belong to `scheme`. */
function publicInfo(scheme: DlScheme, publicKey: Uint8Array): DlPublicKeyInfo {
  let info: DlPublicKeyInfo;
  try {
    info = decodePublicKeyInfo(publicKey);
  } catch (e) {
    throw new RangeError(`publicKey: ${e instanceof Error ? e.message : 'unreadable'}`);
  }
  if (schemeOfGroup(info.group) !== scheme)
    throw new RangeError(`publicKey: a ${schemeOfGroup(info.group)} key, not ${scheme}`);
  return info;
}

/**
 * The client's side for `scheme`: distributed key generation, import of an existing key, and signing of
 * authorized SHA-256 digests; every signature is verified before it is returned, and a failure names the
 * holders to blame.
 */
export function dlCoordinator(scheme: DlScheme, options: DlCoordinatorOptions = {}): SchemeCoordinator {
  const group = schemeGroup(scheme, options.dsaParams);
  const x509Algorithm =
    scheme === 'ecdsa-p256'
      ? 'ecdsa-p256-sha256'
      : scheme === 'ecdsa-secp256k1'
        ? 'ecdsa-secp256k1-sha256'
        : 'dsa-sha256';

  const create = async (
    directory: GroupDirectory,
    sid: Uint8Array,
    rt: RoundTrip,
    _random: Random,
  ): Promise<CreatedKey> => {
    const t = dlThreshold(directory.n, directory.b);
    const coordinator = new DkgCoordinator({ sid, group, n: directory.n, t }, directory);
    const key = await drive<DkgResult>(coordinator, rt);
    return {
      publicKey: encodePublicKeyInfo(key.info),
      stored: key.stored,
      culprits: culpritsOf(key.culprits),
    };
  };

  const importKey = async (
    directory: GroupDirectory,
    sid: Uint8Array,
    pem: string,
    rt: RoundTrip,
    random: Random,
  ): Promise<CreatedKey> => {
    if (!(sid instanceof Uint8Array) || sid.length !== SESSION_ID_BYTES)
      throw new RangeError(`sid: expected ${SESSION_ID_BYTES} bytes`);
    const { n, b } = directory;
    const t = dlThreshold(n, b);
    const key = createPrivateKey(pem);
    const found = readPrivateKey(key).group;
    if (schemeOfGroup(found) !== scheme)
      throw new TypeError(`pem: a ${schemeOfGroup(found)} key cannot be imported as ${scheme}`);
    const imported = importPrivateKey(key, { n, t, encryptionKey: directory.encryptionKey, random });
    const holders = Array.from({ length: n }, (_, i) => i + 1);
    let answers: Map<number, Uint8Array | undefined>;
    try {
      answers = await rt('import', holders, (i) => encodeImportRequest(sid, imported.deliveries.get(i)!));
    } finally {
      // The deliveries are sealed, but nothing of the key needs to outlive the round.
      (imported.deliveries as Map<number, Uint8Array>).clear();
    }
    const context = importContext(sid, imported.keyId);
    const stored: number[] = [];
    const culprits: SchemeCulprit[] = [];
    for (const i of holders) {
      const answer = answers.get(i);
      if (answer === undefined) {
        culprits.push({ index: i, reason: 'did not store its share' });
        continue;
      }
      try {
        const m = openSigned(answer, directory, { tag: BODY.dkgAck, context }, 'ack');
        if (m === undefined || m.from !== i) throw new Error('acknowledgement not signed by the holder');
        const r = bodyReader(m);
        const keyId = r.raw(32, 'ack.keyId');
        r.finish('ack');
        if (!bytesEqual(keyId, imported.keyId)) throw new Error('acknowledged another key');
        stored.push(i);
      } catch (e) {
        culprits.push({ index: i, reason: `bad acknowledgement: ${e instanceof Error ? e.message : ''}` });
      }
    }
    if (stored.length < 2 * t + 1)
      throw new SchemeFailure(
        `only ${stored.length} holders stored their share, 2t+1 = ${2 * t + 1} needed`,
        culprits,
      );
    return { publicKey: encodePublicKeyInfo(imported.info), stored, culprits };
  };

  const signDigest = async (
    directory: GroupDirectory,
    publicKey: Uint8Array,
    sid: Uint8Array,
    input: SignInput,
    rt: RoundTrip,
    _random: Random,
  ): Promise<SchemeSignature> => {
    if (input.kind !== 'digest' || input.hash !== 'sha256' || input.digest.length !== DIGEST_BYTES)
      throw new TypeError(`input: ${scheme} signs a 32-byte SHA-256 digest`);
    const info = publicInfo(scheme, publicKey);
    if (info.n !== directory.n)
      throw new RangeError(`publicKey: a key of ${info.n} holders, but the group has ${directory.n}`);
    const coordinator = new SigningCoordinator({
      info,
      digest: input.digest,
      hash: 'sha256',
      sid,
      directory,
    });
    const result = await drive<SigningResult>(coordinator, rt);
    // Invariant: SigningCoordinator verified it; the contract's own check must agree.
    if (!verifyInput(info, input, result.signature))
      throw new Error('Invariant: a combined signature failed the final verification');
    return { signature: result.signature, culprits: culpritsOf(result.culprits) };
  };

  const verifyInput = (info: DlPublicKeyInfo, input: SignInput, signature: Uint8Array): boolean =>
    input.kind === 'digest'
      ? input.hash === 'sha256' &&
        input.digest.length === DIGEST_BYTES &&
        verifyDerDigest(info.group, info.y, input.digest, signature)
      : verifyDerSignature(info.group, info.y, 'sha256', input.message, signature);

  return {
    scheme,
    input: 'digest',
    x509Algorithm,
    create,
    import: importKey,
    sign: signDigest,
    reshare: async (oldGroup, newGroup, publicKey, sid, rtOld, rtNew) => {
      publicInfo(scheme, publicKey);
      return coordinateReshare(dlReshareAdapter, oldGroup, newGroup, publicKey, sid, rtOld, rtNew);
    },
    publicKeyPem: (publicKey) => {
      const info = publicInfo(scheme, publicKey);
      return info.group.publicKeyPem(info.y);
    },
    verify: (publicKey, input, signature) => {
      try {
        return verifyInput(publicInfo(scheme, publicKey), input, signature);
      } catch {
        return false;
      }
    },
  };
}
