/**
 * Maps CRI `GetContainerEvents` messages to container lifecycle events
 * (internal).
 *
 * @module
 */

import {
  type ContainerEvent,
  PROJECT_UNKNOWN,
} from "../../engineclient/mod.ts";
import { type PodInfo, podInfo } from "./_labels.ts";

/** What one `GetContainerEvents` message says, checked. */
export type CriEventFields =
  | { kind: "malformed" }
  | { kind: "deleted"; id: string }
  | { kind: "ignored"; id: string }
  | {
    kind: "started" | "exited";
    id: string;
    /** Milliseconds since the epoch; 0 when the message has none. */
    timestamp: number;
  };

/** Checks and classifies a decoded `ContainerEventResponse`. */
export function criEventFields(message: unknown): CriEventFields {
  if (typeof message !== "object" || message === null) {
    return { kind: "malformed" };
  }
  const m = message as Record<string, unknown>;
  const id = m.container_id;
  if (typeof id !== "string" || id === "") return { kind: "malformed" };
  const kind = m.container_event_type;
  if (kind === "CONTAINER_DELETED_EVENT") return { kind: "deleted", id };
  if (
    kind !== "CONTAINER_STARTED_EVENT" && kind !== "CONTAINER_STOPPED_EVENT"
  ) {
    return { kind: "ignored", id };
  }
  const createdAt = Number(m.created_at);
  return {
    kind: kind === "CONTAINER_STARTED_EVENT" ? "started" : "exited",
    id,
    timestamp: Number.isFinite(createdAt) && createdAt > 0
      ? Math.floor(createdAt / 1e6)
      : 0,
  };
}

/** What the event mapping needs to know and may update. */
export interface CriEventContext {
  /** Subscription time: events older than `since - graceMs` are stale. */
  since: number;
  /** Grace for replayed backlog events (containerd 1.7 buffers them). */
  graceMs: number;
  /** Whether events carry no project (no project label configured). */
  noProject: boolean;
  /** The client's pod cache, updated from the events' sandbox statuses. */
  pods: Map<string, PodInfo>;
}

/**
 * The container event of one `GetContainerEvents` message: the event, or
 * `"malformed"` / `"stale"` (counted by the caller as skipped), or
 * `undefined` for messages that are no lifecycle event of interest.
 */
export function criEvent(
  message: Record<string, unknown>,
  context: CriEventContext,
): ContainerEvent | "malformed" | "stale" | undefined {
  const fields = criEventFields(message);
  if (fields.kind === "malformed") return "malformed";
  if (fields.kind === "deleted") {
    context.pods.delete(fields.id);
    return undefined;
  }
  const sandbox = message.pod_sandbox_status as
    | { id?: unknown }
    | null
    | undefined;
  if (
    typeof sandbox === "object" && sandbox !== null &&
    typeof sandbox.id === "string" && sandbox.id !== ""
  ) {
    context.pods.set(sandbox.id, podInfo(sandbox));
  }
  if (fields.kind === "ignored") return undefined;
  const timestamp = fields.timestamp || Date.now();
  if (timestamp < context.since - context.graceMs) return "stale";
  return {
    type: fields.kind,
    id: fields.id,
    project: context.noProject ? "" : PROJECT_UNKNOWN,
    timestamp,
  };
}
