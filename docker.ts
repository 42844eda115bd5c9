/**
 * Docker (and podman's Docker-compatible API): the adaptor, its client,
 * and {@linkcode watchDocker}, a watcher in one call.
 *
 * @example
 * ```ts ignore
 * import { watchDocker } from "@whalewatcher/whalewatcher/docker";
 * await using watcher = watchDocker("/run/docker.sock");
 * const watching = watcher.watch();
 * await watcher.ready;
 * for (const c of watcher.portfolio.containers()) console.log(c.name, c.pid);
 * ```
 *
 * @module
 */

import { DockerClient, type DockerOptions } from "./adapters/docker/mod.ts";
import { Watcher, type WatcherOptions } from "./watcher/watcher.ts";

export * from "./adapters/docker/mod.ts";

/**
 * Options of {@linkcode watchDocker}: the watcher's, plus the client's
 * under `engine`.
 *
 * @example
 * ```ts
 * import type { WatchDockerOptions } from "@whalewatcher/whalewatcher/docker";
 * const options: WatchDockerOptions = { engine: { concurrency: 16 } };
 * ```
 */
export interface WatchDockerOptions extends WatcherOptions {
  /** Options of the {@linkcode DockerClient}. */
  engine?: DockerOptions;
}

/**
 * Makes a (not yet watching) {@linkcode Watcher} of the Docker engine at
 * `endpoint` (default: `DOCKER_HOST`, else `/var/run/docker.sock`).
 *
 * @example
 * ```ts ignore
 * import { watchDocker } from "@whalewatcher/whalewatcher/docker";
 * await using watcher = watchDocker("/run/docker.sock");
 * const watching = watcher.watch();
 * await watcher.ready;
 * console.log(watcher.portfolio.size);
 * ```
 */
export function watchDocker(
  endpoint?: string,
  options: WatchDockerOptions = {},
): Watcher {
  const { engine, ...watcherOptions } = options;
  return new Watcher(new DockerClient(endpoint, engine), watcherOptions);
}
