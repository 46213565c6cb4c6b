/**
 * Joint Pedersen verifiable secret sharing with complaints, relayed by a client: the sharing phase of GJKR's
 * DKG ("Secure Distributed Key Generation for Discrete-Log Based Cryptosystems", Fig. 2, steps 1–3) and of
 * Joint-RVSS / Joint-ZVSS in "Robust Threshold DSS Signatures" §2.4. Used once per key (x) by gjkr-key.ts
 * and once per signature (k, a, b, c) by gjkr-sign.ts.
 *
 * Rounds (client relays, servers sign what they emit):
 *   1. deal      every participant i picks f_i, f'_i per spec, publishes Pedersen commitments
 *                C_il = g^{a_il} h^{b_il} and seals (f_i(j), f'_i(j)) to every other participant j;
 *   2. verify    j opens its boxes and checks g^{f_i(j)} h^{f'_i(j)} = Π_l C_il^{j^l}; it signs the list of
 *                dealers that failed (a complaint, possibly empty, which also confirms the deal set);
 *   3. reveal    a dealer with at most t complaints publishes the disputed sub-shares in the clear;
 *   4. qualify   every party computes QUAL from the signed complaints and reveals: a dealer is disqualified
 *                if more than t parties complain or a reveal is missing or fails its commitments.
 * The client cannot forge complaints or reveals (signed) and cannot alter deals; it can only withhold
 * messages, and each server checks that its own deal and its own complaint were counted, so a session in
 * which an honest server takes part always contains that server's fresh randomness.
 *
 * Commitments are Pedersen (information-theoretically hiding) as GJKR prescribe, so a rushing adversary that
 * sees honest deals before dealing learns nothing it could use to bias the joint secret.
 */
import { CodecError, bytesEqual } from '../../codec/bytes.js';
import type { Random } from '../../env/random.js';
import {
  ElementBatch,
  bytesToBigint,
  decodeScalar,
  encodeScalar,
  modQ,
  type DlGroup,
  type GroupElement,
} from './dl-group.js';
import {
  BODY,
  GjkrFailure,
  GjkrPeerError,
  GjkrRequestError,
  REQUEST,
  boxAad,
  dealSetDigest,
  decodeComplaint,
  decodeDealUnchecked,
  decodeReveal,
  encodeComplaint,
  encodeDeal,
  encodeRelay,
  encodeReveal,
  evidenceDigest,
  openSigned,
  signMessage,
  subShareScalars,
  type ComplaintBody,
  type Culprit,
  type DealBody,
  type JvssSpec,
  type PartyDirectory,
  type PartyIdentity,
  type RevealBody,
  type SendStep,
  type SignedMessage,
} from './gjkr-messages.js';
import { verifyEach, type ProofClaim } from './gjkr-proofs.js';
import { SEAL_OVERHEAD_BYTES, open, seal } from './gjkr-seal.js';
import {
  commitmentAt,
  evaluate,
  multiplyCommitments,
  pedersenCommit,
  pedersenValue,
  randomPolynomial,
} from './gjkr-vss.js';

/** Public parameters of one joint sharing. */
export interface JvssParams {
  readonly group: DlGroup;
  readonly specs: readonly JvssSpec[];
  /** Corruption threshold t: a dealer with more than t complaints is disqualified. */
  readonly t: number;
  /** Session context (gjkr-messages.ts `signContext` / `dkgContext`). */
  readonly context: Uint8Array;
  /** Participating share indices, strictly increasing. */
  readonly participants: readonly number[];
  /** Fewest deals, and fewest confirming verifiers, the session may continue with. */
  readonly minParties: number;
}

/** The result of the sharing phase, identical at every honest party that reaches it. */
export interface JvssOutcome {
  /** Qualified dealers (GJKR's QUAL), strictly increasing. */
  readonly qual: readonly number[];
  /** Parties whose complaint (confirmation) was counted, strictly increasing; only they continue. */
  readonly confirmed: readonly number[];
  /** Digest of (deal set, QUAL, confirmed): later messages carry it so parties see they agree. */
  readonly evidence: Uint8Array;
  /** Per spec, the commitments of the summed polynomial Σ_{i∈QUAL} f_i (and blinding). */
  readonly commitments: readonly (readonly GroupElement[])[];
}

/** One party's share of every jointly shared polynomial: value and blinding value per spec. */
export interface JvssShares {
  readonly values: readonly bigint[];
  readonly blinds: readonly bigint[];
}

/** Bytes of a sealed sub-share for these specs. */
export function boxBytes(params: JvssParams): number {
  return SEAL_OVERHEAD_BYTES + subShareScalars(params.specs) * params.group.scalarBytes;
}

/** The Pedersen commitment to party j's share of spec `spec` after the sharing phase. */
export function shareCommitment(
  params: JvssParams,
  outcome: JvssOutcome,
  spec: number,
  party: number,
): GroupElement {
  return commitmentAt(params.group, outcome.commitments[spec]!, party);
}

/** Whether sub-share `scalars` for party j matches every spec's commitments of `deal`. */
export function subShareValid(
  params: JvssParams,
  deal: DealBody,
  j: number,
  scalars: readonly bigint[],
): boolean {
  const { group, specs } = params;
  if (scalars.length !== subShareScalars(specs)) return false;
  return specs.every((_, i) =>
    group.equals(
      pedersenValue(group, scalars[2 * i]!, scalars[2 * i + 1]!),
      commitmentAt(group, deal.commitments[i]!, j),
    ),
  );
}

/** Bytes of the random weights that batch the sub-share checks (128 bits). */
const BATCH_WEIGHT_BYTES = 16;

/**
 * Which of the sub-shares `received` (dealer's deal, scalars for party j) match their dealers'
 * commitments. One check for all of them — g^{Σ ρ s} h^{Σ ρ s'} = Π commitmentAt(C, j)^ρ with fresh
 * 128-bit weights ρ per dealer and spec (Bellare–Garay–Rabin's small-exponent test: a wrong sub-share
 * passes with probability at most 2^-128) — costs two constant-time exponentiations with the secret sums
 * and one public multi-exponentiation, instead of two constant-time exponentiations per dealer and spec;
 * only when it fails is each dealer checked alone, to name the culprits.
 */
export function subSharesValid(
  params: JvssParams,
  j: number,
  received: readonly { readonly deal: DealBody; readonly scalars: readonly bigint[] }[],
  random: Random,
): boolean[] {
  const { group, specs } = params;
  if (received.length === 0) return [];
  if (received.some((x) => x.scalars.length !== subShareScalars(specs))) return received.map(() => false);
  let sum = 0n;
  let blindSum = 0n;
  const bases: GroupElement[] = [];
  const weights: bigint[] = [];
  for (const { deal, scalars } of received)
    specs.forEach((_, i) => {
      const rho = bytesToBigint(random.bytes(BATCH_WEIGHT_BYTES));
      sum = modQ(group, sum + rho * scalars[2 * i]!);
      blindSum = modQ(group, blindSum + rho * scalars[2 * i + 1]!);
      bases.push(commitmentAt(group, deal.commitments[i]!, j));
      weights.push(rho);
    });
  if (group.equals(pedersenValue(group, sum, blindSum), group.msm(bases, weights)))
    return received.map(() => true);
  return received.map(({ deal, scalars }) => subShareValid(params, deal, j, scalars));
}

/** Checks the parameters a party was configured with. */
export function assertJvssParams(params: JvssParams): void {
  const { participants, t, minParties, specs } = params;
  if (!Number.isInteger(t) || t < 1) throw new RangeError(`t must be a positive integer, got ${String(t)}`);
  for (let i = 1; i < participants.length; i++)
    if (participants[i]! <= participants[i - 1]!)
      throw new RangeError('participants must be strictly increasing');
  if (participants.length < minParties)
    throw new RangeError(`participants: ${participants.length} are fewer than the ${minParties} needed`);
  if (specs.length === 0 || specs.length > 8)
    throw new RangeError(`specs: expected 1..8, got ${specs.length}`);
  if (params.context.length !== 32) throw new RangeError('context must be 32 bytes');
}

/** Opens relayed signed messages on the server side: forged or malformed relays are the client's fault. */
export function openRelayed(
  list: readonly Uint8Array[],
  directory: PartyDirectory,
  tag: number,
  context: Uint8Array,
  field: string,
): SignedMessage[] {
  const seen = new Set<number>();
  return list.map((bytes, i) => {
    let m: SignedMessage | undefined;
    try {
      m = openSigned(bytes, directory, { tag, context }, `${field}[${i}]`);
    } catch (e) {
      throw new GjkrRequestError(`${field}[${i}]`, e instanceof Error ? e.message : 'malformed');
    }
    if (m === undefined) throw new GjkrRequestError(`${field}[${i}]`, 'signature does not verify');
    if (seen.has(m.from)) throw new GjkrRequestError(field, `two messages from party ${m.from}`);
    seen.add(m.from);
    return m;
  });
}

/** Decodes a signed body; a malformed body under a valid signature is its signer's fault. */
function decodeSigned<T>(m: SignedMessage, decode: (m: SignedMessage) => T): T {
  try {
    return decode(m);
  } catch (e) {
    if (e instanceof CodecError) throw new GjkrPeerError([m.from], `malformed signed message: ${e.message}`);
    throw e;
  }
}

/**
 * GJKR DKG Fig. 2 step 2: QUAL from the signed complaints and reveals. Deterministic, so every party (and
 * the client) that is given the same evidence computes the same outcome. Returns the revealed sub-shares
 * (dealer → complainer → scalars) so complainers can adopt theirs.
 */
export function qualify(
  params: JvssParams,
  deals: ReadonlyMap<number, DealBody>,
  dealSet: Uint8Array,
  complaintMessages: readonly SignedMessage[],
  revealMessages: readonly SignedMessage[],
): { outcome: JvssOutcome; revealed: Map<number, Map<number, readonly bigint[]>> } {
  const { group, specs, t, participants } = params;
  const complaints: ComplaintBody[] = [];
  const accusers = new Map<number, number[]>();
  for (const m of complaintMessages) {
    const c = decodeSigned(m, decodeComplaint);
    if (!participants.includes(c.complainer))
      throw new GjkrRequestError('complaints', `party ${c.complainer} does not take part`);
    if (Buffer.compare(Buffer.from(c.dealSetDigest), Buffer.from(dealSet)) !== 0)
      throw new GjkrRequestError('complaints', `party ${c.complainer} saw a different set of deals`);
    for (const d of c.accused) {
      if (!deals.has(d)) throw new GjkrPeerError([c.complainer], `complaint against ${d}, who did not deal`);
      accusers.set(d, [...(accusers.get(d) ?? []), c.complainer]);
    }
    complaints.push(c);
  }
  const revealed = new Map<number, Map<number, readonly bigint[]>>();
  const seenReveal = new Set<number>();
  for (const m of revealMessages) {
    const rv: RevealBody = decodeSigned(m, (x) => decodeReveal(group, specs, x));
    if (seenReveal.has(rv.dealer)) throw new GjkrRequestError('reveals', `two reveals from ${rv.dealer}`);
    seenReveal.add(rv.dealer);
    if (Buffer.compare(Buffer.from(rv.dealSetDigest), Buffer.from(dealSet)) !== 0)
      throw new GjkrRequestError('reveals', `dealer ${rv.dealer} saw a different set of deals`);
    const deal = deals.get(rv.dealer);
    if (deal === undefined)
      throw new GjkrRequestError('reveals', `reveal from ${rv.dealer}, who did not deal`);
    const valid = new Map<number, readonly bigint[]>();
    for (const j of accusers.get(rv.dealer) ?? []) {
      const scalars = rv.shares.get(j);
      if (scalars !== undefined && subShareValid(params, deal, j, scalars)) valid.set(j, scalars);
    }
    revealed.set(rv.dealer, valid);
  }
  const qual: number[] = [];
  for (const d of [...deals.keys()].sort((a, b) => a - b)) {
    const against = accusers.get(d) ?? [];
    if (against.length > t) continue;
    const answered = revealed.get(d);
    if (against.every((j) => answered?.has(j) === true)) qual.push(d);
  }
  const confirmed = complaints.map((c) => c.complainer).sort((a, b) => a - b);
  // With QUAL empty there is nothing to commit to; callers refuse to go on with fewer than t+1 dealers.
  const commitments =
    qual.length === 0
      ? specs.map(() => [])
      : specs.map((_, i) =>
          multiplyCommitments(
            group,
            qual.map((d) => deals.get(d)!.commitments[i]!),
          ),
        );
  return {
    outcome: { qual, confirmed, evidence: evidenceDigest(dealSet, qual, confirmed), commitments },
    revealed,
  };
}

function scalarsToBytes(group: DlGroup, scalars: readonly bigint[]): Uint8Array {
  const out = new Uint8Array(scalars.length * group.scalarBytes);
  scalars.forEach((s, i) => out.set(encodeScalar(group, s), i * group.scalarBytes));
  return out;
}

function bytesToScalars(group: DlGroup, bytes: Uint8Array, count: number): bigint[] | undefined {
  if (bytes.length !== count * group.scalarBytes) return undefined;
  const out: bigint[] = [];
  try {
    for (let i = 0; i < count; i++)
      out.push(
        decodeScalar(group, bytes.subarray(i * group.scalarBytes, (i + 1) * group.scalarBytes), 'box'),
      );
  } catch {
    return undefined;
  }
  return out;
}

/**
 * One server's side of a joint sharing. Holds its polynomials until the sharing phase ends and the
 * sub-shares it received; `destroy()` drops all of it (bigints cannot be overwritten in JavaScript, so
 * erasure means dropping every reference; byte buffers are zeroed).
 */
export class JvssParty {
  private polynomials: { value: bigint[]; blind: bigint[] }[] | undefined;
  private ownDeal: Uint8Array | undefined;
  private ownComplaint: Uint8Array | undefined;
  private deals: Map<number, DealBody> | undefined;
  private dealSet: Uint8Array | undefined;
  private received = new Map<number, readonly bigint[]>();

  constructor(
    readonly params: JvssParams,
    private readonly identity: PartyIdentity,
    private readonly random: Random,
  ) {
    assertJvssParams(params);
    if (!params.participants.includes(identity.index))
      throw new RangeError(`identity.index ${identity.index} is not a participant`);
  }

  /** Round 1: fresh polynomials, commitments and sealed sub-shares, signed. */
  deal(): Uint8Array {
    const { group, specs, participants, context } = this.params;
    const me = this.identity.index;
    this.polynomials = specs.map((spec) => ({
      value: randomPolynomial(group, spec.degree, spec.zeroConstant ? 0n : undefined, this.random),
      blind: randomPolynomial(group, spec.degree, spec.zeroConstant ? 0n : undefined, this.random),
    }));
    const polys = this.polynomials;
    const commitments = polys.map((p) => pedersenCommit(group, p.value, p.blind));
    const boxes = new Map<number, Uint8Array>();
    for (const j of participants) {
      const scalars = this.subShareFor(j);
      if (j === me) {
        this.received.set(me, scalars);
        continue;
      }
      const key = this.identity.encryptionKey(j);
      if (key === undefined) throw new RangeError(`no encryption key for participant ${j}`);
      const plaintext = scalarsToBytes(group, scalars);
      boxes.set(j, seal(key, plaintext, boxAad(context, me, j), this.random));
      plaintext.fill(0);
    }
    this.ownDeal = signMessage(
      this.identity,
      encodeDeal(group, context, specs, { dealer: me, commitments, boxes }),
    );
    return this.ownDeal;
  }

  private subShareFor(j: number): bigint[] {
    const x = BigInt(j);
    return this.polynomials!.flatMap((p) => [
      evaluate(this.params.group, p.value, x),
      evaluate(this.params.group, p.blind, x),
    ]);
  }

  /** Round 2: checks the relayed deals and signs the list of dealers whose sub-share failed. */
  verifyDeals(relayed: readonly Uint8Array[]): Uint8Array {
    const { group, specs, participants, context, minParties } = this.params;
    const me = this.identity.index;
    if (this.ownDeal === undefined) throw new Error('Invariant: verifyDeals before deal');
    const messages = openRelayed(relayed, this.identity, BODY.deal, context, 'deals');
    if (messages.length < minParties)
      throw new GjkrRequestError('deals', `${messages.length} deals, at least ${minParties} needed`);
    const own = messages.find((m) => m.from === me);
    if (own === undefined || Buffer.compare(Buffer.from(own.bytes), Buffer.from(this.ownDeal)) !== 0)
      throw new GjkrRequestError('deals', 'this server’s own deal is missing or altered');
    const deals = new Map<number, DealBody>();
    const batches: ElementBatch[] = [];
    const size = boxBytes(this.params);
    for (const m of messages) {
      if (!participants.includes(m.from))
        throw new GjkrRequestError('deals', `deal from non-participant ${m.from}`);
      const { deal, elements } = decodeSigned(m, (x) =>
        decodeDealUnchecked(group, specs, participants, size, x),
      );
      deals.set(m.from, deal);
      batches.push(elements);
    }
    // The commitments of all deals are tested for group membership together.
    const outside = ElementBatch.failing(batches).map((i) => messages[i]!.from);
    if (outside.length > 0)
      throw new GjkrPeerError(outside, 'malformed signed message: a commitment is not in the group');
    const accused: number[] = [];
    const opened: { dealer: number; deal: DealBody; scalars: bigint[] }[] = [];
    for (const [d, deal] of deals) {
      if (d === me) continue;
      const plaintext = open(this.identity.encryption, deal.boxes.get(me)!, boxAad(context, d, me));
      const scalars =
        plaintext === undefined ? undefined : bytesToScalars(group, plaintext, subShareScalars(specs));
      plaintext?.fill(0);
      if (scalars === undefined) accused.push(d);
      else opened.push({ dealer: d, deal, scalars });
    }
    subSharesValid(this.params, me, opened, this.random).forEach((valid, i) => {
      const { dealer, scalars } = opened[i]!;
      if (valid) this.received.set(dealer, scalars);
      else accused.push(dealer);
    });
    accused.sort((a, b) => a - b);
    this.deals = deals;
    this.dealSet = dealSetDigest(context, [...deals.values()]);
    this.ownComplaint = signMessage(
      this.identity,
      encodeComplaint(context, { complainer: me, dealSetDigest: this.dealSet, accused }),
    );
    return this.ownComplaint;
  }

  /** Round 3: reveals the sub-shares disputed by the relayed complaints (at most t of them). */
  reveal(relayedComplaints: readonly Uint8Array[]): Uint8Array {
    const { group, t, context, participants } = this.params;
    const me = this.identity.index;
    if (this.dealSet === undefined || this.polynomials === undefined)
      throw new Error('Invariant: reveal before verifyDeals');
    const complainers: number[] = [];
    for (const m of openRelayed(relayedComplaints, this.identity, BODY.complaint, context, 'complaints')) {
      const c = decodeSigned(m, decodeComplaint);
      // The context is public, so anyone with a signing key can sign a complaint for it; a sub-share is
      // only ever revealed to a participant (a non-participant's point of f would be a fresh share).
      if (!participants.includes(c.complainer))
        throw new GjkrRequestError('complaints', `party ${c.complainer} does not take part`);
      if (Buffer.compare(Buffer.from(c.dealSetDigest), Buffer.from(this.dealSet)) !== 0)
        throw new GjkrRequestError('complaints', `party ${c.complainer} saw a different set of deals`);
      if (c.accused.includes(me)) complainers.push(c.complainer);
    }
    if (complainers.length === 0)
      throw new GjkrRequestError('complaints', 'no complaint against this server');
    // More than t complaints disqualify the dealer anyway; revealing t+1 points would expose its polynomial.
    if (complainers.length > t)
      throw new GjkrRequestError(
        'complaints',
        `${complainers.length} complaints exceed t = ${t}; nothing revealed`,
      );
    const shares = new Map<number, readonly bigint[]>();
    for (const j of complainers) shares.set(j, this.subShareFor(j));
    return signMessage(
      this.identity,
      encodeReveal(group, context, { dealer: me, dealSetDigest: this.dealSet, shares }),
    );
  }

  /**
   * Round 4: QUAL from the relayed evidence, then this server's summed shares. Refuses unless its own
   * complaint was counted unchanged, its own deal qualified, and QUAL has at least t+1 dealers (so the
   * joint secrets contain this server's fresh randomness). Drops the polynomials and sub-shares.
   */
  qualify(
    relayedComplaints: readonly Uint8Array[],
    relayedReveals: readonly Uint8Array[],
  ): { outcome: JvssOutcome; shares: JvssShares } {
    const { group, specs, t, context, minParties } = this.params;
    const me = this.identity.index;
    if (this.deals === undefined || this.dealSet === undefined || this.ownComplaint === undefined)
      throw new Error('Invariant: qualify before verifyDeals');
    const complaints = openRelayed(relayedComplaints, this.identity, BODY.complaint, context, 'complaints');
    const reveals = openRelayed(relayedReveals, this.identity, BODY.reveal, context, 'reveals');
    const own = complaints.find((m) => m.from === me);
    if (own === undefined || Buffer.compare(Buffer.from(own.bytes), Buffer.from(this.ownComplaint)) !== 0)
      throw new GjkrRequestError('complaints', 'this server’s own complaint is missing or altered');
    const { outcome, revealed } = qualify(this.params, this.deals, this.dealSet, complaints, reveals);
    if (outcome.confirmed.length < minParties)
      throw new GjkrRequestError(
        'complaints',
        `${outcome.confirmed.length} confirmations, at least ${minParties} needed`,
      );
    if (!outcome.qual.includes(me))
      throw new GjkrRequestError('reveals', 'this server’s own deal was disqualified');
    if (outcome.qual.length < t + 1)
      throw new GjkrRequestError('reveals', `QUAL has ${outcome.qual.length} dealers, fewer than t+1`);
    const values = specs.map(() => 0n);
    const blinds = specs.map(() => 0n);
    for (const d of outcome.qual) {
      const scalars = this.received.get(d) ?? revealed.get(d)?.get(me);
      if (scalars === undefined)
        throw new Error(`Invariant: no verified sub-share from qualified dealer ${d}`);
      specs.forEach((_, i) => {
        values[i] = modQ(group, values[i]! + scalars[2 * i]!);
        blinds[i] = modQ(group, blinds[i]! + scalars[2 * i + 1]!);
      });
    }
    this.destroy();
    return { outcome, shares: { values, blinds } };
  }

  /** Drops polynomials and received sub-shares. */
  destroy(): void {
    this.polynomials = undefined;
    this.received = new Map();
  }
}

/** The rounds of the sharing phase that every server session starts with. */
export type JvssRound = 'dealt' | 'verified' | 'revealed' | 'destroyed';

/**
 * A server session that opens with a joint sharing (gjkr-key.ts `DkgSession`, gjkr-sign.ts
 * `SigningSession`): deal (when constructed) → `verifyDeals` → [`reveal`] → `qualify`, each at most once and
 * in order, then the session's own rounds `Later`. A round asked for in the wrong state throws
 * GjkrRequestError; subclasses erase their own secrets in `destroy()` and call `erase()` for the sharing's.
 */
export abstract class JvssSession<Later extends string> {
  protected state: JvssRound | Later = 'dealt';
  private readonly jvss: JvssParty;
  /** The signed deal to answer the opening request with. */
  readonly dealMessage: Uint8Array;

  protected constructor(params: JvssParams, identity: PartyIdentity, random: Random) {
    this.jvss = new JvssParty(params, identity, random);
    this.dealMessage = this.jvss.deal();
  }

  /** Current round, for the server's bookkeeping. */
  get round(): JvssRound | Later {
    return this.state;
  }

  /** Refuses a round unless the session is in one of `states`. */
  protected expect(...states: (JvssRound | Later)[]): void {
    if (!states.includes(this.state))
      throw new GjkrRequestError('round', `not allowed in state ${this.state}`);
  }

  /** Round 2: verify the relayed deals; returns the signed complaint (empty when all deals are good). */
  verifyDeals(deals: readonly Uint8Array[]): Uint8Array {
    this.expect('dealt');
    const out = this.jvss.verifyDeals(deals);
    this.state = 'verified';
    return out;
  }

  /** Round 3 (only if accused by 1..t servers): reveal the disputed sub-shares. */
  reveal(complaints: readonly Uint8Array[]): Uint8Array {
    this.expect('verified');
    const out = this.jvss.reveal(complaints);
    this.state = 'revealed';
    return out;
  }

  /** Round 4's common part: QUAL and this server's summed shares; the polynomials are dropped. */
  protected qualify(
    complaints: readonly Uint8Array[],
    reveals: readonly Uint8Array[],
  ): { outcome: JvssOutcome; shares: JvssShares } {
    this.expect('verified', 'revealed');
    return this.jvss.qualify(complaints, reveals);
  }

  /** Drops the sharing's polynomials and sub-shares. */
  protected erase(): void {
    this.jvss.destroy();
  }

  /** Erases every per-session secret. */
  abstract destroy(): void;
}

/** The client's view of a joint sharing: validates what each server sends and decides what to relay. */
export class JvssCoordinator {
  /** Servers blamed so far, with reasons. */
  readonly culprits: Culprit[] = [];
  private readonly deals = new Map<number, { message: SignedMessage; body: DealBody }>();
  private readonly complaints = new Map<number, { message: SignedMessage; body: ComplaintBody }>();
  private readonly reveals = new Map<number, SignedMessage>();
  private dealSet: Uint8Array | undefined;
  private needReveal: number[] = [];

  constructor(
    readonly params: JvssParams,
    private readonly directory: PartyDirectory,
  ) {
    assertJvssParams(params);
  }

  /** Names a culprit once per reason. */
  blame(party: number, reason: string): void {
    if (!this.culprits.some((c) => c.party === party && c.reason === reason))
      this.culprits.push({ party, reason });
  }

  private blamed(party: number): boolean {
    return this.culprits.some((c) => c.party === party);
  }

  /** Opens one server's answer; blames it (and returns undefined) when missing, forged or malformed. */
  openAnswer<T>(
    party: number,
    answer: Uint8Array | undefined,
    tag: number,
    what: string,
    decode: (m: SignedMessage) => T,
  ): { message: SignedMessage; body: T } | undefined {
    if (answer === undefined) {
      this.blame(party, `withheld its ${what}`);
      return undefined;
    }
    try {
      const message = openSigned(answer, this.directory, { tag, context: this.params.context }, what);
      if (message === undefined) {
        this.blame(party, `${what} signature does not verify`);
        return undefined;
      }
      if (message.from !== party) {
        this.blame(party, `${what} signed as party ${message.from}`);
        return undefined;
      }
      return { message, body: decode(message) };
    } catch (e) {
      this.blame(party, `malformed ${what}: ${e instanceof Error ? e.message : 'unknown'}`);
      return undefined;
    }
  }

  /**
   * The answers whose elements are all in the group (tested together, `ElementBatch.failing`); the senders
   * of the others are blamed.
   */
  inGroup<T extends { readonly body: { readonly party: number }; readonly elements: ElementBatch }>(
    answers: readonly T[],
    what: string,
  ): T[] {
    const outside = new Set(ElementBatch.failing(answers.map((a) => a.elements)));
    return answers.filter((a, i) => {
      if (outside.has(i)) this.blame(a.body.party, `malformed ${what}: an element is not in the group`);
      return !outside.has(i);
    });
  }

  /** After round 1: keeps well-formed deals; returns them (dealer, bytes) to relay to every dealer. */
  acceptDeals(answers: ReadonlyMap<number, Uint8Array | undefined>): { from: number; bytes: Uint8Array }[] {
    const { group, specs, participants, context, minParties } = this.params;
    const size = boxBytes(this.params);
    const decoded: { message: SignedMessage; deal: DealBody; elements: ElementBatch }[] = [];
    for (const j of participants) {
      const a = this.openAnswer(j, answers.get(j), BODY.deal, 'deal', (m) =>
        decodeDealUnchecked(group, specs, participants, size, m),
      );
      if (a !== undefined) decoded.push({ message: a.message, ...a.body });
    }
    // The commitments of all deals are tested for group membership together.
    const outside = new Set(ElementBatch.failing(decoded.map((d) => d.elements)));
    decoded.forEach((d, i) => {
      if (outside.has(i)) this.blame(d.message.from, 'malformed deal: a commitment is not in the group');
      else this.deals.set(d.message.from, { message: d.message, body: d.deal });
    });
    if (this.deals.size < minParties)
      throw new GjkrFailure(`only ${this.deals.size} valid deals, ${minParties} needed`, this.culprits);
    const messages = [...this.deals.values()].map((d) => d.message).sort((a, b) => a.from - b.from);
    this.dealSet = dealSetDigest(
      context,
      [...this.deals.values()].map((d) => d.body),
    );
    return messages.map((m) => ({ from: m.from, bytes: m.bytes }));
  }

  /** After round 2: keeps valid complaints; returns the dealers that must reveal (1..t complaints). */
  acceptComplaints(answers: ReadonlyMap<number, Uint8Array | undefined>): number[] {
    const { t, participants, minParties } = this.params;
    for (const j of participants) {
      if (!this.deals.has(j) && answers.get(j) === undefined) continue; // already blamed for its deal
      const a = this.openAnswer(j, answers.get(j), BODY.complaint, 'complaint', decodeComplaint);
      if (a === undefined) continue;
      if (Buffer.compare(Buffer.from(a.body.dealSetDigest), Buffer.from(this.dealSet!)) !== 0) {
        this.blame(j, 'complaint about a different set of deals');
        continue;
      }
      if (a.body.accused.some((d) => !this.deals.has(d))) {
        this.blame(j, 'complaint against a party that did not deal');
        continue;
      }
      this.complaints.set(j, a);
    }
    if (this.complaints.size < minParties)
      throw new GjkrFailure(
        `only ${this.complaints.size} parties confirmed the deals, ${minParties} needed`,
        this.culprits,
      );
    const counts = new Map<number, number>();
    for (const c of this.complaints.values())
      for (const d of c.body.accused) counts.set(d, (counts.get(d) ?? 0) + 1);
    this.needReveal = [];
    for (const [d, n] of [...counts.entries()].sort((a, b) => a[0] - b[0])) {
      if (n > t) this.blame(d, `accused by ${n} > t parties of a bad sub-share`);
      else this.needReveal.push(d);
    }
    return this.needReveal.slice();
  }

  /** The counted complaints, to relay. */
  complaintMessages(): Uint8Array[] {
    return [...this.complaints.values()].map((c) => c.message.bytes);
  }

  /** After round 3: keeps reveals that answer every complaint with a share matching the commitments. */
  acceptReveals(answers: ReadonlyMap<number, Uint8Array | undefined>): void {
    const { group, specs } = this.params;
    for (const d of this.needReveal) {
      const a = this.openAnswer(d, answers.get(d), BODY.reveal, 'reveal', (m) =>
        decodeReveal(group, specs, m),
      );
      if (a === undefined) continue;
      const deal = this.deals.get(d)!.body;
      const bad = [...this.complaints.values()]
        .filter((c) => c.body.accused.includes(d))
        .map((c) => c.body.complainer)
        .filter((j) => {
          const s = a.body.shares.get(j);
          return s === undefined || !subShareValid(this.params, deal, j, s);
        });
      if (Buffer.compare(Buffer.from(a.body.dealSetDigest), Buffer.from(this.dealSet!)) !== 0)
        this.blame(d, 'reveal about a different set of deals');
      else if (bad.length > 0)
        this.blame(d, `revealed sub-shares for ${bad.join(', ')} do not match its commitments`);
      else this.reveals.set(d, a.message);
    }
  }

  /** The valid reveals, to relay. */
  revealMessages(): Uint8Array[] {
    return [...this.reveals.values()].map((m) => m.bytes);
  }

  /** QUAL and the joint commitments, computed exactly as the servers will. */
  outcome(): JvssOutcome {
    const deals = new Map([...this.deals].map(([d, v]) => [d, v.body]));
    const { outcome } = qualify(
      this.params,
      deals,
      this.dealSet!,
      [...this.complaints.values()].map((c) => c.message),
      [...this.reveals.values()],
    );
    for (const d of this.deals.keys())
      if (!outcome.qual.includes(d) && !this.blamed(d)) this.blame(d, 'disqualified');
    if (outcome.qual.length < this.params.t + 1)
      throw new GjkrFailure(
        `only ${outcome.qual.length} qualified dealers, t+1 = ${this.params.t + 1} needed`,
        this.culprits,
      );
    return outcome;
  }
}

/**
 * The rounds of a client coordinator built on a joint sharing (the DKG of gjkr-key.ts, signing in
 * gjkr-sign.ts): deals → complaints → reveals (only when a dealer was accused) → the qualify relay, after
 * which the coordinator runs its own rounds. Remembers whom the last step went to, so that answers from
 * any other server are ignored, and checks the answers of the coordinator's own rounds.
 */
export class JvssRounds {
  readonly jvss: JvssCoordinator;
  private stage: 'deals' | 'complaints' | 'reveals' | 'qualified' = 'deals';
  private recipients: readonly number[] = [];
  private agreed: JvssOutcome | undefined;

  /** `qualifyRound` names the step that relays QUAL (it also opens the coordinator's own rounds). */
  constructor(
    params: JvssParams,
    directory: PartyDirectory,
    private readonly sid: Uint8Array,
    private readonly qualifyRound: string,
  ) {
    this.jvss = new JvssCoordinator(params, directory);
  }

  /** Servers blamed so far. */
  get culprits(): readonly Culprit[] {
    return this.jvss.culprits;
  }

  /** The servers the last step went to. */
  get sent(): readonly number[] {
    return this.recipients;
  }

  /** Whether the sharing rounds are still running (the next answers are theirs). */
  get sharing(): boolean {
    return this.stage !== 'qualified';
  }

  /** QUAL and the joint commitments, once the sharing rounds are over. */
  get outcome(): JvssOutcome {
    if (this.agreed === undefined) throw new Error('Invariant: the sharing rounds are not over');
    return this.agreed;
  }

  /** A step to `to`, remembered so that only their answers count. */
  send(round: string, to: readonly number[], request: Uint8Array): SendStep {
    this.recipients = to;
    return { kind: 'send', round, to, request };
  }

  /** The answers of the servers the last step went to. */
  answersOfSent(answers: ReadonlyMap<number, Uint8Array | undefined>): Map<number, Uint8Array | undefined> {
    return new Map([...answers].filter(([j]) => this.recipients.includes(j)));
  }

  /** Feeds the answers of a sharing round; returns the next step, the last being the qualify relay. */
  sharingStep(answers: ReadonlyMap<number, Uint8Array | undefined>): SendStep {
    switch (this.stage) {
      case 'deals': {
        const deals = this.jvss.acceptDeals(answers);
        this.stage = 'complaints';
        return this.send(
          'deals',
          deals.map((d) => d.from),
          encodeRelay(REQUEST.deals, this.sid, [deals.map((d) => d.bytes)]),
        );
      }
      case 'complaints': {
        const accused = this.jvss.acceptComplaints(answers);
        if (accused.length === 0) return this.qualifyStep();
        this.stage = 'reveals';
        return this.send(
          'reveal',
          accused,
          encodeRelay(REQUEST.reveal, this.sid, [this.jvss.complaintMessages()]),
        );
      }
      case 'reveals':
        this.jvss.acceptReveals(answers);
        return this.qualifyStep();
      case 'qualified':
        throw new Error('Invariant: the sharing rounds are over');
    }
  }

  private qualifyStep(): SendStep {
    const outcome = this.jvss.outcome();
    this.agreed = outcome;
    this.stage = 'qualified';
    return this.send(
      this.qualifyRound,
      outcome.confirmed.filter((j) => outcome.qual.includes(j)),
      encodeRelay(REQUEST.qualify, this.sid, [this.jvss.complaintMessages(), this.jvss.revealMessages()]),
    );
  }

  /**
   * The answers to the last step that count: opened (signature and sender checked), naming this sharing's
   * evidence, passing `check` (undefined, or the reason to blame the sender), with every group element in
   * the group and the proof verifying (both checked in batches). The senders of the others are blamed.
   * Throws GjkrFailure when fewer than 2t+1 count. `what` names one answer in messages ("phase-1 answer").
   */
  verifiedAnswers<B extends { readonly party: number; readonly evidence: Uint8Array }>(
    answers: ReadonlyMap<number, Uint8Array | undefined>,
    tag: number,
    what: string,
    decode: (message: SignedMessage, elements: ElementBatch) => B,
    claim: (body: B) => ProofClaim,
    check: (body: B) => string | undefined = () => undefined,
  ): { body: B; bytes: Uint8Array }[] {
    const { group, t } = this.jvss.params;
    const evidence = this.outcome.evidence;
    const decoded: { body: B; bytes: Uint8Array; elements: ElementBatch }[] = [];
    for (const j of this.recipients) {
      const elements = new ElementBatch(group);
      const a = this.jvss.openAnswer(j, answers.get(j), tag, what, (m) => decode(m, elements));
      if (a === undefined) continue;
      const wrong = bytesEqual(a.body.evidence, evidence) ? check(a.body) : `${what} for a different sharing`;
      if (wrong !== undefined) this.jvss.blame(j, wrong);
      else decoded.push({ body: a.body, bytes: a.message.bytes, elements });
    }
    const candidates = this.jvss.inGroup(decoded, what);
    const proved = verifyEach(
      group,
      candidates.map((c) => claim(c.body)),
    );
    const valid = candidates.filter((c, i) => {
      if (!proved[i]) this.jvss.blame(c.body.party, `${what} fails its proof`);
      return proved[i];
    });
    if (valid.length < 2 * t + 1)
      throw new GjkrFailure(`only ${valid.length} valid ${what}s, 2t+1 = ${2 * t + 1} needed`, this.culprits);
    return valid.map(({ body, bytes }) => ({ body, bytes }));
  }
}
