/**
 * Recognizes a CRI runtime on an endpoint.
 *
 * @module
 */

import {
  type CallOptions,
  NotAnEngineError,
  type ProbeResult,
} from "../../engineclient/mod.ts";
import { CriClient } from "./client.ts";
import { CRI_TYPE } from "./endpoint.ts";

/**
 * Tells whether a CRI runtime answers on `endpoint` (its RuntimeService
 * Version call): the runtime's version when it does, `null` when something
 * else answers; rejects when the endpoint cannot be reached
 * (`EngineNotFoundError`, `EnginePermissionError`) or the signal aborts.
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
  await using client = new CriClient(endpoint);
  try {
    await client.preflight(options);
    return { type: CRI_TYPE, version: await client.version(options) };
  } catch (err) {
    if (err instanceof NotAnEngineError) return null;
    throw err;
  }
}
