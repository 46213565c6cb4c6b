/**
 * SHA-256 (FIPS 180-4) through node:crypto, with domain separation: every hash and every signed
 * statement in bftkv starts with a distinct ASCII tag so no message of one kind can be read as another.
 */
import { createHash } from 'node:crypto';

/** SHA-256 of the concatenation of `parts`. */
export function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}
