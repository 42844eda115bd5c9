/**
 * Makes watchers from the engine adaptor registry.
 *
 * @module
 */

import {
  type EngineAdapter,
  type EngineOptions,
  type EngineRegistry,
  engineRegistry,
} from "../engineclient/mod.ts";
import { Watcher, type WatcherOptions } from "./watcher.ts";

/**
 * Options of {@linkcode createWatcher}: the watcher's own, plus the engine
 * client's (typed by the adaptor `O`) and the registry to take the adaptor
 * from.
 *
 * @example
 * ```ts
 * import type { CreateWatcherOptions } from "@whalewatcher/whalewatcher";
 * const options: CreateWatcherOptions = { engine: { pid: 1234 }, queueSize: 100 };
 * ```
 */
export interface CreateWatcherOptions<O extends EngineOptions = EngineOptions>
  extends WatcherOptions {
  /** Options passed to the adaptor's `create`. */
  engine?: O;
  /** Registry to resolve an engine type in; default {@linkcode engineRegistry}. */
  registry?: EngineRegistry;
}

/**
 * Makes a watcher of the engine at `endpoint` (the adaptor's default when
 * absent), with the adaptor registered for the engine type `type` — or with
 * the adaptor object given instead, whose client options `engine` then has
 * typed (a third-party adaptor's too). The watcher is not yet watching:
 * call {@linkcode Watcher.watch}. Rejects with an `UnknownEngineTypeError`
 * naming the registered types when `type` has no adaptor.
 *
 * @example
 * ```ts
 * import { createWatcher, dockerAdapter } from "@whalewatcher/whalewatcher";
 *
 * await using watcher = await createWatcher(dockerAdapter, "/run/docker.sock", {
 *   engine: { concurrency: 4 }, // typed as the Docker adaptor's options
 * });
 * const watching = watcher.watch(AbortSignal.timeout(10_000));
 * await watcher.ready;
 * console.log(watcher.portfolio.size, "containers");
 * await watching;
 * ```
 */
export async function createWatcher<O extends EngineOptions = EngineOptions>(
  type: string | EngineAdapter<O>,
  endpoint?: string,
  options: CreateWatcherOptions<O> = {},
): Promise<Watcher> {
  const { engine, registry = engineRegistry, ...watcherOptions } = options;
  const client = typeof type === "string"
    ? await registry.create(type, endpoint, engine)
    : await type.create(endpoint, engine);
  return new Watcher(client, watcherOptions);
}
