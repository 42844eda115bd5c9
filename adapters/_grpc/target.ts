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

/**
 * Channel options of the gRPC adaptors. grpc-js backs off reconnecting up
 * to 120 s by default, so after an engine restart a resync could wait that
 * long for the channel; the watcher has its own backoff, so the channel
 * reconnects quickly (local sockets make that cheap).
 *
 * @example
 * ```ts ignore
 * new grpc.Client(target, credentials, { ...CHANNEL_OPTIONS });
 * ```
 */
export const CHANNEL_OPTIONS: Readonly<Record<string, number>> = Object.freeze({
  "grpc.initial_reconnect_backoff_ms": 100,
  "grpc.max_reconnect_backoff_ms": 1000,
});
