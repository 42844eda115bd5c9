/**
 * Where the CRI adaptor connects: the default socket and the
 * `CONTAINER_RUNTIME_ENDPOINT` environment variable (as crictl reads it).
 *
 * @module
 */

import { envValue } from "../../engineclient/_env.ts";

/**
 * The engine type string of CRI runtimes.
 *
 * @example
 * ```ts
 * import { CRI_TYPE } from "@whalewatcher/whalewatcher/cri";
 * console.log(CRI_TYPE); // "cri"
 * ```
 */
export const CRI_TYPE = "cri";

/**
 * The endpoint a CRI client talks to when given none and
 * `CONTAINER_RUNTIME_ENDPOINT` is unset: containerd's default socket
 * (which also serves CRI).
 *
 * @example
 * ```ts
 * import { DEFAULT_CRI_ENDPOINT } from "@whalewatcher/whalewatcher/cri";
 * console.log(DEFAULT_CRI_ENDPOINT); // "/run/containerd/containerd.sock"
 * ```
 */
export const DEFAULT_CRI_ENDPOINT = "/run/containerd/containerd.sock";

/**
 * The environment variable naming the CRI runtime's endpoint.
 *
 * @example
 * ```ts
 * import { CRI_ENDPOINT_ENV } from "@whalewatcher/whalewatcher/cri";
 * console.log(CRI_ENDPOINT_ENV); // "CONTAINER_RUNTIME_ENDPOINT"
 * ```
 */
export const CRI_ENDPOINT_ENV = "CONTAINER_RUNTIME_ENDPOINT";

/**
 * The endpoint to use: `endpoint` when given, else
 * `CONTAINER_RUNTIME_ENDPOINT` (when set and readable), else
 * {@linkcode DEFAULT_CRI_ENDPOINT}.
 *
 * @example
 * ```ts
 * import { criEndpoint } from "@whalewatcher/whalewatcher/cri";
 * console.log(criEndpoint("unix:///var/run/crio/crio.sock"));
 * ```
 */
export function criEndpoint(endpoint?: string): string {
  return endpoint ?? envValue(CRI_ENDPOINT_ENV) ?? DEFAULT_CRI_ENDPOINT;
}
