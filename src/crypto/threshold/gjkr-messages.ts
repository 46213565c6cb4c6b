/**
 * Messages, identities and errors of the GJKR threshold DSA/ECDSA protocols (Gennaro, Jarecki, Krawczyk
 * and Rabin, "Robust Threshold DSS Signatures", §3–4, and "Secure Distributed Key Generation", §4), for a
 * deployment where a client relays every message between the servers (BFTKV paper §3.4: there is no
 * server-to-server channel).
 *
 * Servers sign every message they emit (`SignedMessage`: a canonical body and the sender's signature over a
 * domain-separated copy of it), so the relaying client can drop messages but never alter them. Every body
 * starts with (tag, context, sender): the context is a hash of the session id and the session's public
 * parameters, so a message of one session is useless in any other. Requests from the client are not
 * signed: their authority comes from the signed server messages they carry.
 *
 * All decoders take the bounds of the session (group, counts) and reject anything else with a CodecError.
 */
import { ByteReader, ByteWriter, CodecError, bytesEqual, utf8, writeList } from '../../codec/bytes.js';
import { sha256 } from '../hash.js';
import {
  DL_HASH_CODES,
  ElementBatch,
  encodeScalar,
  readGroup,
  readScalar,
  writeGroup,
  type DlGroup,
  type DlHashName,
  type GroupElement,
} from './dl-group.js';
import type { SigmaProof } from './gjkr-proofs.js';
import type { X25519KeyPair } from './gjkr-seal.js';
import { PARTIES_MAX } from './gjkr-vss.js';

// ---------------------------------------------------------------------------------------------------
// Errors: callers match on the class, not on the text.

/** A named party provably misbehaved (bad signed message, wrong share, wrong answer). */
export class GjkrPeerError extends Error {
  override readonly name = 'GjkrPeerError';
  constructor(
    readonly culprits: readonly number[],
    readonly reason: string,
  ) {
    super(`party ${culprits.join(', ')}: ${reason}`);
  }
}

/** A server refuses a request it cannot attribute to a server: malformed, inconsistent or forged relay. */
export class GjkrRequestError extends Error {
  override readonly name = 'GjkrRequestError';
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}

/** Why a session refused a request. */
export type GjkrSessionRefusal =
  | 'unknown-session'
  | 'session-id-reused'
  | 'replayed'
  | 'out-of-order'
  | 'finished'
  | 'expired'
  | 'too-many-sessions';

/** A request does not fit the session's state: replays, reuse of a session id, late or early phases. */
export class GjkrSessionError extends Error {
  override readonly name = 'GjkrSessionError';
  constructor(
    readonly refusal: GjkrSessionRefusal,
    detail: string,
  ) {
    super(`${refusal}: ${detail}`);
  }
}

/** A server blamed by the client, and why. */
export interface Culprit {
  readonly party: number;
  readonly reason: string;
}

/** The protocol cannot finish: more faults than it tolerates. Carries the culprits; never a signature. */
export class GjkrFailure extends Error {
  override readonly name = 'GjkrFailure';
  constructor(
    readonly reason: string,
    readonly culprits: readonly Culprit[],
  ) {
    super(
      `${reason}${culprits.length === 0 ? '' : `; culprits: ${culprits.map((c) => `${c.party} (${c.reason})`).join(', ')}`}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------------
// Identities

/** What any party knows about the others: their encryption keys and how to check their signatures. */
export interface PartyDirectory {
  /** The X25519 public key of party `index`, or undefined when unknown. */
  readonly encryptionKey: (index: number) => Uint8Array | undefined;
  /** Whether `signature` is party `index`'s signature on `message` (never throws). */
  readonly verify: (index: number, message: Uint8Array, signature: Uint8Array) => boolean;
}

/** A server's own identity: its share index, its X25519 key pair and its signing function. */
export interface PartyIdentity extends PartyDirectory {
  readonly index: number;
  readonly encryption: X25519KeyPair;
  /** Signs `message` with the party's long-term signing key (e.g. Ed25519). */
  readonly sign: (message: Uint8Array) => Uint8Array;
}

/** One step of a client coordinator: send `request` to the servers `to` and come back with their answers. */
export interface SendStep {
  readonly kind: 'send';
  readonly round: string;
  readonly to: readonly number[];
  readonly request: Uint8Array;
}

// ---------------------------------------------------------------------------------------------------
// Bounds

/** Session identifiers are 32 random bytes chosen by the client. */
export const SESSION_ID_BYTES = 32;
/** Largest message a signing session accepts (it is hashed by every server). */
export const SIGN_MESSAGE_BYTES_MAX = 1 << 20;
/** Largest signature of a party over a message. */
export const PARTY_SIGNATURE_BYTES_MAX = 512;
/** Largest signed message (a deal for 64 parties with 2048-bit DSA elements stays far below). */
export const SIGNED_MESSAGE_BYTES_MAX = 1 << 20;
/** Largest request a server accepts. */
export const REQUEST_BYTES_MAX = SIGN_MESSAGE_BYTES_MAX + (4 << 20);

// ---------------------------------------------------------------------------------------------------
// Signed messages

const SIGNED_DOMAIN = utf8('bftkv/gjkr/signed/v1\0');

/** Body tags (first byte of every signed body). */
export const BODY = {
  deal: 0x81,
  complaint: 0x82,
  reveal: 0x83,
  signPhase1: 0x84,
  signPhase2: 0x85,
  dkgFinal: 0x86,
  dkgAck: 0x87,
} as const;

/** A signed body as relayed: canonical body bytes and the sender's signature. */
export interface SignedMessage {
  readonly from: number;
  readonly tag: number;
  readonly context: Uint8Array;
  readonly body: Uint8Array;
  readonly signature: Uint8Array;
  /** The encoding relayed on the wire. */
  readonly bytes: Uint8Array;
}

/** Writes the common body header. */
export function bodyHeader(tag: number, context: Uint8Array, from: number): ByteWriter {
  return new ByteWriter(512).u8(tag).raw(context).u16(from);
}

/** Signs a body and returns the wire encoding `bytes(body) ‖ bytes(signature)`. */
export function signMessage(identity: PartyIdentity, body: Uint8Array): Uint8Array {
  const signature = identity.sign(new ByteWriter().raw(SIGNED_DOMAIN).raw(body).finish());
  return new ByteWriter(body.length + signature.length + 8).bytes(body).bytes(signature).finish();
}

/**
 * Parses a relayed signed message and checks its header and signature. Returns undefined when the
 * signature does not verify (then nobody can be blamed but the relay); throws CodecError when it is
 * malformed.
 */
export function openSigned(
  bytes: Uint8Array,
  directory: PartyDirectory,
  expect: { readonly tag: number; readonly context: Uint8Array },
  field: string,
): SignedMessage | undefined {
  if (!(bytes instanceof Uint8Array)) throw new CodecError(field, 'expected bytes');
  if (bytes.length > SIGNED_MESSAGE_BYTES_MAX)
    throw new CodecError(field, `length ${bytes.length} exceeds bound`);
  const r = new ByteReader(bytes);
  const body = r.bytes(SIGNED_MESSAGE_BYTES_MAX, `${field}.body`);
  const signature = r.bytes(PARTY_SIGNATURE_BYTES_MAX, `${field}.signature`);
  r.finish(field);
  const h = new ByteReader(body);
  const tag = h.u8(`${field}.tag`);
  const context = h.raw(32, `${field}.context`);
  const from = h.u16(`${field}.from`);
  if (tag !== expect.tag)
    throw new CodecError(`${field}.tag`, `expected 0x${expect.tag.toString(16)}, got 0x${tag.toString(16)}`);
  if (!bytesEqual(context, expect.context))
    throw new CodecError(`${field}.context`, 'message of another session');
  if (from < 1 || from > PARTIES_MAX) throw new CodecError(`${field}.from`, `index ${from} out of range`);
  if (!directory.verify(from, new ByteWriter().raw(SIGNED_DOMAIN).raw(body).finish(), signature))
    return undefined;
  return { from, tag, context, body, signature, bytes };
}

/** A reader positioned after the body header. */
export function bodyReader(m: SignedMessage): ByteReader {
  const r = new ByteReader(m.body);
  r.raw(1 + 32 + 2, 'header');
  return r;
}

// ---------------------------------------------------------------------------------------------------
// Joint VSS bodies (shared by key generation and signing)

/** Shape of one jointly shared polynomial: its degree, and whether its constant term is 0 (GJKR Joint-ZVSS). */
export interface JvssSpec {
  readonly degree: number;
  readonly zeroConstant: boolean;
}

/** Number of scalars in one party's sub-share: value and blinding value per polynomial. */
export function subShareScalars(specs: readonly JvssSpec[]): number {
  return 2 * specs.length;
}

/** A dealer's public commitments and the sealed sub-shares for every other participant. */
export interface DealBody {
  readonly dealer: number;
  /** The encoded commitments as received (what the deal-set digest covers). */
  readonly commitmentBytes: Uint8Array;
  /** Per spec, Pedersen commitments C_0..C_d; C_0 is the identity for zero-constant specs (not sent). */
  readonly commitments: readonly (readonly GroupElement[])[];
  readonly boxes: ReadonlyMap<number, Uint8Array>;
}

/** Writes a deal body. */
export function encodeDeal(
  group: DlGroup,
  context: Uint8Array,
  specs: readonly JvssSpec[],
  deal: Omit<DealBody, 'commitmentBytes'>,
): Uint8Array {
  const w = bodyHeader(BODY.deal, context, deal.dealer);
  specs.forEach((spec, i) => {
    const c = deal.commitments[i]!;
    for (let l = spec.zeroConstant ? 1 : 0; l <= spec.degree; l++) w.raw(group.encodeElement(c[l]!));
  });
  writeList(
    w,
    [...deal.boxes.entries()].sort((a, b) => a[0] - b[0]),
    (w2, [j, box]) => w2.u16(j).bytes(box),
  );
  return w.finish();
}

/**
 * Reads a deal body: commitments valid, exactly one box per other participant, each of the expected size.
 * Subgroup membership of the commitments is left to the caller, who checks `elements` (for many deals at
 * once, `ElementBatch.failing`) before using the deal.
 */
export function decodeDealUnchecked(
  group: DlGroup,
  specs: readonly JvssSpec[],
  participants: readonly number[],
  boxBytes: number,
  m: SignedMessage,
): { deal: DealBody; elements: ElementBatch } {
  const r = bodyReader(m);
  let count = 0;
  for (const spec of specs) count += spec.zeroConstant ? spec.degree : spec.degree + 1;
  const commitmentBytes = m.body.slice(1 + 32 + 2, 1 + 32 + 2 + count * group.elementBytes);
  const elements = new ElementBatch(group);
  const commitments = specs.map((spec, i) => {
    const c: GroupElement[] = [];
    if (spec.zeroConstant) c.push(group.identity);
    for (let l = spec.zeroConstant ? 1 : 0; l <= spec.degree; l++)
      c.push(elements.read(r, `deal.commitments[${i}][${l}]`));
    return c;
  });
  const boxes = new Map<number, Uint8Array>();
  let previous = 0;
  r.list(PARTIES_MAX, 'deal.boxes', (rr) => {
    const j = rr.u16('deal.boxes.recipient');
    if (j <= previous) throw new CodecError('deal.boxes', 'recipients not strictly increasing');
    previous = j;
    boxes.set(j, rr.bytes(boxBytes, 'deal.boxes.box'));
  });
  r.finish('deal');
  for (const j of participants) {
    if (j === m.from) continue;
    const box = boxes.get(j);
    if (box === undefined) throw new CodecError('deal.boxes', `no sub-share for participant ${j}`);
    if (box.length !== boxBytes)
      throw new CodecError('deal.boxes', `box for ${j} has ${box.length} bytes, expected ${boxBytes}`);
  }
  if (boxes.size !== participants.length - 1)
    throw new CodecError('deal.boxes', 'boxes for non-participants');
  return { deal: { dealer: m.from, commitmentBytes, commitments, boxes }, elements };
}

/** Reads a deal body and checks it completely (`decodeDealUnchecked`, then the commitments' membership). */
export function decodeDeal(
  group: DlGroup,
  specs: readonly JvssSpec[],
  participants: readonly number[],
  boxBytes: number,
  m: SignedMessage,
): DealBody {
  const { deal, elements } = decodeDealUnchecked(group, specs, participants, boxBytes, m);
  elements.check();
  return deal;
}

/** A verifier's list of dealers whose sub-shares failed (empty: it accepts every deal). */
export interface ComplaintBody {
  readonly complainer: number;
  readonly dealSetDigest: Uint8Array;
  readonly accused: readonly number[];
}

/** Writes a complaint body. */
export function encodeComplaint(context: Uint8Array, c: ComplaintBody): Uint8Array {
  const w = bodyHeader(BODY.complaint, context, c.complainer).raw(c.dealSetDigest);
  writeList(
    w,
    [...c.accused].sort((a, b) => a - b),
    (w2, d) => w2.u16(d),
  );
  return w.finish();
}

/** Reads a complaint body (accused strictly increasing, never the complainer). */
export function decodeComplaint(m: SignedMessage): ComplaintBody {
  const r = bodyReader(m);
  const dealSetDigest = r.raw(32, 'complaint.dealSetDigest');
  let previous = 0;
  const accused = r.list(PARTIES_MAX, 'complaint.accused', (rr) => {
    const d = rr.u16('complaint.accused');
    if (d <= previous || d === m.from)
      throw new CodecError('complaint.accused', 'not strictly increasing, or self-accusation');
    previous = d;
    return d;
  });
  r.finish('complaint');
  return { complainer: m.from, dealSetDigest, accused };
}

/** A dealer's answer to complaints: the disputed sub-shares in the clear (GJKR DKG Fig. 2, step 1(c)). */
export interface RevealBody {
  readonly dealer: number;
  readonly dealSetDigest: Uint8Array;
  /** complainer → sub-share scalars (value, blinding per spec). */
  readonly shares: ReadonlyMap<number, readonly bigint[]>;
}

/** Writes a reveal body. */
export function encodeReveal(group: DlGroup, context: Uint8Array, body: RevealBody): Uint8Array {
  const w = bodyHeader(BODY.reveal, context, body.dealer).raw(body.dealSetDigest);
  writeList(
    w,
    [...body.shares.entries()].sort((a, b) => a[0] - b[0]),
    (w2, [j, scalars]) => {
      w2.u16(j);
      for (const s of scalars) w2.raw(encodeScalar(group, s));
    },
  );
  return w.finish();
}

/** Reads a reveal body. */
export function decodeReveal(group: DlGroup, specs: readonly JvssSpec[], m: SignedMessage): RevealBody {
  const r = bodyReader(m);
  const dealSetDigest = r.raw(32, 'reveal.dealSetDigest');
  const shares = new Map<number, bigint[]>();
  let previous = 0;
  r.list(PARTIES_MAX, 'reveal.shares', (rr) => {
    const j = rr.u16('reveal.shares.complainer');
    if (j <= previous || j === m.from)
      throw new CodecError('reveal.shares', 'complainers not strictly increasing');
    previous = j;
    const scalars: bigint[] = [];
    for (let i = 0; i < subShareScalars(specs); i++)
      scalars.push(readScalar(rr, group, 'reveal.shares.scalar'));
    shares.set(j, scalars);
  });
  r.finish('reveal');
  return { dealer: m.from, dealSetDigest, shares };
}

// ---------------------------------------------------------------------------------------------------
// Proof encoding

/** Writes the commitments and the responses of a proof (their counts are fixed by the statement). */
export function writeProof(w: ByteWriter, group: DlGroup, proof: SigmaProof): void {
  for (const c of proof.commitments) w.raw(group.encodeElement(c));
  for (const z of proof.responses) w.raw(encodeScalar(group, z));
}

/**
 * Reads a proof of a statement with `relations` relations and `responses` witnesses; its commitments join
 * `elements`, which the caller checks with the rest of the message's elements.
 */
export function readProof(
  r: ByteReader,
  elements: ElementBatch,
  relations: number,
  responses: number,
  field: string,
): SigmaProof {
  const commitments: GroupElement[] = [];
  for (let i = 0; i < relations; i++) commitments.push(elements.read(r, `${field}.commitment`));
  const zs: bigint[] = [];
  for (let i = 0; i < responses; i++) zs.push(readScalar(r, elements.group, `${field}.response`));
  return { commitments, responses: zs };
}

// ---------------------------------------------------------------------------------------------------
// Requests (client → server)

/** Request tags (first byte of every request; the session id follows). */
export const REQUEST = {
  signOpen: 0x01,
  dkgOpen: 0x02,
  deals: 0x03,
  reveal: 0x04,
  qualify: 0x05,
  signPhase2: 0x06,
  dkgCommit: 0x07,
  /** A sign-open whose `message` is already the digest: servers sign exactly those bytes. */
  signOpenDigest: 0x08,
} as const;

/** Output length of each hash (FIPS 180-4), the length of a prehashed signing input. */
export const DL_HASH_BYTES: Record<DlHashName, number> = { sha256: 32, sha384: 48, sha512: 64 };

/** A request's tag, session id and the reader positioned on its payload. */
export interface RequestHeader {
  readonly tag: number;
  readonly sid: Uint8Array;
  readonly reader: ByteReader;
}

/** Reads a request header (bounded size). */
export function readRequestHeader(request: Uint8Array): RequestHeader {
  if (!(request instanceof Uint8Array)) throw new GjkrRequestError('request', 'expected bytes');
  if (request.length > REQUEST_BYTES_MAX)
    throw new GjkrRequestError('request', `length ${request.length} exceeds bound`);
  try {
    const reader = new ByteReader(request);
    const tag = reader.u8('request.tag');
    const sid = reader.raw(SESSION_ID_BYTES, 'request.sid');
    return { tag, sid, reader };
  } catch (e) {
    throw new GjkrRequestError('request', e instanceof Error ? e.message : 'malformed');
  }
}

function requestWriter(tag: number, sid: Uint8Array): ByteWriter {
  if (!(sid instanceof Uint8Array) || sid.length !== SESSION_ID_BYTES)
    throw new RangeError(`sid: expected ${SESSION_ID_BYTES} bytes, got ${String(sid?.length)}`);
  return new ByteWriter(1024).u8(tag).raw(sid);
}

/**
 * Opening of a signing session: which key, what to sign, which servers take part. Without `prehashed`
 * every server hashes `message` with `hash`; with it, `message` is the digest itself (exactly the hash's
 * length), for callers that authorize digests rather than messages.
 */
export interface SignOpenRequest {
  readonly sid: Uint8Array;
  readonly keyId: Uint8Array;
  readonly hash: DlHashName;
  readonly message: Uint8Array;
  readonly prehashed?: boolean;
  readonly participants: readonly number[];
}

/** Writes a sign-open request (tag `signOpenDigest` when prehashed). */
export function encodeSignOpen(req: SignOpenRequest): Uint8Array {
  if (req.prehashed === true && req.message.length !== DL_HASH_BYTES[req.hash])
    throw new RangeError(
      `message: a ${req.hash} digest has ${DL_HASH_BYTES[req.hash]} bytes, got ${req.message.length}`,
    );
  const w = requestWriter(req.prehashed === true ? REQUEST.signOpenDigest : REQUEST.signOpen, req.sid)
    .raw(req.keyId)
    .u8(DL_HASH_CODES[req.hash])
    .bytes(req.message);
  writeList(w, req.participants, (w2, j) => w2.u16(j));
  return w.finish();
}

/** Reads the payload of a sign-open request (either tag). */
export function decodeSignOpen(h: RequestHeader): SignOpenRequest {
  const r = h.reader;
  const prehashed = h.tag === REQUEST.signOpenDigest;
  if (!prehashed && h.tag !== REQUEST.signOpen)
    throw new CodecError('request.tag', `not a sign-open request: 0x${h.tag.toString(16)}`);
  const keyId = r.raw(32, 'signOpen.keyId');
  const code = r.u8('signOpen.hash');
  const hash = (Object.keys(DL_HASH_CODES) as DlHashName[]).find((k) => DL_HASH_CODES[k] === code);
  if (hash === undefined) throw new CodecError('signOpen.hash', `unknown hash code ${code}`);
  const message = r.bytes(prehashed ? DL_HASH_BYTES[hash] : SIGN_MESSAGE_BYTES_MAX, 'signOpen.message');
  if (prehashed && message.length !== DL_HASH_BYTES[hash])
    throw new CodecError('signOpen.message', `a ${hash} digest has ${DL_HASH_BYTES[hash]} bytes`);
  const participants = readIndexList(r, 'signOpen.participants');
  r.finish('signOpen');
  return prehashed
    ? { sid: h.sid, keyId, hash, message, prehashed, participants }
    : { sid: h.sid, keyId, hash, message, participants };
}

/** Opening of a distributed key generation among parties 1..n with threshold t. */
export interface DkgOpenRequest {
  readonly sid: Uint8Array;
  readonly group: DlGroup;
  readonly n: number;
  readonly t: number;
}

/** Writes a DKG-open request. */
export function encodeDkgOpen(req: DkgOpenRequest): Uint8Array {
  const w = requestWriter(REQUEST.dkgOpen, req.sid);
  writeGroup(w, req.group);
  return w.u16(req.n).u16(req.t).finish();
}

/** Reads the payload of a DKG-open request. */
export function decodeDkgOpen(h: RequestHeader): DkgOpenRequest {
  const r = h.reader;
  const group = readGroup(r, 'dkgOpen.group');
  const n = r.u16('dkgOpen.n');
  const t = r.u16('dkgOpen.t');
  r.finish('dkgOpen');
  return { sid: h.sid, group, n, t };
}

/** A request that carries lists of relayed signed messages. */
export function encodeRelay(
  tag: number,
  sid: Uint8Array,
  lists: readonly (readonly Uint8Array[])[],
): Uint8Array {
  const w = requestWriter(tag, sid);
  for (const list of lists) writeList(w, list, (w2, m) => w2.bytes(m));
  return w.finish();
}

/** Reads `count` lists of relayed signed messages (each list at most PARTIES_MAX long). */
export function decodeRelay(h: RequestHeader, count: number, field: string): Uint8Array[][] {
  const out: Uint8Array[][] = [];
  for (let i = 0; i < count; i++)
    out.push(
      h.reader.list(PARTIES_MAX, `${field}[${i}]`, (r) =>
        r.bytes(SIGNED_MESSAGE_BYTES_MAX, `${field}[${i}]`),
      ),
    );
  h.reader.finish(field);
  return out;
}

/** Reads a u16-counted list of strictly increasing party indices in [1, PARTIES_MAX]. */
export function readIndexList(r: ByteReader, field: string): number[] {
  let previous = 0;
  return r.list(PARTIES_MAX, field, (rr) => {
    const j = rr.u16(field);
    if (j <= previous || j > PARTIES_MAX)
      throw new CodecError(field, 'indices not strictly increasing in [1, PARTIES_MAX]');
    previous = j;
    return j;
  });
}

// ---------------------------------------------------------------------------------------------------
// Contexts and digests

/** The context of a signing session: binds the sid to the key, the message digest and the participants. */
export function signContext(
  sid: Uint8Array,
  keyId: Uint8Array,
  hash: DlHashName,
  digest: Uint8Array,
  participants: readonly number[],
): Uint8Array {
  const w = new ByteWriter()
    .raw(utf8('bftkv/gjkr/sign-context/v1'))
    .raw(sid)
    .raw(keyId)
    .u8(DL_HASH_CODES[hash])
    .bytes(digest);
  writeList(w, participants, (w2, j) => w2.u16(j));
  return sha256(w.finish());
}

/** The context of a key generation session: binds the sid to the group, n and t. */
export function dkgContext(sid: Uint8Array, group: DlGroup, n: number, t: number): Uint8Array {
  const w = new ByteWriter().raw(utf8('bftkv/gjkr/dkg-context/v1')).raw(sid);
  writeGroup(w, group);
  return sha256(w.u16(n).u16(t).finish());
}

/** Associated data of the sealed sub-share from `dealer` to `recipient`. */
export function boxAad(context: Uint8Array, dealer: number, recipient: number): Uint8Array {
  return new ByteWriter().raw(utf8('bftkv/gjkr/box/v1')).raw(context).u16(dealer).u16(recipient).finish();
}

/**
 * Digest of the set of deals a session works with: the dealers and their commitments, sorted by dealer.
 * The sealed boxes are left out on purpose: each recipient checks its own box against the commitments, and
 * what all parties must agree on is only who dealt and what they committed to.
 */
export function dealSetDigest(
  context: Uint8Array,
  deals: readonly Pick<DealBody, 'dealer' | 'commitmentBytes'>[],
): Uint8Array {
  const w = new ByteWriter().raw(utf8('bftkv/gjkr/deal-set/v1')).raw(context);
  writeList(
    w,
    [...deals].sort((a, b) => a.dealer - b.dealer),
    (w2, d) => w2.u16(d.dealer).raw(sha256(d.commitmentBytes)),
  );
  return sha256(w.finish());
}

/** Digest of the outcome of the sharing phase: deal set, qualified dealers and confirming verifiers. */
export function evidenceDigest(
  dealSet: Uint8Array,
  qual: readonly number[],
  confirmed: readonly number[],
): Uint8Array {
  const w = new ByteWriter().raw(utf8('bftkv/gjkr/evidence/v1')).raw(dealSet);
  writeList(w, qual, (w2, j) => w2.u16(j));
  writeList(w, confirmed, (w2, j) => w2.u16(j));
  return sha256(w.finish());
}

/** The Fiat–Shamir context of a party's proof: session, sharing outcome and the prover's index. */
export function proofContext(context: Uint8Array, evidence: Uint8Array, party: number): Uint8Array {
  return new ByteWriter()
    .raw(utf8('bftkv/gjkr/proof-context/v1'))
    .raw(context)
    .raw(evidence)
    .u16(party)
    .finish();
}
