/**
 * The options of the docker adaptor's client: a light module (no npm
 * package), so that the root module can export their type.
 *
 * @module
 */

import type { EngineOptions, RucksackPacker } from "../../engineclient/mod.ts";
import type { DockerSshOptions, DockerTlsOptions } from "./endpoint.ts";

/**
 * Options of `DockerClient`.
 *
 * @example
 * ```ts
 * import type { DockerOptions } from "@whalewatcher/whalewatcher/docker";
 * const options: DockerOptions = { concurrency: 16 };
 * ```
 */
export interface DockerOptions extends EngineOptions {
  /** How many containers `list` inspects at once; default 8. */
  concurrency?: number;
  /** Picks extra data out of Docker's inspection for each container. */
  packer?: RucksackPacker;
  /**
   * Whether exit/pause events carry the compose label reliably; podman's
   * may not, then their project is resolved by the watcher. Default: true
   * unless the type is `"podman.io"`.
   */
  eventsHaveLabels?: boolean;
  /**
   * TLS settings of a `tcp://` endpoint, instead of `DOCKER_CERT_PATH` /
   * `DOCKER_TLS_VERIFY`; `false`: plain HTTP whatever the environment says.
   */
  tls?: DockerTlsOptions | false;
  /** SSH settings of an `ssh://` endpoint: keys, known hosts. */
  ssh?: DockerSshOptions;
}
