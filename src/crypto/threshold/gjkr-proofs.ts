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
 * (e, z_j) with z_j = ρ_j + e·w_j; the verifier recomputes R_k = Π_m B_{k,m}^{z_j} · Y_k^{−e} and checks
 * that e is the hash of the statement and the R_k. Special soundness gives the witnesses from two answers
 * with different challenges; honest-verifier zero knowledge makes the proof simulatable in the random-oracle
 * model.
 */
import { createHash } from 'node:crypto';
import { ByteWriter, utf8 } from '../../codec/bytes.js';
import type { Random } from '../../env/random.js';
import { bytesToBigint, modQ, randomScalar, type DlGroup, type GroupElement } from './dl-group.js';

/** One relation target = Π base^{witness}. */
export interface LinearRelation {
  readonly target: GroupElement;
  /** (base, index into the witness vector) pairs. */
  readonly terms: ReadonlyArray<readonly [GroupElement, number]>;
}

/** A Fiat–Shamir proof: the challenge and one response per witness. */
export interface SigmaProof {
  readonly challenge: bigint;
  readonly responses: readonly bigint[];
}

const PROOF_DOMAIN = utf8('bftkv/gjkr/proof/v1');

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

/** Proves knowledge of `witnesses` satisfying `relations`; `label` and `context` are bound into the challenge. */
export function proveRelations(
  group: DlGroup,
  label: string,
  context: Uint8Array,
  relations: readonly LinearRelation[],
  witnesses: readonly bigint[],
  random: Random,
): SigmaProof {
  if (witnesses.length !== witnessCount(relations))
    throw new RangeError(
      `proveRelations: ${witnessCount(relations)} witnesses expected, got ${witnesses.length}`,
    );
  // Invariant: the prover only proves true statements (a false one means a local bug, not a peer fault).
  for (const rel of relations) {
    let acc = group.identity;
    for (const [base, j] of rel.terms) acc = group.mul(acc, group.exp(base, witnesses[j]!));
    if (!group.equals(acc, rel.target))
      throw new Error(`Invariant: proveRelations(${label}) given a false statement`);
  }
  const rho = witnesses.map(() => randomScalar(group, random));
  const commitments = relations.map((rel) => {
    let acc = group.identity;
    for (const [base, j] of rel.terms) acc = group.mul(acc, group.exp(base, rho[j]!));
    return acc;
  });
  const e = challenge(group, label, context, relations, commitments);
  return { challenge: e, responses: rho.map((r, j) => modQ(group, r + e * witnesses[j]!)) };
}

/** Verifies a proof made by `proveRelations` for the same label, context and relations. */
export function verifyRelations(
  group: DlGroup,
  label: string,
  context: Uint8Array,
  relations: readonly LinearRelation[],
  proof: SigmaProof,
): boolean {
  if (proof.responses.length !== witnessCount(relations)) return false;
  const minusE = modQ(group, -proof.challenge);
  const commitments = relations.map((rel) => {
    let acc = group.expPublic(rel.target, minusE);
    for (const [base, j] of rel.terms) acc = group.mul(acc, group.expPublic(base, proof.responses[j]!));
    return acc;
  });
  return challenge(group, label, context, relations, commitments) === proof.challenge;
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
