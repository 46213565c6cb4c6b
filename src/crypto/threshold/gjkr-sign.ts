/**
 * Threshold DSA/ECDSA signing after Gennaro, Jarecki, Krawczyk and Rabin, "Robust Threshold DSS
 * Signatures" (Eurocrypt '96; Inf. Comput. 164, 2001), protocol DSS-Thresh-Sig (§4, Fig. 3), with n ≥ 2t+1
 * servers of which at most t are corrupt, the key x shared with degree t (gjkr-key.ts).
 *
 * Per session, with fresh randomness at every server (gjkr-jvss.ts, one joint sharing of four polynomials):
 *   k, a   Joint-RVSS, degree t          (k is the DSS nonce inverse: r = g^{k^{-1}})
 *   b, c   Joint-ZVSS, degree 2t, b(0) = c(0) = 0 (masks for the degree-2t products)
 * Phase 1: server i publishes A_i = g^{a_i} and v_i = k_i a_i + b_i. From 2t+1 of them everyone computes
 *   μ = Σ λ_i v_i = k·a, g^a = Π A_i^{λ_i}, R = (g^a)^{μ^{-1}} = g^{k^{-1}}, r = R mod q (ECDSA: x(R) mod n).
 * Phase 2: server i publishes s_i = k_i (m + x_i r) + c_i; from 2t+1 of them s = Σ λ_i s_i = k(m + x r).
 * (r, s) is an ordinary DSA/ECDSA signature: s^{-1}(m + x r) = k^{-1}, so g^{m/s} y^{r/s} = R.
 *
 * Robustness (deviation from the paper, which reconstructs μ and s with error-correcting interpolation and
 * so needs n ≥ 4t+1 to correct t wrong answers): every v_i and s_i comes with a Fiat–Shamir proof
 * (gjkr-proofs.ts `productRelations`) against the public Pedersen commitments of k_i, a_i, b_i, c_i and the
 * verification share X_i = g^{x_i}. A wrong answer is rejected and its sender named; any 2t+1 verified
 * answers interpolate to the right value, so up to n − (2t+1) faulty servers are tolerated, and the final
 * signature is verified with node:crypto before it is returned.
 *
 * Nonce safety (the reference implementation's flaw, REFERENCE.md §8.2, was phase-2 state reused across
 * requests): k_i and c_i live only inside one `SigningSession`, keyed by a 32-byte session id bound into
 * every signed message and sealed box; phase 2 answers once and then erases the session, and any refusal
 * erases it too. The message is fixed when the session opens, and r is recomputed by every server from
 * the verified phase-1 answers, so the client cannot choose either after seeing R.
 *
 * ECDSA signatures come out with low s (BIP 62/146): s and q − s are both valid, and some verifiers
 * (libsecp256k1, Bitcoin's consensus rules) accept only s ≤ q/2. DSA signatures are not normalised: for DSA
 * q − s is not a valid s.
 */
import { createHash } from 'node:crypto';
import { bytesEqual } from '../../codec/bytes.js';
import type { Random } from '../../env/random.js';
import {
  digestToScalar,
  encodeScalar,
  invQ,
  modQ,
  ElementBatch,
  readScalar,
  verifyDerDigest,
  verifyDerSignature,
  type DlGroup,
  type DlHashName,
  type GroupElement,
} from './dl-group.js';
import { encodeDerSignature } from './dsa-der.js';
import {
  BODY,
  DL_HASH_BYTES,
  GjkrFailure,
  GjkrPeerError,
  GjkrRequestError,
  REQUEST,
  SESSION_ID_BYTES,
  SIGN_MESSAGE_BYTES_MAX,
  bodyHeader,
  bodyReader,
  encodeRelay,
  encodeSignOpen,
  proofContext,
  readProof,
  signContext,
  signMessage,
  writeProof,
  type Culprit,
  type PartyDirectory,
  type PartyIdentity,
  type SendStep,
  type SignOpenRequest,
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
import { assertThresholdParameters, keyIdOf, type DlPublicKeyInfo, type KeyShare } from './gjkr-key.js';
import {
  expSecret,
  productRelations,
  proveRelations,
  verifyEach,
  type KnownBases,
  type ProofClaim,
  type SigmaProof,
} from './gjkr-proofs.js';
import { interpolate, interpolateInExponent, pedersenValue } from './gjkr-vss.js';

/** Positions of the four jointly shared polynomials (GJKR Fig. 3 step 1). */
const K = 0;
const A = 1;
const B = 2;
const C = 3;

/** Public parameters of one signing session, derived identically by servers and client. */
interface SignSetup {
  readonly params: JvssParams;
  readonly info: DlPublicKeyInfo;
  /** The digest signed, and its message representative m (FIPS 186-4 §4.6). */
  readonly digest: Uint8Array;
  /** m. */
  readonly m: bigint;
}

function signSetup(info: DlPublicKeyInfo, keyId: Uint8Array, request: SignOpenRequest): SignSetup {
  const { group, t } = info;
  const { participants } = request;
  if (request.sid.length !== SESSION_ID_BYTES)
    throw new RangeError(`sid: expected ${SESSION_ID_BYTES} bytes`);
  if (!bytesEqual(request.keyId, keyId)) throw new GjkrRequestError('keyId', 'not the id of this key');
  if (request.message.length > SIGN_MESSAGE_BYTES_MAX) throw new GjkrRequestError('message', 'too long');
  for (let i = 0; i < participants.length; i++) {
    const j = participants[i]!;
    if (i > 0 && j <= participants[i - 1]!)
      throw new GjkrRequestError('participants', 'not strictly increasing');
    if (!info.verificationShares.has(j))
      throw new GjkrRequestError('participants', `party ${j} has no verification share`);
  }
  if (participants.length < 2 * t + 1)
    throw new GjkrRequestError(
      'participants',
      `${participants.length} participants, at least 2t+1 = ${2 * t + 1} needed`,
    );
  if (request.prehashed === true && request.message.length !== DL_HASH_BYTES[request.hash])
    throw new GjkrRequestError(
      'message',
      `a ${request.hash} digest has ${DL_HASH_BYTES[request.hash]} bytes`,
    );
  const digest =
    request.prehashed === true
      ? request.message
      : new Uint8Array(createHash(request.hash).update(request.message).digest());
  return {
    info,
    digest,
    m: digestToScalar(group, digest),
    params: {
      group,
      specs: [
        { degree: t, zeroConstant: false },
        { degree: t, zeroConstant: false },
        { degree: 2 * t, zeroConstant: true },
        { degree: 2 * t, zeroConstant: true },
      ],
      t,
      context: signContext(request.sid, keyId, request.hash, digest, participants),
      participants,
      minParties: 2 * t + 1,
    },
  };
}

/** Phase-1 answer of server i: A_i = g^{a_i}, v_i = k_i a_i + b_i and the proof. */
interface Phase1Body {
  readonly party: number;
  readonly evidence: Uint8Array;
  readonly a: GroupElement;
  readonly v: bigint;
  readonly t: GroupElement;
  readonly proof: SigmaProof;
}

/** Phase-2 answer of server i: r as it computed it, s_i = k_i (m + x_i r) + c_i and the proof. */
interface Phase2Body {
  readonly party: number;
  readonly evidence: Uint8Array;
  readonly r: bigint;
  readonly s: bigint;
  readonly t: GroupElement;
  readonly proof: SigmaProof;
}

/** Reads a phase-1 answer; its elements join `elements`, checked by the caller (`ElementBatch.failing`). */
function decodePhase1(group: DlGroup, m: SignedMessage, elements: ElementBatch): Phase1Body {
  const r = bodyReader(m);
  const evidence = r.raw(32, 'phase1.evidence');
  const a = elements.read(r, 'phase1.a');
  const v = readScalar(r, group, 'phase1.v');
  const t = elements.read(r, 'phase1.t');
  const proof = readProof(r, elements, 4, 3, 'phase1.proof');
  r.finish('phase1');
  return { party: m.from, evidence, a, v, t, proof };
}

/** Reads a phase-2 answer; its elements join `elements`, checked by the caller (`ElementBatch.failing`). */
function decodePhase2(group: DlGroup, m: SignedMessage, elements: ElementBatch): Phase2Body {
  const r = bodyReader(m);
  const evidence = r.raw(32, 'phase2.evidence');
  const rr = readScalar(r, group, 'phase2.r');
  const s = readScalar(r, group, 'phase2.s');
  const t = elements.read(r, 'phase2.t');
  const proof = readProof(r, elements, 3, 2, 'phase2.proof');
  r.finish('phase2');
  return { party: m.from, evidence, r: rr, s, t, proof };
}

/** The claim v_i = k_i a_i + b_i and A_i = g^{a_i}, against the commitments of party i's shares. */
function phase1Claim(setup: SignSetup, outcome: JvssOutcome, body: Phase1Body): ProofClaim {
  const { params } = setup;
  const j = body.party;
  return {
    label: 'sign-phase1',
    context: proofContext(params.context, outcome.evidence, j),
    relations: productRelations(params.group, {
      u: body.a,
      k: shareCommitment(params, outcome, K, j),
      z: shareCommitment(params, outcome, B, j),
      t: body.t,
      v: body.v,
      binding: shareCommitment(params, outcome, A, j),
    }),
    proof: body.proof,
  };
}

/** The claim s_i = k_i (m + x_i r) + c_i, with g^{m + x_i r} = g^m X_i^r from the verification share. */
function phase2Claim(setup: SignSetup, outcome: JvssOutcome, r: bigint, body: Phase2Body): ProofClaim {
  const { params, info, m } = setup;
  const { group } = params;
  const j = body.party;
  const X = info.verificationShares.get(j);
  // Invariant: only parties with a verification share take part (signSetup checks the participants).
  if (X === undefined) throw new Error(`Invariant: party ${j} has no verification share`);
  return {
    label: 'sign-phase2',
    context: proofContext(params.context, outcome.evidence, j),
    relations: productRelations(group, {
      u: group.msm([group.g, X], [m, r]),
      k: shareCommitment(params, outcome, K, j),
      z: shareCommitment(params, outcome, C, j),
      t: body.t,
      v: body.s,
    }),
    proof: body.proof,
  };
}

/** μ = ka, g^a and R = (g^a)^{μ^{-1}} = g^{k^{-1}} from 2t+1 verified phase-1 answers; undefined if μ or r is 0. */
function nonceFromPhase1(group: DlGroup, answers: readonly Phase1Body[]): bigint | undefined {
  const mu = interpolate(group, new Map(answers.map((a) => [a.party, a.v] as const)));
  if (mu === 0n) return undefined;
  const gA = interpolateInExponent(group, new Map(answers.map((a) => [a.party, a.a] as const)));
  const R = group.exp(gA, invQ(group, mu));
  if (group.isIdentity(R)) return undefined;
  const r = group.signatureR(R);
  return r === 0n ? undefined : r;
}

/**
 * ECDSA's s in the lower half [1, q/2] (BIP 62/146; libsecp256k1 verifies only those): (r, q − s) is valid
 * whenever (r, s) is, because x(−R) = x(R). DSA has no such symmetry (r = (g^{u1} y^{u2} mod p) mod q, and
 * g^{−u} mod p is another residue), so a DSA s is returned as computed.
 */
function lowS(group: DlGroup, s: bigint): bigint {
  return group.kind !== 'dsa' && s > group.q >> 1n ? group.q - s : s;
}

/**
 * A server's side of one signing session: created from the stored key share, the opening request (its
 * session id, message and participants) and fresh randomness. Each round runs at most once and in order;
 * `phase2` answers once and destroys the session; `destroy()` erases all per-session secrets.
 */
export class SigningSession extends JvssSession<'phase1' | 'finished'> {
  private readonly setup: SignSetup;
  private outcome: JvssOutcome | undefined;
  private secrets: { k: bigint; kBlind: bigint; c: bigint; cBlind: bigint } | undefined;
  private share: KeyShare | undefined;

  constructor(
    share: KeyShare,
    readonly request: SignOpenRequest,
    private readonly identity: PartyIdentity,
    private readonly random: Random,
  ) {
    if (identity.index !== share.index)
      throw new RangeError(`identity.index ${identity.index} differs from the share's index ${share.index}`);
    const setup = signSetup(share.info, share.keyId, request);
    if (!request.participants.includes(share.index))
      throw new GjkrRequestError('participants', 'this server is not among them');
    super(setup.params, identity, random);
    this.setup = setup;
    this.share = share;
  }

  /** Phase 1: QUAL, the session shares, then A_i, v_i = k_i a_i + b_i and the proof (signed). */
  phase1(complaints: readonly Uint8Array[], reveals: readonly Uint8Array[]): Uint8Array {
    const { params } = this.setup;
    const { group, context } = params;
    const me = this.identity.index;
    const { outcome, shares } = this.qualify(complaints, reveals);
    const [k, a, b, c] = shares.values as [bigint, bigint, bigint, bigint];
    const [kBlind, aBlind, bBlind, cBlind] = shares.blinds as [bigint, bigint, bigint, bigint];
    const Acom = group.exp(group.g, a);
    const v = modQ(group, k * a + b);
    // K = g^k h^{k'} is this server's own commitment: K^u = g^{ku} h^{k'u} uses fixed-base tables.
    const Kk = pedersenValue(group, k, kBlind);
    const known: KnownBases = new Map([[Kk, [k, kBlind]]]);
    const T = expSecret(group, Kk, a, known);
    const proof = proveRelations(
      group,
      'sign-phase1',
      proofContext(context, outcome.evidence, me),
      productRelations(group, {
        u: Acom,
        k: Kk,
        z: pedersenValue(group, b, bBlind),
        t: T,
        v,
        binding: pedersenValue(group, a, aBlind),
      }),
      [a, modQ(group, kBlind * a + bBlind), aBlind],
      this.random,
      known,
    );
    this.outcome = outcome;
    this.secrets = { k, kBlind, c, cBlind };
    const w = bodyHeader(BODY.signPhase1, context, me).raw(outcome.evidence);
    w.raw(group.encodeElement(Acom)).raw(encodeScalar(group, v)).raw(group.encodeElement(T));
    writeProof(w, group, proof);
    this.state = 'phase1';
    return signMessage(this.identity, w.finish());
  }

  /**
   * Phase 2, once: verifies exactly 2t+1 relayed phase-1 answers, recomputes r itself, answers
   * s_i = k_i (m + x_i r) + c_i with its proof, and erases the session.
   */
  phase2(phase1Answers: readonly Uint8Array[]): Uint8Array {
    this.expect('phase1');
    const { params, m, info } = this.setup;
    const { group, context, t } = params;
    const outcome = this.outcome!;
    const me = this.identity.index;
    try {
      const messages = openRelayed(phase1Answers, this.identity, BODY.signPhase1, context, 'phase1');
      if (messages.length !== 2 * t + 1)
        throw new GjkrRequestError(
          'phase1',
          `${messages.length} answers, exactly 2t+1 = ${2 * t + 1} expected`,
        );
      const batches: ElementBatch[] = [];
      const bodies = messages.map((msg) => {
        let body: Phase1Body;
        const elements = new ElementBatch(group);
        batches.push(elements);
        try {
          body = decodePhase1(group, msg, elements);
        } catch (e) {
          throw new GjkrPeerError(
            [msg.from],
            `malformed phase-1 answer: ${e instanceof Error ? e.message : ''}`,
          );
        }
        if (!outcome.confirmed.includes(body.party))
          throw new GjkrRequestError('phase1', `party ${body.party} did not confirm`);
        if (!bytesEqual(body.evidence, outcome.evidence))
          throw new GjkrRequestError('phase1', `party ${body.party} finished a different sharing`);
        return body;
      });
      const outside = ElementBatch.failing(batches).map((i) => bodies[i]!.party);
      if (outside.length > 0)
        throw new GjkrPeerError(outside, 'malformed phase-1 answer: an element is not in the group');
      const proved = verifyEach(
        group,
        bodies.map((b) => phase1Claim(this.setup, outcome, b)),
      );
      const wrong = bodies.filter((_, i) => !proved[i]).map((b) => b.party);
      if (wrong.length > 0) throw new GjkrPeerError(wrong, 'phase-1 proof fails');
      const r = nonceFromPhase1(group, bodies);
      if (r === undefined)
        throw new GjkrRequestError('phase1', 'ka = 0 or r = 0; sign again in a new session');
      const { k, kBlind, c, cBlind } = this.secrets!;
      const e = modQ(group, m + this.share!.x * r);
      const s = modQ(group, k * e + c);
      const Kk = pedersenValue(group, k, kBlind);
      const known: KnownBases = new Map([[Kk, [k, kBlind]]]);
      const T = expSecret(group, Kk, e, known);
      const proof = proveRelations(
        group,
        'sign-phase2',
        proofContext(context, outcome.evidence, me),
        productRelations(group, {
          u: group.exp(group.g, e),
          k: Kk,
          z: pedersenValue(group, c, cBlind),
          t: T,
          v: s,
        }),
        [e, modQ(group, kBlind * e + cBlind)],
        this.random,
        known,
      );
      // Invariant: what the client will check with the public X_i is what was proved: g^{m + x_i r} equals
      // g^m X_i^r exactly when g^{x_i} = X_i (r ≠ 0).
      if (!group.equals(group.exp(group.g, this.share!.x), info.verificationShares.get(me)!))
        throw new Error('Invariant: share does not match its verification share');
      const w = bodyHeader(BODY.signPhase2, context, me).raw(outcome.evidence);
      w.raw(encodeScalar(group, r)).raw(encodeScalar(group, s)).raw(group.encodeElement(T));
      writeProof(w, group, proof);
      return signMessage(this.identity, w.finish());
    } finally {
      this.destroy();
      this.state = 'finished';
    }
  }

  /** Erases every per-session secret (k_i, c_i and blinds, polynomials, sub-shares) and the share reference. */
  destroy(): void {
    this.erase();
    this.secrets = undefined;
    this.share = undefined;
    this.outcome = undefined;
    if (this.state !== 'finished') this.state = 'destroyed';
  }
}

/** A finished signature: DER `SEQUENCE { r, s }`, verified against the public key before it is returned. */
export interface SigningResult {
  readonly kind: 'signature';
  readonly signature: Uint8Array;
  readonly r: bigint;
  readonly s: bigint;
  /** Servers whose answers were missing or wrong; signing succeeded without them. */
  readonly culprits: readonly Culprit[];
}

/** What a client needs to sign: the message, or (prehashed) its digest; exactly one of them. */
export interface SigningRequestInput {
  readonly info: DlPublicKeyInfo;
  readonly message?: Uint8Array;
  /** The digest of the message under `hash`: the servers sign exactly these bytes. */
  readonly digest?: Uint8Array;
  readonly hash?: DlHashName;
  /** 32 fresh random bytes; never reuse. */
  readonly sid: Uint8Array;
  /** Servers to ask (default: every server with a verification share); at least 2t+1. */
  readonly participants?: readonly number[];
  readonly directory: PartyDirectory;
}

type SignClientRound = 'sharing' | 'phase1' | 'phase2' | 'done';

/**
 * The client side of one signing session: pure, no I/O. `start()` returns the opening request; feed each
 * round's answers (share index → bytes, or undefined for no answer) to `next` until it returns the
 * signature. Throws GjkrFailure, naming the culprits, when fewer than 2t+1 servers answer correctly; it
 * never returns a signature that node:crypto does not verify.
 */
export class SigningCoordinator {
  private round: SignClientRound = 'sharing';
  private readonly setup: SignSetup;
  private readonly request: SignOpenRequest;
  private readonly rounds: JvssRounds;
  private readonly hash: DlHashName;
  private r: bigint | undefined;

  constructor(private readonly input: SigningRequestInput) {
    const { info } = input;
    assertThresholdParameters(info.n, info.t);
    this.hash = input.hash ?? 'sha256';
    const participants = input.participants ?? [...info.verificationShares.keys()].sort((a, b) => a - b);
    if ((input.message === undefined) === (input.digest === undefined))
      throw new TypeError('SigningCoordinator: give exactly one of message and digest');
    this.request = {
      sid: input.sid,
      keyId: keyIdOf(info),
      hash: this.hash,
      message: input.digest ?? input.message!,
      participants,
      ...(input.digest !== undefined ? { prehashed: true } : {}),
    };
    try {
      this.setup = signSetup(info, this.request.keyId, this.request);
    } catch (e) {
      if (e instanceof GjkrRequestError) throw new RangeError(e.message);
      throw e;
    }
    this.rounds = new JvssRounds(this.setup.params, input.directory, input.sid, 'phase1');
  }

  /** Servers blamed so far. */
  get culprits(): readonly Culprit[] {
    return this.rounds.culprits;
  }

  /** The opening request, to every participant. */
  start(): SendStep {
    return this.rounds.send('open', this.request.participants, encodeSignOpen(this.request));
  }

  /** Feeds the answers of the last step; returns the next step or the verified signature. */
  next(answers: ReadonlyMap<number, Uint8Array | undefined>): SendStep | SigningResult {
    const { group, t } = this.input.info;
    const only = this.rounds.answersOfSent(answers);
    switch (this.round) {
      case 'sharing': {
        const step = this.rounds.sharingStep(only);
        if (!this.rounds.sharing) this.round = 'phase1';
        return step;
      }
      case 'phase1': {
        const outcome = this.rounds.outcome;
        const valid = this.rounds.verifiedAnswers(
          only,
          BODY.signPhase1,
          'phase-1 answer',
          (m, elements) => decodePhase1(group, m, elements),
          (body) => phase1Claim(this.setup, outcome, body),
        );
        const chosen = valid.slice(0, 2 * t + 1);
        const r = nonceFromPhase1(
          group,
          chosen.map((v) => v.body),
        );
        if (r === undefined)
          throw new GjkrFailure(
            'ka = 0 or r = 0 (probability about 1/q); sign again in a new session',
            this.culprits,
          );
        this.r = r;
        this.round = 'phase2';
        return this.rounds.send(
          'phase2',
          valid.map((v) => v.body.party),
          encodeRelay(REQUEST.signPhase2, this.request.sid, [chosen.map((v) => v.bytes)]),
        );
      }
      case 'phase2': {
        const outcome = this.rounds.outcome;
        const r = this.r!;
        const valid = this.rounds.verifiedAnswers(
          only,
          BODY.signPhase2,
          'phase-2 answer',
          (m, elements) => decodePhase2(group, m, elements),
          (body) => phase2Claim(this.setup, outcome, r, body),
          (body) => (body.r === r ? undefined : 'phase-2 answer with a different r'),
        );
        const shares = new Map(valid.slice(0, 2 * t + 1).map((v) => [v.body.party, v.body.s] as const));
        const s = lowS(group, interpolate(group, shares));
        if (s === 0n)
          throw new GjkrFailure('s = 0 (probability about 1/q); sign again in a new session', this.culprits);
        const signature = encodeDerSignature(r, s);
        const verified =
          this.input.message !== undefined
            ? verifyDerSignature(group, this.input.info.y, this.hash, this.input.message, signature)
            : verifyDerDigest(group, this.input.info.y, this.setup.digest, signature);
        if (!verified)
          throw new GjkrFailure(
            'the combined signature does not verify; no signature is output',
            this.culprits,
          );
        this.round = 'done';
        return { kind: 'signature', signature, r, s, culprits: this.culprits.slice() };
      }
      case 'done':
        throw new RangeError('next: the signing session is finished');
    }
  }
}
