/**
 * The containerd adaptor as registered in the engine registry.
 *
 * @module
 */

import * as grpc from "@grpc/grpc-js";
import type {
  CallOptions,
  EngineAdapter,
  EngineClient,
  EngineOptions,
  ProbeResult,
} from "../../engineclient/mod.ts";
import { isGrpcStatus } from "../_grpc/mod.ts";
import {
  CONTAINERD_TYPE,
  ContainerdClient,
  type ContainerdOptions,
  DEFAULT_CONTAINERD_SOCKET,
} from "./client.ts";

/**
 * Tells whether containerd answers on `endpoint`: its version when the
 * Version service answers, `null` when a gRPC server without it answers;
 * rejects when the endpoint cannot be reached or the signal aborts.
 *
 * @example
 * ```ts ignore
 * import { probeContainerd } from "@whalewatcher/whalewatcher/containerd";
 * const found = await probeContainerd("/run/containerd/containerd.sock", {
 *   signal: AbortSignal.timeout(2000),
 * });
 * console.log(found?.version);
 * ```
 */
export async function probeContainerd(
  endpoint: string,
  options: CallOptions = {},
): Promise<ProbeResult | null> {
  const engine = new ContainerdClient(endpoint);
  try {
    return { type: CONTAINERD_TYPE, version: await engine.version(options) };
  } catch (err) {
    if (isGrpcStatus(err, grpc.status.UNIMPLEMENTED)) return null;
    throw err;
  } finally {
    await engine.close();
  }
}

/**
 * The containerd adaptor: type `"containerd.io"`, probe, usual sockets
 * (containerd, k3s, k0s, microk8s) and process name.
 *
 * @example
 * ```ts
 * import { containerdAdapter } from "@whalewatcher/whalewatcher/containerd";
 * console.log(containerdAdapter.type); // "containerd.io"
 * ```
 */
export const containerdAdapter: EngineAdapter = Object.freeze({
  type: CONTAINERD_TYPE,
  create(endpoint?: string, options?: EngineOptions): EngineClient {
    return new ContainerdClient(
      endpoint ?? DEFAULT_CONTAINERD_SOCKET,
      options as ContainerdOptions,
    );
  },
  probe: probeContainerd,
  socketPaths: Object.freeze([
    DEFAULT_CONTAINERD_SOCKET,
    "/run/k3s/containerd/containerd.sock",
    "/run/k0s/containerd.sock",
    "/var/snap/microk8s/common/run/containerd.sock",
  ]),
  processNames: Object.freeze(["containerd"]),
});
