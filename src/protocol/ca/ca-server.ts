/**
 * The holder side of the distributed CA (paper §3.4, §6.1; docs/PROTOCOL.md §15). Every member of the
 * quorum clique that holds the CA key runs one CaService; it does what is the same for every scheme and
 * hands the scheme's own bytes to a SchemeHolder (scheme.ts):
 *
 * - **Calls are signed and replay-protected.** A call carries the requester's certificate, a 16-byte
 *   nonce and its time, signed over everything and bound to this holder; the holder refuses a call whose
 *   signature does not verify, whose sender is not the TLS peer, whose time is outside the replay window,
 *   or whose nonce it has seen within the window.
 * - **Ownership is BFTKV's TOFU** (paper §4): the owner of CA `NAME` is the owner of the variable
 *   `bftkv/ca/NAME` at this signer. The first key setup claims the variable for the requester's UID if
 *   nobody owns it; create, import, replace and delete are refused to any other UID.
 * - **Authorization is a normal signed record**: a signing call shows the latest descriptor record (a
 *   collectively signed BFTKV record written by the owner); the holder checks its collective signature in
 *   its own view, that the owner wrote it, that it names this key, that it is not older than any
 *   descriptor this holder signed or saw, and that the requester is the owner or on its list.
 * - **Shares are encrypted at rest** (AES-256-GCM under a key derived from the node key, bound to the node,
 *   the name and the key id) and written durably before the setup step that produced them is answered.
 * - **Every signing session is logged** durably (requester, UID, key, digest of the input, the signed call)
 *   before the holder takes part in it.
 */
import { createCipheriv, createDecipheriv, hkdfSync } from 'node:crypto';
import { ByteReader, ByteWriter, bytesEqual, CodecError, toHex, utf8 } from '../../codec/bytes.js';
import type { Clock } from '../../env/clock.js';
import type { Random } from '../../env/random.js';
import { sha256 } from '../../crypto/hash.js';
import { PUBLIC_KEY_BYTES, sign, verify, type SigningKey } from '../../crypto/ed25519.js';
import { x25519KeyPair, type X25519KeyPair } from '../../crypto/threshold/gjkr-seal.js';
import { LIMITS } from '../../limits.js';
import type { CliqueQuorum } from '../../quorum/quorum-system.js';
import type { Storage, StorageOp } from '../../storage/storage.js';
import { verifySelfSignature, type NodeId } from '../../trust/certificate.js';
import type { TrustGraph } from '../../trust/graph.js';
import { ProtocolError } from '../errors.js';
import { KeyedMutex } from '../keyed-mutex.js';
import type { SignedRecord } from '../messages.js';
import { quorumCertificateCount } from '../verify.js';
import {
  SchemeError,
  type CaScheme,
  type GroupDirectory,
  type HolderIdentity,
  type SchemeHolder,
  type SignInput,
  type StoredKey,
} from './scheme.js';
import {
  attestationStatement,
  CA_MEMBERS_MAX,
  CA_PUBLIC_KEY_BYTES_MAX,
  caKeyId,
  callStatement,
  caVariable,
  decodeDescriptor,
  encodeHello,
  encodeLog,
  encodeLogEntry,
  encodeSignInput,
  decodeLogEntry,
  groupDirectory,
  type CaCall,
  type CaDescriptor,
  type CaLogEntry,
  type MemberKey,
} from './wire.js';
import { CA_SCHEMES } from './scheme.js';

export interface CaOptions {
  /** A call's time may differ from the holder's clock by at most this much (replay window). */
  readonly replayWindowMs: number;
  /** Nonces remembered (within the window); beyond it new calls are refused as busy. */
  readonly noncesMax: number;
  /** A setup or signing session's lifetime. */
  readonly sessionTtlMs: number;
  /** Concurrent sessions. */
  readonly sessionsMax: number;
  /** Log entries a `log` call returns at most. */
  readonly logEntriesMax: number;
}

export const DEFAULT_CA_OPTIONS: CaOptions = {
  replayWindowMs: 5 * 60_000,
  noncesMax: 100_000,
  sessionTtlMs: 60_000,
  sessionsMax: 64,
  logEntriesMax: 1000,
};

/** What the service needs from the BFTKV server it runs in. */
export interface CaServiceDeps {
  readonly id: NodeId;
  readonly key: SigningKey;
  readonly storage: Storage;
  readonly clock: Clock;
  readonly random: Random;
  readonly graph: TrustGraph;
  /** This node's quorum clique in its current view. */
  readonly clique: () => CliqueQuorum | undefined;
  /** Every quorum clique in this node's current view (a reshare's new group must be one of them). */
  readonly cliques: () => readonly CliqueQuorum[];
  /** The scheme's holder on this server. */
  readonly holder: (scheme: CaScheme) => SchemeHolder;
  /** The owner UID of variable x at this signer, claiming it for `claimFor` when nobody owns it. */
  readonly owner: (x: Uint8Array, claimFor?: string) => Promise<string | undefined>;
  /** The latest timestamp this signer signed for x (0 if none). */
  readonly lastSigned: (x: Uint8Array) => Promise<bigint>;
  /** Whether a record's collective signature is sufficient in this node's view. */
  readonly recordValid: (record: SignedRecord) => boolean;
  readonly options?: Partial<CaOptions>;
}

/** Counters exported as metrics. */
export interface CaStats {
  calls: number;
  refused: number;
  keysStored: number;
  signingSessions: number;
}

/** What a holder keeps for one CA name (the share sealed). */
interface KeyRecord {
  readonly scheme: CaScheme;
  readonly index: number;
  readonly members: readonly MemberKey[];
  /** Members' Ed25519 node keys, at setup time. */
  readonly memberKeys: readonly Uint8Array[];
  readonly ownerUid: string;
  readonly publicKey: Uint8Array;
  readonly sealedShare: Uint8Array;
  /** The highest descriptor timestamp this holder has accepted. */
  readonly descriptorT: bigint;
  /** The next signature-log sequence number. */
  readonly nextSeq: bigint;
}

const KEY_RECORD_VERSION = 1;

function encodeKeyRecord(k: KeyRecord): Uint8Array {
  const w = new ByteWriter().u8(KEY_RECORD_VERSION).u8(CA_SCHEMES.indexOf(k.scheme)).u16(k.index);
  w.u16(k.members.length);
  k.members.forEach((m, i) => w.string(m.id).raw(m.encryptionKey).raw(m.attestation).raw(k.memberKeys[i]!));
  return w
    .string(k.ownerUid)
    .bytes(k.publicKey)
    .bytes(k.sealedShare)
    .u64(k.descriptorT)
    .u64(k.nextSeq)
    .finish();
}

function decodeKeyRecord(b: Uint8Array): KeyRecord {
  const r = new ByteReader(b);
  if (r.u8('key.version') !== KEY_RECORD_VERSION) throw new CodecError('key.version', 'unknown version');
  const scheme = CA_SCHEMES[r.u8('key.scheme')];
  if (scheme === undefined) throw new CodecError('key.scheme', 'unknown scheme');
  const index = r.u16('key.index');
  const count = r.u16('key.members');
  if (count > CA_MEMBERS_MAX) throw new CodecError('key.members', 'too many');
  const members: MemberKey[] = [];
  const memberKeys: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    members.push({
      id: r.string(32, 'key.member.id'),
      encryptionKey: r.raw(32, 'key.member.encryptionKey'),
      attestation: r.raw(64, 'key.member.attestation'),
    });
    memberKeys.push(r.raw(PUBLIC_KEY_BYTES, 'key.member.publicKey'));
  }
  const k: KeyRecord = {
    scheme,
    index,
    members,
    memberKeys,
    ownerUid: r.string(LIMITS.uidBytesMax, 'key.owner'),
    publicKey: r.bytes(CA_PUBLIC_KEY_BYTES_MAX, 'key.publicKey'),
    sealedShare: r.bytes(CA_PUBLIC_KEY_BYTES_MAX, 'key.share'),
    descriptorT: r.u64('key.descriptorT'),
    nextSeq: r.u64('key.nextSeq'),
  };
  r.finish('key');
  return k;
}

const keyKey = (name: string) => utf8(`key/${name}`);
/** A share a reshare produced, kept until the owner commits the descriptor that names it. */
const pendingKey = (name: string) => utf8(`pending/${name}`);
const logPrefix = (name: string) => utf8(`log/${name}/`);
function logKey(name: string, seq: bigint): Uint8Array {
  const p = logPrefix(name);
  const out = new Uint8Array(p.length + 8);
  out.set(p);
  new DataView(out.buffer).setBigUint64(p.length, seq);
  return out;
}

interface Session {
  readonly op: 'setup' | 'sign' | 'dealer' | 'receiver';
  readonly name: string;
  readonly requester: NodeId;
  readonly scheme: CaScheme;
  readonly openedMs: number;
  /** setup: the group the key is made for; sign: the key's input. */
  readonly identity: HolderIdentity;
  readonly members?: readonly MemberKey[];
  readonly memberKeys?: readonly Uint8Array[];
  readonly replace?: boolean;
  readonly input?: Uint8Array;
  /** reshare: the descriptor record the session was opened under (its t and the old key). */
  readonly descriptor?: SignedRecord;
  /** dealer: the new group; receiver: the old group (the dealers). */
  readonly other?: GroupDirectory;
  /** reshare: the public key the descriptor names (the key being reshared). */
  readonly oldPublicKey?: Uint8Array;
}

/** What a commit did at a holder (the answer's one byte). */
export const COMMIT_RESULTS = ['none', 'current', 'promoted', 'erased'] as const;
export type CommitResult = (typeof COMMIT_RESULTS)[number];

function sameMembers(a: readonly MemberKey[], b: readonly MemberKey[]): boolean {
  return (
    a.length === b.length &&
    a.every((m, i) => m.id === b[i]!.id && bytesEqual(m.encryptionKey, b[i]!.encryptionKey))
  );
}

/** The CA holder service of one server (see the module comment). */
export class CaService {
  readonly options: CaOptions;
  readonly stats: CaStats = { calls: 0, refused: 0, keysStored: 0, signingSessions: 0 };
  private readonly encryption: X25519KeyPair;
  private readonly attestation: Uint8Array;
  private readonly atRestKey: Uint8Array;
  private readonly nonces = new Map<string, number>();
  private readonly sessions = new Map<string, Session>();
  private readonly locks = new KeyedMutex();

  constructor(private readonly deps: CaServiceDeps) {
    this.options = { ...DEFAULT_CA_OPTIONS, ...deps.options };
    const derive = (label: string) =>
      new Uint8Array(hkdfSync('sha256', deps.key.seed, utf8(label), utf8(deps.id), 32));
    this.encryption = x25519KeyPair(derive('bftkv/ca/x25519/v1'));
    this.attestation = sign(deps.key, attestationStatement(deps.id, this.encryption.publicKey));
    this.atRestKey = derive('bftkv/ca/at-rest/v1');
  }

  /** Handles one call from the authenticated peer `from`; returns the response body. */
  async handle(from: NodeId | null, call: CaCall): Promise<Uint8Array> {
    this.stats.calls++;
    try {
      this.authenticate(from, call);
      return await this.dispatch(call);
    } catch (e) {
      this.stats.refused++;
      if (e instanceof SchemeError) throw refusalOf(e);
      if (e instanceof CodecError) throw new ProtocolError('malformed', `${e.field}: ${e.reason}`);
      throw e;
    }
  }

  /** Signature, sender, replay window and nonce (every call, before anything else). */
  private authenticate(from: NodeId | null, call: CaCall): void {
    const cert = call.requester;
    if (from === null || from !== cert.id)
      throw new ProtocolError('permissionDenied', 'the call must come from the requester itself');
    if (this.deps.graph.isRevoked(cert.id)) throw new ProtocolError('revoked', 'requester is revoked');
    if (!verifySelfSignature(cert)) throw new ProtocolError('badCertificate', 'requester certificate');
    const { signature, ...unsigned } = call;
    if (!verify(cert.body.publicKey, callStatement(this.deps.id, unsigned), signature))
      throw new ProtocolError('badSignature', 'the call signature does not verify');
    const now = this.deps.clock.now();
    const skew = Number(call.issuedMs) - now;
    if (Math.abs(skew) > this.options.replayWindowMs)
      throw new ProtocolError('invalidTimestamp', `call time is ${skew} ms from this holder's clock`);
    for (const [n, expiry] of this.nonces) {
      if (expiry > now) break;
      this.nonces.delete(n);
    }
    const key = toHex(call.nonce);
    if (this.nonces.has(key)) throw new ProtocolError('caSession', 'this call was seen before (replay)');
    if (this.nonces.size >= this.options.noncesMax)
      throw new ProtocolError('busy', 'too many recent calls to remember');
    this.nonces.set(key, now + 2 * this.options.replayWindowMs);
  }

  /** The requester must be certified by this clique (> 2n/3), like a writer (docs/PROTOCOL.md §6). */
  private requireCertified(call: CaCall): CliqueQuorum {
    const clique = this.deps.clique();
    if (clique === undefined) throw new ProtocolError('notASigner', 'this node is in no quorum clique');
    const certified = quorumCertificateCount(this.deps.graph, clique, call.requester, clique.certThreshold);
    if (certified < clique.certThreshold)
      throw new ProtocolError(
        'invalidQuorumCertificate',
        `requester certified by ${certified} of ${clique.members.length} members, need ${clique.certThreshold}`,
      );
    return clique;
  }

  private async dispatch(call: CaCall): Promise<Uint8Array> {
    const a = call.action;
    switch (a.op) {
      case 'hello':
        return encodeHello(this.encryption.publicKey, this.attestation);
      case 'setup':
        return this.setup(call, a);
      case 'sign':
        return this.signStep(call, a);
      case 'delete':
        return this.remove(call);
      case 'log':
        return this.log(call, a.limit);
      case 'reshare':
        return this.reshareStep(call, a);
      case 'commit':
        return this.commit(call, a.descriptor);
    }
  }

  private sweep(now: number): void {
    for (const [sid, s] of this.sessions)
      if (now - s.openedMs > this.options.sessionTtlMs) this.sessions.delete(sid);
    for (const scheme of CA_SCHEMES) this.deps.holder(scheme).expire(now);
  }

  private openSession(sid: string, s: Session): void {
    this.sweep(s.openedMs);
    if (this.sessions.size >= this.options.sessionsMax)
      throw new ProtocolError('busy', `${this.options.sessionsMax} CA sessions are open`);
    this.sessions.set(sid, s);
  }

  /** The session `sid` continued by `call`, which must match it. */
  private continued(sid: string, call: CaCall, op: Session['op']): Session | undefined {
    const s = this.sessions.get(sid);
    if (s === undefined) return undefined;
    if (s.op !== op || s.name !== call.name || s.requester !== call.requester.id)
      throw new ProtocolError('caSession', 'the session belongs to another call');
    return s;
  }

  private identityFor(members: readonly MemberKey[], memberKeys: readonly Uint8Array[]): HolderIdentity {
    return {
      ...groupDirectory(members, memberKeys),
      index: members.findIndex((m) => m.id === this.deps.id) + 1,
      encryption: this.encryption,
      sign: (m) => sign(this.deps.key, m),
    };
  }

  /** The members' node keys from this node's graph, each member's X25519 key checked against it. */
  private attestedKeys(members: readonly MemberKey[]): Uint8Array[] {
    return members.map((m) => {
      const cert = this.deps.graph.certificate(m.id);
      if (
        cert === undefined ||
        this.deps.graph.isRevoked(m.id) ||
        !verify(cert.body.publicKey, attestationStatement(m.id, m.encryptionKey), m.attestation)
      )
        throw new ProtocolError('caRefused', `member ${m.id}: X25519 key not attested by its node key`);
      return cert.body.publicKey;
    });
  }

  /** The group must be exactly this node's clique, with this node's own X25519 key. */
  private requireOwnClique(clique: CliqueQuorum, members: readonly MemberKey[]): void {
    const ids = members.map((m) => m.id);
    const expected = [...clique.members].sort();
    if (ids.length !== expected.length || ids.some((id, i) => id !== expected[i]))
      throw new ProtocolError('caRefused', 'the group is not this node’s quorum clique');
    const own = members.find((m) => m.id === this.deps.id)!;
    if (!bytesEqual(own.encryptionKey, this.encryption.publicKey))
      throw new ProtocolError('caRefused', 'this node’s X25519 key in the group is not its own');
  }

  private async loadKey(name: string): Promise<KeyRecord | undefined> {
    const raw = await this.deps.storage.get('ca', keyKey(name));
    return raw === undefined ? undefined : decodeKeyRecord(raw);
  }

  private async loadPending(name: string): Promise<KeyRecord | undefined> {
    const raw = await this.deps.storage.get('ca', pendingKey(name));
    return raw === undefined ? undefined : decodeKeyRecord(raw);
  }

  // -------------------------------------------------------------------------------------------------
  // Setup (create, import, replace)

  private async setup(call: CaCall, a: Extract<CaCall['action'], { op: 'setup' }>): Promise<Uint8Array> {
    const sid = toHex(call.sid);
    const now = this.deps.clock.now();
    let s = this.continued(sid, call, 'setup');
    if (s === undefined) {
      const clique = this.requireCertified(call);
      this.requireOwnClique(clique, a.members);
      const memberKeys = this.attestedKeys(a.members);
      await this.requireOwner(call, true);
      const existing = await this.loadKey(call.name);
      if (existing !== undefined && !a.replace)
        throw new ProtocolError('caKeyExists', `a key named ${call.name} exists here; replace it explicitly`);
      s = {
        op: 'setup',
        name: call.name,
        requester: call.requester.id,
        scheme: a.scheme,
        openedMs: now,
        identity: this.identityFor(a.members, memberKeys),
        members: a.members,
        memberKeys,
        replace: a.replace,
      };
      this.openSession(sid, s);
    } else if (s.scheme !== a.scheme) {
      throw new ProtocolError('caSession', 'the session is for another scheme');
    }
    let reply;
    try {
      reply = await this.deps.holder(s.scheme).setup(s.identity, call.sid, a.body, now);
    } catch (e) {
      this.sessions.delete(sid);
      throw e;
    }
    if (reply.key !== undefined) {
      this.sessions.delete(sid);
      await this.storeKey(call, s, reply.key);
    }
    return reply.response;
  }

  /** The owner check (TOFU on the descriptor variable); `claim` takes an unowned name. */
  private async requireOwner(call: CaCall, claim: boolean): Promise<string> {
    const uid = call.requester.body.uid;
    const owner = await this.deps.owner(caVariable(call.name), claim ? uid : undefined);
    if (owner === undefined) throw new ProtocolError('caNoKey', `no CA named ${call.name} here`);
    if (owner !== uid) throw new ProtocolError('permissionDenied', `CA ${call.name} is owned by another UID`);
    return owner;
  }

  private async storeKey(call: CaCall, s: Session, key: StoredKey): Promise<void> {
    await this.locks.run(call.name, async () => {
      const existing = await this.loadKey(call.name);
      if (existing !== undefined && s.replace !== true)
        throw new ProtocolError('caKeyExists', `a key named ${call.name} exists here`);
      // A replaced key keeps the descriptor floor: an older descriptor must not authorize the new key.
      const record = this.keyRecord(
        call,
        s,
        key,
        existing?.descriptorT ?? 0n,
        existing?.nextSeq ?? (await this.nextLogSeq(call.name)),
      );
      await this.deps.storage.write([{ ns: 'ca', key: keyKey(call.name), value: encodeKeyRecord(record) }]);
      this.stats.keysStored++;
    });
  }

  private aad(name: string, keyId: Uint8Array): Uint8Array {
    return new ByteWriter()
      .raw(utf8('bftkv/ca/share/v1\0'))
      .string(this.deps.id)
      .string(name)
      .raw(keyId)
      .finish();
  }

  /** AES-256-GCM under the at-rest key: iv ‖ ciphertext ‖ tag, bound to this node, the name and the key. */
  private seal(name: string, keyId: Uint8Array, share: Uint8Array): Uint8Array {
    const iv = this.deps.random.bytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.atRestKey, iv);
    cipher.setAAD(this.aad(name, keyId));
    const body = Buffer.concat([cipher.update(share), cipher.final()]);
    return new Uint8Array(Buffer.concat([iv, body, cipher.getAuthTag()]));
  }

  private open(name: string, keyId: Uint8Array, sealed: Uint8Array): Uint8Array {
    if (sealed.length < 28) throw new ProtocolError('caNoKey', 'stored share is damaged');
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.atRestKey, sealed.subarray(0, 12));
      decipher.setAAD(this.aad(name, keyId));
      decipher.setAuthTag(sealed.subarray(sealed.length - 16));
      return new Uint8Array(
        Buffer.concat([decipher.update(sealed.subarray(12, sealed.length - 16)), decipher.final()]),
      );
    } catch {
      throw new ProtocolError('caNoKey', 'stored share does not decrypt (damaged or moved)');
    }
  }

  // -------------------------------------------------------------------------------------------------
  // Signing

  private async signStep(call: CaCall, a: Extract<CaCall['action'], { op: 'sign' }>): Promise<Uint8Array> {
    const sid = toHex(call.sid);
    const now = this.deps.clock.now();
    const input = encodeSignInput(a.input);
    let s = this.continued(sid, call, 'sign');
    const k =
      s === undefined
        ? await this.adoptNamed(call.name, a.descriptor, await this.loadKey(call.name))
        : await this.loadKey(call.name);
    if (k === undefined) throw new ProtocolError('caNoKey', `no share of CA ${call.name} here`);
    if (s === undefined) {
      this.requireCertified(call);
      await this.authorize(call, a.descriptor, k, a.input);
      s = {
        op: 'sign',
        name: call.name,
        requester: call.requester.id,
        scheme: k.scheme,
        openedMs: now,
        identity: this.identityFor(k.members, k.memberKeys),
        input,
      };
      this.openSession(sid, s);
      this.stats.signingSessions++;
    } else if (!bytesEqual(s.input!, input)) {
      throw new ProtocolError('caRefused', 'the session was opened for another input');
    }
    const keyId = caKeyId(k.scheme, k.publicKey);
    const share = this.open(call.name, keyId, k.sealedShare);
    try {
      return await this.deps
        .holder(k.scheme)
        .sign(s.identity, { share, publicKey: k.publicKey }, call.sid, a.input, a.body, now);
    } catch (e) {
      this.sessions.delete(sid);
      throw e;
    } finally {
      share.fill(0);
    }
  }

  /** A descriptor record of CA `name` written by `ownerUid`, collectively signed in this node's view. */
  private checkDescriptor(name: string, rec: SignedRecord, ownerUid: string): CaDescriptor {
    if (!bytesEqual(rec.x, caVariable(name)))
      throw new ProtocolError('caDescriptor', 'the record is not this CA’s descriptor');
    if (rec.writer.body.uid !== ownerUid)
      throw new ProtocolError('caDescriptor', 'the descriptor was not written by the CA’s owner');
    let d;
    try {
      d = decodeDescriptor(rec.v);
    } catch (e) {
      throw new ProtocolError('caDescriptor', `the descriptor does not decode: ${String(e)}`);
    }
    if (d.name !== name) throw new ProtocolError('caDescriptor', 'the descriptor names another CA');
    if (!verifySelfSignature(rec.writer) || !this.deps.recordValid(rec))
      throw new ProtocolError('caDescriptor', 'the descriptor’s collective signature is not sufficient here');
    return d;
  }

  /** The floor: a descriptor older than one this holder accepted or signed authorizes nothing. */
  private async requireFresh(rec: SignedRecord, k: KeyRecord | undefined): Promise<void> {
    const floor = [k?.descriptorT ?? 0n, await this.deps.lastSigned(rec.x)].reduce((x, y) => (x > y ? x : y));
    if (rec.t < floor)
      throw new ProtocolError('caDescriptor', `a newer descriptor exists (t ${floor} > ${rec.t})`, floor);
  }

  /** The descriptor checks, then the log entry and the new descriptor floor, durably, in one write. */
  private async authorize(call: CaCall, rec: SignedRecord, k: KeyRecord, input: SignInput): Promise<void> {
    const d = this.checkDescriptor(call.name, rec, k.ownerUid);
    if (d.scheme !== k.scheme || !bytesEqual(d.publicKey, k.publicKey))
      throw new ProtocolError('caDescriptor', 'the descriptor names another key');
    const uid = call.requester.body.uid;
    if (uid !== k.ownerUid && !d.authorized.includes(uid))
      throw new ProtocolError(
        'permissionDenied',
        `UID ${uid} may not request signatures from CA ${call.name}`,
      );
    await this.locks.run(call.name, async () => {
      const fresh = (await this.loadKey(call.name)) ?? k;
      await this.requireFresh(rec, fresh);
      const entry: CaLogEntry = {
        seq: fresh.nextSeq,
        atMs: BigInt(this.deps.clock.now()),
        keyId: caKeyId(fresh.scheme, fresh.publicKey),
        requester: call.requester.id,
        uid,
        sid: call.sid,
        inputDigest: sha256(encodeSignInput(input)),
        callSignature: call.signature,
      };
      const next: KeyRecord = { ...fresh, descriptorT: rec.t, nextSeq: fresh.nextSeq + 1n };
      const ops: StorageOp[] = [
        { ns: 'ca', key: keyKey(call.name), value: encodeKeyRecord(next) },
        { ns: 'ca', key: logKey(call.name, entry.seq), value: encodeLogEntry(entry) },
      ];
      await this.deps.storage.write(ops);
    });
  }

  /** The next signature-log sequence number of `name` when no key record carries it (after a delete). */
  private async nextLogSeq(name: string): Promise<bigint> {
    const last = await this.deps.storage.scan('ca', { prefix: logPrefix(name), reverse: true, limit: 1 });
    return last.length === 0 ? 0n : decodeLogEntry(last[0]![1]).seq + 1n;
  }

  // -------------------------------------------------------------------------------------------------
  // Reshare (reshare.ts): old holders deal, new holders receive a pending share; the owner commits

  private async reshareStep(
    call: CaCall,
    a: Extract<CaCall['action'], { op: 'reshare' }>,
  ): Promise<Uint8Array> {
    // A member of both groups runs both roles under the same sid.
    const sid = `${a.role}:${toHex(call.sid)}`;
    const now = this.deps.clock.now();
    let s = this.continued(sid, call, a.role);
    /** The stored key as read when the session opened (later steps read it again). */
    let opened: KeyRecord | undefined;
    if (s === undefined) {
      const clique = this.requireCertified(call);
      const owner = await this.requireOwner(call, false);
      const d = this.checkDescriptor(call.name, a.descriptor, owner);
      const k = await this.loadKey(call.name);
      opened = k;
      await this.requireFresh(a.descriptor, k);
      const newKeys = this.attestedKeys(a.members);
      const common = {
        name: call.name,
        requester: call.requester.id,
        scheme: d.scheme,
        openedMs: now,
        descriptor: a.descriptor,
        oldPublicKey: d.publicKey,
        members: a.members,
      };
      if (a.role === 'dealer') {
        if (k === undefined) throw new ProtocolError('caNoKey', `no share of CA ${call.name} here`);
        if (d.scheme !== k.scheme || !bytesEqual(d.publicKey, k.publicKey))
          throw new ProtocolError('caDescriptor', 'the descriptor names another key');
        // The owner must never be able to move the key to a group it made up: the new group must be a
        // quorum clique in this holder's own view of the trust graph.
        const ids = a.members.map((m) => m.id);
        const isClique = this.deps
          .cliques()
          .some(
            (c) => c.members.length === ids.length && [...c.members].sort().every((id, i) => id === ids[i]),
          );
        if (!isClique)
          throw new ProtocolError('caRefused', 'the new group is not a quorum clique in this holder’s view');
        s = {
          ...common,
          op: 'dealer',
          identity: this.identityFor(k.members, k.memberKeys),
          other: groupDirectory(a.members, newKeys),
        };
      } else {
        this.requireOwnClique(clique, a.members);
        // Old members revoked since (or unknown here) cannot deal: their signatures never verify.
        const oldKeys = d.members.map((m) =>
          this.deps.graph.isRevoked(m.id)
            ? new Uint8Array(32)
            : (this.deps.graph.body(m.id)?.publicKey ?? new Uint8Array(32)),
        );
        s = {
          ...common,
          op: 'receiver',
          identity: this.identityFor(a.members, newKeys),
          memberKeys: newKeys,
          other: groupDirectory(d.members, oldKeys),
        };
      }
      this.openSession(sid, s);
    } else if (
      s.descriptor!.t !== a.descriptor.t ||
      !bytesEqual(s.descriptor!.v, a.descriptor.v) ||
      !sameMembers(s.members!, a.members)
    ) {
      throw new ProtocolError('caSession', 'the session was opened for another descriptor or group');
    }
    const reshare = this.deps.holder(s.scheme).reshare;
    if (reshare === undefined) {
      this.sessions.delete(sid);
      throw new ProtocolError('caRefused', `a ${s.scheme} key cannot be reshared`);
    }
    try {
      if (s.op === 'dealer') {
        const k = opened ?? (await this.loadKey(call.name));
        if (k === undefined || !bytesEqual(k.publicKey, s.oldPublicKey!))
          throw new ProtocolError('caNoKey', `the share of CA ${call.name} changed during the reshare`);
        const share = this.open(call.name, caKeyId(k.scheme, k.publicKey), k.sealedShare);
        try {
          return reshare.deal(s.identity, { share, publicKey: k.publicKey }, s.other!, call.sid, a.body, now);
        } finally {
          share.fill(0);
        }
      }
      const reply = reshare.receive(s.identity, s.other!, s.oldPublicKey!, call.sid, a.body, now);
      if (reply.key !== undefined) {
        this.sessions.delete(sid);
        await this.storePending(call, s, reply.key);
      }
      return reply.response;
    } catch (e) {
      this.sessions.delete(sid);
      throw e;
    }
  }

  /** The record of a share a setup or reshare session `s` produced, the share sealed. */
  private keyRecord(
    call: CaCall,
    s: Session,
    key: StoredKey,
    descriptorT: bigint,
    nextSeq: bigint,
  ): KeyRecord {
    return {
      scheme: s.scheme,
      index: s.identity.index,
      members: s.members!,
      memberKeys: s.memberKeys!,
      ownerUid: call.requester.body.uid,
      publicKey: key.publicKey,
      sealedShare: this.seal(call.name, caKeyId(s.scheme, key.publicKey), key.share),
      descriptorT,
      nextSeq,
    };
  }

  /** Keeps a reshared share as pending (durably, before the acknowledgement goes out). */
  private async storePending(call: CaCall, s: Session, key: StoredKey): Promise<void> {
    const record = this.keyRecord(call, s, key, 0n, 0n);
    await this.locks.run(call.name, () =>
      this.deps.storage.write([{ ns: 'ca', key: pendingKey(call.name), value: encodeKeyRecord(record) }]),
    );
  }

  /**
   * Applies the owner's descriptor `d` (record `rec`, already checked): the pending share it names becomes
   * the key; a share of a key it no longer names is erased (reshared away or replaced); a stale pending
   * share is dropped. One durable write.
   */
  private async adopt(name: string, rec: SignedRecord, d: CaDescriptor): Promise<CommitResult> {
    return this.locks.run(name, async () => {
      const k = await this.loadKey(name);
      const p = await this.loadPending(name);
      await this.requireFresh(rec, k);
      const names = (r: KeyRecord) => r.scheme === d.scheme && bytesEqual(r.publicKey, d.publicKey);
      const ops: StorageOp[] = [];
      let result: CommitResult;
      if (p !== undefined && names(p)) {
        const nextSeq = k?.nextSeq ?? (await this.nextLogSeq(name));
        ops.push({
          ns: 'ca',
          key: keyKey(name),
          value: encodeKeyRecord({ ...p, descriptorT: rec.t, nextSeq }),
        });
        result = 'promoted';
      } else if (k !== undefined && !names(k) && rec.t > k.descriptorT) {
        // Only a descriptor newer than any this share was used under retires it (not the one it replaced).
        ops.push({ ns: 'ca', key: keyKey(name), value: undefined });
        result = 'erased';
      } else {
        result = k === undefined ? 'none' : 'current';
      }
      if (p !== undefined) ops.push({ ns: 'ca', key: pendingKey(name), value: undefined });
      if (ops.length > 0) await this.deps.storage.write(ops);
      if (result === 'promoted') this.stats.keysStored++;
      return result;
    });
  }

  /** The owner's commit of a new descriptor (after a reshare); any holder of the name, in a clique or not. */
  private async commit(call: CaCall, rec: SignedRecord): Promise<Uint8Array> {
    const owner = await this.requireOwner(call, false);
    const d = this.checkDescriptor(call.name, rec, owner);
    return new Uint8Array([COMMIT_RESULTS.indexOf(await this.adopt(call.name, rec, d))]);
  }

  /**
   * Before a signing session: a holder that missed the commit of a reshare acts on the descriptor shown as on
   * a commit (same checks, with the owner its share was dealt for): it adopts the pending share the
   * descriptor names, or retires a share of a key the newer descriptor no longer names.
   */
  private async adoptNamed(
    name: string,
    rec: SignedRecord,
    k: KeyRecord | undefined,
  ): Promise<KeyRecord | undefined> {
    // The usual case, on the signing hot path: the descriptor names the stored key, nothing to adopt (the
    // full descriptor checks follow in `authorize`, once).
    let named;
    try {
      named = decodeDescriptor(rec.v);
    } catch {
      return k;
    }
    if (k !== undefined && k.scheme === named.scheme && bytesEqual(k.publicKey, named.publicKey)) return k;
    const p = await this.loadPending(name);
    const owner = p?.ownerUid ?? k?.ownerUid;
    if (owner === undefined) return k;
    let d;
    try {
      d = this.checkDescriptor(name, rec, owner);
    } catch {
      return k; // the signing checks that follow give the precise refusal
    }
    try {
      await this.adopt(name, rec, d);
    } catch {
      return k;
    }
    return this.loadKey(name);
  }

  // -------------------------------------------------------------------------------------------------
  // Delete, log

  private async remove(call: CaCall): Promise<Uint8Array> {
    this.requireCertified(call);
    await this.requireOwner(call, false);
    await this.locks.run(call.name, async () => {
      if ((await this.loadKey(call.name)) === undefined)
        throw new ProtocolError('caNoKey', `no share of CA ${call.name} here`);
      await this.deps.storage.write([
        { ns: 'ca', key: keyKey(call.name), value: undefined },
        { ns: 'ca', key: pendingKey(call.name), value: undefined },
      ]);
    });
    return new Uint8Array(0);
  }

  private async log(call: CaCall, limit: number): Promise<Uint8Array> {
    this.requireCertified(call);
    await this.requireOwner(call, false);
    const entries = await this.deps.storage.scan('ca', {
      prefix: logPrefix(call.name),
      reverse: true,
      limit: Math.min(Math.max(limit, 1), this.options.logEntriesMax),
    });
    return encodeLog(entries.map(([, v]) => decodeLogEntry(v)).reverse());
  }

  /** Shares this holder stores (metrics). */
  async keyCount(): Promise<number> {
    return (await this.deps.storage.scan('ca', { prefix: utf8('key/') })).length;
  }
}

/** A scheme refusal as the protocol error a client matches on. */
function refusalOf(e: SchemeError): ProtocolError {
  switch (e.refusal) {
    case 'malformed':
      return new ProtocolError('malformed', e.message);
    case 'session':
      return new ProtocolError('caSession', e.message);
    case 'refused':
    case 'peer':
      return new ProtocolError('caRefused', e.message);
  }
}
