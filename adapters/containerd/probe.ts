/**
 * Recognizes containerd on an endpoint.
 *
 * @module
 */

import * as grpc from "@grpc/grpc-js";
import type { CallOptions, ProbeResult } from "../../engineclient/mod.ts";
import { ContainerdClient } from "./client.ts";
import { CONTAINERD_TYPE } from "./endpoint.ts";

/**
 * Tells whether containerd answers on `endpoint`: its version when the
 * Version service answers, `null` when a gRPC server without it answers;
 * rejects when the endpoint cannot be reached (`EngineNotFoundError`,
 * `EnginePermissionError`) or the signal aborts.
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
  await using engine = new ContainerdClient(endpoint);
  try {
    return { type: CONTAINERD_TYPE, version: await engine.version(options) };
  } catch (err) {
    // The client names the endpoint but keeps the gRPC code.
    const code = (err as { code?: unknown })?.code;
    if (code === grpc.status.UNIMPLEMENTED) return null;
    throw err;
  }
}
