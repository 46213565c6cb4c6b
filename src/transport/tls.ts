/**
 * The real network transport: TLS 1.3 connections between nodes (and from clients), each side's TLS identity
 * pinned to its web-of-trust Ed25519 key, with length-prefixed frames multiplexing requests over one
 * persistent connection per peer.
 *
 * Identity (no CA): every node presents a self-signed X.509 certificate (RFC 5280, Ed25519 per RFC 8410)
 * made at startup from its own Ed25519 key. A peer is accepted when the certificate's key is an Ed25519
 * key whose NodeId (trust/certificate.ts nodeIdOf) is the expected one (client side), or any well-formed
 * one (server side: the handler's `from` is the NodeId of that key). TLS 1.3 CertificateVerify proves the
 * peer holds the private key.
 *
 * Challenge-response (payment note §2.1, against replay and relay): after the TLS handshake each side sends
 * a fresh 32-byte challenge (HELLO) and answers the other's with an Ed25519 signature (AUTH) by its node key
 * over "bftkv/transport-auth/v1" ‖ challenge ‖ own NodeId ‖ peer NodeId ‖ TLS exporter (RFC 8446 §7.5,
 * RFC 5705). The exporter is unique to this TLS session, so an answer recorded on one connection is worthless
 * on any other, and a relay cannot splice two sessions. Requests flow only after both answers verified.
 *
 * Framing: u32 big-endian body length, body = u8 type ‖ u32 stream id ‖ payload, body ≤ FRAME_BODY_BYTES_MAX
 * (LIMITS.messageBytesMax of payload plus the 5-byte header); a larger length closes the connection before
 * anything is buffered. Stream ids of requests are the per-connection sequence numbers: strictly increasing,
 * a duplicate or older one closes the connection.
 *
 * Bounds (docs: every queue has a limit): requests in flight per connection (client, default 256) with a
 * bounded wait queue (default 1024, then TransportError 'busy'); handlers running per connection (server,
 * default 64: at the limit the server stops reading the socket, so TCP flow control pushes back on the
 * sender); unsent frames wait for 'drain' instead of growing the socket buffer; connections per server
 * (default 1024); connect + handshake + authentication within 5 s; idle connections are closed.
 *
 * Failures: requests in flight on a connection that drops reject with TransportError (the peer may have
 * processed them). A failed connection attempt starts an exponential backoff (50 ms doubling to 5 s,
 * jittered from the injected Random) during which requests to that peer fail at once; a working connection
 * resets it. A server that stops taking requests (its handler failed, or the connection idled) sends GOAWAY
 * naming the last request it took, answers those, then closes; the client moves later requests, which were
 * not processed, once to a new connection.
 */
import { X509Certificate, createHash, type KeyObject } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';
import * as tls from 'node:tls';
import { setBounded } from '../collections/bounded.js';
import { fromHex, utf8 } from '../codec/bytes.js';
import { sign, verify, type SigningKey } from '../crypto/ed25519.js';
import { AbortedError, abortedError, systemClock, type Clock } from '../env/clock.js';
import { secureRandom, type Random } from '../env/random.js';
import { LIMITS } from '../limits.js';
import { nodeIdOf, type NodeId } from '../trust/certificate.js';
import { TransportError, type RequestHandler, type Transport } from './transport.js';

// ---------------------------------------------------------------------------------------------------------
// A minimal DER encoder (ITU-T X.690 §8, §10) for one self-signed Ed25519 certificate.
// ---------------------------------------------------------------------------------------------------------

/** Tag-length-value with a definite, minimal length (X.690 §8.1.3, §10.1). */
function tlv(tag: number, content: Uint8Array): Buffer {
  const n = content.length;
  let length: Buffer;
  if (n < 0x80) length = Buffer.from([n]);
  else {
    const digits: number[] = [];
    for (let v = n; v > 0; v = Math.floor(v / 256)) digits.unshift(v & 0xff);
    length = Buffer.from([0x80 | digits.length, ...digits]);
  }
  return Buffer.concat([Buffer.from([tag]), length, content]);
}

const sequence = (...items: Uint8Array[]): Buffer => tlv(0x30, Buffer.concat(items));
const set = (...items: Uint8Array[]): Buffer => tlv(0x31, Buffer.concat(items));

/** A non-negative INTEGER from big-endian magnitude bytes, minimal two's complement (X.690 §8.3). */
function integer(magnitude: Uint8Array): Buffer {
  let i = 0;
  while (i < magnitude.length - 1 && magnitude[i] === 0) i++;
  const m = magnitude.subarray(i);
  const pad = m.length === 0 || (m[0]! & 0x80) !== 0 ? [0] : [];
  return tlv(0x02, Buffer.concat([Buffer.from(pad), m]));
}

/** OBJECT IDENTIFIER in dotted form (X.690 §8.19). */
function objectIdentifier(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const [a = 0, b = 0, ...rest] = arcs;
  const out: number[] = [];
  for (const arc of [a * 40 + b, ...rest]) {
    const base128: number[] = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) base128.unshift(0x80 | (v & 0x7f));
    out.push(...base128);
  }
  return tlv(0x06, Buffer.from(out));
}

/** BIT STRING of whole bytes: a zero "unused bits" octet, then the bytes (X.690 §8.6). */
const bitString = (bytes: Uint8Array): Buffer => tlv(0x03, Buffer.concat([Buffer.from([0]), bytes]));
const utf8String = (s: string): Buffer => tlv(0x0c, Buffer.from(s, 'utf8'));

/** id-Ed25519 (RFC 8410 §3); the AlgorithmIdentifier has no parameters field at all. */
const ED25519_ALGORITHM = sequence(objectIdentifier('1.3.101.112'));
/** id-at-commonName (RFC 5280 Appendix A.1, X.520). */
const COMMON_NAME = '2.5.4.3';

/** Name = RDNSequence with the single RDN CN=<cn> (RFC 5280 §4.1.2.4, §4.1.2.6: UTF8String). */
const name = (cn: string): Buffer => sequence(set(sequence(objectIdentifier(COMMON_NAME), utf8String(cn))));

/**
 * Validity (RFC 5280 §4.1.2.5). The certificate is a carrier for the pinned key, not a credential with its
 * own lifetime (keys are revoked in the web of trust), so it is valid from 1970 and "has no well-defined
 * expiration date" (99991231235959Z). Fixed dates keep the certificate a pure function of the key.
 */
const VALIDITY = sequence(tlv(0x17, Buffer.from('700101000000Z')), tlv(0x18, Buffer.from('99991231235959Z')));

/**
 * The DER of a self-signed X.509 v3 certificate for `key` (RFC 5280 §4.1, RFC 8410 §4–§6): issuer and
 * subject CN=<NodeId>, serial from the key's hash, signed with the same Ed25519 key.
 */
export function selfSignedCertificateDer(key: SigningKey): Uint8Array {
  const id = nodeIdOf(key.publicKey);
  // A positive serial of at most 20 octets (RFC 5280 §4.1.2.2), unique per key.
  const serial = createHash('sha256').update('bftkv/tls-serial/v1').update(key.publicKey).digest();
  serial[0] = serial[0]! & 0x7f;
  const tbsCertificate = sequence(
    tlv(0xa0, integer(Buffer.from([2]))), // version [0] EXPLICIT v3 (§4.1.2.1)
    integer(serial.subarray(0, 16)),
    ED25519_ALGORITHM, // signature (§4.1.2.3), equal to signatureAlgorithm
    name(id), // issuer
    VALIDITY,
    name(id), // subject
    sequence(ED25519_ALGORITHM, bitString(key.publicKey)), // SubjectPublicKeyInfo (RFC 8410 §4)
  );
  // RFC 8410 §6: the signature is the 64-byte Ed25519 signature over the DER TBSCertificate.
  const signature = sign(key, tbsCertificate);
  return new Uint8Array(sequence(tbsCertificate, ED25519_ALGORITHM, bitString(signature)));
}

/** PEM armour (RFC 7468 §2). */
function pem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** The TLS key and certificate (PEM) of a node. */
export interface TlsCredentials {
  readonly id: NodeId;
  readonly keyPem: string;
  readonly certPem: string;
}

/** Builds the TLS credentials of `key` (its self-signed certificate and PKCS#8 private key). */
export function tlsCredentials(key: SigningKey): TlsCredentials {
  const keyDer = key.privateKey.export({ format: 'der', type: 'pkcs8' });
  return {
    id: nodeIdOf(key.publicKey),
    keyPem: pem('PRIVATE KEY', keyDer),
    certPem: pem('CERTIFICATE', selfSignedCertificateDer(key)),
  };
}

/** SPKI DER prefix of an Ed25519 public key (RFC 8410 §4). */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/**
 * The raw Ed25519 public key of a peer's certificate, or null when it is anything else (another algorithm,
 * or a self-signature that does not verify).
 */
export function ed25519KeyOfCertificate(cert: X509Certificate): Uint8Array | null {
  const keyObject: KeyObject = cert.publicKey;
  if (keyObject.asymmetricKeyType !== 'ed25519') return null;
  const spki = keyObject.export({ format: 'der', type: 'spki' });
  if (spki.length !== ED25519_SPKI_PREFIX.length + 32) return null;
  if (!spki.subarray(0, ED25519_SPKI_PREFIX.length).equals(ED25519_SPKI_PREFIX)) return null;
  if (!cert.verify(keyObject)) return null;
  return new Uint8Array(spki.subarray(ED25519_SPKI_PREFIX.length));
}

/** Parses `der` as a certificate and returns its pinned Ed25519 key (tests, diagnostics). */
export function parseCertificateKey(der: Uint8Array): Uint8Array | null {
  return ed25519KeyOfCertificate(new X509Certificate(der));
}

// ---------------------------------------------------------------------------------------------------------
// Addresses
// ---------------------------------------------------------------------------------------------------------

const ADDRESS_PATTERN = /^tcp:\/\/(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

/** Parses `tcp://host:port` (IPv6 hosts in brackets); null when malformed. Port 0 only means "any" to listen. */
export function parseAddress(address: string): { host: string; port: number } | null {
  if (address.length > LIMITS.addressBytesMax) return null;
  const m = ADDRESS_PATTERN.exec(address);
  if (m === null) return null;
  const port = Number(m[2]);
  if (port > 65535) return null;
  const host = m[1]!.startsWith('[') ? m[1]!.slice(1, -1) : m[1]!;
  return { host, port };
}

function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `tcp://[${host}]:${port}` : `tcp://${host}:${port}`;
}

// ---------------------------------------------------------------------------------------------------------
// Frames
// ---------------------------------------------------------------------------------------------------------

/**
 * Frame types. HELLO and AUTH (stream 0) open a connection; then REQUEST, answered by RESPONSE or ERROR.
 * GOAWAY (server → client, stream 0, payload u32 last request taken) announces that the server closes the
 * connection once the requests it took are answered: later ones were not processed and may be retried.
 */
export const FrameType = {
  hello: 1,
  auth: 2,
  request: 3,
  response: 4,
  error: 5,
  goaway: 6,
} as const;

/** u8 type ‖ u32 stream id. */
export const FRAME_HEADER_BYTES = 5;
/** A frame body carries at most one maximal message. */
export const FRAME_BODY_BYTES_MAX = LIMITS.messageBytesMax + FRAME_HEADER_BYTES;
/** Before authentication only HELLO (32 bytes) and AUTH (64 bytes) are allowed: a small bound. */
const HANDSHAKE_BODY_BYTES_MAX = FRAME_HEADER_BYTES + 64;
const STREAM_ID_MAX = 0xffff_ffff;

export interface Frame {
  readonly type: number;
  readonly stream: number;
  readonly payload: Uint8Array;
}

/** The peer broke the framing or the connection protocol. */
export class FrameError extends Error {
  override readonly name = 'FrameError';
}

/** Encodes one frame: u32 body length ‖ type ‖ stream ‖ payload. */
export function encodeFrame(type: number, stream: number, payload: Uint8Array): Buffer {
  if (payload.length + FRAME_HEADER_BYTES > FRAME_BODY_BYTES_MAX)
    throw new RangeError(`frame payload: at most ${LIMITS.messageBytesMax} bytes, got ${payload.length}`);
  const frame = Buffer.allocUnsafe(4 + FRAME_HEADER_BYTES + payload.length);
  frame.writeUInt32BE(FRAME_HEADER_BYTES + payload.length, 0);
  frame.writeUInt8(type, 4);
  frame.writeUInt32BE(stream, 5);
  frame.set(payload, 4 + FRAME_HEADER_BYTES);
  return frame;
}

/**
 * Incremental frame decoder. The length is checked against `bodyBytesMax` as soon as its 4 bytes arrive, so
 * an oversize frame is refused before its body is buffered.
 */
export class FrameDecoder {
  #chunks: Buffer[] = [];
  #buffered = 0;
  bodyBytesMax: number;

  constructor(bodyBytesMax: number) {
    this.bodyBytesMax = bodyBytesMax;
  }

  /** Bytes received and not yet returned as frames. */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
  }

  /** The next complete frame, or undefined when more bytes are needed. Throws FrameError on a bad length. */
  next(): Frame | undefined {
    if (this.#buffered < 4) return undefined;
    const bodyLength = this.#peekLength();
    if (bodyLength < FRAME_HEADER_BYTES || bodyLength > this.bodyBytesMax)
      throw new FrameError(
        `frame length ${bodyLength} outside [${FRAME_HEADER_BYTES}, ${this.bodyBytesMax}]`,
      );
    if (this.#buffered < 4 + bodyLength) return undefined;
    const header = Buffer.alloc(4 + FRAME_HEADER_BYTES);
    this.#take(header);
    // The payload gets its own exact buffer: the receiver owns it, and it exposes no other frame's bytes.
    const payload = new Uint8Array(bodyLength - FRAME_HEADER_BYTES);
    this.#take(payload);
    return { type: header.readUInt8(4), stream: header.readUInt32BE(5), payload };
  }

  #peekLength(): number {
    const first = this.#chunks[0]!;
    if (first.length >= 4) return first.readUInt32BE(0);
    const head = Buffer.alloc(4);
    let at = 0;
    for (const c of this.#chunks) {
      const n = Math.min(4 - at, c.length);
      c.copy(head, at, 0, n);
      at += n;
      if (at === 4) break;
    }
    return head.readUInt32BE(0);
  }

  /** Moves the first `out.length` buffered bytes (≤ bufferedBytes) into `out`. */
  #take(out: Uint8Array): void {
    const n = out.length;
    this.#buffered -= n;
    let at = 0;
    while (at < n) {
      const c = this.#chunks[0]!;
      const k = Math.min(n - at, c.length);
      out.set(c.subarray(0, k), at);
      at += k;
      if (k === c.length) this.#chunks.shift();
      else this.#chunks[0] = c.subarray(k);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Challenge-response (payment note §2.1), bound to the TLS session
// ---------------------------------------------------------------------------------------------------------

export const CHALLENGE_BYTES = 32;
const AUTH_TAG = utf8('bftkv/transport-auth/v1');
/** RFC 5705 / RFC 8446 §7.5 exporter label and length. */
export const EXPORTER_LABEL = 'bftkv';
export const EXPORTER_BYTES = 32;

/**
 * The statement `signer` signs to answer `challenge` (sent by `peer`) on the TLS session whose exporter is
 * `exporter`. Fixed-length fields, so the concatenation is unambiguous.
 */
export function authStatement(
  challenge: Uint8Array,
  signer: NodeId,
  peer: NodeId,
  exporter: Uint8Array,
): Uint8Array {
  if (challenge.length !== CHALLENGE_BYTES)
    throw new RangeError(`challenge: expected ${CHALLENGE_BYTES} bytes, got ${challenge.length}`);
  if (exporter.length !== EXPORTER_BYTES)
    throw new RangeError(`exporter: expected ${EXPORTER_BYTES} bytes, got ${exporter.length}`);
  return Buffer.concat([AUTH_TAG, challenge, fromHex(signer), fromHex(peer), exporter]);
}

/** The keying material both ends of `socket` derive from this TLS session. */
export function sessionExporter(socket: tls.TLSSocket): Uint8Array {
  // TLS 1.3 makes an empty context and no context the same exporter (RFC 8446 §7.5).
  return new Uint8Array(socket.exportKeyingMaterial(EXPORTER_BYTES, EXPORTER_LABEL, Buffer.alloc(0)));
}

/** The TLS context of both sides: this node's certificate and key, TLS 1.3 only. */
function tlsOptions(credentials: TlsCredentials): tls.SecureContextOptions {
  return { key: credentials.keyPem, cert: credentials.certPem, minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' };
}

// ---------------------------------------------------------------------------------------------------------
// One authenticated connection (both sides)
// ---------------------------------------------------------------------------------------------------------

interface ChannelOptions {
  readonly socket: tls.TLSSocket;
  readonly key: SigningKey;
  readonly ownId: NodeId;
  /** The NodeId the peer must prove (client side), or null to accept any well-formed identity (server). */
  readonly expectedPeer: NodeId | null;
  readonly random: Random;
  /** Called once both challenge answers verified. */
  readonly onOpen: () => void;
  /** Called for each frame received after authentication. */
  readonly onFrame: (frame: Frame) => void;
  /** Called exactly once, when the connection is gone. */
  readonly onClose: (reason: Error) => void;
  /** Whether the owner takes another frame now; when false, reading stops until `resumeReading()`. */
  readonly accepting?: () => boolean;
}

type ChannelState = 'tls' | 'handshake' | 'open' | 'closing' | 'closed';

/** After ending our side, how long the peer has to close its side before the socket is destroyed. */
const LINGER_MS = 5000;

/**
 * A TLS socket running the frame protocol: pinned peer identity, challenge-response, frame decoding with
 * read pausing, and writes that wait for 'drain'.
 */
class Channel {
  readonly socket: tls.TLSSocket;
  readonly #o: ChannelOptions;
  #state: ChannelState = 'tls';
  readonly #decoder = new FrameDecoder(HANDSHAKE_BODY_BYTES_MAX);
  #peerKey: Uint8Array | null = null;
  #peerId: NodeId | null = null;
  #exporter: Uint8Array | null = null;
  readonly #challenge: Uint8Array;
  #peerChallenge: Uint8Array | null = null;
  /** Frames waiting for 'drain' (bounded by the owners' in-flight limits). */
  readonly #sendQueue: { frame: Buffer; onWritten: (() => void) | undefined }[] = [];
  #blocked = false;
  #corked = false;
  #ending = false;
  #paused = false;
  #bufferedBytesMax = 0;
  #pauses = 0;
  #lingerTimer: NodeJS.Timeout | undefined;

  constructor(options: ChannelOptions) {
    this.#o = options;
    this.socket = options.socket;
    this.#challenge = options.random.bytes(CHALLENGE_BYTES);
    this.socket.on('error', (e: Error) => this.close(e));
    this.socket.on('close', () => this.close(new Error('connection closed')));
    this.socket.on('drain', () => this.#flush());
  }

  get state(): ChannelState {
    return this.#state;
  }

  /** The authenticated peer (after the TLS handshake). */
  get peerId(): NodeId | null {
    return this.#peerId;
  }

  get bufferedBytesMax(): number {
    return this.#bufferedBytesMax;
  }

  get pauses(): number {
    return this.#pauses;
  }

  /** Frames queued behind a full socket buffer. */
  get queuedFrames(): number {
    return this.#sendQueue.length;
  }

  /** Starts the protocol once the TLS handshake is complete: pin the peer key, send our challenge. */
  start(): void {
    if (this.#state !== 'tls') return;
    const cert = this.socket.getPeerX509Certificate();
    if (cert === undefined) return this.close(new FrameError('peer presented no certificate'));
    let peerKey: Uint8Array | null;
    try {
      peerKey = ed25519KeyOfCertificate(cert);
    } catch {
      peerKey = null;
    }
    if (peerKey === null)
      return this.close(new FrameError('peer certificate is not a self-signed Ed25519 certificate'));
    const peerId = nodeIdOf(peerKey);
    if (this.#o.expectedPeer !== null && peerId !== this.#o.expectedPeer)
      return this.close(
        new FrameError(
          `peer identity mismatch: expected ${this.#o.expectedPeer}, certificate key is ${peerId}`,
        ),
      );
    this.#peerKey = peerKey;
    this.#peerId = peerId;
    this.#exporter = sessionExporter(this.socket);
    this.#state = 'handshake';
    this.send(FrameType.hello, 0, this.#challenge);
    this.socket.on('data', (chunk: Buffer) => {
      if (this.#state !== 'handshake' && this.#state !== 'open') return; // closing: discarded
      this.#decoder.push(chunk);
      if (this.#decoder.bufferedBytes > this.#bufferedBytesMax)
        this.#bufferedBytesMax = this.#decoder.bufferedBytes;
      this.#pump();
    });
  }

  /** Reads on after the owner's `accepting()` became true again. */
  resumeReading(): void {
    if (this.#paused) this.#pump();
  }

  /** Queues one frame; `onWritten` runs once it is handed to the kernel (or the connection is gone). */
  send(type: number, stream: number, payload: Uint8Array, onWritten?: () => void): void {
    this.sendEncoded(encodeFrame(type, stream, payload), onWritten);
  }

  /** Queues one frame made by `encodeFrame`. */
  sendEncoded(frame: Buffer, onWritten?: () => void): void {
    if (this.#state === 'closed') {
      onWritten?.();
      return;
    }
    if (this.#blocked || this.#sendQueue.length > 0) this.#sendQueue.push({ frame, onWritten });
    else this.#write(frame, onWritten);
  }

  /** Stops taking frames (frames already sent still go out). */
  stopReading(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closing';
    this.socket.pause();
  }

  /** Stops taking frames, and ends the connection once the queued frames are written. */
  endAfterFlush(): void {
    if (this.#state === 'closed' || this.#ending) return;
    this.stopReading();
    this.#ending = true;
    if (this.#sendQueue.length === 0) this.#end();
  }

  /** Half-closes, then reads (and discards) to the peer's end of stream, so 'close' follows. */
  #end(): void {
    this.socket.end();
    this.socket.resume();
    this.#lingerTimer = setTimeout(() => this.close(new Error('peer did not close')), LINGER_MS);
    this.#lingerTimer.unref();
  }

  /** Tears the connection down now. */
  close(reason: Error): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    clearTimeout(this.#lingerTimer);
    this.socket.destroy();
    const queued = this.#sendQueue.splice(0);
    for (const q of queued) q.onWritten?.();
    this.#o.onClose(reason);
  }

  #write(frame: Buffer, onWritten: (() => void) | undefined): void {
    if (!this.#corked) {
      // Frames queued by one callback (and its microtasks) leave in one TLS record and one system call.
      this.#corked = true;
      this.socket.cork();
      process.nextTick(this.#uncork);
    }
    const ok = this.socket.write(frame, onWritten);
    if (!ok) this.#blocked = true;
  }

  readonly #uncork = (): void => {
    this.#corked = false;
    this.socket.uncork();
  };

  #flush(): void {
    this.#blocked = false;
    while (!this.#blocked && this.#sendQueue.length > 0 && this.#state !== 'closed') {
      const q = this.#sendQueue.shift()!;
      this.#write(q.frame, q.onWritten);
    }
    if (this.#ending && this.#sendQueue.length === 0) this.#end();
  }

  #pump(): void {
    for (;;) {
      if (this.#state === 'closed' || this.#state === 'closing') return;
      if (this.#state === 'open' && this.#o.accepting !== undefined && !this.#o.accepting()) {
        // Backpressure: no more frames until a handler finishes; the kernel buffers fill, then TCP stops the peer.
        if (!this.#paused) {
          this.#paused = true;
          this.#pauses++;
          this.socket.pause();
        }
        return;
      }
      let frame: Frame | undefined;
      try {
        frame = this.#decoder.next();
      } catch (e) {
        return this.close(e instanceof Error ? e : new FrameError(String(e)));
      }
      if (frame === undefined) break;
      this.#handle(frame);
    }
    if (this.#paused) {
      this.#paused = false;
      this.socket.resume();
    }
  }

  #handle(frame: Frame): void {
    if (this.#state === 'open') {
      if (frame.type === FrameType.hello || frame.type === FrameType.auth)
        return this.close(new FrameError('handshake frame after authentication'));
      return this.#o.onFrame(frame);
    }
    const peerId = this.#peerId!;
    const peerKey = this.#peerKey!;
    const exporter = this.#exporter!;
    if (this.#peerChallenge === null) {
      if (frame.type !== FrameType.hello || frame.stream !== 0 || frame.payload.length !== CHALLENGE_BYTES)
        return this.close(new FrameError('expected HELLO'));
      this.#peerChallenge = new Uint8Array(frame.payload);
      const answer = sign(this.#o.key, authStatement(this.#peerChallenge, this.#o.ownId, peerId, exporter));
      this.send(FrameType.auth, 0, answer);
      return;
    }
    if (frame.type !== FrameType.auth || frame.stream !== 0)
      return this.close(new FrameError('expected AUTH before any request'));
    const statement = authStatement(this.#challenge, peerId, this.#o.ownId, exporter);
    if (!verify(peerKey, statement, frame.payload))
      return this.close(new FrameError('challenge answer does not verify for this peer and TLS session'));
    this.#state = 'open';
    this.#decoder.bodyBytesMax = FRAME_BODY_BYTES_MAX;
    this.#o.onOpen();
  }
}

// ---------------------------------------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------------------------------------

export interface TlsTransportOptions {
  /** This node's (or client's) Ed25519 key: its TLS identity and the key that answers challenges. */
  readonly key: SigningKey;
  /** TCP connect + TLS handshake + challenge-response, default 5000 ms. */
  readonly connectTimeoutMs?: number;
  /** A connection with nothing in flight and no traffic for this long is closed, default 30000 ms. */
  readonly idleTimeoutMs?: number;
  /** Requests in flight per connection, default 256. */
  readonly inFlightMax?: number;
  /** Requests waiting for a slot (or for the connection) per connection, default 1024; then 'busy'. */
  readonly queueMax?: number;
  /** First reconnection delay after a failed attempt, default 50 ms; doubles per failure... */
  readonly backoffBaseMs?: number;
  /** ...up to this, default 5000 ms. The delay drawn is uniform in [d/2, d] (jitter). */
  readonly backoffMaxMs?: number;
  readonly random?: Random;
  readonly clock?: Clock;
}

export interface TlsTransportStats {
  /** Connections open or being opened. */
  connections: number;
  /** Connection attempts started. */
  connectAttempts: number;
  /** Connection attempts that failed (connect, TLS, identity, challenge-response, timeout). */
  connectFailures: number;
  /** Requests sent and not yet answered. */
  inFlight: number;
  /** Requests waiting for a slot or a connection. */
  queued: number;
  /** Encoded frames waiting for the socket to drain. */
  unsentFrames: number;
}

interface PendingRequest {
  /** The REQUEST frame, encoded once (a copy of the caller's payload); its stream id is set when sent. */
  readonly frame: Buffer;
  readonly resolve: (response: Uint8Array) => void;
  readonly reject: (error: Error) => void;
  readonly signal: AbortSignal | undefined;
  /** Set by the connection holding the request. */
  onAbort: () => void;
  stream: number;
  /** Already moved once to a new connection after a GOAWAY (moved at most once). */
  moved: boolean;
}

interface Backoff {
  failures: number;
  retryAtMs: number;
  lastError: string;
}

/** Peers whose backoff state is kept (oldest forgotten first). */
const BACKOFF_ENTRIES_MAX = 16_384;

function positiveInteger(name: string, v: number | undefined, fallback: number): number {
  const x = v ?? fallback;
  if (!Number.isSafeInteger(x) || x < 1)
    throw new RangeError(`${name}: expected a positive integer, got ${x}`);
  return x;
}

type ConnectionLimits = Required<
  Pick<TlsTransportOptions, 'connectTimeoutMs' | 'idleTimeoutMs' | 'inFlightMax' | 'queueMax'>
>;

interface ConnectionEvents {
  /** The connection is closed; `opened` tells whether it had authenticated. */
  readonly gone: (opened: boolean, reason: Error) => void;
  /** Requests the peer will not process on this connection (GOAWAY, or sequence numbers exhausted). */
  readonly unprocessed: (requests: PendingRequest[]) => void;
}

/** One persistent, multiplexed connection to one peer at one address. */
class ClientConnection {
  readonly #peer: NodeId;
  readonly #channel: Channel;
  readonly #limits: ConnectionLimits;
  readonly #events: ConnectionEvents;
  readonly #inFlight = new Map<number, PendingRequest>();
  /** Invariant: every waiting request is unsent (stream 0) and holds this connection's abort listener. */
  readonly #waiting = new Set<PendingRequest>();
  #nextStream = 1;
  #opened = false;
  /** Whether the socket keeps the process alive (a new socket does). */
  #referenced = true;
  #retiring = false;
  #closed = false;
  readonly #connectTimer: NodeJS.Timeout;

  constructor(
    peer: NodeId,
    target: { host: string; port: number },
    identity: { readonly id: NodeId; readonly key: SigningKey; readonly context: tls.SecureContext },
    limits: ConnectionLimits,
    random: Random,
    events: ConnectionEvents,
  ) {
    this.#peer = peer;
    this.#limits = limits;
    this.#events = events;
    const socket = tls.connect({
      secureContext: identity.context,
      ALPNProtocols: ['bftkv/1'],
      rejectUnauthorized: false,
      host: target.host,
      port: target.port,
    });
    socket.setNoDelay(true);
    this.#channel = new Channel({
      socket,
      key: identity.key,
      ownId: identity.id,
      expectedPeer: peer,
      random,
      onOpen: () => this.#onOpen(),
      onFrame: (f) => this.#onFrame(f),
      onClose: (reason) => this.#onClose(reason),
    });
    socket.once('secureConnect', () => this.#channel.start());
    socket.setTimeout(limits.idleTimeoutMs, () => {
      if (this.#opened && this.#idle()) this.#channel.endAfterFlush();
    });
    this.#connectTimer = setTimeout(
      () => this.#channel.close(new Error(`connect timeout after ${limits.connectTimeoutMs} ms`)),
      limits.connectTimeoutMs,
    );
  }

  /** Takes new requests (not closed, not retiring). */
  get usable(): boolean {
    return !this.#closed && !this.#retiring && this.#channel.state !== 'closing';
  }

  get inFlight(): number {
    return this.#inFlight.size;
  }

  get queued(): number {
    return this.#waiting.size;
  }

  get unsentFrames(): number {
    return this.#channel.queuedFrames;
  }

  /**
   * Takes `p`: sends it when a slot is free, or rejects it with 'busy' when the slots and the wait queue are
   * full. Invariant: waiting + in flight ≤ inFlightMax + queueMax (also while the connection opens).
   */
  enqueue(p: PendingRequest): void {
    if (this.#waiting.size + this.#inFlight.size >= this.#limits.inFlightMax + this.#limits.queueMax)
      return p.reject(new TransportError('busy: too many requests queued for this peer', this.#peer));
    p.stream = 0;
    p.onAbort = () => {
      const removed = this.#waiting.delete(p) || (p.stream !== 0 && this.#inFlight.delete(p.stream));
      if (!removed) return;
      // A late answer to this stream is ignored (stream < nextStream, no longer in flight).
      p.reject(abortedError(p.signal));
      this.#pumpWaiting();
      this.#updateRef();
    };
    p.signal?.addEventListener('abort', p.onAbort, { once: true });
    this.#waiting.add(p);
    this.#pumpWaiting();
    this.#updateRef();
  }

  /** Closes the connection; requests still pending reject with TransportError. */
  close(reason: Error): void {
    this.#channel.close(reason);
  }

  #idle(): boolean {
    return this.#inFlight.size === 0 && this.#waiting.size === 0;
  }

  #onOpen(): void {
    clearTimeout(this.#connectTimer);
    this.#opened = true;
    this.#pumpWaiting();
    this.#updateRef();
  }

  /** Sends waiting requests while slots are free. Stream ids are the per-connection sequence numbers. */
  #pumpWaiting(): void {
    if (!this.#opened || this.#closed || this.#retiring) return;
    for (const p of this.#waiting) {
      if (this.#inFlight.size >= this.#limits.inFlightMax) return;
      if (this.#nextStream > STREAM_ID_MAX) return this.#retire(0xffff_ffff);
      this.#waiting.delete(p);
      p.stream = this.#nextStream++;
      this.#inFlight.set(p.stream, p);
      p.frame.writeUInt32BE(p.stream, 5);
      this.#channel.sendEncoded(p.frame);
    }
  }

  /**
   * No new requests on this connection: those the peer will not process (unsent, or above `lastTaken`) go
   * back to the transport; the rest are answered, then the connection ends.
   */
  #retire(lastTaken: number): void {
    if (this.#retiring) return;
    this.#retiring = true;
    const unprocessed = [...this.#waiting];
    this.#waiting.clear();
    for (const [stream, p] of this.#inFlight) {
      if (stream > lastTaken) {
        this.#inFlight.delete(stream);
        unprocessed.push(p);
      }
    }
    for (const p of unprocessed) p.signal?.removeEventListener('abort', p.onAbort);
    if (this.#inFlight.size === 0) this.#channel.endAfterFlush();
    this.#events.unprocessed(unprocessed);
  }

  #onFrame(frame: Frame): void {
    if (frame.type === FrameType.goaway) {
      if (frame.stream !== 0 || frame.payload.length !== 4)
        return this.#channel.close(new FrameError('malformed GOAWAY'));
      return this.#retire(Buffer.from(frame.payload).readUInt32BE(0));
    }
    if (frame.type !== FrameType.response && frame.type !== FrameType.error)
      return this.#channel.close(new FrameError(`unexpected frame type ${frame.type} from server`));
    if (frame.stream === 0 || frame.stream >= this.#nextStream)
      return this.#channel.close(new FrameError(`answer for a stream never opened (${frame.stream})`));
    const p = this.#inFlight.get(frame.stream);
    if (p === undefined) return; // aborted, or a duplicate: never resolve twice.
    this.#inFlight.delete(frame.stream);
    p.signal?.removeEventListener('abort', p.onAbort);
    if (frame.type === FrameType.response) p.resolve(frame.payload);
    else {
      const text = Buffer.from(frame.payload.subarray(0, LIMITS.errorTextBytesMax)).toString('utf8');
      p.reject(new TransportError(`peer failed: ${text}`, this.#peer));
    }
    if (this.#retiring && this.#inFlight.size === 0) this.#channel.endAfterFlush();
    this.#pumpWaiting();
    this.#updateRef();
  }

  #onClose(reason: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#connectTimer);
    const message = this.#opened ? `connection lost: ${reason.message}` : `cannot connect: ${reason.message}`;
    const pending = [...this.#waiting, ...this.#inFlight.values()];
    this.#waiting.clear();
    this.#inFlight.clear();
    for (const p of pending) {
      p.signal?.removeEventListener('abort', p.onAbort);
      p.reject(new TransportError(message, this.#peer));
    }
    this.#events.gone(this.#opened, reason);
  }

  /**
   * An idle connection does not keep the process alive. Only changes reach the socket: while it is still
   * connecting, each ref() or unref() call adds a 'connect' listener.
   */
  #updateRef(): void {
    if (this.#closed) return;
    const referenced = !(this.#opened && this.#idle());
    if (referenced === this.#referenced) return;
    this.#referenced = referenced;
    if (referenced) this.#channel.socket.ref();
    else this.#channel.socket.unref();
  }
}

/**
 * The client side of the TLS transport: one persistent connection per (peer, address), opened on first use,
 * reopened on the next request after it drops. After a failed attempt, requests to that peer fail at once
 * (TransportError) until the backoff delay has passed, so a dead peer costs nothing per request. Requests
 * in flight on a connection that drops reject with TransportError (the peer may have processed them); those
 * a GOAWAY says were not processed move once to a new connection.
 */
export class TlsTransport implements Transport {
  readonly id: NodeId;
  /** The key, and the TLS context built once from it (parsing PEM per connection costs ~1 ms). */
  readonly #identity: { readonly id: NodeId; readonly key: SigningKey; readonly context: tls.SecureContext };
  readonly #limits: ConnectionLimits;
  readonly #backoffBaseMs: number;
  readonly #backoffMaxMs: number;
  readonly #random: Random;
  readonly #clock: Clock;
  readonly #connections = new Map<string, ClientConnection>();
  readonly #backoff = new Map<string, Backoff>();
  #closed = false;
  #connectAttempts = 0;
  #connectFailures = 0;

  constructor(options: TlsTransportOptions) {
    const credentials = tlsCredentials(options.key);
    this.id = credentials.id;
    this.#identity = {
      id: this.id,
      key: options.key,
      context: tls.createSecureContext(tlsOptions(credentials)),
    };
    this.#limits = {
      connectTimeoutMs: positiveInteger('connectTimeoutMs', options.connectTimeoutMs, 5000),
      idleTimeoutMs: positiveInteger('idleTimeoutMs', options.idleTimeoutMs, 30_000),
      inFlightMax: positiveInteger('inFlightMax', options.inFlightMax, 256),
      queueMax: positiveInteger('queueMax', options.queueMax, 1024),
    };
    this.#backoffBaseMs = positiveInteger('backoffBaseMs', options.backoffBaseMs, 50);
    this.#backoffMaxMs = positiveInteger('backoffMaxMs', options.backoffMaxMs, 5000);
    this.#random = options.random ?? secureRandom;
    this.#clock = options.clock ?? systemClock;
  }

  request(peer: string, address: string, payload: Uint8Array, signal?: AbortSignal): Promise<Uint8Array> {
    if (signal?.aborted) return Promise.reject(new AbortedError());
    if (payload.length > LIMITS.messageBytesMax)
      return Promise.reject(new TransportError(`payload too large (${payload.length} bytes)`, peer));
    return new Promise<Uint8Array>((resolve, reject) => {
      this.#route(peer, address, {
        frame: encodeFrame(FrameType.request, 0, payload),
        resolve,
        reject,
        signal,
        onAbort: () => undefined,
        stream: 0,
        moved: false,
      });
    });
  }

  /** Closes every connection; pending requests reject with TransportError, later requests too. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const c of [...this.#connections.values()]) c.close(new Error('transport closed'));
    this.#connections.clear();
  }

  stats(): TlsTransportStats {
    let inFlight = 0;
    let queued = 0;
    let unsentFrames = 0;
    for (const c of this.#connections.values()) {
      inFlight += c.inFlight;
      queued += c.queued;
      unsentFrames += c.unsentFrames;
    }
    return {
      connections: this.#connections.size,
      connectAttempts: this.#connectAttempts,
      connectFailures: this.#connectFailures,
      inFlight,
      queued,
      unsentFrames,
    };
  }

  /** Hands `p` to the connection for (peer, address), opening one unless the peer is backing off. */
  #route(peer: string, address: string, p: PendingRequest): void {
    if (p.signal?.aborted) return p.reject(new AbortedError());
    if (this.#closed) return p.reject(new TransportError('transport closed', peer));
    const key = `${peer} ${address}`;
    let connection = this.#connections.get(key);
    if (connection === undefined || !connection.usable) {
      const backoff = this.#backoff.get(key);
      const now = this.#clock.now();
      if (backoff !== undefined && now < backoff.retryAtMs) {
        const waitMs = Math.ceil(backoff.retryAtMs - now);
        return p.reject(
          new TransportError(`peer unreachable (${backoff.lastError}); next attempt in ${waitMs} ms`, peer),
        );
      }
      const target = parseAddress(address);
      if (target === null || target.port === 0 || !/^[0-9a-f]{32}$/.test(peer))
        return p.reject(new TransportError(`bad peer or address: ${peer} at ${address}`, peer));
      this.#connectAttempts++;
      const created: ClientConnection = new ClientConnection(
        peer,
        target,
        this.#identity,
        this.#limits,
        this.#random,
        {
          gone: (opened, reason) => this.#connectionGone(key, created, opened, reason),
          unprocessed: (requests) => {
            if (this.#connections.get(key) === created) this.#connections.delete(key);
            for (const r of requests) {
              if (r.moved) r.reject(new TransportError('peer closed the connection before processing', peer));
              else {
                r.moved = true;
                this.#route(peer, address, r);
              }
            }
          },
        },
      );
      connection = created;
      this.#connections.set(key, connection);
    }
    connection.enqueue(p);
  }

  #connectionGone(key: string, connection: ClientConnection, opened: boolean, reason: Error): void {
    if (this.#connections.get(key) === connection) this.#connections.delete(key);
    if (opened) {
      // The link worked: the next request reconnects at once.
      this.#backoff.delete(key);
      return;
    }
    this.#connectFailures++;
    const previous = this.#backoff.get(key);
    const failures = (previous?.failures ?? 0) + 1;
    const ceiling = Math.min(this.#backoffMaxMs, this.#backoffBaseMs * 2 ** Math.min(failures - 1, 30));
    const half = Math.floor(ceiling / 2);
    const delayMs = ceiling - half + this.#random.int(half + 1);
    setBounded(
      this.#backoff,
      key,
      { failures, retryAtMs: this.#clock.now() + delayMs, lastError: reason.message },
      BACKOFF_ENTRIES_MAX,
    );
  }
}

// ---------------------------------------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------------------------------------

export interface TlsServerOptions {
  /** This node's Ed25519 key: its TLS identity and the key that answers challenges. */
  readonly key: SigningKey;
  /** Called for each authenticated request with the sender's NodeId. */
  readonly handler: RequestHandler;
  /** Handlers running at once per connection, default 64; at the limit the server stops reading. */
  readonly concurrencyPerConnection?: number;
  /** Open connections, default 1024; more are dropped on accept. */
  readonly connectionsMax?: number;
  /** TLS handshake + challenge-response, default 5000 ms. */
  readonly authTimeoutMs?: number;
  /** A connection with no handler running and no traffic for this long is closed, default 120000 ms. */
  readonly idleTimeoutMs?: number;
  readonly random?: Random;
}

export interface TlsServerStats {
  /** Connections open now (authenticated or not). */
  connections: number;
  /** Connections that completed the challenge-response. */
  authenticated: number;
  /** Connections closed for a protocol or authentication failure (including TLS handshake errors). */
  refused: number;
  /** Requests handed to the handler. */
  requests: number;
  /** Handlers running now, over all connections. */
  running: number;
  /** Most handlers seen running at once on one connection. */
  runningPerConnectionMax: number;
  /** Times a connection stopped reading because its handlers were at the limit. */
  pauses: number;
  /** Most received-but-undecoded bytes held for one connection. */
  bufferedBytesMax: number;
}

/**
 * The server side: accepts TLS connections, authenticates each peer (pinned key + challenge-response),
 * and runs the handler for each request with the peer's NodeId as `from`.
 */
export class TlsServer {
  readonly id: NodeId;
  readonly #key: SigningKey;
  readonly #credentials: TlsCredentials;
  readonly #handler: RequestHandler;
  readonly #concurrency: number;
  readonly #connectionsMax: number;
  readonly #authTimeoutMs: number;
  readonly #idleTimeoutMs: number;
  readonly #random: Random;
  #server: tls.Server | null = null;
  readonly #channels = new Set<Channel>();
  /** Every accepted TCP socket, including those still in the TLS handshake. */
  readonly #sockets = new Set<Socket>();
  readonly #stats: TlsServerStats = {
    connections: 0,
    authenticated: 0,
    refused: 0,
    requests: 0,
    running: 0,
    runningPerConnectionMax: 0,
    pauses: 0,
    bufferedBytesMax: 0,
  };

  constructor(options: TlsServerOptions) {
    this.#key = options.key;
    this.#credentials = tlsCredentials(options.key);
    this.id = this.#credentials.id;
    this.#handler = options.handler;
    this.#concurrency = positiveInteger('concurrencyPerConnection', options.concurrencyPerConnection, 64);
    this.#connectionsMax = positiveInteger('connectionsMax', options.connectionsMax, 1024);
    this.#authTimeoutMs = positiveInteger('authTimeoutMs', options.authTimeoutMs, 5000);
    this.#idleTimeoutMs = positiveInteger('idleTimeoutMs', options.idleTimeoutMs, 120_000);
    this.#random = options.random ?? secureRandom;
  }

  /** Listens on `tcp://host:port` (port 0: any free port); resolves with the address actually bound. */
  async listen(address: string): Promise<string> {
    if (this.#server !== null) throw new Error('TlsServer.listen: already listening');
    const target = parseAddress(address);
    if (target === null)
      throw new TypeError(`address: expected tcp://host:port, got ${JSON.stringify(address)}`);
    const server = tls.createServer({
      ...tlsOptions(this.#credentials),
      ALPNProtocols: ['bftkv/1'],
      // Our own identity check (pinned Ed25519 key, challenge-response) replaces CA verification.
      rejectUnauthorized: false,
      requestCert: true,
      handshakeTimeout: this.#authTimeoutMs,
    });
    server.maxConnections = this.#connectionsMax;
    server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
    server.on('secureConnection', (socket) => this.#accept(socket));
    server.on('tlsClientError', (_e, socket) => {
      this.#stats.refused++;
      socket.destroy();
    });
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(target.port, target.host, () => {
        server.off('error', reject);
        resolve();
      });
    }).catch((e: unknown) => {
      this.#server = null;
      throw e;
    });
    const bound = server.address() as AddressInfo;
    return formatAddress(bound.address, bound.port);
  }

  /** Stops listening and closes every connection (running handlers' answers are dropped). */
  async close(): Promise<void> {
    const server = this.#server;
    if (server === null) return;
    this.#server = null;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const c of [...this.#channels]) c.close(new Error('server closed'));
    for (const socket of [...this.#sockets]) socket.destroy();
    await closed;
  }

  stats(): TlsServerStats {
    const s = { ...this.#stats, connections: this.#channels.size };
    for (const c of this.#channels) {
      s.pauses += c.pauses;
      s.bufferedBytesMax = Math.max(s.bufferedBytesMax, c.bufferedBytesMax);
    }
    return s;
  }

  #accept(socket: tls.TLSSocket): void {
    if (this.#server === null) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    let running = 0;
    let lastStream = 0;
    let authenticated = false;
    const authTimer = setTimeout(
      () => channel.close(new Error(`authentication timeout after ${this.#authTimeoutMs} ms`)),
      this.#authTimeoutMs,
    );
    let closed = false;
    let goingAway = false;
    const finished = () => {
      if (closed) return;
      running--;
      this.#stats.running--;
      if (goingAway) {
        if (running === 0) channel.endAfterFlush();
      } else channel.resumeReading();
    };
    /** Takes no more requests; ends once those taken are answered (the client moves the rest). */
    const goAway = () => {
      if (goingAway) return;
      goingAway = true;
      const last = Buffer.alloc(4);
      last.writeUInt32BE(lastStream, 0);
      channel.send(FrameType.goaway, 0, last);
      channel.stopReading();
      if (running === 0) channel.endAfterFlush();
    };
    const channel: Channel = new Channel({
      socket,
      key: this.#key,
      ownId: this.id,
      expectedPeer: null,
      random: this.#random,
      accepting: () => running < this.#concurrency,
      onOpen: () => {
        clearTimeout(authTimer);
        authenticated = true;
        this.#stats.authenticated++;
      },
      onClose: (reason) => {
        closed = true;
        clearTimeout(authTimer);
        this.#channels.delete(channel);
        this.#stats.running -= running;
        running = 0;
        if (channel.bufferedBytesMax > this.#stats.bufferedBytesMax)
          this.#stats.bufferedBytesMax = channel.bufferedBytesMax;
        this.#stats.pauses += channel.pauses;
        if (reason instanceof FrameError || !authenticated) this.#stats.refused++;
      },
      onFrame: (frame) => {
        if (frame.type !== FrameType.request)
          return channel.close(new FrameError(`unexpected frame type ${frame.type} from client`));
        // The stream id is the request's sequence number: a replayed or reordered one is refused.
        if (frame.stream <= lastStream)
          return channel.close(new FrameError(`request sequence ${frame.stream} not above ${lastStream}`));
        lastStream = frame.stream;
        const stream = frame.stream;
        const from = channel.peerId;
        running++;
        this.#stats.running++;
        this.#stats.requests++;
        if (running > this.#stats.runningPerConnectionMax) this.#stats.runningPerConnectionMax = running;
        let result: Promise<Uint8Array>;
        try {
          result = this.#handler(from, frame.payload);
        } catch (e) {
          result = Promise.reject(e instanceof Error ? e : new Error(String(e)));
        }
        const failed = () => {
          // An operational failure (transport.ts contract): say so for this request, then close.
          channel.send(FrameType.error, stream, utf8('handler failed'), finished);
          goAway();
        };
        result.then((response: unknown) => {
          if (!(response instanceof Uint8Array)) failed();
          else if (response.length > LIMITS.messageBytesMax)
            channel.send(FrameType.error, stream, utf8('response too large'), finished);
          else channel.send(FrameType.response, stream, response, finished);
        }, failed);
      },
    });
    this.#channels.add(channel);
    socket.setTimeout(this.#idleTimeoutMs, () => {
      if (running !== 0) return;
      if (authenticated) goAway();
      else channel.close(new Error('idle before authentication'));
    });
    channel.start();
  }
}
