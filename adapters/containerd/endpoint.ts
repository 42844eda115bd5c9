/**
 * Where the containerd adaptor connects: the default socket and the
 * `CONTAINERD_ADDRESS` environment variable.
 *
 * @module
 */

import { envValue } from "../../engineclient/_env.ts";

/**
 * The engine type string of containerd.
 *
 * @example
 * ```ts
 * import { CONTAINERD_TYPE } from "@whalewatcher/whalewatcher/containerd";
 * console.log(CONTAINERD_TYPE); // "containerd.io"
 * ```
 */
export const CONTAINERD_TYPE = "containerd.io";

/**
 * containerd's usual API socket, used when neither an endpoint nor
 * `CONTAINERD_ADDRESS` is given.
 *
 * @example
 * ```ts
 * import { DEFAULT_CONTAINERD_ENDPOINT } from "@whalewatcher/whalewatcher/containerd";
 * console.log(DEFAULT_CONTAINERD_ENDPOINT); // "/run/containerd/containerd.sock"
 * ```
 */
export const DEFAULT_CONTAINERD_ENDPOINT = "/run/containerd/containerd.sock";

/**
 * The environment variable naming containerd's endpoint (as `ctr` reads it).
 *
 * @example
 * ```ts
 * import { CONTAINERD_ENDPOINT_ENV } from "@whalewatcher/whalewatcher/containerd";
 * console.log(CONTAINERD_ENDPOINT_ENV); // "CONTAINERD_ADDRESS"
 * ```
 */
export const CONTAINERD_ENDPOINT_ENV = "CONTAINERD_ADDRESS";

/**
 * The endpoint to use: `endpoint` when given, else `CONTAINERD_ADDRESS`
 * (when set and readable), else {@linkcode DEFAULT_CONTAINERD_ENDPOINT}.
 *
 * @example
 * ```ts
 * import { containerdEndpoint } from "@whalewatcher/whalewatcher/containerd";
 * console.log(containerdEndpoint("/run/k3s/containerd/containerd.sock"));
 * ```
 */
export function containerdEndpoint(endpoint?: string): string {
  return endpoint ?? envValue(CONTAINERD_ENDPOINT_ENV) ??
    DEFAULT_CONTAINERD_ENDPOINT;
}
