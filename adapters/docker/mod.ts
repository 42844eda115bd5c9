/**
 * The Docker adaptor (dockerode): its client, endpoint parsing and probe.
 * Importing this module registers it as `"docker.com"` (if the root module
 * did not already); it also serves podman's Docker-compatible API (probed
 * as `"podman.io"`).
 *
 * Containers get the extra label {@linkcode PRIVILEGED_LABEL}
 * (`whalewatcher/privileged: "true"`) when privileged.
 *
 * @example
 * ```ts ignore
 * import { DockerClient } from "@whalewatcher/whalewatcher/docker";
 * await using docker = new DockerClient("/run/docker.sock");
 * for (const c of await docker.list()) console.log(c.name, c.pid);
 * ```
 *
 * @module
 */

import { engineRegistry } from "../../engineclient/mod.ts";
import { dockerAdapter } from "./adapter.ts";

export * from "./client.ts";
export * from "./endpoint.ts";
export { MIN_DOCKER_API_VERSION, probeDocker } from "./probe.ts";
export * from "./adapter.ts";
export * from "./contexts.ts";
export * from "./podman_connections.ts";

// Guarded: the root module registers the same adaptor object.
if (!engineRegistry.has(dockerAdapter.type)) {
  engineRegistry.register(dockerAdapter);
}
