/**
 * The shapes of discovery: candidates, found engines, rejections, options.
 *
 * @module
 */

import type {
  EndpointSpec,
  EngineOptions,
  EngineRegistry,
} from "../../engineclient/mod.ts";

/**
 * Where a candidate endpoint came from: given, an environment variable, an
 * engine client's configuration (a docker context, a podman connection),
 * a well-known socket path, or the process scan.
 *
 * @example
 * ```ts
 * import type { CandidateSource } from "@whalewatcher/whalewatcher/discovery";
 * const source: CandidateSource = "process";
 * ```
 */
export type CandidateSource =
  | "explicit"
  | "env"
  | "config"
  | "well-known"
  | "process";

/**
 * An endpoint worth probing.
 *
 * @example
 * ```ts
 * import type { EngineCandidate } from "@whalewatcher/whalewatcher/discovery";
 * const c: EngineCandidate = {
 *   endpoint: "/run/docker.sock", source: "well-known", pid: 0, types: ["docker.com"],
 * };
 * ```
 */
export interface EngineCandidate {
  /** Socket path or URL. */
  endpoint: string;
  /** Where it was found first. */
  source: CandidateSource;
  /** PID of the process listening on it, when the process scan found it; else 0. */
  pid: number;
  /**
   * Registry types of the adaptors whose hints (environment variable,
   * socket path, process name) named it; probed first. Empty for explicit
   * endpoints: every adaptor probes those.
   */
  types: string[];
  /** Client options the endpoint needs (TLS material, SSH keys), when it came with some. */
  options?: EngineOptions;
  /** Where it came from, for people (`docker context "build-1"`). */
  name?: string;
}

/**
 * An engine found on an endpoint.
 *
 * @example
 * ```ts
 * import type { FoundEngine } from "@whalewatcher/whalewatcher/discovery";
 * const e: FoundEngine = {
 *   type: "docker.com", adapter: "docker.com", endpoint: "/run/docker.sock",
 *   pid: 812, source: "process",
 * };
 * ```
 */
export interface FoundEngine {
  /** Engine type to report (e.g. `"podman.io"`). */
  type: string;
  /** Registry type of the adaptor that serves it (e.g. `"docker.com"`). */
  adapter: string;
  /** The endpoint. */
  endpoint: string;
  /** PID of the engine process when known, else 0. */
  pid: number;
  /** Version the probe learnt, if any. */
  version?: string;
  /** Where the endpoint was found. */
  source: CandidateSource;
  /** Client options the endpoint needs (TLS material, SSH keys), when any. */
  options?: EngineOptions;
  /** Where it came from, for people (`docker context "build-1"`). */
  name?: string;
}

/**
 * Why a candidate was not taken.
 *
 * @example
 * ```ts
 * import type { RejectionReason } from "@whalewatcher/whalewatcher/discovery";
 * const reason: RejectionReason = "permission-denied";
 * ```
 */
export type RejectionReason =
  | "not-found"
  | "permission-denied"
  | "not-an-engine"
  | "too-old"
  | "timeout"
  | "tls"
  | "host-key"
  | "auth"
  | "excluded"
  | "error";

/**
 * A candidate that no adaptor took, and why.
 *
 * @example
 * ```ts
 * import type { RejectedCandidate } from "@whalewatcher/whalewatcher/discovery";
 * const r: RejectedCandidate = {
 *   endpoint: "/tmp/x.sock", source: "explicit", pid: 0, types: [],
 *   reason: "not-an-engine", message: "no registered adaptor recognizes \"/tmp/x.sock\"",
 * };
 * ```
 */
export interface RejectedCandidate extends EngineCandidate {
  /** The reason, as a keyword. */
  reason: RejectionReason;
  /** A message naming the endpoint and what to do. */
  message: string;
  /** The probe's failure, when one failed (a typed engine error, mostly). */
  error?: unknown;
}

/**
 * What discovery found.
 *
 * @example
 * ```ts
 * import type { DiscoveryResult } from "@whalewatcher/whalewatcher/discovery";
 * const none: DiscoveryResult = { engines: [], rejected: [], warnings: [] };
 * ```
 */
export interface DiscoveryResult {
  /** Engines found, in candidate order; one socket may serve several types. */
  engines: FoundEngine[];
  /** Candidates no adaptor took. */
  rejected: RejectedCandidate[];
  /** What discovery could not do, such as the process scan without permission. */
  warnings: string[];
}

/**
 * Options of discovery.
 *
 * @example
 * ```ts
 * import type { DiscoveryOptions } from "@whalewatcher/whalewatcher/discovery";
 * const options: DiscoveryOptions = { endpoints: ["/run/docker.sock"], explicitOnly: true };
 * ```
 */
export interface DiscoveryOptions {
  /**
   * Endpoints to try first: socket paths and URLs (`unix://`, `tcp://`,
   * `ssh://`), or endpoints with the client options they need (TLS
   * material, SSH keys).
   */
  endpoints?: readonly (string | EndpointSpec)[];
  /**
   * Engine client configurations to try by name, with the options they
   * carry: docker contexts and podman connections (through the adaptors'
   * `configuredEndpoints`); `"all"` for every one. Absent: the current
   * docker context and podman's default connection are candidates (unless
   * `explicitOnly`).
   */
  contexts?: readonly string[];
  /**
   * Try only `endpoints` and `contexts`: no environment, current context,
   * well-known paths or process scan.
   */
  explicitOnly?: boolean;
  /** The registry whose adaptors probe; default `engineRegistry`. */
  registry?: EngineRegistry;
  /**
   * Only these engine types are found; default all. Registry types (such
   * as `"docker.com"`) restrict the probing adaptors and the environment
   * variables, socket paths and process names that make candidates; a
   * reported type that no adaptor is registered under (such as
   * `"podman.io"`, served by `"docker.com"`) keeps every adaptor and
   * filters what they report. Engines of other types on a candidate reject
   * it as `"excluded"`.
   */
  types?: readonly string[];
  /** Reject with `NoEngineFoundError` when no engine is found. */
  required?: boolean;
  /** Root of procfs; default `/proc`. */
  procRoot?: string;
  /** Environment lookup; default `Deno.env.get` (unset without permission). */
  env?: (name: string) => string | undefined;
  /** Timeout of each probe in milliseconds; default 2000. */
  probeTimeoutMs?: number;
  /** Aborts discovery. */
  signal?: AbortSignal;
  /** Collects what discovery could not do (see `DiscoveryResult.warnings`). */
  warnings?: string[];
}
