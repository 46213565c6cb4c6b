/**
 * The distributed CA's public record and its request envelope (docs/PROTOCOL.md §15).
 *
 * - The **descriptor** is the value of the normal BFTKV variable `bftkv/ca/NAME`, written by the owner: the
 *   scheme, the members (index order) with their attested X25519 keys, the public key, the UIDs authorized
 *   to request signatures, and the CA certificate once there is one. Its owner is the variable's owner (TOFU
 *   at the signers, paper §4), so the name, the key and the authorization list have one owner.
 * - A **call** is one signed, replay-protected request to one holder: the requester's certificate, a fresh
 *   nonce, the time, and a signature over everything that follows, bound to the receiving holder.
 */
import { ByteReader, ByteWriter, CodecError, utf8, writeList } from '../../codec/bytes.js';
import { SIGNATURE_BYTES, verify } from '../../crypto/ed25519.js';
import { sha256 } from '../../crypto/hash.js';
import { LIMITS } from '../../limits.js';
import {
  NODE_ID_BYTES,
  readCertificate,
  writeCertificate,
  type Certificate,
  type NodeId,
} from '../../trust/certificate.js';
import { decodeRecord, encodeRecord, type SignedRecord } from '../messages.js';
import {
  CA_MESSAGE_BYTES_MAX,
  CA_SCHEMES,
  CA_SESSION_ID_BYTES,
  type CaScheme,
  type GroupDirectory,
  type SignInput,
} from './scheme.js';

/** CA names: 1–64 characters of `A–Z a–z 0–9 . _ -`, starting with a letter or digit. */
export const CA_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** UIDs on an authorization list. */
export const CA_AUTHORIZED_MAX = 256;
/** Public key bytes of any scheme (a Shoup key with 255 verification keys of 8192 bits fits). */
export const CA_PUBLIC_KEY_BYTES_MAX = 512 * 1024;
/** A CA certificate (DER). */
export const CA_CERTIFICATE_BYTES_MAX = 64 * 1024;
/** A scheme's request or response body. */
export const CA_BODY_BYTES_MAX = LIMITS.messageBytesMax - 256 * 1024;
/** Request nonces are 16 random bytes. */
export const CA_NONCE_BYTES = 16;
/** Members of a CA group (a quorum clique). */
export const CA_MEMBERS_MAX = 64;
const X25519_BYTES = 32;

/** Whether `name` is a valid CA name. */
export function isCaName(name: string): boolean {
  return CA_NAME_PATTERN.test(name);
}

/** The BFTKV variable holding the descriptor of CA `name`. */
export function caVariable(name: string): Uint8Array {
  if (!isCaName(name)) throw new RangeError(`CA name must match ${String(CA_NAME_PATTERN)}, got ${name}`);
  return utf8(`bftkv/ca/${name}`);
}

/** The key id: a digest of the scheme and its public key bytes. */
export function caKeyId(scheme: CaScheme, publicKey: Uint8Array): Uint8Array {
  return sha256(utf8('bftkv/ca/key-id/v1\0'), utf8(scheme), new Uint8Array([0]), publicKey);
}

/** The statement a node signs to vouch for its X25519 key (so the client cannot substitute one). */
export function attestationStatement(id: NodeId, encryptionKey: Uint8Array): Uint8Array {
  return new ByteWriter().raw(utf8('bftkv/ca/x25519/v1\0')).string(id).raw(encryptionKey).finish();
}

/** A member of a CA group: its node id, X25519 key and the node-key attestation of that key. */
export interface MemberKey {
  readonly id: NodeId;
  readonly encryptionKey: Uint8Array;
  readonly attestation: Uint8Array;
}

/**
 * The group of `members` as a scheme sees it: holder i is members[i-1], whose node key is nodeKeys[i-1];
 * b = ⌊(n−1)/3⌋ as for the clique.
 */
export function groupDirectory(
  members: readonly MemberKey[],
  nodeKeys: readonly Uint8Array[],
): GroupDirectory {
  const n = members.length;
  return {
    n,
    b: Math.floor((n - 1) / 3),
    encryptionKey: (i) =>
      Number.isInteger(i) && i >= 1 && i <= n ? members[i - 1]!.encryptionKey : undefined,
    verify: (i, m, sig) => {
      if (!Number.isInteger(i) || i < 1 || i > n) return false;
      try {
        return verify(nodeKeys[i - 1]!, m, sig);
      } catch {
        return false;
      }
    },
  };
}

function writeMember(w: ByteWriter, m: MemberKey): void {
  w.string(m.id).raw(m.encryptionKey).raw(m.attestation);
}

function readMember(r: ByteReader, i: number): MemberKey {
  const id = r.string(NODE_ID_BYTES * 2, `members[${i}].id`);
  return {
    id,
    encryptionKey: r.raw(X25519_BYTES, `members[${i}].encryptionKey`),
    attestation: r.raw(SIGNATURE_BYTES, `members[${i}].attestation`),
  };
}

function readMembers(r: ByteReader): MemberKey[] {
  const members = r.list(CA_MEMBERS_MAX, 'members', readMember);
  for (let i = 1; i < members.length; i++)
    if (members[i - 1]!.id >= members[i]!.id)
      throw new CodecError('members', 'members must be sorted by node id, without duplicates');
  if (members.length < 1) throw new CodecError('members', 'at least one member');
  return members;
}

function writeScheme(w: ByteWriter, scheme: CaScheme): void {
  w.u8(CA_SCHEMES.indexOf(scheme));
}

function readScheme(r: ByteReader, field: string): CaScheme {
  const i = r.u8(field);
  const scheme = CA_SCHEMES[i];
  if (scheme === undefined) throw new CodecError(field, `unknown scheme ${i}`);
  return scheme;
}

function readName(r: ByteReader, field: string): string {
  const name = r.string(64, field);
  if (!isCaName(name)) throw new CodecError(field, 'not a valid CA name');
  return name;
}

// ---------------------------------------------------------------------------------------------------------
// Descriptor

/** The public record of a distributed CA key (the value of `caVariable(name)`). */
export interface CaDescriptor {
  readonly name: string;
  readonly scheme: CaScheme;
  /** Index order: holder i is members[i-1] (sorted by node id). */
  readonly members: readonly MemberKey[];
  readonly publicKey: Uint8Array;
  /** UIDs besides the owner that may request signatures; sorted, distinct. */
  readonly authorized: readonly string[];
  /** The self-signed CA certificate (DER), once made. */
  readonly certificate?: Uint8Array | undefined;
}

const DESCRIPTOR_MAGIC = utf8('bftkv/ca-descriptor/v1\0');

/** Encodes a descriptor (canonical: the authorized list sorted and distinct). */
export function encodeDescriptor(d: CaDescriptor): Uint8Array {
  const authorized = [...new Set(d.authorized)].sort();
  const w = new ByteWriter().raw(DESCRIPTOR_MAGIC).string(d.name);
  writeScheme(w, d.scheme);
  writeList(w, d.members, writeMember);
  w.bytes(d.publicKey);
  writeList(w, authorized, (ww, uid) => ww.string(uid));
  w.bool(d.certificate !== undefined);
  if (d.certificate !== undefined) w.bytes(d.certificate);
  return w.finish();
}

/** Whether a value is (meant to be) a CA descriptor. */
export function isDescriptor(v: Uint8Array): boolean {
  return v.length >= DESCRIPTOR_MAGIC.length && DESCRIPTOR_MAGIC.every((b, i) => v[i] === b);
}

/** Decodes a descriptor; CodecError when malformed. */
export function decodeDescriptor(v: Uint8Array): CaDescriptor {
  if (!isDescriptor(v)) throw new CodecError('descriptor', 'not a CA descriptor');
  const r = new ByteReader(v);
  r.raw(DESCRIPTOR_MAGIC.length, 'descriptor.magic');
  const name = readName(r, 'descriptor.name');
  const scheme = readScheme(r, 'descriptor.scheme');
  const members = readMembers(r);
  const publicKey = r.bytes(CA_PUBLIC_KEY_BYTES_MAX, 'descriptor.publicKey');
  const authorized = r.list(CA_AUTHORIZED_MAX, 'descriptor.authorized', (rr, i) =>
    rr.string(LIMITS.uidBytesMax, `descriptor.authorized[${i}]`),
  );
  for (let i = 1; i < authorized.length; i++)
    if (authorized[i - 1]! >= authorized[i]!)
      throw new CodecError('descriptor.authorized', 'must be sorted and distinct');
  const certificate = r.bool('descriptor.hasCertificate')
    ? r.bytes(CA_CERTIFICATE_BYTES_MAX, 'descriptor.certificate')
    : undefined;
  r.finish('descriptor');
  return { name, scheme, members, publicKey, authorized, certificate };
}

// ---------------------------------------------------------------------------------------------------------
// Sign input

const HASH_SHA256 = 1;

export function writeSignInput(w: ByteWriter, input: SignInput): void {
  if (input.kind === 'digest') {
    if (input.digest.length !== 32) throw new RangeError('a SHA-256 digest is 32 bytes');
    w.u8(1).u8(HASH_SHA256).raw(input.digest);
  } else {
    if (input.message.length > CA_MESSAGE_BYTES_MAX)
      throw new RangeError(`message larger than ${CA_MESSAGE_BYTES_MAX} bytes`);
    w.u8(2).bytes(input.message);
  }
}

export function readSignInput(r: ByteReader, field: string): SignInput {
  const kind = r.u8(`${field}.kind`);
  if (kind === 1) {
    const hash = r.u8(`${field}.hash`);
    if (hash !== HASH_SHA256) throw new CodecError(`${field}.hash`, `unknown hash ${hash}`);
    return { kind: 'digest', hash: 'sha256', digest: r.raw(32, `${field}.digest`) };
  }
  if (kind === 2) return { kind: 'message', message: r.bytes(CA_MESSAGE_BYTES_MAX, `${field}.message`) };
  throw new CodecError(`${field}.kind`, `unknown input kind ${kind}`);
}

/** The canonical bytes of a sign input (what the log keeps a digest of). */
export function encodeSignInput(input: SignInput): Uint8Array {
  const w = new ByteWriter();
  writeSignInput(w, input);
  return w.finish();
}

// ---------------------------------------------------------------------------------------------------------
// Calls

export const CA_OPS = ['hello', 'setup', 'sign', 'delete', 'log', 'reshare', 'commit'] as const;
/** The two sides of a reshare: old holders deal, new holders receive. */
export const RESHARE_ROLES = ['dealer', 'receiver'] as const;
export type ReshareRole = (typeof RESHARE_ROLES)[number];
export type CaOp = (typeof CA_OPS)[number];

/** What a call asks, by operation. */
export type CaAction =
  /** This holder's attested X25519 key. */
  | { readonly op: 'hello' }
  /** A key-setup step (create or import) of the scheme; `replace` allows overwriting an existing key. */
  | {
      readonly op: 'setup';
      readonly scheme: CaScheme;
      readonly replace: boolean;
      readonly members: readonly MemberKey[];
      readonly body: Uint8Array;
    }
  /** A signing step, authorized by the latest descriptor record. */
  | {
      readonly op: 'sign';
      readonly descriptor: SignedRecord;
      readonly input: SignInput;
      readonly body: Uint8Array;
    }
  /** Erase this holder's share of the key (owner only). */
  | { readonly op: 'delete' }
  /** The latest entries of this holder's signature log for the key (owner only). */
  | { readonly op: 'log'; readonly limit: number }
  /**
   * A reshare step (owner only): the current descriptor names the key and the old group; `members` is the
   * new group; dealers are old holders, receivers new ones (reshare.ts).
   */
  | {
      readonly op: 'reshare';
      readonly role: ReshareRole;
      readonly descriptor: SignedRecord;
      readonly members: readonly MemberKey[];
      readonly body: Uint8Array;
    }
  /** The owner's new descriptor after a reshare: switch to the pending share it names, or erase a stale one. */
  | { readonly op: 'commit'; readonly descriptor: SignedRecord };

/** One signed request to one holder. */
export interface CaCall {
  readonly name: string;
  /** The setup or signing session (32 bytes); random for the other operations. */
  readonly sid: Uint8Array;
  readonly requester: Certificate;
  /** Requester's clock, ms; holders refuse calls outside their replay window. */
  readonly issuedMs: bigint;
  readonly nonce: Uint8Array;
  readonly action: CaAction;
  /** Requester's signature over `callStatement(holder, call)`. */
  readonly signature: Uint8Array;
}

function writeAction(w: ByteWriter, a: CaAction): void {
  w.u8(CA_OPS.indexOf(a.op));
  switch (a.op) {
    case 'hello':
    case 'delete':
      return;
    case 'setup':
      writeScheme(w, a.scheme);
      w.bool(a.replace);
      writeList(w, a.members, writeMember);
      w.bytes(a.body);
      return;
    case 'sign':
      w.bytes(encodeRecord(a.descriptor));
      writeSignInput(w, a.input);
      w.bytes(a.body);
      return;
    case 'log':
      w.u16(a.limit);
      return;
    case 'reshare':
      w.u8(RESHARE_ROLES.indexOf(a.role));
      w.bytes(encodeRecord(a.descriptor));
      writeList(w, a.members, writeMember);
      w.bytes(a.body);
      return;
    case 'commit':
      w.bytes(encodeRecord(a.descriptor));
      return;
  }
}

function readAction(r: ByteReader): CaAction {
  const op = CA_OPS[r.u8('ca.op')];
  switch (op) {
    case 'hello':
    case 'delete':
      return { op };
    case 'setup':
      return {
        op,
        scheme: readScheme(r, 'ca.scheme'),
        replace: r.bool('ca.replace'),
        members: readMembers(r),
        body: r.bytes(CA_BODY_BYTES_MAX, 'ca.body'),
      };
    case 'sign':
      return {
        op,
        descriptor: decodeRecord(r.bytes(LIMITS.messageBytesMax, 'ca.descriptor')),
        input: readSignInput(r, 'ca.input'),
        body: r.bytes(CA_BODY_BYTES_MAX, 'ca.body'),
      };
    case 'log':
      return { op, limit: r.u16('ca.limit') };
    case 'reshare': {
      const role = RESHARE_ROLES[r.u8('ca.role')];
      if (role === undefined) throw new CodecError('ca.role', 'unknown reshare role');
      return {
        op,
        role,
        descriptor: decodeRecord(r.bytes(LIMITS.messageBytesMax, 'ca.descriptor')),
        members: readMembers(r),
        body: r.bytes(CA_BODY_BYTES_MAX, 'ca.body'),
      };
    }
    case 'commit':
      return { op, descriptor: decodeRecord(r.bytes(LIMITS.messageBytesMax, 'ca.descriptor')) };
    default:
      throw new CodecError('ca.op', 'unknown operation');
  }
}

/** The part of a call the requester signs (everything but the signature). */
function writeUnsigned(w: ByteWriter, c: Omit<CaCall, 'signature'>): void {
  w.string(c.name).raw(c.sid);
  writeCertificate(w, c.requester);
  w.u64(c.issuedMs).raw(c.nonce);
  writeAction(w, c.action);
}

/** What the requester signs: the domain, the receiving holder, and the whole call. */
export function callStatement(holder: NodeId, c: Omit<CaCall, 'signature'>): Uint8Array {
  const w = new ByteWriter().raw(utf8('bftkv/ca/call/v1\0')).string(holder);
  writeUnsigned(w, c);
  return sha256(w.finish());
}

export function writeCall(w: ByteWriter, c: CaCall): void {
  writeUnsigned(w, c);
  w.raw(c.signature);
}

export function readCall(r: ByteReader): CaCall {
  const name = readName(r, 'ca.name');
  const sid = r.raw(CA_SESSION_ID_BYTES, 'ca.sid');
  const requester = readCertificate(r);
  const issuedMs = r.u64('ca.issuedMs');
  const nonce = r.raw(CA_NONCE_BYTES, 'ca.nonce');
  const action = readAction(r);
  const signature = r.raw(SIGNATURE_BYTES, 'ca.signature');
  return { name, sid, requester, issuedMs, nonce, action, signature };
}

// ---------------------------------------------------------------------------------------------------------
// Answers that are not scheme bytes

/** A holder's hello: its X25519 key and the attestation by its node key. */
export function encodeHello(encryptionKey: Uint8Array, attestation: Uint8Array): Uint8Array {
  return new ByteWriter().raw(encryptionKey).raw(attestation).finish();
}

export function decodeHello(b: Uint8Array): { encryptionKey: Uint8Array; attestation: Uint8Array } {
  const r = new ByteReader(b);
  const out = {
    encryptionKey: r.raw(X25519_BYTES, 'hello.key'),
    attestation: r.raw(SIGNATURE_BYTES, 'hello.sig'),
  };
  r.finish('hello');
  return out;
}

/** One entry of a holder's signature log: who asked to sign what with which key, and the signed call. */
export interface CaLogEntry {
  readonly seq: bigint;
  readonly atMs: bigint;
  readonly keyId: Uint8Array;
  readonly requester: NodeId;
  readonly uid: string;
  readonly sid: Uint8Array;
  /** SHA-256 of the canonical sign input. */
  readonly inputDigest: Uint8Array;
  /** The requester's signature over the call (re-checkable with the requester's key and the call). */
  readonly callSignature: Uint8Array;
}

export function encodeLogEntry(e: CaLogEntry): Uint8Array {
  return new ByteWriter()
    .u64(e.seq)
    .u64(e.atMs)
    .raw(e.keyId)
    .string(e.requester)
    .string(e.uid)
    .raw(e.sid)
    .raw(e.inputDigest)
    .raw(e.callSignature)
    .finish();
}

function readLogEntry(r: ByteReader): CaLogEntry {
  return {
    seq: r.u64('log.seq'),
    atMs: r.u64('log.atMs'),
    keyId: r.raw(32, 'log.keyId'),
    requester: r.string(NODE_ID_BYTES * 2, 'log.requester'),
    uid: r.string(LIMITS.uidBytesMax, 'log.uid'),
    sid: r.raw(CA_SESSION_ID_BYTES, 'log.sid'),
    inputDigest: r.raw(32, 'log.inputDigest'),
    callSignature: r.raw(SIGNATURE_BYTES, 'log.callSignature'),
  };
}

export function decodeLogEntry(b: Uint8Array): CaLogEntry {
  const r = new ByteReader(b);
  const e = readLogEntry(r);
  r.finish('log');
  return e;
}

export function encodeLog(entries: readonly CaLogEntry[]): Uint8Array {
  const w = new ByteWriter();
  writeList(w, entries, (ww, e) => ww.bytes(encodeLogEntry(e)));
  return w.finish();
}

export function decodeLog(b: Uint8Array): CaLogEntry[] {
  const r = new ByteReader(b);
  const entries = r.list(0xffff, 'log', (rr) => decodeLogEntry(rr.bytes(4096, 'log.entry')));
  r.finish('log');
  return entries;
}
