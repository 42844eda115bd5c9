/**
 * Capped exponential backoff with jitter, for the watcher's resyncs.
 *
 * @module
 */

/**
 * How long to wait between attempts to (re)synchronize with an engine.
 *
 * @example
 * ```ts
 * import type { BackoffOptions } from "@whalewatcher/whalewatcher";
 * const backoff: BackoffOptions = { initialMs: 100, maxMs: 5000, jitter: 0.2 };
 * ```
 */
export interface BackoffOptions {
  /** Delay before the first retry, in milliseconds; default 250. */
  initialMs?: number;
  /** Upper bound of the delay, in milliseconds; default 30,000. */
  maxMs?: number;
  /**
   * Random spread as a fraction of the delay (0 to 1); default 0.2: the
   * delay varies by up to ±20 %, so that many watchers do not retry in step.
   */
  jitter?: number;
}

/** The defaults of {@linkcode BackoffOptions}. */
const DEFAULTS = { initialMs: 250, maxMs: 30_000, jitter: 0.2 };

/**
 * The delay before retry number `attempt` (0 for the first retry): doubles
 * with every attempt up to `maxMs`, spread by `jitter`.
 *
 * @example
 * ```ts
 * import { backoffDelay } from "@whalewatcher/whalewatcher";
 * console.log(backoffDelay(3, { initialMs: 100, jitter: 0 })); // 800
 * ```
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions = {},
): number {
  const initialMs = Math.max(0, options.initialMs ?? DEFAULTS.initialMs);
  const maxMs = Math.max(initialMs, options.maxMs ?? DEFAULTS.maxMs);
  const jitter = Math.min(1, Math.max(0, options.jitter ?? DEFAULTS.jitter));
  // Cap the exponent so that the power stays finite.
  const delay = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 52));
  return Math.max(0, delay * (1 + jitter * (2 * Math.random() - 1)));
}
