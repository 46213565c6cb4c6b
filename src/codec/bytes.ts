/**
 * Canonical, bounded binary encoding (docs/PROTOCOL.md §Encoding).
 *
 * Every value has exactly one encoding: integers are fixed-width big-endian, byte strings and lists carry
 * a u32 / u16 length prefix, booleans are 0 or 1, optionals a 0/1 tag. A reader never allocates more than
 * the bound the caller declares for a field, and `finish()` rejects trailing bytes, so truncation and
 * garbage are both errors.
 */

/** Malformed or out-of-bounds input; `field` names what was being decoded. */
export class CodecError extends Error {
  override readonly name = 'CodecError';
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}

const U64_MAX = (1n << 64n) - 1n;
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Appends canonical encodings to a growable buffer. */
export class ByteWriter {
  private buf: Uint8Array;
  private view: DataView;
  private len = 0;

  constructor(initialCapacity = 256) {
    this.buf = new Uint8Array(initialCapacity);
    this.view = new DataView(this.buf.buffer);
  }

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = Math.max(1, this.buf.length * 2);
    while (cap < this.len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  /** One byte, 0..255. */
  u8(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new RangeError(`u8 out of range: ${v}`);
    this.reserve(1);
    this.buf[this.len++] = v;
    return this;
  }

  /** Two bytes big-endian. */
  u16(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new RangeError(`u16 out of range: ${v}`);
    this.reserve(2);
    this.view.setUint16(this.len, v);
    this.len += 2;
    return this;
  }

  /** Four bytes big-endian. */
  u32(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`u32 out of range: ${v}`);
    this.reserve(4);
    this.view.setUint32(this.len, v);
    this.len += 4;
    return this;
  }

  /** Eight bytes big-endian, unsigned. */
  u64(v: bigint): this {
    if (v < 0n || v > U64_MAX) throw new RangeError(`u64 out of range: ${v}`);
    this.reserve(8);
    this.view.setBigUint64(this.len, v);
    this.len += 8;
    return this;
  }

  /** 0 or 1. */
  bool(v: boolean): this {
    return this.u8(v ? 1 : 0);
  }

  /** Raw bytes with no length prefix (fixed-size fields). */
  raw(b: Uint8Array): this {
    this.reserve(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
    return this;
  }

  /** u32 length prefix then the bytes. */
  bytes(b: Uint8Array): this {
    this.u32(b.length);
    return this.raw(b);
  }

  /** UTF-8 string with a u32 byte-length prefix. */
  string(s: string): this {
    return this.bytes(textEncoder.encode(s));
  }

  /** The encoding so far (a copy). */
  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

/** Reads canonical encodings, enforcing caller-declared bounds before any allocation. */
export class ByteReader {
  private pos = 0;
  private readonly view: DataView;

  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  /** Bytes not yet consumed. */
  get remaining(): number {
    return this.buf.length - this.pos;
  }

  /** How many bytes were consumed. */
  get offset(): number {
    return this.pos;
  }

  /** A view (not a copy) of the input between two offsets already read. */
  consumed(from: number, to: number): Uint8Array {
    return this.buf.subarray(from, to);
  }

  private need(n: number, field: string): void {
    if (this.remaining < n) throw new CodecError(field, `truncated: need ${n} bytes, have ${this.remaining}`);
  }

  u8(field: string): number {
    this.need(1, field);
    return this.buf[this.pos++]!;
  }

  u16(field: string): number {
    this.need(2, field);
    const v = this.view.getUint16(this.pos);
    this.pos += 2;
    return v;
  }

  u32(field: string): number {
    this.need(4, field);
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }

  u64(field: string): bigint {
    this.need(8, field);
    const v = this.view.getBigUint64(this.pos);
    this.pos += 8;
    return v;
  }

  bool(field: string): boolean {
    const v = this.u8(field);
    if (v > 1) throw new CodecError(field, `boolean must be 0 or 1, got ${v}`);
    return v === 1;
  }

  /** Exactly `n` raw bytes (copied). */
  raw(n: number, field: string): Uint8Array {
    this.need(n, field);
    const out = this.buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** A u32-prefixed byte string of at most `max` bytes. */
  bytes(max: number, field: string): Uint8Array {
    const n = this.u32(field);
    if (n > max) throw new CodecError(field, `length ${n} exceeds bound ${max}`);
    return this.raw(n, field);
  }

  /** A u32-prefixed UTF-8 string of at most `maxBytes` bytes; invalid UTF-8 is an error. */
  string(maxBytes: number, field: string): string {
    const b = this.bytes(maxBytes, field);
    try {
      return textDecoder.decode(b);
    } catch {
      throw new CodecError(field, 'invalid UTF-8');
    }
  }

  /** A u16 count (at most `max`) followed by that many items. */
  list<T>(max: number, field: string, item: (r: ByteReader, index: number) => T): T[] {
    const n = this.u16(field);
    if (n > max) throw new CodecError(field, `count ${n} exceeds bound ${max}`);
    const out: T[] = [];
    for (let i = 0; i < n; i++) out.push(item(this, i));
    return out;
  }

  /** Asserts the whole input was consumed. */
  finish(field: string): void {
    if (this.remaining !== 0) throw new CodecError(field, `${this.remaining} trailing bytes`);
  }
}

/** Writes a u16-counted list. */
export function writeList<T>(w: ByteWriter, items: readonly T[], item: (w: ByteWriter, v: T) => void): void {
  w.u16(items.length);
  for (const v of items) item(w, v);
}

export const U64_MAX_VALUE = U64_MAX;

/** Lower-case hex of a byte string. */
export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** Bytes of a lower-case even-length hex string. */
export function fromHex(s: string): Uint8Array {
  if (s.length % 2 !== 0 || !/^[0-9a-f]*$/.test(s))
    throw new TypeError(`not lower-case hex: ${s.slice(0, 16)}`);
  return new Uint8Array(Buffer.from(s, 'hex'));
}

/** Byte-wise equality. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Lexicographic byte comparison (-1, 0, 1). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

/** UTF-8 bytes of a string. */
export function utf8(s: string): Uint8Array {
  return textEncoder.encode(s);
}
