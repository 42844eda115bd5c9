/**
 * CRI runtimes (containerd's CRI plugin, cri-o): the adaptor, its client,
 * and {@linkcode watchCri}, a watcher in one call.
 *
 * @example
 * ```ts ignore
 * import { watchCri } from "@whalewatcher/whalewatcher/cri";
 * await using watcher = watchCri("/run/containerd/containerd.sock");
 * const watching = watcher.watch();
 * await watcher.ready;
 * for (const c of watcher.portfolio.containers()) {
 *   console.log(c.labels["io.kubernetes.pod.name"], c.name, c.pid);
 * }
 * ```
 *
 * @module
 */

import { CriClient, type CriOptions } from "./adapters/cri/mod.ts";
import { Watcher, type WatcherOptions } from "./watcher/watcher.ts";

export * from "./adapters/cri/mod.ts";

/**
 * Options of {@linkcode watchCri}: the watcher's, plus the client's under
 * `engine`.
 *
 * @example
 * ```ts
 * import type { WatchCriOptions } from "@whalewatcher/whalewatcher/cri";
 * const options: WatchCriOptions = { engine: { relist: true } };
 * ```
 */
export interface WatchCriOptions extends WatcherOptions {
  /** Options of the {@linkcode CriClient}. */
  engine?: CriOptions;
}

/**
 * Makes a (not yet watching) {@linkcode Watcher} of the CRI runtime at
 * `endpoint` (default: `CONTAINER_RUNTIME_ENDPOINT`, else containerd's
 * socket).
 *
 * @example
 * ```ts ignore
 * import { watchCri } from "@whalewatcher/whalewatcher/cri";
 * await using watcher = watchCri("/run/containerd/containerd.sock", {
 *   engine: { relist: true },
 * });
 * const watching = watcher.watch();
 * await watcher.ready;
 * console.log(watcher.portfolio.containers().map((c) => c.name));
 * ```
 */
export function watchCri(
  endpoint?: string,
  options: WatchCriOptions = {},
): Watcher {
  const { engine, ...watcherOptions } = options;
  return new Watcher(new CriClient(endpoint, engine), watcherOptions);
}
