/**
 * The DSA domain parameters of the keys the CA generates (FIPS 186-4 §4.2, (L, N) = (2048, 256)): fixed,
 * embedded, and reproducible from a public seed.
 *
 * Why fixed rather than per key: generating DSA parameters takes seconds and every holder would then have to
 * test a fresh 2048-bit p for primality per key; a discrete-logarithm group of this size has no known
 * precomputation attack that a shared group would make worth mounting (Logjam-style precomputation is out
 * of reach beyond 1024 bits), and standards fix groups the same way (RFC 3526, RFC 7919). Imported DSA keys
 * keep their own parameters (any valid FIPS 186-4 size, checked by `dsaGroup`).
 *
 * Why these rather than parameters from node:crypto's generator: they have the Lim–Lee form p = 2qr + 1 with
 * r prime (Lim and Lee, "A Key Recovery Attack on Discrete Log-based Schemes Using a Prime Order Subgroup",
 * Crypto '97, §5), so Z_p^* has no small subgroups besides {±1}. `dsaGroup` recognises the form, and
 * subgroup membership of the many elements a GJKR session receives can then be tested in one batch
 * (dl-group.ts `assertMembers`: Jacobi symbols and one q-th power) instead of one 2048-bit exponentiation
 * each, which is most of a threshold DSA signature's cost with FIPS parameters whose cofactor is unknown.
 *
 * Derivation (nothing up the sleeve; `dsaCandidate` and the test re-derive it): r is candidate number
 * 404 for label 'r' (1791 bits), the first that is prime; q is candidate number 639660 for
 * label 'q' (256 bits), the first for which q and p = 2qr + 1 are prime and p has 2048 bits (primality by
 * node:crypto `checkPrimeSync`); g = 2^(2r) mod p, of order q.
 */
import { createHash } from 'node:crypto';
import { ByteWriter, utf8 } from '../../codec/bytes.js';
import { bytesToBigint, type DsaParams } from './dl-group.js';

/** The public seed every candidate is derived from. */
export const DSA_PARAMS_SEED = utf8('bftkv/gjkr/dsa-2048-256/v1');

/** Counters of the candidates that became r and q (see the module comment). */
export const DSA_PARAMS_COUNTERS = { r: 404, q: 639660 } as const;

/**
 * Candidate number `counter` for `label` ('q' or 'r'): SHA-512 in counter mode over (seed, label, counter,
 * block), cut to `bits` bits, with the top and the bottom bit set.
 */
export function dsaCandidate(seed: Uint8Array, label: string, counter: number, bits: number): bigint {
  if (!Number.isInteger(bits) || bits < 2 || bits > 4096)
    throw new RangeError(`dsaCandidate: bits must be an integer in [2, 4096], got ${String(bits)}`);
  const bytes = Math.ceil(bits / 8);
  const out = new Uint8Array(Math.ceil(bytes / 64) * 64);
  for (let block = 0; block * 64 < bytes; block++)
    out.set(
      createHash('sha512')
        .update(new ByteWriter().bytes(seed).string(label).u32(counter).u8(block).finish())
        .digest(),
      block * 64,
    );
  const v = bytesToBigint(out.subarray(0, bytes)) >> BigInt(bytes * 8 - bits);
  return v | (1n << BigInt(bits - 1)) | 1n;
}

/** The embedded parameters: p = 2qr + 1 (2048 bits), q (256 bits), g = 2^(2r) mod p. */
export const BFTKV_DSA_PARAMS: DsaParams = {
  p: BigInt(
    '0x' +
      '82b990be7b5d2ba26ebd2cab2ce0e5b227d91d5dd078aa886f1ecd5871fee4a0fd38aa54f527d9dac61ff4ed80fe313f' +
      'c087206cd76d9a7267bab4fc645c644c3fa5173286f116deed577bf5b96528f9127fc51c88e5f75a1c65e6b5b8d712a8' +
      'b75b61389a34835c541757732d7f500060afc748dffef874991e1de5b43f643e2aabb90550fabea07ba4a53fca291d75' +
      'e018524b0b7c22f84dc2543237b5ae5a30cf2652693085041b09033dc45f59d785263290699e12374a2e98bb6996480c' +
      '98cc565cb8621ecbf2f9b7b651a6df5393cbebdb020d499b76a21efd6d259fbeadae6d43e9b254db7af606d3a87599c4' +
      'f2a11a5b19f2dc5e2f154b0bc6aa355b',
  ),
  q: BigInt('0xbacb720967da0a520bd236fbf7673956f8ada8987f8779bcb7982b42eb7aaad3'),
  g: BigInt(
    '0x' +
      '4fac7eff16f00b4b40bb3f4aa8cecb703e709edd12dd981fe2bec1614d4ef4aea3389442e29d1629b09395b4b8a87426' +
      '343a7a64e011548e4025e68cad4d6c30c7e3d055de3c6965e4524de6747da5897c7addc8b66f037f29b597f6b327f63d' +
      'e83be5ffaffa1c21431bb763a56584cf106a0711ffbad2c196acb05bddc7e30a5a6374bf8c551a6cc3add7c7de0c7e58' +
      '5ad5a9d5b0c54b1117e98eddb8c5e87e56b98067f7981ca76072e25a977fa572165a0bfcfabbdad38288409eef942c39' +
      '47db59622d840c7b6824a0fc9ac5603615d254be542471611f23e6053dcc8db9ab324149a6421b6bb1d2e6c8b837dc90' +
      'bb4dd2c201b2c63a42de68076fb56dd5',
  ),
};
