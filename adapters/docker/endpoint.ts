/**
 * Docker API endpoints: unix socket paths, `unix://` and `tcp://` URLs (TLS
 * from `DOCKER_CERT_PATH` / `DOCKER_TLS_VERIFY`), and `DOCKER_HOST`.
 *
 * @module
 */

import { envValue } from "../../engineclient/_env.ts";

/**
 * Docker's default API endpoint, used when neither an endpoint nor
 * `DOCKER_HOST` is given.
 *
 * @example
 * ```ts
 * import { DEFAULT_DOCKER_ENDPOINT } from "@whalewatcher/whalewatcher/docker";
 * console.log(DEFAULT_DOCKER_ENDPOINT); // "/var/run/docker.sock"
 * ```
 */
export const DEFAULT_DOCKER_ENDPOINT = "/var/run/docker.sock";

/**
 * The environment variable naming Docker's endpoint.
 *
 * @example
 * ```ts
 * import { DOCKER_ENDPOINT_ENV } from "@whalewatcher/whalewatcher/docker";
 * console.log(DOCKER_ENDPOINT_ENV); // "DOCKER_HOST"
 * ```
 */
export const DOCKER_ENDPOINT_ENV = "DOCKER_HOST";

/**
 * Where and how to reach a Docker API.
 *
 * @example
 * ```ts
 * import { parseDockerEndpoint } from "@whalewatcher/whalewatcher/docker";
 * const ep = parseDockerEndpoint("unix:///run/docker.sock");
 * console.log(ep.socketPath, ep.api); // /run/docker.sock /run/docker.sock
 * ```
 */
export interface DockerEndpoint {
  /** The endpoint as reported (`api`): socket path or URL. */
  api: string;
  /** Unix socket path, for unix endpoints. */
  socketPath?: string;
  /** Host, for tcp endpoints. */
  host?: string;
  /** Port, for tcp endpoints. */
  port?: number;
  /** `"https"` when TLS is on, else `"http"`. */
  protocol?: "http" | "https";
  /** TLS material read from `DOCKER_CERT_PATH`. */
  ca?: string;
  /** Client certificate. */
  cert?: string;
  /** Client key. */
  key?: string;
}

/**
 * Parses a Docker endpoint; without one, `DOCKER_HOST`, else
 * {@linkcode DEFAULT_DOCKER_ENDPOINT}. Throws for unsupported schemes.
 *
 * @example
 * ```ts
 * import { parseDockerEndpoint } from "@whalewatcher/whalewatcher/docker";
 * console.log(parseDockerEndpoint("tcp://127.0.0.1:2375").port); // 2375
 * ```
 */
export function parseDockerEndpoint(endpoint?: string): DockerEndpoint {
  const given = endpoint ?? envValue(DOCKER_ENDPOINT_ENV) ??
    DEFAULT_DOCKER_ENDPOINT;
  if (given.startsWith("/")) return { api: given, socketPath: given };
  if (given.startsWith("unix://")) {
    const path = given.slice("unix://".length);
    if (!path.startsWith("/")) {
      throw new TypeError(
        `invalid Docker endpoint "${given}": unix:// needs an absolute path`,
      );
    }
    return { api: path, socketPath: path };
  }
  if (/^(tcp|https?):\/\//.test(given)) {
    const url = new URL(given.replace(/^tcp:/, "http:"));
    const tlsVerify = envValue("DOCKER_TLS_VERIFY");
    const certPath = envValue("DOCKER_CERT_PATH");
    const tls = given.startsWith("https:") ||
      (tlsVerify !== undefined && tlsVerify !== "0") ||
      certPath !== undefined;
    const ep: DockerEndpoint = {
      api: given,
      host: url.hostname,
      port: Number(url.port) || (tls ? 2376 : 2375),
      protocol: tls ? "https" : "http",
    };
    if (tls && certPath) {
      const read = (file: string) => {
        try {
          return Deno.readTextFileSync(`${certPath}/${file}`);
        } catch (err) {
          throw new Error(
            `cannot read TLS file "${certPath}/${file}" for Docker endpoint "${given}": ${
              (err as Error).message
            }`,
          );
        }
      };
      ep.ca = read("ca.pem");
      ep.cert = read("cert.pem");
      ep.key = read("key.pem");
    }
    return ep;
  }
  throw new TypeError(
    `unsupported Docker endpoint "${given}": use a socket path, unix://PATH or tcp://HOST:PORT`,
  );
}
