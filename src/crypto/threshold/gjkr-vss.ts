/**
 * Shamir secret sharing over Z_q (Shamir 1979) with Feldman (1987) and Pedersen (1991) verifiable
 * commitments, as used by Gennaro, Jarecki, Krawczyk and Rabin ("Robust Threshold DSS Signatures" §2.3–2.4;
 * "Secure Distributed Key Generation for Discrete-Log Based Cryptosystems" §4, Fig. 2).
 *
 * A dealer's polynomial f(z) = Σ a_l z^l of degree d gives party i the share f(i), i = 1..n. Feldman
 * commitments are C_l = g^{a_l}; Pedersen commitments are C_l = g^{a_l} h^{b_l} for a second (blinding)
 * polynomial f'(z) = Σ b_l z^l. Either way Π_l C_l^{i^l} is the commitment to party i's share, which is
 * how every share is checked against public data (`commitmentAt`).
 */
import type { Random } from '../../env/random.js';
import { invQ, modQ, randomScalar, type DlGroup, type GroupElement, type PrimeOrder } from './dl-group.js';

/** Largest number of parties any sharing here supports (share indices are 1..n). */
export const PARTIES_MAX = 64;

/** A polynomial over Z_q, coefficients from the constant term up. */
export type Polynomial = readonly bigint[];

/** A uniformly random polynomial of `degree` with the given constant term (random when undefined). */
export function randomPolynomial(
  group: DlGroup,
  degree: number,
  constant: bigint | undefined,
  random: Random,
): bigint[] {
  if (!Number.isInteger(degree) || degree < 0 || degree >= PARTIES_MAX)
    throw new RangeError(`randomPolynomial: degree must be an integer in [0, ${PARTIES_MAX}), got ${degree}`);
  const coefficients = [constant === undefined ? randomScalar(group, random) : modQ(group, constant)];
  for (let l = 1; l <= degree; l++) coefficients.push(randomScalar(group, random));
  return coefficients;
}

/** f(x) mod q by Horner's rule. */
export function evaluate(group: PrimeOrder, f: Polynomial, x: bigint): bigint {
  let acc = 0n;
  for (let l = f.length - 1; l >= 0; l--) acc = modQ(group, acc * x + f[l]!);
  return acc;
}

/** Pedersen commitments g^{a_l} h^{b_l} of f and its blinding polynomial f' (same degree). */
export function pedersenCommit(group: DlGroup, f: Polynomial, blind: Polynomial): GroupElement[] {
  if (f.length !== blind.length)
    throw new RangeError('pedersenCommit: f and its blinding polynomial differ in degree');
  return f.map((a, l) => group.mul(group.exp(group.g, a), group.exp(group.h, blind[l]!)));
}

/** g^s h^{s'}: the Pedersen commitment to one share. */
export function pedersenValue(group: DlGroup, s: bigint, blind: bigint): GroupElement {
  return group.mul(group.exp(group.g, s), group.exp(group.h, blind));
}

/** Π_l C_l^{i^l}: the commitment to the share of party `index`, by Horner's rule in the exponent. */
export function commitmentAt(
  group: DlGroup,
  commitments: readonly GroupElement[],
  index: number,
): GroupElement {
  if (commitments.length === 0) throw new RangeError('commitmentAt: no commitments');
  const x = BigInt(index);
  let acc = commitments[commitments.length - 1]!;
  for (let l = commitments.length - 2; l >= 0; l--) acc = group.mul(group.expPublic(acc, x), commitments[l]!);
  return acc;
}

/** Element-wise product of commitment vectors of equal length (the commitments of the summed polynomial). */
export function multiplyCommitments(
  group: DlGroup,
  vectors: readonly (readonly GroupElement[])[],
): GroupElement[] {
  if (vectors.length === 0) throw new RangeError('multiplyCommitments: no vectors');
  const out = vectors[0]!.slice();
  for (const v of vectors.slice(1)) {
    if (v.length !== out.length) throw new RangeError('multiplyCommitments: vectors differ in length');
    for (let l = 0; l < out.length; l++) out[l] = group.mul(out[l]!, v[l]!);
  }
  return out;
}

/** Checks that indices are distinct integers in [1, PARTIES_MAX]. */
export function assertIndices(indices: readonly number[], field: string): void {
  const seen = new Set<number>();
  for (const i of indices) {
    if (!Number.isInteger(i) || i < 1 || i > PARTIES_MAX)
      throw new RangeError(`${field}: index must be an integer in [1, ${PARTIES_MAX}], got ${String(i)}`);
    if (seen.has(i)) throw new RangeError(`${field}: duplicate index ${i}`);
    seen.add(i);
  }
}

/** Lagrange coefficients λ_j(at) = Π_{k≠j} (at − k)/(j − k) mod q for the distinct `indices`. */
export function lagrangeCoefficients(
  group: PrimeOrder,
  indices: readonly number[],
  at = 0n,
): Map<number, bigint> {
  assertIndices(indices, 'lagrangeCoefficients');
  const out = new Map<number, bigint>();
  for (const j of indices) {
    let num = 1n;
    let den = 1n;
    for (const k of indices) {
      if (k === j) continue;
      num = modQ(group, num * (at - BigInt(k)));
      den = modQ(group, den * BigInt(j - k));
    }
    out.set(j, modQ(group, num * invQ(group, den)));
  }
  return out;
}

/** f(at) from the points (j, f(j)); exact when deg f < number of points. */
export function interpolate(group: DlGroup, points: ReadonlyMap<number, bigint>, at = 0n): bigint {
  const lambda = lagrangeCoefficients(group, [...points.keys()], at);
  let acc = 0n;
  for (const [j, v] of points) acc = modQ(group, acc + lambda.get(j)! * v);
  return acc;
}

/** g^{f(at)} from the points (j, g^{f(j)}) (interpolation in the exponent). */
export function interpolateInExponent(
  group: DlGroup,
  points: ReadonlyMap<number, GroupElement>,
  at = 0n,
): GroupElement {
  const lambda = lagrangeCoefficients(group, [...points.keys()], at);
  return group.msm(
    [...points.values()],
    [...points.keys()].map((j) => lambda.get(j)!),
  );
}
