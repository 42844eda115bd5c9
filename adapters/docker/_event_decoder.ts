// Splits Docker's event stream (newline-delimited JSON, chunked at random
// places by HTTP) into decoded events. A malformed or oversized line is
// skipped and counted, never fatal.
import {
  type ContainerEvent,
  PROJECT_UNKNOWN,
} from "../../engineclient/mod.ts";

/** The longest event line accepted; longer ones are skipped. */
export const MAX_EVENT_LINE = 1 << 20;

const ACTIONS: Record<string, ContainerEvent["type"]> = {
  start: "started",
  die: "exited",
  died: "exited", // older podman
  pause: "paused",
  unpause: "unpaused",
};

/** The event actions the adaptor subscribes to. */
export const EVENT_ACTIONS: readonly string[] = Object.keys(ACTIONS);

/** Incremental decoder of Docker event lines. */
export class EventLineDecoder {
  #text = new TextDecoder();
  #buffer = "";
  #overflowing = false;
  /** Lines skipped: malformed JSON, oversized, or not a container event. */
  skipped = 0;
  /** Whether die/pause/unpause events may lack labels (podman). */
  readonly projectFromLabels: boolean;

  constructor(options: { projectFromLabels?: boolean } = {}) {
    this.projectFromLabels = options.projectFromLabels ?? true;
  }

  /** Decodes one chunk; returns the complete events it finishes. */
  push(chunk: Uint8Array | string): ContainerEvent[] {
    const text = typeof chunk === "string"
      ? chunk
      : this.#text.decode(chunk, { stream: true });
    const events: ContainerEvent[] = [];
    let start = 0;
    let nl = text.indexOf("\n");
    if (nl < 0) {
      this.#append(text);
      return events;
    }
    while (nl >= 0) {
      const piece = text.slice(start, nl);
      if (this.#overflowing) {
        // The rest of an oversized line ends here.
        this.#overflowing = false;
        this.#buffer = "";
      } else {
        const line = this.#buffer ? this.#buffer + piece : piece;
        this.#buffer = "";
        if (line.length > MAX_EVENT_LINE) this.skipped++;
        else this.#decodeLine(line, events);
      }
      start = nl + 1;
      nl = text.indexOf("\n", start);
    }
    this.#append(text.slice(start));
    return events;
  }

  #append(text: string): void {
    if (this.#overflowing || text === "") return;
    if (this.#buffer.length + text.length > MAX_EVENT_LINE) {
      this.#overflowing = true;
      this.#buffer = "";
      this.skipped++;
      return;
    }
    this.#buffer += text;
  }

  #decodeLine(line: string, events: ContainerEvent[]): void {
    if (line.trim() === "") return;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      this.skipped++;
      return;
    }
    const event = decodeDockerEvent(raw, this.projectFromLabels);
    if (event) events.push(event);
    else this.skipped++;
  }
}

/**
 * Maps one decoded Docker event object to a {@linkcode ContainerEvent};
 * undefined for anything that is not a wanted container event or has the
 * wrong shape.
 */
export function decodeDockerEvent(
  raw: unknown,
  projectFromLabels = true,
): ContainerEvent | undefined {
  if (typeof raw !== "object" || raw === null) return undefined;
  const e = raw as Record<string, unknown>;
  const type = e.Type ?? "container";
  const action = e.Action ?? e.status;
  if (type !== "container" || typeof action !== "string") return undefined;
  const mapped = ACTIONS[action];
  if (!mapped) return undefined;
  const actor = e.Actor as Record<string, unknown> | undefined;
  const id = (typeof actor === "object" && actor !== null ? actor.ID : e.id) ??
    e.id;
  if (typeof id !== "string" || id === "") return undefined;
  const attributes = typeof actor === "object" && actor !== null &&
      typeof actor.Attributes === "object" && actor.Attributes !== null
    ? actor.Attributes as Record<string, unknown>
    : {};
  const label = attributes["com.docker.compose.project"];
  const project = typeof label === "string"
    ? label
    : projectFromLabels || mapped === "started"
    ? ""
    : PROJECT_UNKNOWN;
  let timestamp: number;
  if (typeof e.timeNano === "number" && Number.isFinite(e.timeNano)) {
    timestamp = e.timeNano / 1e6;
  } else if (typeof e.time === "number" && Number.isFinite(e.time)) {
    timestamp = e.time * 1000;
  } else {
    timestamp = Date.now();
  }
  return { type: mapped, id, project, timestamp };
}
