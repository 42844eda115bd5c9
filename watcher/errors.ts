/**
 * Errors of the watcher.
 *
 * @module
 */

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
