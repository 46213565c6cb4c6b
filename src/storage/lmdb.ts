/**
 * Durable on-disk Storage on LMDB (through the `lmdb` package, which ships prebuilt native binaries).
 *
 * Why LMDB: it is an embedded, crash-safe B+tree with copy-on-write pages and no write-ahead log to replay,
 * so a kill -9 or power loss leaves the last synced commit intact and recovery is instant. Its writer runs
 * on a native thread and puts every write queued while the previous commit was syncing into one
 * transaction with one fsync (group commit): raw lmdb was measured at ~0.7M durable puts/s batched versus
 * ~3k/s when each put waits for its own fsync (through this class on a dev VM: ~0.4-0.55M puts/s in one
 * batch, ~0.13-0.22M single-op write() calls/s when concurrent, ~3k/s when awaited one by one; 2,000
 * concurrent write() calls cost 6 fdatasyncs). The node issues many small concurrent writes, so group
 * commit is what makes durability affordable.
 *
 * Layout: one LMDB environment per node directory (created with mode 0700), one named sub-database per
 * Namespace, raw binary keys and values (no compression, no cache, no msgpack).
 *
 * Durability contract (see Storage in storage.ts):
 * - `write(ops)` queues all ops as one explicit batch of the asynchronous writer, so they land in the same
 *   LMDB transaction (atomic: all or none). Concurrent `write` calls share one commit.
 * - The promise resolves only after that transaction is committed AND synced to disk: the environment is
 *   opened with `overlappingSync: false` (lmdb's default on Linux resolves at commit and syncs later),
 *   and never with noSync / noMetaSync / useWritemap / mapAsync, so LMDB's commit itself fsyncs.
 * - Every op is validated (namespace, key length 1..MAX_KEY_BYTES, value type) before anything is queued,
 *   so a bad op rejects the whole call and writes nothing. If the commit itself fails, every write that
 *   shared it rejects and none of them is applied.
 * - Values are copied when queued (the caller may reuse its buffers) and every value or key returned is a
 *   fresh Uint8Array owned by the caller.
 * - Any failure rejects with StorageError (the lmdb error is kept as `cause`).
 *
 * Caveat against MemoryStorage: LMDB keys must be 1..1978 bytes; an empty or longer key is rejected.
 */
import { chmod, mkdir, stat } from 'node:fs/promises';
import { open, type Database, type RootDatabase } from 'lmdb';
import {
  NAMESPACES,
  StorageError,
  type Namespace,
  type ScanOptions,
  type Storage,
  type StorageOp,
} from './storage.js';

/** LMDB's key size limit in the lmdb package's default build (mdb_env_get_maxkeysize with 4 KiB pages). */
export const MAX_KEY_BYTES = 1978;

type Db = Database<Buffer, Uint8Array>;

function wrap(what: string, error: unknown): StorageError {
  if (error instanceof StorageError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new StorageError(`lmdb ${what}: ${message}`, { cause: error });
}

/** Keys are passed to lmdb as they are: it copies their bytes into its own buffers synchronously. */
function checkKey(key: Uint8Array): Uint8Array {
  if (!(key instanceof Uint8Array)) throw new StorageError('lmdb: key must be a Uint8Array');
  if (key.length === 0 || key.length > MAX_KEY_BYTES) {
    throw new StorageError(`lmdb: key length ${key.length} outside 1..${MAX_KEY_BYTES}`);
  }
  return key;
}

/**
 * The smallest byte string greater than every string that starts with `prefix`: the prefix with its
 * trailing 0xff bytes dropped and its last byte incremented (the prefix plus one, as a big-endian number).
 * Undefined when there is none (empty or all-0xff prefix): the range is then unbounded above.
 */
export function prefixUpperBound(prefix: Uint8Array): Uint8Array | undefined {
  let end = prefix.length;
  while (end > 0 && prefix[end - 1] === 0xff) end--;
  if (end === 0) return undefined;
  const out = prefix.slice(0, end);
  out[end - 1] = out[end - 1]! + 1;
  return out;
}

/** Sizes reported by LmdbStorage.stats(). */
export interface LmdbStats {
  readonly entries: Readonly<Record<Namespace, number>>;
  readonly usedBytes: number;
  readonly mapSizeBytes: number;
}

export class LmdbStorage implements Storage {
  private closed = false;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly root: RootDatabase<Buffer, Uint8Array>,
    private readonly dbs: ReadonlyMap<Namespace, Db>,
  ) {}

  /**
   * Opens (creating if needed) the environment in directory `path`. `mapSizeBytes` sets the initial map
   * size; without it lmdb starts small and grows the map as needed.
   */
  static async open(path: string, options: { mapSizeBytes?: number } = {}): Promise<LmdbStorage> {
    try {
      const created = await mkdir(path, { recursive: true, mode: 0o700 });
      const st = await stat(path);
      if (!st.isDirectory()) throw new StorageError(`lmdb open: ${path} is not a directory`);
      // mkdir's mode is masked by the umask and ignored for an existing directory: make it exactly 0700.
      if (created !== undefined || (st.mode & 0o077) !== 0) await chmod(path, 0o700);
    } catch (error) {
      throw wrap(`open ${path}`, error);
    }
    let root: RootDatabase<Buffer, Uint8Array> | undefined;
    try {
      root = open<Buffer, Uint8Array>(path, {
        noSubdir: false, // a directory even if its name has a dot
        maxDbs: NAMESPACES.length + 1,
        overlappingSync: false, // a write resolves only once synced (see the header)
        ...(options.mapSizeBytes === undefined ? {} : { mapSize: options.mapSizeBytes }),
        keyEncoding: 'binary',
        encoding: 'binary',
        compression: false,
        cache: false,
      });
      const r = root;
      const dbs = new Map<Namespace, Db>(
        NAMESPACES.map((ns) => [
          ns,
          r.openDB<Buffer, Uint8Array>(ns, {
            keyEncoding: 'binary',
            encoding: 'binary',
            compression: false,
            cache: false,
          }),
        ]),
      );
      return new LmdbStorage(r, dbs);
    } catch (error) {
      if (root !== undefined) await root.close().catch(() => undefined);
      throw wrap(`open ${path}`, error);
    }
  }

  private db(ns: Namespace): Db {
    if (this.closed) throw new StorageError('storage is closed');
    const db = this.dbs.get(ns);
    if (db === undefined) throw new RangeError(`ns: unknown namespace ${String(ns)}`);
    return db;
  }

  async get(ns: Namespace, key: Uint8Array): Promise<Uint8Array | undefined> {
    const db = this.db(ns);
    // A key LMDB cannot hold is simply absent.
    if (!(key instanceof Uint8Array)) throw new StorageError('lmdb: key must be a Uint8Array');
    if (key.length === 0 || key.length > MAX_KEY_BYTES) return undefined;
    try {
      const v = db.getBinary(key);
      return v === undefined ? undefined : new Uint8Array(v);
    } catch (error) {
      throw wrap('get', error);
    }
  }

  async write(ops: readonly StorageOp[]): Promise<void> {
    // Validate and copy everything first: once the batch is queued, a throw could leave it half-written.
    const prepared = ops.map((op) => {
      const db = this.db(op.ns);
      const key = checkKey(op.key);
      if (op.value !== undefined && !(op.value instanceof Uint8Array)) {
        throw new StorageError('lmdb: value must be a Uint8Array or undefined');
      }
      return { db, key, value: op.value === undefined ? undefined : Buffer.from(op.value) };
    });
    if (prepared.length === 0) return;
    try {
      await this.root.batch(() => {
        for (const { db, key, value } of prepared) {
          // In an explicit batch these return settled placeholders: the batch promise carries the outcome.
          if (value === undefined) void db.remove(key);
          else void db.put(key, value);
        }
      });
    } catch (error) {
      throw wrap('write', error);
    }
  }

  async scan(ns: Namespace, options: ScanOptions = {}): Promise<Array<[Uint8Array, Uint8Array]>> {
    const db = this.db(ns);
    const { prefix, reverse = false, limit } = options;
    if (limit !== undefined && !(limit >= 1)) return [];
    if (prefix !== undefined && prefix.length > MAX_KEY_BYTES) return []; // no key is that long
    const range: {
      start?: Uint8Array;
      end?: Uint8Array;
      exclusiveStart?: boolean;
      inclusiveEnd?: boolean;
      reverse?: boolean;
      limit?: number;
    } = { reverse };
    if (limit !== undefined && Number.isFinite(limit)) range.limit = Math.floor(limit);
    if (prefix !== undefined && prefix.length > 0) {
      const upper = prefixUpperBound(prefix);
      if (!reverse) {
        // [prefix, upper)
        range.start = prefix;
        if (upper !== undefined) range.end = upper;
      } else {
        // From just below `upper` (or the last key) down to `prefix` inclusive.
        if (upper !== undefined) {
          range.start = upper;
          range.exclusiveStart = true;
        }
        range.end = prefix;
        range.inclusiveEnd = true;
      }
    } else if (reverse) {
      // Without an end, lmdb stops a reverse scan before its default beginning key [0x00] (exclusive),
      // which would skip the key [0x00]. It is the smallest possible key (keys are never empty): include it.
      range.end = Uint8Array.of(0);
      range.inclusiveEnd = true;
    }
    try {
      const out: Array<[Uint8Array, Uint8Array]> = [];
      for (const { key, value } of db.getRange(range)) out.push([new Uint8Array(key), new Uint8Array(value)]);
      return out;
    } catch (error) {
      throw wrap('scan', error);
    }
  }

  /**
   * Entries per namespace and the environment's size (metrics). Cheap: LMDB keeps these counts in its page
   * headers, nothing is scanned. `usedBytes` is the part of the map in use (last page + 1) × page size.
   */
  stats(): LmdbStats {
    if (this.closed) throw new StorageError('storage is closed');
    try {
      const env = this.root.getStats() as { pageSize: number; lastPageNumber: number; mapSize: number };
      const entries = {} as Record<Namespace, number>;
      for (const [ns, db] of this.dbs) entries[ns] = (db.getStats() as { entryCount: number }).entryCount;
      return { entries, usedBytes: (env.lastPageNumber + 1) * env.pageSize, mapSizeBytes: env.mapSize };
    } catch (error) {
      throw wrap('stats', error);
    }
  }

  /** Waits for queued writes to commit, then closes the environment. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    this.closing ??= this.root.close().catch((error: unknown) => {
      throw wrap('close', error);
    });
    return this.closing;
  }
}
