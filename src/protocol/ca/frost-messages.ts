/**
 * Canonical, bounded binary encodings of every body of the FROST(Ed25519) CA scheme (scheme-frost.ts;
 * RFC 9591, Komlo–Goldberg DKG), with ByteReader/ByteWriter (src/codec/bytes.ts).
 *
 * Each body opens with a tag byte naming what it is, so a body of one step never decodes as another. Points
 * and scalars are fixed 32-byte strings (RFC 8032 / RFC 9591 §3.1 encodings; their validity is checked by
 * the crypto layer, which names the sender); counts are exact where n and t fix them, lists of indices are
 * strictly increasing, and a reader rejects trailing bytes. A node-key-signed message is
 * `bytes(payload) ‖ bytes(signature)` so the signature covers exactly the payload bytes that were read.
 */
import { ByteReader, ByteWriter, CodecError, writeList } from '../../codec/bytes.js';
import type { FrostGroupKey } from '../../crypto/threshold/frost-ed25519.js';

/** Largest group (indices are u16 on the wire, noble's FROST caps n too). */
export const FROST_PARTICIPANTS_MAX = 255;
/** Largest node-key signature accepted (Ed25519 gives 64). */
export const NODE_SIGNATURE_BYTES_MAX = 512;
/** Signing attempts per session (u8 on the wire); the coordinator needs at most b + 1. */
export const FROST_ATTEMPTS_MAX = 16;

const POINT_BYTES = 32;
const SCALAR_BYTES = 32;
const DIGEST_BYTES = 32;
const PROOF_BYTES = 64;
const X25519_BYTES = 32;
const IV_BYTES = 12;
/** AES-256-GCM of a 32-byte share with its 16-byte tag. */
const PACKAGE_CIPHERTEXT_BYTES = 48;
/** gjkr-seal box of a 32-byte share: ephemeral key, ciphertext, tag. */
export const IMPORT_BOX_BYTES = 32 + 32 + 16;

/** Tag bytes: requests 0x0_/0x1_, answers 0x8_/0x9_, stored data 0xF_. */
export const TAG = {
  dkgOpen: 0x01,
  dkgBroadcasts: 0x02,
  dkgPackages: 0x03,
  keyConfirmations: 0x04,
  importDeal: 0x05,
  signCommit: 0x11,
  signShare: 0x12,
  round1: 0x81,
  packages: 0x82,
  confirm: 0x83,
  complaint: 0x84,
  stored: 0x85,
  commitment: 0x91,
  signatureShare: 0x92,
  groupKey: 0xf1,
  keyShare: 0xf2,
} as const;

function expectTag(r: ByteReader, tag: number, field: string): void {
  const t = r.u8(`${field}.tag`);
  if (t !== tag)
    throw new CodecError(`${field}.tag`, `expected 0x${tag.toString(16)}, got 0x${t.toString(16)}`);
}

function readIndex(r: ByteReader, n: number, field: string): number {
  const i = r.u16(field);
  if (i < 1 || i > n) throw new CodecError(field, `expected an index 1..${n}, got ${i}`);
  return i;
}

function readCount(r: ByteReader, min: number, max: number, field: string): number {
  const c = r.u16(field);
  if (c < min || c > max) throw new CodecError(field, `expected ${min}..${max} entries, got ${c}`);
  return c;
}

function readParameters(r: ByteReader, field: string): { n: number; t: number } {
  const n = r.u16(`${field}.n`);
  if (n < 2 || n > FROST_PARTICIPANTS_MAX)
    throw new CodecError(`${field}.n`, `expected 2..${FROST_PARTICIPANTS_MAX}, got ${n}`);
  const t = r.u16(`${field}.t`);
  if (t < 2 || t > n) throw new CodecError(`${field}.t`, `expected 2..${n}, got ${t}`);
  return { n, t };
}

function readAttempt(r: ByteReader, field: string): number {
  const a = r.u8(field);
  if (a >= FROST_ATTEMPTS_MAX) throw new CodecError(field, `expected 0..${FROST_ATTEMPTS_MAX - 1}, got ${a}`);
  return a;
}

/** Reads a strictly increasing index (canonical order) after `previous`. */
function readNextIndex(r: ByteReader, n: number, previous: number, field: string): number {
  const i = readIndex(r, n, field);
  if (i <= previous)
    throw new CodecError(field, `indices must be strictly increasing, got ${i} after ${previous}`);
  return i;
}

function decodeWith<T>(bytes: Uint8Array, field: string, read: (r: ByteReader) => T): T {
  if (!(bytes instanceof Uint8Array)) throw new CodecError(field, 'expected bytes');
  const r = new ByteReader(bytes);
  const v = read(r);
  r.finish(field);
  return v;
}

// -------------------------------------------------------------------------------------------------------
// Stored data: the scheme's public key bytes (the FROST group key) and a holder's share

/** Exact size of an encoded group key with threshold t of n. */
export function groupKeyBytes(t: number, n: number): number {
  return 5 + POINT_BYTES * (t + n);
}

/** Largest encoded group key. */
export const GROUP_KEY_BYTES_MAX = groupKeyBytes(FROST_PARTICIPANTS_MAX, FROST_PARTICIPANTS_MAX);

/** The scheme's public key: tag, n, t, the t VSS commitments (the first is the Ed25519 key), n verifying shares. */
export function encodeGroupKey(g: FrostGroupKey): Uint8Array {
  const w = new ByteWriter(groupKeyBytes(g.threshold, g.participants));
  w.u8(TAG.groupKey).u16(g.participants).u16(g.threshold);
  for (const c of g.commitments) w.raw(c);
  for (const y of g.verifyingShares) w.raw(y);
  return w.finish();
}

/** Decodes a group key's structure; its points are checked by validateGroupKey. */
export function decodeGroupKey(bytes: Uint8Array): FrostGroupKey {
  return decodeWith(bytes, 'groupKey', (r) => {
    expectTag(r, TAG.groupKey, 'groupKey');
    const { n, t } = readParameters(r, 'groupKey');
    const commitments: Uint8Array[] = [];
    for (let k = 0; k < t; k++) commitments.push(r.raw(POINT_BYTES, `groupKey.commitments[${k}]`));
    const verifyingShares: Uint8Array[] = [];
    for (let i = 0; i < n; i++) verifyingShares.push(r.raw(POINT_BYTES, `groupKey.verifyingShares[${i}]`));
    return { threshold: t, participants: n, publicKey: commitments[0]!, commitments, verifyingShares };
  });
}

/** What a holder stores as its share: index, n, t, the signing share and the digest of its group key. */
export interface StoredShare {
  readonly index: number;
  readonly n: number;
  readonly t: number;
  readonly signingShare: Uint8Array;
  readonly groupKeyDigest: Uint8Array;
}

/** Encodes a holder's stored share. */
export function encodeStoredShare(s: StoredShare): Uint8Array {
  return new ByteWriter(1 + 6 + SCALAR_BYTES + DIGEST_BYTES)
    .u8(TAG.keyShare)
    .u16(s.index)
    .u16(s.n)
    .u16(s.t)
    .raw(s.signingShare)
    .raw(s.groupKeyDigest)
    .finish();
}

/** Decodes a stored share (index within 1..n, 2 ≤ t ≤ n). */
export function decodeStoredShare(bytes: Uint8Array): StoredShare {
  return decodeWith(bytes, 'share', (r) => {
    expectTag(r, TAG.keyShare, 'share');
    const index = r.u16('share.index');
    const { n, t } = readParameters(r, 'share');
    if (index < 1 || index > n) throw new CodecError('share.index', `expected 1..${n}, got ${index}`);
    const signingShare = r.raw(SCALAR_BYTES, 'share.signingShare');
    const groupKeyDigest = r.raw(DIGEST_BYTES, 'share.groupKeyDigest');
    return { index, n, t, signingShare, groupKeyDigest };
  });
}

// -------------------------------------------------------------------------------------------------------
// Node-key-signed messages

/** A payload and the sender's node-key signature over it (scheme-frost.ts says what is signed). */
export interface Signed {
  readonly payload: Uint8Array;
  readonly signature: Uint8Array;
}

/** Encodes a payload with its node-key signature. */
export function encodeSigned(s: Signed): Uint8Array {
  return new ByteWriter(8 + s.payload.length + s.signature.length)
    .bytes(s.payload)
    .bytes(s.signature)
    .finish();
}

function readSigned(r: ByteReader, payloadMax: number, field: string): Signed {
  const payload = r.bytes(payloadMax, `${field}.payload`);
  const signature = r.bytes(NODE_SIGNATURE_BYTES_MAX, `${field}.signature`);
  return { payload, signature };
}

/** Decodes a signed message whose payload is at most `payloadMax` bytes. */
export function decodeSigned(bytes: Uint8Array, payloadMax: number, field: string): Signed {
  return decodeWith(bytes, field, (r) => readSigned(r, payloadMax, field));
}

function signedBytes(payloadMax: number): number {
  return 8 + payloadMax + NODE_SIGNATURE_BYTES_MAX;
}

// -------------------------------------------------------------------------------------------------------
// Key setup: DKG (four steps) and import (one step, then the same confirmation step)

/** Step 1 request: open DKG session `sid` for n members with threshold t. */
export interface DkgOpen {
  readonly n: number;
  readonly t: number;
}

/** Encodes step 1 of a DKG. */
export function encodeDkgOpen(m: DkgOpen): Uint8Array {
  return new ByteWriter(5).u8(TAG.dkgOpen).u16(m.n).u16(m.t).finish();
}

/** Decodes step 1 of a DKG. */
export function decodeDkgOpen(bytes: Uint8Array): DkgOpen {
  return decodeWith(bytes, 'dkgOpen', (r) => {
    expectTag(r, TAG.dkgOpen, 'dkgOpen');
    return readParameters(r, 'dkgOpen');
  });
}

/** A member's round-1 broadcast (FROST Fig. 1 round 1): VSS commitment and proof of knowledge. */
export interface Round1Payload {
  readonly sender: number;
  readonly commitment: readonly Uint8Array[];
  readonly proofOfKnowledge: Uint8Array;
}

/** Exact size of a round-1 payload with t commitments. */
export function round1PayloadBytes(t: number): number {
  return 5 + POINT_BYTES * t + PROOF_BYTES;
}

/** Encodes a round-1 broadcast payload (signed by its sender). */
export function encodeRound1Payload(m: Round1Payload): Uint8Array {
  const w = new ByteWriter(round1PayloadBytes(m.commitment.length)).u8(TAG.round1).u16(m.sender);
  writeList(w, m.commitment, (w, c) => w.raw(c));
  return w.raw(m.proofOfKnowledge).finish();
}

/** Decodes a round-1 payload from one of n members with exactly t commitments. */
export function decodeRound1Payload(bytes: Uint8Array, n: number, t: number): Round1Payload {
  return decodeWith(bytes, 'round1', (r) => {
    expectTag(r, TAG.round1, 'round1');
    const sender = readIndex(r, n, 'round1.sender');
    readCount(r, t, t, 'round1.commitment');
    const commitment: Uint8Array[] = [];
    for (let k = 0; k < t; k++) commitment.push(r.raw(POINT_BYTES, `round1.commitment[${k}]`));
    const proofOfKnowledge = r.raw(PROOF_BYTES, 'round1.proofOfKnowledge');
    return { sender, commitment, proofOfKnowledge };
  });
}

/** Step 2 request: every member's signed round-1 broadcast, members 1..n in order. */
export function encodeDkgBroadcasts(broadcasts: readonly Uint8Array[]): Uint8Array {
  const w = new ByteWriter().u8(TAG.dkgBroadcasts);
  writeList(w, broadcasts, (w, b) => w.bytes(b));
  return w.finish();
}

/** Decodes step 2: exactly n signed broadcasts (each still to be decoded and verified). */
export function decodeDkgBroadcasts(bytes: Uint8Array, n: number, t: number): Signed[] {
  return decodeWith(bytes, 'dkgBroadcasts', (r) => {
    expectTag(r, TAG.dkgBroadcasts, 'dkgBroadcasts');
    readCount(r, n, n, 'dkgBroadcasts.count');
    const out: Signed[] = [];
    for (let j = 0; j < n; j++) {
      const field = `dkgBroadcasts[${j}]`;
      out.push(
        decodeSigned(r.bytes(signedBytes(round1PayloadBytes(t)), field), round1PayloadBytes(t), field),
      );
    }
    return out;
  });
}

/** One sealed round-2 share package (frost-ed25519.ts seal): its other end, ephemeral key, IV, ciphertext. */
export interface SealedPackage {
  /** The recipient in a member's answer, the sender in the request relayed to the recipient. */
  readonly peer: number;
  readonly ephemeralPublicKey: Uint8Array;
  readonly iv: Uint8Array;
  readonly ciphertext: Uint8Array;
}

function writePackage(w: ByteWriter, p: SealedPackage): void {
  w.u16(p.peer).raw(p.ephemeralPublicKey).raw(p.iv).raw(p.ciphertext);
}

function readPackages(r: ByteReader, n: number, self: number, field: string): SealedPackage[] {
  readCount(r, n - 1, n - 1, `${field}.count`);
  const out: SealedPackage[] = [];
  let previous = 0;
  for (let k = 0; k < n - 1; k++) {
    const f = `${field}[${k}]`;
    const peer = readNextIndex(r, n, previous, `${f}.peer`);
    if (peer === self) throw new CodecError(`${f}.peer`, `a member sends no package to itself (${self})`);
    previous = peer;
    out.push({
      peer,
      ephemeralPublicKey: r.raw(X25519_BYTES, `${f}.ephemeralPublicKey`),
      iv: r.raw(IV_BYTES, `${f}.iv`),
      ciphertext: r.raw(PACKAGE_CIPHERTEXT_BYTES, `${f}.ciphertext`),
    });
  }
  return out;
}

/** Step 2 answer: member `sender`'s n − 1 sealed packages, one per other member in increasing order. */
export interface PackagesAnswer {
  readonly sender: number;
  readonly packages: readonly SealedPackage[];
}

/** Encodes a step-2 answer. */
export function encodePackagesAnswer(m: PackagesAnswer): Uint8Array {
  const w = new ByteWriter().u8(TAG.packages).u16(m.sender);
  writeList(w, m.packages, writePackage);
  return w.finish();
}

/** Decodes a step-2 answer: n − 1 packages, one per other member. */
export function decodePackagesAnswer(bytes: Uint8Array, n: number): PackagesAnswer {
  return decodeWith(bytes, 'packages', (r) => {
    expectTag(r, TAG.packages, 'packages');
    const sender = readIndex(r, n, 'packages.sender');
    return { sender, packages: readPackages(r, n, sender, 'packages.packages') };
  });
}

/** Step 3 request: the n − 1 packages addressed to `recipient`, by sender in increasing order. */
export function encodeDkgPackages(packages: readonly SealedPackage[]): Uint8Array {
  const w = new ByteWriter().u8(TAG.dkgPackages);
  writeList(w, packages, writePackage);
  return w.finish();
}

/** Decodes step 3 for `recipient`: n − 1 packages, one from each other member. */
export function decodeDkgPackages(bytes: Uint8Array, n: number, recipient: number): SealedPackage[] {
  return decodeWith(bytes, 'dkgPackages', (r) => {
    expectTag(r, TAG.dkgPackages, 'dkgPackages');
    return readPackages(r, n, recipient, 'dkgPackages.packages');
  });
}

/** Step 3 (and import) answer payload: "I hold a share of the group key with this digest". */
export interface ConfirmPayload {
  readonly kind: 'confirm';
  readonly index: number;
  readonly groupKeyDigest: Uint8Array;
}

/** Step 3 answer payload when some packages did not open or failed the VSS check: the accused senders. */
export interface ComplaintPayload {
  readonly kind: 'complaint';
  readonly index: number;
  readonly accused: readonly number[];
}

/** Encodes a confirmation payload (signed by its sender). */
export function encodeConfirmPayload(m: Omit<ConfirmPayload, 'kind'>): Uint8Array {
  return new ByteWriter(3 + DIGEST_BYTES).u8(TAG.confirm).u16(m.index).raw(m.groupKeyDigest).finish();
}

/** Encodes a complaint payload (signed by its sender). */
export function encodeComplaintPayload(m: Omit<ComplaintPayload, 'kind'>): Uint8Array {
  const w = new ByteWriter().u8(TAG.complaint).u16(m.index);
  writeList(w, m.accused, (w, j) => w.u16(j));
  return w.finish();
}

/** Largest step-3 answer payload (a complaint against every other member). */
export function outcomePayloadBytesMax(n: number): number {
  return Math.max(3 + DIGEST_BYTES, 5 + 2 * n);
}

/** Decodes a step-3 answer payload: a confirmation, or a complaint naming 1..n − 1 others. */
export function decodeOutcomePayload(bytes: Uint8Array, n: number): ConfirmPayload | ComplaintPayload {
  return decodeWith(bytes, 'outcome', (r) => {
    const tag = r.u8('outcome.tag');
    const index = readIndex(r, n, 'outcome.index');
    if (tag === TAG.confirm)
      return { kind: 'confirm', index, groupKeyDigest: r.raw(DIGEST_BYTES, 'outcome.digest') };
    if (tag !== TAG.complaint)
      throw new CodecError(
        'outcome.tag',
        `expected a confirmation or a complaint, got 0x${tag.toString(16)}`,
      );
    const count = readCount(r, 1, n - 1, 'outcome.accused');
    const accused: number[] = [];
    let previous = 0;
    for (let k = 0; k < count; k++) {
      const j = readNextIndex(r, n, previous, `outcome.accused[${k}]`);
      if (j === index) throw new CodecError(`outcome.accused[${k}]`, 'a member does not accuse itself');
      accused.push((previous = j));
    }
    return { kind: 'complaint', index, accused };
  });
}

/** Step 4 request: the n members' signed confirmations, members 1..n in order. */
export function encodeKeyConfirmations(confirmations: readonly Uint8Array[]): Uint8Array {
  const w = new ByteWriter().u8(TAG.keyConfirmations);
  writeList(w, confirmations, (w, c) => w.bytes(c));
  return w.finish();
}

/** Decodes step 4: exactly n signed confirmations (each still to be decoded and verified). */
export function decodeKeyConfirmations(bytes: Uint8Array, n: number): Signed[] {
  const payloadMax = 3 + DIGEST_BYTES;
  return decodeWith(bytes, 'keyConfirmations', (r) => {
    expectTag(r, TAG.keyConfirmations, 'keyConfirmations');
    readCount(r, n, n, 'keyConfirmations.count');
    const out: Signed[] = [];
    for (let j = 0; j < n; j++) {
      const field = `keyConfirmations[${j}]`;
      out.push(decodeSigned(r.bytes(signedBytes(payloadMax), field), payloadMax, field));
    }
    return out;
  });
}

/** Step 4 answer payload: "I stored my share of the group key with this digest". */
export function encodeStoredPayload(index: number, groupKeyDigest: Uint8Array): Uint8Array {
  return new ByteWriter(3 + DIGEST_BYTES).u8(TAG.stored).u16(index).raw(groupKeyDigest).finish();
}

/** Decodes a step-4 answer payload. */
export function decodeStoredPayload(
  bytes: Uint8Array,
  n: number,
): { index: number; groupKeyDigest: Uint8Array } {
  return decodeWith(bytes, 'stored', (r) => {
    expectTag(r, TAG.stored, 'stored');
    return { index: readIndex(r, n, 'stored.index'), groupKeyDigest: r.raw(DIGEST_BYTES, 'stored.digest') };
  });
}

/** Decodes a step-3 confirmation payload only (the step-4 request carries nothing else). */
export function decodeConfirmPayload(bytes: Uint8Array, n: number): ConfirmPayload {
  const m = decodeOutcomePayload(bytes, n);
  if (m.kind !== 'confirm') throw new CodecError('confirm.tag', 'expected a confirmation, got a complaint');
  return m;
}

/** Import request: the dealt group key and this member's share sealed to its X25519 key. */
export interface ImportDeal {
  readonly groupKey: Uint8Array;
  readonly box: Uint8Array;
}

/** Encodes an import request. */
export function encodeImportDeal(m: ImportDeal): Uint8Array {
  return new ByteWriter(1 + 4 + m.groupKey.length + m.box.length)
    .u8(TAG.importDeal)
    .bytes(m.groupKey)
    .raw(m.box)
    .finish();
}

/** Decodes an import request (group key bounded, box of exactly one sealed share). */
export function decodeImportDeal(bytes: Uint8Array): ImportDeal {
  return decodeWith(bytes, 'importDeal', (r) => {
    expectTag(r, TAG.importDeal, 'importDeal');
    const groupKey = r.bytes(GROUP_KEY_BYTES_MAX, 'importDeal.groupKey');
    const box = r.raw(IMPORT_BOX_BYTES, 'importDeal.box');
    return { groupKey, box };
  });
}

// -------------------------------------------------------------------------------------------------------
// Signing: commit (RFC 9591 §5.1) and sign (§5.2)

/** Commit request of attempt `attempt` for the key and message with these SHA-256 digests. */
export interface SignCommit {
  readonly attempt: number;
  readonly keyDigest: Uint8Array;
  readonly messageDigest: Uint8Array;
}

/** Encodes a commit request. */
export function encodeSignCommit(m: SignCommit): Uint8Array {
  return new ByteWriter(2 + 2 * DIGEST_BYTES)
    .u8(TAG.signCommit)
    .u8(m.attempt)
    .raw(m.keyDigest)
    .raw(m.messageDigest)
    .finish();
}

/** Decodes a commit request. */
export function decodeSignCommit(bytes: Uint8Array): SignCommit {
  return decodeWith(bytes, 'signCommit', (r) => {
    expectTag(r, TAG.signCommit, 'signCommit');
    return {
      attempt: readAttempt(r, 'signCommit.attempt'),
      keyDigest: r.raw(DIGEST_BYTES, 'signCommit.keyDigest'),
      messageDigest: r.raw(DIGEST_BYTES, 'signCommit.messageDigest'),
    };
  });
}

/** One signer's nonce commitments (hiding D, binding E). */
export interface Commitment {
  readonly index: number;
  readonly hiding: Uint8Array;
  readonly binding: Uint8Array;
}

/** Commit answer: the signer's commitments for the attempt. */
export interface CommitmentAnswer extends Commitment {
  readonly attempt: number;
}

/** Encodes a commit answer. */
export function encodeCommitmentAnswer(m: CommitmentAnswer): Uint8Array {
  return new ByteWriter(4 + 2 * POINT_BYTES)
    .u8(TAG.commitment)
    .u8(m.attempt)
    .u16(m.index)
    .raw(m.hiding)
    .raw(m.binding)
    .finish();
}

/** Decodes a commit answer from one of n members. */
export function decodeCommitmentAnswer(bytes: Uint8Array, n: number): CommitmentAnswer {
  return decodeWith(bytes, 'commitment', (r) => {
    expectTag(r, TAG.commitment, 'commitment');
    return {
      attempt: readAttempt(r, 'commitment.attempt'),
      index: readIndex(r, n, 'commitment.index'),
      hiding: r.raw(POINT_BYTES, 'commitment.hiding'),
      binding: r.raw(POINT_BYTES, 'commitment.binding'),
    };
  });
}

/** Sign request: the attempt, the digests again, and the commitment list of the t..n chosen signers. */
export interface SignShareRequest extends SignCommit {
  readonly commitments: readonly Commitment[];
}

/** Encodes a sign request (commitments in increasing index order). */
export function encodeSignShareRequest(m: SignShareRequest): Uint8Array {
  const w = new ByteWriter(2 + 2 * DIGEST_BYTES + 2 + m.commitments.length * (2 + 2 * POINT_BYTES))
    .u8(TAG.signShare)
    .u8(m.attempt)
    .raw(m.keyDigest)
    .raw(m.messageDigest);
  writeList(w, m.commitments, (w, c) => w.u16(c.index).raw(c.hiding).raw(c.binding));
  return w.finish();
}

/** Decodes a sign request: t..n commitments with strictly increasing indices in 1..n. */
export function decodeSignShareRequest(bytes: Uint8Array, n: number, t: number): SignShareRequest {
  return decodeWith(bytes, 'signShare', (r) => {
    expectTag(r, TAG.signShare, 'signShare');
    const attempt = readAttempt(r, 'signShare.attempt');
    const keyDigest = r.raw(DIGEST_BYTES, 'signShare.keyDigest');
    const messageDigest = r.raw(DIGEST_BYTES, 'signShare.messageDigest');
    const count = readCount(r, t, n, 'signShare.commitments');
    const commitments: Commitment[] = [];
    let previous = 0;
    for (let k = 0; k < count; k++) {
      const f = `signShare.commitments[${k}]`;
      const index = readNextIndex(r, n, previous, `${f}.index`);
      previous = index;
      commitments.push({
        index,
        hiding: r.raw(POINT_BYTES, `${f}.hiding`),
        binding: r.raw(POINT_BYTES, `${f}.binding`),
      });
    }
    return { attempt, keyDigest, messageDigest, commitments };
  });
}

/** Sign answer: the signer's signature share z_i for the attempt. */
export interface SignatureShareAnswer {
  readonly attempt: number;
  readonly index: number;
  readonly share: Uint8Array;
}

/** Encodes a sign answer. */
export function encodeSignatureShareAnswer(m: SignatureShareAnswer): Uint8Array {
  return new ByteWriter(4 + SCALAR_BYTES)
    .u8(TAG.signatureShare)
    .u8(m.attempt)
    .u16(m.index)
    .raw(m.share)
    .finish();
}

/** Decodes a sign answer from one of n members. */
export function decodeSignatureShareAnswer(bytes: Uint8Array, n: number): SignatureShareAnswer {
  return decodeWith(bytes, 'signatureShare', (r) => {
    expectTag(r, TAG.signatureShare, 'signatureShare');
    return {
      attempt: readAttempt(r, 'signatureShare.attempt'),
      index: readIndex(r, n, 'signatureShare.index'),
      share: r.raw(SCALAR_BYTES, 'signatureShare.share'),
    };
  });
}
