/**
 * Node certificates and certifications (paper §3.1 "Quorum Certificates", §2.2 web of trust).
 *
 * A certificate binds an Ed25519 public key to a UID (the account: e-mail for users, name/URL for servers)
 * and an optional network address, self-signed by that key. Its NodeId is derived from the public key, so
 * an ID cannot be claimed without the key. Certifications by other nodes ("S signs N" = trust edge S→N)
 * cover the subject's ID, key and UID (not the address, which may change with the serial). Every
 * certification is verified before it becomes an edge (trust/graph.ts).
 */
import { ByteReader, ByteWriter, bytesEqual, toHex, utf8, writeList, CodecError } from '../codec/bytes.js';
import { sha256 } from '../crypto/hash.js';
import { PUBLIC_KEY_BYTES, SIGNATURE_BYTES, sign, verify, type SigningKey } from '../crypto/ed25519.js';
import { LIMITS } from '../limits.js';

/** A node identifier: hex of the first 16 bytes of SHA-256("bftkv/node-id/v1" ‖ public key). */
export type NodeId = string;

export const NODE_ID_BYTES = 16;
const ID_TAG = utf8('bftkv/node-id/v1');
const BODY_TAG = utf8('bftkv/cert-body/v1');
const CERTIFY_TAG = utf8('bftkv/certify/v1');

/** The NodeId of a public key. */
export function nodeIdOf(publicKey: Uint8Array): NodeId {
  return toHex(sha256(ID_TAG, publicKey).subarray(0, NODE_ID_BYTES));
}

/** The self-signed part of a certificate. */
export interface CertificateBody {
  readonly publicKey: Uint8Array;
  readonly uid: string;
  /** Empty for pure clients (never contacted). */
  readonly address: string;
  /** Increases when the owner republishes (e.g. a new address); equal serials must carry equal bodies. */
  readonly serial: bigint;
}

/** "issuer trusts the subject": a signature by `issuer` over the subject's ID, key and UID. */
export interface Certification {
  readonly issuer: NodeId;
  readonly signature: Uint8Array;
}

export interface Certificate {
  readonly id: NodeId;
  readonly body: CertificateBody;
  readonly selfSignature: Uint8Array;
  /** Sorted by issuer, one per issuer. */
  readonly certifications: readonly Certification[];
}

function writeBody(w: ByteWriter, b: CertificateBody): void {
  w.raw(b.publicKey).string(b.uid).string(b.address).u64(b.serial);
}

/** The bytes the owner signs. */
export function bodyStatement(b: CertificateBody): Uint8Array {
  const w = new ByteWriter().raw(BODY_TAG);
  writeBody(w, b);
  return w.finish();
}

/** The bytes an issuer signs to certify `subject`. */
export function certificationStatement(subject: { id: NodeId; body: CertificateBody }): Uint8Array {
  return new ByteWriter()
    .raw(CERTIFY_TAG)
    .string(subject.id)
    .raw(subject.body.publicKey)
    .string(subject.body.uid)
    .finish();
}

/** Creates a self-signed certificate with no certifications. */
export function createCertificate(key: SigningKey, uid: string, address = '', serial = 1n): Certificate {
  if (utf8(uid).length === 0 || utf8(uid).length > LIMITS.uidBytesMax)
    throw new RangeError(`uid: length must be 1..${LIMITS.uidBytesMax}`);
  if (utf8(address).length > LIMITS.addressBytesMax)
    throw new RangeError(`address: longer than ${LIMITS.addressBytesMax}`);
  const body: CertificateBody = { publicKey: key.publicKey, uid, address, serial };
  return {
    id: nodeIdOf(key.publicKey),
    body,
    selfSignature: sign(key, bodyStatement(body)),
    certifications: [],
  };
}

/** `issuer` certifies `subject`: returns the certification (does not modify the certificate). */
export function certify(issuerKey: SigningKey, subject: Certificate): Certification {
  return {
    issuer: nodeIdOf(issuerKey.publicKey),
    signature: sign(issuerKey, certificationStatement(subject)),
  };
}

/** A copy of `cert` with `extra` certifications merged in (one per issuer, sorted). */
export function withCertifications(cert: Certificate, extra: readonly Certification[]): Certificate {
  const byIssuer = new Map<NodeId, Certification>();
  for (const c of cert.certifications) byIssuer.set(c.issuer, c);
  for (const c of extra) if (!byIssuer.has(c.issuer)) byIssuer.set(c.issuer, c);
  const certifications = [...byIssuer.values()].sort((a, b) =>
    a.issuer < b.issuer ? -1 : a.issuer > b.issuer ? 1 : 0,
  );
  return { ...cert, certifications };
}

const selfVerified = new Map<string, boolean>();
const SELF_CACHE_MAX = 16384;

/** Verifies the ID derivation and the self-signature (memoised on the exact bytes). */
export function verifySelfSignature(cert: Certificate): boolean {
  const statement = bodyStatement(cert.body);
  const cacheKey = toHex(sha256(statement, cert.selfSignature));
  const hit = selfVerified.get(cacheKey);
  if (hit !== undefined) return hit && nodeIdOf(cert.body.publicKey) === cert.id;
  const ok =
    nodeIdOf(cert.body.publicKey) === cert.id && verify(cert.body.publicKey, statement, cert.selfSignature);
  if (selfVerified.size >= SELF_CACHE_MAX) selfVerified.clear();
  selfVerified.set(cacheKey, ok);
  return ok;
}

const certificationVerified = new Map<string, boolean>();

/** Verifies one certification of `subject` by the holder of `issuerPublicKey` (memoised). */
export function verifyCertification(
  subject: Certificate,
  c: Certification,
  issuerPublicKey: Uint8Array,
): boolean {
  if (nodeIdOf(issuerPublicKey) !== c.issuer) return false;
  const statement = certificationStatement(subject);
  const cacheKey = toHex(sha256(statement, issuerPublicKey, c.signature));
  const hit = certificationVerified.get(cacheKey);
  if (hit !== undefined) return hit;
  const ok = verify(issuerPublicKey, statement, c.signature);
  if (certificationVerified.size >= SELF_CACHE_MAX) certificationVerified.clear();
  certificationVerified.set(cacheKey, ok);
  return ok;
}

/** Two bodies are the same statement. */
export function sameBody(a: CertificateBody, b: CertificateBody): boolean {
  return (
    bytesEqual(a.publicKey, b.publicKey) &&
    a.uid === b.uid &&
    a.address === b.address &&
    a.serial === b.serial
  );
}

/** Canonical encoding. */
export function writeCertificate(w: ByteWriter, c: Certificate): void {
  writeBody(w, c.body);
  w.raw(c.selfSignature);
  writeList(w, c.certifications, (w2, k) => w2.string(k.issuer).raw(k.signature));
}

/** Decodes a certificate; checks shape only (signatures are checked by the trust graph). */
export function readCertificate(r: ByteReader): Certificate {
  const { publicKey, uid } = readCertificateHead(r);
  if (uid.length === 0) throw new CodecError('cert.uid', 'empty');
  const address = r.string(LIMITS.addressBytesMax, 'cert.address');
  const serial = r.u64('cert.serial');
  const selfSignature = r.raw(SIGNATURE_BYTES, 'cert.selfSignature');
  let previous = '';
  const certifications = r.list(LIMITS.certificationsMax, 'cert.certifications', (rr) => {
    const issuer = rr.string(NODE_ID_BYTES * 2, 'certification.issuer');
    if (!/^[0-9a-f]{32}$/.test(issuer)) throw new CodecError('certification.issuer', 'not a node id');
    if (issuer <= previous) throw new CodecError('cert.certifications', 'not sorted or duplicate issuer');
    previous = issuer;
    return { issuer, signature: rr.raw(SIGNATURE_BYTES, 'certification.signature') };
  });
  return {
    id: nodeIdOf(publicKey),
    body: { publicKey, uid, address, serial },
    selfSignature,
    certifications,
  };
}

/**
 * The first fields of an encoded certificate (key and UID), the rest left unread: for encodings this
 * node produced or fully decoded before (stored records), where only the owner matters.
 */
export function readCertificateHead(r: ByteReader): { publicKey: Uint8Array; uid: string } {
  const publicKey = r.raw(PUBLIC_KEY_BYTES, 'cert.publicKey');
  const uid = r.string(LIMITS.uidBytesMax, 'cert.uid');
  return { publicKey, uid };
}

/** Canonical bytes of one certificate. */
export function encodeCertificate(c: Certificate): Uint8Array {
  const w = new ByteWriter();
  writeCertificate(w, c);
  return w.finish();
}

/** Decodes exactly one certificate. */
export function decodeCertificate(b: Uint8Array): Certificate {
  const r = new ByteReader(b);
  const c = readCertificate(r);
  r.finish('certificate');
  return c;
}
