/**
 * The client side of threshold password authentication (paper §3.3 TPA, §4.3 Register; docs/PROTOCOL.md
 * §Password; cryptography in src/crypto/tpa.ts, server side in password.ts):
 *
 * - `authenticate`: blind the password, ask every member of every quorum clique to evaluate, settle on the
 *   credential the members agree on, combine t answers per clique (naming members whose answers are proven
 *   wrong), and return the password keys with the members' nonces, ready to sign a proof.
 * - `register`: enrol the UID (first time) or prove the password, and collect certifications of this key
 *   from the cliques (key recovery and additional devices are registrations of new keys under the UID).
 * - `writeProtected` / `readProtected`: roaming encryption with a fresh password key per write.
 */
import { bytesEqual, toHex, utf8 } from '../codec/bytes.js';
import type { Clock } from '../env/clock.js';
import type { Random } from '../env/random.js';
import { sign } from '../crypto/ed25519.js';
import {
  blindPassword,
  combineEvaluations,
  credentialId,
  encodeScalar,
  openValue,
  proofStatement,
  sealValue,
  setupPassword,
  sortNonces,
  TpaError,
  type Credential,
  type CredentialScope,
  type Evaluation,
  type PasswordKeys,
  type PasswordProof,
  type ProofNonce,
  type ProofOperation,
} from '../crypto/tpa.js';
import type { QuorumSystem } from '../quorum/quorum-system.js';
import {
  verifyCertification,
  type Certificate,
  type Certification,
  type NodeId,
} from '../trust/certificate.js';
import type { BftkvClient, Outcome, ReadResult, WriteResult } from './client.js';
import { ProtocolError } from './errors.js';
import { decodeEnvelope, encodeEnvelope, isEnvelope, registerOperation } from './password.js';

export interface PasswordClientOptions {
  /** After every clique has t answers, wait this long for the others (more answers, more robustness). */
  readonly graceMs: number;
  /** The longest server-imposed wait (throttling) an operation sits out before giving up. */
  readonly throttleWaitMaxMs: number;
}

export const DEFAULT_PASSWORD_CLIENT_OPTIONS: PasswordClientOptions = {
  graceMs: 20,
  throttleWaitMaxMs: 65_000,
};

/** A completed authentication: the credential, its keys, and the nonces of the members that evaluated. */
export interface Authenticated {
  readonly credential: Credential;
  readonly keys: PasswordKeys;
  readonly nonces: readonly ProofNonce[];
  /** Members whose answers were proven wrong (bad evaluation or proof, or another credential). */
  readonly culprits: readonly NodeId[];
}

export interface RegisterResult {
  /** The certifications collected for the key (merge them into its certificate). */
  readonly certifications: readonly Certification[];
  /** True when this registration enrolled the UID (set its password). */
  readonly enrolled: boolean;
  readonly culprits: readonly NodeId[];
}

export interface PasswordClientDeps {
  readonly client: BftkvClient;
  readonly clock: Clock;
  readonly random: Random;
  readonly options?: Partial<PasswordClientOptions>;
}

function errorOf(o: Outcome): ProtocolError | undefined {
  if ('error' in o) return o.error instanceof ProtocolError ? o.error : undefined;
  const r = o.response;
  return r.kind === 'error' ? new ProtocolError(r.code, r.message, r.timestamp) : undefined;
}

export class PasswordClient {
  readonly options: PasswordClientOptions;

  constructor(private readonly deps: PasswordClientDeps) {
    this.options = { ...DEFAULT_PASSWORD_CLIENT_OPTIONS, ...deps.options };
  }

  private get client(): BftkvClient {
    return this.deps.client;
  }

  private members(qs: QuorumSystem): Certificate[] {
    return qs.cliques
      .flatMap((c) => c.members)
      .map((id) => this.client.serverCertificate(id))
      .filter((c): c is Certificate => c !== undefined);
  }

  /**
   * Authenticates with `password` for the UID or variable `name`. Throws ProtocolError('noCredential') when
   * no password is set up, ProtocolError('authFailed') for a wrong password, ProtocolError('throttled') when
   * the members keep delaying longer than `throttleWaitMaxMs` allows.
   */
  async authenticate(
    scope: CredentialScope,
    name: Uint8Array,
    password: string,
    signal?: AbortSignal,
  ): Promise<Authenticated> {
    const started = this.deps.clock.now();
    for (;;) {
      const r = await this.authenticateOnce(scope, name, password, signal);
      if (!('wait' in r)) return r;
      const waited = this.deps.clock.now() - started;
      if (waited + r.wait > this.options.throttleWaitMaxMs)
        throw new ProtocolError(
          'throttled',
          `password attempts are throttled for ${r.wait} ms more`,
          BigInt(r.wait),
        );
      await this.deps.clock.sleep(r.wait, signal);
    }
  }

  private async authenticateOnce(
    scope: CredentialScope,
    name: Uint8Array,
    password: string,
    signal?: AbortSignal,
  ): Promise<Authenticated | { wait: number }> {
    const qs = this.client.quorumSystem();
    if (qs.cliques.length === 0)
      throw new ProtocolError('insufficientResponses', "no quorum clique in this node's trust graph");
    const blinded = blindPassword(scope, name, password, this.deps.random);
    const peers = this.members(qs);
    const answered = (os: readonly Outcome[]) =>
      qs.cliques.every(
        (c) =>
          os.filter(
            (o) => 'response' in o && o.response.kind === 'passwordEval' && c.memberSet.has(o.peer.id),
          ).length >=
          c.members.length - c.b,
      );
    const outcomes = await this.client.exchange(
      peers,
      () => ({ kind: 'passwordEval', scope, name, blinded: blinded.blinded }),
      signal,
      answered,
      this.options.graceMs,
    );
    // Settle on the credential most members returned; members presenting another one are suspects.
    const byCredential = new Map<string, { credential: Credential; count: number }>();
    const answers: Array<{
      peer: Certificate;
      credential: Credential;
      evaluation: Evaluation;
      nonce: Uint8Array;
    }> = [];
    const errors = new Map<string, number>();
    let wait = 0;
    for (const o of outcomes) {
      if ('response' in o && o.response.kind === 'passwordEval') {
        const r = o.response;
        const id = toHex(credentialId(r.credential));
        const entry = byCredential.get(id) ?? { credential: r.credential, count: 0 };
        entry.count++;
        byCredential.set(id, entry);
        answers.push({ peer: o.peer, credential: r.credential, evaluation: r, nonce: r.nonce });
        continue;
      }
      const e = errorOf(o);
      if (e !== undefined) {
        errors.set(e.code, (errors.get(e.code) ?? 0) + 1);
        if (e.code === 'throttled' && e.timestamp !== undefined) wait = Math.max(wait, Number(e.timestamp));
      }
    }
    const best = [...byCredential.values()].sort((a, b) => b.count - a.count)[0];
    if (best === undefined) {
      if (wait > 0) return { wait };
      const none = errors.get('noCredential') ?? 0;
      if (none > 0) throw new ProtocolError('noCredential', `no password is set up for this ${scope}`);
      throw new ProtocolError('insufficientResponses', 'no member answered the password evaluation');
    }
    const credential = best.credential;
    const chosenId = credentialId(credential);
    const culprits: NodeId[] = [];
    const groupAnswers = credential.groups.map(() => new Map<string, Evaluation>());
    const nonces: ProofNonce[] = [];
    for (const a of answers) {
      if (!bytesEqual(credentialId(a.credential), chosenId)) {
        if (scope === 'uid') culprits.push(a.peer.id);
        continue;
      }
      const gi = credential.groups.findIndex((g) => g.members.includes(a.peer.id));
      if (gi < 0) continue;
      groupAnswers[gi]!.set(a.peer.id, a.evaluation);
      nonces.push({ server: a.peer.id, nonce: a.nonce });
    }
    const short = credential.groups.some((g, gi) => groupAnswers[gi]!.size < g.threshold);
    if (short && wait > 0) return { wait };
    let combined;
    try {
      combined = combineEvaluations(credential, blinded, groupAnswers);
    } catch (e) {
      if (!(e instanceof TpaError)) throw e;
      const all = [...culprits, ...e.culprits];
      if (e.message === 'wrong password')
        throw new ProtocolError('authFailed', 'wrong password', undefined, all);
      throw new ProtocolError(
        'insufficientResponses',
        `password authentication: ${e.message}`,
        undefined,
        all,
      );
    }
    return {
      credential,
      keys: combined.keys,
      nonces: sortNonces(nonces.filter((n) => !combined.culprits.includes(n.server))),
      culprits: [...culprits, ...combined.culprits],
    };
  }

  /** Signs a proof for `operation` over the given nonces with the authenticated password key. */
  proof(
    auth: Authenticated,
    operation: ProofOperation,
    nonces: readonly ProofNonce[] = auth.nonces,
  ): PasswordProof {
    const body = {
      credentialId: credentialId(auth.credential),
      requester: this.client.id,
      operation,
      nonces: sortNonces(nonces),
    };
    return { ...body, signature: sign(auth.keys.auth, proofStatement(body)) };
  }

  /**
   * Registers `certificate` (this client's key) under its UID (paper §4.3): enrols the UID with `password`
   * when no clique member knows it, otherwise proves the password; returns the verified certifications,
   * at least the certification threshold of every clique.
   */
  async register(certificate: Certificate, password: string, signal?: AbortSignal): Promise<RegisterResult> {
    const qs = this.client.quorumSystem();
    const uid = utf8(certificate.body.uid);
    let auth: Authenticated | undefined;
    try {
      auth = await this.authenticate('uid', uid, password, signal);
    } catch (e) {
      if (!(e instanceof ProtocolError) || e.code !== 'noCredential') throw e;
    }
    const peers = this.members(qs);
    let outcomes: Outcome[];
    if (auth === undefined) {
      const setup = setupPassword(
        'uid',
        uid,
        1n,
        qs.cliques.map((c) => ({ members: [...c.members].sort() })),
        password,
        this.deps.random,
      );
      outcomes = await this.client.exchange(
        peers,
        (peer) => {
          const gi = setup.credential.groups.findIndex((g) => g.members.includes(peer.id));
          const share = setup.shares[gi]!.get(peer.id)!;
          return {
            kind: 'register',
            certificate,
            enrol: { credential: setup.credential, share: encodeScalar(share.share) },
          };
        },
        signal,
      );
    } else {
      const proof = this.proof(auth, registerOperation(certificate));
      const asked = new Set(auth.nonces.map((n) => n.server));
      outcomes = await this.client.exchange(
        peers.filter((p) => asked.has(p.id)),
        () => ({ kind: 'register', certificate, proof }),
        signal,
      );
    }
    const certifications: Certification[] = [];
    const culprits = [...(auth?.culprits ?? [])];
    const errors = new Map<string, number>();
    for (const o of outcomes) {
      if ('response' in o && o.response.kind === 'register') {
        const c = { issuer: o.peer.id, signature: o.response.certification };
        if (verifyCertification(certificate, c, o.peer.body.publicKey)) certifications.push(c);
        else culprits.push(o.peer.id);
        continue;
      }
      const e = errorOf(o);
      if (e !== undefined) errors.set(e.code, (errors.get(e.code) ?? 0) + 1);
    }
    for (const c of qs.cliques) {
      const got = certifications.filter((k) => c.memberSet.has(k.issuer)).length;
      if (got < c.certThreshold) {
        const [code] = [...errors.entries()].sort((a, b) => b[1] - a[1])[0] ?? ['insufficientResponses'];
        throw new ProtocolError(
          code === 'authRequired' || code === 'permissionDenied' || code === 'authFailed'
            ? code
            : 'insufficientResponses',
          `registration certified by ${got} of ${c.members.length} clique members, ${c.certThreshold} needed`,
          undefined,
          culprits,
        );
      }
    }
    return { certifications, enrolled: auth === undefined, culprits };
  }

  /**
   * Roaming encryption, write (paper §3.3 "TPA for Data Secrecy"): a fresh password key for this write,
   * shared over the cliques; the value is stored AES-256-GCM-encrypted under it.
   */
  async writeProtected(
    x: Uint8Array,
    value: Uint8Array,
    password: string,
    signal?: AbortSignal,
  ): Promise<WriteResult> {
    return this.client.writePrepared(
      x,
      async (t, qs, s) => {
        const setup = setupPassword(
          'variable',
          x,
          t,
          qs.cliques.map((c) => ({ members: [...c.members].sort() })),
          password,
          this.deps.random,
        );
        const sealed = sealValue(setup.keys, setup.credential, value, this.deps.random);
        const outcomes = await this.client.exchange(
          this.members(qs),
          (peer) => {
            const gi = setup.credential.groups.findIndex((g) => g.members.includes(peer.id));
            return {
              kind: 'passwordShare',
              credential: setup.credential,
              share: encodeScalar(setup.shares[gi]!.get(peer.id)!.share),
            };
          },
          s,
        );
        for (const [gi, g] of setup.credential.groups.entries()) {
          const took = outcomes.filter(
            (o) => 'response' in o && o.response.kind === 'ok' && g.members.includes(o.peer.id),
          ).length;
          if (took < g.threshold)
            throw new ProtocolError(
              'insufficientResponses',
              `clique ${gi}: ${took} members took their password share, ${g.threshold} needed`,
            );
        }
        return encodeEnvelope({ credential: setup.credential, ...sealed });
      },
      signal,
    );
  }

  /**
   * Roaming encryption, read: authenticate at the cliques, take challenges from the KV nodes, and read with
   * one proof that answers all of them; the value is decrypted with the password key.
   */
  async readProtected(
    x: Uint8Array,
    password: string,
    signal?: AbortSignal,
  ): Promise<ReadResult & { plaintext: Uint8Array | undefined }> {
    const qs = this.client.quorumSystem();
    const kv = qs.kvNodes
      .map((id) => this.client.serverCertificate(id))
      .filter((c): c is Certificate => c !== undefined);
    const [auth, challenges] = await Promise.all([
      this.authenticate('variable', x, password, signal),
      this.client.exchange(kv, () => ({ kind: 'challenge' }), signal),
    ]);
    const kvNonces: ProofNonce[] = [];
    for (const o of challenges)
      if ('response' in o && o.response.kind === 'challenge')
        kvNonces.push({ server: o.peer.id, nonce: o.response.nonce });
    const proof = this.proof(auth, { kind: 'read', x }, [...auth.nonces, ...kvNonces]);
    const memberIds = new Set(auth.nonces.map((n) => n.server));
    const [result] = await Promise.all([
      this.client.read(x, { proof, ...(signal === undefined ? {} : { signal }) }),
      // The members that evaluated see the proof too: their nonces are used up and their throttling ends.
      this.client.exchange(
        this.members(qs).filter((p) => memberIds.has(p.id)),
        () => ({ kind: 'passwordConfirm', proof }),
        signal,
      ),
    ]);
    if (result.value === undefined) return { ...result, plaintext: undefined };
    if (!isEnvelope(result.value))
      throw new ProtocolError('malformed', 'the value is not password-protected');
    const envelope = decodeEnvelope(result.value);
    if (!bytesEqual(credentialId(envelope.credential), credentialId(auth.credential)))
      throw new ProtocolError('authFailed', 'the value was written under another password set-up; retry');
    try {
      return {
        ...result,
        plaintext: openValue(auth.keys, envelope.credential, envelope.nonce, envelope.ciphertext),
      };
    } catch (e) {
      if (e instanceof TpaError) throw new ProtocolError('authFailed', e.message);
      throw e;
    }
  }
}
