/**
 * whalewatcher keeps an always-synchronized picture of the alive containers
 * of Docker, containerd and CRI engines, and streams their lifecycle events.
 *
 * Importing this module registers the built-in adaptors
 * ({@linkcode dockerAdapter} `"docker.com"`, {@linkcode containerdAdapter}
 * `"containerd.io"`, {@linkcode criAdapter} `"cri"`) in
 * {@linkcode engineRegistry}, and loads none of their npm packages: an
 * adaptor's code (dockerode, grpc-js) loads when an engine of its type is
 * first probed or watched. Each engine's client and `watch…` factory are at
 * the subpaths `./docker`, `./containerd` and `./cri`; discovery is also at
 * `./discovery`.
 *
 * @example
 * ```ts
 * import { createWatcher } from "@whalewatcher/whalewatcher";
 *
 * await using watcher = await createWatcher("containerd.io", "/run/containerd/containerd.sock");
 * const watching = watcher.watch(AbortSignal.timeout(5000));
 * await watcher.ready;
 * for (const c of watcher.portfolio.containers()) console.log(c.name, c.pid);
 * await watching.catch(() => {});
 * ```
 *
 * @module
 */

import { engineRegistry } from "./engineclient/mod.ts";
import { dockerAdapter } from "./adapters/docker/adapter.ts";
import { containerdAdapter } from "./adapters/containerd/adapter.ts";
import { criAdapter } from "./adapters/cri/adapter.ts";

export * from "./engineclient/mod.ts";
export * from "./watcher/mod.ts";
export * from "./watcher/discovery/mod.ts";
export { containerdAdapter, criAdapter, dockerAdapter };
// The adaptors' option types, which their registrations name; light
// modules, so no adaptor code loads with them.
export type { DockerOptions } from "./adapters/docker/options.ts";
export type {
  DockerSshOptions,
  DockerTlsOptions,
} from "./adapters/docker/endpoint.ts";
export type { ContainerdOptions } from "./adapters/containerd/options.ts";
export type { CriOptions } from "./adapters/cri/options.ts";

// The subpath modules register the same objects: whichever comes first.
for (const adapter of [dockerAdapter, containerdAdapter, criAdapter]) {
  if (!engineRegistry.has(adapter.type)) engineRegistry.register(adapter);
}
