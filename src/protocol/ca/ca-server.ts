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
  type CaCall,
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
const logPrefix = (name: string) => utf8(`log/${name}/`);
function logKey(name: string, seq: bigint): Uint8Array {
  const p = logPrefix(name);
  const out = new Uint8Array(p.length + 8);
  out.set(p);
  new DataView(out.buffer).setBigUint64(p.length, seq);
  return out;
}

interface Session {
  readonly op: 'setup' | 'sign';
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
    const certified = quorumCertificateCount(this.deps.graph, clique, call.requester);
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
  private continued(sid: string, call: CaCall, op: 'setup' | 'sign'): Session | undefined {
    const s = this.sessions.get(sid);
    if (s === undefined) return undefined;
    if (s.op !== op || s.name !== call.name || s.requester !== call.requester.id)
      throw new ProtocolError('caSession', 'the session belongs to another call');
    return s;
  }

  private identityFor(members: readonly MemberKey[], memberKeys: readonly Uint8Array[]): HolderIdentity {
    const index = members.findIndex((m) => m.id === this.deps.id) + 1;
    const n = members.length;
    return {
      index,
      n,
      b: Math.floor((n - 1) / 3),
      encryption: this.encryption,
      sign: (m) => sign(this.deps.key, m),
      encryptionKey: (i) =>
        Number.isInteger(i) && i >= 1 && i <= n ? members[i - 1]!.encryptionKey : undefined,
      verify: (i, m, sig) => {
        if (!Number.isInteger(i) || i < 1 || i > n) return false;
        try {
          return verify(memberKeys[i - 1]!, m, sig);
        } catch {
          return false;
        }
      },
    };
  }

  private async loadKey(name: string): Promise<KeyRecord | undefined> {
    const raw = await this.deps.storage.get('ca', keyKey(name));
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
      // The group must be exactly this node's clique, each member's X25519 key attested by its node key.
      const ids = a.members.map((m) => m.id);
      const expected = [...clique.members].sort();
      if (ids.length !== expected.length || ids.some((id, i) => id !== expected[i]))
        throw new ProtocolError('caRefused', 'the group is not this node’s quorum clique');
      const memberKeys = a.members.map((m) => {
        const cert = this.deps.graph.certificate(m.id);
        if (
          cert === undefined ||
          !verify(cert.body.publicKey, attestationStatement(m.id, m.encryptionKey), m.attestation)
        )
          throw new ProtocolError('caRefused', `member ${m.id}: X25519 key not attested by its node key`);
        return cert.body.publicKey;
      });
      const own = a.members.find((m) => m.id === this.deps.id)!;
      if (!bytesEqual(own.encryptionKey, this.encryption.publicKey))
        throw new ProtocolError('caRefused', 'this node’s X25519 key in the group is not its own');
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
      const keyId = caKeyId(s.scheme, key.publicKey);
      const record: KeyRecord = {
        scheme: s.scheme,
        index: s.identity.index,
        members: s.members!,
        memberKeys: s.memberKeys!,
        ownerUid: call.requester.body.uid,
        publicKey: key.publicKey,
        sealedShare: this.seal(call.name, keyId, key.share),
        // A replaced key keeps the descriptor floor: an older descriptor must not authorize the new key.
        descriptorT: existing?.descriptorT ?? 0n,
        nextSeq: existing?.nextSeq ?? 0n,
      };
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
    const k = await this.loadKey(call.name);
    if (k === undefined) throw new ProtocolError('caNoKey', `no share of CA ${call.name} here`);
    let s = this.continued(sid, call, 'sign');
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

  /** The descriptor checks, then the log entry and the new descriptor floor, durably, in one write. */
  private async authorize(call: CaCall, rec: SignedRecord, k: KeyRecord, input: SignInput): Promise<void> {
    if (!bytesEqual(rec.x, caVariable(call.name)))
      throw new ProtocolError('caDescriptor', 'the record is not this CA’s descriptor');
    if (rec.writer.body.uid !== k.ownerUid)
      throw new ProtocolError('caDescriptor', 'the descriptor was not written by the CA’s owner');
    let d;
    try {
      d = decodeDescriptor(rec.v);
    } catch (e) {
      throw new ProtocolError('caDescriptor', `the descriptor does not decode: ${String(e)}`);
    }
    if (d.name !== call.name || d.scheme !== k.scheme || !bytesEqual(d.publicKey, k.publicKey))
      throw new ProtocolError('caDescriptor', 'the descriptor names another key');
    if (!verifySelfSignature(rec.writer) || !this.deps.recordValid(rec))
      throw new ProtocolError('caDescriptor', 'the descriptor’s collective signature is not sufficient here');
    const uid = call.requester.body.uid;
    if (uid !== k.ownerUid && !d.authorized.includes(uid))
      throw new ProtocolError(
        'permissionDenied',
        `UID ${uid} may not request signatures from CA ${call.name}`,
      );
    await this.locks.run(call.name, async () => {
      const fresh = (await this.loadKey(call.name)) ?? k;
      const floor = [fresh.descriptorT, await this.deps.lastSigned(rec.x)].reduce((x, y) => (x > y ? x : y));
      if (rec.t < floor)
        throw new ProtocolError('caDescriptor', `a newer descriptor exists (t ${floor} > ${rec.t})`, floor);
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

  // -------------------------------------------------------------------------------------------------
  // Delete, log

  private async remove(call: CaCall): Promise<Uint8Array> {
    this.requireCertified(call);
    await this.requireOwner(call, false);
    await this.locks.run(call.name, async () => {
      if ((await this.loadKey(call.name)) === undefined)
        throw new ProtocolError('caNoKey', `no share of CA ${call.name} here`);
      await this.deps.storage.write([{ ns: 'ca', key: keyKey(call.name), value: undefined }]);
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
