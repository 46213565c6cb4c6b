/**
 * The contract between the distributed CA service (docs/PROTOCOL.md §15; ca-server.ts, ca-client.ts) and one
 * threshold signature scheme (paper §2.3, §3.4; `004_…` Shoup; RFC 9591 FROST). The service does everything
 * that is the same for every scheme — who may ask (owner, authorization list), signed and replay-protected
 * requests, routing by CA name and session, shares encrypted at rest, the signature log — and hands each
 * scheme only its own bytes:
 *
 * - a holder (`SchemeHolder`, one per server) answers key-setup and signing steps with its stored share;
 * - a coordinator (`SchemeCoordinator`, in the client) drives the rounds through a `RoundTrip`.
 *
 * The client relays every message: there is no server-to-server channel. A scheme that needs secrecy or
 * integrity between holders seals and signs per-recipient payloads with the identities below.
 */
import type { Random } from '../../env/random.js';
import type { X25519KeyPair } from '../../crypto/threshold/gjkr-seal.js';
import type { CertificateSignatureAlgorithm } from '../../crypto/threshold/x509.js';
import type { ReshareHolder } from './reshare.js';

/** Every scheme the CA service runs. `rsa-additive` is the paper's scheme for an imported RSA key. */
export const CA_SCHEMES = [
  'rsa-shoup',
  'rsa-additive',
  'ecdsa-p256',
  'ecdsa-secp256k1',
  'dsa',
  'ed25519-frost',
] as const;
export type CaScheme = (typeof CA_SCHEMES)[number];

/** Session identifiers are 32 fresh random bytes chosen by the client, one per setup or signing run. */
export const CA_SESSION_ID_BYTES = 32;

/** Largest Ed25519 message the CA signs (pure EdDSA needs the message itself, not a digest). */
export const CA_MESSAGE_BYTES_MAX = 64 * 1024;

/**
 * What a signature covers, as authorized and logged by the service. RSA, DSA and ECDSA sign a SHA-256
 * digest (a file of any size); Ed25519 (pure EdDSA, RFC 8032) signs the message itself.
 */
export type SignInput =
  | { readonly kind: 'digest'; readonly hash: 'sha256'; readonly digest: Uint8Array }
  | { readonly kind: 'message'; readonly message: Uint8Array };

/** The members of one CA group, indices 1..n in the order of the CA descriptor. */
export interface GroupDirectory {
  /** Members. */
  readonly n: number;
  /** Byzantine members the quorum clique tolerates: ⌊(n−1)/3⌋ (docs/PROTOCOL.md §4.2). */
  readonly b: number;
  /** Member i's static X25519 public key (attested by its node key), undefined when unknown. */
  readonly encryptionKey: (index: number) => Uint8Array | undefined;
  /** Whether `signature` is member i's node-key signature over `message` (never throws). */
  readonly verify: (index: number, message: Uint8Array, signature: Uint8Array) => boolean;
}

/** A holder's own identity in its group (the shape `gjkr-messages.ts` PartyIdentity has). */
export interface HolderIdentity extends GroupDirectory {
  readonly index: number;
  readonly encryption: X25519KeyPair;
  /** Signs with the holder's node key; callers domain-separate `message`. */
  readonly sign: (message: Uint8Array) => Uint8Array;
}

/** A stored key: this holder's secret share and the scheme's public key bytes (same on every holder). */
export interface StoredKey {
  readonly share: Uint8Array;
  readonly publicKey: Uint8Array;
}

/** The answer to one setup step; `key` is set once this holder's share is final (persisted before replying). */
export interface SetupReply {
  readonly response: Uint8Array;
  readonly key?: StoredKey;
}

/** Why a holder refused a step. The service maps these to protocol error codes. */
export type SchemeRefusal =
  /** The request does not decode, or a field is out of range. */
  | 'malformed'
  /** The session is unknown, finished, expired, replayed, out of order, or its id was used before. */
  | 'session'
  /** The request is well formed but this holder will not do it (e.g. it signs another input). */
  | 'refused'
  /** A relayed message from another member is provably wrong (`culprits` name it). */
  | 'peer';

/** A typed refusal from a scheme, never a crash. */
export class SchemeError extends Error {
  override readonly name = 'SchemeError';
  constructor(
    readonly refusal: SchemeRefusal,
    message: string,
    readonly culprits: readonly number[] = [],
  ) {
    super(message);
  }
}

/**
 * One holder's side of a scheme. The service creates one per server and scheme; it keeps per-session
 * secrets in memory only, erases them when the session ends (and on `expire`), and never lets a session
 * id open twice. Every method throws SchemeError on bad input.
 */
export interface SchemeHolder {
  /** One key-setup step (a dealer's delivery, or a DKG round) of session `sid`. */
  setup(identity: HolderIdentity, sid: Uint8Array, body: Uint8Array, nowMs: number): Promise<SetupReply>;
  /**
   * One signing step of session `sid` with the stored key. The service authorized and logged `input`; the
   * holder refuses (`refused`) a body that would make it sign anything else.
   */
  sign(
    identity: HolderIdentity,
    key: StoredKey,
    sid: Uint8Array,
    input: SignInput,
    body: Uint8Array,
    nowMs: number,
  ): Promise<Uint8Array>;
  /** Erases sessions older than their time to live. */
  expire(nowMs: number): void;
  /** Resharing of the stored key to a new group (reshare.ts); undefined when the scheme cannot reshare. */
  readonly reshare?: ReshareHolder;
}

/**
 * Sends one round of session `sid` to holders `to`, holder i getting `body(i)`. Resolves with every
 * holder's answer, or undefined for a holder that did not answer, refused, or failed at the transport.
 * With `need`, it may resolve once `need` holders answered (plus a short grace for the others); with
 * `accept` too, only answers `accept` approves count towards `need` (so wrong answers that arrive first
 * do not end the round before the correct ones are in).
 */
export type RoundTrip = (
  round: string,
  to: readonly number[],
  body: (index: number) => Uint8Array,
  need?: number,
  accept?: (index: number, answer: Uint8Array) => boolean,
) => Promise<Map<number, Uint8Array | undefined>>;

/** A member blamed by a coordinator, by index, and why. */
export interface SchemeCulprit {
  readonly index: number;
  readonly reason: string;
  /** In a reshare: the index is in the old group (the dealers), not the new one. */
  readonly old?: boolean;
}

/** A key set up among the group. */
export interface CreatedKey {
  readonly publicKey: Uint8Array;
  /** Holders that confirmed storing their share. */
  readonly stored: readonly number[];
  readonly culprits: readonly SchemeCulprit[];
}

/** A signature in the scheme's standard format, verified by node:crypto before it is returned. */
export interface SchemeSignature {
  readonly signature: Uint8Array;
  readonly culprits: readonly SchemeCulprit[];
}

/**
 * A failure the coordinator cannot get past: too few holders answered correctly. It names the culprits;
 * no invalid signature is ever returned instead.
 */
export class SchemeFailure extends Error {
  override readonly name = 'SchemeFailure';
  constructor(
    message: string,
    readonly culprits: readonly SchemeCulprit[],
  ) {
    super(message);
  }
}

/** The client's side of a scheme: pure apart from the injected RoundTrip and Random. */
export interface SchemeCoordinator {
  readonly scheme: CaScheme;
  /** Whether `SignInput` is a SHA-256 digest or the message itself. */
  readonly input: SignInput['kind'];
  /** The X.509 signature algorithm certificates issued with this key carry. */
  readonly x509Algorithm: CertificateSignatureAlgorithm;
  /** Fresh key: distributed key generation, or (rsa-shoup) a dealer that erases the key afterwards. */
  create(group: GroupDirectory, sid: Uint8Array, rt: RoundTrip, random: Random): Promise<CreatedKey>;
  /** Import of an existing private key in PEM; the dealer erases its copy; undefined if unsupported. */
  readonly import?: (
    group: GroupDirectory,
    sid: Uint8Array,
    pem: string,
    rt: RoundTrip,
    random: Random,
  ) => Promise<CreatedKey>;
  /**
   * Reshares the key of `oldGroup` (its stored `publicKey`) to `newGroup` without reconstructing it
   * (reshare.ts): the signing key stays, every share and the public key bytes change. `rtOld` reaches the
   * old holders, `rtNew` the new ones. Undefined when the scheme cannot reshare.
   */
  readonly reshare?: (
    oldGroup: GroupDirectory,
    newGroup: GroupDirectory,
    publicKey: Uint8Array,
    sid: Uint8Array,
    rtOld: RoundTrip,
    rtNew: RoundTrip,
  ) => Promise<CreatedKey>;
  /** Signs `input` with the group's key; throws SchemeFailure when fewer holders than needed are correct. */
  sign(
    group: GroupDirectory,
    publicKey: Uint8Array,
    sid: Uint8Array,
    input: SignInput,
    rt: RoundTrip,
    random: Random,
  ): Promise<SchemeSignature>;
  /** The public key as PEM (SPKI). */
  publicKeyPem(publicKey: Uint8Array): string;
  /** Whether `signature` is valid for `input` under `publicKey` (node:crypto; never throws). */
  verify(publicKey: Uint8Array, input: SignInput, signature: Uint8Array): boolean;
}
