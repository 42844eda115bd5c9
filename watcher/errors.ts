/**
 * Errors of the watcher.
 *
 * @module
 */

import { EngineError } from "../engineclient/mod.ts";

/**
 * Ends a subscription whose reader fell behind: its bounded queue of events
 * overflowed. The watcher and other subscribers were not held up. Re-read
 * the portfolio and subscribe again to continue.
 *
 * @example
 * ```ts
 * import { SubscriberOverflowError, type Watcher } from "@whalewatcher/whalewatcher";
 * declare const watcher: Watcher;
 * try {
 *   for await (const event of watcher.events()) console.log(event.type, event.id);
 * } catch (err) {
 *   if (!(err instanceof SubscriberOverflowError)) throw err;
 *   console.log(watcher.portfolio.size); // start over from the portfolio
 * }
 * ```
 */
export class SubscriberOverflowError extends Error {
  /** The queue size that was exceeded. */
  readonly queueSize: number;

  /** Makes the error for a subscriber whose queue of `queueSize` overflowed. */
  constructor(queueSize: number, options: { engine?: string } = {}) {
    super(
      `subscriber fell behind: its queue of ${queueSize} events${
        options.engine ? ` from ${options.engine}` : ""
      } overflowed and the subscription ended; re-read the portfolio and subscribe again`,
    );
    this.name = "SubscriberOverflowError";
    this.queueSize = queueSize;
  }
}

/**
 * A watcher was used after {@linkcode Watcher.close}, or closed before it
 * became ready.
 *
 * @example
 * ```ts
 * import { WatcherClosedError } from "@whalewatcher/whalewatcher";
 * console.log(new WatcherClosedError("docker.com", "/run/docker.sock").message);
 * ```
 */
export class WatcherClosedError extends Error {
  /** Makes the error for the watcher of engine `type` at `api`. */
  constructor(type: string, api: string) {
    super(`watcher of ${type} engine at "${api}" is closed`);
    this.name = "WatcherClosedError";
  }
}

/**
 * An engine call (subscribing, listing, pre-flight) took longer than the
 * watcher's `stallTimeoutMs`: the engine is frozen or its connection
 * silently dead. The watcher resynchronizes with backoff; the error is its
 * `lastError`.
 *
 * @example
 * ```ts
 * import { EngineStalledError } from "@whalewatcher/whalewatcher";
 * const err = new EngineStalledError("/run/docker.sock", {
 *   engine: "docker.com", what: "listing", timeoutMs: 10_000,
 * });
 * console.log(err.message);
 * // listing of docker.com engine at "/run/docker.sock" stalled: no answer within 10000 ms
 * ```
 */
export class EngineStalledError extends EngineError {
  /** The call that stalled, such as `"listing"`. */
  readonly what: string;
  /** The stall timeout that passed, in milliseconds. */
  readonly timeoutMs: number;

  /** Makes the error for the engine at `endpoint`. */
  constructor(
    endpoint: string,
    options: { engine?: string; what: string; timeoutMs: number },
  ) {
    super(
      `${options.what} of ${
        options.engine ? `${options.engine} ` : ""
      }engine at "${endpoint}" stalled: no answer within ${options.timeoutMs} ms`,
      endpoint,
      { engine: options.engine },
    );
    this.name = "EngineStalledError";
    this.what = options.what;
    this.timeoutMs = options.timeoutMs;
  }
}

/**
 * `watch()` was called while the watcher is already watching.
 *
 * @example
 * ```ts
 * import { AlreadyWatchingError } from "@whalewatcher/whalewatcher";
 * console.log(new AlreadyWatchingError("docker.com", "/run/docker.sock").message);
 * // watcher of docker.com engine at "/run/docker.sock" is already watching
 * ```
 */
export class AlreadyWatchingError extends Error {
  /** Makes the error for the watcher of engine `type` at `api`. */
  constructor(type: string, api: string) {
    super(`watcher of ${type} engine at "${api}" is already watching`);
    this.name = "AlreadyWatchingError";
  }
}

/**
 * `watch()` was called after the watcher's watch ended: a watcher watches
 * once (its `ready` and its subscriptions belong to that watch). Make a
 * new watcher to watch again.
 *
 * @example
 * ```ts
 * import { WatchEndedError } from "@whalewatcher/whalewatcher";
 * console.log(new WatchEndedError("docker.com", "/run/docker.sock").message);
 * ```
 */
export class WatchEndedError extends Error {
  /** Makes the error for the watcher of engine `type` at `api`. */
  constructor(type: string, api: string) {
    super(
      `watcher of ${type} engine at "${api}" has ended its watch; a watcher watches once: make a new one`,
    );
    this.name = "WatchEndedError";
  }
}
