/**
 * Ed25519 (RFC 8032) through node:crypto. Keys are created from a 32-byte seed so the simulator can derive
 * every identity from its seed; signatures are deterministic (RFC 8032 §5.1.6), which keeps runs replayable.
 */
import {
  createPrivateKey,
  createPublicKey,
  sign as nodeSign,
  verify as nodeVerify,
  type KeyObject,
} from 'node:crypto';

/** PKCS#8 DER prefix for an Ed25519 private key with a 32-byte seed (RFC 8410 §7). */
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
/** SPKI DER prefix for an Ed25519 public key (RFC 8410 §4). */
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export const PUBLIC_KEY_BYTES = 32;
export const SIGNATURE_BYTES = 64;
export const SEED_BYTES = 32;

/** An Ed25519 signing key with its raw public key. */
export interface SigningKey {
  readonly publicKey: Uint8Array;
  readonly seed: Uint8Array;
  readonly privateKey: KeyObject;
}

/** Builds a signing key from a 32-byte seed. */
export function signingKeyFromSeed(seed: Uint8Array): SigningKey {
  if (seed.length !== SEED_BYTES)
    throw new RangeError(`seed: expected ${SEED_BYTES} bytes, got ${seed.length}`);
  const privateKey = createPrivateKey({
    key: Buffer.concat([PKCS8_PREFIX, seed]),
    format: 'der',
    type: 'pkcs8',
  });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  const publicKey = new Uint8Array(spki.subarray(SPKI_PREFIX.length));
  return { publicKey, seed: new Uint8Array(seed), privateKey };
}

/** Signs `message` (64-byte signature). */
export function sign(key: SigningKey, message: Uint8Array): Uint8Array {
  return new Uint8Array(nodeSign(null, message, key.privateKey));
}

const PUBLIC_KEY_CACHE_MAX = 8192;
const publicKeyCache = new Map<string, KeyObject>();

function publicKeyObject(publicKey: Uint8Array): KeyObject {
  const k = Buffer.from(publicKey).toString('base64');
  let obj = publicKeyCache.get(k);
  if (obj === undefined) {
    obj = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' });
    if (publicKeyCache.size >= PUBLIC_KEY_CACHE_MAX) {
      const oldest = publicKeyCache.keys().next().value;
      if (oldest !== undefined) publicKeyCache.delete(oldest);
    }
    publicKeyCache.set(k, obj);
  }
  return obj;
}

let verifications = 0;

/** Verifies an Ed25519 signature; malformed keys or signatures verify as false, never throw. */
export function verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== PUBLIC_KEY_BYTES || signature.length !== SIGNATURE_BYTES) return false;
  verifications++;
  try {
    return nodeVerify(null, message, publicKeyObject(publicKey), signature);
  } catch {
    return false;
  }
}

/** Number of signature verifications performed by this process (metrics and benchmarks). */
export function verificationCount(): number {
  return verifications;
}
