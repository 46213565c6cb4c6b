/**
 * A node's operational settings beyond its identity (docs/OPERATIONS.md): the health and metrics HTTP
 * listener and the admission limits. Every default lives here; config.json (node/identity.ts) overrides
 * them key by key, and startNode's options override config.json (tests).
 *
 * The parsers throw TypeError/RangeError naming the field; identity.ts turns those into an IdentityError
 * naming config.json.
 */

/** Admission limits of one node. Every value is an integer in [1, NODE_LIMIT_VALUE_MAX]. */
export interface NodeLimits {
  /** Open TLS connections to the node; more are dropped on accept (TlsServer). */
  readonly connectionsMax: number;
  /** Request handlers running at once over the whole node; beyond it a request is answered `busy`. */
  readonly concurrentRequestsMax: number;
  /** Handlers running at once per connection; at the limit the server stops reading that socket. */
  readonly concurrencyPerConnection: number;
  /** Sustained requests per second per authenticated peer (token-bucket refill); beyond, `rateLimited`. */
  readonly ratePerPeer: number;
  /** Token-bucket size per peer: how many requests a peer may send at once after being idle. */
  readonly burstPerPeer: number;
}

/**
 * Generous enough that a benchmark of 16 clients against 26 nodes is never throttled (a client's whole
 * operation rate is far below 2000 requests/s to any one node, and 16 connections × 64 handlers fit in
 * 1024), yet every queue stays bounded: at most 1024 handlers hold request memory at once.
 */
export const DEFAULT_NODE_LIMITS: NodeLimits = {
  connectionsMax: 1024,
  concurrentRequestsMax: 1024,
  concurrencyPerConnection: 64,
  ratePerPeer: 2000,
  burstPerPeer: 4000,
};

/** The largest value any limit accepts (a larger one is a configuration mistake, not a wish). */
export const NODE_LIMIT_VALUE_MAX = 2 ** 31 - 1;

/**
 * Peers holding a token bucket at once. Beyond it the least recently seen peer's bucket is dropped: one idle
 * for burstPerPeer / ratePerPeer seconds (2 s by default) is full, so dropping it changes nothing.
 */
export const PEER_BUCKETS_MAX = 16_384;

const LIMIT_KEYS = Object.keys(DEFAULT_NODE_LIMITS) as Array<keyof NodeLimits>;

/** Parses a `limits` object: known keys only, each an integer in [1, NODE_LIMIT_VALUE_MAX]. */
export function parseNodeLimits(value: unknown): Partial<NodeLimits> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new TypeError(`limits: expected an object, got ${JSON.stringify(value)}`);
  const out: Partial<Record<keyof NodeLimits, number>> = {};
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    if (!(LIMIT_KEYS as string[]).includes(key))
      throw new RangeError(`limits: unknown key ${JSON.stringify(key)} (known: ${LIMIT_KEYS.join(', ')})`);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > NODE_LIMIT_VALUE_MAX)
      throw new RangeError(
        `limits.${key}: expected an integer in [1, ${NODE_LIMIT_VALUE_MAX}], got ${JSON.stringify(v)}`,
      );
    out[key as keyof NodeLimits] = v;
  }
  return out;
}

/** DEFAULT_NODE_LIMITS overridden by each layer in turn (later layers win). */
export function resolveNodeLimits(...layers: ReadonlyArray<Partial<NodeLimits> | undefined>): NodeLimits {
  let limits: NodeLimits = DEFAULT_NODE_LIMITS;
  for (const layer of layers) if (layer !== undefined) limits = { ...limits, ...parseNodeLimits(layer) };
  return limits;
}

const HTTP_ADDRESS_PATTERN = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

/** Parses `host:port` (IPv6 hosts in brackets; port 0 = any free port); null when malformed. */
export function parseHttpAddress(address: string): { host: string; port: number } | null {
  if (address.length > 256) return null;
  const m = HTTP_ADDRESS_PATTERN.exec(address);
  if (m === null) return null;
  const port = Number(m[2]);
  if (port > 65535) return null;
  const host = m[1]!.startsWith('[') ? m[1]!.slice(1, -1) : m[1]!;
  return { host, port };
}

/** Checks the configured `http` value: "" (no listener) or `host:port` with a fixed port (a scrape target). */
export function checkHttpSetting(value: unknown): string {
  if (typeof value !== 'string') throw new TypeError(`http: expected a string, got ${JSON.stringify(value)}`);
  if (value === '') return value;
  const parsed = parseHttpAddress(value);
  if (parsed === null || parsed.port === 0)
    throw new RangeError(`http: expected host:port (port ≠ 0) or "", got ${JSON.stringify(value)}`);
  return value;
}
