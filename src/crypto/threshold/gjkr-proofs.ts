/**
 * Non-interactive proofs of knowledge of discrete logarithms satisfying linear relations (Maurer, "Unifying
 * Zero-Knowledge Proofs of Knowledge", AFRICACRYPT 2009, §5; Schnorr 1991; Chaum–Pedersen 1992), made
 * non-interactive with Fiat–Shamir (SHA-512 of the whole statement, reduced mod q).
 *
 * They make every answer of a threshold-DSS server checkable on its own, which is how this implementation
 * names culprits with only n ≥ 2t+1 servers: GJKR "Robust Threshold DSS Signatures" §4 reconstruct the
 * degree-2t values ka and k(m + xr) with error-correcting interpolation, which needs n ≥ 4t+1 to correct t
 * wrong answers; here each answer carries a proof instead (see `productRelations`).
 *
 * A statement is a list of relations Y_k = Π_m B_{k,m}^{w_{j(k,m)}} over shared witnesses w_j. The proof is
 * (R_k, z_j): commitments R_k = Π_m B_{k,m}^{ρ_j} and responses z_j = ρ_j + e·w_j, where e is the hash of
 * the label, the context, the whole statement and the R_k. The verifier recomputes e and checks
 * R_k · Y_k^e = Π_m B_{k,m}^{z_j} for every k. Special soundness gives the witnesses from two answers with
 * the same R_k and different challenges; honest-verifier zero knowledge makes the proof simulatable in the
 * random-oracle model.
 *
 * Proofs carry R_k rather than e (the "commitment" form instead of the "challenge" form; equally sound, a
 * few more bytes) so that many equations can be checked at once: `verifyEach` checks a random linear
 * combination Π_{p,k} (R_{p,k} Y_{p,k}^{e_p} Π_m B^{−z})^{δ_{p,k}} = 1 with 128-bit δ (the small-exponent
 * batch test of Bellare, Garay and Rabin, Eurocrypt '98, §3.2: in a group of prime order q > 2^128 a false
 * equation survives with probability at most 2^-128), which costs one multi-exponentiation instead of one
 * per relation, and falls back to one proof at a time only to name a culprit. The δ are derived by hashing
 * every proof's challenge, so the test is deterministic and a prover cannot pick them.
 */
import { createHash } from 'node:crypto';
import { ByteWriter, utf8 } from '../../codec/bytes.js';
import type { Random } from '../../env/random.js';
import {
  bytesToBigint,
  encodeScalar,
  modQ,
  randomScalar,
  type DlGroup,
  type GroupElement,
} from './dl-group.js';

/** One relation target = Π base^{witness}. */
export interface LinearRelation {
  readonly target: GroupElement;
  /** (base, index into the witness vector) pairs. */
  readonly terms: ReadonlyArray<readonly [GroupElement, number]>;
}

/** A Fiat–Shamir proof: one commitment per relation and one response per witness. */
export interface SigmaProof {
  readonly commitments: readonly GroupElement[];
  readonly responses: readonly bigint[];
}

/** A statement with its proof, as checked by `verifyEach`. */
export interface ProofClaim {
  readonly label: string;
  readonly context: Uint8Array;
  readonly relations: readonly LinearRelation[];
  readonly proof: SigmaProof;
}

const PROOF_DOMAIN = utf8('bftkv/gjkr/proof/v2');
const BATCH_DOMAIN = utf8('bftkv/gjkr/batch/v1');
/** Bytes of a batch weight δ (128 bits). */
const BATCH_WEIGHT_BYTES = 16;

function elementBytes(group: DlGroup, e: GroupElement): Uint8Array {
  return group.isIdentity(e) ? new Uint8Array(group.elementBytes) : group.encodeElement(e);
}

function challenge(
  group: DlGroup,
  label: string,
  context: Uint8Array,
  relations: readonly LinearRelation[],
  commitments: readonly GroupElement[],
): bigint {
  const w = new ByteWriter(1024);
  w.raw(PROOF_DOMAIN).string(label).bytes(group.encoding).bytes(context);
  w.u16(relations.length);
  for (const rel of relations) {
    w.raw(elementBytes(group, rel.target)).u16(rel.terms.length);
    for (const [base, j] of rel.terms) w.raw(elementBytes(group, base)).u16(j);
  }
  for (const c of commitments) w.raw(elementBytes(group, c));
  return modQ(group, bytesToBigint(new Uint8Array(createHash('sha512').update(w.finish()).digest())));
}

function witnessCount(relations: readonly LinearRelation[]): number {
  let n = 0;
  for (const rel of relations) for (const [, j] of rel.terms) n = Math.max(n, j + 1);
  return n;
}

/** Bases whose representation B = g^α h^β the prover knows (its own Pedersen commitments). */
export type KnownBases = ReadonlyMap<GroupElement, readonly [bigint, bigint]>;

/**
 * B^w for a secret w, in constant time on the curves: through the fixed-base tables of g and h when B is g,
 * h or a base in `known` (B^w = g^{αw} h^{βw}), which is several times cheaper than a variable base.
 */
export function expSecret(group: DlGroup, base: GroupElement, w: bigint, known?: KnownBases): GroupElement {
  const rep = known?.get(base);
  if (rep === undefined) return group.exp(base, w);
  return group.mul(group.exp(group.g, modQ(group, rep[0] * w)), group.exp(group.h, modQ(group, rep[1] * w)));
}

/**
 * Proves knowledge of `witnesses` satisfying `relations`; `label` and `context` are bound into the
 * challenge. `known` lists bases whose representation over (g, h) the prover knows (a speed-up only).
 */
export function proveRelations(
  group: DlGroup,
  label: string,
  context: Uint8Array,
  relations: readonly LinearRelation[],
  witnesses: readonly bigint[],
  random: Random,
  known?: KnownBases,
): SigmaProof {
  if (witnesses.length !== witnessCount(relations))
    throw new RangeError(
      `proveRelations: ${witnessCount(relations)} witnesses expected, got ${witnesses.length}`,
    );
  // Invariant: the prover only proves true statements (a false one means a local bug, not a peer fault).
  for (const rel of relations) {
    let acc = group.identity;
    for (const [base, j] of rel.terms) acc = group.mul(acc, expSecret(group, base, witnesses[j]!, known));
    if (!group.equals(acc, rel.target))
      throw new Error(`Invariant: proveRelations(${label}) given a false statement`);
  }
  const rho = witnesses.map(() => randomScalar(group, random));
  const commitments = relations.map((rel) => {
    let acc = group.identity;
    for (const [base, j] of rel.terms) acc = group.mul(acc, expSecret(group, base, rho[j]!, known));
    return acc;
  });
  const e = challenge(group, label, context, relations, commitments);
  return { commitments, responses: rho.map((r, j) => modQ(group, r + e * witnesses[j]!)) };
}

/** Whether every claim's proof has the shape its relations need. */
function wellFormed(claim: ProofClaim): boolean {
  return (
    claim.proof.commitments.length === claim.relations.length &&
    claim.proof.responses.length === witnessCount(claim.relations)
  );
}

/** Whether all claims hold (one multi-exponentiation; a false claim passes with probability ≤ 2^-128). */
function verifyBatch(group: DlGroup, claims: readonly ProofClaim[]): boolean {
  if (!claims.every(wellFormed)) return false;
  const challenges = claims.map((c) =>
    challenge(group, c.label, c.context, c.relations, c.proof.commitments),
  );
  const seed = createHash('sha512').update(BATCH_DOMAIN).update(group.encoding);
  for (const e of challenges) seed.update(encodeScalar(group, e));
  const seedBytes = seed.digest();
  // Exponents by element, merged when the same element object appears more than once (g, h, shared bases).
  const exponents = new Map<GroupElement, bigint>();
  const add = (el: GroupElement, k: bigint) => exponents.set(el, (exponents.get(el) ?? 0n) + k);
  let counter = 0;
  claims.forEach((claim, p) => {
    const e = challenges[p]!;
    claim.relations.forEach((rel, k) => {
      const delta = batchWeight(seedBytes, counter++);
      add(claim.proof.commitments[k]!, delta);
      add(rel.target, delta * e);
      for (const [base, j] of rel.terms) add(base, -delta * claim.proof.responses[j]!);
    });
  });
  return group.isIdentity(group.msm([...exponents.keys()], [...exponents.values()]));
}

/** δ number `i` (128 bits) of a batch: SHA-256(seed ‖ i). */
function batchWeight(seed: Uint8Array, i: number): bigint {
  const d = createHash('sha256').update(seed).update(new ByteWriter(4).u32(i).finish()).digest();
  return bytesToBigint(new Uint8Array(d.subarray(0, BATCH_WEIGHT_BYTES)));
}

/** Verifies a proof made by `proveRelations` for the same label, context and relations. */
export function verifyRelations(
  group: DlGroup,
  label: string,
  context: Uint8Array,
  relations: readonly LinearRelation[],
  proof: SigmaProof,
): boolean {
  return verifyBatch(group, [{ label, context, relations, proof }]);
}

/**
 * Which claims hold: all of them are checked in one batch, and only when the batch fails one at a time (so
 * the caller can name every culprit). Same answers as `verifyRelations` on each, up to probability 2^-128.
 */
export function verifyEach(group: DlGroup, claims: readonly ProofClaim[]): boolean[] {
  if (claims.length === 0) return [];
  if (verifyBatch(group, claims)) return claims.map(() => true);
  return claims.map((c) => verifyBatch(group, [c]));
}

/** The public values of a product statement v = k·u + z (see `productRelations`). */
export interface ProductStatement {
  /** U = g^u. */
  readonly u: GroupElement;
  /** Pedersen commitment K = g^k h^{k'} to the share k. */
  readonly k: GroupElement;
  /** Pedersen commitment Z = g^z h^{z'} to the masking share z. */
  readonly z: GroupElement;
  /** T = K^u, sent by the prover. */
  readonly t: GroupElement;
  /** The claimed value v = k·u + z mod q. */
  readonly v: bigint;
  /** When present, a Pedersen commitment A = g^u h^{u'} that U must open (binds U to a shared value). */
  readonly binding?: GroupElement;
}

/**
 * Relations proving v = k·u + z mod q for committed k and z (witnesses [u, w] or [u, w, u']):
 *   U = g^u,   T = K^u,   T·Z·g^{−v} = h^w   (and A·U^{−1} = h^{u'} when `binding` is given).
 * Soundness: T·Z·g^{−v} = g^{ku+z−v} h^{k'u+z'}, so knowing w = log_h of it with ku + z ≠ v would give
 * log_g h, contradicting the Pedersen binding property. Likewise A·U^{−1} = g^{a−u} h^{a'} forces u = a.
 * Honest witnesses: w = k'·u + z'.
 */
export function productRelations(group: DlGroup, s: ProductStatement): LinearRelation[] {
  const relations: LinearRelation[] = [
    { target: s.u, terms: [[group.g, 0]] },
    { target: s.t, terms: [[s.k, 0]] },
    {
      target: group.mul(group.mul(s.t, s.z), group.expPublic(group.g, modQ(group, -s.v))),
      terms: [[group.h, 1]],
    },
  ];
  if (s.binding !== undefined) relations.push({ target: group.div(s.binding, s.u), terms: [[group.h, 2]] });
  return relations;
}

/**
 * Relation proving that X = g^x opens the Pedersen commitment C = g^x h^{x'} (witness [x']):
 *   C·X^{−1} = h^{x'}.
 * Publishing X with this proof replaces the extraction phase of GJKR's DKG (Fig. 2, step 4): X is bound to
 * the share fixed by the Pedersen phase, so no dealer can influence g^x after the qualified set is known.
 */
export function openingRelations(
  group: DlGroup,
  commitment: GroupElement,
  x: GroupElement,
): LinearRelation[] {
  return [{ target: group.div(commitment, x), terms: [[group.h, 0]] }];
}
