/**
 * The byte strings that get signed. Each begins with its own domain tag, so a signature made for one
 * purpose can never be presented as another (a certification as a record signature, an ack as a vote).
 *
 * - writer statement  (paper §4 s_C.sig over <x,t,v>):        tag ‖ x ‖ t ‖ H(v)
 * - signer statement  (paper §4 S_i over <x,t,v,s_C>):        tag ‖ x ‖ t ‖ H(v) ‖ writer ID ‖ writer UID ‖ writer signature
 * - acknowledgement   (a KV node stored <x,t,v> durably):     tag ‖ x ‖ t ‖ H(v)
 * - presence          (join / leave, paper §4.2):             tag ‖ node ID ‖ seq ‖ present
 *
 * H(v) = SHA-256("bftkv/value/v1" ‖ v): statements and equivocation proofs stay small whatever |v|.
 */
import { ByteWriter, utf8 } from '../codec/bytes.js';
import { sha256 } from '../crypto/hash.js';
import type { NodeId } from './certificate.js';

const VALUE_TAG = utf8('bftkv/value/v1');
const WRITE_TAG = utf8('bftkv/write/v1');
const SIGN_TAG = utf8('bftkv/sign/v1');
const ACK_TAG = utf8('bftkv/ack/v1');
const PRESENCE_TAG = utf8('bftkv/presence/v1');

/** H(v). */
export function valueDigest(v: Uint8Array): Uint8Array {
  return sha256(VALUE_TAG, v);
}

/** What the writer signs. */
export function writerStatement(x: Uint8Array, t: bigint, digest: Uint8Array): Uint8Array {
  return new ByteWriter(64 + x.length).raw(WRITE_TAG).bytes(x).u64(t).raw(digest).finish();
}

/**
 * What a clique member signs. It covers the writer's signature (S is bound to one s_C) and the writer's UID:
 * the signers checked the quorum certificate for exactly this (ID, UID), so KV nodes and readers can rely on
 * the UID for TOFU without trusting the self-signed body the record carries.
 */
export function signerStatement(
  x: Uint8Array,
  t: bigint,
  digest: Uint8Array,
  writer: NodeId,
  writerUid: string,
  writerSignature: Uint8Array,
): Uint8Array {
  return new ByteWriter(200 + x.length)
    .raw(SIGN_TAG)
    .bytes(x)
    .u64(t)
    .raw(digest)
    .string(writer)
    .string(writerUid)
    .raw(writerSignature)
    .finish();
}

/** What a KV node signs once the record is durable. */
export function ackStatement(x: Uint8Array, t: bigint, digest: Uint8Array): Uint8Array {
  return new ByteWriter(64 + x.length).raw(ACK_TAG).bytes(x).u64(t).raw(digest).finish();
}

/** What a node signs to announce it joins (present) or leaves (not present); seq orders announcements. */
export function presenceStatement(id: NodeId, seq: bigint, present: boolean): Uint8Array {
  return new ByteWriter(64).raw(PRESENCE_TAG).string(id).u64(seq).bool(present).finish();
}
