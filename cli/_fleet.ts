// The CLI's two modes over a fleet of watchers (internal): `--once`
// snapshots, and the live watch that follows engines as they come and go.
import {
  type Container,
  type EngineRef,
  Fleet,
  type FleetEngineEvent,
  type FleetEvent,
  type FleetOptions,
  type Watcher,
} from "../mod.ts";
import type { CliArgs, DiscoveryArgs } from "./_args.ts";
import { type EngineInfo, matchesFilters, type Output } from "./_output.ts";

/** How long `--once` waits for the engines' first snapshots. */
const ONCE_TIMEOUT_MS = 15_000;
/** How often a live watch looks for engines that came or went. */
const REDISCOVER_MS = 5_000;
/** How long the engine version may take before the probe's is used. */
const VERSION_TIMEOUT_MS = 2_000;

/** The fleet's options for the discovery flags, plus `extra`. */
export function fleetOptions(
  cli: DiscoveryArgs,
  extra: FleetOptions,
): FleetOptions {
  return {
    endpoints: cli.sockets,
    explicitOnly: cli.sockets.length > 0,
    types: cli.engines.length > 0 ? cli.engines : undefined,
    ...extra,
  };
}

async function engineInfo(
  ref: EngineRef,
  watcher: Watcher | undefined,
): Promise<EngineInfo> {
  const version = await watcher?.version({
    signal: AbortSignal.timeout(VERSION_TIMEOUT_MS),
  }).catch(() => undefined);
  return {
    type: ref.type,
    api: ref.api,
    version: version || ref.version || "",
    pid: ref.pid,
  };
}

// Explicit sockets that fail are errors; discovered candidates that do not
// answer are common (stale paths) and only noted when nothing was found.
function reportRejections(
  fleet: Fleet,
  cli: CliArgs,
  output: Output,
  told: Set<string>,
): void {
  for (const note of fleet.lastDiscovery.warnings) {
    if (!told.has(note)) output.note(`whalewatcher: ${note}`);
    told.add(note);
  }
  if (cli.sockets.length === 0) return;
  for (const rejected of fleet.lastDiscovery.rejected) {
    const key = `${rejected.endpoint} ${rejected.reason}`;
    if (told.has(key)) continue;
    told.add(key);
    output.engineError({ type: "", api: rejected.endpoint }, rejected.message);
  }
}

/** What to say when the fleet found no engine. */
export function noEngineNote(fleet: Fleet, cli: DiscoveryArgs): string {
  const tried = fleet.lastDiscovery.rejected.map((r) =>
    `${r.endpoint}: ${r.message}`
  ).join("; ");
  return `whalewatcher: no container engine found${
    cli.sockets.length ? "" : ` (tried ${tried || "no candidates"})`
  }`;
}

/** `--once`: every engine's snapshot, then exit (1 when none could be shown). */
export async function watchOnce(cli: CliArgs, output: Output): Promise<number> {
  await using fleet = new Fleet(fleetOptions(cli, {
    watcher: { backoff: false },
    readyTimeoutMs: ONCE_TIMEOUT_MS,
  }));
  await fleet.ready;
  reportRejections(fleet, cli, output, new Set());
  const engines = fleet.engines();
  if (engines.length === 0) {
    output.note(noEngineNote(fleet, cli));
    return 1;
  }
  let shown = 0;
  for (const { engine, watcher, state } of engines) {
    const info = await engineInfo(engine, watcher);
    if (state === "ready" || state === "resyncing") {
      output.snapshot(
        info,
        watcher.portfolio.containers().filter((c) => matchesFilters(c, cli)),
      );
      shown++;
    } else if (state === "failed") {
      output.engineError(info, String((watcher.lastError as Error)?.message));
    } else {
      output.engineError(
        info,
        `no snapshot within ${ONCE_TIMEOUT_MS / 1000} s${
          watcher.lastError ? `: ${(watcher.lastError as Error).message}` : ""
        }`,
      );
    }
  }
  if (shown === 0) {
    output.note("whalewatcher: no container engine could be watched");
    return 1;
  }
  return 0;
}

// An engine's containers as the event stream built them, until it is ready
// and its snapshot is printed; from then on only its events are printed.
interface EngineView {
  ready: boolean;
  info?: EngineInfo;
  containers: Map<string, Container>;
}

function keyOf(engine: EngineRef): string {
  return `${engine.type} ${engine.api}`;
}

/** The live watch: runs until `stop` aborts; resolves to exit code 0. */
export async function watchLive(
  cli: CliArgs,
  output: Output,
  stop: AbortSignal,
): Promise<number> {
  await using fleet = new Fleet(fleetOptions(cli, {
    rediscoverIntervalMs: REDISCOVER_MS,
  }));
  const events = fleet.events({ engines: true, signal: stop });
  const told = new Set<string>();
  fleet.ready.then(() => {
    reportRejections(fleet, cli, output, told);
    if (fleet.engines().length === 0 && !stop.aborted) {
      output.note(
        `${noEngineNote(fleet, cli)}; waiting for one (looking every ${
          REDISCOVER_MS / 1000
        } s)`,
      );
    }
  }, () => {});
  const views = new Map<string, EngineView>();
  for await (const e of events) {
    if (isEngineEvent(e)) await onEngineEvent(e, fleet, views, output);
    else onContainerEvent(e, views, cli, output);
    reportRejections(fleet, cli, output, told);
  }
  return 0;
}

function isEngineEvent(
  e: FleetEvent | FleetEngineEvent,
): e is FleetEngineEvent {
  return e.type.startsWith("engine-");
}

async function onEngineEvent(
  e: FleetEngineEvent,
  fleet: Fleet,
  views: Map<string, EngineView>,
  output: Output,
): Promise<void> {
  const key = keyOf(e.engine);
  switch (e.type) {
    case "engine-added":
      views.set(key, { ready: false, containers: new Map() });
      return;
    case "engine-ready": {
      const view = views.get(key);
      if (!view) return;
      const watcher = fleet.engines().find((m) => keyOf(m.engine) === key)
        ?.watcher;
      view.info = await engineInfo(e.engine, watcher);
      view.ready = true;
      output.snapshot(view.info, [...view.containers.values()]);
      view.containers.clear();
      return;
    }
    case "engine-failed":
      output.engineError(
        views.get(key)?.info ?? await engineInfo(e.engine, undefined),
        (e.error as Error)?.message ?? String(e.error),
      );
      return;
    case "engine-removed":
      output.engineGone(
        views.get(key)?.info ?? await engineInfo(e.engine, undefined),
      );
      views.delete(key);
      return;
  }
}

function onContainerEvent(
  e: FleetEvent,
  views: Map<string, EngineView>,
  cli: CliArgs,
  output: Output,
): void {
  const view = views.get(keyOf(e.engine));
  if (!view) return;
  if (!view.ready) {
    // Part of the snapshot printed when the engine is ready.
    if (e.type === "exited") view.containers.delete(e.id);
    else if (matchesFilters(e.container, cli)) {
      view.containers.set(e.id, e.container);
    } else view.containers.delete(e.id);
    return;
  }
  if (matchesFilters(e.container, cli)) {
    output.event(view.info!, e.type, e.container, e.timestamp);
  }
}
