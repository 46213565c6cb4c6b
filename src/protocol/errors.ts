/**
 * Typed protocol errors. A server answers bad or malicious input with one of these codes (never by
 * throwing); a client rejects with ProtocolError carrying the code, and callers match on `code`.
 */

export const ERROR_CODES = {
  malformed: 1,
  unknownCommand: 2,
  badCertificate: 3,
  badSignature: 4,
  invalidQuorumCertificate: 5,
  notASigner: 6,
  permissionDenied: 7,
  timestampConflict: 8,
  staleTimestamp: 9,
  timestampTooFar: 10,
  sealed: 11,
  equivocation: 12,
  insufficientSignatures: 13,
  revoked: 14,
  tooLarge: 15,
  insufficientResponses: 16,
  unavailable: 17,
  invalidTimestamp: 18,
  /** The node is at its concurrent-request limit (docs/OPERATIONS.md); the request was not processed. */
  busy: 19,
  /** The sender is over its request rate at this node (docs/OPERATIONS.md); the request was not processed. */
  rateLimited: 20,
  /** No password is set up for this UID or variable at this node (docs/PROTOCOL.md §Password). */
  noCredential: 21,
  /** A password proof is missing where one is required (a protected read, a registration of a known UID). */
  authRequired: 22,
  /** A password proof does not verify, is stale, replayed, or bound to another key or operation. */
  authFailed: 23,
  /** Too many password attempts for this UID or variable: the error's timestamp is the wait in ms. */
  throttled: 24,
  /** No share of this CA key here (never created, deleted, or another key id). */
  caNoKey: 25,
  /** A CA key of this name exists here; only the owner may replace it, and only explicitly. */
  caKeyExists: 26,
  /** The CA session is unknown, finished, expired, replayed or out of order, or its id was used before. */
  caSession: 27,
  /** The CA holder refused the step (another input than the authorized one, a proven-bad relayed message). */
  caRefused: 28,
  /** The CA descriptor shown is not valid here, or older than one this holder has seen. */
  caDescriptor: 29,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

const BY_NUMBER = new Map<number, ErrorCode>(
  Object.entries(ERROR_CODES).map(([k, v]) => [v, k as ErrorCode]),
);

/** The error code for a wire number (unknown numbers map to 'malformed'). */
export function errorCodeOf(n: number): ErrorCode {
  return BY_NUMBER.get(n) ?? 'malformed';
}

/** A protocol-level refusal or failure, from a server or decided by the client. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** For timestamp errors: the timestamp the server holds. */
    readonly timestamp?: bigint,
    /** Peers whose answers were invalid or missing, when the client can name them. */
    readonly culprits: readonly string[] = [],
  ) {
    super(`${code}: ${message}`);
  }
}
