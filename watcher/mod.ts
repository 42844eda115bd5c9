/**
 * The engine-neutral watcher core: the portfolio of alive containers, the
 * watcher that keeps it synchronized and streams lifecycle events, and
 * watcher creation from the adaptor registry.
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
} from "./watcher.ts";
export { createWatcher, type CreateWatcherOptions } from "./create_watcher.ts";
export { backoffDelay, type BackoffOptions } from "./backoff.ts";
export { SubscriberOverflowError, WatcherClosedError } from "./errors.ts";
export {
  type CandidateSource,
  discoverEngines,
  type DiscoveryOptions,
  type DiscoveryResult,
  type EngineCandidate,
  engineCandidates,
  type FoundEngine,
  NoEngineFoundError,
  type RejectedCandidate,
  type RejectionReason,
} from "./discovery.ts";
export {
  type EngineRef,
  Fleet,
  type FleetContainer,
  type FleetEvent,
  type FleetOptions,
} from "./fleet.ts";
