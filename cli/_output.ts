// Rendering of engines, containers and events: human lines or JSON lines.
import type { Container, ContainerEventType } from "../engineclient/mod.ts";
import type { CliArgs, LabelFilter } from "./_args.ts";

/** What the CLI tells about one engine. */
export interface EngineInfo {
  type: string;
  /** The API endpoint: which host (socket path or URL). */
  api: string;
  /** The engine's own ID (Docker's daemon ID), "" when unknown. */
  id: string;
  version: string;
  pid: number;
}

/** Whether a container passes the `--project` and `--label` filters. */
export function matchesFilters(
  container: Container,
  filters: { project?: string; labels: readonly LabelFilter[] },
): boolean {
  if (filters.project !== undefined && container.project !== filters.project) {
    return false;
  }
  for (const { key, value } of filters.labels) {
    const actual = container.labels[key];
    if (actual === undefined || (value !== undefined && actual !== value)) {
      return false;
    }
  }
  return true;
}

const ANSI = {
  bold: "\x1b[1m",
  dim: "\x1b[2m",
  red: "\x1b[31m",
  green: "\x1b[32m",
  yellow: "\x1b[33m",
  cyan: "\x1b[36m",
  reset: "\x1b[0m",
};

const EVENT_COLOR: Record<ContainerEventType, string> = {
  started: ANSI.green,
  exited: ANSI.red,
  paused: ANSI.yellow,
  unpaused: ANSI.cyan,
};

// Docker's daemon IDs are 12 groups of 4 ("OC2X:VUVL:…"); two tell apart.
function shortEngineId(id: string): string {
  if (!id) return "?";
  return /^([A-Z0-9]{4}:){11}[A-Z0-9]{4}$/.test(id) ? id.slice(0, 9) : id;
}

function shortId(id: string): string {
  // containerd display IDs are "namespace/id": keep them whole, they are short.
  return /^[0-9a-f]{64}$/.test(id) ? id.slice(0, 12) : id;
}

/** A container in JSON output: the CLI's lines and the agent's documents. */
export interface ContainerDoc {
  id: string;
  name: string;
  pid: number;
  project: string;
  paused: boolean;
  labels: Readonly<Record<string, string>>;
}

/** The JSON fields of a container (CLI lines, agent documents). */
export function containerDoc(c: Container): ContainerDoc {
  return {
    id: c.id,
    name: c.name,
    pid: c.pid,
    project: c.project,
    paused: c.paused,
    labels: c.labels,
  };
}

/** Writes lines to stdout (results) and stderr (diagnostics). */
export class Output {
  #args: Pick<CliArgs, "json" | "color">;
  #out: (line: string) => void;
  #err: (line: string) => void;

  constructor(
    args: Pick<CliArgs, "json" | "color">,
    sinks: { out: (line: string) => void; err: (line: string) => void },
  ) {
    this.#args = args;
    this.#out = sinks.out;
    this.#err = sinks.err;
  }

  #paint(color: string, text: string): string {
    return this.#args.color ? `${color}${text}${ANSI.reset}` : text;
  }

  /** An engine's snapshot: its header line, then containers by project. */
  snapshot(engine: EngineInfo, containers: Container[]): void {
    if (this.#args.json) {
      for (const c of containers) {
        this.#out(JSON.stringify({
          type: "container",
          engine: engine.type,
          api: engine.api,
          engineId: engine.id,
          ...containerDoc(c),
        }));
      }
      this.#out(JSON.stringify({
        type: "ready",
        engine: engine.type,
        api: engine.api,
        engineId: engine.id,
        version: engine.version,
        pid: engine.pid,
        containers: containers.length,
      }));
      return;
    }
    this.#out(
      `${this.#paint(ANSI.bold, engine.type)}  ${engine.api}  engine ${
        shortEngineId(engine.id)
      }  version ${engine.version || "?"}  PID ${
        engine.pid || "?"
      }  ${containers.length} container${containers.length === 1 ? "" : "s"}`,
    );
    const byProject = new Map<string, Container[]>();
    for (const c of containers) {
      const list = byProject.get(c.project);
      if (list) list.push(c);
      else byProject.set(c.project, [c]);
    }
    const projects = [...byProject.keys()].sort();
    for (const project of projects) {
      this.#out(
        `  ${
          project === ""
            ? this.#paint(ANSI.dim, "(no project)")
            : `project ${this.#paint(ANSI.bold, project)}`
        }`,
      );
      const list = byProject.get(project)!.sort((a, b) =>
        a.name.localeCompare(b.name)
      );
      for (const c of list) {
        this.#out(
          `    ${c.name}  ${
            this.#paint(ANSI.dim, shortId(c.id))
          }  PID ${c.pid}${
            c.paused ? "  " + this.#paint(ANSI.yellow, "paused") : ""
          }`,
        );
      }
    }
  }

  /** One lifecycle event. */
  event(
    engine: EngineInfo,
    type: ContainerEventType,
    container: Container,
    timestamp: number,
  ): void {
    const time = new Date(timestamp).toISOString();
    if (this.#args.json) {
      this.#out(JSON.stringify({
        type,
        engine: engine.type,
        api: engine.api,
        engineId: engine.id,
        time,
        ...containerDoc(container),
      }));
      return;
    }
    this.#out(
      `${this.#paint(ANSI.dim, time)}  ${engine.type}  ${engine.api}  ${
        shortEngineId(engine.id)
      }  ${
        this.#paint(EVENT_COLOR[type], type.padEnd(8))
      }  ${container.name}  ${shortId(container.id)}  project ${
        container.project || "-"
      }  PID ${container.pid}`,
    );
  }

  /** An engine that vanished (after its containers' `exited` lines). */
  engineGone(engine: EngineInfo): void {
    if (this.#args.json) {
      this.#out(JSON.stringify({
        type: "engine-removed",
        engine: engine.type,
        api: engine.api,
        engineId: engine.id,
        pid: engine.pid,
      }));
      return;
    }
    this.#out(
      `${this.#paint(ANSI.bold, engine.type)}  ${engine.api}  engine ${
        shortEngineId(engine.id)
      }  ${this.#paint(ANSI.red, "gone")}`,
    );
  }

  /** An engine that could not be watched. */
  engineError(
    engine: { type: string; api: string; id?: string },
    message: string,
  ): void {
    if (this.#args.json) {
      this.#out(JSON.stringify({
        type: "error",
        engine: engine.type,
        api: engine.api,
        engineId: engine.id ?? "",
        message,
      }));
    }
    this.#err(
      `${this.#paint(ANSI.red, "error")}: ${engine.type || "engine"} at ${
        engine.api || "?"
      }: ${message}`,
    );
  }

  /** A diagnostic line, always on stderr. */
  note(message: string): void {
    this.#err(message);
  }
}
