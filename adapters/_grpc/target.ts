/**
 * gRPC target strings for engine endpoints.
 *
 * @module
 */

/**
 * Turns an endpoint into a grpc-js target: a bare socket path (absolute or
 * relative) becomes `unix:` target; `unix://...`, `unix:...` and other
 * scheme-qualified targets pass through unchanged.
 *
 * @example
 * ```ts ignore
 * import { grpcTarget } from "./target.ts";
 * console.log(grpcTarget("/run/containerd/containerd.sock"));
 * // "unix:///run/containerd/containerd.sock"
 * ```
 */
export function grpcTarget(endpoint: string): string {
  if (endpoint === "") throw new TypeError("empty gRPC endpoint");
  if (/^[a-z][a-z0-9+.-]*:/i.test(endpoint)) return endpoint;
  if (endpoint.startsWith("/")) return `unix://${endpoint}`;
  return `unix:${endpoint}`;
}

/**
 * The socket path of a `unix:` endpoint (or a bare path), else the endpoint
 * unchanged; for messages and `api`.
 *
 * @example
 * ```ts ignore
 * import { socketPath } from "./target.ts";
 * console.log(socketPath("unix:///run/x.sock")); // "/run/x.sock"
 * ```
 */
export function socketPath(endpoint: string): string {
  if (endpoint.startsWith("unix://")) return endpoint.slice("unix://".length);
  if (endpoint.startsWith("unix:")) return endpoint.slice("unix:".length);
  return endpoint;
}
