/**
 * Resharing a Shamir-shared key to a new group without ever reconstructing it (verifiable secret
 * redistribution: Desmedt and Jajodia 1997; Wong, Wang and Wing 2002; the share renewal of Herzberg et al.
 * 1995 is the case of an unchanged group). Used by the CA schemes whose key is a Shamir sharing over a
 * prime-order group with public verification shares X_i = g^{x_i}: GJKR DSA/ECDSA (scheme-dl.ts) and FROST
 * Ed25519 (scheme-frost.ts). The public key y stays the same, so every signature, certificate and pinned
 * key stays valid; every share changes, so shares taken before the reshare are useless with shares taken
 * after it, and a member removed from the group keeps nothing that counts.
 *
 * Each old holder i (a dealer) shares its own share x_i with a fresh random polynomial f_i of the new
 * degree d', f_i(0) = x_i, publishing Feldman commitments C_ik = g^{a_ik} and sending σ_ij = f_i(j) to new
 * holder j, sealed to j's attested X25519 key. New holder j, for a set Q of at least d+1 qualified dealers
 * (d the old degree), takes x'_j = Σ_{i∈Q} λ_i σ_ij, with λ_i the Lagrange coefficients of Q at 0. Then
 * Σ_{i∈Q} λ_i f_i is a polynomial of degree d' whose value at 0 is Σ λ_i x_i = x: a fresh sharing of the
 * same key. Its commitments A'_k = Π_{i∈Q} C_ik^{λ_i} are public, so every new verification share
 * X'_m = Π_k A'_k^{m^k} is too, and A'_0 = y is checked rather than trusted.
 *
 * What is checked, by whom:
 * - every dealing is signed by its dealer's node key under a context binding the scheme, the session, the
 *   old key and the new group (members' X25519 keys, size, degree), so it cannot be replayed elsewhere;
 * - C_i0 must equal the dealer's old verification share X_i (from the collectively signed descriptor), so a
 *   dealer cannot deal anything but its own share, and the result is x whatever the faulty dealers do;
 * - each new holder checks its σ_ij against the commitments: g^{σ_ij} = Π_k C_ik^{j^k}, and accuses the
 *   dealers whose share is missing or wrong in a verdict it signs;
 * - an accused dealer answers each signed accusation by revealing σ_ij (GJKR's complaint round): a valid
 *   value keeps the dealer qualified and gives the accuser its share, anything else disqualifies the
 *   dealer. A dealer reveals only for an accusation signed by the accuser, so the relaying client (the
 *   CA's owner) cannot collect anybody's shares; a lying accuser only learns what it already had;
 * - every new holder signs an acknowledgement of the digest of the new public key, which the coordinator
 *   recomputes from the commitments; it needs n' − b' of them before it reports success.
 *
 * Rounds, all relayed by the coordinator (the client): deal (old group) → verify (new group) → justify
 * (accused dealers only, when there are accusations) → finish (new group). Each holder runs each step of a
 * session at most once; dealers' polynomials and holders' sub-shares live only in memory, and only for the
 * session. The service (ca-server.ts) keeps the new share as pending until the owner commits the new
 * descriptor, and then erases the old one.
 */
import { ByteReader, ByteWriter, CodecError, bytesEqual, toHex, utf8, writeList } from '../../codec/bytes.js';
import { sha256 } from '../../crypto/hash.js';
import {
  bodyHeader,
  bodyReader,
  openSigned,
  signMessage,
  type SignedMessage,
} from '../../crypto/threshold/gjkr-messages.js';
import { SessionTable } from '../../crypto/threshold/gjkr-server.js';
import { modQ } from '../../crypto/threshold/dl-group.js';
import { evaluate, lagrangeCoefficients } from '../../crypto/threshold/gjkr-vss.js';
import { open as openBox, seal as sealBox } from '../../crypto/threshold/gjkr-seal.js';
import type { Random } from '../../env/random.js';
import {
  CA_SESSION_ID_BYTES,
  SchemeError,
  SchemeFailure,
  type CreatedKey,
  type GroupDirectory,
  type HolderIdentity,
  type RoundTrip,
  type SchemeCulprit,
  type SetupReply,
  type StoredKey,
} from './scheme.js';

/** A prime-order group as resharing needs it (E: the element type). */
export interface ReshareGroup<E> {
  /** Canonical bytes naming the group (bound into every context). */
  readonly id: Uint8Array;
  /** The prime order of the group. */
  readonly q: bigint;
  readonly scalarBytes: number;
  encodeScalar(s: bigint): Uint8Array;
  /** A canonical scalar below q, or undefined. */
  decodeScalar(bytes: Uint8Array): bigint | undefined;
  encodeElement(e: E): Uint8Array;
  /** A validated element of the prime-order subgroup, or undefined. */
  decodeElement(bytes: Uint8Array): E | undefined;
  /** g^s for a secret s (constant time where the group offers it). */
  base(s: bigint): E;
  /** Π points[i]^{scalars[i]} for public values. */
  msm(points: readonly E[], scalars: readonly bigint[]): E;
  equals(a: E, b: E): boolean;
  randomScalar(random: Random): bigint;
}

/** The public side of a Shamir-shared key. */
export interface SharedPublicKey<E> {
  readonly group: ReshareGroup<E>;
  /** Holders 1..n. */
  readonly n: number;
  /** Polynomial degree: degree + 1 shares determine the key. */
  readonly degree: number;
  readonly y: E;
  /** X_i = g^{x_i}, undefined for an index without one. */
  verificationShare(index: number): E | undefined;
}

/** What a scheme provides so that its keys can be reshared. */
export interface ReshareAdapter<E> {
  /** The scheme's name, bound into every context. */
  readonly label: string;
  /** Decodes and validates a stored public key; throws on anything invalid. */
  publicKey(bytes: Uint8Array): SharedPublicKey<E>;
  /** The secret share in a stored key of holder `index`, checked against the public key; throws. */
  secret(key: StoredKey, index: number): bigint;
  /** The polynomial degree the scheme uses for n holders of which b may be Byzantine. */
  degree(n: number, b: number): number;
  /**
   * The new public key bytes from the combined commitments A'_0..A'_d' and the new verification shares
   * X'_1..X'_n (X'_m = Π_k A'_k^{m^k}).
   */
  build(old: SharedPublicKey<E>, commitments: readonly E[], verificationShares: readonly E[]): Uint8Array;
  /** The stored share bytes of holder `index` with secret s under the new public key. */
  storedShare(publicKey: Uint8Array, index: number, s: bigint): Uint8Array;
}

/** Request tags (first byte of a request body, then the 32-byte sid). */
export const RESHARE_REQUEST = { deal: 0x50, verify: 0x51, justify: 0x52, finish: 0x53 } as const;
/** Tags of the signed messages holders answer with. */
export const RESHARE_SIGNED = { dealing: 0x90, verdict: 0x91, reveal: 0x92, ack: 0x93 } as const;
const SIGNED = RESHARE_SIGNED;

/** Largest group a reshare serves (both sides). */
const RESHARE_PARTIES_MAX = 64;
/** Largest request body (a verify step carries up to 64 dealings of 64 boxes and 64 DSA elements). */
const RESHARE_BODY_BYTES_MAX = 4 << 20;
const BOX_BYTES_MAX = 256;

function refuse(
  refusal: 'malformed' | 'session' | 'refused' | 'peer',
  message: string,
  culprits?: number[],
): never {
  throw new SchemeError(refusal, message, culprits);
}

/** Π_k C_k^{m^k}: the commitment to the value at m of the committed polynomial. */
function commitmentAt<E>(group: ReshareGroup<E>, commitments: readonly E[], m: number): E {
  const powers: bigint[] = [];
  let p = 1n;
  for (let k = 0; k < commitments.length; k++) {
    powers.push(p);
    p = modQ(group, p * BigInt(m));
  }
  return group.msm(commitments, powers);
}

/**
 * The context every message of a reshare session is signed under: the scheme, the session, the old key,
 * the new group's size, degree and members' X25519 keys.
 */
export function reshareContext(
  label: string,
  group: ReshareGroup<unknown>,
  sid: Uint8Array,
  oldPublicKey: Uint8Array,
  target: GroupDirectory,
  degree: number,
): Uint8Array {
  const w = new ByteWriter(256 + 32 * target.n)
    .raw(utf8('bftkv/ca/reshare/v1\0'))
    .string(label)
    .bytes(group.id)
    .raw(sid)
    .raw(sha256(oldPublicKey))
    .u16(target.n)
    .u16(degree);
  for (let j = 1; j <= target.n; j++) {
    const k = target.encryptionKey(j);
    if (k === undefined) throw new SchemeError('refused', `new member ${j} has no X25519 key`);
    w.raw(k);
  }
  return sha256(w.finish());
}

export function reshareBoxAad(context: Uint8Array, dealer: number, recipient: number): Uint8Array {
  return new ByteWriter(64)
    .raw(utf8('bftkv/ca/reshare/box/v1\0'))
    .raw(context)
    .u16(dealer)
    .u16(recipient)
    .finish();
}

/** A request body: tag ‖ sid ‖ payload. */
function request(tag: number, sid: Uint8Array, payload?: (w: ByteWriter) => void): Uint8Array {
  const w = new ByteWriter(1024).u8(tag).raw(sid);
  payload?.(w);
  return w.finish();
}

function readRequest(sid: Uint8Array, body: Uint8Array, expected: number): ByteReader {
  if (!(sid instanceof Uint8Array) || sid.length !== CA_SESSION_ID_BYTES)
    refuse('malformed', `sid: expected ${CA_SESSION_ID_BYTES} bytes`);
  if (!(body instanceof Uint8Array) || body.length > RESHARE_BODY_BYTES_MAX)
    refuse('malformed', 'reshare body: expected bytes within the bound');
  const r = new ByteReader(body);
  const tag = r.u8('reshare.tag');
  if (tag !== expected)
    refuse('refused', `reshare: expected step 0x${expected.toString(16)}, got 0x${tag.toString(16)}`);
  if (!bytesEqual(r.raw(CA_SESSION_ID_BYTES, 'reshare.sid'), sid))
    refuse('malformed', 'reshare.sid: not the session’s id');
  return r;
}

/** The step a reshare request body asks for (its tag), or undefined. */
export function reshareStepOf(body: Uint8Array): number | undefined {
  return body instanceof Uint8Array && body.length > 0 ? body[0] : undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Dealings

interface Dealing<E> {
  readonly from: number;
  readonly commitments: readonly E[];
  readonly boxes: readonly Uint8Array[];
  readonly bytes: Uint8Array;
}

/**
 * Opens a relayed dealing: signed by old member `from` under `context`, d'+1 valid commitments with
 * C_0 = X_from, one box per new member. Throws CodecError (malformed) or returns a reason string.
 */
function openDealing<E>(
  bytes: Uint8Array,
  old: SharedPublicKey<E>,
  dealers: GroupDirectory,
  context: Uint8Array,
  degree: number,
  n: number,
): Dealing<E> | string {
  const m = openSigned(bytes, dealers, { tag: SIGNED.dealing, context }, 'dealing');
  if (m === undefined) return 'dealing not signed by its dealer';
  if (m.from > old.n) return `dealer ${m.from} is not an old holder`;
  const r = bodyReader(m);
  const group = old.group;
  const commitments = r.list(degree + 1, 'dealing.commitments', (rr, k) => {
    const e = group.decodeElement(rr.bytes(1024, `dealing.commitments[${k}]`));
    if (e === undefined) throw new CodecError(`dealing.commitments[${k}]`, 'not a group element');
    return e;
  });
  const boxes = r.list(RESHARE_PARTIES_MAX, 'dealing.boxes', (rr, k) =>
    rr.bytes(BOX_BYTES_MAX, `dealing.boxes[${k}]`),
  );
  r.finish('dealing');
  if (commitments.length !== degree + 1) return `${commitments.length} commitments, ${degree + 1} expected`;
  if (boxes.length !== n) return `${boxes.length} boxes, ${n} expected`;
  const X = old.verificationShare(m.from);
  if (X === undefined || !group.equals(commitments[0]!, X))
    return 'the dealt constant is not the dealer’s verification share';
  return { from: m.from, commitments, boxes, bytes };
}

/** Digest of a set of dealings (by dealer): what verdicts and the finish step refer to. */
function dealingSetDigest(dealings: ReadonlyMap<number, { bytes: Uint8Array }>): Uint8Array {
  const w = new ByteWriter(64 * dealings.size + 32).raw(utf8('bftkv/ca/reshare/dealings/v1\0'));
  for (const i of [...dealings.keys()].sort((a, b) => a - b)) w.u16(i).raw(sha256(dealings.get(i)!.bytes));
  return sha256(w.finish());
}

function combine<E>(
  group: ReshareGroup<E>,
  qualified: readonly number[],
  commitments: ReadonlyMap<number, readonly E[]>,
  degree: number,
): E[] {
  const lambda = lagrangeCoefficients(group, qualified);
  const out: E[] = [];
  for (let k = 0; k <= degree; k++)
    out.push(
      group.msm(
        qualified.map((i) => commitments.get(i)![k]!),
        qualified.map((i) => lambda.get(i)!),
      ),
    );
  return out;
}

/** The new public key of n holders from the combined commitments (the same at the client and every holder). */
function newPublicKey<E>(
  adapter: ReshareAdapter<E>,
  old: SharedPublicKey<E>,
  n: number,
  combined: readonly E[],
): Uint8Array {
  const shares = Array.from({ length: n }, (_, k) => commitmentAt(old.group, combined, k + 1));
  return adapter.build(old, combined, shares);
}

function readIndices(r: ByteReader, field: string, max: number): number[] {
  const list = r.list(RESHARE_PARTIES_MAX, field, (rr) => rr.u16(field));
  const seen = new Set<number>();
  for (const i of list) {
    if (i < 1 || i > max || seen.has(i)) throw new CodecError(field, `index ${i} out of range or repeated`);
    seen.add(i);
  }
  return list;
}

// ---------------------------------------------------------------------------------------------------------
// Holder

/** A holder's side of resharing, for one scheme. */
export interface ReshareHolder {
  /** Dealer steps (deal, justify) of an old holder with its stored key; `target` is the new group. */
  deal(
    identity: HolderIdentity,
    key: StoredKey,
    target: GroupDirectory,
    sid: Uint8Array,
    body: Uint8Array,
    nowMs: number,
  ): Uint8Array;
  /**
   * Receiver steps (verify, finish) of a new holder; `dealers` is the old group and `oldPublicKey` the key
   * named by the descriptor. The finish step returns the new share (to keep as pending).
   */
  receive(
    identity: HolderIdentity,
    dealers: GroupDirectory,
    oldPublicKey: Uint8Array,
    sid: Uint8Array,
    body: Uint8Array,
    nowMs: number,
  ): SetupReply;
  expire(nowMs: number): void;
}

interface DealerSession<E> {
  readonly context: Uint8Array;
  readonly index: number;
  readonly group: ReshareGroup<E>;
  polynomial: bigint[];
  destroy(): void;
}

interface ReceiverSession<E> {
  readonly context: Uint8Array;
  readonly index: number;
  readonly old: SharedPublicKey<E>;
  readonly oldPublicKey: Uint8Array;
  readonly degree: number;
  readonly commitments: Map<number, readonly E[]>;
  readonly sigma: Map<number, bigint>;
  readonly accused: ReadonlySet<number>;
  destroy(): void;
}

function schemeErrorOf(e: unknown): SchemeError {
  if (e instanceof SchemeError) return e;
  if (e instanceof CodecError) return new SchemeError('malformed', `${e.field}: ${e.reason}`);
  if (e instanceof Error && e.name === 'GjkrSessionError') return new SchemeError('session', e.message);
  if (e instanceof RangeError || e instanceof TypeError) return new SchemeError('refused', e.message);
  return new SchemeError('refused', e instanceof Error ? e.message : 'reshare step failed');
}

/** Options of a reshare holder. */
export interface ReshareHolderOptions {
  readonly random: Random;
  readonly sessionTtlMs?: number;
  readonly sessionsMax?: number;
}

/** The holder side of resharing for the scheme `adapter` describes. */
export function reshareHolder<E>(adapter: ReshareAdapter<E>, options: ReshareHolderOptions): ReshareHolder {
  const { random } = options;
  const tableOptions = {
    sessionTtlMs: options.sessionTtlMs ?? 60_000,
    sessionsMax: options.sessionsMax ?? 64,
    usedSessionIdsMax: 4096,
  };
  const dealers = new SessionTable<DealerSession<E>>(tableOptions);
  const receivers = new SessionTable<ReceiverSession<E>>(tableOptions);

  const guarded = <T>(table: SessionTable<{ destroy(): void }>, sid: Uint8Array, step: () => T): T => {
    try {
      return step();
    } catch (e) {
      if (sid instanceof Uint8Array && sid.length === CA_SESSION_ID_BYTES) table.abort(toHex(sid));
      throw schemeErrorOf(e);
    }
  };

  const publicKeyOf = (bytes: Uint8Array): SharedPublicKey<E> => {
    try {
      return adapter.publicKey(bytes);
    } catch (e) {
      refuse('refused', `the old public key: ${e instanceof Error ? e.message : 'invalid'}`);
    }
  };

  const deal = (
    identity: HolderIdentity,
    key: StoredKey,
    target: GroupDirectory,
    sid: Uint8Array,
    body: Uint8Array,
    nowMs: number,
  ): Uint8Array => {
    const tag = reshareStepOf(body);
    const id = toHex(sid);
    if (tag === RESHARE_REQUEST.deal) {
      const r = readRequest(sid, body, RESHARE_REQUEST.deal);
      r.finish('reshare.deal');
      let message: Uint8Array | undefined;
      dealers.open(id, nowMs, () => {
        const old = publicKeyOf(key.publicKey);
        if (old.n !== identity.n)
          refuse('refused', `the key has ${old.n} holders, the old group ${identity.n}`);
        if (target.n < 2 || target.n > RESHARE_PARTIES_MAX)
          refuse('refused', `a new group of ${target.n} members`);
        const degree = adapter.degree(target.n, target.b);
        const context = reshareContext(adapter.label, old.group, sid, key.publicKey, target, degree);
        const x = adapter.secret(key, identity.index);
        const group = old.group;
        const polynomial = [x];
        for (let k = 1; k <= degree; k++) polynomial.push(group.randomScalar(random));
        const commitments = polynomial.map((a) => group.encodeElement(group.base(a)));
        const boxes: Uint8Array[] = [];
        for (let j = 1; j <= target.n; j++) {
          const plain = group.encodeScalar(evaluate(group, polynomial, BigInt(j)));
          boxes.push(
            sealBox(target.encryptionKey(j)!, plain, reshareBoxAad(context, identity.index, j), random),
          );
          plain.fill(0);
        }
        const w = bodyHeader(SIGNED.dealing, context, identity.index);
        writeList(w, commitments, (ww, c) => ww.bytes(c));
        writeList(w, boxes, (ww, b) => ww.bytes(b));
        message = signMessage(identity, w.finish());
        return {
          context,
          index: identity.index,
          group,
          polynomial,
          destroy() {
            this.polynomial.fill(0n);
            this.polynomial = [];
          },
        };
      });
      return message!;
    }
    if (tag !== RESHARE_REQUEST.justify)
      refuse('refused', `reshare: a dealer has no step 0x${(tag ?? 0).toString(16)}`);
    const r = readRequest(sid, body, RESHARE_REQUEST.justify);
    const verdicts = r.list(RESHARE_PARTIES_MAX, 'justify.verdicts', (rr, k) =>
      rr.bytes(64 * 1024, `justify.verdicts[${k}]`),
    );
    r.finish('reshare.justify');
    const s = dealers.get(id, nowMs);
    if (s.index !== identity.index) refuse('refused', 'the session was opened by another member');
    const group = s.group;
    const revealed = new Map<number, bigint>();
    for (const bytes of verdicts) {
      const m = openSigned(bytes, target, { tag: SIGNED.verdict, context: s.context }, 'verdict');
      if (m === undefined) refuse('refused', 'an accusation not signed by its accuser');
      const v = bodyReader(m);
      v.raw(32, 'verdict.digest');
      const accused = readIndices(v, 'verdict.accused', RESHARE_PARTIES_MAX);
      v.finish('verdict');
      if (!accused.includes(identity.index))
        refuse('refused', `member ${m.from} does not accuse this dealer`);
      if (m.from > target.n) refuse('refused', `accuser ${m.from} is not a new member`);
      revealed.set(m.from, evaluate(group, s.polynomial, BigInt(m.from)));
    }
    // One justification per session: the polynomial is gone afterwards.
    dealers.end(id);
    const w = bodyHeader(SIGNED.reveal, s.context, identity.index);
    writeList(
      w,
      [...revealed].sort((a, b) => a[0] - b[0]),
      (ww, [j, v]) => ww.u16(j).raw(group.encodeScalar(v)),
    );
    return signMessage(identity, w.finish());
  };

  const receive = (
    identity: HolderIdentity,
    dealerGroup: GroupDirectory,
    oldPublicKey: Uint8Array,
    sid: Uint8Array,
    body: Uint8Array,
    nowMs: number,
  ): SetupReply => {
    const tag = reshareStepOf(body);
    const id = toHex(sid);
    if (tag === RESHARE_REQUEST.verify) {
      const r = readRequest(sid, body, RESHARE_REQUEST.verify);
      const relayed = r.list(RESHARE_PARTIES_MAX, 'verify.dealings', (rr, k) =>
        rr.bytes(1 << 20, `verify.dealings[${k}]`),
      );
      r.finish('reshare.verify');
      let verdict: Uint8Array | undefined;
      receivers.open(id, nowMs, () => {
        const old = publicKeyOf(oldPublicKey);
        if (identity.n < 2 || identity.n > RESHARE_PARTIES_MAX)
          refuse('refused', `a new group of ${identity.n} members`);
        const degree = adapter.degree(identity.n, identity.b);
        const group = old.group;
        const context = reshareContext(adapter.label, group, sid, oldPublicKey, identity, degree);
        const dealings = new Map<number, Dealing<E>>();
        for (const bytes of relayed) {
          const d = openDealing(bytes, old, dealerGroup, context, degree, identity.n);
          if (typeof d === 'string') refuse('refused', `a relayed dealing: ${d}`);
          if (dealings.has(d.from)) refuse('refused', `two dealings of dealer ${d.from}`);
          dealings.set(d.from, d);
        }
        if (dealings.size < old.degree + 1)
          refuse('refused', `${dealings.size} dealings, the old key needs ${old.degree + 1}`);
        const sigma = new Map<number, bigint>();
        const accused: number[] = [];
        const j = identity.index;
        for (const [i, d] of dealings) {
          const plain = openBox(identity.encryption, d.boxes[j - 1]!, reshareBoxAad(context, i, j));
          const v = plain === undefined ? undefined : group.decodeScalar(plain);
          plain?.fill(0);
          if (v !== undefined && group.equals(group.base(v), commitmentAt(group, d.commitments, j)))
            sigma.set(i, v);
          else accused.push(i);
        }
        const digest = dealingSetDigest(dealings);
        const w = bodyHeader(SIGNED.verdict, context, j).raw(digest);
        writeList(w, accused, (ww, i) => ww.u16(i));
        verdict = signMessage(identity, w.finish());
        return {
          context,
          index: j,
          old,
          oldPublicKey,
          degree,
          commitments: new Map([...dealings].map(([i, d]) => [i, d.commitments])),
          sigma,
          accused: new Set(accused),
          destroy: () => sigma.clear(),
        };
      });
      return { response: verdict! };
    }
    if (tag !== RESHARE_REQUEST.finish)
      refuse('refused', `reshare: a new holder has no step 0x${(tag ?? 0).toString(16)}`);
    const r = readRequest(sid, body, RESHARE_REQUEST.finish);
    const s = receivers.get(id, nowMs);
    if (s.index !== identity.index || !bytesEqual(s.oldPublicKey, oldPublicKey))
      refuse('refused', 'the session was opened by another member or for another key');
    const qualified = readIndices(r, 'finish.qualified', s.old.n);
    const reveals = r.list(RESHARE_PARTIES_MAX, 'finish.reveals', (rr, k) =>
      rr.bytes(64 * 1024, `finish.reveals[${k}]`),
    );
    r.finish('reshare.finish');
    const group = s.old.group;
    const j = s.index;
    for (const bytes of reveals) {
      const m = openSigned(bytes, dealerGroup, { tag: SIGNED.reveal, context: s.context }, 'reveal');
      if (m === undefined) refuse('refused', 'a reveal not signed by its dealer');
      const commitments = s.commitments.get(m.from);
      const rr = bodyReader(m);
      const values = rr.list(RESHARE_PARTIES_MAX, 'reveal.values', (x) => ({
        to: x.u16('reveal.to'),
        value: x.raw(group.scalarBytes, 'reveal.value'),
      }));
      rr.finish('reveal');
      if (commitments === undefined || !s.accused.has(m.from)) continue;
      for (const { to, value } of values) {
        if (to !== j) continue;
        const v = group.decodeScalar(value);
        if (v !== undefined && group.equals(group.base(v), commitmentAt(group, commitments, j)))
          s.sigma.set(m.from, v);
      }
    }
    if (qualified.length < s.old.degree + 1)
      refuse('refused', `${qualified.length} qualified dealers, the old key needs ${s.old.degree + 1}`);
    for (const i of qualified) {
      if (!s.commitments.has(i)) refuse('refused', `dealer ${i} did not deal in this session`);
      if (!s.sigma.has(i)) refuse('peer', `no valid share from dealer ${i}`, [i]);
    }
    const sorted = [...qualified].sort((a, b) => a - b);
    const lambda = lagrangeCoefficients(group, sorted);
    let share = 0n;
    for (const i of sorted) share = modQ(group, share + lambda.get(i)! * s.sigma.get(i)!);
    const combined = combine(group, sorted, s.commitments, s.degree);
    if (!group.equals(combined[0]!, s.old.y)) throw new Error('Invariant: the reshared key is the old key');
    if (!group.equals(group.base(share), commitmentAt(group, combined, j)))
      throw new Error('Invariant: the new share matches the combined commitments');
    const publicKey = newPublicKey(adapter, s.old, identity.n, combined);
    const stored = adapter.storedShare(publicKey, j, share);
    receivers.end(id);
    const ack = signMessage(identity, bodyHeader(SIGNED.ack, s.context, j).raw(sha256(publicKey)).finish());
    return { response: ack, key: { share: stored, publicKey } };
  };

  return {
    deal: (identity, key, target, sid, body, nowMs) =>
      guarded(dealers, sid, () => deal(identity, key, target, sid, body, nowMs)),
    receive: (identity, dealerGroup, oldPublicKey, sid, body, nowMs) =>
      guarded(receivers, sid, () => receive(identity, dealerGroup, oldPublicKey, sid, body, nowMs)),
    expire: (nowMs) => {
      dealers.expire(nowMs);
      receivers.expire(nowMs);
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Coordinator

function range(n: number): number[] {
  return Array.from({ length: n }, (_, k) => k + 1);
}

/**
 * Drives a reshare from the old group (`dealers`, reached through `rtOld`) to the new group (`target`,
 * through `rtNew`). Returns the new public key (same signing key) and the new holders that stored a share;
 * SchemeFailure when fewer than d+1 dealers qualify or fewer than n' − b' new holders acknowledge.
 */
export async function coordinateReshare<E>(
  adapter: ReshareAdapter<E>,
  dealers: GroupDirectory,
  target: GroupDirectory,
  oldPublicKey: Uint8Array,
  sid: Uint8Array,
  rtOld: RoundTrip,
  rtNew: RoundTrip,
): Promise<CreatedKey> {
  const old = adapter.publicKey(oldPublicKey);
  if (old.n !== dealers.n) throw new RangeError(`the key has ${old.n} holders, the old group ${dealers.n}`);
  const degree = adapter.degree(target.n, target.b);
  const group = old.group;
  const context = reshareContext(adapter.label, group, sid, oldPublicKey, target, degree);
  const oldCulprits: SchemeCulprit[] = [];
  const newCulprits: SchemeCulprit[] = [];
  const blamed = () => [...oldCulprits.map((c) => ({ ...c, old: true })), ...newCulprits];
  const failure = (message: string) => new SchemeFailure(message, blamed());

  // 1. Deal: every old holder shares its share.
  const dealt = await rtOld('reshare-deal', range(dealers.n), () => request(RESHARE_REQUEST.deal, sid));
  const dealings = new Map<number, Dealing<E>>();
  for (const [i, answer] of dealt) {
    if (answer === undefined) {
      oldCulprits.push({ index: i, reason: 'dealt nothing' });
      continue;
    }
    let d: Dealing<E> | string;
    try {
      d = openDealing(answer, old, dealers, context, degree, target.n);
    } catch (e) {
      d = e instanceof Error ? e.message : 'malformed dealing';
    }
    if (typeof d === 'string' || d.from !== i) {
      oldCulprits.push({ index: i, reason: typeof d === 'string' ? d : 'a dealing of another member' });
      continue;
    }
    dealings.set(i, d);
  }
  if (dealings.size < old.degree + 1)
    throw failure(`${dealings.size} valid dealings, the old key needs ${old.degree + 1}`);
  const digest = dealingSetDigest(dealings);

  // 2. Verify: every new holder checks its sub-shares and signs a verdict.
  const relayed = [...dealings.keys()].sort((a, b) => a - b).map((i) => dealings.get(i)!.bytes);
  const verifyBody = request(RESHARE_REQUEST.verify, sid, (w) =>
    writeList(w, relayed, (ww, b) => ww.bytes(b)),
  );
  const verdicts = await rtNew('reshare-verify', range(target.n), () => verifyBody);
  const accusations = new Map<number, { readonly from: number; readonly verdict: Uint8Array }[]>();
  const verified: number[] = [];
  for (const [j, answer] of verdicts) {
    let m: SignedMessage | undefined;
    let accused: number[] = [];
    try {
      m =
        answer === undefined
          ? undefined
          : openSigned(answer, target, { tag: SIGNED.verdict, context }, 'verdict');
      if (m !== undefined) {
        const r = bodyReader(m);
        if (!bytesEqual(r.raw(32, 'verdict.digest'), digest)) m = undefined;
        else accused = readIndices(r, 'verdict.accused', old.n);
        r.finish('verdict');
      }
    } catch {
      m = undefined;
    }
    if (m === undefined || m.from !== j) {
      newCulprits.push({ index: j, reason: answer === undefined ? 'did not verify' : 'a bad verdict' });
      continue;
    }
    verified.push(j);
    for (const i of accused) {
      if (!dealings.has(i)) continue;
      accusations.set(i, [...(accusations.get(i) ?? []), { from: j, verdict: answer! }]);
    }
  }

  // 3. Justify: accused dealers reveal the accusers' sub-shares, or are disqualified.
  const reveals: Uint8Array[] = [];
  const disqualified = new Set<number>();
  if (accusations.size > 0) {
    const accused = [...accusations.keys()].sort((a, b) => a - b);
    const answers = await rtOld('reshare-justify', accused, (i) =>
      request(RESHARE_REQUEST.justify, sid, (w) =>
        writeList(w, accusations.get(i)!, (ww, a) => ww.bytes(a.verdict)),
      ),
    );
    for (const i of accused) {
      const accusers = accusations.get(i)!.map((a) => a.from);
      const answer = answers.get(i);
      let valid = false;
      try {
        const m =
          answer === undefined
            ? undefined
            : openSigned(answer, dealers, { tag: SIGNED.reveal, context }, 'reveal');
        if (m !== undefined && m.from === i) {
          const r = bodyReader(m);
          const values = new Map(
            r.list(
              RESHARE_PARTIES_MAX,
              'reveal.values',
              (x) => [x.u16('reveal.to'), x.raw(group.scalarBytes, 'reveal.value')] as const,
            ),
          );
          r.finish('reveal');
          valid = accusers.every((j) => {
            const raw = values.get(j);
            const v = raw === undefined ? undefined : group.decodeScalar(raw);
            return (
              v !== undefined &&
              group.equals(group.base(v), commitmentAt(group, dealings.get(i)!.commitments, j))
            );
          });
        }
      } catch {
        valid = false;
      }
      if (valid) reveals.push(answer!);
      else {
        disqualified.add(i);
        oldCulprits.push({
          index: i,
          reason: `accused by ${accusers.join(', ')} and did not justify itself`,
        });
      }
    }
  }
  const qualified = [...dealings.keys()].filter((i) => !disqualified.has(i)).sort((a, b) => a - b);
  if (qualified.length < old.degree + 1)
    throw failure(`${qualified.length} qualified dealers, the old key needs ${old.degree + 1}`);

  // 4. Finish: the new holders combine; the coordinator computes the same public key from the commitments.
  const combined = combine(
    group,
    qualified,
    new Map([...dealings].map(([i, d]) => [i, d.commitments])),
    degree,
  );
  if (!group.equals(combined[0]!, old.y)) throw new Error('Invariant: the reshared key is the old key');
  const publicKey = newPublicKey(adapter, old, target.n, combined);
  const keyDigest = sha256(publicKey);
  const finishBody = request(RESHARE_REQUEST.finish, sid, (w) => {
    writeList(w, qualified, (ww, i) => ww.u16(i));
    writeList(w, reveals, (ww, b) => ww.bytes(b));
  });
  const acks = await rtNew('reshare-finish', verified, () => finishBody);
  const stored: number[] = [];
  for (const j of verified) {
    const answer = acks.get(j);
    let ok = false;
    try {
      const m =
        answer === undefined ? undefined : openSigned(answer, target, { tag: SIGNED.ack, context }, 'ack');
      if (m !== undefined && m.from === j) {
        const r = bodyReader(m);
        ok = bytesEqual(r.raw(32, 'ack.key'), keyDigest);
        r.finish('ack');
      }
    } catch {
      ok = false;
    }
    if (ok) stored.push(j);
    else
      newCulprits.push({
        index: j,
        reason: answer === undefined ? 'did not store its new share' : 'a bad acknowledgement',
      });
  }
  if (stored.length < target.n - target.b)
    throw failure(`${stored.length} new holders stored their share, ${target.n - target.b} needed`);
  return { publicKey, stored, culprits: blamed() };
}
