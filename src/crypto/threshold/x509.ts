/**
 * X.509 v3 certificates (RFC 5280) issued by bftkv's distributed CA: a PKCS#10 request (RFC 2986) is parsed
 * and its self-signature verified, a TBSCertificate (RFC 5280 §4.1) is built from it, and the signature
 * comes from an external asynchronous signer — the threshold key, whose shares never meet. A self-signed
 * CA certificate for the same key gives `openssl verify -CAfile` its trust anchor.
 *
 * ASN.1 comes from @peculiar/asn1-schema, asn1-x509 and asn1-csr (no hand-written DER); signatures are
 * checked with node:crypto. Every input is bounded, a request is accepted only in DER (it must re-encode
 * to the same bytes), and an issued certificate is verified against the CA key before it is returned, so
 * a faulty signer can never make this module hand out an invalid certificate.
 *
 * Algorithms (RFC 4055 / RFC 5758 / RFC 8410 identifiers): sha256WithRSAEncryption (PKCS#1 v1.5),
 * ecdsa-with-SHA256 (P-256, secp256k1), dsa-with-SHA256 and Ed25519. Requests may also use SHA-384/512
 * with RSA and ECDSA. Extensions a request asks for (subjectAltName, ...) are not copied: the certificate
 * carries exactly the extensions listed below, the issuance policy is the caller's.
 */
import {
  createHash,
  createPublicKey,
  verify as nodeVerify,
  X509Certificate,
  type KeyObject,
} from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier,
  AttributeTypeAndValue,
  AttributeValue,
  AuthorityKeyIdentifier,
  BasicConstraints,
  Certificate,
  Extension,
  Extensions,
  KeyIdentifier,
  KeyUsage,
  KeyUsageFlags,
  Name,
  RelativeDistinguishedName,
  SubjectKeyIdentifier,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
  id_ce_authorityKeyIdentifier,
  id_ce_basicConstraints,
  id_ce_keyUsage,
  id_ce_subjectKeyIdentifier,
} from '@peculiar/asn1-x509';
import { CertificationRequest } from '@peculiar/asn1-csr';
import type { Random } from '../../env/random.js';

/** Largest accepted request in DER bytes (PEM may be twice as many characters). */
export const CSR_BYTES_MAX = 65536;
/** Largest accepted CA certificate in DER bytes (PEM may be twice as many characters). */
export const CERTIFICATE_BYTES_MAX = 65536;
/** Largest encoded subject name copied from a request. */
export const NAME_BYTES_MAX = 4096;
/** Largest signature a signer may return (an 8192-bit RSA signature is 1024 bytes). */
export const SIGNATURE_BYTES_MAX = 1024;
/** Longest validity period accepted (20 years). */
export const VALIDITY_SECONDS_MAX = 20 * 366 * 24 * 3600;
/** Serial numbers are this many random bytes (RFC 5280 §4.1.2.2 allows up to 20 octets). */
export const SERIAL_BYTES = 16;
/** Smallest RSA modulus accepted in a request by default. */
export const RSA_MODULUS_BITS_MIN_DEFAULT = 2048;
/** Latest instant an X.509 Time can express (9999-12-31T23:59:59Z). */
const TIME_MS_MAX = 253402300799000;

/** The signature algorithms a CA signer can use. */
export type CertificateSignatureAlgorithm =
  'rsa-sha256' | 'ecdsa-p256-sha256' | 'ecdsa-secp256k1-sha256' | 'dsa-sha256' | 'ed25519';

/**
 * The CA key, wherever it lives. `sign(tbs)` signs the DER TBSCertificate and returns PKCS#1 v1.5 bytes
 * (RSA, SHA-256 DigestInfo), a DER `SEQUENCE { r, s }` (DSA, ECDSA over SHA-256(tbs)), or 64 raw bytes
 * (Ed25519 over tbs itself).
 */
export interface CertificateSigner {
  readonly algorithm: CertificateSignatureAlgorithm;
  readonly publicKeyPem: string;
  sign(tbs: Uint8Array): Promise<Uint8Array>;
}

/** A request was malformed, badly signed, or asked for a key this CA does not certify. */
export class CertificateRequestError extends Error {
  override name = 'CertificateRequestError';
}

/** The external signer returned a signature that does not verify under the CA key: nothing was issued. */
export class CertificateSignerError extends Error {
  override name = 'CertificateSignerError';
}

/** A certificate in DER and PEM. */
export interface IssuedCertificate {
  readonly der: Uint8Array;
  readonly pem: string;
}

/** One attribute of a distinguished name, for the CA's own name. */
export interface NameAttribute {
  readonly type: 'CN' | 'O' | 'OU' | 'C' | 'L' | 'ST';
  readonly value: string;
}

// ---------------------------------------------------------------------------------------------------------
// Algorithm tables

const OID = {
  sha256WithRSAEncryption: '1.2.840.113549.1.1.11',
  sha384WithRSAEncryption: '1.2.840.113549.1.1.12',
  sha512WithRSAEncryption: '1.2.840.113549.1.1.13',
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
  ecdsaWithSHA384: '1.2.840.10045.4.3.3',
  ecdsaWithSHA512: '1.2.840.10045.4.3.4',
  dsaWithSHA256: '2.16.840.1.101.3.4.3.2',
  ed25519: '1.3.101.112',
} as const;

/** DER NULL: the parameters of the RSA PKCS#1 v1.5 signature algorithms (RFC 4055 §5). */
const DER_NULL = Uint8Array.of(0x05, 0x00);

type KeyKind = 'rsa' | 'ec' | 'dsa' | 'ed25519';

interface RequestAlgorithm {
  readonly hash: 'sha256' | 'sha384' | 'sha512' | null;
  readonly key: KeyKind;
  readonly nullParameters: boolean;
}

/** Signature algorithms accepted on a request's self-signature. */
const REQUEST_ALGORITHMS = new Map<string, RequestAlgorithm>([
  [OID.sha256WithRSAEncryption, { hash: 'sha256', key: 'rsa', nullParameters: true }],
  [OID.sha384WithRSAEncryption, { hash: 'sha384', key: 'rsa', nullParameters: true }],
  [OID.sha512WithRSAEncryption, { hash: 'sha512', key: 'rsa', nullParameters: true }],
  [OID.ecdsaWithSHA256, { hash: 'sha256', key: 'ec', nullParameters: false }],
  [OID.ecdsaWithSHA384, { hash: 'sha384', key: 'ec', nullParameters: false }],
  [OID.ecdsaWithSHA512, { hash: 'sha512', key: 'ec', nullParameters: false }],
  [OID.dsaWithSHA256, { hash: 'sha256', key: 'dsa', nullParameters: false }],
  [OID.ed25519, { hash: null, key: 'ed25519', nullParameters: false }],
]);

interface SignerAlgorithm {
  readonly oid: string;
  readonly hash: 'sha256' | null;
  readonly key: KeyKind;
  /** node:crypto's name of the curve (EC keys only). */
  readonly curve?: string;
}

const SIGNER_ALGORITHMS: Record<CertificateSignatureAlgorithm, SignerAlgorithm> = {
  'rsa-sha256': { oid: OID.sha256WithRSAEncryption, hash: 'sha256', key: 'rsa' },
  'ecdsa-p256-sha256': { oid: OID.ecdsaWithSHA256, hash: 'sha256', key: 'ec', curve: 'prime256v1' },
  'ecdsa-secp256k1-sha256': { oid: OID.ecdsaWithSHA256, hash: 'sha256', key: 'ec', curve: 'secp256k1' },
  'dsa-sha256': { oid: OID.dsaWithSHA256, hash: 'sha256', key: 'dsa' },
  ed25519: { oid: OID.ed25519, hash: null, key: 'ed25519' },
};

/** Curves whose keys this CA certifies. */
const REQUEST_CURVES = new Set(['prime256v1', 'secp256k1']);
/** Smallest DSA modulus accepted in a request (FIPS 186-4 pairs SHA-256 with L ≥ 2048). */
const DSA_MODULUS_BITS_MIN = 2048;

function signatureAlgorithmIdentifier(oid: string): AlgorithmIdentifier {
  return oid === OID.sha256WithRSAEncryption
    ? new AlgorithmIdentifier({ algorithm: oid, parameters: DER_NULL.slice().buffer })
    : new AlgorithmIdentifier({ algorithm: oid });
}

// ---------------------------------------------------------------------------------------------------------
// Encoding helpers

function describe(x: unknown): string {
  if (x instanceof Uint8Array) return `${x.length} bytes`;
  if (typeof x === 'string') return `a string of ${x.length} characters`;
  if (typeof x === 'number') return String(x);
  return typeof x;
}

function bytes(b: ArrayBuffer | ArrayBufferView): Uint8Array {
  return b instanceof ArrayBuffer
    ? new Uint8Array(b.slice(0))
    : new Uint8Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a).equals(Buffer.from(b));
}

/** PEM armour (RFC 7468 §2) with 64-character lines. */
function toPem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** Decodes one PEM block with one of `labels` (RFC 7468 strict-ish), or returns DER input as is. */
function fromPemOrDer(
  field: string,
  input: string | Uint8Array,
  labels: readonly string[],
  bytesMax: number,
  error: (m: string) => Error,
): Uint8Array {
  if (input instanceof Uint8Array) {
    if (input.length > bytesMax)
      throw error(`${field}: expected at most ${bytesMax} bytes, got ${input.length}`);
    return new Uint8Array(input);
  }
  if (typeof input !== 'string')
    throw new TypeError(`${field}: expected a PEM string or DER bytes, got ${describe(input)}`);
  if (input.length > 2 * bytesMax) throw error(`${field}: PEM longer than ${2 * bytesMax} characters`);
  const m = /^\s*-----BEGIN ([A-Z0-9 ]+)-----\r?\n([A-Za-z0-9+/=\r\n]+?)\r?\n?-----END \1-----\s*$/.exec(
    input,
  );
  if (m === null || !labels.includes(m[1]!))
    throw error(`${field}: expected one PEM block labelled ${labels.join(' or ')}`);
  const b64 = m[2]!.replace(/\r?\n/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) throw error(`${field}: invalid base64`);
  return new Uint8Array(Buffer.from(b64, 'base64'));
}

/** Parses DER into `target`, requiring that it re-encodes to the same bytes (DER, no trailing data). */
function parseDer<T>(der: Uint8Array, target: new () => T, what: string, error: (m: string) => Error): T {
  let value: T;
  try {
    value = AsnConvert.parse(der, target);
  } catch {
    throw error(`${what}: not valid ASN.1`);
  }
  let again: Uint8Array;
  try {
    again = bytes(AsnConvert.serialize(value));
  } catch {
    throw error(`${what}: does not re-encode`);
  }
  if (!equalBytes(again, der)) throw error(`${what}: not in DER form (or has trailing data)`);
  return value;
}

/** RFC 7093 §2 method 1: the leftmost 160 bits of SHA-256 of the subjectPublicKey BIT STRING value. */
function keyIdentifier(spki: SubjectPublicKeyInfo): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes(spki.subjectPublicKey)).digest().subarray(0, 20));
}

function extension(id: string, critical: boolean, value: unknown): Extension {
  return new Extension({ extnID: id, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });
}

function checkTime(field: string, x: unknown): number {
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0 || x > TIME_MS_MAX)
    throw new RangeError(
      `${field}: expected integer milliseconds since 1970 up to year 9999, got ${describe(x)}`,
    );
  return x;
}

function checkValidity(notBeforeMs: unknown, validitySeconds: unknown): Validity {
  const from = checkTime('notBeforeMs', notBeforeMs);
  if (
    typeof validitySeconds !== 'number' ||
    !Number.isSafeInteger(validitySeconds) ||
    validitySeconds < 1 ||
    validitySeconds > VALIDITY_SECONDS_MAX
  )
    throw new RangeError(
      `validitySeconds: expected an integer 1..${VALIDITY_SECONDS_MAX}, got ${describe(validitySeconds)}`,
    );
  const to = checkTime('notBeforeMs + validitySeconds', from + validitySeconds * 1000);
  // Time picks UTCTime before 2050 and GeneralizedTime after, as RFC 5280 §4.1.2.5 requires.
  return new Validity({ notBefore: new Date(from), notAfter: new Date(to) });
}

/** A positive serial of SERIAL_BYTES random bytes, minimal in DER (RFC 5280 §4.1.2.2). */
function serialNumber(random: Random): ArrayBuffer {
  const serial = random.bytes(SERIAL_BYTES);
  if (!(serial instanceof Uint8Array) || serial.length !== SERIAL_BYTES)
    throw new TypeError(`random.bytes(${SERIAL_BYTES}): returned ${describe(serial)}`);
  const out = new Uint8Array(serial);
  // Top bit clear (positive) and second bit set (no leading zero octet): 126 random bits.
  out[0] = 0x40 | (out[0]! & 0x3f);
  return out.buffer;
}

// ---------------------------------------------------------------------------------------------------------
// Keys

interface SignerKey {
  readonly algorithm: SignerAlgorithm;
  readonly key: KeyObject;
  readonly spki: SubjectPublicKeyInfo;
  readonly spkiDer: Uint8Array;
}

function checkSigner(signer: CertificateSigner): SignerKey {
  if (typeof signer !== 'object' || signer === null || typeof signer.sign !== 'function')
    throw new TypeError(`signer: expected { algorithm, publicKeyPem, sign }, got ${describe(signer)}`);
  const algorithm = (SIGNER_ALGORITHMS as Record<string, SignerAlgorithm | undefined>)[signer.algorithm];
  if (algorithm === undefined)
    throw new RangeError(
      `signer.algorithm: expected one of ${Object.keys(SIGNER_ALGORITHMS).join(', ')}, got ${String(signer.algorithm)}`,
    );
  if (typeof signer.publicKeyPem !== 'string' || signer.publicKeyPem.length > CERTIFICATE_BYTES_MAX)
    throw new TypeError(`signer.publicKeyPem: expected a PEM string, got ${describe(signer.publicKeyPem)}`);
  let key: KeyObject;
  try {
    key = createPublicKey({ key: signer.publicKeyPem, format: 'pem' });
  } catch {
    throw new RangeError('signer.publicKeyPem: not a parsable PEM public key');
  }
  if (key.asymmetricKeyType !== algorithm.key)
    throw new RangeError(
      `signer.publicKeyPem: a ${String(key.asymmetricKeyType)} key cannot sign with ${signer.algorithm}`,
    );
  if (algorithm.curve !== undefined && key.asymmetricKeyDetails?.namedCurve !== algorithm.curve)
    throw new RangeError(
      `signer.publicKeyPem: expected curve ${algorithm.curve}, got ${String(key.asymmetricKeyDetails?.namedCurve)}`,
    );
  const spkiDer = new Uint8Array(key.export({ format: 'der', type: 'spki' }));
  const spki = AsnConvert.parse(spkiDer, SubjectPublicKeyInfo);
  return { algorithm, key, spki, spkiDer };
}

/** Checks that the key in a request is one this CA certifies. */
function checkRequestKey(
  key: KeyObject,
  requestAlgorithm: RequestAlgorithm,
  rsaModulusBitsMin: number,
): void {
  const type = key.asymmetricKeyType;
  if (type !== requestAlgorithm.key)
    throw new CertificateRequestError(
      `request: a ${String(type)} key does not match its signature algorithm`,
    );
  const details = key.asymmetricKeyDetails ?? {};
  if (type === 'rsa' && (details.modulusLength ?? 0) < rsaModulusBitsMin)
    throw new CertificateRequestError(
      `request: RSA modulus of ${String(details.modulusLength)} bits, at least ${rsaModulusBitsMin} required`,
    );
  if (type === 'dsa' && (details.modulusLength ?? 0) < DSA_MODULUS_BITS_MIN)
    throw new CertificateRequestError(
      `request: DSA modulus of ${String(details.modulusLength)} bits, at least ${DSA_MODULUS_BITS_MIN} required`,
    );
  if (type === 'ec' && !REQUEST_CURVES.has(details.namedCurve ?? ''))
    throw new CertificateRequestError(
      `request: curve ${String(details.namedCurve)} not accepted (expected ${[...REQUEST_CURVES].join(', ')})`,
    );
}

// ---------------------------------------------------------------------------------------------------------
// Requests

/** A verified certification request: the subject and public key to certify. */
export interface VerifiedRequest {
  readonly subject: Name;
  readonly subjectPublicKeyInfo: SubjectPublicKeyInfo;
  /** The subject's public key (node:crypto). */
  readonly publicKey: KeyObject;
}

/**
 * Parses a PKCS#10 request (PEM or DER) and verifies its self-signature (RFC 2986 §4.2) with node:crypto.
 * Throws CertificateRequestError on anything malformed, unsupported or badly signed.
 */
export function verifyCertificateRequest(
  csr: string | Uint8Array,
  options: { rsaModulusBitsMin?: number } = {},
): VerifiedRequest {
  const rsaModulusBitsMin = options.rsaModulusBitsMin ?? RSA_MODULUS_BITS_MIN_DEFAULT;
  if (!Number.isSafeInteger(rsaModulusBitsMin) || rsaModulusBitsMin < 512)
    throw new RangeError(`rsaModulusBitsMin: expected an integer ≥ 512, got ${describe(rsaModulusBitsMin)}`);
  const reject = (m: string) => new CertificateRequestError(m);
  const der = fromPemOrDer(
    'csr',
    csr,
    ['CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST'],
    CSR_BYTES_MAX,
    reject,
  );
  const request = parseDer(der, CertificationRequest, 'csr', reject);
  const info = request.certificationRequestInfo;
  if (info.version !== 0) throw reject(`csr: version must be 0 (v1), got ${String(info.version)}`);
  const infoDer = request.certificationRequestInfoRaw;
  if (infoDer === undefined) throw new Error('Invariant: asn1-schema keeps the raw CertificationRequestInfo');
  const algorithm = REQUEST_ALGORITHMS.get(request.signatureAlgorithm.algorithm);
  if (algorithm === undefined)
    throw reject(`csr: signature algorithm ${request.signatureAlgorithm.algorithm} is not accepted`);
  const parameters = request.signatureAlgorithm.parameters;
  const parametersOk = algorithm.nullParameters
    ? parameters === undefined || parameters === null || equalBytes(bytes(parameters), DER_NULL)
    : parameters === undefined || parameters === null;
  if (!parametersOk) throw reject('csr: unexpected signature algorithm parameters');
  const subjectDer = bytes(AsnConvert.serialize(info.subject));
  if (subjectDer.length > NAME_BYTES_MAX)
    throw reject(`csr: subject of ${subjectDer.length} bytes, at most ${NAME_BYTES_MAX} accepted`);
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({
      key: Buffer.from(AsnConvert.serialize(info.subjectPKInfo)),
      format: 'der',
      type: 'spki',
    });
  } catch {
    throw reject('csr: subject public key is not a valid SubjectPublicKeyInfo');
  }
  checkRequestKey(publicKey, algorithm, rsaModulusBitsMin);
  let ok = false;
  try {
    ok = nodeVerify(
      algorithm.hash,
      bytes(infoDer),
      { key: publicKey, dsaEncoding: 'der' },
      bytes(request.signature),
    );
  } catch {
    ok = false;
  }
  if (!ok) throw reject('csr: the self-signature does not verify');
  return { subject: info.subject, subjectPublicKeyInfo: info.subjectPKInfo, publicKey };
}

// ---------------------------------------------------------------------------------------------------------
// Certificates

async function signAndAssemble(
  tbs: TBSCertificate,
  signer: CertificateSigner,
  signerKey: SignerKey,
  issuer?: X509Certificate,
): Promise<IssuedCertificate> {
  const tbsDer = bytes(AsnConvert.serialize(tbs));
  const signature: unknown = await signer.sign(tbsDer);
  if (!(signature instanceof Uint8Array) || signature.length === 0 || signature.length > SIGNATURE_BYTES_MAX)
    throw new CertificateSignerError(
      `signer returned ${describe(signature)}, expected 1..${SIGNATURE_BYTES_MAX} signature bytes`,
    );
  // Check the raw signature first so a faulty signer is reported as such.
  let ok = false;
  try {
    ok = nodeVerify(signerKey.algorithm.hash, tbsDer, { key: signerKey.key, dsaEncoding: 'der' }, signature);
  } catch {
    ok = false;
  }
  if (!ok)
    throw new CertificateSignerError(`signer's ${signer.algorithm} signature does not verify under its key`);
  const certificate = new Certificate({
    tbsCertificate: tbs,
    signatureAlgorithm: signatureAlgorithmIdentifier(signerKey.algorithm.oid),
    signatureValue: signature.slice().buffer,
  });
  const der = bytes(AsnConvert.serialize(certificate));
  // Invariant: the certificate parses, carries the TBS that was signed, and verifies under the CA key.
  const parsed = AsnConvert.parse(der, Certificate);
  if (parsed.tbsCertificateRaw === undefined || !equalBytes(bytes(parsed.tbsCertificateRaw), tbsDer))
    throw new Error('Invariant: the assembled certificate carries the signed TBSCertificate');
  const x509 = new X509Certificate(der);
  if (!x509.verify(signerKey.key))
    throw new Error('Invariant: the issued certificate verifies under the CA key');
  if (issuer !== undefined && !x509.checkIssued(issuer))
    throw new Error('Invariant: the issued certificate names the CA certificate as its issuer');
  return { der, pem: toPem('CERTIFICATE', der) };
}

const NAME_OIDS: Record<NameAttribute['type'], string> = {
  CN: '2.5.4.3',
  O: '2.5.4.10',
  OU: '2.5.4.11',
  C: '2.5.4.6',
  L: '2.5.4.7',
  ST: '2.5.4.8',
};

function buildName(attributes: readonly NameAttribute[]): Name {
  const list: unknown = attributes;
  if (!Array.isArray(list) || attributes.length < 1 || attributes.length > 16)
    throw new RangeError(`subject: expected 1..16 attributes, got ${describe(attributes)}`);
  return new Name(
    attributes.map((a, k) => {
      const oid = (NAME_OIDS as Record<string, string | undefined>)[a?.type];
      if (oid === undefined) throw new RangeError(`subject[${k}].type: expected CN, O, OU, C, L or ST`);
      if (typeof a.value !== 'string' || a.value.length < 1 || a.value.length > 64)
        throw new RangeError(`subject[${k}].value: expected 1..64 characters, got ${describe(a.value)}`);
      // RFC 5280 §4.1.2.4: countryName is a two-letter PrintableString; everything else UTF8String.
      if (a.type === 'C' && !/^[A-Z]{2}$/.test(a.value))
        throw new RangeError(`subject[${k}].value: a country is two capital letters`);
      const value =
        a.type === 'C'
          ? new AttributeValue({ printableString: a.value })
          : new AttributeValue({ utf8String: a.value });
      return new RelativeDistinguishedName([new AttributeTypeAndValue({ type: oid, value })]);
    }),
  );
}

/**
 * Creates the self-signed CA certificate of the signer's key (basicConstraints CA:true, pathLen 0;
 * keyUsage keyCertSign and cRLSign), the trust anchor for the certificates `issueCertificate` makes.
 */
export async function createCaCertificate(options: {
  signer: CertificateSigner;
  subject: readonly NameAttribute[];
  random: Random;
  notBeforeMs: number;
  validitySeconds: number;
}): Promise<IssuedCertificate> {
  const signerKey = checkSigner(options.signer);
  const name = buildName(options.subject);
  const validity = checkValidity(options.notBeforeMs, options.validitySeconds);
  const keyId = keyIdentifier(signerKey.spki);
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: serialNumber(options.random),
    signature: signatureAlgorithmIdentifier(signerKey.algorithm.oid),
    issuer: name,
    validity,
    subject: name,
    subjectPublicKeyInfo: signerKey.spki,
    extensions: new Extensions([
      extension(id_ce_basicConstraints, true, new BasicConstraints({ cA: true, pathLenConstraint: 0 })),
      extension(id_ce_keyUsage, true, new KeyUsage(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign)),
      extension(id_ce_subjectKeyIdentifier, false, new SubjectKeyIdentifier(keyId)),
      extension(
        id_ce_authorityKeyIdentifier,
        false,
        new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(keyId) }),
      ),
    ]),
  });
  return signAndAssemble(tbs, options.signer, signerKey);
}

/**
 * Issues an end-entity certificate for a PKCS#10 request: the request's subject and key, the CA's name as
 * issuer, a random serial, validity from `notBeforeMs` for `validitySeconds`, basicConstraints CA:false,
 * keyUsage digitalSignature, subject and authority key identifiers. The request's self-signature is
 * verified first (CertificateRequestError), the signer's signature last (CertificateSignerError).
 */
export async function issueCertificate(options: {
  csr: string | Uint8Array;
  caCertificate: string | Uint8Array;
  signer: CertificateSigner;
  random: Random;
  notBeforeMs: number;
  validitySeconds: number;
  rsaModulusBitsMin?: number;
}): Promise<IssuedCertificate> {
  const signerKey = checkSigner(options.signer);
  const validity = checkValidity(options.notBeforeMs, options.validitySeconds);
  const caDer = fromPemOrDer(
    'caCertificate',
    options.caCertificate,
    ['CERTIFICATE'],
    CERTIFICATE_BYTES_MAX,
    (m) => new RangeError(m),
  );
  const ca = parseDer(caDer, Certificate, 'caCertificate', (m) => new RangeError(m));
  let caX509: X509Certificate;
  try {
    caX509 = new X509Certificate(caDer);
  } catch {
    throw new RangeError('caCertificate: node:crypto cannot read it');
  }
  if (!caX509.ca)
    throw new RangeError('caCertificate: not a CA certificate (basicConstraints CA:false or absent)');
  // A certificate outliving its issuer would fail path validation (RFC 5280 §6.1.3) once the CA expires.
  const caNotAfterMs = ca.tbsCertificate.validity.notAfter.getTime().getTime();
  if (validity.notAfter.getTime().getTime() > caNotAfterMs)
    throw new RangeError(
      `validitySeconds: the certificate would outlive the CA certificate (valid until ${new Date(caNotAfterMs).toISOString()})`,
    );
  const caSpkiDer = bytes(AsnConvert.serialize(ca.tbsCertificate.subjectPublicKeyInfo));
  if (!equalBytes(caSpkiDer, signerKey.spkiDer))
    throw new RangeError("caCertificate: its public key is not the signer's");
  const caKeyIdExtension = ca.tbsCertificate.extensions?.find((e) => e.extnID === id_ce_subjectKeyIdentifier);
  let caKeyId = keyIdentifier(ca.tbsCertificate.subjectPublicKeyInfo);
  if (caKeyIdExtension !== undefined) {
    try {
      caKeyId = bytes(AsnConvert.parse(caKeyIdExtension.extnValue, SubjectKeyIdentifier));
    } catch {
      throw new RangeError('caCertificate: malformed subjectKeyIdentifier extension');
    }
  }

  const request = verifyCertificateRequest(
    options.csr,
    options.rsaModulusBitsMin === undefined ? {} : { rsaModulusBitsMin: options.rsaModulusBitsMin },
  );
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: serialNumber(options.random),
    signature: signatureAlgorithmIdentifier(signerKey.algorithm.oid),
    issuer: ca.tbsCertificate.subject,
    validity,
    subject: request.subject,
    subjectPublicKeyInfo: request.subjectPublicKeyInfo,
    extensions: new Extensions([
      extension(id_ce_basicConstraints, true, new BasicConstraints({ cA: false })),
      extension(id_ce_keyUsage, true, new KeyUsage(KeyUsageFlags.digitalSignature)),
      extension(
        id_ce_subjectKeyIdentifier,
        false,
        new SubjectKeyIdentifier(keyIdentifier(request.subjectPublicKeyInfo)),
      ),
      extension(
        id_ce_authorityKeyIdentifier,
        false,
        new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(caKeyId) }),
      ),
    ]),
  });
  return signAndAssemble(tbs, options.signer, signerKey, caX509);
}
