/**
 * The options of the docker adaptor's client: a light module (no npm
 * package), so that the root module can export their type.
 *
 * @module
 */

import type { EngineOptions, RucksackPacker } from "../../engineclient/mod.ts";

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
}
