/**
 * Threshold RSA for an EXISTING key, BFTKV paper §3.4 ("RSA"): the private exponent is split additively,
 * d ≡ Σ d_i (mod φ(N)), and (t, n) is emulated with the paper's recursive compensation tree. Signatures are
 * standard RSA PKCS#1 v1.5 (RFC 8017 §8.2) — byte-for-byte what the whole key produces — and every partial
 * signature is verifiable, which the paper's scheme is not (we add it so culprits can be named).
 *
 * Tree (our indexing; REFERENCE.md §8.1 numbers nodes T·n + i + 1, we name them by their path instead):
 * a node is the sequence of distinct server positions on the way down from the root, e.g. [2, 5]; positions
 * are 1..n. The root [] holds d mod φ(N). A node of depth ≤ n − t is split: its piece is written as a sum
 * mod φ(N) of one child piece per position NOT on its path (n − depth ≥ t children; all but the last child
 * uniform in [0, φ(N)), the last one compensating). Node [p_1, …, p_k] is held by server p_k, so server i
 * holds exactly the pieces of the nodes whose path ends in i, down to depth n − t + 1 (the leaves). A node
 * is complete when its holder returns a valid partial signature, or (depth ≤ n − t) when all its children
 * are complete. With F the servers that fail, |F| ≤ n − t: every node whose path lies inside F has depth
 * ≤ |F| ≤ n − t, so it is split, and its children are either answered (holder ∉ F) or again inside F;
 * hence any t responders complete the root. Nodes: Σ_{k=1}^{n−t+1} n!/(n−k)! (5,860 for (7,10), 586 each).
 *
 * Secrecy: for any coalition C of fewer than t servers, every split node has n − depth ≥ t > |C| children,
 * so it has a child whose holder is outside C; taking that child as the compensating one (the children are
 * uniform on the hyperplane Σ = parent whichever is designated), every piece C holds is an independent
 * uniform value in [0, φ(N)), independent of d.
 *
 * Verifiability (added to the paper): the dealer publishes v = r² mod N (r random, v ≢ 1 mod p and mod q)
 * and v_T = v^{d_T} mod N for every non-root node T. Server i answers for node T with
 *   X_T = x^{2·d_T} mod N,  x = OS2IP(EMSA-PKCS1-v1_5(digest)),
 * and Shoup's proof (rsa-common.ts) that log_v v_T = log_{x̃} X_T², x̃ = x⁴ — exactly Shoup §3 with Δ = 1
 * and λ = 1. Squaring X_T removes the ±1 ambiguity Shoup's factor 2 removes: a server can multiply X_T by
 * −1 undetectably, but the combiner only uses X_T². The combiner takes a cover of the root by complete
 * nodes, w = Π X_T² = x^{4·Σ d_T} = x^{4d} (Σ d_T ≡ d mod φ(N)), so w^e = x⁴; with a·4 + b·e = 1 (e is odd),
 * y = w^a·x^b has y^e = x, i.e. y is THE RSA signature x^d. The combiner verifies y with node:crypto before
 * returning it; nothing unverified is ever output.
 *
 * Soundness caveat: an imported key's primes are not safe primes, so Z_N^* may have elements of small order
 * other than ±1. A server that knew such an element u could pass the proof with X_T·u (Fiat–Shamir grinding
 * over c mod ord(u)). Soundness therefore rests on v being a random square (large order, chosen by the
 * honest dealer) and on the assumption that such u cannot be found without the factorisation — the kind
 * of assumption Damgård–Koprowski ("Practical threshold RSA signatures without a trusted dealer",
 * EUROCRYPT 2001) make for moduli without safe primes. Were it broken, the final node:crypto check still
 * refuses the signature ('invalidSignature'); only the naming of the culprit would fail. Shoup's scheme
 * (rsa-shoup.ts) relies on safe primes instead and has no such caveat.
 *
 * Public data: the full record (v and every v_T: 5,860 keys for (7, 10), 1.5 MB at 2048 bits) is the dealer's;
 * what holders and combiners keep is the compact public record (AdditivePublicRecord): N, e, n, t, v and, per
 * server i, the root of a Merkle tree over the keys v_T of the nodes i holds. Server i keeps its own keys in
 * its share and sends each v_T with its Merkle path beside the partial signature, so a combiner that has only
 * the compact record checks v_T against the root before it checks the proof. The record's SHA-256 identity
 * (additiveRecordId) is bound into every share and proof.
 *
 * Pieces are integers in [0, φ(N)); many of them bound φ(N) from above only to within about φ(N)/count,
 * far coarser than N − φ(N) ≈ 2√N, which N already gives away.
 *
 * The dealer (the importing client) holds the key only during dealAdditive; callers must drop it after.
 */
import type { Random } from '../../env/random.js';
import { ByteReader, ByteWriter, CodecError, bytesEqual } from '../../codec/bytes.js';
import { sha256 } from '../hash.js';
import {
  type Culprit,
  type EqualLogProof,
  type PartialCheck,
  ThresholdRsaError,
  L1,
  egcd,
  fixedBasePow,
  fixedBaseTable,
  gcd,
  isList,
  isUnit,
  jacobi,
  mod,
  modInverse,
  modPow,
  equalLogPowers,
  powerOf,
  proofResponseBitsMax,
  proveEqualLogs,
  randomBelow,
  randomUnit,
  verifyEqualLogs,
  cachedId,
  readBig,
  readVersion,
  writeBig,
} from './rsa-common.js';
import {
  DIGEST_BYTES,
  HASH_IDS,
  CONTEXT_BYTES_MAX,
  MODULUS_BITS_MAX,
  type RsaPrivateKey,
  type RsaPublicKey,
  type RsaSignMessage,
  bitLength,
  checkRsaPrivateKey,
  checkRsaPublicKey,
  checkSignMessage,
  hashFromId,
  i2osp,
  modulusBytes,
  os2ip,
  pkcs1Representative,
  verifyPkcs1Digest,
} from './rsa-pkcs1.js';

/** Most servers an additive dealing supports. */
export const ADDITIVE_SERVERS_MAX = 64;
/** Most tree nodes (pieces) a dealing may have; (7, 10) has 5,860, (8, 12) would have 108,396. */
export const ADDITIVE_TREE_NODES_MAX = 20_000;

/** A tree node: the distinct positions (1..n) on the way down from the root; never empty. */
export type TreePath = readonly number[];

/** Public data of an additive dealing: the RSA public key, v, and v_T for every tree node. */
export interface AdditiveVerification extends RsaPublicKey {
  /** n, the number of servers. */
  readonly servers: number;
  /** t, the number of responders that always suffice. */
  readonly threshold: number;
  /** v, the verification base (a random square mod N). */
  readonly v: bigint;
  /** v_T = v^{d_T} mod N for every tree node T, in canonical order (treeNodes). */
  readonly nodeKeys: readonly bigint[];
}

/**
 * The compact public record of a dealing: the RSA key, v, and for every server the Merkle root over the
 * keys v_T of the nodes it holds. Holders and combiners keep this (about 1 KB for (7, 10) at 2048 bits).
 */
export interface AdditivePublicRecord extends RsaPublicKey {
  readonly servers: number;
  readonly threshold: number;
  readonly v: bigint;
  /** holderRoots[i − 1] = additiveKeysRoot(server i's v_T in heldNodes order, modulusBytes(N)). */
  readonly holderRoots: readonly Uint8Array[];
}

/** What a combiner checks partials against: the full record (every v_T) or the compact public record. */
export type AdditiveVerifier = AdditiveVerification | AdditivePublicRecord;

/** A node key v_T with its Merkle path to its holder's root (siblings from the leaf up). */
export interface AdditiveKeyProof {
  readonly key: bigint;
  readonly path: readonly Uint8Array[];
}

/** Server i's share: its pieces d_T and their keys v_T, for the nodes T whose path ends in i. */
export interface AdditiveShare {
  readonly index: number;
  readonly servers: number;
  readonly threshold: number;
  readonly publicKey: RsaPublicKey;
  readonly v: bigint;
  /** additiveRecordId of the dealing's public record. */
  readonly verificationId: Uint8Array;
  /** d_T for the nodes heldNodes(servers, threshold, index), same order. Secret. */
  readonly pieces: readonly bigint[];
  /** v_T for the same nodes. */
  readonly pieceKeys: readonly bigint[];
}

/** What dealing produces: the public key, the public verification record, one share per server. */
export interface AdditiveDealing {
  readonly publicKey: RsaPublicKey;
  readonly verification: AdditiveVerification;
  /** The compact public record holders and combiners keep. */
  readonly record: AdditivePublicRecord;
  /** shares[i − 1] is server i's. */
  readonly shares: readonly AdditiveShare[];
}

/** A request to one server: the message to sign and the nodes (all ending in its index) to sign for. */
export interface AdditiveSignRequest {
  readonly message: RsaSignMessage;
  readonly nodes: readonly TreePath[];
}

/**
 * A partial signature X_T = x^{2 d_T} for node T with its proof of correctness, and v_T with its Merkle path
 * (partialSignAdditive always adds it; a combiner holding only the compact record requires it).
 */
export interface AdditivePartial {
  readonly node: TreePath;
  readonly value: bigint;
  readonly proof: EqualLogProof;
  readonly keyProof?: AdditiveKeyProof;
}

/** A server's answer as the combiner received it from authenticated sender `from`. */
export interface AdditiveResponse {
  readonly from: number;
  readonly partials: readonly AdditivePartial[];
}

/** A combined, verified signature. */
export interface AdditiveSignature {
  /** The PKCS#1 v1.5 signature, k = ⌈bits(N)/8⌉ bytes. */
  readonly signature: Uint8Array;
  /** Senders of invalid partial signatures. */
  readonly culprits: readonly Culprit[];
  /** The tree nodes whose partial signatures were multiplied (a cover of the root). */
  readonly cover: readonly TreePath[];
}

// ---- Tree layout ----

interface Layout {
  readonly servers: number;
  readonly threshold: number;
  readonly nodes: readonly TreePath[];
  readonly indexOf: ReadonlyMap<string, number>;
  /** held[i] = canonical indices of the nodes ending in i (held[0] unused). */
  readonly held: readonly (readonly number[])[];
  /** positionOf[idx] = position of node idx in its holder's list held[last(node)]. */
  readonly positionOf: readonly number[];
}

/** The map key of a tree node ("2.5"). */
export function pathKey(path: TreePath): string {
  return path.join('.');
}

/** Number of non-root tree nodes for (t, n): Σ_{k=1}^{n−t+1} n!/(n−k)!. */
export function treeSize(servers: number, threshold: number): number {
  checkServers(servers, threshold);
  let total = 0;
  let perms = 1;
  for (let k = 1; k <= servers - threshold + 1; k++) {
    perms *= servers - k + 1;
    total += perms;
    if (total > ADDITIVE_TREE_NODES_MAX) return Infinity;
  }
  return total;
}

function checkServers(servers: number, threshold: number): void {
  if (!Number.isInteger(servers) || servers < 1 || servers > ADDITIVE_SERVERS_MAX)
    throw new RangeError(`servers: expected an integer in 1..${ADDITIVE_SERVERS_MAX}, got ${servers}`);
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > servers)
    throw new RangeError(`threshold: expected an integer in 1..${servers}, got ${threshold}`);
}

const layouts = new Map<string, Layout>();

function layout(servers: number, threshold: number): Layout {
  const cacheKey = `${servers}/${threshold}`;
  const cached = layouts.get(cacheKey);
  if (cached !== undefined) return cached;
  const size = treeSize(servers, threshold);
  if (size > ADDITIVE_TREE_NODES_MAX)
    throw new RangeError(
      `(threshold, servers) = (${threshold}, ${servers}): the tree would exceed ${ADDITIVE_TREE_NODES_MAX} nodes`,
    );
  // Breadth-first with ascending children: canonical order is by depth, then lexicographic.
  const nodes: TreePath[] = [];
  let frontier: TreePath[] = [[]];
  for (let depth = 1; depth <= servers - threshold + 1; depth++) {
    const next: TreePath[] = [];
    for (const parent of frontier)
      for (let j = 1; j <= servers; j++) if (!parent.includes(j)) next.push([...parent, j]);
    nodes.push(...next);
    frontier = next;
  }
  const indexOf = new Map<string, number>();
  const held: number[][] = Array.from({ length: servers + 1 }, () => []);
  const positionOf: number[] = [];
  nodes.forEach((node, i) => {
    indexOf.set(pathKey(node), i);
    const mine = held[node[node.length - 1]!]!;
    positionOf.push(mine.length);
    mine.push(i);
  });
  const result: Layout = { servers, threshold, nodes, indexOf, held, positionOf };
  if (layouts.size >= 32) layouts.clear();
  layouts.set(cacheKey, result);
  return result;
}

/** All non-root tree nodes for (t, n) in canonical order (by depth, then lexicographic). */
export function treeNodes(servers: number, threshold: number): readonly TreePath[] {
  return layout(servers, threshold).nodes;
}

/** The nodes server `index` holds (paths ending in `index`), in canonical order. */
export function heldNodes(servers: number, threshold: number, index: number): readonly TreePath[] {
  const l = layout(servers, threshold);
  if (!Number.isInteger(index) || index < 1 || index > servers)
    throw new RangeError(`index: expected 1..${servers}, got ${index}`);
  return l.held[index]!.map((i) => l.nodes[i]!);
}

function childrenOf(l: Layout, path: TreePath): TreePath[] {
  const out: TreePath[] = [];
  for (let j = 1; j <= l.servers; j++) if (!path.includes(j)) out.push([...path, j]);
  return out;
}

/** True if node `path` (root = []) is split among children: depth ≤ n − t. */
function isSplit(l: Layout, path: TreePath): boolean {
  return path.length <= l.servers - l.threshold;
}

/** Canonical index of a well-formed node, or undefined (wrong type, repeated or out-of-range positions, too deep). */
function nodeIndex(l: Layout, node: unknown): number | undefined {
  if (!Array.isArray(node) || node.length < 1 || node.length > l.servers - l.threshold + 1) return undefined;
  for (const p of node as unknown[]) if (!Number.isInteger(p)) return undefined;
  return l.indexOf.get(pathKey(node as number[]));
}

// ---- Merkle commitment to each server's node keys ----
//
// Leaves: SHA-256(0x00 ‖ u32 position ‖ I2OSP(v_T, k)); inner nodes: SHA-256(0x01 ‖ left ‖ right); on a level
// of odd width the last node moves up unchanged. The shape depends only on the leaf count, which the
// verifier takes from (n, t), never from the prover, so a path has exactly one valid length and a position
// cannot be moved. (The root alone does not bind the count: 3 and 4 leaves can share a path shape.)

const MERKLE_HASH_BYTES = 32;
/** Longest Merkle path accepted (2^32 leaves; the tree bound keeps real paths far shorter). */
const MERKLE_PATH_MAX = 32;

function keyLeaf(position: number, key: bigint, k: number): Uint8Array {
  return sha256(new Uint8Array([0]), new ByteWriter(4).u32(position).finish(), i2osp(key, k));
}

function innerHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256(new Uint8Array([1]), left, right);
}

/** Every level of the tree over `keys`, leaves first, the root alone last. */
function merkleLevels(keys: readonly bigint[], k: number): Uint8Array[][] {
  if (keys.length === 0) throw new RangeError('keys: a Merkle tree needs at least one leaf');
  const levels: Uint8Array[][] = [keys.map((key, i) => keyLeaf(i, key, k))];
  for (let level = levels[0]!; level.length > 1;) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2)
      next.push(i + 1 < level.length ? innerHash(level[i]!, level[i + 1]!) : level[i]!);
    levels.push(next);
    level = next;
  }
  return levels;
}

/** The Merkle root over one server's node keys v_T (heldNodes order), k = modulusBytes(N). */
export function additiveKeysRoot(keys: readonly bigint[], k: number): Uint8Array {
  const levels = merkleLevels(keys, k);
  return levels[levels.length - 1]![0]!;
}

/** The Merkle path of leaf `position` among `keys` (what a server sends beside a partial). */
export function additiveKeyPath(keys: readonly bigint[], k: number, position: number): Uint8Array[] {
  if (!Number.isInteger(position) || position < 0 || position >= keys.length)
    throw new RangeError(`position: expected 0..${keys.length - 1}, got ${position}`);
  return pathFromLevels(merkleLevels(keys, k), position);
}

/** Whether `key` is leaf `position` of a tree of `count` leaves with root `root`, by `path`. */
export function additiveKeyPathValid(
  key: bigint,
  position: number,
  count: number,
  path: readonly Uint8Array[],
  k: number,
  root: Uint8Array,
): boolean {
  if (!Number.isInteger(position) || position < 0 || position >= count || path.length > MERKLE_PATH_MAX)
    return false;
  const computed = rootFromPath(key, position, count, path, k);
  return computed !== undefined && bytesEqual(computed, root);
}

function pathFromLevels(levels: readonly Uint8Array[][], position: number): Uint8Array[] {
  const path: Uint8Array[] = [];
  let i = position;
  for (const level of levels.slice(0, -1)) {
    const sibling = i ^ 1;
    if (sibling < level.length) path.push(level[sibling]!);
    i >>= 1;
  }
  return path;
}

/** The root that `key` at `position` of `count` leaves leads to through `path`; undefined if the length is wrong. */
function rootFromPath(
  key: bigint,
  position: number,
  count: number,
  path: readonly Uint8Array[],
  k: number,
): Uint8Array | undefined {
  if (key < 0n || bitLength(key) > 8 * k) return undefined;
  let hash = keyLeaf(position, key, k);
  let used = 0;
  for (let i = position, width = count; width > 1; i >>= 1, width = Math.ceil(width / 2)) {
    if ((i ^ 1) >= width) continue; // the last node of an odd level moves up unchanged
    const sibling = path[used++];
    if (sibling === undefined || sibling.length !== MERKLE_HASH_BYTES) return undefined;
    hash = (i & 1) === 0 ? innerHash(hash, sibling) : innerHash(sibling, hash);
  }
  return used === path.length ? hash : undefined;
}

// ---- Dealing ----

/** v^exp mod N through the CRT with fixed-base tables mod p and mod q (dealer only: it knows p and q). */
function crtFixedBase(v: bigint, key: RsaPrivateKey): (exp: bigint) => bigint {
  const tableP = fixedBaseTable(v % key.p, key.p, bitLength(key.p));
  const tableQ = fixedBaseTable(v % key.q, key.q, bitLength(key.q));
  const qInvModP = modInverse(key.q, key.p);
  return (exp) => {
    const a = fixedBasePow(tableP, exp % (key.p - 1n));
    const b = fixedBasePow(tableQ, exp % (key.q - 1n));
    return b + mod(qInvModP * (a - b), key.p) * key.q;
  };
}

/**
 * Splits an existing private key (paper §3.4) among `servers` servers so that any `threshold` of them can
 * sign. Returns the public verification record (publish it authenticated: combiners must get it from the
 * dealer, not from a server) and one share per server. The caller erases `key` afterwards.
 */
export function dealAdditive(
  key: RsaPrivateKey,
  options: { readonly servers: number; readonly threshold: number },
  random: Random,
): AdditiveDealing {
  checkRsaPrivateKey(key);
  const { servers, threshold } = options;
  const l = layout(servers, threshold);
  const n = key.n;
  const phi = (key.p - 1n) * (key.q - 1n);
  const pieces: bigint[] = new Array<bigint>(l.nodes.length);
  // Split every node of depth ≤ n − t, root first (canonical order lists parents before children).
  const split = (parentPiece: bigint, parent: TreePath): void => {
    const children = childrenOf(l, parent);
    let sum = 0n;
    children.forEach((child, k) => {
      const piece = k < children.length - 1 ? randomBelow(random, phi) : mod(parentPiece - sum, phi);
      sum += piece;
      pieces[l.indexOf.get(pathKey(child))!] = piece;
    });
  };
  split(mod(key.d, phi), []);
  l.nodes.forEach((node, i) => {
    if (isSplit(l, node)) split(pieces[i]!, node);
  });
  // v: a random square with v ≢ 1 modulo p and modulo q.
  let v = 0n;
  for (let attempt = 0; ; attempt++) {
    if (attempt >= 100) throw new Error('Invariant: no verification base found in 100 draws');
    const r = randomUnit(random, n);
    v = (r * r) % n;
    if (gcd(v - 1n, n) === 1n) break;
  }
  const powV = crtFixedBase(v, key);
  const nodeKeys = pieces.map(powV);
  const publicKey: RsaPublicKey = { n, e: key.e };
  const verification: AdditiveVerification = { n, e: key.e, servers, threshold, v, nodeKeys };
  const record = additivePublicRecord(verification);
  const verificationId = additiveRecordId(record);
  const shares: AdditiveShare[] = [];
  for (let i = 1; i <= servers; i++) {
    const mine = l.held[i]!;
    shares.push({
      index: i,
      servers,
      threshold,
      publicKey,
      v,
      verificationId,
      pieces: mine.map((k) => pieces[k]!),
      pieceKeys: mine.map((k) => nodeKeys[k]!),
    });
  }
  return { publicKey, verification, record, shares };
}

const records = new WeakMap<AdditiveVerification, AdditivePublicRecord>();

/** The compact public record of a full verification record (Merkle roots over each server's keys). */
export function additivePublicRecord(verification: AdditiveVerification): AdditivePublicRecord {
  let record = records.get(verification);
  if (record === undefined) {
    const l = layout(verification.servers, verification.threshold);
    if (!isList(verification.nodeKeys) || verification.nodeKeys.length !== l.nodes.length)
      throw new RangeError(`verification.nodeKeys: expected ${l.nodes.length} keys`);
    const k = modulusBytes(verification.n);
    const { n, e, servers, threshold, v } = verification;
    const holderRoots: Uint8Array[] = [];
    for (let i = 1; i <= servers; i++)
      holderRoots.push(
        additiveKeysRoot(
          l.held[i]!.map((idx) => verification.nodeKeys[idx]!),
          k,
        ),
      );
    record = { n, e, servers, threshold, v, holderRoots };
    records.set(verification, record);
  }
  return record;
}

/** SHA-256 identity of a public record (its canonical encoding); bound into shares and proofs. */
export const additiveRecordId: (record: AdditivePublicRecord) => Uint8Array = cachedId(
  'bftkv/threshold-rsa/additive-record/v1',
  (record: AdditivePublicRecord) => encodeAdditivePublicRecord(record),
);

/** The identity bound into shares and proofs: additiveRecordId of the dealing's public record. */
export function additiveVerificationId(verifier: AdditiveVerifier): Uint8Array {
  return additiveRecordId(isFullRecord(verifier) ? additivePublicRecord(verifier) : verifier);
}

function isFullRecord(verifier: AdditiveVerifier): verifier is AdditiveVerification {
  return 'nodeKeys' in verifier;
}

/**
 * Checks a verification record against its public key: sizes, every v_T in Z_N^*, every split node's key
 * equal to the product of its children's keys, and (Π_j v_[j])^e = v, i.e. the root key is v^d. Throws
 * ThresholdRsaError 'badDealing' (or RangeError for a malformed argument).
 */
export function checkAdditiveVerification(verification: AdditiveVerification): void {
  checkRsaPublicKey(verification, 'verification');
  const l = layout(verification.servers, verification.threshold);
  const { n, e, v, nodeKeys } = verification;
  if (!isList(nodeKeys) || nodeKeys.length !== l.nodes.length)
    throw new RangeError(
      `verification.nodeKeys: expected ${l.nodes.length} keys, got ${String(nodeKeys?.length)}`,
    );
  // v = r²: a unit with Jacobi symbol 1, v ≢ 1 modulo p and q (necessary conditions; p, q are unknown here).
  if (!isUnit(v, n) || jacobi(v, n) !== 1 || gcd(v - 1n, n) !== 1n)
    throw new ThresholdRsaError('badDealing', 'v is not a valid base');
  nodeKeys.forEach((key, i) => {
    if (!isUnit(key, n))
      throw new ThresholdRsaError('badDealing', `v_T for node ${pathKey(l.nodes[i]!)} is not in Z_N^*`);
  });
  const productOfChildren = (path: TreePath): bigint =>
    childrenOf(l, path).reduce((acc, child) => (acc * nodeKeys[l.indexOf.get(pathKey(child))!]!) % n, 1n);
  l.nodes.forEach((node, i) => {
    if (isSplit(l, node) && productOfChildren(node) !== nodeKeys[i])
      throw new ThresholdRsaError(
        'badDealing',
        `v_T for node ${pathKey(node)} is not the product of its children's`,
      );
  });
  if (modPow(productOfChildren([]), e, n) !== v)
    throw new ThresholdRsaError('badDealing', 'the root key is not v^d for this public key');
}

/**
 * Checks a server's share: v^{d_T} = v_T for every piece, and, given the dealing's full or public record,
 * that the share belongs to it (same key, v, (n, t), record identity) and that its keys are the record's
 * (full record: equal to v_T; public record: their Merkle root is the server's). A server runs this once on
 * receipt; throws ThresholdRsaError 'badDealing'.
 */
export function checkAdditiveShare(share: AdditiveShare, verifier?: AdditiveVerifier): void {
  checkRsaPublicKey(share.publicKey, 'share.publicKey');
  const l = layout(share.servers, share.threshold);
  if (!Number.isInteger(share.index) || share.index < 1 || share.index > share.servers)
    throw new RangeError(`share.index: expected 1..${share.servers}, got ${share.index}`);
  const mine = l.held[share.index]!;
  if (share.pieces.length !== mine.length || share.pieceKeys.length !== mine.length)
    throw new RangeError(`share.pieces: expected ${mine.length} pieces`);
  const n = share.publicKey.n;
  if (!isUnit(share.v, n)) throw new ThresholdRsaError('badDealing', 'v is not in Z_N^*');
  // One base, many exponents below N: a fixed-base table is about 5× cheaper than a modPow per piece.
  const powV = powerOf(share.v, n, bitLength(n), share.pieces.length);
  share.pieces.forEach((piece, k) => {
    if (piece < 0n || piece >= n || powV(piece) !== share.pieceKeys[k])
      throw new ThresholdRsaError(
        'badDealing',
        `piece for node ${pathKey(l.nodes[mine[k]!]!)} does not match its key`,
      );
  });
  if (verifier === undefined) return;
  if (
    verifier.n !== n ||
    verifier.e !== share.publicKey.e ||
    verifier.v !== share.v ||
    verifier.servers !== share.servers ||
    verifier.threshold !== share.threshold ||
    !bytesEqual(additiveVerificationId(verifier), share.verificationId)
  )
    throw new ThresholdRsaError('badDealing', `share ${share.index} belongs to another dealing`);
  if (isFullRecord(verifier)) {
    mine.forEach((nodeIdx, k) => {
      if (verifier.nodeKeys[nodeIdx] !== share.pieceKeys[k])
        throw new ThresholdRsaError(
          'badDealing',
          `key for node ${pathKey(l.nodes[nodeIdx]!)} differs from the record`,
        );
    });
  } else if (
    !bytesEqual(additiveKeysRoot(share.pieceKeys, modulusBytes(n)), verifier.holderRoots[share.index - 1]!)
  )
    throw new ThresholdRsaError('badDealing', `the keys of share ${share.index} are not the record's`);
}

// ---- Signing ----

function transcript(verificationId: Uint8Array, node: TreePath, message: RsaSignMessage): Uint8Array {
  const w = new ByteWriter();
  w.string('bftkv/threshold-rsa/additive/v1').raw(verificationId).u8(node.length);
  for (const p of node) w.u8(p);
  return w.bytes(message.context).u8(HASH_IDS[message.hash]).bytes(message.digest).finish();
}

function representative(n: bigint, message: RsaSignMessage): bigint {
  const x = pkcs1Representative(n, message.hash, message.digest);
  if (gcd(x, n) !== 1n)
    throw new ThresholdRsaError('badDealing', 'message representative shares a factor with N');
  return x;
}

function badRequest(message: string): never {
  throw new ThresholdRsaError('badRequest', message);
}

/**
 * Server side: partial signatures X_T = x^{2 d_T} mod N with proofs and the key proofs of v_T, for every
 * requested node. The request comes from a client, so it is validated here: a malformed message, a node
 * this server does not hold, or a repeated node is rejected with ThresholdRsaError 'badRequest'.
 */
export function partialSignAdditive(
  share: AdditiveShare,
  request: AdditiveSignRequest,
  random: Random,
): AdditivePartial[] {
  const l = layout(share.servers, share.threshold);
  try {
    checkSignMessage(request.message);
  } catch (err) {
    badRequest(err instanceof Error ? err.message : String(err));
  }
  const mine = l.held[share.index]!;
  if (!isList(request.nodes) || request.nodes.length === 0 || request.nodes.length > mine.length)
    badRequest(`nodes: expected 1..${mine.length} nodes`);
  const n = share.publicKey.n;
  const x = representative(n, request.message);
  const xTilde = modPow(x, 4n, n);
  const seen = new Set<number>();
  for (const node of request.nodes) {
    const idx = nodeIndex(l, node);
    if (idx === undefined || node[node.length - 1] !== share.index)
      badRequest(`node ${isList(node) ? pathKey(node) : typeof node} is not held by server ${share.index}`);
    if (seen.has(idx)) badRequest(`node ${pathKey(node)} requested twice`);
    seen.add(idx);
  }
  const levels = merkleLevels(share.pieceKeys, modulusBytes(n));
  // Every exponentiation of a request has base x (x^{2d_T}, and x̃^r = x^{4r}) or v: with several nodes, one
  // fixed-base table per base serves them all (exponents below 2^{L(N)+2·L1+2}).
  const count = request.nodes.length;
  const powX = powerOf(x, n, bitLength(n) + 2 * L1 + 2, 2 * count);
  const powV = equalLogPowers(share.v, n, count);
  const partials: AdditivePartial[] = [];
  for (const node of request.nodes) {
    const k = l.positionOf[nodeIndex(l, node)!]!;
    const piece = share.pieces[k]!;
    const value = powX(2n * piece);
    const proof = proveEqualLogs(
      {
        n,
        v: share.v,
        vShare: share.pieceKeys[k]!,
        xTilde,
        xHat: (value * value) % n,
        transcript: transcript(share.verificationId, node, request.message),
        powV,
        powXTilde: (r) => powX(4n * r),
      },
      piece,
      random,
    );
    const keyProof = { key: share.pieceKeys[k]!, path: pathFromLevels(levels, k) };
    partials.push({ node: [...node], value, proof, keyProof });
  }
  return partials;
}

/**
 * Combiner side: checks one partial from authenticated sender `from`: the node is a tree node held by
 * `from`, the value is in Z_N^*, v_T is the record's (from the full record, or the partial's key proof
 * against `from`'s Merkle root in the public record), and the proof verifies for this dealing, node,
 * message and context. Never throws on peer data.
 */
export function verifyAdditivePartial(
  verifier: AdditiveVerifier,
  message: RsaSignMessage,
  from: number,
  partial: AdditivePartial,
): PartialCheck {
  checkSignMessage(message);
  return checkPartial(partialContext(verifier, message, 1), from, partial);
}

/** What verifying partials of one message needs once: the record id, x̃ = x^4, and powers of v and x̃. */
interface PartialContext {
  readonly verifier: AdditiveVerifier;
  readonly message: RsaSignMessage;
  readonly id: Uint8Array;
  readonly xTilde: bigint;
  readonly powV: (exp: bigint) => bigint;
  readonly powXTilde: (exp: bigint) => bigint;
}

/** The context for about `uses` partial verifications (fixed-base tables when they pay off). */
function partialContext(verifier: AdditiveVerifier, message: RsaSignMessage, uses: number): PartialContext {
  const n = verifier.n;
  const xTilde = modPow(representative(n, message), 4n, n);
  return {
    verifier,
    message,
    id: additiveVerificationId(verifier),
    xTilde,
    powV: equalLogPowers(verifier.v, n, uses),
    powXTilde: equalLogPowers(xTilde, n, uses),
  };
}

function checkPartial(ctx: PartialContext, from: number, partial: AdditivePartial): PartialCheck {
  const { verifier, message } = ctx;
  const l = layout(verifier.servers, verifier.threshold);
  if (typeof partial !== 'object' || partial === null)
    return { ok: false, reason: 'not a partial signature' };
  const idx = nodeIndex(l, partial.node);
  if (idx === undefined) return { ok: false, reason: 'not a tree node' };
  const at = pathKey(partial.node);
  if (partial.node[partial.node.length - 1] !== from)
    return { ok: false, reason: `node ${at} is not held by ${from}` };
  const n = verifier.n;
  if (typeof partial.value !== 'bigint' || !isUnit(partial.value, n))
    return { ok: false, reason: `value for node ${at} not in Z_N^*` };
  const vShare = nodeKeyOf(verifier, l, idx, from, partial.keyProof);
  if (vShare === undefined) return { ok: false, reason: `key proof for node ${at} does not verify` };
  const valid = verifyEqualLogs(
    {
      n,
      v: verifier.v,
      vShare,
      xTilde: ctx.xTilde,
      xHat: (partial.value * partial.value) % n,
      transcript: transcript(ctx.id, partial.node, message),
      powV: ctx.powV,
      powXTilde: ctx.powXTilde,
    },
    partial.proof,
  );
  return valid ? { ok: true } : { ok: false, reason: `proof for node ${at} does not verify` };
}

/** v_T for node `idx` held by `from`: the full record's, or the key proof's if it leads to from's root. */
function nodeKeyOf(
  verifier: AdditiveVerifier,
  l: Layout,
  idx: number,
  from: number,
  keyProof: AdditiveKeyProof | undefined,
): bigint | undefined {
  if (isFullRecord(verifier)) return verifier.nodeKeys[idx];
  if (typeof keyProof !== 'object' || keyProof === null) return undefined;
  const { key, path } = keyProof;
  if (typeof key !== 'bigint' || !isUnit(key, verifier.n)) return undefined;
  if (!isList(path) || path.length > MERKLE_PATH_MAX) return undefined;
  const root = rootFromPath(key, l.positionOf[idx]!, l.held[from]!.length, path, modulusBytes(verifier.n));
  const expected = verifier.holderRoots[from - 1];
  return root !== undefined && expected !== undefined && bytesEqual(root, expected) ? key : undefined;
}

/** Which nodes to ask for next: per server, the missing nodes it holds; or that signing cannot complete. */
export type AdditivePlan =
  | { readonly status: 'complete' }
  | { readonly status: 'insufficient' }
  | { readonly status: 'request'; readonly requests: ReadonlyMap<number, readonly TreePath[]> };

/**
 * Plans the next round (signRequestPlan): walks down from the root; a child that is missing and whose holder
 * has not failed is requested from its holder; a child whose holder failed is compensated by its own
 * children when it is split (depth ≤ n − t), otherwise signing cannot complete. `have` holds the keys of
 * the nodes with verified partial signatures.
 */
export function planAdditiveRequests(
  servers: number,
  threshold: number,
  failed: ReadonlySet<number>,
  have: ReadonlySet<string>,
): AdditivePlan {
  const l = layout(servers, threshold);
  const requests = new Map<number, TreePath[]>();
  const walk = (path: TreePath): boolean => {
    for (const child of childrenOf(l, path)) {
      if (have.has(pathKey(child))) continue;
      const holder = child[child.length - 1]!;
      if (!failed.has(holder)) {
        const list = requests.get(holder) ?? [];
        list.push(child);
        requests.set(holder, list);
      } else if (!isSplit(l, child) || !walk(child)) return false;
    }
    return true;
  };
  if (!walk([])) return { status: 'insufficient' };
  if (requests.size === 0) return { status: 'complete' };
  return { status: 'request', requests };
}

/**
 * A cover of the root: complete nodes (keys in `have`) whose pieces sum to d mod φ(N) — each child of the
 * root, or of a split node that is not in `have`, in turn; the highest available node is preferred.
 * Undefined if the tree cannot be completed from `have`.
 */
export function additiveCover(
  servers: number,
  threshold: number,
  have: { has(key: string): boolean },
): TreePath[] | undefined {
  const l = layout(servers, threshold);
  const out: TreePath[] = [];
  const walk = (path: TreePath): boolean => {
    for (const child of childrenOf(l, path)) {
      if (have.has(pathKey(child))) out.push(child);
      else if (!isSplit(l, child) || !walk(child)) return false;
    }
    return true;
  };
  return walk([]) ? out : undefined;
}

function combineVerified(
  verification: AdditiveVerifier,
  message: RsaSignMessage,
  have: ReadonlyMap<string, bigint>,
  culprits: readonly Culprit[],
): AdditiveSignature {
  const nodes = additiveCover(verification.servers, verification.threshold, have);
  if (nodes === undefined)
    throw new ThresholdRsaError(
      'insufficientShares',
      'the valid partial signatures do not complete the tree',
      culprits,
    );
  const { n, e } = verification;
  const x = representative(n, message);
  // w = Π X_T² = x^{4d}; y = w^a x^b with 4a + eb = 1, so y^e = x.
  let w = 1n;
  for (const node of nodes) {
    const X = have.get(pathKey(node))!;
    w = (w * ((X * X) % n)) % n;
  }
  const [g, a, b] = egcd(4n, e);
  if (g !== 1n) throw new Error('Invariant: e is odd');
  const y = (modPow(w, a, n) * modPow(x, b, n)) % n;
  const signature = i2osp(y, modulusBytes(n));
  if (!verifyPkcs1Digest(verification, message, signature))
    throw new ThresholdRsaError('invalidSignature', 'combined signature does not verify', culprits);
  return { signature, culprits, cover: nodes };
}

/**
 * Combines partial signatures (one-shot): verifies every partial, names the senders of invalid ones, and
 * multiplies a cover of the root. Throws ThresholdRsaError 'insufficientShares' (with culprits) if the
 * valid partials do not complete the tree, 'invalidSignature' if the result does not verify.
 */
export function combineAdditive(
  verification: AdditiveVerifier,
  message: RsaSignMessage,
  responses: readonly AdditiveResponse[],
): AdditiveSignature {
  checkSignMessage(message);
  const l = layout(verification.servers, verification.threshold);
  const have = new Map<string, bigint>();
  const culprits: Culprit[] = [];
  const blamed = new Set<number>();
  let ctx: PartialContext | undefined;
  for (const { from, partials } of responses) {
    if (!Number.isInteger(from) || from < 1 || from > verification.servers)
      throw new RangeError(`responses[].from: expected 1..${verification.servers}, got ${from}`);
    if (!isList(partials) || partials.length > l.held[from]!.length) {
      if (!blamed.has(from)) culprits.push({ party: from, reason: 'too many partial signatures' });
      blamed.add(from);
      continue;
    }
    for (const partial of partials) {
      ctx ??= partialContext(verification, message, responses.length);
      const check = checkPartial(ctx, from, partial);
      const key = check.ok ? pathKey(partial.node) : '';
      if (check.ok && (!have.has(key) || have.get(key) === partial.value)) {
        have.set(key, partial.value);
        continue;
      }
      // A second, different valid value for a node would need x^{2d_T}·u with u² = 1: equivocation.
      const reason = check.ok ? `two different values for node ${key}` : check.reason;
      if (!blamed.has(from)) culprits.push({ party: from, reason });
      blamed.add(from);
    }
  }
  return combineVerified(verification, message, have, culprits);
}

/** What an AdditiveSigningSession wants next. */
export type AdditiveSessionStep =
  | { readonly status: 'send'; readonly requests: ReadonlyMap<number, AdditiveSignRequest> }
  | { readonly status: 'wait' }
  | { readonly status: 'complete' }
  | { readonly status: 'insufficient'; readonly error: ThresholdRsaError };

/**
 * The client's state for one signature (rounds that return messages, no I/O). Loop: `next()` gives the
 * requests to send (at most one outstanding request per server); feed each answer to `receive` and each
 * silence or transport error to `fail`; when `next()` says 'complete', `finish()` returns the signature.
 */
export class AdditiveSigningSession {
  private readonly layout: Layout;
  private readonly have = new Map<string, bigint>();
  private readonly failed = new Set<number>();
  private readonly outstanding = new Map<number, readonly TreePath[]>();
  private readonly blamed: Culprit[] = [];
  /** Built at the first answer: a session verifies at least n − b partials with the same v and x̃. */
  private context: PartialContext | undefined;

  constructor(
    private readonly verification: AdditiveVerifier,
    private readonly message: RsaSignMessage,
  ) {
    checkSignMessage(message);
    this.layout = layout(verification.servers, verification.threshold);
  }

  /** Servers that sent invalid data, with the reason. */
  get culprits(): readonly Culprit[] {
    return this.blamed;
  }

  /** Servers that will not be asked again (failed to answer or misbehaved). */
  get failedServers(): ReadonlySet<number> {
    return this.failed;
  }

  /** The next step: requests to send, wait for outstanding answers, complete, or insufficient. */
  next(): AdditiveSessionStep {
    const plan = planAdditiveRequests(
      this.layout.servers,
      this.layout.threshold,
      this.failed,
      new Set(this.have.keys()),
    );
    if (plan.status === 'complete') return { status: 'complete' };
    if (plan.status === 'insufficient') return { status: 'insufficient', error: this.insufficient() };
    const requests = new Map<number, AdditiveSignRequest>();
    for (const [server, nodes] of plan.requests) {
      if (this.outstanding.has(server)) continue;
      this.outstanding.set(server, nodes);
      requests.set(server, { message: this.message, nodes });
    }
    return requests.size > 0 ? { status: 'send', requests } : { status: 'wait' };
  }

  /**
   * Records server `from`'s answer to its outstanding request. Every partial is verified; a server that
   * sends an invalid partial, a node it was not asked for, or omits one it was asked for is named and
   * not asked again (its valid partials are still used: they are proven correct). An answer with no
   * outstanding request (late, after `fail`) is ignored: lateness is not provable misbehaviour.
   */
  receive(from: number, partials: readonly AdditivePartial[]): void {
    const asked = this.outstanding.get(from);
    if (asked === undefined) return;
    this.outstanding.delete(from);
    const wanted = new Set(asked.map(pathKey));
    if (!isList(partials) || partials.length > wanted.size) {
      this.blame(from, `sent more than the ${wanted.size} partial signatures asked for`);
      return;
    }
    let fault: string | undefined;
    for (const partial of partials) {
      // Membership first (cheap), the proof only for a node that was asked for and not yet answered.
      const key = isList(partial?.node) ? pathKey(partial.node) : '';
      if (!wanted.delete(key)) {
        fault ??= `node ${key} was not asked for`;
        continue;
      }
      this.context ??= partialContext(this.verification, this.message, this.layout.servers);
      const check = checkPartial(this.context, from, partial);
      if (!check.ok) {
        fault ??= check.reason;
        continue;
      }
      this.have.set(key, partial.value);
    }
    if (fault === undefined && wanted.size > 0) fault = `omitted ${wanted.size} requested node(s)`;
    if (fault !== undefined) this.blame(from, fault);
  }

  /**
   * Records that server `from`'s answer to its outstanding request is provably wrong without looking at
   * its partials (e.g. it does not decode): it is named and compensated for like a silent server.
   */
  reject(from: number, reason: string): void {
    if (!this.outstanding.has(from)) return;
    this.blame(from, reason);
  }

  /** Records that server `from` did not answer (timeout, refusal, transport error): compensate for it. */
  fail(from: number): void {
    if (!Number.isInteger(from) || from < 1 || from > this.layout.servers)
      throw new RangeError(`from: expected 1..${this.layout.servers}, got ${from}`);
    this.outstanding.delete(from);
    this.failed.add(from);
  }

  /** The verified signature; throws ThresholdRsaError if the tree is not complete. */
  finish(): AdditiveSignature {
    return combineVerified(this.verification, this.message, this.have, this.blamed);
  }

  private insufficient(): ThresholdRsaError {
    return new ThresholdRsaError(
      'insufficientShares',
      `${this.layout.servers - this.failed.size} servers left, the tree cannot be completed (t = ${this.layout.threshold})`,
      this.blamed,
    );
  }

  private blame(from: number, reason: string): void {
    if (!Number.isInteger(from) || from < 1 || from > this.layout.servers)
      throw new RangeError(`from: expected 1..${this.layout.servers}, got ${from}`);
    this.outstanding.delete(from);
    this.failed.add(from);
    if (!this.blamed.some((c) => c.party === from)) this.blamed.push({ party: from, reason });
  }
}

// ---- Encodings (canonical, bounded; decoders throw CodecError naming the field). ----

const MODULUS_BYTES_MAX = MODULUS_BITS_MAX / 8;
const VERIFICATION_VERSION = 1;
const RECORD_VERSION = 1;
const SHARE_VERSION = 2;
const REQUEST_VERSION = 1;
const RESPONSE_VERSION = 2;

function readFixed(r: ByteReader, k: number, n: bigint, field: string): bigint {
  const x = os2ip(r.raw(k, field));
  if (x >= n) throw new CodecError(field, 'not below N');
  return x;
}

function readHeader(
  r: ByteReader,
  field: string,
): { n: bigint; e: bigint; servers: number; threshold: number; v: bigint } {
  const n = readBig(r, MODULUS_BYTES_MAX, `${field}.n`);
  const e = readBig(r, 8, `${field}.e`);
  const servers = r.u8(`${field}.servers`);
  const threshold = r.u8(`${field}.threshold`);
  try {
    checkRsaPublicKey({ n, e }, field);
    if (treeSize(servers, threshold) > ADDITIVE_TREE_NODES_MAX) throw new RangeError('tree too large');
  } catch (err) {
    throw new CodecError(field, err instanceof Error ? err.message : String(err));
  }
  const v = readFixed(r, modulusBytes(n), n, `${field}.v`);
  return { n, e, servers, threshold, v };
}

/** Canonical encoding of a verification record (v_T as fixed-length k-byte integers, canonical order). */
export function encodeAdditiveVerification(verification: AdditiveVerification): Uint8Array {
  const k = modulusBytes(verification.n);
  const w = new ByteWriter(64 + k * (verification.nodeKeys.length + 2));
  w.u8(VERIFICATION_VERSION);
  writeBig(w, verification.n);
  writeBig(w, verification.e);
  w.u8(verification.servers).u8(verification.threshold).raw(i2osp(verification.v, k));
  w.u32(verification.nodeKeys.length);
  for (const key of verification.nodeKeys) w.raw(i2osp(key, k));
  return w.finish();
}

/** Decodes a verification record (bounded; ranges only — run checkAdditiveVerification for consistency). */
export function decodeAdditiveVerification(bytes: Uint8Array): AdditiveVerification {
  const r = new ByteReader(bytes);
  readVersion(r, VERIFICATION_VERSION, 'additiveVerification.version');
  const { n, e, servers, threshold, v } = readHeader(r, 'additiveVerification');
  const count = r.u32('additiveVerification.nodeKeys');
  if (count !== treeSize(servers, threshold))
    throw new CodecError(
      'additiveVerification.nodeKeys',
      `expected ${treeSize(servers, threshold)} keys, got ${count}`,
    );
  const k = modulusBytes(n);
  if (r.remaining !== count * k) throw new CodecError('additiveVerification.nodeKeys', 'length mismatch');
  const nodeKeys: bigint[] = [];
  for (let i = 0; i < count; i++) nodeKeys.push(readFixed(r, k, n, 'additiveVerification.nodeKeys'));
  r.finish('additiveVerification');
  return { n, e, servers, threshold, v, nodeKeys };
}

/** Canonical encoding of a public record (about k·2 + 32·n bytes). */
export function encodeAdditivePublicRecord(record: AdditivePublicRecord): Uint8Array {
  const k = modulusBytes(record.n);
  const w = new ByteWriter(64 + 2 * k + MERKLE_HASH_BYTES * record.servers);
  w.u8(RECORD_VERSION);
  writeBig(w, record.n);
  writeBig(w, record.e);
  w.u8(record.servers).u8(record.threshold).raw(i2osp(record.v, k));
  if (!isList(record.holderRoots) || record.holderRoots.length !== record.servers)
    throw new RangeError(`record.holderRoots: expected ${record.servers} roots`);
  for (const root of record.holderRoots) {
    if (!(root instanceof Uint8Array) || root.length !== MERKLE_HASH_BYTES)
      throw new RangeError(`record.holderRoots: expected ${MERKLE_HASH_BYTES}-byte roots`);
    w.raw(root);
  }
  return w.finish();
}

/** Decodes a public record (bounded; checks N, e, (n, t) and that v is a unit with Jacobi symbol 1). */
export function decodeAdditivePublicRecord(bytes: Uint8Array): AdditivePublicRecord {
  const r = new ByteReader(bytes);
  readVersion(r, RECORD_VERSION, 'additiveRecord.version');
  const { n, e, servers, threshold, v } = readHeader(r, 'additiveRecord');
  if (!isUnit(v, n) || jacobi(v, n) !== 1 || gcd(v - 1n, n) !== 1n)
    throw new CodecError('additiveRecord.v', 'not a valid verification base');
  const holderRoots: Uint8Array[] = [];
  for (let i = 0; i < servers; i++) holderRoots.push(r.raw(MERKLE_HASH_BYTES, 'additiveRecord.holderRoots'));
  r.finish('additiveRecord');
  return { n, e, servers, threshold, v, holderRoots };
}

/** Encoding of a server's share (secret: store it encrypted at rest, ship it encrypted to its server). */
export function encodeAdditiveShare(share: AdditiveShare): Uint8Array {
  const n = share.publicKey.n;
  const k = modulusBytes(n);
  const w = new ByteWriter(128 + 2 * k * share.pieces.length);
  w.u8(SHARE_VERSION);
  writeBig(w, n);
  writeBig(w, share.publicKey.e);
  w.u8(share.servers).u8(share.threshold).raw(i2osp(share.v, k));
  w.u8(share.index).raw(share.verificationId);
  w.u32(share.pieces.length);
  share.pieces.forEach((piece, i) => w.raw(i2osp(piece, k)).raw(i2osp(share.pieceKeys[i]!, k)));
  return w.finish();
}

/** Decodes a server's share (bounded; ranges only — run checkAdditiveShare for consistency). */
export function decodeAdditiveShare(bytes: Uint8Array): AdditiveShare {
  const r = new ByteReader(bytes);
  readVersion(r, SHARE_VERSION, 'additiveShare.version');
  const { n, e, servers, threshold, v } = readHeader(r, 'additiveShare');
  const index = r.u8('additiveShare.index');
  if (index < 1 || index > servers) throw new CodecError('additiveShare.index', `out of range: ${index}`);
  const verificationId = r.raw(32, 'additiveShare.verificationId');
  const count = r.u32('additiveShare.pieces');
  const expected = layout(servers, threshold).held[index]!.length;
  if (count !== expected) throw new CodecError('additiveShare.pieces', `expected ${expected}, got ${count}`);
  const k = modulusBytes(n);
  if (r.remaining !== 2 * count * k) throw new CodecError('additiveShare.pieces', 'length mismatch');
  const pieces: bigint[] = [];
  const pieceKeys: bigint[] = [];
  for (let i = 0; i < count; i++) {
    pieces.push(readFixed(r, k, n, 'additiveShare.pieces'));
    pieceKeys.push(readFixed(r, k, n, 'additiveShare.pieceKeys'));
  }
  r.finish('additiveShare');
  return { index, servers, threshold, publicKey: { n, e }, v, verificationId, pieces, pieceKeys };
}

function writePath(w: ByteWriter, path: TreePath): void {
  w.u8(path.length);
  for (const p of path) w.u8(p);
}

function readPath(r: ByteReader, depthMax: number, field: string): TreePath {
  const len = r.u8(field);
  if (len < 1 || len > depthMax) throw new CodecError(field, `path length ${len} outside 1..${depthMax}`);
  const path: number[] = [];
  for (let i = 0; i < len; i++) path.push(r.u8(field));
  return path;
}

/** Encoding of a signing request for one server. */
export function encodeAdditiveSignRequest(request: AdditiveSignRequest): Uint8Array {
  const w = new ByteWriter();
  w.u8(REQUEST_VERSION).bytes(request.message.context).u8(HASH_IDS[request.message.hash]);
  w.bytes(request.message.digest).u32(request.nodes.length);
  for (const node of request.nodes) writePath(w, node);
  return w.finish();
}

/** Decodes a signing request (bounded by the server's dealing; node membership is checked when signing). */
export function decodeAdditiveSignRequest(bytes: Uint8Array, share: AdditiveShare): AdditiveSignRequest {
  const r = new ByteReader(bytes);
  readVersion(r, REQUEST_VERSION, 'additiveSignRequest.version');
  const context = r.bytes(CONTEXT_BYTES_MAX, 'additiveSignRequest.context');
  const hash = hashFromId(r.u8('additiveSignRequest.hash'));
  if (hash === undefined) throw new CodecError('additiveSignRequest.hash', 'unknown hash');
  const digest = r.bytes(DIGEST_BYTES[hash], 'additiveSignRequest.digest');
  if (digest.length !== DIGEST_BYTES[hash])
    throw new CodecError('additiveSignRequest.digest', 'wrong length');
  const count = r.u32('additiveSignRequest.nodes');
  const held = layout(share.servers, share.threshold).held[share.index]!.length;
  if (count > held)
    throw new CodecError('additiveSignRequest.nodes', `count ${count} exceeds the ${held} nodes held`);
  const nodes: TreePath[] = [];
  for (let i = 0; i < count; i++)
    nodes.push(readPath(r, share.servers - share.threshold + 1, 'additiveSignRequest.nodes'));
  r.finish('additiveSignRequest');
  return { message: { context, hash, digest }, nodes };
}

/** Encoding of a server's answer (its partial signatures, each with its key proof when it has one). */
export function encodeAdditivePartials(partials: readonly AdditivePartial[]): Uint8Array {
  const w = new ByteWriter();
  w.u8(RESPONSE_VERSION).u32(partials.length);
  for (const p of partials) {
    writePath(w, p.node);
    writeBig(w, p.value);
    writeBig(w, p.proof.c);
    writeBig(w, p.proof.z);
    w.bool(p.keyProof !== undefined);
    if (p.keyProof === undefined) continue;
    writeBig(w, p.keyProof.key);
    w.u8(p.keyProof.path.length);
    for (const sibling of p.keyProof.path) w.raw(sibling);
  }
  return w.finish();
}

/** Decodes a server's answer, bounded by the dealing (count, depth, value below N, c, z and path sizes). */
export function decodeAdditivePartials(
  bytes: Uint8Array,
  verifier: Pick<AdditiveVerifier, 'n' | 'servers' | 'threshold'>,
): AdditivePartial[] {
  const r = new ByteReader(bytes);
  readVersion(r, RESPONSE_VERSION, 'additivePartials.version');
  const l = layout(verifier.servers, verifier.threshold);
  const count = r.u32('additivePartials.count');
  const perServerMax = Math.ceil(l.nodes.length / l.servers);
  if (count > perServerMax)
    throw new CodecError('additivePartials.count', `${count} exceeds ${perServerMax}`);
  const k = modulusBytes(verifier.n);
  const zBytes = Math.ceil(proofResponseBitsMax(verifier.n) / 8);
  const pathMax = Math.min(MERKLE_PATH_MAX, bitLength(BigInt(perServerMax)));
  const partials: AdditivePartial[] = [];
  for (let i = 0; i < count; i++) {
    const node = readPath(r, verifier.servers - verifier.threshold + 1, 'additivePartials.node');
    const value = readBig(r, k, 'additivePartials.value');
    const c = readBig(r, L1 / 8, 'additivePartials.c');
    const z = readBig(r, zBytes, 'additivePartials.z');
    if (!r.bool('additivePartials.keyProof')) {
      partials.push({ node, value, proof: { c, z } });
      continue;
    }
    const key = readBig(r, k, 'additivePartials.keyProof.key');
    const length = r.u8('additivePartials.keyProof.path');
    if (length > pathMax)
      throw new CodecError('additivePartials.keyProof.path', `length ${length} exceeds ${pathMax}`);
    const path: Uint8Array[] = [];
    for (let j = 0; j < length; j++) path.push(r.raw(MERKLE_HASH_BYTES, 'additivePartials.keyProof.path'));
    partials.push({ node, value, proof: { c, z }, keyProof: { key, path } });
  }
  r.finish('additivePartials');
  return partials;
}
