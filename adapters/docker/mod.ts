/**
 * The Docker adaptor (dockerode), registered as `"docker.com"` when this
 * module is imported; it also serves podman's Docker-compatible API (probed
 * as `"podman.io"`).
 *
 * Containers get the extra label {@linkcode PRIVILEGED_LABEL}
 * (`whalewatcher/privileged: "true"`) when privileged.
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

import { engineRegistry } from "../../engineclient/mod.ts";
import { dockerAdapter } from "./adapter.ts";

export * from "./client.ts";
export * from "./endpoint.ts";
export * from "./adapter.ts";
export * from "./watch.ts";

// Guarded: the module may be loaded twice (two specifiers, one registry).
if (!engineRegistry.has(dockerAdapter.type)) {
  engineRegistry.register(dockerAdapter);
}
