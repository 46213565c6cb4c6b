/**
 * Wire messages (docs/PROTOCOL.md §Messages): request/response pairs in the canonical bounded encoding.
 * Every request starts with a one-byte command; every response with 0 (ok) or 0xff (error).
 */
import { ByteReader, ByteWriter, CodecError, utf8, writeList } from '../codec/bytes.js';
import { SIGNATURE_BYTES } from '../crypto/ed25519.js';
import { LIMITS } from '../limits.js';
import {
  NODE_ID_BYTES,
  readCertificate,
  readCertificateHead,
  writeCertificate,
  type Certificate,
  type NodeId,
} from '../trust/certificate.js';
import type { Presence } from '../trust/graph.js';
import { readRevocationProof, writeRevocationProof, type RevocationProof } from '../trust/revocation.js';
import {
  NONCE_BYTES,
  POINT_BYTES,
  PROOF_BYTES,
  SCALAR_BYTES,
  readCredential,
  readProof,
  writeCredential,
  writeProof,
  type Credential,
  type CredentialScope,
  type PasswordProof,
} from '../crypto/tpa.js';
import { ERROR_CODES, errorCodeOf, type ErrorCode } from './errors.js';
import { CA_BODY_BYTES_MAX, readCall, writeCall, type CaCall } from './ca/wire.js';

/** One member signature in a collective signature S. */
export interface MemberSignature {
  readonly signer: NodeId;
  readonly signature: Uint8Array;
}

/** The record <x, t, v, s_C, S> (paper §4). `signatures` is sorted by signer, one per signer. */
export interface SignedRecord {
  readonly x: Uint8Array;
  readonly t: bigint;
  readonly v: Uint8Array;
  readonly writer: Certificate;
  readonly writerSignature: Uint8Array;
  readonly signatures: readonly MemberSignature[];
}

export type Request =
  | { readonly kind: 'time'; readonly x: Uint8Array }
  | {
      readonly kind: 'sign';
      readonly x: Uint8Array;
      readonly t: bigint;
      readonly v: Uint8Array;
      readonly writer: Certificate;
      readonly writerSignature: Uint8Array;
    }
  | { readonly kind: 'write'; readonly record: SignedRecord }
  | { readonly kind: 'read'; readonly x: Uint8Array; readonly proof?: PasswordProof | undefined }
  | { readonly kind: 'join'; readonly certificate: Certificate; readonly presence: Presence }
  | { readonly kind: 'leave'; readonly presence: Presence }
  | {
      readonly kind: 'gossip';
      readonly records: readonly SignedRecord[];
      readonly proofs: readonly RevocationProof[];
    }
  /** Password evaluation (docs/PROTOCOL.md §Password): this member's OPRF answer and a fresh nonce. */
  | {
      readonly kind: 'passwordEval';
      readonly scope: CredentialScope;
      readonly name: Uint8Array;
      readonly blinded: Uint8Array;
    }
  /** Register a certificate under its UID: enrol (credential + this member's share) or prove the password. */
  | {
      readonly kind: 'register';
      readonly certificate: Certificate;
      readonly enrol?: { readonly credential: Credential; readonly share: Uint8Array } | undefined;
      readonly proof?: PasswordProof | undefined;
    }
  /** Hand this member its share of a roaming value's fresh password key, before the sign request. */
  | { readonly kind: 'passwordShare'; readonly credential: Credential; readonly share: Uint8Array }
  /** Show a password proof to the members that evaluated (ends their throttling of the UID or variable). */
  | { readonly kind: 'passwordConfirm'; readonly proof: PasswordProof }
  /** A fresh nonce for a password proof (KV nodes, before a protected read). */
  | { readonly kind: 'challenge' }
  /** A signed call to a holder of a distributed CA key (docs/PROTOCOL.md §15). */
  | { readonly kind: 'ca'; readonly call: CaCall };

export type Response =
  | { readonly kind: 'time'; readonly t: bigint }
  | { readonly kind: 'sign'; readonly signature: Uint8Array }
  | { readonly kind: 'write'; readonly ack: Uint8Array }
  | { readonly kind: 'read'; readonly record: SignedRecord | undefined }
  | {
      readonly kind: 'join';
      readonly certificates: readonly Certificate[];
      readonly presences: readonly Presence[];
      readonly proofs: readonly RevocationProof[];
    }
  | { readonly kind: 'ok' }
  | {
      readonly kind: 'passwordEval';
      readonly credential: Credential;
      readonly evaluated: Uint8Array;
      readonly proof: Uint8Array;
      readonly nonce: Uint8Array;
    }
  | { readonly kind: 'register'; readonly certification: Uint8Array }
  | { readonly kind: 'challenge'; readonly nonce: Uint8Array }
  | { readonly kind: 'ca'; readonly body: Uint8Array }
  | {
      readonly kind: 'error';
      readonly code: ErrorCode;
      readonly message: string;
      readonly timestamp: bigint;
    };

const COMMANDS = {
  time: 1,
  sign: 2,
  write: 3,
  read: 4,
  join: 5,
  leave: 6,
  gossip: 7,
  passwordEval: 8,
  register: 9,
  passwordShare: 10,
  passwordConfirm: 11,
  challenge: 12,
  ca: 13,
} as const;
const RESPONSE_OK = 0;
const RESPONSE_ERROR = 0xff;
const KIND_BY_COMMAND = new Map<number, Request['kind']>(
  Object.entries(COMMANDS).map(([kind, command]) => [command, kind as Request['kind']]),
);

/** The kind of an encoded request from its command byte alone, undefined when unknown (metrics, no decode). */
export function requestKindOf(payload: Uint8Array): Request['kind'] | undefined {
  return payload.length === 0 ? undefined : KIND_BY_COMMAND.get(payload[0]!);
}

/** The code of an encoded error response, undefined for anything else (metrics, no full decode). */
export function responseErrorCodeOf(response: Uint8Array): ErrorCode | undefined {
  if (response.length < 3 || response[0] !== RESPONSE_ERROR) return undefined;
  return errorCodeOf((response[1]! << 8) | response[2]!);
}

/**
 * The bytes each decoded record came from (a view into the received message), so a reader can key its
 * verdict cache without encoding the record again (verify.ts RecordVerifier) and a node can store or serve
 * it without encoding it again.
 */
const encodings = new WeakMap<SignedRecord, Uint8Array>();

function writeRecord(w: ByteWriter, r: SignedRecord): void {
  // A record decoded from bytes (a stored record served to a reader, a received one being stored) is
  // written as those bytes: the encoding is canonical, so they are what encoding it again would produce.
  const decodedFrom = encodings.get(r);
  if (decodedFrom !== undefined) {
    w.raw(decodedFrom);
    return;
  }
  w.bytes(r.x).u64(r.t).bytes(r.v);
  writeCertificate(w, r.writer);
  w.raw(r.writerSignature);
  writeList(w, r.signatures, (w2, s) => w2.string(s.signer).raw(s.signature));
}

function readNodeId(r: ByteReader, field: string): NodeId {
  const id = r.string(NODE_ID_BYTES * 2, field);
  if (!/^[0-9a-f]{32}$/.test(id)) throw new CodecError(field, 'not a node id');
  return id;
}

/** The encoding of `rec`: the bytes it was decoded from, or a fresh encoding. */
export function recordEncoding(rec: SignedRecord): Uint8Array {
  return encodings.get(rec) ?? encodeRecord(rec);
}

function readRecord(r: ByteReader): SignedRecord {
  const start = r.offset;
  const rec = readRecordFields(r);
  encodings.set(rec, r.consumed(start, r.offset));
  return rec;
}

function readRecordFields(r: ByteReader): SignedRecord {
  const x = r.bytes(LIMITS.keyBytesMax, 'record.x');
  if (x.length === 0) throw new CodecError('record.x', 'empty');
  const t = r.u64('record.t');
  const v = r.bytes(LIMITS.valueBytesMax, 'record.v');
  const writer = readCertificate(r);
  const writerSignature = r.raw(SIGNATURE_BYTES, 'record.writerSignature');
  let previous = '';
  const signatures = r.list(LIMITS.collectiveSignersMax, 'record.signatures', (rr) => {
    const signer = readNodeId(rr, 'record.signer');
    if (signer <= previous) throw new CodecError('record.signatures', 'duplicate or unsorted signer');
    previous = signer;
    return { signer, signature: rr.raw(SIGNATURE_BYTES, 'record.signature') };
  });
  return { x, t, v, writer, writerSignature, signatures };
}

function writePresence(w: ByteWriter, p: Presence): void {
  w.string(p.id).u64(p.seq).bool(p.present).raw(p.signature);
}

function readPresence(r: ByteReader): Presence {
  return {
    id: readNodeId(r, 'presence.id'),
    seq: r.u64('presence.seq'),
    present: r.bool('presence.present'),
    signature: r.raw(SIGNATURE_BYTES, 'presence.signature'),
  };
}

function readKey(r: ByteReader): Uint8Array {
  const x = r.bytes(LIMITS.keyBytesMax, 'x');
  if (x.length === 0) throw new CodecError('x', 'empty');
  return x;
}

/** The longest prefix of `s` in UTF-8 of at most `maxBytes` bytes that does not split a character. */
function utf8Prefix(s: string, maxBytes: number): Uint8Array {
  const b = utf8(s);
  if (b.length <= maxBytes) return b;
  let end = maxBytes;
  while (end > 0 && (b[end]! & 0xc0) === 0x80) end--;
  return b.subarray(0, end);
}

/** Canonical bytes of a record (storage and hashing). */
export function encodeRecord(rec: SignedRecord): Uint8Array {
  const w = new ByteWriter(256 + rec.v.length);
  writeRecord(w, rec);
  return w.finish();
}

/** What a node needs of a record it stored before: its timestamp and its writer's UID. */
export interface RecordHeader {
  readonly t: bigint;
  readonly writerUid: string;
}

/**
 * Reads the timestamp and the writer's UID of an encoded record without decoding its certificate's
 * certifications or its signatures. Only for records this node verified before storing them.
 */
export function recordHeader(b: Uint8Array): RecordHeader {
  const r = new ByteReader(b);
  r.bytes(LIMITS.keyBytesMax, 'record.x');
  const t = r.u64('record.t');
  r.bytes(LIMITS.valueBytesMax, 'record.v');
  return { t, writerUid: readCertificateHead(r).uid };
}

/** Decodes exactly one record. */
export function decodeRecord(b: Uint8Array): SignedRecord {
  const r = new ByteReader(b);
  const rec = readRecord(r);
  r.finish('record');
  return rec;
}

/** Encodes a request. */
export function encodeRequest(req: Request): Uint8Array {
  const w = new ByteWriter().u8(COMMANDS[req.kind]);
  switch (req.kind) {
    case 'time':
      w.bytes(req.x);
      break;
    case 'read':
      w.bytes(req.x).bool(req.proof !== undefined);
      if (req.proof !== undefined) writeProof(w, req.proof);
      break;
    case 'passwordEval':
      w.string(req.scope).bytes(req.name).raw(req.blinded);
      break;
    case 'register':
      writeCertificate(w, req.certificate);
      w.bool(req.enrol !== undefined);
      if (req.enrol !== undefined) {
        writeCredential(w, req.enrol.credential);
        w.raw(req.enrol.share);
      }
      w.bool(req.proof !== undefined);
      if (req.proof !== undefined) writeProof(w, req.proof);
      break;
    case 'passwordShare':
      writeCredential(w, req.credential);
      w.raw(req.share);
      break;
    case 'passwordConfirm':
      writeProof(w, req.proof);
      break;
    case 'challenge':
      break;
    case 'ca':
      writeCall(w, req.call);
      break;
    case 'sign':
      w.bytes(req.x).u64(req.t).bytes(req.v);
      writeCertificate(w, req.writer);
      w.raw(req.writerSignature);
      break;
    case 'write':
      writeRecord(w, req.record);
      break;
    case 'join':
      writeCertificate(w, req.certificate);
      writePresence(w, req.presence);
      break;
    case 'leave':
      writePresence(w, req.presence);
      break;
    case 'gossip':
      writeList(w, req.records, writeRecord);
      writeList(w, req.proofs, writeRevocationProof);
      break;
  }
  return w.finish();
}

/** Decodes a request; throws CodecError on anything malformed. */
export function decodeRequest(b: Uint8Array): Request {
  if (b.length > LIMITS.messageBytesMax)
    throw new CodecError('request', `larger than ${LIMITS.messageBytesMax} bytes`);
  const r = new ByteReader(b);
  const cmd = r.u8('command');
  let req: Request;
  switch (cmd) {
    case COMMANDS.time:
      req = { kind: 'time', x: readKey(r) };
      break;
    case COMMANDS.read: {
      const x = readKey(r);
      req = r.bool('read.proof')
        ? { kind: 'read', x, proof: readProof(r, LIMITS.keyBytesMax) }
        : { kind: 'read', x };
      break;
    }
    case COMMANDS.passwordEval: {
      const scope = r.string(16, 'scope');
      if (scope !== 'uid' && scope !== 'variable') throw new CodecError('scope', `unknown ${scope}`);
      const name = r.bytes(LIMITS.keyBytesMax, 'name');
      if (name.length === 0) throw new CodecError('name', 'empty');
      req = { kind: 'passwordEval', scope, name, blinded: r.raw(POINT_BYTES, 'blinded') };
      break;
    }
    case COMMANDS.register: {
      const certificate = readCertificate(r);
      const enrol = r.bool('register.enrol')
        ? {
            credential: readCredential(r, LIMITS.keyBytesMax),
            share: r.raw(SCALAR_BYTES, 'register.share'),
          }
        : undefined;
      const proof = r.bool('register.proof') ? readProof(r, LIMITS.keyBytesMax) : undefined;
      req = {
        kind: 'register',
        certificate,
        ...(enrol === undefined ? {} : { enrol }),
        ...(proof === undefined ? {} : { proof }),
      };
      break;
    }
    case COMMANDS.passwordShare:
      req = {
        kind: 'passwordShare',
        credential: readCredential(r, LIMITS.keyBytesMax),
        share: r.raw(SCALAR_BYTES, 'share'),
      };
      break;
    case COMMANDS.passwordConfirm:
      req = { kind: 'passwordConfirm', proof: readProof(r, LIMITS.keyBytesMax) };
      break;
    case COMMANDS.challenge:
      req = { kind: 'challenge' };
      break;
    case COMMANDS.ca:
      req = { kind: 'ca', call: readCall(r) };
      break;
    case COMMANDS.sign: {
      const x = readKey(r);
      const t = r.u64('t');
      const v = r.bytes(LIMITS.valueBytesMax, 'v');
      const writer = readCertificate(r);
      req = { kind: 'sign', x, t, v, writer, writerSignature: r.raw(SIGNATURE_BYTES, 'writerSignature') };
      break;
    }
    case COMMANDS.write:
      req = { kind: 'write', record: readRecord(r) };
      break;
    case COMMANDS.join:
      req = { kind: 'join', certificate: readCertificate(r), presence: readPresence(r) };
      break;
    case COMMANDS.leave:
      req = { kind: 'leave', presence: readPresence(r) };
      break;
    case COMMANDS.gossip:
      req = {
        kind: 'gossip',
        records: r.list(LIMITS.recordsPerGossipMax, 'gossip.records', readRecord),
        proofs: r.list(LIMITS.proofsPerMessageMax, 'gossip.proofs', readRevocationProof),
      };
      break;
    default:
      throw new CodecError('command', `unknown command ${cmd}`);
  }
  r.finish('request');
  return req;
}

/** Encodes a response; `expect` is the request kind it answers. */
export function encodeResponse(res: Response): Uint8Array {
  const w = new ByteWriter();
  if (res.kind === 'error') {
    const text = utf8Prefix(res.message, LIMITS.errorTextBytesMax);
    return w.u8(RESPONSE_ERROR).u16(ERROR_CODES[res.code]).bytes(text).u64(res.timestamp).finish();
  }
  w.u8(RESPONSE_OK);
  switch (res.kind) {
    case 'time':
      w.u64(res.t);
      break;
    case 'sign':
      w.raw(res.signature);
      break;
    case 'write':
      w.raw(res.ack);
      break;
    case 'read':
      w.bool(res.record !== undefined);
      if (res.record !== undefined) writeRecord(w, res.record);
      break;
    case 'join':
      writeList(w, res.certificates, writeCertificate);
      writeList(w, res.presences, writePresence);
      writeList(w, res.proofs, writeRevocationProof);
      break;
    case 'ok':
      break;
    case 'passwordEval':
      writeCredential(w, res.credential);
      w.raw(res.evaluated).raw(res.proof).raw(res.nonce);
      break;
    case 'register':
      w.raw(res.certification);
      break;
    case 'challenge':
      w.raw(res.nonce);
      break;
    case 'ca':
      w.bytes(res.body);
      break;
  }
  return w.finish();
}

/** Decodes the response to a request of kind `expect`; throws CodecError on anything malformed. */
export function decodeResponse(expect: Request['kind'], b: Uint8Array): Response {
  if (b.length > LIMITS.messageBytesMax)
    throw new CodecError('response', `larger than ${LIMITS.messageBytesMax} bytes`);
  const r = new ByteReader(b);
  const status = r.u8('status');
  let res: Response;
  if (status === RESPONSE_ERROR) {
    const code = errorCodeOf(r.u16('error.code'));
    res = {
      kind: 'error',
      code,
      message: r.string(LIMITS.errorTextBytesMax, 'error.message'),
      timestamp: r.u64('error.timestamp'),
    };
  } else if (status !== RESPONSE_OK) {
    throw new CodecError('status', `unknown status ${status}`);
  } else {
    switch (expect) {
      case 'time':
        res = { kind: 'time', t: r.u64('t') };
        break;
      case 'sign':
        res = { kind: 'sign', signature: r.raw(SIGNATURE_BYTES, 'signature') };
        break;
      case 'write':
        res = { kind: 'write', ack: r.raw(SIGNATURE_BYTES, 'ack') };
        break;
      case 'read':
        res = { kind: 'read', record: r.bool('read.present') ? readRecord(r) : undefined };
        break;
      case 'join':
        res = {
          kind: 'join',
          certificates: r.list(LIMITS.certificatesPerMessageMax, 'join.certificates', readCertificate),
          presences: r.list(LIMITS.certificatesPerMessageMax, 'join.presences', readPresence),
          proofs: r.list(LIMITS.proofsPerMessageMax, 'join.proofs', readRevocationProof),
        };
        break;
      case 'leave':
      case 'gossip':
      case 'passwordShare':
      case 'passwordConfirm':
        res = { kind: 'ok' };
        break;
      case 'passwordEval':
        res = {
          kind: 'passwordEval',
          credential: readCredential(r, LIMITS.keyBytesMax),
          evaluated: r.raw(POINT_BYTES, 'evaluated'),
          proof: r.raw(PROOF_BYTES, 'proof'),
          nonce: r.raw(NONCE_BYTES, 'nonce'),
        };
        break;
      case 'register':
        res = { kind: 'register', certification: r.raw(SIGNATURE_BYTES, 'certification') };
        break;
      case 'challenge':
        res = { kind: 'challenge', nonce: r.raw(NONCE_BYTES, 'nonce') };
        break;
      case 'ca':
        res = { kind: 'ca', body: r.bytes(CA_BODY_BYTES_MAX, 'ca.body') };
        break;
    }
  }
  r.finish('response');
  return res;
}
