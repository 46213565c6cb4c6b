/**
 * The errors a client sees, and one code per error for tools (the CLI prints it, `--json` carries it).
 *
 * Callers match on the class (STYLE.md "Errors"): ProtocolError (a refusal or an unreachable threshold,
 * with a protocol `code`), TimeoutError, AbortedError, TransportError, IdentityError (an identity file),
 * ConfigError (a cluster directory or client state file), StorageError, and RangeError/TypeError for bad
 * arguments.
 */
import { CodecError } from '../codec/bytes.js';
import { AbortedError, TimeoutError } from '../env/clock.js';
import { IdentityError } from '../node/identity.js';
import { ProtocolError, type ErrorCode } from '../protocol/errors.js';
import { StorageError } from '../storage/storage.js';
import { TransportError } from '../transport/transport.js';

export { AbortedError, IdentityError, ProtocolError, StorageError, TimeoutError, TransportError };
export type { ErrorCode };

/** A local file the client needs (cluster directory, client state) is missing or malformed. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    message: string,
    readonly file: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}: ${message}`, options);
  }
}

/** Codes for failures that are not protocol refusals. */
export type LocalErrorCode =
  | 'timeout'
  | 'aborted'
  | 'unreachable'
  | 'identity'
  | 'config'
  | 'storage'
  | 'malformed'
  | 'invalidArgument'
  | 'internal';

export interface ErrorInfo {
  readonly code: ErrorCode | LocalErrorCode;
  readonly message: string;
}

/** The code and message to show for any error a client operation rejects with. */
export function errorInfo(error: unknown): ErrorInfo {
  if (error instanceof ProtocolError) {
    // ProtocolError's message starts with "code: "; the code is reported on its own.
    const prefix = `${error.code}: `;
    const message = error.message.startsWith(prefix) ? error.message.slice(prefix.length) : error.message;
    return { code: error.code, message };
  }
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof TimeoutError) return { code: 'timeout', message };
  if (error instanceof AbortedError) return { code: 'aborted', message };
  if (error instanceof TransportError) return { code: 'unreachable', message };
  if (error instanceof IdentityError) return { code: 'identity', message };
  if (error instanceof ConfigError) return { code: 'config', message };
  if (error instanceof StorageError) return { code: 'storage', message };
  if (error instanceof CodecError) return { code: 'malformed', message };
  if (error instanceof RangeError || error instanceof TypeError) return { code: 'invalidArgument', message };
  return { code: 'internal', message };
}
