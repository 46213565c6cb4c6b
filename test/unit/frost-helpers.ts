/**
 * FROST(Ed25519) test set-up shared by rfc9591-frost.test.ts and x509.test.ts: an in-process DKG among n
 * participants (fresh X25519 static keys unless given), signer endpoints for `frostSign`, and OpenSSL's
 * Ed25519 verification (also used by ca-scheme-frost.test.ts).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  checkDkgAgreement,
  FrostDkgParticipant,
  FrostSigner,
  x25519PublicKey,
  type FrostGroupKey,
  type FrostKeyShare,
  type FrostSignerEndpoint,
} from '../../src/crypto/threshold/frost-ed25519.js';
import { secureRandom } from '../../src/env/random.js';

/** A finished DKG: the agreed group key and every participant's share (shares[i-1] is participant i's). */
export interface Dkg {
  group: FrostGroupKey;
  shares: FrostKeyShare[];
}

/** The n participants of one DKG session with threshold t. */
export function dkgParticipants(
  n: number,
  t: number,
  sessionId = secureRandom.bytes(32),
  statics = Array.from({ length: n }, () => secureRandom.bytes(32)),
): FrostDkgParticipant[] {
  const publics = statics.map(x25519PublicKey);
  return statics.map(
    (sk, k) =>
      new FrostDkgParticipant({
        sessionId,
        index: k + 1,
        threshold: t,
        participants: n,
        staticPrivateKey: sk,
        staticPublicKeys: publics,
        random: secureRandom,
      }),
  );
}

/** Runs a whole DKG with every message relayed faithfully; checks that all agree on the group key. */
export function runDkg(n: number, t: number): Dkg {
  const parties = dkgParticipants(n, t);
  const round1 = parties.map((p) => p.round1);
  const round2 = parties.flatMap((p) => p.round2Packages(round1));
  const shares = parties.map((p) => p.finish(round2.filter((m) => m.recipient === p.index)));
  const group = checkDkgAgreement(shares);
  return { group, shares };
}

/** A signer reached in-process. */
export function endpoint(signer: FrostSigner): FrostSignerEndpoint {
  return {
    index: signer.index,
    commit: async (r) => signer.commit(r),
    sign: async (r) => signer.sign(r),
  };
}

/** Endpoints of fresh signers for `shares` (only the indices in `only`, when given). */
export function endpoints(shares: readonly FrostKeyShare[], only?: readonly number[]): FrostSignerEndpoint[] {
  return shares
    .filter((s) => only === undefined || only.includes(s.index))
    .map((s) => endpoint(new FrostSigner(s, secureRandom)));
}

/** `openssl pkeyutl -verify -rawin`: true when OpenSSL accepts the Ed25519 signature. */
export function opensslVerifies(publicKeyPem: string, message: Uint8Array, signature: Uint8Array): boolean {
  const dir = mkdtempSync(join(tmpdir(), 'frost-'));
  try {
    writeFileSync(join(dir, 'pub.pem'), publicKeyPem);
    writeFileSync(join(dir, 'data.bin'), message);
    writeFileSync(join(dir, 'sig.bin'), signature);
    const out = execFileSync(
      'openssl',
      [
        'pkeyutl',
        '-verify',
        '-pubin',
        '-inkey',
        'pub.pem',
        '-rawin',
        '-in',
        'data.bin',
        '-sigfile',
        'sig.bin',
      ],
      { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    return out.includes('Signature Verified Successfully');
  } catch {
    return false;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
