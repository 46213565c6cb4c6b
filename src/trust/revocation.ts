/**
 * Revocation proofs (paper §3.2 "Equivocation Check / Revocation", Algorithm 5; payment note §2).
 *
 * A node is revoked only on a proof that anyone can re-check from the proof alone: two valid signatures by
 * the same key over statements that an honest node never signs both of.
 * - signer equivocation: a clique member signed <x,t,v> and <x,t,v'> with v ≠ v';
 * - writer equivocation: a client signed <x,t,v> and <x,t,v'> with v ≠ v';
 * - identity equivocation: a key self-signed two different certificate bodies with the same serial, or
 *   with different UIDs (the UID of a key never changes).
 * The proof carries the accused public key; the accused NodeId is derived from it.
 */
import { ByteReader, ByteWriter, bytesEqual, CodecError } from '../codec/bytes.js';
import { PUBLIC_KEY_BYTES, SIGNATURE_BYTES, verify } from '../crypto/ed25519.js';
import { LIMITS } from '../limits.js';
import {
  bodyStatement,
  NODE_ID_BYTES,
  nodeIdOf,
  sameBody,
  type CertificateBody,
  type NodeId,
} from './certificate.js';
import { signerStatement, writerStatement } from './statements.js';

const DIGEST_BYTES = 32;

/** One signed record statement inside a signer-equivocation proof. */
export interface SignedSignerStatement {
  readonly valueDigest: Uint8Array;
  readonly writer: NodeId;
  readonly writerUid: string;
  readonly writerSignature: Uint8Array;
  readonly signature: Uint8Array;
}

/** One signed writer statement inside a writer-equivocation proof. */
export interface SignedWriterStatement {
  readonly valueDigest: Uint8Array;
  readonly signature: Uint8Array;
}

export type RevocationProof =
  | {
      readonly kind: 'signer-equivocation';
      readonly accusedKey: Uint8Array;
      readonly x: Uint8Array;
      readonly t: bigint;
      readonly a: SignedSignerStatement;
      readonly b: SignedSignerStatement;
    }
  | {
      readonly kind: 'writer-equivocation';
      readonly accusedKey: Uint8Array;
      readonly x: Uint8Array;
      readonly t: bigint;
      readonly a: SignedWriterStatement;
      readonly b: SignedWriterStatement;
    }
  | {
      readonly kind: 'identity-equivocation';
      readonly accusedKey: Uint8Array;
      readonly a: { readonly body: CertificateBody; readonly signature: Uint8Array };
      readonly b: { readonly body: CertificateBody; readonly signature: Uint8Array };
    };

/** The NodeId a proof accuses. */
export function accusedOf(p: RevocationProof): NodeId {
  return nodeIdOf(p.accusedKey);
}

/** Re-checks a proof from its contents alone. */
export function verifyRevocationProof(p: RevocationProof): boolean {
  switch (p.kind) {
    case 'signer-equivocation':
      return (
        !bytesEqual(p.a.valueDigest, p.b.valueDigest) &&
        verify(
          p.accusedKey,
          signerStatement(p.x, p.t, p.a.valueDigest, p.a.writer, p.a.writerUid, p.a.writerSignature),
          p.a.signature,
        ) &&
        verify(
          p.accusedKey,
          signerStatement(p.x, p.t, p.b.valueDigest, p.b.writer, p.b.writerUid, p.b.writerSignature),
          p.b.signature,
        )
      );
    case 'writer-equivocation':
      return (
        !bytesEqual(p.a.valueDigest, p.b.valueDigest) &&
        verify(p.accusedKey, writerStatement(p.x, p.t, p.a.valueDigest), p.a.signature) &&
        verify(p.accusedKey, writerStatement(p.x, p.t, p.b.valueDigest), p.b.signature)
      );
    case 'identity-equivocation': {
      const { a, b } = p;
      if (!bytesEqual(a.body.publicKey, p.accusedKey) || !bytesEqual(b.body.publicKey, p.accusedKey))
        return false;
      if (sameBody(a.body, b.body)) return false;
      if (a.body.serial !== b.body.serial && a.body.uid === b.body.uid) return false;
      return (
        verify(p.accusedKey, bodyStatement(a.body), a.signature) &&
        verify(p.accusedKey, bodyStatement(b.body), b.signature)
      );
    }
  }
}

const KIND_CODES = {
  'signer-equivocation': 1,
  'writer-equivocation': 2,
  'identity-equivocation': 3,
} as const;

function writeBody(w: ByteWriter, b: CertificateBody): void {
  w.raw(b.publicKey).string(b.uid).string(b.address).u64(b.serial);
}

function readBody(r: ByteReader): CertificateBody {
  return {
    publicKey: r.raw(PUBLIC_KEY_BYTES, 'proof.body.publicKey'),
    uid: r.string(LIMITS.uidBytesMax, 'proof.body.uid'),
    address: r.string(LIMITS.addressBytesMax, 'proof.body.address'),
    serial: r.u64('proof.body.serial'),
  };
}

/** Canonical encoding of a proof. */
export function writeRevocationProof(w: ByteWriter, p: RevocationProof): void {
  w.u8(KIND_CODES[p.kind]).raw(p.accusedKey);
  switch (p.kind) {
    case 'signer-equivocation':
      w.bytes(p.x).u64(p.t);
      for (const s of [p.a, p.b])
        w.raw(s.valueDigest).string(s.writer).string(s.writerUid).raw(s.writerSignature).raw(s.signature);
      return;
    case 'writer-equivocation':
      w.bytes(p.x).u64(p.t);
      for (const s of [p.a, p.b]) w.raw(s.valueDigest).raw(s.signature);
      return;
    case 'identity-equivocation':
      for (const s of [p.a, p.b]) {
        writeBody(w, s.body);
        w.raw(s.signature);
      }
      return;
  }
}

/** Decodes a proof (shape only; call verifyRevocationProof before acting on it). */
export function readRevocationProof(r: ByteReader): RevocationProof {
  const code = r.u8('proof.kind');
  const accusedKey = r.raw(PUBLIC_KEY_BYTES, 'proof.accusedKey');
  switch (code) {
    case 1: {
      const x = r.bytes(LIMITS.keyBytesMax, 'proof.x');
      const t = r.u64('proof.t');
      const one = (): SignedSignerStatement => ({
        valueDigest: r.raw(DIGEST_BYTES, 'proof.valueDigest'),
        writer: r.string(NODE_ID_BYTES * 2, 'proof.writer'),
        writerUid: r.string(LIMITS.uidBytesMax, 'proof.writerUid'),
        writerSignature: r.raw(SIGNATURE_BYTES, 'proof.writerSignature'),
        signature: r.raw(SIGNATURE_BYTES, 'proof.signature'),
      });
      return { kind: 'signer-equivocation', accusedKey, x, t, a: one(), b: one() };
    }
    case 2: {
      const x = r.bytes(LIMITS.keyBytesMax, 'proof.x');
      const t = r.u64('proof.t');
      const one = (): SignedWriterStatement => ({
        valueDigest: r.raw(DIGEST_BYTES, 'proof.valueDigest'),
        signature: r.raw(SIGNATURE_BYTES, 'proof.signature'),
      });
      return { kind: 'writer-equivocation', accusedKey, x, t, a: one(), b: one() };
    }
    case 3: {
      const one = () => ({ body: readBody(r), signature: r.raw(SIGNATURE_BYTES, 'proof.signature') });
      return { kind: 'identity-equivocation', accusedKey, a: one(), b: one() };
    }
    default:
      throw new CodecError('proof.kind', `unknown kind ${code}`);
  }
}

/** Canonical bytes of a proof. */
export function encodeRevocationProof(p: RevocationProof): Uint8Array {
  const w = new ByteWriter();
  writeRevocationProof(w, p);
  return w.finish();
}

/** Decodes exactly one proof. */
export function decodeRevocationProof(b: Uint8Array): RevocationProof {
  const r = new ByteReader(b);
  const p = readRevocationProof(r);
  r.finish('proof');
  return p;
}
