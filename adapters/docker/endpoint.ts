/**
 * Docker API endpoints: unix socket paths, `unix://`, `tcp://` URLs (TLS
 * from `DOCKER_CERT_PATH` / `DOCKER_TLS_VERIFY` or given), `ssh://` URLs,
 * and `DOCKER_HOST`.
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
 * TLS settings of a `tcp://` Docker endpoint, instead of `DOCKER_CERT_PATH`
 * and `DOCKER_TLS_VERIFY`.
 *
 * @example
 * ```ts
 * import type { DockerTlsOptions } from "@whalewatcher/whalewatcher/docker";
 * const tls: DockerTlsOptions = { certPath: "/etc/whalewatcher/certs/build-1" };
 * ```
 */
export interface DockerTlsOptions {
  /** A folder with `ca.pem`, `cert.pem` and `key.pem`, as `DOCKER_CERT_PATH`. */
  certPath?: string;
  /** The CA certificate(s) to trust, PEM text (wins over `certPath`'s). */
  ca?: string;
  /** The client certificate, PEM text (wins over `certPath`'s). */
  cert?: string;
  /** The client key, PEM text (wins over `certPath`'s). */
  key?: string;
  /**
   * Whether the server's certificate is verified (against `ca`, else the
   * system's CAs); default true. Turning it off is for tests only.
   */
  verify?: boolean;
}

/**
 * SSH settings of an `ssh://` Docker endpoint. Keys come from the agent
 * (`SSH_AUTH_SOCK`) and the key file; without both, from OpenSSH's default
 * key files in `~/.ssh`. Host keys are checked against a known_hosts file.
 *
 * @example
 * ```ts
 * import type { DockerSshOptions } from "@whalewatcher/whalewatcher/docker";
 * const ssh: DockerSshOptions = {
 *   identityFile: "/home/me/.ssh/id_ed25519",
 *   knownHosts: "/home/me/.ssh/known_hosts",
 * };
 * ```
 */
export interface DockerSshOptions {
  /** A private key file (OpenSSH or PEM format). */
  identityFile?: string;
  /** A private key's text, instead of `identityFile`. */
  privateKey?: string;
  /** The key's passphrase, when it has one. */
  passphrase?: string;
  /** The SSH agent's socket; default `SSH_AUTH_SOCK`; `false`: no agent. */
  agent?: string | false;
  /** The known_hosts file; default `~/.ssh/known_hosts` (`$HOME`). */
  knownHosts?: string;
  /**
   * Whether host keys are checked against `knownHosts`; default true. An
   * unknown host or a changed key then fails with `EngineHostKeyError`.
   * Turning it off accepts any host key: for tests only.
   */
  hostKeyCheck?: boolean;
  /** How long the SSH handshake may take, in ms; default 10,000. */
  readyTimeoutMs?: number;
}

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
  /** Host, for tcp and ssh endpoints. */
  host?: string;
  /** Port, for tcp and ssh endpoints. */
  port?: number;
  /** `"https"` when TLS is on, `"ssh"` for `ssh://`, else `"http"`. */
  protocol?: "http" | "https" | "ssh";
  /** TLS material read from `DOCKER_CERT_PATH` or given. */
  ca?: string;
  /** Client certificate. */
  cert?: string;
  /** Client key. */
  key?: string;
  /** False when the server's certificate is not verified. */
  verify?: boolean;
  /** The SSH user, for `ssh://` endpoints. */
  user?: string;
  /**
   * For `ssh://user@host/path/api.sock` (podman's connections): the unix
   * socket on the host, reached by socket forwarding; without a path the
   * host runs `docker system dial-stdio`, as the docker CLI does.
   */
  remoteSocket?: string;
}

function readPem(dir: string, file: string, given: string): string {
  try {
    return Deno.readTextFileSync(`${dir}/${file}`);
  } catch (err) {
    throw new Error(
      `cannot read TLS file "${dir}/${file}" for Docker endpoint "${given}": ${
        (err as Error).message
      }`,
    );
  }
}

function sshEndpoint(given: string): DockerEndpoint {
  let url: URL;
  try {
    url = new URL(given);
  } catch {
    throw new TypeError(
      `invalid Docker endpoint "${given}": use ssh://[USER@]HOST[:PORT][/SOCKET]`,
    );
  }
  if (!url.hostname) {
    throw new TypeError(`invalid Docker endpoint "${given}": no host`);
  }
  const user = decodeURIComponent(url.username) || envValue("USER") ||
    envValue("LOGNAME");
  if (!user) {
    throw new TypeError(
      `invalid Docker endpoint "${given}": no user (write ssh://USER@HOST, or set USER)`,
    );
  }
  const path = decodeURIComponent(url.pathname);
  return {
    api: given,
    protocol: "ssh",
    host: url.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: Number(url.port) || 22,
    user,
    ...(path && path !== "/" ? { remoteSocket: path } : {}),
  };
}

/**
 * Parses a Docker endpoint; without one, `DOCKER_HOST`, else
 * {@linkcode DEFAULT_DOCKER_ENDPOINT}. Accepts socket paths, `unix://`,
 * `tcp://` (TLS from `options.tls`, else from `DOCKER_CERT_PATH` /
 * `DOCKER_TLS_VERIFY` as the docker CLI does) and `ssh://[USER@]HOST[:PORT]`.
 * Throws for unsupported schemes.
 *
 * @example
 * ```ts
 * import { parseDockerEndpoint } from "@whalewatcher/whalewatcher/docker";
 * console.log(parseDockerEndpoint("tcp://127.0.0.1:2375").port); // 2375
 * console.log(parseDockerEndpoint("ssh://me@build-1").protocol); // ssh
 * ```
 */
export function parseDockerEndpoint(
  endpoint?: string,
  options: { tls?: DockerTlsOptions | false } = {},
): DockerEndpoint {
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
  if (given.startsWith("ssh://")) return sshEndpoint(given);
  if (/^(tcp|https?):\/\//.test(given)) {
    const url = new URL(given.replace(/^tcp:/, "http:"));
    const given_ = options.tls;
    // Given TLS settings win; without them the environment decides:
    // DOCKER_CERT_PATH or DOCKER_TLS_VERIFY turn TLS on. The server is
    // always verified unless the settings say otherwise.
    const tlsVerify = envValue("DOCKER_TLS_VERIFY");
    const certPath = given_ === undefined
      ? envValue("DOCKER_CERT_PATH")
      : given_ === false
      ? undefined
      : given_.certPath;
    const verifyEnv = tlsVerify !== undefined && tlsVerify !== "0";
    const tls = given_ !== undefined
      ? given_ !== false || given.startsWith("https:")
      : given.startsWith("https:") || verifyEnv || certPath !== undefined;
    const ep: DockerEndpoint = {
      api: given,
      host: url.hostname.replace(/^\[(.*)\]$/, "$1"),
      port: Number(url.port) || (tls ? 2376 : 2375),
      protocol: tls ? "https" : "http",
    };
    if (!tls) return ep;
    const explicit = given_ || {};
    const ca = explicit.ca ??
      (certPath ? readPem(certPath, "ca.pem", given) : undefined);
    const cert = explicit.cert ??
      (certPath ? readPem(certPath, "cert.pem", given) : undefined);
    const key = explicit.key ??
      (certPath ? readPem(certPath, "key.pem", given) : undefined);
    if (ca !== undefined) ep.ca = ca;
    if (cert !== undefined) ep.cert = cert;
    if (key !== undefined) ep.key = key;
    if (given_ && given_.verify === false) ep.verify = false;
    return ep;
  }
  throw new TypeError(
    `unsupported Docker endpoint "${given}": use a socket path, unix://PATH, tcp://HOST:PORT or ssh://USER@HOST`,
  );
}
