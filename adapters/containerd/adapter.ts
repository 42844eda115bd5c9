/**
 * The containerd adaptor as registered in the engine registry. Light: its
 * client (and grpc-js with it) loads when the first client is made or the
 * first probe runs.
 *
 * @module
 */

import type {
  CallOptions,
  EngineAdapter,
  ProbeResult,
} from "../../engineclient/mod.ts";
import type { ContainerdOptions } from "./options.ts";
import {
  CONTAINERD_ENDPOINT_ENV,
  CONTAINERD_TYPE,
  DEFAULT_CONTAINERD_ENDPOINT,
} from "./endpoint.ts";

/**
 * The containerd adaptor: type `"containerd.io"`, its probe, usual sockets
 * (containerd, k3s, k0s, microk8s), process name and environment variable.
 * Pass it to `createWatcher` to have its options typed.
 *
 * @example
 * ```ts
 * import { containerdAdapter } from "@whalewatcher/whalewatcher/containerd";
 * console.log(containerdAdapter.type); // "containerd.io"
 * ```
 */
export const containerdAdapter: EngineAdapter<ContainerdOptions> = Object
  .freeze({
    type: CONTAINERD_TYPE,
    async create(endpoint?: string, options?: ContainerdOptions) {
      const { ContainerdClient } = await import("./client.ts");
      return new ContainerdClient(endpoint, options);
    },
    async probe(
      endpoint: string,
      options?: CallOptions,
    ): Promise<ProbeResult | null> {
      const { probeContainerd } = await import("./probe.ts");
      return await probeContainerd(endpoint, options);
    },
    socketPaths: Object.freeze([
      DEFAULT_CONTAINERD_ENDPOINT,
      "/run/k3s/containerd/containerd.sock",
      "/run/k0s/containerd.sock",
      "/var/snap/microk8s/common/run/containerd.sock",
    ]),
    processNames: Object.freeze(["containerd"]),
    envVars: Object.freeze([CONTAINERD_ENDPOINT_ENV]),
  });
