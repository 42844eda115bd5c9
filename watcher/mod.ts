/**
 * The engine-neutral watcher core: the portfolio of alive containers, the
 * watcher that keeps it synchronized and streams lifecycle events, watcher
 * creation from the adaptor registry, and the fleet of watchers over the
 * engines discovery finds.
 *
 * @example
 * ```ts
 * import { createWatcher } from "@whalewatcher/whalewatcher";
 *
 * await using watcher = await createWatcher("docker.com");
 * const watching = watcher.watch(AbortSignal.timeout(5000));
 * await watcher.ready;
 * for (const c of watcher.portfolio.containers()) console.log(c.name, c.pid);
 * await watching;
 * ```
 *
 * @module
 */

export { Portfolio, Project } from "./portfolio.ts";
export {
  type EventsOptions,
  Watcher,
  type WatcherEvent,
  type WatcherOptions,
  type WatcherState,
  type WatcherStats,
} from "./watcher.ts";
export { createWatcher, type CreateWatcherOptions } from "./create_watcher.ts";
export { backoffDelay, type BackoffOptions } from "./backoff.ts";
export {
  AlreadyWatchingError,
  EngineStalledError,
  SubscriberOverflowError,
  WatchEndedError,
  WatcherClosedError,
} from "./errors.ts";
export {
  type EngineRef,
  Fleet,
  type FleetContainer,
  type FleetEngineEvent,
  type FleetEngineInfo,
  type FleetEvent,
  type FleetEventsOptions,
  type FleetOptions,
} from "./fleet.ts";
