// X.509 issuance from PKCS#10 requests with an external signer (RFC 5280, RFC 2986): for every signature
// algorithm, OpenSSL makes the request and `openssl verify` accepts the certificate; badly signed requests
// and faulty signers are refused; a FROST threshold Ed25519 key issues end to end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  generateKeyPairSync,
  sign as nodeSign,
  X509Certificate,
  type KeyObject,
  type KeyPairKeyObjectResult,
} from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CertificateRequestError,
  CertificateSignerError,
  createCaCertificate,
  issueCertificate,
  verifyCertificateRequest,
  type CertificateSignatureAlgorithm,
  type CertificateSigner,
} from '../../src/crypto/threshold/x509.js';
import { frostPublicKeyPem, frostSign } from '../../src/crypto/threshold/frost-ed25519.js';
import { secureRandom } from '../../src/env/random.js';
import { endpoints, runDkg } from './frost-helpers.js';

const NOW_MS = Date.now();
const DAY_SECONDS = 24 * 3600;

/** Key pairs with node:crypto; sizes: RSA 2048, DSA 2048/256, P-256, secp256k1, Ed25519. */
function keyPair(algorithm: CertificateSignatureAlgorithm): KeyPairKeyObjectResult {
  switch (algorithm) {
    case 'rsa-sha256':
      return generateKeyPairSync('rsa', { modulusLength: 2048 });
    case 'ecdsa-p256-sha256':
      return generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    case 'ecdsa-secp256k1-sha256':
      return generateKeyPairSync('ec', { namedCurve: 'secp256k1' });
    case 'dsa-sha256':
      return generateKeyPairSync('dsa', { modulusLength: 2048, divisorLength: 256 });
    case 'ed25519':
      return generateKeyPairSync('ed25519');
  }
}

/** A plain node:crypto key as the CA signer (the threshold schemes plug in the same way). */
function plainSigner(
  algorithm: CertificateSignatureAlgorithm,
  pair: KeyPairKeyObjectResult,
): CertificateSigner {
  return {
    algorithm,
    publicKeyPem: pair.publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    sign: async (tbs) =>
      new Uint8Array(
        nodeSign(algorithm === 'ed25519' ? null : 'sha256', tbs, {
          key: pair.privateKey,
          dsaEncoding: 'der',
        }),
      ),
  };
}

function withTempDir<T>(f: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'x509-'));
  try {
    return f(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `openssl req -new -key k.pem -subj /CN=test -out req.csr`: a request made by OpenSSL itself. */
function opensslCsr(privateKey: KeyObject, subject = '/CN=test'): string {
  return withTempDir((dir) => {
    writeFileSync(join(dir, 'k.pem'), privateKey.export({ format: 'pem', type: 'pkcs8' }));
    execFileSync('openssl', ['req', '-new', '-key', 'k.pem', '-subj', subject, '-out', 'req.csr'], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return readFileSync(join(dir, 'req.csr'), 'utf8');
  });
}

/** `openssl verify -CAfile ca.pem cert.pem`: its output, or the error output when it fails. */
function opensslVerify(caPem: string, certPem: string): string {
  return withTempDir((dir) => {
    writeFileSync(join(dir, 'ca.pem'), caPem);
    writeFileSync(join(dir, 'cert.pem'), certPem);
    try {
      return execFileSync('openssl', ['verify', '-CAfile', 'ca.pem', 'cert.pem'], {
        cwd: dir,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (e) {
      const err = e as { stdout?: string; stderr?: string };
      return `FAILED ${err.stdout ?? ''} ${err.stderr ?? ''}`;
    }
  });
}

function opensslText(certPem: string): string {
  return execFileSync('openssl', ['x509', '-noout', '-text'], { input: certPem, encoding: 'utf8' });
}

function pemToDer(pem: string): Uint8Array {
  return new Uint8Array(Buffer.from(pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64'));
}

const ALGORITHMS: CertificateSignatureAlgorithm[] = [
  'rsa-sha256',
  'ecdsa-p256-sha256',
  'ecdsa-secp256k1-sha256',
  'dsa-sha256',
  'ed25519',
];

for (const algorithm of ALGORITHMS) {
  void test(`${algorithm}: CA certificate and an issued certificate that openssl verify accepts`, async () => {
    const caPair = keyPair(algorithm);
    const signer = plainSigner(algorithm, caPair);
    const ca = await createCaCertificate({
      signer,
      subject: [
        { type: 'CN', value: `bftkv test CA (${algorithm})` },
        { type: 'O', value: 'bftkv' },
      ],
      random: secureRandom,
      notBeforeMs: NOW_MS,
      validitySeconds: 365 * DAY_SECONDS,
    });
    const caText = opensslText(ca.pem);
    assert.match(caText, /CA:TRUE, pathlen:0/);
    assert.match(caText, /Certificate Sign, CRL Sign/);

    const subjectPair = keyPair(algorithm);
    const csr = opensslCsr(subjectPair.privateKey);
    const cert = await issueCertificate({
      csr,
      caCertificate: ca.pem,
      signer,
      random: secureRandom,
      notBeforeMs: NOW_MS,
      validitySeconds: 30 * DAY_SECONDS,
    });
    assert.equal(opensslVerify(ca.pem, cert.pem).trim(), 'cert.pem: OK');

    // node:crypto reads the PEM and agrees on names, key, issuer and signature.
    const x509 = new X509Certificate(cert.pem);
    const caX509 = new X509Certificate(ca.pem);
    assert.equal(x509.subject, 'CN=test');
    assert.equal(x509.issuer, caX509.subject);
    assert.equal(x509.ca, false);
    assert.ok(x509.checkIssued(caX509));
    assert.ok(x509.verify(caPair.publicKey));
    assert.ok(x509.publicKey.equals(subjectPair.publicKey));
    assert.equal(new Date(x509.validFrom).getTime(), Math.floor(NOW_MS / 1000) * 1000);
    assert.equal(
      new Date(x509.validTo).getTime(),
      Math.floor(NOW_MS / 1000) * 1000 + 30 * DAY_SECONDS * 1000,
    );
    const text = opensslText(cert.pem);
    assert.match(text, /Basic Constraints: critical\s+CA:FALSE/);
    assert.match(text, /Key Usage: critical\s+Digital Signature\n/);
    assert.match(text, /X509v3 Subject Key Identifier/);
    assert.match(text, /X509v3 Authority Key Identifier/);
    assert.deepEqual(cert.der, pemToDer(cert.pem));

    // The verification can fail: another CA's certificate is not a trust anchor for it.
    const otherCa = await createCaCertificate({
      signer: plainSigner(algorithm, keyPair(algorithm)),
      subject: [
        { type: 'CN', value: `bftkv test CA (${algorithm})` },
        { type: 'O', value: 'bftkv' },
      ],
      random: secureRandom,
      notBeforeMs: NOW_MS,
      validitySeconds: 365 * DAY_SECONDS,
    });
    assert.match(opensslVerify(otherCa.pem, cert.pem), /^FAILED/);
  });
}

void test('requests with a broken signature or an altered subject are refused', async () => {
  const pair = keyPair('ecdsa-p256-sha256');
  const signer = plainSigner('ecdsa-p256-sha256', pair);
  const ca = await createCaCertificate({
    signer,
    subject: [{ type: 'CN', value: 'CA' }],
    random: secureRandom,
    notBeforeMs: NOW_MS,
    validitySeconds: DAY_SECONDS,
  });
  for (const algorithm of ['ecdsa-p256-sha256', 'ed25519', 'rsa-sha256'] as const) {
    const csrDer = pemToDer(opensslCsr(keyPair(algorithm).privateKey));
    assert.doesNotThrow(() => verifyCertificateRequest(csrDer));
    // Last byte of the DER is inside the signature BIT STRING.
    const badSignature = csrDer.slice();
    badSignature[badSignature.length - 1]! ^= 0x01;
    await assert.rejects(
      issueCertificate({
        csr: badSignature,
        caCertificate: ca.pem,
        signer,
        random: secureRandom,
        notBeforeMs: NOW_MS,
        validitySeconds: DAY_SECONDS,
      }),
      (e: unknown) =>
        e instanceof CertificateRequestError && /self-signature does not verify/.test(e.message),
    );
    // CN=test becomes CN=tesu: the signed information changed.
    const at = Buffer.from(csrDer).indexOf(Buffer.from('test'));
    const altered = csrDer.slice();
    altered[at + 3] = 'u'.charCodeAt(0);
    assert.throws(() => verifyCertificateRequest(altered), CertificateRequestError);
  }
  assert.throws(() => verifyCertificateRequest('not a csr'), CertificateRequestError);
  assert.throws(
    () => verifyCertificateRequest(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00])),
    CertificateRequestError,
  );
  // An RSA key below the configured minimum is refused even when well signed.
  const small = generateKeyPairSync('rsa', { modulusLength: 1024 });
  assert.throws(
    () => verifyCertificateRequest(opensslCsr(small.privateKey)),
    (e: unknown) => e instanceof CertificateRequestError && /at least 2048/.test(e.message),
  );
  assert.doesNotThrow(() =>
    verifyCertificateRequest(opensslCsr(small.privateKey), { rsaModulusBitsMin: 1024 }),
  );
});

void test('a signer returning an invalid signature issues nothing', async () => {
  const pair = keyPair('ed25519');
  const good = plainSigner('ed25519', pair);
  const ca = await createCaCertificate({
    signer: good,
    subject: [{ type: 'CN', value: 'CA' }],
    random: secureRandom,
    notBeforeMs: NOW_MS,
    validitySeconds: DAY_SECONDS,
  });
  const csr = opensslCsr(keyPair('ed25519').privateKey);
  const faulty: CertificateSigner = { ...good, sign: async () => secureRandom.bytes(64) };
  await assert.rejects(
    issueCertificate({
      csr,
      caCertificate: ca.pem,
      signer: faulty,
      random: secureRandom,
      notBeforeMs: NOW_MS,
      validitySeconds: DAY_SECONDS,
    }),
    CertificateSignerError,
  );
  // A signer whose key is not the CA certificate's is refused before anything is signed.
  await assert.rejects(
    issueCertificate({
      csr,
      caCertificate: ca.pem,
      signer: plainSigner('ed25519', keyPair('ed25519')),
      random: secureRandom,
      notBeforeMs: NOW_MS,
      validitySeconds: DAY_SECONDS,
    }),
    RangeError,
  );
  // The algorithm must match the key.
  await assert.rejects(
    createCaCertificate({
      signer: { ...good, algorithm: 'rsa-sha256' },
      subject: [{ type: 'CN', value: 'CA' }],
      random: secureRandom,
      notBeforeMs: NOW_MS,
      validitySeconds: DAY_SECONDS,
    }),
    RangeError,
  );
  await assert.rejects(
    createCaCertificate({
      signer: good,
      subject: [{ type: 'CN', value: 'CA' }],
      random: secureRandom,
      notBeforeMs: NOW_MS,
      validitySeconds: 0,
    }),
    RangeError,
  );
});

void test('FROST threshold Ed25519 CA (DKG 3-of-4): the issued certificate verifies with openssl', async () => {
  // Signer 2 is down: the remaining three still sign.
  const { group, shares } = runDkg(4, 3);
  const available = endpoints(shares).filter((e) => e.index !== 2);
  let signatures = 0;
  const signer: CertificateSigner = {
    algorithm: 'ed25519',
    publicKeyPem: frostPublicKeyPem(group),
    sign: async (tbs) => {
      signatures++;
      const result = await frostSign({
        group,
        message: tbs,
        endpoints: available,
        random: secureRandom,
      });
      return result.signature;
    },
  };
  const ca = await createCaCertificate({
    signer,
    subject: [{ type: 'CN', value: 'bftkv distributed CA' }],
    random: secureRandom,
    notBeforeMs: NOW_MS,
    validitySeconds: 365 * DAY_SECONDS,
  });
  const subject = keyPair('ecdsa-p256-sha256');
  const cert = await issueCertificate({
    csr: opensslCsr(subject.privateKey, '/CN=test/O=bftkv user'),
    caCertificate: ca.pem,
    signer,
    random: secureRandom,
    notBeforeMs: NOW_MS,
    validitySeconds: 30 * DAY_SECONDS,
  });
  assert.equal(signatures, 2);
  assert.equal(opensslVerify(ca.pem, cert.pem).trim(), 'cert.pem: OK');
  const x509 = new X509Certificate(cert.pem);
  assert.equal(x509.subject, 'CN=test\nO=bftkv user');
  assert.equal(x509.issuer, 'CN=bftkv distributed CA');
});

void test('validity: GeneralizedTime from 2050 on, and no certificate outliving its CA', async () => {
  const pair = keyPair('ed25519');
  const signer = plainSigner('ed25519', pair);
  const notBeforeMs = Date.UTC(2049, 5, 1);
  const ca = await createCaCertificate({
    signer,
    subject: [{ type: 'CN', value: 'CA' }],
    random: secureRandom,
    notBeforeMs,
    validitySeconds: 2 * 366 * DAY_SECONDS,
  });
  const parsed = execFileSync('openssl', ['asn1parse', '-i'], { input: ca.pem, encoding: 'utf8' });
  assert.match(parsed, /UTCTIME\s+:490601000000Z/);
  assert.match(parsed, /GENERALIZEDTIME\s+:20510603000000Z/);
  assert.equal(
    new Date(new X509Certificate(ca.pem).validTo).getTime(),
    notBeforeMs + 2 * 366 * DAY_SECONDS * 1000,
  );
  const csr = opensslCsr(keyPair('ed25519').privateKey);
  const issue = (validitySeconds: number) =>
    issueCertificate({
      csr,
      caCertificate: ca.pem,
      signer,
      random: secureRandom,
      notBeforeMs,
      validitySeconds,
    });
  await assert.rejects(issue(3 * 366 * DAY_SECONDS), /outlive the CA certificate/);
  const cert = await issue(366 * DAY_SECONDS);
  assert.ok(new X509Certificate(cert.pem).checkIssued(new X509Certificate(ca.pem)));
});
