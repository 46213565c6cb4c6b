/**
 * Per-recipient encryption of secret shares relayed by a client (there is no server-to-server channel):
 * an ECIES-style sealed box from node:crypto primitives — X25519 (RFC 7748 §6.1) between a fresh
 * ephemeral key and the recipient's static key, HKDF-SHA256 (RFC 5869) and AES-256-GCM (NIST SP 800-38D).
 *
 * The associated data names the session, the sender and the recipient, so a sealed share cannot be moved
 * to another session or another recipient. Sealing gives secrecy only: the sender signs the whole message
 * that carries the box (gjkr-messages.ts), so the relaying client cannot substitute its own box.
 *
 * Box layout: ephemeral public key (32) ‖ ciphertext ‖ GCM tag (16). The key is derived from a fresh
 * ephemeral key and the associated data, so the all-zero IV is never reused under one key.
 */
import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  hkdfSync,
  type KeyObject,
} from 'node:crypto';
import { setBounded } from '../../collections/bounded.js';
import type { Random } from '../../env/random.js';
import { sha256 } from '../hash.js';

/** Size of an X25519 secret or public key. */
export const X25519_KEY_BYTES = 32;
/** Bytes a sealed box adds to its plaintext. */
export const SEAL_OVERHEAD_BYTES = X25519_KEY_BYTES + 16;

/** PKCS#8 DER prefix for an X25519 private key (RFC 8410 §7). */
const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
/** SPKI DER prefix for an X25519 public key (RFC 8410 §4). */
const SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');
const HKDF_INFO = 'bftkv gjkr seal v1';
const IV = Buffer.alloc(12);

/** An X25519 key pair in raw form. */
export interface X25519KeyPair {
  readonly secretKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

function privateKeyObject(secretKey: Uint8Array): KeyObject {
  const der = Buffer.concat([PKCS8_PREFIX, secretKey]);
  try {
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } finally {
    der.fill(0);
  }
}

function publicKeyObject(publicKey: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' });
}

// Importing a key into OpenSSL costs about ten times the X25519 operation itself, so the long-lived keys
// are imported once: recipients' public keys by value (bounded), a party's own secret key per key pair.
const RECIPIENT_KEYS_MAX = 1024;
const recipientKeys = new Map<string, KeyObject>();
const ownKeys = new WeakMap<Uint8Array, KeyObject>();

function recipientKeyObject(publicKey: Uint8Array): KeyObject {
  const id = Buffer.from(publicKey).toString('hex');
  let key = recipientKeys.get(id);
  if (key === undefined) {
    key = publicKeyObject(publicKey);
    setBounded(recipientKeys, id, key, RECIPIENT_KEYS_MAX);
  }
  return key;
}

function ownKeyObject(pair: X25519KeyPair): KeyObject {
  let key = ownKeys.get(pair.secretKey);
  if (key === undefined) {
    key = privateKeyObject(pair.secretKey);
    ownKeys.set(pair.secretKey, key);
  }
  return key;
}

/** The X25519 key pair of a 32-byte secret (RFC 7748 clamps it). */
export function x25519KeyPair(secretKey: Uint8Array): X25519KeyPair {
  if (!(secretKey instanceof Uint8Array) || secretKey.length !== X25519_KEY_BYTES)
    throw new RangeError(
      `x25519KeyPair: secretKey must be ${X25519_KEY_BYTES} bytes, got ${String(secretKey?.length)}`,
    );
  const spki = createPublicKey(privateKeyObject(secretKey)).export({ format: 'der', type: 'spki' });
  return {
    secretKey: new Uint8Array(secretKey),
    publicKey: new Uint8Array(spki.subarray(SPKI_PREFIX.length)),
  };
}

function boxKey(
  shared: Buffer,
  ephemeralPublic: Uint8Array,
  recipientPublic: Uint8Array,
  aad: Uint8Array,
): Buffer {
  const salt = Buffer.concat([ephemeralPublic, recipientPublic]);
  const info = Buffer.concat([Buffer.from(HKDF_INFO), sha256(aad)]);
  return Buffer.from(hkdfSync('sha256', shared, salt, info, 32));
}

/** Seals `plaintext` to `recipientPublicKey`, bound to `aad`. */
export function seal(
  recipientPublicKey: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
  random: Random,
): Uint8Array {
  if (!(recipientPublicKey instanceof Uint8Array) || recipientPublicKey.length !== X25519_KEY_BYTES)
    throw new RangeError(`seal: recipientPublicKey must be ${X25519_KEY_BYTES} bytes`);
  const ephemeralSecret = random.bytes(X25519_KEY_BYTES);
  const ephemeralKey = privateKeyObject(ephemeralSecret);
  ephemeralSecret.fill(0);
  const ephemeralPublic = new Uint8Array(
    createPublicKey(ephemeralKey).export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length),
  );
  const shared = diffieHellman({
    privateKey: ephemeralKey,
    publicKey: recipientKeyObject(recipientPublicKey),
  });
  const key = boxKey(shared, ephemeralPublic, recipientPublicKey, aad);
  const cipher = createCipheriv('aes-256-gcm', key, IV);
  cipher.setAAD(aad);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  key.fill(0);
  shared.fill(0);
  return new Uint8Array(Buffer.concat([ephemeralPublic, body, cipher.getAuthTag()]));
}

/** Opens a sealed box; undefined when it is malformed, not for this key, or not bound to `aad`. */
export function open(recipient: X25519KeyPair, box: Uint8Array, aad: Uint8Array): Uint8Array | undefined {
  if (!(box instanceof Uint8Array) || box.length < SEAL_OVERHEAD_BYTES) return undefined;
  const ephemeralPublic = box.subarray(0, X25519_KEY_BYTES);
  const body = box.subarray(X25519_KEY_BYTES, box.length - 16);
  const tag = box.subarray(box.length - 16);
  try {
    const shared = diffieHellman({
      privateKey: ownKeyObject(recipient),
      publicKey: publicKeyObject(ephemeralPublic),
    });
    const key = boxKey(shared, ephemeralPublic, recipient.publicKey, aad);
    shared.fill(0);
    const decipher = createDecipheriv('aes-256-gcm', key, IV);
    decipher.setAAD(aad);
    decipher.setAuthTag(tag);
    const out = Buffer.concat([decipher.update(body), decipher.final()]);
    key.fill(0);
    const plaintext = new Uint8Array(out);
    out.fill(0);
    return plaintext;
  } catch {
    return undefined;
  }
}
