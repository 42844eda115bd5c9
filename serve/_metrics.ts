// The Prometheus text exposition format 0.0.4 of the agent (internal):
// base units, `_total` counters, HELP and TYPE on every family, escaped
// label values.
import type { Fleet } from "../mod.ts";
import type { Hub } from "./_hub.ts";

/** The Content-Type of the exposition. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

type Labels = Record<string, string>;
type Sample = [Labels, number];

/** Escapes a label value: backslash, double quote and line feed. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(
    /\n/g,
    "\\n",
  );
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function formatValue(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (n === Infinity) return "+Inf";
  if (n === -Infinity) return "-Inf";
  return String(n);
}

function formatLabels(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) =>
    `${k}="${escapeLabelValue(v)}"`
  );
  return parts.length ? `{${parts.join(",")}}` : "";
}

class Exposition {
  #lines: string[] = [];

  family(
    name: string,
    type: "counter" | "gauge",
    help: string,
    samples: Iterable<Sample>,
  ): void {
    this.#lines.push(`# HELP ${name} ${escapeHelp(help)}`);
    this.#lines.push(`# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) {
      this.#lines.push(`${name}${formatLabels(labels)} ${formatValue(value)}`);
    }
  }

  text(): string {
    return this.#lines.join("\n") + "\n";
  }
}

function engineLabels(e: { type: string; api: string }): Labels {
  return { engine_type: e.type, engine_api: e.api };
}

/** Everything the agent tells Prometheus, as of `now` (ms since the epoch). */
export function renderMetrics(
  fleet: Fleet,
  hub: Hub,
  options: { now: number; startTime: number },
): string {
  const out = new Exposition();
  const members = fleet.engines();

  const containers: Sample[] = [];
  for (const entry of hub.model.engines.values()) {
    const counts = new Map<string, { running: number; paused: number }>();
    for (const c of entry.containers.values()) {
      let n = counts.get(c.project);
      if (!n) counts.set(c.project, n = { running: 0, paused: 0 });
      n[c.paused ? "paused" : "running"]++;
    }
    for (const [project, n] of counts) {
      for (const state of ["running", "paused"] as const) {
        if (n[state] === 0) continue;
        containers.push([
          { ...engineLabels(entry.ref), project, state },
          n[state],
        ]);
      }
    }
  }
  out.family(
    "whalewatcher_containers",
    "gauge",
    'Alive containers by engine, compose project ("" for none) and state (running or paused).',
    containers,
  );

  const events: Sample[] = [];
  for (const counter of hub.stats.events.values()) {
    for (const [type, n] of Object.entries(counter.counts)) {
      events.push([{ ...engineLabels(counter), type }, n]);
    }
  }
  out.family(
    "whalewatcher_events_total",
    "counter",
    "Container lifecycle events served, by engine and type (started, exited, paused, unpaused), including those of synchronizations.",
    events,
  );

  const perEngine = (
    pick: (m: (typeof members)[number]) => number | undefined,
  ): Sample[] =>
    members.flatMap((m) => {
      const v = pick(m);
      return v === undefined ? [] : [[engineLabels(m.engine), v] as Sample];
    });
  out.family(
    "whalewatcher_engine_up",
    "gauge",
    "Whether the engine's watch is in sync (1) or not: syncing, resyncing or failed (0).",
    perEngine((m) => m.state === "ready" ? 1 : 0),
  );
  out.family(
    "whalewatcher_engine_info",
    "gauge",
    "The engine's version, as a label; always 1.",
    [...hub.model.engines.values()].map((e): Sample => [
      { ...engineLabels(e.ref), version: e.version || e.ref.version || "" },
      1,
    ]),
  );
  out.family(
    "whalewatcher_last_sync_age_seconds",
    "gauge",
    "Seconds since the engine's containers were last listed and merged.",
    perEngine((m) => {
      const t = m.watcher.stats.lastSyncTime;
      return t > 0 ? Math.max(0, (options.now - t) / 1000) : undefined;
    }),
  );
  out.family(
    "whalewatcher_syncs_total",
    "counter",
    "Lists merged into the engine's portfolio: the first, resyncs and reconciliations.",
    perEngine((m) => m.watcher.stats.syncs),
  );
  out.family(
    "whalewatcher_resyncs_total",
    "counter",
    "Resynchronizations after a lost event stream or a failed list.",
    perEngine((m) => m.watcher.stats.resyncs),
  );
  out.family(
    "whalewatcher_watch_failures_total",
    "counter",
    "Watch sessions that failed (lost stream, failed list, stall).",
    perEngine((m) => m.watcher.stats.failures),
  );
  out.family(
    "whalewatcher_stalls_total",
    "counter",
    "Watch sessions failed because the engine stalled past the stall timeout.",
    perEngine((m) => m.watcher.stats.stalls),
  );
  out.family(
    "whalewatcher_subscriber_overflows_total",
    "counter",
    "Subscriptions to the engine's watcher ended because their reader fell behind.",
    perEngine((m) => m.watcher.stats.overflows),
  );
  out.family(
    "whalewatcher_engine_api_calls_total",
    "counter",
    "Calls the adaptor made to the engine's API.",
    perEngine((m) => m.watcher.engine.stats?.calls),
  );
  out.family(
    "whalewatcher_engine_stream_events_total",
    "counter",
    "Events read from the engine's event stream, before decoding.",
    perEngine((m) => m.watcher.engine.stats?.events),
  );
  out.family(
    "whalewatcher_engine_skipped_events_total",
    "counter",
    "Events of the engine's stream the adaptor skipped (not lifecycle, or undecodable).",
    perEngine((m) => m.watcher.engine.stats?.skippedEvents),
  );

  out.family(
    "whalewatcher_sse_clients",
    "gauge",
    "Clients connected to /events.",
    [[{}, hub.clients]],
  );
  out.family(
    "whalewatcher_sse_clients_dropped_total",
    "counter",
    "Clients of /events dropped because they fell more than the client queue behind.",
    [[{}, hub.stats.dropped]],
  );
  out.family(
    "whalewatcher_agent_resyncs_total",
    "counter",
    "Times the agent fell behind the fleet's event stream and rebuilt its picture from the fleet.",
    [[{}, hub.stats.resyncs]],
  );
  out.family(
    "process_resident_memory_bytes",
    "gauge",
    "Resident memory size of the agent process in bytes.",
    [[{}, Deno.memoryUsage().rss]],
  );
  out.family(
    "process_start_time_seconds",
    "gauge",
    "Start time of the agent since the Unix epoch in seconds.",
    [[{}, options.startTime / 1000]],
  );
  return out.text();
}
