/**
 * A watcher of containerd, in one call.
 *
 * @module
 */

import { Watcher, type WatcherOptions } from "../../watcher/mod.ts";
import { ContainerdClient, type ContainerdOptions } from "./client.ts";

/**
 * Options of {@linkcode watchContainerd}: the watcher's and the client's.
 *
 * @example
 * ```ts ignore
 * import type { WatchContainerdOptions } from "@whalewatcher/whalewatcher/containerd";
 * const options: WatchContainerdOptions = { engine: { ignoredNamespaces: [] } };
 * ```
 */
export interface WatchContainerdOptions extends WatcherOptions {
  /** Options of the containerd client. */
  engine?: ContainerdOptions;
}

/**
 * Makes a {@linkcode Watcher} of the containerd at `endpoint` (default
 * `/run/containerd/containerd.sock`); call `watch()` to start it. Closing
 * the watcher closes the client.
 *
 * @example
 * ```ts ignore
 * import { watchContainerd } from "@whalewatcher/whalewatcher/containerd";
 *
 * await using watcher = watchContainerd("/run/containerd/containerd.sock");
 * const ac = new AbortController();
 * const watching = watcher.watch(ac.signal);
 * await watcher.ready;
 * console.log(watcher.portfolio.containers().map((c) => c.id));
 * ac.abort();
 * await watching;
 * ```
 */
export function watchContainerd(
  endpoint?: string,
  options: WatchContainerdOptions = {},
): Watcher {
  const { engine, ...watcherOptions } = options;
  return new Watcher(new ContainerdClient(endpoint, engine), watcherOptions);
}
