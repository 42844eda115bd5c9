/**
 * The containerd adaptor: containerd's native gRPC API. Importing this
 * module registers it as `"containerd.io"` (if the root module did not
 * already).
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
 * await using engine = new ContainerdClient("/run/containerd/containerd.sock");
 * console.log(await engine.version(), await engine.list());
 * ```
 *
 * @module
 */

import { engineRegistry } from "../../engineclient/mod.ts";
import { containerdAdapter } from "./adapter.ts";

export * from "./client.ts";
export * from "./endpoint.ts";
export * from "./probe.ts";
export * from "./adapter.ts";

// Guarded: the root module registers the same adaptor object.
if (!engineRegistry.has(containerdAdapter.type)) {
  engineRegistry.register(containerdAdapter);
}
