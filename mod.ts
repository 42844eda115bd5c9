/**
 * whalewatcher keeps an always-synchronized picture of the alive containers
 * of Docker, containerd and CRI engines, and streams their lifecycle events.
 *
 * Importing this module registers the built-in adaptors (`"docker.com"`,
 * `"containerd.io"`, `"cri"`) in {@linkcode engineRegistry}.
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

export * from "./engineclient/mod.ts";
export * from "./watcher/mod.ts";
export {
  DockerClient,
  type DockerOptions,
  PRIVILEGED_LABEL,
  watchDocker,
  type WatchDockerOptions,
} from "./adapters/docker/mod.ts";
export {
  ContainerdClient,
  type ContainerdOptions,
  watchContainerd,
  type WatchContainerdOptions,
} from "./adapters/containerd/mod.ts";
export {
  CriClient,
  type CriInspection,
  type CriOptions,
  type CriStats,
  watchCri,
} from "./adapters/cri/mod.ts";
