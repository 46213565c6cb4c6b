/**
 * Threshold DSA/ECDSA keys: the public key information every client checks answers against, the share a
 * server stores, import of an existing key by a dealing client, and distributed key generation in which no
 * party ever holds the key (Gennaro, Jarecki, Krawczyk and Rabin, "Secure Distributed Key Generation for
 * Discrete-Log Based Cryptosystems", §4 Fig. 2, with the deviation described at `DkgSession.finalize`).
 *
 * The private key x is shared with a polynomial of degree t over Z_q (Shamir): server j holds x_j = f(j).
 * The public key information lists y = g^x and the verification shares X_j = g^{x_j} (Feldman's
 * commitments in evaluated form: they determine the commitment polynomial, and `validatePublicKeyInfo`
 * checks that they lie on one polynomial of degree t whose value at 0 is y).
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { setBounded } from '../../collections/bounded.js';
import { ByteReader, ByteWriter, CodecError, bytesEqual, utf8, writeList } from '../../codec/bytes.js';
import type { Random } from '../../env/random.js';
import { sha256 } from '../hash.js';
import {
  bytesToBigint,
  decodeScalar,
  dsaGroup,
  ElementBatch,
  encodeScalar,
  groupOfCurve,
  readGroup,
  writeGroup,
  type DlGroup,
  type GroupElement,
} from './dl-group.js';
import { parseDsaPkcs8 } from './dsa-der.js';
import {
  BODY,
  GjkrFailure,
  GjkrPeerError,
  GjkrRequestError,
  REQUEST,
  bodyHeader,
  bodyReader,
  dkgContext,
  encodeDkgOpen,
  encodeRelay,
  proofContext,
  readProof,
  signMessage,
  writeProof,
  type Culprit,
  type DkgOpenRequest,
  type PartyDirectory,
  type PartyIdentity,
  type SendStep,
  type SignedMessage,
} from './gjkr-messages.js';
import {
  JvssRounds,
  JvssSession,
  openRelayed,
  shareCommitment,
  type JvssOutcome,
  type JvssParams,
} from './gjkr-jvss.js';
import {
  openingRelations,
  proveRelations,
  verifyEach,
  type ProofClaim,
  type SigmaProof,
} from './gjkr-proofs.js';
import { open, seal } from './gjkr-seal.js';
import {
  PARTIES_MAX,
  evaluate,
  interpolateInExponent,
  lagrangeCoefficients,
  randomPolynomial,
} from './gjkr-vss.js';

/** Public information of a shared key: group, n, t, y and the verification shares X_j = g^{x_j}. */
export interface DlPublicKeyInfo {
  readonly group: DlGroup;
  readonly n: number;
  readonly t: number;
  readonly y: GroupElement;
  /** X_j by share index; a party without one cannot be checked and never signs. */
  readonly verificationShares: ReadonlyMap<number, GroupElement>;
}

/** What a server stores for one key: the public information and its own share x_j. */
export interface KeyShare {
  readonly info: DlPublicKeyInfo;
  readonly keyId: Uint8Array;
  readonly index: number;
  readonly x: bigint;
}

/** Checks n, t (n ≥ 2t+1, GJKR "Robust Threshold DSS" §3) and the index range. */
export function assertThresholdParameters(n: number, t: number): void {
  if (!Number.isInteger(t) || t < 1) throw new RangeError(`t must be a positive integer, got ${String(t)}`);
  if (!Number.isInteger(n) || n < 2 * t + 1 || n > PARTIES_MAX)
    throw new RangeError(
      `n must be an integer in [2t+1, ${PARTIES_MAX}] = [${2 * t + 1}, ${PARTIES_MAX}], got ${String(n)}`,
    );
}

/**
 * Checks that the verification shares lie on one polynomial of degree t in the exponent with value y at 0,
 * and that at least 2t+1 parties have one (otherwise nobody could ever sign). Throws RangeError.
 */
export function validatePublicKeyInfo(info: DlPublicKeyInfo): void {
  const { group, n, t, y, verificationShares } = info;
  assertThresholdParameters(n, t);
  if (group.isIdentity(y)) throw new RangeError('y is the identity');
  const indices = [...verificationShares.keys()].sort((a, b) => a - b);
  if (indices.some((j) => !Number.isInteger(j) || j < 1 || j > n))
    throw new RangeError('verification share index out of [1, n]');
  if (indices.length < 2 * t + 1)
    throw new RangeError(`${indices.length} verification shares, at least 2t+1 = ${2 * t + 1} needed`);
  const baseIndices = indices.slice(0, t + 1);
  const base = new Map(baseIndices.map((j) => [j, verificationShares.get(j)!]));
  if (!group.equals(interpolateInExponent(group, base, 0n), y))
    throw new RangeError('verification shares do not interpolate to y');
  // X_j = Π_{i∈base} X_i^{λ_i(j)} for every other j, checked at once with 128-bit weights ρ_j derived from
  // the shares (a share off the polynomial passes with probability ≤ 2^-128); one at a time only to name it.
  const others = indices.slice(t + 1);
  const lambdas = others.map((j) => lagrangeCoefficients(group, baseIndices, BigInt(j)));
  const weights = batchWeights(info, others);
  const exponents = baseIndices.map((i) =>
    others.reduce((acc, _, k) => acc - weights[k]! * lambdas[k]!.get(i)!, 0n),
  );
  const combined = group.msm(
    [...others.map((j) => verificationShares.get(j)!), ...baseIndices.map((i) => base.get(i)!)],
    [...weights, ...exponents],
  );
  if (group.isIdentity(combined)) return;
  others.forEach((j, k) => {
    const expected = group.msm(
      baseIndices.map((i) => base.get(i)!),
      baseIndices.map((i) => lambdas[k]!.get(i)!),
    );
    if (!group.equals(expected, verificationShares.get(j)!))
      throw new RangeError(`verification share ${j} is not on the degree-t polynomial`);
  });
  throw new Error('Invariant: verification shares failed the batch test but pass one by one');
}

/** 128-bit weights for the batch check of verification shares: SHA-256 of the encoded information. */
function batchWeights(info: DlPublicKeyInfo, indices: readonly number[]): bigint[] {
  const seed = sha256(utf8('bftkv/gjkr/key-info-batch/v1'), encodePublicKeyInfo(info));
  return indices.map((j) => bytesToBigint(sha256(seed, new ByteWriter(2).u16(j).finish()).subarray(0, 16)));
}

/** Canonical encoding of the public key information. */
export function encodePublicKeyInfo(info: DlPublicKeyInfo): Uint8Array {
  const w = new ByteWriter(1024);
  writeGroup(w, info.group);
  w.u16(info.n).u16(info.t).raw(info.group.encodeElement(info.y));
  const shares = [...info.verificationShares.entries()].sort((a, b) => a[0] - b[0]);
  writeList(w, shares, (w2, [j, x]) => w2.u16(j).raw(info.group.encodeElement(x)));
  return w.finish();
}

function readPublicKeyInfo(r: ByteReader): DlPublicKeyInfo {
  const group = readGroup(r, 'keyInfo.group');
  const n = r.u16('keyInfo.n');
  const t = r.u16('keyInfo.t');
  const elements = new ElementBatch(group);
  const y = elements.read(r, 'keyInfo.y');
  const verificationShares = new Map<number, GroupElement>();
  let previous = 0;
  r.list(PARTIES_MAX, 'keyInfo.verificationShares', (rr) => {
    const j = rr.u16('keyInfo.verificationShares.index');
    if (j <= previous) throw new CodecError('keyInfo.verificationShares', 'indices not strictly increasing');
    previous = j;
    verificationShares.set(j, elements.read(rr, 'keyInfo.verificationShares.element'));
  });
  elements.check();
  const info = { group, n, t, y, verificationShares };
  try {
    validatePublicKeyInfo(info);
  } catch (e) {
    throw new CodecError('keyInfo', e instanceof Error ? e.message : 'invalid');
  }
  return info;
}

/** Decodes and validates public key information. */
export function decodePublicKeyInfo(bytes: Uint8Array): DlPublicKeyInfo {
  const r = new ByteReader(bytes);
  const info = readPublicKeyInfo(r);
  r.finish('keyInfo');
  return info;
}

const keyIds = new WeakMap<DlPublicKeyInfo, Uint8Array>();

/** The key identifier: SHA-256 of the canonical public key information (domain-separated). */
export function keyIdOf(info: DlPublicKeyInfo): Uint8Array {
  let id = keyIds.get(info);
  if (id === undefined) {
    id = sha256(utf8('bftkv/gjkr/key-id/v1'), encodePublicKeyInfo(info));
    keyIds.set(info, id);
  }
  return new Uint8Array(id);
}

/** The public key as PEM SubjectPublicKeyInfo (DSA or EC), for any unmodified verifier. */
export function publicKeyPem(info: DlPublicKeyInfo): string {
  return info.group.publicKeyPem(info.y);
}

/** Encodes a key share for storage (it contains the secret share x_j: store it as a secret). */
export function encodeKeyShare(share: KeyShare): Uint8Array {
  return new ByteWriter(1024)
    .bytes(encodePublicKeyInfo(share.info))
    .u16(share.index)
    .raw(encodeScalar(share.info.group, share.x))
    .finish();
}

/**
 * Decoded public key information by its bytes (bounded, oldest forgotten first): a server that loads its
 * stored share for every signing session validates each key's public information once. Holds no secret.
 */
export class PublicKeyInfoCache {
  private readonly entries = new Map<string, DlPublicKeyInfo>();

  constructor(readonly max = 16) {
    if (!Number.isInteger(max) || max < 1)
      throw new RangeError(`max must be a positive integer, got ${String(max)}`);
  }

  /** `decodePublicKeyInfo(bytes)`, remembered. */
  decode(bytes: Uint8Array): DlPublicKeyInfo {
    const id = Buffer.from(sha256(bytes)).toString('hex');
    let info = this.entries.get(id);
    if (info === undefined) {
      info = decodePublicKeyInfo(bytes);
      setBounded(this.entries, id, info, this.max);
    }
    return info;
  }
}

/** Decodes a stored key share and checks g^{x_j} = X_j (public information through `cache` if given). */
export function decodeKeyShare(bytes: Uint8Array, cache?: PublicKeyInfoCache): KeyShare {
  const r = new ByteReader(bytes);
  const infoBytes = r.bytes(64 * 1024, 'keyShare.info');
  const info = cache === undefined ? decodePublicKeyInfo(infoBytes) : cache.decode(infoBytes);
  const index = r.u16('keyShare.index');
  const x = decodeScalar(info.group, r.raw(info.group.scalarBytes, 'keyShare.x'), 'keyShare.x');
  r.finish('keyShare');
  const share = { info, keyId: keyIdOf(info), index, x };
  assertShareMatches(share);
  return share;
}

function assertShareMatches(share: KeyShare): void {
  const X = share.info.verificationShares.get(share.index);
  if (X === undefined || !share.info.group.equals(share.info.group.exp(share.info.group.g, share.x), X))
    throw new CodecError('keyShare.x', `share does not match verification share ${share.index}`);
}

// ---------------------------------------------------------------------------------------------------
// Import of an existing key (the importing client deals; BFTKV paper §3.4 "takes existing keys as-is")

/** The group and private scalar of a PEM (PKCS#8 or SEC 1 / traditional) DSA or ECDSA private key. */
export function readPrivateKey(key: string | KeyObject): { group: DlGroup; x: bigint } {
  const k = typeof key === 'string' ? createPrivateKey(key) : key;
  if (k.type !== 'private') throw new TypeError(`key: expected a private key, got a ${k.type} key`);
  let group: DlGroup;
  let x: bigint;
  if (k.asymmetricKeyType === 'ec') {
    const curve = k.asymmetricKeyDetails?.namedCurve ?? '';
    const g = groupOfCurve(curve);
    if (g === undefined) throw new RangeError(`key: unsupported curve ${curve}`);
    group = g;
    const jwk = k.export({ format: 'jwk' });
    if (typeof jwk.d !== 'string') throw new TypeError('key: EC private key without d');
    // Byte copies of the secret are zeroed; the JWK string and the bigint cannot be (JavaScript).
    const d = Buffer.from(jwk.d, 'base64url');
    x = bytesToBigint(d);
    d.fill(0);
  } else if (k.asymmetricKeyType === 'dsa') {
    const der = k.export({ format: 'der', type: 'pkcs8' });
    try {
      const parts = parseDsaPkcs8(new Uint8Array(der.buffer, der.byteOffset, der.byteLength));
      group = dsaGroup(parts);
      x = parts.x;
    } finally {
      der.fill(0);
    }
  } else {
    throw new RangeError(`key: expected a DSA or EC key, got ${String(k.asymmetricKeyType)}`);
  }
  if (x <= 0n || x >= group.q) throw new RangeError('key: private scalar out of (0, q)');
  const expected = createPublicKey(k).export({ type: 'spki', format: 'pem' }).toString();
  if (group.publicKeyPem(group.exp(group.g, x)) !== expected)
    throw new Error('Invariant: recomputed public key differs from the key’s own');
  return { group, x };
}

/** What importing a key produces: the public information and one sealed delivery per server. */
export interface ImportedKey {
  readonly info: DlPublicKeyInfo;
  readonly keyId: Uint8Array;
  readonly publicKeyPem: string;
  /** Share index → bytes to hand to that server (`acceptImportedShare`). */
  readonly deliveries: ReadonlyMap<number, Uint8Array>;
}

function importAad(keyId: Uint8Array, j: number): Uint8Array {
  return new ByteWriter().raw(utf8('bftkv/gjkr/import/v1')).raw(keyId).u16(j).finish();
}

/**
 * Shares an existing private key among servers 1..n with a random polynomial of degree t (Shamir), seals
 * x_j to server j's X25519 key, and publishes X_j = g^{x_j}. The caller must discard the key afterwards.
 */
export function importPrivateKey(
  key: string | KeyObject,
  options: {
    readonly n: number;
    readonly t: number;
    readonly encryptionKey: (j: number) => Uint8Array | undefined;
    readonly random: Random;
  },
): ImportedKey {
  const { n, t, random } = options;
  assertThresholdParameters(n, t);
  const { group, x } = readPrivateKey(key);
  const f = randomPolynomial(group, t, x, random);
  const shares = new Map<number, bigint>();
  const verificationShares = new Map<number, GroupElement>();
  for (let j = 1; j <= n; j++) {
    const xj = evaluate(group, f, BigInt(j));
    shares.set(j, xj);
    verificationShares.set(j, group.exp(group.g, xj));
  }
  f.fill(0n);
  const info: DlPublicKeyInfo = { group, n, t, y: group.exp(group.g, x), verificationShares };
  validatePublicKeyInfo(info);
  const keyId = keyIdOf(info);
  const infoBytes = encodePublicKeyInfo(info);
  const deliveries = new Map<number, Uint8Array>();
  for (const [j, xj] of shares) {
    const pub = options.encryptionKey(j);
    if (pub === undefined) throw new RangeError(`encryptionKey: none for server ${j}`);
    const plaintext = encodeScalar(group, xj);
    const box = seal(pub, plaintext, importAad(keyId, j), random);
    plaintext.fill(0);
    deliveries.set(j, new ByteWriter().bytes(infoBytes).bytes(box).finish());
  }
  shares.clear();
  return { info, keyId, publicKeyPem: publicKeyPem(info), deliveries };
}

/** A server accepts its imported share: validates the public information and g^{x_j} = X_j. */
export function acceptImportedShare(delivery: Uint8Array, identity: PartyIdentity): KeyShare {
  const r = new ByteReader(delivery);
  const info = decodePublicKeyInfo(r.bytes(64 * 1024, 'delivery.info'));
  const box = r.bytes(1024, 'delivery.box');
  r.finish('delivery');
  const keyId = keyIdOf(info);
  const plaintext = open(identity.encryption, box, importAad(keyId, identity.index));
  if (plaintext === undefined) throw new CodecError('delivery.box', 'does not open with this server’s key');
  const x = decodeScalar(info.group, plaintext, 'delivery.x');
  plaintext.fill(0);
  const share = { info, keyId, index: identity.index, x };
  assertShareMatches(share);
  return share;
}

// ---------------------------------------------------------------------------------------------------
// Distributed key generation

/** The joint sharing of a DKG: one polynomial of degree t (the key). */
function dkgParams(req: DkgOpenRequest): JvssParams {
  const participants = Array.from({ length: req.n }, (_, i) => i + 1);
  return {
    group: req.group,
    specs: [{ degree: req.t, zeroConstant: false }],
    t: req.t,
    context: dkgContext(req.sid, req.group, req.n, req.t),
    participants,
    minParties: 2 * req.t + 1,
  };
}

interface DkgFinalBody {
  readonly party: number;
  readonly evidence: Uint8Array;
  readonly x: GroupElement;
  readonly proof: SigmaProof;
}

/**
 * Reads a verification share; its elements join `elements`, whose subgroup membership the caller checks
 * (for all parties at once, `ElementBatch.failing`) before using the body.
 */
function decodeDkgFinal(group: DlGroup, m: SignedMessage, elements: ElementBatch): DkgFinalBody {
  const r = bodyReader(m);
  const evidence = r.raw(32, 'dkgFinal.evidence');
  const x = elements.read(r, 'dkgFinal.x');
  const proof = readProof(r, elements, 1, 1, 'dkgFinal.proof');
  r.finish('dkgFinal');
  return { party: m.from, evidence, x, proof };
}

/** The proof that X_j opens party j's Pedersen commitment after the sharing phase. */
function dkgFinalClaim(params: JvssParams, outcome: JvssOutcome, body: DkgFinalBody): ProofClaim {
  const c = shareCommitment(params, outcome, 0, body.party);
  return {
    label: 'dkg-final',
    context: proofContext(params.context, outcome.evidence, body.party),
    relations: openingRelations(params.group, c, body.x),
    proof: body.proof,
  };
}

/** Builds the public information from verified X_j (y by interpolation from any t+1 of them). */
function infoFromFinals(
  group: DlGroup,
  n: number,
  t: number,
  finals: readonly DkgFinalBody[],
): DlPublicKeyInfo {
  const verificationShares = new Map(finals.map((f) => [f.party, f.x] as const));
  const base = new Map([...verificationShares].sort((a, b) => a[0] - b[0]).slice(0, t + 1));
  const info = { group, n, t, y: interpolateInExponent(group, base, 0n), verificationShares };
  validatePublicKeyInfo(info);
  return info;
}

/**
 * A server's side of one distributed key generation. Rounds: deal → verifyDeals → [reveal] → finalize →
 * commit; each may run once, in order.
 */
export class DkgSession extends JvssSession<'finalized' | 'committed'> {
  private readonly params: JvssParams;
  private outcome: JvssOutcome | undefined;
  private x: bigint | undefined;
  private ownFinal: Uint8Array | undefined;

  constructor(
    readonly request: DkgOpenRequest,
    private readonly identity: PartyIdentity,
    private readonly random: Random,
  ) {
    assertThresholdParameters(request.n, request.t);
    const params = dkgParams(request);
    super(params, identity, random);
    this.params = params;
  }

  /**
   * Round 4: QUAL, x_j = Σ_{i∈QUAL} f_i(j), and the signed verification share X_j = g^{x_j} with a proof
   * that X_j opens the Pedersen commitment Π_{i∈QUAL} Π_l C_il^{j^l} = g^{x_j} h^{x'_j}.
   *
   * Deviation from GJKR DKG Fig. 2 step 4 (dealers publish Feldman commitments A_il = g^{a_il}, complaints
   * lead to public reconstruction of the cheater's secret): with a relaying client that would cost two more
   * rounds. Publishing X_j with a proof of knowledge of log_h(C_j / X_j) binds X_j to the share fixed when
   * QUAL was (Pedersen binding), so y = g^x is determined before anything but hiding commitments is seen —
   * the property GJKR's extraction phase exists to guarantee.
   */
  finalize(complaints: readonly Uint8Array[], reveals: readonly Uint8Array[]): Uint8Array {
    const { outcome, shares } = this.qualify(complaints, reveals);
    const { group, context } = this.params;
    const me = this.identity.index;
    const x = shares.values[0]!;
    const X = group.exp(group.g, x);
    const c = shareCommitment(this.params, outcome, 0, me);
    const proof = proveRelations(
      group,
      'dkg-final',
      proofContext(context, outcome.evidence, me),
      openingRelations(group, c, X),
      [shares.blinds[0]!],
      this.random,
    );
    const w = bodyHeader(BODY.dkgFinal, context, me).raw(outcome.evidence).raw(group.encodeElement(X));
    writeProof(w, group, proof);
    this.outcome = outcome;
    this.x = x;
    this.ownFinal = signMessage(this.identity, w.finish());
    this.state = 'finalized';
    return this.ownFinal;
  }

  /**
   * Round 5: from the relayed verification shares (each checked against its proof) build the public key
   * information, store the share, and sign an acknowledgement naming the key id.
   */
  commit(finals: readonly Uint8Array[]): { ack: Uint8Array; share: KeyShare } {
    this.expect('finalized');
    const { group, context, t } = this.params;
    const outcome = this.outcome!;
    const bodies: DkgFinalBody[] = [];
    const batches: ElementBatch[] = [];
    for (const m of openRelayed(finals, this.identity, BODY.dkgFinal, context, 'finals')) {
      let body: DkgFinalBody;
      const elements = new ElementBatch(group);
      try {
        body = decodeDkgFinal(group, m, elements);
      } catch (e) {
        throw new GjkrPeerError(
          [m.from],
          `malformed verification share: ${e instanceof Error ? e.message : ''}`,
        );
      }
      if (!bytesEqual(body.evidence, outcome.evidence))
        throw new GjkrRequestError('finals', `party ${m.from} finished a different sharing`);
      if (!outcome.confirmed.includes(m.from))
        throw new GjkrRequestError('finals', `party ${m.from} did not confirm`);
      bodies.push(body);
      batches.push(elements);
    }
    const outside = ElementBatch.failing(batches).map((i) => bodies[i]!.party);
    if (outside.length > 0)
      throw new GjkrPeerError(outside, 'malformed verification share: an element is not in the group');
    const valid = verifyEach(
      group,
      bodies.map((b) => dkgFinalClaim(this.params, outcome, b)),
    );
    const wrong = bodies.filter((_, i) => !valid[i]).map((b) => b.party);
    if (wrong.length > 0) throw new GjkrPeerError(wrong, 'verification share proof fails');
    if (bodies.length < 2 * t + 1)
      throw new GjkrRequestError('finals', `${bodies.length} verification shares, 2t+1 needed`);
    const info = infoFromFinals(group, this.request.n, t, bodies);
    const keyId = keyIdOf(info);
    const me = this.identity.index;
    // A share whose X_j is not in the public information can never be loaded back (decodeKeyShare) nor
    // sign, so a relay that leaves it out gets no acknowledgement; one that alters it is refused too.
    const mine = info.verificationShares.get(me);
    if (mine === undefined)
      throw new GjkrRequestError('finals', 'this server’s own verification share is missing');
    if (!group.equals(mine, group.exp(group.g, this.x!)))
      throw new GjkrRequestError('finals', 'this server’s own verification share was altered');
    const share: KeyShare = { info, keyId, index: me, x: this.x! };
    const ack = signMessage(this.identity, bodyHeader(BODY.dkgAck, context, me).raw(keyId).finish());
    this.destroy();
    this.state = 'committed';
    return { ack, share };
  }

  /** Drops every secret of the session. */
  destroy(): void {
    this.erase();
    this.x = undefined;
    this.outcome = undefined;
    this.state = 'destroyed';
  }
}

/** The outcome of a distributed key generation, as seen by the client (which never learns x). */
export interface DkgResult {
  readonly kind: 'key';
  readonly info: DlPublicKeyInfo;
  readonly keyId: Uint8Array;
  readonly publicKeyPem: string;
  /** Servers that acknowledged storing the key. */
  readonly stored: readonly number[];
  readonly culprits: readonly Culprit[];
}

type DkgClientRound = 'sharing' | 'finals' | 'acks' | 'done';

/**
 * The client side of a distributed key generation among servers 1..n: pure, no I/O. `start()` returns
 * the first request; feed each round's answers (share index → bytes, or undefined when a server did not
 * answer) to `next`, until it returns the key. Throws GjkrFailure when too many servers misbehave.
 */
export class DkgCoordinator {
  private round: DkgClientRound = 'sharing';
  private readonly rounds: JvssRounds;
  private readonly params: JvssParams;
  private info: DlPublicKeyInfo | undefined;
  private keyId: Uint8Array | undefined;

  constructor(
    private readonly request: DkgOpenRequest,
    directory: PartyDirectory,
  ) {
    assertThresholdParameters(request.n, request.t);
    this.params = dkgParams(request);
    this.rounds = new JvssRounds(this.params, directory, request.sid, 'qualify');
  }

  /** Servers blamed so far. */
  get culprits(): readonly Culprit[] {
    return this.rounds.culprits;
  }

  /** The opening request, to every server. */
  start(): SendStep {
    return this.rounds.send('open', this.params.participants, encodeDkgOpen(this.request));
  }

  /** Feeds the answers of the last step; returns the next step or the key. */
  next(answers: ReadonlyMap<number, Uint8Array | undefined>): SendStep | DkgResult {
    const { sid, t, group, n } = this.request;
    const only = this.rounds.answersOfSent(answers);
    switch (this.round) {
      case 'sharing': {
        const step = this.rounds.sharingStep(only);
        if (!this.rounds.sharing) this.round = 'finals';
        return step;
      }
      case 'finals': {
        const outcome = this.rounds.outcome;
        const valid = this.rounds.verifiedAnswers(
          only,
          BODY.dkgFinal,
          'verification share',
          (m, elements) => decodeDkgFinal(group, m, elements),
          (body) => dkgFinalClaim(this.params, outcome, body),
        );
        this.info = infoFromFinals(
          group,
          n,
          t,
          valid.map((v) => v.body),
        );
        this.keyId = keyIdOf(this.info);
        this.round = 'acks';
        return this.rounds.send(
          'commit',
          valid.map((v) => v.body.party),
          encodeRelay(REQUEST.dkgCommit, sid, [valid.map((v) => v.bytes)]),
        );
      }
      case 'acks': {
        const stored: number[] = [];
        for (const j of this.rounds.sent) {
          const a = this.rounds.jvss.openAnswer(j, only.get(j), BODY.dkgAck, 'acknowledgement', (m) => {
            const r = bodyReader(m);
            const keyId = r.raw(32, 'ack.keyId');
            r.finish('ack');
            return keyId;
          });
          if (a === undefined) continue;
          if (!bytesEqual(a.body, this.keyId!)) this.rounds.jvss.blame(j, 'acknowledged a different key');
          else stored.push(j);
        }
        if (stored.length < 2 * t + 1)
          throw new GjkrFailure(
            `only ${stored.length} servers stored the key, 2t+1 = ${2 * t + 1} needed`,
            this.culprits,
          );
        this.round = 'done';
        return {
          kind: 'key',
          info: this.info!,
          keyId: this.keyId!,
          publicKeyPem: publicKeyPem(this.info!),
          stored,
          culprits: this.culprits.slice(),
        };
      }
      case 'done':
        throw new RangeError('next: the key generation is finished');
    }
  }
}
