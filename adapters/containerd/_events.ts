/**
 * Mapping of containerd event envelopes to container lifecycle events.
 *
 * @module
 */

import {
  type ContainerEvent,
  type ContainerEventType,
  PROJECT_UNKNOWN,
} from "../../engineclient/mod.ts";
import type { Message } from "../_grpc/mod.ts";
import { displayId } from "./_identity.ts";

/** The task topics the adaptor subscribes to, with their event types. */
export const TASK_TOPICS: Readonly<Record<string, ContainerEventType>> = Object
  .freeze({
    "/tasks/start": "started",
    "/tasks/exit": "exited",
    "/tasks/paused": "paused",
    "/tasks/resumed": "unpaused",
  });

/** The payload type of each task topic. */
export const TOPIC_PAYLOAD_TYPES: Readonly<Record<string, string>> = Object
  .freeze({
    "/tasks/start": "containerd.events.TaskStart",
    "/tasks/exit": "containerd.events.TaskExit",
    "/tasks/paused": "containerd.events.TaskPaused",
    "/tasks/resumed": "containerd.events.TaskResumed",
  });

/** Subscription filters selecting the task topics (OR-ed by containerd). */
export function taskTopicFilters(): string[] {
  return Object.keys(TASK_TOPICS).map((topic) =>
    `topic==${JSON.stringify(topic)}`
  );
}

/** Milliseconds since the epoch of a decoded `google.protobuf.Timestamp`. */
export function timestampMs(ts: Message | null | undefined): number {
  if (!ts) return 0;
  return Number(ts.seconds ?? 0) * 1000 +
    Math.floor(Number(ts.nanos ?? 0) / 1e6);
}

/** The message type name of an `Any`'s type URL (prefix up to `/` dropped). */
export function anyTypeName(typeUrl: string): string {
  return typeUrl.slice(typeUrl.lastIndexOf("/") + 1);
}

/**
 * The container event of a task envelope whose payload is already decoded;
 * `undefined` when it is no container lifecycle event (an exec'd process
 * exiting, or another topic).
 */
export function toContainerEvent(
  envelope: { namespace: string; topic: string; timestamp?: Message | null },
  payload: Message,
): ContainerEvent | undefined {
  const type = TASK_TOPICS[envelope.topic];
  if (!type) return undefined;
  const containerId = String(payload.container_id ?? "");
  if (containerId === "") return undefined;
  // Exits of exec'd processes carry the exec ID: not the container's end.
  if (type === "exited" && payload.id && payload.id !== containerId) {
    return undefined;
  }
  return {
    type,
    id: displayId(envelope.namespace, containerId),
    project: PROJECT_UNKNOWN,
    timestamp: timestampMs(envelope.timestamp),
  };
}

/**
 * Decodes a task event envelope with `decode` (the proto decoder): the
 * container event; `undefined` for envelopes that are none (other topics,
 * exec exits); `null` for an undecodable or malformed one, which the caller
 * counts.
 */
export function decodeTaskEnvelope(
  envelope: Message,
  decode: (type: string, bytes: Uint8Array) => Message,
): ContainerEvent | null | undefined {
  if (typeof envelope !== "object" || envelope === null) return null;
  const expected = TOPIC_PAYLOAD_TYPES[envelope.topic];
  if (!expected) return undefined;
  try {
    const any = envelope.event as Message | null;
    if (!any || anyTypeName(String(any.type_url)) !== expected) return null;
    if (!(any.value instanceof Uint8Array)) return null;
    if (typeof envelope.namespace !== "string") return null;
    return toContainerEvent(envelope as never, decode(expected, any.value));
  } catch {
    return null;
  }
}
