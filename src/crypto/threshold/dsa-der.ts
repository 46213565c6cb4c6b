/**
 * The few DER structures threshold DSA/ECDSA needs (ITU-T X.690 §8.1–8.3, §8.6, §8.7, §8.9; RFC 3279
 * §2.2.2 and §2.3.2; RFC 5958 §2; SEC 1 §C.5): DSA/ECDSA signatures `SEQUENCE { INTEGER r, INTEGER s }`,
 * the DSA SubjectPublicKeyInfo, and the DSA PKCS#8 private key, which node:crypto cannot export as JWK.
 *
 * Only definite lengths, minimal length octets and minimal non-negative INTEGERs are produced or accepted
 * (DER is canonical: one value, one encoding). The reader bounds every length by the input it was given.
 */
import { CodecError } from '../../codec/bytes.js';

/** DER tag numbers used here (X.690 §8.1.2, universal class). */
const TAG_INTEGER = 0x02;
const TAG_BIT_STRING = 0x03;
const TAG_OCTET_STRING = 0x04;
const TAG_OID = 0x06;
const TAG_SEQUENCE = 0x30;

/** id-dsa, 1.2.840.10040.4.1 (RFC 3279 §2.3.2), content octets. */
const OID_DSA = Uint8Array.from([0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x01]);

/** Largest DER object this module reads or writes (a 3072-bit DSA key is about 1.2 KiB). */
export const DER_BYTES_MAX = 16 * 1024;

function encodeLength(n: number): Uint8Array {
  if (n < 0x80) return Uint8Array.of(n);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

function tlv(tag: number, content: Uint8Array): Uint8Array {
  const len = encodeLength(content.length);
  const out = new Uint8Array(1 + len.length + content.length);
  out[0] = tag;
  out.set(len, 1);
  out.set(content, 1 + len.length);
  return out;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Minimal big-endian magnitude of a non-negative integer (empty for 0). */
function magnitude(v: bigint): Uint8Array {
  if (v === 0n) return new Uint8Array(0);
  let hex = v.toString(16);
  if (hex.length % 2 === 1) hex = '0' + hex;
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

/** DER INTEGER of a non-negative bigint (two's complement, minimal: a 0x00 pad only when the top bit is set). */
export function derInteger(v: bigint): Uint8Array {
  if (typeof v !== 'bigint' || v < 0n)
    throw new RangeError(`derInteger: expected a non-negative bigint, got ${String(v)}`);
  const m = magnitude(v);
  const content = m.length === 0 || (m[0]! & 0x80) !== 0 ? concat([Uint8Array.of(0), m]) : m;
  return tlv(TAG_INTEGER, content);
}

/** DER SEQUENCE of already-encoded elements. */
export function derSequence(elements: readonly Uint8Array[]): Uint8Array {
  return tlv(TAG_SEQUENCE, concat(elements));
}

/** A DSA/ECDSA signature as DER `SEQUENCE { INTEGER r, INTEGER s }` (RFC 3279 §2.2.2, SEC 1 §C.5). */
export function encodeDerSignature(r: bigint, s: bigint): Uint8Array {
  if (r <= 0n || s <= 0n)
    throw new RangeError(`encodeDerSignature: r and s must be positive, got r=${String(r)} s=${String(s)}`);
  return derSequence([derInteger(r), derInteger(s)]);
}

/** A DER element: tag, content and where the next element starts. */
interface DerElement {
  readonly tag: number;
  readonly content: Uint8Array;
  readonly end: number;
}

function readElement(buf: Uint8Array, pos: number, field: string): DerElement {
  if (pos + 2 > buf.length) throw new CodecError(field, 'truncated DER header');
  const tag = buf[pos]!;
  let len = buf[pos + 1]!;
  let off = pos + 2;
  if (len === 0x80) throw new CodecError(field, 'indefinite length is not DER');
  if (len > 0x80) {
    const count = len & 0x7f;
    if (count > 3) throw new CodecError(field, `length of ${count} octets exceeds bound`);
    if (off + count > buf.length) throw new CodecError(field, 'truncated DER length');
    len = 0;
    for (let i = 0; i < count; i++) len = len * 256 + buf[off + i]!;
    if (buf[off] === 0 || len < 0x80) throw new CodecError(field, 'non-minimal DER length');
    off += count;
  }
  if (off + len > buf.length)
    throw new CodecError(field, `DER length ${len} exceeds the ${buf.length - off} bytes left`);
  return { tag, content: buf.subarray(off, off + len), end: off + len };
}

function expectTag(e: DerElement, tag: number, field: string): Uint8Array {
  if (e.tag !== tag)
    throw new CodecError(field, `expected DER tag 0x${tag.toString(16)}, got 0x${e.tag.toString(16)}`);
  return e.content;
}

/** The elements of a SEQUENCE's content, all of them. */
function readAll(content: Uint8Array, field: string): DerElement[] {
  const out: DerElement[] = [];
  let pos = 0;
  while (pos < content.length) {
    const e = readElement(content, pos, field);
    out.push(e);
    pos = e.end;
  }
  return out;
}

/** A minimal non-negative DER INTEGER's value. */
function parseInteger(content: Uint8Array, field: string): bigint {
  if (content.length === 0) throw new CodecError(field, 'empty INTEGER');
  if ((content[0]! & 0x80) !== 0) throw new CodecError(field, 'negative INTEGER');
  if (content.length > 1 && content[0] === 0 && (content[1]! & 0x80) === 0)
    throw new CodecError(field, 'non-minimal INTEGER');
  return BigInt('0x' + Buffer.from(content).toString('hex'));
}

function parseTop(der: Uint8Array, field: string): Uint8Array {
  if (!(der instanceof Uint8Array)) throw new TypeError(`${field}: expected a Uint8Array`);
  if (der.length > DER_BYTES_MAX)
    throw new CodecError(field, `length ${der.length} exceeds bound ${DER_BYTES_MAX}`);
  const top = readElement(der, 0, field);
  if (top.end !== der.length) throw new CodecError(field, `${der.length - top.end} trailing bytes`);
  return expectTag(top, TAG_SEQUENCE, field);
}

/** Parses a DER `SEQUENCE { INTEGER r, INTEGER s }` strictly (canonical encoding only). */
export function decodeDerSignature(der: Uint8Array): { r: bigint; s: bigint } {
  const items = readAll(parseTop(der, 'signature'), 'signature');
  if (items.length !== 2)
    throw new CodecError('signature', `expected 2 INTEGERs, got ${items.length} elements`);
  return {
    r: parseInteger(expectTag(items[0]!, TAG_INTEGER, 'signature.r'), 'signature.r'),
    s: parseInteger(expectTag(items[1]!, TAG_INTEGER, 'signature.s'), 'signature.s'),
  };
}

/** DSA domain parameters and public key. */
export interface DsaPublicParts {
  readonly p: bigint;
  readonly q: bigint;
  readonly g: bigint;
  readonly y: bigint;
}

/**
 * DSA SubjectPublicKeyInfo (RFC 3279 §2.3.2): `SEQUENCE { SEQUENCE { OID id-dsa, SEQUENCE { p, q, g } },
 * BIT STRING { INTEGER y } }`.
 */
export function encodeDsaSpki(key: DsaPublicParts): Uint8Array {
  const algorithm = derSequence([
    tlv(TAG_OID, OID_DSA),
    derSequence([derInteger(key.p), derInteger(key.q), derInteger(key.g)]),
  ]);
  const bitString = tlv(TAG_BIT_STRING, concat([Uint8Array.of(0), derInteger(key.y)]));
  return derSequence([algorithm, bitString]);
}

/** PEM armour (RFC 7468 §2) with 64-character lines. */
export function pemEncode(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** DSA private key fields read from PKCS#8. */
export interface DsaPrivateParts {
  readonly p: bigint;
  readonly q: bigint;
  readonly g: bigint;
  readonly x: bigint;
}

/**
 * Reads p, q, g and x from an unencrypted DSA PKCS#8 `PrivateKeyInfo` (RFC 5958 §2 with the RFC 3279
 * §2.3.2 parameters; the private key is an OCTET STRING holding `INTEGER x`).
 */
export function parseDsaPkcs8(der: Uint8Array): DsaPrivateParts {
  const f = 'pkcs8';
  const items = readAll(parseTop(der, f), f);
  if (items.length < 3) throw new CodecError(f, `expected at least 3 elements, got ${items.length}`);
  const version = parseInteger(expectTag(items[0]!, TAG_INTEGER, `${f}.version`), `${f}.version`);
  if (version !== 0n) throw new CodecError(`${f}.version`, `expected 0, got ${String(version)}`);
  const alg = readAll(expectTag(items[1]!, TAG_SEQUENCE, `${f}.algorithm`), `${f}.algorithm`);
  if (alg.length !== 2)
    throw new CodecError(`${f}.algorithm`, `expected OID and parameters, got ${alg.length} elements`);
  const oid = expectTag(alg[0]!, TAG_OID, `${f}.algorithm.oid`);
  if (Buffer.compare(Buffer.from(oid), Buffer.from(OID_DSA)) !== 0)
    throw new CodecError(`${f}.algorithm.oid`, 'not id-dsa (1.2.840.10040.4.1)');
  const params = readAll(expectTag(alg[1]!, TAG_SEQUENCE, `${f}.parameters`), `${f}.parameters`);
  if (params.length !== 3)
    throw new CodecError(`${f}.parameters`, `expected p, q, g, got ${params.length} elements`);
  const [p, q, g] = params.map((e, i) =>
    parseInteger(expectTag(e, TAG_INTEGER, `${f}.parameters[${i}]`), `${f}.parameters[${i}]`),
  );
  const keyOctets = expectTag(items[2]!, TAG_OCTET_STRING, `${f}.privateKey`);
  const inner = readElement(keyOctets, 0, `${f}.privateKey`);
  if (inner.end !== keyOctets.length) throw new CodecError(`${f}.privateKey`, 'trailing bytes');
  const x = parseInteger(expectTag(inner, TAG_INTEGER, `${f}.privateKey.x`), `${f}.privateKey.x`);
  return { p: p!, q: q!, g: g!, x };
}
