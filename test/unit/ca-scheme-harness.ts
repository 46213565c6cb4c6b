/**
 * An in-process harness for one CA scheme (src/protocol/ca/scheme.ts): n holders with real Ed25519 node keys
 * and X25519 keys, a RoundTrip that calls them directly, keys kept as the service would keep them, and hooks
 * for holders that are down or malicious. The service itself (ownership, logging, persistence) is tested
 * elsewhere; this exercises the scheme's bytes.
 */
import { secureRandom } from '../../src/env/random.js';
import { sign, signingKeyFromSeed, verify } from '../../src/crypto/ed25519.js';
import { x25519KeyPair } from '../../src/crypto/threshold/gjkr-seal.js';
import {
  SchemeError,
  type GroupDirectory,
  type HolderIdentity,
  type RoundTrip,
  type SchemeHolder,
  type SignInput,
  type StoredKey,
} from '../../src/protocol/ca/scheme.js';

/** What a malicious or broken holder does to its answer (undefined = withhold). */
export type Tamper = (
  index: number,
  round: string,
  answer: Uint8Array,
  request: Uint8Array,
) => Uint8Array | undefined;

export interface Harness {
  readonly n: number;
  readonly directory: GroupDirectory;
  readonly identities: readonly HolderIdentity[];
  /** holders[i-1] is holder i. */
  readonly holders: readonly SchemeHolder[];
  /** keys[i-1] is holder i's stored key once setup gave it one. */
  readonly keys: (StoredKey | undefined)[];
  /** Holders that do not answer at all. */
  readonly down: Set<number>;
  /** Per-holder answer tampering (malicious holders). */
  readonly tamper: Map<number, Tamper>;
  /** Every request each holder received, by round (replay tests). */
  readonly received: Map<number, { round: string; body: Uint8Array }[]>;
  /** A RoundTrip for setup session `sid`. */
  setupTrip(sid: Uint8Array): RoundTrip;
  /** A RoundTrip for signing session `sid` of `input`. */
  signTrip(sid: Uint8Array, input: SignInput): RoundTrip;
  /** The clock the holders see (ms); tests move it. */
  nowMs: number;
  /** keys a reshare gave each holder, before the owner commits them (pending[i-1] for holder i). */
  readonly pending: (StoredKey | undefined)[];
  /** A RoundTrip to these holders as the old group (dealers) of reshare session `sid` to `target`. */
  dealTrip(sid: Uint8Array, target: GroupDirectory): RoundTrip;
  /** A RoundTrip to these holders as the new group of reshare session `sid` from `dealers`' key `oldPublicKey`. */
  receiveTrip(sid: Uint8Array, dealers: GroupDirectory, oldPublicKey: Uint8Array): RoundTrip;
}

/** n holders built by `makeHolder`, each with a fresh node key and X25519 key. */
export function makeHarness(n: number, makeHolder: () => SchemeHolder): Harness {
  const b = Math.floor((n - 1) / 3);
  const nodeKeys = Array.from({ length: n }, () => signingKeyFromSeed(secureRandom.bytes(32)));
  const encryption = Array.from({ length: n }, () => x25519KeyPair(secureRandom.bytes(32)));
  const directory: GroupDirectory = {
    n,
    b,
    encryptionKey: (i) =>
      Number.isInteger(i) && i >= 1 && i <= n ? encryption[i - 1]!.publicKey : undefined,
    verify: (i, message, signature) => {
      if (!Number.isInteger(i) || i < 1 || i > n) return false;
      try {
        return verify(nodeKeys[i - 1]!.publicKey, message, signature);
      } catch {
        return false;
      }
    },
  };
  const identities = nodeKeys.map((key, k): HolderIdentity => ({
    ...directory,
    index: k + 1,
    encryption: encryption[k]!,
    sign: (message) => sign(key, message),
  }));
  const holders = Array.from({ length: n }, makeHolder);
  const h: Harness = {
    n,
    directory,
    identities,
    holders,
    keys: Array.from({ length: n }, () => undefined),
    down: new Set(),
    tamper: new Map(),
    received: new Map(),
    nowMs: 1_000_000,
    pending: Array.from({ length: n }, () => undefined),
    dealTrip: (sid, target) =>
      trip(h, async (i, body) => {
        const key = h.keys[i - 1];
        const reshare = holders[i - 1]!.reshare;
        if (key === undefined || reshare === undefined)
          throw new SchemeError('refused', `holder ${i} cannot deal`);
        return reshare.deal(identities[i - 1]!, key, target, sid, body, h.nowMs);
      }),
    receiveTrip: (sid, dealers, oldPublicKey) =>
      trip(h, async (i, body) => {
        const reshare = holders[i - 1]!.reshare;
        if (reshare === undefined) throw new SchemeError('refused', `holder ${i} cannot reshare`);
        const reply = reshare.receive(identities[i - 1]!, dealers, oldPublicKey, sid, body, h.nowMs);
        if (reply.key !== undefined) h.pending[i - 1] = reply.key;
        return reply.response;
      }),
    setupTrip: (sid) =>
      trip(h, async (i, body) => {
        const reply = await holders[i - 1]!.setup(identities[i - 1]!, sid, body, h.nowMs);
        if (reply.key !== undefined) h.keys[i - 1] = reply.key;
        return reply.response;
      }),
    signTrip: (sid, input) =>
      trip(h, async (i, body) => {
        const key = h.keys[i - 1];
        if (key === undefined) throw new SchemeError('refused', `holder ${i} has no key`);
        return holders[i - 1]!.sign(identities[i - 1]!, key, sid, input, body, h.nowMs);
      }),
  };
  return h;
}

function trip(h: Harness, call: (index: number, body: Uint8Array) => Promise<Uint8Array>): RoundTrip {
  return async (round, to, body) => {
    const out = new Map<number, Uint8Array | undefined>();
    await Promise.all(
      to.map(async (i) => {
        if (!Number.isInteger(i) || i < 1 || i > h.n) throw new RangeError(`no holder ${String(i)}`);
        const request = body(i);
        const log = h.received.get(i) ?? [];
        log.push({ round, body: request });
        h.received.set(i, log);
        if (h.down.has(i)) return out.set(i, undefined);
        let answer: Uint8Array | undefined;
        try {
          answer = await call(i, request);
        } catch (e) {
          if (!(e instanceof SchemeError)) throw e; // a crash is a bug, never a refusal
          answer = undefined;
        }
        const tamper = h.tamper.get(i);
        if (answer !== undefined && tamper !== undefined) answer = tamper(i, round, answer, request);
        out.set(i, answer);
      }),
    );
    return out;
  };
}

/** Flips one bit in the middle of `bytes` (a wrong share that still decodes, most of the time). */
export function flipBit(bytes: Uint8Array, at = Math.floor(bytes.length / 2)): Uint8Array {
  const copy = new Uint8Array(bytes);
  copy[at]! ^= 0x01;
  return copy;
}
