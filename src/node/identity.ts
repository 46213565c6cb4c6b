/**
 * A node's (or user's) identity in its data directory:
 *
 *   DIR/key          32-byte Ed25519 seed, mode 0600 (the directory is 0700)
 *   DIR/cert         the encoded certificate (trust/certificate.ts), with the certifications collected so far
 *   DIR/config.json  { "uid": …, "address": "tcp://127.0.0.1:PORT" } (address "" for a pure client),
 *                    optionally "http": "host:port" and "limits": { … } (node/config.ts, docs/OPERATIONS.md)
 *
 * `initIdentity` never overwrites an existing key; every failure is an IdentityError naming the file.
 */
import { chmod, mkdir, open, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SEED_BYTES, signingKeyFromSeed, type SigningKey } from '../crypto/ed25519.js';
import { secureRandom, type Random } from '../env/random.js';
import { parseAddress } from '../transport/tls.js';
import { checkHttpSetting, parseNodeLimits, type NodeLimits } from './config.js';
import {
  createCertificate,
  decodeCertificate,
  encodeCertificate,
  nodeIdOf,
  verifySelfSignature,
  type Certificate,
  type NodeId,
} from '../trust/certificate.js';

export const KEY_FILE = 'key';
export const CERT_FILE = 'cert';
export const CONFIG_FILE = 'config.json';

/** A missing, unreadable, malformed or inconsistent identity file; `file` is its path. */
export class IdentityError extends Error {
  override readonly name = 'IdentityError';
  constructor(
    message: string,
    readonly file: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}: ${message}`, options);
  }
}

export interface NodeConfig {
  readonly uid: string;
  /** `tcp://host:port` the node listens on; "" for a client that is never contacted. */
  readonly address: string;
  /** `host:port` of the health and metrics HTTP listener; absent or "" for none. */
  readonly http?: string;
  /** Overrides of DEFAULT_NODE_LIMITS (node/config.ts), key by key. */
  readonly limits?: Partial<NodeLimits>;
}

const CONFIG_KEYS = ['uid', 'address', 'http', 'limits'];

export interface Identity {
  readonly dir: string;
  readonly id: NodeId;
  readonly key: SigningKey;
  readonly certificate: Certificate;
  readonly config: NodeConfig;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function checkAddress(address: string, file: string): void {
  if (address === '') return;
  const parsed = parseAddress(address);
  if (parsed === null || parsed.port === 0)
    throw new IdentityError(
      `address: expected tcp://host:port (port ≠ 0), got ${JSON.stringify(address)}`,
      file,
    );
}

/** The operational settings (`http`, `limits`) as given, validated; absent ones stay absent. */
function checkSettings(
  settings: { http?: unknown; limits?: unknown },
  file: string,
): Pick<NodeConfig, 'http' | 'limits'> {
  try {
    return {
      ...(settings.http === undefined ? {} : { http: checkHttpSetting(settings.http) }),
      ...(settings.limits === undefined ? {} : { limits: parseNodeLimits(settings.limits) }),
    };
  } catch (error) {
    throw new IdentityError(describe(error), file, { cause: error });
  }
}

/** Writes `bytes` to `file` atomically (temporary file + rename) with `mode`. */
async function writeAtomic(file: string, bytes: Uint8Array | string, mode: number): Promise<void> {
  const tmp = `${file}.tmp`;
  try {
    await writeFile(tmp, bytes, { mode });
    await chmod(tmp, mode);
    await rename(tmp, file);
  } catch (error) {
    throw new IdentityError(`cannot write: ${describe(error)}`, file, { cause: error });
  }
}

/**
 * Creates a new identity in `dir` (created with mode 0700 if needed): a fresh key, a self-signed
 * certificate for `uid` at `address`, and config.json. Refuses when `dir/key` already exists.
 */
export async function initIdentity(
  dir: string,
  options: {
    uid: string;
    address?: string;
    http?: string;
    limits?: Partial<NodeLimits>;
    random?: Random;
  },
): Promise<Identity> {
  const address = options.address ?? '';
  const keyFile = join(dir, KEY_FILE);
  checkAddress(address, join(dir, CONFIG_FILE));
  const settings = checkSettings(options, join(dir, CONFIG_FILE));
  const seed = (options.random ?? secureRandom).bytes(SEED_BYTES);
  const key = signingKeyFromSeed(seed);
  let certificate: Certificate;
  try {
    certificate = createCertificate(key, options.uid, address);
  } catch (error) {
    throw new IdentityError(`bad certificate fields: ${describe(error)}`, join(dir, CERT_FILE), {
      cause: error,
    });
  }
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700);
  } catch (error) {
    throw new IdentityError(`cannot create directory: ${describe(error)}`, dir, { cause: error });
  }
  // 'wx': fails if the key exists, so two concurrent inits cannot both win and no key is ever replaced.
  try {
    const handle = await open(keyFile, 'wx', 0o600);
    try {
      await handle.writeFile(seed);
      await handle.chmod(0o600);
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (error) {
    const exists = (error as NodeJS.ErrnoException).code === 'EEXIST';
    throw new IdentityError(
      exists ? 'a key already exists; refusing to overwrite it' : `cannot write: ${describe(error)}`,
      keyFile,
      { cause: error },
    );
  }
  await saveCertificate(dir, certificate);
  const config: NodeConfig = { uid: options.uid, address, ...settings };
  await writeAtomic(join(dir, CONFIG_FILE), `${JSON.stringify(config, null, 2)}\n`, 0o600);
  return { dir, id: certificate.id, key, certificate, config };
}

/** Replaces `dir/cert` (e.g. with more certifications). */
export async function saveCertificate(dir: string, certificate: Certificate): Promise<void> {
  await writeAtomic(join(dir, CERT_FILE), encodeCertificate(certificate), 0o644);
}

/** Reads and decodes a certificate file (self-signature verified). */
export async function readCertificateFile(file: string): Promise<Certificate> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (error) {
    throw new IdentityError(`cannot read: ${describe(error)}`, file, { cause: error });
  }
  let cert: Certificate;
  try {
    cert = decodeCertificate(new Uint8Array(bytes));
  } catch (error) {
    throw new IdentityError(`not a certificate: ${describe(error)}`, file, { cause: error });
  }
  if (!verifySelfSignature(cert)) throw new IdentityError('certificate self-signature does not verify', file);
  return cert;
}

async function readConfig(file: string): Promise<NodeConfig> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new IdentityError(`cannot read JSON: ${describe(error)}`, file, { cause: error });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new IdentityError('expected a JSON object', file);
  for (const key of Object.keys(parsed))
    if (!CONFIG_KEYS.includes(key))
      throw new IdentityError(`unknown key ${JSON.stringify(key)} (known: ${CONFIG_KEYS.join(', ')})`, file);
  const { uid, address, http, limits } = parsed as Record<string, unknown>;
  if (typeof uid !== 'string' || uid === '')
    throw new IdentityError('uid: expected a non-empty string', file);
  if (typeof address !== 'string') throw new IdentityError('address: expected a string', file);
  checkAddress(address, file);
  return { uid, address, ...checkSettings({ http, limits }, file) };
}

/** Loads the identity in `dir`, checking that key, certificate and config agree. */
export async function loadIdentity(dir: string): Promise<Identity> {
  const keyFile = join(dir, KEY_FILE);
  let seed: Uint8Array;
  try {
    const st = await stat(keyFile);
    if ((st.mode & 0o077) !== 0)
      throw new IdentityError(
        `permissions ${(st.mode & 0o777).toString(8)} are too open (expected 600)`,
        keyFile,
      );
    seed = new Uint8Array(await readFile(keyFile));
  } catch (error) {
    if (error instanceof IdentityError) throw error;
    throw new IdentityError(`cannot read: ${describe(error)}`, keyFile, { cause: error });
  }
  if (seed.length !== SEED_BYTES)
    throw new IdentityError(`expected ${SEED_BYTES} bytes, got ${seed.length}`, keyFile);
  const key = signingKeyFromSeed(seed);
  const certFile = join(dir, CERT_FILE);
  const certificate = await readCertificateFile(certFile);
  if (certificate.id !== nodeIdOf(key.publicKey))
    throw new IdentityError(`certificate ${certificate.id} is not for the key in ${keyFile}`, certFile);
  const configFile = join(dir, CONFIG_FILE);
  const config = await readConfig(configFile);
  if (config.uid !== certificate.body.uid)
    throw new IdentityError(
      `uid ${JSON.stringify(config.uid)} differs from the certificate's ${JSON.stringify(certificate.body.uid)}`,
      configFile,
    );
  if (config.address !== certificate.body.address)
    throw new IdentityError(
      `address ${JSON.stringify(config.address)} differs from the certificate's ${JSON.stringify(certificate.body.address)}`,
      configFile,
    );
  return { dir, id: certificate.id, key, certificate, config };
}
