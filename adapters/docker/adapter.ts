/**
 * The Docker adaptor as registered in the engine registry. Light: its
 * client (and dockerode with it) loads when the first client is made, its
 * probe when the first probe runs.
 *
 * @module
 */

import type {
  ConfiguredEndpointsOptions,
  EndpointSpec,
  EngineAdapter,
  ProbeOptions,
  ProbeResult,
} from "../../engineclient/mod.ts";
import type { DockerOptions } from "./options.ts";
import { DOCKER_ENDPOINT_ENV } from "./endpoint.ts";

/**
 * The Docker adaptor: engine type `"docker.com"`, recognized by
 * `GET /_ping`, also serving podman's Docker-compatible API (reported as
 * `"podman.io"`). Its configured endpoints are the current docker context
 * and podman's default connection (or those named, `"all"` for every one). Pass it to `createWatcher` to have its options typed.
 *
 * @example
 * ```ts
 * import { dockerAdapter } from "@whalewatcher/whalewatcher/docker";
 * console.log(dockerAdapter.type, dockerAdapter.envVars); // docker.com [ "DOCKER_HOST" ]
 * ```
 */
export const dockerAdapter: EngineAdapter<DockerOptions> = Object.freeze({
  type: "docker.com",
  async create(endpoint?: string, options?: DockerOptions) {
    const { DockerClient } = await import("./client.ts");
    return new DockerClient(endpoint, options);
  },
  async probe(
    endpoint: string,
    options?: ProbeOptions<DockerOptions>,
  ): Promise<ProbeResult | null> {
    const { probeDocker } = await import("./probe.ts");
    return await probeDocker(endpoint, {
      signal: options?.signal,
      tls: options?.engine?.tls,
      ssh: options?.engine?.ssh,
    });
  },
  async configuredEndpoints(
    options: ConfiguredEndpointsOptions,
  ): Promise<EndpointSpec<DockerOptions>[]> {
    const { configuredDockerEndpoints } = await import("./_configured.ts");
    return await configuredDockerEndpoints(options);
  },
  socketPaths: Object.freeze([
    "/run/docker.sock",
    "/var/run/docker.sock",
    "$XDG_RUNTIME_DIR/docker.sock",
    "~/.docker/run/docker.sock",
    "/run/user/$UID/docker.sock",
    "/run/podman/podman.sock",
    "$XDG_RUNTIME_DIR/podman/podman.sock",
  ]),
  processNames: Object.freeze(["dockerd", "podman"]),
  envVars: Object.freeze([DOCKER_ENDPOINT_ENV]),
});
