/**
 * Time, injected. The protocol core never reads the wall clock or arms a timer itself: the daemon passes
 * a real clock, the simulator a virtual one whose time only moves when its event queue says so.
 */

import { setMaxListeners } from 'node:events';

/** Raised when an operation is cancelled through its AbortSignal. */
export class AbortedError extends Error {
  override readonly name = 'AbortedError';
  constructor(message = 'operation aborted') {
    super(message);
  }
}

/**
 * The AbortedError for an aborted `signal`: its reason when that is one, else a new one. Internal aborts use
 * a shared reason (RELEASED), so the common case — a phase finished, its timers and stragglers are cancelled
 * — does not build an Error with a stack trace per timer and request.
 */
export function abortedError(signal: AbortSignal | undefined): AbortedError {
  const reason: unknown = signal?.reason;
  return reason instanceof AbortedError ? reason : new AbortedError();
}

/**
 * The abort reason of work cancelled because its operation finished (a released deadline, the stragglers of
 * a phase that has enough answers): shared, so cancelling costs no Error construction.
 */
export const RELEASED = new AbortedError('the operation finished; its remaining work was released');

/** Raised when an operation does not finish within its deadline. */
export class TimeoutError extends Error {
  override readonly name = 'TimeoutError';
  constructor(message = 'operation timed out') {
    super(message);
  }
}

/**
 * Contract: `now()` is non-decreasing milliseconds. `sleep(ms)` resolves no earlier than `now() + ms`
 * and rejects with AbortedError as soon as `signal` aborts (and at once if it already has).
 */
export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The real clock (daemon, CLI, benchmarks). */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(abortedError(signal));
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(timer);
        reject(abortedError(signal));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};

/**
 * Runs `task` with a deadline of `ms` on `clock`. The task receives a signal that aborts at the deadline
 * or when `parent` aborts; the result rejects with TimeoutError or AbortedError respectively.
 */
export async function withDeadline<T>(
  clock: Clock,
  ms: number,
  parent: AbortSignal | undefined,
  task: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const ctl = new AbortController();
  // One deadline signal is shared by every request of a phase (one listener per peer).
  setMaxListeners(0, ctl.signal);
  const onParent = () => ctl.abort(abortedError(parent));
  if (parent?.aborted) throw abortedError(parent);
  parent?.addEventListener('abort', onParent, { once: true });
  let timedOut = false;
  const timer = clock.sleep(ms, ctl.signal).then(
    () => {
      timedOut = true;
      ctl.abort();
    },
    () => undefined,
  );
  try {
    return await task(ctl.signal);
  } catch (e) {
    if (timedOut) throw new TimeoutError();
    if (parent?.aborted) throw abortedError(parent);
    throw e;
  } finally {
    parent?.removeEventListener('abort', onParent);
    if (!ctl.signal.aborted) ctl.abort(RELEASED);
    await timer;
  }
}
