/**
 * A watcher of a CRI runtime in one call.
 *
 * @module
 */

import { Watcher, type WatcherOptions } from "../../watcher/mod.ts";
import { CriClient, type CriOptions } from "./client.ts";

/**
 * Makes a {@linkcode Watcher} of the CRI runtime at `endpoint` (default:
 * containerd's socket); it is not yet watching: call `watch()`.
 *
 * @example
 * ```ts ignore
 * import { watchCri } from "@whalewatcher/whalewatcher/cri";
 * await using watcher = watchCri("/run/containerd/containerd.sock", {
 *   engine: { relist: true },
 * });
 * const ac = new AbortController();
 * const watching = watcher.watch(ac.signal);
 * await watcher.ready;
 * console.log(watcher.portfolio.containers().map((c) => c.name));
 * ac.abort();
 * await watching;
 * ```
 */
export function watchCri(
  endpoint?: string,
  options: WatcherOptions & { engine?: CriOptions } = {},
): Watcher {
  const { engine, ...watcherOptions } = options;
  return new Watcher(new CriClient(endpoint, engine), watcherOptions);
}
