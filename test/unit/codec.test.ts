// Canonical bounded encoding (src/codec/bytes.ts, docs/PROTOCOL.md §Encoding): round trips, truncation,
// trailing bytes, bounds checked before allocation, strict UTF-8 and booleans, and compareBytes against a
// naive reference.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import {
  ByteReader,
  ByteWriter,
  CodecError,
  U64_MAX_VALUE,
  bytesEqual,
  compareBytes,
  fromHex,
  toHex,
  writeList,
} from '../../src/codec/bytes.js';
import { LIMITS } from '../../src/limits.js';

/** One field of a generated schema, with the value written. */
type Field =
  | { readonly kind: 'u8'; readonly v: number }
  | { readonly kind: 'u16'; readonly v: number }
  | { readonly kind: 'u32'; readonly v: number }
  | { readonly kind: 'u64'; readonly v: bigint }
  | { readonly kind: 'bool'; readonly v: boolean }
  | { readonly kind: 'bytes'; readonly v: Uint8Array }
  | { readonly kind: 'string'; readonly v: string }
  | { readonly kind: 'list'; readonly v: readonly number[] };

const BYTES_MAX = 64;
const STRING_MAX = 256;
const LIST_MAX = 16;

// Includes strings that begin with U+FEFF: the decoder keeps a leading BOM (one encoding per value).
const stringArb = fc
  .string({ unit: 'binary', maxLength: 16 })
  .filter((s) => Buffer.byteLength(s) <= STRING_MAX);

const fieldArb: fc.Arbitrary<Field> = fc.oneof(
  fc.integer({ min: 0, max: 0xff }).map((v): Field => ({ kind: 'u8', v })),
  fc.integer({ min: 0, max: 0xffff }).map((v): Field => ({ kind: 'u16', v })),
  fc.integer({ min: 0, max: 0xffffffff }).map((v): Field => ({ kind: 'u32', v })),
  fc.bigInt({ min: 0n, max: U64_MAX_VALUE }).map((v): Field => ({ kind: 'u64', v })),
  fc.boolean().map((v): Field => ({ kind: 'bool', v })),
  fc.uint8Array({ maxLength: BYTES_MAX }).map((v): Field => ({ kind: 'bytes', v })),
  stringArb.map((v): Field => ({ kind: 'string', v })),
  fc
    .array(fc.integer({ min: 0, max: 0xffff }), { maxLength: LIST_MAX })
    .map((v): Field => ({ kind: 'list', v })),
);

function writeFields(fields: readonly Field[]): Uint8Array {
  const w = new ByteWriter(1);
  for (const f of fields) {
    switch (f.kind) {
      case 'u8':
        w.u8(f.v);
        break;
      case 'u16':
        w.u16(f.v);
        break;
      case 'u32':
        w.u32(f.v);
        break;
      case 'u64':
        w.u64(f.v);
        break;
      case 'bool':
        w.bool(f.v);
        break;
      case 'bytes':
        w.bytes(f.v);
        break;
      case 'string':
        w.string(f.v);
        break;
      case 'list':
        writeList(w, f.v, (w2, n) => w2.u16(n));
        break;
    }
  }
  return w.finish();
}

/** Reads back `fields`' schema from `b` and returns the values read (finish() included). */
function readFields(fields: readonly Field[], b: Uint8Array): Field[] {
  const r = new ByteReader(b);
  const out = fields.map((f, i): Field => {
    const name = `field${i}`;
    switch (f.kind) {
      case 'u8':
        return { kind: 'u8', v: r.u8(name) };
      case 'u16':
        return { kind: 'u16', v: r.u16(name) };
      case 'u32':
        return { kind: 'u32', v: r.u32(name) };
      case 'u64':
        return { kind: 'u64', v: r.u64(name) };
      case 'bool':
        return { kind: 'bool', v: r.bool(name) };
      case 'bytes':
        return { kind: 'bytes', v: r.bytes(BYTES_MAX, name) };
      case 'string':
        return { kind: 'string', v: r.string(STRING_MAX, name) };
      case 'list':
        return { kind: 'list', v: r.list(LIST_MAX, name, (rr) => rr.u16(`${name}.item`)) };
    }
  });
  r.finish('fields');
  return out;
}

/** Runs `fn` and asserts it throws a CodecError (and nothing else). */
function assertCodecError(fn: () => unknown, message?: string): CodecError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof CodecError, `${message ?? ''} expected CodecError, got ${String(e)}`);
    return e;
  }
  assert.fail(`${message ?? ''} expected CodecError, nothing thrown`);
}

/** Deliberately naive lexicographic order: via arrays of numbers and an explicit loop. */
function naiveCompare(a: Uint8Array, b: Uint8Array): number {
  const x = Array.from(a);
  const y = Array.from(b);
  for (let i = 0; ; i++) {
    if (i === x.length && i === y.length) return 0;
    if (i === x.length) return -1;
    if (i === y.length) return 1;
    if (x[i]! < y[i]!) return -1;
    if (x[i]! > y[i]!) return 1;
  }
}

void test('round trips every field type in any sequence (property)', () => {
  fc.assert(
    fc.property(fc.array(fieldArb, { maxLength: 12 }), (fields) => {
      const b = writeFields(fields);
      assert.deepEqual(readFields(fields, b), fields);
    }),
    { numRuns: 300 },
  );
});

void test('encodes integers fixed-width big-endian and lengths as u32 / counts as u16 (known answers)', () => {
  const b = new ByteWriter()
    .u8(0xab)
    .u16(0x0102)
    .u32(0x03040506)
    .u64(0x0708090a0b0c0d0en)
    .bool(true)
    .bool(false)
    .bytes(Uint8Array.of(0xee))
    .string('é')
    .finish();
  assert.equal(
    toHex(b),
    'ab' + '0102' + '03040506' + '0708090a0b0c0d0e' + '01' + '00' + '00000001ee' + '00000002c3a9',
  );
  const w = new ByteWriter();
  writeList(w, [1, 2], (w2, n) => w2.u8(n));
  assert.equal(toHex(w.finish()), '00020102');
});

void test('rejects truncation at every prefix length of a valid encoding with CodecError only (property)', () => {
  fc.assert(
    fc.property(fc.array(fieldArb, { minLength: 1, maxLength: 8 }), (fields) => {
      const b = writeFields(fields);
      for (let n = 0; n < b.length; n++)
        assertCodecError(() => readFields(fields, b.subarray(0, n)), `prefix ${n}`);
    }),
    { numRuns: 150 },
  );
});

void test('rejects trailing bytes via finish()', () => {
  fc.assert(
    fc.property(
      fc.array(fieldArb, { maxLength: 6 }),
      fc.uint8Array({ minLength: 1, maxLength: 8 }),
      (fields, extra) => {
        const b = writeFields(fields);
        const padded = new Uint8Array([...b, ...extra]);
        const e = assertCodecError(() => readFields(fields, padded));
        assert.match(e.message, /trailing/);
      },
    ),
    { numRuns: 100 },
  );
  const r = new ByteReader(Uint8Array.of(1, 2));
  r.u8('a');
  assert.equal(r.remaining, 1);
  assertCodecError(() => r.finish('whole'));
});

void test('rejects a byte-string length above the declared bound before allocating', () => {
  // u32 length 0xffffffff with a 4-byte buffer: must be refused from the prefix alone, quickly.
  const huge = Uint8Array.of(0xff, 0xff, 0xff, 0xff);
  const started = process.hrtime.bigint();
  const e = assertCodecError(() => new ByteReader(huge).bytes(LIMITS.valueBytesMax, 'v'));
  assert.equal(e.field, 'v');
  assert.match(e.reason, /exceeds bound/);
  assertCodecError(() => new ByteReader(huge).string(LIMITS.uidBytesMax, 'uid'));
  // Even with a bound that admits the length, the reader checks what is there before copying.
  const e2 = assertCodecError(() => new ByteReader(huge).bytes(0xffffffff, 'v'));
  assert.match(e2.reason, /truncated/);
  assert.ok(process.hrtime.bigint() - started < 200_000_000n, 'bounded reads must not allocate 4 GiB');
  // One byte over the bound is refused even when the bytes are present.
  const w = new ByteWriter().bytes(new Uint8Array(9));
  assertCodecError(() => new ByteReader(w.finish()).bytes(8, 'b'));
  assert.equal(new ByteReader(w.finish()).bytes(9, 'b').length, 9);
});

void test('rejects a list count above the declared bound before reading any item', () => {
  let itemsRead = 0;
  const e = assertCodecError(() =>
    new ByteReader(Uint8Array.of(0xff, 0xff)).list(LIMITS.certificationsMax, 'list', (r) => {
      itemsRead++;
      return r.u8('item');
    }),
  );
  assert.match(e.reason, /exceeds bound/);
  assert.equal(itemsRead, 0);
  // A count within the bound but with missing items is a truncation.
  assertCodecError(() => new ByteReader(Uint8Array.of(0, 3, 1)).list(8, 'list', (r) => r.u8('item')));
});

void test('rejects invalid UTF-8', () => {
  const invalid: ReadonlyArray<readonly number[]> = [
    [0xff], // never valid
    [0xc0, 0x80], // overlong NUL
    [0xe0, 0x80, 0x80], // overlong
    [0xed, 0xa0, 0x80], // encoded surrogate U+D800
    [0xe2, 0x82], // truncated sequence
    [0x80], // lone continuation byte
    [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
  ];
  for (const seq of invalid) {
    const b = new ByteWriter().bytes(Uint8Array.from(seq)).finish();
    const e = assertCodecError(() => new ByteReader(b).string(16, 's'), toHex(Uint8Array.from(seq)));
    assert.match(e.reason, /UTF-8/);
  }
  const ok = new ByteWriter().bytes(Uint8Array.of(0xe2, 0x82, 0xac)).finish();
  assert.equal(new ByteReader(ok).string(16, 's'), '€');
});

void test('rejects booleans other than 0 and 1', () => {
  assert.equal(new ByteReader(Uint8Array.of(0)).bool('b'), false);
  assert.equal(new ByteReader(Uint8Array.of(1)).bool('b'), true);
  for (let v = 2; v <= 0xff; v++)
    assertCodecError(() => new ByteReader(Uint8Array.of(v)).bool('b'), `byte ${v}`);
});

void test('refuses out-of-range integers on write with RangeError', () => {
  assert.throws(() => new ByteWriter().u64(-1n), RangeError);
  assert.throws(() => new ByteWriter().u64(U64_MAX_VALUE + 1n), RangeError);
  assert.throws(() => new ByteWriter().u64(1n << 80n), RangeError);
  assert.equal(toHex(new ByteWriter().u64(U64_MAX_VALUE).finish()), 'ff'.repeat(8));
  assert.equal(toHex(new ByteWriter().u64(0n).finish()), '00'.repeat(8));
  for (const bad of [-1, 256, 1.5, Number.NaN]) assert.throws(() => new ByteWriter().u8(bad), RangeError);
  for (const bad of [-1, 0x10000, 0.5]) assert.throws(() => new ByteWriter().u16(bad), RangeError);
  for (const bad of [-1, 0x100000000, 2.5, Number.POSITIVE_INFINITY])
    assert.throws(() => new ByteWriter().u32(bad), RangeError);
});

void test('compareBytes agrees with a naive lexicographic comparator (property)', () => {
  const small = fc.uint8Array({ maxLength: 8 }).map((b) => b.map((x) => x % 4)); // many common prefixes
  fc.assert(
    fc.property(small, small, (a, b) => {
      assert.equal(compareBytes(a, b), naiveCompare(a, b));
      assert.equal(compareBytes(b, a), naiveCompare(b, a));
      assert.equal(bytesEqual(a, b), naiveCompare(a, b) === 0);
    }),
    { numRuns: 1000 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 32 }), (a) => {
      assert.equal(compareBytes(a, a.slice()), 0);
      assert.deepEqual(fromHex(toHex(a)), a);
    }),
  );
});

void test('fromHex rejects odd-length, upper-case and non-hex input', () => {
  for (const bad of ['a', 'AB', '0g', ' 00']) assert.throws(() => fromHex(bad), TypeError);
  assert.deepEqual(fromHex(''), new Uint8Array(0));
});

void test('decodes a string beginning with U+FEFF to itself (one encoding per value)', () => {
  const b = new ByteWriter().string('\uFEFFabc').finish();
  assert.equal(new ByteReader(b).string(16, 's'), '\uFEFFabc');
});

void test('grows from a zero initial capacity', () => {
  // Run in a child process with a deadline: the bug is an infinite loop that would hang this runner.
  const url = new URL('../../src/codec/bytes.ts', import.meta.url).href;
  const code = `const { ByteWriter } = await import(${JSON.stringify(url)}); new ByteWriter(0).u8(1); console.log('ok');`;
  const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: new URL('../..', import.meta.url),
    timeout: 10_000,
    encoding: 'utf8',
  });
  assert.equal(child.stdout.trim(), 'ok', `child did not finish (signal ${String(child.signal)})`);
});
