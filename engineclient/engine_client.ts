/**
 * The contract between engine adaptors and the engine-neutral watcher.
 *
 * @module
 */

import type { Container } from "./container.ts";
import type { ContainerEvent } from "./event.ts";

/**
 * Options of every call that talks to an engine.
 *
 * @example
 * ```ts
 * import type { CallOptions } from "@whalewatcher/whalewatcher";
 * const options: CallOptions = { signal: AbortSignal.timeout(2000) };
 * ```
 */
export interface CallOptions {
  /** Aborts the call; an aborted call rejects with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * What the watcher needs from a container engine, whatever its API. Adaptors
 * map engine objects to {@linkcode Container} and {@linkcode ContainerEvent};
 * they know nothing of the watcher.
 *
 * @example
 * ```ts
 * import type { EngineClient } from "@whalewatcher/whalewatcher";
 *
 * async function show(engine: EngineClient) {
 *   console.log(engine.type, engine.api, await engine.version());
 *   for (const c of await engine.list()) console.log(c.name, c.pid);
 * }
 * ```
 */
export interface EngineClient {
  /** Engine type string, such as `"docker.com"`, `"containerd.io"`, `"cri"`. */
  readonly type: string;
  /** The API endpoint (socket path or URL) this client talks to. */
  readonly api: string;
  /** PID of the engine process when known, else 0. */
  readonly pid: number;
  /** The underlying engine-specific client object. */
  readonly client: unknown;
  /** Counters of the client's engine traffic, when the adaptor keeps them. */
  readonly stats?: Readonly<EngineStats>;

  /**
   * Lists the alive (running or paused) containers. Rejects only on
   * connection or engine failures; containers that vanish while listing
   * are left out.
   */
  list(options?: CallOptions): Promise<Container[]>;

  /**
   * Inspects one container by name or ID. Rejects with
   * {@linkcode ProcesslessContainerError} when the container exists but has
   * no process (created, not started; or already gone).
   */
  inspect(nameOrId: string, options?: CallOptions): Promise<Container>;

  /**
   * Subscribes to the lifecycle events of containers. The promise resolves
   * once the engine has accepted the subscription (events from then on are
   * delivered) and rejects when subscribing failed. Iterating the result
   * throws when the stream is lost, and ends quietly when `options.signal`
   * is aborted or the iteration is broken off.
   */
  lifecycleEvents(
    options?: CallOptions,
  ): Promise<AsyncIterable<ContainerEvent>>;

  /** A (more or less) unique engine identifier; its format is engine-specific. */
  id(options?: CallOptions): Promise<string>;

  /** Version information about the engine. */
  version(options?: CallOptions): Promise<string>;

  /** Releases every connection, stream and timer; calling it again is harmless. */
  close(): Promise<void>;
}

/**
 * Counters of an engine client's traffic, as the built-in adaptors keep
 * them (adaptors may add their own counters).
 *
 * @example
 * ```ts
 * import type { EngineClient } from "@whalewatcher/whalewatcher";
 * declare const engine: EngineClient;
 * console.log(engine.stats?.calls, engine.stats?.skippedEvents);
 * ```
 */
export interface EngineStats {
  /** Engine API calls made: requests, unary calls and subscriptions. */
  calls: number;
  /** Event messages received from the engine's event stream. */
  events: number;
  /** Event messages skipped as malformed, undecodable or stale. */
  skippedEvents: number;
}

/**
 * Optional capability: work an engine client does right before a watch
 * starts, such as negotiating the API version, under the watch's signal.
 *
 * @example
 * ```ts
 * import { isPreflighter, type EngineClient } from "@whalewatcher/whalewatcher";
 *
 * async function prepare(engine: EngineClient, signal: AbortSignal) {
 *   if (isPreflighter(engine)) await engine.preflight({ signal });
 * }
 * ```
 */
export interface Preflighter {
  /** Runs the pre-flight work. */
  preflight(options?: CallOptions): Promise<void>;
}

/**
 * Tells whether an engine client has the {@linkcode Preflighter} capability.
 *
 * @example
 * ```ts
 * import { isPreflighter } from "@whalewatcher/whalewatcher";
 * console.log(isPreflighter({ preflight: async () => {} })); // true
 * ```
 */
export function isPreflighter(value: unknown): value is Preflighter {
  return typeof value === "object" && value !== null &&
    typeof (value as Preflighter).preflight === "function";
}

/**
 * What a cheap listing tells about one alive container: enough to see
 * whether the portfolio still matches, not enough to make a
 * {@linkcode Container} (no name, no labels).
 *
 * @example
 * ```ts
 * import type { ContainerSummary } from "@whalewatcher/whalewatcher";
 * const docker: ContainerSummary = { id: "4b1d", paused: false };
 * const containerd: ContainerSummary = { id: "default/web", paused: true, pid: 4242 };
 * ```
 */
export interface ContainerSummary {
  /** ID of the container (as {@linkcode Container.id}). */
  readonly id: string;
  /** Whether the container is paused. */
  readonly paused: boolean;
  /**
   * PID of the container's process, when the listing tells it at no extra
   * cost (containerd's task list does, Docker's container list does not):
   * another PID than the portfolio's means another incarnation (a restart).
   */
  readonly pid?: number;
}

/**
 * Optional capability: a cheap listing of the alive containers — one or a
 * few engine calls however many containers there are, no inspection. The
 * watcher's periodic reconciliation uses it while the event stream is
 * healthy and inspects only containers whose ID is new or whose paused
 * state or PID differs from its portfolio; without it, each pass is a full
 * {@linkcode EngineClient.list}. The initial sync and every resync after a
 * lost event stream always use the full list.
 *
 * @example
 * ```ts
 * import {
 *   type CallOptions,
 *   type ContainerSummary,
 *   type SummaryLister,
 * } from "@whalewatcher/whalewatcher";
 *
 * // An adaptor whose engine lists IDs and states in one call.
 * declare function listStates(
 *   signal?: AbortSignal,
 * ): Promise<{ id: string; state: string }[]>;
 *
 * const cheap: SummaryLister = {
 *   async listSummaries(options: CallOptions = {}): Promise<ContainerSummary[]> {
 *     return (await listStates(options.signal))
 *       .filter((c) => c.state === "running" || c.state === "paused")
 *       .map((c) => ({ id: c.id, paused: c.state === "paused" }));
 *   },
 * };
 * ```
 */
export interface SummaryLister {
  /**
   * Lists the alive (running or paused) containers as summaries, with the
   * same IDs and the same notion of "alive" as `list()`. Rejects only on
   * connection or engine failures.
   */
  listSummaries(options?: CallOptions): Promise<ContainerSummary[]>;
}

/**
 * Tells whether an engine client has the {@linkcode SummaryLister}
 * capability.
 *
 * @example
 * ```ts
 * import { isSummaryLister } from "@whalewatcher/whalewatcher";
 * console.log(isSummaryLister({ listSummaries: async () => [] })); // true
 * ```
 */
export function isSummaryLister(value: unknown): value is SummaryLister {
  return typeof value === "object" && value !== null &&
    typeof (value as SummaryLister).listSummaries === "function";
}

/**
 * Optional hook of adaptors: picks application-specific data out of the
 * engine's own inspection result and returns it as the container's
 * {@linkcode Container.rucksack}.
 *
 * @example
 * ```ts
 * import type { RucksackPacker } from "@whalewatcher/whalewatcher";
 *
 * // Keep Docker's restart count with each container.
 * const packer: RucksackPacker = {
 *   pack: (_container, inspection) =>
 *     (inspection as { RestartCount?: number }).RestartCount ?? 0,
 * };
 * ```
 */
export interface RucksackPacker {
  /**
   * Returns the rucksack for `container` (which has none yet) from the
   * engine-specific `inspection`.
   */
  pack(container: Container, inspection: unknown): unknown;
}

/**
 * Tells whether a value has the {@linkcode RucksackPacker} shape.
 *
 * @example
 * ```ts
 * import { isRucksackPacker } from "@whalewatcher/whalewatcher";
 * console.log(isRucksackPacker({ pack: () => 1 })); // true
 * ```
 */
export function isRucksackPacker(value: unknown): value is RucksackPacker {
  return typeof value === "object" && value !== null &&
    typeof (value as RucksackPacker).pack === "function";
}
