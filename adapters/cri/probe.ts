/**
 * Recognizes a CRI runtime on an endpoint.
 *
 * @module
 */

import * as grpc from "@grpc/grpc-js";
import type { CallOptions, ProbeResult } from "../../engineclient/mod.ts";
import { CriClient } from "./client.ts";

// Answers that mean "something speaks here, but not CRI": a gRPC server
// without the RuntimeService, or a peer that is no gRPC server at all.
const NOT_CRI = new Set<number>([
  grpc.status.UNIMPLEMENTED,
  grpc.status.INTERNAL,
  grpc.status.UNKNOWN,
]);

/**
 * Tells whether a CRI runtime answers on `endpoint` (its RuntimeService
 * Version call): the runtime's version when it does, `null` when something
 * else answers; rejects when the endpoint cannot be reached.
 *
 * @example
 * ```ts ignore
 * import { probeCri } from "@whalewatcher/whalewatcher/cri";
 * const found = await probeCri("/run/containerd/containerd.sock", {
 *   signal: AbortSignal.timeout(1000),
 * });
 * console.log(found?.version); // "containerd 1.7.24 v1"
 * ```
 */
export async function probeCri(
  endpoint: string,
  options: CallOptions = {},
): Promise<ProbeResult | null> {
  const client = new CriClient(endpoint);
  try {
    return { type: "cri", version: await client.version(options) };
  } catch (err) {
    const code = (err as { code?: unknown })?.code;
    if (typeof code === "number" && NOT_CRI.has(code)) return null;
    throw err;
  } finally {
    await client.close();
  }
}
