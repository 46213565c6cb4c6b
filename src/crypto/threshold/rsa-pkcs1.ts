/**
 * RSA building blocks shared by the threshold RSA schemes: EMSA-PKCS1-v1_5 encoding (RFC 8017 §9.2) of a
 * SHA-256/384/512 digest, the integer ⇄ octet string conversions I2OSP/OS2IP (RFC 8017 §4), and RSA keys
 * in and out of PEM through node:crypto's JWK export/import (RFC 7517/7518 §6.3).
 *
 * The encoding is the standard one: `EM = 0x00 ‖ 0x01 ‖ PS ‖ 0x00 ‖ DigestInfo ‖ H` with at least 8 bytes
 * of 0xff in PS (RFC 8017 §9.2 step 3), so a threshold signature over EM is byte-for-byte the signature
 * `crypto.sign('sha256', data, key)` and `openssl dgst -sha256 -sign` produce with the whole key. (The Go
 * reference accepted 3 bytes of padding overhead, REFERENCE.md §8.1; we do not.)
 */
import {
  createPrivateKey,
  createPublicKey,
  createHash,
  constants,
  publicDecrypt,
  verify as nodeVerify,
  type KeyObject,
} from 'node:crypto';

/** The digests a threshold RSA signature can carry. */
export type RsaHash = 'sha256' | 'sha384' | 'sha512';

/** DER of DigestInfo up to the digest (RFC 8017 §9.2 note 1). */
const DIGEST_INFO_PREFIX: Readonly<Record<RsaHash, Uint8Array>> = {
  sha256: Uint8Array.from(Buffer.from('3031300d060960864801650304020105000420', 'hex')),
  sha384: Uint8Array.from(Buffer.from('3041300d060960864801650304020205000430', 'hex')),
  sha512: Uint8Array.from(Buffer.from('3051300d060960864801650304020305000440', 'hex')),
};

/** Digest length in bytes for each supported hash. */
export const DIGEST_BYTES: Readonly<Record<RsaHash, number>> = { sha256: 32, sha384: 48, sha512: 64 };

/** Wire identifiers of the hashes (one byte in encodings and proof transcripts). */
export const HASH_IDS: Readonly<Record<RsaHash, number>> = { sha256: 1, sha384: 2, sha512: 3 };

/** Smallest modulus accepted anywhere in the threshold RSA code (bits); tests use 512-bit moduli. */
export const MODULUS_BITS_MIN = 512;
/** Largest modulus accepted (bits); bounds every decoder and every exponentiation. */
export const MODULUS_BITS_MAX = 8192;
/** Largest public exponent accepted (bits). */
export const PUBLIC_EXPONENT_BITS_MAX = 64;

/** An RSA public key as integers. */
export interface RsaPublicKey {
  readonly n: bigint;
  readonly e: bigint;
}

/** An RSA private key as integers (only ever held by a dealer, and only until it has dealt). */
export interface RsaPrivateKey extends RsaPublicKey {
  readonly d: bigint;
  readonly p: bigint;
  readonly q: bigint;
}

/** What a threshold signature signs: a digest, the hash that made it, and the signing session's context. */
export interface RsaSignMessage {
  /** Session context bound into every proof (request id, key name, ...); at most CONTEXT_BYTES_MAX bytes. */
  readonly context: Uint8Array;
  readonly hash: RsaHash;
  readonly digest: Uint8Array;
}

/** Bound on RsaSignMessage.context. */
export const CONTEXT_BYTES_MAX = 1024;

/** True if `hash` names a supported digest. */
export function isRsaHash(hash: unknown): hash is RsaHash {
  return hash === 'sha256' || hash === 'sha384' || hash === 'sha512';
}

/** The hash name for a wire identifier, or undefined. */
export function hashFromId(id: number): RsaHash | undefined {
  return id === 1 ? 'sha256' : id === 2 ? 'sha384' : id === 3 ? 'sha512' : undefined;
}

/** Builds the sign message for `data`: hashes it with `hash` (default SHA-256). */
export function signMessageFor(
  data: Uint8Array,
  context: Uint8Array,
  hash: RsaHash = 'sha256',
): RsaSignMessage {
  if (!isRsaHash(hash)) throw new TypeError(`hash: expected sha256, sha384 or sha512, got ${String(hash)}`);
  return {
    context: Uint8Array.from(context),
    hash,
    digest: new Uint8Array(createHash(hash).update(data).digest()),
  };
}

/** Checks a sign message's fields (bad local argument → RangeError/TypeError naming the field). */
export function checkSignMessage(message: RsaSignMessage): void {
  if (!isRsaHash(message.hash))
    throw new TypeError(`message.hash: expected sha256, sha384 or sha512, got ${String(message.hash)}`);
  if (!(message.digest instanceof Uint8Array) || message.digest.length !== DIGEST_BYTES[message.hash])
    throw new RangeError(
      `message.digest: expected ${DIGEST_BYTES[message.hash]} bytes for ${message.hash}, got ${String(message.digest?.length)}`,
    );
  if (!(message.context instanceof Uint8Array) || message.context.length > CONTEXT_BYTES_MAX)
    throw new RangeError(
      `message.context: expected at most ${CONTEXT_BYTES_MAX} bytes, got ${String(message.context?.length)}`,
    );
}

/** Bit length of a positive integer (0 for 0). */
export function bitLength(x: bigint): number {
  if (x < 0n) throw new RangeError(`bitLength: negative input ${String(x)}`);
  return x === 0n ? 0 : x.toString(2).length;
}

/** Octet length of a modulus, `k` in RFC 8017. */
export function modulusBytes(n: bigint): number {
  return Math.ceil(bitLength(n) / 8);
}

/** I2OSP (RFC 8017 §4.1): `x` as exactly `length` big-endian bytes; RangeError if it does not fit. */
export function i2osp(x: bigint, length: number): Uint8Array {
  if (x < 0n) throw new RangeError(`i2osp: negative integer`);
  if (!Number.isInteger(length) || length < 0) throw new RangeError(`i2osp: bad length ${length}`);
  const hex = x === 0n ? '' : x.toString(16);
  if (hex.length > length * 2) throw new RangeError(`i2osp: integer too large for ${length} bytes`);
  return Uint8Array.from(Buffer.from(hex.padStart(length * 2, '0'), 'hex'));
}

/** OS2IP (RFC 8017 §4.2): big-endian bytes to a non-negative integer. */
export function os2ip(bytes: Uint8Array): bigint {
  if (bytes.length === 0) return 0n;
  return BigInt('0x' + Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex'));
}

/** Minimal big-endian bytes of a non-negative integer (empty for 0). */
export function bigintToBytes(x: bigint): Uint8Array {
  if (x < 0n) throw new RangeError(`bigintToBytes: negative integer`);
  const hex = x === 0n ? '' : x.toString(16);
  return i2osp(x, Math.ceil(hex.length / 2));
}

/**
 * EMSA-PKCS1-v1_5-ENCODE (RFC 8017 §9.2) of an already computed digest into an octet string of `emLen`
 * bytes: `0x00 ‖ 0x01 ‖ 0xff…(≥ 8) ‖ 0x00 ‖ DigestInfo`.
 */
export function emsaPkcs1v15(hash: RsaHash, digest: Uint8Array, emLen: number): Uint8Array {
  if (!isRsaHash(hash)) throw new TypeError(`hash: expected sha256, sha384 or sha512, got ${String(hash)}`);
  if (digest.length !== DIGEST_BYTES[hash])
    throw new RangeError(`digest: expected ${DIGEST_BYTES[hash]} bytes for ${hash}, got ${digest.length}`);
  const prefix = DIGEST_INFO_PREFIX[hash];
  const tLen = prefix.length + digest.length;
  // RFC 8017 §9.2 step 3: "intended encoded message length too short" unless emLen ≥ tLen + 11.
  if (emLen < tLen + 11)
    throw new RangeError(`emLen: ${emLen} bytes is too short for ${hash} (need at least ${tLen + 11})`);
  const em = new Uint8Array(emLen);
  em[0] = 0x00;
  em[1] = 0x01;
  em.fill(0xff, 2, emLen - tLen - 1);
  em[emLen - tLen - 1] = 0x00;
  em.set(prefix, emLen - tLen);
  em.set(digest, emLen - digest.length);
  return em;
}

/**
 * The PKCS#1 v1.5 message representative `m = OS2IP(EM)` for modulus `n` (RFC 8017 §8.2.1 steps 1–2,
 * with emLen = k). Invariant: 0 < m < n, because EM has k bytes and starts with 0x00.
 */
export function pkcs1Representative(n: bigint, hash: RsaHash, digest: Uint8Array): bigint {
  const m = os2ip(emsaPkcs1v15(hash, digest, modulusBytes(n)));
  if (!(m > 0n && m < n)) throw new Error('Invariant: PKCS#1 representative must lie in (0, n)');
  return m;
}

/** Checks that a public key's integers are in the supported ranges (RangeError naming the field). */
export function checkRsaPublicKey(key: RsaPublicKey, field = 'publicKey'): void {
  if (typeof key?.n !== 'bigint' || typeof key.e !== 'bigint')
    throw new TypeError(`${field}: expected { n: bigint, e: bigint }`);
  const bits = bitLength(key.n);
  if (bits < MODULUS_BITS_MIN || bits > MODULUS_BITS_MAX || (key.n & 1n) === 0n)
    throw new RangeError(
      `${field}.n: expected an odd modulus of ${MODULUS_BITS_MIN}..${MODULUS_BITS_MAX} bits, got ${bits} bits`,
    );
  if (key.e < 3n || (key.e & 1n) === 0n || bitLength(key.e) > PUBLIC_EXPONENT_BITS_MAX || key.e >= key.n)
    throw new RangeError(`${field}.e: expected an odd exponent ≥ 3 of at most 64 bits, got ${String(key.e)}`);
}

function b64url(x: bigint): string {
  return Buffer.from(bigintToBytes(x)).toString('base64url');
}

function fromB64url(s: unknown, field: string): bigint {
  if (typeof s !== 'string' || s.length === 0) throw new TypeError(`${field}: missing from the JWK export`);
  return os2ip(new Uint8Array(Buffer.from(s, 'base64url')));
}

/** The node:crypto public key object for an RSA public key. */
export function rsaPublicKeyObject(key: RsaPublicKey): KeyObject {
  checkRsaPublicKey(key);
  return createPublicKey({ key: { kty: 'RSA', n: b64url(key.n), e: b64url(key.e) }, format: 'jwk' });
}

/** An RSA public key as SubjectPublicKeyInfo PEM ("-----BEGIN PUBLIC KEY-----"). */
export function rsaPublicKeyToPem(key: RsaPublicKey): string {
  return rsaPublicKeyObject(key).export({ type: 'spki', format: 'pem' }).toString();
}

/** Parses an RSA public key from PEM (SPKI or PKCS#1); TypeError if it is not an RSA key. */
export function rsaPublicKeyFromPem(pem: string | Uint8Array): RsaPublicKey {
  const obj = createPublicKey({ key: typeof pem === 'string' ? pem : Buffer.from(pem), format: 'pem' });
  if (obj.asymmetricKeyType !== 'rsa')
    throw new TypeError(`pem: expected an RSA public key, got ${String(obj.asymmetricKeyType)}`);
  const jwk = obj.export({ format: 'jwk' });
  const key = { n: fromB64url(jwk.n, 'pem n'), e: fromB64url(jwk.e, 'pem e') };
  checkRsaPublicKey(key, 'pem');
  return key;
}

/**
 * Imports an RSA private key from PEM (PKCS#1 or PKCS#8, unencrypted) into its integers. The caller, the
 * importing client, must drop the PEM and the returned object once it has dealt the shares; JavaScript
 * cannot scrub strings or bigints, so erasure is limited to zeroing a byte buffer the caller passed in
 * (`pem` as a Uint8Array is zeroed when `erasePem` is true).
 */
export function rsaPrivateKeyFromPem(pem: string | Uint8Array, erasePem = false): RsaPrivateKey {
  let obj: KeyObject;
  try {
    obj = createPrivateKey({ key: typeof pem === 'string' ? pem : Buffer.from(pem), format: 'pem' });
  } finally {
    if (erasePem && pem instanceof Uint8Array) pem.fill(0);
  }
  if (obj.asymmetricKeyType !== 'rsa')
    throw new TypeError(`pem: expected an RSA private key, got ${String(obj.asymmetricKeyType)}`);
  const jwk = obj.export({ format: 'jwk' });
  const key: RsaPrivateKey = {
    n: fromB64url(jwk.n, 'pem n'),
    e: fromB64url(jwk.e, 'pem e'),
    d: fromB64url(jwk.d, 'pem d'),
    p: fromB64url(jwk.p, 'pem p'),
    q: fromB64url(jwk.q, 'pem q'),
  };
  checkRsaPrivateKey(key);
  return key;
}

/** Checks that a private key is consistent: n = p·q and e·d ≡ 1 modulo p − 1 and modulo q − 1. */
export function checkRsaPrivateKey(key: RsaPrivateKey): void {
  checkRsaPublicKey(key, 'privateKey');
  if (typeof key.d !== 'bigint' || typeof key.p !== 'bigint' || typeof key.q !== 'bigint')
    throw new TypeError('privateKey: expected bigint d, p and q');
  if (key.p <= 1n || key.q <= 1n || key.p * key.q !== key.n) throw new RangeError('privateKey: n ≠ p·q');
  if (key.d <= 0n || key.d >= key.n) throw new RangeError('privateKey.d: out of range (0, n)');
  // e·d ≡ 1 modulo lcm(p−1, q−1) (RFC 8017 §3.2); checked modulo p−1 and q−1 separately.
  if ((key.e * key.d) % (key.p - 1n) !== 1n || (key.e * key.d) % (key.q - 1n) !== 1n)
    throw new RangeError('privateKey.d: e·d ≢ 1 (mod λ(n))');
}

/** The public half of an RSA private key. */
export function rsaPublicKeyOf(key: RsaPrivateKey): RsaPublicKey {
  return { n: key.n, e: key.e };
}

/**
 * Verifies a PKCS#1 v1.5 signature over `message`'s digest with node:crypto: the independent check every
 * combiner runs before it returns a signature. `publicDecrypt` with RSA_PKCS1_PADDING computes s^e mod n
 * and checks the block-type-1 structure (0x00 ‖ 0x01 ‖ ≥ 8 × 0xff ‖ 0x00, OpenSSL
 * RSA_padding_check_PKCS1_type_1); the payload must then equal DigestInfo ‖ digest exactly. Never throws
 * on a malformed signature.
 */
export function verifyPkcs1Digest(
  key: RsaPublicKey,
  message: RsaSignMessage,
  signature: Uint8Array,
): boolean {
  checkSignMessage(message);
  if (!(signature instanceof Uint8Array) || signature.length !== modulusBytes(key.n)) return false;
  let payload: Buffer;
  try {
    payload = publicDecrypt(
      { key: rsaPublicKeyObject(key), padding: constants.RSA_PKCS1_PADDING },
      Buffer.from(signature),
    );
  } catch {
    return false;
  }
  const expected = Buffer.concat([DIGEST_INFO_PREFIX[message.hash], message.digest]);
  return payload.length === expected.length && payload.equals(expected);
}

/** Verifies a PKCS#1 v1.5 SHA-2 signature over `data` with node:crypto's standard `verify`. */
export function verifyPkcs1Data(
  key: RsaPublicKey,
  hash: RsaHash,
  data: Uint8Array,
  signature: Uint8Array,
): boolean {
  try {
    return nodeVerify(
      hash,
      data,
      { key: rsaPublicKeyObject(key), padding: constants.RSA_PKCS1_PADDING },
      signature,
    );
  } catch {
    return false;
  }
}
