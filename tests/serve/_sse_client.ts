// A Server-Sent Events client for tests: reads the stream with fetch (so it
// can send Last-Event-ID and Authorization, which EventSource cannot) and
// parses it per the SSE spec's field rules.
import { waitFor } from "../engines/rig.ts";

/** One event as the client saw it. */
export interface SseEvent {
  id: string;
  event: string;
  data: string;
  /** `data` parsed as JSON. */
  json: Record<string, unknown>;
}

/** Options of {@linkcode SseClient.connect}. */
export interface SseConnectOptions {
  lastEventId?: string;
  token?: string;
  /** Query string appended to the URL (without `?`). */
  query?: string;
}

/** A connected SSE client that records everything it reads. */
export class SseClient {
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  readonly status: number;
  /** The body of a refused connection. */
  readonly refusal?: Record<string, unknown>;
  /** The last `id:` field seen. */
  lastEventId = "";
  ended = false;
  error: unknown;
  #reader?: ReadableStreamDefaultReader<string>;
  #done: Promise<void> = Promise.resolve();

  private constructor(status: number, refusal?: Record<string, unknown>) {
    this.status = status;
    this.refusal = refusal;
  }

  /** Connects to `base`/events; a refused connection has its JSON error. */
  static async connect(
    base: string,
    options: SseConnectOptions = {},
  ): Promise<SseClient> {
    const headers: Record<string, string> = {};
    if (options.lastEventId !== undefined) {
      headers["last-event-id"] = options.lastEventId;
    }
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    const url = new URL(
      `events${options.query ? `?${options.query}` : ""}`,
      base,
    );
    const res = await fetch(url, { headers });
    if (res.status !== 200) {
      const client = new SseClient(res.status, await res.json());
      return client;
    }
    const client = new SseClient(res.status);
    client.#reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    client.#done = client.#read();
    return client;
  }

  async #read(): Promise<void> {
    let buffer = "";
    let fields: { id?: string; event?: string; data: string[] } = { data: [] };
    try {
      while (true) {
        const { value, done } = await this.#reader!.read();
        if (done) break;
        buffer += value;
        let nl: number;
        while ((nl = buffer.search(/\r\n|\r|\n/)) >= 0) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + (buffer.startsWith("\r\n", nl) ? 2 : 1));
          if (line === "") {
            if (fields.data.length) {
              const data = fields.data.join("\n");
              if (fields.id !== undefined) this.lastEventId = fields.id;
              this.events.push({
                id: fields.id ?? this.lastEventId,
                event: fields.event ?? "message",
                data,
                json: JSON.parse(data),
              });
            } else if (fields.id !== undefined) this.lastEventId = fields.id;
            fields = { data: [] };
            continue;
          }
          if (line.startsWith(":")) {
            this.comments.push(line.slice(1).trim());
            continue;
          }
          const colon = line.indexOf(":");
          const name = colon < 0 ? line : line.slice(0, colon);
          const val = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (name === "data") fields.data.push(val);
          else if (name === "event") fields.event = val;
          else if (name === "id") fields.id = val;
        }
      }
    } catch (err) {
      this.error = err;
    } finally {
      this.ended = true;
    }
  }

  /** Events other than snapshots. */
  changes(): SseEvent[] {
    return this.events.filter((e) => e.event !== "snapshot");
  }

  /** Waits until `check` holds for the events read so far. */
  async waitFor(
    check: (events: SseEvent[]) => boolean,
    what: string,
    timeoutMs = 20_000,
  ): Promise<void> {
    await waitFor(
      () => check(this.events) || this.ended && check(this.events),
      {
        what: `${what} (have ${
          this.events.map((e) => `${e.event}:${e.id}`).join(" ")
        }${this.ended ? "; the stream ended" : ""})`,
        timeoutMs,
      },
    );
  }

  /** Waits until the stream ends (the agent closed or dropped it). */
  async waitEnded(what: string, timeoutMs = 20_000): Promise<void> {
    await waitFor(() => this.ended, { what, timeoutMs });
  }

  /** Disconnects. */
  async close(): Promise<void> {
    await this.#reader?.cancel().catch(() => {});
    await this.#done;
  }
}
