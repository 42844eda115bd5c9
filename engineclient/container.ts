/**
 * The container as the watcher tracks it: immutable, one object per state.
 *
 * @module
 */

/**
 * The label key that compose tools (Docker Compose, nerdctl compose, podman
 * compose) put on every container of a project.
 *
 * @example
 * ```ts
 * import { COMPOSE_PROJECT_LABEL } from "@whalewatcher/whalewatcher";
 * console.log(COMPOSE_PROJECT_LABEL); // "com.docker.compose.project"
 * ```
 */
export const COMPOSE_PROJECT_LABEL = "com.docker.compose.project";

/**
 * An alive (running or paused) container of an engine. Frozen: a change of
 * state (such as pausing) produces a new object.
 *
 * @example
 * ```ts
 * import { newContainer } from "@whalewatcher/whalewatcher";
 * const c = newContainer({ id: "4b1d", name: "web", pid: 4242 });
 * console.log(c.name, c.pid, c.paused); // web 4242 false
 * ```
 */
export interface Container {
  /** Engine-unique ID (for containerd: `namespace/id`, bare in `default`). */
  readonly id: string;
  /** Human-friendly name (Docker: without the leading slash). */
  readonly name: string;
  /** Labels as the engine reports them, plus adaptor-documented extras. */
  readonly labels: Readonly<Record<string, string>>;
  /** PID of the container's initial process, in the engine's PID namespace. */
  readonly pid: number;
  /** Compose project name; `""` when the container belongs to none. */
  readonly project: string;
  /** Whether the container is paused (frozen). */
  readonly paused: boolean;
  /** Optional adaptor- or application-specific extra data. */
  readonly rucksack?: unknown;
}

/**
 * The fields to make a {@linkcode Container} from; all but `id` optional.
 *
 * @example
 * ```ts
 * import type { ContainerInit } from "@whalewatcher/whalewatcher";
 * const init: ContainerInit = { id: "4b1d", labels: { app: "web" } };
 * ```
 */
export interface ContainerInit {
  /** Engine-unique ID. */
  id: string;
  /** Name; defaults to the ID. */
  name?: string;
  /** Labels; defaults to none. */
  labels?: Readonly<Record<string, string>>;
  /** PID; defaults to 0 (unknown). */
  pid?: number;
  /** Compose project; defaults to the `com.docker.compose.project` label or `""`. */
  project?: string;
  /** Paused state; defaults to `false`. */
  paused?: boolean;
  /** Extra data. */
  rucksack?: unknown;
}

const NO_LABELS: Readonly<Record<string, string>> = Object.freeze({});

/**
 * Makes a frozen {@linkcode Container}. The project defaults to the value of
 * the {@linkcode COMPOSE_PROJECT_LABEL} label. The labels object is frozen
 * in place (not copied), so hand over an object you no longer change.
 *
 * @example
 * ```ts
 * import { newContainer } from "@whalewatcher/whalewatcher";
 * const c = newContainer({
 *   id: "4b1d",
 *   name: "web",
 *   labels: { "com.docker.compose.project": "shop" },
 * });
 * console.log(c.project); // "shop"
 * ```
 */
export function newContainer(init: ContainerInit): Container {
  const labels = init.labels ?? NO_LABELS;
  if (!Object.isFrozen(labels)) Object.freeze(labels);
  const container: Container = {
    id: init.id,
    name: init.name ?? init.id,
    labels,
    pid: init.pid ?? 0,
    project: init.project ?? labels[COMPOSE_PROJECT_LABEL] ?? "",
    paused: init.paused ?? false,
    rucksack: init.rucksack,
  };
  return Object.freeze(container);
}

/**
 * Returns the container with another paused state: the same object when the
 * state does not change, else a new frozen one.
 *
 * @example
 * ```ts
 * import { newContainer, withPaused } from "@whalewatcher/whalewatcher";
 * const paused = withPaused(newContainer({ id: "4b1d" }), true);
 * console.log(paused.paused); // true
 * ```
 */
export function withPaused(container: Container, paused: boolean): Container {
  if (container.paused === paused) return container;
  return Object.freeze({ ...container, paused });
}
