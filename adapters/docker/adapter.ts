/**
 * The Docker adaptor as registered in the engine registry, and its probe.
 *
 * @module
 */

import * as http from "node:http";
import type {
  CallOptions,
  EngineAdapter,
  ProbeResult,
} from "../../engineclient/mod.ts";
import { DockerClient, type DockerOptions } from "./client.ts";
import { parseDockerEndpoint } from "./endpoint.ts";

/** How long a probe waits when the caller gives no signal. */
const PROBE_TIMEOUT_MS = 2000;

/**
 * Tells whether a Docker API answers on `endpoint` (`GET /_ping`): a result
 * (type `"podman.io"` when the `Libpod-Api-Version` header says podman), or
 * `null` when something else answers; rejects when the endpoint cannot be
 * reached or does not answer in time.
 *
 * @example
 * ```ts ignore
 * import { probeDocker } from "@whalewatcher/whalewatcher/docker";
 * console.log(await probeDocker("/run/docker.sock")); // { type: "docker.com", version: "1.41" }
 * ```
 */
export function probeDocker(
  endpoint: string,
  options: CallOptions = {},
): Promise<ProbeResult | null> {
  const ep = parseDockerEndpoint(endpoint);
  const signal = options.signal ?? AbortSignal.timeout(PROBE_TIMEOUT_MS);
  return new Promise<ProbeResult | null>((resolve, reject) => {
    if (signal.aborted) {
      reject(new Error(`probing "${ep.api}" timed out or was aborted`));
      return;
    }
    const agent = new http.Agent({ keepAlive: false });
    const req = http.request({
      socketPath: ep.socketPath,
      host: ep.host,
      port: ep.port,
      path: "/_ping",
      method: "GET",
      agent,
      headers: { host: "docker" },
    });
    const done = () => {
      signal.removeEventListener("abort", onAbort);
      agent.destroy();
    };
    const onAbort = () => {
      req.destroy();
      done();
      reject(new Error(`probing "${ep.api}" timed out after no answer`));
    };
    signal.addEventListener("abort", onAbort, { once: true });
    req.on("response", (res) => {
      res.resume();
      const apiVersion = res.headers["api-version"];
      const podman = res.headers["libpod-api-version"];
      done();
      if (res.statusCode !== 200 || (!apiVersion && !podman)) {
        resolve(null);
        return;
      }
      resolve({
        type: podman ? "podman.io" : "docker.com",
        version: String(podman ?? apiVersion),
      });
    });
    req.on("error", (err: Error & { code?: string }) => {
      done();
      if (signal.aborted) return;
      if (
        err.code === "ENOENT" || err.code === "EACCES" ||
        err.code === "ECONNREFUSED" || err.code === "EPERM"
      ) {
        reject(
          new Error(`cannot connect to "${ep.api}": ${err.message}`, {
            cause: err,
          }),
        );
      } else {
        // Reached, but what answered is not HTTP/1 Docker (gRPC, garbage).
        resolve(null);
      }
    });
    req.end();
  });
}

/**
 * The Docker adaptor: engine type `"docker.com"`, recognized by `GET /_ping`,
 * also serving podman's Docker-compatible API.
 *
 * @example
 * ```ts
 * import { dockerAdapter } from "@whalewatcher/whalewatcher/docker";
 * console.log(dockerAdapter.type); // "docker.com"
 * ```
 */
export const dockerAdapter: EngineAdapter = Object.freeze({
  type: "docker.com",
  create: (endpoint?: string, options?: DockerOptions) =>
    new DockerClient(endpoint, options),
  probe: probeDocker,
  socketPaths: Object.freeze([
    "/run/docker.sock",
    "/var/run/docker.sock",
    "$XDG_RUNTIME_DIR/docker.sock",
    "~/.docker/run/docker.sock",
    "/run/user/$UID/docker.sock",
    "/run/podman/podman.sock",
    "$XDG_RUNTIME_DIR/podman/podman.sock",
  ]),
  processNames: Object.freeze(["dockerd", "podman"]),
});
