/**
 * containerd's native API: the adaptor, its client, and
 * {@linkcode watchContainerd}, a watcher in one call.
 *
 * @example
 * ```ts ignore
 * import { watchContainerd } from "@whalewatcher/whalewatcher/containerd";
 * await using watcher = watchContainerd("/run/containerd/containerd.sock");
 * const watching = watcher.watch();
 * await watcher.ready;
 * for (const c of watcher.portfolio.containers()) console.log(c.id, c.pid);
 * ```
 *
 * @module
 */

import {
  ContainerdClient,
  type ContainerdOptions,
} from "./adapters/containerd/mod.ts";
import { Watcher, type WatcherOptions } from "./watcher/watcher.ts";

export * from "./adapters/containerd/mod.ts";

/**
 * Options of {@linkcode watchContainerd}: the watcher's, plus the client's
 * under `engine`.
 *
 * @example
 * ```ts
 * import type { WatchContainerdOptions } from "@whalewatcher/whalewatcher/containerd";
 * const options: WatchContainerdOptions = { engine: { ignoredNamespaces: [] } };
 * ```
 */
export interface WatchContainerdOptions extends WatcherOptions {
  /** Options of the {@linkcode ContainerdClient}. */
  engine?: ContainerdOptions;
}

/**
 * Makes a (not yet watching) {@linkcode Watcher} of the containerd at
 * `endpoint` (default: `CONTAINERD_ADDRESS`, else
 * `/run/containerd/containerd.sock`). Closing the watcher closes the client.
 *
 * @example
 * ```ts ignore
 * import { watchContainerd } from "@whalewatcher/whalewatcher/containerd";
 * await using watcher = watchContainerd("/run/containerd/containerd.sock");
 * const watching = watcher.watch();
 * await watcher.ready;
 * console.log(watcher.portfolio.containers().map((c) => c.id));
 * ```
 */
export function watchContainerd(
  endpoint?: string,
  options: WatchContainerdOptions = {},
): Watcher {
  const { engine, ...watcherOptions } = options;
  return new Watcher(new ContainerdClient(endpoint, engine), watcherOptions);
}
