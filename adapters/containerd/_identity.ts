/**
 * containerd identities: display IDs and names across namespaces, and the
 * mapping of containerd's container and task records to containers.
 *
 * @module
 */

import {
  type Container,
  type ContainerSummary,
  newContainer,
} from "../../engineclient/mod.ts";

/** The namespace whose containers keep bare IDs and names. */
export const DEFAULT_NAMESPACE = "default";

/** The label nerdctl puts the container name in. */
export const NERDCTL_NAME_LABEL = "nerdctl/name";

/** Task statuses of alive containers (as proto-loader names them). */
const ALIVE = new Set(["RUNNING", "PAUSING", "PAUSED"]);
const PAUSED = new Set(["PAUSING", "PAUSED"]);

/**
 * The display ID of a container: `namespace/id`, or the bare `id` in the
 * `default` namespace.
 */
export function displayId(namespace: string, id: string): string {
  return namespace === DEFAULT_NAMESPACE ? id : `${namespace}/${id}`;
}

/**
 * Splits a display ID into namespace and container ID (containerd forbids
 * `/` in both, so the first `/` separates them).
 */
export function parseDisplayId(
  display: string,
): { namespace: string; id: string } {
  const slash = display.indexOf("/");
  if (slash < 0) return { namespace: DEFAULT_NAMESPACE, id: display };
  return { namespace: display.slice(0, slash), id: display.slice(slash + 1) };
}

/** Whether a task status (enum name) counts as alive. */
export function isAliveStatus(status: string): boolean {
  return ALIVE.has(status);
}

/** containerd's container record, as far as the adaptor reads it. */
export interface ContainerRecord {
  id: string;
  labels?: Record<string, string>;
}

/** containerd's task (process) record, as far as the adaptor reads it. */
export interface TaskRecord {
  container_id: string;
  id?: string;
  pid: number;
  status: string;
}

/**
 * Makes the container of a namespace's container record and its task, or
 * `undefined` when the task is not alive.
 */
export function toContainer(
  namespace: string,
  record: ContainerRecord,
  task: TaskRecord,
): Container | undefined {
  if (!ALIVE.has(task.status)) return undefined;
  const id = displayId(namespace, record.id);
  const labels = { ...(record.labels ?? {}) };
  const nerdctlName = labels[NERDCTL_NAME_LABEL];
  return newContainer({
    id,
    name: nerdctlName ? displayId(namespace, nerdctlName) : id,
    labels,
    pid: task.pid,
    paused: PAUSED.has(task.status),
  });
}

// The container ID of a listed task, or "" for a task that is not a
// container's init process. Tasks.List names a task by `id` (its init
// process ID, the container ID) and may leave `container_id` empty; exec
// processes are not listed.
function taskContainerId(task: TaskRecord): string {
  const id = task.container_id || task.id;
  if (!id || (task.container_id && task.id && task.id !== task.container_id)) {
    return "";
  }
  return id;
}

/**
 * The summaries of a namespace's alive tasks: what the task list alone
 * tells (ID, paused state, PID), without the container records.
 */
export function summarizeTasks(
  namespace: string,
  tasks: readonly TaskRecord[],
): ContainerSummary[] {
  const summaries: ContainerSummary[] = [];
  for (const task of tasks) {
    const id = taskContainerId(task);
    if (!id || !ALIVE.has(task.status)) continue;
    summaries.push({
      id: displayId(namespace, id),
      paused: PAUSED.has(task.status),
      pid: task.pid,
    });
  }
  return summaries;
}

/**
 * Joins a namespace's container and task lists in memory: the alive
 * containers, in the container list's order. Tasks without a container
 * record (deleted meanwhile) are left out.
 */
export function joinContainersAndTasks(
  namespace: string,
  records: readonly ContainerRecord[],
  tasks: readonly TaskRecord[],
): Container[] {
  const byId = new Map<string, TaskRecord>();
  for (const task of tasks) {
    const id = taskContainerId(task);
    if (id) byId.set(id, task);
  }
  const containers: Container[] = [];
  for (const record of records) {
    const task = byId.get(record.id);
    if (!task) continue;
    const container = toContainer(namespace, record, task);
    if (container) containers.push(container);
  }
  return containers;
}
