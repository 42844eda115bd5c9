/**
 * Errors of discovery.
 *
 * @module
 */

import type { DiscoveryResult } from "./types.ts";

/**
 * No engine was found: the message lists every candidate tried and why it
 * was rejected, and what discovery could not do.
 *
 * @example
 * ```ts ignore
 * import { discoverEngines, NoEngineFoundError } from "@whalewatcher/whalewatcher/discovery";
 * try {
 *   await discoverEngines({ required: true });
 * } catch (err) {
 *   if (err instanceof NoEngineFoundError) console.error(err.message);
 * }
 * ```
 */
export class NoEngineFoundError extends Error {
  /** The candidates that were tried, with the reasons. */
  readonly rejected: DiscoveryResult["rejected"];
  /** What discovery could not do. */
  readonly warnings: readonly string[];

  /** Makes the error from what discovery found. */
  constructor(
    result: Pick<DiscoveryResult, "rejected" | "warnings">,
    options: { registered?: readonly string[] } = {},
  ) {
    const tried = result.rejected.map((r) =>
      `\n  ${r.endpoint} (${r.source}): ${r.reason}: ${r.message}`
    ).join("");
    const notes = result.warnings.map((w) => `\n  note: ${w}`).join("");
    const registered = options.registered
      ? ` with adaptors ${options.registered.join(", ") || "(none)"}`
      : "";
    super(
      `no container engine found${registered}; ${
        tried ? `tried:${tried}` : "no candidate endpoint"
      }${notes}`,
    );
    this.name = "NoEngineFoundError";
    this.rejected = result.rejected;
    this.warnings = result.warnings;
  }
}

/**
 * A probe did not answer within discovery's probe timeout.
 *
 * @example
 * ```ts
 * import { ProbeTimeoutError } from "@whalewatcher/whalewatcher/discovery";
 * console.log(new ProbeTimeoutError("/run/docker.sock", 2000).message);
 * // "/run/docker.sock" did not answer a probe within 2000 ms
 * ```
 */
export class ProbeTimeoutError extends Error {
  /** The endpoint probed. */
  readonly endpoint: string;

  /** Makes the error for `endpoint` and the timeout in milliseconds. */
  constructor(endpoint: string, timeoutMs: number) {
    super(`"${endpoint}" did not answer a probe within ${timeoutMs} ms`);
    this.name = "ProbeTimeoutError";
    this.endpoint = endpoint;
  }
}
