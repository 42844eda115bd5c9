// The JSON shapes the agent serves (internal): a container with the CLI's
// fields, an engine, the snapshot document of /containers and of the
// `snapshot` SSE event, and the data of each SSE event.
import { type ContainerDoc, containerDoc } from "../cli/_output.ts";
import type { EngineRef, FleetEngineEvent, FleetEvent } from "../mod.ts";

/** An engine as served in snapshots. */
export interface EngineDoc {
  type: string;
  api: string;
  version: string;
  pid: number;
  id: string;
  state: string;
  /** The last error of a failed or resyncing watch. */
  error?: string;
  containers: ContainerDoc[];
}

/** The /containers document, also the data of a `snapshot` event. */
export interface SnapshotDoc {
  /** The ID of the last event this snapshot includes. */
  lastEventId: string;
  engines: EngineDoc[];
}

/** An engine reference as events carry it. */
export function engineRefDoc(ref: EngineRef, version?: string) {
  return {
    type: ref.type,
    api: ref.api,
    pid: ref.pid,
    id: ref.id ?? "",
    version: version || ref.version || "",
  };
}

/** A message of an error of any kind. */
export function errorMessage(error: unknown): string {
  return (error as Error)?.message ?? String(error);
}

/** The data of a container event: the CLI's fields, the time and the engine. */
export function containerEventDoc(e: FleetEvent, version?: string) {
  return {
    type: e.type,
    time: new Date(e.timestamp).toISOString(),
    ...containerDoc(e.container),
    engine: engineRefDoc(e.engine, version),
  };
}

/** The data of an engine event. */
export function engineEventDoc(e: FleetEngineEvent, version?: string) {
  return {
    type: e.type,
    time: new Date(e.timestamp).toISOString(),
    engine: engineRefDoc(e.engine, version),
    ...(e.error === undefined ? {} : { error: errorMessage(e.error) }),
  };
}
