/**
 * Test harness for the GJKR threshold DSA/ECDSA protocols: server identities (Ed25519 signing keys,
 * X25519 encryption keys), a synchronous relay that drives a coordinator against GjkrServer instances, and
 * malicious behaviours that re-sign tampered messages with the misbehaving server's own key.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ByteReader } from '../../src/codec/bytes.js';
import { sign as edSign, signingKeyFromSeed, verify as edVerify } from '../../src/crypto/ed25519.js';
import { secureRandom, type Random } from '../../src/env/random.js';
import { SEAL_OVERHEAD_BYTES, seal, x25519KeyPair } from '../../src/crypto/threshold/gjkr-seal.js';
import {
  boxAad,
  signMessage,
  type PartyDirectory,
  type PartyIdentity,
} from '../../src/crypto/threshold/gjkr-messages.js';
import { encodeScalar, randomScalar, type DlGroup } from '../../src/crypto/threshold/dl-group.js';
import { GjkrServer, type GjkrServerOptions } from '../../src/crypto/threshold/gjkr-server.js';
import type { KeyShare } from '../../src/crypto/threshold/gjkr-key.js';
import type { SendStep } from '../../src/crypto/threshold/gjkr-messages.js';

/** Identities of servers 1..n and the directory every party shares. */
export function makeParties(
  n: number,
  random: Random = secureRandom,
): { identities: Map<number, PartyIdentity>; directory: PartyDirectory } {
  const signing = new Map<number, ReturnType<typeof signingKeyFromSeed>>();
  const encryption = new Map<number, ReturnType<typeof x25519KeyPair>>();
  for (let j = 1; j <= n; j++) {
    signing.set(j, signingKeyFromSeed(random.bytes(32)));
    encryption.set(j, x25519KeyPair(random.bytes(32)));
  }
  const directory: PartyDirectory = {
    encryptionKey: (j) => encryption.get(j)?.publicKey,
    verify: (j, message, signature) => {
      const key = signing.get(j);
      return key !== undefined && edVerify(key.publicKey, message, signature);
    },
  };
  const identities = new Map<number, PartyIdentity>();
  for (let j = 1; j <= n; j++)
    identities.set(j, {
      ...directory,
      index: j,
      encryption: encryption.get(j)!,
      sign: (m) => edSign(signing.get(j)!, m),
    });
  return { identities, directory };
}

/** A server as the relay sees it: request in, response out (throws to refuse). */
export type Handler = (request: Uint8Array, round: string) => Uint8Array;

/** Servers 1..n with key shares held in memory. */
export class Cluster {
  readonly servers = new Map<number, GjkrServer>();
  readonly shares = new Map<number, KeyShare[]>();
  /** Behaviour overrides by server index (malicious servers). */
  readonly behaviours = new Map<number, (honest: Handler) => Handler>();
  private readonly handlers = new Map<
    number,
    { behaviour: (honest: Handler) => Handler; handler: Handler }
  >();
  /** Refusals seen by the relay, for assertions. */
  readonly refusals: { party: number; round: string; error: unknown }[] = [];
  nowMs = 1_000_000;

  constructor(
    readonly identities: Map<number, PartyIdentity>,
    options: Partial<GjkrServerOptions> = {},
  ) {
    for (const [j, identity] of identities) {
      const server = new GjkrServer({
        identity,
        random: secureRandom,
        keyShare: (keyId) =>
          this.shares.get(j)?.find((s) => Buffer.compare(Buffer.from(s.keyId), Buffer.from(keyId)) === 0),
        ...options,
      });
      this.servers.set(j, server);
    }
  }

  /** Stores a share at server j. */
  store(j: number, share: KeyShare): void {
    this.shares.set(j, [...(this.shares.get(j) ?? []), share]);
  }

  /** The honest handler of server j. */
  honest(j: number): Handler {
    return (request) => {
      const reply = this.servers.get(j)!.handle(request, this.nowMs);
      if (reply.keyShare !== undefined) this.store(j, reply.keyShare);
      return reply.response;
    };
  }

  /** Delivers one step to every addressed server; missing answers are undefined. */
  deliver(step: SendStep): Map<number, Uint8Array | undefined> {
    const answers = new Map<number, Uint8Array | undefined>();
    for (const j of step.to) {
      // One handler per behaviour for the whole run, so a malicious behaviour can keep state across rounds.
      const behaviour = this.behaviours.get(j);
      let handler = this.honest(j);
      if (behaviour !== undefined) {
        let cached = this.handlers.get(j);
        if (cached?.behaviour !== behaviour) {
          cached = { behaviour, handler: behaviour(handler) };
          this.handlers.set(j, cached);
        }
        handler = cached.handler;
      }
      try {
        answers.set(j, handler(step.request, step.round));
      } catch (error) {
        this.refusals.push({ party: j, round: step.round, error });
        answers.set(j, undefined);
      }
    }
    return answers;
  }

  /** Runs a coordinator to the end. */
  run<R>(coordinator: {
    start(): SendStep;
    next(a: ReadonlyMap<number, Uint8Array | undefined>): SendStep | R;
  }): R {
    let step: SendStep | R = coordinator.start();
    while (isSend(step)) step = coordinator.next(this.deliver(step));
    return step;
  }
}

function isSend(x: unknown): x is SendStep {
  return typeof x === 'object' && x !== null && (x as { kind?: unknown }).kind === 'send';
}

/** Splits a signed message into its body and signature. */
export function splitSigned(bytes: Uint8Array): { body: Uint8Array; signature: Uint8Array } {
  const r = new ByteReader(bytes);
  const body = r.bytes(1 << 24, 'body');
  const signature = r.bytes(1024, 'signature');
  return { body, signature };
}

/** Re-signs a signed message after `edit` changes its body (the sender is the misbehaving server). */
export function tamper(
  identity: PartyIdentity,
  signed: Uint8Array,
  edit: (body: Uint8Array) => void,
): Uint8Array {
  const { body } = splitSigned(signed);
  const copy = new Uint8Array(body);
  edit(copy);
  return signMessage(identity, copy);
}

/** Verifies with the OpenSSL command line: `openssl dgst -<hash> -verify pub.pem -signature sig.der data.bin`. */
export function opensslVerify(
  publicKeyPem: string,
  signature: Uint8Array,
  data: Uint8Array,
  hash = 'sha256',
): boolean {
  const dir = mkdtempSync(join(tmpdir(), 'gjkr-'));
  try {
    writeFileSync(join(dir, 'pub.pem'), publicKeyPem);
    writeFileSync(join(dir, 'sig.der'), signature);
    writeFileSync(join(dir, 'data.bin'), data);
    try {
      const out = execFileSync(
        'openssl',
        ['dgst', `-${hash}`, '-verify', 'pub.pem', '-signature', 'sig.der', 'data.bin'],
        {
          cwd: dir,
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      return out.toString().trim() === 'Verified OK';
    } catch {
      return false;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Byte offsets inside signed bodies: header = tag (1) ‖ context (32) ‖ sender (2). */
export const HEADER_BYTES = 35;

/**
 * A dealer's deal with the sub-shares for `recipients` replaced by random scalars, correctly sealed and
 * signed: the boxes open, but the shares fail the dealer's commitments (a "wrong share" in GJKR's sense).
 */
export function rewriteDealBoxes(
  identity: PartyIdentity,
  deal: Uint8Array,
  group: DlGroup,
  commitmentCount: number,
  recipients: readonly number[],
): Uint8Array {
  const { body } = splitSigned(deal);
  const out = new Uint8Array(body);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const context = out.slice(1, 33);
  let off = HEADER_BYTES + commitmentCount * group.elementBytes;
  const count = view.getUint16(off);
  off += 2;
  for (let i = 0; i < count; i++) {
    const j = view.getUint16(off);
    const len = view.getUint32(off + 2);
    off += 6;
    if (recipients.includes(j)) {
      const scalars = (len - SEAL_OVERHEAD_BYTES) / group.scalarBytes;
      const plain = new Uint8Array(len - SEAL_OVERHEAD_BYTES);
      for (let s = 0; s < scalars; s++)
        plain.set(encodeScalar(group, randomScalar(group, secureRandom)), s * group.scalarBytes);
      const box = seal(identity.encryptionKey(j)!, plain, boxAad(context, identity.index, j), secureRandom);
      out.set(box, off);
    }
    off += len;
  }
  return signMessage(identity, out);
}

/** Flips the lowest bit of the byte at `offset` of a signed body and re-signs it. */
export function flipBodyByte(identity: PartyIdentity, signed: Uint8Array, offset: number): Uint8Array {
  return tamper(identity, signed, (body) => {
    body[offset] = body[offset]! ^ 1;
  });
}

/** Number of commitments in a signing deal (k, a of degree t; b, c of degree 2t without C_0). */
export function signingCommitments(t: number): number {
  return 2 * (t + 1) + 2 * (2 * t);
}

/** Searches a value graph (objects, arrays, maps, sets, typed arrays) for a bigint or its big-endian bytes. */
export function containsSecret(root: unknown, secret: bigint, secretBytes: Uint8Array): boolean {
  const seen = new Set<unknown>();
  const needle = Buffer.from(secretBytes);
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'bigint') {
      if (v === secret) return true;
      continue;
    }
    if (typeof v !== 'object' || v === null || seen.has(v)) continue;
    seen.add(v);
    if (ArrayBuffer.isView(v)) {
      if (Buffer.from(v.buffer, v.byteOffset, v.byteLength).includes(needle)) return true;
      continue;
    }
    if (v instanceof Map) for (const [k, x] of v) stack.push(k, x);
    else if (v instanceof Set) for (const x of v) stack.push(x);
    else for (const k of Object.getOwnPropertyNames(v)) stack.push((v as Record<string, unknown>)[k]);
  }
  return false;
}

/** `haystack` with the first occurrence of `needle` replaced by `replacement` (same length). */
export function replaceBytes(haystack: Uint8Array, needle: Uint8Array, replacement: Uint8Array): Uint8Array {
  if (needle.length !== replacement.length) throw new RangeError('replaceBytes: lengths differ');
  const at = Buffer.from(haystack).indexOf(Buffer.from(needle));
  if (at < 0) return haystack;
  const out = new Uint8Array(haystack);
  out.set(replacement, at);
  return out;
}

/**
 * A dealer that sends `rewrite(deal)` instead of its deal, and otherwise behaves like the honest server
 * that made the original (it sees its own original deal when the deals are relayed back).
 */
export function cheatingDealer(
  rewrite: (deal: Uint8Array) => Uint8Array,
  after: (honest: Handler) => Handler = (honest) => honest,
): (honest: Handler) => Handler {
  return (honest) => {
    let original: Uint8Array | undefined;
    let sent: Uint8Array | undefined;
    const rest = after(honest);
    return (request, round) => {
      if (round === 'open') {
        original = honest(request, round);
        sent = rewrite(original);
        return sent;
      }
      const seen =
        original !== undefined && sent !== undefined ? replaceBytes(request, sent, original) : request;
      return rest(seen, round);
    };
  };
}
