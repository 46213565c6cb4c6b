/**
 * Seeded, deterministic randomness for the simulator. The stream is the ChaCha20 keystream (node:crypto)
 * under a key derived from the seed, so runs replay bit-for-bit from one seed, and `fork(label)` gives each
 * component its own independent stream: extra draws in one component never shift another's.
 */
import { createCipheriv, createHash, type Cipher } from 'node:crypto';
import type { Random } from '../../src/env/random.js';

const SEED_TAG = 'bftkv/sim/prng/seed/v1';
const FORK_TAG = 'bftkv/sim/prng/fork/v1';
const CHUNK_BYTES = 4096;
const ZERO_CHUNK = Buffer.alloc(CHUNK_BYTES);
const TWO_POW_32 = 0x1_0000_0000;
const TWO_POW_53 = 2 ** 53;

/** Canonical, unambiguous encoding of a seed: integers (number or bigint) share one form, strings another. */
function encodeSeed(seed: bigint | number | string): Buffer {
  if (typeof seed === 'string') return Buffer.from(`s:${seed}`, 'utf8');
  if (typeof seed === 'bigint') return Buffer.from(`i:${seed.toString(10)}`, 'utf8');
  if (Number.isSafeInteger(seed)) return Buffer.from(`i:${seed.toString(10)}`, 'utf8');
  if (!Number.isFinite(seed)) throw new RangeError(`seed: not a finite number: ${seed}`);
  return Buffer.from(`n:${seed.toString()}`, 'utf8');
}

/** A length-prefixed field, so concatenated hash inputs cannot be confused. */
function field(b: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
}

export class SeededRandom implements Random {
  /** The ChaCha20 key; also the parent material for forks (draws do not affect it). */
  readonly #key: Buffer;
  readonly #cipher: Cipher;
  #buf: Buffer = Buffer.alloc(0);
  #pos = 0;

  constructor(seed: bigint | number | string) {
    this.#key = createHash('sha256')
      .update(field(Buffer.from(SEED_TAG, 'utf8')))
      .update(field(encodeSeed(seed)))
      .digest();
    this.#cipher = createCipheriv('chacha20', this.#key, Buffer.alloc(16));
  }

  /** `n` fresh bytes from the stream. */
  bytes(n: number): Uint8Array {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`bytes: invalid length ${n}`);
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      if (this.#pos >= this.#buf.length) this.#refill();
      const take = Math.min(n - filled, this.#buf.length - this.#pos);
      out.set(this.#buf.subarray(this.#pos, this.#pos + take), filled);
      this.#pos += take;
      filled += take;
    }
    return out;
  }

  /** A uniform integer in [0, maxExclusive); maxExclusive is an integer in [1, 2^53]. Unbiased (rejection). */
  int(maxExclusive: number): number {
    if (!Number.isInteger(maxExclusive) || maxExclusive < 1 || maxExclusive > TWO_POW_53) {
      throw new RangeError(`int: maxExclusive must be an integer in [1, 2^53], got ${maxExclusive}`);
    }
    if (maxExclusive <= TWO_POW_32) {
      const limit = TWO_POW_32 - (TWO_POW_32 % maxExclusive);
      for (;;) {
        const x = this.#uint32();
        if (x < limit) return x % maxExclusive;
      }
    }
    const limit = TWO_POW_53 - (TWO_POW_53 % maxExclusive);
    for (;;) {
      const x = this.#uint53();
      if (x < limit) return x % maxExclusive;
    }
  }

  /** A uniform float in [0, 1) with 53 bits of precision. */
  float(): number {
    return this.#uint53() / TWO_POW_53;
  }

  /**
   * True with probability `p` (clamped to [0, 1]). Always consumes exactly one draw, whatever `p`, so
   * tuning a rate does not shift the rest of the stream.
   */
  chance(p: number): boolean {
    if (Number.isNaN(p)) throw new RangeError('chance: p is NaN');
    return this.float() < p;
  }

  /** A uniformly chosen element of a non-empty array. */
  pick<T>(arr: readonly T[]): T {
    if (arr.length === 0) throw new RangeError('pick: empty array');
    return arr[this.int(arr.length)]!;
  }

  /** A uniformly shuffled copy of `arr` (Fisher–Yates); `arr` is not modified. */
  shuffle<T>(arr: readonly T[]): T[] {
    const a = arr.slice();
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = a[i]!;
      a[i] = a[j]!;
      a[j] = tmp;
    }
    return a;
  }

  /**
   * An independent child stream, a function of this stream's seed and `label` only: it does not depend on
   * (nor consume) the draws made so far, and forking the same label twice gives the same stream.
   */
  fork(label: string): SeededRandom {
    const child = createHash('sha256')
      .update(field(Buffer.from(FORK_TAG, 'utf8')))
      .update(field(this.#key))
      .update(field(Buffer.from(label, 'utf8')))
      .digest('hex');
    return new SeededRandom(`fork:${child}`);
  }

  #refill(): void {
    this.#buf = this.#cipher.update(ZERO_CHUNK);
    this.#pos = 0;
  }

  #uint32(): number {
    if (this.#buf.length - this.#pos < 4) return new DataView(this.bytes(4).buffer).getUint32(0);
    const x = this.#buf.readUInt32BE(this.#pos);
    this.#pos += 4;
    return x;
  }

  #uint53(): number {
    const hi = this.#uint32() >>> 11; // 21 bits
    const lo = this.#uint32();
    return hi * TWO_POW_32 + lo;
  }
}
