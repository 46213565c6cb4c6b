/**
 * The Transport contract: authenticated request/response between nodes, whatever carries the bytes
 * (the simulator's virtual network, or TLS connections in the daemon).
 */

/** A peer could not be reached, closed the connection, or answered with bytes the transport rejects. */
export class TransportError extends Error {
  override readonly name = 'TransportError';
  constructor(
    message: string,
    readonly peer: string,
  ) {
    super(message);
  }
}

/**
 * Client side. Contract:
 * - `request` delivers `payload` to the node `peer` (a NodeId, hex) at `address`, and resolves with that
 *   node's response bytes. The response is authenticated: it came from `peer` and answers this request.
 * - It rejects with TransportError when the peer is unreachable or the connection fails, with AbortedError
 *   when `signal` aborts (callers put their deadlines on the signal). It never resolves twice.
 * - Payloads larger than the transport's frame bound are rejected before sending.
 */
export interface Transport {
  request(peer: string, address: string, payload: Uint8Array, signal?: AbortSignal): Promise<Uint8Array>;
}

/**
 * Server side. `from` is the authenticated sender's NodeId (derived from the key the transport verified),
 * or null when the sender proved no identity. The handler must not throw for bad input: it encodes a
 * typed error response instead. Rejections mean an operational failure (storage), and the transport
 * closes the connection.
 */
export type RequestHandler = (from: string | null, payload: Uint8Array) => Promise<Uint8Array>;
