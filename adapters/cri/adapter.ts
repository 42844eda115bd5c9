/**
 * The CRI adaptor as registered in the engine registry. Light: its client
 * (and grpc-js with it) loads when the first client is made or the first
 * probe runs.
 *
 * @module
 */

import type {
  CallOptions,
  EngineAdapter,
  ProbeResult,
} from "../../engineclient/mod.ts";
import type { CriOptions } from "./options.ts";
import {
  CRI_ENDPOINT_ENV,
  CRI_TYPE,
  DEFAULT_CRI_ENDPOINT,
} from "./endpoint.ts";

/**
 * The CRI adaptor: engine type `"cri"`, recognized by its RuntimeService
 * Version call, at containerd's (plain, k3s, k0s, microk8s) and cri-o's
 * well-known sockets. Pass it to `createWatcher` to have its options typed.
 *
 * @example
 * ```ts
 * import { criAdapter } from "@whalewatcher/whalewatcher/cri";
 * console.log(criAdapter.type, criAdapter.processNames); // cri [ "containerd", "crio" ]
 * ```
 */
export const criAdapter: EngineAdapter<CriOptions> = Object.freeze({
  type: CRI_TYPE,
  async create(endpoint?: string, options?: CriOptions) {
    const { CriClient } = await import("./client.ts");
    return new CriClient(endpoint, options);
  },
  async probe(
    endpoint: string,
    options?: CallOptions,
  ): Promise<ProbeResult | null> {
    const { probeCri } = await import("./probe.ts");
    return await probeCri(endpoint, options);
  },
  socketPaths: Object.freeze([
    DEFAULT_CRI_ENDPOINT,
    "/run/k3s/containerd/containerd.sock",
    "/run/k0s/containerd.sock",
    "/var/snap/microk8s/common/run/containerd.sock",
    "/var/run/crio/crio.sock",
  ]),
  processNames: Object.freeze(["containerd", "crio"]),
  envVars: Object.freeze([CRI_ENDPOINT_ENV]),
});
