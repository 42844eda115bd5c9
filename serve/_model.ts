// The agent's picture of the fleet (internal), built only from the fleet's
// event stream (and one synchronous read of the fleet when subscribing), so
// that a snapshot always equals the events numbered up to it.
import type { Container } from "../engineclient/mod.ts";
import type {
  EngineRef,
  Fleet,
  FleetEngineEvent,
  FleetEvent,
  WatcherState,
} from "../mod.ts";
import type { LabelFilter } from "../cli/_args.ts";
import { containerDoc, matchesFilters } from "../cli/_output.ts";
import {
  type EngineDoc,
  errorMessage,
  type SnapshotDoc,
} from "./_documents.ts";

/** What the events told about an engine. */
export type EngineStage = "syncing" | "ready" | "failed";

/** One engine of the model. */
export interface EngineEntry {
  ref: EngineRef;
  stage: EngineStage;
  error?: string;
  version?: string;
  containers: Map<string, Container>;
}

/** Filters by engine (type or endpoint), compose project and labels. */
export interface Filters {
  /** Engine types or endpoints; empty: all engines. */
  engines: readonly string[];
  project?: string;
  labels: readonly LabelFilter[];
}

/** No filter at all. */
export const NO_FILTERS: Filters = { engines: [], labels: [] };

/** The key of an engine in the model. */
export function engineKey(ref: EngineRef): string {
  return `${ref.type} ${ref.api}`;
}

/** Whether an engine passes the engine filter. */
export function engineMatches(ref: EngineRef, filters: Filters): boolean {
  return filters.engines.length === 0 ||
    filters.engines.some((e) => e === ref.type || e === ref.api);
}

/** Whether a container event or engine event passes `filters`. */
export function eventMatches(
  e: FleetEvent | FleetEngineEvent,
  filters: Filters,
): boolean {
  if (!engineMatches(e.engine, filters)) return false;
  return !("container" in e) || matchesFilters(e.container, filters);
}

/** Whether `e` is an engine event. */
export function isEngineEvent(
  e: FleetEvent | FleetEngineEvent,
): e is FleetEngineEvent {
  return e.type.startsWith("engine-");
}

function stageOf(state: WatcherState): EngineStage {
  if (state === "ready" || state === "resyncing") return "ready";
  if (state === "idle" || state === "syncing") return "syncing";
  return "failed";
}

function byProjectAndName(a: Container, b: Container): number {
  return a.project < b.project
    ? -1
    : a.project > b.project
    ? 1
    : a.name < b.name
    ? -1
    : a.name > b.name
    ? 1
    : a.id < b.id
    ? -1
    : a.id > b.id
    ? 1
    : 0;
}

/** The engines and their alive containers, as the events built them. */
export class Model {
  /** Engines by {@linkcode engineKey}, in the order they were added. */
  readonly engines: Map<string, EngineEntry> = new Map();

  /**
   * The fleet as it stands, with only the containers passing `filters`:
   * read synchronously, so that a subscription made in the same step
   * continues it exactly.
   */
  static fromFleet(fleet: Fleet, filters: Filters): Model {
    const model = new Model();
    for (const { engine, watcher, state } of fleet.engines()) {
      const containers = new Map<string, Container>();
      for (const c of watcher.portfolio) {
        if (matchesFilters(c, filters)) containers.set(c.id, c);
      }
      const stage = stageOf(state);
      model.engines.set(engineKey(engine), {
        ref: engine,
        stage,
        ...(stage === "failed" && watcher.lastError !== undefined
          ? { error: errorMessage(watcher.lastError) }
          : {}),
        containers,
      });
    }
    return model;
  }

  /** Number of containers of all engines. */
  get size(): number {
    let n = 0;
    for (const e of this.engines.values()) n += e.containers.size;
    return n;
  }

  /** Applies one event of the fleet's stream. */
  apply(e: FleetEvent | FleetEngineEvent): void {
    const key = engineKey(e.engine);
    if (isEngineEvent(e)) {
      switch (e.type) {
        case "engine-added":
          this.engines.set(key, {
            ref: e.engine,
            stage: "syncing",
            containers: new Map(),
          });
          return;
        case "engine-ready":
        case "engine-failed": {
          const entry = this.#entry(e.engine);
          entry.stage = e.type === "engine-ready" ? "ready" : "failed";
          if (e.type === "engine-failed") entry.error = errorMessage(e.error);
          else delete entry.error;
          return;
        }
        case "engine-removed":
          this.engines.delete(key);
          return;
      }
    }
    const entry = this.#entry(e.engine);
    if (e.type === "exited") entry.containers.delete(e.id);
    else entry.containers.set(e.id, e.container);
  }

  // The engine's entry; made when an event names an engine not seen (it
  // cannot happen with the fleet's ordering, but the model must not throw).
  #entry(ref: EngineRef): EngineEntry {
    const key = engineKey(ref);
    let entry = this.engines.get(key);
    if (!entry) {
      entry = { ref, stage: "syncing", containers: new Map() };
      this.engines.set(key, entry);
    } else if (entry.ref !== ref) {
      entry.ref = ref; // restarted on the same socket: a new PID
    }
    return entry;
  }

  /**
   * The events that turn this model into `target`, in an order a client can
   * apply: for engines gone, their containers' exits then `engine-removed`;
   * for engines present in both, exits, starts and pause changes, then the
   * stage change; for new engines, `engine-added`, starts, then the stage.
   */
  diff(target: Model, now: number): (FleetEvent | FleetEngineEvent)[] {
    const out: (FleetEvent | FleetEngineEvent)[] = [];
    for (const [key, old] of this.engines) {
      if (target.engines.has(key)) continue;
      for (const c of old.containers.values()) {
        out.push(containerEvent("exited", c, old.ref, now));
      }
      out.push(engineEvent("engine-removed", old, now));
    }
    for (const [key, next] of target.engines) {
      const old = this.engines.get(key);
      if (!old) out.push(engineEvent("engine-added", next, now));
      out.push(...containerDiff(old?.containers ?? new Map(), next, now));
      if (
        (old?.stage ?? "syncing") !== next.stage && next.stage !== "syncing"
      ) {
        const type = next.stage === "ready" ? "engine-ready" : "engine-failed";
        out.push(engineEvent(type, next, now));
      }
    }
    return out;
  }

  /**
   * The snapshot document: engines passing `filters` with their containers
   * passing it, sorted by project and name. `live` tells an engine's current
   * watcher state and error (a resync shows there, not in events).
   */
  snapshot(
    filters: Filters,
    lastEventId: string,
    live: (key: string) => { state: string; error?: string } | undefined,
  ): SnapshotDoc {
    const engines: EngineDoc[] = [];
    for (const [key, entry] of this.engines) {
      if (!engineMatches(entry.ref, filters)) continue;
      const containers = [];
      for (const c of entry.containers.values()) {
        if (matchesFilters(c, filters)) containers.push(c);
      }
      containers.sort(byProjectAndName);
      const now = live(key);
      const error = now?.error ?? entry.error;
      engines.push({
        type: entry.ref.type,
        api: entry.ref.api,
        version: entry.version || entry.ref.version || "",
        pid: entry.ref.pid,
        id: entry.ref.id ?? "",
        state: now?.state ?? entry.stage,
        ...(error === undefined ? {} : { error }),
        containers: containers.map(containerDoc),
      });
    }
    return { lastEventId, engines };
  }
}

// Another incarnation: the same ID with another (known) PID.
function reborn(a: Container, b: Container): boolean {
  return a.pid !== b.pid && a.pid !== 0 && b.pid !== 0;
}

// Exits, starts and pause changes that turn `before` into `next`'s containers.
function containerDiff(
  before: Map<string, Container>,
  next: EngineEntry,
  now: number,
): FleetEvent[] {
  const out: FleetEvent[] = [];
  for (const [id, c] of before) {
    const after = next.containers.get(id);
    if (!after || reborn(after, c)) {
      out.push(containerEvent("exited", c, next.ref, now));
    }
  }
  for (const [id, c] of next.containers) {
    const was = before.get(id);
    if (!was || reborn(was, c)) {
      out.push(containerEvent("started", c, next.ref, now));
    } else if (was.paused !== c.paused) {
      out.push(
        containerEvent(c.paused ? "paused" : "unpaused", c, next.ref, now),
      );
    }
  }
  return out;
}

function containerEvent(
  type: FleetEvent["type"],
  c: Container,
  engine: EngineRef,
  timestamp: number,
): FleetEvent {
  return {
    type,
    id: c.id,
    project: c.project,
    timestamp,
    container: c,
    engine,
  };
}

function engineEvent(
  type: FleetEngineEvent["type"],
  entry: EngineEntry,
  timestamp: number,
): FleetEngineEvent {
  return {
    type,
    engine: entry.ref,
    timestamp,
    ...(type === "engine-failed" ? { error: entry.error ?? "failed" } : {}),
  };
}
