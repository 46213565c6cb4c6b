/**
 * Independent verifiers for the threshold RSA tests: node:crypto's standard `verify` and the OpenSSL command
 * line (`openssl dgst -<hash> -verify pub.pem -signature sig.bin data.bin`) run in a temporary directory.
 */
import { execFileSync } from 'node:child_process';
import { constants, verify } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RsaHash } from '../../src/crypto/threshold/rsa-pkcs1.js';

/** node:crypto verify with PKCS#1 v1.5 padding over the raw data. */
export function nodeVerifies(
  publicKeyPem: string,
  hash: RsaHash,
  data: Uint8Array,
  signature: Uint8Array,
): boolean {
  return verify(hash, data, { key: publicKeyPem, padding: constants.RSA_PKCS1_PADDING }, signature);
}

/** OpenSSL's command line verifies the signature ("Verified OK", exit status 0). */
export function opensslVerifies(
  publicKeyPem: string,
  hash: RsaHash,
  data: Uint8Array,
  signature: Uint8Array,
): boolean {
  const dir = mkdtempSync(join(tmpdir(), 'bftkv-rsa-'));
  try {
    writeFileSync(join(dir, 'pub.pem'), publicKeyPem);
    writeFileSync(join(dir, 'data.bin'), data);
    writeFileSync(join(dir, 'sig.bin'), signature);
    const out = execFileSync(
      'openssl',
      ['dgst', `-${hash}`, '-verify', 'pub.pem', '-signature', 'sig.bin', 'data.bin'],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
    ).toString();
    return out.includes('Verified OK');
  } catch {
    return false;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** All k-element subsets of items (lexicographic). */
export function subsets<T>(items: readonly T[], k: number): T[][] {
  if (k === 0) return [[]];
  if (items.length < k) return [];
  const [first, ...rest] = items;
  return [...subsets(rest, k - 1).map((s) => [first!, ...s]), ...subsets(rest, k)];
}

/** 1..n. */
export function range1(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1);
}
