/**
 * The client side of the distributed CA (paper §3.4, §6.1; docs/PROTOCOL.md §15): creates or imports a key
 * among the members of one quorum clique, keeps its public descriptor as a normal BFTKV record, and runs
 * signing sessions for any authorized client — the key never exists in one place after distribution.
 *
 * Every call to a holder is signed by this client's key, bound to that holder, and carries a fresh nonce
 * and the time (replay protection). The scheme's rounds come from its coordinator (schemes.ts); this
 * module carries them: it signs each call, sends it to the holders, and hands back the answers.
 */

import { createPrivateKey } from 'node:crypto';
import type { Clock } from '../../env/clock.js';
import type { Random } from '../../env/random.js';
import { sha256 } from '../../crypto/hash.js';
import { sign, verify, type SigningKey } from '../../crypto/ed25519.js';
import {
  CertificateRequestError,
  createCaCertificate,
  issueCertificate,
  type CertificateSigner,
  type IssuedCertificate,
  type NameAttribute,
} from '../../crypto/threshold/x509.js';
import type { Certificate, NodeId } from '../../trust/certificate.js';
import { mostFrequentError, type BftkvClient, type Outcome, type WriteResult } from '../client.js';
import { ProtocolError, type ErrorCode } from '../errors.js';
import type { SignedRecord } from '../messages.js';
import {
  CA_SESSION_ID_BYTES,
  SchemeFailure,
  type CaScheme,
  type GroupDirectory,
  type RoundTrip,
  type SchemeCoordinator,
  type SchemeCulprit,
  type SignInput,
} from './scheme.js';
import { coordinatorFor, type CoordinatorOptions } from './schemes.js';
import {
  attestationStatement,
  CA_NONCE_BYTES,
  callStatement,
  caVariable,
  decodeDescriptor,
  decodeHello,
  decodeLog,
  encodeDescriptor,
  groupDirectory,
  isCaName,
  type CaAction,
  type CaCall,
  type CaDescriptor,
  type CaLogEntry,
  type MemberKey,
} from './wire.js';

export interface CaClientOptions {
  /** After a round has the answers it needs, wait this long for the others. */
  readonly graceMs: number;
  /** Deadline of one round (threshold rounds can take seconds on big groups: DSA, RSA proofs). */
  readonly roundTimeoutMs: number;
}

export const DEFAULT_CA_CLIENT_OPTIONS: CaClientOptions = { graceMs: 20, roundTimeoutMs: 30_000 };

export interface CaClientDeps {
  readonly client: BftkvClient;
  readonly key: SigningKey;
  readonly clock: Clock;
  readonly random: Random;
  readonly options?: Partial<CaClientOptions>;
}

/** A CA as its descriptor record shows it. */
export interface CaInfo {
  readonly name: string;
  readonly descriptor: CaDescriptor;
  readonly record: SignedRecord;
  readonly publicKeyPem: string;
}

/** A signature from the distributed key, verified against the descriptor's public key. */
export interface CaSignature {
  readonly signature: Uint8Array;
  readonly scheme: CaScheme;
  /** Holders whose answers were wrong or missing (by node id), with the coordinator's reason. */
  readonly culprits: readonly { readonly id: NodeId; readonly reason: string }[];
}

export interface CreateOptions extends CoordinatorOptions {
  /** Overwrite an existing key of this name (owner only). */
  readonly replace?: boolean;
  /** Subject of the self-signed CA certificate made after the key (default CN=NAME). */
  readonly subject?: readonly NameAttribute[];
  /** Validity of that certificate (default 10 years). */
  readonly validitySeconds?: number;
  readonly signal?: AbortSignal;
}

const TEN_YEARS_S = 10 * 365 * 24 * 3600;

/** The outcome of a reshare. */
export interface ReshareResult {
  /** The new descriptor (new members, new public key bytes, same signing key). */
  readonly info: CaInfo;
  /** New holders that stored a share. */
  readonly stored: readonly NodeId[];
  /** Old (dealers) and new holders whose answers were wrong or missing. */
  readonly culprits: readonly { readonly id: NodeId; readonly reason: string }[];
  /** Holders (old and new) that confirmed the commit. */
  readonly committed: readonly NodeId[];
}

/** What a scheme signs for `data`: its SHA-256 digest, or (Ed25519) the data itself. */
export function signInputFor(coordinator: SchemeCoordinator, data: Uint8Array): SignInput {
  return coordinator.input === 'digest'
    ? { kind: 'digest', hash: 'sha256', digest: sha256(data) }
    : { kind: 'message', message: data };
}

function errorOf(o: Outcome): ProtocolError | undefined {
  if ('error' in o) return o.error instanceof ProtocolError ? o.error : undefined;
  const r = o.response;
  return r.kind === 'error' ? new ProtocolError(r.code, r.message, r.timestamp) : undefined;
}

export class CaClient {
  readonly options: CaClientOptions;

  constructor(private readonly deps: CaClientDeps) {
    this.options = { ...DEFAULT_CA_CLIENT_OPTIONS, ...deps.options };
  }

  private get client(): BftkvClient {
    return this.deps.client;
  }

  /** A signed call to holder `holder`. */
  private call(holder: NodeId, name: string, sid: Uint8Array, action: CaAction): CaCall {
    const unsigned = {
      name,
      sid,
      requester: this.client.certificate(),
      issuedMs: BigInt(Math.max(0, Math.floor(this.deps.clock.now()))),
      nonce: this.deps.random.bytes(CA_NONCE_BYTES),
      action,
    };
    return { ...unsigned, signature: sign(this.deps.key, callStatement(holder, unsigned)) };
  }

  /**
   * Sends `actionFor(index)` to the holders `to` (indices into `members`) and collects the answers. With
   * `need`, returns once that many answered (plus the grace period). Refusals are kept in `errors`.
   */
  private async round(
    name: string,
    sid: Uint8Array,
    members: readonly Certificate[],
    to: readonly number[],
    actionFor: (index: number) => CaAction,
    errors: Map<ErrorCode, number>,
    need: number | undefined,
    signal: AbortSignal | undefined,
    accept?: (index: number, answer: Uint8Array) => boolean,
  ): Promise<Map<number, Uint8Array | undefined>> {
    const indexOf = new Map(members.map((c, i) => [c.id, i + 1]));
    const peers = to.map((i) => {
      const c = members[i - 1];
      if (c === undefined) throw new RangeError(`no holder ${i}`);
      return c;
    });
    // Each answer is judged once, as it arrives (outcomes only grow).
    let judged = 0;
    let accepted = 0;
    const ok = (os: readonly Outcome[]) => {
      for (; judged < os.length; judged++) {
        const o = os[judged]!;
        if (!('response' in o) || o.response.kind !== 'ca') continue;
        if (accept === undefined || accept(indexOf.get(o.peer.id)!, o.response.body)) accepted++;
      }
      return accepted;
    };
    const outcomes = await this.client.exchange(
      peers,
      (peer) => ({ kind: 'ca', call: this.call(peer.id, name, sid, actionFor(indexOf.get(peer.id)!)) }),
      signal,
      need === undefined ? () => false : (os) => ok(os) >= need,
      need === undefined ? 0 : this.options.graceMs,
      this.options.roundTimeoutMs,
    );
    const out = new Map<number, Uint8Array | undefined>(to.map((i) => [i, undefined]));
    for (const o of outcomes) {
      const i = indexOf.get(o.peer.id)!;
      if ('response' in o && o.response.kind === 'ca') out.set(i, o.response.body);
      else {
        const e = errorOf(o);
        const code: ErrorCode = e?.code ?? 'unavailable';
        errors.set(code, (errors.get(code) ?? 0) + 1);
      }
    }
    return out;
  }

  /** The members of the clique a new key goes to (this client's first quorum clique), with their certificates. */
  private groupMembers(): Certificate[] {
    const qs = this.client.quorumSystem();
    const clique = qs.cliques[0];
    if (clique === undefined) throw new ProtocolError('insufficientResponses', 'no quorum clique in view');
    return [...clique.members].sort().map((id) => {
      const c = this.client.serverCertificate(id);
      if (c === undefined) throw new ProtocolError('unavailable', `no certificate for member ${id}`);
      return c;
    });
  }

  /**
   * Each member's attested X25519 key (hello), verified against its node key. A member that does not
   * answer may be taken from `known` (a descriptor's members: keys derive from node keys and do not change).
   */
  private async hello(
    name: string,
    members: readonly Certificate[],
    signal?: AbortSignal,
    known: readonly MemberKey[] = [],
  ): Promise<MemberKey[]> {
    const errors = new Map<ErrorCode, number>();
    const sid = this.deps.random.bytes(CA_SESSION_ID_BYTES);
    const all = members.map((_, i) => i + 1);
    const answers = await this.round(
      name,
      sid,
      members,
      all,
      () => ({ op: 'hello' }),
      errors,
      undefined,
      signal,
    );
    const keys: MemberKey[] = [];
    for (const [i, body] of answers) {
      const cert = members[i - 1]!;
      let hello;
      try {
        hello = body === undefined ? undefined : decodeHello(body);
      } catch {
        hello = undefined;
      }
      hello ??= known.find((m) => m.id === cert.id);
      if (
        hello === undefined ||
        !verify(cert.body.publicKey, attestationStatement(cert.id, hello.encryptionKey), hello.attestation)
      )
        throw mostFrequentError(errors, 'unavailable', `member ${cert.id} did not attest its key`, [cert.id]);
      keys.push({ id: cert.id, encryptionKey: hello.encryptionKey, attestation: hello.attestation });
    }
    return keys;
  }

  private directory(members: readonly MemberKey[], certs: readonly Certificate[]): GroupDirectory {
    return groupDirectory(
      members,
      certs.map((c) => c.body.publicKey),
    );
  }

  private roundTrip(
    name: string,
    sid: Uint8Array,
    certs: readonly Certificate[],
    action: (body: Uint8Array) => CaAction,
    errors: Map<ErrorCode, number>,
    signal?: AbortSignal,
  ): RoundTrip {
    return (_round, to, body, need, accept) =>
      this.round(name, sid, certs, to, (i) => action(body(i)), errors, need, signal, accept);
  }

  /**
   * A scheme failure as the error callers see: the holders' most frequent refusal when they refused.
   * Culprits index `members`, or `oldMembers` when marked old (a reshare's dealers).
   */
  private failure(
    e: unknown,
    errors: Map<ErrorCode, number>,
    members: readonly MemberKey[],
    oldMembers: readonly MemberKey[] = members,
  ): unknown {
    if (!(e instanceof SchemeFailure)) return e;
    const culprits = this.culpritsOf(e.culprits, members, oldMembers).map((c) => c.id);
    return mostFrequentError(errors, 'insufficientResponses', e.message, [...new Set(culprits)]);
  }

  private culpritsOf(
    cs: readonly SchemeCulprit[],
    members: readonly MemberKey[],
    oldMembers: readonly MemberKey[] = members,
  ) {
    return cs.map((c) => ({
      id: (c.old === true ? oldMembers : members)[c.index - 1]?.id ?? `#${c.index}`,
      reason: c.reason,
    }));
  }

  /** Creates a fresh key (DKG; a dealer that erases it for rsa-shoup), then its descriptor and CA certificate. */
  async create(name: string, scheme: CaScheme, options: CreateOptions = {}): Promise<CaInfo> {
    const coordinator = coordinatorFor(scheme, options);
    return this.setupKey(name, coordinator, options, (group, sid, rt) =>
      coordinator.create(group, sid, rt, this.deps.random),
    );
  }

  /** Imports an existing private key (PEM): RSA with the paper's additive scheme, DSA and ECDSA with GJKR. */
  async import(name: string, pem: string, options: CreateOptions = {}): Promise<CaInfo> {
    const scheme = schemeOfPem(pem);
    const coordinator = coordinatorFor(scheme, options);
    const importKey = coordinator.import;
    if (importKey === undefined) throw new RangeError(`scheme ${scheme} cannot import keys`);
    return this.setupKey(name, coordinator, options, (group, sid, rt) =>
      importKey(group, sid, pem, rt, this.deps.random),
    );
  }

  private async setupKey(
    name: string,
    coordinator: SchemeCoordinator,
    options: CreateOptions,
    run: (group: GroupDirectory, sid: Uint8Array, rt: RoundTrip) => Promise<{ publicKey: Uint8Array }>,
  ): Promise<CaInfo> {
    if (!isCaName(name)) throw new RangeError(`not a valid CA name: ${name}`);
    const certs = this.groupMembers();
    const members = await this.hello(name, certs, options.signal);
    const sid = this.deps.random.bytes(CA_SESSION_ID_BYTES);
    const errors = new Map<ErrorCode, number>();
    const rt = this.roundTrip(
      name,
      sid,
      certs,
      (body) => ({
        op: 'setup',
        scheme: coordinator.scheme,
        replace: options.replace ?? false,
        members,
        body,
      }),
      errors,
      options.signal,
    );
    let created;
    try {
      created = await run(this.directory(members, certs), sid, rt);
    } catch (e) {
      throw this.failure(e, errors, members);
    }
    const descriptor: CaDescriptor = {
      name,
      scheme: coordinator.scheme,
      members,
      publicKey: created.publicKey,
      authorized: [],
    };
    await this.writeDescriptor(name, descriptor, options.signal);
    // The CA certificate is signed by the distributed key itself, then published in the descriptor.
    const caCert = await createCaCertificate({
      signer: this.signerFor(await this.info(name, options.signal), options.signal),
      subject: options.subject ?? [{ type: 'CN', value: name }],
      random: this.deps.random,
      notBeforeMs: this.deps.clock.now(),
      validitySeconds: options.validitySeconds ?? TEN_YEARS_S,
    });
    await this.update(name, (d) => ({ ...d, certificate: caCert.der }), options.signal);
    return this.info(name, options.signal);
  }

  private async writeDescriptor(name: string, d: CaDescriptor, signal?: AbortSignal): Promise<WriteResult> {
    const v = encodeDescriptor(d);
    // Every member is asked to sign, so every live holder learns the newest descriptor (authorization floor).
    return this.client.writePrepared(caVariable(name), () => Promise.resolve(v), signal);
  }

  /** The latest descriptor of CA `name` (a verified BFTKV read). */
  async info(name: string, signal?: AbortSignal): Promise<CaInfo> {
    const r = await this.client.read(caVariable(name), signal === undefined ? {} : { signal });
    if (r.record === undefined) throw new ProtocolError('caNoKey', `no CA named ${name}`);
    let descriptor;
    try {
      descriptor = decodeDescriptor(r.record.v);
    } catch (e) {
      throw new ProtocolError('caDescriptor', `the record of CA ${name} is not a descriptor: ${String(e)}`);
    }
    if (descriptor.name !== name) throw new ProtocolError('caDescriptor', 'the descriptor names another CA');
    const publicKeyPem = coordinatorFor(descriptor.scheme).publicKeyPem(descriptor.publicKey);
    return { name, descriptor, record: r.record, publicKeyPem };
  }

  /** Rewrites the descriptor with `change` applied (owner only: TOFU on the variable). */
  private async update(
    name: string,
    change: (d: CaDescriptor) => CaDescriptor,
    signal?: AbortSignal,
  ): Promise<CaDescriptor> {
    const { descriptor } = await this.info(name, signal);
    const next = change(descriptor);
    await this.writeDescriptor(name, next, signal);
    return next;
  }

  /** Allows `uid` to request signatures (owner only). */
  async authorize(name: string, uid: string, signal?: AbortSignal): Promise<readonly string[]> {
    const d = await this.update(
      name,
      (d) => ({ ...d, authorized: [...new Set([...d.authorized, uid])].sort() }),
      signal,
    );
    return d.authorized;
  }

  /** Withdraws `uid`'s permission (owner only). */
  async deauthorize(name: string, uid: string, signal?: AbortSignal): Promise<readonly string[]> {
    const d = await this.update(
      name,
      (d) => ({ ...d, authorized: d.authorized.filter((u) => u !== uid) }),
      signal,
    );
    return d.authorized;
  }

  /** Signs `input` with CA `name`'s distributed key. */
  async sign(name: string, input: SignInput, signal?: AbortSignal): Promise<CaSignature> {
    const info = await this.info(name, signal);
    return this.signWithInfo(info, input, signal);
  }

  /** What CA `info`'s scheme signs for `data` (its SHA-256 digest, or the data itself for Ed25519). */
  inputFor(info: CaInfo, data: Uint8Array): SignInput {
    return signInputFor(coordinatorFor(info.descriptor.scheme), data);
  }

  /** Signs `data` (SHA-256 for RSA/DSA/ECDSA, the data itself for Ed25519). */
  async signData(name: string, data: Uint8Array, signal?: AbortSignal): Promise<CaSignature> {
    const info = await this.info(name, signal);
    return this.signWithInfo(info, signInputFor(coordinatorFor(info.descriptor.scheme), data), signal);
  }

  /**
   * Signs `input` under a descriptor already read (`info`); holders refuse it if a newer descriptor exists.
   */
  async signWithInfo(info: CaInfo, input: SignInput, signal?: AbortSignal): Promise<CaSignature> {
    const d = info.descriptor;
    const coordinator = coordinatorFor(d.scheme);
    const certs = this.holderCertificates(d);
    const sid = this.deps.random.bytes(CA_SESSION_ID_BYTES);
    const errors = new Map<ErrorCode, number>();
    const rt = this.roundTrip(
      info.name,
      sid,
      certs,
      (body) => ({ op: 'sign', descriptor: info.record, input, body }),
      errors,
      signal,
    );
    let result;
    try {
      result = await coordinator.sign(
        this.directory(d.members, certs),
        d.publicKey,
        sid,
        input,
        rt,
        this.deps.random,
      );
    } catch (e) {
      throw this.failure(e, errors, d.members);
    }
    // Coordinators verify already; checking again here costs one verification and guards the contract.
    if (!coordinator.verify(d.publicKey, input, result.signature))
      throw new ProtocolError('caRefused', 'the combined signature does not verify (not returned)');
    return {
      signature: result.signature,
      scheme: d.scheme,
      culprits: this.culpritsOf(result.culprits, d.members),
    };
  }

  /** A CertificateSigner backed by the distributed key (X.509 issuance). */
  private signerFor(info: CaInfo, signal?: AbortSignal): CertificateSigner {
    const coordinator = coordinatorFor(info.descriptor.scheme);
    return {
      algorithm: coordinator.x509Algorithm,
      publicKeyPem: info.publicKeyPem,
      sign: async (tbs) => (await this.signWithInfo(info, signInputFor(coordinator, tbs), signal)).signature,
    };
  }

  /** The CA certificate (PEM) from the descriptor. */
  async caCertificatePem(name: string, signal?: AbortSignal): Promise<string> {
    const { descriptor } = await this.info(name, signal);
    if (descriptor.certificate === undefined)
      throw new ProtocolError('caNoKey', `CA ${name} has no certificate yet`);
    return pem('CERTIFICATE', descriptor.certificate);
  }

  /** Issues an X.509 certificate for a PKCS#10 request, signed by the distributed key. */
  async issue(
    name: string,
    csr: string | Uint8Array,
    options: { validitySeconds?: number; signal?: AbortSignal } = {},
  ): Promise<IssuedCertificate> {
    const info = await this.info(name, options.signal);
    if (info.descriptor.certificate === undefined)
      throw new ProtocolError('caNoKey', `CA ${name} has no certificate yet`);
    const coordinator = coordinatorFor(info.descriptor.scheme);
    const signer: CertificateSigner = {
      algorithm: coordinator.x509Algorithm,
      publicKeyPem: info.publicKeyPem,
      sign: async (tbs) =>
        (await this.signWithInfo(info, signInputFor(coordinator, tbs), options.signal)).signature,
    };
    // A PEM request read as bytes is still PEM.
    const text = csr instanceof Uint8Array ? Buffer.from(csr).toString('latin1') : csr;
    const request = text.trimStart().startsWith('-----BEGIN') ? text : csr;
    return issueCertificate({
      csr: request,
      caCertificate: info.descriptor.certificate,
      signer,
      random: this.deps.random,
      notBeforeMs: this.deps.clock.now(),
      validitySeconds: options.validitySeconds ?? 365 * 24 * 3600,
    }).catch((e: unknown) => {
      // A request that does not parse or whose self-signature fails is a bad argument of the caller.
      if (e instanceof CertificateRequestError) throw new RangeError(e.message);
      throw e;
    });
  }

  /**
   * Reshares CA `name`'s key to the members of this client's quorum clique (owner only; GJKR and FROST
   * schemes): the old holders deal their shares to the new group, which ends with fresh shares of the same
   * key (docs/PROTOCOL.md §15.6). Then the descriptor names the new group and public key bytes, and every
   * old and new holder is told to switch to its new share or erase its old one. The signing key, its PEM
   * and the CA certificate stay the same.
   */
  async reshare(name: string, signal?: AbortSignal): Promise<ReshareResult> {
    const info = await this.info(name, signal);
    const d = info.descriptor;
    const coordinator = coordinatorFor(d.scheme);
    const reshare = coordinator.reshare;
    if (reshare === undefined)
      throw new RangeError(
        `a ${d.scheme} key cannot be reshared (docs/PROTOCOL.md §15.6); replace it instead`,
      );
    const oldCerts = this.holderCertificates(d);
    const newCerts = this.groupMembers();
    // Members down now are still part of the new group (they get no share, within the tolerance).
    const newMembers = await this.hello(name, newCerts, signal, d.members);
    const sid = this.deps.random.bytes(CA_SESSION_ID_BYTES);
    const errors = new Map<ErrorCode, number>();
    const action =
      (role: 'dealer' | 'receiver') =>
      (body: Uint8Array): CaAction => ({
        op: 'reshare',
        role,
        descriptor: info.record,
        members: newMembers,
        body,
      });
    let created;
    try {
      created = await reshare(
        this.directory(d.members, oldCerts),
        this.directory(newMembers, newCerts),
        d.publicKey,
        sid,
        this.roundTrip(name, sid, oldCerts, action('dealer'), errors, signal),
        this.roundTrip(name, sid, newCerts, action('receiver'), errors, signal),
      );
    } catch (e) {
      throw this.failure(e, errors, newMembers, d.members);
    }
    if (coordinator.publicKeyPem(created.publicKey) !== info.publicKeyPem)
      throw new Error('Invariant: a reshare keeps the signing key');
    await this.writeDescriptor(name, { ...d, members: newMembers, publicKey: created.publicKey }, signal);
    const next = await this.info(name, signal);
    // Old holders erase their shares, new ones switch to theirs (a holder that misses this switches when
    // it is next asked to sign under the new descriptor).
    const everyone = [...new Map([...oldCerts, ...newCerts].map((c) => [c.id, c])).values()];
    const answers = await this.round(
      name,
      this.deps.random.bytes(CA_SESSION_ID_BYTES),
      everyone,
      everyone.map((_, i) => i + 1),
      () => ({ op: 'commit', descriptor: next.record }),
      new Map(),
      undefined,
      signal,
    );
    return {
      info: next,
      stored: created.stored.map((i) => newMembers[i - 1]!.id),
      culprits: this.culpritsOf(created.culprits, newMembers, d.members),
      committed: [...answers].filter(([, b]) => b !== undefined).map(([i]) => everyone[i - 1]!.id),
    };
  }

  /** The certificates of a descriptor's holders, in index order. */
  private holderCertificates(d: CaDescriptor): Certificate[] {
    return d.members.map((m) => {
      const c = this.client.serverCertificate(m.id);
      if (c === undefined) throw new ProtocolError('unavailable', `no certificate for holder ${m.id}`);
      return c;
    });
  }

  /** Sends one `action` to every holder of CA `name` (one call each); the answers by holder certificate. */
  private async toEveryHolder(name: string, action: CaAction, signal?: AbortSignal) {
    const info = await this.info(name, signal);
    const certs = info.descriptor.members
      .map((m) => this.client.serverCertificate(m.id))
      .filter((c) => c !== undefined);
    const errors = new Map<ErrorCode, number>();
    const sid = this.deps.random.bytes(CA_SESSION_ID_BYTES);
    const all = certs.map((_, i) => i + 1);
    const answers = await this.round(name, sid, certs, all, () => action, errors, undefined, signal);
    return { certs, answers, errors };
  }

  /** Erases every holder's share (owner only); returns the holders that confirmed. */
  async delete(name: string, signal?: AbortSignal): Promise<NodeId[]> {
    const { certs, answers, errors } = await this.toEveryHolder(name, { op: 'delete' }, signal);
    const done = [...answers].filter(([, b]) => b !== undefined).map(([i]) => certs[i - 1]!.id);
    if (done.length === 0) throw mostFrequentError(errors, 'unavailable', 'no holder deleted its share', []);
    return done;
  }

  /** The signature log of each holder (owner only), by holder id. */
  async log(name: string, limit = 100, signal?: AbortSignal): Promise<Map<NodeId, CaLogEntry[]>> {
    const { certs, answers, errors } = await this.toEveryHolder(name, { op: 'log', limit }, signal);
    const out = new Map<NodeId, CaLogEntry[]>();
    for (const [i, body] of answers) {
      if (body === undefined) continue;
      try {
        out.set(certs[i - 1]!.id, decodeLog(body));
      } catch {
        // a holder that answers garbage has no log to show
      }
    }
    if (out.size === 0) throw mostFrequentError(errors, 'unavailable', 'no holder returned its log', []);
    return out;
  }
}

/** The scheme an imported PEM private key is shared with. */
export function schemeOfPem(pemText: string): CaScheme {
  let key;
  try {
    key = createPrivateKey(pemText);
  } catch (e) {
    throw new RangeError(`not a PEM private key: ${String(e)}`);
  }
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return 'rsa-additive';
    case 'dsa':
      return 'dsa';
    case 'ed25519':
      return 'ed25519-frost';
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      if (curve === 'prime256v1' || curve === 'P-256') return 'ecdsa-p256';
      if (curve === 'secp256k1') return 'ecdsa-secp256k1';
      throw new RangeError(`unsupported curve ${String(curve)}`);
    }
    default:
      throw new RangeError(`unsupported key type ${String(key.asymmetricKeyType)}`);
  }
}

function pem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  return `-----BEGIN ${label}-----\n${b64.replace(/.{1,64}/g, '$&\n')}-----END ${label}-----\n`;
}
