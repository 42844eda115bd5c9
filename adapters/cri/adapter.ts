/**
 * The CRI adaptor as registered in the engine registry.
 *
 * @module
 */

import type { EngineAdapter } from "../../engineclient/mod.ts";
import { CriClient, type CriOptions } from "./client.ts";
import { probeCri } from "./probe.ts";

/**
 * The CRI adaptor: engine type `"cri"`, recognized by its RuntimeService
 * Version call, at containerd's (plain, k3s, k0s, microk8s) and cri-o's
 * well-known sockets.
 *
 * @example
 * ```ts
 * import { criAdapter } from "@whalewatcher/whalewatcher/cri";
 * console.log(criAdapter.type, criAdapter.processNames); // cri [ "containerd", "crio" ]
 * ```
 */
export const criAdapter: EngineAdapter = Object.freeze({
  type: "cri",
  create: (endpoint?: string, options?: CriOptions) =>
    new CriClient(endpoint, options),
  probe: probeCri,
  socketPaths: Object.freeze([
    "/run/containerd/containerd.sock",
    "/run/k3s/containerd/containerd.sock",
    "/run/k0s/containerd.sock",
    "/var/snap/microk8s/common/run/containerd.sock",
    "/var/run/crio/crio.sock",
  ]),
  processNames: Object.freeze(["containerd", "crio"]),
});
