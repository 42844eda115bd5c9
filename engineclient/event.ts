/**
 * Lifecycle events of alive containers, as adaptors report them.
 *
 * @module
 */

/**
 * Marks an event whose engine does not say the container's compose project
 * (containerd's task events, for instance), as opposed to `""`, which means
 * "no project". The watcher resolves it through its portfolio.
 *
 * @example
 * ```ts
 * import { PROJECT_UNKNOWN } from "@whalewatcher/whalewatcher";
 * console.log(PROJECT_UNKNOWN === "\0"); // true
 * ```
 */
export const PROJECT_UNKNOWN = "\0";

/**
 * The lifecycle events of alive containers. There is no "created": only
 * becoming alive (`started`), the end of its process (`exited`), and pausing
 * and unpausing.
 *
 * @example
 * ```ts
 * import type { ContainerEventType } from "@whalewatcher/whalewatcher";
 * const t: ContainerEventType = "started";
 * ```
 */
export type ContainerEventType = "started" | "exited" | "paused" | "unpaused";

/**
 * All {@linkcode ContainerEventType} values, in lifecycle order.
 *
 * @example
 * ```ts
 * import { CONTAINER_EVENT_TYPES } from "@whalewatcher/whalewatcher";
 * console.log(CONTAINER_EVENT_TYPES.includes("paused")); // true
 * ```
 */
export const CONTAINER_EVENT_TYPES: readonly ContainerEventType[] = Object
  .freeze(["started", "exited", "paused", "unpaused"]);

/**
 * A lifecycle event as an adaptor delivers it.
 *
 * @example
 * ```ts
 * import { PROJECT_UNKNOWN, type ContainerEvent } from "@whalewatcher/whalewatcher";
 * const e: ContainerEvent = {
 *   type: "exited",
 *   id: "default/web",
 *   project: PROJECT_UNKNOWN,
 *   timestamp: Date.now(),
 * };
 * ```
 */
export interface ContainerEvent {
  /** What happened. */
  readonly type: ContainerEventType;
  /** ID of the container (as {@linkcode Container.id}). */
  readonly id: string;
  /** Compose project, `""` for none, or {@linkcode PROJECT_UNKNOWN}. */
  readonly project: string;
  /** When the engine says it happened: milliseconds since the Unix epoch. */
  readonly timestamp: number;
}
