/**
 * The containerd adaptor: containerd's native gRPC API, registered in
 * {@linkcode engineRegistry} as `"containerd.io"` when imported.
 *
 * Container IDs are `namespace/id` (bare `id` in namespace `default`);
 * names come from nerdctl's `nerdctl/name` label (same namespace rule),
 * else the ID; the compose project from `com.docker.compose.project`.
 * Namespaces `moby` (Docker's) and `k8s.io` (CRI's) are ignored by default
 * since the Docker and CRI adaptors report them.
 *
 * @example
 * ```ts ignore
 * import { ContainerdClient } from "@whalewatcher/whalewatcher/containerd";
 *
 * const engine = new ContainerdClient("/run/containerd/containerd.sock");
 * try {
 *   console.log(await engine.version(), await engine.list());
 * } finally {
 *   await engine.close();
 * }
 * ```
 *
 * @module
 */

import { engineRegistry } from "../../engineclient/mod.ts";
import { containerdAdapter } from "./adapter.ts";

export * from "./client.ts";
export * from "./adapter.ts";
export * from "./watch.ts";

// Importing the module twice (e.g. by two paths) must not throw.
if (!engineRegistry.has(containerdAdapter.type)) {
  engineRegistry.register(containerdAdapter);
}
