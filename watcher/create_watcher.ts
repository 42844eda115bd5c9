/**
 * Makes watchers from the engine adaptor registry.
 *
 * @module
 */

import {
  type EngineOptions,
  type EngineRegistry,
  engineRegistry,
} from "../engineclient/mod.ts";
import { Watcher, type WatcherOptions } from "./watcher.ts";

/**
 * Options of {@linkcode createWatcher}: the watcher's own, plus the engine
 * client's and the registry to take the adaptor from.
 *
 * @example
 * ```ts
 * import type { CreateWatcherOptions } from "@whalewatcher/whalewatcher";
 * const options: CreateWatcherOptions = { engine: { pid: 1234 }, queueSize: 100 };
 * ```
 */
export interface CreateWatcherOptions extends WatcherOptions {
  /** Options passed to the adaptor's `create`. */
  engine?: EngineOptions;
  /** Registry to resolve the engine type in; default {@linkcode engineRegistry}. */
  registry?: EngineRegistry;
}

/**
 * Makes a watcher of the engine of type `type` at `endpoint` (the adaptor's
 * default when absent), with the adaptor registered for that type. The
 * watcher is not yet watching: call {@linkcode Watcher.watch}. Rejects with
 * an `UnknownEngineTypeError` naming the registered types when `type` has
 * no adaptor.
 *
 * @example
 * ```ts
 * import { createWatcher } from "@whalewatcher/whalewatcher";
 *
 * await using watcher = await createWatcher("docker.com", "/run/docker.sock");
 * const watching = watcher.watch(AbortSignal.timeout(10_000));
 * await watcher.ready;
 * console.log(watcher.portfolio.size, "containers");
 * await watching;
 * ```
 */
export async function createWatcher(
  type: string,
  endpoint?: string,
  options: CreateWatcherOptions = {},
): Promise<Watcher> {
  const { engine, registry = engineRegistry, ...watcherOptions } = options;
  const client = await registry.create(type, endpoint, engine);
  return new Watcher(client, watcherOptions);
}
