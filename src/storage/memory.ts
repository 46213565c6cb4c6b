/**
 * In-memory Storage for tests and the simulator. In the simulator an instance plays the role of a node's
 * disk: it survives a simulated crash, while the node object (volatile state) is rebuilt.
 */
import { compareBytes } from '../codec/bytes.js';
import {
  NAMESPACES,
  StorageError,
  type Namespace,
  type ScanOptions,
  type Storage,
  type StorageOp,
} from './storage.js';

function startsWith(key: Uint8Array, prefix: Uint8Array): boolean {
  if (key.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (key[i] !== prefix[i]) return false;
  return true;
}

export class MemoryStorage implements Storage {
  private readonly spaces = new Map<Namespace, Map<string, [Uint8Array, Uint8Array]>>();
  private closed = false;
  /** Number of committed write batches (tests use it to check group commit and durability ordering). */
  commits = 0;

  constructor() {
    for (const ns of NAMESPACES) this.spaces.set(ns, new Map());
  }

  private space(ns: Namespace): Map<string, [Uint8Array, Uint8Array]> {
    if (this.closed) throw new StorageError('storage is closed');
    const s = this.spaces.get(ns);
    if (s === undefined) throw new RangeError(`ns: unknown namespace ${String(ns)}`);
    return s;
  }

  async get(ns: Namespace, key: Uint8Array): Promise<Uint8Array | undefined> {
    const e = this.space(ns).get(Buffer.from(key).toString('latin1'));
    return e === undefined ? undefined : new Uint8Array(e[1]);
  }

  async write(ops: readonly StorageOp[]): Promise<void> {
    for (const op of ops) this.space(op.ns);
    for (const op of ops) {
      const s = this.space(op.ns);
      const k = Buffer.from(op.key).toString('latin1');
      if (op.value === undefined) s.delete(k);
      else s.set(k, [new Uint8Array(op.key), new Uint8Array(op.value)]);
    }
    this.commits++;
  }

  async scan(ns: Namespace, options: ScanOptions = {}): Promise<Array<[Uint8Array, Uint8Array]>> {
    const { prefix, reverse = false, limit = Number.POSITIVE_INFINITY } = options;
    const entries = [...this.space(ns).values()].filter(
      ([k]) => prefix === undefined || startsWith(k, prefix),
    );
    entries.sort((a, b) => compareBytes(a[0], b[0]) * (reverse ? -1 : 1));
    return entries.slice(0, limit).map(([k, v]) => [new Uint8Array(k), new Uint8Array(v)]);
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** Reopens after close (the simulator's restart of a crashed node). */
  reopen(): void {
    this.closed = false;
  }
}
